"""Masking secrets in records: by key (the logging setup's ``Redactor``) and by pattern (sans-I/O).

``--redact-keys`` masks the value of every key that contains one of the words, at any depth,
with the same rules and mask as the JSON lines of ``shipper.logs`` (one implementation).
``--redact-pattern`` masks what a regex finds inside string values (the message included), at
any depth: the whole match, or only its group named ``secret`` when it has one, so a pattern can
keep the words around a secret readable. Built-in patterns:

- ``credit-card``: 13 to 19 digits, with spaces or dashes between them, that pass the Luhn
  check (so order numbers and timestamps are left alone);
- ``bearer-token``: the token after ``Bearer`` (an ``Authorization`` header printed whole);
- ``aws-access-key``: AWS access key ids (``AKIA...``, ``ASIA...``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..logs.redact import MASK, Redactor

_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
BUILT_IN = {
    "credit-card": _CARD,
    "bearer-token": re.compile(r"(?i)\bbearer\s+(?P<secret>[A-Za-z0-9\-._~+/]+=*)"),
    "aws-access-key": re.compile(r"\b(?:AKIA|ASIA|AROA|AIDA)[A-Z0-9]{16}\b"),
}


def luhn(digits: str) -> bool:
    """Whether a card number's check digit is right (ISO/IEC 7812)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = int(char)
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


class RedactKeys:
    def __init__(self, words: Iterable[str]) -> None:
        self._redactor = Redactor(words)

    def __call__(self, record: dict[Any, Any]) -> dict[Any, Any]:
        return self._redactor.fields(record)


@dataclass(frozen=True)
class Pattern:
    name: str
    regex: re.Pattern[str]


class RedactPatterns:
    def __init__(self, patterns: Sequence[Pattern]) -> None:
        self.patterns = tuple(patterns)

    def __call__(self, record: dict[Any, Any]) -> dict[Any, Any]:
        return {key: self._value(value) for key, value in record.items()}

    def text(self, text: str) -> str:
        for pattern in self.patterns:
            text = pattern.regex.sub(self._mask, text)
        return text

    def _value(self, value: Any) -> Any:
        if type(value) is str:
            return self.text(value)
        if type(value) is dict:
            return {key: self._value(item) for key, item in value.items()}
        if type(value) is list:
            return [self._value(item) for item in value]
        return value

    @staticmethod
    def _mask(match: re.Match[str]) -> str:
        if match.start() == match.end():
            return ""  # a pattern that can match nothing (x=, x=a*) masks only what it finds
        if match.re is _CARD and not luhn(re.sub(r"\D", "", match.group())):
            return match.group()
        if "secret" in match.re.groupindex and match.group("secret") is not None:
            start, end = match.span("secret")
            if start == end:
                return match.group()
            whole = match.group()
            offset = match.start()
            return whole[: start - offset] + MASK + whole[end - offset:]
        return MASK
