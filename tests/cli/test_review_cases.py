"""Edges found in review: closed standard streams, broken outputs, odd values from peers."""


import subprocess

import msgpack

from ..forward.helpers import RawClient
from ..processes import SHIPPER, run_send


def test_send_with_stdin_closed_says_so_with_status_64():
    done = subprocess.run(" ".join(SHIPPER) + " send <&-", shell=True, capture_output=True, text=True, timeout=30)
    assert done.returncode == 64 and "stdin is closed" in done.stderr and "Traceback" not in done.stderr


def test_receive_with_stdout_closed_says_so_with_status_64():
    done = subprocess.run(" ".join(SHIPPER) + " receive -l tcp://127.0.0.1:0 >&-", shell=True,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 64 and "stdout is closed" in done.stderr


def test_the_summary_counts_what_failed_when_delivery_fails(receive_process):
    receiver = receive_process()
    url = receiver.url
    receiver.stop()
    done = run_send("--to", url, "--retry-limit", "0", input=b'{"a": 1}\n{"a": 2}\n')
    assert "2 records read, 0 delivered, 2 failed" in done.stderr.decode()


def test_a_time_forward_cannot_carry_falls_back_to_the_read_time_with_a_warning(receive_process):
    receiver = receive_process()
    done = run_send("--to", receiver.url, "--time-key", "t", input=b'{"t": "2200-01-01T00:00:00Z"}\n{"t": -5}\n')
    assert done.returncode == 0
    assert done.stderr.decode().count("not a time Forward can carry") == 2
    assert len(receiver.events()) == 2


def test_a_receiver_whose_output_breaks_stops_with_one_line_and_status_74(receive_process, tmp_path):
    proc = subprocess.Popen([*SHIPPER, "receive", "-l", "tcp://127.0.0.1:0"], stdout=open("/dev/full", "wb"),
                            stderr=subprocess.PIPE)
    url = proc.stderr.readline().decode().split("listening on ")[1].strip()
    sent = run_send("--to", url, "--retry-limit", "0", "--ack-timeout", "2", input=b'{"a": 1}\n')
    assert proc.wait(10) == 74 and sent.returncode == 75
    assert "cannot write events to the output: No space left on device" in proc.stderr.read().decode()


def test_bin_strings_from_fluentd_are_printed_as_text_and_invalid_utf8_is_replaced(receive_process):
    receiver = receive_process()
    from shipper.forward.address import parse_address

    with RawClient(parse_address(receiver.url)) as client:
        body = msgpack.packb([1, {"message": b"hello plain line", "bad": "ok".encode() + b"\xff"}], use_bin_type=True)
        raw_str = b"\x92\x01\x81\xa3bad\xa3x\xffy"  # a str holding invalid UTF-8, as old Ruby senders do
        client.send(msgpack.packb(["t", body + raw_str, {"chunk": "c"}]))
        assert client.receive() == {"ack": "c"}
    records = [e["record"] for e in receiver.events()]
    assert records[0]["message"] == "hello plain line" and records[0]["bad"] == "ok\ufffd"
    assert records[1]["bad"] == "x\ufffdy"


def test_odd_time_values_close_only_that_connection_with_one_line(receive_process):
    receiver = receive_process()
    from shipper.forward.address import parse_address

    address = parse_address(receiver.url)
    for time_value in (float("inf"), float("nan"), 2**63):
        with RawClient(address) as client:
            client.send_message(["t", time_value, {"a": 1}, {"chunk": "c"}])
            assert client.closed_by_peer()
    receiver.stop()
    assert receiver.stderr.count("1970..2106") == 3 and "Traceback" not in receiver.stderr
    assert receiver.stdout == ""
