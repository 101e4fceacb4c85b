import pytest

from shipper.timeparse import TimeParser, parse_time

BASE = 1_764_288_000  # 2025-11-28T00:00:00Z


@pytest.mark.parametrize("value,expected", [
    ("2025-11-28T00:00:00Z", BASE * 10**9),
    ("2025-11-28T00:00:00.123456789Z", BASE * 10**9 + 123_456_789),
    ("2025-11-28T01:00:00+01:00", BASE * 10**9),
    ("2025-11-28 00:00:00,5", BASE * 10**9 + 500_000_000),
    ("2025-11-28T00:00:00", BASE * 10**9),
    (BASE, BASE * 10**9),
    (BASE + 0.25, BASE * 10**9 + 250_000_000),
    (BASE * 1000 + 7, BASE * 10**9 + 7_000_000),
    (BASE * 10**6 + 7, BASE * 10**9 + 7_000),
    (BASE * 10**9 + 7, BASE * 10**9 + 7),
])
def test_iso_8601_and_epoch_values_become_nanoseconds(value, expected):
    assert parse_time(value) == expected


@pytest.mark.parametrize("value", ["yesterday", "", None, True, -5, [BASE], "1764288000"])
def test_values_that_are_not_times_give_none(value):
    assert parse_time(value) is None


@pytest.mark.parametrize("value", ["2025-11-28T00:00:07Z", "2025-11-28T00:00:07.25Z", "2025-11-28T00:00:07.Z"])
def test_the_cached_path_reads_a_second_as_parse_time_does(value):
    parser = TimeParser()
    parser.parse("2025-11-28T00:00:07.5Z")  # fills the cache for that second
    assert parser.parse(value) == parse_time(value)
