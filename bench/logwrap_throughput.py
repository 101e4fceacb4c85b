"""logwrap throughput, CPU and memory, against a minimal loop measured in the same run.

    python bench/logwrap_throughput.py [--lines N]

1. Throughput: a child (`cat`) writes N ~200-byte JSON lines as fast as it can; logwrap
   delivers them with acks to `shipper receive --count`, with its C extension and, when that
   is built, once more with SHIPPER_PURE_PYTHON=1. Beside it, bench/minimal_loop.py on
   the same input and the same kind of receiver, and Fluent Bit's `-i stdin -o forward` when a
   `fluent-bit` binary is on PATH. Each run's time is until its process exits with every record
   acknowledged (Fluent Bit, 4.x, exits by itself at end of input once it has flushed),
   and the receiver's count is checked.
2. CPU: each process's own user+system seconds (with its `cat`) per million records.
3. Memory: the same burst with the receiver down; peak RSS must stay under --buffer-bytes +
   40 MiB, and lines read must equal records dropped + spilled exactly.
4. Metrics: logwrap with both exporters on (`--metrics-listen`, `--statsd` to a UDP socket of
   this script) and so the metrics from records, against the same command with them off, in
   alternating runs (the best of each): throughput must stay >= 0.9x, and the burst's peak RSS
   may grow by at most 2 MiB.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile

from common import LOGWRAP, CountingReceiver, delivered_run, json_lines, measured, tail

from shipper.wrap.records import ACCELERATED

HERE = os.path.dirname(os.path.abspath(__file__))
BUFFER_MIB = 64
ROUNDS = 3  # of metrics off and on, alternating


def fluent_bit_command(path: str):  # type: ignore[no-untyped-def]
    """Fluent Bit reads stdin only from a pipe (a redirected file makes it hang), so a shell
    runs `cat FILE | fluent-bit`, and its `cat` is counted as logwrap's and the loop's are."""
    def command(receiver: CountingReceiver) -> tuple[list[str], object]:
        fluent_bit = (f"{shutil.which('fluent-bit')} -q -i stdin -o forward -p host=127.0.0.1 "
                      f"-p port={receiver.port} -p require_ack_response=true -f 1")
        return ["sh", "-c", f'cat "$1" | exec {fluent_bit}', "sh", path], None
    return command


def throughput(path: str, lines: int) -> None:
    baseline = [sys.executable, os.path.join(HERE, "minimal_loop.py"), "127.0.0.1"]
    logwrap = lambda r: ([*LOGWRAP, "--to", r.url, "--", "cat", path], None)  # noqa: E731
    runs = [
        delivered_run("minimal loop (baseline)", lambda r: ([*baseline, str(r.port), path], None), lines),
        delivered_run(f"logwrap ({'C extension' if ACCELERATED else 'pure Python'})", logwrap, lines),
    ]
    if ACCELERATED:
        pure = {**os.environ, "SHIPPER_PURE_PYTHON": "1"}
        runs.append(delivered_run("logwrap (SHIPPER_PURE_PYTHON=1)", logwrap, lines, pure))
    if shutil.which("fluent-bit"):
        runs.append(delivered_run("fluent-bit -i stdin -o forward", fluent_bit_command(path), lines))
    _, base_wall, base_cpu = runs[0]
    print(f"{'':34}{'records/s':>12}{'vs baseline':>13}{'CPU s / 1M':>12}{'vs baseline':>13}")
    for name, wall, cpu in runs:
        rate, per_million = lines / wall, cpu * 1e6 / lines
        ratios = f"{base_wall / wall:>12.2f}x{per_million:>12.2f}{cpu / base_cpu:>12.2f}x"
        print(f"{name:34}{rate:>12,.0f}{ratios}")


def metrics_flags(statsd: socket.socket) -> list[str]:
    return ["--metrics-listen", "tcp://127.0.0.1:0", "--statsd", f"udp://127.0.0.1:{statsd.getsockname()[1]}"]


def metrics_cost(path: str, lines: int, statsd: socket.socket) -> None:
    walls: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(ROUNDS):
        for on in (False, True):
            flags = metrics_flags(statsd) if on else []
            command = lambda r, flags=flags: ([*LOGWRAP, "--to", r.url, *flags, "--", "cat", path], None)  # noqa: E731
            walls[on].append(delivered_run("metrics", command, lines)[1])
    off, on = min(walls[False]), min(walls[True])
    ratio = off / on
    print(f"\nmetrics on (/metrics, StatsD, metrics from records) vs off, best of {ROUNDS} each: "
          f"{lines / on:,.0f} vs {lines / off:,.0f} records/s = {ratio:.2f}x "
          f"({'ok' if ratio >= 0.9 else 'UNDER'} the 0.9x bound)")


def memory(path: str, lines: int, extra: list[str] | None = None) -> float:
    """The receiver-down burst; returns logwrap's peak RSS in MiB."""
    closed = CountingReceiver()
    url = closed.url
    closed.stop()  # nobody listens there now: every connect is refused
    with tempfile.TemporaryFile() as err:
        _, _, peak_kib, status = measured(
            [*LOGWRAP, "--to", url, "--buffer-bytes", f"{BUFFER_MIB}MiB", "--drain-timeout", "0.5",
             *(extra or []), "--", "cat", path], stdout=subprocess.DEVNULL, stderr=err)
        summary = [line for line in tail(err).splitlines() if "lines read" in line][-1]
    numbers = re.search(r"as (\d+) records: (\d+) shipped, (\d+) dropped, (\d+) spilled", summary)
    read, shipped, dropped, spilled = (int(n) for n in numbers.groups())  # type: ignore[union-attr]
    limit = BUFFER_MIB + 40
    print(f"\nreceiver down, {lines:,}-line burst{' (metrics on)' if extra else ''}: "
          f"peak RSS {peak_kib / 1024:.1f} MiB "
          f"(limit {limit} MiB: {'ok' if peak_kib / 1024 < limit else 'OVER'}); "
          f"{read:,} read = {shipped} shipped + {dropped:,} dropped + {spilled:,} spilled: "
          f"{'exact' if read == shipped + dropped + spilled == lines else 'MISMATCH'} (status {status})")
    return peak_kib / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    args = parser.parse_args()
    path = json_lines(args.lines)
    throughput(path, args.lines)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as statsd:
        statsd.bind(("127.0.0.1", 0))  # takes the pushes; nothing needs to read them
        metrics_cost(path, args.lines, statsd)
        off = memory(path, args.lines)
        on = memory(path, args.lines, metrics_flags(statsd))
    growth = on - off
    print(f"peak RSS with metrics on: {growth:+.1f} MiB ({'ok' if growth <= 2 else 'OVER'} the 2 MiB bound)")


if __name__ == "__main__":
    main()
