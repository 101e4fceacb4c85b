"""The README recipes, each run against the real framework from the dev extra."""

import json
import signal
import subprocess
import sys
import textwrap

import pytest

from ..logwrap.test_realworld import free_port
from .test_configure import _base_env
from .test_gunicorn import Gunicorn

ASGI = textwrap.dedent("""
    import logging

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        if scope["path"] == "/boom":
            raise RuntimeError("asgi boom")
        logging.getLogger("app").info("asgi request", extra={"user.id": 3})
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
""")
DJANGO = textwrap.dedent("""
    import logging, shipper, django
    from django.conf import settings
    from django.http import HttpResponse
    from django.urls import path

    def ok(request):
        logging.getLogger("app").info("django view", extra={"user.id": 5})
        return HttpResponse("ok")

    def boom(request):
        raise RuntimeError("django boom")

    urlpatterns = [path("ok", ok), path("boom", boom)]
    settings.configure(DEBUG=False, ROOT_URLCONF=__name__, ALLOWED_HOSTS=["*"],
                       LOGGING=shipper.logging_config())
    django.setup()
    from django.test import Client
    client = Client(raise_request_exception=False)
    print("statuses", client.get("/ok").status_code, client.get("/boom").status_code, file=__import__("sys").stderr)
""")
FLASK = textwrap.dedent("""
    import shipper.autolog
    import sys
    from flask import Flask

    app = Flask("shop")

    @app.get("/ok")
    def ok():
        app.logger.info("flask view", extra={"user.id": 9})
        return "ok"

    @app.get("/boom")
    def boom():
        raise RuntimeError("flask boom")

    app.run(port=int(sys.argv[1]))
""")


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def error_records(records: list[dict], message: str) -> list[dict]:
    return [r for r in records if message in r.get("error", {}).get("stack_trace", "")]


def test_uvicorn_with_the_printed_log_config_writes_json_for_its_access_and_error_loggers(tmp_path, gunicorn_like):
    (tmp_path / "app.py").write_text(ASGI)
    config = subprocess.run([sys.executable, "-m", "shipper", "logging-config"], capture_output=True, check=True)
    (tmp_path / "logging.json").write_bytes(config.stdout)
    server = gunicorn_like(tmp_path, "uvicorn", "app:app", "--log-config", "logging.json")
    assert [server.request("/items?x=1"), server.request("/boom")] == [200, 500]
    out, err = server.stop()
    (access,) = [r for r in out if r["log"]["logger"] == "uvicorn.access" and r["url"]["path"] == "/items"]
    assert access["http"]["request"]["method"] == "GET" and access["url"]["query"] == "x=1"
    assert access["http"]["response"]["status_code"] == 200 and access["message"] == "GET /items 200"
    assert [r["user"] for r in out if r["message"] == "asgi request"] == [{"id": 3}]
    (failure,) = error_records(out, "asgi boom")
    assert failure["log"]["logger"] == "uvicorn.error" and failure["error"]["type"] == "RuntimeError"
    assert err == []


def test_django_with_logging_set_to_shippers_config(tmp_path):
    (tmp_path / "site.py").write_text(DJANGO)
    result = subprocess.run([sys.executable, "site.py"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=60, env=_base_env())
    assert "statuses 200 500" in result.stderr
    records = json_lines(result.stdout)
    assert [r["user"] for r in records if r["message"] == "django view"] == [{"id": 5}]
    (failure,) = error_records(records, "django boom")
    assert failure["log"]["logger"] == "django.request" and failure["message"] == "Internal Server Error: /boom"


def test_flask_with_the_one_import_logs_app_errors_and_requests_as_json(tmp_path, gunicorn_like):
    (tmp_path / "shop.py").write_text(FLASK)
    port = free_port()
    server = gunicorn_like(tmp_path, None, "shop.py", str(port), port=port)
    assert [server.request("/ok"), server.request("/boom")] == [200, 500]
    out, err = server.stop(banner=" * ")  # the dev server's banner is printed, not logged
    assert [r["user"] for r in out if r["message"] == "flask view"] == [{"id": 9}]
    (failure,) = error_records(out, "flask boom")
    assert failure["message"] == "Exception on /boom [GET]"
    assert any(r["log"]["logger"] == "werkzeug" and '"GET /ok HTTP/1.1" 200' in r["message"] for r in out)
    assert not any("\x1b" in r["message"] for r in out)  # werkzeug's colours are gone


@pytest.fixture
def gunicorn_like():
    """A server process (a module run with -m, or a script) started like the gunicorn tests'."""
    started = []

    def start(tmp_path, module, *args, port=None):
        server = Server(tmp_path, module, args, port)
        started.append(server)
        return server

    yield start
    for server in started:
        server.proc.kill()
        server.proc.wait()


class Server(Gunicorn):
    def __init__(self, tmp_path, module, args, port):  # noqa: D107 - same shape as Gunicorn's
        self.port = port or free_port()
        self.out, self.err = tmp_path / "out.log", tmp_path / "err.log"
        command = [sys.executable, *(["-m", module] if module else []), *args]
        if module == "uvicorn":
            command += ["--port", str(self.port)]
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(command, cwd=tmp_path, stdout=out, stderr=err, env=_base_env())
        self._wait_until_listening()

    def stop(self, banner: str | None = None):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return super().stop(banner)
