"""The harness against the real servers, with hand-written metrics: no shipper code is involved."""

from __future__ import annotations

import socket
import sys
import textwrap
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .peers import (
    MuninRun,
    Prometheus,
    StatsdGraphite,
    accepts,
    free_port,
    need,
    running,
    sample_values,
    start_statsd_graphite,
)

PLUGIN = [sys.executable, "-c", textwrap.dedent("""\
    import sys
    print("graph_title t\\nv.label v" if sys.argv[1:] == ["config"] else "v.value 5")
    """)]


def send_statsd(url: str, *lines: str) -> None:
    address = urllib.parse.urlsplit(url)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto("\n".join(lines).encode(), (address.hostname, address.port))


class MetricsPage(BaseHTTPRequestHandler):
    """A fixed Prometheus text page at /metrics, and 404 at any other path."""

    def do_GET(self) -> None:
        if self.path != "/metrics":
            self.send_error(404)
            return
        body = b"# TYPE harness_things_total counter\nharness_things_total 3\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: Prometheus asks every second."""


@pytest.fixture
def metrics_page() -> Iterator[str]:
    """The address (HOST:PORT) of a server with a fixed /metrics page."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), MetricsPage)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_a_counter_sent_to_statsd_is_read_back_from_whisper(statsd_graphite: StatsdGraphite, metric_prefix: str) -> None:
    send_statsd(statsd_graphite.statsd_url, f"{metric_prefix}.x.y:3|c")
    assert statsd_graphite.wait_until(lambda: statsd_graphite.counter_sum(f"{metric_prefix}.x.y")) == 3


def test_counts_from_several_flushes_add_up(statsd_graphite: StatsdGraphite, metric_prefix: str) -> None:
    name = f"{metric_prefix}.x"
    send_statsd(statsd_graphite.statsd_url, f"{name}:3|c")
    statsd_graphite.wait_until(lambda: statsd_graphite.counter_sum(name))
    send_statsd(statsd_graphite.statsd_url, f"{name}:4|c")
    assert statsd_graphite.wait_until(lambda: statsd_graphite.counter_sum(name), lambda total: total > 3) == 7


def test_gauges_and_timers_are_read_back_under_their_statsd_names(statsd_graphite: StatsdGraphite, metric_prefix: str) -> None:
    gauge, timer = f"{metric_prefix}.g", f"{metric_prefix}.t"
    send_statsd(statsd_graphite.statsd_url, f"{gauge}:7|g", f"{timer}:20|ms", f"{timer}:40|ms")
    assert statsd_graphite.wait_until(lambda: statsd_graphite.gauge_last(gauge), lambda last: last is not None) == 7
    assert statsd_graphite.wait_until(lambda: statsd_graphite.timer_values(timer, "mean")) == [30]
    assert statsd_graphite.wait_until(lambda: statsd_graphite.timer_values(timer, "upper")) == [40]


def test_statsd_graphite_removes_its_files_and_frees_its_port() -> None:
    with start_statsd_graphite() as servers:
        port = urllib.parse.urlsplit(servers.statsd_url).port
    assert not servers.whisper_dir.exists()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", port))


def test_prometheus_scrapes_a_target_added_at_run_time_at_its_metrics_path(prometheus: Prometheus, metrics_page: str) -> None:
    prometheus.scrape("harness", metrics_page)
    assert sample_values(prometheus.wait_for('harness_things_total{job="harness"}')) == [3]


@pytest.mark.parametrize(("args", "output"), [([], "v.value 5\n"), (["config"], "graph_title t\nv.label v\n")],
                         ids=["values", "config"])
def test_munin_run_runs_the_plugin_command_with_its_argument(munin_run: MuninRun, args: list[str], output: str) -> None:
    assert munin_run(PLUGIN, {}, *args).stdout == output


def test_env_lines_reach_the_plugin_as_environment_variables(munin_run: MuninRun) -> None:
    plugin = [sys.executable, "-c", "import os; print('v.value', os.environ['url'])"]
    assert munin_run(plugin, {"url": "http://127.0.0.1:9/metrics"}).stdout == "v.value http://127.0.0.1:9/metrics\n"


def test_a_server_is_killed_when_its_block_ends(tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)]
    with running(command, tmp_path / "log", lambda: accepts(port)) as proc:
        assert accepts(port)
    assert proc.returncode is not None and not accepts(port)


def test_a_server_that_exits_at_start_is_an_error_showing_its_output(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"(?s)exit status 3.*bad config"):
        with running(["sh", "-c", "echo bad config; exit 3"], tmp_path / "log", lambda: False):
            pass


def test_a_missing_tool_skips_the_test_saying_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("SHIPPER_EXPECT_TOOLS", raising=False)
    with pytest.raises(pytest.skip.Exception, match="install it with: apt-get install --no-install-recommends prometheus"):
        need("prometheus")


def test_a_missing_tool_fails_the_test_where_tools_are_expected(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("SHIPPER_EXPECT_TOOLS", "1")
    with pytest.raises(pytest.fail.Exception, match="prometheus is not installed"):
        need("prometheus")
