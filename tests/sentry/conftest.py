"""Fixtures for the Sentry tests: one real Bugsink per session (``bugsink``), a project of its own per test.

``bugsink.new_project(name)`` makes more projects; ``sentry_init`` points this process's sentry-sdk at one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
import sentry_sdk

from . import bugsink as server


@pytest.fixture(scope="session")
def bugsink() -> Iterator[server.Bugsink]:
    """Started once (copying its migrated databases takes milliseconds, migrating them took seconds)."""
    with server.start_bugsink() as running:
        yield running


@pytest.fixture
def sentry_project(bugsink: server.Bugsink, request: pytest.FixtureRequest) -> server.Project:
    """A project no other test sends to, named after the test: send to its ``dsn``, read back its events."""
    return bugsink.new_project(f"{server.project_name(request.node.name)}-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def sentry_init() -> Iterator[Callable[..., object]]:
    """``sentry_init(dsn, **options)``: sentry-sdk in this process, sending to ``dsn``; reset when the test ends.

    No integrations are set up unless a test asks for them (``integrations=[...]``): the default and the
    auto-enabling ones would patch logging, Django, Flask... for the rest of the session. At the end the
    client is closed (which sends what is queued) and the scopes are emptied: tags do not leak into the
    next test.
    """
    def init(dsn: str, **options: object) -> object:
        return sentry_sdk.init(dsn=dsn, default_integrations=False, auto_enabling_integrations=False,
                               **options)  # type: ignore[arg-type]

    yield init
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)
    for scope in (sentry_sdk.get_global_scope(), sentry_sdk.get_isolation_scope(), sentry_sdk.get_current_scope()):
        scope.clear()
