"""Delivering chunks to one Forward server: connect, handshake, pipeline, acks, resend.

Why asyncio: one thread serves the connection's writer and reader and the caller's own work
(logwrap's pipes, ``shipper send``'s stdin) without locks, and a slow or dead peer only ever
parks a coroutine, never the thread that drains the child's pipes.

Delivery is at-least-once: a chunk stays in flight until its ``{"ack": id}`` arrives; when the
connection fails, in-flight chunks go back to the front of the queue, in order, and are resent
byte-identical after a reconnect delayed by ``backoff``. A peer that accepts data but has never
acked anything (Fluentd's in_unix) gets one warning telling the user to turn acks off, and the
chunks it swallowed fail instead of being resent forever.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from asyncio import StreamReader, StreamWriter
from collections import OrderedDict, deque
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
from .transport import TlsOptions, client_context, close_stream, open_stream, read_some, write_all


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
    retry_limit: int | None = None  # resends of one chunk before it fails; None: no limit
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


class ForwardClient:
    """Delivers chunks to one server; ``submit`` returns a future settled on ack or failure."""

    def __init__(
        self,
        address: Address,
        options: ClientOptions = ClientOptions(),
        *,
        delays: Callable[[], Iterator[float]] = backoff,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        warn: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.address = address
        self.options = options
        self.stats = ClientStats()
        self._delays = delays
        self._sleep = sleep
        self._clock = clock
        self._warn = warn
        self._tls = client_context(options.tls) if options.tls else None
        self._queue: deque[Chunk] = deque()
        self._inflight: OrderedDict[str, tuple[Chunk, float]] = OrderedDict()
        self._futures: dict[int, asyncio.Future[None]] = {}
        self._changed = asyncio.Event()
        self._ever_acked = False
        self._outage: str | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def backlog(self) -> int:
        """Chunks submitted and not yet settled."""
        return len(self._futures)

    def submit(self, chunk: Chunk) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._futures[id(chunk)] = future
        self._queue.append(chunk)
        self._changed.set()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"forward {self.address}")
        return future

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until every submitted chunk is settled; False if ``timeout`` ran out first."""
        pending = list(self._futures.values())
        if not pending:
            return True
        _, not_done = await asyncio.wait(pending, timeout=timeout)
        return not not_done

    async def close(self) -> list[Chunk]:
        """Stop; fail and return the chunks not delivered, oldest first."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._requeue()
        undelivered = list(self._queue)
        self._queue.clear()
        for chunk in undelivered:
            self._settle(chunk, DeliveryError(f"{self.address}: not delivered before close", chunk.count))
        return undelivered

    async def _run(self) -> None:
        delays = self._delays()
        while True:
            while not self._queue:
                self._changed.clear()
                await self._changed.wait()
            try:
                await self._session()
            except (TransportError, ProtocolError) as exc:
                self._on_failure(exc)
                await self._sleep(next(delays))
            else:
                delays = self._delays()

    async def _session(self) -> None:
        reader, writer = await open_stream(self.address, self.options.connect_timeout, self._tls)
        self.stats.connects += 1
        try:
            framer = Framer(self.options.max_frame_bytes)
            keepalive = await self._handshake(reader, writer, framer)
            self._recovered()
            await self._pump(reader, writer, framer, keepalive)
        finally:
            await close_stream(writer)
            self._requeue()

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
            while not self._queue or len(self._inflight) >= window:
                if not keepalive and self.stats.chunks_delivered and not self._inflight:
                    return  # the server denies keepalive: one chunk per connection
                self._changed.clear()
                await self._changed.wait()
            chunk = self._queue.popleft()
            self._launch(chunk)
            await write_all(writer, chunk.payload, self.options.write_timeout, self.address)
            if chunk.id is None:
                self._delivered(chunk)

    def _launch(self, chunk: Chunk) -> None:
        if chunk.attempts:
            self.stats.retries += 1
        chunk.attempts += 1
        self.stats.chunks_sent += 1
        key = chunk.id if chunk.id is not None else f"noack-{id(chunk)}"
        self._inflight[key] = (chunk, self._clock() + self.options.ack_timeout)

    async def _read_loop(self, reader: StreamReader, framer: Framer) -> None:
        poll = min(1.0, self.options.ack_timeout)
        while True:
            try:
                data = await asyncio.wait_for(read_some(reader, self.address), poll)
            except asyncio.TimeoutError:
                self._check_deadline()
                continue
            if not data:
                framer.feed(b"")
                raise SendError(f"{self.address}: the server closed the connection")
            for chunk_id in acks_in(framer.feed(data)):
                self._acked(chunk_id)
            self._check_deadline()

    def _acked(self, chunk_id: str) -> None:
        entry = self._inflight.get(chunk_id)
        if entry is None:
            return  # an ack for a chunk already settled (resent and acked twice)
        self._ever_acked = True
        self._delivered(entry[0])

    def _delivered(self, chunk: Chunk) -> None:
        key = chunk.id if chunk.id is not None else f"noack-{id(chunk)}"
        self._inflight.pop(key, None)
        self.stats.chunks_delivered += 1
        self.stats.records_delivered += chunk.count
        self._settle(chunk, None)
        self._changed.set()

    def _check_deadline(self) -> None:
        if not self._inflight or self.options.ack is False:
            return
        chunk, deadline = next(iter(self._inflight.values()))
        if self._clock() >= deadline:
            raise AckTimeoutError(
                f"{self.address}: no ack for a chunk of {chunk.count} records "
                f"within {self.options.ack_timeout:g}s"
            )

    def _requeue(self) -> None:
        """Put in-flight chunks back at the front of the queue, oldest first."""
        for chunk, _ in reversed(list(self._inflight.values())):
            self._queue.appendleft(chunk)
        self._inflight.clear()

    def _on_failure(self, error: TransportError | ProtocolError) -> None:
        if isinstance(error, AckTimeoutError) and not self._ever_acked:
            self._fail_sent(error)
            return
        if self._outage is None:
            self._outage = str(error)
            self._warn(f"{error}; retrying, records stay buffered")
        limit = self.options.retry_limit
        if limit is None:
            return
        for chunk in self._queue:  # every waiting chunk, or a long queue would never give up
            chunk.failures += 1
        for chunk in [c for c in self._queue if c.failures > limit]:
            self._queue.remove(chunk)
            self._settle(chunk, DeliveryError(f"{error} (gave up after {limit} retries)", chunk.count))

    def _fail_sent(self, error: AckTimeoutError) -> None:
        """A peer that never acks: warn once and fail what it swallowed instead of resending."""
        if self._outage != "no-acks":
            self._outage = "no-acks"
            self._warn(
                f"{error}: the server has never acknowledged a chunk. If it does not support "
                "acks (Fluentd's in_unix does not), turn them off with --no-ack"
            )
        for chunk in [c for c in self._queue if c.attempts]:
            self._queue.remove(chunk)
            self._settle(chunk, DeliveryError(str(error), chunk.count))

    def _recovered(self) -> None:
        if self._outage is not None and self._outage != "no-acks":
            self._warn(f"{self.address}: connected again")
        self._outage = None

    def _settle(self, chunk: Chunk, error: Exception | None) -> None:
        future = self._futures.pop(id(chunk), None)
        if future is None or future.done():
            return
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)

