"""The presets on their documented formats: typed ECS fields, "-" left out, near misses left alone.

nginx and gunicorn are also read from the real servers in test_real_servers.py; Apache's lines are
mod_log_config's documented examples, and python's are written by the real logging module.
"""

import io
import logging
import time
from datetime import datetime, timezone

import pytest

from shipper.processing.presets import PARSERS, PATTERNS, PRESETS

try:  # the stdlib's own reading of a pattern, to check the presets' shape
    from re import _constants as sre
    from re import _parser as sre_parse
except ImportError:  # Python 3.10
    import sre_constants as sre  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

nginx, apache, gunicorn, python = (PARSERS[name] for name in ("nginx", "apache", "gunicorn", "python"))

COMBINED = ('203.0.113.7 - alice [10/Oct/2000:13:55:36 -0700] "GET /search?q=shoes HTTP/1.1" 200 612 '
            '"https://example.com/start" "Mozilla/5.0 (X11; Linux x86_64)"')
COMBINED_RECORD = {
    "message": COMBINED,
    "source.address": "203.0.113.7",
    "user.name": "alice",
    "@timestamp": "2000-10-10T20:55:36Z",
    "http.request.method": "GET",
    "url.original": "/search?q=shoes",
    "http.version": "1.1",
    "http.response.status_code": 200,
    "http.response.body.bytes": 612,
    "http.request.referrer": "https://example.com/start",
    "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64)",
}
APACHE_COMBINED = ('127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 '
                   '"http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"')
APACHE_COMMON = '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326'
ANONYMOUS = '198.51.100.1 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 304 0 "-" "-"'


def with_request(request: str) -> str:
    return f'198.51.100.1 - - [01/Jan/2024:00:00:00 +0000] "{request}" 400 157 "-" "-"'


def request_fields(record):
    return {k: v for k, v in record.items() if k in ("http.request.method", "url.original", "http.version")}


def test_the_preset_names_are_the_parsers():
    assert set(PRESETS) == set(PARSERS) == set(PATTERNS)


# nginx


def test_nginx_combined_gives_typed_ecs_fields_and_keeps_the_line_as_message():
    assert nginx(COMBINED) == COMBINED_RECORD


def test_nginx_main_adds_the_forwarded_for_header_as_sent():
    record = nginx(COMBINED + ' "192.0.2.1, 10.0.0.2"')
    assert record["http.request.headers.x_forwarded_for"] == "192.0.2.1, 10.0.0.2"
    assert record["message"].endswith('"192.0.2.1, 10.0.0.2"')


def test_nginx_main_without_a_forwarded_for_header_leaves_the_field_out():
    assert nginx(COMBINED + ' "-"') == {**COMBINED_RECORD, "message": COMBINED + ' "-"'}


def test_a_dash_for_user_referrer_and_agent_leaves_them_out():
    record = nginx(ANONYMOUS)
    assert not {"user.name", "http.request.referrer", "user_agent.original"} & set(record)
    assert record["http.response.status_code"] == 304 and record["http.response.body.bytes"] == 0


def test_an_empty_referrer_sent_empty_is_kept_empty():
    assert nginx(ANONYMOUS.replace('"-" "-"', '"" "-"'))["http.request.referrer"] == ""


def test_a_request_nginx_logs_as_a_dash_keeps_the_rest_of_the_line():
    record = nginx(with_request("-"))
    assert request_fields(record) == {}
    assert record["http.response.status_code"] == 400 and record["@timestamp"] == "2024-01-01T00:00:00Z"


def test_a_tls_handshake_on_a_plain_port_gives_no_method_or_url():
    record = nginx(with_request(r"\x16\x03\x01\x02\x00\x01\x00\x01\xFC\x03\x03"))
    assert request_fields(record) == {} and record["http.response.status_code"] == 400


def test_a_target_with_a_space_gives_no_request_fields():
    assert request_fields(nginx(with_request("GET /a b HTTP/1.1"))) == {}


def test_an_http_0_9_request_has_a_method_and_url_but_no_version():
    assert request_fields(nginx(with_request("GET /"))) == {"http.request.method": "GET", "url.original": "/"}


def test_the_http_version_is_the_number_after_the_slash():
    assert nginx(with_request("PRI * HTTP/2.0"))["http.version"] == "2.0"


def test_nginx_escapes_stay_as_nginx_wrote_them():
    line = ANONYMOUS.replace('"-" "-"', r'"-" "a\x22quoted\x22 agent"')
    assert nginx(line)["user_agent.original"] == r"a\x22quoted\x22 agent"


def test_an_ipv6_client_address_is_read():
    assert nginx(ANONYMOUS.replace("198.51.100.1", "2001:db8::1"))["source.address"] == "2001:db8::1"


@pytest.mark.parametrize("line", [
    COMBINED.replace('"GET', "GET"),  # a missing quote
    COMBINED.replace(" 200 ", " 2OO "),  # a status that is not a number
    COMBINED.replace(" 200 ", " 20 "),  # a status that is not three digits
    COMBINED.replace(" 612 ", " many "),  # a size that is not a number
    COMBINED[:-12],  # truncated
    COMBINED[:COMBINED.index(' "https')],  # common: nginx does not log it by default
    COMBINED.replace("[10/Oct/2000:13:55:36 -0700]", "[yesterday]"),  # not a time
    COMBINED.replace("Oct", "Okt"),  # not a month
    COMBINED.replace("203.0.113.7 - alice", "203.0.113.7 ident alice"),  # nginx writes "-" there
    COMBINED + " trailing",
    COMBINED + ' "a" "b"',
    "",
    "GET /health 200",
])
def test_a_line_nginx_almost_wrote_is_not_parsed_at_all(line):
    assert nginx(line) is None


# Apache


def test_apaches_documented_combined_example():
    assert apache(APACHE_COMBINED) == {
        "message": APACHE_COMBINED,
        "source.address": "127.0.0.1",
        "user.name": "frank",
        "@timestamp": "2000-10-10T20:55:36Z",
        "http.request.method": "GET",
        "url.original": "/apache_pb.gif",
        "http.version": "1.0",
        "http.response.status_code": 200,
        "http.response.body.bytes": 2326,
        "http.request.referrer": "http://www.example.com/start.html",
        "user_agent.original": "Mozilla/4.08 [en] (Win98; I ;Nav)",
    }


def test_apaches_documented_common_example():
    record = apache(APACHE_COMMON)
    assert record == {k: v for k, v in apache(APACHE_COMBINED).items()
                      if k not in ("message", "http.request.referrer", "user_agent.original")} | {
        "message": APACHE_COMMON}


def test_apaches_dash_for_no_bytes_sent_is_zero():
    assert apache(APACHE_COMMON.replace(" 2326", " -"))["http.response.body.bytes"] == 0


def test_apaches_escaped_quote_stays_escaped_and_does_not_end_the_field():
    line = APACHE_COMBINED.replace("(Win98; I ;Nav)", r'(\"quoted\")')
    assert apache(line)["user_agent.original"] == r'Mozilla/4.08 [en] (\"quoted\")'


def test_apaches_identd_field_is_read_past():
    record = apache(APACHE_COMMON.replace(" - frank", " ident42 frank"))
    assert record["user.name"] == "frank" and "ident42" not in [v for k, v in record.items() if k != "message"]


@pytest.mark.parametrize("line", [
    APACHE_COMMON + " 12",  # neither common nor combined
    APACHE_COMBINED[:-1],  # the last quote missing
    APACHE_COMMON.replace('"GET', "GET"),
    APACHE_COMMON.replace("200", "ok"),
])
def test_a_line_apache_almost_wrote_is_not_parsed_at_all(line):
    assert apache(line) is None


# gunicorn


GUNICORN = '127.0.0.1 - - [01/Jan/2024:10:00:00 +0100] "GET /health?full=1 HTTP/1.1" 200 5 "-" "curl/8.5.0"'


def test_gunicorns_default_access_format():
    assert gunicorn(GUNICORN) == {
        "message": GUNICORN,
        "source.address": "127.0.0.1",
        "@timestamp": "2024-01-01T09:00:00Z",
        "http.request.method": "GET",
        "url.original": "/health?full=1",
        "http.version": "1.1",
        "http.response.status_code": 200,
        "http.response.body.bytes": 5,
        "user_agent.original": "curl/8.5.0",
    }


def test_a_gunicorn_client_on_a_unix_socket_has_no_address():
    record = gunicorn(GUNICORN.replace("127.0.0.1", ""))
    assert record is not None and "source.address" not in record


def test_gunicorns_dash_for_an_unknown_size_is_zero():
    assert gunicorn(GUNICORN.replace(" 5 ", " - "))["http.response.body.bytes"] == 0


def test_a_gunicorn_line_without_referrer_and_agent_is_not_gunicorns_format():
    assert gunicorn(GUNICORN[:GUNICORN.index(' "-"')]) is None


# python


def logged(fmt: str, level: int = logging.INFO, name: str = "shop.orders", message: str = "order placed",
           exc_info: bool = False) -> tuple[str, logging.LogRecord]:
    """The line the logging module writes with ``fmt``, and its record."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(fmt))
    records: list[logging.LogRecord] = []
    logger = logging.getLogger(name)
    logger.addFilter(lambda record: records.append(record) or True)
    logger.addHandler(handler)
    logger.propagate, logger.level = False, logging.DEBUG
    try:
        if exc_info:
            try:
                raise RuntimeError("boom")
            except RuntimeError:
                logger.exception(message)
        else:
            logger.log(level, message)
    finally:
        logger.removeHandler(handler)
        logger.filters.clear()
    return stream.getvalue().removesuffix("\n"), records[0]


def utc_millis(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}000Z"


def test_basicconfigs_default_format_gives_level_logger_and_message():
    line, _ = logged(logging.BASIC_FORMAT, logging.WARNING)
    assert python(line) == {"log.level": "warning", "log.logger": "shop.orders", "message": "order placed"}


def test_a_colon_in_the_message_stays_in_the_message():
    line, _ = logged(logging.BASIC_FORMAT, message="retry: 3 of 5")
    assert python(line)["message"] == "retry: 3 of 5"


def test_the_cookbook_format_gives_the_time_level_logger_and_message(new_york):
    line, record = logged("%(asctime)s - %(name)s - %(levelname)s - %(message)s", logging.ERROR)
    assert python(line) == {"@timestamp": utc_millis(record), "log.level": "error", "log.logger": "shop.orders",
                            "message": "order placed"}


def test_asctime_is_local_time_and_becomes_utc(new_york):
    line, record = logged("%(asctime)s %(levelname)s %(name)s %(message)s")
    assert python(line)["@timestamp"] == utc_millis(record)


def test_the_asctime_level_name_format_gives_the_level_logger_and_message():
    line, _ = logged("%(asctime)s %(levelname)s %(name)s %(message)s", logging.CRITICAL)
    record = python(line)
    assert (record["log.level"], record["log.logger"], record["message"]) == ("critical", "shop.orders",
                                                                              "order placed")


def test_without_a_logger_name_the_first_word_is_taken_for_the_logger():
    line, _ = logged("%(asctime)s %(levelname)s %(message)s", logging.DEBUG)
    record = python(line)
    assert (record["log.logger"], record["message"]) == ("order", "placed")


def test_a_traceback_joined_to_its_line_stays_in_the_message():
    line, _ = logged(logging.BASIC_FORMAT, exc_info=True)
    record = python(line)
    assert record["log.level"] == "error"
    assert record["message"].startswith("order placed\nTraceback") and record["message"].endswith("RuntimeError: boom")


@pytest.mark.parametrize("line", [
    "NOTICE:root:a level logging does not have",
    "info:root:lower case",
    "ERROR: something failed: details",  # a space where the logger's name is
    "2024-13-45 10:00:00,000 INFO month 13",
    "2024-01-15 10:00:00 INFO no milliseconds",
    "2024-01-15 10:00:00,000 - shop - INFO no dash before the message",
    "2024-01-15 10:00:00,000 SEVERE java's level",
    "",
])
def test_a_line_logging_almost_wrote_is_not_parsed_at_all(line):
    assert python(line) is None


# Linear time, whatever the line


def _loops(items):
    """Every repetition (at most more than once) in a parsed pattern, with its body, at any depth."""
    for op, av in items:
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT) and av[1] > 1:
            yield av[2]
        yield from (loop for child in _subpatterns(av) for loop in _loops(child))


def _subpatterns(av):
    if isinstance(av, sre_parse.SubPattern):
        yield av
    elif isinstance(av, (tuple, list)):
        for item in av:
            yield from _subpatterns(item)


@pytest.mark.parametrize("pattern", [pattern for patterns in PATTERNS.values() for pattern in patterns],
                         ids=lambda pattern: pattern.pattern[:40])
def test_a_loop_inside_a_loop_is_only_the_unrolled_escape_loop(pattern):
    """A loop in a loop over the same characters is what makes a regex backtrack without end; the only
    one the presets have is ``(?:\\\\.[^"\\\\]*)*``, whose every turn starts with the backslash its inner
    loop cannot match, so there is one way to split any text into its turns."""
    for body in _loops(sre_parse.parse(pattern.pattern, pattern.flags)):
        inner = [loop for child in _subpatterns(list(body)) for loop in _loops(child)]
        inner += [av[2] for op, av in body if op in (sre.MAX_REPEAT, sre.MIN_REPEAT) and av[1] > 1]
        if not inner:
            continue
        (first_op, first), *_ = list(body)
        assert first_op == sre.LITERAL, body
        for loop in inner:
            (op, charset), = list(loop)
            assert op == sre.IN and (sre.NEGATE, None) in charset and (sre.LITERAL, first) in charset, body


MIB = 1 << 20
HEAD = '198.51.100.1 - - [01/Jan/2024:00:00:00 +0000] "'
ADVERSARIAL = [
    *(char * MIB for char in ' "\\[]-:1a'),
    " -" * (MIB // 2), ' "' * (MIB // 2), '\\"' * (MIB // 2), " [" * (MIB // 2), "INFO:" * (MIB // 5),
    HEAD + '\\"' * (MIB // 2), HEAD + 'GET / HTTP/1.1" 200 5 "' + '" "' * (MIB // 3),
    HEAD + 'GET / HTTP/1.1" 200 5 "-" "' + "a" * MIB + '" x',
    "2024-01-15 10:00:00,000 - " + "a - " * (MIB // 4), "2024-01-15 10:00:00,000 INFO" + " -" * (MIB // 2),
]


@pytest.mark.parametrize("name", PRESETS)
def test_a_mebibyte_line_made_to_backtrack_is_read_in_linear_time(name):
    """Work, not speed: a linear read of these 20 MiB takes well under a second, a quadratic one
    at least 10^12 steps (hours) on any machine. The bound between is wide enough for any load."""
    parse = PARSERS[name]
    started = time.process_time()
    for line in ADVERSARIAL:
        parse(line)
    assert time.process_time() - started < 10


@pytest.mark.parametrize("name", ["nginx", "apache", "gunicorn"])
def test_a_valid_line_with_a_mebibyte_field_is_read_whole(name):
    agent = "a" * MIB
    assert PARSERS[name](HEAD + f'GET / HTTP/1.1" 200 5 "-" "{agent}"')["user_agent.original"] == agent
