"""A ``logging.LogRecord`` as the document of one JSON log line (pure functions).

``ecs`` follows the Elastic Common Schema the way the ECS logging libraries write it:
``@timestamp``, ``log.level``, ``message`` and ``ecs.version`` as dotted top-level keys, every
other field nested (``{"log": {"logger": ...}}``), and dotted ``extra=`` keys nested too.
Elasticsearch maps ``{"error": {"type": ...}}`` and logwrap's ``"error.type"`` to the same
field. ``flat`` uses short top-level keys for people who do not want ECS.

Fields from the context and ``extra=`` are added below shipper's own: a record's level,
logger, time and error cannot be overwritten by them.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import islice
from types import TracebackType
from typing import Any

from ..errors import ConfigError

SCHEMAS = ("ecs", "flat")
ECS_VERSION = "8.11.0"
# Everything a LogRecord carries by itself: none of it is ever shipped as an extra field.
# uvicorn's color_message repeats the message with terminal colours: left out as well.
RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "taskName", "color_message"}
_LOWER = {name: name.lower() for name in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")}
_OWN_ATTRIBUTES = len(vars(logging.LogRecord("", 0, "", 0, "", (), None)))
_PLAIN_RECORD = _OWN_ATTRIBUTES + 1  # and the formatted message


@dataclass(frozen=True)
class Service:
    name: str | None = None
    version: str | None = None
    environment: str | None = None

    @classmethod
    def from_environment(cls, name: str | None = None, version: str | None = None,
                         environment: str | None = None) -> Service:
        """The options given, else SERVICE_NAME, SERVICE_VERSION, SERVICE_ENVIRONMENT."""
        return cls(name or os.environ.get("SERVICE_NAME") or None,
                   version or os.environ.get("SERVICE_VERSION") or None,
                   environment or os.environ.get("SERVICE_ENVIRONMENT") or None)


def check_schema(schema: str) -> str:
    if schema not in SCHEMAS:
        raise ConfigError(f"log schema {schema!r}: choose one of {', '.join(SCHEMAS)}")
    return schema


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """What ``extra=`` (or a filter, or a record factory) added to ``record``, in that order.

    ``LogRecord.__init__`` sets its own attributes first, so only the ones after them are
    looked at; any record attribute among those (``message``, ``asctime``) is still left out.
    """
    attributes = record.__dict__
    if len(attributes) <= _PLAIN_RECORD:
        return {}
    return {k: v for k, v in islice(attributes.items(), _OWN_ATTRIBUTES, None)
            if k not in RECORD_ATTRIBUTES and (type(k) is not str or k[:1] != "_")}


class Timestamps:
    """RFC 3339 UTC with microseconds; the part up to the second is made once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._second, self._prefix = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{int((created - second) * 1_000_000):06d}Z"


@dataclass(frozen=True)
class Error:
    type: str
    message: str
    stack_trace: str


def error_of(exc_info: tuple[type[BaseException], BaseException, TracebackType | None] | None,
             stack_trace: str) -> Error | None:
    """The exception's type named as a traceback prints it (and as logwrap reports it)."""
    if not exc_info or exc_info[0] is None:
        return None
    kind, value = exc_info[0], exc_info[1]
    module = kind.__module__
    name = kind.__qualname__ if module in ("builtins", "__main__") else f"{module}.{kind.__qualname__}"
    return Error(name, str(value), stack_trace)


def nest(fields: Mapping[str, Any], into: dict[str, Any]) -> dict[str, Any]:
    """Add dotted keys to ``into`` as nested objects; what ``into`` already holds wins."""
    for key, value in fields.items():
        if type(key) is str and "." in key:
            _nest_dotted(key.split("."), value, into)
        elif key not in into:
            into[key] = value
        elif isinstance(value, Mapping) and isinstance(into[key], dict):
            nest(value, into[key])
    return into


def _nest_dotted(path: list[str], value: Any, into: dict[str, Any]) -> None:
    target = into
    for parent in path[:-1]:
        child = target.get(parent)
        if not isinstance(child, dict):
            if parent in target:
                return  # a leaf of ours is in the way: ours wins
            child = target[parent] = {}
        target = child
    nest({path[-1]: value}, target)


class Ecs:
    name = "ecs"

    def __init__(self, service: Service) -> None:
        self._service = {k: v for k, v in (("name", service.name), ("version", service.version),
                                           ("environment", service.environment)) if v}

    def document(self, record: logging.LogRecord, timestamp: str, message: str, error: Error | None,
                 fields: Mapping[str, Any]) -> dict[str, Any]:
        document: dict[str, Any] = {
            "@timestamp": timestamp,
            "log.level": _LOWER.get(record.levelname) or record.levelname.lower(),
            "message": message,
            "ecs.version": ECS_VERSION,
            "log": {"logger": record.name, "origin": {
                "file": {"name": record.filename, "line": record.lineno}, "function": record.funcName}},
            "process": {"pid": record.process, "thread": {"name": record.threadName}},
        }
        if self._service:
            document["service"] = dict(self._service)  # a copy: extra fields may nest into it
        if error is not None:
            document["error"] = {"type": error.type, "message": error.message,
                                 "stack_trace": error.stack_trace}
        return nest(fields, document) if fields else document


class Flat:
    name = "flat"

    def __init__(self, service: Service) -> None:
        self._service = {k: v for k, v in (("service", service.name), ("version", service.version),
                                           ("environment", service.environment)) if v}

    def document(self, record: logging.LogRecord, timestamp: str, message: str, error: Error | None,
                 fields: Mapping[str, Any]) -> dict[str, Any]:
        level = _LOWER.get(record.levelname) or record.levelname.lower()
        document: dict[str, Any] = {
            "time": timestamp, "level": level, "logger": record.name, "message": message,
            "file": record.filename, "line": record.lineno, "function": record.funcName,
            "pid": record.process, "thread": record.threadName, **self._service,
        }
        if error is not None:
            document.update(error_type=error.type, error_message=error.message, stack_trace=error.stack_trace)
        for key, value in fields.items():
            document.setdefault(key, value)
        return document


def schema_for(name: str, service: Service) -> Ecs | Flat:
    return (Ecs if check_schema(name) == "ecs" else Flat)(service)
