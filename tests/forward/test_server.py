import asyncio
import os
import socket
import stat
import threading
import time

import pytest

from shipper.errors import ConfigError
from shipper.forward.address import parse_address
from shipper.forward.eventtime import to_wire
from shipper.forward.protocol import encode_message
from shipper.forward.server import Receiver, ReceiverOptions, bind_unix_socket

from . import vectors as v
from .helpers import RawClient

NS = v.NS


def message(n: int, chunk: str | None = None) -> bytes:
    return encode_message("app", to_wire(NS), {"n": n}, chunk)


def test_events_are_written_then_acked_with_the_chunk_id(forward_receiver):
    with RawClient(forward_receiver.addresses[0]) as client:
        client.send(message(1, chunk="c-1"))
        assert client.receive() == {"ack": "c-1"}
    assert forward_receiver.events[0] == ("app", NS, {"n": 1})


def test_message_without_chunk_is_delivered_and_not_acked(forward_receiver):
    with RawClient(forward_receiver.addresses[0]) as client:
        client.send(message(1) + message(2, chunk="last"))
        assert client.receive() == {"ack": "last"}
    assert forward_receiver.acks_sent == 1 and len(forward_receiver.events) == 2


def test_every_mode_is_accepted_on_one_connection(forward_receiver):
    with RawClient(forward_receiver.addresses[0]) as client:
        client.send(v.MESSAGE_WITH_CHUNK + v.FORWARD + v.PACKED_BIN + v.PACKED_STR)
        assert [client.receive() for _ in range(4)] == [{"ack": "c1"}] + [{"ack": "x"}] * 3
    assert len(forward_receiver.events) == 7


def test_nil_heartbeat_messages_are_ignored(forward_receiver):
    with RawClient(forward_receiver.addresses[0]) as client:
        client.send(b"\xc0" + message(1, chunk="a"))
        assert client.receive() == {"ack": "a"}


class SlowFlushSink:
    """Flushes slowly, so an ack written before the flush would reach the client first."""

    wants_records = True

    def __init__(self):
        self.flushed = False

    def write(self, batch):
        pass

    def flush(self):
        time.sleep(0.2)
        self.flushed = True


@pytest.fixture
def slow_flush_receiver():
    """A Receiver with a slow sink on its own loop thread, so a client on ours runs freely."""
    sink = SlowFlushSink()
    receiver = Receiver(ReceiverOptions(listen=(parse_address("tcp://127.0.0.1:0"),)), sink, print)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(receiver.start(), loop).result(5)
    yield receiver, sink
    asyncio.run_coroutine_threadsafe(receiver.close(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def test_the_ack_is_sent_only_after_the_sink_has_flushed(slow_flush_receiver):
    receiver, sink = slow_flush_receiver
    with RawClient(receiver.addresses[0]) as client:
        client.send(message(1, chunk="c"))
        assert client.receive() == {"ack": "c"}
        assert sink.flushed


def test_garbage_closes_that_connection_with_a_line_naming_peer_and_reason(forward_receiver):
    with RawClient(forward_receiver.addresses[0]) as client:
        port = client.sock.getsockname()[1]
        client.send(b"\xc1garbage")
        assert client.closed_by_peer()
    line = forward_receiver.wait_for_log("closing connection")
    assert f"127.0.0.1:{port}" in line and "invalid msgpack" in line


def test_other_connections_are_unaffected_by_a_bad_one(forward_receiver):
    address = forward_receiver.addresses[0]
    with RawClient(address) as good, RawClient(address) as bad:
        good.send(message(1, chunk="g1"))
        assert good.receive() == {"ack": "g1"}
        bad.send(b"\xc1")
        assert bad.closed_by_peer()
        good.send(message(2, chunk="g2"))
        assert good.receive() == {"ack": "g2"}


def test_messages_before_garbage_are_delivered_and_acked(forward_receiver):
    with RawClient(forward_receiver.addresses[0]) as client:
        client.send(message(1, chunk="ok") + b"\xc1")
        assert client.receive() == {"ack": "ok"}
        assert client.closed_by_peer()
    assert forward_receiver.records == [{"n": 1}]


def test_a_frame_cut_off_by_the_peer_closing_is_reported(forward_receiver):
    with RawClient(forward_receiver.addresses[0]) as client:
        client.send(message(1, chunk="c")[:-4])
    assert "ended inside a message" in forward_receiver.wait_for_log("closing connection")


def test_an_oversized_frame_closes_the_connection(forward_receiver_factory):
    receiver = forward_receiver_factory(max_frame_bytes=1024)
    with RawClient(receiver.addresses[0]) as client:
        client.send_message(["app", 1, {"blob": "x" * 4000}])
        assert client.closed_by_peer()
    assert "1024-byte frame limit" in receiver.wait_for_log("closing connection")


def test_an_unknown_mode_closes_the_connection(forward_receiver):
    with RawClient(forward_receiver.addresses[0]) as client:
        client.send_message(["app", {"not": "a mode"}, {}])
        assert client.closed_by_peer()
    assert "event time" in forward_receiver.wait_for_log("closing connection")


def test_unix_socket_is_created_with_mode_0600(forward_receiver_factory, tmp_path):
    receiver = forward_receiver_factory(f"unix://{tmp_path}/in.sock")
    assert stat.S_IMODE(os.stat(tmp_path / "in.sock").st_mode) == 0o600
    with RawClient(receiver.addresses[0]) as client:
        client.send(message(1, chunk="u"))
        assert client.receive() == {"ack": "u"}


def test_unix_socket_mode_can_be_chosen(forward_receiver_factory, tmp_path):
    forward_receiver_factory(f"unix://{tmp_path}/in.sock", socket_mode=0o660)
    assert stat.S_IMODE(os.stat(tmp_path / "in.sock").st_mode) == 0o660


def test_a_stale_unix_socket_is_replaced(tmp_path):
    path = str(tmp_path / "stale.sock")
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()
    bind_unix_socket(path, 0o600).close()
    assert stat.S_ISSOCK(os.stat(path).st_mode)


def test_a_unix_socket_in_use_is_not_stolen(forward_receiver_factory, tmp_path):
    forward_receiver_factory(f"unix://{tmp_path}/busy.sock")
    with pytest.raises(ConfigError, match="already listening"):
        bind_unix_socket(str(tmp_path / "busy.sock"), 0o600)


def test_a_path_that_is_not_a_socket_is_refused(tmp_path):
    (tmp_path / "file").write_text("data")
    with pytest.raises(ConfigError, match="not a socket"):
        bind_unix_socket(str(tmp_path / "file"), 0o600)


def test_udp_heartbeat_on_the_tcp_port_is_answered(forward_receiver):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(5)
        udp.sendto(b"\0", ("127.0.0.1", forward_receiver.port))
        assert udp.recvfrom(16)[0] == b"\0"


def handshake(client: RawClient, key: str, hostname: str = "web-1", user: str = "", password: str = ""):
    from shipper.forward.handshake import ClientHandshake

    shake = ClientHandshake(key, hostname, "salt", user, password)
    client.send(shake.ping(client.receive()))
    return shake, client.receive()


def test_shared_key_handshake_then_events(forward_receiver_factory):
    receiver = forward_receiver_factory(shared_key="k")
    with RawClient(receiver.addresses[0]) as client:
        shake, pong = handshake(client, "k")
        shake.check_pong(pong)
        client.send(message(1, chunk="s"))
        assert client.receive() == {"ack": "s"}


def test_wrong_shared_key_gets_a_failed_pong_and_a_closed_connection(forward_receiver_factory):
    receiver = forward_receiver_factory(shared_key="k")
    with RawClient(receiver.addresses[0]) as client:
        _, pong = handshake(client, "not-k")
        assert pong[:3] == ["PONG", False, "shared key mismatch"]
        assert client.closed_by_peer()
    assert "shared key mismatch" in receiver.wait_for_log("closing connection")


def test_events_before_the_handshake_are_refused(forward_receiver_factory):
    receiver = forward_receiver_factory(shared_key="k")
    with RawClient(receiver.addresses[0]) as client:
        client.receive()  # HELO
        client.send(message(1, chunk="sneaky"))
        assert client.receive()[:2] == ["PONG", False]
    assert receiver.events == []


def test_user_auth_accepts_a_known_user(forward_receiver_factory):
    receiver = forward_receiver_factory(shared_key="k", users={"ann": "pw"})
    with RawClient(receiver.addresses[0]) as client:
        _, pong = handshake(client, "k", user="ann", password="pw")
        assert pong[:2] == ["PONG", True]


def test_user_auth_refuses_a_wrong_password(forward_receiver_factory):
    receiver = forward_receiver_factory(shared_key="k", users={"ann": "pw"})
    with RawClient(receiver.addresses[0]) as client:
        _, pong = handshake(client, "k", user="ann", password="nope")
        assert pong[:3] == ["PONG", False, "username/password mismatch for user 'ann'"]


def test_the_receiver_counts_connections_events_and_acks(forward_receiver):
    with RawClient(forward_receiver.addresses[0]) as client:
        client.send(message(1) + message(2, chunk="c"))
        assert client.receive() == {"ack": "c"}
    stats = forward_receiver.stats
    assert (stats.connections, stats.events, stats.acks, stats.closed) == (1, 2, 1, {})


def test_a_connection_closed_for_garbage_is_counted_as_protocol(forward_receiver):
    with RawClient(forward_receiver.addresses[0]) as client:
        client.send(b"\xc1")
        assert client.closed_by_peer()
    forward_receiver.wait_for_log("closing connection")
    assert forward_receiver.stats.closed == {"protocol": 1}


def test_a_message_left_incomplete_is_counted_as_timeout(forward_receiver_factory):
    receiver = forward_receiver_factory(frame_timeout=0.2)
    with RawClient(receiver.addresses[0]) as client:
        client.send(message(1, chunk="c")[:-4])
        assert client.closed_by_peer()
    receiver.wait_for_log("closing connection")
    assert receiver.stats.closed == {"timeout": 1}


def test_an_oversized_frame_is_counted_as_too_large(forward_receiver_factory):
    receiver = forward_receiver_factory(max_frame_bytes=1024)
    with RawClient(receiver.addresses[0]) as client:
        client.send_message(["app", 1, {"blob": "x" * 4000}])
        assert client.closed_by_peer()
    receiver.wait_for_log("closing connection")
    assert receiver.stats.closed == {"too_large": 1}


def test_a_failed_handshake_is_counted_as_auth(forward_receiver_factory):
    receiver = forward_receiver_factory(shared_key="k")
    with RawClient(receiver.addresses[0]) as client:
        handshake(client, "not-k")
        assert client.closed_by_peer()
    receiver.wait_for_log("closing connection")
    assert receiver.stats.closed == {"auth": 1}
