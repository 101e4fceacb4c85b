"""The multi-host pipeline under test: real Fluentd processes in network namespaces, run with the
shipped configs, and what arrives at the aggregators' outputs.

Only the Elasticsearch output is swapped, for a file output that keeps the *same* ``<buffer>``
section, text for text, so the buffer's behaviour is what is tested; every other file is used
byte for byte.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from shipper.bundle import HERE as BUNDLE

from .network import Network

CONFIGS = BUNDLE / "configs" / "fluentd"
READY = "fluentd worker is now running"


def counting_config(out_dir: Path) -> str:
    """elasticsearch.conf with its output swapped for JSON lines in ``out_dir``, same buffer."""
    text = (CONFIGS / "elasticsearch.conf").read_text()
    buffer = re.search(r"^  <buffer>.*?^  </buffer>$", text, re.S | re.M)
    assert buffer, "elasticsearch.conf has no <buffer> section"
    return (f"<match **>\n  @type file\n  @id out_elasticsearch\n  path {out_dir}/records\n"
            f"  append true\n  <format>\n    @type json\n  </format>\n{buffer.group(0)}\n</match>\n")


def prepare_configs(folder: Path) -> Path:
    """The shipped configs, and aggregator-test.conf: aggregator.conf with the counting output."""
    shutil.copytree(CONFIGS, folder, dirs_exist_ok=True)
    aggregator = (folder / "aggregator.conf").read_text()
    assert "@include elasticsearch.conf" in aggregator
    (folder / "aggregator-test.conf").write_text(
        aggregator.replace("@include elasticsearch.conf", "@include counting.conf"))
    return folder


class Fluentd:
    """One fluentd in a host's namespace; its log is kept for the test to wait on."""

    def __init__(self, network: Network, host: str, config: Path, env: dict[str, str]) -> None:
        self.network, self.host, self.config, self.env = network, host, config, env
        self.lines: list[str] = []
        self.proc: subprocess.Popen[str] | None = None
        self._changed = threading.Condition()

    def start(self, timeout: float = 60) -> None:
        self.proc = subprocess.Popen(
            self.network.run(self.host, ["fluentd", "--no-supervisor", "-c", str(self.config)]),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self.env,
            cwd=self.config.parent)
        threading.Thread(target=self._collect, args=(self.proc,), daemon=True).start()
        self.wait_for(READY, count=self.count(READY) + 1, timeout=timeout)

    def _collect(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()

    def count(self, text: str) -> int:
        with self._changed:
            return self._count(text)

    def wait_for(self, text: str, count: int = 1, timeout: float = 60) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: self._count(text) >= count, timeout):
                raise AssertionError(f"{self.host}'s fluentd never logged {text!r}:\n{''.join(self.lines[-30:])}")

    def _count(self, text: str) -> int:
        return sum(text in line for line in self.lines)

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)
        self.proc.wait(60)

    def stop_as_a_supervisor_does(self, grace: float = 30) -> bool:
        """TERM, then KILL if it has not exited within ``grace`` seconds (docker stop, systemd, Circus):
        on a busy machine Fluentd's shutdown can outlast any fixed wait. True if TERM sufficed."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(grace)
            return True
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(30)
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)


class Arrivals:
    """What the aggregators' outputs hold, read as it grows: each record's seq, id and when seen."""

    def __init__(self, out_dirs: list[Path]) -> None:
        self._files = out_dirs
        self._offsets: dict[Path, int] = {}
        self._partial: dict[Path, bytes] = {}
        self.seen: dict[int, float] = {}  # seq -> when first seen
        self.written: dict[int, float] = {}  # seq -> when the app wrote it
        self.copies = 0
        self.ids: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(0.1):
            self.read()

    def read(self) -> None:
        with self._lock:
            for folder in self._files:
                for path in sorted(folder.glob("records*.log")):
                    self._read(path)

    def _read(self, path: Path) -> None:
        with path.open("rb") as file:
            file.seek(self._offsets.get(path, 0))
            data = self._partial.pop(path, b"") + file.read()
            self._offsets[path] = file.tell()
        *lines, rest = data.split(b"\n")
        if rest:
            self._partial[path] = rest
        now = time.time()
        for line in lines:
            record = json.loads(line)
            if "seq" not in record:
                continue
            self.copies += 1
            self.ids.add(record["event.id"])
            self.seen.setdefault(record["seq"], now)
            self.written.setdefault(record["seq"], record["t"])

    def wait_until(self, done: Callable[[Arrivals], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.read()
            if done(self):
                return True
            time.sleep(0.1)
        return False

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
