"""Peer addresses as URLs: ``tcp://host:port``, ``tls://host:port``, ``unix:///path`` (and the
metrics' ``tcp://`` and ``udp://`` endpoints)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from ..errors import ConfigError

DEFAULT_PORT = 24224
SCHEMES = ("tcp", "tls", "unix")


@dataclass(frozen=True)
class Address:
    scheme: str
    host: str = ""
    port: int = 0
    path: str = ""

    @property
    def is_unix(self) -> bool:
        return self.scheme == "unix"

    def __str__(self) -> str:
        if self.is_unix:
            return f"unix://{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def parse_address(url: str) -> Address:
    """Parse a peer URL; ``host:port`` alone means TCP and ``/path`` alone a Unix socket."""
    if url.startswith("/"):
        return Address("unix", path=url)
    if "://" not in url:
        url = f"tcp://{url}"
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ConfigError(f"address {url!r}: scheme must be one of {', '.join(SCHEMES)}")
    if parts.scheme == "unix":
        return _unix(url, parts.netloc + parts.path)
    return _host_port(parts, f"address {url!r}", DEFAULT_PORT, "tcp://127.0.0.1:24224")


def parse_endpoint(url: str, scheme: str, flag: str, default_port: int) -> Address:
    """A metrics endpoint: ``scheme://host:port``, or ``host:port`` alone."""
    example = f"{scheme}://127.0.0.1:{default_port}"
    if url.isdigit():
        raise ConfigError(f"{flag} {url!r}: give the host too, as in {scheme}://127.0.0.1:{url} "
                          f"(or 0.0.0.0:{url} for every interface)")
    parts = urlsplit(url if "://" in url else f"{scheme}://{url}")
    if parts.scheme != scheme:
        raise ConfigError(f"{flag} {url!r}: the scheme must be {scheme}://, as in {example}")
    return _host_port(parts, f"{flag} {url!r}", default_port, example)


def _host_port(parts: SplitResult, what: str, default_port: int, example: str) -> Address:
    try:
        port = default_port if parts.port is None else parts.port
    except ValueError:
        raise ConfigError(f"{what}: the port must be a number from 0 to 65535") from None
    if not parts.hostname:
        raise ConfigError(f"{what} has no host; write e.g. {example}")
    return Address(parts.scheme, parts.hostname, port)


def _unix(url: str, path: str) -> Address:
    if not path:
        raise ConfigError(f"address {url!r} has no socket path; write e.g. unix:///run/fluent.sock")
    return Address("unix", path=path)
