"""StatsD pushes never hold logwrap up: a host that is down or unknown gets one warning."""

import asyncio
import socket
import time

from shipper.forward.address import Address
from shipper.metrics.push import StatsdSender

from ..peers import refused_datagrams


async def refusal_arrived(seen: list[int], timeout: float = 10) -> None:
    """Until this host has refused one more datagram than ``seen[0]`` (its ICMP reply is what
    the next send on that socket hears of)."""
    deadline = time.monotonic() + timeout
    while refused_datagrams() <= seen[0]:
        assert time.monotonic() < deadline, "the datagram to the closed port was never refused"
        await asyncio.sleep(0.01)
    seen[0] = refused_datagrams()


def pushes(endpoint: Address, rounds: int, between=None) -> tuple[StatsdSender, list[str]]:  # type: ignore[no-untyped-def]
    warnings: list[str] = []
    sender = StatsdSender(endpoint, warnings.append)

    async def scenario() -> None:
        for n in range(rounds):
            sent = sender.sent
            await sender.send([f"x:{n}|c".encode()])
            if between is not None:
                await between(n, sender.sent > sent)

    asyncio.run(scenario())
    sender.close()
    return sender, warnings


def test_datagrams_reach_a_listening_statsd():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as statsd:
        statsd.bind(("127.0.0.1", 0))
        sender, warnings = pushes(Address("udp", "127.0.0.1", statsd.getsockname()[1]), 2)
        assert [statsd.recv(100), statsd.recv(100)] == [b"x:0|c", b"x:1|c"] and warnings == []


def test_a_host_that_cannot_be_resolved_is_warned_about_once_and_tried_again():
    sender, warnings = pushes(Address("udp", "no-such-host.invalid", 8125), 3)
    assert len(warnings) == 1 and "cannot resolve 'no-such-host.invalid'" in warnings[0]
    assert sender.failed == 3 and sender.sent == 0


def test_a_statsd_that_is_down_is_warned_about_once():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]

    seen = [refused_datagrams()]

    async def refusal_arrives(n: int, went_out: bool) -> None:
        if went_out:  # else it failed on the refusal of the one before, and nothing was sent
            await refusal_arrived(seen)

    sender, warnings = pushes(Address("udp", "127.0.0.1", port), 6, refusal_arrives)
    assert len(warnings) == 1 and "--statsd udp://127.0.0.1" in warnings[0] and sender.failed >= 1


def test_a_statsd_that_comes_back_is_warned_about_again_when_it_next_fails():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    statsd: list[socket.socket] = []
    seen = [refused_datagrams()]

    async def outage_then_recovery_then_outage(n: int, went_out: bool) -> None:
        if went_out and not statsd:
            await refusal_arrived(seen)  # push n went to the closed port
        if n == 2:
            statsd.append(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
            statsd[0].bind(("127.0.0.1", port))
        if n == 6:
            statsd.pop().close()

    _, warnings = pushes(Address("udp", "127.0.0.1", port), 10, outage_then_recovery_then_outage)
    assert len(warnings) == 2
