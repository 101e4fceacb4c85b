"""Ready-made parsers for the lines common servers write, to ECS fields with typed values (sans-I/O).

The formats, exactly (a line in another format, or one that almost matches, gives None and stays
a message: a line is never half-parsed):

- ``nginx``: ``combined`` (``$remote_addr - $remote_user [$time_local] "$request" $status
  $body_bytes_sent "$http_referer" "$http_user_agent"``) and the ``main`` of nginx's documentation
  and example nginx.conf, which is combined then `` "$http_x_forwarded_for"``.
- ``apache``: ``common`` (``%h %l %u %t "%r" %>s %b``) and ``combined`` (common then
  ``"%{Referer}i" "%{User-agent}i"``), as mod_log_config documents them.
- ``gunicorn``: gunicorn's default ``access_log_format``, ``%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s
  %(b)s "%(f)s" "%(a)s"`` (combined, with an empty address for a client on a unix socket).
- ``python``: three formats of the logging module: ``%(levelname)s:%(name)s:%(message)s``
  (basicConfig's default), ``%(asctime)s - %(name)s - %(levelname)s - %(message)s`` (the logging
  HOWTO and cookbook), and ``%(asctime)s %(levelname)s %(name)s %(message)s``. A line of
  ``%(asctime)s %(levelname)s %(message)s`` looks the same as the last one on the page (is "db"
  in "INFO db connected" a logger or a word?): it is read as that one, its first word taken for
  the logger; parse such a log with ``regex:`` instead. The level must be one of logging's five
  names; ``asctime`` is logging's default ``%Y-%m-%d %H:%M:%S,%f``, local time.

Fields (dotted names are top-level keys, as logwrap keeps a JSON line's dotted keys), the names of
Filebeat's nginx and apache modules:

- access logs: ``source.address``, ``user.name``, ``@timestamp`` (RFC 3339 UTC, from the bracketed
  time), ``http.request.method``, ``url.original``, ``http.version`` ("1.1"),
  ``http.response.status_code`` (int), ``http.response.body.bytes`` (int), ``http.request.referrer``,
  ``user_agent.original``, and for nginx's ``main`` ``http.request.headers.x_forwarded_for``: the
  header's text as sent (a comma list of addresses that any client can forge), named for the header
  it is, in the ``http.request`` namespace; Filebeat's ``nginx.access.remote_ip_list`` is an array it
  builds from that header and the address, which a parse of the line cannot give without inventing.
  ``message`` keeps the whole line, so Kibana shows it and ``--drop 'message~...'`` still works.
- python: ``@timestamp``, ``log.level`` (lower case, as shipper's and ecs-logging's formatters write
  it), ``log.logger``, ``message`` (the message alone, with a traceback joined by --multiline).

Choices:

- "-" is the servers' mark for "no value": a ``user.name``, referrer, user agent or forwarded-for of
  "-" is left out (a client that sends "User-Agent: -" loses it; the line in ``message`` keeps it).
  The body size "-" is Apache's and gunicorn's way to write 0 bytes sent (mod_log_config: "In CLF
  format, i.e. a '-' rather than a 0 when no bytes are sent"), so it is 0: the field is always an int.
  Apache's ``%l`` (identd, "-" unless IdentityCheck is on) has no ECS field and is dropped.
- A request that is not "METHOD TARGET HTTP/VERSION" still parses: "METHOD TARGET" (HTTP/0.9) gives
  the method and ``url.original``; anything else (nginx's "-" for a client that sent nothing, the
  escaped bytes of a TLS handshake sent to a plain port, a target with a space) gives none of the
  three request fields, rather than a method or URL made of noise. The status, size and the rest are
  still read, and the request is still in ``message``.
- Quoted fields are kept as the server escaped them (nginx's ``\\x22``, Apache's and gunicorn's
  ``\\"``): a value is text of the line, and the escaping differs from server to server. A field with
  a space where the format has none (a user name with a space) makes the line not match.

Every pattern runs in time linear in the line's length, whatever the line: each quantifier is over
characters its successor cannot start with (``\\S+`` then a space, ``[^\\]]*`` then ``]``), and a
quoted field is the "unrolled loop" ``"[^"\\\\]*(?:\\\\.[^"\\\\]*)*"``, whose outer repetitions each
start with the backslash the inner one cannot match. So there is exactly one way to match any line,
and a 1 MiB line costs milliseconds; presets have no length limit.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .timeformat import TimeFormat

PRESETS = ("nginx", "apache", "gunicorn", "python")
CLF_TIME_FORMAT = "%d/%b/%Y:%H:%M:%S %z"
ASCTIME_FORMAT = "%Y-%m-%d %H:%M:%S,%f"


def _quoted(name: str) -> str:
    return rf'"(?P<{name}>[^"\\]*(?:\\.[^"\\]*)*)"'


_CLF_HEAD = r"\[(?P<time>[^\]]*)\] " + _quoted("request") + r" (?P<status>\d{3}) (?P<bytes>\d+|-)"
_REFERRER_AGENT = " " + _quoted("referrer") + " " + _quoted("agent")
_ACCESS = {
    "nginx": r"(?P<address>\S+) - (?P<user>\S+) " + _CLF_HEAD + _REFERRER_AGENT
    + r"(?: " + _quoted("forwarded") + ")?",
    "apache": r"(?P<address>\S+) \S+ (?P<user>\S+) " + _CLF_HEAD + r"(?:" + _REFERRER_AGENT + ")?",
    "gunicorn": r"(?P<address>\S*) - (?P<user>\S+) " + _CLF_HEAD + _REFERRER_AGENT,
}
# RFC 9110's token characters for the method; a TLS handshake's escaped bytes start with "\x16".
_REQUEST = re.compile(r"(?P<method>[-!#$%&'*+.^_`|~0-9A-Za-z]+) (?P<url>\S+)"
                      r"(?: HTTP/(?P<version>\d+(?:\.\d+)?))?", re.ASCII)
_REQUIRED = ("address", "user", "time", "request", "status", "bytes")
_OPTIONAL = (("referrer", "http.request.referrer"), ("agent", "user_agent.original"),
             ("forwarded", "http.request.headers.x_forwarded_for"))

_LEVEL = r"(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL)"
_ASCTIME = r"(?P<time>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3})"
_PYTHON = (
    re.compile(_LEVEL + r":(?P<logger>[^:\s]+):(?P<message>.*)", re.ASCII | re.DOTALL),
    re.compile(_ASCTIME + r" - (?P<logger>\S+) - " + _LEVEL + r" - (?P<message>.*)", re.ASCII | re.DOTALL),
    re.compile(_ASCTIME + " " + _LEVEL + r" (?P<logger>[^\s]+)(?: (?P<message>.*))?", re.ASCII | re.DOTALL),
)

_clf_time = TimeFormat(CLF_TIME_FORMAT)
_asctime = TimeFormat(ASCTIME_FORMAT)


def _access_parser(pattern: re.Pattern[str]) -> Callable[[str], dict[str, Any] | None]:
    optional = tuple((group, field) for group, field in _OPTIONAL if group in pattern.groupindex)
    assert len(optional) > 1  # so that match.group(*groups) is a tuple
    optional_groups = tuple(group for group, _ in optional)
    convert = _clf_time.convert

    def parse(line: str) -> dict[str, Any] | None:
        match = pattern.fullmatch(line)
        if match is None:
            return None
        address, user, time, request_text, status, size = match.group(*_REQUIRED)
        timestamp = convert(time)
        if timestamp is None:
            return None  # "[not a time]": almost the format, so not parsed at all
        record: dict[str, Any] = {"message": line}
        if address:
            record["source.address"] = address
        if user != "-":
            record["user.name"] = user
        record["@timestamp"] = timestamp
        request = _REQUEST.fullmatch(request_text)
        if request is not None:
            method, url, version = request.groups()
            record["http.request.method"] = method
            record["url.original"] = url
            if version is not None:
                record["http.version"] = version
        record["http.response.status_code"] = int(status)
        record["http.response.body.bytes"] = 0 if size == "-" else int(size)
        for (_, field), value in zip(optional, match.group(*optional_groups), strict=True):
            if value is not None and value != "-":
                record[field] = value
        return record

    return parse


def _python(line: str) -> dict[str, Any] | None:
    for pattern in _PYTHON:
        match = pattern.fullmatch(line)
        if match is not None:
            break
    else:
        return None
    groups = match.groupdict()
    record: dict[str, Any] = {}
    if "time" in groups:
        timestamp = _asctime.convert(groups["time"])
        if timestamp is None:
            return None  # 2024-13-45: almost the format
        record["@timestamp"] = timestamp
    record["log.level"] = groups["level"].lower()
    if groups.get("logger") is not None:
        record["log.logger"] = groups["logger"]
    record["message"] = groups["message"] or ""
    return record


PATTERNS: dict[str, tuple[re.Pattern[str], ...]] = {
    **{name: (re.compile(pattern, re.ASCII),) for name, pattern in _ACCESS.items()},
    "python": _PYTHON,
}
PARSERS: dict[str, Callable[[str], dict[str, Any] | None]] = {
    **{name: _access_parser(patterns[0]) for name, patterns in PATTERNS.items() if name != "python"},
    "python": _python,
}
