"""The ``forward_receiver`` fixture as a user meets it: installed through the pytest11 entry point."""

import asyncio
import socket

from shipper.errors import DeliveryError
from shipper.forward.address import parse_address
from shipper.forward.batcher import Batcher, BatchLimits
from shipper.forward.client import ClientOptions, Security
from shipper.forward.eventtime import to_wire
from shipper.forward.pool import Pool
from shipper.forward.protocol import encode_message

from .forward.helpers import RawClient

USER_TEST = '''
from fluent import sender

def test_my_app_ships_a_login(forward_receiver):
    address = forward_receiver.addresses[0]
    client = sender.FluentSender("myapp", host=address.host, port=address.port)
    client.emit("auth", {"user": "ann"})
    client.close()
    (event,) = forward_receiver.wait_for(1)
    assert event.tag == "myapp.auth" and event.record == {"user": "ann"}

def test_wait_for_fails_with_what_arrived(forward_receiver):
    try:
        forward_receiver.wait_for(1, timeout=0.1)
    except AssertionError as exc:
        assert "expected 1 events within 0.1s, got 0" in str(exc)
    else:
        raise AssertionError("wait_for did not fail")
'''


def test_the_fixture_is_available_to_users_without_any_import(pytester):
    pytester.makepyfile(test_user=USER_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_fail_auth_makes_the_handshake_fail(forward_receiver_factory):
    receiver = forward_receiver_factory(shared_key="k")
    receiver.faults.fail_auth = True
    warnings = []

    async def send():
        client = Pool([parse_address(receiver.url)],
                      ClientOptions(security=Security("k", "web"), retry_limit=0), warn=warnings.append)
        chunk = Batcher("t", BatchLimits(max_records=1)).add((1, {}), 1, 0.0)
        try:
            await client.submit(chunk)
        finally:
            await client.close()

    try:
        asyncio.run(send())
    except DeliveryError:
        pass
    assert "refused the handshake: authentication refused (the fail_auth fault is on)" in warnings[0]
    assert receiver.events == []


def test_withhold_acks_after_acks_that_many_chunks_then_none(forward_receiver):
    forward_receiver.faults.withhold_acks_after = 2
    with RawClient(forward_receiver.addresses[0]) as client:
        client.send(b"".join(encode_message("app", to_wire(10**18), {"n": n}, f"c-{n}") for n in (1, 2, 3)))
        client.sock.shutdown(socket.SHUT_WR)  # the receiver closes once it has handled all three
        replies = [client.receive() for _ in range(3)]
    assert replies == [{"ack": "c-1"}, {"ack": "c-2"}, None]  # closed with c-3 written but never acked
    assert forward_receiver.acks_sent == 2 and [e.record["n"] for e in forward_receiver.events] == [1, 2, 3]


def test_events_and_records_show_what_arrived_in_order(forward_receiver):
    from fluent import sender

    client = sender.FluentSender("app", host="127.0.0.1", port=forward_receiver.port)
    for n in range(3):
        client.emit("x", {"n": n})
    client.close()
    forward_receiver.wait_for(3)
    assert forward_receiver.records == [{"n": 0}, {"n": 1}, {"n": 2}]
    forward_receiver.clear()
    assert forward_receiver.events == []
