import io
import json
import logging

import pytest

import shipper


class Captured:
    """What setup_logging wrote to its stream, one parsed JSON object per line."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.lines()]

    def last(self) -> dict:
        return self.records()[-1]


@pytest.fixture
def logs(monkeypatch):
    """shipper's logging set up on a private stream, with a clean environment; undone after."""
    for name in ("LOG_LEVEL", "LOG_SCHEMA", "SERVICE_NAME", "SERVICE_VERSION", "SERVICE_ENVIRONMENT",
                 "LOG_REDACT_KEYS", "SHIPPER_TO", "SHIPPER_TAG", "SENTRY_DSN"):
        monkeypatch.delenv(name, raising=False)
    captured = Captured()

    def setup(**options) -> Captured:
        shipper.setup_logging(stream=captured.stream, **options)
        return captured

    yield setup
    shipper.reset_logging()


@pytest.fixture
def log():
    return logging.getLogger("tests.app")
