"""Masking secrets by key: a value under a key like ``password`` never reaches a log line.

A key matches when one of the words is part of it, ignoring case and with ``-`` read as
``_`` (so ``X-Api-Key``, ``db_password`` and ``Set-Cookie`` all match). Nested mappings and
sequences are walked; the caller's objects are never changed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

DEFAULT_KEYS = ("password", "passwd", "secret", "token", "authorization", "api_key", "cookie")
MASK = "[REDACTED]"


class Redactor:
    def __init__(self, words: Iterable[str] = DEFAULT_KEYS) -> None:
        words = [w.strip().lower().replace("-", "_") for w in words if w.strip()]
        self._pattern = re.compile("|".join(map(re.escape, words))) if words else None
        self._verdicts: dict[object, bool] = {}  # keys repeat from record to record

    def sensitive(self, key: object) -> bool:
        verdict = self._verdicts.get(key)
        if verdict is None:
            text = str(key).lower().replace("-", "_")
            verdict = self._pattern is not None and self._pattern.search(text) is not None
            if len(self._verdicts) < 10_000:
                self._verdicts[key] = verdict
        return verdict

    def fields(self, fields: Mapping[Any, Any]) -> dict[Any, Any]:
        """A copy of ``fields`` with every sensitive value masked, at any depth."""
        verdicts, masked = self._verdicts, {}
        for key, value in fields.items():
            verdict = verdicts.get(key)
            if verdict is None:
                verdict = self.sensitive(key)
            masked[key] = MASK if verdict else value if type(value) in _SCALARS else self.value(value)
        return masked

    def value(self, value: Any) -> Any:
        if type(value) in _SCALARS:
            return value
        if isinstance(value, Mapping):
            return self.fields(value)
        if type(value) is list or type(value) is tuple:
            return [self.value(v) for v in value]
        return value


_SCALARS = frozenset({str, int, float, bool, type(None)})
