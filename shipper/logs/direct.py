"""Shipping records straight to Fluentd, for apps not run under logwrap (``SHIPPER_TO``).

fluent-logger's asynchronous handler does the sending on its own thread, so a log call never
waits for the network. What shipper adds: a bounded queue that drops its oldest record when
full (never blocking the app), every record it cannot deliver written to stderr as a JSON
line (so the supervisor's log keeps it), and one warning when Fluentd cannot be reached,
with a note when it can again.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from typing import Any

import msgpack
from fluent import asynchandler, asyncsender

from ..errors import ConfigError
from ..forward.address import parse_address
from .formatter import JsonFormatter

QUEUE_RECORDS = 10_000
BUFFER_BYTES = 8 * 1024 * 1024  # kept for resending while Fluentd is away, then spilled


def spill(packed: bytes) -> None:
    """Write the records of packed ``[tag, time, record]`` messages to stderr as JSON lines."""
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    unpacker.feed(packed)
    for message in unpacker:
        record = message[2] if isinstance(message, list) and len(message) >= 3 else message
        sys.stderr.write(json.dumps(record, default=repr, ensure_ascii=False) + "\n")
    sys.stderr.flush()


class _Sender(asyncsender.FluentSender):  # type: ignore[misc]
    """fluent-logger's sender, telling once when Fluentd is unreachable."""

    def __init__(self, *args: Any, warn: Callable[[str], None], url: str, **kwargs: Any) -> None:
        self._warn = warn
        self._url = url
        self._unreachable = False
        super().__init__(*args, **kwargs)

    def _reconnect(self) -> None:
        try:
            super()._reconnect()
        except Exception as exc:
            if not self._unreachable:
                self._unreachable = True
                self._warn(f"cannot reach Fluentd at {self._url} ({exc}); records wait in memory "
                           f"(up to {BUFFER_BYTES // 2**20} MiB), then go to stderr as JSON lines")
            raise
        if self._unreachable:
            self._unreachable = False
            self._warn(f"Fluentd at {self._url} is reachable again")

    def close(self, flush: bool = True) -> None:
        """fluent-logger's asynchronous close drops what could not be sent: one last try, then stderr."""
        super().close(flush)
        pending: bytes | None = self.pendings  # type: ignore[has-type]
        self.pendings = None
        if pending:
            try:
                self._send_data(pending)
            except Exception:
                spill(pending)
            finally:
                self._close()


class _Documents(logging.Formatter):
    """fluent-logger's handler wants each record as a dict: the JSON formatter's document."""

    def __init__(self, formatter: JsonFormatter) -> None:
        super().__init__()
        self._formatter = formatter

    def format(self, record: logging.LogRecord) -> Any:  # type: ignore[override]
        return self._formatter.document(record)


class DirectHandler(asynchandler.FluentHandler):  # type: ignore[misc]
    def __init__(self, url: str, tag: str, formatter: JsonFormatter, warn: Callable[[str], None]) -> None:
        address = parse_address(url)
        if address.scheme == "tls":
            raise ConfigError(f"SHIPPER_TO={url!r}: direct shipping speaks tcp:// and unix:// only; "
                              "for TLS run the app under logwrap")
        host = f"unix://{address.path}" if address.is_unix else address.host
        super().__init__(tag, host=host, port=address.port, timeout=3.0, nanosecond_precision=True,
                         buffer_overflow_handler=spill, bufmax=BUFFER_BYTES, queue_maxsize=QUEUE_RECORDS,
                         queue_circular=True, queue_overflow_handler=spill, warn=warn, url=str(address))
        self.setFormatter(_Documents(formatter))

    def getSenderClass(self) -> type:
        return _Sender
