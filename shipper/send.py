"""``shipper send``: records from a byte stream (stdin) to one Forward server.

Input is read ahead on a daemon thread (``Prefetcher``); parsing, batching and delivery run
on the event loop. The backlog of undelivered chunks is bounded, so a slow server slows the
reading instead of growing memory.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import DeliveryError
from .forward.address import Address
from .forward.batcher import Batcher, BatchLimits, Chunk, check_mode
from .forward.client import ClientOptions
from .forward.eventtime import to_wire
from .forward.pool import Pool
from .prefetch import Prefetcher
from .processing.options import Processing
from .processing.throttle import Throttle, notice_record
from .send_input import MAX_WARNINGS, READERS, Entry, InputReader

READ_SIZE = 1024 * 1024
MAX_BACKLOG = 16  # chunks submitted and not yet acked before reading pauses


@dataclass(frozen=True)
class SendConfig:
    to: Address
    tag: str
    input_format: str = "json"
    message_key: str = "message"
    time_key: str | tuple[str, ...] | None = None  # a tuple: the first of them a record has
    strict: bool = False
    integer_time: bool = False
    gzip: bool = False
    mode: str = "packed"
    limits: BatchLimits = BatchLimits()
    client: ClientOptions = field(default_factory=lambda: ClientOptions(retry_limit=5))
    processing: Processing | None = None

    def __post_init__(self) -> None:
        check_mode(self.mode, self.gzip)


@dataclass
class SendReport:
    records: int = 0
    filtered: int = 0  # left out by --drop, --keep
    throttled: int = 0  # over --throttle
    filtering: bool = False  # filters or --throttle: the summary counts what they left out
    delivered: int = 0
    unacked: int = 0  # of the delivered: read by a server that does not ack
    failed: int = 0
    wrapped: int = 0
    retries: int = 0


class _Delivery:
    """Submits chunks, keeps the backlog bounded and counts the outcome of each."""

    def __init__(self, pool: Pool, report: SendReport) -> None:
        self._pool = pool
        self._report = report
        self._waiting: deque[asyncio.Future[None]] = deque()

    async def submit(self, chunk: Chunk) -> None:
        future = self._pool.submit(chunk)
        future.add_done_callback(functools.partial(self._count, chunk=chunk))
        self._waiting.append(future)
        while len(self._waiting) > MAX_BACKLOG:
            await asyncio.wait([self._waiting.popleft()])

    def _count(self, future: asyncio.Future[None], chunk: Chunk) -> None:
        if future.exception() is None:
            self._report.delivered += chunk.count
            self._report.unacked += chunk.count if chunk.unacked else 0
        else:
            self._report.failed += chunk.count

    async def finish(self) -> None:
        if self._waiting:
            await asyncio.wait(list(self._waiting))


async def send_stream(fd: int, config: SendConfig, warn: Callable[[str], None],
                      report: SendReport | None = None) -> SendReport:
    """Send every record read from ``fd``; raises ``DeliveryError`` unless all were acked.

    ``report`` (the caller's, so it can print it whatever happens) is filled in as we go.
    """
    report = report if report is not None else SendReport()
    processing = config.processing
    reader: InputReader = READERS[config.input_format](
        message_key=config.message_key, time_key=config.time_key,
        strict=config.strict, integer_time=config.integer_time,
        parse=processing.parser.parse if processing is not None and processing.parser else None,
    )
    steps = _Steps(processing) if processing is not None else None
    report.filtering = processing is not None and processing.filtering
    pool = Pool([config.to], config.client, warn=warn)
    delivery = _Delivery(pool, report)
    batcher = Batcher(config.tag, config.limits, config.client.ack, config.gzip, config.mode)
    try:
        await _pump(fd, reader, batcher, delivery, report, warn, steps)
        await delivery.finish()
    finally:
        await pool.close()
        report.retries = pool.stats.retries
    _conclude(reader, report, config, warn)
    return report


async def _pump(
    fd: int,
    reader: InputReader,
    batcher: Batcher,
    delivery: _Delivery,
    report: SendReport,
    warn: Callable[[str], None],
    steps: _Steps | None = None,
) -> None:
    source = Prefetcher(fd, READ_SIZE)
    while True:
        data = await _next_block(source, batcher, delivery)
        entries = reader.feed(data, time.time_ns())
        _flush_warnings(reader, warn)
        report.records += len(entries)
        if steps is not None:
            entries = steps.apply(entries, report, time.monotonic(), final=not data)
        for chunk in batcher.add_many(entries, len(data), time.monotonic()):
            await delivery.submit(chunk)
        if not data or reader.stopped is not None:
            break
    last = batcher.seal()
    if last is not None:
        await delivery.submit(last)


class _Steps:
    """The filters and the throttle, on the entries of one block of input."""

    def __init__(self, processing: Processing) -> None:
        self._filters = processing.filters
        self._throttle = None if processing.rate is None else Throttle(processing.rate, time.monotonic())

    def apply(self, entries: list[Entry], report: SendReport, now: float, final: bool) -> list[Entry]:
        if self._filters is not None:
            kept = [(when, kept) for when, record in entries if (kept := self._filters(record)) is not None]
            report.filtered += len(entries) - len(kept)
            entries = kept
        if self._throttle is None:
            return entries
        quota = self._throttle.quota(now)
        report.throttled += max(len(entries) - quota, 0)
        self._throttle.spend(min(quota, len(entries)), max(len(entries) - quota, 0))
        entries = entries[:quota]
        count = self._throttle.notice(now, final)
        if count:  # a record of its own, counted with the records read
            report.records += 1
            entries.append((to_wire(time.time_ns()), notice_record(count, self._throttle.rate)))
        return entries


async def _next_block(source: Prefetcher, batcher: Batcher, delivery: _Delivery) -> bytes:
    """The next block of input; the pending batch is shipped if input stalls past its interval."""
    read = asyncio.ensure_future(source.read())
    while True:
        deadline = batcher.deadline()
        timeout = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        done, _ = await asyncio.wait([read], timeout=timeout)
        if done:
            return read.result()
        await delivery.submit(batcher.seal())  # type: ignore[arg-type]


def _flush_warnings(reader: InputReader, warn: Callable[[str], None]) -> None:
    for message in reader.warnings:
        warn(message)
    reader.warnings.clear()


def _conclude(
    reader: InputReader, report: SendReport, config: SendConfig, warn: Callable[[str], None]
) -> None:
    report.wrapped = reader.wrapped
    if reader.warned > MAX_WARNINGS:
        warn(f"{reader.warned - MAX_WARNINGS} more warnings not shown")
    if report.failed:
        raise DeliveryError(
            f"{report.failed} of {report.records} records were not acknowledged by {config.to}",
            report.failed,
        )
    if reader.stopped is not None:
        raise reader.stopped
