"""Click pieces shared by ``shipper`` and ``logwrap``: sizes, error reporting, and the
options that describe how to reach a Forward server (timeouts, shared key, TLS)."""

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
from .forward.address import Address
from .forward.client import ClientOptions, Security
from .forward.transport import TlsOptions

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
