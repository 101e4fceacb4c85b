"""The multi-host pipeline loses nothing when a host dies: the shipped forwarder and aggregator
configs, real Fluentd, hosts as network namespaces (``conftest``). Records are counted at the
aggregators by the app's sequence number and by logwrap's event.id; duplicates are allowed
(Elasticsearch's create on event.id stores each record once)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from .conftest import RECORDS, Cluster

DETACHED = "detached forwarding server 'aggregator-1'"


def wait_progress(cluster: Cluster, fraction: float) -> None:
    """Until the aggregators have written out ``fraction`` of the records: the stream is flowing."""
    assert cluster.arrivals.wait_until(lambda arrivals: len(arrivals.seen) >= fraction * RECORDS, 120)


def vanish_first_aggregator(cluster: Cluster) -> float:
    """Cut aggregator-1 off without an RST; returns how long the forwarder took to detach it."""
    vanished = time.monotonic()
    cluster.network.vanish("aggregator-1")
    cluster.forwarder.wait_for(DETACHED, timeout=60)
    return time.monotonic() - vanished


def worst_delay_after(cluster: Cluster, moment: float) -> float:
    """The longest a record written after ``moment`` (wall clock) took to reach an output."""
    arrivals = cluster.arrivals
    return max(arrivals.seen[seq] - written for seq, written in arrivals.written.items() if written > moment)


def buffered_records(folder: Path) -> int:
    """Records in a file buffer's chunks: the counting output buffers them formatted, a JSON line each."""
    return sum(chunk.read_bytes().count(b"\n") for chunk in folder.rglob("buffer.*.log"))


def outcome(cluster: Cluster) -> str:
    arrivals = cluster.arrivals
    return (f"{RECORDS - len(cluster.lost()):,} of {RECORDS:,} stored, {len(cluster.lost())} lost "
            f"({len(arrivals.ids):,} distinct event.ids), {arrivals.copies - len(arrivals.seen):,} duplicates")


def finish(cluster: Cluster, app) -> None:  # type: ignore[no-untyped-def]
    """logwrap ends once the forwarder acked everything; then every record must reach an output."""
    assert app.wait(300) == 0, app.stderr.read().decode()
    assert cluster.everything_arrived(), f"lost: {cluster.lost()[:20]}..."
    assert cluster.lost() == [] and len(cluster.arrivals.ids) == RECORDS


def test_an_aggregator_killed_mid_stream_loses_nothing(cluster, reliability):
    """An aggregator SIGKILLed mid-stream, then restarted on its buffer directory"""
    app = cluster.start_app()
    wait_progress(cluster, 0.3)
    victim = cluster.aggregators["aggregator-1"]
    victim.signal(signal.SIGKILL)
    held = buffered_records(cluster.folder / "aggregator-1" / "buffer")  # acked, not yet written out
    assert app.wait(300) == 0
    victim.start()  # and sends them
    finish(cluster, app)
    reliability(f"{outcome(cluster)}; the killed aggregator's file buffer held {held:,} acked records, "
                "written out after its restart")


def test_an_aggregator_host_that_vanishes_is_detached_within_ten_seconds_and_nothing_is_lost(
        cluster, reliability):
    """An aggregator's host vanishes (link down, no RST) mid-stream, and comes back after the run"""
    app = cluster.start_app()
    wait_progress(cluster, 0.2)
    moment = time.time()
    detached_after = vanish_first_aggregator(cluster)
    assert detached_after < 10
    assert app.wait(300) == 0
    cluster.network.reappear("aggregator-1")
    finish(cluster, app)
    delay = worst_delay_after(cluster, moment + detached_after)
    reliability(f"{outcome(cluster)}; detached after {detached_after:.1f} s; worst delay of a record "
                f"written after that {delay:.1f} s")


def test_a_partition_of_another_aggregator_during_that_loses_nothing(cluster, reliability):
    """The same, plus aggregator-2 cut off for 5 s while aggregator-1 is gone"""
    app = cluster.start_app()
    wait_progress(cluster, 0.2)
    detached_after = vanish_first_aggregator(cluster)
    cluster.network.vanish("aggregator-2")
    time.sleep(5)  # the partition itself
    cluster.network.reappear("aggregator-2")
    assert app.wait(300) == 0
    cluster.network.reappear("aggregator-1")
    finish(cluster, app)
    reliability(f"{outcome(cluster)}; aggregator-1 detached after {detached_after:.1f} s")


def test_a_forwarder_stopped_while_an_aggregator_is_unreachable_loses_nothing_once_restarted(
        cluster, reliability):
    """The forwarder stopped (TERM) while an aggregator is unreachable, then started again"""
    app = cluster.start_app()
    wait_progress(cluster, 0.2)
    vanish_first_aggregator(cluster)
    stopping = time.monotonic()
    by_term = cluster.forwarder.stop_as_a_supervisor_does()
    stopped_after = time.monotonic() - stopping
    cluster.forwarder.start()  # its file buffer still holds what it acked to logwrap
    assert app.wait(300) == 0
    cluster.network.reappear("aggregator-1")
    finish(cluster, app)
    how = "stopped" if by_term else "had not stopped, and was killed"
    reliability(f"{outcome(cluster)}; the forwarder {how} {stopped_after:.1f} s after TERM")
