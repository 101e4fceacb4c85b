"""Click pieces shared by ``shipper`` and ``logwrap``: sizes, error reporting, the options
that describe how to reach a Forward server (timeouts, shared key, TLS), and the metrics
options."""

from __future__ import annotations

import functools
import gc
import re
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from .errors import ConfigError, ShipperError
from .forward.address import Address, parse_endpoint
from .forward.client import ClientOptions, Security
from .forward.transport import TlsOptions
from .metrics.options import DEFAULT_INTERVAL, UNHEALTHY_AFTER, MetricsOptions
from .metrics.tally import DEFAULT_MAX_SERIES

F = TypeVar("F", bound=Callable[..., Any])
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


class ByteSize(click.ParamType):
    """``65536``, ``64k``, ``32MiB``, ``1G``: binary units."""

    name = "size"

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        if isinstance(value, int):
            return value
        match = re.fullmatch(r"\s*(\d+)\s*([kmg]?)(i?b)?\s*", str(value), re.IGNORECASE)
        if not match:
            self.fail(f"{value!r} is not a size like 65536, 64k or 32MiB", param, ctx)
        return int(match.group(1)) * _UNITS[match.group(2).lower()]


class SignalName(click.ParamType):
    """``TERM``, ``SIGTERM`` or ``15``; ``none`` for no signal (None)."""

    name = "signal"

    def convert(self, value: Any, param: Any, ctx: Any) -> int | None:
        if value is None or isinstance(value, int):
            return value
        text = str(value).strip().upper()
        if text == "NONE":
            return None
        try:
            return int(signal.Signals(int(text)) if text.isdigit() else signal.Signals[
                text if text.startswith("SIG") else f"SIG{text}"])
        except (KeyError, ValueError):
            self.fail(f"{value!r} is not a signal: write a name like TERM or KILL, a number, or none",
                      param, ctx)


def reports_errors(prefix: str) -> Callable[[F], F]:
    """Turn ``ShipperError`` into ``<prefix>: message`` on stderr and its exit code."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except ShipperError as exc:
                click.echo(f"{prefix}: {exc}", err=True)
                sys.exit(exc.exit_code)

        return wrapper  # type: ignore[return-value]

    return decorate


def logger(prefix: str) -> Callable[[str], None]:
    return lambda message: click.echo(f"{prefix}: {message}", err=True)


def parse_pairs(pairs: Sequence[str], separator: str, flag: str, shape: str) -> dict[str, str]:
    """``("a=1", "b=2")`` as ``{"a": "1", "b": "2"}``; a malformed pair names ``flag`` and ``shape``."""
    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition(separator)
        if not sep or not key:
            raise ConfigError(f"{flag} {pair!r}: write {shape}")
        parsed[key] = value
    return parsed


def tune_gc() -> None:
    """Records are short-lived and acyclic: frequent young-generation scans only cost time."""
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


_CONNECTION_OPTIONS = [
    click.option("--ack/--no-ack", default=True,
                 help="Wait for the server's ack of every chunk (a Unix-socket server that never "
                      "acks, like Fluentd's in_unix, is found within a second)."),
    click.option("--connect-timeout", type=click.FloatRange(0, min_open=True), default=5.0,
                 help="Seconds to connect and finish the handshake."),
    click.option("--write-timeout", type=click.FloatRange(0, min_open=True), default=10.0,
                 help="Seconds a write may wait for the server to read."),
    click.option("--ack-timeout", type=click.FloatRange(0, min_open=True), default=15.0,
                 help="Seconds to wait for a chunk's ack before resending it."),
    click.option("--shared-key", help="Do Fluentd's <security> handshake with this key."),
    click.option("--hostname", default=socket.gethostname, show_default="this host's name",
                 help="Our name in the handshake (self_hostname)."),
    click.option("--username", default="", help="User for the handshake's user auth."),
    click.option("--password", default="", help="Password for the handshake's user auth."),
    click.option("--tls-ca", type=click.Path(dir_okay=False), help="CA file to verify tls:// servers."),
    click.option("--tls-cert", type=click.Path(dir_okay=False), help="Client certificate for tls://."),
    click.option("--tls-key", type=click.Path(dir_okay=False), help="Key of the client certificate."),
    click.option("--tls-verify/--tls-no-verify", default=True, help="Verify the server's certificate."),
]


def connection_options(func: F) -> F:
    """Add the options that say how to reach a Forward server."""
    for option in reversed(_CONNECTION_OPTIONS):
        func = option(func)
    return func


def client_options(addresses: Sequence[Address], warn: Callable[[str], None], *, ack: bool,
                   connect_timeout: float, write_timeout: float, ack_timeout: float,
                   shared_key: str | None, hostname: str, username: str, password: str,
                   tls_ca: str | None, tls_cert: str | None, tls_key: str | None, tls_verify: bool,
                   **extra: Any) -> ClientOptions:
    """``ClientOptions`` from the values of ``connection_options`` (``extra`` passes through)."""
    return ClientOptions(
        ack=ack, connect_timeout=connect_timeout, write_timeout=write_timeout,
        ack_timeout=ack_timeout,
        tls=_tls(addresses, warn, tls_ca, tls_cert, tls_key, tls_verify),
        security=Security(shared_key, hostname, username, password) if shared_key else None,
        **extra,
    )


def _tls(addresses: Sequence[Address], warn: Callable[[str], None], ca: str | None, cert: str | None,
         key: str | None, verify: bool) -> TlsOptions | None:
    if not any(address.scheme == "tls" for address in addresses):
        if ca or cert or key:
            raise ConfigError("TLS options need a tls:// address")
        return None
    if bool(cert) != bool(key):
        raise ConfigError("a client certificate needs both --tls-cert and --tls-key")
    if not verify:
        warn("warning: --tls-no-verify: the server is not authenticated")
    return TlsOptions(ca, cert, key, verify)


_METRICS_OPTIONS = [
    click.option("--metrics-listen", metavar="tcp://HOST:PORT",
                 help="Serve Prometheus /metrics and /healthz here (port 0: a free one)."),
    click.option("--statsd", metavar="udp://HOST:PORT", help="Push metrics to this StatsD."),
    click.option("--statsd-prefix", default="", show_default="logwrap.TAG, or shipper.receive",
                 help="Prefix of the StatsD names."),
    click.option("--statsd-tag", "statsd_tags", multiple=True, metavar="KEY:VALUE",
                 help="Add a DogStatsD tag to every StatsD line."),
    click.option("--metrics-interval", type=click.FloatRange(0, min_open=True), default=DEFAULT_INTERVAL,
                 help="Seconds between StatsD pushes (and one more at exit)."),
]
_PIPELINE_METRICS_OPTIONS = [  # logwrap's only: its records and its delivery
    click.option("--metrics-max-series", type=click.IntRange(1), default=DEFAULT_MAX_SERIES,
                 help="Names kept per metric found in records; more are counted as 'other'."),
    click.option("--unhealthy-after", type=click.FloatRange(0, min_open=True), default=UNHEALTHY_AFTER,
                 help="/healthz says 503 once records have waited this long with no ack."),
]


def metrics_options(func: F) -> F:
    """Add the options that say where the metrics go."""
    for option in reversed(_METRICS_OPTIONS):
        func = option(func)
    return func


def pipeline_metrics_options(func: F) -> F:
    """Add the options about the metrics of logwrap's records and delivery."""
    for option in reversed(_PIPELINE_METRICS_OPTIONS):
        func = option(func)
    return func


def metrics_config(metrics_listen: str | None, statsd: str | None, statsd_prefix: str,
                   statsd_tags: Sequence[str], metrics_interval: float,
                   metrics_max_series: int = DEFAULT_MAX_SERIES,
                   unhealthy_after: float = UNHEALTHY_AFTER) -> MetricsOptions:
    """``MetricsOptions`` from the values of ``metrics_options``."""
    return MetricsOptions(
        listen=parse_endpoint(metrics_listen, "tcp", "--metrics-listen", 9880) if metrics_listen else None,
        statsd=parse_endpoint(statsd, "udp", "--statsd", 8125) if statsd else None,
        statsd_prefix=statsd_prefix,
        statsd_tags=tuple(parse_pairs(statsd_tags, ":", "--statsd-tag", "KEY:VALUE").items()),
        interval=metrics_interval, max_series=metrics_max_series, unhealthy_after=unhealthy_after)
