"""What the metrics flags ask for, checked: where to serve and where to push."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from ..errors import ConfigError
from .tally import DEFAULT_MAX_SERIES

DEFAULT_INTERVAL = 10.0


@dataclass(frozen=True)
class Endpoint:
    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def parse_endpoint(url: str, scheme: str, flag: str, default_port: int) -> Endpoint:
    """``scheme://host:port``, or ``host:port`` alone."""
    example = f"{scheme}://127.0.0.1:{default_port}"
    parts = urlsplit(url if "://" in url else f"{scheme}://{url}")
    if parts.scheme != scheme:
        raise ConfigError(f"{flag} {url!r}: the scheme must be {scheme}://, as in {example}")
    try:
        port = default_port if parts.port is None else parts.port
    except ValueError:
        raise ConfigError(f"{flag} {url!r}: the port must be a number from 0 to 65535") from None
    if not parts.hostname:
        raise ConfigError(f"{flag} {url!r} has no host; write e.g. {example}")
    return Endpoint(scheme, parts.hostname, port)


@dataclass(frozen=True)
class MetricsOptions:
    listen: Endpoint | None = None
    statsd: Endpoint | None = None
    statsd_prefix: str = ""  # empty: the command's own default
    statsd_tags: tuple[tuple[str, str], ...] = ()
    interval: float = DEFAULT_INTERVAL
    max_series: int = DEFAULT_MAX_SERIES
    unhealthy_after: float = 60.0  # seconds records may wait with no ack before /healthz says 503

    @property
    def enabled(self) -> bool:
        return self.listen is not None or self.statsd is not None
