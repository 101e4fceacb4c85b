"""logfmt lines to records, and lines that are not logfmt left alone."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipper.processing.logfmt import parse


def test_pairs_become_fields_whose_values_stay_text():
    assert parse("level=info msg=started port=8000") == {"level": "info", "msg": "started", "port": "8000"}


def test_a_quoted_value_keeps_its_spaces_and_reads_its_escapes():
    assert parse(r'msg="order \"17\" placed\nfor alice" path="C:\\tmp"') == {
        "msg": 'order "17" placed\nfor alice', "path": "C:\\tmp"}


def test_a_bare_key_means_true():
    assert parse("event=login cached") == {"event": "login", "cached": True}


def test_an_empty_value_is_an_empty_string():
    assert parse('user= note=""') == {"user": "", "note": ""}


def test_dotted_keys_stay_one_top_level_field():
    assert parse("log.level=warning http.response.status_code=503") == {
        "log.level": "warning", "http.response.status_code": "503"}


def test_a_repeated_key_keeps_its_last_value():
    assert parse("a=1 a=2") == {"a": "2"}


@pytest.mark.parametrize("line", [
    "GET /health 200",
    "just some words",
    "",
    "   ",
    'msg="never closed',
    'msg="glued"text',
    'a"b=1',
    "=value",
    'x=a"b',
])
def test_a_line_that_is_not_logfmt_is_not_parsed(line):
    assert parse(line) is None


@given(st.text(max_size=80))
def test_any_text_either_parses_or_not_and_never_raises(text):
    parse(text)


@given(st.dictionaries(st.from_regex(r"[a-z][a-z0-9_.]{0,8}", fullmatch=True),
                       st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
                       min_size=1, max_size=6))
def test_what_a_quoting_writer_writes_is_read_back_exactly(fields):
    def quote(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    line = " ".join(f"{key}={quote(value)}" for key, value in fields.items())
    assert parse(line) == fields


@given(st.text(max_size=60))
def test_a_parse_never_invents_a_key_that_is_not_in_the_line(text):
    record = parse(text)
    for key in record or {}:
        assert key in text


def test_structlogs_logfmt_renderer_output_is_read_back():
    structlog = pytest.importorskip("structlog")  # a dev dependency: installed by .ci/run
    render = structlog.processors.LogfmtRenderer(key_order=["event"])
    line = render(None, "info", {"event": "order placed", "user": 'alice o"neil', "id": 17, "cached": True,
                                 "empty": ""})
    assert parse(line) == {"event": "order placed", "user": 'alice o"neil', "id": "17", "cached": True, "empty": ""}
