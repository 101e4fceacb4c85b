"""configs/fluentd/pipeline.conf run by a real Fluentd (when one is on PATH): what it does to records."""

import json
import socket
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ..interop.test_fluentd import fluentd, free_port  # noqa: F401 - the fixture
from ..processes import python, run_logwrap, run_send

ROOT = Path(__file__).resolve().parents[2]
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


def test_records_get_the_host_and_environment_and_text_lines_a_timestamp(pipeline, forward_receiver):
    app = 'print("plain text line")\nprint(\'{"@timestamp": "2026-11-28T01:02:03.123456Z", "message": "json"}\')'
    assert run_logwrap(pipeline, "--tag", "web", command=python(app)).returncode == 0
    events = {e.record["message"]: e for e in forward_receiver.wait_for(2) if e.tag == "web"}
    text, structured = events["plain text line"], events["json"]
    assert text.record["host.name"] == socket.gethostname() and text.record["labels.environment"] == "test"
    stamp = datetime.strptime(text.record["@timestamp"][:26] + "Z", "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    assert abs(stamp.timestamp() * 1e9 - text.time) < 1000  # the event time, to the nanosecond digits
    assert structured.record["@timestamp"] == "2026-11-28T01:02:03.123456Z"  # the app's own is kept


def test_a_docker_driver_records_json_string_is_parsed_into_the_record(pipeline, forward_receiver):
    line = json.dumps({"log": json.dumps({"message": "from docker", "log.level": "warning"}), "container_id": "c1"})
    assert run_send("--to", pipeline, "--tag", "docker.app", input=line.encode() + b"\n").returncode == 0
    (event,) = forward_receiver.wait_for(1)
    assert event.record["message"] == "from docker" and event.record["log.level"] == "warning"
    assert event.record["container_id"] == "c1" and "log" not in event.record
