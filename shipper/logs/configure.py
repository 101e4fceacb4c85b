"""``setup_logging``: the root logger writes shipper's JSON lines (and ships them, if asked).

Configuration comes from the arguments, else the environment: LOG_LEVEL (default INFO),
LOG_SCHEMA (ecs or flat), SERVICE_NAME / SERVICE_VERSION / SERVICE_ENVIRONMENT,
LOG_REDACT_KEYS (comma-separated; replaces the default list), SHIPPER_TO, SHIPPER_TAG and
SENTRY_DSN. Calling it again replaces what the last call installed; ``reset_logging`` removes it.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, TextIO

from ..errors import ConfigError
from ..sentry.options import check_dsn
from . import hooks
from .formatter import JsonFormatter
from .redact import DEFAULT_KEYS, Redactor
from .schema import Service, check_schema
from .stdout import LineHandler

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_installed: list[logging.Handler] = []
_previous_level: list[int] = []
_stop_sentry: list[Callable[[], None]] = []


def setup_logging(level: str | int | None = None, schema: str | None = None, service: str | None = None,
                  stream: TextIO | None = None, to: str | None = None, *, service_version: str | None = None,
                  environment: str | None = None, redact_keys: Iterable[str] | None = None,
                  tag: str | None = None, sentry_dsn: str | None = None) -> None:
    """Make the root logger write one JSON object per line to stdout (or ``stream``).

    With ``sentry_dsn`` (else SENTRY_DSN), errors logged also go to Sentry (``shipper.logs.sentry``).
    """
    formatter = make_formatter(schema, service, service_version, environment, redact_keys)
    start_sentry = _sentry_starter(sentry_dsn or os.environ.get("SENTRY_DSN"))
    handlers: list[logging.Handler] = [LineHandler(stream)]
    handlers[0].setFormatter(formatter)
    to = to or os.environ.get("SHIPPER_TO")
    if to:
        from .direct import DirectHandler  # fluent-logger is only needed when shipping directly

        service_name = formatter.service.name
        handlers.append(DirectHandler(to, tag or os.environ.get("SHIPPER_TAG") or service_name or "app",
                                      formatter, warn=_warn_with(formatter)))
    resolved = level_of(level if level is not None else os.environ.get("LOG_LEVEL", "INFO"))
    reset_logging()
    root = logging.getLogger()
    _previous_level.append(root.level)
    root.setLevel(resolved)
    for handler in handlers:
        root.addHandler(handler)
    _installed.extend(handlers)
    if start_sentry is not None:  # before our excepthook, which then logs an uncaught exception: one event
        _stop_sentry.append(start_sentry(formatter.service, formatter.redactor))
    logging.captureWarnings(True)
    hooks.install()


def reset_logging() -> None:
    """Remove what ``setup_logging`` installed and restore what it changed."""
    root = logging.getLogger()
    for handler in _installed:
        root.removeHandler(handler)
        handler.close()
    _installed.clear()
    while _stop_sentry:
        _stop_sentry.pop()()
    if _previous_level:
        root.setLevel(_previous_level.pop())
        logging.captureWarnings(False)
        hooks.uninstall()


def make_formatter(schema: str | None = None, service: str | None = None, service_version: str | None = None,
                   environment: str | None = None, redact_keys: Iterable[str] | None = None) -> JsonFormatter:
    if redact_keys is None:
        configured = os.environ.get("LOG_REDACT_KEYS")
        redact_keys = configured.split(",") if configured is not None else DEFAULT_KEYS
    return JsonFormatter(check_schema(schema or os.environ.get("LOG_SCHEMA") or "ecs"),
                         Service.from_environment(service, service_version, environment), redact_keys)


def logging_config(level: str | int | None = None, schema: str | None = None,
                   service: str | None = None) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dict for frameworks configured that way (Django's
    LOGGING, uvicorn's ``log_config`` or ``--log-config`` file, gunicorn's logconfig_dict): the
    same JSON lines on stdout, every framework logger propagating to the root. It holds only
    plain values, so it can also be written out as JSON (``shipper logging-config``)."""
    framework_loggers = ("gunicorn.error", "gunicorn.access", "uvicorn", "uvicorn.error", "uvicorn.access",
                         "django", "django.server", "django.request", "werkzeug")
    loggers: dict[str, Any] = {name: {"handlers": [], "propagate": True} for name in framework_loggers}
    loggers["uvicorn.access"]["filters"] = ["uvicorn_access"]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "shipper.logs.configure.make_formatter", "schema": schema,
                                "service": service}},
        "filters": {"uvicorn_access": {"()": "shipper.logs.access.UvicornAccessFields", "schema": schema}},
        "handlers": {"stdout": {"()": "shipper.logs.stdout.LineHandler", "formatter": "json"}},
        "root": {"handlers": ["stdout"], "level": level_of(level or os.environ.get("LOG_LEVEL", "INFO"))},
        "loggers": loggers,
    }


def level_of(level: str | int) -> int:
    if isinstance(level, int) or (isinstance(level, str) and level.isdigit()):
        return int(level)
    name = str(level).strip().upper()
    if name not in LEVELS:
        raise ConfigError(f"log level {level!r} (LOG_LEVEL or level=): use one of {', '.join(LEVELS)}")
    return logging.getLevelName(name)  # type: ignore[no-any-return]


def _sentry_starter(dsn: str | None) -> Callable[[Service, Redactor], Callable[[], None]] | None:
    """What starts sentry-sdk for ``dsn``, checked before anything is set up; None without a DSN.

    sentry-sdk is an optional dependency: it is imported here, only when a DSN is set.
    """
    if not dsn:
        return None
    try:
        from . import sentry
    except ModuleNotFoundError as exc:
        raise ConfigError("a Sentry DSN is set (SENTRY_DSN or sentry_dsn=) but sentry-sdk is not installed: "
                          "pip install sentry-sdk") from exc
    check_dsn(dsn, "SENTRY_DSN (or sentry_dsn=)")  # before anything is set up: sentry-sdk would fail half-way
    return partial(sentry.start, dsn)


def _warn_with(formatter: JsonFormatter):  # type: ignore[no-untyped-def]
    """Warnings about shipping go to stderr as JSON lines, never back into the shipped stream."""
    def warn(text: str) -> None:
        record = logging.LogRecord("shipper.direct", logging.WARNING, __file__, 0, text, (), None)
        sys.stderr.write(formatter.format(record) + "\n")
        sys.stderr.flush()
    return warn
