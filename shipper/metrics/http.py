"""The ``--metrics-listen`` endpoint: ``GET /metrics`` and ``GET /healthz`` over HTTP/1.1.

It runs on logwrap's own event loop, not in a thread as prometheus-client's server does, so
a scrape reads the pipeline between two steps of it, never in the middle of one: the totals
it shows always add up. Each answer closes its connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable

from ..errors import ConfigError
from ..forward.address import Address

REQUEST_TIMEOUT = 10.0
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            503: "Service Unavailable"}
_UNREADABLE = (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ConnectionError)


class MetricsServer:
    def __init__(self, endpoint: Address, metrics: Callable[[], tuple[bytes, str]],
                 unhealthy: Callable[[], str | None]) -> None:
        self.endpoint = endpoint
        self._metrics = metrics
        self._unhealthy = unhealthy
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> Address:
        """Listen; port 0 picks a free port, and the endpoint returned has it."""
        try:
            self._server = await asyncio.start_server(self._serve, self.endpoint.host, self.endpoint.port)
        except OSError as exc:
            raise ConfigError(f"--metrics-listen {self.endpoint}: cannot listen: {exc.strerror or exc}; "
                              "choose a free port") from exc
        port = self._server.sockets[0].getsockname()[1]
        return Address(self.endpoint.scheme, self.endpoint.host, port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT)
            status, content_type, body = self._answer(head)
        except _UNREADABLE:
            status, content_type, body = 400, "text/plain", b"bad request\n"
        with contextlib.suppress(ConnectionError):
            writer.write(_response(status, content_type, body))
            await writer.drain()
        writer.close()

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
