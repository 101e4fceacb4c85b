"""Batching events into PackedForward chunks by count, bytes and age (sans-I/O).

The caller passes ``now`` (a monotonic clock reading) so the batcher owns no clock. A chunk
is sealed once: its id and bytes never change, so a resend is byte-identical and a receiver
or an Elasticsearch output can recognise it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..errors import ConfigError
from .protocol import (
    encode_forward,
    encode_messages,
    encode_packed_forward,
    new_chunk_id,
    pack_entries,
)

MODES = ("packed", "forward", "message")


def check_mode(mode: str, gzip: bool) -> None:
    if mode not in MODES:
        raise ConfigError(f"mode {mode!r}: choose one of {', '.join(MODES)}")
    if gzip and mode != "packed":
        raise ConfigError("gzip compression exists only in packed mode (CompressedPackedForward)")


@dataclass(slots=True)
class Chunk:
    """One sealed PackedForward message and what the client needs to deliver it."""

    tag: str
    payload: bytes
    count: int
    id: str | None  # None when acks are off: the message carries no chunk option
    attempts: int = field(default=0, compare=False)  # times sent
    failures: int = field(default=0, compare=False)  # failed sessions while it waited
    unacked: bool = field(default=False, compare=False)  # settled by the peer's read, acks requested
    born: float = field(default=0.0, compare=False)  # monotonic time its first record was added


@dataclass(frozen=True)
class BatchLimits:
    max_records: int = 4096
    max_bytes: int = 1024 * 1024
    interval: float = 1.0  # seconds a record may wait for its batch to fill


class Batcher:
    """Collects ``(time, record)`` entries of one tag and seals them into chunks."""

    def __init__(
        self, tag: str, limits: BatchLimits, ack: bool = True, gzip: bool = False, mode: str = "packed"
    ) -> None:
        check_mode(mode, gzip)
        self.tag = tag
        self._mode = mode
        self._limits = limits
        self._ack = ack
        self._gzip = gzip
        self._entries: list[tuple[object, object]] = []
        self._bytes = 0
        self._started = 0.0

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, entry: tuple[object, object], size: int, now: float) -> Chunk | None:
        """Add an entry of about ``size`` bytes; returns a chunk when a limit is reached."""
        if not self._entries:
            self._started = now
        self._entries.append(entry)
        self._bytes += size
        if len(self._entries) >= self._limits.max_records or self._bytes >= self._limits.max_bytes:
            return self.seal()
        return None

    def deadline(self) -> float | None:
        """When the pending entries must be sealed, or None when there are none."""
        return self._started + self._limits.interval if self._entries else None

    def seal(self) -> Chunk | None:
        """Seal whatever is pending into a chunk (None when nothing is)."""
        if not self._entries:
            return None
        entries, self._entries, self._bytes = self._entries, [], 0
        chunk_id = new_chunk_id() if self._ack else None
        return Chunk(self.tag, self._encode(entries, chunk_id), len(entries), chunk_id)

    def _encode(self, entries: list[tuple[object, object]], chunk_id: str | None) -> bytes:
        if self._mode == "forward":
            return encode_forward(self.tag, entries, chunk_id)
        if self._mode == "message":
            return encode_messages(self.tag, entries, chunk_id)
        return encode_packed_forward(self.tag, pack_entries(entries), len(entries), chunk_id, self._gzip)

    def add_many(self, entries: Sequence[tuple[object, object]], size: int, now: float) -> list[Chunk]:
        """Add entries totalling about ``size`` bytes; returns the chunks that filled up."""
        chunks: list[Chunk] = []
        per_entry = max(size / len(entries), 1.0) if entries else 1.0
        start = 0
        while start < len(entries):
            if not self._entries:
                self._started = now
            room = min(
                self._limits.max_records - len(self._entries),
                int((self._limits.max_bytes - self._bytes) / per_entry) + 1,
            )
            taken = entries[start : start + max(room, 1)]
            self._entries.extend(taken)
            self._bytes += int(len(taken) * per_entry)
            start += len(taken)
            if len(self._entries) >= self._limits.max_records or self._bytes >= self._limits.max_bytes:
                chunks.append(self.seal())  # type: ignore[arg-type]
        return chunks


class PackedBatcher:
    """Collects bodies of packed entries of one tag and seals them into PackedForward chunks.

    For callers that pack entries themselves (logwrap's records): ``room`` says how many
    records and bytes the pending chunk still takes, so that a body never overshoots it by
    more than one entry.
    """

    def __init__(self, tag: str, limits: BatchLimits, ack: bool = True, gzip: bool = False) -> None:
        self.tag = tag
        self._limits = limits
        self._ack = ack
        self._gzip = gzip
        self._bodies: list[bytes] = []
        self._count = 0
        self._bytes = 0
        self._started = 0.0

    def room(self) -> tuple[int, int]:
        """Records and bytes the pending chunk takes before it is full (at least one record)."""
        return max(self._limits.max_records - self._count, 1), self._limits.max_bytes - self._bytes

    def add(self, body: bytes, count: int, now: float) -> Chunk | None:
        """Add ``count`` packed entries; returns a chunk when a limit is reached."""
        if not self._count:
            self._started = now
        self._bodies.append(body)
        self._count += count
        self._bytes += len(body)
        if self._count >= self._limits.max_records or self._bytes >= self._limits.max_bytes:
            return self.seal()
        return None

    @property
    def pending(self) -> int:
        """Records added and not yet sealed."""
        return self._count

    def deadline(self) -> float | None:
        """When the pending entries must be sealed, or None when there are none."""
        return self._started + self._limits.interval if self._count else None

    def seal(self) -> Chunk | None:
        """Seal whatever is pending into a chunk (None when nothing is)."""
        if not self._count:
            return None
        body = self._bodies[0] if len(self._bodies) == 1 else b"".join(self._bodies)
        count, self._bodies, self._count, self._bytes = self._count, [], 0, 0
        chunk_id = new_chunk_id() if self._ack else None
        payload = encode_packed_forward(self.tag, body, count, chunk_id, self._gzip)
        return Chunk(self.tag, payload, count, chunk_id, born=self._started)
