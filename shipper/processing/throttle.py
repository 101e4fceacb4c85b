"""``--throttle N/s``: a token bucket per stream, like Fluent Bit's throttle filter (sans-I/O).

The bucket holds ``burst`` records (``N`` unless given) and refills at ``N`` per interval. The
records over it are throttled: counted, not shipped. One notice per interval at most says how
many were throttled since the last one, so a flood shows up in the logs as one line a second
(or a minute), not as silence.

The bucket is checked once per read of the child's pipe (a batch of lines), not per line:
``quota`` is what that batch may ship, ``spend`` what it shipped and throttled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Rate:
    count: int
    per: float  # seconds: 1 or 60
    burst: int

    def __str__(self) -> str:
        unit = "s" if self.per == 1 else "m"
        burst = "" if self.burst == self.count else f":{self.burst}"
        return f"{self.count}/{unit}{burst}"


class Throttle:
    def __init__(self, rate: Rate, now: float) -> None:
        self.rate = rate
        self._tokens = float(rate.burst)
        self._refilled = now
        self._noticed = now
        self.throttled = 0  # in all
        self._unnoticed = 0

    def quota(self, now: float) -> int:
        """Records that may be shipped now."""
        elapsed = max(now - self._refilled, 0.0)
        self._tokens = min(self.rate.burst, self._tokens + elapsed * self.rate.count / self.rate.per)
        self._refilled = now
        return int(self._tokens)

    def spend(self, shipped: int, throttled: int) -> None:
        self._tokens -= shipped
        self.throttled += throttled
        self._unnoticed += throttled

    def notice(self, now: float, final: bool = False) -> int:
        """How many records to report as throttled now: once an interval, or at the end."""
        if not self._unnoticed or (now - self._noticed < self.rate.per and not final):
            return 0
        count, self._unnoticed, self._noticed = self._unnoticed, 0, now
        return count


def notice_record(count: int, rate: Rate, stream: str | None = None) -> dict[str, Any]:
    """The record saying that ``count`` records (of ``stream``) were over ``rate``."""
    of = f" of {stream}" if stream else ""
    record: dict[str, Any] = {"message": f"throttled {count} records{of} (over --throttle {rate})",
                              "log.level": "warning"}
    if stream:
        record["stream"] = stream
    return {**record, "throttled": count, "reason": "throttle", "rate": str(rate)}
