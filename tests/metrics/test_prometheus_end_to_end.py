"""The real Prometheus scrapes a running logwrap and the ``shipper receive`` it ships to; the tests ask
Prometheus's HTTP API, not the pages themselves.

One scenario serves the module: Prometheus scrapes a new target only 3-6 s after it is added, so both
targets are added at once, as soon as they listen. The child prints its records and holds until the
module is done, so logwrap is still running whenever Prometheus scrapes it.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator

import pytest

from ..processes import ReceiveProcess
from .peers import Prometheus, sample_values
from .wrapped import DEFAULT_BUFFER_BYTES, Logwrap, printing

RECORDS = [
    {"log.level": "info", "message": "started"},
    {"log.level": "info", "message": "listening on :8000"},
    {"level": "warning", "message": "slow request"},
    {"log.level": "error", "message": "upstream refused"},
    {"log.level": "info", "message": "request done"},
]
N = len(RECORDS)
LOGWRAP_JOB, RECEIVE_JOB = "e2e-logwrap", "e2e-receive"


@pytest.fixture(scope="module")
def scraping(prometheus_server: Prometheus, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    """Prometheus scraping a logwrap (default flags) that shipped N records to a ``shipper receive``."""
    receiver = ReceiveProcess("--metrics-listen=tcp://127.0.0.1:0")
    logwrap: Logwrap | None = None
    try:
        logwrap = Logwrap(["--to", receiver.url], printing(RECORDS, hold=True),
                          tmp_path_factory.mktemp("prometheus") / "logwrap.stderr", metrics=True)
        assert receiver.metrics_url is not None
        prometheus_server.scrape(LOGWRAP_JOB, logwrap.address)
        prometheus_server.scrape(RECEIVE_JOB, urllib.parse.urlsplit(receiver.metrics_url).netloc)
        yield prometheus_server
    finally:
        prometheus_server.forget_targets()
        if logwrap is not None:
            logwrap.kill()
        receiver.stop()


def test_prometheus_sees_the_records_a_running_logwrap_shipped(scraping: Prometheus) -> None:
    shipped = scraping.wait_for(f'logwrap_records_shipped_total{{job="{LOGWRAP_JOB}"}}',
                                  lambda result: sample_values(result) == [N])
    assert sample_values(shipped) == [N]


def test_prometheus_sees_the_buffer_in_use_and_its_default_limit_of_64_mib(scraping: Prometheus) -> None:
    used = scraping.wait_for(f'logwrap_buffer_bytes{{job="{LOGWRAP_JOB}"}}')
    limit = scraping.wait_for(f'logwrap_buffer_limit_bytes{{job="{LOGWRAP_JOB}"}}')
    assert len(used) == 1
    assert sample_values(limit) == [DEFAULT_BUFFER_BYTES]


def test_prometheus_sees_the_levels_of_the_records(scraping: Prometheus) -> None:
    levels = scraping.wait_for(f'logwrap_log_records_total{{job="{LOGWRAP_JOB}"}}',
                                 lambda result: len(result) == 3)
    assert {sample["metric"]["level"]: float(sample["value"][1]) for sample in levels} == {
        "info": 3, "warning": 1, "error": 1}


def test_prometheus_sees_the_events_the_receiver_wrote(scraping: Prometheus) -> None:
    events = scraping.wait_for(f'shipper_receive_events_total{{job="{RECEIVE_JOB}"}}',
                                 lambda result: sample_values(result) == [N])
    assert sample_values(events) == [N]
