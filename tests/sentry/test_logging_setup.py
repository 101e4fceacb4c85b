"""``setup_logging(sentry_dsn=...)`` in a real app, a child process, read back from the real Bugsink.

The app runs to its end before anything is read: sentry-sdk sends what is queued when the process
exits, and Bugsink digests an event before it answers, so what the project holds then is all there is.
A child of its own also keeps sentry-sdk's global state out of this process.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
import uuid

from ..logs.test_configure import _base_env
from ..processes import python
from .bugsink import Json, Project

SECRET = f"tok_live_{uuid.uuid4().hex}"
SERVICE = {"SERVICE_NAME": "shop", "SERVICE_VERSION": "1.4.2", "SERVICE_ENVIRONMENT": "staging"}

# The secret is never held by a variable whose name is not sensitive: a frame's local variables go to Sentry.
APP = textwrap.dedent("""
    import logging, os, sys
    import shipper

    def charge(order_id, card_token):
        raise ValueError(f"card declined for order {order_id}")

    shipper.setup_logging(sentry_dsn=sys.argv[1] if len(sys.argv) > 1 else None)
    log = logging.getLogger("shop.orders")
    with shipper.bound(order_id="o-17", session_token=os.environ["CARD_TOKEN"]):
        log.info("charging", extra={"card_token": os.environ["CARD_TOKEN"]})  # a breadcrumb
        try:
            charge("o-17", os.environ["CARD_TOKEN"])
        except ValueError:
            log.exception("payment failed", extra={"card_token": os.environ["CARD_TOKEN"]})
""")


def run_app(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """APP with ``args``, as the service SERVICE; it has exited, its events sent, when this returns."""
    app_env = {**_base_env(), **SERVICE, "CARD_TOKEN": SECRET, **(env or {})}
    result = subprocess.run([*python(APP), *args], capture_output=True, text=True, timeout=60, env=app_env)
    assert result.returncode == 0, result.stderr
    return result


def the_event(project: Project) -> Json:
    """The one event the app sent, as Bugsink has it (what the SDK sent is in ``["data"]``)."""
    [summary] = project.wait_for_events(1)
    return project.event(summary["event_id"])


def test_an_exception_logged_in_the_app_reaches_sentry_with_the_bound_fields_as_tags(sentry_project: Project) -> None:
    run_app(sentry_project.dsn)

    data = the_event(sentry_project)["data"]
    [exception] = data["exception"]["values"]
    assert (exception["type"], exception["value"]) == ("ValueError", "card declined for order o-17")
    assert (data["logentry"]["formatted"], data["logger"]) == ("payment failed", "shop.orders")
    assert data["tags"]["order_id"] == "o-17"


def test_release_environment_and_service_name_come_from_the_service_settings(sentry_project: Project) -> None:
    run_app(sentry_project.dsn)

    data = the_event(sentry_project)["data"]
    assert (data["release"], data["environment"], data["tags"]["service.name"]) == ("1.4.2", "staging", "shop")


def test_no_secret_masked_on_the_json_line_reaches_sentry(sentry_project: Project) -> None:
    """Bound (a tag), in ``extra``, in a breadcrumb's data and in a frame's variables: all masked."""
    run_app(sentry_project.dsn)

    event = the_event(sentry_project)
    assert SECRET not in json.dumps(event)
    data = event["data"]
    assert data["tags"]["session_token"] == data["extra"]["card_token"] == "[REDACTED]"
    assert data["breadcrumbs"]["values"][-1]["data"]["card_token"] == "[REDACTED]"


def test_keys_configured_with_log_redact_keys_are_masked_in_sentry_too(sentry_project: Project) -> None:
    run_app(sentry_project.dsn, env={"LOG_REDACT_KEYS": "order,token"})

    assert the_event(sentry_project)["data"]["tags"]["order_id"] == "[REDACTED]"


def test_sentry_dsn_in_the_environment_sets_it_up_when_no_dsn_is_given(sentry_project: Project) -> None:
    run_app(env={"SENTRY_DSN": sentry_project.dsn})

    assert the_event(sentry_project)["data"]["tags"]["order_id"] == "o-17"


def test_the_app_still_writes_its_json_lines(sentry_project: Project) -> None:
    result = run_app(sentry_project.dsn)

    info, error = (json.loads(line) for line in result.stdout.splitlines())
    assert (info["message"], info["card_token"], info["order_id"]) == ("charging", "[REDACTED]", "o-17")
    assert (error["message"], error["error"]["type"], error["session_token"]) == ("payment failed", "ValueError", "[REDACTED]")


def test_an_uncaught_exception_is_one_event(sentry_project: Project) -> None:
    """The hook that logs it and sentry-sdk's own excepthook do not both report it."""
    code = f"import shipper\nshipper.setup_logging(sentry_dsn={sentry_project.dsn!r})\nraise KeyError('gone')"
    subprocess.run(python(code), capture_output=True, timeout=60, env=_base_env())

    data = the_event(sentry_project)["data"]
    assert (data["level"], data["exception"]["values"][0]["type"]) == ("fatal", "KeyError")
