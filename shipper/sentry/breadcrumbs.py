"""The child's last records, kept cheaply while it runs, as Sentry breadcrumbs once it crashes (sans-I/O).

While the child runs, ``Recent.add`` keeps references to the newest items of each block it
read (lines, groups, parts) and when they were read: no record is decoded and nothing is
copied. Only if it crashes are they read, by ``breadcrumb``, and merged across its streams.
At most ``keep`` items are held per stream, so memory is bounded by ``keep`` times the
longest line (``--max-line-bytes``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

import msgspec

from ..fieldpath import first
from ..wrap.framing import Part
from ..wrap.multiline import Group, Item
from .event import MESSAGE_FIELDS, sentry_level
from .stacktrace import fatal_error, final_exception

MAX_MESSAGE = 1000  # characters of a breadcrumb's message
_decode = msgspec.json.Decoder(dict).decode


class Recent:
    """One stream's last ``keep`` items, with the time each was read."""

    def __init__(self, stream: str, keep: int) -> None:
        self.stream = stream
        self.keep = keep
        self._items: deque[Item] = deque(maxlen=keep)
        self._blocks: deque[tuple[int, int]] = deque(maxlen=keep)  # (read at, items) per block

    def add(self, items: Sequence[Item], now_ns: int) -> None:
        """The items of one read: on the per-line path, so only references are kept."""
        if items:
            self._items.extend(items[-self.keep:])
            self._blocks.append((now_ns, len(items)))

    def timed(self) -> list[tuple[int, str, Item]]:
        """The items kept, oldest first, each with when it was read and its stream."""
        times: list[int] = []
        for read_at, count in reversed(self._blocks):
            times.extend([read_at] * count)
            if len(times) >= len(self._items):
                break
        times = times[:len(self._items)][::-1]
        return [(read_at, self.stream, item) for read_at, item in zip(times, self._items, strict=True)]


def breadcrumbs(streams: Iterable[Recent], keep: int) -> list[dict[str, Any]]:
    """The last ``keep`` items of all streams, in the order they were read, as breadcrumbs."""
    timed = sorted((entry for recent in streams for entry in recent.timed()), key=lambda entry: entry[0])
    return [breadcrumb(item, stream, read_at) for read_at, stream, item in timed[-keep:]] if keep else []


def breadcrumb(item: Item, stream: str, read_ns: int) -> dict[str, Any]:
    """One item as a breadcrumb: when it was read, its level, its message and its stream."""
    level, message = _read(item)
    return {
        "timestamp": datetime.fromtimestamp(read_ns / 1e9, tz=timezone.utc),
        "type": "default",
        "category": stream,
        "level": level,
        "message": message[:MAX_MESSAGE],
        "data": {"stream": stream},
    }


def _read(item: Item) -> tuple[str, str]:
    if isinstance(item, Group):
        return _group(item)
    if isinstance(item, Part):
        return "info", item.data.decode("utf-8", "replace")
    return _line(item)


def _line(line: bytes) -> tuple[str, str]:
    text = line.decode("utf-8", "replace")
    if not line.startswith(b"{"):
        return "info", text
    try:
        record = _decode(line)
    except (msgspec.DecodeError, RecursionError):
        return "info", text
    message = first(record, MESSAGE_FIELDS)
    return sentry_level(record, "info"), message if isinstance(message, str) else text


def _group(group: Group) -> tuple[str, str]:
    if group.fault:
        return "fatal", fatal_error(group.lines)[1]
    if not group.traceback:
        return "info", b"\n".join(group.lines).decode("utf-8", "replace")
    name, message = final_exception(group.lines)
    return "error", f"{name}: {message}" if message else name
