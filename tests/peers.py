"""What every real-server harness needs: finding the tool, starting the server, waiting for a state.

A tool that is not installed skips the test, or fails it under ``SHIPPER_EXPECT_TOOLS=1`` (CI, which
installs them all). Servers are started on private ports and stopped by PID; nothing waits a fixed
time: ``wait_until`` polls, and returns as soon as the value is there.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import NoReturn, TypeVar

import pytest

T = TypeVar("T")

STARTUP_TIMEOUT = 30.0
# Generous: a wait returns as soon as its value is there; only a failing test waits this long.
READ_TIMEOUT = 30.0


def missing(message: str) -> NoReturn:
    """Skip the test with ``message``, or fail it under SHIPPER_EXPECT_TOOLS=1, where nothing may be missing."""
    if os.environ.get("SHIPPER_EXPECT_TOOLS") == "1":
        pytest.fail(message)
    pytest.skip(message)


def need(tool: str, install: str) -> str:
    """The path of ``tool``; when it is missing, ``missing`` says to install it with the command ``install``.

    /usr/sbin is searched too: munin-run lives there, and it is not on a normal user's PATH on Debian.
    """
    path = shutil.which(tool, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin"]))
    if path:
        return path
    missing(f"{tool} is not installed; install it with: {install}")


def wait_until(read: Callable[[], T], predicate: Callable[[T], object] = bool,
               timeout: float = READ_TIMEOUT) -> T:
    """Call ``read`` until ``predicate`` accepts its value, and return that value.

    At the deadline this is an AssertionError showing the last value read.
    """
    deadline = time.monotonic() + timeout
    while not predicate(value := read()):
        if time.monotonic() > deadline:
            raise AssertionError(f"still {value!r} after {timeout} s")
        time.sleep(0.1)
    return value


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def accepts(port: int) -> bool:
    """Whether a TCP server listens on 127.0.0.1:``port``."""
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def answers_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError:  # refused, or an HTTPError: any status but 2xx
        return False


@contextmanager
def running(command: Sequence[str], log: Path, ready: Callable[[], bool],
            **popen: object) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server until the block ends, once ``ready()`` says it serves; its output goes to ``log``.

    ``popen`` goes to Popen (``cwd``, ``env``). The server is killed by its PID: statsd renames its
    process, so nothing could find it by name.
    """
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                **popen)  # type: ignore[call-overload]
    try:
        with suppress(AssertionError):
            wait_until(lambda: proc.poll() is not None or ready(), timeout=STARTUP_TIMEOUT)
        if proc.poll() is not None or not ready():
            raise RuntimeError(f"{command[0]} did not start (exit status {proc.poll()}):\n{log.read_text()[-3000:]}")
        yield proc
    finally:
        proc.kill()
        proc.wait(10)


def refused_datagrams() -> int:
    """How many UDP datagrams this host has received for a port nobody listens on (Udp NoPorts)."""
    with open("/proc/net/snmp") as snmp:
        names, values = [line.split() for line in snmp if line.startswith("Udp:")][:2]
    return int(values[names.index("NoPorts")])
