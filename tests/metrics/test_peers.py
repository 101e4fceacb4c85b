"""The harness against the real servers, with hand-written metrics: no shipper code is involved."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from .peers import (
    accepts,
    free_port,
    need,
    running,
)


def test_a_server_is_killed_when_its_block_ends(tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)]
    with running(command, tmp_path / "log", lambda: accepts(port)) as proc:
        assert accepts(port)
    assert proc.returncode is not None and not accepts(port)


def test_a_server_that_exits_at_start_is_an_error_showing_its_output(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"(?s)exit status 3.*bad config"):
        with running(["sh", "-c", "echo bad config; exit 3"], tmp_path / "log", lambda: False):
            pass


def test_a_missing_tool_skips_the_test_saying_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("SHIPPER_EXPECT_TOOLS", raising=False)
    with pytest.raises(pytest.skip.Exception, match="install it with: apt-get install --no-install-recommends prometheus"):
        need("prometheus")


def test_a_missing_tool_fails_the_test_where_tools_are_expected(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("SHIPPER_EXPECT_TOOLS", "1")
    with pytest.raises(pytest.fail.Exception, match="prometheus is not installed"):
        need("prometheus")
