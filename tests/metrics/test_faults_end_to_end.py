"""The metrics under faults, with a real logwrap: a StatsD that is down or cannot be resolved, a metrics
port that is taken, and scrapes taken while the buffer churns under drop-oldest."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.parse
from collections.abc import Callable, Iterator

import pytest

from ..faults.apps import endless_json_writer
from ..faults.proxy import FaultProxy
from ..peers import refused_datagrams
from ..processes import LOGWRAP, ReceiveProcess
from .peers import free_port, wait_until
from .wrapped import Logwrap, Page, get, printing, touching

INTERVAL = 0.2  # --metrics-interval: a push every 0.2 s, so several fail while the child runs
PUSHES = 3  # the child runs until at least this many pushes went out
RECORDS = [{"log.level": "info", "message": f"request {i}"} for i in range(20)]
CHILD_STATUS = 3


def events_received(receiver: ReceiveProcess) -> float:
    assert receiver.metrics_url is not None
    status, body = get(receiver.metrics_url)
    assert status == 200, (status, body)
    return Page.parse(body.decode()).value("shipper_receive_events_total")


def run_beside_a_broken_statsd(logwrap: Callable[..., Logwrap], receiver: ReceiveProcess, statsd_url: str,
                               pushes_done: Callable[[], bool]) -> Logwrap:
    """A logwrap pushing to ``statsd_url``; its child runs until the receiver has every record and
    ``pushes_done()``, then exits with CHILD_STATUS."""
    wrapped = logwrap("--to", receiver.url, "--statsd", statsd_url, "--metrics-interval", str(INTERVAL),
                      child=printing(RECORDS, hold=True, status=CHILD_STATUS))
    wait_until(lambda: (events_received(receiver), pushes_done()), lambda seen: seen == (len(RECORDS), True))
    wrapped.release()
    return wrapped


def statsd_warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "--statsd" in line]


def test_a_statsd_host_that_cannot_be_resolved_leaves_logwrap_unaffected_with_one_warning(
        logwrap: Callable[..., Logwrap], receive_process: Callable[..., ReceiveProcess]) -> None:
    receiver = receive_process("--metrics-listen=tcp://127.0.0.1:0")
    started = time.monotonic()
    # A failed lookup leaves no trace to wait for: the child runs PUSHES intervals at least.
    wrapped = run_beside_a_broken_statsd(logwrap, receiver, "udp://no-such-host.invalid:8125",
                                         lambda: time.monotonic() - started >= PUSHES * INTERVAL)
    assert wrapped.wait() == CHILD_STATUS
    assert len(receiver.events()) == len(RECORDS)
    assert len(statsd_warnings(wrapped.stderr())) == 1, wrapped.stderr()


def test_a_statsd_that_is_down_leaves_logwrap_unaffected_with_one_warning(
        logwrap: Callable[..., Logwrap], receive_process: Callable[..., ReceiveProcess]) -> None:
    receiver = receive_process("--metrics-listen=tcp://127.0.0.1:0")
    refused_before = refused_datagrams()
    # Each push to the closed port is a datagram the host refuses: the child runs until PUSHES were.
    wrapped = run_beside_a_broken_statsd(logwrap, receiver, f"udp://127.0.0.1:{free_port(socket.SOCK_DGRAM)}",
                                         lambda: refused_datagrams() - refused_before >= PUSHES)
    assert wrapped.wait() == CHILD_STATUS
    assert len(receiver.events()) == len(RECORDS)
    assert len(statsd_warnings(wrapped.stderr())) == 1, wrapped.stderr()


def test_a_taken_metrics_port_is_exit_64_with_one_line_naming_the_port_and_the_child_never_starts(tmp_path) -> None:
    marker = tmp_path / "the-child-ran"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([*LOGWRAP, "--metrics-listen", f"tcp://127.0.0.1:{port}", "--", *touching(marker)],
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 64
    assert len(done.stderr.splitlines()) == 1 and f"127.0.0.1:{port}" in done.stderr, done.stderr
    assert not marker.exists()


def scrapes_while_churning(wrapped: Logwrap, enough: Callable[[list[Page]], bool]) -> list[Page]:
    """At least 30 scrapes, taken back to back until ``enough`` of them show what the test needs."""
    pages: list[Page] = []
    deadline = time.monotonic() + 60
    while len(pages) < 30 or not enough(pages):
        assert time.monotonic() < deadline, f"not seen in {len(pages)} scrapes"
        pages.append(wrapped.scrape())
    return pages


def unbalanced(pages: list[Page]) -> list[tuple[float, float]]:
    """The scrapes where records != shipped + dropped + spilled + filtered + throttled + in the buffer,
    as (records, the sum)."""
    accounts = [(page.total("logwrap_records_total"),
                 page.value("logwrap_records_shipped_total") + page.total("logwrap_records_dropped_total")
                 + page.value("logwrap_records_spilled_total") + page.total("logwrap_records_filtered_total")
                 + page.total("logwrap_records_throttled_total") + page.value("logwrap_buffer_records"))
                for page in pages]
    return [(built, settled) for built, settled in accounts if built != settled]


def dropped(pages: list[Page]) -> bool:
    return any(page.total("logwrap_records_dropped_total") for page in pages)


def test_scrapes_taken_while_the_buffer_churns_under_drop_oldest_always_add_up(logwrap: Callable[..., Logwrap]) -> None:
    """No server: records = dropped + in the buffer, in every scrape, while the oldest are dropped."""
    nowhere = f"tcp://127.0.0.1:{free_port()}"
    wrapped = logwrap("--to", nowhere, "--buffer-bytes", "64KiB", child=endless_json_writer(), metrics=True)
    pages = scrapes_while_churning(wrapped, dropped)
    assert unbalanced(pages) == []
    assert pages[-1].total("logwrap_records_total") > pages[0].total("logwrap_records_total")


@pytest.fixture
def slow_server(receive_process: Callable[..., ReceiveProcess]) -> Iterator[str]:
    """A ``shipper receive`` behind a proxy passing 200 kB a second, far less than a flooding child writes."""
    proxy = FaultProxy(urllib.parse.urlsplit(receive_process("--output=count").url).port)
    proxy.throttle(200_000)
    yield proxy.url
    proxy.close()


def test_scrapes_add_up_while_a_slow_server_acks_some_records_and_the_buffer_drops_others(
        logwrap: Callable[..., Logwrap], slow_server: str) -> None:
    """Shipped, dropped, drop notices and chunks in flight at once: every scrape still adds up."""
    wrapped = logwrap("--to", slow_server, "--buffer-bytes", "64KiB", child=endless_json_writer(), metrics=True)
    pages = scrapes_while_churning(wrapped, lambda pages: dropped(pages) and any(
        page.value("logwrap_records_shipped_total") for page in pages))
    assert unbalanced(pages) == []


def test_scrapes_add_up_while_filters_and_the_throttle_leave_records_out(
        logwrap: Callable[..., Logwrap], slow_server: str) -> None:
    """Filtered (in Python: ``n`` is a number), throttled, shipped and dropped at once: every scrape adds up."""
    wrapped = logwrap("--to", slow_server, "--buffer-bytes", "64KiB", "--drop", "n~5$", "--throttle", "20000/s",
                      child=endless_json_writer(), metrics=True)
    pages = scrapes_while_churning(wrapped, lambda pages: any(
        page.value("logwrap_records_shipped_total") and page.total("logwrap_records_throttled_total")
        and page.total("logwrap_records_filtered_total") for page in pages))
    assert unbalanced(pages) == []
