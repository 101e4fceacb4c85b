"""Shared pieces of the benchmarks: input generation and a ``shipper receive --count`` process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile

SHIPPER = [sys.executable, "-m", "shipper"]


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
