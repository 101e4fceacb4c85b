import asyncio
import decimal
import json
import logging
import threading

import pytest

import shipper
from shipper.errors import ConfigError
from shipper.logs import JsonFormatter


def test_each_record_is_exactly_one_line(logs, log):
    out = logs()
    log.info("two\nlines")
    assert out.lines() == [out.lines()[0]] and out.last()["message"] == "two\nlines"


def test_a_record_with_an_exception_is_one_line_holding_the_whole_traceback(logs, log):
    out = logs()
    try:
        {}["missing"]
    except KeyError:
        log.exception("lookup failed")
    (line,) = out.lines()
    error = out.last()["error"]
    assert error["type"] == "KeyError" and error["message"] == "'missing'"
    assert error["stack_trace"].startswith("Traceback (most recent call last):")
    assert 'in test_a_record_with_an_exception' in error["stack_trace"] and "KeyError: 'missing'" in error["stack_trace"]


def test_extra_fields_are_kept_and_dotted_ones_nest(logs, log):
    out = logs()
    log.info("login", extra={"user": {"id": 7}, "http.request.method": "POST"})
    assert out.last()["user"] == {"id": 7} and out.last()["http"] == {"request": {"method": "POST"}}


def test_values_json_cannot_hold_are_written_as_their_repr(logs, log):
    out = logs()
    log.info("odd", extra={"obj": object, "amount": decimal.Decimal("1.5"), "keys": {(1, 2): "t"}})
    record = out.last()
    assert record["obj"] == "<class 'object'>" and record["keys"] == {"(1, 2)": "t"}


def test_a_log_call_with_bad_arguments_is_still_logged():
    bad = logging.LogRecord("n", logging.INFO, "f.py", 1, "%d items", ("many",), None)
    record = json.loads(JsonFormatter().format(bad))
    assert record["message"] == "'%d items' % ('many',)" and "TypeError" in record["log"]["format_error"]


def test_a_dict_message_becomes_fields(logs, log):
    out = logs()
    log.info({"event": "signup", "message": "new user"})
    assert (out.last()["event"], out.last()["message"]) == ("signup", "new user")


def test_secrets_are_masked_wherever_they_are(logs, log):
    out = logs()
    log.info("req", extra={"headers": {"Authorization": "Bearer x", "X-Api-Key": "k"},
                           "users": [{"name": "a", "password": "p"}], "db_password": "p2"})
    record = out.last()
    assert record["headers"] == {"Authorization": "[REDACTED]", "X-Api-Key": "[REDACTED]"}
    assert record["users"] == [{"name": "a", "password": "[REDACTED]"}] and record["db_password"] == "[REDACTED]"


def test_the_redaction_list_is_configurable(logs, log, monkeypatch):
    monkeypatch.setenv("LOG_REDACT_KEYS", "ssn")
    out = logs()
    log.info("x", extra={"ssn": "123", "password": "visible"})
    assert (out.last()["ssn"], out.last()["password"]) == ("[REDACTED]", "visible")


def test_bound_context_fields_are_added_and_removed_at_the_end_of_the_block(logs, log):
    out = logs()
    with shipper.bound(request_id="r-1"):
        log.info("in")
    log.info("out")
    assert [r.get("request_id") for r in out.records()] == ["r-1", None]


def test_bind_adds_fields_until_unbind(logs, log):
    out = logs()
    shipper.bind(tenant="t1")
    log.info("a")
    shipper.unbind("tenant")
    log.info("b")
    assert [r.get("tenant") for r in out.records()] == ["t1", None]


def test_context_fields_do_not_bleed_between_concurrent_asyncio_tasks(logs, log):
    out = logs()

    async def handle(request_id: str, started: asyncio.Event, other: asyncio.Event) -> None:
        with shipper.bound(request_id=request_id):
            started.set()
            await other.wait()  # both tasks are inside their blocks at once
            log.info("handled %s", request_id)

    async def main() -> None:
        first, second = asyncio.Event(), asyncio.Event()
        await asyncio.gather(handle("a", first, second), handle("b", second, first))

    asyncio.run(main())
    assert sorted((r["message"], r["request_id"]) for r in out.records()) == [("handled a", "a"), ("handled b", "b")]


def test_context_fields_bound_in_one_thread_stay_in_that_thread(logs, log):
    out = logs()
    bound_here = threading.Event()
    logged_there = threading.Event()

    def other() -> None:
        bound_here.wait(5)
        log.info("other thread")
        logged_there.set()

    thread = threading.Thread(target=other)
    thread.start()
    shipper.bind(user="ann")
    bound_here.set()
    logged_there.wait(5)
    thread.join()
    shipper.unbind("user")
    assert [r.get("user") for r in out.records()] == [None]


def test_an_unknown_schema_is_a_clear_error():
    with pytest.raises(ConfigError, match="log schema 'xml': choose one of ecs, flat"):
        JsonFormatter(schema="xml")


def test_the_formatter_works_in_a_plain_logging_setup():
    handler = logging.Handler()
    handler.setFormatter(JsonFormatter(schema="flat"))
    record = logging.LogRecord("n", logging.INFO, "f.py", 1, "plain", (), None)
    assert '"message":"plain"' in handler.format(record) and '"level":"info"' in handler.format(record)
