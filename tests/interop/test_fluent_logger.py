"""fluent-logger, an independent client, delivering to our receiver."""

import logging
import time

import pytest
from fluent import asynchandler, asyncsender, handler, sender

NS = 1_700_000_000_123_456_789


@pytest.fixture
def unix_receiver(forward_receiver_factory, tmp_path):
    return forward_receiver_factory(f"unix://{tmp_path}/fluent.sock")


def fluent_sender(receiver, cls=sender.FluentSender, **kwargs):
    address = receiver.addresses[0]
    if address.is_unix:
        return cls("app", host=f"unix://{address.path}", nanosecond_precision=True, **kwargs)
    return cls("app", host=address.host, port=address.port, nanosecond_precision=True, **kwargs)


@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_fluent_sender_delivers_tag_nanosecond_time_and_record(forward_receiver, unix_receiver, transport):
    receiver = forward_receiver if transport == "tcp" else unix_receiver
    client = fluent_sender(receiver)
    try:
        assert client.emit_with_time("login", sender.EventTime.from_unix_nano(NS), {"user": "ann", "n": 1})
    finally:
        client.close()
    (event,) = receiver.wait_for(1)
    assert (event.tag, event.time, event.record) == ("app.login", NS, {"user": "ann", "n": 1})


def test_fluent_sender_integer_seconds_arrive_as_nanoseconds(forward_receiver):
    address = forward_receiver.addresses[0]
    client = sender.FluentSender("app", host=address.host, port=address.port)
    try:
        client.emit_with_time("old", 1_700_000_000, {"a": 1})
    finally:
        client.close()
    assert forward_receiver.wait_for(1)[0].time == 1_700_000_000_000_000_000


@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_async_sender_delivers_many_records_in_order(forward_receiver, unix_receiver, transport):
    receiver = forward_receiver if transport == "tcp" else unix_receiver
    client = fluent_sender(receiver, cls=asyncsender.FluentSender)
    try:
        for n in range(200):
            client.emit("seq", {"n": n})
    finally:
        client.close()
    events = receiver.wait_for(200)
    assert [e.record["n"] for e in events] == list(range(200))


def test_async_logging_handler_records_arrive_with_their_fields(forward_receiver):
    address = forward_receiver.addresses[0]
    log_handler = asynchandler.FluentHandler("app.log", host=address.host, port=address.port,
                                             nanosecond_precision=True)
    log_handler.setFormatter(handler.FluentRecordFormatter({"level": "%(levelname)s", "where": "%(name)s"}))
    logger = logging.getLogger("interop.async")
    logger.addHandler(log_handler)
    logger.propagate = False
    before = time.time_ns()
    try:
        logger.warning({"message": "disk almost full", "free_mb": 12})
    finally:
        logger.removeHandler(log_handler)
        log_handler.close()
    (event,) = forward_receiver.wait_for(1)
    assert event.tag == "app.log"
    assert event.record["message"] == "disk almost full" and event.record["free_mb"] == 12
    assert event.record["level"] == "WARNING" and event.record["where"] == "interop.async"
    assert before <= event.time <= time.time_ns()
