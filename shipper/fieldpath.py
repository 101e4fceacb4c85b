"""Reading a field of a record by its ECS name, dotted at the top level or nested (pure functions).

logwrap and shipper's formatter write ``{"log.level": ...}``; ecs-logging writes
``{"log": {"level": ...}}``. Readers of records (the metrics, the Sentry events) accept both.
"""

from __future__ import annotations

from typing import Any

MISSING: Any = object()


def walk(value: Any, path: tuple[str, ...]) -> Any:
    """``value[path[0]][path[1]]...`` through nested dicts, or ``MISSING``."""
    for key in path:
        if type(value) is not dict or key not in value:
            return MISSING
        value = value[key]
    return value


def find(record: dict[Any, Any], name: str) -> Any:
    """The value of the field ``name`` ("error.stack_trace"): the dotted key first, then nested."""
    value = record.get(name, MISSING)
    if value is MISSING and "." in name:
        value = walk(record, tuple(name.split(".")))
    return value


def pop(record: dict[Any, Any], name: str) -> Any:
    """Take the field ``name`` out of ``record`` (as ``find`` reads it) and return its value, or
    ``MISSING``. A nested field leaves its parents in place, even when they are left empty."""
    value = record.pop(name, MISSING)
    if value is MISSING and "." in name:
        *parents, last = name.split(".")
        parent = walk(record, tuple(parents))
        if type(parent) is dict:
            value = parent.pop(last, MISSING)
    return value


def first(record: dict[Any, Any], names: tuple[str, ...]) -> Any:
    """The value of the first of ``names`` the record has, or ``MISSING``."""
    for name in names:
        value = find(record, name)
        if value is not MISSING:
            return value
    return MISSING
