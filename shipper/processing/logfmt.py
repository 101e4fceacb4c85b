"""logfmt lines (``level=info msg="order placed" id=17 cached``) to records (sans-I/O).

The rules are those of the logfmt readers Go and Python services are read with (go-logfmt,
Vector's ``parse_logfmt``): pairs are separated by spaces; a key runs up to ``=`` or a space; a
value is bare (up to the next space) or double-quoted with backslash escapes (``\\"``, ``\\\\``,
``\\n``, ``\\t``, ``\\r``; any other escaped character stands for itself); a key with no ``=``
means ``true``. Values stay text: typing is ``--types``' job. Dotted keys stay as they are, one
top-level field ``"log.level"``, as logwrap keeps a JSON line's dotted keys; a repeated key keeps
its last value, as a JSON object does.

A line is only logfmt if it has at least one ``key=value`` pair and nothing that is not a pair
or a bare key: "GET /health 200" and free text are not, and stay ``{"message": line}``. A
quote that is never closed makes the whole line not logfmt: a line is parsed whole or not at all.
"""

from __future__ import annotations

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}
_NOT_IN_A_KEY = frozenset(' ="\t')


def parse(line: str) -> dict[str, str | bool] | None:
    """The record of a logfmt line, or None when the line is not logfmt."""
    record: dict[str, str | bool] = {}
    paired = False
    at, end = 0, len(line)
    while True:
        while at < end and line[at] in " \t":
            at += 1
        if at == end:
            return record if paired else None
        start = at
        while at < end and line[at] not in _NOT_IN_A_KEY:
            at += 1
        if at == start:
            return None  # a quote or "=" where a key should start
        key = line[start:at]
        if at == end or line[at] in " \t":
            record[key] = True
            continue
        if line[at] != "=":
            return None  # a quote inside a key
        at += 1
        value, at = _value(line, at)
        if value is None:
            return None
        record[key] = value
        paired = True


def _value(line: str, at: int) -> tuple[str | None, int]:
    """The value starting at ``at`` and where it ends; None when it is not a valid value."""
    end = len(line)
    if at < end and line[at] == '"':
        return _quoted(line, at + 1)
    start = at
    while at < end and line[at] not in " \t":
        if line[at] == '"':
            return None, at  # a quote inside a bare value
        at += 1
    return line[start:at], at


def _quoted(line: str, at: int) -> tuple[str | None, int]:
    parts: list[str] = []
    end = len(line)
    start = at
    while at < end:
        char = line[at]
        if char == '"':
            parts.append(line[start:at])
            after = at + 1
            if after < end and line[after] not in " \t":
                return None, after  # text glued to the closing quote
            return "".join(parts), after
        if char == "\\" and at + 1 < end:
            parts.append(line[start:at])
            escaped = line[at + 1]
            parts.append(_ESCAPES.get(escaped, escaped))
            at += 2
            start = at
            continue
        at += 1
    return None, at  # the quote is never closed
