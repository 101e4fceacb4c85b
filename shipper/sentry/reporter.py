"""logwrap's Sentry reporter: caught records and the child's end, to events sent by sentry-sdk.

sentry-sdk is imported, and its client made, at the first event: a run with no error pays
nothing for it. The record builders catch the packed entries of records that may carry a traceback (the C
extension does it with no Python code per line), and ``caught`` reads them. A traceback costs
nothing more until it is let through: the sample rate and the cap per minute are checked
before its text is parsed. ``capture_event`` only queues: sentry-sdk's worker thread sends, so
the child's pipes never wait for Sentry. At exit, ``close`` gives it what is left of the
drain deadline and no more; what is not sent by then counts as dropped.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import msgspec

from ..forward.eventtime import from_wire
from .breadcrumbs import Recent, breadcrumbs
from .budget import Budget, sampler
from .event import Context, Exit, Traceback, crash_event, tags_of, traceback_event, traceback_of
from .options import SentryOptions

JUST_BEFORE = 50  # records: a traceback this recent when the child dies is the crash's exception
FAULT_GRACE = 2.0  # seconds a fatal error's dump waits for the child's death before it is sent alone


@dataclass
class EventCounts:
    """What became of the events: captured (handed to sentry-sdk) = sent + dropped at exit."""

    captured: int = 0
    sent: int = 0
    capped: int = 0  # over --sentry-max-events
    sampled_out: int = 0

    def summary(self) -> str:
        undelivered = self.captured - self.sent
        why = [f"{count} {reason}" for count, reason in ((undelivered, "not delivered"),
                                                         (self.capped, "over --sentry-max-events")) if count]
        details = f" ({', '.join(why)})" if why else ""
        sampled = f", {self.sampled_out} sampled out" if self.sampled_out else ""
        return f"sentry: {self.sent} events sent, {undelivered + self.capped} dropped{details}{sampled}"


class Reporter:
    def __init__(self, options: SentryOptions, name: str, context: Context, records: Callable[[], int],
                 warn: Callable[[str], None]) -> None:
        self.options = options
        self.counts = EventCounts()
        self._name = name
        self._context = context
        self._records = records
        self._warn = warn
        self._budget = Budget(options.max_events, time.monotonic())
        self._sample = sampler(options.sample_rate, random.random)
        self._last: tuple[int, dict[Any, Any], Traceback] | None = None  # (records then, record, traceback)
        self._fault: tuple[float, dict[Any, Any], Traceback, Any] | None = None  # a dump awaiting the crash
        # Made by a thread at the first event: a run with none never imports sentry-sdk, and its
        # import (0.1-0.2 s) never holds up the child's pipes. Events wait in _pending until then.
        self._client: Any = None
        self._outcomes: Any = None
        self._pending: list[dict[str, Any]] = []
        self._maker: threading.Thread | None = None
        self._lock = threading.Lock()
        self._decode = msgspec.msgpack.Decoder().decode

    def recent(self, stream: str) -> Recent | None:
        """Where a stream keeps its last items for a crash's breadcrumbs (None: not needed)."""
        wanted = self.options.crashes and self.options.breadcrumbs > 0
        return Recent(stream, self.options.breadcrumbs) if wanted else None

    def caught(self, entries: list[bytes]) -> None:
        """Packed entries of records that may carry a traceback: report those that do."""
        for entry in entries:
            time_wire, record = self._decode(entry)
            traceback = traceback_of(record)
            if traceback is None:
                continue
            self._last = (self._records(), record, traceback)
            if traceback.fault and self.options.crashes:
                self._fault = (time.monotonic(), record, traceback, time_wire)  # see tick()
            elif self.options.tracebacks and self._let_through():
                self._report(record, traceback, time_wire)

    def tick(self, now: float) -> None:
        """A fatal error's dump waits ``FAULT_GRACE`` for the child to die, so that its crash event
        carries it. If the child lives on, the dump was a worker's (gunicorn restarts those): it
        is sent as an event of its own, within the cap."""
        if self._fault is not None and now - self._fault[0] >= FAULT_GRACE:
            _, record, traceback, time_wire = self._fault
            self._fault = None
            if self._budget.take(now):
                self._report(record, traceback, time_wire)
            else:
                self.counts.capped += 1

    def crashed(self, end: Exit, streams: Iterable[Recent]) -> None:
        """The child ended: one ``fatal`` event if it died of a signal or exited non-zero.

        With ``--sentry-report crashes`` the app reports its own errors, so an exit right after
        an uncaught traceback is left to it; a death by a signal never is."""
        if not (self.options.crashes and end.crashed):
            return
        values: list[Any] = []
        tags = dict(self._context.crash_tags)
        if self._last is not None and self._records() - self._last[0] <= JUST_BEFORE:
            _, record, traceback = self._last
            if self.options.report == "crashes" and end.signal is None and not traceback.fault:
                return  # an uncaught exception ended it: the app's own SDK reports that one
            values = traceback.values()
            tags.update(tags_of(record, self._context))
        self._fault = None  # if one is pending, it is _last: this event carries it
        crumbs = breadcrumbs(streams, self.options.breadcrumbs)
        self._capture(crash_event(self._name, end, values, crumbs, time.time_ns(), tags))

    async def close(self, deadline: float) -> None:
        """Let sentry-sdk send what is queued until the deadline (a loop time), then stop."""
        if self._maker is None:
            return
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._maker.join, max(deadline - loop.time(), 0))
        if self._client is None:
            self._warn(f"{self.counts.captured} Sentry events were not sent: sentry-sdk was not ready "
                       "within --drain-timeout")
            return
        await loop.run_in_executor(None, self._client.flush, max(deadline - loop.time(), 0))
        self.counts.sent = self._outcomes.sent
        if self.counts.captured > self.counts.sent + self._outcomes.failed:
            self._warn(f"{self.counts.captured - self.counts.sent - self._outcomes.failed} Sentry events "
                       "were not sent within --drain-timeout")

    def outcomes(self) -> tuple[dict[str, int], int]:
        """The events by outcome so far, and how many are still on their way (for the metrics)."""
        sent, failed = (0, 0) if self._outcomes is None else (self._outcomes.sent, self._outcomes.failed)
        counts = {"sent": sent, "failed": failed, "over_cap": self.counts.capped,
                  "sampled_out": self.counts.sampled_out}
        return counts, max(self.counts.captured - sent - failed, 0)

    def _report(self, record: dict[Any, Any], traceback: Traceback, time_wire: Any) -> None:
        values = traceback.values()
        if values:
            time_ns = from_wire(time_wire)
            self._capture(traceback_event(record, time_ns, values, self._context, fault=traceback.fault))

    def _let_through(self) -> bool:
        if not self._sample():
            self.counts.sampled_out += 1
            return False
        if not self._budget.take(time.monotonic()):
            self.counts.capped += 1
            return False
        return True

    def _capture(self, event: dict[str, Any]) -> None:
        self.counts.captured += 1
        with self._lock:
            if self._client is None:
                self._pending.append(event)
                if self._maker is None:
                    self._maker = threading.Thread(target=self._make_client, daemon=True)
                    self._maker.start()
                return
        self._send(event)

    def _make_client(self) -> None:
        try:
            client, outcomes = _client(self.options, self._warn)
        except Exception as exc:  # the events then count as dropped; the logs go on
            self._warn(f"cannot set up sentry-sdk ({exc!r}); no event will be sent")
            return
        with self._lock:
            self._client, self._outcomes = client, outcomes
            pending, self._pending = self._pending, []
        for event in pending:
            self._send(event)

    def _send(self, event: dict[str, Any]) -> None:
        if self._client.capture_event(event) is None:  # dropped by the client itself
            self._outcomes.failure("client")


def _client(options: SentryOptions, warn: Callable[[str], None]) -> tuple[Any, Any]:
    """sentry-sdk's client with the counting transport, and what the transport counts into.

    sentry-sdk's client imports its spotlight module, which imports Django when it is installed
    (as in a Django app's virtualenv) to offer a middleware: 200 modules, 0.17 s of CPU. logwrap
    is no Django app, so a None in sys.modules makes that import fail as if Django were absent,
    which sentry-sdk expects.
    """
    sys.modules.setdefault("django", None)  # type: ignore[arg-type]
    import sentry_sdk

    from .transport import CountingTransport, Outcomes

    client = sentry_sdk.Client(
        dsn=options.dsn, transport=CountingTransport, release=options.release,
        environment=options.environment, default_integrations=False, auto_enabling_integrations=False,
        send_client_reports=False, sample_rate=1.0, server_name=os.uname().nodename)
    outcomes = Outcomes(warn, str(urlsplit(options.dsn or "").hostname))
    client.transport.outcomes = outcomes  # type: ignore[union-attr]  # a CountingTransport, made by the client
    return client, outcomes
