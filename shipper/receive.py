"""``shipper receive``: run the Forward receiver until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError, OutputError
from .forward.server import Receiver, ReceiverOptions
from .forward.sinks import CountSink, JsonLinesSink, PrettySink, Sink
from .metrics.exporter import Exporter
from .metrics.options import MetricsOptions
from .metrics.receiver import receiver_families

OUTPUTS = ("json", "pretty", "count")


@dataclass(frozen=True)
class ReceiveConfig:
    receiver: ReceiverOptions
    output: str = "json"
    colour: bool = False
    verbose: bool = False
    count_interval: float = 1.0
    metrics: MetricsOptions = MetricsOptions()


def make_sink(config: ReceiveConfig) -> Sink:
    if sys.stdout is None:
        raise ConfigError("stdout is closed: there is nowhere to write the events")
    out = sys.stdout.buffer
    if config.output == "pretty":
        return PrettySink(out, config.colour, config.verbose)
    if config.output == "count":
        return CountSink()
    return JsonLinesSink(out)


async def run_receiver(config: ReceiveConfig, log: Callable[[str], None]) -> None:
    sink = make_sink(config)
    receiver = Receiver(config.receiver, sink, log)
    exporter = Exporter(config.metrics, "shipper_receive", "shipper.receive",
                        lambda: receiver_families(receiver.stats, receiver.open_connections),
                        lambda: None if receiver.error is None else str(receiver.error), log)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await exporter.start()
        await receiver.start()
        log("listening on " + ", ".join(str(a) for a in receiver.addresses))
        if isinstance(sink, CountSink):
            await _print_totals(sink, stop, receiver.broken, config.count_interval)
        else:
            await _first(stop.wait(), receiver.broken.wait())
    finally:
        await receiver.close()
        await exporter.stop()
    if receiver.error is not None:
        raise receiver.error
    try:
        sink.flush()
    except OSError as exc:
        raise OutputError(f"cannot write events to the output: {exc.strerror or exc}") from exc


async def _first(*waits: Coroutine[Any, Any, Any]) -> None:
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in tasks:
        task.cancel()


async def _print_totals(sink: CountSink, stop: asyncio.Event, broken: asyncio.Event,
                        interval: float) -> None:
    """A totals line each interval while events arrive, and a last one at exit."""
    started = time.monotonic()
    shown = -1
    while not stop.is_set() and not broken.is_set():
        try:
            await asyncio.wait_for(stop.wait(), interval)
        except asyncio.TimeoutError:
            pass
        if sink.events != shown or stop.is_set():
            shown = sink.events
            rate = shown / max(time.monotonic() - started, 1e-9)
            try:
                print(f"events={shown} batches={sink.batches} rate={rate:.0f}/s", flush=True)
            except OSError as exc:
                raise OutputError(f"cannot write totals to the output: {exc.strerror or exc}") from exc
