"""The Forward receiver behind ``shipper receive`` and the pytest plugin.

asyncio streams, one coroutine per connection around the sans-I/O ``Framer``,
``ServerHandshake`` and ``interpret``. Rules:
- an ack is written only after the events it covers are written to the sink and flushed;
- a connection that breaks the protocol is closed with one line naming the peer and why,
  after the whole messages it sent before the fault are delivered and acked;
- every TCP/TLS port also answers Fluentd's UDP heartbeat (a datagram answered with b"\\0").
"""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ..errors import ConfigError, FrameTimeoutError, OutputError, RemoteProtocolError, ShipperError
from .address import Address
from .handshake import ServerHandshake
from .protocol import DEFAULT_MAX_FRAME_BYTES, EventBatch, Framer, encode_ack, interpret
from .sinks import Sink
from .transport import ServerTls, read_some, server_context, write_all

DEFAULT_HOSTNAME = f"{socket.gethostname()}-shipper"
ACK_WRITE_TIMEOUT = 30.0


@dataclass
class Faults:
    """Switches the pytest plugin flips to make the receiver misbehave on purpose."""

    withhold_acks: bool = False
    ack_delay: float = 0.0
    fail_auth: bool = False
    cut_mid_frame: bool = False  # one-shot: the next read is cut in half and the link dropped
    withhold_acks_after: int | None = None  # acks stop once this many were sent (a peer that stalls)


@dataclass(frozen=True)
class ReceiverOptions:
    listen: tuple[Address, ...] = (Address("tcp", "127.0.0.1", 24224),)
    shared_key: str | None = None
    users: Mapping[str, str] = field(default_factory=dict)
    hostname: str = DEFAULT_HOSTNAME
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    socket_mode: int = 0o600
    tls: ServerTls | None = None
    heartbeat: bool = True
    deny_keepalive: bool = False  # as Fluentd's: close each connection after its first ack
    # Seconds a started message may take to arrive whole (slowloris); idle connections may stay.
    frame_timeout: float = 60.0


@dataclass
class ReceiverStats:
    connections: int = 0  # accepted, ever
    events: int = 0
    acks: int = 0
    closed: dict[str, int] = field(default_factory=dict)  # connections closed for bad input, by reason


class Receiver:
    """Listens on every address in ``options.listen`` and feeds events to ``sink``."""

    def __init__(
        self,
        options: ReceiverOptions,
        sink: Sink,
        log: Callable[[str], None],
        faults: Faults | None = None,
        on_acked: Callable[[int], None] = lambda count: None,
    ) -> None:
        self.options = options
        self.sink = sink
        self.faults = faults or Faults()
        self.stats = ReceiverStats()
        self._log = log
        self.on_acked = on_acked
        self._tls = server_context(options.tls) if options.tls else None
        self._servers: list[asyncio.AbstractServer] = []
        self._heartbeats: list[asyncio.DatagramTransport] = []
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self.broken = asyncio.Event()  # the sink failed: nothing more can be acked
        self.error: OutputError | None = None
        self.addresses: list[Address] = []

    @property
    def open_connections(self) -> int:
        return len(self._writers)

    async def start(self) -> None:
        """Bind every address (port 0 picks a free port; ``addresses`` tells which)."""
        wanted = self.addresses or list(self.options.listen)
        self.addresses = []
        for address in wanted:
            self.addresses.append(await self._listen(address))

    async def stop_listening(self) -> None:
        """Close the listening sockets (new connections are refused); connections stay."""
        for server in self._servers:
            server.close()
        for transport in self._heartbeats:
            transport.close()
        self._servers.clear()
        self._heartbeats.clear()
        for address in self.addresses:
            if address.is_unix and os.path.exists(address.path):
                os.unlink(address.path)

    async def close(self) -> None:
        """Stop listening and drop every connection, waiting for their handlers to end."""
        await self.stop_listening()
        for writer in list(self._writers):
            writer.transport.abort()
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=5)
        self._writers.clear()

    async def _listen(self, address: Address) -> Address:
        try:
            if address.is_unix:
                return await self._listen_unix(address)
            return await self._listen_inet(address)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {address}: {exc.strerror or exc}") from exc

    async def _listen_inet(self, address: Address) -> Address:
        if address.scheme == "tls" and self._tls is None:
            raise ConfigError(f"{address}: a tls:// listener needs --tls-cert and --tls-key")
        server = await asyncio.start_server(
            self._serve, address.host, address.port, ssl=self._tls if address.scheme == "tls" else None
        )
        self._servers.append(server)
        port = server.sockets[0].getsockname()[1]
        if self.options.heartbeat:
            await self._listen_heartbeat(address.host, port)
        return Address(address.scheme, address.host, port)

    async def _listen_heartbeat(self, host: str, port: int) -> None:
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            _Heartbeat, local_addr=(host, port)
        )
        self._heartbeats.append(transport)

    async def _listen_unix(self, address: Address) -> Address:
        sock = bind_unix_socket(address.path, self.options.socket_mode)
        self._servers.append(await asyncio.start_unix_server(self._serve, sock=sock))
        return address

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = _peer_name(writer)
        self.stats.connections += 1
        self._writers.add(writer)
        handler = asyncio.current_task()
        if handler is not None:
            self._handlers.add(handler)
        try:
            await _Connection(self, reader, writer, peer).run()
        except OutputError as exc:
            self._fail(exc)
        except ShipperError as exc:
            if isinstance(exc, RemoteProtocolError):
                self.stats.closed[exc.reason] = self.stats.closed.get(exc.reason, 0) + 1
            self._log(f"closing connection from {peer}: {exc}")
        except Exception as exc:  # a bug: one line, and the other connections carry on
            self._log(f"closing connection from {peer}: internal error: {exc!r}")
        finally:
            self._writers.discard(writer)
            self._handlers.discard(handler)  # type: ignore[arg-type]
            writer.close()

    def deliver(self, batches: list[EventBatch]) -> list[str]:
        """Write and flush ``batches``; the chunk ids that may now be acked."""
        if self.error is not None:
            raise self.error
        try:
            for batch in batches:
                self.sink.write(batch)
            self.sink.flush()
            self.stats.events += sum(batch.count for batch in batches)
        except OSError as exc:
            raise OutputError(f"cannot write events to the output: {exc.strerror or exc}") from exc
        return [batch.chunk for batch in batches if batch.chunk is not None]

    def _fail(self, error: OutputError) -> None:
        if self.error is None:
            self.error = error
            self._log(f"{error}; stopping, with nothing unwritten acknowledged")
        self.broken.set()


class _Connection:
    def __init__(
        self, receiver: Receiver, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> None:
        self._receiver = receiver
        self._options = receiver.options
        self._faults = receiver.faults
        self._reader = reader
        self._writer = writer
        self._peer = peer
        self._framer = Framer(self._options.max_frame_bytes)
        self._shake = self._new_handshake()
        self._count_only = not receiver.sink.wants_records
        self._done = False
        self._began: float | None = None  # when the message now arriving began (loop time)
        self._completed = 0

    def _new_handshake(self) -> ServerHandshake | None:
        if self._options.shared_key is None:
            return None
        return ServerHandshake(
            self._options.shared_key, self._options.hostname, os.urandom(16), os.urandom(16),
            self._options.users,
        )

    async def run(self) -> None:
        if self._shake is not None:
            await self._send(self._shake.helo(keepalive=not self._options.deny_keepalive))
        while not self._done:
            data = await self._read()
            if self._faults.cut_mid_frame and data:
                self._faults.cut_mid_frame = False
                await self._handle(data[: len(data) // 2])
                self._writer.transport.abort()
                self._receiver._log(f"cut {self._peer} off mid-frame (the cut_mid_frame fault)")
                return
            await self._handle(data)
            if not data:
                return

    async def _read(self) -> bytes:
        """The next bytes. A message, once begun, must be whole within ``frame_timeout`` in all:
        a slowloris sending a byte now and then is cut off too."""
        if not self._framer.pending:
            self._began = None
            return await read_some(self._reader, self._peer)
        now = asyncio.get_running_loop().time()
        if self._began is None or self._framer.completed != self._completed:
            self._began, self._completed = now, self._framer.completed  # a new message began
        remaining = self._began + self._options.frame_timeout - now
        try:
            return await asyncio.wait_for(read_some(self._reader, self._peer), max(remaining, 0))
        except asyncio.TimeoutError:
            raise FrameTimeoutError(f"a message stayed incomplete for {self._options.frame_timeout:g}s "
                                      f"({self._framer.pending} bytes of it received)") from None

    async def _handle(self, data: bytes) -> None:
        batches: list[EventBatch] = []
        try:
            for message in self._framer.feed(data):
                if self._shake is not None:
                    await self._answer_ping(message)
                elif message is not None:  # nil is Fluentd's reserved TCP heartbeat
                    batches.append(interpret(message, count_only=self._count_only))
        finally:
            if batches:
                await self._ack(self._receiver.deliver(batches))

    async def _answer_ping(self, message: object) -> None:
        assert self._shake is not None
        pong, error = (
            self._shake.refuse("authentication refused (the fail_auth fault is on)")
            if self._faults.fail_auth
            else self._shake.answer(message)
        )
        await self._send(pong)
        if error is not None:
            raise error
        self._shake = None

    async def _ack(self, chunks: list[str]) -> None:
        if not chunks or self._faults.withhold_acks:
            return
        if self._faults.ack_delay:
            await asyncio.sleep(self._faults.ack_delay)
        if self._faults.withhold_acks_after is not None:  # checked and counted with no await between
            chunks = chunks[: max(self._faults.withhold_acks_after - self._receiver.stats.acks, 0)]
            if not chunks:
                return
        self._receiver.stats.acks += len(chunks)  # counted before the peer can see them
        self._receiver.on_acked(len(chunks))
        await self._send(b"".join(encode_ack(chunk) for chunk in chunks))
        self._done = self._options.deny_keepalive

    async def _send(self, data: bytes) -> None:
        await write_all(self._writer, data, ACK_WRITE_TIMEOUT, self._peer)


class _Heartbeat(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport: asyncio.DatagramTransport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self._transport.sendto(b"\0", addr)


def _peer_name(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple):
        return f"{peer[0]}:{peer[1]}"
    return f"unix:{writer.get_extra_info('sockname') or peer}"


def bind_unix_socket(path: str, mode: int) -> socket.socket:
    """A listening Unix socket at ``path`` whose mode is ``mode`` from the first instant.

    The socket is bound inside a private 0700 directory, chmod-ed, then renamed into place,
    so no other user can connect during a window where it has the umask's mode.
    """
    _clear_stale_socket(path)
    private = tempfile.mkdtemp(prefix=".shipper-", dir=os.path.dirname(os.path.abspath(path)))
    staged = os.path.join(private, "sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(staged)
        os.chmod(staged, mode)
        sock.listen(128)
        os.rename(staged, path)
    except OSError:
        sock.close()
        raise
    finally:
        if os.path.exists(staged):
            os.unlink(staged)
        os.rmdir(private)
    return sock


def _clear_stale_socket(path: str) -> None:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ConfigError(f"{path} exists and is not a socket; choose another path")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        os.unlink(path)  # nobody listens: a stale socket from a crashed receiver
        return
    finally:
        probe.close()
    raise ConfigError(f"{path}: another process is already listening there")
