"""The metrics found in records: counts by level, by error type, HTTP requests and their
durations (sans-I/O; ``fields`` says what is read and what it means).

Both record paths count here. The C extension takes ``args`` and counts the records it builds
with no Python code per line; the Python path calls ``observe`` with the same result. Values
are counted raw, keyed by their msgpack bytes, and only named (``level_name``...) when read
out, so the per-line work is one dict update.

Two bounds: each raw table holds at most ``RAW_VALUES`` values (a new one past that is counted
as overflow), so a flood of unique error types cannot grow memory; and each metric shows at
most ``max_series`` names, the rest under ``other``. Names are what the user sees: "GET" and
"get", 200 and "200" are one series, and unknown methods are all ``other``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from ..fieldpath import MISSING, walk
from .fields import OTHER, WATCHED, Slot, error_type, level_name, method_name, status_class
from .timing import Timing

DEFAULT_MAX_SERIES = 50
RAW_VALUES = 1000  # per table: raw values kept before the rest are counted as overflow
LEVELS, ERRORS, REQUESTS = 0, 1, 2  # tables, in the order the C extension takes them
TABLE_NAMES = ("log_records", "errors", "http_requests")
# For the C extension, in slot order (it relies on it), each slot's names in order of preference.
_WATCH = tuple((int(slot), unit, tuple(key.encode() for key in path))
               for slot, unit, path in sorted(WATCHED, key=lambda watched: watched[0]))
# For the Python path: per top-level key, the paths that start there, with their preference.
_BY_KEY: dict[str, list[tuple[int, int, float, tuple[str, ...]]]] = {}
for _preference, (_slot, _unit, _path) in enumerate(WATCHED):
    _BY_KEY.setdefault(_path[0], []).append((_preference, int(_slot), _unit, _path[1:]))
_TOP_KEYS = frozenset(_BY_KEY)
_SLOTS = len(Slot)


@dataclass(frozen=True)
class Named:
    """The counts under the names users see, read at one moment."""

    levels: dict[str, int]
    errors: dict[str, int]
    requests: dict[tuple[str, str], int]
    overflow: dict[str, int]  # by metric: values counted under "other" for want of room


class RecordTally:
    def __init__(self, max_series: int = DEFAULT_MAX_SERIES) -> None:
        self.max_series = max_series
        self.raw_values = max(RAW_VALUES, max_series)
        self.tables: tuple[dict[bytes, int], ...] = ({}, {}, {})
        self.overflow: dict[int, int] = {}
        self.durations = Timing()
        self._encode = msgspec.msgpack.Encoder().encode
        self._names: dict[tuple[int, bytes], Any] = {}
        self.args = (_WATCH, self.tables, self.overflow, self.raw_values, self.durations.cells,
                     self.durations.bounds, self.durations.samples, self.durations.max_samples)

    def observe(self, record: dict[Any, Any]) -> None:
        """Count one record built in Python, exactly as the C extension counts its own."""
        keys = _TOP_KEYS.intersection(record)  # at C speed: most keys of most records are not watched
        if not keys:
            return
        found: list[Any] = [None] * _SLOTS  # per slot: (preference, value, unit) of the best name
        for key in keys:
            for preference, slot, unit, rest in _BY_KEY[key]:
                best = found[slot]
                if best is None or best[0] > preference:
                    value = walk(record[key], rest) if rest else record[key]
                    if value is not MISSING:
                        found[slot] = (preference, value, unit)
        level, error, method, status, duration = found
        if level is not None:
            self._count(LEVELS, level[1])
        if error is not None:
            self._count(ERRORS, error[1])
        if method is not None and status is not None:
            self._count(REQUESTS, (method[1], status[1]))
            if duration is not None and type(duration[1]) in (int, float) and duration[1] >= 0:
                self.durations.observe(float(duration[1]) * duration[2])

    def _count(self, table: int, value: Any) -> None:
        try:
            key = self._encode(value)
        except OverflowError:  # an integer beyond 64 bits: the record will be kept as text
            return
        counts = self.tables[table]
        try:
            counts[key] += 1
        except KeyError:
            if len(counts) < self.raw_values:
                counts[key] = 1
            else:
                self.overflow[table] = self.overflow.get(table, 0) + 1

    def named(self) -> Named:
        overflow: dict[str, int] = {}
        levels = self._named(LEVELS, level_name, overflow)
        errors = self._named(ERRORS, error_type, overflow)
        requests = self._named(REQUESTS, lambda pair: (method_name(pair[0]), status_class(pair[1])), overflow)
        return Named(levels, errors, requests, overflow)

    def _named(self, table: int, name: Callable[[Any], Any], overflow: dict[str, int]) -> dict[Any, int]:
        """The raw counts under their names, at most ``max_series`` of them; the rest, and the
        raw overflow, under ``other``."""
        named: dict[Any, int] = {}
        spilled = self.overflow.get(table, 0)
        for key, count in list(self.tables[table].items()):
            label = self._names.get((table, key))
            if label is None:
                label = self._names[(table, key)] = name(_decoded(key))
            if label in named or len(named) < self.max_series:
                named[label] = named.get(label, 0) + count
            else:
                spilled += count
        if spilled:
            other = (OTHER, OTHER) if table == REQUESTS else OTHER
            named[other] = named.get(other, 0) + spilled
            overflow[TABLE_NAMES[table]] = spilled
        return named


def _decoded(key: bytes) -> Any:
    try:
        value = msgspec.msgpack.decode(key)
    except msgspec.DecodeError:
        return None
    return tuple(value) if isinstance(value, list) else value
