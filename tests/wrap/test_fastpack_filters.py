"""The C pass filters and throttles JSON lines exactly as the Python path does, on any input."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipper.forward.protocol import decode_packed_entries
from shipper.processing.options import ProcessingOptions, compile_processing
from shipper.wrap.records import ACCELERATED, IdSource, RecordBuilder, RecordOptions

from .test_fastpack import NOW, damaged, json_values

needs_extension = pytest.mark.skipif(not ACCELERATED, reason="the C extension is not built here")

fields = st.sampled_from(["message", "log.level", "log", "level", "user.name", "x", "@timestamp", "env"])
texts = st.sampled_from(["debug", "info", "req 1", "x", "", "200", "true", "é"])
conditions = st.one_of(
    st.tuples(fields, texts).map(lambda p: f"{p[0]}={p[1]}"),
    st.tuples(fields, st.sampled_from(["^req", "o", "^$", "[0-9]", "é|x", r"\Areq", "(?i)^REQ", "req$", "é", "^ "]))
    .map(lambda p: f"{p[0]}~{p[1]}"),
)
flags = st.one_of(
    st.tuples(st.sampled_from(["--drop", "--keep"]), conditions),
    st.tuples(st.just("--remove"), fields),
    st.tuples(st.just("--rename"), st.tuples(fields, st.sampled_from(["renamed", "log.level", "msg"]))
              .map(lambda p: f"{p[0]}={p[1]}")),
)
values = json_values | texts
nested = st.fixed_dictionaries({"level": texts}) | st.fixed_dictionaries({"name": texts})
records = st.dictionaries(fields, values | nested, max_size=6)
lines = records.map(lambda r: json.dumps(r).encode()) | damaged() | st.just(b"plain text")


def build(items, filters, accelerated, quota=-1):
    options = ProcessingOptions(filters=tuple(filters))
    processing = compile_processing(options, ("@timestamp", "time", "timestamp"), ("env", "stream", "event.id"))
    ids = IdSource()
    ids.prefix = "test-"
    builder = RecordBuilder("stdout", RecordOptions(labels={"env": "prod"}, processing=processing), ids,
                            accelerated=accelerated, catch=True)
    builder.quota = quota
    body, end = builder.pack(items, 0, 1 << 20, 1 << 30, NOW)
    return body, end, ids.next, builder.filtered, builder.throttled, builder.quota, builder.caught


@needs_extension
@settings(max_examples=400, deadline=None)
@given(st.lists(lines, min_size=1, max_size=8), st.lists(flags, max_size=4), st.integers(-1, 5))
def test_both_paths_filter_and_throttle_to_the_same_bytes_and_counts(items, filters, quota):
    assert build(items, filters, True, quota) == build(items, filters, False, quota)


@needs_extension
@pytest.mark.parametrize("filters", [
    [("--drop", "log.level=debug")], [("--keep", "message~^req")], [("--remove", "x")],
    [("--rename", "msg=text")], [("--drop", "message~^req"), ("--remove", "x"), ("--rename", "lvl=level")],
])
def test_the_common_filters_send_no_json_line_back_to_python(filters, monkeypatch):
    options = ProcessingOptions(filters=tuple(filters))
    builder = RecordBuilder("stdout", RecordOptions(processing=compile_processing(options, ("time",), ())),
                            IdSource())
    handed_back = []
    monkeypatch.setattr(builder, "_encoded", lambda item, *_: handed_back.append(item) or b"")
    lines = [b'{"message": "req 1", "log.level": "debug", "x": 1, "msg": "m", "lvl": "info"}',
             b'{"message": "done", "log.level": "info"}'] * 50
    builder.pack(lines, 0, 1 << 20, 1 << 30, NOW)
    assert handed_back == []


@pytest.mark.parametrize("accelerated", [pytest.param(True, marks=needs_extension), False], ids=["c", "python"])
@pytest.mark.parametrize("filters", [[("--redact-keys", "password")], [("--remove", "password")],
                                     [("--redact-pattern", "credit-card")]])
def test_an_integer_beyond_64_bits_does_not_undo_the_filters(filters, accelerated):
    line = b'{"password": "hunter2", "card": "4111 1111 1111 1111", "n": 123456789012345678901234567890}'
    options = ProcessingOptions(filters=tuple(filters))
    builder = RecordBuilder("stdout", RecordOptions(processing=compile_processing(options, ("time",), ())),
                            IdSource(), accelerated=accelerated)
    body, _ = builder.pack([line], 0, 1 << 20, 1 << 30, NOW)
    (_, record), = decode_packed_entries(body)
    assert b"hunter2" not in body if filters[0][0] != "--redact-pattern" else b"4111 1111" not in body
    assert record["n"] == "123456789012345678901234567890"
    assert build([line], filters, accelerated) == build([line], filters, not accelerated)
