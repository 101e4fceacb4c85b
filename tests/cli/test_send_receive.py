"""``shipper send`` into ``shipper receive``, as real processes."""

import json
import os

import pytest
import trustme

from ..processes import run_send

LINES = b"".join(json.dumps({"n": n, "msg": f"line {n}"}).encode() + b"\n" for n in range(500))


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    ca = trustme.CA()
    folder = tmp_path_factory.mktemp("certs")
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(folder / "server.pem"))
    return folder


MODES = {
    "packed": ["--mode", "packed"],
    "packed-gzip": ["--mode", "packed", "--compress", "gzip"],
    "forward": ["--mode", "forward"],
    "message": ["--mode", "message"],
}
TRANSPORTS = ["tcp", "shared-key", "tls", "tls+shared-key"]


def receiver_and_sender_args(transport, certs):
    receive, send = [], []
    if "shared-key" in transport:
        receive += ["--shared-key", "s3cret"]
        send += ["--shared-key", "s3cret"]
    if "tls" in transport:
        receive += ["--tls-cert", str(certs / "server.pem"), "--tls-key", str(certs / "server.pem")]
        send += ["--tls-ca", str(certs / "ca.pem")]
    return receive, send


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("mode", MODES)
def test_every_record_arrives_in_every_mode_and_transport(receive_process, certs, mode, transport):
    receive_args, send_args = receiver_and_sender_args(transport, certs)
    scheme = "tls" if "tls" in transport else "tcp"
    receiver = receive_process(*receive_args, listen=(f"{scheme}://127.0.0.1:0",))
    sent = run_send("--to", receiver.url, "--tag", "app.web", "--batch-records", "64",
                    *MODES[mode], *send_args, input=LINES)
    assert sent.returncode == 0, sent.stderr.decode()
    events = receiver.events()
    assert [e["record"]["n"] for e in events] == list(range(500))
    assert {e["tag"] for e in events} == {"app.web"}


def test_send_and_receive_over_a_unix_socket(receive_process, tmp_path):
    receiver = receive_process(listen=(f"unix://{tmp_path}/fluent.sock",))
    sent = run_send("--to", f"unix://{tmp_path}/fluent.sock", input=LINES)
    assert sent.returncode == 0 and len(receiver.events()) == 500


def test_send_to_a_unix_socket_peer_that_never_acks_delivers_everything_and_names_the_remedy(
        forward_receiver_factory, tmp_path):
    peer = forward_receiver_factory(f"unix://{tmp_path}/in_unix.sock")
    peer.faults.withhold_acks = True
    sent = run_send("--to", peer.url, input=LINES)
    err = sent.stderr.decode()
    assert sent.returncode == 0 and len(peer.wait_for(500)) == 500
    assert err.count("--no-ack") == 1 and "(500 of them read by a server that does not ack)" in err


def test_the_summary_line_counts_what_was_read_and_delivered(receive_process):
    receiver = receive_process()
    sent = run_send("--to", receiver.url, input=LINES + b"not json\n")
    summary = sent.stderr.decode().splitlines()[-1]
    assert "501 records read, 501 delivered, 0 failed, 1 sent as text" in summary


def test_a_line_that_is_not_json_warns_with_its_number_and_is_sent_as_text(receive_process):
    receiver = receive_process()
    sent = run_send("--to", receiver.url, input=b'{"a":1}\nplain words\n')
    assert "shipper send: line 2: not valid JSON" in sent.stderr.decode()
    assert receiver.events()[1]["record"] == {"message": "plain words"}


def test_strict_stops_with_status_65_after_sending_what_came_before(receive_process):
    receiver = receive_process()
    sent = run_send("--to", receiver.url, "--strict", input=b'{"a":1}\n{"a":2}\n[3]\n{"a":4}\n')
    assert sent.returncode == 65
    assert "line 3: JSON list, not an object (stopped by --strict)" in sent.stderr.decode()
    assert [e["record"] for e in receiver.events()] == [{"a": 1}, {"a": 2}]


def test_undelivered_records_give_a_nonzero_status_with_their_count(receive_process):
    receiver = receive_process()
    url = receiver.url
    receiver.stop()
    sent = run_send("--to", url, "--retry-limit", "1", input=LINES)
    stderr = sent.stderr.decode()
    assert sent.returncode == 75
    assert "500 of 500 records were not acknowledged" in stderr and "Traceback" not in stderr


def test_time_key_sets_the_event_time(receive_process):
    receiver = receive_process()
    run_send("--to", receiver.url, "--time-key", "ts", input=b'{"ts": "2024-05-01T12:00:00.123456789Z"}\n')
    assert receiver.events()[0]["time"] == "2024-05-01T12:00:00.123456789Z"


def test_text_format_sends_each_line_under_the_message_key(receive_process):
    receiver = receive_process()
    run_send("--to", receiver.url, "--format", "text", "--message-key", "log", input=b"hello\nworld\n")
    assert [e["record"] for e in receiver.events()] == [{"log": "hello"}, {"log": "world"}]


def test_the_destination_can_come_from_the_environment(receive_process):
    receiver = receive_process()
    env = {**os.environ, "SHIPPER_SEND_TO": receiver.url}
    assert run_send(input=b'{"a":1}\n', env=env).returncode == 0
    assert len(receiver.events()) == 1


def test_a_flag_wins_over_the_environment(receive_process):
    receiver = receive_process()
    env = {**os.environ, "SHIPPER_SEND_TO": "tcp://127.0.0.1:1"}
    assert run_send("--to", receiver.url, input=b'{"a":1}\n', env=env).returncode == 0


def test_receive_count_prints_running_totals(receive_process):
    receiver = receive_process("--count")
    run_send("--to", receiver.url, input=LINES)
    receiver.stop()
    assert receiver.stdout.splitlines()[-1].startswith("events=500 ")


def test_receive_pretty_shows_time_level_tag_message_and_fields(receive_process):
    receiver = receive_process("--pretty", "--no-color")
    run_send("--to", receiver.url, "--tag", "web", "--time-key", "t",
             input=b'{"t": "2024-05-01T12:00:00Z", "level": "info", "message": "hi", "user": "ann"}\n')
    receiver.stop()
    assert receiver.stdout == "2024-05-01T12:00:00.000Z INFO     [web] hi t=2024-05-01T12:00:00Z user=ann\n"


def test_receive_pretty_verbose_shows_every_field(receive_process):
    receiver = receive_process("--pretty", "--no-color", "-v")
    run_send("--to", receiver.url, "--tag", "web", input=b'{"message": "hi", "event.id": "e-1"}\n')
    receiver.stop()
    assert receiver.stdout.endswith(" -        [web] hi event.id=e-1\n")
