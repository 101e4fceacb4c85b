"""Fields bound to the current context, added to every record logged in it.

A ``contextvars.ContextVar`` holds them, so each thread and each asyncio task sees its own:
a request id bound while one request is handled never shows up in another's records.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any

_NONE: Mapping[str, Any] = MappingProxyType({})
_fields: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar("shipper_fields", default=_NONE)


def bind(**fields: Any) -> None:
    """Add ``fields`` to every record logged from now on in the current context."""
    _fields.set({**_fields.get(), **fields})


def unbind(*keys: str) -> None:
    """Stop adding ``keys`` in the current context."""
    _fields.set({k: v for k, v in _fields.get().items() if k not in keys})


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Add ``fields`` to the records logged inside the ``with`` block only."""
    token = _fields.set({**_fields.get(), **fields})
    try:
        yield
    finally:
        _fields.reset(token)


def current() -> Mapping[str, Any]:
    """The fields bound in the current context."""
    return _fields.get()
