"""Records and the child's end as Sentry events (sans-I/O)."""

import uuid

import pytest

from shipper.sentry.event import Context, Exit, crash_event, tags_of, traceback_event, traceback_of
from shipper.sentry.stacktrace import exceptions

TRACEBACK = """\
Traceback (most recent call last):
  File "/srv/app/orders.py", line 12, in load
    return int(text)
ValueError: invalid literal for int() with base 10: 'x'"""
FRAMES_ONLY = '  File "/srv/app/orders.py", line 12, in load\n    return int(text)\n'
DUMP = """\
Fatal Python error: Segmentation fault

Current thread 0x00007f0e1c1b9740 (most recent call first):
  File "/srv/app/native.py", line 5 in crash
  File "/srv/app/native.py", line 8 in <module>"""
T0 = 1_764_600_000_123_456_789  # ns
CONTEXT = Context(tag_fields=("stream", "team", "event.id"))


def event_for(record, **options):
    traceback = traceback_of(record)
    assert traceback is not None
    return traceback_event(record, T0, traceback.values(), CONTEXT, **options)


@pytest.mark.parametrize("record", [
    {"error.stack_trace": TRACEBACK},
    {"error": {"stack_trace": TRACEBACK}},
    {"stack_trace": TRACEBACK},
    {"exception": TRACEBACK},
], ids=["ecs-dotted", "ecs-nested", "flat", "structlog"])
def test_a_traceback_is_found_under_each_name_loggers_write_it(record):
    assert traceback_of(record).text == TRACEBACK


@pytest.mark.parametrize("record", [
    {"message": "x"},
    {"error": "connection reset"},
    {"error": {"message": "no stack"}},
    {"error.stack_trace": 42},
    {"exception": "KeyError: 'x'"},
], ids=["none", "error-text", "error-without-stack", "not-text", "no-frames"])
def test_a_record_without_a_python_traceback_reports_nothing(record):
    assert traceback_of(record) is None


def test_frames_only_text_takes_its_type_and_message_from_the_ecs_error_fields():
    record = {"error": {"type": "myapp.errors.Timeout", "message": "gateway", "stack_trace": FRAMES_ONLY}}
    [value] = event_for(record)["exception"]["values"]
    assert (value["module"], value["type"], value["value"]) == ("myapp.errors", "Timeout", "gateway")
    assert value["stacktrace"]["frames"][0]["function"] == "load"


def test_the_event_carries_the_exception_frames_and_the_grouping_key():
    event = event_for({"error.stack_trace": TRACEBACK})
    assert event["exception"] == {"values": exceptions(TRACEBACK)}
    assert event["fingerprint"] == ["ValueError", "orders:load"]
    assert event["level"] == "error"


def test_the_records_time_is_the_events_timestamp():
    assert event_for({"error.stack_trace": TRACEBACK})["timestamp"].timestamp() == pytest.approx(T0 / 1e9)


@pytest.mark.parametrize(("level", "expected"), [("warning", "warning"), ("CRITICAL", "fatal"), (50, "fatal"),
                                                 ("error", "error"), ("nonsense", "error")])
def test_the_records_level_is_the_events_level(level, expected):
    assert event_for({"log.level": level, "error.stack_trace": TRACEBACK})["level"] == expected


def test_a_fatal_error_dump_is_a_fatal_event_typed_by_its_signal():
    event = event_for({"error.stack_trace": DUMP}, fault=True)
    [value] = event["exception"]["values"]
    assert (event["level"], value["type"], value["value"]) == ("fatal", "SIGSEGV", "Fatal Python error: Segmentation fault")
    assert [frame["function"] for frame in value["stacktrace"]["frames"]] == ["<module>", "crash"]


def test_the_event_id_derives_from_the_records_id_so_both_find_each_other():
    record = {"error.stack_trace": TRACEBACK, "event.id": "abc-7"}
    event = event_for(record)
    assert event["event_id"] == event_for(dict(record))["event_id"]
    assert uuid.UUID(event["event_id"]).hex == event["event_id"]
    assert event["tags"]["event.id"] == "abc-7"


def test_logger_and_a_message_of_its_own_are_kept():
    record = {"message": "payment failed", "log": {"logger": "shop.pay"}, "error.stack_trace": TRACEBACK}
    event = event_for(record)
    assert (event["logger"], event["logentry"]) == ("shop.pay", {"message": "payment failed"})


def test_a_message_that_only_repeats_the_exception_is_not_sent_twice():
    record = {"message": "ValueError: invalid literal for int() with base 10: 'x'", "error.stack_trace": TRACEBACK}
    assert "logentry" not in event_for(record)


def test_logwraps_fields_labels_service_and_trace_are_tags():
    record = {"stream": "stderr", "team": "core", "event.id": "abc-1", "labels": {"region": "eu"},
              "labels.shard": 3, "service": {"name": "shop"}, "trace.id": "4bf92f3577b34da6a3ce929d0e0e4736"}
    assert tags_of(record, CONTEXT) == {
        "stream": "stderr", "team": "core", "event.id": "abc-1", "labels.region": "eu", "labels.shard": "3",
        "service.name": "shop", "trace.id": "4bf92f3577b34da6a3ce929d0e0e4736"}


def test_the_flat_schemas_service_is_the_service_name_tag():
    assert tags_of({"service": "shop"}, CONTEXT) == {"service.name": "shop"}


def test_other_fields_are_the_record_context_and_tags_are_not_repeated_there():
    record = {"error.stack_trace": TRACEBACK, "stream": "stdout", "order.id": 12, "message": "failed"}
    assert event_for(record)["contexts"]["record"] == {"order.id": 12}


def test_a_w3c_trace_id_becomes_the_trace_context():
    record = {"error.stack_trace": TRACEBACK, "trace": {"id": "4bf92f3577b34da6a3ce929d0e0e4736"},
              "span.id": "00f067aa0ba902b7"}
    assert event_for(record)["contexts"]["trace"] == {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                                                      "span_id": "00f067aa0ba902b7"}


def test_a_trace_id_sentry_cannot_read_is_only_a_tag():
    event = event_for({"error.stack_trace": TRACEBACK, "trace.id": "not-hex"})
    assert "trace" not in event["contexts"] and event["tags"]["trace.id"] == "not-hex"


@pytest.mark.parametrize(("end", "message", "tag"), [
    (Exit(139, 11), "web was killed by SIGSEGV", {"signal": "SIGSEGV"}),
    (Exit(3), "web exited with status 3", {"exit_status": "3"}),
])
def test_a_crash_is_a_fatal_event_saying_how_the_child_ended(end, message, tag):
    event = crash_event("web", end, [], [], T0, {"team": "core"})
    assert (event["level"], event["logentry"]["message"]) == ("fatal", message)
    assert event["tags"] == {"team": "core", **tag}
    assert "exception" not in event


def test_a_crash_carries_the_traceback_printed_before_it_and_groups_by_it():
    values = exceptions(TRACEBACK)
    event = crash_event("web", Exit(1), values, [], T0, {})
    assert event["exception"] == {"values": values}
    assert event["fingerprint"] == ["logwrap-crash", "web", "status 1", "ValueError", "orders:load"]


def test_only_a_signal_or_a_non_zero_status_is_a_crash():
    assert [Exit(0).crashed, Exit(1).crashed, Exit(137, 9).crashed] == [False, True, True]


GROUP = """\
  + Exception Group Traceback (most recent call last):
  |   File "/srv/app.py", line 5, in <module>
  |     validate()
  | ExceptionGroup: order is invalid (2 sub-exceptions)
  +-+---------------- 1 ----------------
    | ValueError: no items
    +---------------- 2 ----------------
    | TypeError: price is not a number
    +------------------------------------"""


def grouped(message: str):
    """A record as logwrap makes of the group it printed, with ``message``."""
    return {"message": message, "error.type": "ExceptionGroup",
            "error.message": "order is invalid (2 sub-exceptions)", "error.stack_trace": GROUP}


def test_the_message_logwrap_made_of_an_exception_groups_last_line_is_no_logentry():
    assert "logentry" not in event_for(grouped("ExceptionGroup: order is invalid (2 sub-exceptions)"))


def test_a_message_of_the_apps_own_is_the_logentry():
    assert event_for(grouped("validation failed"))["logentry"] == {"message": "validation failed"}


def test_the_nested_ecs_error_and_log_objects_are_not_repeated_in_the_record_context():
    record = {"error": {"type": "ValueError", "stack_trace": TRACEBACK}, "log": {"level": "error", "logger": "x"},
              "process": {"pid": 7}}
    assert event_for(record)["contexts"]["record"] == {"process": {"pid": 7}}


def test_a_records_many_fields_all_reach_the_record_context():
    record = {"error.stack_trace": TRACEBACK, **{f"field.{n}": n for n in range(15)}}
    assert len(event_for(record)["contexts"]["record"]) == 15


def test_a_multiline_tag_value_becomes_one_line_and_a_key_sentry_refuses_is_no_tag():
    record = {"labels": {"note": "two\nlines", "a key with spaces": "x"}}
    assert tags_of(record, CONTEXT) == {"labels.note": "two lines"}
