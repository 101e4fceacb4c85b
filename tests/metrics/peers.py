"""The real monitoring servers the metrics tests talk to, each started on private ports and stopped by PID.

- Etsy's statsd flushing every second into carbon-cache; values are read back from the whisper files.

A tool that is not installed skips the test, or fails it under ``SHIPPER_EXPECT_TOOLS=1`` (CI).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")

INSTALL = {
    "carbon-cache": "apt-get install --no-install-recommends graphite-carbon",
    "whisper-fetch": "apt-get install --no-install-recommends graphite-carbon (it pulls python3-whisper)",
    "statsd": "npm install -g statsd@0.9.0",
    "prometheus": "apt-get install --no-install-recommends prometheus",
    "munin-run": "apt-get install --no-install-recommends munin-node",
}
STARTUP_TIMEOUT = 30.0
# Generous: a wait returns as soon as its value is there; only a failing test waits this long.
READ_TIMEOUT = 30.0


def need(tool: str) -> str:
    """The path of ``tool``; when it is missing the test is skipped, or failed under SHIPPER_EXPECT_TOOLS=1.

    /usr/sbin is searched too: munin-run lives there, and it is not on a normal user's PATH on Debian.
    """
    path = shutil.which(tool, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin"]))
    if path:
        return path
    message = f"{tool} is not installed; install it with: {INSTALL[tool]}"
    if os.environ.get("SHIPPER_EXPECT_TOOLS") == "1":
        pytest.fail(message)
    pytest.skip(message)


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


@contextmanager
def running(command: Sequence[str], log: Path, ready: Callable[[], bool]) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server until the block ends, once ``ready()`` says it serves; its output goes to ``log``.

    It is killed by its PID: statsd renames its process, so nothing could find it by name.
    """
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        with suppress(AssertionError):
            wait_until(lambda: proc.poll() is not None or ready(), timeout=STARTUP_TIMEOUT)
        if proc.poll() is not None or not ready():
            raise RuntimeError(f"{command[0]} did not start (exit status {proc.poll()}):\n{log.read_text()[-3000:]}")
        yield proc
    finally:
        proc.kill()
        proc.wait(10)


class StatsdGraphite:
    """Etsy statsd with its Graphite backend, flushing every second into a private carbon-cache.

    Statsd names land in whisper files as ``stats.counters.NAME.count``, ``stats.gauges.NAME`` and
    ``stats.timers.NAME.FIELD``, 1-3 s after the UDP packet: read them with ``wait_until``.
    """

    wait_until = staticmethod(wait_until)

    def __init__(self, statsd_url: str, whisper_dir: Path, whisper_fetch: str) -> None:
        self.statsd_url = statsd_url
        self.whisper_dir = whisper_dir
        self._whisper_fetch = whisper_fetch

    def values(self, metric: str) -> list[float]:
        """The points of a Graphite metric in the last hour (the whole retention), empty ones left out."""
        path = self.whisper_dir.joinpath(*metric.split(".")).with_suffix(".wsp")
        if not path.exists():
            return []
        fetch = subprocess.run([self._whisper_fetch, "--json", f"--from={int(time.time()) - 3600}", str(path)],
                               capture_output=True, text=True, timeout=30)
        if fetch.returncode != 0:  # a file carbon-cache is still creating: nothing to read yet
            return []
        return [value for value in json.loads(fetch.stdout)["values"] if value is not None]

    def counter_sum(self, name: str) -> float:
        return sum(self.values(f"stats.counters.{name}.count"))

    def gauge_last(self, name: str) -> float | None:
        points = self.values(f"stats.gauges.{name}")
        return points[-1] if points else None

    def timer_values(self, name: str, field: str) -> list[float]:
        """``field`` is one statsd computes per flush: mean, upper, lower, count, sum, median, ..."""
        return self.values(f"stats.timers.{name}.{field}")


def carbon_conf(folder: Path, line_port: int) -> Path:
    """carbon.conf and storage-schemas.conf (carbon reads it beside carbon.conf) for a private carbon-cache.

    No USER line: Debian's switches to _graphite. Every metric is created at once (the default allows 50 a
    minute, and one timer makes 14), written through to disk, and kept one point a second for an hour.
    The pickle receiver is off (port 0), the cache query port is any free one.
    """
    storage = folder / "storage"
    (folder / "storage-schemas.conf").write_text("[all]\npattern = .*\nretentions = 1s:1h\n")
    conf = folder / "carbon.conf"
    conf.write_text(textwrap.dedent(f"""\
        [cache]
        STORAGE_DIR = {storage}
        LOCAL_DATA_DIR = {storage}/whisper
        WHITELISTS_DIR = {storage}/lists
        LOG_DIR = {storage}/log
        PID_DIR = {storage}
        LINE_RECEIVER_INTERFACE = 127.0.0.1
        LINE_RECEIVER_PORT = {line_port}
        PICKLE_RECEIVER_PORT = 0
        CACHE_QUERY_INTERFACE = 127.0.0.1
        CACHE_QUERY_PORT = 0
        MAX_CREATES_PER_MINUTE = inf
        WHISPER_AUTOFLUSH = True
        ENABLE_TAGS = False
        """))
    return conf


def statsd_conf(folder: Path, port: int, mgmt_port: int, carbon_port: int) -> Path:
    conf = folder / "statsd.js"
    conf.write_text(json.dumps({
        "address": "127.0.0.1", "port": port,
        "mgmt_address": "127.0.0.1", "mgmt_port": mgmt_port,
        "flushInterval": 1000,
        "backends": ["./backends/graphite"],
        "graphiteHost": "127.0.0.1", "graphitePort": carbon_port,
        "graphite": {"legacyNamespace": False},
    }))
    return conf


def statsd_healthy(mgmt_port: int) -> bool:
    """Whether statsd's management port answers ``health`` with ``up``."""
    try:
        with socket.create_connection(("127.0.0.1", mgmt_port), timeout=2) as mgmt:
            mgmt.sendall(b"health\n")
            return b"health: up" in mgmt.recv(100)
    except OSError:
        return False


@contextmanager
def start_statsd_graphite() -> Iterator[StatsdGraphite]:
    """carbon-cache, then statsd flushing into it, in a temporary directory that is removed afterwards."""
    carbon, statsd, whisper_fetch = need("carbon-cache"), need("statsd"), need("whisper-fetch")
    carbon_port, statsd_port, mgmt_port = free_port(), free_port(socket.SOCK_DGRAM), free_port()
    with tempfile.TemporaryDirectory(prefix="shipper-statsd-") as tmp, ExitStack() as servers:
        root = Path(tmp)
        servers.enter_context(running([carbon, f"--config={carbon_conf(root, carbon_port)}", "--nodaemon", "start"],
                                      root / "carbon.log", lambda: accepts(carbon_port)))
        servers.enter_context(running([statsd, str(statsd_conf(root, statsd_port, mgmt_port, carbon_port))],
                                      root / "statsd.log", lambda: statsd_healthy(mgmt_port)))
        yield StatsdGraphite(f"udp://127.0.0.1:{statsd_port}", root / "storage" / "whisper", whisper_fetch)


