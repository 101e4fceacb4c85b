"""/healthz of a real logwrap: 200 while its child runs and delivery works; otherwise 503 with a
one-line JSON reason."""

from __future__ import annotations

import signal
from collections.abc import Callable

from ..processes import ReceiveProcess
from .peers import free_port, wait_until
from .wrapped import Logwrap, printing

RECORDS = [{"log.level": "info", "message": f"request {i}"} for i in range(3)]


def nowhere() -> str:
    """A Forward address nothing listens on: no record is ever acked."""
    return f"tcp://127.0.0.1:{free_port()}"


def test_healthz_is_200_while_the_child_runs_and_delivery_works(
        logwrap: Callable[..., Logwrap], receive_process: Callable[..., ReceiveProcess]) -> None:
    wrapped = logwrap("--to", receive_process().url, child=printing(RECORDS, hold=True), metrics=True)
    wait_until(lambda: wrapped.scrape().value("logwrap_records_shipped_total"), lambda shipped: shipped == len(RECORDS))
    assert wrapped.health() == (200, {"status": "ok"})


def test_healthz_is_503_once_records_wait_longer_than_unhealthy_after_with_no_ack(
        logwrap: Callable[..., Logwrap]) -> None:
    wrapped = logwrap("--to", nowhere(), "--unhealthy-after", "0.2", child=printing(RECORDS, hold=True), metrics=True)
    status, answer = wait_until(wrapped.health, lambda health: health[0] == 503)
    assert answer["status"] == "unhealthy"
    assert "no ack" in answer["reason"] and "--unhealthy-after 0.2s" in answer["reason"], answer
    assert wrapped.scrape().value("logwrap_child_running") == 1  # only delivery is unhealthy


def test_healthz_is_503_with_the_reason_once_the_child_exited_while_logwrap_still_drains(
        logwrap: Callable[..., Logwrap]) -> None:
    wrapped = logwrap("--to", nowhere(), "--drain-timeout", "30", child=printing(RECORDS), metrics=True)
    health = wait_until(wrapped.health, lambda health: health[0] == 503)
    assert wrapped.proc.poll() is None  # still draining: the records wait for a server
    assert health == (503, {"status": "unhealthy", "reason": "the child exited (status 0)"})
    wrapped.proc.send_signal(signal.SIGTERM)  # ends the drain: the records go to stderr
    assert wrapped.wait(10) == 0
