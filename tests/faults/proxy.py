"""A TCP proxy for fault injection: pause (a stalled peer), cut (a dropped network), throttle."""

from __future__ import annotations

import asyncio
import threading


class FaultProxy:
    """Forwards 127.0.0.1:<port> to ``target_port``; its faults apply to every connection."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.bytes_forwarded = 0
        self.connections = 0
        self._rate: float | None = None
        self._loop = asyncio.new_event_loop()
        self._flowing = asyncio.Event()
        self._holding = threading.Event()  # paused with data in hand that it does not pass on
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server = self._call(self._start())
        self.port = self._server.sockets[0].getsockname()[1]
        self.url = f"tcp://127.0.0.1:{self.port}"

    def _call(self, coroutine):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _start(self) -> asyncio.Server:
        self._flowing.set()
        return await asyncio.start_server(self._accept, "127.0.0.1", 0)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer), return_exceptions=True)
        for side in (writer, up_writer):
            self._writers.discard(side)
            side.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(16384):
            if not self._flowing.is_set():
                self._holding.set()
            await self._flowing.wait()  # paused: nothing moves, in either direction
            writer.write(data)
            await writer.drain()
            self.bytes_forwarded += len(data)
            if self._rate:
                await asyncio.sleep(len(data) / self._rate)
        writer.close()

    async def _stop_serving(self) -> None:
        """On the proxy's loop: asyncio's Server is not thread-safe, and closing it from another thread
        while a connection closes on the loop can wake its waiters twice (a TypeError in wait_closed)."""
        self._server.close()
        await self._server.wait_closed()

    def pause(self) -> None:
        self._holding.clear()
        self._loop.call_soon_threadsafe(self._flowing.clear)

    def wait_until_holding(self, timeout: float = 60) -> None:
        """Block until the paused proxy holds data it was sent: from then on the stall is felt."""
        if not self._holding.wait(timeout):
            raise AssertionError(f"nothing reached the paused proxy within {timeout}s")

    def resume(self) -> None:
        self._loop.call_soon_threadsafe(self._flowing.set)

    def throttle(self, bytes_per_second: float | None) -> None:
        self._rate = bytes_per_second

    def cut(self) -> None:
        """Drop every open connection at once (both sides see a reset or an EOF)."""
        def close_all() -> None:
            for writer in list(self._writers):
                writer.transport.abort()
        self._loop.call_soon_threadsafe(close_all)

    def close(self) -> None:
        self.cut()
        self._call(self._stop_serving())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
