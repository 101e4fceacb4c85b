"""The handler that writes one JSON line per record to stdout, and never raises into the app.

Each record is written and flushed on its own, so a reader (logwrap, Docker, a terminal) sees
it at once and two records never share a line. The stream is looked up at each write unless
one was given, so ``contextlib.redirect_stdout`` and test capture work. If stdout is closed
or its reader is gone, the handler says so once on stderr and drops records from then on.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO


class LineHandler(logging.Handler):
    def __init__(self, stream: TextIO | None = None, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.stream = stream
        self.broken = False

    def emit(self, record: logging.LogRecord) -> None:
        if self.broken:
            return
        line = self.format(record) + "\n"
        stream = self.stream or sys.stdout
        try:
            stream.write(line)
            stream.flush()
        except (OSError, ValueError, AttributeError) as exc:  # closed, broken pipe, or None
            self.broken = True
            _note(f"shipper: stopped logging to stdout: {exc}")


def _note(text: str) -> None:
    try:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass  # stderr is gone as well: nothing left to tell
