"""Shared pieces of the benchmarks: input generation and a ``shipper receive --count`` process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import IO

SHIPPER = [sys.executable, "-m", "shipper"]
LOGWRAP = [sys.executable, "-m", "shipper.logwrap"]


def json_lines(count: int) -> str:
    """A file of ``count`` ~200-byte JSON log lines (ECS-like), made once and then reused.

    Every line has its own microsecond timestamp, as a busy app's lines do, so no cache of
    equal timestamps can flatter the figures.
    """
    path = os.path.join(tempfile.gettempdir(), f"shipper-bench-v2-{count}.jsonl")
    if not os.path.exists(path):
        with open(path, "w") as out:
            for n in range(count):
                second, micros = divmod(n, 1_000_000)
                out.write(json.dumps({
                    "@timestamp": f"2026-11-28T00:{second // 60:02d}:{second % 60:02d}.{micros:06d}Z",
                    "log.level": "info",
                    "message": f"GET /api/v1/items?id={n} 200 in 3.2ms", "service.name": "web",
                    "process.pid": 1234, "http": {"status": 200, "bytes": 5123},
                }) + "\n")
    return path


class CountingReceiver:
    """``shipper receive --count`` on a free port."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([*SHIPPER, "receive", "--count", "-l", "tcp://127.0.0.1:0"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.url = self.proc.stderr.readline().split("listening on ", 1)[1].strip()
        self.port = int(self.url.rsplit(":", 1)[1])

    def stop(self) -> int:
        """Stop it and return the number of events it counted."""
        self.proc.send_signal(signal.SIGINT)
        out, _ = self.proc.communicate(timeout=30)
        last = [line for line in out.splitlines() if line.startswith("events=")][-1]
        return int(last.split()[0].split("=")[1])


def measured(command: list[str], **kwargs) -> tuple[float, float, int, int]:  # type: ignore[no-untyped-def]
    """Run to completion: (wall seconds, CPU seconds, peak RSS KiB, exit status)."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, **kwargs)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, proc.returncode


def delivered_run(name: str, command_for, lines: int, env: dict[str, str] | None = None,  # type: ignore[no-untyped-def]
                  records: int | None = None, summaries: list[str] | None = None) -> tuple[str, float, float]:
    """Run ``command_for(receiver)`` to its end; every record (``records``, else ``lines``) must
    have reached the receiver. Returns (name, wall seconds, CPU seconds); the last line of its
    stderr (logwrap's summary) is added to ``summaries`` if given."""
    expected = lines if records is None else records
    receiver = CountingReceiver()
    command, stdin = command_for(receiver)
    with tempfile.TemporaryFile() as err:
        wall, cpu, _, status = measured(command, stdin=stdin, stdout=subprocess.DEVNULL, stderr=err, env=env)
        received = receiver.stop()
        if status != 0 or received != expected:
            sys.exit(f"{name}: exit status {status}, receiver counted {received} of {expected}; "
                     f"its stderr ended with:\n{tail(err)}")
        if summaries is not None:
            summaries.append(tail(err).strip().splitlines()[-1])
    return name, wall, cpu


def tail(err: IO[bytes]) -> str:
    """The end of a stderr file (its summary line), without reading the rest into this process:
    a big bench process makes every later child report its peak RSS (Linux keeps it across exec)."""
    err.seek(max(err.seek(0, os.SEEK_END) - 4096, 0))
    return err.read().decode("utf-8", "replace")
