import json
import logging
import socket
import subprocess
import sys

import pytest

import shipper
from shipper.errors import ConfigError

from .test_configure import _base_env


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_records_also_go_straight_to_fluentd_with_shipper_to(logs, log, forward_receiver, monkeypatch):
    monkeypatch.setenv("SHIPPER_TO", forward_receiver.url)
    monkeypatch.setenv("SERVICE_NAME", "billing")
    out = logs()
    log.info("paid", extra={"order.id": 9})
    (event,) = forward_receiver.wait_for(1)
    assert event.tag == "billing" and event.record["message"] == "paid" and event.record["order"] == {"id": 9}
    assert event.record == {**out.last()}  # the same fields as the stdout line


def test_the_tag_can_be_set(logs, log, forward_receiver):
    logs(to=forward_receiver.url, tag="custom.tag")
    log.info("x")
    assert forward_receiver.wait_for(1)[0].tag == "custom.tag"


def test_shipper_to_a_unix_socket_peer_that_never_acks_delivers_every_record_at_once(forward_receiver_factory, tmp_path):
    peer = forward_receiver_factory(f"unix://{tmp_path}/in_unix.sock")
    peer.faults.withhold_acks = True
    code = ("import logging, shipper\n"
            f"shipper.setup_logging(to='{peer.url}')\n"
            "for n in range(40): logging.getLogger('app').info('record %d', n)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env=_base_env())
    received = sorted(int(event.record["message"].split()[1]) for event in peer.wait_for(40))
    assert result.returncode == 0 and result.stderr == "" and received == list(range(40))


def test_tls_is_refused_with_a_pointer_to_logwrap(logs):
    with pytest.raises(ConfigError, match="tcp:// and unix:// only; for TLS run the app under logwrap"):
        logs(to="tls://127.0.0.1:24224")


def test_an_unreachable_fluentd_gives_one_warning_and_every_record_ends_on_stderr():
    code = (
        "import shipper.logs.direct as direct; direct.BUFFER_BYTES = 3000\n"
        "import logging, shipper\n"
        f"shipper.setup_logging(to='tcp://127.0.0.1:{closed_port()}')\n"
        "for n in range(40): logging.getLogger('app').info('record %d', n)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env=_base_env())
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    warnings = [r for r in lines if "cannot reach Fluentd" in r["message"]]
    spilled = sorted(int(r["message"].split()[1]) for r in lines if r["message"].startswith("record "))
    assert result.returncode == 0 and len(warnings) == 1 and spilled == list(range(40))
    assert len(result.stdout.splitlines()) == 40  # stdout had them all along


def test_with_a_one_record_queue_and_fluentd_away_every_record_still_ends_on_stderr(logs, monkeypatch, capsys):
    monkeypatch.setattr("shipper.logs.direct.QUEUE_RECORDS", 1)
    monkeypatch.setattr("shipper.logs.direct.BUFFER_BYTES", 10**9)
    logs(to=f"tcp://127.0.0.1:{closed_port()}")
    for n in range(200):
        logging.getLogger("app").info("burst %d", n)
    shipper.reset_logging()  # closes the sender: what it still held goes to stderr too
    spilled = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    numbers = sorted(int(r["message"].split()[1]) for r in spilled if r["message"].startswith("burst"))
    assert numbers == list(range(200))
