"""Real ``shipper`` processes for tests; every one is stopped and reaped by its fixture."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from typing import Any

SHIPPER = [sys.executable, "-m", "shipper"]


class ReceiveProcess:
    """``shipper receive`` on free ports; the addresses come from its 'listening on' line.

    With ``--metrics-listen`` its 'metrics on' line comes first: ``metrics_url`` is that URL.
    """

    def __init__(self, *args: str, listen: tuple[str, ...] = ("tcp://127.0.0.1:0",)) -> None:
        command = [*SHIPPER, "receive", *(f"--listen={url}" for url in listen), *args]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.metrics_url: str | None = None
        first = self.proc.stderr.readline().decode()
        if first.startswith("shipper receive: metrics on "):
            self.metrics_url = first.rsplit(" ", 1)[1].strip()
            first = self.proc.stderr.readline().decode()
        if "listening on" not in first:
            self.proc.kill()
            raise RuntimeError(f"shipper receive did not start: {first}{self.proc.stderr.read().decode()}")
        self.urls = first.split("listening on ", 1)[1].strip().split(", ")
        self.url = self.urls[0]
        self.stdout = ""
        self.stderr = ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=10)
        self.stdout += out.decode()
        self.stderr += err.decode()

    def events(self) -> list[dict[str, Any]]:
        self.stop()
        return [json.loads(line) for line in self.stdout.splitlines()]


def run_send(*args: str, input: bytes, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*SHIPPER, "send", *args], input=input, capture_output=True, timeout=60, env=env)


LOGWRAP = [sys.executable, "-m", "shipper.logwrap"]


def run_logwrap(to: str, *args: str, command: list[str], timeout: float = 60, **kwargs: Any
                ) -> subprocess.CompletedProcess:
    """Run ``logwrap --to TO ARGS -- COMMAND`` to completion."""
    return subprocess.run([*LOGWRAP, "--to", to, *args, "--", *command], capture_output=True,
                          timeout=timeout, **kwargs)


def python(code: str) -> list[str]:
    """A child command running ``code`` in this interpreter."""
    return [sys.executable, "-c", code]
