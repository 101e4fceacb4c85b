import asyncio
import fcntl
import socket
import struct
import termios
import threading

import pytest
import trustme

from shipper.errors import DeliveryError
from shipper.forward.address import parse_address
from shipper.forward.batcher import Batcher, BatchLimits
from shipper.forward.client import ClientOptions, Security
from shipper.forward.pool import Pool
from shipper.forward.transport import ServerTls, TlsOptions


def chunks(count: int, per_chunk: int = 10, ack: bool = True, pad: int = 0):
    batcher = Batcher("app", BatchLimits(max_records=per_chunk), ack=ack)
    record = {"pad": "x" * pad} if pad else {}
    made = [batcher.add((1, {"n": n, **record}), 10, 0.0) for n in range(count * per_chunk)]
    return [chunk for chunk in made if chunk is not None]


def no_wait_delays():
    while True:
        yield 0.01


async def deliver(url, to_send, options=None, warnings=None, **kwargs):
    client = Pool([parse_address(url)], options or ClientOptions(), delays=no_wait_delays,
                           warn=(warnings.append if warnings is not None else lambda m: None), **kwargs)
    futures = [client.submit(chunk) for chunk in to_send]
    results = await asyncio.gather(*futures, return_exceptions=True)
    await client.close()
    return client, results


def numbers(receiver):
    return sorted(record["n"] for record in receiver.records)


def test_chunks_are_delivered_and_settled_on_ack(forward_receiver):
    client, results = asyncio.run(deliver(forward_receiver.url, chunks(5)))
    assert results == [None] * 5 and numbers(forward_receiver) == list(range(50))
    assert forward_receiver.acks_sent == 5


def test_in_flight_chunks_are_resent_after_the_connection_is_cut_mid_frame(forward_receiver):
    forward_receiver.cut_mid_frame()
    client, results = asyncio.run(deliver(forward_receiver.url, chunks(20, per_chunk=200)))
    assert results == [None] * 20
    assert set(numbers(forward_receiver)) == set(range(4000))
    assert client.stats.retries >= 1 and client.stats.connects == 2


def test_a_receiver_down_at_start_is_retried_until_it_listens(forward_receiver):
    forward_receiver.refuse_connections = True
    attempts = []

    def sleep(delay):
        attempts.append(delay)
        if len(attempts) == 3:
            forward_receiver.refuse_connections = False
        return asyncio.sleep(0)

    warnings = []
    client, results = asyncio.run(deliver(forward_receiver.url, chunks(2), warnings=warnings, sleep=sleep))
    assert results == [None, None] and len(attempts) == 3
    assert "Connection refused" in warnings[0] and "connected again" in warnings[-1]


def test_a_peer_that_never_acks_gets_one_warning_and_no_resend_loop(forward_receiver):
    forward_receiver.faults.withhold_acks = True
    warnings = []
    client, results = asyncio.run(deliver(
        forward_receiver.url, chunks(30), ClientOptions(ack_timeout=0.3, window=8), warnings=warnings))
    assert all(isinstance(r, DeliveryError) for r in results)
    assert len(warnings) == 1 and "--no-ack" in warnings[0] and "in_unix" in warnings[0]
    # at most one window (how much of it goes out before the ack timeout depends on the machine), then it stops
    assert client.stats.retries == 0 and 1 <= client.stats.chunks_sent <= 8


def test_a_peer_that_acked_before_and_stalls_gets_the_chunk_resent(forward_receiver):
    async def scenario():
        client = Pool([parse_address(forward_receiver.url)], ClientOptions(ack_timeout=0.3),
                      delays=no_wait_delays)
        first, second = chunks(2)
        await client.submit(first)
        forward_receiver.faults.withhold_acks = True  # it acked before; now it stalls
        pending = client.submit(second)
        await asyncio.to_thread(forward_receiver.wait_for, 30, 60)  # the second chunk arrived twice: resent
        forward_receiver.faults.withhold_acks = False
        await pending
        await client.close()
        return client

    client = asyncio.run(scenario())
    assert client.stats.retries >= 1
    assert set(numbers(forward_receiver)) == set(range(20))


def test_retry_limit_fails_the_chunk_with_the_count_of_its_records(forward_receiver):
    forward_receiver.refuse_connections = True
    client, results = asyncio.run(deliver(forward_receiver.url, chunks(1), ClientOptions(retry_limit=2)))
    (error,) = results
    assert isinstance(error, DeliveryError) and error.undelivered == 10
    assert "gave up after 2 retries" in str(error) and "failed 3 times in a row" in str(error)


def test_without_acks_a_chunk_settles_once_written(forward_receiver):
    options = ClientOptions(ack=False)
    client, results = asyncio.run(deliver(forward_receiver.url, chunks(3, ack=False), options))
    assert results == [None] * 3
    forward_receiver.wait_for(30)
    assert forward_receiver.acks_sent == 0


def test_a_unix_peer_that_reads_and_never_acks_gets_everything_delivered_and_one_warning(
        forward_receiver_factory, tmp_path):
    peer = forward_receiver_factory(f"unix://{tmp_path}/in_unix.sock")
    peer.faults.withhold_acks = True
    warnings = []
    sent = chunks(30)
    client, results = asyncio.run(deliver(peer.url, sent, warnings=warnings))
    peer.wait_for(300)  # a chunk settles once the peer has read it, maybe before it reached the sink
    assert results == [None] * 30 and numbers(peer) == list(range(300))
    assert len(warnings) == 1 and "reads chunks but acknowledged none" in warnings[0]
    assert "--no-ack" in warnings[0] and all(chunk.unacked for chunk in sent)
    assert client.stats.retries == 0


def test_a_unix_peer_that_acks_keeps_at_least_once(forward_receiver_factory, tmp_path):
    peer = forward_receiver_factory(f"unix://{tmp_path}/forward.sock")
    warnings = []
    sent = chunks(5)
    client, results = asyncio.run(deliver(peer.url, sent, warnings=warnings))
    assert results == [None] * 5 and peer.acks_sent == 5
    assert warnings == [] and not any(chunk.unacked for chunk in sent)


class GatedUnixServer:
    """A Unix socket server that accepts one connection and reads from it only when let."""

    def __init__(self, path: str) -> None:
        self.url = f"unix://{path}"
        self._server = socket.socket(socket.AF_UNIX)
        self._server.bind(path)
        self._server.listen()
        self._conn: socket.socket | None = None
        self._accepted = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self._conn = self._server.accept()[0]
        self._accepted.set()

    def waiting_bytes(self) -> int:
        """Bytes sent to us that we have not read yet."""
        if not self._accepted.is_set():
            return 0
        return struct.unpack("i", fcntl.ioctl(self._conn, termios.FIONREAD, b"\0\0\0\0"))[0]

    def read_all(self) -> None:
        self._conn.setblocking(False)
        while self.waiting_bytes():
            self._conn.recv(1 << 20)

    def close(self) -> None:
        self._server.close()
        if self._conn is not None:
            self._conn.close()


@pytest.fixture
def gated_unix_server(tmp_path):
    server = GatedUnixServer(str(tmp_path / "gated.sock"))
    yield server
    server.close()


def test_without_acks_a_unix_peer_settles_a_chunk_only_once_it_has_read_it(gated_unix_server):
    (chunk,) = chunks(1, ack=False)

    async def scenario():
        pool = Pool([parse_address(gated_unix_server.url)], ClientOptions(ack=False), delays=no_wait_delays)
        settled = pool.submit(chunk)
        while gated_unix_server.waiting_bytes() < len(chunk.payload):  # all of it is on the peer's side
            await asyncio.sleep(0.01)
        unsettled_while_unread = not settled.done()
        gated_unix_server.read_all()
        await asyncio.wait_for(settled, 10)
        await pool.close()
        return unsettled_while_unread

    assert asyncio.run(scenario()) is True


def test_a_unix_peer_that_stops_reading_is_a_stall_to_retry_not_a_peer_without_acks(gated_unix_server):
    warnings = []
    options = ClientOptions(ack_timeout=0.3, retry_limit=0)
    client, (error,) = asyncio.run(deliver(gated_unix_server.url, chunks(1), options, warnings))
    assert isinstance(error, DeliveryError) and "no ack of a chunk of 10 records within 0.3s" in str(error)
    assert not any("--no-ack" in warning for warning in warnings) and not client.clients[0].disabled


@pytest.fixture
def silent_server():
    """Accepts connections and never reads or writes: a hung collector."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(server.accept()[0]), daemon=True)
    thread.start()
    yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    server.close()
    for conn in accepted:
        conn.close()


def test_a_silent_server_cannot_hang_the_handshake(silent_server):
    options = ClientOptions(connect_timeout=0.3, retry_limit=0, security=Security("k", "web"))
    client, (error,) = asyncio.run(deliver(silent_server, chunks(1), options))
    assert isinstance(error, DeliveryError) and "no handshake reply within 0.3s" in str(error)


def test_a_server_that_stops_reading_cannot_hang_the_writer(silent_server):
    options = ClientOptions(write_timeout=0.3, retry_limit=0, ack_timeout=60)
    big = chunks(10, per_chunk=2000, pad=1000)  # 20 MB: more than the socket buffers hold
    client, results = asyncio.run(deliver(silent_server, big, options))
    assert any("could not write for 0.3s" in str(r) for r in results)


def test_connecting_to_a_closed_port_fails_fast_with_the_address():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = ClientOptions(retry_limit=0)
    client, (error,) = asyncio.run(deliver(f"tcp://127.0.0.1:{port}", chunks(1), options))
    assert f"tcp://127.0.0.1:{port}" in str(error) and "refused" in str(error)


def test_shared_key_client_delivers_to_a_secured_receiver(forward_receiver_factory):
    receiver = forward_receiver_factory(shared_key="k", users={"ann": "pw"})
    options = ClientOptions(security=Security("k", "web", "ann", "pw"))
    client, results = asyncio.run(deliver(receiver.url, chunks(2), options))
    assert results == [None, None] and len(receiver.events) == 20


def test_a_failed_handshake_is_reported_with_the_servers_reason(forward_receiver_factory):
    receiver = forward_receiver_factory(shared_key="k")
    warnings = []
    options = ClientOptions(security=Security("wrong", "web"), retry_limit=1)
    client, (error,) = asyncio.run(deliver(receiver.url, chunks(1), options, warnings=warnings))
    assert "refused the handshake: shared key mismatch" in warnings[0]


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture
def tls_receiver(ca, tmp_path, forward_receiver_factory):
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    tls = ServerTls(str(tmp_path / "server.pem"), str(tmp_path / "server.pem"))
    return forward_receiver_factory("tls://127.0.0.1:0", tls=tls)


def test_tls_delivers_when_the_ca_is_trusted(ca, tls_receiver, tmp_path):
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    options = ClientOptions(tls=TlsOptions(ca_file=str(tmp_path / "ca.pem")))
    client, results = asyncio.run(deliver(tls_receiver.url, chunks(2), options))
    assert results == [None, None] and len(tls_receiver.events) == 20


def test_tls_verifies_the_server_by_default(tls_receiver):
    warnings = []
    options = ClientOptions(retry_limit=0)
    client, (error,) = asyncio.run(deliver(tls_receiver.url, chunks(1), options, warnings))
    assert "certificate could not be verified" in warnings[0] and "--tls-ca" in warnings[0]


def test_tls_with_a_wrong_ca_is_refused(tls_receiver, tmp_path):
    trustme.CA().cert_pem.write_to_path(str(tmp_path / "other.pem"))
    options = ClientOptions(retry_limit=0, tls=TlsOptions(ca_file=str(tmp_path / "other.pem")))
    warnings = []
    asyncio.run(deliver(tls_receiver.url, chunks(1), options, warnings))
    assert "certificate could not be verified" in warnings[0] and "--tls-ca" in warnings[0]


def test_tls_client_certificates_can_be_required(ca, tmp_path, forward_receiver_factory):
    server_cert = ca.issue_cert("127.0.0.1")
    server_cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "s.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    client_cert = ca.issue_cert("web-1")
    client_cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "c.pem"))
    pem = str(tmp_path / "s.pem")
    tls = ServerTls(pem, pem, client_ca_file=str(tmp_path / "ca.pem"))
    receiver = forward_receiver_factory("tls://127.0.0.1:0", tls=tls)
    client_pem = str(tmp_path / "c.pem")
    options = ClientOptions(tls=TlsOptions(str(tmp_path / "ca.pem"), client_pem, client_pem))
    client, results = asyncio.run(deliver(receiver.url, chunks(1), options))
    assert results == [None]


def test_chunks_spread_over_several_healthy_servers(forward_receiver_factory):
    first, second = forward_receiver_factory(), forward_receiver_factory()

    async def scenario():
        pool = Pool([parse_address(first.url), parse_address(second.url)],
                    ClientOptions(window=1), delays=no_wait_delays)
        futures = [pool.submit(c) for c in chunks(40)]
        await asyncio.gather(*futures)
        await pool.close()

    asyncio.run(scenario())
    assert len(first.events) > 0 and len(second.events) > 0
    assert sorted(first.records + second.records, key=lambda r: r["n"]) == [{"n": n} for n in range(400)]


def test_a_failed_server_is_skipped_and_its_chunks_go_to_the_others(forward_receiver_factory):
    healthy, down = forward_receiver_factory(), forward_receiver_factory()
    down.refuse_connections = True
    client, results = asyncio.run(deliver(healthy.url, chunks(5)))
    assert results == [None] * 5

    async def scenario():
        pool = Pool([parse_address(down.url), parse_address(healthy.url)], delays=no_wait_delays)
        await asyncio.gather(*[pool.submit(c) for c in chunks(10)])
        await pool.close()

    healthy.clear()
    asyncio.run(scenario())
    assert len(healthy.events) == 100 and down.events == []


def test_a_server_denying_keepalive_gets_one_chunk_per_connection(forward_receiver_factory):
    receiver = forward_receiver_factory(shared_key="k", deny_keepalive=True)
    options = ClientOptions(security=Security("k", "web"))
    client, results = asyncio.run(deliver(receiver.url, chunks(3), options))
    assert results == [None] * 3 and len(receiver.events) == 30
    assert (client.stats.connects, client.stats.chunks_sent, client.stats.retries) == (3, 3, 0)


def test_the_reconnect_delay_starts_over_after_a_session_that_delivered(forward_receiver):
    schedules = []

    def delays():
        schedules.append(1)
        return no_wait_delays()

    async def scenario():
        pool = Pool([parse_address(forward_receiver.url)], delays=delays)
        await pool.submit(chunks(1)[0])
        forward_receiver.cut_mid_frame()
        await asyncio.gather(*[pool.submit(c) for c in chunks(3, per_chunk=2000)])
        await pool.close()

    asyncio.run(scenario())
    assert len(schedules) >= 2  # a fresh schedule after the delivering session failed


def test_an_address_the_resolver_cannot_encode_fails_cleanly_instead_of_hanging():
    client, (error,) = asyncio.run(deliver("tcp://a..b:2000", chunks(1), ClientOptions(retry_limit=0)))
    assert isinstance(error, DeliveryError) and "invalid address" in str(error)
