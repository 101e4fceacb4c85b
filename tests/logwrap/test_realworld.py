"""logwrap around real servers: gunicorn directly, and gunicorn as a circusd watcher."""

import importlib.util
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request

import pytest

from ..processes import LOGWRAP
from .test_process import wait_until_gone

APP = textwrap.dedent("""
    def app(environ, start_response):
        if environ["PATH_INFO"] == "/boom":
            raise RuntimeError("boom at " + environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
""")
GUNICORN = [sys.executable, "-m", "gunicorn"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def message_has(text):
    return lambda event: text in str(event.record.get("message", ""))


@pytest.fixture
def app_dir(tmp_path):
    (tmp_path / "app.py").write_text(APP)
    return tmp_path


def gunicorn_args(port: int) -> list[str]:
    return [*GUNICORN, "--bind", f"127.0.0.1:{port}", "--workers", "2", "--access-logfile", "-",
            "--error-logfile", "-", "--graceful-timeout", "5", "app:app"]


def test_gunicorn_under_logwrap_ships_access_and_error_logs_reloads_and_stops(forward_receiver, app_dir):
    port = free_port()
    proc = subprocess.Popen([*LOGWRAP, "--to", forward_receiver.url, "--tag", "web", "--",
                             *gunicorn_args(port)], cwd=app_dir, stderr=subprocess.PIPE)
    try:
        forward_receiver.wait_until(message_has(f"Listening at: http://127.0.0.1:{port}"))
        assert [get(port, "/a"), get(port, "/boom")] == [200, 500]
        proc.send_signal(signal.SIGHUP)
        forward_receiver.wait_until(message_has("Handling signal: hup"))
        assert get(port, "/after-reload") == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        proc.kill()
        proc.wait()
    events = forward_receiver.events
    access = [e.record["message"] for e in events if e.record["stream"] == "stdout"]
    assert [sum(f'"GET {path} HTTP/1.1"' in line for line in access) for path in ("/a", "/boom", "/after-reload")] == [1, 1, 1]
    errors = [e.record for e in events if e.record.get("error.type") == "RuntimeError"]
    assert errors and "boom at /boom" in errors[0]["error.stack_trace"]
    assert any("Shutting down: Master" in e.record["message"] for e in events)


def pids_in(receiver, pattern: str) -> list[int]:
    return [int(match.group(1)) for event in receiver.events
            if (match := re.search(pattern, str(event.record.get("message", ""))))]


def test_gunicorn_does_not_outlive_a_logwrap_killed_with_sigkill(forward_receiver, app_dir, spawn):
    port, graceful = free_port(), 10
    args = [*LOGWRAP, "--to", forward_receiver.url, "--", *gunicorn_args(port)[:-1], "--graceful-timeout",
            str(graceful), "app:app"]
    first = spawn(args, cwd=app_dir, stderr=subprocess.DEVNULL)
    forward_receiver.wait_until(message_has(f"Listening at: http://127.0.0.1:{port}"))
    forward_receiver.wait_until(lambda event: len(pids_in(forward_receiver, r"Booting worker with pid: (\d+)")) >= 2)
    gunicorns = pids_in(forward_receiver, r"Listening at: \S+ \((\d+)\)") + pids_in(
        forward_receiver, r"Booting worker with pid: (\d+)")
    first.kill()  # SIGKILL, as the OOM killer or a supervisor's forced stop
    first.wait()
    # gone within the graceful timeout when all is well; the 20 s more are for a busy machine
    assert wait_until_gone(gunicorns, timeout=graceful + 20) == []
    forward_receiver.clear()
    spawn(args, cwd=app_dir, stderr=subprocess.DEVNULL)  # a supervisor's restart: the port is free again
    forward_receiver.wait_until(message_has(f"Listening at: http://127.0.0.1:{port}"))
    assert get(port, "/after-restart") == 200


@pytest.mark.skipif(importlib.util.find_spec("circus") is None, reason="circus is not installed")
def test_circusd_runs_logwrap_gunicorn_as_a_watcher(forward_receiver, app_dir):
    port, endpoint, pubsub = free_port(), free_port(), free_port()
    command = " ".join([*LOGWRAP, "--to", forward_receiver.url, "--tag", "circus.web", "--",
                        *gunicorn_args(port)])
    (app_dir / "circus.ini").write_text(textwrap.dedent(f"""
        [circus]
        endpoint = tcp://127.0.0.1:{endpoint}
        pubsub_endpoint = tcp://127.0.0.1:{pubsub}
        check_delay = 5

        [watcher:web]
        cmd = {command}
        working_dir = {app_dir}
        stop_signal = TERM
        graceful_timeout = 30
        copy_env = True
    """))
    ctl = [sys.executable, "-m", "circus.circusctl", "--endpoint", f"tcp://127.0.0.1:{endpoint}", "--timeout", "30"]
    circusd = subprocess.Popen([sys.executable, "-m", "circus.circusd", str(app_dir / "circus.ini")],
                               cwd=app_dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    listening = message_has(f"Listening at: http://127.0.0.1:{port}")
    try:
        forward_receiver.wait_until(listening, timeout=30)
        assert get(port, "/first") == 200
        forward_receiver.wait_until(message_has("GET /first"))
        subprocess.run([*ctl, "reload", "web"], check=True, capture_output=True, timeout=60)
        wait_for_count(forward_receiver, listening, 2)  # the reloaded watcher's new master
        assert get(port, "/second") == 200
        forward_receiver.wait_until(message_has("GET /second"))
        subprocess.run([*ctl, "quit"], check=True, capture_output=True, timeout=60)
        assert circusd.wait(30) == 0
    finally:
        circusd.kill()
        circusd.wait()
    shutdowns = [e for e in forward_receiver.events if "Shutting down: Master" in e.record["message"]]
    assert len(shutdowns) == 2  # the run before the reload and the one after it, both stopped cleanly
    assert {e.tag for e in forward_receiver.events} == {"circus.web"}


def wait_for_count(receiver, predicate, count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while sum(map(predicate, receiver.events)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"fewer than {count} matching events in {timeout}s")
        receiver.wait_for(len(receiver.events) + 1, timeout=deadline - time.monotonic())
