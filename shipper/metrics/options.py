"""What the metrics flags ask for, checked: where to serve and where to push."""

from __future__ import annotations

from dataclasses import dataclass

from ..forward.address import Address
from .tally import DEFAULT_MAX_SERIES

DEFAULT_INTERVAL = 10.0
UNHEALTHY_AFTER = 60.0  # seconds records may wait with no ack before /healthz says 503


@dataclass(frozen=True)
class MetricsOptions:
    listen: Address | None = None
    statsd: Address | None = None
    statsd_prefix: str = ""  # empty: the command's own default
    statsd_tags: tuple[tuple[str, str], ...] = ()
    interval: float = DEFAULT_INTERVAL
    max_series: int = DEFAULT_MAX_SERIES
    unhealthy_after: float = UNHEALTHY_AFTER

    @property
    def enabled(self) -> bool:
        return self.listen is not None or self.statsd is not None
