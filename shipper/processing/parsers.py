"""The line parsers of ``--parse``, ``--types`` and ``--time-format`` (sans-I/O).

``--parse NAME`` is repeatable and the first parser that matches a line wins; a line none of
them matches gives None, and the caller keeps it as ``{"message": line}``. The names:

- ``logfmt``: ``shipper.processing.logfmt``.
- ``regex:PATTERN``: Python ``re`` syntax, with the semantics of Fluentd's and Fluent Bit's regex
  parsers: the pattern is searched anywhere in the line (anchor it with ``^...$`` to match whole
  lines), the record is the named groups alone (name a group ``message`` to keep text), a group
  that did not take part in the match is left out and an empty one is kept as "".
- ``nginx``, ``apache``, ``gunicorn``, ``python``: ``shipper.processing.presets``.

``--types FIELD:TYPE,...`` then types text values of any parser's record: ``int`` (decimal
digits with an optional sign, within a 64-bit long as Elasticsearch maps it), ``float`` (a finite
decimal number), ``bool`` (true/false, yes/no, 1/0, in any case). A value that does not convert
stays the string it was, so nothing is ever lost to a type. Last, with ``--time-format``, the
first of the time keys the record has is converted to RFC 3339 (``shipper.processing.timeformat``).

Python's ``re`` has no timeout, and a pattern runs in the thread that reads the child's output:
while it runs, nothing is read, and the child blocks once its pipe is full. So a line longer than
``REGEX_LINE_LIMIT`` characters is not offered to a ``regex:`` parser (it stays a message). That
bounds a pattern that is slow in a power of the line's length (``(.*),(.*),(.*)$`` on a line of
commas). It does not bound a catastrophic pattern, one with nested quantifiers over the same
characters, such as ``(a+)+$`` or ``(\\w+\\s?)*$``: on a line that almost matches, its time doubles
with each character, and 30 are enough to stall the service. Test a pattern on lines that almost
match before shipping it, or use an atomic group or possessive quantifier (``(?>...)``, ``a++``,
Python 3.11 and later), which cannot backtrack. The presets run in linear time and have no limit.

A bad ``--parse`` or ``--types`` is a ``ConfigError`` (exit 64) when logwrap starts, naming the
flag and what is wrong with it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from ..errors import ConfigError
from . import logfmt
from .presets import PARSERS, PRESETS
from .timeformat import TimeFormat, quoted

__all__ = ["PRESETS", "REGEX_LINE_LIMIT", "LineParser", "Parser", "parse_types", "parser_for"]

Parser = Callable[[str], dict[str, Any] | None]
Converter = Callable[[str], Any]

# 16 Ki characters: longer than any access or log line worth a pattern, short enough that a
# quadratic pattern's worst case stays a fraction of a second.
REGEX_LINE_LIMIT = 16 * 1024
# logwrap's --time-key default (shipper.wrap.records.DEFAULT_TIME_KEYS, whose imports a parser
# does not need; a test keeps the two the same).
DEFAULT_TIME_KEYS = ("@timestamp", "time", "timestamp")

_INT = re.compile(r"[+-]?[0-9]{1,19}")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_BOOLS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
_NO_TYPES: Mapping[str, Converter] = MappingProxyType({})


class _NotConverted(ValueError):
    """The value is not of the type: it stays the string it was."""


def _to_int(value: str) -> int:
    if _INT.fullmatch(value):
        number = int(value)
        if -(2**63) <= number < 2**63:
            return number
    raise _NotConverted(value)


def _to_float(value: str) -> float:
    if _FLOAT.fullmatch(value):
        number = float(value)
        if math.isfinite(number):  # 1e999 overflows to inf, which JSON cannot carry
            return number
    raise _NotConverted(value)


def _to_bool(value: str) -> bool:
    try:
        return _BOOLS[value.lower()]
    except KeyError:
        raise _NotConverted(value) from None


TYPES: Mapping[str, Converter] = MappingProxyType({"int": _to_int, "float": _to_float, "bool": _to_bool})


def parser_for(spec: str) -> Parser:
    """The parser ``--parse spec`` names; a ConfigError naming --parse when there is none."""
    if spec == "logfmt":
        return logfmt.parse
    if spec.startswith("regex:"):
        return _regex_parser(spec)
    if spec in PARSERS:
        return PARSERS[spec]
    raise ConfigError(f"--parse {quoted(spec)}: no such parser; write logfmt, regex:PATTERN, "
                      f"or one of {', '.join(PRESETS)}")


def _regex_parser(spec: str) -> Parser:
    try:
        pattern = re.compile(spec[len("regex:"):])
    except re.error as exc:
        raise ConfigError(f"--parse {quoted(spec)}: {exc}") from exc
    if not pattern.groupindex:
        raise ConfigError(f"--parse {quoted(spec)}: the pattern has no named group; "
                          "name what to keep with (?P<name>...)")

    def parse(line: str) -> dict[str, Any] | None:
        if len(line) > REGEX_LINE_LIMIT:
            return None
        match = pattern.search(line)
        if match is None:
            return None
        return {name: value for name, value in match.groupdict().items() if value is not None}

    return parse


def parse_types(spec: str) -> dict[str, Converter]:
    """The converters ``--types FIELD:TYPE,...`` asks for; a ConfigError naming --types when bad."""
    converters: dict[str, Converter] = {}
    for entry in spec.split(","):
        field, colon, type_name = entry.strip().rpartition(":")
        if not colon or not field:
            raise ConfigError(f"--types {quoted(spec)}: {entry.strip()!r} is not FIELD:TYPE "
                              f"(TYPE one of {', '.join(TYPES)})")
        if type_name not in TYPES:
            raise ConfigError(f"--types {quoted(spec)}: no such type {type_name!r} for {field}; "
                              f"write one of {', '.join(TYPES)}")
        if field in converters:
            raise ConfigError(f"--types {quoted(spec)}: {field} is given twice")
        converters[field] = TYPES[type_name]
    return converters


class LineParser:
    """Lines to records: the first parser that matches, then ``--types``, then ``--time-format``."""

    def __init__(self, parsers: Sequence[Parser], types: Mapping[str, Converter] = _NO_TYPES,
                 time_format: str | None = None, time_keys: Sequence[str] = DEFAULT_TIME_KEYS) -> None:
        self._parsers = tuple(parsers)
        self._types = tuple(types.items())
        self._time = TimeFormat(time_format) if time_format is not None else None
        self._time_keys = tuple(time_keys)

    def parse(self, line: str) -> dict[str, Any] | None:
        """The record of ``line``, or None when no parser matches it."""
        for parser in self._parsers:
            record = parser(line)
            if record is not None:
                break
        else:
            return None
        for field, convert in self._types:
            value = record.get(field)
            if isinstance(value, str):
                try:
                    record[field] = convert(value)
                except ValueError:
                    pass  # a converter from elsewhere may raise a plain ValueError: the text stays
        if self._time is not None:
            self._convert_time(record)
        return record

    def _convert_time(self, record: dict[str, Any]) -> None:
        assert self._time is not None
        for key in self._time_keys:
            if key in record:
                value = record[key]
                if isinstance(value, str):
                    converted = self._time.convert(value)
                    if converted is not None:
                        record[key] = converted
                return
