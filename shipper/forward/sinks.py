"""Where ``shipper receive`` puts events: JSON lines, a pretty view, counters, or memory.

A sink's ``flush`` returns only once the events written so far are handed to the OS (or, in
memory, visible to readers): the receiver acks a chunk only after that.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, NamedTuple, Protocol, TypeVar

import msgspec

from ..render import Renderer
from .eventtime import Rfc3339
from .nesting import too_deep_note
from .protocol import EventBatch


class Sink(Protocol):
    wants_records: bool  # False: the receiver may only count entries, not build records

    def write(self, batch: EventBatch) -> None: ...

    def flush(self) -> None: ...


class Event(NamedTuple):
    tag: str
    time: int  # nanoseconds since the epoch
    record: dict[Any, Any]


def _fallback(value: object) -> object:
    """Values JSON cannot carry (other msgpack ext types) are shown, not dropped."""
    if isinstance(value, msgspec.msgpack.Ext):
        return {"ext": value.code, "data": bytes(value.data).hex()}
    return repr(value)


def printable(value: Any) -> Any:
    """``value`` with msgpack ``bin`` shown as text, as Fluentd's own outputs show it.

    Fluentd sends the strings it read from files as ``bin``; printed as base64 they would be
    unreadable. Dicts are changed in place (the receiver owns its records).
    """
    kind = type(value)
    if kind is dict:
        if any(type(key) is bytes for key in value):
            return {printable(key): printable(item) for key, item in value.items()}
        for key, item in value.items():
            if type(item) in _CONTAINERS_AND_BYTES:
                value[key] = printable(item)
        return value
    if kind is list:
        return [printable(item) for item in value]
    if kind is bytes:
        return value.decode("utf-8", "replace")
    return value


_CONTAINERS_AND_BYTES = (dict, list, bytes)


def without_surrogates(value: Any) -> Any:
    """``value`` with strings that hold undecodable bytes (kept as surrogates) repaired."""
    kind = type(value)
    if kind is str:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if kind is dict:
        return {without_surrogates(k): without_surrogates(v) for k, v in value.items()}
    if kind is list:
        return [without_surrogates(item) for item in value]
    return value


def json_line(encode: Callable[[Any], bytes], value: Any) -> bytes:
    try:
        return encode(value)
    except UnicodeEncodeError:  # a peer sent invalid UTF-8 in a str: show it replaced
        return encode(without_surrogates(value))


T = TypeVar("T")


def shallow_enough(line: Callable[[str, int, dict[Any, Any]], T], batch: EventBatch) -> list[T]:
    """``line(tag, time, record)`` for each entry; a record nested too deep to print (another
    sender's: logwrap keeps to ``MAX_NESTING``) becomes the decoder's note instead of failing the
    whole batch, which would never be acked."""
    tag = batch.tag
    try:
        return [line(tag, t, r) for t, r in batch.entries]
    except RecursionError:
        return [_line_or_note(line, tag, t, r) for t, r in batch.entries]


def _line_or_note(line: Callable[[str, int, dict[Any, Any]], T], tag: str, ns: int,
                  record: dict[Any, Any]) -> T:
    try:
        return line(tag, ns, record)
    except RecursionError:
        try:
            packed: bytes | None = msgspec.msgpack.encode(record)
        except RecursionError:
            packed = None
        return line(tag, ns, too_deep_note(packed))


class JsonLinesSink:
    """One ``{"tag":…,"time":…,"record":…}`` line per event."""

    wants_records = True

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._encode = msgspec.json.Encoder(enc_hook=_fallback).encode
        self._time = Rfc3339()

    def write(self, batch: EventBatch) -> None:
        lines = shallow_enough(self._line, batch)
        lines.append(b"")
        self._stream.write(b"\n".join(lines))

    def _line(self, tag: str, ns: int, record: dict[Any, Any]) -> bytes:
        return json_line(self._encode, {"tag": tag, "time": self._time(ns), "record": printable(record)})

    def flush(self) -> None:
        self._stream.flush()


class PrettySink:
    """For people: each event through the one renderer (``shipper.render``)."""

    wants_records = True

    def __init__(self, stream: BinaryIO, colour: bool, verbose: bool = False) -> None:
        self._stream = stream
        self._renderer = Renderer(colour, verbose)

    def write(self, batch: EventBatch) -> None:
        text = "".join(shallow_enough(self._line, batch))
        self._stream.write(text.encode("utf-8", "replace"))

    def _line(self, tag: str, ns: int, record: dict[Any, Any]) -> str:
        return self._renderer.render(without_surrogates(printable(record)), ns, tag) + "\n"

    def flush(self) -> None:
        self._stream.flush()


@dataclass
class CountSink:
    """Running totals only: cheap enough never to be the bottleneck of a benchmark."""

    events: int = 0
    batches: int = 0
    wants_records = False

    def write(self, batch: EventBatch) -> None:
        self.events += batch.count
        self.batches += 1

    def flush(self) -> None:
        pass


class MemorySink:
    """Keeps events in a list, thread-safely, for tests and the pytest plugin."""

    wants_records = True

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.cond = threading.Condition()
        self._staged: list[Event] = []

    def write(self, batch: EventBatch) -> None:
        self._staged.extend(Event(batch.tag, t, r) for t, r in batch.entries)

    def flush(self) -> None:
        with self.cond:
            self.events.extend(self._staged)
            self._staged.clear()
            self.cond.notify_all()
