"""The C extension makes exactly the records the pure-Python path makes, on any input."""

import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipper.forward.protocol import decode_packed_entries
from shipper.metrics.tally import RecordTally
from shipper.wrap.framing import Part
from shipper.wrap.multiline import Group
from shipper.wrap.records import ACCELERATED, IdSource, RecordBuilder, RecordOptions

NOW = 1_700_000_000_123_456_789
OPTIONS = RecordOptions(labels={"env": "prod", "team": "web"})

needs_extension = pytest.mark.skipif(not ACCELERATED, reason="the C extension is not built here")


def both_paths(items, options=OPTIONS, max_records=1 << 20, max_bytes=1 << 30):
    """Each path's (body, entries, items taken, next id), from the same id counter."""
    results = []
    for accelerated in (True, False):
        ids = IdSource()
        ids.prefix = "test-"
        builder = RecordBuilder("stdout", options, ids, accelerated=accelerated)
        body, end = builder.pack(items, 0, max_records, max_bytes, NOW)
        results.append((body, decode_packed_entries(body), end, ids.next))
    return results


def assert_same(items, **kwargs):
    """The same bytes: the same records, keys in the same order, nothing repeated."""
    fast, python = both_paths(items, **kwargs)
    assert fast == python


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
time_values = st.one_of(
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")),
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,12})?Z\Z"),
    st.integers(), st.floats(allow_nan=False), st.none(), st.text(max_size=30),
)
keys = st.sampled_from(["@timestamp", "time", "timestamp", "message", "stream", "env", "event.id", "x"])
records = st.dictionaries(keys | st.text(max_size=8), json_values | time_values, max_size=8)


@st.composite
def json_lines(draw):
    line = json.dumps(draw(records), ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 1])))
    return line.replace("\n", " ").encode("utf-8", "surrogatepass")


@st.composite
def damaged(draw):
    """A JSON line with bytes changed, cut or inserted: the shapes the C path must hand back."""
    line = bytearray(draw(json_lines()))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(line)))
        action = draw(st.sampled_from(["set", "cut", "insert"]))
        byte = draw(st.integers(0, 255))
        if action == "set" and at < len(line):
            line[at] = byte
        elif action == "cut":
            del line[at:]
        else:
            line.insert(at, byte)
    return bytes(line)


@needs_extension
@settings(max_examples=400, deadline=None)
@given(st.lists(json_lines(), min_size=1, max_size=8))
def test_json_lines_become_the_same_records(lines):
    assert_same(lines)


@needs_extension
@settings(max_examples=400, deadline=None)
@given(st.lists(damaged() | st.binary(max_size=40), min_size=1, max_size=8))
def test_damaged_lines_and_random_bytes_become_the_same_records(lines):
    assert_same(lines)


@needs_extension
@settings(max_examples=100, deadline=None)
@given(st.lists(json_lines(), min_size=1, max_size=30), st.integers(1, 10), st.integers(1, 2000))
def test_both_paths_stop_at_the_same_limits(lines, max_records, max_bytes):
    fast, python = both_paths(lines, max_records=max_records, max_bytes=max_bytes)
    assert fast == python and len(fast[1]) == fast[2]


@needs_extension
@pytest.mark.parametrize("line", [
    b'{"a": "\\ud800"}', b'{"a": "\\udc00x"}', b'{"a": "\\ud83d\\ude00"}', b'{"a": "\xed\xa0\x80"}',
    b'{"a": 1e400}', b'{"a": 1e-400}', b'{"a": -0}', b'{"a": -0.0}', b'{"a": 9223372036854775807}',
    b'{"a": 18446744073709551615}', b'{"a": 18446744073709551616}', b'{"a": -9223372036854775808}',
    b'{"a": 01}', b'{"a": 1.}', b'{"a": .5}', b'{"a": 1e}', b'{"a": tru}', b'{"a": 1,}', b'{"a" 1}',
    b'{"a": 1} x', b'{"a": 1}  \t', b'{"a": "x\x01"}', b'{"a": "\\x"}', b'{"a": "\\u12"}', b"{}",
    b'{"a": 1, "a": 2}', b'{"stream": "app", "event.id": 7, "env": "dev"}', b'{' * 70 + b'}' * 70,
    b'{"a":' + b'[' * 70 + b']' * 70 + b'}', b'{"time": "2024-02-29T23:59:59.999999999Z"}',
    b'{"time": "2023-02-29T00:00:00.1Z"}', b'{"time": "2023-01-01T24:00:00.1Z"}',
    b'{"time": "2023-01-01T00:00:60.1Z"}', b'{"time": "2106-02-07T06:28:15.1Z"}',
    b'{"time": "2106-02-07T06:28:16.1Z"}', b'{"time": "2023-01-01T00:00:00Z"}', b'{"time": "2023-01-01T00:00:00.Z"}',
    b'{"time": "2023-01-01T00:00:00.1234567890Z"}', b'{"time": "2023-01-01t00:00:00.1z"}', b'{"time": true}',
    b'{"time": null, "timestamp": 1700000000.5}', b'{"timestamp": "x", "@timestamp": "2023-01-01T00:00:00.5Z"}',
    b'{"' + b"k" * 70000 + b'": "' + b"v" * 70000 + b'"}', b'{"list": [' + b"1," * 70000 + b'1]}',
])
def test_edge_cases_become_the_same_records(line):
    assert_same([line])


@needs_extension
def test_parts_groups_and_text_keep_their_order_between_json_lines():
    items = [b'{"n": 1}', b"text", Part(b"ab", 1, 1, False), Part(b"c", 1, 2, True), b'{"n": 2}',
             Group([b"Traceback (most recent call last):", b"ValueError: x"], traceback=True), b'{"n": 3}']
    fast, python = both_paths(items)
    assert fast == python and [r.get("n") for _, r in fast[1]] == [1, None, None, None, 2, None, 3]


@needs_extension
def test_a_fatal_errors_dump_makes_the_same_record_on_both_paths():
    dump = [b"Fatal Python error: Segmentation fault", b"", b"Current thread 0x00007f0e8b1fd740 (most recent call first):",
            b'  File "/app/crash.py", line 4 in boom']
    assert_same([b'{"n": 1}', Group(dump, traceback=False, fault=True), b'{"n": 2}'])


@needs_extension
def test_a_time_key_logwrap_also_sets_is_handled_by_python():
    assert_same([b'{"stream": "2023-01-01T00:00:00.5Z"}'], options=RecordOptions(time_keys=("stream",)))


@needs_extension
def test_an_id_key_that_is_also_a_label_is_handled_by_python():
    assert_same([b'{"a": 1}'], options=RecordOptions(id_key="env", labels={"env": "prod"}))


@needs_extension
@pytest.mark.parametrize("line", [b'{"a": 1, "a": 2}', b'{"x": {"a": 1, "b": 0, "a": 2}}',
                                  b'{"stream": "x", "a": 1}', b'{"event.id": 5, "a": 1}',
                                  b'{"k": {' + b",".join(b'"k%d": 0' % n for n in range(70)) + b"}}"])
def test_repeated_keys_apps_own_logwrap_fields_and_big_objects_keep_pythons_bytes(line):
    assert_same([line, b'{"b": 1}'], max_bytes=64)


@pytest.mark.skipif(os.environ.get("SHIPPER_EXPECT_ACCELERATED") != "1",
                    reason="set SHIPPER_EXPECT_ACCELERATED=1 where a C compiler built the package (CI does)")
def test_the_c_extension_is_built():
    assert ACCELERATED


# The metrics found in records: both paths count the same, and counting changes no record.

watched_keys = st.sampled_from(["log.level", "level", "levelname", "severity", "error.type", "method", "status",
                                "http.request.method", "http.response.status_code", "event.duration",
                                "duration_ms", "x"])
watched_values = st.one_of(
    st.sampled_from(["INFO", "warn", "ERROR", "GET", "post", "200", "KeyError"]), st.integers(-10**12, 10**12),
    st.floats(allow_nan=False, allow_infinity=False), st.booleans(), st.none(), json_values)
nested = st.fixed_dictionaries({}, optional={
    "log": st.dictionaries(st.sampled_from(["level", "logger"]), watched_values, max_size=2),
    "error": st.dictionaries(st.sampled_from(["type", "message"]), watched_values, max_size=2),
    "http": st.fixed_dictionaries({}, optional={
        "request": st.dictionaries(st.sampled_from(["method", "id"]), watched_values, max_size=2),
        "response": st.dictionaries(st.sampled_from(["status_code"]), watched_values, max_size=1) | watched_values,
    }),
    "event": st.dictionaries(st.sampled_from(["duration", "id"]), watched_values, max_size=2) | watched_values,
})
metric_records = st.tuples(nested, st.dictionaries(watched_keys, watched_values, max_size=6)).map(
    lambda pair: {**pair[0], **pair[1]})


def tallied(items, accelerated, max_series=3):
    tally = RecordTally(max_series)
    ids = IdSource()
    ids.prefix = "test-"
    body, _ = RecordBuilder("stdout", OPTIONS, ids, accelerated=accelerated, tally=tally).pack(
        items, 0, 1 << 20, 1 << 30, NOW)
    return body, (tally.tables, tally.overflow, list(tally.durations.cells), tally.durations.samples)


@needs_extension
@settings(max_examples=400, deadline=None)
@given(st.lists(metric_records.map(lambda r: json.dumps(r).encode()), min_size=1, max_size=8))
def test_both_paths_count_the_same_metrics_in_records(lines):
    assert tallied(lines, True) == tallied(lines, False)


@needs_extension
@settings(max_examples=100, deadline=None)
@given(st.lists(metric_records.map(lambda r: json.dumps(r).encode()) | damaged(), min_size=1, max_size=8))
def test_counting_metrics_changes_no_record(lines):
    fast, python = both_paths(lines)
    assert tallied(lines, True)[0] == fast[0] and tallied(lines, False)[0] == python[0]


@needs_extension
def test_tracebacks_and_text_are_counted_the_same_by_both_paths():
    items = [b'{"log.level": "info"}', b"text", Group([b"Traceback (most recent call last):", b"ValueError: x"],
                                                      traceback=True), b'{"level": "ERROR", "stream": "x"}']
    assert tallied(items, True) == tallied(items, False)


@needs_extension
@pytest.mark.parametrize("line", [
    b'{"@timestamp": "2026-11-28T00:00:01.000001Z", "log.level": "info", "message": "m", "http": {"status": 200}}',
    b'{"log": {"level": "warning"}, "error": {"type": "KeyError"}, "message": "m"}',
    b'{"http": {"request": {"method": "GET"}, "response": {"status_code": 200}}, "event": {"duration": 3200000}}',
    b'{"method": "GET", "status": 404, "duration_ms": 1.5, "level": "INFO"}',
])
def test_counting_metrics_sends_no_json_line_back_to_python(line, monkeypatch):
    builder = RecordBuilder("stdout", OPTIONS, IdSource(), tally=RecordTally())
    handed_back = []
    monkeypatch.setattr(builder, "_encoded", lambda item, *_: handed_back.append(item) or b"")
    builder.pack([line] * 100, 0, 1 << 20, 1 << 30, NOW)
    assert handed_back == []


def caught(items, accelerated):
    ids = IdSource()
    ids.prefix = "test-"
    builder = RecordBuilder("stdout", OPTIONS, ids, accelerated=accelerated, catch=True)
    body, _ = builder.pack(items, 0, 1 << 20, 1 << 30, NOW)
    return body, builder.caught


error_keys = st.sampled_from(["error.stack_trace", "error", "stack_trace", "exception", "error.type", "errors", "x"])
error_records = st.dictionaries(error_keys | keys, json_values, max_size=5)


@needs_extension
@settings(max_examples=300, deadline=None)
@given(st.lists(error_records.map(lambda r: json.dumps(r).encode()) | damaged(), min_size=1, max_size=8))
def test_both_paths_catch_the_same_entries_for_sentry_and_make_the_same_records(lines):
    fast, python = caught(lines, True), caught(lines, False)
    assert fast == python
    assert fast[0] == both_paths(lines)[0][0]  # catching changes no record


@needs_extension
def test_catching_sends_no_json_line_back_to_python(monkeypatch):
    builder = RecordBuilder("stdout", OPTIONS, IdSource(), catch=True)
    handed_back = []
    monkeypatch.setattr(builder, "_encoded", lambda item, *_: handed_back.append(item) or b"")
    builder.pack([b'{"message": "m", "error": {"stack_trace": "Traceback"}}'] * 100, 0, 1 << 20, 1 << 30, NOW)
    assert handed_back == [] and len(builder.caught) == 100


@pytest.mark.parametrize("accelerated", [pytest.param(True, marks=needs_extension), False], ids=["c", "python"])
def test_a_traceback_group_and_an_ecs_error_record_are_caught_and_a_plain_record_is_not(accelerated):
    items = [b'{"message": "ok"}', Group([b"Traceback (most recent call last):", b"ValueError: x"], traceback=True),
             b'{"error.stack_trace": "t"}', b"text"]
    _, entries = caught(items, accelerated)
    assert [decode_packed_entries(entry)[0][1]["event.id"] for entry in entries] == ["test-2", "test-3"]
