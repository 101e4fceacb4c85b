"""A real ``shipper receive`` on a fixed port that can be killed and started again."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading
from collections import Counter

from ..processes import SHIPPER


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RestartableReceiver:
    """Counts every record it prints (by ``event.id``) across all its lives."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.url = f"tcp://127.0.0.1:{self.port}"
        self.ids: Counter[str] = Counter()  # the reader thread adds: read it through the methods below
        self.received = 0  # records printed, duplicates included
        self.distinct = 0  # records with an event.id not seen before
        self._args = args
        self._changed = threading.Condition()
        self.proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen([*SHIPPER, "receive", "-l", self.url, *self._args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stderr.readline()  # "listening on ...": it is ready
        if "listening on" not in line:
            self.proc.kill()
            raise AssertionError(f"shipper receive did not start: {line}")
        self._reader = threading.Thread(target=self._collect, args=(self.proc,), daemon=True)
        self._reader.start()

    def _collect(self, proc: subprocess.Popen[str]) -> None:
        for line in proc.stdout:
            if not line.endswith("\n"):
                break  # cut off by a SIGKILL: never acked, so logwrap sends that record again
            record = json.loads(line)["record"]
            event_id = record.get("event.id", "")
            with self._changed:
                self.distinct += bool(event_id) and event_id not in self.ids
                self.ids[event_id] += 1
                self.received += 1
                self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 90) -> None:
        """Block until ``count`` records were printed, duplicates included."""
        with self._changed:
            if not self._changed.wait_for(lambda: self.received >= count, timeout):
                raise AssertionError(f"only {self.received} of {count} records arrived")

    def wait_for_unique(self, count: int, timeout: float = 90) -> set[str]:
        """Block until ``count`` distinct records (by ``event.id``) arrived; their ids."""
        with self._changed:
            if not self._changed.wait_for(lambda: self.distinct >= count, timeout):
                raise AssertionError(f"only {self.distinct} distinct records of {count} arrived "
                                     f"({self.received} with duplicates)")
            return self._unique()

    def unique_ids(self) -> set[str]:
        """The distinct ``event.id`` values received so far (a copy: the reader may still add)."""
        with self._changed:
            return self._unique()

    def _unique(self) -> set[str]:
        return {event_id for event_id in self.ids if event_id}

    def kill(self) -> None:
        """SIGKILL: no goodbye; what it printed before is kept (it acks only what it wrote)."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._reader.join(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._reader.join(30)
        self.proc.stdout.close()
        self.proc.stderr.close()

    @property
    def duplicates(self) -> int:
        """Records received more than once so far (counted under the reader's lock)."""
        with self._changed:
            return sum(count - 1 for count in self.ids.values())


class CountingReceiver:
    """``shipper receive --count``: cheap enough for floods; its count and peak memory at the end."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([*SHIPPER, "receive", "--count", "-l", "tcp://127.0.0.1:0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stderr.readline()
        if "listening on" not in line:
            self.proc.kill()
            raise AssertionError(f"shipper receive did not start: {line}")
        self.log = ""
        self.urls = line.split("listening on ", 1)[1].strip().split(", ")
        self.url = self.urls[0]
        self.port = int(self.url.rsplit(":", 1)[1])
        self.counted = 0

    def peak_mib(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024

    def stop(self) -> int:
        """Stop it (again: a no-op); the number of events it counted."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            out, err = self.proc.communicate(timeout=30)
            self.log = err
            totals = [line for line in out.splitlines() if line.startswith("events=")]
            self.counted = int(totals[-1].split()[0].split("=")[1]) if totals else 0
        return self.counted
