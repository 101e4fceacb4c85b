"""The sample app of ``shipper demo``: a stdlib WSGI server that logs one JSON line per request.

``/checkout`` fails with a chained exception; wsgiref prints the traceback to stderr, as an
unprepared app would, and logwrap turns it into one record.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server


def log(level: str, message: str, **fields: Any) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{time.time_ns() // 1000 % 1_000_000:06d}Z"
    print(json.dumps({"@timestamp": stamp, "log.level": level, "message": message, **fields}), flush=True)


def charge() -> None:
    raise TimeoutError("payment gateway did not answer in 2.0s")


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    if path == "/checkout":
        try:
            charge()
        except TimeoutError as exc:
            raise RuntimeError("checkout failed") from exc
    log("info", f"GET {path}", **{"url.path": path, "http.response.status_code": 200})
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok\n"]


class _PlainAccessLog(WSGIRequestHandler):
    """wsgiref's access log line, as plain text on stderr."""


def main() -> None:
    parser = argparse.ArgumentParser(description="shipper's sample app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port (the one taken is logged)")
    args = parser.parse_args()
    server = make_server(args.host, args.port, app, handler_class=_PlainAccessLog)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    log("info", "listening", port=server.server_port)
    try:
        server.serve_forever()
    finally:
        log("info", "stopped")


if __name__ == "__main__":
    main()
