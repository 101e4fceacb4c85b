"""Fixtures of the processing tests."""

import time

import pytest


@pytest.fixture
def new_york(monkeypatch):
    """Local time is US Eastern (a POSIX rule: no tzdata needed) for the test, then back."""
    monkeypatch.setenv("TZ", "EST5EDT,M3.2.0,M11.1.0")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()
