"""Records for people: the one renderer behind ``shipper receive --pretty``, ``shipper es tail``
and ``shipper demo``.

After structlog's ConsoleRenderer: ``TIME LEVEL [service] logger: message``, then the other
fields as ``key=value`` with nested objects flattened to dotted keys, and a stack trace indented
under its line. The level is coloured on a terminal. It reads our ECS and flat schemas, logwrap's
text and traceback records, and other ECS loggers' records, whether their fields are dotted keys
or nested objects. What a person rarely needs (``ecs.version``, ``process.*``, ``log.origin.*``,
``event.id``, the time already shown) is left out unless ``verbose``. Pure: records in, text out.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from typing import Any, TextIO

from .forward.eventtime import Rfc3339

TIME_KEYS = ("@timestamp", "time", "timestamp")
LEVEL_KEYS = ("log.level", "level", "levelname", "severity")
LOGGER_KEYS = ("log.logger", "logger")
MESSAGE_KEYS = ("message", "msg", "log")
SERVICE_KEYS = ("service.name", "service", "fluentd.tag")  # the last: the tag, as configs/fluentd stores it
TRACE_KEYS = ("error.stack_trace", "stack_trace")
HIDDEN = ("ecs.version", "event.id", "process", "log.origin", "log.original")  # and all under each
LEVEL_NAMES = {"warn": "warning", "err": "error", "fatal": "critical", "crit": "critical",
               "trace": "debug", "notice": "info"}

RESET = "\x1b[0m"
LEVEL_COLOURS = {"debug": "\x1b[34m", "info": "\x1b[32m", "warning": "\x1b[33m", "error": "\x1b[31m",
                 "critical": "\x1b[1;31m"}
DIM, KEY, SERVICE = "\x1b[2m", "\x1b[36m", "\x1b[35m"


def field(record: Mapping[str, Any], dotted: str) -> Any:
    """A field written either as a dotted key or as nested objects (both are common)."""
    if dotted in record:
        return record[dotted]
    value: Any = record
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def flatten(record: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``(dotted key, value)`` for every leaf; lists are leaves."""
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from flatten(value, f"{name}.")
        else:
            yield name, value


def wants_colour(flag: bool | None, stream: TextIO | None) -> bool:
    """``--color/--no-color`` when given; else colour on a terminal, unless NO_COLOR is set."""
    if flag is not None:
        return flag
    return bool(stream is not None and stream.isatty() and not os.environ.get("NO_COLOR"))


class Renderer:
    def __init__(self, colour: bool = False, verbose: bool = False) -> None:
        self._colour = colour
        self._verbose = verbose
        self._stamp = Rfc3339()

    def render(self, record: Mapping[str, Any], time_ns: int | None = None, tag: str | None = None) -> str:
        """One record as a line (plus its indented stack trace), without a final newline."""
        taken: set[str] = set()
        when = self._time(record, time_ns, taken)
        level = self._level(record, taken)
        service = _first(record, SERVICE_KEYS, taken, str) or tag or ""
        logger = _first(record, LOGGER_KEYS, taken, str)
        message = _first(record, MESSAGE_KEYS, taken, str) or ""
        trace = _first(record, TRACE_KEYS, taken, str)
        head = " ".join(part for part in (
            self._paint(DIM, when), level, self._paint(SERVICE, f"[{service}]") if service else "",
            f"{self._paint('', logger)}:" if logger else "", message,
        ) if part)
        if message in _error_texts(record):  # logwrap's traceback records say it twice otherwise
            taken.update(("error.type", "error.message"))
        rest = self._fields(record, taken, tag if service != tag else None)
        line = f"{head} {rest}" if rest else head
        if trace:
            line += "".join(f"\n    {trace_line}".rstrip() for trace_line in trace.rstrip("\n").splitlines())
        return line

    def _time(self, record: Mapping[str, Any], time_ns: int | None, taken: set[str]) -> str:
        written = _first(record, TIME_KEYS, taken, None)
        if time_ns is not None:
            return self._stamp(time_ns)[:23] + "Z"  # to the millisecond
        if written is None:
            return "-"
        utc = _UTC.fullmatch(str(written))  # shown as the event time is: to the millisecond
        return f"{utc.group(1)}.{(utc.group(2) or '').ljust(3, '0')}Z" if utc else str(written)

    def _level(self, record: Mapping[str, Any], taken: set[str]) -> str:
        raw = _first(record, LEVEL_KEYS, taken, str)
        name = LEVEL_NAMES.get(raw.lower(), raw.lower()) if raw else ""
        return self._paint(LEVEL_COLOURS.get(name, ""), f"{name.upper() or '-':<8}")

    def _fields(self, record: Mapping[str, Any], taken: set[str], tag: str | None) -> str:
        pairs = [(key, value) for key, value in flatten(record) if key not in taken
                 and (self._verbose or not _hidden(key))]
        if tag and self._verbose:
            pairs.insert(0, ("tag", tag))
        return " ".join(f"{self._paint(KEY, key)}={_value(value)}" for key, value in pairs)

    def _paint(self, colour: str, text: str) -> str:
        return f"{colour}{text}{RESET}" if self._colour and colour and text else text


def _first(record: Mapping[str, Any], keys: tuple[str, ...], taken: set[str], kind: type | None) -> Any:
    """The first of ``keys`` the record has (of type ``kind``), marked as taken."""
    for key in keys:
        value = field(record, key)
        if value is not None and (kind is None or isinstance(value, kind)):
            taken.add(key)
            return value
    return None


_UTC = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,3})\d*)?(?:Z|\+00:00)")


def _error_texts(record: Mapping[str, Any]) -> tuple[str, ...]:
    kind, message = field(record, "error.type"), field(record, "error.message")
    if not isinstance(kind, str):
        return ()
    return (f"{kind}: {message}", kind) if message else (kind,)


def _hidden(key: str) -> bool:
    return any(key == name or key.startswith(f"{name}.") for name in HIDDEN)


def _value(value: Any) -> str:
    if isinstance(value, str) and value and not any(c in value for c in ' "=\\\n\t') and value.isprintable():
        return value
    return json.dumps(value, ensure_ascii=False, default=repr, separators=(",", ":"))
