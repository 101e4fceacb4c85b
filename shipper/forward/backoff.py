"""Reconnect delays: a pure generator, so tests read the schedule without sleeping."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator


def backoff(
    base: float = 0.5,
    cap: float = 30.0,
    factor: float = 2.0,
    rand: Callable[[], float] = random.random,
) -> Iterator[float]:
    """Exponential delays with "equal jitter": each in [d/2, d) where d doubles up to ``cap``.

    The jitter keeps a fleet of clients from reconnecting in lockstep after a collector
    restart; the lower half-bound keeps the delay from collapsing to zero.
    """
    delay = base
    while True:
        yield delay / 2 + rand() * delay / 2
        delay = min(cap, delay * factor)
