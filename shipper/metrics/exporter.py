"""Serve and push one process's metrics (logwrap's or shipper receive's): the I/O around the
pure parts, started before the work begins and flushed once more at its end.

Metrics must never cost the logs anything: a failed push is a warning, and the last push at exit
gets at most ``FINAL_PUSH_SECONDS`` (a slow DNS must not stretch the exit)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from .http import MetricsServer
from .model import Family
from .options import MetricsOptions
from .push import StatsdSender
from .statsd import StatsdFormatter, packets

FINAL_PUSH_SECONDS = 1.0


class Exporter:
    def __init__(self, options: MetricsOptions, namespace: str, statsd_prefix: str,
                 families: Callable[[], list[Family]], unhealthy: Callable[[], str | None],
                 log: Callable[[str], None]) -> None:
        self.options = options
        self._namespace = namespace
        self._families = families
        self._log = log
        listen = options.listen
        self._server = None if listen is None else MetricsServer(listen, self._scrape, unhealthy)
        self._sender = None if options.statsd is None else StatsdSender(options.statsd, log)
        self._formatter = StatsdFormatter(options.statsd_prefix or statsd_prefix, options.statsd_tags)
        self._pushing: asyncio.Task[None] | None = None
        self._push_failed = False

    async def start(self) -> None:
        """Bind the metrics port (a ConfigError if it cannot be) and start pushing."""
        if self._server is not None:
            bound = await self._server.start()
            self._log(f"metrics on http://{bound.host}:{bound.port}/metrics")
        if self._sender is not None:
            self._pushing = asyncio.create_task(self._push_every_interval())

    async def stop(self) -> None:
        """A last push of the final values, then close."""
        try:
            if self._pushing is not None:
                self._pushing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._pushing
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._push(), FINAL_PUSH_SECONDS)
        finally:
            if self._sender is not None:
                self._sender.close()
            if self._server is not None:
                await self._server.close()

    def _scrape(self) -> tuple[bytes, str]:
        # prometheus-client takes ~65 ms and ~3 MiB to import: paid at the first scrape, not at start
        from .prometheus import CONTENT_TYPE, exposition

        return exposition(self._namespace, self._families()), CONTENT_TYPE

    async def _push_every_interval(self) -> None:
        while True:
            await asyncio.sleep(self.options.interval)
            await self._push()

    async def _push(self) -> None:
        """One push; counters move on only once it went out, so a failed one is made up later."""
        assert self._sender is not None
        try:
            if await self._sender.send(packets(self._formatter.lines(self._families()))):
                self._formatter.commit()
        except Exception as exc:  # a bug in reading or formatting: one line, and the logs go on
            if not self._push_failed:
                self._push_failed = True
                self._log(f"internal error pushing metrics to StatsD: {exc!r}")
