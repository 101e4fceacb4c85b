"""logwrap pushes to the real Etsy statsd, which flushes into carbon-cache; the values are read back from
the whisper files.

logwrap runs with its default ``--metrics-interval`` (10 s) and its child exits at once, so everything
read back was sent by the final push at exit. Each run names its metrics under a prefix of its own.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from ..processes import LOGWRAP, ReceiveProcess
from .peers import StatsdGraphite
from .wrapped import printing

# Levels as apps write them: ECS's dotted log.level, the flat schema's level, ecs-logging's nested
# {"log": {"level"}}; names in any case and common aliases (warn). One line has no level at all.
LEVELLED = [
    {"log.level": "info", "message": "started"},
    {"level": "info", "message": "listening on :8000"},
    {"log": {"level": "INFO", "logger": "app"}, "message": "ready"},
    {"log.level": "warning", "message": "slow request"},
    {"level": "warn", "message": "retrying"},
    {"log.level": "error", "message": "upstream refused"},
    "plain text, no level",
]
LEVELS = {"info": 3, "warning": 2, "error": 1}

# Access records as shipper's formatter writes them for gunicorn (ECS): http.* and event.* nested,
# event.duration in nanoseconds, and the log.level of every record.
ACCESS = [
    {"log.level": "info", "message": f"{method} {path} {status}", "url": {"path": path},
     "http": {"request": {"method": method}, "response": {"status_code": status}},
     "event": {"duration": milliseconds * 1_000_000}}
    for method, path, status, milliseconds in [
        ("GET", "/", 200, 12), ("GET", "/items", 200, 30), ("GET", "/items/1", 204, 250),
        ("POST", "/items", 500, 80), ("GET", "/nothing", 404, 2)]
]


@dataclass(frozen=True)
class Run:
    """A logwrap run that pushed to statsd under ``prefix``: its exit status and what it wrote to stderr."""

    prefix: str
    status: int
    stderr: str


@pytest.fixture(scope="module")
def runs(statsd_graphite: StatsdGraphite, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Two logwraps, run side by side to completion, each shipping its records to a receiver and pushing
    to statsd under a prefix of its own: ``levelled`` (LEVELLED) and ``access`` (ACCESS).

    Side by side because statsd and carbon take 1-3 s to write what a run pushed: the runs wait once.
    """
    folder = tmp_path_factory.mktemp("statsd")
    receiver = ReceiveProcess()
    started = {}
    try:
        for name, records in (("levelled", LEVELLED), ("access", ACCESS)):
            prefix = f"{name}_{uuid.uuid4().hex[:8]}"
            stderr = folder / f"{name}.stderr"
            with stderr.open("wb") as err:
                started[name] = (prefix, stderr, subprocess.Popen(
                    [*LOGWRAP, "--to", receiver.url, "--statsd", statsd_graphite.statsd_url, "--statsd-prefix", prefix,
                     "--", *printing(records)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err))
        done = {name: Run(prefix, proc.wait(60), stderr.read_text()) for name, (prefix, stderr, proc) in started.items()}
    finally:
        for _, _, proc in started.values():
            proc.kill()
            proc.wait()
        receiver.stop()
    for run in done.values():
        assert run.status == 0, run.stderr
    return done


def read_back(statsd: StatsdGraphite, read: Callable[[], float], expected: float) -> float:
    """What ``read`` returns once it has reached ``expected`` (values land 1-3 s after the push)."""
    return statsd.wait_until(read, lambda value: value >= expected)


def test_the_shipped_counter_sums_to_the_records_shipped(statsd_graphite: StatsdGraphite, runs: dict[str, Run]) -> None:
    name = f"{runs['levelled'].prefix}.records.shipped"
    assert read_back(statsd_graphite, lambda: statsd_graphite.counter_sum(name), len(LEVELLED)) == len(LEVELLED)


def test_the_level_counters_count_the_records_of_each_level_the_child_printed(
        statsd_graphite: StatsdGraphite, runs: dict[str, Run]) -> None:
    prefix = runs["levelled"].prefix
    counted = {level: read_back(statsd_graphite,
                                lambda level=level: statsd_graphite.counter_sum(f"{prefix}.log.level.{level}"),
                                expected)
               for level, expected in LEVELS.items()}
    levels_dir = statsd_graphite.whisper_dir / "stats" / "counters" / prefix / "log" / "level"
    assert counted == LEVELS
    assert sorted(path.name for path in levels_dir.iterdir()) == sorted(LEVELS)  # no "other" for the plain line


def test_access_records_count_requests_by_method_and_status_class_and_time_them(
        statsd_graphite: StatsdGraphite, runs: dict[str, Run]) -> None:
    prefix = runs["access"].prefix

    def requests(method: str, status_class: str) -> Callable[[], float]:
        return lambda: statsd_graphite.counter_sum(f"{prefix}.http.requests.{method}.{status_class}")

    timer = f"{prefix}.http.request_duration"
    assert read_back(statsd_graphite, requests("GET", "2xx"), 3) == 3
    assert read_back(statsd_graphite, requests("POST", "5xx"), 1) == 1
    assert read_back(statsd_graphite, requests("GET", "4xx"), 1) == 1
    assert read_back(statsd_graphite, lambda: sum(statsd_graphite.timer_values(timer, "count")), 5) == 5
    assert statsd_graphite.wait_until(lambda: statsd_graphite.timer_values(timer, "upper")) == [250]
    assert statsd_graphite.wait_until(lambda: statsd_graphite.timer_values(timer, "lower")) == [2]
