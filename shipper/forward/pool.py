"""Delivery to one or more Forward servers through one bounded queue.

Each server has its own client; every client takes chunks from the shared queue when it is
connected and has room in its window, so batches spread over the healthy servers and a
failed one is skipped until it answers again (as Fluentd's out_forward does with several
``<server>``s). Chunks a failed server had in flight go back to the front of the queue.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Sequence

from ..errors import DeliveryError
from .address import Address
from .backoff import backoff
from .batcher import Chunk
from .client import ClientOptions, ClientStats, ForwardClient
from .queue import ChunkQueue


class Pool:
    def __init__(
        self,
        addresses: Sequence[Address],
        options: ClientOptions | None = None,
        *,
        max_bytes: int | None = None,
        on_full: str = "block",
        on_settled: Callable[[Chunk, Exception | None], None] = lambda chunk, error: None,
        delays: Callable[[], Iterator[float]] = backoff,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        warn: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.options = options = options or ClientOptions()
        self._on_settled = on_settled
        self._futures: dict[int, asyncio.Future[None]] = {}
        self.queue = ChunkQueue(max_bytes, on_full, self._settled)
        self.clients = [
            ForwardClient(address, self.queue, options, delays=delays, sleep=sleep, warn=warn,
                          on_failure=self._maybe_give_up)
            for address in addresses
        ]

    @property
    def stats(self) -> ClientStats:
        total = ClientStats()
        for client in self.clients:
            for name, value in vars(client.stats).items():
                setattr(total, name, getattr(total, name) + value)
        return total

    def put(self, chunk: Chunk) -> list[Chunk]:
        """Queue a chunk for delivery; returns what the overflow policy dropped."""
        for client in self.clients:
            client.start()
        dropped = self.queue.put(chunk)
        if all(client.disabled for client in self.clients):
            self._give_up("no server acknowledges chunks (see the warning above)")
        return dropped

    def submit(self, chunk: Chunk) -> asyncio.Future[None]:
        """Queue a chunk; the future settles when it is acked, or fails when it is given up."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._futures[id(chunk)] = future
        self.put(chunk)
        return future

    async def flush(self, timeout: float | None = None, stop: asyncio.Event | None = None) -> bool:
        """Wait until everything queued is settled; False if ``timeout`` ran out or ``stop``
        was set first."""
        waits = [asyncio.ensure_future(self.queue.idle.wait())]
        if stop is not None:
            waits.append(asyncio.ensure_future(stop.wait()))
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for wait in waits:
            wait.cancel()
        return self.queue.idle.is_set()

    async def close(self) -> list[Chunk]:
        """Stop every client; fail and return the chunks not delivered, oldest first."""
        for client in self.clients:
            await client.stop()
        undelivered = list(self.queue)
        self.queue.fail_waiting(lambda chunk: DeliveryError("not delivered before close", chunk.count))
        return undelivered

    def _maybe_give_up(self, last_error: Exception) -> None:
        if all(client.disabled for client in self.clients):
            self._give_up(f"{last_error} (no usable server left)")
            return
        limit = self.options.retry_limit
        usable = [client for client in self.clients if not client.disabled]
        if limit is None or any(client.failures <= limit for client in usable):
            return
        self._give_up(f"{last_error} (every server failed {limit + 1} times in a row; "
                      f"gave up after {limit} retries)")
        for client in usable:
            client.failures = 0

    def _give_up(self, reason: str) -> None:
        self.queue.fail_waiting(lambda chunk: DeliveryError(reason, chunk.count))

    def _settled(self, chunk: Chunk, error: Exception | None) -> None:
        future = self._futures.pop(id(chunk), None)
        if future is not None and not future.done():
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)
        self._on_settled(chunk, error)
