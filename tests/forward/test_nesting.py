"""One nesting limit, and a receiver that a record past any limit cannot make lose a chunk."""

import base64
import io

import msgpack
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipper.forward.eventtime import to_wire
from shipper.forward.nesting import MAX_NESTING, deeper_than, entry_spans
from shipper.forward.protocol import EventBatch, decode_packed_entries
from shipper.forward.sinks import JsonLinesSink, PrettySink

NS = 1_700_000_000_123_456_789
values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False)
    | st.text(max_size=40) | st.binary(max_size=300),
    lambda inner: st.lists(inner, max_size=20) | st.dictionaries(st.text(max_size=5), inner, max_size=20),
    max_leaves=60)


@settings(deadline=None)
@given(st.lists(values, max_size=8))
def test_entry_spans_find_every_object_of_a_stream(objects):
    packed = [msgpack.packb(obj, use_bin_type=True) for obj in objects]
    body = b"".join(packed)
    spans = list(entry_spans(body))
    assert [body[start:end] for start, end in spans] == packed


def test_entry_spans_refuse_a_cut_off_object():
    body = msgpack.packb({"a": [1, 2, "three"]})
    for cut in range(1, len(body)):
        try:
            list(entry_spans(body[:cut]))
        except ValueError:
            continue
        raise AssertionError(f"a body cut at {cut} was taken whole")


def test_depth_counts_the_record_itself():
    record = {"a": 1}
    for _ in range(MAX_NESTING - 1):
        record = {"a": record}
    assert not deeper_than(record) and deeper_than({"a": record}) and deeper_than([record])


def deep_entry(levels: int) -> bytes:
    """An entry whose record is ``levels`` maps deep: more than any msgpack library packs."""
    return b"\x92" + msgspec.msgpack.encode(to_wire(NS)) + b"\x81\xa1a" * levels + b"\x01"


def test_one_record_too_deep_to_decode_does_not_poison_its_chunk():
    good = [msgspec.msgpack.encode([to_wire(NS), {"n": n}]) for n in range(3)]
    body = good[0] + good[1] + deep_entry(20_000) + good[2]  # past msgpack and msgspec on every Python
    entries = decode_packed_entries(body, 4)
    assert [record.get("n") for _, record in entries] == [0, 1, None, 2]
    time, note = entries[2]
    assert time == NS and "too deep to decode" in note["message"]
    assert base64.b64decode(note["undecodable.msgpack"]) == b"\x81\xa1a" * 20_000 + b"\x01"  # nothing lost


def deep_record(levels: int) -> dict:
    record: dict = {"a": 1}
    for _ in range(levels - 1):
        record = {"a": record}
    return record


@pytest.mark.parametrize("sink", ["json", "pretty"])
def test_a_record_too_deep_to_print_becomes_a_note_and_the_batch_is_still_written(sink):
    out = io.BytesIO()
    writer = JsonLinesSink(out) if sink == "json" else PrettySink(out, colour=False)
    batch = EventBatch("app", [(NS, {"n": 1}), (NS, deep_record(3000)), (NS, {"n": 3})], None, "PackedForward", 3)
    writer.write(batch)
    lines = out.getvalue().decode().splitlines()
    assert len(lines) == 3 and "too deep to decode here" in lines[1]
    assert '"n":1' in lines[0].replace(" ", "") or "n=1" in lines[0]
