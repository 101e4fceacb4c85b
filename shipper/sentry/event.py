"""Sentry events from the child's records and from its end (sans-I/O).

A record reports an error when one of ``STACK_TRACE_FIELDS`` holds a Python traceback: the
``error.stack_trace`` of logwrap's traceback groups and of ECS loggers (dotted or nested), the
flat schema's ``stack_trace``, or structlog's ``exception``. ``traceback_of`` finds it, cheaply;
``traceback_event`` then builds the event, and ``crash_event`` the one sent when the child dies.

Events are plain dicts in the shape sentry-sdk's ``Client.capture_event`` takes. Their
``event_id`` derives from the record's id (``event.id``), and that id is a tag too: each of the
record and the event can be found from the other, and an event built twice is one event.
"""

from __future__ import annotations

import re
import signal
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..fieldpath import MISSING, find, first
from ..metrics.fields import Slot, level_name, names_of
from .stacktrace import Value, exceptions, fault_exception, fingerprint, is_fault

STACK_TRACE_FIELDS = ("error.stack_trace", "stack_trace", "exception")
# The top-level keys a record that has one of them starts with: what the record builders catch.
CAUGHT_KEYS = frozenset({"error.stack_trace", "error", "stack_trace", "exception"})
_ERROR_TYPE = ("error.type", "error_type")
_ERROR_MESSAGE = ("error.message", "error_message")
_LOGGER = ("log.logger", "logger", "logger_name")
MESSAGE_FIELDS = ("message", "msg", "event")  # ECS and the flat schema; a bare logger; structlog
_LEVEL = names_of(Slot.LEVEL)
_SENTRY_LEVELS = {"debug": "debug", "info": "info", "warning": "warning", "error": "error",
                  "critical": "fatal"}
_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_SPAN_ID = re.compile(r"[0-9a-f]{16}")
_TAG_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,32}")  # what Sentry accepts as a tag's key
_LOG_PARTS = frozenset({"level", "logger"})  # a nested "log" with only these says nothing new
_NAMESPACE = uuid.UUID("5d0b6c4e-8f62-4a43-9a8e-0b6a3f3c6e21")  # logwrap's: event ids from record ids
_LEFT_OUT = frozenset({*STACK_TRACE_FIELDS, *_ERROR_TYPE, *_ERROR_MESSAGE, *_LOGGER, *MESSAGE_FIELDS, *_LEVEL,
                       "@timestamp", "time", "timestamp", "trace.id", "span.id", "transaction.id"})


@dataclass(frozen=True)
class Traceback:
    """The error a record reports, as text: a traceback, or a fatal error's dump (``fault``)."""

    text: str
    error_type: str = ""  # for text with frames only (ecs-logging's error.stack_trace)
    error_message: str = ""

    @property
    def fault(self) -> bool:
        return is_fault(self.text)

    def values(self) -> list[Value]:
        if self.fault:
            return fault_exception(self.text)
        return exceptions(self.text, error_type=self.error_type, error_message=self.error_message)


@dataclass(frozen=True)
class Context:
    """What logwrap knows of every record: the fields that become tags, and the tags of a crash."""

    tag_fields: tuple[str, ...] = ("stream", "event.id")  # logwrap's own fields and labels
    id_key: str = "event.id"
    crash_tags: Mapping[str, str] = field(default_factory=dict)  # the labels, service.name


@dataclass(frozen=True)
class Exit:
    """How the child ended: its exit status, or the signal that killed it."""

    status: int
    signal: int | None = None

    @property
    def crashed(self) -> bool:
        return self.signal is not None or self.status != 0

    def describe(self, name: str) -> str:
        if self.signal is not None:
            return f"{name} was killed by {_signal_name(self.signal)}"
        return f"{name} exited with status {self.status}"


def traceback_of(record: dict[Any, Any]) -> Traceback | None:
    """The traceback a record carries, or None. Cheap: the text is not parsed here."""
    text = first(record, STACK_TRACE_FIELDS)
    if not isinstance(text, str) or not (is_fault(text) or 'File "' in text):
        return None
    return Traceback(text, _text(first(record, _ERROR_TYPE)), _text(first(record, _ERROR_MESSAGE)))


def traceback_event(record: dict[Any, Any], time_ns: int, values: list[Value], context: Context,
                    fault: bool = False) -> dict[str, Any]:
    """The event for a record that carries a traceback (or a fatal error's dump: ``fault``),
    its exception ``values`` already parsed."""
    level = sentry_level(record, "error")
    tags = tags_of(record, context)
    event: dict[str, Any] = {
        "event_id": _event_id(record.get(context.id_key)),
        "timestamp": _timestamp(time_ns),
        "platform": "python",
        "level": "fatal" if fault else level,
        "exception": {"values": values},
        "fingerprint": fingerprint(values),
        "tags": tags,
        "contexts": {"record": _other_fields(record, tags)},
    }
    logger = first(record, _LOGGER)
    if isinstance(logger, str) and logger:
        event["logger"] = logger
    message = first(record, MESSAGE_FIELDS)
    if isinstance(message, str) and message and values and not _restates_error(message, record, values[-1]):
        event["logentry"] = {"message": message}
    trace = _trace_context(record, event["event_id"])
    if trace:
        event["contexts"]["trace"] = trace
    return event


def crash_event(name: str, end: Exit, values: list[Value], breadcrumbs: list[dict[str, Any]], time_ns: int,
                tags: Mapping[str, str]) -> dict[str, Any]:
    """The ``fatal`` event for a child that died: how, the traceback or dump printed just before
    it (``values``, maybe none) and the last records as breadcrumbs."""
    how = _signal_name(end.signal) if end.signal is not None else f"status {end.status}"
    event: dict[str, Any] = {
        "event_id": uuid.uuid4().hex,
        "timestamp": _timestamp(time_ns),
        "platform": "python",
        "level": "fatal",
        "logentry": {"message": end.describe(name)},
        "fingerprint": ["logwrap-crash", name, how, *fingerprint(values)],
        "tags": {**tags, **({"signal": how} if end.signal is not None else {"exit_status": str(end.status)})},
        "breadcrumbs": {"values": breadcrumbs},
    }
    if values:
        event["exception"] = {"values": values}
    return event


def sentry_level(record: dict[Any, Any], default: str) -> str:
    """The record's level as Sentry names levels, or ``default`` when it has none it knows."""
    return _SENTRY_LEVELS.get(level_name(first(record, _LEVEL)), default)


def tags_of(record: dict[Any, Any], context: Context) -> dict[str, str]:
    """The record's fields that Sentry users filter by: logwrap's fields and labels, the
    record's ``labels.*``, ``service.name`` and ``trace.id``."""
    tags = {key: _tag(record[key]) for key in context.tag_fields if key in record}
    labels = record.get("labels")
    if isinstance(labels, dict):
        tags.update((f"labels.{key}", _tag(value)) for key, value in labels.items() if _scalar(value))
    tags.update((key, _tag(value)) for key, value in record.items()
                if type(key) is str and key.startswith("labels.") and _scalar(value))
    for name in ("service.name", "trace.id"):
        value = find(record, name)
        if _scalar(value):
            tags[name] = _tag(value)
    service = record.get("service")
    if "service.name" not in tags and isinstance(service, str) and service:  # the flat schema's
        tags["service.name"] = service
    return {key: value for key, value in tags.items() if _TAG_KEY.fullmatch(key)}


def _other_fields(record: dict[Any, Any], tags: Mapping[str, str]) -> dict[Any, Any]:
    """The record's other fields, as the event's ``record`` context (``extra`` would keep only
    10 of them: sentry-sdk trims it as a databag). What the event holds elsewhere is left out:
    the ECS ``error`` object (it is the exception, its stack trace the biggest field), the
    tags, the message, the level and logger, however they were written."""
    return {key: value for key, value in record.items()
            if key not in _LEFT_OUT and key not in tags and not (key == "error" and isinstance(value, dict))
            and not (key == "log" and isinstance(value, dict) and set(value) <= _LOG_PARTS)}


def _exception_line(value: Value) -> str:
    return f"{value['type']}: {value['value']}" if value.get("value") else value["type"]


def _restates_error(message: str, record: dict[Any, Any], value: Value) -> bool:
    """Whether the message only says the exception line again: logwrap's own message for a traceback
    ("TYPE: MESSAGE" from the record's error fields, where a group's str() adds " (2 sub-exceptions)")."""
    error_type, error_message = _text(first(record, _ERROR_TYPE)), _text(first(record, _ERROR_MESSAGE))
    made = f"{error_type}: {error_message}" if error_message else error_type
    return message in (_exception_line(value), made)


def _trace_context(record: dict[Any, Any], event_id: str) -> dict[str, str]:
    """Sentry's trace context from ECS ``trace.id`` and ``span.id`` (W3C's hex ids), when valid."""
    trace_id = find(record, "trace.id")
    if not isinstance(trace_id, str) or not _TRACE_ID.fullmatch(trace_id):
        return {}
    span_id = find(record, "span.id")
    if not isinstance(span_id, str) or not _SPAN_ID.fullmatch(span_id):
        span_id = event_id[:16]  # Sentry needs one; the event's own id gives a stable stand-in
    return {"trace_id": trace_id, "span_id": span_id}


def _event_id(record_id: Any) -> str:
    if isinstance(record_id, str) and record_id:
        return uuid.uuid5(_NAMESPACE, record_id).hex
    return uuid.uuid4().hex


def _timestamp(time_ns: int) -> datetime:
    return datetime.fromtimestamp(time_ns / 1e9, tz=timezone.utc)


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _scalar(value: Any) -> bool:
    return value is not MISSING and isinstance(value, (str, int, float, bool))


def _tag(value: Any) -> str:
    """A tag value as Sentry takes one: one line, at most 200 characters."""
    return " ".join(str(value).split())[:200]
