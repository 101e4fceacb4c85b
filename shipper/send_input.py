"""Records from ``shipper send``'s input, sans-I/O: bytes in, ``(time, record)`` entries out.

Three formats, as fluent-cat and Fluent Bit's stdin input offer: ``json`` (one object per
line), ``text`` (each line becomes ``{message_key: line}``) and ``msgpack`` (a stream of maps).
With ``parse`` (``--parse``), a text line, or a JSON line that is not an object, becomes what
the first parser that matches makes of it. A JSON line that is not an object, and that no
parser matches, is wrapped as text with a warning naming its line number; with ``strict`` the
reader stops there instead, keeping every entry before the bad line.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import repeat
from typing import Any

import msgpack
import msgspec

from .errors import DataError, LocalProtocolError
from .forward.eventtime import ext_hook, to_wire
from .timeparse import parse_time
from .wrap.framing import Line, LineFramer, Part

MAX_WARNINGS = 100
Entry = tuple[object, dict[Any, Any]]


class InputReader:
    """Shared parts: the time key, warnings and the strict stop."""

    def __init__(
        self,
        message_key: str = "message",
        time_key: str | tuple[str, ...] | None = None,
        strict: bool = False,
        integer_time: bool = False,
        parse: Callable[[str], dict[str, Any] | None] | None = None,
    ) -> None:
        self.message_key = message_key
        self.parse = parse
        # the first of these a record has holds its time (--parse: those logwrap reads)
        self.time_keys = (time_key,) if isinstance(time_key, str) else time_key or ()
        self.strict = strict
        self.integer_time = integer_time
        self.warnings: list[str] = []
        self.warned = 0
        self.wrapped = 0
        self.stopped: DataError | None = None

    def feed(self, data: bytes, now_ns: int) -> list[Entry]:
        """Entries completed by ``data``; ``b""`` means end of input."""
        if self.stopped is not None:
            return []
        records = self._records(data)
        wire_now = to_wire(now_ns, self.integer_time)
        if not self.time_keys:
            return list(zip(repeat(wire_now), records))
        return [(self._time_of(record, wire_now), record) for record in records]

    def _records(self, data: bytes) -> list[dict[Any, Any]]:
        raise NotImplementedError

    def _time_of(self, record: dict[Any, Any], default: object) -> object:
        key = next((key for key in self.time_keys if key in record), None)
        if key is None:
            return default
        ns = parse_time(record[key])
        try:
            if ns is not None:
                return to_wire(ns, self.integer_time)
        except LocalProtocolError:
            pass  # outside 1970..2106: Forward cannot carry it
        self._warn(f"{key}={record[key]!r:.40} is not a time Forward can carry; using the time it was read")
        return default

    def _bad(self, where: str, problem: str, value: object) -> dict[Any, Any] | None:
        """Wrap a bad item as text with a warning, or stop when strict."""
        if self.strict:
            self.stopped = DataError(f"{where}: {problem} (stopped by --strict)")
            return None
        self.wrapped += 1
        self._warn(f"{where}: {problem}; sent as text in {self.message_key!r}")
        return {self.message_key: value}

    def _warn(self, message: str) -> None:
        self.warned += 1
        if self.warned <= MAX_WARNINGS:
            self.warnings.append(message)


class JsonLinesReader(InputReader):
    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._framer = LineFramer()
        self._decode_object = msgspec.json.Decoder(dict).decode
        self._decode_any = msgspec.json.Decoder().decode
        self.line_number = 0

    def _records(self, data: bytes) -> list[dict[Any, Any]]:
        lines = self._framer.feed(data) if data else self._framer.end()
        first = self.line_number + 1
        self.line_number += len(lines)
        try:  # the fast path: every line of the block is an object
            return list(map(self._decode_object, lines))  # type: ignore[arg-type]
        except (msgspec.DecodeError, TypeError):  # TypeError: a Part of an over-long line
            return self._one_by_one(lines, first)

    def _one_by_one(self, lines: list[Line], first: int) -> list[dict[Any, Any]]:
        records = []
        for number, line in enumerate(lines, first):
            record = self._parse(line, number)
            if self.stopped is not None:
                self.line_number = number
                break
            if record is not None:
                records.append(record)
        return records

    def _parse(self, line: Line, number: int) -> dict[Any, Any] | None:
        if isinstance(line, Part):
            return self._bad(f"line {number}", "longer than the line limit, cut in parts", _text(line.data))
        try:
            value = self._decode_any(line)
        except msgspec.DecodeError as exc:
            if not line.strip():
                return None  # blank lines carry nothing
            return self._parsed(line) or self._bad(f"line {number}", f"not valid JSON ({exc})", _text(line))
        if type(value) is not dict:
            return self._parsed(line) or self._bad(
                f"line {number}", f"JSON {type(value).__name__}, not an object", _text(line))
        return value

    def _parsed(self, line: bytes) -> dict[str, Any] | None:
        return None if self.parse is None else self.parse(_text(line))


class TextReader(InputReader):
    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._framer = LineFramer()

    def _records(self, data: bytes) -> list[dict[Any, Any]]:
        lines = self._framer.feed(data) if data else self._framer.end()
        key, parse = self.message_key, self.parse
        texts = [_text(line.data if isinstance(line, Part) else line) for line in lines if line]
        if parse is None:
            return [{key: text} for text in texts]
        return [parse(text) or {key: text} for text in texts]


class MsgpackReader(InputReader):
    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._unpacker = msgpack.Unpacker(raw=False, unicode_errors="replace",
                                          strict_map_key=False, ext_hook=ext_hook)
        self.object_number = 0
        self._fed = 0
        self._consumed = 0  # Unpacker.tell() is exact only right after a whole object

    def _records(self, data: bytes) -> list[dict[Any, Any]]:
        if not data:
            return self._end()
        self._unpacker.feed(data)
        self._fed += len(data)
        records = []
        try:
            for item in self._unpacker:
                self.object_number += 1
                record = item if type(item) is dict else self._bad(
                    f"object {self.object_number}", f"{type(item).__name__}, not a map", item)
                if record is None:
                    break
                records.append(record)
                self._consumed = self._unpacker.tell()
        except Exception as exc:  # msgpack raises many types; all mean the stream is corrupt
            problem = f"{type(exc).__name__} {exc}".strip()
            self.stopped = DataError(f"byte {self._consumed}: invalid msgpack ({problem})")
        return records

    def _end(self) -> list[dict[Any, Any]]:
        if self._fed > self._consumed:
            self.stopped = DataError(f"byte {self._consumed}: input ends inside an object")
        return []


def _text(line: bytes) -> str:
    return line.decode("utf-8", "replace")


READERS = {"json": JsonLinesReader, "text": TextReader, "msgpack": MsgpackReader}
