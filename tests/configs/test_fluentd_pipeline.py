"""configs/fluentd/pipeline.conf run by a real Fluentd (when one is on PATH): what it does to records."""

import json
import socket

import pytest

from shipper.bundle import HERE as BUNDLE

from ..interop.test_fluentd import fluentd, free_port  # noqa: F401 - the fixture
from ..processes import python, run_logwrap, run_send

ROOT = BUNDLE  # configs/ and docker-compose.yml, as shipped in the package
pytestmark = [pytest.mark.fluentd, pytest.mark.skipif(
    __import__("shutil").which("fluentd") is None, reason="no fluentd on PATH")]


@pytest.fixture
def pipeline(fluentd, forward_receiver, monkeypatch):  # noqa: F811 - the fixture imported above
    """Fluentd with our pipeline.conf between a Forward input and a Forward output to the receiver."""
    monkeypatch.setenv("SHIPPER_ENVIRONMENT", "test")
    port = free_port()
    fluentd(f"""
        <source>
          @type forward
          port {port}
          bind 127.0.0.1
        </source>
        @include {ROOT / "configs/fluentd/own-logs.conf"}
        @include {ROOT / "configs/fluentd/pipeline.conf"}
        <match **>
          @type forward
          <server>
            host 127.0.0.1
            port {forward_receiver.port}
          </server>
          <buffer>
            flush_interval 0.1s
          </buffer>
        </match>
    """)
    return f"tcp://127.0.0.1:{port}"


def test_records_get_the_host_and_environment_and_keep_logwraps_id(pipeline, forward_receiver):
    assert run_logwrap(pipeline, "--tag", "web", "--id-key", "event.id", command=python('print("a line")')).returncode == 0
    (event,) = [e for e in forward_receiver.wait_for(1) if e.tag == "web"]
    assert event.record["host.name"] == socket.gethostname() and event.record["labels.environment"] == "test"
    assert event.record["event.id"].startswith(event.record["event.id"].split("-")[0] + "-")  # logwrap's own


def test_what_the_record_already_says_is_kept(pipeline, forward_receiver):
    line = json.dumps({"message": "m", "host.name": "app-7", "labels.environment": "prod", "event.id": "e-1"})
    assert run_send("--to", pipeline, "--tag", "web", input=line.encode() + b"\n").returncode == 0
    (event,) = forward_receiver.wait_for(1)
    assert (event.record["host.name"], event.record["labels.environment"], event.record["event.id"]) == (
        "app-7", "prod", "e-1")


def test_a_docker_driver_records_json_string_is_parsed_into_the_record(pipeline, forward_receiver):
    line = json.dumps({"log": json.dumps({"message": "from docker", "log.level": "warning"}), "container_id": "c1"})
    assert run_send("--to", pipeline, "--tag", "docker.app", input=line.encode() + b"\n").returncode == 0
    (event,) = forward_receiver.wait_for(1)
    assert event.record["message"] == "from docker" and event.record["log.level"] == "warning"
    assert event.record["container_id"] == "c1" and "log" not in event.record
    assert len(event.record["event.id"]) == 36  # a record without an id gets one (op_type create needs it)
