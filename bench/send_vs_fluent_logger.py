"""`shipper send` of 1,000,000 ~200-byte JSON lines into `shipper receive --count`, beside
fluent-logger's FluentSender.emit for the same records, in the same run.

    python bench/send_vs_fluent_logger.py [--lines N] [--baseline-lines N]

fluent-logger gets every advantage: its records are decoded before its clock starts, it
runs in-process with no interpreter start-up counted, and it sends EventTime like we do.
`shipper send` is timed as a whole command, start-up and JSON parsing included; the rate
without the fixed start-up cost (measured by sending empty input) is printed too.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from common import SHIPPER, CountingReceiver, json_lines

BASELINE = r"""
import sys, time, json
from fluent import sender
path, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path) as f:
    records = [json.loads(next(f)) for _ in range(count)]
client = sender.FluentSender("bench", host="127.0.0.1", port=port, nanosecond_precision=True)
start = time.perf_counter()
for record in records:
    client.emit("x", record)
elapsed = time.perf_counter() - start
client.close()
print(count / elapsed)
"""


def time_send(path: str | None, url: str) -> float:
    with open(path or "/dev/null", "rb") as stdin:
        start = time.perf_counter()
        done = subprocess.run([*SHIPPER, "send", "-q", "--to", url, "--tag", "bench"], stdin=stdin)
        elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"shipper send failed with status {done.returncode}")
    return elapsed


def fluent_logger_rate(path: str, count: int) -> float:
    receiver = CountingReceiver()
    out = subprocess.run([sys.executable, "-c", BASELINE, path, str(receiver.port), str(count)],
                         capture_output=True, text=True, check=True)
    received = receiver.stop()
    if received != count:
        sys.exit(f"fluent-logger: receiver counted {received} of {count}")
    return float(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--baseline-lines", type=int, default=200_000)
    args = parser.parse_args()
    path = json_lines(args.lines)

    baseline = fluent_logger_rate(path, min(args.baseline_lines, args.lines))
    receiver = CountingReceiver()
    startup = time_send(None, receiver.url)
    elapsed = time_send(path, receiver.url)
    received = receiver.stop()
    if received != args.lines:
        sys.exit(f"shipper send: receiver counted {received} of {args.lines}")

    rate = args.lines / elapsed
    steady = args.lines / (elapsed - startup)
    print(f"{'':34}{'records/s':>12}{'vs fluent-logger':>18}")
    print(f"{'fluent-logger FluentSender.emit':34}{baseline:>12,.0f}{1:>17.1f}x")
    print(f"{'shipper send (whole command)':34}{rate:>12,.0f}{rate / baseline:>17.1f}x")
    print(f"{'shipper send (less start-up)':34}{steady:>12,.0f}{steady / baseline:>17.1f}x")
    print(f"({args.lines:,} lines in {elapsed:.2f}s, start-up {startup:.2f}s; all {received:,} counted)")


if __name__ == "__main__":
    main()
