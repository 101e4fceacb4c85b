"""logwrap's lazily made sentry-sdk client when it cannot be made: events fail, once, and nothing waits."""

from __future__ import annotations

import asyncio
import threading

from shipper.sentry import client as client_module
from shipper.sentry.client import LazyClient
from shipper.sentry.options import SentryOptions


def broken(options, outcomes):
    raise RuntimeError("no sentry-sdk here")


def test_a_client_that_cannot_be_made_fails_every_event_with_one_warning(monkeypatch):
    monkeypatch.setattr(client_module, "make_client", broken)
    warnings: list[str] = []
    client = LazyClient(SentryOptions(dsn="https://k@sentry.example/1"), warnings.append, "sentry.example")
    client.capture({"message": "one"})
    client._maker.join(10)
    client.capture({"message": "two"})
    assert (client.outcomes.failed, client.pending) == (2, 0)
    assert len(warnings) == 1 and "cannot set up sentry-sdk" in warnings[0]


def test_a_thread_that_cannot_start_fails_the_client_not_logwrap(monkeypatch):
    def refuse(self):
        raise RuntimeError("can't start new thread")
    monkeypatch.setattr(threading.Thread, "start", refuse)
    client = LazyClient(SentryOptions(dsn="https://k@sentry.example/1"), lambda text: None, "sentry.example")
    client.capture({"message": "one"})
    assert (client.outcomes.failed, client.pending) == (1, 0)
    asyncio.run(client.close(0.0, asyncio.Event()))  # returns: there is no thread to wait for
