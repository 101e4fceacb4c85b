"""pytest fixtures for testing what an application ships (installed as a ``pytest11`` plugin).

    def test_ships_login(forward_receiver):
        run_my_app(fluentd=forward_receiver.url)
        (event,) = forward_receiver.wait_for(1)
        assert event.tag == "app.auth" and event.record["user"] == "ann"

Fault switches: ``refuse_connections = True``, ``faults.withhold_acks = True``,
``faults.withhold_acks_after = N`` (ack N chunks, then none), ``faults.ack_delay = 2.0``,
``faults.fail_auth = True``, ``cut_mid_frame()`` (the receiver's log says when it cut).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .testing import ForwardReceiver


@pytest.fixture
def forward_receiver_factory() -> Iterator[Callable[..., ForwardReceiver]]:
    """Start receivers with options (``listen=``, ``shared_key=``, ``tls=``...); all stop after."""
    started: list[ForwardReceiver] = []

    def start(*listen: str, **options: Any) -> ForwardReceiver:
        receiver = ForwardReceiver(listen or ("tcp://127.0.0.1:0",), **options).start()
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.stop()


@pytest.fixture
def forward_receiver(forward_receiver_factory: Callable[..., ForwardReceiver]) -> ForwardReceiver:
    """A Forward receiver on a free TCP port of 127.0.0.1; its ``url`` tells where."""
    return forward_receiver_factory()
