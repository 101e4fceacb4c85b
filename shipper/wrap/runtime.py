"""logwrap's runtime: the one place that wires the child's pipes, timers and delivery.

Concurrency: one asyncio loop. Pipe data is handled synchronously in ``data_received``
(framing, grouping, records, batching: all sans-I/O and fast), and delivery never blocks it:
sealed chunks go into the bounded queue and the clients send them in their own coroutines.
So the child's pipes are drained whatever the network does; only the overflow policy
``block`` pauses reading, by choice.
"""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, DroppedError
from ..forward.address import Address
from ..forward.batcher import Batcher, BatchLimits, Chunk, PackedBatcher
from ..forward.client import ClientOptions
from ..forward.eventtime import to_wire
from ..forward.pool import Pool
from ..forward.protocol import Framer, interpret
from ..forward.settlement import unacked_note
from ..forward.sinks import JsonLinesSink
from ..metrics.exporter import Exporter
from ..metrics.model import Family
from ..metrics.options import MetricsOptions
from ..metrics.pipeline import PipelineReading, pipeline_families, record_families, sentry_families
from ..metrics.statsd import safe
from ..metrics.tally import RecordTally
from ..metrics.timing import Timing
from ..processing.throttle import Throttle, notice_record
from ..sentry.event import Context, Exit
from ..sentry.options import SentryOptions
from .framing import DEFAULT_MAX_LINE_BYTES, LineFramer
from .multiline import Grouper
from .records import IdSource, RecordBuilder, RecordOptions
from .supervisor import FORWARDED, Child, child_environment, forward, reap, spawn

if TYPE_CHECKING:
    from ..sentry.reporter import Reporter

TICK = 0.05  # seconds between checks of batch and multiline deadlines
STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGQUIT})  # forwarded: the child was stopped
MIN_LINE_BYTES = 64


@dataclass(frozen=True)
class WrapConfig:
    command: tuple[str, ...]
    to: tuple[Address, ...] = (Address("tcp", "127.0.0.1", 24224),)
    tag: str = ""  # empty: the command's base name
    tag_stream: bool = False
    records: RecordOptions = field(default_factory=RecordOptions)
    multiline: str = "python"
    multiline_timeout: float = 1.0
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    buffer_bytes: int = 64 * 1024 * 1024
    on_full: str = "drop-oldest"
    limits: BatchLimits = BatchLimits(interval=0.1)
    gzip: bool = False
    client: ClientOptions = ClientOptions()
    drain_timeout: float = 5.0
    tee: bool = False
    death_signal: int | None = signal.SIGTERM  # the child's, should logwrap die (None: none)
    metrics: MetricsOptions = MetricsOptions()
    sentry: SentryOptions = SentryOptions()

    @property
    def base_tag(self) -> str:
        return self.tag or os.path.basename(self.command[0])


@dataclass
class Totals:
    """What became of the child's output; at exit
    records = shipped + dropped + spilled + filtered + throttled."""

    lines: int = 0
    records: int = 0  # a traceback's lines make one record
    filtered: int = 0
    throttled: int = 0
    filtering: bool = False  # filters or --throttle: the summary counts what they left out
    shipped: int = 0
    dropped: int = 0
    spilled: int = 0
    retries: int = 0
    unacked: int = 0  # of the shipped: read by a server that does not ack

    def summary(self) -> str:
        left_out = f"{self.filtered} filtered, {self.throttled} throttled, " if self.filtering else ""
        return (f"{self.lines} lines read as {self.records} records: {self.shipped} shipped, {left_out}"
                f"{self.dropped} dropped, {self.spilled} spilled to stderr, {self.retries} retries"
                + unacked_note(self.unacked))


class StreamPipeline:
    """One of the child's streams: bytes → lines → groups → records → chunks."""

    def __init__(self, name: str, config: WrapConfig, ids: IdSource, deliver: Callable[[Chunk], None],
                 tally: RecordTally | None, reporter: Reporter | None = None,
                 log: Callable[[str], None] = print,
                 notify: Callable[[dict[str, Any]], None] = print) -> None:
        self.name = name
        self.lines = 0
        self.records = 0
        processing = config.records.processing
        rate = None if processing is None else processing.rate
        self._throttle = None if rate is None else Throttle(rate, time.monotonic())
        self._notify = notify
        self._framer = LineFramer(config.max_line_bytes)
        self._grouper = Grouper(config.multiline, config.multiline_timeout, max_bytes=config.max_line_bytes)
        self._builder = RecordBuilder(name, config.records, ids, tally=tally, catch=reporter is not None)
        self._reporter = reporter
        self.recent = None if reporter is None else reporter.recent(name)
        self._log = log
        tag = f"{config.base_tag}.{name}" if config.tag_stream else config.base_tag
        self._batcher = PackedBatcher(tag, config.limits, config.client.ack, config.gzip)
        self._deliver = deliver

    @property
    def filtered(self) -> int:
        return self._builder.filtered

    @property
    def throttled(self) -> int:
        return self._builder.throttled

    @property
    def batching(self) -> int:
        """Records built and not yet sealed into a chunk."""
        return self._batcher.pending

    def feed(self, data: bytes) -> None:
        lines = self._framer.feed(data)
        self.lines += len(lines)
        self._emit(self._grouper.feed(lines, data, time.monotonic()))

    def tick(self, now: float) -> None:
        self._emit(self._grouper.poll(now))
        self._notice_throttled(now)
        deadline = self._batcher.deadline()
        if deadline is not None and deadline <= now:
            self._deliver(self._batcher.seal())  # type: ignore[arg-type]

    def finish(self) -> None:
        """End of stream: flush the partial line, the pending group and the batch."""
        lines = self._framer.end()
        self.lines += len(lines)
        self._emit(self._grouper.feed(lines, b"", time.monotonic()) + self._grouper.end())
        self._notice_throttled(time.monotonic(), final=True)
        chunk = self._batcher.seal()
        if chunk is not None:
            self._deliver(chunk)

    def _emit(self, items: list) -> None:  # type: ignore[type-arg]
        self.records += len(items)
        now_ns, now = time.time_ns(), time.monotonic()
        builder, throttle = self._builder, self._throttle
        throttled = builder.throttled
        quota = builder.quota = -1 if throttle is None else throttle.quota(now)
        start = 0
        while start < len(items):
            records, size = self._batcher.room()
            left_out = builder.left_out
            body, end = builder.pack(items, start, records, size, now_ns)
            count = end - start - (builder.left_out - left_out)
            chunk = self._batcher.add(body, count, now) if count else None
            start = end
            if chunk is not None:
                self._deliver(chunk)
        if throttle is not None:
            throttle.spend(quota - builder.quota, builder.throttled - throttled)
        if self.recent is not None:
            self.recent.add(items, now_ns)
        if self._builder.caught:
            self._report(self._builder.caught)

    def _notice_throttled(self, now: float, final: bool = False) -> None:
        """Once an interval, one record saying how many records --throttle held back."""
        if self._throttle is None:
            return
        count = self._throttle.notice(now, final)
        if count:
            self._notify(notice_record(count, self._throttle.rate, self.name))

    def _report(self, caught: list[bytes]) -> None:
        """Hand the caught entries to Sentry's reporter; its failure must not touch the records."""
        try:
            self._reporter.caught(caught)  # type: ignore[union-attr]
        except Exception as exc:
            self._log(f"internal error reporting the child's {self.name} to Sentry: {exc!r}")
        finally:
            caught.clear()


class _PipeReader(asyncio.Protocol):
    def __init__(self, pipeline: StreamPipeline, tee_fd: int | None, log: Callable[[str], None]) -> None:
        self._pipeline = pipeline
        self._tee_fd = tee_fd
        self._log = log
        self.closed = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:  # type: ignore[override]
        try:
            self._pipeline.feed(data)
        except Exception as exc:  # a bug must not lose the block: it goes to stderr as it came
            self._log(f"internal error on the child's {self._pipeline.name} ({exc!r}); "
                      "the bytes of this read follow on stderr unchanged")
            os.write(2, data)
        if self._tee_fd is not None:
            self._tee(data)

    def _tee(self, data: bytes) -> None:
        try:
            os.write(self._tee_fd, data)  # type: ignore[arg-type]
        except OSError as exc:
            self._log(f"--tee stopped: cannot write to fd {self._tee_fd}: {exc.strerror or exc}")
            self._tee_fd = None

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


def _same(reader: _PipeReader) -> _PipeReader:
    return reader


class Wrapper:
    """Runs one child under logwrap and returns its exit code.

    After the child exits, one deadline (``--drain-timeout``) covers reading what is left in
    its pipes and delivering what is buffered; a signal during that time ends it at once.
    Whatever is not delivered then goes to stderr as JSON lines.
    """

    def __init__(self, config: WrapConfig, log: Callable[[str], None]) -> None:
        if config.max_line_bytes < MIN_LINE_BYTES:
            raise ConfigError(f"--max-line-bytes must be at least {MIN_LINE_BYTES}")
        # A chunk larger than the buffer could never be queued: keep batches to a quarter of it.
        limits = replace(config.limits, max_bytes=min(config.limits.max_bytes, config.buffer_bytes // 4))
        self.config = config = replace(config, limits=limits)
        self.totals = Totals()
        self._log = log
        self._pool = Pool(config.to, config.client, max_bytes=config.buffer_bytes,
                          on_full=config.on_full, on_settled=self._settled, warn=log)
        self._ids = IdSource()
        self._notices = Batcher(f"{config.base_tag}.logwrap", BatchLimits(), config.client.ack)
        self._reported_drops = 0
        self._notice_drops = 0
        self._spill = JsonLinesSink(sys.stderr.buffer)
        self._transports: list[asyncio.ReadTransport] = []
        self._paused = False
        self._exiting = False
        self._stop_drain = asyncio.Event()
        self._pipelines: list[StreamPipeline] = []
        self._child: Child | None = None
        self._notices_out = 0  # drop notices queued or in flight: not the child's records
        self._started = time.monotonic()
        self._last_ack: float | None = None
        self._latency = Timing()
        metrics = config.metrics
        self._tally = RecordTally(metrics.max_series) if metrics.enabled else None
        prefix = "logwrap." + ".".join(map(safe, config.base_tag.split(".")))
        self._exporter = Exporter(metrics, "logwrap", prefix, self._families, self._unhealthy, log)
        self._reporter: Reporter | None = None
        self._stopped_by: set[int] = set()  # STOP_SIGNALS forwarded to the child: its end is then no crash

    async def run(self) -> int:
        await self._exporter.start()  # a taken metrics port stops logwrap before the child starts
        try:
            return await self._run()
        finally:
            await self._exporter.stop()

    async def _run(self) -> int:
        loop = asyncio.get_running_loop()
        exited = asyncio.Event()
        child = self._child = self._start_child(loop, exited)
        self._reporter = self._sentry_reporter()  # after the fork: sentry-sdk may start threads
        readers = await self._read_pipes(loop, child)
        ticker = asyncio.create_task(self._tick(readers))
        await exited.wait()
        deadline = loop.time() + self.config.drain_timeout
        await self._wait_pipes(readers, deadline)
        ticker.cancel()
        for pipeline, _ in readers:
            pipeline.finish()
        assert child.status is not None
        if self._reporter is None:
            await self._deliver_rest(deadline)
        else:
            self._report_end(child)
            await asyncio.gather(self._deliver_rest(deadline), self._close_reporter(deadline))
        self.totals.lines = sum(pipeline.lines for pipeline in self._pipelines)
        self.totals.records = sum(pipeline.records for pipeline in self._pipelines)
        self.totals.filtered = sum(pipeline.filtered for pipeline in self._pipelines)
        self.totals.throttled = sum(pipeline.throttled for pipeline in self._pipelines)
        processing = self.config.records.processing
        self.totals.filtering = processing is not None and processing.filtering
        self.totals.dropped = self._dropped()
        sentry = "" if self._reporter is None else f"; {self._reporter.counts.summary()}"
        self._log(self.totals.summary() + sentry)
        return child.status

    def _sentry_reporter(self) -> Reporter | None:
        options = self.config.sentry
        if options.dsn is None:
            return None
        from ..sentry.reporter import Reporter  # 0.6 MiB of modules a run without Sentry does not load
        records = self.config.records
        service = {"service.name": os.environ["SERVICE_NAME"]} if os.environ.get("SERVICE_NAME") else {}
        context = Context(tag_fields=("stream", *records.labels, records.id_key), id_key=records.id_key,
                          crash_tags={**service, **records.labels})
        return Reporter(options, self.config.base_tag, context,
                        lambda: sum(pipeline.records for pipeline in self._pipelines), self._log)

    def _report_end(self, child: Child) -> None:
        """The child's end to Sentry: a crash event, unless it died of being stopped."""
        assert self._reporter is not None and child.status is not None
        stopped = bool(self._stopped_by)
        recent = [pipeline.recent for pipeline in self._pipelines if pipeline.recent is not None]
        try:
            self._reporter.ended(Exit(child.status, child.signal), stopped, recent)
        except Exception as exc:  # Sentry must never cost the records their drain
            self._log(f"internal error reporting the child's end to Sentry: {exc!r}")

    async def _close_reporter(self, deadline: float) -> None:
        assert self._reporter is not None
        try:
            await self._reporter.close(deadline, self._stop_drain)
        except Exception as exc:
            self._log(f"internal error closing the Sentry client: {exc!r}")

    def _start_child(self, loop: asyncio.AbstractEventLoop, exited: asyncio.Event) -> Child:
        holder: list[Child] = []

        def on_sigchld() -> None:
            if holder:
                reap(holder[0], exited.set)

        loop.add_signal_handler(signal.SIGCHLD, on_sigchld)
        child = spawn(self.config.command, child_environment(dict(os.environ)), self.config.death_signal)
        holder.append(child)
        for signum in FORWARDED:
            loop.add_signal_handler(signum, self._on_signal, child, signum)
        reap(child, exited.set)  # it may have exited before the handler could see it
        return child

    def _on_signal(self, child: Child, signum: int) -> None:
        """To the child while it runs; once it has exited, a signal cuts the drain short."""
        if child.status is None:
            if signum in STOP_SIGNALS:
                self._stopped_by.add(signum)
                if self._reporter is not None:
                    self._reporter.stopping = True
            forward(child, signum)
        else:
            self._stop_drain.set()

    async def _read_pipes(self, loop: asyncio.AbstractEventLoop, child: Child
                          ) -> list[tuple[StreamPipeline, _PipeReader]]:
        readers = []
        for name, fd, tee in (("stdout", child.stdout, 1), ("stderr", child.stderr, 2)):
            pipeline = StreamPipeline(name, self.config, self._ids, self._deliver, self._tally,
                                      self._reporter, self._log, self._send_notice)
            self._pipelines.append(pipeline)
            reader = _PipeReader(pipeline, tee if self.config.tee else None, self._log)
            pipe = os.fdopen(fd, "rb", 0)
            transport, _ = await loop.connect_read_pipe(functools.partial(_same, reader), pipe)
            self._transports.append(transport)
            readers.append((pipeline, reader))
        return readers

    async def _tick(self, readers: list[tuple[StreamPipeline, _PipeReader]]) -> None:
        while True:
            await asyncio.sleep(TICK)
            now = time.monotonic()
            for pipeline, _ in readers:
                try:
                    pipeline.tick(now)
                except Exception as exc:  # keep ticking: timed flushes must not stop for good
                    self._log(f"internal error flushing the child's {pipeline.name}: {exc!r}")
            if self._reporter is not None:
                try:
                    self._reporter.tick(now)
                except Exception as exc:
                    self._log(f"internal error reporting to Sentry: {exc!r}")

    async def _wait_pipes(self, readers: list[tuple[StreamPipeline, _PipeReader]], deadline: float) -> None:
        """After the child exits, read until its pipes close; a grandchild may hold them open."""
        self._exiting = True
        self._resume_reading()  # what is left in the pipes is read now, whatever the policy
        closed = [reader.closed for _, reader in readers]
        stop = asyncio.ensure_future(self._stop_drain.wait())
        timeout = max(deadline - asyncio.get_running_loop().time(), 0)
        all_closed: asyncio.Future[Any] = asyncio.gather(*closed)
        await asyncio.wait([all_closed, stop], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not all(future.done() for future in closed):
            self._log("the child exited but its output pipes are still open (a background "
                      "process?); stopped reading them")
            for transport in self._transports:
                transport.close()

    def _deliver(self, chunk: Chunk) -> None:
        self._pool.put(chunk)
        blocked = self.config.on_full == "block" and not self._pool.queue.has_room()
        if blocked and not self._paused and not self._exiting:
            self._pause_until_room()

    def _pause_until_room(self) -> None:
        self._paused = True
        for transport in self._transports:
            transport.pause_reading()

        async def resume() -> None:
            await self._pool.queue.room.wait()
            self._resume_reading()

        asyncio.ensure_future(resume())

    def _resume_reading(self) -> None:
        if self._paused:
            self._paused = False
            for transport in self._transports:
                if not transport.is_closing():
                    transport.resume_reading()

    def _settled(self, chunk: Chunk, error: Exception | None) -> None:
        notice = chunk.tag == self._notices.tag
        if notice:
            self._notices_out -= chunk.count
        if error is None:
            if not notice:
                self._last_ack = now = time.monotonic()
                self._latency.observe(now - chunk.born)
                self.totals.shipped += chunk.count
                self.totals.unacked += chunk.count if chunk.unacked else 0
                self._report_drops()
        elif isinstance(error, DroppedError):
            if notice:
                self._notice_drops += chunk.count
        elif not notice:
            self._spill_chunk(chunk)

    def _report_drops(self) -> None:
        """Once delivery works again, ship one record saying how many records were dropped."""
        dropped = self._dropped()
        if dropped == self._reported_drops:
            return
        count, self._reported_drops = dropped - self._reported_drops, dropped
        self._send_notice({"message": f"dropped {count} records (buffer full, {self.config.on_full})",
                           "dropped": count, "reason": "buffer full", "policy": self.config.on_full})

    def _send_notice(self, record: dict[str, Any]) -> None:
        """Ship one of logwrap's own records (not the child's: the counts leave it out)."""
        self._notices.add((to_wire(time.time_ns()), record), 100, time.monotonic())
        self._notices_out += 1
        self._pool.put(self._notices.seal())  # type: ignore[arg-type]

    async def _deliver_rest(self, deadline: float) -> None:
        """Deliver what is buffered until the deadline; closing spills the rest."""
        timeout = max(deadline - asyncio.get_running_loop().time(), 0)
        if not await self._pool.flush(timeout, self._stop_drain):
            self._log(f"could not deliver everything within --drain-timeout "
                      f"{self.config.drain_timeout:g}s; writing the rest to stderr")
        await self._pool.close()
        self.totals.retries = self._pool.stats.retries

    def _spill_chunk(self, chunk: Chunk) -> None:
        """Write a chunk's records to stderr as JSON lines, so the supervisor's log keeps them."""
        for message in Framer().feed(chunk.payload):
            batch = interpret(message)
            self._spill.write(batch)
            self.totals.spilled += batch.count
        self._spill.flush()

    def _families(self) -> list[Family]:
        families = pipeline_families(self._reading())
        if self._tally is not None:
            families += record_families(self._tally)
        if self._reporter is not None:
            families += sentry_families(*self._reporter.outcomes())
        return families

    def _reading(self) -> PipelineReading:
        """The pipeline's state, read at once:
        records = shipped + dropped + spilled + filtered + throttled + buffered."""
        queue, stats, clients = self._pool.queue, self._pool.stats, self._pool.clients
        batching = sum(pipeline.batching for pipeline in self._pipelines)
        return PipelineReading(
            lines={p.name: p.lines for p in self._pipelines},
            records={p.name: p.records for p in self._pipelines},
            filtered={p.name: p.filtered for p in self._pipelines},
            throttled={p.name: p.throttled for p in self._pipelines},
            shipped=self.totals.shipped, dropped=self._dropped(),
            spilled=self.totals.spilled, retries=stats.retries, bytes_sent=stats.bytes_sent,
            buffer_bytes=queue.bytes, buffer_limit=queue.max_bytes or 0,
            buffered=batching + queue.records - self._notices_out,
            servers=len(clients), connected=sum(client.connected for client in clients),
            since_ack=time.monotonic() - (self._last_ack or self._started),
            child_running=self._child is not None and self._child.status is None, latency=self._latency)

    def _dropped(self) -> int:
        """The child's records the overflow policy dropped (drop notices are logwrap's own)."""
        return self._pool.queue.dropped_records - self._notice_drops

    def _unhealthy(self) -> str | None:
        """Why /healthz answers 503: the child is not running, or records wait with no ack."""
        if self._child is None:
            return "the child is not running"
        if self._child.status is not None:
            return f"the child exited (status {self._child.status})"
        queue = self._pool.queue
        waited = time.monotonic() - max(self._last_ack or self._started, queue.busy_since)
        limit = self.config.metrics.unhealthy_after
        if queue.records and waited > limit:
            return (f"records have waited {waited:.0f}s with no ack from any server "
                    f"(more than --unhealthy-after {limit:g}s)")
        return None
