import msgpack
import pytest

from shipper.forward.eventtime import from_wire
from shipper.send_input import JsonLinesReader, MsgpackReader, TextReader

NOW = 1_700_000_000_000_000_000


def records(entries):
    return [record for _, record in entries]


def test_json_objects_become_records_timed_when_read():
    entries = JsonLinesReader().feed(b'{"a":1}\n{"b":2}\n', NOW)
    assert records(entries) == [{"a": 1}, {"b": 2}]
    assert {from_wire(t) for t, _ in entries} == {NOW}


def test_a_line_that_is_not_json_is_wrapped_with_a_warning_naming_its_line():
    reader = JsonLinesReader()
    assert records(reader.feed(b'{"a":1}\noops\n', NOW)) == [{"a": 1}, {"message": "oops"}]
    assert reader.warnings == ["line 2: not valid JSON (JSON is malformed: invalid character (byte 0)); "
                               "sent as text in 'message'"]


@pytest.mark.parametrize("line,kind", [(b"[1,2]", "list"), (b"42", "int"), (b'"s"', "str")])
def test_json_that_is_not_an_object_is_wrapped_with_a_warning(line, kind):
    reader = JsonLinesReader()
    assert records(reader.feed(line + b"\n", NOW)) == [{"message": line.decode()}]
    assert f"JSON {kind}, not an object" in reader.warnings[0]


def test_strict_stops_at_the_bad_line_keeping_the_lines_before_it():
    reader = JsonLinesReader(strict=True)
    assert records(reader.feed(b'{"a":1}\n{"a":2}\nbad\n{"a":4}\n', NOW)) == [{"a": 1}, {"a": 2}]
    assert "line 3" in str(reader.stopped) and reader.feed(b'{"a":5}\n', NOW) == []


def test_blank_lines_are_skipped():
    assert records(JsonLinesReader().feed(b'\n  \n{"a":1}\n', NOW)) == [{"a": 1}]


def test_line_numbers_count_across_blocks():
    reader = JsonLinesReader()
    reader.feed(b'{"a":1}\n{"a"', NOW)
    reader.feed(b':2}\nbad\n', NOW)
    assert reader.warnings[0].startswith("line 3:")


def test_time_key_sets_the_event_time_and_keeps_the_field():
    entries = JsonLinesReader(time_key="ts").feed(b'{"ts":"2023-11-14T22:13:20.5Z","a":1}\n', NOW)
    (time, record), = entries
    assert from_wire(time) == 1_700_000_000_500_000_000 and record["ts"]


def test_a_time_key_that_is_not_a_time_warns_and_keeps_the_read_time():
    reader = JsonLinesReader(time_key="ts")
    (time, _), = reader.feed(b'{"ts":"soon"}\n', NOW)
    assert from_wire(time) == NOW and "is not a time" in reader.warnings[0]


def test_integer_time_sends_whole_seconds():
    (time, _), = JsonLinesReader(integer_time=True).feed(b"{}\n", NOW + 5)
    assert time == 1_700_000_000


def test_the_last_line_without_newline_arrives_at_end_of_input():
    reader = JsonLinesReader()
    reader.feed(b'{"a":1}', NOW)
    assert records(reader.feed(b"", NOW)) == [{"a": 1}]


def test_text_lines_become_message_records_with_invalid_utf8_replaced():
    entries = TextReader(message_key="log").feed(b"hello\n\xff\xfe\n", NOW)
    assert records(entries) == [{"log": "hello"}, {"log": "\ufffd\ufffd"}]


def test_msgpack_maps_become_records_and_other_objects_are_wrapped():
    reader = MsgpackReader()
    entries = reader.feed(msgpack.packb({"a": 1}) + msgpack.packb([1]), NOW)
    assert records(entries) == [{"a": 1}, {"message": [1]}]
    assert "object 2: list, not a map" in reader.warnings[0]


def test_corrupt_msgpack_stops_with_the_byte_offset():
    reader = MsgpackReader()
    good = msgpack.packb({"a": 1})
    assert records(reader.feed(good + b"\xc1", NOW)) == [{"a": 1}]
    assert f"byte {len(good)}: invalid msgpack" in str(reader.stopped)


def test_msgpack_input_ending_inside_an_object_is_reported():
    reader = MsgpackReader()
    reader.feed(msgpack.packb({"a": 1})[:-1], NOW)
    reader.feed(b"", NOW)
    assert "ends inside an object" in str(reader.stopped)
