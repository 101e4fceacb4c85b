"""Lines and groups to Forward entries ``(wire_time, record)`` (sans-I/O).

A line holding a JSON object becomes the record; any other line becomes ``{"message": line}``
(invalid UTF-8 replaced). The event time comes from the first of ``time_keys`` the record
has (ISO 8601 or epoch), else from when the line was read. Every record gets ``stream``,
the labels and a unique id under ``id_key``, made here, once, so that a resent chunk carries
the same ids and an Elasticsearch output keyed on them stores it once. logwrap's fields win
over the app's fields of the same name.

Parts of an over-long line carry Docker's fields (``partial_message``, ``partial_id``,
``partial_ordinal``, ``partial_last``), which fluent-plugin-concat joins back. A traceback
group carries ECS ``error.type``, ``error.message`` and ``error.stack_trace``.
"""

from __future__ import annotations

import base64
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
from msgspec.msgpack import Ext

from ..forward.eventtime import MAX_NS, to_wire
from ..timeparse import SCALE, TimeParser
from .framing import Part
from .multiline import Group, Item

_PAIR = struct.Struct(">II")  # EventTime: seconds, nanoseconds
DEFAULT_TIME_KEYS = ("@timestamp", "time", "timestamp")
_CHAIN_OR_HEADER = (b"Traceback", b"During handling", b"The above exception")


@dataclass(frozen=True)
class RecordOptions:
    time_keys: tuple[str, ...] = DEFAULT_TIME_KEYS
    id_key: str = "event.id"
    labels: Mapping[str, str] = field(default_factory=dict)
    message_key: str = "message"


class IdSource:
    """Unique ids: a random 80-bit prefix per process and a counter (cheaper than uuid4)."""

    def __init__(self) -> None:
        self.prefix = base64.b32encode(os.urandom(10)).decode("ascii").lower() + "-"
        self._next = 1

    def take(self, count: int) -> list[str]:
        """The next ``count`` ids, made in one comprehension (cheaper than one call each)."""
        start, self._next = self._next, self._next + count
        prefix = self.prefix
        return [f"{prefix}{n}" for n in range(start, start + count)]


class RecordBuilder:
    """Builds the records of one stream (stdout or stderr).

    ``build`` is the per-line hot path of logwrap: one loop over locals, with the common
    timestamp shape parsed inline; rarer shapes go through ``TimeParser``.
    """

    def __init__(self, stream: str, options: RecordOptions, ids: IdSource) -> None:
        self._stream = stream
        self._options = options
        self._ids = ids
        self._fields = {**options.labels, "stream": stream}
        # What each record gains here (fields, id), so batches can be sized before encoding.
        self.added_bytes = 40 + sum(len(k) + len(v) + 4 for k, v in self._fields.items())
        self._decode = msgspec.json.Decoder(dict).decode
        self._time = TimeParser()

    def build(self, items: list[Item], now_ns: int) -> list[tuple[object, dict[Any, Any]]]:
        read_time = to_wire(now_ns)
        decode, fields, time_keys = self._decode, self._fields, self._options.time_keys
        message_key, id_key = self._options.message_key, self._options.id_key
        seconds, slow_time, pack_time = self._time.seconds, self._time.slow, _PAIR.pack
        stream = None if len(fields) > 1 else fields["stream"]  # one field: set it directly
        entries: list[tuple[object, dict[Any, Any]]] = []
        record: dict[Any, Any] | None
        for item, event_id in zip(items, self._ids.take(len(items)), strict=True):
            if type(item) is not bytes:
                record = self._special(item, event_id)
            else:
                record = None
                if item and item[0] == 123:  # b"{"
                    try:
                        record = decode(item)
                    except msgspec.DecodeError:
                        pass  # not JSON after all: kept as text below
                if record is None:
                    record = {message_key: item.decode("utf-8", "replace")}
                if stream is None:
                    record.update(fields)
                else:
                    record["stream"] = stream
                record[id_key] = event_id
            when = read_time
            for key in time_keys:
                value = record.get(key)  # type: ignore[union-attr]
                if value is None:
                    continue
                if type(value) is str and value[-1:] == "Z":  # "...SS.fffZ" with its second cached
                    head, _, fraction = value.partition(".")
                    second = seconds.get(head)
                    digits = fraction[:-1]
                    if second is not None and digits.isdigit() and len(digits) <= 9:
                        when = Ext(0, pack_time(second, int(digits) * SCALE[len(digits)]))
                        break
                ns = slow_time(value)
                if ns is not None and 0 <= ns < MAX_NS:  # else: keep the read time
                    when = to_wire(ns)
                break
            entries.append((when, record))  # type: ignore[arg-type]
        return entries

    def _special(self, item: Item, event_id: str) -> dict[Any, Any]:
        record = self._part(item) if isinstance(item, Part) else self._group(item)  # type: ignore[arg-type]
        record.update(self._fields)
        record[self._options.id_key] = event_id
        return record

    def _part(self, part: Part) -> dict[Any, Any]:
        return {
            self._options.message_key: part.data.decode("utf-8", "replace"),
            "partial_message": "true",
            "partial_id": f"{self._ids.prefix}{self._stream}-{part.line}",
            "partial_ordinal": str(part.ordinal),
            "partial_last": "true" if part.last else "false",
        }

    def _group(self, group: Group) -> dict[Any, Any]:
        text = b"\n".join(group.lines).decode("utf-8", "replace")
        if not group.traceback:
            return {self._options.message_key: text}
        error_type, error_message = exception_of(group.lines)
        return {
            self._options.message_key: f"{error_type}: {error_message}" if error_message else error_type,
            "error.type": error_type,
            "error.message": error_message,
            "error.stack_trace": text,
        }


def exception_of(lines: list[bytes]) -> tuple[str, str]:
    """The type and message of the exception a traceback ends with.

    The last unindented line names it ("pkg.Error: text"); an exception group's lines are
    all indented, so there the first "| Name: text" line after the frames names the group.
    """
    for raw in reversed(lines):
        if raw and not raw[:1].isspace() and not raw.startswith(_CHAIN_OR_HEADER):
            return _split_exception(raw)
    for raw in lines:
        stripped = raw.strip().lstrip(b"|").strip()
        if b": " in stripped and not stripped.startswith((b"File ", b"+", b"Traceback")):
            return _split_exception(stripped)
    return "", ""


def _split_exception(line: bytes) -> tuple[str, str]:
    text = line.decode("utf-8", "replace")
    name, sep, message = text.partition(": ")
    return (name, message) if sep else (text, "")
