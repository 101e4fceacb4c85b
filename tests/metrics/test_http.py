"""The --metrics-listen endpoint: /metrics, /healthz, and a port that is taken."""

import asyncio
import json
import socket

import pytest

from shipper.errors import ConfigError
from shipper.forward.address import Address
from shipper.metrics.http import MAX_CONNECTIONS, MetricsServer


def answer_to(request: bytes, unhealthy=lambda: None) -> tuple[int, bytes, bytes]:  # type: ignore[no-untyped-def]
    """Serve on a free port, send ``request``, and return the status, the head and the body."""
    async def scenario() -> bytes:
        server = MetricsServer(Address("tcp", "127.0.0.1", 0), lambda: (b"m 1\n", "text/plain; version=0.0.4"),
                               unhealthy)
        port = (await server.start()).port
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            writer.write_eof()
            answer = await reader.read()
            writer.close()
            return answer
        finally:
            await server.close()

    head, _, body = asyncio.run(scenario()).partition(b"\r\n\r\n")
    return int(head.split()[1]), head, body


def test_metrics_answers_with_the_exposition_and_its_content_type():
    status, head, body = answer_to(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (status, body) == (200, b"m 1\n") and b"Content-Type: text/plain; version=0.0.4" in head


def test_healthz_is_200_while_healthy():
    status, _, body = answer_to(b"GET /healthz HTTP/1.1\r\n\r\n")
    assert (status, json.loads(body)) == (200, {"status": "ok"})


def test_healthz_is_503_with_the_reason_when_unhealthy():
    status, _, body = answer_to(b"GET /healthz HTTP/1.1\r\n\r\n", lambda: "the child exited (status 1)")
    assert (status, json.loads(body)) == (503, {"status": "unhealthy", "reason": "the child exited (status 1)"})


@pytest.mark.parametrize(("request_bytes", "status"), [
    (b"GET /other HTTP/1.1\r\n\r\n", 404), (b"POST /metrics HTTP/1.1\r\n\r\n", 405), (b"GET /metr", 400)])
def test_other_requests_get_a_clear_status(request_bytes, status):
    assert answer_to(request_bytes)[0] == status


def test_a_port_that_is_taken_is_a_config_error_naming_it():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = MetricsServer(Address("tcp", "127.0.0.1", port), lambda: (b"", ""), lambda: None)
        with pytest.raises(ConfigError, match=f"--metrics-listen tcp://127.0.0.1:{port}: cannot listen"):
            asyncio.run(server.start())


def test_a_failure_reading_the_metrics_is_a_500_not_an_error_in_logwrap():
    def broken() -> tuple[bytes, str]:
        raise ValueError("a bug")

    async def scenario() -> bytes:
        server = MetricsServer(Address("tcp", "127.0.0.1", 0), broken, lambda: None)
        port = (await server.start()).port
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /metrics HTTP/1.1\r\n\r\n")
        answer = await reader.read()
        writer.close()
        await server.close()
        return answer

    answer = asyncio.run(scenario())
    assert answer.startswith(b"HTTP/1.1 500 ") and b"ValueError('a bug')" in answer


def test_an_idle_client_does_not_hold_up_closing():
    async def scenario() -> None:
        server = MetricsServer(Address("tcp", "127.0.0.1", 0), lambda: (b"", ""), lambda: None)
        port = (await server.start()).port
        _, writer = await asyncio.open_connection("127.0.0.1", port)  # connects, never asks
        await asyncio.sleep(0)
        await asyncio.wait_for(server.close(), 3)
        writer.close()

    asyncio.run(scenario())


def test_clients_past_the_limit_are_closed_at_once():
    async def scenario() -> list[bytes]:
        server = MetricsServer(Address("tcp", "127.0.0.1", 0), lambda: (b"m 1\n", "text/plain"), lambda: None)
        port = (await server.start()).port
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(MAX_CONNECTIONS)]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /metrics HTTP/1.1\r\n\r\n")
        try:
            answer = [await reader.read()]
        except ConnectionResetError:  # aborted: the same as no answer
            answer = [b""]
        for _, idle_writer in idle:
            idle_writer.close()
        writer.close()
        await server.close()
        return answer

    assert asyncio.run(scenario()) == [b""]
