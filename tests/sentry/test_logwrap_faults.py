"""logwrap --sentry-dsn when Sentry is down, refuses with 429 and Retry-After, or hangs: the logs do not suffer.

The child (tests/sentry/children.py's CAUGHT_TRACEBACKS) prints lines and tracebacks, then exits 3 at
once: logwrap has 4 events to send (3 tracebacks and the crash). In each fault it ships every record,
exits with the child's status within --drain-timeout, says so in one warning line, and counts the events
in its summary line.
"""

from __future__ import annotations

import http.server
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shipper.testing import ForwardReceiver

from ..logs.test_configure import _base_env
from ..peers import free_port
from ..processes import LOGWRAP
from . import children

DRAIN_TIMEOUT = 2.0
# Starting Python twice and importing sentry-sdk: generous, as the point is only that the drain is bounded.
MARGIN = 6.0
STATUS = 3
EVENTS = children.JOBS + 1  # each traceback, and the crash
RECORDS = 2 * children.JOBS + children.CLEANUPS


class RateLimitingSentry:
    """An HTTP server answering every POST with 429 and ``Retry-After: 60``; ``requests`` counts them."""

    def __init__(self) -> None:
        self.requests = 0
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                stub.requests += 1  # one handler thread at a time: the server is not threading
                self.send_response(429)
                self.send_header("Retry-After", "60")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.dsn = f"http://public@127.0.0.1:{self.server.server_port}/1"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


class HangingSentry:
    """A TCP server that accepts every connection and never answers; all are closed by ``stop``."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()
        self.dsn = f"http://public@127.0.0.1:{self.port}/1"

    def _accept(self) -> None:
        while True:
            connection, _ = self.listener.accept()
            if self._stopping:
                connection.close()
                return
            self.accepted.append(connection)

    def stop(self) -> None:
        self._stopping = True
        socket.create_connection(("127.0.0.1", self.port), timeout=10).close()  # wakes accept()
        self.thread.join(10)
        self.listener.close()
        for connection in self.accepted:
            connection.close()


@pytest.fixture
def rate_limiting_sentry() -> Iterator[RateLimitingSentry]:
    stub = RateLimitingSentry()
    yield stub
    stub.stop()


@pytest.fixture
def hanging_sentry() -> Iterator[HangingSentry]:
    stub = HangingSentry()
    yield stub
    stub.stop()


@dataclass
class Fault:
    dsn: str
    warning: str  # what the one warning line says


@pytest.fixture(params=["down", "rate limiting", "hanging"])
def broken_sentry(request: pytest.FixtureRequest) -> Fault:
    if request.param == "down":
        return Fault(f"http://public@127.0.0.1:{free_port()}/1", "cannot send events to Sentry at 127.0.0.1: unreachable")
    if request.param == "rate limiting":
        stub: RateLimitingSentry | HangingSentry = request.getfixturevalue("rate_limiting_sentry")
        return Fault(stub.dsn, "cannot send events to Sentry at 127.0.0.1: rate limited (HTTP 429)")
    stub = request.getfixturevalue("hanging_sentry")
    return Fault(stub.dsn, f"{EVENTS} Sentry events were not sent within --drain-timeout")


@dataclass
class Run:
    status: int
    stderr: str
    seconds: float  # logwrap's whole run; the child exits at once

    def sentry_lines(self) -> list[str]:
        """logwrap's lines about Sentry, but its summary line."""
        return [line for line in self.stderr.splitlines() if line.startswith("logwrap: ") and "Sentry" in line]

    def summary(self) -> str:
        [line] = [line for line in self.stderr.splitlines() if re.search(r"records: .*; sentry: ", line)]
        return line


def run_child(dsn: str, receiver: ForwardReceiver, folder: Path) -> Run:
    command = [*LOGWRAP, "--to", receiver.url, "--sentry-dsn", dsn, "--drain-timeout", str(DRAIN_TIMEOUT),
               "--", sys.executable, str(children.CAUGHT_TRACEBACKS.write(folder)), str(STATUS)]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=_base_env())
    return Run(done.returncode, done.stderr, time.monotonic() - started)


def test_every_record_is_shipped(broken_sentry: Fault, forward_receiver: ForwardReceiver, tmp_path: Path) -> None:
    run_child(broken_sentry.dsn, forward_receiver, tmp_path)

    records = forward_receiver.wait_for(RECORDS)
    assert len(records) == RECORDS
    assert sum("error.stack_trace" in event.record for event in records) == children.JOBS


def test_logwrap_exits_with_the_childs_status_within_the_drain_timeout(broken_sentry: Fault,
                                                                      forward_receiver: ForwardReceiver,
                                                                      tmp_path: Path) -> None:
    run = run_child(broken_sentry.dsn, forward_receiver, tmp_path)

    assert run.status == STATUS, run.stderr
    assert run.seconds < DRAIN_TIMEOUT + MARGIN


def test_one_warning_line_says_what_became_of_the_events(broken_sentry: Fault, forward_receiver: ForwardReceiver,
                                                         tmp_path: Path) -> None:
    run = run_child(broken_sentry.dsn, forward_receiver, tmp_path)

    [warning] = run.sentry_lines()
    assert broken_sentry.warning in warning


def test_the_summary_line_counts_every_event_as_dropped(broken_sentry: Fault, forward_receiver: ForwardReceiver,
                                                        tmp_path: Path) -> None:
    run = run_child(broken_sentry.dsn, forward_receiver, tmp_path)

    assert run.summary().endswith(f"; sentry: 0 events sent, {EVENTS} dropped ({EVENTS} not delivered)")
    assert f"{RECORDS} shipped, 0 dropped, 0 spilled to stderr" in run.summary()


def test_after_a_429_with_retry_after_nothing_more_is_sent(rate_limiting_sentry: RateLimitingSentry,
                                                          forward_receiver: ForwardReceiver, tmp_path: Path) -> None:
    run_child(rate_limiting_sentry.dsn, forward_receiver, tmp_path)

    assert rate_limiting_sentry.requests == 1  # of the EVENTS events, only the first was tried
