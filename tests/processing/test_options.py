"""The processing flags are checked at start, and the C pass takes the filters it can do."""

import re
import sys

import pytest

from shipper.errors import ConfigError
from shipper.processing import fastpass
from shipper.processing.options import ProcessingOptions, compile_processing

TIME_KEYS = ("@timestamp", "time", "timestamp")
RESERVED = ("stream", "event.id")


def compiled(*filters, **options):
    return compile_processing(ProcessingOptions(filters=tuple(filters), **options), TIME_KEYS, RESERVED)


def error(*filters, **options):
    with pytest.raises(ConfigError) as caught:
        compiled(*filters, **options)
    return str(caught.value)


def test_no_flag_means_no_processing():
    assert compiled() is None


@pytest.mark.parametrize(("flag", "value", "says"), [
    ("--drop", "level", "--drop 'level': write FIELD=VALUE or FIELD~REGEX"),
    ("--keep", "=x", "--keep '=x': write FIELD=VALUE or FIELD~REGEX"),
    ("--drop", "message~(", "--drop 'message~(': the regex is not valid: missing ), unterminated subpattern"),
    ("--rename", "a", "--rename 'a': write OLD=NEW"),
    ("--rename", "a=stream", "--rename 'a=stream': logwrap sets 'stream' itself; choose another name"),
    ("--remove", "", "--remove: name the field to remove"),
    ("--redact-keys", ",", "--redact-keys ',': write words separated by commas"),
    ("--redact-pattern", "ssn", "--redact-pattern 'ssn': write NAME=REGEX, or one of the built-in patterns: "
                                "credit-card, bearer-token, aws-access-key"),
])
def test_a_bad_filter_names_its_flag_and_what_to_write(flag, value, says):
    assert error((flag, value)).startswith(says)


@pytest.mark.parametrize("rate", ["5", "0/s", "10/h", "10/s:0", "ten/s"])
def test_a_bad_throttle_says_how_to_write_one(rate):
    assert error(throttle=rate).startswith(f"--throttle {rate!r}: write N/s or N/m")


@pytest.mark.parametrize("rate", ["9999999999999999999/s", "10/s:9999999999999999999", "1000000001/m"])
def test_a_throttle_beyond_what_a_batch_can_count_is_refused(rate):
    assert error(throttle=rate) == f"--throttle {rate!r}: N and BURST may be at most 1000000000"


@pytest.mark.parametrize("flag", ["--drop", "--rename", "--remove"])
def test_a_filter_that_is_not_utf8_is_refused(flag):
    value = "a=\udcff" if flag != "--remove" else "\udcff"  # what Python makes of argv's byte 0xff
    assert error((flag, value)) == f"{flag} {value!r}: not valid UTF-8"


def test_types_without_a_parser_is_refused():
    assert error(types="a:int").startswith("--types applies to parsed lines: add --parse")


def test_a_throttle_with_a_burst_is_read():
    rate = compiled(throttle="6000/m:1000").rate
    assert (rate.count, rate.per, rate.burst) == (6000, 60.0, 1000)


def test_the_c_pass_does_drop_keep_rename_and_remove_on_separate_fields():
    fast = compiled(("--drop", "log.level=debug"), ("--keep", "message~^re[qs]"), ("--rename", "msg=text"),
                    ("--remove", "x")).fast
    assert [(kind, key) for kind, key, _ in fast] == [
        (fastpass.PREFIX, b"log"), (fastpass.DROP_EXACT, b"log.level"), (fastpass.KEEP_SEARCH, b"message"),
        (fastpass.RENAME, b"msg"), (fastpass.REMOVE, b"x")]


def test_a_rename_feeding_another_filter_leaves_the_filters_to_python():
    assert compiled(("--rename", "lvl=log.level"), ("--drop", "log.level=debug")).fast is None


def test_removing_a_parent_of_a_filtered_field_leaves_the_filters_to_python():
    assert compiled(("--remove", "log"), ("--drop", "log.level=debug")).fast is None


def test_redaction_leaves_the_filters_to_python():
    assert compiled(("--drop", "a=b"), ("--redact-keys", "password")).fast is None


def test_a_throttle_alone_keeps_the_c_pass_with_no_filter():
    assert compiled(throttle="10/s").fast == ()


@pytest.mark.parametrize("regex", [r"(\w+\s?)+$", r"(a+)+b", r"(.*,){3,}x", r"((a|aa)+)*"])
def test_a_regex_with_a_repeat_inside_a_repeat_is_warned_about_at_start(regex):
    (warning,) = compiled(("--drop", f"message~{regex}")).warnings
    assert warning.startswith(f"--drop {'message~' + regex!r}: a repeat inside a repeat can take exponential time")


@pytest.mark.parametrize("regex", [r"^req", r"(?:ab)+", r"(a|b)*c", r"\d{4}-\d{2}"])
def test_a_regex_without_nested_repeats_is_not_warned_about(regex):
    assert compiled(("--keep", f"message~{regex}"), ("--redact-pattern", f"x={regex}")).warnings == ()


@pytest.mark.skipif(sys.version_info < (3, 11), reason="possessive repeats and atomic groups came in 3.11")
@pytest.mark.parametrize("regex", [r"(?>\w+\s?)+$", r"(\w++\s?)+$"])
def test_possessive_and_atomic_inner_repeats_are_not_warned_about(regex):
    assert compiled(("--drop", f"message~{regex}")).warnings == ()


@pytest.mark.parametrize(("regex", "literal"), [("^req", (True, "req")), (r"\Areq", (True, "req")),
                                               ("health", (False, "health")), (r"^GET /a\.b", (True, "GET /a.b")),
                                               ("^é", (True, "é"))])
def test_a_regex_that_finds_a_literal_is_matched_as_bytes_in_the_c_pass(regex, literal):
    assert fastpass.literal_search(re.compile(regex)) == literal


@pytest.mark.parametrize("regex", ["(?i)^req", "(?m)^req", "req$", "^re.", "^", "a|b", "[ab]c"])
def test_other_regexes_are_searched_by_python_from_the_c_pass(regex):
    assert fastpass.literal_search(re.compile(regex)) is None
