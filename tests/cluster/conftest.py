"""A forwarder host and three aggregator hosts, as network namespaces, each with a real Fluentd
running the shipped configs; logwrap on the forwarder host ships an app's numbered records."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..processes import LOGWRAP
from .network import Network
from .pipeline import Arrivals, Fluentd, counting_config, prepare_configs

AGGREGATORS = ("aggregator-1", "aggregator-2", "aggregator-3")
RECORDS, RATE = 100_000, 10_000  # 10 s of an app logging 10,000 records a second


def _missing() -> str | None:
    if shutil.which("fluentd") is None:
        return "no fluentd on PATH"
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return "network namespaces need root and iproute2"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=_missing() or "")

APP = textwrap.dedent(f"""
    import json, sys, time
    start = time.monotonic()
    for seq in range({RECORDS}):
        pause = start + seq / {RATE} - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        print(json.dumps({{"seq": seq, "t": time.time(), "pad": "x" * 100}}))
""")


@dataclass
class Cluster:
    network: Network
    forwarder: Fluentd
    aggregators: dict[str, Fluentd]
    arrivals: Arrivals
    folder: Path
    apps: list[subprocess.Popen[bytes]]

    def start_app(self) -> subprocess.Popen[bytes]:
        """logwrap on the forwarder host, shipping the app's records to the local forwarder."""
        command = [*LOGWRAP, "--to", "tcp://127.0.0.1:24224", "--tag", "app", "--drain-timeout", "300",
                   "--", sys.executable, "-c", APP]
        self.apps.append(subprocess.Popen(self.network.run("forwarder", command), stderr=subprocess.PIPE))
        return self.apps[-1]

    def lost(self) -> list[int]:
        return sorted(set(range(RECORDS)) - set(self.arrivals.seen))

    def everything_arrived(self, timeout: float = 180) -> bool:
        return self.arrivals.wait_until(lambda arrivals: len(arrivals.seen) >= RECORDS, timeout)


@pytest.fixture
def cluster(tmp_path):
    configs = prepare_configs(tmp_path / "configs")
    network = Network()
    started: list[Fluentd] = []
    apps: list[subprocess.Popen[bytes]] = []
    arrivals = None
    try:
        env = {**os.environ, "FLUENTD_SOCKET": str(tmp_path / "fluentd.sock")}
        addresses = {name: network.add_host(name) for name in ("forwarder", *AGGREGATORS)}
        aggregators = {}
        for name in AGGREGATORS:
            out = tmp_path / name / "out"
            out.mkdir(parents=True)
            config = configs / f"{name}.conf"
            (configs / f"counting-{name}.conf").write_text(counting_config(out))
            config.write_text((configs / "aggregator-test.conf").read_text().replace(
                "@include counting.conf", f"@include counting-{name}.conf"))
            aggregators[name] = Fluentd(network, name, config,
                                        {**env, "FLUENTD_BUFFER_DIR": str(tmp_path / name / "buffer")})
        forwarder = Fluentd(network, "forwarder", configs / "forwarder.conf", {
            **env, "FLUENTD_BUFFER_DIR": str(tmp_path / "forwarder" / "buffer"),
            **{f"AGGREGATOR_{n}": addresses[name] for n, name in enumerate(AGGREGATORS, 1)}})
        for process in (*aggregators.values(), forwarder):
            started.append(process)
            process.start()
        arrivals = Arrivals([tmp_path / name / "out" for name in AGGREGATORS])
        yield Cluster(network, forwarder, aggregators, arrivals, tmp_path, apps)
    finally:
        for app in apps:
            app.kill()
            app.wait()
        if arrivals is not None:
            arrivals.close()
        for process in started:
            process.stop()
        network.remove()
