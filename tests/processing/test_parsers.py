"""--parse, --types and --time-format together: regex semantics, first match wins, typing, time, errors."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipper.errors import ConfigError
from shipper.processing import logfmt
from shipper.processing.parsers import (
    DEFAULT_TIME_KEYS,
    PRESETS,
    REGEX_LINE_LIMIT,
    LineParser,
    parse_types,
    parser_for,
)
from shipper.wrap.records import DEFAULT_TIME_KEYS as LOGWRAPS_TIME_KEYS

RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z")


def regex(pattern: str):
    return parser_for("regex:" + pattern)


# parser_for


def test_logfmt_is_the_logfmt_parser():
    assert parser_for("logfmt") is logfmt.parse


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_is_a_parser(name):
    assert parser_for(name)("not a line any preset reads") is None


def test_the_preset_names_are_the_documented_four():
    assert PRESETS == ("nginx", "apache", "gunicorn", "python")


# regex: the semantics of Fluentd's and Fluent Bit's regex parsers


def test_a_regex_is_searched_anywhere_in_the_line():
    assert regex(r"status=(?P<status>\d{3})")("GET / status=404 took 3ms") == {"status": "404"}


def test_an_anchored_regex_matches_only_from_the_start():
    assert regex(r"^(?P<status>\d{3})")("GET / 404") is None


def test_a_line_the_regex_does_not_match_is_none():
    assert regex(r"(?P<status>\d{3})")("no digits here") is None


def test_a_named_group_that_did_not_take_part_is_left_out():
    assert regex(r"(?P<user>user=\w+ )?(?P<action>\w+)$")("logout") == {"action": "logout"}


def test_an_empty_group_is_kept_as_an_empty_string():
    assert regex(r"user=(?P<user>\w*);")("user=;") == {"user": ""}


def test_only_named_groups_are_fields():
    assert regex(r"(\w+) (?P<b>\w+)")("one two") == {"b": "two"}


def test_a_regex_gives_no_message_unless_a_group_is_named_so():
    assert regex(r"(?P<level>[A-Z]+) (?P<message>.*)")("WARN disk at 91%") == {"level": "WARN",
                                                                               "message": "disk at 91%"}


def test_inline_flags_apply():
    assert regex(r"(?i)level=(?P<level>info)")("LEVEL=INFO") == {"level": "INFO"}


def test_a_line_over_the_limit_is_not_offered_to_a_regex():
    assert regex(r"(?P<a>a)")("a" * (REGEX_LINE_LIMIT + 1)) is None


def test_a_line_at_the_limit_is_offered_to_a_regex():
    assert regex(r"(?P<a>a)")("a" * REGEX_LINE_LIMIT) == {"a": "a"}


# --parse errors


def test_a_regex_that_does_not_compile_names_the_flag_and_the_error():
    with pytest.raises(ConfigError, match=r"^--parse 'regex:\(\?P<a': .*unterminated .* at position \d+$"):
        parser_for("regex:(?P<a")


def test_a_regex_with_no_named_group_is_an_error():
    with pytest.raises(ConfigError, match=r"^--parse 'regex:\(\\d\+\)': the pattern has no named group"):
        parser_for(r"regex:(\d+)")


def test_an_unknown_parser_lists_the_ones_there_are():
    with pytest.raises(ConfigError) as error:
        parser_for("nginxx")
    assert str(error.value) == ("--parse 'nginxx': no such parser; write logfmt, regex:PATTERN, "
                                "or one of nginx, apache, gunicorn, python")


def test_regex_without_its_colon_is_an_unknown_parser():
    with pytest.raises(ConfigError, match="^--parse 'regex': no such parser"):
        parser_for("regex")


def test_a_single_quote_in_the_flag_is_shown_as_the_shell_would_take_it():
    with pytest.raises(ConfigError, match=r"^--parse 'it'\\''s': no such parser"):
        parser_for("it's")


def test_a_config_error_exits_64():
    with pytest.raises(ConfigError) as error:
        parser_for("")
    assert error.value.exit_code == 64


# --types


def typed(spec: str, value: str):
    return LineParser([regex(r"^(?P<v>.*)$")], parse_types(spec)).parse(value)["v"]


@pytest.mark.parametrize("text, value", [("42", 42), ("-7", -7), ("+3", 3), ("007", 7),
                                         (str(2**63 - 1), 2**63 - 1), (str(-(2**63)), -(2**63))])
def test_int_reads_decimal_digits(text, value):
    assert typed("v:int", text) == value


@pytest.mark.parametrize("text", ["4.2", "", " 42", "42 ", "1_000", "0x1f", "\u0664\u0662", str(2**63), "9" * 5000])
def test_a_value_that_is_not_a_64_bit_int_stays_its_string(text):
    assert typed("v:int", text) == text


@pytest.mark.parametrize("text, value", [("1.5", 1.5), ("-2e3", -2000.0), (".5", 0.5), ("5.", 5.0), ("12", 12.0)])
def test_float_reads_decimal_numbers(text, value):
    result = typed("v:float", text)
    assert result == value and isinstance(result, float)


@pytest.mark.parametrize("text", ["nan", "inf", "-Infinity", "1e999", "1_0.5", "", "1.5.2", "\u0661.5"])
def test_a_value_that_is_not_a_finite_decimal_stays_its_string(text):
    assert typed("v:float", text) == text


@pytest.mark.parametrize("text, value", [("true", True), ("FALSE", False), ("Yes", True), ("no", False),
                                         ("1", True), ("0", False)])
def test_bool_reads_true_false_yes_no_one_zero_in_any_case(text, value):
    assert typed("v:bool", text) is value


@pytest.mark.parametrize("text", ["on", "maybe", "", "2", " true"])
def test_a_value_that_is_not_a_bool_stays_its_string(text):
    assert typed("v:bool", text) == text


def test_types_apply_to_any_parsers_fields():
    parser = LineParser([parser_for("logfmt")], parse_types("took:float,count:int,cached:bool"))
    assert parser.parse("msg=done took=0.25 count=3 cached") == {"msg": "done", "took": 0.25, "count": 3,
                                                                 "cached": True}


def test_a_typed_field_the_record_does_not_have_is_not_added():
    assert LineParser([parser_for("logfmt")], parse_types("n:int")).parse("a=1") == {"a": "1"}


def test_a_field_a_preset_already_typed_is_left_as_it_is():
    line = '127.0.0.1 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "-"'
    record = LineParser([parser_for("nginx")], parse_types("http.response.status_code:bool")).parse(line)
    assert record["http.response.status_code"] == 200


def test_a_types_spec_may_have_spaces_after_its_commas():
    assert set(parse_types("a:int, b:float")) == {"a", "b"}


def test_a_field_name_may_hold_a_colon():
    assert set(parse_types("k8s:pod:int")) == {"k8s:pod"}


@pytest.mark.parametrize("spec, why", [
    ("a", r"'a' is not FIELD:TYPE \(TYPE one of int, float, bool\)"),
    (":int", "':int' is not FIELD:TYPE"),
    ("a:int,", "'' is not FIELD:TYPE"),
    ("a:str", "no such type 'str' for a; write one of int, float, bool"),
    ("a:int,a:float", "a is given twice"),
])
def test_a_bad_types_spec_names_the_flag_and_what_is_wrong(spec, why):
    with pytest.raises(ConfigError, match=f"^--types '{re.escape(spec)}': {why}"):
        parse_types(spec)


# LineParser: first match wins, then types, then time


def test_the_first_parser_that_matches_wins():
    parser = LineParser([regex(r"(?P<first>b)"), regex(r"(?P<second>a)"), parser_for("logfmt")])
    assert parser.parse("a=b") == {"first": "b"}


def test_a_parser_that_does_not_match_passes_the_line_on():
    parser = LineParser([parser_for("nginx"), parser_for("logfmt")])
    assert parser.parse("a=b") == {"a": "b"}


def test_a_line_no_parser_matches_is_none():
    assert LineParser([parser_for("logfmt"), parser_for("python")]).parse("free text") is None


def test_no_parsers_match_nothing():
    assert LineParser([]).parse("a=b") is None


def test_the_time_format_converts_the_first_time_key_the_record_has():
    parser = LineParser([parser_for("logfmt")], time_format="%d/%b/%Y:%H:%M:%S %z")
    record = parser.parse('time="10/Oct/2000:13:55:36 -0700" timestamp="10/Oct/2000:13:55:36 -0700"')
    assert record == {"time": "2000-10-10T20:55:36Z", "timestamp": "10/Oct/2000:13:55:36 -0700"}


def test_the_time_keys_are_the_ones_given():
    parser = LineParser([parser_for("logfmt")], time_format="%Y-%m-%dT%H:%M:%S%z", time_keys=["ts"])
    assert parser.parse("time=x ts=2024-01-15T10:00:00+0100") == {"time": "x", "ts": "2024-01-15T09:00:00Z"}


def test_a_time_without_a_zone_is_local_time(new_york):
    parser = LineParser([regex(r"^(?P<time>\S+ \S+) (?P<message>.*)")], time_format="%Y-%m-%d %H:%M:%S.%f")
    assert parser.parse("2024-01-15 10:00:00.5 started") == {"time": "2024-01-15T15:00:00.500000Z",
                                                             "message": "started"}


def test_a_time_that_does_not_match_the_format_is_left_as_it_was():
    parser = LineParser([parser_for("logfmt")], time_format="%d/%b/%Y:%H:%M:%S %z")
    assert parser.parse("time=yesterday") == {"time": "yesterday"}


def test_only_the_first_time_key_is_tried_even_when_it_does_not_match():
    parser = LineParser([parser_for("logfmt")], time_format="%Y")
    assert parser.parse("time=soon timestamp=2024") == {"time": "soon", "timestamp": "2024"}


def test_without_a_time_format_times_are_left_alone():
    assert LineParser([parser_for("logfmt")]).parse("time=2024") == {"time": "2024"}


def test_types_come_before_the_time_so_a_typed_time_is_not_read_as_text():
    parser = LineParser([parser_for("logfmt")], parse_types("time:int"), time_format="%Y")
    assert parser.parse("time=2024") == {"time": 2024}


def test_a_presets_timestamp_is_already_converted():
    line = '127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 5 "-" "-"'
    record = LineParser([parser_for("nginx")], time_format="%d/%b/%Y:%H:%M:%S %z").parse(line)
    assert record["@timestamp"] == "2000-10-10T20:55:36Z"


def test_the_default_time_keys_are_logwraps():
    assert DEFAULT_TIME_KEYS == LOGWRAPS_TIME_KEYS


def test_a_bad_time_format_is_an_error_at_start():
    with pytest.raises(ConfigError, match="^--time-format 'none': the format has no directive"):
        LineParser([parser_for("logfmt")], time_format="none")


# Properties: every parser on any line never raises and never invents a field


ALL = {name: parser_for(name) for name in (*PRESETS, "logfmt")} | {
    "regex": regex(r"(?P<key>\w+)=(?P<value>[^ ]*)(?: (?P<rest>.+))?")}


def assert_from_the_line(name, record, line):
    """Every value is text of the line, or a time, number or bool read from it; logfmt's keys too."""
    for key, value in record.items():
        assert key in line or name != "logfmt", key  # the others' keys are their own names
        if key == "@timestamp":
            assert RFC3339.fullmatch(value), value
        elif isinstance(value, bool):
            assert value is True and key in line  # logfmt's bare key
        elif isinstance(value, int):
            assert str(value) in line or (key == "http.response.body.bytes" and value == 0 and " - " in line)
        elif key == "log.level":
            assert value.upper() in line
        else:
            assert isinstance(value, str) and value in line, (key, value)


@given(st.sampled_from(sorted(ALL)), st.text(max_size=120))
def test_any_text_through_any_parser_never_raises_nor_invents(name, line):
    record = ALL[name](line)
    if record is not None:
        assert_from_the_line(name, record, line)


# Quoted text as servers escape it (\" and \\), now and then with a raw quote or a lone backslash.
ESCAPED = st.lists(st.sampled_from(["a", "b", " ", "-", "/", "[", "]", ":", '\\"', "\\\\", "\\x22"] * 5
                                   + ['"', "\\"]), max_size=10).map("".join)


def quoted(text: str) -> str:
    return '"' + text + '"'


def mostly(valid, *invalid):
    """The valid pieces nine times in ten, so that many built lines parse and the rest almost do."""
    return st.sampled_from(list(valid) * 9 + list(invalid))


access_lines = st.builds(
    lambda *pieces: " ".join(piece for piece in pieces if piece is not None),
    mostly(["127.0.0.1", "::1", ""], "-", "a b"),
    mostly(["-"], "ident"),
    mostly(["-", "alice"], "a b", ""),
    mostly(["[10/Oct/2000:13:55:36 -0700]", "[01/Jan/2024:00:00:00 +0000]"], "[bad]", "[]"),
    st.one_of(mostly(['"GET / HTTP/1.1"', '"-"', '"GET /"', r'"\x16\x03"', '"GET /a b HTTP/1.0"']),
              ESCAPED.map(quoted)),
    mostly(["200", "404"], "2OO", "-"),
    mostly(["0", "612", "-"], "x"),
    st.one_of(st.just(None), st.tuples(ESCAPED, ESCAPED).map(lambda pair: " ".join(map(quoted, pair)))),
    mostly([None, '"-"', '"10.0.0.1, 10.0.0.2"'], "trailing"),
)
python_lines = st.builds(
    lambda fmt, asctime, level, logger, message: fmt.format(t=asctime, level=level, logger=logger, message=message),
    mostly(["{level}:{logger}:{message}", "{t} - {logger} - {level} - {message}", "{t} {level} {message}",
            "{t} {level} {logger} {message}"], "{t} {level}:{message}", "{level} {t} {message}", "{t} {level}"),
    mostly(["2024-01-15 10:00:00,123", "1999-12-31 23:59:59,999"], "2024-13-45 10:00:00,000", "2024-01-15 10:00:00"),
    mostly(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], "NOTICE", "info", ""),
    mostly(["root", "shop.orders"], "a b", "", "x:y", "-"),
    st.text(max_size=20),
)


@given(st.sampled_from(sorted(ALL)), st.one_of(access_lines, python_lines))
def test_lines_made_of_the_formats_pieces_never_raise_nor_invent(name, line):
    record = ALL[name](line)
    if record is not None:
        assert_from_the_line(name, record, line)


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(["int", "float", "bool"])),
                unique_by=lambda pair: pair[0], min_size=1),
       st.dictionaries(st.sampled_from(["a", "b", "c", "d"]),
                       st.one_of(st.integers().map(str), st.floats().map(str), st.sampled_from(["yes", "No", "x"]),
                                 st.text(alphabet="0123456789.-+eE", max_size=8)), max_size=4))
def test_types_only_ever_replace_a_value_by_what_its_text_reads_as(pairs, fields):
    line = " ".join(f"{key}={value}" for key, value in fields.items())
    types = parse_types(",".join(f"{field}:{kind}" for field, kind in pairs))
    plain = LineParser([parser_for("logfmt")]).parse(line)
    record = LineParser([parser_for("logfmt")], types).parse(line)
    if plain is None:
        assert record is None
        return
    assert record.keys() == plain.keys()
    for key, value in record.items():
        if value != plain[key] or type(value) is not type(plain[key]):
            converted = types[key](plain[key])  # raises if it was not converted: it must be
            assert converted == value and type(converted) is type(value)
