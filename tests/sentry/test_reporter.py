"""The reporter's decisions: which records and which ends become events (sentry-sdk replaced by a list)."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest

from shipper.sentry import client as client_module
from shipper.sentry import reporter as reporter_module
from shipper.sentry.event import Context, Exit
from shipper.sentry.options import SentryOptions
from shipper.sentry.reporter import FAULT_GRACE, Reporter

TRACEBACK = 'Traceback (most recent call last):\n  File "/srv/app.py", line 3, in f\nKeyError: \'id\''
INTERRUPT = 'Traceback (most recent call last):\n  File "/srv/app.py", line 9, in main\nKeyboardInterrupt'
DUMP = 'Fatal Python error: Segmentation fault\n\nCurrent thread 0x1 (most recent call first):\n  File "/srv/app.py", line 5 in crash'


class FakeClient:
    """What the reporter hands to sentry-sdk, kept in ``events``."""

    def __init__(self, *args: Any) -> None:
        self.events: list[dict[str, Any]] = []
        self.outcomes = client_module.Outcomes(print, "fake")

    def capture(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    async def close(self, deadline: float, stop: asyncio.Event) -> None:
        pass


@pytest.fixture
def make(monkeypatch):
    monkeypatch.setattr(reporter_module, "LazyClient", FakeClient)
    records = [0]

    def make(**options: Any) -> tuple[Reporter, list[dict[str, Any]], list[int]]:
        reporter = Reporter(SentryOptions(dsn="https://k@sentry.example/1", **options), "web", Context(),
                            lambda: records[0], print)
        return reporter, reporter._client.events, records
    return make


def entry(text: str, error_type: str = "") -> bytes:
    return msgspec.msgpack.encode([1, {"error.stack_trace": text, "error.type": error_type}])


def messages(events: list[dict[str, Any]]) -> list[str]:
    return [event.get("logentry", {}).get("message") or event["exception"]["values"][-1]["type"] for event in events]


def test_a_dump_is_not_sent_at_once_but_with_the_crash_that_follows(make):
    reporter, events, _ = make()
    reporter.caught([entry(DUMP)])
    assert events == []
    reporter.ended(Exit(139, 11), False, [])
    assert messages(events) == ["web was killed by SIGSEGV"]
    assert events[0]["exception"]["values"][-1]["type"] == "SIGSEGV"


def test_a_dump_the_child_outlives_is_sent_alone_after_the_grace(make):
    reporter, events, _ = make()
    reporter.caught([entry(DUMP)])
    reporter.tick(reporter._faults[0].seen_at + FAULT_GRACE)
    assert [event["level"] for event in events] == ["fatal"]


def test_two_dumps_within_the_grace_are_two_events(make):
    reporter, events, _ = make()
    reporter.caught([entry(DUMP), entry(DUMP)])
    reporter.tick(reporter._faults[-1].seen_at + FAULT_GRACE)
    assert len(events) == 2


def test_dumps_still_waiting_when_the_child_exits_cleanly_are_sent(make):
    reporter, events, _ = make()
    reporter.caught([entry(DUMP)])
    reporter.ended(Exit(0), False, [])
    assert [event["level"] for event in events] == ["fatal"]


def test_a_child_stopped_by_a_forwarded_signal_has_no_crash_event(make):
    reporter, events, _ = make()
    reporter.ended(Exit(143, 15), True, [])
    assert events == []


def test_a_dump_just_before_a_stopped_childs_end_is_still_its_crash(make):
    reporter, events, _ = make()
    reporter.caught([entry(DUMP)])
    reporter.ended(Exit(139, 11), True, [])
    assert messages(events) == ["web was killed by SIGSEGV"]


def test_the_keyboard_interrupt_of_a_stopped_child_is_no_error(make):
    reporter, events, _ = make()
    reporter.stopping = True
    reporter.caught([entry(INTERRUPT, "KeyboardInterrupt")])
    assert events == []


def test_a_traceback_too_long_before_the_exit_is_not_the_crashs_exception(make):
    reporter, events, records = make(report="crashes")
    records[0] = 1
    reporter.caught([entry(TRACEBACK)])
    records[0] = 1 + reporter_module.JUST_BEFORE + 1
    reporter.ended(Exit(1), False, [])
    assert messages(events) == ["web exited with status 1"] and "exception" not in events[0]


def test_with_report_crashes_the_exit_right_after_an_uncaught_traceback_is_left_to_the_app(make):
    reporter, events, _ = make(report="crashes")
    reporter.caught([entry(TRACEBACK)])
    reporter.ended(Exit(1), False, [])
    assert events == []


def test_a_dump_over_the_cap_is_counted_not_sent(make):
    reporter, events, _ = make(max_events=1)
    reporter.caught([entry(TRACEBACK), entry(DUMP)])
    reporter.ended(Exit(0), False, [])
    assert (len(events), reporter.counts.capped) == (1, 1)
