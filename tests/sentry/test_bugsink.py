"""The harness against the real Bugsink, with the real sentry-sdk: no shipper code is involved."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import sentry_sdk

from . import bugsink as server
from .bugsink import Bugsink, Project

SentryInit = Callable[..., object]


def hex_id(event_id: str) -> str:
    """The SDK says ``3f2a...``, Bugsink's lists ``3f2a...-...``: one form to compare."""
    return uuid.UUID(event_id).hex


def parse_order(text: str) -> int:
    raise ValueError(f"no such order: {text}")


RAISE_LINE = inspect.getsourcelines(parse_order)[1] + 1


def send_error(text: str) -> str:
    try:
        parse_order(text)
    except ValueError as error:
        event_id = sentry_sdk.capture_exception(error)
    assert event_id is not None
    sentry_sdk.flush(timeout=30)
    return event_id


def test_an_exception_is_read_back_with_its_type_value_and_frames(sentry_project: Project, sentry_init: SentryInit) -> None:
    sentry_init(sentry_project.dsn)
    event_id = send_error("42")

    event = sentry_project.wait_for_event(event_id)
    [exception] = event["data"]["exception"]["values"]
    assert (exception["type"], exception["value"]) == ("ValueError", "no such order: 42")
    caller, raiser = exception["stacktrace"]["frames"]  # outermost first, as Sentry orders them
    assert (caller["function"], raiser["function"]) == ("send_error", "parse_order")
    assert Path(raiser["abs_path"]) == Path(__file__)
    assert raiser["lineno"] == RAISE_LINE
    assert raiser["context_line"].strip() == 'raise ValueError(f"no such order: {text}")'
    [issue] = sentry_project.issues()
    assert (issue["calculated_type"], issue["calculated_value"], issue["digested_event_count"]) == ("ValueError", "no such order: 42", 1)


def test_a_message_is_read_back_with_its_level_tags_release_and_environment(sentry_project: Project,
                                                                            sentry_init: SentryInit) -> None:
    sentry_init(sentry_project.dsn, release="web@1.4.2", environment="staging")
    event_id = sentry_sdk.capture_message("disk almost full", level="warning",
                                          tags={"service.name": "web", "trace.id": "4bf92f3577b34da6a3ce929d0e0e4736"})
    assert event_id is not None  # None: the SDK dropped it
    sentry_sdk.flush(timeout=30)

    data = sentry_project.wait_for_event(event_id)["data"]
    assert (data["message"], data["level"], data["release"], data["environment"]) == ("disk almost full", "warning", "web@1.4.2", "staging")
    assert data["tags"] == {"service.name": "web", "trace.id": "4bf92f3577b34da6a3ce929d0e0e4736"}


def test_events_of_two_projects_do_not_mix(bugsink: Bugsink, sentry_project: Project, sentry_init: SentryInit) -> None:
    other = bugsink.new_project(f"other-{uuid.uuid4().hex[:8]}")
    sentry_init(sentry_project.dsn)
    mine = {send_error("1"), send_error("2")}
    sentry_init(other.dsn)
    theirs = {send_error("3")}

    assert {hex_id(event["event_id"]) for event in sentry_project.wait_for_events(2)} == mine
    assert {hex_id(event["event_id"]) for event in other.wait_for_events(1)} == theirs
    assert len(sentry_project.issues()) == 1  # the same error twice is one issue
    with pytest.raises(LookupError):
        other.event(next(iter(mine)))


def test_waiting_for_events_that_do_not_come_fails_showing_what_arrived(sentry_project: Project) -> None:
    with pytest.raises(AssertionError, match=r"still \[\] after 0.3 s"):
        sentry_project.wait_for_events(1, timeout=0.3)


def test_a_project_name_is_unique_in_the_session(bugsink: Bugsink, sentry_project: Project) -> None:
    with pytest.raises(server.BugsinkError, match="unique"):
        bugsink.new_project(sentry_project.name)


@pytest.mark.parametrize("expect_tools", ["", "1"])
def test_a_missing_bugsink_says_how_to_create_it(expect_tools: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Skipped with the command that creates it; failed under SHIPPER_EXPECT_TOOLS=1 (CI)."""
    monkeypatch.setenv("SHIPPER_BUGSINK_VENV", str(tmp_path / "nowhere"))
    monkeypatch.setenv("SHIPPER_EXPECT_TOOLS", expect_tools)
    outcome = pytest.fail.Exception if expect_tools else pytest.skip.Exception
    command = f"python3.11 -m venv {tmp_path}/nowhere && {tmp_path}/nowhere/bin/pip install -q bugsink=={server.VERSION}"
    with pytest.raises(outcome) as raised:
        server.need_bugsink()
    assert str(raised.value).endswith(f"create it with: {command}")


def test_ci_installs_the_bugsink_the_harness_names() -> None:
    """The skip message and .ci/run give the same version: the one the tests were written against."""
    assert f"pip\" install -q bugsink=={server.VERSION} " in (server.REPOSITORY / ".ci" / "run").read_text()
