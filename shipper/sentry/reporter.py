"""logwrap's Sentry reporter: caught records and the child's end, to events (client.py sends them).

The record builders catch the packed entries of records that may carry a traceback (the C
extension does it with no Python code per line), and ``caught`` reads them. A traceback costs
nothing more until it is let through: the sample rate and the cap per minute are checked
before its text is parsed. Sending never blocks the child's pipes (``LazyClient``), and at
exit ``close`` gives it what is left of the drain deadline and no more; what is not sent by
then counts as dropped.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import msgspec

from ..forward.eventtime import from_wire
from .breadcrumbs import Recent, breadcrumbs
from .budget import Budget, sampler
from .client import LazyClient
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


@dataclass(eq=False)  # one caught record is itself, not any equal copy
class _Caught:
    """A record that carries a traceback or a fatal error's dump."""

    record: dict[Any, Any]
    traceback: Traceback
    time_wire: Any
    seen_at: float  # monotonic
    records_then: int  # the child's records so far, this one included


class Reporter:
    def __init__(self, options: SentryOptions, name: str, context: Context, records: Callable[[], int],
                 warn: Callable[[str], None]) -> None:
        self.options = options
        self.counts = EventCounts()
        self.stopping = False  # a stop signal was forwarded: the KeyboardInterrupt that follows is no error
        self._name = name
        self._context = context
        self._records = records
        self._warn = warn
        self._budget = Budget(options.max_events, time.monotonic())
        self._sample = sampler(options.sample_rate, random.random)
        self._last: _Caught | None = None
        self._faults: list[_Caught] = []  # dumps awaiting the child's death (see tick)
        self._client = LazyClient(options, warn, urlsplit(options.dsn or "").hostname or "")
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
            if traceback is None or (self.stopping and traceback.error_type.endswith("KeyboardInterrupt")):
                continue
            caught = self._last = _Caught(record, traceback, time_wire, time.monotonic(), self._records())
            if traceback.fault and self.options.crashes:
                self._faults.append(caught)
            elif self.options.tracebacks and self._let_through():
                self._report(caught)

    def tick(self, now: float) -> None:
        """A fatal error's dump waits ``FAULT_GRACE`` for the child to die, so that its crash event
        carries it. If the child lives on, the dump was a worker's (gunicorn restarts those): it
        is sent as an event of its own, within the cap."""
        while self._faults and now - self._faults[0].seen_at >= FAULT_GRACE:
            self._report_within_cap(self._faults.pop(0), now)

    def ended(self, end: Exit, stopped: bool, streams: Iterable[Recent]) -> None:
        """The child ended: one ``fatal`` event if it crashed, then the dumps no crash carries.

        Not a crash: an exit with status 0, or an end after a stop signal was forwarded to it
        (``stopped``) unless a fatal error's dump came just before. With ``--sentry-report
        crashes`` the app reports its own errors, so an exit right after an uncaught traceback
        is left to it; a death by a signal never is."""
        last = self._just_before()
        fault = last is not None and last.traceback.fault
        if self.options.crashes and end.crashed and (fault or not stopped):
            uncaught = last is not None and not fault and end.signal is None
            if not (uncaught and self.options.report == "crashes"):
                self._report_crash(end, last, streams)
        for dump in self._faults:
            self._report_within_cap(dump, time.monotonic())
        self._faults.clear()

    async def close(self, deadline: float, stop: asyncio.Event) -> None:
        """Let sentry-sdk send what it holds until the deadline (a loop time), or until ``stop``."""
        await self._client.close(deadline, stop)
        self.counts.sent = self._client.outcomes.sent
        unsent = self.counts.captured - self.counts.sent - self._client.outcomes.failed
        if unsent > 0:
            self._warn(f"{unsent} Sentry events were not sent within --drain-timeout")

    def outcomes(self) -> tuple[dict[str, int], int]:
        """The events by outcome so far, and how many are still on their way (for the metrics)."""
        sent, failed = self._client.outcomes.sent, self._client.outcomes.failed
        counts = {"sent": sent, "failed": failed, "over_cap": self.counts.capped,
                  "sampled_out": self.counts.sampled_out}
        return counts, max(self.counts.captured - sent - failed, 0)

    def _just_before(self) -> _Caught | None:
        """The last traceback or dump, if no more than JUST_BEFORE records came after it."""
        last = self._last
        return last if last is not None and self._records() - last.records_then <= JUST_BEFORE else None

    def _report_crash(self, end: Exit, last: _Caught | None, streams: Iterable[Recent]) -> None:
        values: list[Any] = []
        tags = dict(self._context.crash_tags)
        if last is not None:
            values = last.traceback.values()
            tags.update(tags_of(last.record, self._context))
            if last in self._faults:
                self._faults.remove(last)  # this event carries it
        crumbs = breadcrumbs(streams, self.options.breadcrumbs)
        self._capture(crash_event(self._name, end, values, crumbs, time.time_ns(), tags))

    def _report_within_cap(self, caught: _Caught, now: float) -> None:
        if self._budget.take(now):
            self._report(caught)
        else:
            self.counts.capped += 1

    def _report(self, caught: _Caught) -> None:
        values = caught.traceback.values()
        if values:
            self._capture(traceback_event(caught.record, from_wire(caught.time_wire), values, self._context,
                                          fault=caught.traceback.fault))

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
        self._client.capture(event)
