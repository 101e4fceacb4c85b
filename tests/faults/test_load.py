"""Load: logwrap at 50,000 lines/s for a minute, and shipper receive with 50 concurrent senders."""

from __future__ import annotations

import os
import statistics
import subprocess
import threading
import time

import msgspec
import pytest

from ..processes import LOGWRAP, SHIPPER, python
from .receivers import free_port

RATE = 50_000
SECONDS = int(os.environ.get("SHIPPER_LOAD_SECONDS", "60"))

_PACED_WRITER = """
import sys, time
out = sys.stdout.buffer
per_tick, ticks = RATE // 100, SECONDS * 100
start = time.monotonic()
for tick in range(ticks):
    now = time.time_ns()
    out.write(b"".join(b'{"sent": %d, "n": %d, "message": "GET /api/items 200"}\\n' % (now, tick * per_tick + i)
                       for i in range(per_tick)))
    out.flush()
    delay = start + (tick + 1) / 100 - time.monotonic()
    if delay > 0:
        time.sleep(delay)  # the writer's pace
"""


class LatencyReceiver:
    """shipper receive printing JSON lines; each record's age is taken as its line is read."""

    def __init__(self) -> None:
        self.url = f"tcp://127.0.0.1:{free_port()}"
        self.proc = subprocess.Popen([*SHIPPER, "receive", "-l", self.url], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        assert b"listening on" in self.proc.stderr.readline()
        self.latencies_ms: list[float] = []
        self._decode = msgspec.json.Decoder().decode
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        for line in self.proc.stdout:
            received = time.time_ns()
            self.latencies_ms.append((received - self._decode(line)["record"]["sent"]) / 1e6)

    def wait_for(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.latencies_ms) < count and time.monotonic() < deadline:
            time.sleep(0.1)  # the receiver is still printing the last records

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        self._thread.join(30)
        self.proc.stdout.close()
        self.proc.stderr.close()


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


@pytest.fixture
def latency_receiver():
    receiver = LatencyReceiver()
    yield receiver
    receiver.stop()


def test_logwrap_at_fifty_thousand_lines_a_second(latency_receiver, spawn, tmp_path, reliability):
    """logwrap at 50,000 lines/s for 60 s (write-to-receipt latency, CPU share, RSS over time)"""
    receiver = latency_receiver
    code = _PACED_WRITER.replace("RATE", str(RATE)).replace("SECONDS", str(SECONDS))
    with open(tmp_path / "stderr", "wb") as err:  # a file: a full pipe must not stall logwrap
        proc = spawn([*LOGWRAP, "--to", receiver.url, "--", *python(code)], stderr=err)
    rss: list[float] = []
    cpu = 0.0
    started = time.monotonic()
    while proc.poll() is None and time.monotonic() < started + SECONDS + 60:
        try:
            rss.append(rss_mib(proc.pid))
            cpu = cpu_seconds(proc.pid)
        except (OSError, StopIteration, IndexError):  # it exited between the poll and the read
            break
        time.sleep(1)  # one sample a second: the measurement's own pace
    wall = time.monotonic() - started
    assert proc.wait(30) == 0, (tmp_path / "stderr").read_text()[-500:]
    total = RATE * SECONDS
    receiver.wait_for(total)
    latencies = sorted(receiver.latencies_ms)
    steady = rss[len(rss) // 6:]  # after the first tenth of a minute
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
    # every record arrived; latency, CPU and RSS are figures for the table (bench/ is where speed and
    # memory are measured: bounds on them here would measure the machine as much as logwrap)
    assert len(latencies) == total
    reliability(f"{total:,} of {total:,} received; latency p50 {p50:.0f} ms, p99 {p99:.0f} ms, "
                f"max {latencies[-1]:.0f} ms; logwrap CPU {cpu / wall:.0%} of one core; RSS "
                f"{min(steady):.0f}–{max(steady):.0f} MiB over {SECONDS} s (mean {statistics.mean(steady):.0f})")


def test_fifty_concurrent_senders(counting_receiver, spawn, tmp_path, reliability):
    """shipper receive with 50 concurrent senders (20,000 records each, acks on)"""
    receiver = counting_receiver()
    (tmp_path / "input").write_bytes(b"".join(b'{"n": %d, "message": "concurrent"}\n' % n for n in range(20_000)))
    inputs = [open(tmp_path / "input", "rb") for _ in range(50)]
    started = time.monotonic()
    senders = [spawn([*SHIPPER, "send", "--to", receiver.url], stdin=source, stdout=subprocess.DEVNULL,
                     stderr=subprocess.PIPE) for source in inputs]  # all 50 at once, each reading its file
    reports = [sender.communicate(timeout=300)[1].decode() for sender in senders]
    for source in inputs:
        source.close()
    elapsed = time.monotonic() - started
    counted = receiver.stop()
    delivered = [int(report.split(" delivered")[0].rsplit(" ", 1)[1]) for report in reports]
    assert all(sender.returncode == 0 for sender in senders) and delivered == [20_000] * 50
    assert counted == 1_000_000
    reliability(f"1,000,000 records from 50 senders, every one acked (50 of 50 reported 20,000 delivered); "
                f"{counted / elapsed:,.0f} records/s including 50 interpreter start-ups")
