"""How many events may go to Sentry: a cap per minute and a sample rate (sans-I/O)."""

from __future__ import annotations

from collections.abc import Callable


class Budget:
    """At most ``per_minute`` events a minute, as a token bucket: a burst of ``per_minute``,
    then one more every ``60 / per_minute`` seconds. A crash loop of the app's workers then
    costs Sentry a steady trickle, not a flood."""

    def __init__(self, per_minute: int, now: float) -> None:
        self.per_minute = per_minute
        self._tokens = float(per_minute)
        self._at = now

    def take(self, now: float) -> bool:
        self._tokens = min(self.per_minute, self._tokens + (now - self._at) * self.per_minute / 60)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


def sampler(rate: float, draw: Callable[[], float]) -> Callable[[], bool]:
    """Whether to send the next event: a share ``rate`` of them, drawn from ``draw`` in [0, 1)."""
    if rate >= 1:
        return lambda: True
    return lambda: draw() < rate
