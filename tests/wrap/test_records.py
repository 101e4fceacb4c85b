import subprocess
import sys

from shipper.forward.eventtime import from_wire
from shipper.timeparse import parse_time
from shipper.wrap.framing import Part
from shipper.wrap.multiline import Group
from shipper.wrap.records import IdSource, RecordBuilder, RecordOptions, exception_of

NOW = 1_700_000_000_000_000_000


def build(items, stream="stdout", **options):
    return RecordBuilder(stream, RecordOptions(**options), IdSource()).build(items, NOW)


def test_a_json_object_line_becomes_the_record_with_stream_and_id():
    ((time, record),) = build([b'{"message": "hi", "user": "ann"}'])
    assert record["message"] == "hi" and record["user"] == "ann" and record["stream"] == "stdout"
    assert record["event.id"] and from_wire(time) == NOW


def test_a_plain_line_becomes_a_message_record():
    ((_, record),) = build([b"plain words"], stream="stderr")
    assert record["message"] == "plain words" and record["stream"] == "stderr"


def test_json_that_is_not_an_object_is_kept_as_text():
    lines = [b"[1, 2]", b"42", b'{"broken": ']
    assert [r["message"] for _, r in build(lines)] == [line.decode() for line in lines]


def test_invalid_utf8_is_replaced_not_fatal():
    ((_, record),) = build([b"caf\xe9 \xff"])
    assert record["message"] == "caf\ufffd \ufffd"


def test_the_first_time_key_present_sets_the_event_time():
    ((time, _),) = build([b'{"time": 1700000001, "@timestamp": "2023-11-14T22:13:22.5Z"}'])
    assert from_wire(time) == 1_700_000_002_500_000_000


def test_a_custom_time_key_and_epoch_milliseconds():
    ((time, _),) = build([b'{"ts": 1700000001250}'], time_keys=("ts",))
    assert from_wire(time) == 1_700_000_001_250_000_000


def test_an_unparseable_time_keeps_the_read_time():
    ((time, record),) = build([b'{"time": "soon"}'])
    assert from_wire(time) == NOW and record["time"] == "soon"


def test_labels_are_added_and_win_over_the_apps_fields():
    ((_, record),) = build([b'{"env": "dev", "a": 1}'], labels={"env": "prod", "team": "web"})
    assert (record["env"], record["team"], record["a"]) == ("prod", "web", 1)


def test_ids_are_unique_and_use_the_configured_key():
    records = [r for _, r in build([b"a", b"b", b"c"], id_key="log_id")]
    assert len({r["log_id"] for r in records}) == 3


def test_ids_differ_between_processes():
    assert IdSource().prefix != IdSource().prefix


def test_parts_carry_dockers_partial_fields_with_a_shared_id():
    items = [Part(b"abcd", 1, 1, False), Part(b"ef", 1, 2, True)]
    first, second = [r for _, r in build(items)]
    assert first["partial_id"] == second["partial_id"]
    assert (first["partial_message"], first["partial_ordinal"]) == ("true", "1")
    assert first["partial_last"] == "false"
    assert (second["message"], second["partial_ordinal"], second["partial_last"]) == ("ef", "2", "true")


def real_traceback(code: str) -> list[bytes]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True).stderr.rstrip(b"\n").split(b"\n")


def test_a_traceback_group_becomes_one_record_with_ecs_error_fields():
    lines = real_traceback("raise ValueError('bad input: 3')")
    ((_, record),) = build([Group(lines, traceback=True)], stream="stderr")
    assert record["error.type"] == "ValueError" and record["error.message"] == "bad input: 3"
    assert record["error.stack_trace"] == b"\n".join(lines).decode()
    assert record["message"] == "ValueError: bad input: 3" and record["stream"] == "stderr"


def test_a_chained_traceback_reports_the_last_exception():
    lines = real_traceback("try:\n 1/0\nexcept Exception as e:\n raise KeyError('k') from e")
    assert exception_of(lines) == ("KeyError", "'k'")


def test_an_exception_group_reports_the_group():
    lines = real_traceback("raise ExceptionGroup('many', [ValueError('a')])")
    assert exception_of(lines) == ("ExceptionGroup", "many (1 sub-exception)")


def test_an_exception_without_message_has_an_empty_message():
    assert exception_of(real_traceback("raise KeyboardInterrupt")) == ("KeyboardInterrupt", "")


def test_an_indent_group_becomes_one_message():
    ((_, record),) = build([Group([b"Error", b"\tat A"], traceback=False)])
    assert record["message"] == "Error\n\tat A" and "error.type" not in record


def test_fractions_of_any_length_and_other_shapes_give_the_same_time_as_the_full_parser():
    values = ["2023-11-14T22:13:20.5Z", "2023-11-14T22:13:20.123Z", "2023-11-14T22:13:20.123456Z",
              "2023-11-14T22:13:20.123456789Z", "2023-11-14T22:13:20.1234567891Z",
              "2023-11-14T23:13:20.25+01:00", "2023-11-14T22:13:20Z", "2023-11-14 22:13:20,75"]
    builder = RecordBuilder("stdout", RecordOptions(), IdSource())
    lines = [b'{"time": "%s"}' % v.encode() for v in values]
    first = [from_wire(t) for t, _ in builder.build(lines, NOW)]
    again = [from_wire(t) for t, _ in builder.build(lines, NOW)]  # now with the seconds cached
    expected = [parse_time(v) for v in values]
    assert first == again == expected
