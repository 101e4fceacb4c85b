import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Iterator

import pytest

from .processes import ReceiveProcess

pytest_plugins = ["pytester"]


@pytest.fixture
def receive_process() -> Iterator[Callable[..., ReceiveProcess]]:
    """Start ``shipper receive`` processes; all are stopped when the test ends."""
    started: list[ReceiveProcess] = []

    def start(*args: str, **kwargs) -> ReceiveProcess:
        started.append(ReceiveProcess(*args, **kwargs))
        return started[-1]

    yield start
    for process in started:
        process.stop()


def _stop_all(things, stop) -> None:  # type: ignore[no-untyped-def]
    """Stop every one, even when stopping one fails."""
    for thing in things:
        with contextlib.suppress(Exception):
            stop(thing)


@pytest.fixture
def spawn():
    """Popen in a new session; at the end the whole process group is killed (logwrap and its child)."""
    started: list[subprocess.Popen] = []

    def start(command: list[str], **kwargs) -> subprocess.Popen:  # type: ignore[no-untyped-def]
        started.append(subprocess.Popen(command, start_new_session=True, **kwargs))
        return started[-1]

    yield start

    def kill(proc: subprocess.Popen) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    _stop_all(started, kill)


_ROWS: list[tuple[str, str, str]] = []


@pytest.fixture
def reliability(request):
    """``reliability(figure)``: this scenario's row (its docstring's first line, the figure, the command)."""
    def record(figure: str) -> None:
        scenario = (request.function.__doc__ or request.node.name).strip().splitlines()[0]
        _ROWS.append((scenario, figure, f"python -m pytest '{request.node.nodeid}'"))
    return record


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if not _ROWS:
        return
    terminalreporter.section("reliability table")
    terminalreporter.write_line("| scenario | measured here | reproduce |")
    terminalreporter.write_line("|---|---|---|")
    for scenario, figure, command in _ROWS:
        terminalreporter.write_line(f"| {scenario} | {figure} | `{command}` |")
