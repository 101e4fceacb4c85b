"""The real monitoring servers the metrics tests talk to, each started on private ports and stopped by PID.

- Etsy's statsd flushing every second into carbon-cache; values are read back from the whisper files.
- Prometheus, scraping targets a test adds at run time.
- munin-run, running one plugin from a private directory.

A tool that is not installed skips the test, or fails it under ``SHIPPER_EXPECT_TOOLS=1`` (CI). The helpers
they share with the other real-server harnesses are in ``tests/peers.py``.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import tempfile
import textwrap
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from .. import peers as shared
from ..peers import READ_TIMEOUT, accepts, answers_ok, free_port, running, wait_until

INSTALL = {
    "carbon-cache": "apt-get install --no-install-recommends graphite-carbon",
    "whisper-fetch": "apt-get install --no-install-recommends graphite-carbon (it pulls python3-whisper)",
    "statsd": "npm install -g statsd@0.9.0",
    "prometheus": "apt-get install --no-install-recommends prometheus",
    "munin-run": "apt-get install --no-install-recommends munin-node",
}
Result = list[dict[str, Any]]
MuninRun = Callable[..., "subprocess.CompletedProcess[str]"]


def need(tool: str) -> str:
    """The path of ``tool``; when it is missing the test is skipped, or failed under SHIPPER_EXPECT_TOOLS=1."""
    return shared.need(tool, INSTALL[tool])


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


def sample_values(result: Result) -> list[float]:
    """The sample values of an instant-vector query result."""
    return [float(sample["value"][1]) for sample in result]


class Prometheus:
    """A Prometheus scraping every second the targets listed in a file it watches.

    A target added with ``scrape`` is first scraped 3-6 s later: Prometheus hands discovered targets to
    its scrapers on a 5 s ticker. Add it as early as you can, then ``wait_for`` what you expect.
    """

    def __init__(self, url: str, targets_file: Path) -> None:
        self.url = url
        self._targets_file = targets_file
        self._targets: dict[str, list[str]] = {}
        self._write_targets()

    def scrape(self, job: str, address: str) -> None:
        """Scrape ``http://ADDRESS/metrics``; its series get the label ``job=JOB``."""
        self._targets.setdefault(job, []).append(address)
        self._write_targets()

    def forget_targets(self) -> None:
        self._targets.clear()
        self._write_targets()

    def _write_targets(self) -> None:
        """Replace the file at once, so that Prometheus never reads half of it."""
        groups = [{"targets": addresses, "labels": {"job": job}} for job, addresses in self._targets.items()]
        partial = self._targets_file.with_suffix(".partial")
        partial.write_text(json.dumps(groups))
        partial.replace(self._targets_file)

    def query(self, expr: str) -> Result:
        """The instant-vector result of ``expr``: a list of ``{"metric": {labels}, "value": [time, "value"]}``."""
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
        with urllib.request.urlopen(url, timeout=10) as answer:
            result: Result = json.load(answer)["data"]["result"]
        return result

    def wait_for(self, expr: str, predicate: Callable[[Result], object] = bool,
                 timeout: float = READ_TIMEOUT) -> Result:
        return wait_until(lambda: self.query(expr), predicate, timeout)


def prometheus_config(folder: Path) -> tuple[Path, Path]:
    """The config file, and the targets file it reads (checked every second, and on every change)."""
    targets = folder / "targets.json"
    config = folder / "prometheus.yml"
    config.write_text(json.dumps({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{
            "job_name": "shipper-tests",
            "metrics_path": "/metrics",
            "file_sd_configs": [{"files": [str(targets)], "refresh_interval": "1s"}],
        }],
    }))
    return config, targets


@contextmanager
def start_prometheus() -> Iterator[Prometheus]:
    """A Prometheus with its storage in a temporary directory that is removed afterwards."""
    binary, port = need("prometheus"), free_port()
    with tempfile.TemporaryDirectory(prefix="shipper-prometheus-") as tmp:
        root = Path(tmp)
        config, targets = prometheus_config(root)
        server = Prometheus(f"http://127.0.0.1:{port}", targets)
        command = [binary, f"--config.file={config}", f"--storage.tsdb.path={root / 'data'}",
                   f"--web.listen-address=127.0.0.1:{port}"]
        with running(command, root / "prometheus.log", lambda: answers_ok(f"{server.url}/-/ready")):
            yield server


def munin_run(command: Sequence[str], env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``command`` as the Munin plugin ``shipper`` with munin-run; ``env`` becomes its env.* lines.

    The plugin lives in a fresh directory under /tmp that nobody can read, as munin-node's plugins must
    (they run as nobody; pytest's tmp_path is 0700). But nobody may not reach the tests' Python: a
    virtualenv or pyenv under /root (0700) is out of its reach. So when the tests run as root, the plugin
    runs as root (``user root``); as any other user, munin-run cannot switch and runs it as that user.
    """
    binary = need("munin-run")
    with tempfile.TemporaryDirectory(prefix="shipper-munin-", dir="/tmp") as tmp:
        root = Path(tmp)
        root.chmod(0o755)
        plugins, confd = root / "plugins", root / "plugin-conf.d"
        plugins.mkdir(mode=0o755)
        confd.mkdir(mode=0o755)
        plugin = plugins / "shipper"
        plugin.write_text(f'#!/bin/sh\nexec {shlex.join(command)} "$@"\n')
        plugin.chmod(0o755)
        (confd / "shipper").write_text(plugin_conf(env))
        (root / "munin-node.conf").touch()
        return subprocess.run([binary, "--config", str(root / "munin-node.conf"), "--servicedir", str(plugins),
                               "--sconfdir", str(confd), "shipper", *args], capture_output=True, text=True,
                              timeout=60)


def plugin_conf(env: dict[str, str]) -> str:
    user = ["user root"] if os.geteuid() == 0 else []
    return "\n".join(["[shipper]", *user, *(f"env.{name} {value}" for name, value in env.items())]) + "\n"
