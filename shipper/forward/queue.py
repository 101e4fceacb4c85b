"""The bounded queue of sealed chunks between batching and the clients that deliver them.

Bytes are counted from ``put`` until the chunk is settled (acked or failed), so chunks in
flight count against the bound too. When a chunk does not fit, the overflow policy decides:
``drop-oldest`` drops queued chunks from the front, ``drop-newest`` drops the new one, and
``block`` accepts it, since the caller waits for ``has_room`` before reading more input.
Every dropped record is counted.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterator

from ..errors import ConfigError, DroppedError
from .batcher import Chunk

POLICIES = ("drop-oldest", "drop-newest", "block")


class ChunkQueue:
    def __init__(
        self,
        max_bytes: int | None = None,
        on_full: str = "block",
        on_settled: Callable[[Chunk, Exception | None], None] = lambda chunk, error: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if on_full not in POLICIES:
            raise ConfigError(f"overflow policy {on_full!r}: choose one of {', '.join(POLICIES)}")
        self.max_bytes = max_bytes
        self.on_full = on_full
        self.bytes = 0
        self.records = 0  # like bytes: queued or in flight, until settled
        self.dropped_records = 0
        self._on_settled = on_settled
        self._clock = clock
        self.busy_since = 0.0  # when the queue last stopped being idle
        self._chunks: deque[Chunk] = deque()
        self.nonempty = asyncio.Event()
        self.room = asyncio.Event()
        self.room.set()
        self.idle = asyncio.Event()  # nothing queued or in flight
        self.idle.set()

    def __len__(self) -> int:
        return len(self._chunks)

    def __iter__(self) -> Iterator[Chunk]:
        return iter(self._chunks)

    def has_room(self, size: int = 0) -> bool:
        return self.max_bytes is None or self.bytes + size <= self.max_bytes

    def put(self, chunk: Chunk) -> list[Chunk]:
        """Queue ``chunk``; returns the chunks the overflow policy dropped to make room."""
        size = len(chunk.payload)
        dropped: list[Chunk] = []
        if self.on_full == "drop-oldest":
            while not self.has_room(size) and self._chunks:
                oldest = self._chunks.popleft()
                self.bytes -= len(oldest.payload)
                self.records -= oldest.count
                dropped.append(oldest)
        if self.on_full == "block" or self.has_room(size):
            if self.bytes == 0:
                self.busy_since = self._clock()
            self._chunks.append(chunk)
            self.bytes += size
            self.records += chunk.count
            self.nonempty.set()
        else:
            dropped.append(chunk)
        for lost in dropped:
            self.dropped_records += lost.count
            self._on_settled(lost, DroppedError(f"dropped: buffer full ({self.on_full})", lost.count))
        self._update_room()
        return dropped

    def take(self) -> Chunk | None:
        """The next chunk to send; its bytes stay counted until it is settled."""
        if not self._chunks:
            self.nonempty.clear()
            return None
        return self._chunks.popleft()

    def give_back(self, chunks: list[Chunk]) -> None:
        """Return unacknowledged chunks to the front, keeping their order."""
        self._chunks.extendleft(reversed(chunks))
        if self._chunks:
            self.nonempty.set()

    def settle(self, chunk: Chunk, error: Exception | None = None) -> None:
        """A chunk taken from the queue was delivered (``error`` None) or given up."""
        self.bytes -= len(chunk.payload)
        self.records -= chunk.count
        self._on_settled(chunk, error)  # first: it may queue more (logwrap's drop notice)
        self._update_room()

    def fail_waiting(self, error: Callable[[Chunk], Exception]) -> None:
        """Give up every queued chunk, with ``error(chunk)`` as the reason."""
        while self._chunks:
            chunk = self._chunks.popleft()
            self.settle(chunk, error(chunk))

    def _update_room(self) -> None:
        if self.bytes == 0:
            self.idle.set()
        else:
            self.idle.clear()
        if self.has_room():
            self.room.set()
        else:
            self.room.clear()
