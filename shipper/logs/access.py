"""HTTP access records as fields, for the servers' access loggers (gunicorn, uvicorn).

The values come from the server's own data (never from its text template), so a quote in a
header can neither break nor forge the JSON. ECS names nest (``http.request.method``); the
flat schema uses short keys.
"""

from __future__ import annotations

import logging
import os
from typing import Any, NamedTuple


class Access(NamedTuple):
    method: str | None
    path: str | None
    query: str | None
    status: int | str | None
    bytes: int | None
    duration_us: int | None
    remote: str | None
    user_agent: str | None
    request_id: str | None

    @property
    def message(self) -> str:
        return " ".join(str(v or "-") for v in (self.method, self.path, self.status))


_ECS = ("http.request.method", "url.path", "url.query", "http.response.status_code",
        "http.response.body.bytes", "event.duration", "client.address", "user_agent.original",
        "http.request.id")
_FLAT = ("method", "path", "query", "status", "bytes", "duration_ms", "remote_addr", "user_agent",
         "request_id")


def is_flat(schema: str | None) -> bool:
    return (schema or os.environ.get("LOG_SCHEMA") or "ecs") == "flat"


def fields(access: Access, flat: bool) -> dict[str, Any]:
    """The access record's fields; ECS durations are in nanoseconds, flat ones in milliseconds."""
    values: list[Any] = list(access)
    if access.duration_us is not None:
        values[5] = access.duration_us / 1000 if flat else access.duration_us * 1000
    return {k: v for k, v in zip(_FLAT if flat else _ECS, values, strict=True) if v not in (None, "")}


def annotate(record: logging.LogRecord, access: Access, flat: bool) -> None:
    """Put the fields on the record (as ``extra=`` would) and make its message short."""
    record.__dict__.update(fields(access, flat))
    record.msg, record.args = access.message, None


class UvicornAccessFields(logging.Filter):
    """uvicorn's access record (``'%s - "%s %s HTTP/%s" %d'``) as fields."""

    def __init__(self, schema: str | None = None) -> None:
        super().__init__()
        self._flat = is_flat(schema)

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            client, method, full_path, _, status = args
            path, _, query = str(full_path).partition("?")
            remote = str(client).rsplit(":", 1)[0] if client else None
            code = status if isinstance(status, int) else None
            annotate(record, Access(str(method), path, query or None, code, None, None, remote, None, None),
                     self._flat)
        return True
