"""The metrics found in records, counted by the Python path (the C path is held to it in
tests/wrap/test_fastpack.py)."""

import pytest

from shipper.metrics.tally import RAW_VALUES, RecordTally


def tally_of(*records, max_series=50):
    tally = RecordTally(max_series)
    for record in records:
        tally.observe(record)
    return tally


def test_levels_are_read_from_the_ecs_name_dotted_or_nested_and_from_flat_names():
    tally = tally_of({"log.level": "info"}, {"log": {"level": "WARNING"}}, {"level": "error"},
                     {"levelname": "ERROR"}, {"severity": "critical"}, {"message": "no level"})
    assert tally.named().levels == {"info": 1, "warning": 1, "error": 2, "critical": 1}


def test_the_ecs_name_wins_over_a_flat_one_in_the_same_record():
    assert tally_of({"level": "debug", "log.level": "error"}).named().levels == {"error": 1}


def test_errors_are_counted_by_type():
    tally = tally_of({"error.type": "ValueError"}, {"error": {"type": "ValueError"}}, {"error.type": "KeyError"})
    assert tally.named().errors == {"ValueError": 2, "KeyError": 1}


def test_http_access_records_count_by_method_and_status_class():
    tally = tally_of({"http": {"request": {"method": "GET"}, "response": {"status_code": 200}}},
                     {"method": "get", "status": 201}, {"method": "POST", "status": 503}, {"method": "GET"})
    assert tally.named().requests == {("GET", "2xx"): 2, ("POST", "5xx"): 1}


def test_durations_are_read_in_their_unit_nanoseconds_for_ecs_and_milliseconds_for_flat():
    tally = tally_of({"method": "GET", "status": 200, "event.duration": 30_000_000},
                     {"method": "GET", "status": 200, "duration_ms": 300})
    assert tally.durations.samples == pytest.approx([0.03, 0.3]) and tally.durations.count == 2
    assert dict(tally.durations.buckets())["0.05"] == 1


def test_a_duration_outside_an_access_record_is_not_a_request_duration():
    assert tally_of({"event.duration": 5, "log.level": "info"}).durations.count == 0


def test_a_flood_of_unique_error_types_is_bounded_and_counted_as_other():
    tally = tally_of(*({"error.type": f"Error{n}"} for n in range(10_000)), max_series=5)
    named = tally.named()
    assert len(tally.tables[1]) == RAW_VALUES and len(named.errors) == 6
    assert named.errors["other"] == 9_995 and named.overflow == {"errors": 9_995}


def test_values_already_named_still_count_once_the_metric_is_full():
    tally = tally_of({"log.level": "info"}, {"log.level": "debug"}, {"log.level": "INFO"}, max_series=1)
    assert tally.named().levels == {"info": 2, "other": 1}


def test_the_bound_is_on_the_names_users_see_not_on_raw_spellings():
    junk = [{"method": f"JUNK{n}", "status": 400} for n in range(60)]
    tally = tally_of(*junk, {"method": "get", "status": "200"}, {"method": "GET", "status": 200}, max_series=5)
    assert tally.named().requests == {("other", "4xx"): 60, ("GET", "2xx"): 2}


def test_a_negative_duration_is_not_counted():
    assert tally_of({"method": "GET", "status": 200, "duration_ms": -5}).durations.count == 0
