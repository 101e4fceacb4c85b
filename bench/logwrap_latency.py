"""Does the app feel logwrap? Runtime of a paced writer, and latency from write to receipt.

    python bench/logwrap_latency.py [--rate 20000] [--seconds 10]

A child writes RATE JSON lines per second for SECONDS, each carrying the time it was
written, and reports its own running time. It runs twice in the same run: with stdout to
/dev/null (the baseline), then under logwrap with default settings, delivering to a receiver
in this process that notes when each record arrives. Goals: no more than 2% longer, and p99
write-to-receipt latency under 250 ms.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time

from shipper.testing import ForwardReceiver

WRITER = r"""
import json, sys, time
rate, seconds, report = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
per_tick, tick = rate // 100, 0.01
pad = "x" * 120
start = time.perf_counter()
out = sys.stdout
for step in range(int(seconds * 100)):
    for n in range(per_tick):
        out.write(json.dumps({"t": time.time_ns(), "n": n, "message": pad}) + "\n")
    out.flush()
    delay = start + (step + 1) * tick - time.perf_counter()
    if delay > 0:
        time.sleep(delay)
with open(report, "w") as f:
    f.write(str(time.perf_counter() - start))
"""


class LatencyReceiver(ForwardReceiver):
    """Notes, for every record, the time between its write and its arrival here."""

    def __init__(self) -> None:
        super().__init__()
        self.latencies: list[int] = []
        self._lock = threading.Lock()
        write = self.sink.write

        def timed_write(batch) -> None:  # type: ignore[no-untyped-def]
            now = time.time_ns()
            with self._lock:
                self.latencies.extend(now - record["t"] for _, record in batch.entries if "t" in record)
            write(batch)

        self.sink.write = timed_write  # type: ignore[method-assign]


def child_runtime(command_prefix: list[str], rate: int, seconds: float, **kwargs) -> float:  # type: ignore[no-untyped-def]
    with tempfile.NamedTemporaryFile("r") as report:
        subprocess.run([*command_prefix, sys.executable, "-c", WRITER, str(rate), str(seconds), report.name],
                       check=True, **kwargs)
        return float(open(report.name).read())


def percentile(values: list[int], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()

    baseline = child_runtime([], args.rate, args.seconds, stdout=subprocess.DEVNULL)
    with LatencyReceiver() as receiver:
        wrapped = child_runtime([sys.executable, "-m", "shipper.logwrap", "--to", receiver.url, "--"],
                                args.rate, args.seconds, stderr=subprocess.DEVNULL)
        latencies = list(receiver.latencies)
    lines = args.rate * args.seconds
    print(f"writer at {args.rate:,} lines/s for {args.seconds:g}s ({lines:,.0f} lines)")
    print(f"  stdout to /dev/null : {baseline:.3f}s")
    print(f"  under logwrap       : {wrapped:.3f}s  ({(wrapped / baseline - 1) * 100:+.2f}%, goal <= +2%)")
    print(f"  received {len(latencies):,} records; write-to-receipt latency ms: "
          f"p50 {percentile(latencies, 0.5):.1f}, p99 {percentile(latencies, 0.99):.1f} (goal < 250), "
          f"max {max(latencies) / 1e6:.1f}")
    if len(latencies) != lines:
        sys.exit(f"expected {lines:,.0f} records, received {len(latencies):,}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
