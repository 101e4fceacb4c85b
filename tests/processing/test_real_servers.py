"""The presets read what real servers write: Debian's nginx and gunicorn, on private ports.

Each server runs with its own configuration in a temporary directory and logs access lines to a
pipe; the test makes real requests (urllib, and a raw socket for bytes that are not HTTP), waits
until the lines arrived and reads them with ``parser_for``. nginx missing skips, or fails under
``SHIPPER_EXPECT_TOOLS=1`` (CI installs it).
"""

from __future__ import annotations

import base64
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from shipper.processing.parsers import parser_for

from ..peers import STARTUP_TIMEOUT, accepts, free_port, need, wait_until

HELLO = b"hello, parser\n"
QUOTED_AGENT = 'shipper-test/1.0 (compatible; "quoted")'
BASIC_ALICE = "Basic " + base64.b64encode(b"alice:secret").decode()
TLS_HELLO = b"\x16\x03\x01\x00\x05hello"  # what a TLS client sends first, here to a plain HTTP port


class Server:
    """A server process whose stdout lines are gathered by a thread as they come."""

    def __init__(self, command: list[str], cwd: Path, ports: list[int]) -> None:
        self.cwd = cwd
        self.stderr = (cwd / "stderr.log").open("wb")
        self.proc = subprocess.Popen(command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.stderr, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        try:
            wait_until(lambda: self.proc.poll() is not None or all(map(accepts, ports)), timeout=STARTUP_TIMEOUT)
            if self.proc.poll() is not None:
                raise RuntimeError(f"{command[0]} exited {self.proc.returncode}: {self.errors()}")
        except BaseException:
            self.stop()
            raise

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.removesuffix("\n"))

    def errors(self) -> str:
        return (self.cwd / "stderr.log").read_text(errors="replace")[-3000:]

    def wait_for_lines(self, count: int) -> list[str]:
        """The first ``count`` lines, once they are there (an AssertionError showing them at the deadline)."""
        return wait_until(lambda: list(self.lines), lambda lines: len(lines) >= count)[:count]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._reader.join(10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        self.stderr.close()


def request(url: str, data: bytes | None = None, **headers: str) -> int:
    """Make a real request; its status (an error status is an answer too)."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers), timeout=10) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as error:
        error.read()
        return int(error.code)


def send_raw(port: int, data: bytes) -> bytes:
    """Send bytes that are not HTTP, and read the server's answer until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(data)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
        return answer


def is_now(timestamp: str) -> bool:
    """Whether an RFC 3339 UTC ``timestamp`` is within a minute of now: the zone was read right."""
    moment = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    return abs(moment.timestamp() - time.time()) < 60


def by_url(records: list[dict[str, Any]]) -> dict[str | None, dict[str, Any]]:
    return {record.get("url.original"): record for record in records}


# nginx

NGINX_CONF = """\
daemon off;
master_process off;
pid {tmp}/nginx.pid;
error_log stderr info;
events {{ worker_connections 64; }}
http {{
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    # nginx's documented main format (Debian's nginx.conf does not define it).
    log_format main '$remote_addr - $remote_user [$time_local] "$request" '
                    '$status $body_bytes_sent "$http_referer" '
                    '"$http_user_agent" "$http_x_forwarded_for"';
    server {{
        listen 127.0.0.1:{combined};
        root {tmp}/www;
        access_log /dev/stdout combined;
    }}
    server {{
        listen 127.0.0.1:{main};
        root {tmp}/www;
        access_log /dev/stdout main;
    }}
}}
"""


def nginx_site(tmp: Path) -> tuple[list[str], int, int]:
    """The command of Debian's nginx serving ``tmp/www`` on two private ports: one logs combined,
    the other main."""
    binary = need("nginx", "apt-get install --no-install-recommends nginx")
    (tmp / "www").mkdir()
    (tmp / "www" / "hello.txt").write_bytes(HELLO)
    combined, main = free_port(), free_port()
    (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, combined=combined, main=main))
    return [binary, "-e", "stderr", "-p", str(tmp), "-c", str(tmp / "nginx.conf")], combined, main


@pytest.fixture
def nginx() -> Iterator[tuple[Server, int, int]]:
    """nginx_site's server, its access lines gathered."""
    with tempfile.TemporaryDirectory(prefix="shipper-nginx-") as tmp_dir:
        tmp = Path(tmp_dir)
        command, combined, main = nginx_site(tmp)
        server = Server(command, tmp, [combined, main])
        try:
            yield server, combined, main
        finally:
            server.stop()


def test_nginx_combined_lines_read_with_typed_fields(nginx):
    server, port, _ = nginx
    base = f"http://127.0.0.1:{port}"
    assert request(base + "/hello.txt?lang=en&q=a+b") == 200
    assert request(base + "/nope") == 404
    assert request(base + "/hello.txt", data=b"order=17") == 405
    assert request(base + "/hello.txt?ref", Referer="https://example.com/start", **{"User-Agent": QUOTED_AGENT},
                   Authorization=BASIC_ALICE) == 200
    assert send_raw(port, TLS_HELLO).startswith(b"HTTP/1.1 400")
    lines = server.wait_for_lines(5)
    records = [parser_for("nginx")(line) for line in lines]
    assert None not in records, lines
    urls = by_url(records)
    get = urls["/hello.txt?lang=en&q=a+b"]
    assert get["http.request.method"] == "GET" and get["http.version"] == "1.1"
    assert get["http.response.status_code"] == 200 and get["http.response.body.bytes"] == len(HELLO)
    assert get["source.address"] == "127.0.0.1" and get["user_agent.original"].startswith("Python-urllib/")
    assert "user.name" not in get and "http.request.referrer" not in get
    assert is_now(get["@timestamp"]) and get["message"] in lines
    assert urls["/nope"]["http.response.status_code"] == 404 and urls["/nope"]["http.response.body.bytes"] > 0
    post = urls["/hello.txt"]
    assert post["http.request.method"] == "POST" and post["http.response.status_code"] == 405
    referred = urls["/hello.txt?ref"]
    assert referred["http.request.referrer"] == "https://example.com/start"
    assert referred["user_agent.original"] == r"shipper-test/1.0 (compatible; \x22quoted\x22)"  # nginx's escape
    assert referred["user.name"] == "alice"
    not_http = urls[None]
    assert not_http["http.response.status_code"] == 400
    assert not {"http.request.method", "http.version"} & set(not_http)
    assert r'"\x16\x03\x01\x00\x05hello"' in not_http["message"]


def test_nginx_main_lines_read_with_the_forwarded_for_header(nginx):
    server, _, port = nginx
    base = f"http://127.0.0.1:{port}"
    assert request(base + "/hello.txt?via=proxy", **{"X-Forwarded-For": "192.0.2.10, 10.0.0.1"}) == 200
    assert request(base + "/hello.txt?direct") == 200
    records = [parser_for("nginx")(line) for line in server.wait_for_lines(2)]
    urls = by_url(records)
    assert urls["/hello.txt?via=proxy"]["http.request.headers.x_forwarded_for"] == "192.0.2.10, 10.0.0.1"
    direct = urls["/hello.txt?direct"]
    assert "http.request.headers.x_forwarded_for" not in direct and direct["message"].endswith(' "-"')
    assert direct["http.response.body.bytes"] == len(HELLO)


# gunicorn

APP = textwrap.dedent("""
    def app(environ, start_response):
        body = environ["wsgi.input"].read()
        if environ["PATH_INFO"] == "/missing":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"no such page"]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hello" + body]
""")


@pytest.fixture
def gunicorn() -> Iterator[tuple[Server, int]]:
    """gunicorn with its default access log format on stdout, serving a tiny WSGI app."""
    with tempfile.TemporaryDirectory(prefix="shipper-gunicorn-") as tmp_dir:
        tmp = Path(tmp_dir)
        (tmp / "app.py").write_text(APP)
        port = free_port()
        server = Server([sys.executable, "-m", "gunicorn", "--access-logfile", "-", "--workers", "1",
                         "--bind", f"127.0.0.1:{port}", "app:app"], tmp, [port])
        try:
            yield server, port
        finally:
            server.stop()


def test_gunicorn_default_access_lines_read_with_typed_fields(gunicorn):
    server, port = gunicorn
    base = f"http://127.0.0.1:{port}"
    assert request(base + "/orders?page=2") == 200
    assert request(base + "/missing") == 404
    assert request(base + "/orders", data=b"id=17") == 200
    assert request(base + "/ref", Referer="https://example.com/start", **{"User-Agent": QUOTED_AGENT},
                   Authorization=BASIC_ALICE) == 200
    lines = server.wait_for_lines(4)
    records = [parser_for("gunicorn")(line) for line in lines]
    assert None not in records, lines
    urls = by_url(records)
    get = urls["/orders?page=2"]
    assert get["http.request.method"] == "GET" and get["http.version"] == "1.1"
    assert get["http.response.status_code"] == 200 and get["http.response.body.bytes"] == len(b"hello")
    assert get["source.address"] == "127.0.0.1" and get["user_agent.original"].startswith("Python-urllib/")
    assert "user.name" not in get and "http.request.referrer" not in get and is_now(get["@timestamp"])
    assert urls["/missing"]["http.response.status_code"] == 404
    post = urls["/orders"]
    assert post["http.request.method"] == "POST" and post["http.response.body.bytes"] == len(b"helloid=17")
    referred = urls["/ref"]
    assert referred["http.request.referrer"] == "https://example.com/start"
    assert referred["user_agent.original"] == r'shipper-test/1.0 (compatible; \"quoted\")'  # gunicorn's escape
    assert referred["user.name"] == "alice"
