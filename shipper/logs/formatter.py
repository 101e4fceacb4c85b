"""The JSON formatter: python-json-logger's msgspec formatter, writing shipper's schema.

python-json-logger supplies the ``logging.Formatter`` side (dict messages, exception and
stack formatting, ``static_fields``); this class decides the fields (``schema``), adds the
context's, masks secrets and makes sure a log call never fails on a value JSON cannot hold.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

import msgspec
from pythonjsonlogger.msgspec import MsgspecFormatter

from . import context
from .redact import DEFAULT_KEYS, Redactor
from .schema import Service, Timestamps, error_of, extra_fields, schema_for

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _as_text(value: Any) -> Any:
    """For msgspec: any value it cannot encode is written as its repr."""
    return repr(value)


class JsonFormatter(MsgspecFormatter):
    """Formats a record as one line of JSON in the ``ecs`` or ``flat`` schema.

    python-json-logger's options that concern the output as a whole (``prefix``,
    ``static_fields``, ``exc_info_as_array``) and its ``process_log_record`` hook apply; the
    fields themselves are the schema's, not a format string's.
    """

    def __init__(self, schema: str = "ecs", service: Service | None = None,
                 redact_keys: Iterable[str] = DEFAULT_KEYS, **kwargs: Any) -> None:
        super().__init__(json_default=_as_text, **kwargs)
        self.service = service if service is not None else Service.from_environment()
        self._schema = schema_for(schema, self.service)
        self.schema = schema
        self.redactor = Redactor(redact_keys)  # also what the Sentry events are masked with
        self._timestamp = Timestamps()

    def format(self, record: logging.LogRecord) -> str:
        try:
            document = self.document(record)
        except Exception as exc:  # a bad log call (wrong % arguments, a failing __str__) is still logged
            document = self._failed(record, exc)
        return self.prefix + self.jsonify_log_record(self.process_log_record(document))

    def document(self, record: logging.LogRecord) -> dict[str, Any]:
        """The record's fields as a dict (what ``format`` encodes; fluent-logger sends it as is)."""
        given = None
        if isinstance(record.msg, dict):  # logger.info({"event": ...}): fields, maybe a message
            given = dict(record.msg)
            message = given.pop("message", "")
        else:
            message = record.getMessage()
        record.message = message
        error = None
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = self.formatException(record.exc_info)  # type: ignore[assignment]
            error = error_of(record.exc_info, record.exc_text)  # type: ignore[arg-type]
        text = message if type(message) is str else str(message)
        if text.endswith("\n") or "\x1b" in text:  # terminal colours mean nothing in a log store
            text = _ANSI.sub("", text.rstrip("\n"))
        return self._schema.document(record, self._timestamp(record.created), text, error,
                                     self._fields(record, given))

    def jsonify_log_record(self, log_data: dict[str, Any]) -> str:
        try:
            return self._encoder.encode(log_data).decode()
        except (msgspec.EncodeError, TypeError, ValueError):  # e.g. keys that are neither str nor numbers
            return self._encoder.encode(_plain(log_data)).decode()

    def _fields(self, record: logging.LogRecord, given: dict[str, Any] | None) -> dict[str, Any]:
        """The context's, the dict message's and ``extra=`` fields (later ones win), secrets masked."""
        bound = context.current()
        fields = extra_fields(record)
        if bound or given or self.static_fields:
            fields = {**self.static_fields, **bound, **(given or {}), **fields}
        elif not (fields or record.stack_info):
            return _NO_FIELDS
        if record.stack_info:
            fields.setdefault("log.stack_trace", self.formatStack(record.stack_info))
        return self.redactor.fields(fields)

    def _failed(self, record: logging.LogRecord, exc: Exception) -> dict[str, Any]:
        record.msg, record.args = f"{record.msg!r} % {record.args!r}", None
        record.exc_info = record.exc_text = None
        record.__dict__["log.format_error"] = f"{type(exc).__name__}: {exc}"
        return self.document(record)


_NO_FIELDS: dict[str, Any] = {}


def _plain(value: Any) -> Any:
    """A copy JSON can hold whatever it was: str keys, containers walked, the rest repr'd."""
    if isinstance(value, dict):
        return {k if isinstance(k, str) else repr(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)
