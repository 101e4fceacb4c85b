"""Delivering chunks from a shared queue to one Forward server: connect, handshake,
pipeline, acks, resend.

Why asyncio: one thread serves every server's writer and reader and the caller's own work
(logwrap's pipes, ``shipper send``'s input) without locks, and a slow or dead peer only ever
parks a coroutine, never the code that drains the child's pipes.

Delivery is at-least-once: a chunk stays in flight until its ``{"ack": id}`` arrives; when the
connection fails, in-flight chunks go back to the front of the shared queue, in order, where
this client (after a ``backoff`` delay) or a healthier one takes them again, byte-identical.
On a Unix socket the client also sees what the peer has read, and a peer that reads chunks
but never acks (Fluentd's in_unix) is found within a second: one warning names the remedy,
and chunks are settled once read (``settlement``). Over TCP and TLS, where reads cannot be
seen, a peer that has never acked anything gets one warning at the ack timeout telling the
user to turn acks off, and the chunks it swallowed fail instead of being resent forever.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from asyncio import StreamReader, StreamWriter
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

from ..errors import (
    AckTimeoutError,
    DeliveryError,
    ProtocolError,
    RemoteProtocolError,
    SendError,
    TransportError,
)
from .address import Address
from .backoff import backoff
from .batcher import Chunk
from .handshake import ClientHandshake
from .protocol import DEFAULT_MAX_FRAME_BYTES, Framer, acks_in
from .queue import ChunkQueue
from .settlement import NOACK_GRACE, Settlement, Verdict
from .transport import (
    TlsOptions,
    client_context,
    close_stream,
    open_stream,
    read_some,
    unread_bytes,
    write_all,
)

READ_POLL = 0.02  # seconds between looks at what a Unix-socket peer has read


@dataclass(frozen=True)
class Security:
    """Fluentd ``<security>``: the shared key, our hostname, and optional user credentials."""

    shared_key: str
    hostname: str = socket.gethostname()
    username: str = ""
    password: str = ""


@dataclass(frozen=True)
class ClientOptions:
    ack: bool = True
    connect_timeout: float = 5.0
    write_timeout: float = 10.0
    ack_timeout: float = 15.0
    window: int = 8  # chunks in flight before waiting for acks
    retry_limit: int | None = None  # failed attempts before waiting chunks fail; None: no limit
    tls: TlsOptions | None = None
    security: Security | None = None
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES


@dataclass
class ClientStats:
    chunks_sent: int = 0
    chunks_delivered: int = 0
    records_delivered: int = 0
    retries: int = 0
    connects: int = 0
    bytes_sent: int = 0  # of chunks, resends included


class ForwardClient:
    """Takes chunks from ``queue`` and delivers them to the server at ``address``."""

    def __init__(
        self,
        address: Address,
        queue: ChunkQueue,
        options: ClientOptions = ClientOptions(),
        *,
        delays: Callable[[], Iterator[float]] = backoff,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        warn: Callable[[str], None] = lambda message: None,
        on_failure: Callable[[Exception], None] = lambda error: None,
    ) -> None:
        self.address = address
        self.options = options
        self.stats = ClientStats()
        self.failures = 0  # consecutive failed attempts; reset by any delivery
        self._queue = queue
        self._delays = delays
        self._sleep = sleep
        self._clock = clock
        self._warn = warn
        self._on_failure_hook = on_failure
        self._tls = client_context(options.tls) if options.tls else None
        self._inflight: OrderedDict[int, tuple[Chunk, float]] = OrderedDict()
        self._by_id: dict[str, Chunk] = {}
        self._acked = asyncio.Event()
        self._launched = asyncio.Event()  # a chunk went out: the read watch has something to see
        self._ever_acked = False
        self._settlement = Settlement(options.ack, sees_reads=False)
        self._warned_no_acks = False
        self._progress = False  # something was delivered in the current session
        self.disabled = False  # the server swallows chunks and never acks: stop using it
        self.connected = False  # a session is open: handshake done, chunks can go
        self._outage: str | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"forward {self.address}")

    async def stop(self, timeout: float = 2.0) -> None:
        """Stop within ``timeout`` seconds; chunks in flight go back to the queue.

        The wait is bounded because a cancellation can be lost inside ``asyncio.wait_for`` on
        Python < 3.12 when the awaited call finishes at the same moment: a stuck task must
        not keep a process from exiting.
        """
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task], timeout=timeout)
            self._task = None
        self._queue.give_back(self._take_inflight())

    async def _run(self) -> None:
        delays = self._delays()
        while not self.disabled:
            await self._queue.nonempty.wait()
            self._progress = False
            try:
                await self._session()
            except (TransportError, ProtocolError) as exc:
                self._on_failure(exc)
            except Exception as exc:  # a bug must not silently stop delivery and hang callers
                self._on_failure(SendError(f"{self.address}: internal error: {exc!r}"))
            else:
                delays = self._delays()
                continue
            if self._progress:
                delays = self._delays()  # the outage is new: start again from the shortest delay
            await self._sleep(next(delays))

    async def _session(self) -> None:
        reader, writer = await open_stream(self.address, self.options.connect_timeout, self._tls)
        self.stats.connects += 1
        grace = min(NOACK_GRACE, self.options.ack_timeout)
        self._settlement = Settlement(self.options.ack, unread_bytes(writer) is not None, grace,
                                      peer_acks=True if self._ever_acked else None)
        try:
            framer = Framer(self.options.max_frame_bytes)
            keepalive = await self._handshake(reader, writer, framer)
            self._recovered()
            self.connected = True
            await self._pump(reader, writer, framer, keepalive)
        finally:
            self.connected = False
            await close_stream(writer)
        self._queue.give_back(self._take_inflight())

    async def _handshake(self, reader: StreamReader, writer: StreamWriter, framer: Framer) -> bool:
        security = self.options.security
        if security is None:
            return True
        shake = ClientHandshake(security.shared_key, security.hostname, uuid.uuid4().hex,
                                security.username, security.password)
        timeout = self.options.connect_timeout
        ping = shake.ping(await self._next_message(reader, framer, timeout))
        await write_all(writer, ping, self.options.write_timeout, self.address)
        shake.check_pong(await self._next_message(reader, framer, timeout))
        return shake.keepalive

    async def _next_message(self, reader: StreamReader, framer: Framer, timeout: float) -> object:
        deadline = self._clock() + timeout
        while True:
            remaining = deadline - self._clock()
            try:
                data = await asyncio.wait_for(read_some(reader, self.address), max(remaining, 0))
            except asyncio.TimeoutError:
                raise SendError(f"{self.address}: no handshake reply within {timeout:g}s") from None
            except SendError:
                data = b""  # Fluentd resets (linger 0) right after a failed PONG, often losing it
            if not data:
                raise SendError(
                    f"{self.address}: closed the connection during the handshake; "
                    "check --shared-key, --username and --password"
                )
            messages = list(framer.feed(data))
            if len(messages) > 1:
                raise RemoteProtocolError(f"{self.address}: sent more than one handshake message")
            if messages:
                return messages[0]

    async def _pump(
        self, reader: StreamReader, writer: StreamWriter, framer: Framer, keepalive: bool
    ) -> None:
        tasks = [
            asyncio.create_task(self._write_loop(writer, keepalive)),
            asyncio.create_task(self._read_loop(reader, framer)),
        ]
        if self._settlement.sees_reads:
            tasks.append(asyncio.create_task(self._watch_reads(reader, writer)))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            task.result()

    async def _write_loop(self, writer: StreamWriter, keepalive: bool) -> None:
        window = self.options.window if keepalive else 1
        while True:
            chunk = await self._next_chunk(window)
            self._launch(chunk)
            await write_all(writer, chunk.payload, self.options.write_timeout, self.address)
            if chunk.id is None and not self._settlement.sees_reads:
                self._delivered(chunk)
            if not keepalive:  # the server closes after its ack: one chunk per connection
                while self._inflight:
                    self._acked.clear()
                    await self._acked.wait()
                return

    async def _next_chunk(self, window: int) -> Chunk:
        while True:
            if len(self._inflight) >= window:
                self._acked.clear()
                await self._acked.wait()
                continue
            chunk = self._queue.take()
            if chunk is not None:
                return chunk
            await self._queue.nonempty.wait()

    def _launch(self, chunk: Chunk) -> None:
        if chunk.attempts:
            self.stats.retries += 1
        chunk.attempts += 1
        self.stats.chunks_sent += 1
        self.stats.bytes_sent += len(chunk.payload)
        self._inflight[id(chunk)] = (chunk, self._clock() + self.options.ack_timeout)
        if chunk.id is not None:
            self._by_id[chunk.id] = chunk
        self._launched.set()

    async def _read_loop(self, reader: StreamReader, framer: Framer) -> None:
        poll = min(1.0, self.options.ack_timeout)
        while True:
            try:
                data = await asyncio.wait_for(read_some(reader, self.address), poll)
            except asyncio.TimeoutError:
                self._check_deadline()
                continue
            if not data:
                list(framer.feed(b""))
                if not self._inflight:
                    return  # the server closed an idle connection: reconnect when needed
                raise SendError(f"{self.address}: the server closed the connection")
            for chunk_id in acks_in(framer.feed(data)):
                self._acked_id(chunk_id)
            self._check_deadline()

    async def _watch_reads(self, reader: StreamReader, writer: StreamWriter) -> None:
        """On a Unix socket, look at what the peer has read while chunks are in flight."""
        while True:
            await self._launched.wait()
            while self._inflight and self._settlement.watches_reads:
                self._check_reads(reader, writer)
                await asyncio.sleep(READ_POLL)
            self._launched.clear()

    def _acked_id(self, chunk_id: str) -> None:
        if self._settlement.peer_acks is False:
            self._warn(f"{self.address}: acknowledges chunks after all; at-least-once delivery again")
        self._settlement.acked()
        self._ever_acked = True
        chunk = self._by_id.get(chunk_id)
        if chunk is not None:  # else an ack for a chunk already settled (resent and acked twice)
            self._delivered(chunk)

    def _check_reads(self, reader: StreamReader, writer: StreamWriter) -> None:
        """Settle what a Unix-socket peer has read, where reading settles (``settlement``).

        A peer that closed reads as having read everything: the read loop handles that end.
        """
        if not self._inflight or reader.at_eof() or unread_bytes(writer) != 0:
            return
        verdict = self._settlement.all_read(self._clock())
        if verdict is Verdict.WAIT:
            return
        if verdict is Verdict.SETTLE_NO_ACKS:
            self._warn_no_acks()
        for chunk in self._take_inflight():
            chunk.unacked = chunk.id is not None
            self._delivered(chunk)

    def _warn_no_acks(self) -> None:
        if self._warned_no_acks:
            return
        self._warned_no_acks = True
        self._warn(
            f"{self.address} reads chunks but acknowledged none within {self._settlement.grace:g}s "
            "(Fluentd's in_unix never acks): records now count as shipped once it has read them, "
            "and a crash of that server can lose them. For at-least-once delivery send to "
            "Fluentd's in_forward (tcp://HOST:24224); to go without acks and this warning, "
            "pass --no-ack"
        )

    def _delivered(self, chunk: Chunk) -> None:
        self._inflight.pop(id(chunk), None)
        if chunk.id is not None:
            self._by_id.pop(chunk.id, None)
        self.failures = 0
        self._progress = True
        self.stats.chunks_delivered += 1
        self.stats.records_delivered += chunk.count
        self._queue.settle(chunk)
        self._acked.set()

    def _check_deadline(self) -> None:
        """A chunk neither acked nor (where reading settles) read in time: the peer stalled."""
        if not self._inflight or not (self.options.ack or self._settlement.sees_reads):
            return  # without acks a chunk on TCP is settled once written: nothing to wait for
        chunk, deadline = next(iter(self._inflight.values()))
        if self._clock() >= deadline:
            awaited = "ack" if self.options.ack and self._settlement.peer_acks is not False else "read"
            raise AckTimeoutError(
                f"{self.address}: no {awaited} of a chunk of {chunk.count} records "
                f"within {self.options.ack_timeout:g}s"
            )

    def _take_inflight(self) -> list[Chunk]:
        chunks = [chunk for chunk, _ in self._inflight.values()]
        self._inflight.clear()
        self._by_id.clear()
        return chunks

    def _on_failure(self, error: TransportError | ProtocolError) -> None:
        sent = self._take_inflight()
        swallowed = not self._ever_acked and not self._settlement.sees_reads
        if isinstance(error, AckTimeoutError) and swallowed:
            self._fail_swallowed(error, sent)
            return
        self._queue.give_back(sent)
        self.failures += 1
        if self._outage is None:
            self._outage = str(error)
            self._warn(f"{error}; retrying, records stay buffered")
        self._on_failure_hook(error)

    def _fail_swallowed(self, error: AckTimeoutError, sent: list[Chunk]) -> None:
        """A peer that never acks: warn once, fail what it swallowed, and stop using it.

        Resending to it would only feed it more chunks it drops; the pool fails the rest
        once no usable server is left.
        """
        self.disabled = True
        self._warn(
            f"{error}: the server has never acknowledged a chunk. If it does not support "
            "acks (Fluentd's in_unix does not), turn them off with --no-ack"
        )
        for chunk in sent:
            self._queue.settle(chunk, DeliveryError(str(error), chunk.count))
        self._on_failure_hook(error)

    def _recovered(self) -> None:
        if self._outage is not None:
            self._warn(f"{self.address}: connected again")
        self._outage = None
