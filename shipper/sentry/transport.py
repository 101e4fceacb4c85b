"""sentry-sdk's own HTTP transport, counting what became of each event (imported only with a DSN).

sentry-sdk does the sending: DSN and auth, envelopes, a bounded queue drained by its worker
thread, and rate limits from ``429`` with ``Retry-After`` or ``X-Sentry-Rate-Limits``. This
subclass only counts, from that thread: an event is ``sent`` once Sentry answered 2xx, and
``failed`` when sentry-sdk gives it up (unreachable, refused, rate limited, queue full). Each
envelope carries one event. The first failure is reported once, through ``warn``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sentry_sdk.transport import HttpTransport

_REASONS = {
    "network": "unreachable",
    "status_429": "rate limited (HTTP 429)",
    "self_rate_limits": "rate limited (waiting out its Retry-After)",
    "full_queue": "too slow: sentry-sdk's queue is full",
}


class Outcomes:
    """What became of the events handed to sentry-sdk, updated from its worker thread."""

    def __init__(self, warn: Callable[[str], None], where: str) -> None:
        self.sent = 0
        self.failed = 0
        self._warn = warn
        self._where = where

    def failure(self, reason: str) -> None:
        if not self.failed:
            why = _REASONS.get(reason) or reason.replace("status_", "refused (HTTP ") + ")"
            self._warn(f"cannot send events to Sentry at {self._where}: {why}; the logs are not affected, "
                       "and the events not sent are counted as dropped")
        self.failed += 1


class CountingTransport(HttpTransport):
    outcomes: Outcomes | None = None  # set by the reporter once the client made it

    def _handle_response(self, response: Any, envelope: Any) -> None:
        super()._handle_response(response=response, envelope=envelope)
        if self.outcomes is not None and 200 <= response.status < 300:
            self.outcomes.sent += 1

    def on_dropped_event(self, reason: str) -> None:
        super().on_dropped_event(reason)
        if self.outcomes is not None:
            self.outcomes.failure(reason)
