"""Errors to Sentry from the app itself: sentry-sdk's logging integration, set up by ``setup_logging``.

The event gets what the JSON line has: the fields bound with ``shipper.bind``/``bound`` (as tags,
read when the event is captured, in the thread that logs), the service's version and environment
(as ``release`` and ``environment``), and the same masking of secrets. sentry-sdk is optional:
``configure`` imports this module only when a DSN is set.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sentry_sdk
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.types import Event, Hint
from sentry_sdk.utils import iter_event_frames

from . import context
from .redact import Redactor
from .schema import Service

# The parts of an event that hold fields, as the JSON line's extra and context fields are.
FIELD_PARTS = ("tags", "extra", "contexts", "user", "request")


def start(dsn: str, service: Service, redactor: Redactor) -> Callable[[], None]:
    """Initialise sentry-sdk for the app; returns what undoes it.

    Its defaults stay (integrations, sampling, hostname as server_name); LoggingIntegration is
    named because the rest relies on it: ERROR records and above become events, INFO and above
    breadcrumbs. Unset, release and environment keep sentry-sdk's own defaults (SENTRY_RELEASE,
    SENTRY_ENVIRONMENT).
    """
    sentry_sdk.init(dsn=dsn, release=service.version, environment=service.environment,
                    integrations=[LoggingIntegration()],
                    before_send=before_send(service.name, redactor))
    client = sentry_sdk.get_client()

    def stop() -> None:
        """Send what is queued and close the client; then no client of ours is left in sentry-sdk's
        scopes, and neither are the breadcrumbs our records left there."""
        client.close()
        if sentry_sdk.get_global_scope().client is client:  # the app may have set up its own since
            sentry_sdk.get_global_scope().set_client(None)
            sentry_sdk.get_isolation_scope().clear_breadcrumbs()
    return stop


def before_send(service_name: str | None, redactor: Redactor) -> Callable[[Event, Hint], Event]:
    """sentry-sdk's ``before_send``: the bound fields as tags, then every secret masked.

    It runs while the event is captured, in the thread that logs, so ``context.current()`` is the
    context of the record. If it raised, sentry-sdk would drop the event: a secret never gets out
    through a failure here.
    """
    service = {"service.name": service_name} if service_name else {}

    def prepare(event: Event, hint: Hint) -> Event:
        return redact_event(with_tags(event, {**service, **context.current()}, redactor), redactor)
    return prepare


def with_tags(event: Event, fields: Mapping[str, Any], redactor: Redactor) -> Event:
    """``fields`` as the event's tags; tags set through sentry-sdk (``set_tag``) win.

    Tag values are text: a value that is not is masked first, so that a secret nested in it is
    masked before it becomes part of a string.
    """
    tags = {key: str(value) for key, value in redactor.fields(fields).items()}
    event["tags"] = {**tags, **(event.get("tags") or {})}
    return event


def redact_event(event: Event, redactor: Redactor) -> Event:
    """Mask what the JSON line masks, wherever the event carries fields.

    That is its tags, extra, contexts, user and request, each breadcrumb's data, each frame's local
    variables, and the parameters of the logged message. The event's own keys (level, message,
    exception type) are left alone, as the formatter leaves a record's own fields alone.
    """
    for part in FIELD_PARTS:
        _mask(event, part, redactor)
    breadcrumbs = event.get("breadcrumbs")
    for breadcrumb in breadcrumbs.get("values") or () if isinstance(breadcrumbs, dict) else ():
        _mask(breadcrumb, "data", redactor)
    for frame in iter_event_frames(event):
        _mask(frame, "vars", redactor)
    _mask(event.get("logentry"), "params", redactor)
    return event


def _mask(holder: Any, key: str, redactor: Redactor) -> None:
    if isinstance(holder, dict) and key in holder:
        holder[key] = redactor.value(holder[key])
