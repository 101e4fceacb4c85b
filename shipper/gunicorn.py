"""gunicorn in JSON: ``gunicorn -c python:shipper.gunicorn app:wsgi``.

As a config module it sets ``logger_class`` to ``JsonLogger``, turns the access log on and
runs ``setup_logging()`` so the app's own records come out in the same schema.
``JsonLogger`` keeps gunicorn's own handlers (error log on stderr, access log on stdout) with
shipper's JSON formatter, and ``AccessFields`` turns each access record into fields — method,
path, query, status, bytes, duration, remote address, user agent, request id — taken from
gunicorn's values, never from a text template, so a quote in a header cannot break or forge
the JSON. With ``logconfig_dict = shipper.gunicorn.json_logconfig()`` instead, the same
records go through the root logger.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from gunicorn import glogging

from .logs import access, configure

logger_class = "shipper.gunicorn.JsonLogger"
accesslog = "-"
configure.setup_logging()  # the app's own loggers write the same JSON lines, on stdout

class AccessFields(logging.Filter):
    """A gunicorn access record's values as fields, and a short message ("GET /path 200")."""

    def __init__(self, schema: str | None = None) -> None:
        super().__init__()
        self._flat = access.is_flat(schema)

    def filter(self, record: logging.LogRecord) -> bool:
        atoms = record.args
        if record.name == "gunicorn.access" and isinstance(atoms, Mapping):
            access.annotate(record, access_of(atoms, escaped=type(atoms) is glogging.SafeAtoms), self._flat)
        return True


def access_of(atoms: Mapping[str, Any], escaped: bool) -> access.Access:
    """gunicorn's atoms (unescaped again when gunicorn escaped them for its text template)."""
    def text(key: str) -> str | None:
        value = atoms.get(key)
        if value is None or value == "-":
            return None
        value = str(value)
        return value.replace('\\"', '"') if escaped else value

    micros = atoms.get("D")
    status = text("s")
    request_line = (text("r") or "").split(" ")  # "GET /path?q HTTP/1.1": the path when PATH_INFO is gone
    path = text("U") or (request_line[1].partition("?")[0] if len(request_line) > 1 else None)
    return access.Access(text("m"), path, text("q"), int(status) if status and status.isdigit() else status,
                         atoms.get("B"), micros if isinstance(micros, int) else None, text("h"), text("a"),
                         text("{x-request-id}i"))


class _RawAtoms(glogging.SafeAtoms):
    """gunicorn's atoms without the quote escaping its text template needs."""

    def __init__(self, atoms: Mapping[str, Any]) -> None:
        dict.__init__(self, atoms)


class JsonLogger(glogging.Logger):  # type: ignore[misc]
    atoms_wrapper_class = _RawAtoms

    def _set_handler(self, log: logging.Logger, output: str | None, fmt: logging.Formatter,
                     stream: Any = None) -> None:
        formatter = configure.make_formatter()
        super()._set_handler(log, output, formatter, stream)
        handler = self._get_gunicorn_handler(log)
        if handler is not None and log is self.access_log:
            handler.addFilter(AccessFields(formatter.schema))


def json_logconfig(level: str | None = None) -> dict[str, Any]:
    """For ``logconfig_dict``: shipper's JSON lines through the root logger, access fields included."""
    config = configure.logging_config(level)
    config["filters"]["gunicorn_access"] = {"()": "shipper.gunicorn.AccessFields"}
    config["loggers"]["gunicorn.access"]["filters"] = ["gunicorn_access"]
    return config
