"""The metrics flags: where to serve and where to push, checked before anything starts."""

import subprocess

import pytest

from shipper.errors import ConfigError
from shipper.forward.address import Address, parse_endpoint

from ..processes import LOGWRAP


def test_an_endpoint_is_a_url_or_host_and_port():
    assert parse_endpoint("udp://statsd:8126", "udp", "--statsd", 8125) == Address("udp", "statsd", 8126)
    assert parse_endpoint("0.0.0.0:9880", "tcp", "--metrics-listen", 9880) == Address("tcp", "0.0.0.0", 9880)
    assert parse_endpoint("udp://statsd", "udp", "--statsd", 8125) == Address("udp", "statsd", 8125)


@pytest.mark.parametrize(("url", "message"), [
    ("tcp://statsd:8125", "the scheme must be udp://"), ("udp://statsd:99999", "the port must be a number"),
    ("udp://:8125", "has no host")])
def test_a_bad_endpoint_names_the_flag_and_what_is_wrong(url, message):
    with pytest.raises(ConfigError, match=f"--statsd {url!r}.*{message}"):
        parse_endpoint(url, "udp", "--statsd", 8125)


def test_logwrap_refuses_a_bad_metrics_flag_with_one_line_and_status_64_before_the_child_runs(tmp_path):
    marker = tmp_path / "ran"
    done = subprocess.run([*LOGWRAP, "--statsd", "http://statsd", "--", "touch", str(marker)],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 64 and not marker.exists()
    assert done.stderr.strip().splitlines() == [
        "logwrap: --statsd 'http://statsd': the scheme must be udp://, as in udp://127.0.0.1:8125"]


def test_a_bare_port_asks_for_the_host_too():
    with pytest.raises(ConfigError, match="give the host too, as in tcp://127.0.0.1:9880"):
        parse_endpoint("9880", "tcp", "--metrics-listen", 9880)
