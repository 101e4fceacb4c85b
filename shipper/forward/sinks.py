"""Where ``shipper receive`` puts events: JSON lines, a pretty view, counters, or memory.

A sink's ``flush`` returns only once the events written so far are handed to the OS (or, in
memory, visible to readers): the receiver acks a chunk only after that.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, BinaryIO, NamedTuple, Protocol

import msgspec

from .protocol import EventBatch


class Sink(Protocol):
    wants_records: bool  # False: the receiver may only count entries, not build records

    def write(self, batch: EventBatch) -> None: ...

    def flush(self) -> None: ...


class Event(NamedTuple):
    tag: str
    time: int  # nanoseconds since the epoch
    record: dict[Any, Any]


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


def _fallback(value: object) -> object:
    """Values JSON cannot carry (msgpack ext types) are shown, not dropped."""
    return repr(value)


class JsonLinesSink:
    """One ``{"tag":…,"time":…,"record":…}`` line per event."""

    wants_records = True

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._encode = msgspec.json.Encoder(enc_hook=_fallback).encode
        self._time = Rfc3339()

    def write(self, batch: EventBatch) -> None:
        encode, stamp, tag = self._encode, self._time, batch.tag
        lines = [encode({"tag": tag, "time": stamp(t), "record": r}) for t, r in batch.entries]
        lines.append(b"")
        self._stream.write(b"\n".join(lines))

    def flush(self) -> None:
        self._stream.flush()


_COLOURS = {"time": "\x1b[2m", "tag": "\x1b[36m", "key": "\x1b[33m", "reset": "\x1b[0m"}


class PrettySink:
    """For people: time, tag, message, then the other fields; coloured on a terminal."""

    wants_records = True

    def __init__(self, stream: BinaryIO, colour: bool) -> None:
        self._stream = stream
        self._c = _COLOURS if colour else dict.fromkeys(_COLOURS, "")
        self._time = Rfc3339()
        self._json = msgspec.json.Encoder(enc_hook=_fallback).encode

    def write(self, batch: EventBatch) -> None:
        text = "".join(self._line(batch.tag, t, r) for t, r in batch.entries)
        self._stream.write(text.encode("utf-8", "replace"))

    def _line(self, tag: str, ns: int, record: dict[Any, Any]) -> str:
        c = self._c
        fields = dict(record)
        message = fields.pop("message", "")
        trace = fields.pop("error.stack_trace", None)
        rest = " ".join(
            f"{c['key']}{k}{c['reset']}={self._json(v).decode()}" for k, v in fields.items()
        )
        head = f"{c['time']}{self._time(ns)}{c['reset']} {c['tag']}{tag}{c['reset']}"
        line = f"{head} {message} {rest}".rstrip() + "\n"
        if isinstance(trace, str):  # a traceback reads best as itself, indented under its event
            line += "".join(f"    {trace_line}\n" for trace_line in trace.splitlines())
        return line

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
