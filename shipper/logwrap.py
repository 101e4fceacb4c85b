"""The ``logwrap`` command: ``logwrap [OPTIONS] -- CMD [ARGS...]``.

Every option can also come from the environment as ``LOGWRAP_<OPTION>`` (``LOGWRAP_TO``,
``LOGWRAP_TAG``...); a flag on the command line wins. ``option_table()`` renders them all for
the README, and a test keeps the README's table equal to it.
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import replace
from typing import Any

import click

from .cliparams import (
    ByteSize,
    SignalName,
    client_options,
    connection_options,
    logger,
    metrics_config,
    metrics_options,
    parse_pairs,
    pipeline_metrics_options,
    reports_errors,
    tune_gc,
)
from .forward.address import parse_address
from .forward.batcher import BatchLimits
from .forward.queue import POLICIES
from .processing.flags import OrderedCommand, processing_config, processing_options
from .processing.options import compile_processing
from .sentry.options import DEFAULT_BREADCRUMBS, DEFAULT_MAX_EVENTS, REPORTS, SentryOptions, check_dsn
from .wrap.memory import return_large_buffers_to_the_os
from .wrap.records import DEFAULT_TIME_KEYS, RecordOptions
from .wrap.runtime import WrapConfig, Wrapper

ENV_PREFIX = "LOGWRAP"


@click.command(cls=OrderedCommand, context_settings={
    "auto_envvar_prefix": ENV_PREFIX, "show_default": True, "help_option_names": ["-h", "--help"],
    "allow_interspersed_args": False,
})
@click.option("--to", "-t", multiple=True, default=["tcp://127.0.0.1:24224"],
              help="Forward server: tcp://, tls:// or unix://. Repeat for several (failover).")
@click.option("--tag", default="", help="Tag of the records [default: the command's base name].")
@click.option("--tag-stream", is_flag=True, help="Suffix the tag with .stdout or .stderr.")
@click.option("--label", "labels", multiple=True, metavar="KEY=VALUE", help="Add a field to every record.")
@processing_options
@click.option("--time-key", "time_keys", multiple=True, default=list(DEFAULT_TIME_KEYS),
              help="Fields that hold the event time, first found wins.")
@click.option("--id-key", default="event.id", help="Field for each record's unique id.")
@click.option("--multiline", type=click.Choice(["python", "indent", "none"]), default="python",
              help="Group tracebacks (python) or indented continuation lines (indent).")
@click.option("--multiline-timeout", type=click.FloatRange(0, min_open=True), default=1.0,
              help="Seconds a pending group waits for its next line.")
@click.option("--max-line-bytes", type=ByteSize(), default="1MiB",
              help="Longer lines are shipped as numbered parts.")
@click.option("--buffer-bytes", type=ByteSize(), default="64MiB",
              help="Memory for records not yet acknowledged.")
@click.option("--on-full", type=click.Choice(POLICIES), default="drop-oldest",
              help="What to do when the buffer is full (block pauses the child's output).")
@click.option("--flush-interval", type=click.FloatRange(0, min_open=True), default=0.1,
              help="Seconds a record may wait for its batch to fill.")
@click.option("--batch-records", type=click.IntRange(1), default=BatchLimits.max_records,
              help="A batch is sent when it holds this many records...")
@click.option("--batch-bytes", type=ByteSize(), default="1MiB", help="...or this many bytes.")
@click.option("--compress", type=click.Choice(["none", "gzip"]), default="none",
              help="CompressedPackedForward (Fluentd's in_unix cannot read it).")
@click.option("--drain-timeout", type=click.FloatRange(0), default=5.0,
              help="Seconds to deliver what is buffered after the child exits.")
@click.option("--tee", is_flag=True, help="Also copy the child's output to our stdout and stderr.")
@click.option("--death-signal", type=SignalName(), default="TERM",
              help="Sent to the child if logwrap itself is killed (kill -9, OOM); none: let it run on. "
                   "Lost if the child changes user (gosu, gunicorn --user).")
@connection_options
@metrics_options
@pipeline_metrics_options
@click.option("--sentry-dsn", default=None,
              help="Send the child's tracebacks and crashes to this Sentry project (SENTRY_DSN is not read).")
@click.option("--sentry-report", type=click.Choice(REPORTS), default="all",
              help="What becomes a Sentry event: records with a traceback, the child's crash, or both.")
@click.option("--sentry-release", default=None, show_default="$SERVICE_VERSION", help="The events' release.")
@click.option("--sentry-breadcrumbs", type=click.IntRange(0), default=DEFAULT_BREADCRUMBS,
              help="The child's last records sent with a crash event.")
@click.option("--sentry-sample-rate", type=click.FloatRange(0, 1), default=1.0,
              help="Share of traceback events sent (crashes always are).")
@click.option("--sentry-max-events", type=click.IntRange(1), default=DEFAULT_MAX_EVENTS,
              help="Traceback events sent per minute at most; the rest are counted as dropped.")
@click.version_option(package_name="shipper", prog_name="logwrap")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@reports_errors("logwrap")
def main(to: tuple[str, ...], tag: str, tag_stream: bool, labels: tuple[str, ...],
         time_keys: tuple[str, ...], id_key: str, multiline: str, multiline_timeout: float,
         max_line_bytes: int, buffer_bytes: int, on_full: str, flush_interval: float,
         batch_records: int, batch_bytes: int, compress: str, drain_timeout: float, tee: bool,
         death_signal: int | None, command: tuple[str, ...], metrics_listen: str | None, statsd: str | None,
         statsd_prefix: str, statsd_tags: tuple[str, ...], metrics_interval: float, metrics_max_series: int,
         unhealthy_after: float, sentry_dsn: str | None, sentry_report: str, sentry_release: str | None,
         sentry_breadcrumbs: int, sentry_sample_rate: float, sentry_max_events: int,
         **options: Any) -> None:
    """Run COMMAND and ship what it prints to Fluentd, without touching the disk.

    Exits with COMMAND's status (128+N if signal N killed it).
    """
    log = logger("logwrap")
    addresses = tuple(parse_address(url) for url in to)
    fields = parse_pairs(labels, "=", "--label", "KEY=VALUE")
    records = RecordOptions(time_keys=time_keys, id_key=id_key, labels=fields)
    processing = compile_processing(processing_config(options), time_keys, records.reserved)
    for warning in () if processing is None else processing.warnings:
        log(f"warning: {warning}")
    config = WrapConfig(
        command=command, to=addresses, tag=tag, tag_stream=tag_stream,
        records=replace(records, processing=processing),
        multiline=multiline, multiline_timeout=multiline_timeout, max_line_bytes=max_line_bytes,
        buffer_bytes=buffer_bytes, on_full=on_full,
        limits=BatchLimits(batch_records, batch_bytes, flush_interval), gzip=compress == "gzip",
        client=client_options(addresses, log, **options), drain_timeout=drain_timeout, tee=tee,
        death_signal=death_signal,
        metrics=metrics_config(metrics_listen, statsd, statsd_prefix, statsd_tags, metrics_interval,
                               metrics_max_series, unhealthy_after),
        sentry=SentryOptions(
            dsn=check_dsn(sentry_dsn) if sentry_dsn else None, report=sentry_report,
            release=sentry_release or os.environ.get("SERVICE_VERSION") or None,
            environment=os.environ.get("SERVICE_ENVIRONMENT") or None, breadcrumbs=sentry_breadcrumbs,
            sample_rate=sentry_sample_rate, max_events=sentry_max_events),
    )
    tune_gc()
    return_large_buffers_to_the_os()
    sys.exit(asyncio.run(Wrapper(config, log).run()))


def option_table() -> str:
    """A Markdown table of every option, its environment variable and its default."""
    rows = ["| option | environment | default | meaning |", "|---|---|---|---|"]
    for param in main.params:
        if not isinstance(param, click.Option) or not param.expose_value:  # --version
            continue
        flag = " / ".join(param.opts + param.secondary_opts)
        env = f"{ENV_PREFIX}_{param.name.upper()}" if param.name else ""
        default = param.show_default if isinstance(param.show_default, str) else _shown_default(param.default)
        meaning = (param.help or "").replace("|", "\\|")
        rows.append(f"| `{flag}` | `{env}` | {default} | {meaning} |")
    return "\n".join(rows) + "\n"


def _shown_default(default: Any) -> str:
    if not isinstance(default, (str, int, float, list, tuple)) or default in ("", False) or default == ():
        return ""
    if isinstance(default, (list, tuple)):
        return ", ".join(f"`{item}`" for item in default)
    return f"`{default}`"


if __name__ == "__main__":
    main()
