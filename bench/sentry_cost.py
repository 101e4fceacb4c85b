"""What --sentry-dsn costs logwrap's throughput, against the same run without it.

    python bench/sentry_cost.py [--lines N]

A child (`cat`) writes N records as fast as it can; logwrap delivers them with acks to
`shipper receive --count`, once with `--sentry-dsn` pointing at a Sentry stand-in of this
script (an HTTP server answering 200 to every envelope) and once without, in alternating runs
(the best of each):

1. No errors: N ~200-byte JSON lines. Bound: >= 0.97x.
2. 1% tracebacks: every 100th record is a chained Python traceback printed as text (8 lines,
   grouped by logwrap into one record). With the default flags, at most 60 events a minute go
   out and the rest are counted, not parsed. Bound: >= 0.9x.
3. For information, the same input with the cap lifted (`--sentry-max-events` 10**9): every
   traceback is parsed into an event and handed to sentry-sdk, which sends what its queue holds.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from common import LOGWRAP, delivered_run, json_lines

ROUNDS = 3
TRACEBACK = """\
Traceback (most recent call last):
  File "/srv/shop/payments.py", line 41, in charge
    return gateway.post(order)
TimeoutError: payment gateway did not answer in 2.0s

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/srv/shop/views.py", line 17, in checkout
    charge(order)
RuntimeError: checkout failed
"""


class StandIn(BaseHTTPRequestHandler):
    """Sentry's envelope endpoint, as fast as it gets: read the body, answer 200."""

    envelopes = 0

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        StandIn.envelopes += 1
        body = b'{"id": "0"}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def with_tracebacks(count: int) -> tuple[str, int]:
    """A file of ``count`` records, every 100th a traceback; returns it and its line count."""
    path = os.path.join(tempfile.gettempdir(), f"shipper-bench-tracebacks-{count}.log")
    lines = 0
    with open(json_lines(count)) as plain, open(path, "w") as out:
        for n, line in enumerate(plain):
            text = TRACEBACK if n % 100 == 99 else line
            out.write(text)
            lines += text.count("\n")
    return path, lines


def compare(title: str, path: str, lines: int, records: int, flags: list[str], bound: float | None) -> None:
    walls: dict[bool, list[float]] = {False: [], True: []}
    summaries: list[str] = []
    for _ in range(ROUNDS):
        for on in (False, True):
            extra = flags if on else []
            command = lambda r, extra=extra: ([*LOGWRAP, "--to", r.url, *extra, "--", "cat", path], None)  # noqa: E731
            walls[on].append(delivered_run(title, command, lines, records=records,
                                           summaries=summaries if on else None)[1])
    off, on = min(walls[False]), min(walls[True])
    ratio = off / on
    verdict = "" if bound is None else f" ({'ok' if ratio >= bound else 'UNDER'} the {bound}x bound)"
    print(f"{title}: {records / on:,.0f} vs {records / off:,.0f} records/s = {ratio:.2f}x{verdict}")
    print(f"    last run's summary: {summaries[-1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    dsn = ["--sentry-dsn", f"http://key@127.0.0.1:{server.server_address[1]}/1"]
    try:
        print(f"--sentry-dsn vs none, {args.lines:,} records, best of {ROUNDS} each, alternating:")
        compare("no errors", json_lines(args.lines), args.lines, args.lines, dsn, 0.97)
        path, lines = with_tracebacks(args.lines)
        compare("1% tracebacks, default cap", path, lines, args.lines, dsn, 0.9)
        compare("1% tracebacks, no cap (information)", path, lines, args.lines,
                [*dsn, "--sentry-max-events", str(10**9)], None)
        print(f"envelopes the stand-in received: {StandIn.envelopes}")
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
