"""``logwrap --parse``, end to end: real servers run as logwrap's child, their lines reach a receiver
as typed ECS fields, with the line's own time as the event time."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ..peers import STARTUP_TIMEOUT, accepts, free_port, wait_until
from ..processes import LOGWRAP, python, run_logwrap
from .test_presets import APACHE_COMBINED, APACHE_COMMON
from .test_real_servers import APP, HELLO, QUOTED_AGENT, is_now, nginx_site, request


class Wrapped:
    """``logwrap ARGS -- SERVER``, stopped with TERM as a supervisor stops it."""

    def __init__(self, args: list[str], command: list[str], cwd: Path, port: int) -> None:
        self.proc = subprocess.Popen([*LOGWRAP, *args, "--", *command], cwd=cwd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_until(lambda: self.proc.poll() is not None or accepts(port), timeout=STARTUP_TIMEOUT)
        assert self.proc.poll() is None, self.proc.stderr.read().decode()  # type: ignore[union-attr]
        self.stderr: str | None = None

    def stop(self) -> str:
        """TERM reaches the server through logwrap; logwrap's stderr once both have exited."""
        if self.stderr is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                _, err = self.proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                _, err = self.proc.communicate()
            self.stderr = err.decode()
        return self.stderr


@pytest.fixture
def wrapped_nginx(forward_receiver) -> Iterator[tuple[Wrapped, int]]:
    with tempfile.TemporaryDirectory(prefix="shipper-nginx-") as tmp_dir:
        command, port, _ = nginx_site(Path(tmp_dir))
        wrapped = Wrapped(["--to", forward_receiver.url, "--parse", "nginx"], command, Path(tmp_dir), port)
        try:
            yield wrapped, port
        finally:
            wrapped.stop()


def test_nginx_access_lines_under_logwrap_arrive_as_typed_ecs_fields_at_their_own_time(forward_receiver,
                                                                                      wrapped_nginx):
    wrapped, port = wrapped_nginx
    assert request(f"http://127.0.0.1:{port}/hello.txt?q=1", **{"User-Agent": QUOTED_AGENT}) == 200
    assert request(f"http://127.0.0.1:{port}/missing") == 404
    forward_receiver.wait_until(lambda event: event.record.get("url.original") == "/missing")
    ok, missing = [event for event in forward_receiver.events if "url.original" in event.record]
    assert ok.record["http.response.status_code"] == 200 and ok.record["http.response.body.bytes"] == len(HELLO)
    assert ok.record["http.request.method"] == "GET" and ok.record["stream"] == "stdout"
    assert ok.record["user_agent.original"] == r"shipper-test/1.0 (compatible; \x22quoted\x22)"
    assert missing.record["http.response.status_code"] == 404
    assert is_now(ok.record["@timestamp"])
    assert ok.time // 1_000_000_000 == epoch(ok.record["@timestamp"])  # the line's time is the event time
    assert "0 dropped" in wrapped.stop()


def epoch(stamp: str) -> int:
    return int(datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp())


def test_gunicorns_default_access_log_under_logwrap_arrives_parsed(forward_receiver, tmp_path):
    (tmp_path / "app.py").write_text(APP)
    port = free_port()
    wrapped = Wrapped(["--to", forward_receiver.url, "--parse", "gunicorn"],
                      [sys.executable, "-m", "gunicorn", "--access-logfile", "-", "--workers", "1",
                       "--bind", f"127.0.0.1:{port}", "app:app"], tmp_path, port)
    try:
        assert request(f"http://127.0.0.1:{port}/orders?page=2") == 200
        event = forward_receiver.wait_until(lambda event: event.record.get("url.original") == "/orders?page=2")
    finally:
        wrapped.stop()
    assert event.record["http.response.status_code"] == 200 and event.record["http.response.body.bytes"] == 5
    assert event.record["http.request.method"] == "GET" and is_now(event.record["@timestamp"])


def test_structlogs_logfmt_lines_under_logwrap_arrive_as_fields_with_types(forward_receiver):
    code = ("import structlog\n"
            "structlog.configure(processors=[structlog.processors.add_log_level, "
            "structlog.processors.LogfmtRenderer(key_order=['event'])])\n"
            "structlog.get_logger().info('order placed', order_id=17, total='12.50', paid=True, note='two words')")
    run_logwrap(forward_receiver.url, "--parse", "logfmt", "--types", "order_id:int,total:float,paid:bool",
                command=python(code))
    (record,) = forward_receiver.records
    assert {key: record[key] for key in ("event", "level", "order_id", "total", "paid", "note")} == {
        "event": "order placed", "level": "info", "order_id": 17, "total": 12.5, "paid": True, "note": "two words"}


def test_apache_lines_under_logwrap_arrive_parsed_and_other_lines_stay_messages(forward_receiver):
    lines = [APACHE_COMBINED, APACHE_COMMON, "GET /health 200"]
    run_logwrap(forward_receiver.url, "--parse", "apache", command=python(f"print({chr(10).join(lines)!r})"))
    combined, common, other = forward_receiver.records
    assert combined["user.name"] == "frank" and combined["http.response.body.bytes"] == 2326
    assert combined["@timestamp"] == "2000-10-10T20:55:36Z" and "http.request.referrer" in combined
    assert common["http.request.method"] == "GET" and "user_agent.original" not in common
    assert other == {"message": "GET /health 200", "stream": "stdout", "event.id": other["event.id"]}


def test_the_first_parser_that_matches_wins(forward_receiver):
    lines = ["WARNING:shop.orders:slow", "level=info msg=ok", json.dumps({"message": "json"})]
    run_logwrap(forward_receiver.url, "--parse", "python", "--parse", "logfmt",
                command=python(f"print({chr(10).join(lines)!r})"))
    warning, logfmt, plain = forward_receiver.records
    assert (warning["log.level"], warning["log.logger"], warning["message"]) == ("warning", "shop.orders", "slow")
    assert (logfmt["level"], logfmt["msg"]) == ("info", "ok") and plain["message"] == "json"


def test_a_regex_parser_with_a_time_format_sets_the_event_time(forward_receiver):
    line = "[01/Dec/2026:10:00:00 +0100] took 12 ms"
    run_logwrap(forward_receiver.url, "--parse", r"regex:^\[(?P<time>[^\]]+)\] took (?P<ms>\d+) ms$",
                "--types", "ms:int", "--time-format", "%d/%b/%Y:%H:%M:%S %z",
                command=python(f"print({line!r})"))
    (event,) = forward_receiver.events
    assert event.record["ms"] == 12 and event.record["time"] == "2026-12-01T09:00:00Z"
    assert event.time // 1_000_000_000 == epoch("2026-12-01T09:00:00Z")


def test_a_bad_parser_name_stops_logwrap_with_exit_64(forward_receiver):
    done = run_logwrap(forward_receiver.url, "--parse", "nginxx", command=["true"])
    assert done.returncode == 64
    assert done.stderr.decode().startswith("logwrap: --parse 'nginxx': no such parser")
