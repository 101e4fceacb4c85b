"""What settles a chunk in flight on one connection: the peer's ack, or the peer having read it.

Sans-I/O: the client reports what it sees (an ack arrived; the peer has read every byte
written so far) with the time, and this decides. The rules:

- Acks requested: a chunk is settled by its ack, and at-least-once holds.
- On a Unix socket the client can also see what the peer has read (the kernel frees our
  bytes only once the peer's ``read`` took them). Fluentd's ``in_unix`` reads chunks and never
  acks. So a peer that has read everything in flight and acked nothing on this connection
  for ``grace`` seconds is taken not to ack: from then on, on this connection, a chunk is
  settled once the peer has read it. The caller warns once, naming the remedy. An ack that
  still arrives proves the peer acks after all, and acks settle chunks again.
- Acks not requested: a chunk is settled once the peer has read it where that can be seen
  (Unix sockets), else once it is written.

Why not wait for the ack timeout: it is there for a peer that stalls (15 s by default), and
a short-lived app would exit before it fired, leaving every record undelivered on stderr
although the peer stored them all. Reading is observable at once and ``grace`` is short,
because a local peer that acks does so within milliseconds of reading a chunk.
"""

from __future__ import annotations

from enum import Enum

NOACK_GRACE = 1.0  # seconds a Unix-socket peer may hold read chunks without acking any
LOOK_GAP = 0.25  # a longer pause between two looks (a busy machine) starts the grace again


def unacked_note(records: int) -> str:
    """The summary's note on records counted delivered without the ack that was asked for."""
    return f" ({records} of them read by a server that does not ack)" if records else ""


class Verdict(Enum):
    WAIT = "wait"  # nothing settles yet
    SETTLE = "settle"  # every chunk written so far is settled
    SETTLE_NO_ACKS = "settle, and the peer was just found not to ack"


class Settlement:
    """One connection's rule for settling chunks (see the module's docstring)."""

    def __init__(self, acks: bool, sees_reads: bool, grace: float = NOACK_GRACE,
                 peer_acks: bool | None = None) -> None:
        self.acks = acks
        self.sees_reads = sees_reads
        self.grace = grace
        self.peer_acks = peer_acks  # None: not known yet (a peer that acked before is known to)
        self._read_since: float | None = None
        self._last_look = 0.0

    @property
    def watches_reads(self) -> bool:
        """Whether the client should look at what the peer has read."""
        return self.sees_reads and self.peer_acks is not True

    def acked(self) -> None:
        self.peer_acks = True
        self._read_since = None

    def all_read(self, now: float) -> Verdict:
        """The peer has read every byte of the chunks in flight."""
        if not self.acks or self.peer_acks is False:
            return Verdict.SETTLE
        if self.peer_acks:
            return Verdict.WAIT
        if self._read_since is None or now - self._last_look > LOOK_GAP:
            self._read_since = now  # the grace counts only time the client was looking
        self._last_look = now
        if now - self._read_since < self.grace:
            return Verdict.WAIT
        self.peer_acks = False
        return Verdict.SETTLE_NO_ACKS
