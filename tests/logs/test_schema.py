import logging
import subprocess
import sys

from shipper.logs.schema import (
    RECORD_ATTRIBUTES,
    Ecs,
    Flat,
    Service,
    Timestamps,
    error_of,
    extra_fields,
    nest,
)
from shipper.wrap.records import exception_of


def record(**extra):
    made = logging.LogRecord("pkg.mod", logging.WARNING, "/src/pkg/mod.py", 42, "hi %s", ("you",), None,
                             func="handler")
    made.__dict__.update(extra)
    made.message = made.getMessage()
    return made


def test_ecs_has_the_spec_fields_dotted_at_the_top_and_the_rest_nested():
    document = Ecs(Service("web", "1.2", "prod")).document(record(), "T", "hi you", None, {})
    assert [document[k] for k in ("@timestamp", "log.level", "message", "ecs.version")][:3] == ["T", "warning", "hi you"]
    assert document["log"] == {"logger": "pkg.mod", "origin": {"file": {"name": "mod.py", "line": 42},
                                                                "function": "handler"}}
    assert document["process"]["pid"] > 0 and document["process"]["thread"]["name"]
    assert document["service"] == {"name": "web", "version": "1.2", "environment": "prod"}


def test_flat_uses_short_top_level_keys():
    document = Flat(Service("web")).document(record(), "T", "hi you", None, {"user": "ann"})
    assert {k: document[k] for k in ("time", "level", "logger", "message", "file", "line", "function",
                                     "service", "user")} == {
        "time": "T", "level": "warning", "logger": "pkg.mod", "message": "hi you", "file": "mod.py",
        "line": 42, "function": "handler", "service": "web", "user": "ann"}
    assert not any("." in key for key in document)


def test_dotted_extra_keys_nest_and_merge_with_shippers_objects():
    document = Ecs(Service()).document(record(), "T", "m", None, {"http.request.method": "GET", "log.custom": 1})
    assert document["http"] == {"request": {"method": "GET"}}
    assert document["log"]["custom"] == 1 and document["log"]["logger"] == "pkg.mod"


def test_extra_fields_cannot_overwrite_shippers_own():
    fields = {"log.logger": "forged", "log.level": "debug", "@timestamp": "x", "process": "flat"}
    document = Ecs(Service()).document(record(), "T", "m", None, fields)
    assert (document["log"]["logger"], document["log.level"], document["@timestamp"]) == ("pkg.mod", "warning", "T")
    assert isinstance(document["process"], dict)


def test_extra_fields_nesting_into_the_service_object_do_not_leak_into_the_next_record():
    schema = Ecs(Service("web"))
    first = schema.document(record(), "T", "m", None, {"service.instance": "i-1"})
    second = schema.document(record(), "T", "m", None, {})
    assert first["service"] == {"name": "web", "instance": "i-1"} and second["service"] == {"name": "web"}


def test_nest_keeps_what_is_already_there_when_a_leaf_is_in_the_way():
    assert nest({"a.b": 1, "c": 2}, {"a": "leaf"}) == {"a": "leaf", "c": 2}


def test_only_extra_fields_are_taken_from_a_record_never_its_internals():
    assert extra_fields(record(user="ann", _private=1)) == {"user": "ann"}
    assert extra_fields(record()) == {}
    assert {"args", "msg", "exc_info", "stack_info", "taskName"} <= RECORD_ATTRIBUTES


def test_timestamps_are_rfc3339_utc_with_microseconds():
    stamp = Timestamps()
    assert stamp(1_700_000_000.25) == "2023-11-14T22:13:20.250000Z"
    assert stamp(1_700_000_001.000001)[:20] == "2023-11-14T22:13:21."


def test_error_type_is_named_as_logwrap_names_it_from_the_printed_traceback():
    code = "import json\ntry:\n json.loads('x')\nexcept Exception as e:\n import sys; exc=sys.exc_info()\n raise"
    printed = subprocess.run([sys.executable, "-c", code], capture_output=True).stderr.decode().strip()
    try:
        __import__("json").loads("x")
    except ValueError:
        error = error_of(sys.exc_info(), "")
    assert (error.type, error.message) == exception_of(printed.encode().split(b"\n"))
