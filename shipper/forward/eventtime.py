"""Event times on the wire.

Inside shipper a time is an ``int`` of nanoseconds since the epoch. On the wire it is an
EventTime (msgpack ext type 0: uint32 seconds + uint32 nanoseconds, big endian) or, for old
peers, integer seconds. Old clients may send float seconds: we decode those, never send them.
"""

from __future__ import annotations

import struct
import time
from typing import Any

import msgspec

from ..errors import LocalProtocolError, RemoteProtocolError

EVENT_TIME_EXT = 0
_PAIR = struct.Struct(">II")
_NS = 1_000_000_000
_UINT32 = 1 << 32
MAX_NS = _UINT32 * _NS  # EventTime's seconds are a uint32: it carries 1970..2106, below this


class EventTime(int):
    """Nanoseconds decoded from an ext-0 value (a distinct type, so it is not read as seconds)."""

    __slots__ = ()


def to_wire(ns: int, integer_seconds: bool = False) -> msgspec.msgpack.Ext | int:
    """The value to put in an entry's time slot for ``ns`` nanoseconds since the epoch."""
    if not 0 <= ns < MAX_NS:
        raise LocalProtocolError(f"time {ns} ns is outside what EventTime can carry (1970..2106)")
    seconds, nanos = divmod(ns, _NS)
    if integer_seconds:
        return seconds
    return msgspec.msgpack.Ext(EVENT_TIME_EXT, _PAIR.pack(seconds, nanos))


def ext_hook(code: int, data: bytes | memoryview) -> object:
    """Decode hook for both msgpack and msgspec: ext 0 becomes an ``EventTime``."""
    if code != EVENT_TIME_EXT:
        return msgspec.msgpack.Ext(code, bytes(data))
    if len(data) != 8:
        raise RemoteProtocolError(f"EventTime must hold 8 bytes, got {len(data)}")
    seconds, nanos = _PAIR.unpack(data)
    return EventTime(seconds * _NS + nanos)


def from_wire(value: object) -> int:
    """Nanoseconds for a decoded time slot: EventTime, int or float seconds, or v1.5 [time, meta].

    Seconds must fit EventTime's uint32 (1970..2106): anything else, NaN and infinities
    included, is a protocol error rather than a time no output could print.
    """
    kind = type(value)
    if kind is EventTime:
        return int(value)  # type: ignore[call-overload]
    if kind is msgspec.msgpack.Ext:
        return ext_hook(value.code, value.data)  # type: ignore[attr-defined,return-value]
    if (kind is int or kind is float) and 0 <= value < _UINT32:  # type: ignore[operator]
        return value * _NS if kind is int else round(value * _NS)  # type: ignore[operator]
    if kind is list and len(value) == 2 and type(value[1]) is dict:  # type: ignore[arg-type,index]
        inner = value[0]  # type: ignore[index]
        if type(inner) is not list:
            return from_wire(inner)  # Forward protocol v1.5: [EventTime, metadata]
    raise RemoteProtocolError(
        f"an event time must be EventTime or seconds within 1970..2106, got {value!r:.60}"
    )


def times_from_wire(entries: list[tuple[object, dict[Any, Any]]]) -> list[tuple[int, dict[Any, Any]]]:
    """``from_wire`` over a batch; equal EventTime payloads (common in a chunk) decode once."""
    seen: dict[bytes, int] = {}
    out = []
    for index, (value, record) in enumerate(entries):
        try:
            if type(value) is msgspec.msgpack.Ext and value.code == EVENT_TIME_EXT:
                payload = bytes(value.data)
                ns = seen.get(payload)
                if ns is None:
                    ns = seen[payload] = from_wire(value)
            else:
                ns = from_wire(value)
        except RemoteProtocolError as exc:
            raise RemoteProtocolError(f"entry {index}: {exc}") from None
        out.append((ns, record))
    return out


class Rfc3339:
    """Formats nanosecond times as RFC 3339 UTC with 9 digits, caching the seconds part."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, ns: int) -> str:
        second, nanos = divmod(ns, 1_000_000_000)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{nanos:09d}Z"
