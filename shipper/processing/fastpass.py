"""What the C pass does of the processing flags, as ``_fastpack.pack`` reads it (sans-I/O).

The access-log presets: when the first ``--parse`` is nginx, apache or gunicorn, with no
``--types`` or ``--time-format`` to change its fields, the C pass parses such lines itself, as
the preset does (a test holds the two to the same bytes), and hands every other line to Python.

The filters, on JSON lines and on the lines the C pass parses:

The C pass sees a line's top-level keys once, in order, so it can only do filters whose order
cannot matter: ``--drop``/``--keep`` on a field, ``--remove`` and ``--rename``, when no field
that a rename or a removal touches is named by another filter. Anything else (redaction, a
chain where one step feeds another) leaves JSON lines to Python, which does every filter.

A dotted name is matched as a top-level key; a line whose top-level key is the parent of a
named field (``log`` for ``log.level``) goes to Python, which reads nested fields.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from .backtracking import sre, sre_parse
from .filters import Grep, Remove, Rename, Step

PREFIX, REMOVE, RENAME, DROP_EXACT, KEEP_EXACT, DROP_SEARCH, KEEP_SEARCH = range(7)
DROP_STARTS, KEEP_STARTS, DROP_CONTAINS, KEEP_CONTAINS = range(7, 11)
ACCESS_PRESETS = {"nginx": 1, "apache": 2, "gunicorn": 3}  # _fastpack's CLF_*
MAX_ENTRIES = 32  # _fastpack's MAX_FILTERS

Entry = tuple[int, bytes, Any]


def fast_filters(steps: Sequence[Step]) -> tuple[Entry, ...] | None:
    """The C pass's entries for ``steps``, or None when Python must do them."""
    entries: list[Entry] = []
    moved: list[str] = []  # fields a rename or a removal touches
    named: list[str] = []  # fields every filter names
    for step in steps:
        if isinstance(step, Grep):
            kind, arg = _grep(step)
            entries.append((kind, step.condition.field.encode(), arg))
            named.append(step.condition.field)
        elif isinstance(step, Rename):
            entries.append((RENAME, step.old.encode(), step.new.encode()))
            moved += [step.old, step.new]
            named += [step.old, step.new]
        elif isinstance(step, Remove):
            entries.append((REMOVE, step.field.encode(), None))
            moved.append(step.field)
            named.append(step.field)
        else:
            return None
    for field in moved:
        if sum(overlap(field, other) for other in named) > 1:
            return None
    parents = sorted({parent for field in named for parent in _parents(field)})
    entries = [(PREFIX, parent.encode(), None) for parent in parents] + entries
    return tuple(entries) if len(entries) <= MAX_ENTRIES else None


def _grep(step: Grep) -> tuple[int, Any]:
    """The kind of a --drop/--keep entry and its argument: the value's bytes, the literal a regex
    looks for (``^req``, ``health``: compared as bytes, which UTF-8 makes the same), or the
    regex's search, which the C pass calls on the value's text."""
    pattern, keep = step.condition.pattern, step.keep
    if pattern is None:
        return (KEEP_EXACT if keep else DROP_EXACT), str(step.condition.value).encode()
    literal = literal_search(pattern)
    if literal is None:
        return (KEEP_SEARCH if keep else DROP_SEARCH), pattern.search
    anchored, text = literal
    kind = (KEEP_STARTS if keep else DROP_STARTS) if anchored else (KEEP_CONTAINS if keep else DROP_CONTAINS)
    return kind, text.encode()


def literal_search(pattern: re.Pattern[str]) -> tuple[bool, str] | None:
    """``(anchored, text)`` when searching ``pattern`` is finding a literal text, at the start when
    anchored (``^GET /health``, ``\\Areq``) or anywhere (``health``); else None."""
    if pattern.flags != re.UNICODE:
        return None  # IGNORECASE, MULTILINE (^ after any newline), VERBOSE...
    items = list(sre_parse.parse(pattern.pattern))
    anchored = bool(items) and items[0] in ((sre.AT, sre.AT_BEGINNING), (sre.AT, sre.AT_BEGINNING_STRING))
    rest = items[1:] if anchored else items
    if not rest or any(op is not sre.LITERAL for op, _ in rest):
        return None
    text = "".join(chr(code) for _, code in rest)
    return (anchored, text) if not any(0xD800 <= ord(char) <= 0xDFFF for char in text) else None


def access_preset(parse: Sequence[str], typed: bool) -> int:
    """The preset the C pass parses lines with (0: none): the first parser, if its fields stay."""
    return ACCESS_PRESETS.get(parse[0], 0) if parse and not typed else 0


def overlap(a: str, b: str) -> bool:
    """Whether two field names can reach the same value: equal, or one nested in the other."""
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def _parents(field: str) -> list[str]:
    parts = field.split(".")
    return [".".join(parts[:n]) for n in range(1, len(parts))]
