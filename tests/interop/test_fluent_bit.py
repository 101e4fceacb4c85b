"""Against a real Fluent Bit: runs when ``fluent-bit`` is on PATH, skips otherwise."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time

import pytest

from ..processes import python, run_logwrap
from .test_fluentd import DEEP_LINES, free_port

pytestmark = pytest.mark.skipif(shutil.which("fluent-bit") is None, reason="no fluent-bit on PATH")


class FluentBit:
    """A fluent-bit process with a forward input and JSON lines on stdout."""

    def __init__(self, folder, port: int) -> None:
        config = folder / "fluent-bit.conf"
        config.write_text(f"""
[SERVICE]
    Flush 0.2
    Log_Level warn
[INPUT]
    Name forward
    Listen 127.0.0.1
    Port {port}
[OUTPUT]
    Name stdout
    Match *
    Format json_lines
""")
        self.proc = subprocess.Popen(["fluent-bit", "-c", str(config)], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        self.records: list[dict] = []
        self._changed = threading.Condition()
        threading.Thread(target=self._collect, daemon=True).start()
        self._wait_listening(port)

    def _wait_listening(self, port: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.02)
        raise AssertionError("fluent-bit never listened")

    def _collect(self) -> None:
        for line in self.proc.stdout:
            if line.startswith("{"):
                with self._changed:
                    self.records.append(json.loads(line))
                    self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 30) -> list[dict]:
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.records) >= count, timeout):
                raise AssertionError(f"fluent-bit printed {len(self.records)} of {count} records")
            return list(self.records)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


@pytest.fixture
def fluent_bit(tmp_path):
    started: list[FluentBit] = []

    def start(port: int) -> FluentBit:
        started.append(FluentBit(tmp_path, port))
        return started[-1]

    yield start
    for process in started:
        process.stop()


def test_lines_nested_too_deep_do_not_poison_a_chunk_for_fluent_bit(fluent_bit):
    port = free_port()
    server = fluent_bit(port)
    done = run_logwrap(f"tcp://127.0.0.1:{port}", "--tag", "deep", command=python(DEEP_LINES))
    assert done.returncode == 0 and "4 shipped, 0 dropped, 0 spilled" in done.stderr.decode()
    records = server.wait_for(4)
    assert [r.get("n") for r in records] == [1, None, None, 4]
    assert [r["message"][:6] for r in records[1:3]] == ['{"a": ', '{"a": ']
