"""Spotting regexes that can backtrack for exponential time: a repeat inside a repeat (sans-I/O).

Python's ``re`` has no timeout, and a search runs on logwrap's event loop: ``(\\w+\\s?)+$`` on a
long line that does not match can take minutes, and while it runs logwrap reads nothing (the
child blocks on its full pipe; no line is lost). Most such patterns have one shape, an
unbounded repeat of something that itself repeats, so logwrap warns about that shape at start.
Possessive repeats and atomic groups (Python 3.11) cannot backtrack and are not flagged.
"""

from __future__ import annotations

from typing import Any

try:
    from re import _constants as sre  # type: ignore[attr-defined]
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # Python 3.10
    import sre_constants as sre  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

_REPEATS = {sre.MAX_REPEAT, sre.MIN_REPEAT}


def nested_repeat(pattern: str) -> bool:
    """Whether ``pattern`` (already known to compile) repeats, without bound, a repeat."""
    return _scan(sre_parse.parse(pattern), inside=False)


def _scan(items: Any, inside: bool) -> bool:
    for op, av in items:
        if op in _REPEATS:
            low, high, body = av
            if inside and high > 1:
                return True
            if _scan(body, inside or high == sre.MAXREPEAT):
                return True
        elif op is sre.SUBPATTERN and _scan(av[-1], inside):
            return True
        elif op is sre.BRANCH and any(_scan(branch, inside) for branch in av[1]):
            return True
    return False
