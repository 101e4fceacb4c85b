"""logwrap's Sentry events in its own metrics: what became of each, scraped from a real logwrap."""

from __future__ import annotations

from collections.abc import Callable

from ..processes import ReceiveProcess
from .peers import free_port, wait_until
from .wrapped import Logwrap, printing

TRACEBACK = 'Traceback (most recent call last):\n  File "/srv/app.py", line 3, in f\nKeyError: \'id\''


def test_sentry_events_are_counted_by_outcome_while_logwrap_runs(
        logwrap: Callable[..., Logwrap], receive_process: Callable[..., ReceiveProcess]) -> None:
    errors = [{"message": f"failed {i}", "error.stack_trace": TRACEBACK} for i in range(3)]
    down = f"http://key@127.0.0.1:{free_port()}/1"  # no Sentry listens there: each event fails
    wrapped = logwrap("--to", receive_process().url, "--sentry-dsn", down, "--sentry-max-events", "2",
                      child=printing([{"message": "ok"}, *errors], hold=True), metrics=True)

    def outcomes() -> dict[str, float]:
        page = wrapped.scrape()
        return {outcome: page.value("logwrap_sentry_events_total", outcome=outcome)
                for outcome in ("sent", "failed", "over_cap", "sampled_out")}

    assert wait_until(outcomes, lambda counted: counted["failed"] == 2) == {
        "sent": 0, "failed": 2, "over_cap": 1, "sampled_out": 0}
    assert wrapped.scrape().value("logwrap_sentry_events_pending") == 0
