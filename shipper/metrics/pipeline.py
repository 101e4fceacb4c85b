"""logwrap's own health as metric families, from one reading of its state (sans-I/O).

The reading is taken in one go on the event loop, so a scrape always adds up:
records = shipped + dropped + spilled + filtered + throttled + buffered.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import Family, counter, gauge, histogram
from .tally import RecordTally
from .timing import Timing


@dataclass(frozen=True)
class PipelineReading:
    lines: dict[str, int]  # by stream
    records: dict[str, int]  # by stream
    filtered: dict[str, int]  # by stream: left out by --drop, --keep
    throttled: dict[str, int]  # by stream: over --throttle
    shipped: int
    dropped: int
    spilled: int
    retries: int
    bytes_sent: int
    buffer_bytes: int
    buffer_limit: int
    buffered: int  # records built and not yet settled: batching, queued or in flight
    servers: int
    connected: int
    since_ack: float
    child_running: bool
    latency: Timing


def pipeline_families(r: PipelineReading) -> list[Family]:
    return [
        Family("lines_read", "counter", "Lines read from the child, by stream.", "lines_read", ("stream",),
               {(stream,): n for stream, n in r.lines.items()}),
        Family("records", "counter", "Records built from those lines, by stream.", "records.built",
               ("stream",), {(stream,): n for stream, n in r.records.items()}),
        Family("records_filtered", "counter", "Records left out by --drop or --keep, by stream.",
               "records.filtered", ("stream",), {(stream,): n for stream, n in r.filtered.items()}),
        Family("records_throttled", "counter", "Records over --throttle, by stream.", "records.throttled",
               ("stream",), {(stream,): n for stream, n in r.throttled.items()}),
        counter("records_shipped", "Records the server acknowledged (or read, when it does not ack).",
                "records.shipped", r.shipped),
        Family("records_dropped", "counter", "Records dropped, by reason.", "records.dropped", ("reason",),
               {("buffer_full",): r.dropped}),
        counter("records_spilled", "Records given up on and written to stderr.", "records.spilled",
                r.spilled),
        counter("retries", "Chunks sent again.", "retries", r.retries),
        counter("bytes_sent", "Bytes of chunks sent, resends included.", "bytes_sent", r.bytes_sent),
        gauge("buffer_bytes", "Bytes of chunks queued or awaiting an ack.", "buffer.bytes", r.buffer_bytes),
        gauge("buffer_limit_bytes", "The buffer's bound (--buffer-bytes).", "buffer.limit_bytes",
              r.buffer_limit),
        gauge("buffer_records", "Records built and not yet shipped, dropped or spilled.", "buffer.records",
              r.buffered),
        gauge("servers", "Servers configured (--to).", "servers.configured", r.servers),
        gauge("servers_connected", "Servers with an open connection.", "servers.connected", r.connected),
        gauge("seconds_since_last_ack", "Seconds since a server last acknowledged a chunk "
              "(or since the start).", "seconds_since_last_ack", r.since_ack),
        gauge("child_running", "1 while the wrapped command runs.", "child_running", int(r.child_running)),
        histogram("delivery_latency_seconds", "Seconds from reading a chunk's first line to its ack.",
                  "delivery_latency", r.latency),
    ]


def record_families(tally: RecordTally) -> list[Family]:
    """The metrics found in the records themselves."""
    named = tally.named()
    return [
        Family("log_records", "counter", "Records by log.level.", "log.level", ("level",),
               {(level,): n for level, n in named.levels.items()}),
        Family("errors", "counter", "Records by error.type.", "errors", ("type",),
               {(kind,): n for kind, n in named.errors.items()}),
        Family("http_requests", "counter", "HTTP access records by method and status class.", "http.requests",
               ("method", "status_class"), {pair: n for pair, n in named.requests.items()}),
        histogram("http_request_duration_seconds", "Duration of the HTTP requests in access records.",
                  "http.request_duration", tally.durations),
        Family("metrics_series_overflow", "counter",
               "Values counted under 'other' because a metric had --metrics-max-series already.",
               "metrics.series_overflow", ("metric",),
               {(name,): n for name, n in sorted(named.overflow.items())}),
    ]


def sentry_families(outcomes: dict[str, int], pending: int) -> list[Family]:
    """What became of the Sentry events logwrap made (``--sentry-dsn``)."""
    return [
        Family("sentry_events", "counter", "Sentry events by outcome: sent, failed (unreachable, refused, "
               "rate limited), over_cap (--sentry-max-events), sampled_out.", "sentry.events", ("outcome",),
               {(outcome,): n for outcome, n in outcomes.items()}),
        gauge("sentry_events_pending", "Sentry events queued in sentry-sdk, not yet sent or failed.",
              "sentry.events_pending", pending),
    ]
