"""A stand-in for Elasticsearch and Kibana: real HTTP, canned answers, every request kept."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeServer:
    """Answers ``answers[(method, path_prefix)] = (status, body)``; 200 {} otherwise."""

    def __init__(self, product: str | None = "Elasticsearch") -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.answers: dict[tuple[str, str], tuple[int, Any]] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake.requests.append((self.command, self.path, dict(self.headers), body))
                status, answer = fake.answer(self.command, self.path)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if product:
                    self.send_header("X-Elastic-Product", product)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_HEAD = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def answer(self, method: str, path: str) -> tuple[int, Any]:
        for (want_method, prefix), answer in self.answers.items():
            if method == want_method and path.startswith(prefix):
                return answer
        if method == "GET" and path == "/":
            return 200, {"version": {"number": "8.19.16", "build_flavor": "default"}, "tagline": "You Know, for Search"}
        return 200, {"acknowledged": True}

    def bodies(self, method: str, prefix: str) -> list[Any]:
        return [json.loads(body) if body else None for m, p, _, body in self.requests
                if m == method and p.startswith(prefix)]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
