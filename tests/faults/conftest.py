"""The fault suite: real processes, real sockets, a proxy for network faults.

Run alone with ``python -m pytest tests/faults -s``: each scenario records the figure it measured, and
the session ends with the reliability table the README shows (one row per scenario).
"""

from __future__ import annotations

import pytest

from ..conftest import _stop_all
from .proxy import FaultProxy
from .receivers import CountingReceiver, RestartableReceiver


def _starter(make):  # type: ignore[no-untyped-def]
    """A function that makes things with ``make``, and the list of what it made."""
    made: list = []

    def start(*args):  # type: ignore[no-untyped-def]
        made.append(make(*args))
        return made[-1]

    return start, made


@pytest.fixture
def restartable_receiver():
    start, started = _starter(RestartableReceiver)
    yield start
    _stop_all(started, RestartableReceiver.stop)


@pytest.fixture
def proxy():
    start, made = _starter(FaultProxy)
    yield start
    _stop_all(made, FaultProxy.close)


@pytest.fixture
def counting_receiver():
    start, started = _starter(CountingReceiver)
    yield start
    _stop_all(started, CountingReceiver.stop)
