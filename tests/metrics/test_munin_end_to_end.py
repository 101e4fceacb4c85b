"""The real munin-run runs ``shipper munin-plugin`` against a running logwrap's /metrics, as munin-node
would: the URL comes from an ``env.url`` line of its plugin-conf.d.

The conf also sets PYTHONPATH to where the tests import shipper from, so the plugin runs the shipper
under test whatever environment it is started with (munin-node starts plugins with none of ours).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

from ..processes import ReceiveProcess
from .peers import MuninRun, wait_until
from .wrapped import DEFAULT_BUFFER_BYTES, SOURCE_ROOT, Logwrap, printing

PLUGIN = [sys.executable, "-m", "shipper", "munin-plugin"]
N = 4
COUNTER_GRAPHS = ("shipper_records", "shipper_dropped", "shipper_retries")


def sections(output: str) -> dict[str, dict[str, str]]:
    """Munin's multigraph output as {graph: {key: value}}."""
    graphs: dict[str, dict[str, str]] = {}
    for line in output.splitlines():
        key, _, value = line.partition(" ")
        if key == "multigraph":
            current = graphs.setdefault(value, {})
        else:
            current[key] = value
    return graphs


@pytest.fixture
def running_logwrap(logwrap: Callable[..., Logwrap], receive_process: Callable[..., ReceiveProcess]) -> Logwrap:
    """A logwrap whose child printed N records, all shipped, and still runs."""
    records = [{"message": f"line {i}"} for i in range(N)]
    wrapped = logwrap("--to", receive_process().url, child=printing(records, hold=True), metrics=True)
    wait_until(lambda: wrapped.scrape().value("logwrap_records_shipped_total"), lambda shipped: shipped == N)
    return wrapped


def plugin(munin_run: MuninRun, logwrap: Logwrap, *args: str) -> dict[str, dict[str, str]]:
    done = munin_run(PLUGIN, {"url": logwrap.metrics_url, "PYTHONPATH": str(SOURCE_ROOT)}, *args)
    assert done.returncode == 0, done.stderr
    return sections(done.stdout)


def test_config_declares_the_four_graphs_with_derive_for_the_counters_and_gauge_for_the_buffer(
        munin_run: MuninRun, running_logwrap: Logwrap) -> None:
    config = plugin(munin_run, running_logwrap, "config")
    assert list(config) == [*COUNTER_GRAPHS, "shipper_buffer"]
    assert config["shipper_records"]["shipped.type"] == "DERIVE"
    assert {key: value for graph in COUNTER_GRAPHS for key, value in config[graph].items()
            if key.endswith(".type")} == {"built.type": "DERIVE", "shipped.type": "DERIVE", "spilled.type": "DERIVE",
                                          "filtered.type": "DERIVE", "throttled.type": "DERIVE",
                                          "buffer_full.type": "DERIVE", "retries.type": "DERIVE"}
    assert config["shipper_buffer"]["used.type"] == config["shipper_buffer"]["limit.type"] == "GAUGE"


def test_a_fetch_gives_the_records_shipped_and_the_buffer_limit(munin_run: MuninRun, running_logwrap: Logwrap) -> None:
    values = plugin(munin_run, running_logwrap)
    assert values["shipper_records"] == {"built.value": str(N), "shipped.value": str(N), "spilled.value": "0",
                                         "filtered.value": "0", "throttled.value": "0"}
    assert values["shipper_dropped"] == {"buffer_full.value": "0"}
    assert values["shipper_buffer"]["limit.value"] == str(DEFAULT_BUFFER_BYTES)
