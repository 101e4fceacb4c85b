"""Real gunicorn with ``-c python:shipper.gunicorn`` (and with the logconfig_dict recipe)."""

import json
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request

import pytest

from ..logwrap.test_realworld import free_port
from .test_configure import _base_env

APP = textwrap.dedent("""
    import logging
    log = logging.getLogger("app")

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/boom":
            raise RuntimeError("boom at " + environ["PATH_INFO"])
        log.info("handling", extra={"user.id": 7})
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hello"]
""")
FORGERY = 'agent", "http": {"forged": true}, "x": "'


class Gunicorn:
    def __init__(self, tmp_path, *args: str, env: dict | None = None) -> None:
        (tmp_path / "app.py").write_text(APP)
        self.port = free_port()
        self.out, self.err = tmp_path / "out.log", tmp_path / "err.log"
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", *args, "--bind", f"127.0.0.1:{self.port}", "app:app"],
                cwd=tmp_path, stdout=out, stderr=err, env={**_base_env(), **(env or {})})
        self._wait_until_listening()

    def _wait_until_listening(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.err.read_text()}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)  # polling a port: no event to wait on
        raise TimeoutError("gunicorn did not listen")

    def request(self, path: str, **headers: str) -> int:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def stop(self, banner: str | None = None) -> tuple[list[dict], list[dict]]:
        """Stop it gracefully; its stdout and stderr as parsed JSON lines (any other line fails,
        except those starting with ``banner``)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)
        return tuple([json.loads(line) for line in path.read_text().splitlines()
                      if not (banner and line.startswith(banner))] for path in (self.out, self.err))


@pytest.fixture
def gunicorn(tmp_path):
    started = []

    def start(*args: str, **kwargs) -> Gunicorn:
        started.append(Gunicorn(tmp_path, *args, **kwargs))
        return started[-1]

    yield start
    for server in started:
        server.proc.kill()
        server.proc.wait()


def access_records(records):
    return [r for r in records if r["log"]["logger"] == "gunicorn.access"]


def test_the_access_log_is_json_with_request_fields(gunicorn):
    server = gunicorn("-c", "python:shipper.gunicorn")
    assert server.request("/items?page=2", **{"User-Agent": "curl/8", "X-Request-ID": "req-42"}) == 200
    out, _ = server.stop()
    (access,) = access_records(out)
    assert access["message"] == "GET /items 200"
    assert access["http"] == {"request": {"method": "GET", "id": "req-42"},
                              "response": {"status_code": 200, "body": {"bytes": 5}}}
    assert access["url"] == {"path": "/items", "query": "page=2"} and access["client"]["address"] == "127.0.0.1"
    assert access["user_agent"]["original"] == "curl/8" and access["event"]["duration"] > 0


def test_a_quote_in_a_header_can_neither_break_nor_forge_the_json(gunicorn):
    server = gunicorn("-c", "python:shipper.gunicorn")
    server.request("/", **{"User-Agent": FORGERY})
    out, _ = server.stop()
    (access,) = access_records(out)
    assert access["user_agent"]["original"] == FORGERY and "forged" not in access["http"]


def test_the_error_log_is_json_and_a_failed_request_is_one_record_with_its_traceback(gunicorn):
    server = gunicorn("-c", "python:shipper.gunicorn")
    assert server.request("/boom") == 500
    _, err = server.stop()
    (failure,) = [r for r in err if "error" in r]
    assert failure["log"]["logger"] == "gunicorn.error" and failure["error"]["type"] == "RuntimeError"
    assert "boom at /boom" in failure["error"]["stack_trace"]
    assert any(r["message"].startswith("Starting gunicorn") for r in err)


def test_the_apps_own_records_come_out_in_the_same_schema(gunicorn):
    server = gunicorn("-c", "python:shipper.gunicorn", env={"SERVICE_NAME": "shop"})
    server.request("/")
    out, _ = server.stop()
    (mine,) = [r for r in out if r["log"]["logger"] == "app"]
    assert mine["user"] == {"id": 7} and mine["service"]["name"] == "shop"


def test_the_flat_schema_gives_short_access_fields(gunicorn):
    server = gunicorn("-c", "python:shipper.gunicorn", env={"LOG_SCHEMA": "flat"})
    server.request("/x?y=1", **{"X-Request-ID": "r1"})
    out, _ = server.stop()
    (access,) = [r for r in out if r["logger"] == "gunicorn.access"]
    assert {k: access[k] for k in ("method", "path", "query", "status", "bytes", "request_id")} == {
        "method": "GET", "path": "/x", "query": "y=1", "status": 200, "bytes": 5, "request_id": "r1"}
    assert access["duration_ms"] > 0 and access["user_agent"].startswith("Python-urllib")


def test_the_logconfig_dict_recipe_gives_the_same_access_fields(gunicorn, tmp_path):
    (tmp_path / "conf.py").write_text("import shipper.gunicorn\n"
                                      "logconfig_dict = shipper.gunicorn.json_logconfig()\naccesslog = '-'\n")
    server = gunicorn("-c", "conf.py")
    server.request("/items", **{"User-Agent": FORGERY})
    out, _ = server.stop()
    (access,) = access_records(out)
    assert access["url"]["path"] == "/items" and access["user_agent"]["original"] == FORGERY
