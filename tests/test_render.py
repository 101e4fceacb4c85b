"""The one renderer for people: the line each schema gives, pinned."""

import io
import logging

import ecs_logging
import pytest

from shipper.logs.formatter import JsonFormatter
from shipper.render import Renderer, wants_colour

T = 1_764_589_338_923_429_000  # 2025-12-01T11:42:18.923429Z
TRACE = 'Traceback (most recent call last):\n  File "/srv/app.py", line 6, in <module>\n    {}["missing"]\nKeyError: \'missing\''
INDENTED = ('\n    Traceback (most recent call last):\n      File "/srv/app.py", line 6, in <module>\n'
            '        {}["missing"]\n    KeyError: \'missing\'')
OURS = {"@timestamp": "2025-12-01T11:42:18.923429Z", "log.level": "error", "message": "lookup failed",
        "ecs.version": "8.11.0",
        "log": {"logger": "shop.orders", "origin": {"file": {"name": "app.py", "line": 8}, "function": "<module>"}},
        "process": {"pid": 31979, "thread": {"name": "MainThread"}}, "service": {"name": "shop"},
        "error": {"type": "KeyError", "message": "'missing'", "stack_trace": TRACE},
        "request_id": "r-42", "user_id": 7, "stream": "stdout", "event.id": "kjdn5vr7bp6a2hqg-2"}


def test_our_ecs_record_is_time_level_service_logger_message_then_the_fields_and_the_trace():
    assert Renderer().render(OURS, T, "python") == (
        "2025-12-01T11:42:18.923Z ERROR    [shop] shop.orders: lookup failed error.type=KeyError "
        "error.message='missing' request_id=r-42 user_id=7 stream=stdout" + INDENTED)


def test_verbose_shows_what_is_hidden_by_default():
    line = Renderer(verbose=True).render(OURS, T, "python").splitlines()[0]
    assert line == ("2025-12-01T11:42:18.923Z ERROR    [shop] shop.orders: lookup failed tag=python "
                    "ecs.version=8.11.0 log.origin.file.name=app.py log.origin.file.line=8 "
                    "log.origin.function=<module> process.pid=31979 process.thread.name=MainThread "
                    "error.type=KeyError error.message='missing' request_id=r-42 user_id=7 stream=stdout "
                    "event.id=kjdn5vr7bp6a2hqg-2")


def test_without_an_event_time_the_records_own_time_is_shown_to_the_millisecond():
    assert Renderer().render({"@timestamp": "2025-12-01T11:42:18.9Z", "message": "m"}).startswith(
        "2025-12-01T11:42:18.900Z -        m")


def test_the_flat_schema_reads_the_same():
    record = {"time": "2025-12-01T11:42:18.923429Z", "level": "WARNING", "logger": "web", "message": "slow",
              "service": "shop", "method": "GET", "duration_ms": 812.5, "file": "app.py", "line": 3}
    assert Renderer().render(record) == (
        "2025-12-01T11:42:18.923Z WARNING  [shop] web: slow method=GET duration_ms=812.5 file=app.py line=3")


def test_a_logwrap_text_record_takes_the_tag_as_its_service():
    record = {"message": '127.0.0.1 - - "GET / HTTP/1.1" 200', "stream": "stderr", "event.id": "a-1"}
    assert Renderer().render(record, T, "web") == (
        '2025-12-01T11:42:18.923Z -        [web] 127.0.0.1 - - "GET / HTTP/1.1" 200 stream=stderr')


def test_a_logwrap_traceback_record_says_the_error_once_and_indents_the_dotted_stack_trace():
    record = {"message": "KeyError: 'missing'", "error.type": "KeyError", "error.message": "'missing'",
              "error.stack_trace": TRACE, "stream": "stderr", "event.id": "a-2"}
    assert Renderer().render(record, T, "web") == (
        "2025-12-01T11:42:18.923Z -        [web] KeyError: 'missing' stream=stderr" + INDENTED)


def test_another_ecs_loggers_record_reads_the_same(caplog):
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(ecs_logging.StdlibFormatter())
    logger = logging.getLogger("payments")
    logger.addHandler(handler)
    try:
        logger.error("charge failed", extra={"order_id": 9})
    finally:
        logger.removeHandler(handler)
    import json
    record = json.loads(handler.stream.getvalue())
    line = Renderer().render(record, T)
    assert line == "2025-12-01T11:42:18.923Z ERROR    payments: charge failed order_id=9"


def test_our_own_formatter_round_trips_through_the_renderer():
    import json
    formatter = JsonFormatter(schema="ecs")
    record = logging.LogRecord("shop.orders", logging.INFO, "app.py", 8, "placed %s", (17,), None)
    record.order = {"total": 12.5}
    line = Renderer().render(json.loads(formatter.format(record)), T)
    assert line == "2025-12-01T11:42:18.923Z INFO     shop.orders: placed 17 order.total=12.5"


def test_values_that_would_be_ambiguous_are_quoted_as_json():
    record = {"message": "m", "a": "two words", "b": 'say "hi"', "c": "", "d": None, "e": [1, "x"], "f": True}
    assert Renderer().render(record).endswith('m a="two words" b="say \\"hi\\"" c="" d=null e=[1,"x"] f=true')


def test_the_level_is_coloured_and_normalised():
    line = Renderer(colour=True).render({"level": "warn", "message": "m"}, T)
    assert "\x1b[33mWARNING \x1b[0m" in line and Renderer().render({"level": "fatal"}, T).split()[1] == "CRITICAL"


class Tty(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("flag, no_color, tty, expected", [
    (None, "", True, True), (None, "1", True, False), (None, "", False, False),
    (True, "1", False, True), (False, "", True, False)])
def test_colour_follows_the_flag_then_no_color_then_the_terminal(monkeypatch, flag, no_color, tty, expected):
    monkeypatch.setenv("NO_COLOR", no_color)
    assert wants_colour(flag, Tty() if tty else io.StringIO()) is expected
