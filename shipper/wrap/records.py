"""Lines and groups to packed Forward entries ``[time, record]`` (sans-I/O).

A line holding a JSON object becomes the record; any other line becomes what the first
``--parse`` parser that matches makes of it, else ``{"message": line}`` (invalid UTF-8 replaced).
The filters (``shipper.processing``) then run on every record, and ``--throttle``'s quota stops
a pack() once it is spent; what they leave out is counted in ``filtered`` and ``throttled``.
The event time comes from the first of ``time_keys`` the record has (ISO 8601 or epoch),
else from when the line was read. Every record gets ``stream``,
the labels and a unique id under ``id_key``, made here, once, so that a resent chunk carries
the same ids and an Elasticsearch output keyed on them stores it once. logwrap's fields win
over the app's fields of the same name.

Parts of an over-long line carry Docker's fields (``partial_message``, ``partial_id``,
``partial_ordinal``, ``partial_last``), which fluent-plugin-concat joins back. A traceback
group carries ECS ``error.type``, ``error.message`` and ``error.stack_trace``, and so does the
dump of a fatal error: its ``error.type`` is the signal that killed the process ("SIGSEGV"), or
"FatalError" when Python stopped itself, and its ``error.message`` the "Fatal Python error: ..."
line.

JSON lines go through the C extension ``_fastpack`` when it is built: it transcodes them
to msgpack in one pass, about 5x faster, with the common filters and, when an access-log preset
is the first parser, the access lines too; it hands every item it is not sure of back to
``_encoded`` here, so both paths make the same records. Without a compiler the Python path
does it all.
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
from ..forward.nesting import MAX_NESTING, deeper_than
from ..metrics.tally import RecordTally
from ..processing.options import Processing
from ..sentry.event import CAUGHT_KEYS
from ..sentry.stacktrace import fatal_error
from ..sentry.stacktrace import final_exception as exception_of
from ..timeparse import TimeParser
from .framing import Part
from .multiline import Group, Item

try:
    from . import _fastpack
except ImportError:  # built without a C compiler: the Python path below does the same work
    _fastpack = None  # type: ignore[assignment]

# SHIPPER_PURE_PYTHON=1 turns the extension off: to compare the paths, or to rule it out.
ACCELERATED = _fastpack is not None and os.environ.get("SHIPPER_PURE_PYTHON") != "1"
_PAIR = struct.Struct(">II")  # EventTime: seconds, nanoseconds
_NS = 1_000_000_000
DEFAULT_TIME_KEYS = ("@timestamp", "time", "timestamp")
# What msgspec raises on a line that looks like JSON but is not, or nests too deep to decode.
_NOT_JSON = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)


@dataclass(frozen=True)
class RecordOptions:
    time_keys: tuple[str, ...] = DEFAULT_TIME_KEYS
    id_key: str = "event.id"
    labels: Mapping[str, str] = field(default_factory=dict)
    message_key: str = "message"
    processing: Processing | None = None  # --parse, the filters and --throttle

    @property
    def reserved(self) -> tuple[str, ...]:
        """The fields logwrap sets on every record."""
        return (*self.labels, "stream", self.id_key)


def within_nesting(line: bytes, record: dict[Any, Any]) -> bool:
    """Whether a decoded line keeps to ``MAX_NESTING`` (the C path's ``MAX_DEPTH`` too).

    Counting brackets bounds the depth at C speed; only a line with more of them is walked.
    """
    return line.count(b"{") + line.count(b"[") <= MAX_NESTING or not deeper_than(record)


class IdSource:
    """Unique ids: a random 80-bit prefix per process and a counter (cheaper than uuid4)."""

    def __init__(self) -> None:
        self.prefix = base64.b32encode(os.urandom(10)).decode("ascii").lower() + "-"
        self.next = 1


class RecordBuilder:
    """Builds the records of one stream (stdout or stderr) as packed entries."""

    def __init__(self, stream: str, options: RecordOptions, ids: IdSource, accelerated: bool = True,
                 tally: RecordTally | None = None, catch: bool = False) -> None:
        self._stream = stream
        self._tally = tally
        # With catch, the entries of records that may carry a traceback (CAUGHT_KEYS) are also
        # appended here, as packed: the Sentry reporter reads them. Whoever reads them clears it.
        self.caught: list[bytes] | None = [] if catch else None
        self._options = options
        self._ids = ids
        self._fields = {**options.labels, "stream": stream}
        self._decode = msgspec.json.Decoder(dict).decode
        self._encode = msgspec.msgpack.Encoder().encode
        self._time = TimeParser()
        self._read_wire: Ext = to_wire(0)  # type: ignore[assignment]
        processing = options.processing
        self._parse = processing.parser.parse if processing is not None and processing.parser else None
        self._filter = None if processing is None else processing.filters
        fast_filters = None if processing is None else processing.fast
        self._access = 0 if processing is None else processing.access
        # Records the next pack() may write, the rest being throttled (-1: no --throttle); pack()
        # spends it. The records left out so far, by the filters and by the throttle:
        self.quota = -1
        self.filtered = 0
        self.throttled = 0
        reserved = (*self._fields, options.id_key)
        # Rare set-ups stay in Python: a time key logwrap sets itself, an id key that is also a
        # label, filters the C pass cannot do.
        odd = set(options.time_keys) & set(reserved) or options.id_key in self._fields or (
            self._filter is not None and fast_filters is None)
        self._fast = accelerated and ACCELERATED and not odd and len(options.time_keys) <= 16
        self._fast_filters = fast_filters or None
        self._tally_arg = _fastpack.tally(*tally.args) if tally is not None and self._fast else None
        self._fast_args = (
            self._encode(self._fields)[_map_header_length(len(self._fields)):] + self._encode(options.id_key),
            len(self._fields) + 1,
            tuple(key.encode() for key in reserved),
            tuple(key.encode() for key in options.time_keys),
        )

    @property
    def left_out(self) -> int:
        """Records the filters and the throttle have left out so far."""
        return self.filtered + self.throttled

    def pack(self, items: list[Item], start: int, max_records: int, max_bytes: int, now_ns: int
             ) -> tuple[bytes, int]:
        """Entries for ``items[start:]``, up to ``max_records`` of them and until the body
        reaches ``max_bytes``; returns the body and the index of the first item not taken."""
        read_time = _PAIR.pack(*divmod(now_ns, _NS))
        self._read_wire = Ext(0, read_time)
        if self._fast:
            body, end, self._ids.next, filtered, throttled = _fastpack.pack(
                items, start, max_records, max_bytes, *self._fast_args, self._ids.prefix, self._ids.next,
                read_time, self._encoded, self._tally_arg, self.caught, self._fast_filters, self.quota,
                self._access)
        else:
            body, end, filtered, throttled = self._pack_python(items, start, max_records, max_bytes)
        self.filtered += filtered
        self.throttled += throttled
        if self.quota >= 0:
            self.quota -= end - start - filtered - throttled
        return body, end

    def _pack_python(self, items: list[Item], start: int, max_records: int, max_bytes: int
                     ) -> tuple[bytes, int, int, int]:
        """The pure-Python path. JSON objects, the bulk of a log, are built inline here: the same
        steps as ``_encoded`` (which the equivalence tests hold it to), without its calls."""
        body = bytearray()
        decode, encode, fields, id_key = self._decode, self._encode, self._fields, self._options.id_key
        time_of, prefix, number = self._time_of, self._ids.prefix, self._ids.next
        observe = None if self._tally is None else self._tally.observe
        caught, keep, quota = self.caught, self._filter, self.quota
        filtered = throttled = 0
        index, end = start, min(len(items), start + max_records)
        while index < end and (index == start or len(body) < max_bytes):
            item = items[index]
            event_id = f"{prefix}{number}"
            record = None
            if type(item) is bytes and item[:1] == b"{":
                try:
                    record = decode(item)
                except _NOT_JSON:
                    pass
                if record is not None and not within_nesting(item, record):
                    record = None
            entry: bytes | None
            if record is None:
                entry = self._encoded(item, event_id, quota == 0)
            elif keep is not None and (record := keep(record)) is None:
                entry = b""
            elif quota == 0:
                entry = None
            else:
                if observe is not None:
                    observe(record)
                catch = caught is not None and not CAUGHT_KEYS.isdisjoint(record)
                record.update(fields)
                record[id_key] = event_id
                try:
                    entry = encode((time_of(record), record))
                except OverflowError:
                    entry, kept_whole = self._overflowed(item, record, event_id)
                    catch = catch and kept_whole
                if catch:
                    caught.append(entry)  # type: ignore[union-attr]
            if entry is None:
                throttled += 1
            elif not entry:
                filtered += 1
            else:
                body += entry
                quota -= quota > 0
            number += 1
            index += 1
        self._ids.next = number
        return bytes(body), index, filtered, throttled

    def _encoded(self, item: Item, event_id: str, throttled: bool = False) -> bytes | None:
        """One item as a packed entry, b"" when the filters leave it out, None when it is over
        the throttle's quota: the definition of a record, shared by both paths."""
        record = self._record(item)
        if self._filter is not None and (record := self._filter(record)) is None:  # type: ignore[assignment]
            return b""
        if throttled:
            return None
        if self._tally is not None:
            self._tally.observe(record)  # what the app logged, before logwrap's fields, as in C
        catch = self.caught is not None and not CAUGHT_KEYS.isdisjoint(record)
        try:
            entry = self._entry(record, event_id)
        except OverflowError:
            entry, kept_whole = self._overflowed(item, record, event_id)
            catch = catch and kept_whole
        if catch:
            self.caught.append(entry)  # type: ignore[union-attr]
        return entry

    def _overflowed(self, item: Item, record: dict[Any, Any], event_id: str) -> tuple[bytes, bool]:
        """The entry of a record holding an integer beyond 64 bits, and whether it is still the
        record: the line is kept as text, unless filters changed the record (a field removed, a
        secret masked), which the line's text would undo; then the big integers become text."""
        if self._filter is None:
            return self._entry(self._text(item), event_id), False  # type: ignore[arg-type]
        return self._entry(_big_ints_as_text(record), event_id), True

    def _record(self, item: Item) -> dict[Any, Any]:
        if type(item) is bytes:
            record = self._json(item)
            return self._line(item) if record is None else record
        return self._part(item) if isinstance(item, Part) else self._group(item)  # type: ignore[arg-type]

    def _line(self, line: bytes) -> dict[Any, Any]:
        """A line that is not a JSON object: what the first parser that matches makes of it."""
        if self._parse is not None:
            record = self._parse(line.decode("utf-8", "replace"))
            if record is not None:
                return record
        return self._text(line)

    def _text(self, line: bytes) -> dict[Any, Any]:
        return {self._options.message_key: line.decode("utf-8", "replace")}

    def _entry(self, record: dict[Any, Any], event_id: str) -> bytes:
        record.update(self._fields)
        record[self._options.id_key] = event_id
        return self._encode((self._time_of(record), record))

    def _json(self, line: bytes) -> dict[Any, Any] | None:
        if not line.startswith(b"{"):
            return None
        try:
            record = self._decode(line)
        except _NOT_JSON:
            return None
        return record if within_nesting(line, record) else None

    def _time_of(self, record: dict[Any, Any]) -> Ext | int:
        for key in self._options.time_keys:
            value = record.get(key)
            if value is None:
                continue
            ns = self._time.parse(value)
            return to_wire(ns) if ns is not None and 0 <= ns < MAX_NS else self._read_wire
        return self._read_wire

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
        if group.fault:
            return self._error(text, *fatal_error(text))
        if not group.traceback:
            return {self._options.message_key: text}
        return self._error(text, *exception_of(text))

    def _error(self, text: str, error_type: str, error_message: str) -> dict[Any, Any]:
        return {
            self._options.message_key: f"{error_type}: {error_message}" if error_message else error_type,
            "error.type": error_type,
            "error.message": error_message,
            "error.stack_trace": text,
        }


def _big_ints_as_text(value: Any) -> Any:
    """``value`` with the integers msgpack cannot carry (beyond 64 bits) as their decimal text."""
    if type(value) is int:
        return value if -(2**63) <= value < 2**64 else str(value)
    if type(value) is dict:
        return {key: _big_ints_as_text(item) for key, item in value.items()}
    if type(value) is list:
        return [_big_ints_as_text(item) for item in value]
    return value


def _map_header_length(count: int) -> int:
    return 1 if count < 16 else 3 if count < 65536 else 5
