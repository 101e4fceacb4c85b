"""The logging setup's Sentry part without a server: the event's tags and masking, and how it starts and stops.

What reaches a real Sentry-compatible server is in tests/sentry/test_logging_setup.py.
"""

import json

import pytest

import shipper
from shipper.errors import ConfigError
from shipper.logs.redact import MASK, Redactor
from shipper.logs.sentry import before_send, redact_event

from .test_configure import records, run_app

SECRET = "tok_live_4f2a9c"
UNUSED_DSN = "http://public@127.0.0.1:9/1"  # nothing is sent to it: these apps log no error


def test_the_fields_bound_when_the_event_is_captured_become_its_tags():
    prepare = before_send(None, Redactor())
    with shipper.bound(order_id="o-17", attempt=2):
        event = prepare({}, {})
    assert event["tags"] == {"order_id": "o-17", "attempt": "2"}


def test_tags_set_through_sentry_sdk_win_over_bound_fields():
    with shipper.bound(order_id="o-17"):
        event = before_send(None, Redactor())({"tags": {"order_id": "o-18"}}, {})
    assert event["tags"] == {"order_id": "o-18"}


def test_the_service_name_is_a_tag():
    assert before_send("shop", Redactor())({}, {})["tags"] == {"service.name": "shop"}


def test_a_bound_value_is_masked_before_it_becomes_the_text_of_a_tag():
    with shipper.bound(user={"name": "ann", "password": SECRET}):
        event = before_send(None, Redactor())({}, {})
    assert event["tags"] == {"user": str({"name": "ann", "password": MASK})}


def frames(*local_variables: dict) -> dict:
    return {"stacktrace": {"frames": [{"function": "charge", "vars": variables} for variables in local_variables]}}


EVENTS_WITH_A_SECRET = {
    "tags": {"tags": {"api_token": SECRET}},
    "extra": {"extra": {"card_token": SECRET}},
    "contexts": {"contexts": {"payment": {"card": {"secret": SECRET}}}},
    "user": {"user": {"id": "7", "password": SECRET}},
    "request headers": {"request": {"headers": {"Authorization": f"Bearer {SECRET}"}}},
    "request data": {"request": {"data": {"form": {"password": SECRET}}}},
    "breadcrumb data": {"breadcrumbs": {"values": [{"message": "charging", "data": {"card_token": SECRET}}]}},
    "exception frame variables": {"exception": {"values": [{"type": "ValueError", **frames({"card_token": SECRET})}]}},
    "thread frame variables": {"threads": {"values": [frames({}, {"payload": {"password": SECRET}})]}},
    "logentry params": {"logentry": {"message": "login %(user)s", "params": {"user": "ann", "password": SECRET}}},
}


@pytest.mark.parametrize("event", EVENTS_WITH_A_SECRET.values(), ids=EVENTS_WITH_A_SECRET.keys())
def test_a_secret_is_masked_wherever_the_event_carries_fields(event):
    text = json.dumps(redact_event(event, Redactor()))
    assert SECRET not in text and MASK in text


def test_the_event_s_own_fields_are_never_masked():
    """As on the JSON line, where a record's level and message are never masked: only fields are."""
    event = {"level": "error", "message": "declined", "exception": {"values": [{"type": "ValueError"}]},
             "extra": {"message_id": "m-1"}}
    redacted = redact_event(json.loads(json.dumps(event)), Redactor(["level", "message", "type"]))
    assert redacted == {**event, "extra": {"message_id": MASK}}


def test_a_malformed_dsn_is_a_configuration_error(logs):
    with pytest.raises(ConfigError, match=r"SENTRY_DSN \(or sentry_dsn=\) 'sentry.example.com/1' is not a Sentry DSN \(the scheme must be http or https"):
        logs(sentry_dsn="sentry.example.com/1")


def test_a_dsn_without_sentry_sdk_installed_says_to_install_it():
    result = run_app(f"""
        import sys
        sys.modules["sentry_sdk"] = None  # as if it were not installed
        shipper.setup_logging(sentry_dsn={UNUSED_DSN!r})
    """)
    (record,) = records(result)  # the uncaught error, logged by the setup the import made
    assert record["error"]["type"] == "shipper.errors.ConfigError"
    assert record["error"]["message"] == ("a Sentry DSN is set (SENTRY_DSN or sentry_dsn=) but sentry-sdk is not "
                                          "installed: pip install sentry-sdk")


def test_without_a_dsn_sentry_sdk_is_not_even_imported():
    result = run_app("import sys\nprint('sentry_sdk' in sys.modules)")
    assert result.stdout == "False\n"


def test_reset_logging_closes_the_client_and_leaves_sentry_sdk_without_one():
    result = run_app("""
        import sentry_sdk
        client = sentry_sdk.get_client()
        shipper.reset_logging()
        print(client.is_active(), client.transport is None, sentry_sdk.get_client().is_active())
    """, {"SENTRY_DSN": UNUSED_DSN})
    assert result.stdout == "True True False\n"
