"""What the ``--sentry-*`` flags ask for, checked before the child starts."""

from __future__ import annotations

from dataclasses import dataclass

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


def check_dsn(dsn: str) -> str:
    """The DSN if sentry-sdk can use it; else a ConfigError that shows its shape."""
    from sentry_sdk.utils import BadDsn, Dsn

    try:
        Dsn(dsn)
    except (BadDsn, ValueError) as exc:
        raise ConfigError(f"--sentry-dsn {dsn!r} is not a Sentry DSN ({exc}): "
                          "copy it from the project's settings, https://KEY@HOST/PROJECT_ID") from None
    return dsn
