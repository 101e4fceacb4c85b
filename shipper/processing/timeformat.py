"""Times written with a strftime format, to the RFC 3339 UTC strings logwrap reads (sans-I/O).

``--time-format`` names how a parsed time field is written (nginx's ``$time_local`` is
``%d/%b/%Y:%H:%M:%S %z``); ``TimeFormat.convert`` turns such a value into
``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``, which logwrap's time handling (``shipper.timeparse``) then
takes as the event time. Converting here, and not teaching logwrap every format, keeps one reader
of event times.

A format with no zone directive (``%z``, ``%Z``) means local time, as Python's ``asctime`` and
nginx's ``$time_local`` without a zone are: the machine's zone (``TZ``) that runs logwrap is the
one the service wrote with. A value that does not match the format gives None, and the caller
leaves it as it was (the time the line was read becomes the event time): a time is never
guessed.

The format is checked when logwrap starts: it must have a directive, and it must read back a
time it writes (``%s``, ``%Q`` and a ``%G`` without ``%V`` do not), so a typo is a usage error
(exit 64) and not every line silently keeping its read time.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from ..errors import ConfigError

_DIRECTIVE = re.compile(r"%[^%]")
_SAMPLE = datetime(2001, 2, 3, 4, 5, 6, 789000, tzinfo=timezone.utc)


def quoted(text: str) -> str:
    """``text`` as a shell word in single quotes, so an error message shows the flag as typed."""
    return "'" + text.replace("'", "'\\''") + "'"


class TimeFormat:
    """One strftime format, checked at start; ``convert`` reads values written with it."""

    def __init__(self, fmt: str, flag: str = "--time-format") -> None:
        if not _DIRECTIVE.search(fmt.replace("%%", "")):
            raise ConfigError(f"{flag} {quoted(fmt)}: the format has no directive (such as %Y, %H, %z)")
        try:
            datetime.strptime(_SAMPLE.strftime(fmt), fmt)
        except ValueError as exc:
            raise ConfigError(f"{flag} {quoted(fmt)}: {exc}") from exc
        self.format = fmt
        # Lines of one second share their time (an access log's has no fraction): one entry of
        # cache saves strptime, the costly part, for all but the first of them.
        self._last: tuple[str | None, str | None] = (None, None)

    def convert(self, value: str) -> str | None:
        """``value`` as an RFC 3339 UTC string, or None when it is not written with the format."""
        last_value, last_result = self._last
        if value == last_value:
            return last_result
        result = self._convert(value)
        self._last = (value, result)
        return result

    def _convert(self, value: str) -> str | None:
        try:
            moment = datetime.strptime(value, self.format)
            # A naive time is local time: astimezone() reads it so (mktime), DST included.
            utc = moment.astimezone(timezone.utc)
        except (ValueError, OverflowError, OSError):  # not the format; a year mktime cannot take
            return None
        text = (f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}"
                f"T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}")
        if utc.microsecond:
            text += f".{utc.microsecond:06d}"
        return text + "Z"
