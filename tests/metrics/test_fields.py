"""What the values read from records mean: levels, status classes, methods."""

import pytest

from shipper.metrics.fields import error_type, level_name, method_name, status_class


@pytest.mark.parametrize(("value", "level"), [
    ("INFO", "info"), ("info", "info"), ("Warning", "warning"), ("WARN", "warning"), ("err", "error"),
    ("FATAL", "critical"), ("CRITICAL", "critical"), ("trace", "debug"), ("notice", "info"),
    (10, "debug"), (20, "info"), (30, "warning"), (40, "error"), (50, "critical"), (35, "error"),
])
def test_level_names_in_any_case_and_python_level_numbers_become_the_five_levels(value, level):
    assert level_name(value) == level


@pytest.mark.parametrize("value", ["verbose", "", None, True, 0, -5, 1.5, ["info"]])
def test_a_level_that_is_none_of_them_is_other(value):
    assert level_name(value) == "other"


@pytest.mark.parametrize(("value", "kind"), [(200, "2xx"), (404, "4xx"), ("503", "5xx"), (101, "1xx"),
                                             (99, "other"), (600, "other"), ("ok", "other"), (True, "other"),
                                             ("²", "other"), ("①", "other"), ("2" * 5000, "other")])
def test_statuses_become_their_class(value, kind):
    assert status_class(value) == kind


def test_methods_are_upper_case_and_anything_else_is_other():
    assert [method_name(m) for m in ("get", "POST", "BREW", 7)] == ["GET", "POST", "other", "other"]


def test_an_error_type_must_be_a_non_empty_string():
    assert [error_type(v) for v in ("KeyError", "", 3)] == ["KeyError", "other", "other"]
