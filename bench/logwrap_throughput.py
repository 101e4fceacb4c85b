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
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from common import CountingReceiver, json_lines

from shipper.wrap.records import ACCELERATED

HERE = os.path.dirname(os.path.abspath(__file__))
LOGWRAP = [sys.executable, "-m", "shipper.logwrap"]
BUFFER_MIB = 64


def measured(command: list[str], **kwargs) -> tuple[float, float, int, int]:  # type: ignore[no-untyped-def]
    """Run to completion: (wall seconds, CPU seconds, peak RSS KiB, exit status)."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, **kwargs)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, proc.returncode


def delivered_run(name: str, command_for, lines: int, env: dict[str, str] | None = None  # type: ignore[no-untyped-def]
                  ) -> tuple[str, float, float]:
    receiver = CountingReceiver()
    command, stdin = command_for(receiver)
    wall, cpu, _, status = measured(command, stdin=stdin, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, env=env)
    received = receiver.stop()
    if status != 0 or received != lines:
        sys.exit(f"{name}: exit status {status}, receiver counted {received} of {lines}")
    return name, wall, cpu


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


def memory(path: str, lines: int) -> None:
    closed = CountingReceiver()
    url = closed.url
    closed.stop()  # nobody listens there now: every connect is refused
    with tempfile.TemporaryFile() as err:
        _, _, peak_kib, status = measured(
            [*LOGWRAP, "--to", url, "--buffer-bytes", f"{BUFFER_MIB}MiB", "--drain-timeout", "0.5",
             "--", "cat", path], stdout=subprocess.DEVNULL, stderr=err)
        err.seek(0)
        summary = [line for line in err.read().decode().splitlines() if "lines read" in line][-1]
    numbers = re.search(r"as (\d+) records: (\d+) shipped, (\d+) dropped, (\d+) spilled", summary)
    read, shipped, dropped, spilled = (int(n) for n in numbers.groups())  # type: ignore[union-attr]
    limit = BUFFER_MIB + 40
    print(f"\nreceiver down, {lines:,}-line burst: peak RSS {peak_kib / 1024:.1f} MiB "
          f"(limit {limit} MiB: {'ok' if peak_kib / 1024 < limit else 'OVER'}); "
          f"{read:,} read = {shipped} shipped + {dropped:,} dropped + {spilled:,} spilled: "
          f"{'exact' if read == shipped + dropped + spilled == lines else 'MISMATCH'} (status {status})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    args = parser.parse_args()
    path = json_lines(args.lines)
    throughput(path, args.lines)
    memory(path, args.lines)


if __name__ == "__main__":
    main()
