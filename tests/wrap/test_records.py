import subprocess
import sys

import pytest

from shipper.forward.nesting import MAX_NESTING
from shipper.forward.protocol import decode_packed_entries
from shipper.timeparse import parse_time
from shipper.wrap.framing import Part
from shipper.wrap.multiline import Group
from shipper.wrap.records import ACCELERATED, IdSource, RecordBuilder, RecordOptions, exception_of

from .. import crashes

NOW = 1_700_000_000_000_000_000


@pytest.fixture(params=["c", "python"])
def path(request):
    """Every behaviour holds on both paths: the C extension's and the pure-Python one."""
    if request.param == "c" and not ACCELERATED:
        pytest.skip("the C extension shipper.wrap._fastpack is not built here")
    return request.param


def builder(path, stream="stdout", **options):
    return RecordBuilder(stream, RecordOptions(**options), IdSource(), accelerated=path == "c")


def pack_all(builder, items, now=NOW):
    body, end = builder.pack(items, 0, len(items), 1 << 30, now)
    assert end == len(items)
    return decode_packed_entries(body)


@pytest.fixture
def build(path):
    def build(items, stream="stdout", **options):
        return pack_all(builder(path, stream, **options), items)
    return build


def test_a_json_object_line_becomes_the_record_with_stream_and_id(build):
    ((time, record),) = build([b'{"message": "hi", "user": "ann"}'])
    assert record["message"] == "hi" and record["user"] == "ann" and record["stream"] == "stdout"
    assert record["event.id"] and time == NOW


def test_a_plain_line_becomes_a_message_record(build):
    ((_, record),) = build([b"plain words"], stream="stderr")
    assert record["message"] == "plain words" and record["stream"] == "stderr"


def test_json_that_is_not_an_object_is_kept_as_text(build):
    lines = [b"[1, 2]", b"42", b'{"broken": ']
    assert [r["message"] for _, r in build(lines)] == [line.decode() for line in lines]


def test_invalid_utf8_is_replaced_not_fatal(build):
    ((_, record),) = build([b"caf\xe9 \xff"])
    assert record["message"] == "caf\ufffd \ufffd"


def test_the_first_time_key_present_sets_the_event_time(build):
    ((time, _),) = build([b'{"time": 1700000001, "@timestamp": "2023-11-14T22:13:22.5Z"}'])
    assert time == 1_700_000_002_500_000_000


def test_a_custom_time_key_and_epoch_milliseconds(build):
    ((time, _),) = build([b'{"ts": 1700000001250}'], time_keys=("ts",))
    assert time == 1_700_000_001_250_000_000


def test_an_unparseable_time_keeps_the_read_time(build):
    ((time, record),) = build([b'{"time": "soon"}'])
    assert time == NOW and record["time"] == "soon"


def test_labels_are_added_and_win_over_the_apps_fields(build):
    ((_, record),) = build([b'{"env": "dev", "a": 1}'], labels={"env": "prod", "team": "web"})
    assert (record["env"], record["team"], record["a"]) == ("prod", "web", 1)


def test_ids_are_unique_and_use_the_configured_key(build):
    records = [r for _, r in build([b"a", b"b", b"c"], id_key="log_id")]
    assert len({r["log_id"] for r in records}) == 3


def test_invalid_utf8_inside_a_json_string_keeps_the_line_as_text(build):
    ((_, record),) = build([b'{"a": "caf\xe9"}'])
    assert record["message"] == '{"a": "caf\ufffd"}'


def test_an_integer_beyond_64_bits_keeps_the_line_as_text(build):
    line = b'{"n": 123456789012345678901234}'
    ((_, record),) = build([line])
    assert record["message"] == line.decode()


def test_json_nested_too_deep_to_decode_is_kept_as_text(build):
    line = b'{"a": ' * 5000 + b"1" + b"}" * 5000
    ((_, record),) = build([line])
    assert record["message"] == line.decode()


def nested(levels: int) -> bytes:
    """A JSON object ``levels`` deep, itself included."""
    return b'{"a": ' * (levels - 1) + b"{}" + b"}" * (levels - 1)


def test_a_record_may_nest_max_nesting_levels(build):
    ((_, record),) = build([nested(MAX_NESTING)])
    assert "a" in record and "message" not in record


def test_a_line_nesting_one_level_more_is_kept_as_text(build):
    ((_, record),) = build([nested(MAX_NESTING + 1)])
    assert record["message"] == nested(MAX_NESTING + 1).decode()


def test_many_brackets_inside_strings_are_not_nesting(build):
    line = b'{"text": "' + b"{[" * 100 + b'", "n": {"m": [1]}}'
    ((_, record),) = build([line])
    assert record["n"] == {"m": [1]}


@pytest.mark.skipif(not ACCELERATED, reason="the C extension is not built")
def test_the_c_path_and_the_python_path_share_one_nesting_limit():
    from shipper.wrap import _fastpack

    assert _fastpack.MAX_DEPTH == MAX_NESTING


def test_a_null_time_key_is_skipped_for_the_next_one(build):
    ((time, _),) = build([b'{"@timestamp": null, "time": "2023-11-14T22:13:20.5Z"}'])
    assert time == 1_700_000_000_500_000_000


def test_a_time_in_another_shape_or_escaped_is_still_read(build):
    lines = [b'{"time": "2023-11-14T23:13:20.5+01:00"}', b'{"time": "2023-11-14T22:13:20.5\\u005a"}']
    assert [time for time, _ in build(lines)] == [1_700_000_000_500_000_000] * 2


def test_a_time_outside_what_eventtime_carries_keeps_the_read_time(build):
    lines = [b'{"time": "1969-12-31T23:59:59.5Z"}', b'{"time": "2107-01-01T00:00:00.5Z"}']
    assert [time for time, _ in build(lines)] == [NOW, NOW]


def test_a_body_stops_at_the_record_limit_and_goes_on_where_it_stopped(path):
    source = builder(path)
    items = [b'{"n": %d}' % n for n in range(5)]
    first, end = source.pack(items, 0, 2, 1 << 20, NOW)
    rest, last = source.pack(items, end, 10, 1 << 20, NOW)
    records = [r for _, r in decode_packed_entries(first + rest)]
    assert (end, last) == (2, 5) and [r["n"] for r in records] == list(range(5))
    assert len({r["event.id"] for r in records}) == 5


def test_a_body_stops_once_it_reaches_the_byte_limit_but_holds_at_least_one_record(path):
    source = builder(path)
    items = [b'{"pad": "%s"}' % (b"x" * 100)] * 10
    body, end = source.pack(items, 0, 10, 250, NOW)
    assert end == 2 and len(body) >= 250
    assert source.pack(items, 0, 10, 1, NOW)[1] == 1


def test_ids_differ_between_processes():
    assert IdSource().prefix != IdSource().prefix


def test_parts_carry_dockers_partial_fields_with_a_shared_id(build):
    items = [Part(b"abcd", 1, 1, False), Part(b"ef", 1, 2, True)]
    first, second = [r for _, r in build(items)]
    assert first["partial_id"] == second["partial_id"]
    assert (first["partial_message"], first["partial_ordinal"]) == ("true", "1")
    assert first["partial_last"] == "false"
    assert (second["message"], second["partial_ordinal"], second["partial_last"]) == ("ef", "2", "true")


def real_traceback(code: str) -> list[bytes]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True).stderr.rstrip(b"\n").split(b"\n")


def test_a_traceback_group_becomes_one_record_with_ecs_error_fields(build):
    lines = real_traceback("raise ValueError('bad input: 3')")
    ((_, record),) = build([Group(lines, traceback=True)], stream="stderr")
    assert record["error.type"] == "ValueError" and record["error.message"] == "bad input: 3"
    assert record["error.stack_trace"] == b"\n".join(lines).decode()
    assert record["message"] == "ValueError: bad input: 3" and record["stream"] == "stderr"


def test_a_chained_traceback_reports_the_last_exception():
    lines = real_traceback("try:\n 1/0\nexcept Exception as e:\n raise KeyError('k') from e")
    assert exception_of(lines) == ("KeyError", "'k'")


# What Python 3.11 and later print for raise ExceptionGroup('many', [ValueError('a')]): the children
# logwrap reads may run a newer Python than logwrap itself (3.10 has no exception groups).
GROUP_TRACEBACK = [
    b"  + Exception Group Traceback (most recent call last):",
    b'  |   File "<string>", line 1, in <module>',
    b"  | ExceptionGroup: many (1 sub-exception)",
    b"  +-+---------------- 1 ----------------",
    b"    | ValueError: a",
    b"    +------------------------------------",
]


def test_an_exception_group_reports_the_group():
    assert exception_of(GROUP_TRACEBACK) == ("ExceptionGroup", "many (1 sub-exception)")


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception groups are new in Python 3.11")
def test_this_pythons_own_exception_group_reports_the_group():
    lines = real_traceback("raise ExceptionGroup('many', [ValueError('a')])")
    assert exception_of(lines) == ("ExceptionGroup", "many (1 sub-exception)")


def test_an_exception_without_message_has_an_empty_message():
    assert exception_of(real_traceback("raise KeyboardInterrupt")) == ("KeyboardInterrupt", "")


def test_an_indent_group_becomes_one_message(build):
    ((_, record),) = build([Group([b"Error", b"\tat A"], traceback=False)])
    assert record["message"] == "Error\n\tat A" and "error.type" not in record


def test_fractions_of_any_length_and_other_shapes_give_the_same_time_as_the_full_parser(path):
    values = ["2023-11-14T22:13:20.5Z", "2023-11-14T22:13:20.123Z", "2023-11-14T22:13:20.123456Z",
              "2023-11-14T22:13:20.123456789Z", "2023-11-14T22:13:20.1234567891Z",
              "2023-11-14T23:13:20.25+01:00", "2023-11-14T22:13:20Z", "2023-11-14 22:13:20,75"]
    source = builder(path)
    lines = [b'{"time": "%s"}' % v.encode() for v in values]
    first = [t for t, _ in pack_all(source, lines)]
    again = [t for t, _ in pack_all(source, lines)]  # now with the seconds cached
    expected = [parse_time(v) for v in values]
    assert first == again == expected


def test_a_message_of_several_lines_is_the_whole_error_message(build):
    lines = real_traceback("raise ValueError('first line\\nsecond line')")
    ((_, record),) = build([Group(lines, traceback=True)])
    assert (record["error.type"], record["error.message"]) == ("ValueError", "first line\nsecond line")


def test_a_syntax_errors_message_says_where_as_str_and_shippers_formatter_do():
    assert exception_of(real_traceback("exec('total = = 1')")) == ("SyntaxError", "invalid syntax (<string>, line 1)")


def test_a_fatal_errors_dump_becomes_one_record_typed_by_its_signal(build):
    dump = crashes.crash(crashes.SEGFAULT).rstrip(b"\n").split(b"\n")
    ((_, record),) = build([Group(dump, traceback=False, fault=True)], stream="stderr")
    assert record["error.type"] == "SIGSEGV" and record["error.message"] == "Fatal Python error: Segmentation fault"
    assert record["error.stack_trace"] == b"\n".join(dump).decode()
    assert record["message"] == "SIGSEGV: Fatal Python error: Segmentation fault" and record["stream"] == "stderr"


def test_a_fatal_error_that_names_no_signal_is_typed_fatal_error(build):
    dump = crashes.crash("import ctypes\nctypes.pythonapi.Py_FatalError(b'pool is corrupt')").rstrip(b"\n").split(b"\n")
    ((_, record),) = build([Group(dump, traceback=False, fault=True)])
    assert (record["error.type"], record["error.message"]) == ("FatalError", "Fatal Python error: pool is corrupt")
