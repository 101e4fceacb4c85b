"""--drop, --keep, --rename and --remove on records, as Fluent Bit's grep and modify filters do."""

import re

import pytest

from shipper.processing.filters import Condition, Filters, Grep, Remove, Rename, text_of


def drop(field, value=None, pattern=None):
    return Grep(Condition(field, value, re.compile(pattern) if pattern else None), keep=False)


def keep(field, value=None, pattern=None):
    return Grep(Condition(field, value, re.compile(pattern) if pattern else None), keep=True)


def test_drop_leaves_out_a_record_whose_field_has_the_value():
    assert drop("log.level", "debug")({"log.level": "debug"}) is None


def test_drop_keeps_a_record_whose_field_has_another_value():
    assert drop("log.level", "debug")({"log.level": "info"}) == {"log.level": "info"}


def test_drop_keeps_a_record_without_the_field():
    assert drop("log.level", "debug")({"message": "m"}) == {"message": "m"}


def test_a_dotted_name_matches_the_nested_field_too():
    assert drop("log.level", "debug")({"log": {"level": "debug"}}) is None


def test_the_dotted_top_level_key_is_read_before_the_nested_field():
    assert drop("log.level", "debug")({"log.level": "info", "log": {"level": "debug"}}) is not None


def test_a_regex_is_searched_for_anywhere_in_the_text():
    assert drop("message", pattern="health")({"message": "GET /health 200"}) is None
    assert drop("message", pattern="^health")({"message": "GET /health 200"}) is not None


def test_keep_leaves_out_the_records_that_do_not_match():
    assert keep("message", pattern="^req")({"message": "done"}) is None
    assert keep("message", pattern="^req")({"message": "req 1"}) == {"message": "req 1"}


def test_keep_leaves_out_a_record_without_the_field():
    assert keep("message", pattern=".")({"msg": "m"}) is None


@pytest.mark.parametrize(("value", "text"), [(200, "200"), (True, "true"), (None, "null"), (1.5, "1.5"),
                                             ("x", "x")])
def test_numbers_booleans_and_null_are_matched_by_their_json_text(value, text):
    assert text_of(value) == text
    assert drop("f", text)({"f": value}) is None


def test_objects_and_arrays_never_match():
    assert drop("f", pattern=".")({"f": {"a": 1}}) is not None
    assert drop("f", pattern=".")({"f": [1]}) is not None


def test_rename_keeps_a_top_level_fields_place():
    assert list(Rename("msg", "message")({"a": 1, "msg": "m", "b": 2})) == ["a", "message", "b"]


def test_rename_moves_a_nested_field_to_a_top_level_name():
    assert Rename("log.level", "level")({"log": {"level": "info", "logger": "x"}}) == {
        "log": {"logger": "x"}, "level": "info"}


def test_rename_never_overwrites_an_existing_field():
    record = {"msg": "m", "message": "kept"}
    assert Rename("msg", "message")(record) == {"msg": "m", "message": "kept"}


def test_rename_of_a_missing_field_changes_nothing():
    assert Rename("msg", "message")({"a": 1}) == {"a": 1}


def test_remove_takes_out_a_top_level_field():
    assert Remove("password")({"password": "x", "a": 1}) == {"a": 1}


def test_remove_takes_out_a_nested_field_and_leaves_its_parent():
    assert Remove("http.request.body")({"http": {"request": {"body": "x", "method": "GET"}}}) == {
        "http": {"request": {"method": "GET"}}}


def test_filters_run_in_the_order_given():
    record = {"lvl": "debug"}
    assert Filters([Rename("lvl", "log.level"), drop("log.level", "debug")])(dict(record)) is None
    assert Filters([drop("log.level", "debug"), Rename("lvl", "log.level")])(dict(record)) == {"log.level": "debug"}
