"""The C pass parses nginx, apache and gunicorn lines exactly as the presets do, on any input."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipper.metrics.tally import RecordTally
from shipper.processing.options import ProcessingOptions, compile_processing
from shipper.wrap.records import ACCELERATED, IdSource, RecordBuilder, RecordOptions

from ..processing.test_parsers import access_lines
from ..processing.test_presets import APACHE_COMBINED, APACHE_COMMON, COMBINED
from .test_fastpack import NOW
from .test_fastpack_filters import flags

needs_extension = pytest.mark.skipif(not ACCELERATED, reason="the C extension is not built here")
TIME_KEYS = ("@timestamp", "time", "timestamp")

times = st.sampled_from(["10/Oct/2000:13:55:36 -0700", "01/Jan/2024:00:00:00 +0000", "29/Feb/2024:23:59:59 +1400",
                         "29/Feb/2023:00:00:00 +0000", "1/Jan/2024:00:00:00 +0000", "01/jan/2024:00:00:00 +0000",
                         "31/Dec/1969:23:59:59 +0000", "01/Jan/1970:01:00:00 +0100", "07/Feb/2106:06:28:15 +0000",
                         "07/Feb/2106:06:28:16 +0000", "01/Jan/2024:24:00:00 +0000", "01/Jan/2024:00:00:60 +0000",
                         "01/Jan/2024:00:00:00 +00:00", "01/Jan/2024:00:00:00 Z", "01/Jan/2024:00:00:00 -2359"])
requests = st.sampled_from(['GET / HTTP/1.1', 'POST /a?b=c HTTP/2.0', 'GET /', '-', r'\x16\x03', 'GET /a b HTTP/1.0',
                            'GET / HTTP/1', 'GET / HTTP/1.', 'GET / HTTP/x', 'G\\"T / HTTP/1.1', 'GET /é HTTP/1.1',
                            'GET  / HTTP/1.1', 'M-SEARCH * HTTP/1.1', 'GET /\\" HTTP/1.1'])
numbers = st.sampled_from(["0", "200", "007", "-", "612", "99999999999999999999", "123456789012345678"])
quoted = st.sampled_from(['"-"', '""', '"https://a.example/"', '"Mozilla/5.0 (X11)"', r'"a \"b\" c"', '"é ü"',
                          '"a\\\\"', '"-" "x"'])


@st.composite
def built_lines(draw):
    """Lines from the formats' pieces, with the shapes the C pass must hand back to Python."""
    pieces = [draw(st.sampled_from(["127.0.0.1", "::1", "", "-", "{x}"])), draw(st.sampled_from(["-", "ident", ""])),
              draw(st.sampled_from(["-", "alice", "é"])), f"[{draw(times)}]", f'"{draw(requests)}"',
              draw(st.sampled_from(["200", "404", "099", "2000"])), draw(numbers)]
    line = " ".join(pieces)
    for _ in range(draw(st.integers(0, 3))):
        line += " " + draw(quoted)
    if draw(st.booleans()):
        at = draw(st.integers(0, len(line)))
        line = line[:at] + draw(st.sampled_from(["", " ", '"', "\\", "]", "\r", "\t", "\x00"])) + line[at + 1:]
    return line.encode("utf-8")


def build(items, parse, filters=(), accelerated=True):
    options = ProcessingOptions(parse=parse, filters=tuple(filters))
    ids = IdSource()
    ids.prefix = "test-"
    tally = RecordTally()
    builder = RecordBuilder("stdout", RecordOptions(labels={"env": "prod"},
                                                    processing=compile_processing(options, TIME_KEYS, ("env",))),
                            ids, accelerated=accelerated, tally=tally, catch=True)
    body, end = builder.pack(items, 0, 1 << 20, 1 << 30, NOW)
    return (body, end, ids.next, builder.filtered, builder.caught, tally.tables, tally.overflow,
            list(tally.durations.cells))


lines = built_lines() | access_lines.map(str.encode) | st.binary(max_size=80)
presets = st.sampled_from([("nginx",), ("apache",), ("gunicorn",), ("nginx", "logfmt"), ("apache", "python")])


@needs_extension
@settings(max_examples=500, deadline=None)
@given(st.lists(lines, min_size=1, max_size=6), presets, st.lists(flags, max_size=3))
def test_both_paths_parse_access_lines_to_the_same_bytes(items, parse, filters):
    assert build(items, parse, filters, True) == build(items, parse, filters, False)


@needs_extension
@pytest.mark.parametrize(("parse", "line"), [("nginx", COMBINED), ("apache", APACHE_COMBINED), ("apache", APACHE_COMMON),
                                             ("gunicorn", COMBINED)])
def test_the_documented_lines_are_parsed_in_c(parse, line, monkeypatch):
    options = ProcessingOptions(parse=(parse,))
    builder = RecordBuilder("stdout", RecordOptions(processing=compile_processing(options, TIME_KEYS, ())), IdSource())
    handed_back = []
    monkeypatch.setattr(builder, "_encoded", lambda item, *_: handed_back.append(item) or b"")
    body, _ = builder.pack([line.encode()] * 10, 0, 1 << 20, 1 << 30, NOW)
    assert handed_back == [] and body


def test_types_or_a_time_format_leave_the_preset_to_python():
    typed = compile_processing(ProcessingOptions(parse=("nginx",), types="user.name:int"), TIME_KEYS, ())
    timed = compile_processing(ProcessingOptions(parse=("nginx",), time_format="%d"), TIME_KEYS, ())
    second = compile_processing(ProcessingOptions(parse=("logfmt", "nginx")), TIME_KEYS, ())
    assert (typed.access, timed.access, second.access) == (0, 0, 0)
