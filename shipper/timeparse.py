"""Event times found in records: ISO 8601 / RFC 3339 strings or epoch numbers, to nanoseconds.

Epoch numbers are read by magnitude (as Vector and Fluent Bit do): below 1e11 seconds,
below 1e14 milliseconds, below 1e17 microseconds, else nanoseconds. Anything else gives
``None`` and the caller keeps the time the line was read.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

_NS = 1_000_000_000
_FRACTION = re.compile(r"[.,](\d+)")
_UTC_SUFFIX = re.compile(r"(?i)z$")


def parse_time(value: object) -> int | None:
    """Nanoseconds since the epoch for ``value``, or None when it is not a time."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return _from_epoch(value)
    if isinstance(value, str):
        return _from_iso(value.strip())
    return None


def _from_epoch(value: int | float) -> int | None:
    if not 0 <= value < 1e20:  # NaN and infinities fail this too
        return None
    for limit, scale in ((1e11, _NS), (1e14, 1_000_000), (1e17, 1_000)):
        if value < limit:
            whole = int(value)  # scale the whole part exactly; a float only for the fraction
            return whole * scale + round((value - whole) * scale)
    return int(value)


def _from_iso(text: str) -> int | None:
    match = _FRACTION.search(text)
    nanos = 0
    if match:
        digits = match.group(1)
        nanos = int(digits[:9].ljust(9, "0"))
        text = text[: match.start()] + text[match.end() :]
    try:
        moment = datetime.fromisoformat(_UTC_SUFFIX.sub("+00:00", text))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp()) * _NS + nanos


class TimeParser:
    """Event times for records, with a fast path for "YYYY-MM-DDTHH:MM:SS[.fff]Z".

    Log lines of one second share their first 19 characters, so their epoch seconds come
    from a small cache and only the fraction is converted per line; every other shape goes
    through ``parse_time``, which also fills the cache.
    """

    def __init__(self, cache_size: int = 4096) -> None:
        self._seconds: dict[str, int] = {}  # "YYYY-MM-DDTHH:MM:SS" -> its epoch seconds
        self._cache_size = cache_size

    def parse(self, value: object) -> int | None:
        """Nanoseconds for ``value`` (as ``parse_time`` reads it), or None."""
        if type(value) is str and value[-1:] == "Z":
            head, dot, digits = value[:-1].partition(".")
            second = self._seconds.get(head)
            if second is not None and not dot:  # whole seconds, as parsed access lines have
                return second * _NS
            if second is not None and digits.isascii() and digits.isdigit() and len(digits) <= 9:
                return second * _NS + int(digits) * _SCALE[len(digits)]
        return self._slow(value)

    def _slow(self, value: object) -> int | None:
        ns = parse_time(value)
        if ns is not None and type(value) is str and len(value) > 19 and value[10] in "T ":
            whole = parse_time(value[:19] + "Z")
            if whole is not None and len(self._seconds) < self._cache_size:
                self._seconds[value[:19]] = whole // _NS
        return ns


_SCALE = [10 ** (9 - digits) for digits in range(10)]
