"""Uncaught exceptions as log records: ``sys.excepthook`` and ``threading.excepthook``.

asyncio needs no hook: its default exception handler logs to the ``asyncio`` logger with
``exc_info``, which the root handler formats like any record. KeyboardInterrupt keeps the
interpreter's own hook (Ctrl-C in a terminal should look like Ctrl-C).
"""

from __future__ import annotations

import logging
import sys
import threading
from types import TracebackType
from typing import Any

_logger = logging.getLogger("shipper.uncaught")
_saved: dict[str, Any] = {}


def install() -> None:
    if not _saved:
        _saved.update(sys=sys.excepthook, threading=threading.excepthook)
    sys.excepthook = _uncaught
    threading.excepthook = _uncaught_in_thread


def uninstall() -> None:
    if _saved:
        sys.excepthook = _saved.pop("sys")
        threading.excepthook = _saved.pop("threading")


def _uncaught(kind: type[BaseException], value: BaseException, traceback: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        _saved.get("sys", sys.__excepthook__)(kind, value, traceback)
        return
    _logger.critical("uncaught exception", exc_info=(kind, value, traceback))


def _uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit or args.exc_value is None:
        return
    name = args.thread.name if args.thread is not None else "?"
    _logger.error("uncaught exception in thread %s", name,
                  exc_info=(args.exc_type, args.exc_value, args.exc_traceback))
