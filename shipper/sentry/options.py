"""What the ``--sentry-*`` flags ask for, checked before the child starts."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from ..errors import ConfigError

REPORTS = ("tracebacks", "crashes", "all")
DEFAULT_BREADCRUMBS = 50
DEFAULT_MAX_EVENTS = 60  # a minute


@dataclass(frozen=True)
class SentryOptions:
    dsn: str | None = None
    report: str = "all"
    release: str | None = None
    environment: str | None = None
    breadcrumbs: int = DEFAULT_BREADCRUMBS
    sample_rate: float = 1.0
    max_events: int = DEFAULT_MAX_EVENTS

    @property
    def tracebacks(self) -> bool:
        return self.dsn is not None and self.report in ("tracebacks", "all")

    @property
    def crashes(self) -> bool:
        return self.dsn is not None and self.report in ("crashes", "all")


def check_dsn(dsn: str, source: str = "--sentry-dsn") -> str:
    """The DSN if it has the shape sentry-sdk reads (its ``Dsn``); else a ConfigError naming ``source``.

    Checked here, not by sentry-sdk: importing it costs logwrap 0.1-0.2 s and 16 MiB, which only
    a run that has an event to send should pay.
    """
    try:
        problem = _problem(urlsplit(dsn))
    except ValueError as exc:  # a port that is not a number
        problem = str(exc)
    if problem:
        raise ConfigError(f"{source} {dsn!r} is not a Sentry DSN ({problem}): "
                          "copy it from the project's settings, https://KEY@HOST/PROJECT_ID")
    return dsn


def _problem(parts: SplitResult) -> str | None:
    if parts.scheme not in ("http", "https"):
        return f"the scheme must be http or https, not {parts.scheme!r}"
    if not parts.hostname:
        return "it names no host"
    if not parts.username:
        return "it has no public key before the @"
    project = parts.path.rsplit("/", 1)[-1]
    if not (project.isascii() and project.isdigit()):
        return "it does not end with a numeric project id"
    parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    return None
