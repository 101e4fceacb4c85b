"""The ``shipper`` command: parse flags, build a frozen config, call one function.

Every flag can also come from the environment (``SHIPPER_<COMMAND>_<FLAG>``, e.g.
``SHIPPER_SEND_TO``); a flag on the command line wins. A ``ShipperError`` becomes one line
on stderr and the exit code it carries — never a traceback.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

import click

from .cliparams import (
    ByteSize,
    client_options,
    connection_options,
    logger,
    metrics_config,
    metrics_options,
    parse_pairs,
    reports_errors,
    tune_gc,
)
from .errors import ConfigError
from .forward.address import parse_address
from .forward.batcher import MODES, BatchLimits
from .forward.protocol import DEFAULT_MAX_FRAME_BYTES
from .forward.server import DEFAULT_HOSTNAME, ReceiverOptions
from .forward.settlement import unacked_note
from .forward.transport import ServerTls
from .processing.flags import OrderedCommand, processing_config, processing_options
from .processing.options import compile_processing
from .receive import OUTPUTS, ReceiveConfig, run_receiver
from .render import Renderer, wants_colour
from .send import SendConfig, SendReport, send_stream
from .send_input import READERS
from .wrap.records import DEFAULT_TIME_KEYS


@click.group(context_settings={"auto_envvar_prefix": "SHIPPER", "show_default": True,
                               "help_option_names": ["-h", "--help"]})
@click.version_option(package_name="shipper")
def main() -> None:
    """Ship logs to Fluentd over the Forward protocol, and receive them."""


_COLOR = click.option("--color/--no-color", default=None,
                      help="Colour the levels [default: on a terminal, unless NO_COLOR is set].")
_VERBOSE = click.option("--verbose", "-v", is_flag=True,
                        help="Show every field (ecs.version, process.*, log.origin.*, event.id too).")


@main.command()
@click.option("--listen", "-l", multiple=True, default=["tcp://127.0.0.1:24224"],
              help="Address to listen on: tcp://HOST:PORT, tls://HOST:PORT or unix:///PATH. Repeatable.")
@click.option("--pretty", "output", flag_value="pretty", help="Human-readable output.")
@click.option("--count", "output", flag_value="count", help="Only print running totals.")
@click.option("--output", "output", type=click.Choice(OUTPUTS), default="json", hidden=True)
@_COLOR
@_VERBOSE
@click.option("--shared-key", help="Require Fluentd's <security> handshake with this key.")
@click.option("--user", "users", multiple=True, metavar="NAME:PASSWORD",
              help="With --shared-key, also require one of these users. Repeatable.")
@click.option("--hostname", default=DEFAULT_HOSTNAME, help="Our name in the handshake (self_hostname).")
@click.option("--max-frame-bytes", type=ByteSize(), default=DEFAULT_MAX_FRAME_BYTES,
              help="Close connections that send a larger message.")
@click.option("--frame-timeout", type=click.FloatRange(0, min_open=True), default=60.0,
              help="Close connections whose started message is not whole after this many seconds.")
@click.option("--socket-mode", default="0600", help="Mode of Unix sockets we create (octal).")
@click.option("--tls-cert", type=click.Path(dir_okay=False), help="Certificate for tls:// listeners.")
@click.option("--tls-key", type=click.Path(dir_okay=False), help="Private key for tls:// listeners.")
@click.option("--tls-client-ca", type=click.Path(dir_okay=False),
              help="Require client certificates signed by this CA.")
@click.option("--heartbeat/--no-heartbeat", default=True, help="Answer Fluentd's UDP heartbeat.")
@metrics_options
@reports_errors("shipper receive")
def receive(listen: tuple[str, ...], output: str, color: bool | None, verbose: bool, shared_key: str | None,
            users: tuple[str, ...], hostname: str, max_frame_bytes: int, frame_timeout: float,
            socket_mode: str, tls_cert: str | None, tls_key: str | None, tls_client_ca: str | None,
            heartbeat: bool, **metrics: Any) -> None:
    """Receive Forward protocol messages and print one JSON line per event."""
    options = ReceiverOptions(
        listen=tuple(parse_address(url) for url in listen),
        shared_key=shared_key,
        users=_users(users, shared_key),
        hostname=hostname,
        max_frame_bytes=max_frame_bytes,
        frame_timeout=frame_timeout,
        socket_mode=_octal(socket_mode),
        tls=_server_tls(tls_cert, tls_key, tls_client_ca),
        heartbeat=heartbeat,
    )
    colour = wants_colour(color, sys.stdout)
    tune_gc()
    config = ReceiveConfig(options, output or "json", colour, verbose, metrics=metrics_config(**metrics))
    asyncio.run(run_receiver(config, logger("shipper receive")))


def _users(pairs: tuple[str, ...], shared_key: str | None) -> dict[str, str]:
    if pairs and shared_key is None:
        raise ConfigError("--user needs --shared-key: users are checked in the handshake")
    return parse_pairs(pairs, ":", "--user", "NAME:PASSWORD")


def _octal(text: str) -> int:
    try:
        return int(text, 8)
    except ValueError:
        raise ConfigError(f"--socket-mode {text!r} is not an octal mode like 0600") from None


def _server_tls(cert: str | None, key: str | None, client_ca: str | None) -> ServerTls | None:
    if not cert and not key:
        return None
    if not (cert and key):
        raise ConfigError("TLS needs both --tls-cert and --tls-key")
    return ServerTls(cert, key, client_ca)


@main.command(cls=OrderedCommand)
@click.option("--to", "-t", default="tcp://127.0.0.1:24224",
              help="Server: tcp://HOST:PORT, tls://HOST:PORT or unix:///PATH.")
@click.option("--tag", default="stdin", help="Tag of every record.")
@click.option("--format", "input_format", type=click.Choice(list(READERS)), default="json",
              help="Input: JSON objects per line, plain text lines, or a msgpack stream of maps.")
@click.option("--message-key", default="message", help="Field holding a text line.")
@click.option("--time-key", help="Take the event time from this field (ISO 8601 or epoch).")
@click.option("--time-as-integer", is_flag=True, help="Send integer seconds, not EventTime (old peers).")
@click.option("--strict", is_flag=True, help="Stop (status 65) at the first line that is not a JSON object.")
@click.option("--compress", type=click.Choice(["none", "gzip"]), default="none",
              help="CompressedPackedForward (Fluentd's in_unix cannot read it).")
@click.option("--mode", type=click.Choice(MODES), default="packed",
              help="Forward protocol mode: PackedForward, Forward or Message.")
@click.option("--batch-records", type=click.IntRange(1), default=BatchLimits.max_records)
@click.option("--batch-bytes", type=ByteSize(), default=BatchLimits.max_bytes)
@click.option("--flush-interval", type=click.FloatRange(0), default=BatchLimits.interval,
              help="Seconds a record may wait for its batch to fill.")
@click.option("--retry-limit", type=click.IntRange(0), default=5, help="Resends of a chunk before giving up.")
@processing_options
@connection_options
@click.option("--quiet", "-q", is_flag=True, help="No summary line.")
@reports_errors("shipper send")
def send(to: str, tag: str, input_format: str, message_key: str, time_key: str | None,
         time_as_integer: bool, strict: bool, compress: str, mode: str, batch_records: int,
         batch_bytes: int, flush_interval: float, retry_limit: int, quiet: bool,
         **options: Any) -> None:
    """Send records read from stdin, batched, to a Forward server; exit 0 only if all were acked."""
    log = logger("shipper send")
    address = parse_address(to)
    time_keys = (time_key,) if time_key else DEFAULT_TIME_KEYS
    processing = compile_processing(processing_config(options), time_keys, ())
    for warning in () if processing is None else processing.warnings:
        log(f"warning: {warning}")
    parsing = processing is not None and processing.parser is not None
    # Parsed lines carry their time where logwrap reads it: the first of its time keys.
    time_from = time_key or (DEFAULT_TIME_KEYS if parsing else None)
    config = SendConfig(
        to=address, tag=tag, input_format=input_format, message_key=message_key,
        time_key=time_from, strict=strict, integer_time=time_as_integer, gzip=compress == "gzip",
        mode=mode, limits=BatchLimits(batch_records, batch_bytes, flush_interval),
        client=client_options([address], log, retry_limit=retry_limit, **options), processing=processing,
    )
    _check_stdin()
    tune_gc()
    started = time.monotonic()
    report = SendReport()
    try:
        asyncio.run(send_stream(0, config, log, report))
    except KeyboardInterrupt:
        log(f"interrupted; {report.records - report.delivered} records read were not acknowledged")
        sys.exit(130)
    finally:
        if not quiet:
            log(_summary(report, time.monotonic() - started))


def _check_stdin() -> None:
    try:
        os.fstat(0)
    except OSError:
        raise ConfigError("stdin is closed: pipe the records to send into shipper send") from None


def _summary(report: SendReport, seconds: float) -> str:
    left_out = f"{report.filtered} filtered, {report.throttled} throttled, " if report.filtering else ""
    return (f"{report.records} records read, {left_out}{report.delivered} delivered, {report.failed} failed, "
            f"{report.wrapped} sent as text, {report.retries} retries in {seconds:.2f}s"
            + unacked_note(report.unacked))


@main.command()
@reports_errors("shipper demo")
def demo() -> None:
    """Show records flowing: a sample web app under logwrap, shipping to a local receiver."""
    from .demo import run_demo  # imported here: only this command needs an HTTP client

    sys.exit(asyncio.run(run_demo(logger("shipper demo"), wants_colour(None, sys.stdout))))


@main.command("logging-config")
@click.option("--schema", type=click.Choice(["ecs", "flat"]),
              help="Field schema [default: LOG_SCHEMA or ecs].")
@click.option("--level", help="Root level [default: LOG_LEVEL or INFO].")
@reports_errors("shipper logging-config")
def logging_config_command(schema: str | None, level: str | None) -> None:
    """Print a logging dictConfig as JSON, e.g. for `uvicorn --log-config FILE`."""
    import json

    from .logs import logging_config

    click.echo(json.dumps(logging_config(level, schema), indent=2))


_ROOT_HELP = "The folder holding configs/ and docker-compose.yml [default: here, else the bundled ones]."


def _root(root: str | None, needs: str) -> Any:
    from pathlib import Path

    from .bundle import HERE, project_root

    found = project_root(root, needs)
    if found == HERE != Path.cwd():
        click.echo(f"using the bundled {needs} in {HERE} (`shipper init` copies them into your project)",
                   err=True)
    return found


@main.command()
@click.argument("directory", type=click.Path(file_okay=False), default=".")
@click.option("--force", is_flag=True, help="Overwrite files that exist already.")
@reports_errors("shipper init")
def init(directory: str, force: bool) -> None:
    """Write the ready-made configs/ and docker-compose.yml into DIRECTORY, for editing."""
    from pathlib import Path

    from .bundle import init as write_bundle

    written = write_bundle(Path(directory), force)
    click.echo("\n".join(f"wrote {path}" for path in written))
    click.echo(f"next: edit them, then `shipper check --root {directory}`")


@main.command()
@click.option("--root", type=click.Path(file_okay=False, exists=True), help=_ROOT_HELP)
@reports_errors("shipper check")
def check(root: str | None) -> None:
    """Check configs/ and docker-compose.yml with the real tools found here (fluentd, logrotate,
    docker compose), else with shipper's own parsers."""
    from .check import Checker, report
    from .errors import DataError

    lines, ok = report(Checker(_root(root, "configs")).check())
    click.echo("\n".join(lines))
    if not ok:
        raise DataError("some files have problems (above)")


@main.group()
def stack() -> None:
    """The local pipeline of docker-compose.yml: Elasticsearch, Kibana, Fluentd (needs Docker)."""


def _stack(root: str | None) -> Any:
    from .stack import Stack

    return Stack(_root(root, "docker-compose.yml"), say=click.echo)


_ROOT = click.option("--root", type=click.Path(file_okay=False, exists=True), help=_ROOT_HELP)


@stack.command("up")
@_ROOT
@click.option("--profile", "profiles", multiple=True, type=click.Choice(["logstash", "demo"]),
              help="Also start Logstash or the demo app under logwrap.")
@click.option("--timeout", type=click.FloatRange(1), default=600.0, help="Seconds to wait for health.")
@reports_errors("shipper stack up")
def stack_up(root: str | None, profiles: tuple[str, ...], timeout: float) -> None:
    """Start the stack and wait until every container is healthy."""
    _stack(root).up(profiles, timeout)


@stack.command("down")
@_ROOT
@click.option("--volumes", is_flag=True, help="Also delete Elasticsearch's data.")
@reports_errors("shipper stack down")
def stack_down(root: str | None, volumes: bool) -> None:
    """Stop the stack."""
    _stack(root).down(volumes)


@stack.command("status")
@_ROOT
@reports_errors("shipper stack status")
def stack_status(root: str | None) -> None:
    """Show each container and its health."""
    containers = _stack(root).status()
    click.echo("\n".join(str(c) for c in containers) if containers else "the stack is not running")


@main.group()
def es() -> None:
    """Elasticsearch: install templates and Kibana objects, read records back."""


_ES_URL = click.option("--url", default="http://localhost:9200", help="Elasticsearch URL.")


@es.command("setup")
@_ES_URL
@click.option("--kibana-url", default="http://localhost:5601", help="Kibana URL ('none' to skip Kibana).")
@click.option("--configs", type=click.Path(file_okay=False, exists=True),
              help="The configs/ directory [default: ./configs, else the bundled one].")
@reports_errors("shipper es setup")
def es_setup(url: str, kibana_url: str, configs: str | None) -> None:
    """Install the ILM policy, templates and Kibana saved objects of configs/."""
    from pathlib import Path

    from .es import Cluster, setup

    folder = Path(configs) if configs else _root(None, "configs") / "configs"
    setup(Cluster(url), folder, None if kibana_url == "none" else kibana_url, click.echo)


@es.command("tail")
@_ES_URL
@click.option("--follow", "-f", is_flag=True, help="Keep printing new records.")
@click.option("--service", help="Only this service.name.")
@click.option("--level", help="Only this log.level (info, error, ...).")
@click.option("--query", "-q", help="A query_string query, e.g. 'error.type:TimeoutError'.")
@click.option("--lines", "-n", type=click.IntRange(1, 10_000), default=20, help="How many recent records.")
@_COLOR
@_VERBOSE
@reports_errors("shipper es tail")
def es_tail(url: str, follow: bool, service: str | None, level: str | None, query: str | None,
            lines: int, color: bool | None, verbose: bool) -> None:
    """Print recent records, oldest first, like `kubectl logs`."""
    from .es import Cluster, TailQuery, tail

    render = Renderer(wants_colour(color, sys.stdout), verbose).render
    try:
        for record in tail(Cluster(url), TailQuery(service, level, query, lines), follow):
            click.echo(render(record))
    except KeyboardInterrupt:
        pass


@main.command("munin-plugin")
@click.argument("action", required=False, type=click.Choice(["config"]))
@reports_errors("shipper munin-plugin")
def munin_plugin(action: str | None) -> None:
    """A Munin plugin graphing a logwrap's /metrics: records shipped, dropped, retries, buffer.

    `config` prints the graphs, no argument their values. The page's URL comes from the
    environment variable `url` (Munin's `env.url`) [default: http://127.0.0.1:9880/metrics].
    """
    from .metrics.munin import DEFAULT_URL, plugin

    click.echo("\n".join(plugin(action, os.environ.get("url") or DEFAULT_URL)))
