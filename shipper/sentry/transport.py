"""sentry-sdk's own HTTP transport, counting what became of each event (imported only with a client).

sentry-sdk does the sending: DSN and auth, envelopes, a bounded queue drained by its worker
thread, and rate limits from ``429`` with ``Retry-After`` or ``X-Sentry-Rate-Limits``. The
subclass only counts into an ``Outcomes``: an envelope holding an event is sent once Sentry
answered 2xx, and failed when sentry-sdk gives it up (``on_dropped_event``, once per envelope).
logwrap puts one event in each envelope.
"""

from __future__ import annotations

from typing import Any

from sentry_sdk.transport import HttpTransport

from .outcomes import Outcomes


class CountingTransport(HttpTransport):
    outcomes: Outcomes

    def _handle_response(self, response: Any, envelope: Any) -> None:
        super()._handle_response(response=response, envelope=envelope)
        if 200 <= response.status < 300 and envelope is not None and _holds_event(envelope):
            self.outcomes.success()

    def on_dropped_event(self, reason: str) -> None:
        super().on_dropped_event(reason)
        self.outcomes.failure(reason)


def counting_transport(outcomes: Outcomes) -> type[CountingTransport]:
    """The class sentry-sdk makes its transport from, bound to ``outcomes``: a class attribute, so
    that it counts even when sentry-sdk wraps the instance (SENTRY_PRINT_ENVELOPES)."""
    return type("CountingTransport", (CountingTransport,), {"outcomes": outcomes})


def _holds_event(envelope: Any) -> bool:
    return any(item.type == "event" for item in envelope.items)
