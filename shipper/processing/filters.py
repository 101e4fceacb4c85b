"""Filters: what becomes of a record after parsing, one step after another (sans-I/O).

Each step takes a record and returns it (changed or not), or None when the record is filtered
out. The steps are those of Fluent Bit's ``grep`` and ``modify`` filters, on ECS names: a field
is named as the JSON path reads it, a dotted top-level key (``"log.level"``) first, else nested
(``{"log": {"level": ...}}``).

- ``Grep``: ``--drop`` removes the records whose field matches, ``--keep`` removes the others
  (a record without the field does not match). A field matches ``=VALUE`` when its text is
  VALUE, ``~REGEX`` when the regex is found in its text (``re.search``, like Fluent Bit's grep).
  The text of a string is itself; of a number, boolean or null, its JSON text (``200``,
  ``true``, ``null``). Objects and arrays never match.
- ``Rename``: a field takes a new top-level name, in its place, unless a field of that name
  exists already (Fluent Bit's ``Rename``: nothing is overwritten).
- ``Remove``: a field is taken out.
- ``RedactKeys`` and ``RedactPatterns``: secrets are masked (``redaction.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from ..fieldpath import MISSING, find, pop

Record = dict[Any, Any]
Step = Callable[[Record], "Record | None"]
_json = msgspec.json.encode


def text_of(value: Any) -> str | None:
    """The text a condition is matched against, or None for an object or an array."""
    if type(value) is str:
        return value
    if value is None or type(value) in (bool, int, float):
        return _json(value).decode()
    return None


@dataclass(frozen=True)
class Condition:
    """``FIELD=VALUE`` (``value`` set) or ``FIELD~REGEX`` (``pattern`` set)."""

    field: str
    value: str | None = None
    pattern: re.Pattern[str] | None = None

    def matches(self, record: Record) -> bool:
        found = find(record, self.field)
        text = None if found is MISSING else text_of(found)
        if text is None:
            return False
        if self.pattern is not None:
            return self.pattern.search(text) is not None
        return text == self.value


@dataclass(frozen=True)
class Grep:
    condition: Condition
    keep: bool  # --keep: only matches stay; --drop: matches go

    def __call__(self, record: Record) -> Record | None:
        return record if self.condition.matches(record) == self.keep else None


@dataclass(frozen=True)
class Rename:
    old: str
    new: str

    def __call__(self, record: Record) -> Record:
        if find(record, self.new) is not MISSING:
            return record
        if self.old in record:  # a top-level field keeps its place, as in the C pass
            return {(self.new if key == self.old else key): value for key, value in record.items()}
        value = pop(record, self.old)
        if value is not MISSING:
            record[self.new] = value
        return record


@dataclass(frozen=True)
class Remove:
    field: str

    def __call__(self, record: Record) -> Record:
        pop(record, self.field)
        return record


class Filters:
    """The steps, in the order the flags were given."""

    def __init__(self, steps: Sequence[Step]) -> None:
        self.steps = tuple(steps)

    def __call__(self, record: Record) -> Record | None:
        for step in self.steps:
            result = step(record)
            if result is None:
                return None
            record = result
        return record
