"""logwrap --sentry-dsn with real children, read back from the real Bugsink, field by field.

Each child is a script written to ``tmp_path`` (tests/sentry/children.py), run under the real logwrap
with its default flags and a Forward receiver. logwrap has sent all it will once it exits: its summary
line says how many events Sentry took, and Bugsink digests an event before it answers, so the project
then holds every one of them. What the SDK sent is an event's ``["data"]``.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import shipper.demo_app
from shipper.sentry.event import _NAMESPACE
from shipper.testing import ForwardReceiver

from ..logs.test_configure import _base_env
from ..processes import LOGWRAP
from . import children
from .bugsink import OPENER, Json, Project
from .children import Script

SERVICE = {"SERVICE_VERSION": "2.0.1", "SERVICE_ENVIRONMENT": "staging"}
needs_groups = pytest.mark.skipif(sys.version_info < (3, 11), reason="exception groups are new in Python 3.11")
NAME = Path(sys.executable).name  # the command's base name: logwrap's tag, the crash event's subject
SUMMARY = re.compile(r"sentry: (\d+) events sent, (\d+) dropped")


@dataclass
class Wrapped:
    """A child's run under logwrap: how it ended, what the receiver got, what Bugsink stored."""

    status: int
    stderr: str
    records: list[dict[Any, Any]]
    events: list[Json]  # each event's data as sent, in the order Bugsink digested them

    def event(self, level: str) -> Json:
        """The one event of ``level`` (error: a traceback's; fatal: the crash's)."""
        [event] = [data for data in self.events if data["level"] == level]
        return event

    def record(self, predicate: str) -> dict[Any, Any]:
        [record] = [record for record in self.records if predicate in record]
        return record


def environment(**more: str) -> dict[str, str]:
    """logwrap's environment, and so its child's: nothing of the tests' own LOG_/SERVICE_/SENTRY_ settings."""
    return {**_base_env(), **SERVICE, **more}


def sent(stderr: str) -> int:
    """How many events logwrap's summary line says Sentry took; the line must be there."""
    found = SUMMARY.search(stderr)
    assert found, stderr
    return int(found[1])


def stored(project: Project, count: int) -> list[Json]:
    return [project.event(event["event_id"])["data"] for event in project.wait_for_events(count)]


def wrap(project: Project, receiver: ForwardReceiver, folder: Path, script: Script, *flags: str,
         args: tuple[str, ...] = (), modules: tuple[Script, ...] = (), env: dict[str, str] | None = None) -> Wrapped:
    """``script ARGS`` (with the ``modules`` it imports) in ``folder``, run to its end under logwrap."""
    for module in modules:
        module.write(folder)
    command = [*LOGWRAP, "--to", receiver.url, "--sentry-dsn", project.dsn, *flags,
               "--", sys.executable, str(script.write(folder)), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=folder,
                          env=env or environment())
    return Wrapped(done.returncode, done.stderr, receiver.records, stored(project, sent(done.stderr)))


def in_app(value: Json) -> list[tuple[Path, int, str]]:
    """The app's own frames of an exception value, outermost first: file, line, function."""
    return [(Path(frame["abs_path"]), frame["lineno"], frame["function"])
            for frame in value["stacktrace"]["frames"] if frame["in_app"]]


def crumbs(event: Json) -> list[tuple[str, str, str]]:
    return [(crumb["category"], crumb["level"], crumb["message"]) for crumb in event["breadcrumbs"]["values"]]


def event_id_of(record: dict[Any, Any]) -> str:
    """The id logwrap gives the event of the record: derived from the record's own id."""
    return uuid.uuid5(_NAMESPACE, record["event.id"]).hex


# The demo app: GET /checkout raises RuntimeError from TimeoutError, and wsgiref prints it.

DEMO = Script(Path(shipper.demo_app.__file__).read_text())


def test_the_demo_apps_chained_traceback_is_one_event_with_both_exceptions_oldest_first(
        sentry_project: Project, forward_receiver: ForwardReceiver, spawn: Any) -> None:
    logwrap = spawn([*LOGWRAP, "--to", forward_receiver.url, "--sentry-dsn", sentry_project.dsn,
                     "--", sys.executable, "-m", "shipper.demo_app", "--port", "0"],
                    stderr=subprocess.PIPE, text=True, env=environment())
    listening = forward_receiver.wait_until(lambda event: event.record.get("message") == "listening")
    with pytest.raises(urllib.error.HTTPError, match="500"):
        OPENER.open(f"http://127.0.0.1:{listening.record['port']}/checkout", timeout=10)
    record = forward_receiver.wait_until(lambda event: "error.stack_trace" in event.record).record
    logwrap.send_signal(signal.SIGTERM)  # the app exits 0 on TERM: no crash
    _, stderr = logwrap.communicate(timeout=30)

    assert logwrap.returncode == 0, stderr
    [data] = stored(sentry_project, sent(stderr))
    timeout, runtime = data["exception"]["values"]
    assert (timeout["type"], timeout["value"]) == ("TimeoutError", "payment gateway did not answer in 2.0s")
    assert (runtime["type"], runtime["value"]) == ("RuntimeError", "checkout failed")
    demo = Path(shipper.demo_app.__file__)
    assert in_app(timeout) == [(demo, DEMO.line("charge()"), "app"),
                               (demo, DEMO.line('raise TimeoutError('), "charge")]
    assert in_app(runtime) == [(demo, DEMO.line('raise RuntimeError('), "app")]  # under wsgiref's frames
    assert timeout["stacktrace"]["frames"][-1]["context_line"] == 'raise TimeoutError("payment gateway did not answer in 2.0s")'
    assert (data["level"], data["event_id"]) == ("error", event_id_of(record))
    assert data["tags"] == {"stream": "stderr", "event.id": record["event.id"]}
    assert (data["release"], data["environment"]) == ("2.0.1", "staging")


# An exception group, a SyntaxError.

@needs_groups
def test_an_uncaught_exception_group_is_one_event_with_its_sub_exceptions_before_the_group(
        sentry_project: Project, forward_receiver: ForwardReceiver, tmp_path: Path) -> None:
    script = children.EXCEPTION_GROUP
    run = wrap(sentry_project, forward_receiver, tmp_path, script)

    data = run.event("error")
    second, first, group = data["exception"]["values"]  # as sentry-sdk orders them: the group last
    assert [(value["type"], value["value"]) for value in (second, first, group)] == [
        ("TypeError", "price is not a number"), ("ValueError", "no items"), ("ExceptionGroup", "order is invalid")]
    assert (group["mechanism"]["exception_id"], group["mechanism"]["is_exception_group"]) == (0, True)
    assert "logentry" not in data  # the record's message is only the group's last line
    assert [(value["mechanism"]["exception_id"], value["mechanism"]["parent_id"], value["mechanism"]["source"])
            for value in (second, first)] == [(2, 0, "exceptions[1]"), (1, 0, "exceptions[0]")]
    app = tmp_path / "app.py"
    assert in_app(group) == [(app, script.line("validate()"), "<module>"),
                             (app, script.line("raise ExceptionGroup("), "validate")]
    record = run.record("error.stack_trace")
    assert (data["event_id"], data["tags"]) == (event_id_of(record), {"stream": "stderr", "event.id": record["event.id"]})


@needs_groups
def test_a_child_that_dies_of_an_uncaught_exception_group_is_a_crash_event_carrying_the_group(
        sentry_project: Project, forward_receiver: ForwardReceiver, tmp_path: Path) -> None:
    run = wrap(sentry_project, forward_receiver, tmp_path, children.EXCEPTION_GROUP)

    assert run.status == 1
    crash = run.event("fatal")
    assert crash["logentry"]["message"] == f"{NAME} exited with status 1"
    assert crash["tags"]["exit_status"] == "1"
    assert crash["exception"] == run.event("error")["exception"]
    assert crumbs(crash) == [("stdout", "info", "validating the order"),
                             ("stderr", "error", "ExceptionGroup: order is invalid (2 sub-exceptions)")]


def test_a_syntax_error_at_import_is_an_event_with_the_import_and_the_bad_line_as_frames(
        sentry_project: Project, forward_receiver: ForwardReceiver, tmp_path: Path) -> None:
    script, module = children.IMPORTS_BROKEN_MODULE, children.BROKEN_MODULE
    run = wrap(sentry_project, forward_receiver, tmp_path, script, modules=(module,))

    [value] = run.event("error")["exception"]["values"]
    assert (value["type"], value["value"]) == ("SyntaxError", "invalid syntax (pricing.py, line 1)")
    importer, bad_line = value["stacktrace"]["frames"]
    assert (Path(importer["abs_path"]), importer["lineno"], importer["function"]) == (
        tmp_path / "app.py", script.line("import pricing"), "<module>")
    assert (Path(bad_line["abs_path"]), bad_line["lineno"], bad_line["context_line"]) == (
        tmp_path / "pricing.py", module.line("def total(:"), "def total(:")


# Crashes: a segfault, a non-zero exit, SIGKILL.

def test_a_segfault_is_one_crash_event_with_the_frames_of_faulthandlers_dump(
        sentry_project: Project, forward_receiver: ForwardReceiver, tmp_path: Path) -> None:
    script = children.SEGFAULT
    run = wrap(sentry_project, forward_receiver, tmp_path, script)

    assert run.status == 128 + signal.SIGSEGV
    [crash] = run.events  # the dump is the crash's exception, not an event of its own
    assert (crash["level"], crash["logentry"]["message"]) == ("fatal", f"{NAME} was killed by SIGSEGV")
    [value] = crash["exception"]["values"]
    assert (value["type"], value["value"]) == ("SIGSEGV", "Fatal Python error: Segmentation fault")
    app = tmp_path / "app.py"
    assert in_app(value) == [(app, script.line("read_cache()"), "<module>"),
                             (app, script.line("ctypes.string_at(0)"), "read_cache")]
    assert value["stacktrace"]["frames"][-1]["function"] == "string_at"  # ctypes', not the app's
    dump = run.record("error.stack_trace")
    assert crash["tags"] == {"signal": "SIGSEGV", "stream": "stderr", "event.id": dump["event.id"]}


def test_a_segfaults_crash_event_has_the_lines_printed_before_as_breadcrumbs(
        sentry_project: Project, forward_receiver: ForwardReceiver, tmp_path: Path) -> None:
    run = wrap(sentry_project, forward_receiver, tmp_path, children.SEGFAULT)

    assert crumbs(run.event("fatal")) == [("stdout", "info", "reading the cache"),
                                          ("stderr", "info", "cache file is short"),
                                          ("stderr", "fatal", "Fatal Python error: Segmentation fault")]


def test_a_non_zero_exit_with_no_traceback_is_a_crash_event_with_its_status_and_breadcrumbs(
        sentry_project: Project, forward_receiver: ForwardReceiver, tmp_path: Path) -> None:
    run = wrap(sentry_project, forward_receiver, tmp_path, children.EXIT_3)

    assert run.status == 3
    [crash] = run.events
    assert (crash["level"], crash["logentry"]["message"]) == ("fatal", f"{NAME} exited with status 3")
    assert crash["tags"] == {"exit_status": "3"}
    assert "exception" not in crash
    assert crumbs(crash) == [("stdout", "info", "checking the config"),
                             ("stdout", "warning", "no database url"),
                             ("stderr", "info", "giving up")]
    times = [crumb["timestamp"] for crumb in crash["breadcrumbs"]["values"]]
    assert times == sorted(times)


def test_a_sigkill_is_a_crash_event_saying_so(sentry_project: Project, forward_receiver: ForwardReceiver,
                                             tmp_path: Path) -> None:
    run = wrap(sentry_project, forward_receiver, tmp_path, children.SIGKILL)

    assert run.status == 128 + signal.SIGKILL
    [crash] = run.events
    assert (crash["level"], crash["logentry"]["message"]) == ("fatal", f"{NAME} was killed by SIGKILL")
    assert crash["tags"] == {"signal": "SIGKILL"}
    assert crumbs(crash) == [("stdout", "info", "allocating the buffers")]


def test_every_event_has_the_release_and_environment_of_the_service_settings(
        sentry_project: Project, forward_receiver: ForwardReceiver, tmp_path: Path) -> None:
    run = wrap(sentry_project, forward_receiver, tmp_path, children.UNCAUGHT)

    assert {(data["level"], data["release"], data["environment"]) for data in run.events} == {
        ("error", "2.0.1", "staging"), ("fatal", "2.0.1", "staging")}


def test_sentry_release_wins_over_service_version(sentry_project: Project, forward_receiver: ForwardReceiver,
                                                 tmp_path: Path) -> None:
    run = wrap(sentry_project, forward_receiver, tmp_path, children.UNCAUGHT, "--sentry-release", "shop@2.0.1-rc1")

    assert {data["release"] for data in run.events} == {"shop@2.0.1-rc1"}


def test_the_same_error_printed_with_other_values_is_one_issue(sentry_project: Project,
                                                              forward_receiver: ForwardReceiver, tmp_path: Path) -> None:
    """The fingerprint is the type and the app's frames, not the message: one issue, an event each time."""
    run = wrap(sentry_project, forward_receiver, tmp_path, children.CAUGHT_TRACEBACKS, args=("0",))

    assert sorted(data["exception"]["values"][0]["value"] for data in run.events) == [
        f"job {number} failed" for number in range(children.JOBS)]
    [issue] = sentry_project.issues()
    assert (issue["calculated_type"], issue["digested_event_count"]) == ("ValueError", children.JOBS)


# JSON records.

def test_an_exception_logged_by_shippers_logging_setup_is_an_event_with_its_logger_message_and_service(
        sentry_project: Project, forward_receiver: ForwardReceiver, tmp_path: Path) -> None:
    script = children.LOGGED_EXCEPTION
    run = wrap(sentry_project, forward_receiver, tmp_path, script, env=environment(SERVICE_NAME="shop"))

    assert run.status == 0
    [data] = run.events
    [value] = data["exception"]["values"]  # from the record's nested error.stack_trace
    assert (value["type"], value["value"]) == ("ValueError", "card declined")
    app = tmp_path / "app.py"
    assert in_app(value) == [(app, script.line("charge()"), "<module>"),
                             (app, script.line("raise ValueError("), "charge")]
    assert (data["level"], data["logger"], data["logentry"]["message"]) == ("error", "shop.orders", "payment failed")
    [record] = run.records
    assert data["tags"] == {"stream": "stdout", "event.id": record["event.id"], "service.name": "shop"}
    assert (data["release"], data["environment"]) == ("2.0.1", "staging")


def test_an_ecs_record_with_dotted_error_fields_is_an_event_with_its_labels_and_trace(
        sentry_project: Project, forward_receiver: ForwardReceiver, tmp_path: Path) -> None:
    run = wrap(sentry_project, forward_receiver, tmp_path, children.ECS_RECORD, "--label", "team=payments")

    [data] = run.events
    [value] = data["exception"]["values"]
    assert (value["type"], value["value"]) == ("ValueError", "card declined")
    assert [(frame["abs_path"], frame["lineno"], frame["function"]) for frame in value["stacktrace"]["frames"]] == [
        ("/srv/shop/orders.py", 12, "place"), ("/srv/shop/payments.py", 40, "charge")]
    assert (data["logger"], data["logentry"]["message"]) == ("shop.payments", "payment failed")
    [record] = run.records
    assert data["tags"] == {"stream": "stdout", "team": "payments", "event.id": record["event.id"],
                            "labels.tenant": "acme", "service.name": "shop",
                            "trace.id": "4bf92f3577b34da6a3ce929d0e0e4736"}
    assert data["contexts"]["trace"] == {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7"}


# What --sentry-report leaves out.

def test_sentry_report_tracebacks_sends_no_crash_event(sentry_project: Project, forward_receiver: ForwardReceiver,
                                                       tmp_path: Path) -> None:
    run = wrap(sentry_project, forward_receiver, tmp_path, children.UNCAUGHT, "--sentry-report", "tracebacks")

    assert run.status == 1
    assert [(data["level"], data["exception"]["values"][-1]["type"]) for data in run.events] == [("error", "RuntimeError")]


def test_sentry_report_crashes_leaves_the_exit_after_an_uncaught_exception_to_the_apps_sdk(
        sentry_project: Project, forward_receiver: ForwardReceiver, tmp_path: Path) -> None:
    run = wrap(sentry_project, forward_receiver, tmp_path, children.UNCAUGHT, "--sentry-report", "crashes")

    assert run.events == []
    assert run.stderr.strip().splitlines()[-1].endswith("; sentry: 0 events sent, 0 dropped")


def test_sentry_report_crashes_sends_a_death_by_a_signal_with_its_dump(
        sentry_project: Project, forward_receiver: ForwardReceiver, tmp_path: Path) -> None:
    run = wrap(sentry_project, forward_receiver, tmp_path, children.SEGFAULT, "--sentry-report", "crashes")

    [crash] = run.events
    assert (crash["level"], crash["logentry"]["message"]) == ("fatal", f"{NAME} was killed by SIGSEGV")
    assert crash["exception"]["values"][-1]["type"] == "SIGSEGV"


# The logs.

RECORDS: dict[str, Any] = {
    "exception group": pytest.param(children.EXCEPTION_GROUP, {"stdout": ["validating the order"], "stderr": ["ExceptionGroup"]},
                                    marks=needs_groups),
    "syntax error": (children.IMPORTS_BROKEN_MODULE, {"stdout": ["loading the price rules"], "stderr": ["SyntaxError"]}),
    "segfault": (children.SEGFAULT, {"stdout": ["reading the cache"], "stderr": ["cache file is short", "SIGSEGV"]}),
    "exit 3": (children.EXIT_3, {"stdout": ["checking the config", "no database url"], "stderr": ["giving up"]}),
    "sigkill": (children.SIGKILL, {"stdout": ["allocating the buffers"]}),
    "logged exception": (children.LOGGED_EXCEPTION, {"stdout": ["payment failed"]}),
    "ecs record": (children.ECS_RECORD, {"stdout": ["ValueError"]}),
}


@pytest.mark.parametrize(("script", "expected"), RECORDS.values(), ids=RECORDS)
def test_every_record_still_reaches_the_forward_receiver(script: Script, expected: dict[str, list[str]],
                                                         sentry_project: Project, forward_receiver: ForwardReceiver,
                                                         tmp_path: Path) -> None:
    """A traceback or a dump is one record, shown by its error.type; the others by their message."""
    run = wrap(sentry_project, forward_receiver, tmp_path, script, modules=(children.BROKEN_MODULE,))

    shipped: dict[str, list[str]] = {}
    for record in run.records:
        shipped.setdefault(record["stream"], []).append(record.get("error.type") or record["message"])
    assert shipped == expected
    assert "0 dropped, 0 spilled to stderr" in run.stderr
