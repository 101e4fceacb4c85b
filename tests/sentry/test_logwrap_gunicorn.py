"""gunicorn under logwrap, as a new user runs it: its workers' errors and crashes reach the real Bugsink."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..peers import free_port, wait_until
from ..processes import LOGWRAP
from .bugsink import Project

APP = textwrap.dedent("""\
    import ctypes


    def crash():
        ctypes.string_at(0)


    def lookup(order_id):
        return {"1": "book"}[order_id]


    def wsgi(environ, start_response):
        if environ["PATH_INFO"] == "/crash":
            crash()
        if environ["PATH_INFO"] == "/error":
            lookup("2")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok\\n"]
""")


def line(fragment: str) -> int:
    """The number of APP's line holding ``fragment``."""
    return next(number for number, text in enumerate(APP.splitlines(), 1) if fragment in text)


class Web:
    def __init__(self, port: int, app: Path) -> None:
        self.port = port
        self.app = app

    def get(self, path: str) -> int | None:
        """The status of GET path; None when the worker died without answering."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as answer:
                return answer.status
        except urllib.error.HTTPError as error:
            return error.code
        except (urllib.error.URLError, ConnectionError):
            return None


@pytest.fixture
def web(tmp_path: Path, forward_receiver, sentry_project: Project) -> Iterator[Web]:
    """gunicorn with shipper's config under ``logwrap --sentry-dsn``, default flags; stopped with TERM."""
    (tmp_path / "webapp.py").write_text(APP)
    port = free_port()
    env = {**os.environ, "SERVICE_NAME": "web", "SERVICE_VERSION": "web@2.0"}
    proc = subprocess.Popen([*LOGWRAP, "--to", forward_receiver.url, "--sentry-dsn", sentry_project.dsn, "--",
                             sys.executable, "-m", "gunicorn", "-c", "python:shipper.gunicorn",
                             "-b", f"127.0.0.1:{port}", "webapp:wsgi"],
                            cwd=tmp_path, env=env, stderr=subprocess.DEVNULL)
    try:
        server = Web(port, tmp_path / "webapp.py")
        wait_until(lambda: server.get("/") == 200)
        yield server
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        proc.kill()
        proc.wait()


def frames(value: dict) -> list[tuple[str, int, str]]:
    return [(frame["abs_path"], frame["lineno"], frame["function"])
            for frame in value["stacktrace"]["frames"] if frame["in_app"]]


def test_an_error_in_a_request_is_an_event_from_gunicorns_json_error_log(web: Web, sentry_project: Project) -> None:
    assert web.get("/error") == 500
    [event] = sentry_project.wait_for_events(1)
    data = sentry_project.event(event["event_id"])["data"]
    [value] = data["exception"]["values"]
    assert (value["type"], value["value"]) == ("KeyError", "'2'")
    assert frames(value) == [(str(web.app), line('lookup("2")'), "wsgi"), (str(web.app), line("return {"), "lookup")]
    assert (data["logger"], data["logentry"]["message"], data["release"]) == (
        "gunicorn.error", "Error handling request GET /error", "web@2.0")
    assert data["tags"]["service.name"] == "web"


def test_a_worker_that_segfaults_is_a_fatal_event_with_its_python_stack_while_gunicorn_lives_on(
        web: Web, sentry_project: Project) -> None:
    assert web.get("/crash") is None
    [event] = sentry_project.wait_for_events(1)
    data = sentry_project.event(event["event_id"])["data"]
    [value] = data["exception"]["values"]
    assert (data["level"], value["type"], value["value"]) == (
        "fatal", "SIGSEGV", "Fatal Python error: Segmentation fault")
    assert frames(value) == [(str(web.app), line("    crash()"), "wsgi"), (str(web.app), line("string_at"), "crash")]
    assert web.get("/") == 200  # the master restarted the worker: no crash event for logwrap's child
