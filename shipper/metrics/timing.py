"""A histogram of durations, with a bounded sample of them for StatsD timers (sans-I/O).

The cells are an ``array('d')`` so that the C extension can count into them directly: one
count per bucket (each bound, then +Inf), then the sum. Counts stay exact up to 2**53.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left

# prometheus-client's default buckets, in seconds.
DEFAULT_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
MAX_SAMPLES = 1000  # per StatsD flush; the rest is sent as a sample rate


class Timing:
    def __init__(self, bounds: tuple[float, ...] = DEFAULT_BOUNDS, max_samples: int = MAX_SAMPLES) -> None:
        self.bounds = array("d", bounds)
        self.cells = array("d", bytes(8 * (len(bounds) + 2)))
        self.samples: list[float] = []
        self.max_samples = max_samples
        self._drained = 0.0

    def observe(self, seconds: float) -> None:
        """What the C extension does for each duration it finds, in Python."""
        self.cells[bisect_left(self.bounds, seconds)] += 1
        self.cells[-1] += seconds
        if len(self.samples) < self.max_samples:
            self.samples.append(seconds)

    @property
    def count(self) -> float:
        return sum(self.cells[:-1])

    @property
    def sum(self) -> float:
        return self.cells[-1]

    def buckets(self) -> list[tuple[str, float]]:
        """Cumulative counts by upper bound, as Prometheus exposes them."""
        total, out = 0.0, []
        for bound, count in zip([*map(_bound, self.bounds), "+Inf"], self.cells[:-1], strict=True):
            total += count
            out.append((bound, total))
        return out

    def drain(self) -> tuple[list[float], float]:
        """The samples since the last drain, and how many durations they stand for."""
        samples, self.samples[:] = list(self.samples), []
        count = self.count
        seen, self._drained = count - self._drained, count
        return samples, seen


def _bound(value: float) -> str:
    return repr(float(value))
