"""Which record fields the metrics read, and what their values mean (pure functions).

A field is read from its ECS name, dotted at the top level (``"log.level"``, as logwrap and
shipper's formatter write it) or nested (``{"log": {"level": ...}}``, as ecs-logging writes
it), then from the short names of the flat schema and of common loggers. The first name a
record has wins. Durations are read in their own unit: ECS ``event.duration`` is in
nanoseconds, the flat ``duration_ms`` in milliseconds.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class Slot(IntEnum):
    """What a field is read for; the C extension counts by these numbers."""

    LEVEL = 0
    ERROR_TYPE = 1
    METHOD = 2
    STATUS = 3
    DURATION = 4


LEVELS = ("debug", "info", "warning", "error", "critical")
OTHER = "other"
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})

# (slot, unit in seconds, ECS or plain name), in order of preference within a slot.
_NAMES: tuple[tuple[Slot, float, str], ...] = (
    (Slot.LEVEL, 1.0, "log.level"),
    (Slot.LEVEL, 1.0, "level"),
    (Slot.LEVEL, 1.0, "levelname"),
    (Slot.LEVEL, 1.0, "severity"),
    (Slot.ERROR_TYPE, 1.0, "error.type"),
    (Slot.METHOD, 1.0, "http.request.method"),
    (Slot.METHOD, 1.0, "method"),
    (Slot.STATUS, 1.0, "http.response.status_code"),
    (Slot.STATUS, 1.0, "status"),
    (Slot.DURATION, 1e-9, "event.duration"),
    (Slot.DURATION, 1e-3, "duration_ms"),
)


def names_of(slot: Slot) -> tuple[str, ...]:
    """The fields read for ``slot``, in order of preference: ``("log.level", "level", ...)``."""
    return tuple(name for each, _, name in _NAMES if each is slot)


def _paths(name: str) -> list[tuple[str, ...]]:
    """A dotted name as one top-level key, then as nested keys."""
    parts = tuple(name.split("."))
    return [(name,)] if len(parts) == 1 else [(name,), parts]


# Every path to look at: (slot, unit, keys), the dotted key before the nested one.
WATCHED: tuple[tuple[Slot, float, tuple[str, ...]], ...] = tuple(
    (slot, unit, path) for slot, unit, name in _NAMES for path in _paths(name))

_LEVEL_NAMES = {
    "trace": "debug", "debug": "debug",
    "info": "info", "information": "info", "notice": "info",
    "warn": "warning", "warning": "warning",
    "err": "error", "error": "error",
    "crit": "critical", "critical": "critical", "fatal": "critical", "alert": "critical",
    "emerg": "critical", "emergency": "critical", "panic": "critical",
}


def level_name(value: Any) -> str:
    """A level as one of ``LEVELS``: names in any case, or numbers as Python's logging has them
    (10 debug, 20 info, 30 warning, 40 error, 50 critical); anything else is ``other``."""
    if isinstance(value, str):
        return _LEVEL_NAMES.get(value.strip().lower(), OTHER)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return LEVELS[min(max((value - 1) // 10, 0), 4)]
    return OTHER


def status_class(value: Any) -> str:
    """``2xx`` for 200..299 (as a number or digits), else ``other``."""
    if isinstance(value, str) and len(value) == 3 and value.isascii() and value.isdigit():
        value = int(value)  # not "²" nor 5,000 digits: isdigit() alone lets int() fail
    if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
        return f"{value // 100}xx"
    return OTHER


def method_name(value: Any) -> str:
    """An HTTP method in upper case, or ``other`` for anything that is not one."""
    if isinstance(value, str) and value.upper() in HTTP_METHODS:
        return value.upper()
    return OTHER


def error_type(value: Any) -> str:
    return value if isinstance(value, str) and value else OTHER
