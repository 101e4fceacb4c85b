"""What --sentry-dsn costs logwrap's throughput, against the same run without it.

    python bench/sentry_cost.py [--lines N]

A child (`cat`) writes N records as fast as it can; logwrap delivers them with acks to
`shipper receive --count`, once with `--sentry-dsn` pointing at a Sentry stand-in of this
script (answering 200 to every envelope) and once without, in alternating runs
(the median of each):

1. No errors: N ~200-byte JSON lines. Bound: >= 0.97x.
2. 1% tracebacks: every 100th record is a chained Python traceback printed as text (8 lines,
   grouped by logwrap into one record). With the default flags, at most 60 events a minute go
   out and the rest are counted, not parsed. Bound: >= 0.9x, over 3N records (a storm of 7 s
   or so); the same over N records is printed beside it.
3. For information, N records with the cap lifted (`--sentry-max-events` 10**9): every
   traceback is parsed into an event and handed to sentry-sdk, which sends what its queue holds.

What --sentry-dsn costs is mostly fixed: a one-time 0.06 s (more while the pipeline competes
with it) to import sentry-sdk and make its client at the first event, and the cap's first burst
of 60 events, about 2 ms each (building the event, sentry-sdk's serializer and its HTTP
request). A traceback over the cap costs a few microseconds. Over N records (2.5 s) those fixed
costs weigh about 10%; over a storm a few times longer they fade, as they do in a service that
runs for hours, which is why the bound is checked over 3N.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import statistics
import tempfile
import threading

from common import LOGWRAP, delivered_run, json_lines

ROUNDS = 5
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


class StandIn:
    """Sentry's envelope endpoint, as cheap as it gets, so that it takes little of the CPU the
    runs share: one asyncio thread, connections kept open (HTTP/1.1, as sentry.io and a Bugsink
    behind a proxy keep them), every request read to its end and answered 200 in one write."""

    ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"id\": \"0\"}"

    def __init__(self) -> None:
        self.envelopes = 0
        self.loop = asyncio.new_event_loop()
        self.server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
                await reader.readexactly(int(length[1]) if length else 0)
                self.envelopes += 1
                writer.write(self.ANSWER)
        writer.close()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


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


def compare(title: str, path: str, lines: int, records: int, flags: list[str], bound: float | None,
            rounds: int = ROUNDS) -> None:
    walls: dict[bool, list[float]] = {False: [], True: []}
    summaries: list[str] = []
    for _ in range(rounds):
        for on in (False, True):
            extra = flags if on else []
            command = lambda r, extra=extra: ([*LOGWRAP, "--to", r.url, *extra, "--", "cat", path], None)  # noqa: E731
            walls[on].append(delivered_run(title, command, lines, records=records,
                                           summaries=summaries if on else None)[1])
    off, on = statistics.median(walls[False]), statistics.median(walls[True])
    ratio = off / on
    verdict = "" if bound is None else f" ({'ok' if ratio >= bound else 'UNDER'} the {bound}x bound)"
    print(f"{title}: {records / on:,.0f} vs {records / off:,.0f} records/s = {ratio:.2f}x{verdict}")
    print(f"    last run's summary: {summaries[-1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    args = parser.parse_args()
    stand_in = StandIn()
    dsn = ["--sentry-dsn", f"http://key@127.0.0.1:{stand_in.port}/1"]
    try:
        print(f"--sentry-dsn vs none, {args.lines:,} records, median of {ROUNDS} each, alternating "
              "(a run is 2-3 s: the machine's noise is several percent):")
        compare("no errors", json_lines(args.lines), args.lines, args.lines, dsn, 0.97)
        path, lines = with_tracebacks(args.lines)
        compare("1% tracebacks, default cap (information: the fixed costs weigh most here)", path, lines,
                args.lines, dsn, None)
        longer, longer_lines = with_tracebacks(3 * args.lines)
        compare(f"1% tracebacks, default cap, {3 * args.lines:,} records", longer, longer_lines,
                3 * args.lines, dsn, 0.9)
        compare("1% tracebacks, no cap (information, one run each)", path, lines, args.lines,
                [*dsn, "--sentry-max-events", str(10**9)], None, rounds=1)
        print(f"envelopes the stand-in received: {stand_in.envelopes}")
    finally:
        stand_in.stop()


if __name__ == "__main__":
    main()
