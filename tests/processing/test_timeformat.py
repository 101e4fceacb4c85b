"""strftime-written times to RFC 3339 UTC, local time for a format without a zone, and bad formats."""


import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipper.errors import ConfigError
from shipper.processing.timeformat import TimeFormat

NGINX = "%d/%b/%Y:%H:%M:%S %z"
ASCTIME = "%Y-%m-%d %H:%M:%S,%f"


def test_a_time_with_a_zone_becomes_utc():
    assert TimeFormat(NGINX).convert("10/Oct/2000:13:55:36 -0700") == "2000-10-10T20:55:36Z"


def test_a_time_without_a_zone_is_local_time(new_york):
    assert TimeFormat("%Y-%m-%d %H:%M:%S").convert("2024-01-15 12:00:00") == "2024-01-15T17:00:00Z"


def test_local_time_follows_daylight_saving(new_york):
    assert TimeFormat("%Y-%m-%d %H:%M:%S").convert("2024-07-15 12:00:00") == "2024-07-15T16:00:00Z"


def test_fractional_seconds_are_kept_to_the_microsecond(new_york):
    assert TimeFormat(ASCTIME).convert("2024-01-15 12:00:00,123") == "2024-01-15T17:00:00.123000Z"


def test_a_whole_second_has_no_fraction():
    assert TimeFormat(ASCTIME + "%z").convert("2024-01-15 12:00:00,000+0000") == "2024-01-15T12:00:00Z"


@pytest.mark.parametrize("value", ["", "10/Oct/2000:13:55:36", "10/Foo/2000:13:55:36 -0700",
                                   "31/Feb/2000:13:55:36 -0700", "10/Oct/2000:13:55:36 -0700 trailing"])
def test_a_value_not_written_with_the_format_is_not_converted(value):
    assert TimeFormat(NGINX).convert(value) is None


def test_the_same_value_twice_converts_the_same_and_a_new_one_anew():
    times = TimeFormat(NGINX)
    first = times.convert("10/Oct/2000:13:55:36 -0700")
    assert times.convert("10/Oct/2000:13:55:36 -0700") == first
    assert times.convert("10/Oct/2000:13:55:37 -0700") == "2000-10-10T20:55:37Z"
    assert times.convert("nonsense") is None


@pytest.mark.parametrize("fmt", ["hello", "%%Y", "%", ""])
def test_a_format_with_no_directive_is_a_config_error_naming_the_flag(fmt):
    with pytest.raises(ConfigError, match=r"^--time-format '.*': the format has no directive"):
        TimeFormat(fmt)


@pytest.mark.parametrize("fmt, why", [("%Q", "bad directive"), ("%s", "bad directive"), ("%G", "ISO year")])
def test_a_format_that_cannot_read_back_its_own_time_is_a_config_error(fmt, why):
    with pytest.raises(ConfigError, match=f"^--time-format '{fmt}': .*{why}"):
        TimeFormat(fmt)


@given(st.text(max_size=40))
def test_any_text_converts_or_not_and_never_raises(text):
    result = TimeFormat(NGINX).convert(text)
    assert result is None or result.endswith("Z")
