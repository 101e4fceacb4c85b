"""Reading a file descriptor ahead of its consumer on a daemon thread.

Why a thread: stdin may be a regular file, a pipe or a terminal, and only a blocking read
serves all three (epoll refuses regular files). Why daemon and read-ahead: ``os.read``
releases the GIL, so the next block is read while the event loop parses this one, and a
read still blocked on a silent terminal never keeps the process from exiting.
"""

from __future__ import annotations

import asyncio
import os
import threading

from .errors import DataError


class Prefetcher:
    """Blocks of ``fd``, at most ``depth`` read ahead; ``b""`` at end of input."""

    def __init__(self, fd: int, block_size: int, depth: int = 2) -> None:
        self._fd = fd
        self._block_size = block_size
        self._credits = threading.Semaphore(depth)
        self._queue: asyncio.Queue[bytes | OSError] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        threading.Thread(target=self._run, name=f"read fd {fd}", daemon=True).start()

    def _run(self) -> None:
        while True:
            self._credits.acquire()
            try:
                data: bytes | OSError = os.read(self._fd, self._block_size)
            except OSError as exc:
                data = exc
            try:
                self._loop.call_soon_threadsafe(self._queue.put_nowait, data)
            except RuntimeError:
                return  # the loop is closed: nobody wants more input
            if not isinstance(data, bytes) or not data:
                return

    async def read(self) -> bytes:
        data = await self._queue.get()
        self._credits.release()
        if isinstance(data, OSError):
            raise DataError(f"cannot read input (fd {self._fd}): {data.strerror or data}")
        return data
