"""The ``--metrics-listen`` endpoint: ``GET /metrics`` and ``GET /healthz`` over HTTP/1.1.

It runs on logwrap's own event loop, not in a thread as prometheus-client's server does, so
a scrape reads the pipeline between two steps of it, never in the middle of one: the totals
it shows always add up. Each answer closes its connection. It is exposed to the network, so
it bounds what a client can hold: a few connections at once, a few seconds each, and a failed
answer is a 500, never an error in logwrap.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from ..errors import ConfigError
from ..forward.address import Address

TIMEOUT = 5.0  # seconds a client has to send its request and read the answer
MAX_CONNECTIONS = 16  # at once; more are closed on arrival
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            500: "Internal Server Error", 503: "Service Unavailable"}
_UNREADABLE = (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ConnectionError)


class MetricsServer:
    def __init__(self, endpoint: Address, metrics: Callable[[], tuple[bytes, str]],
                 unhealthy: Callable[[], str | None]) -> None:
        self.endpoint = endpoint
        self._metrics = metrics
        self._unhealthy = unhealthy
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> Address:
        """Listen; port 0 picks a free port, and the address returned has it."""
        try:
            self._server = await asyncio.start_server(self._serve, self.endpoint.host, self.endpoint.port)
        except OSError as exc:
            raise ConfigError(f"--metrics-listen {self.endpoint}: cannot listen: {exc.strerror or exc}; "
                              "choose a free port") from exc
        port = self._server.sockets[0].getsockname()[1]
        return Address(self.endpoint.scheme, self.endpoint.host, port)

    async def close(self) -> None:
        """Stop listening and drop every connection: a client never holds up logwrap's exit."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._writers) >= MAX_CONNECTIONS:
            writer.transport.abort()
            return
        self._writers.add(writer)
        try:
            await asyncio.wait_for(self._exchange(reader, writer), TIMEOUT)
        except (*_UNREADABLE, OSError):
            writer.transport.abort()  # too slow, or gone: nothing more is owed to it
        finally:
            self._writers.discard(writer)

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, content_type, body = self._answer(await reader.readuntil(b"\r\n\r\n"))
        except _UNREADABLE:
            status, content_type, body = 400, "text/plain", b"bad request\n"
        except Exception as exc:  # a bug in reading the pipeline must not reach logwrap
            status, content_type, body = 500, "text/plain", f"internal error: {exc!r}\n".encode()
        writer.write(_response(status, content_type, body))
        writer.close()
        await writer.wait_closed()  # the answer is out (or the client went away)

    def _answer(self, head: bytes) -> tuple[int, str, bytes]:
        method, _, rest = head.partition(b" ")
        path = rest.split(b" ", 1)[0].split(b"?", 1)[0]
        if method != b"GET":
            return 405, "text/plain", b"only GET\n"
        if path == b"/metrics":
            body, content_type = self._metrics()
            return 200, content_type, body
        if path == b"/healthz":
            reason = self._unhealthy()
            answer = {"status": "ok"} if reason is None else {"status": "unhealthy", "reason": reason}
            return (200 if reason is None else 503), "application/json", json.dumps(answer).encode() + b"\n"
        return 404, "text/plain", b"try /metrics or /healthz\n"


def _response(status: int, content_type: str, body: bytes) -> bytes:
    head = (f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    return head.encode() + body
