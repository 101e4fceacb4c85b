"""Fixtures for the metrics tests: the real servers of ``peers``; the daemons start once per session."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from ..conftest import _stop_all
from . import peers
from .wrapped import Logwrap


@pytest.fixture(scope="session")
def statsd_graphite() -> Iterator[peers.StatsdGraphite]:
    """Shared by the whole session: tests keep apart by naming their metrics under ``metric_prefix``."""
    with peers.start_statsd_graphite() as servers:
        yield servers


@pytest.fixture
def metric_prefix(request: pytest.FixtureRequest) -> str:
    """A statsd name prefix no other test uses, e.g. ``test_counts_add_up_3f2a9c1e``."""
    return f"{re.sub(r'[^A-Za-z0-9_]+', '_', request.node.name)}_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def prometheus_server() -> Iterator[peers.Prometheus]:
    """Started once: Prometheus scrapes for the first time only ~5.5 s after it starts."""
    with peers.start_prometheus() as server:
        yield server


@pytest.fixture
def prometheus(prometheus_server: peers.Prometheus) -> Iterator[peers.Prometheus]:
    """The session's Prometheus; the targets a test adds are dropped when it ends."""
    yield prometheus_server
    prometheus_server.forget_targets()


@pytest.fixture
def munin_run() -> peers.MuninRun:
    """``munin_run(command, env, *args)``: munin-run runs ``command`` as a plugin, ``env`` as env.* lines."""
    peers.need("munin-run")
    return peers.munin_run


@pytest.fixture
def logwrap(tmp_path: Path) -> Iterator[Callable[..., Logwrap]]:
    """``logwrap(*args, child=[...], metrics=False)`` starts a logwrap; each one is killed when the test ends."""
    started: list[Logwrap] = []

    def start(*args: str, child: Sequence[str], metrics: bool = False) -> Logwrap:
        started.append(Logwrap(args, child, tmp_path / f"logwrap-{len(started)}.stderr", metrics=metrics))
        return started[-1]

    yield start
    _stop_all(started, Logwrap.kill)
