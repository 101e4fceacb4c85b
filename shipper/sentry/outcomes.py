"""What became of the events handed to sentry-sdk (sans-I/O; updated from several threads).

sentry-sdk's worker thread counts an event ``sent`` when Sentry answered 2xx; any thread may
count one ``failed`` (unreachable, refused, rate limited, queue full, no client). The first
failure is reported once, through ``warn``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

_REASONS = {
    "network": "unreachable",
    "status_429": "rate limited (HTTP 429)",
    "self_rate_limits": "rate limited (waiting out its Retry-After)",
    "full_queue": "too slow: sentry-sdk's queue is full",
}


class Outcomes:
    def __init__(self, warn: Callable[[str], None], where: str) -> None:
        self.sent = 0
        self.failed = 0
        self._warn = warn
        self._where = where
        self._lock = threading.Lock()

    def success(self) -> None:
        with self._lock:
            self.sent += 1

    def failure(self, reason: str, warn: bool = True) -> None:
        with self._lock:
            first = not self.failed
            self.failed += 1
        if first and warn:
            self._warn(f"cannot send events to Sentry at {self._where}: {describe(reason)}; the logs are "
                       "not affected, and the events not sent are counted as dropped")


def describe(reason: str) -> str:
    """sentry-sdk's name for a loss ("status_503") in words ("refused (HTTP 503)")."""
    if reason in _REASONS:
        return _REASONS[reason]
    if reason.startswith("status_"):
        return f"refused (HTTP {reason.removeprefix('status_')})"
    return reason
