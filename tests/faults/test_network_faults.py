"""logwrap (with acks) against a receiver that dies, stalls, or sits behind a bad network."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from ..processes import LOGWRAP
from .apps import endless_json_writer, json_writer

SUMMARY = re.compile(r"(\d+) lines read as (\d+) records: (\d+) shipped, (\d+) dropped, (\d+) spilled")


def summary(stderr: str) -> tuple[int, ...]:
    """(lines, records, shipped, dropped, spilled) from logwrap's summary line."""
    return tuple(int(n) for n in SUMMARY.search(stderr).groups())


@pytest.fixture
def logwrap(spawn):
    """Start logwrap (killed with its child at the end of the test, whatever happens)."""
    def start(to: str, *args: str, command: list[str]) -> subprocess.Popen[str]:
        return spawn([*LOGWRAP, "--to", to, *args, "--", *command], stderr=subprocess.PIPE, text=True)
    return start


def finished(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str]:
    """Exit status and stderr of a logwrap started above (stderr read while it runs)."""
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


# Started from a big process (pytest), a child's ru_maxrss starts at its parent's high-water mark:
# vfork shares the parent's memory until exec, and exec records that. A small launcher that forks
# keeps the figure logwrap's own.
_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
open(sys.argv[1], "w").write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}")
"""


def measured(command: list[str]) -> tuple[int, str, float, float]:
    """Run to the end: exit status, stderr, peak RSS in MiB, seconds (stderr goes to a file, as
    a supervisor's log would take it: spilled records can be many)."""
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as result:
        started = time.monotonic()
        subprocess.run([sys.executable, "-c", _LAUNCHER, result.name, *command], stderr=err, check=True)
        elapsed = time.monotonic() - started
        code, peak_kib = (int(n) for n in result.read().split())
        err.seek(0)
        return code, err.read().decode(), peak_kib / 1024, elapsed


def runs(numbers: list[int]) -> list[list[int]]:
    """Sorted numbers as runs of consecutive ones: [0, 1, 5, 6] -> [[0, 1], [5, 6]]."""
    found: list[list[int]] = []
    for n in numbers:
        if found and found[-1][-1] == n - 1:
            found[-1].append(n)
        else:
            found.append([n])
    return found


def test_receiver_killed_and_restarted_three_times(restartable_receiver, logwrap, reliability):
    """Receiver SIGKILLed and restarted 3 times while 500,000 records flow"""
    receiver = restartable_receiver()
    started = time.monotonic()
    proc = logwrap(receiver.url, "--on-full", "block", "--drain-timeout", "60", command=json_writer(500_000))
    mid_flow = []
    for at in (100_000, 200_000, 300_000):
        receiver.wait_for(at)
        receiver.kill()
        mid_flow.append(receiver.distinct < 500_000)  # the kill landed while records were flowing
        receiver.start()
    code, err = finished(proc)
    delivered = receiver.wait_for_unique(500_000)  # fails naming how many arrived if any is lost
    elapsed = time.monotonic() - started
    lines, records, shipped, dropped, spilled = summary(err)
    assert code == 0 and (lines, shipped, dropped, spilled) == (500_000, 500_000, 0, 0)
    assert len(delivered) == 500_000 and mid_flow == [True] * 3
    reliability(f"0 lost of 500,000; {receiver.duplicates:,} duplicates (resent after the kills), "
                f"{elapsed:.1f} s")


def test_stalled_receiver_drop_oldest_and_drop_newest_count_exactly(restartable_receiver, proxy, reliability):
    """Receiver stalled (proxy paused): drop-oldest and drop-newest, 300,000 lines, 8 MiB buffer"""
    figures = []
    for policy in ("drop-oldest", "drop-newest"):
        receiver = restartable_receiver()
        stalled = proxy(receiver.port)
        stalled.pause()
        code, err, peak, elapsed = measured([*LOGWRAP, "--to", stalled.url, "--buffer-bytes", "8MiB", "--on-full",
                                             policy, "--drain-timeout", "1", "--", *json_writer(300_000)])
        lines, records, shipped, dropped, spilled = summary(err)
        kept = sorted(int(line.split('"n":')[1].split(",")[0]) for line in err.splitlines() if line.startswith("{"))
        # the child ran to its end while the receiver was stalled: the stall never reached it
        assert code == 0 and lines == records == 300_000 and len(kept) == spilled
        assert shipped + dropped + spilled == 300_000 and dropped > 0 and peak < 8 + 40
        # drop-newest kept the oldest, all in one run from the first; drop-oldest kept the newest run
        # to the last (beside the chunks already sent and unacked when the stall began)
        if policy == "drop-oldest":
            assert runs(kept)[-1][-1] == 299_999
        else:
            assert kept == list(range(spilled))
        figures.append(f"{policy}: {dropped:,} dropped + {spilled:,} spilled + {shipped} shipped = 300,000 "
                       f"exactly, peak RSS {peak:.0f} MiB")
    reliability("; ".join(figures))


def test_stalled_receiver_under_block_drops_nothing(restartable_receiver, proxy, logwrap, reliability):
    """Receiver stalled for 2 s under --on-full block, 100,000 lines, 4 MiB buffer"""
    receiver = restartable_receiver()
    stalled = proxy(receiver.port)
    stalled.pause()
    proc = logwrap(stalled.url, "--buffer-bytes", "4MiB", "--on-full", "block", command=json_writer(100_000))
    stalled.wait_until_holding()  # logwrap's first data is stuck in the proxy: the stall has begun
    time.sleep(2)  # the stall itself: time has to pass while nothing moves
    stalled.resume()
    code, err = finished(proc)
    receiver.wait_for_unique(100_000)
    receiver.stop()  # every line it printed is read: the duplicate count is final
    lines, records, shipped, dropped, spilled = summary(err)
    assert code == 0 and (shipped, dropped, spilled) == (100_000, 0, 0) and receiver.duplicates == 0
    reliability("0 dropped, 100,000 delivered once after the stall")


def test_network_cut_repeatedly(restartable_receiver, proxy, logwrap, reliability):
    """Network cut (the proxy drops every connection) 5 times during 200,000 records"""
    receiver = restartable_receiver()
    network = proxy(receiver.port)
    proc = logwrap(network.url, "--on-full", "block", "--drain-timeout", "60", command=json_writer(200_000))
    for at in range(30_000, 180_000, 30_000):
        receiver.wait_for(at)
        network.cut()
    code, err = finished(proc)
    delivered = receiver.wait_for_unique(200_000)  # fails naming how many arrived if any is lost
    lines, records, shipped, dropped, spilled = summary(err)
    assert code == 0 and shipped == 200_000 and len(delivered) == 200_000
    assert network.connections >= 6  # every cut made logwrap connect again
    reliability(f"0 lost of 200,000 over 5 cuts; {receiver.duplicates:,} duplicates; "
                f"{network.connections} connections made")


def test_slow_network(restartable_receiver, proxy, logwrap, reliability):
    """Slow network: the proxy throttles to 1 MB/s, 20,000 records (~5 MB)"""
    receiver = restartable_receiver()
    slow = proxy(receiver.port)
    slow.throttle(1_000_000)
    started = time.monotonic()
    # ~5 s through the proxy, most of it after the child exits: the drain must not cut it short (the
    # run still ends as soon as everything is acked)
    proc = logwrap(slow.url, "--on-full", "block", "--drain-timeout", "90", command=json_writer(20_000))
    code, err = finished(proc)
    receiver.wait_for_unique(20_000)
    elapsed = time.monotonic() - started
    receiver.stop()  # every line it printed is read: the duplicate count is final
    assert code == 0 and summary(err)[2] == 20_000 and receiver.duplicates == 0
    reliability(f"20,000 of 20,000 delivered in {elapsed:.1f} s ({slow.bytes_forwarded / elapsed / 1e6:.2f} MB/s "
                f"through the proxy)")


def test_term_during_an_endless_burst_adds_up(restartable_receiver, logwrap, reliability):
    """TERM to logwrap during a burst that only the TERM ends"""
    receiver = restartable_receiver()
    # the child never stops writing by itself, so the TERM always comes mid-burst
    proc = logwrap(receiver.url, "--drain-timeout", "2", command=endless_json_writer())
    receiver.wait_for(50_000)
    proc.send_signal(signal.SIGTERM)
    code, err = finished(proc)
    lines, records, shipped, dropped, spilled = summary(err)
    spilled_lines = sum(1 for line in err.splitlines() if line.startswith("{"))
    assert lines == records == shipped + dropped + spilled and spilled == spilled_lines
    assert code == 128 + signal.SIGTERM  # the TERM reached the child, the only way it ends
    receiver.wait_for(shipped)  # everything counted as shipped did arrive
    reliability(f"{lines:,} read = {shipped:,} shipped + {dropped:,} dropped + {spilled:,} spilled, exactly; "
                f"exit {code} (the child's TERM)")
