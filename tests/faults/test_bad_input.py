"""Bad input: random bytes through the sans-I/O core, monsters through logwrap, abuse of the receiver."""

from __future__ import annotations

import re
import resource
import socket
import subprocess
import time

import trustme
from hypothesis import given, settings
from hypothesis import strategies as st

from shipper.forward.protocol import decode_packed_entries
from shipper.wrap.framing import LineFramer, Part
from shipper.wrap.multiline import Group, Grouper
from shipper.wrap.records import IdSource, RecordBuilder, RecordOptions

from ..processes import LOGWRAP, SHIPPER, python, run_logwrap
from .test_network_faults import measured, summary

_EXAMPLES = 500
_seen = {"inputs": 0, "bytes": 0}


def expected_lines(data: bytes) -> list[bytes]:
    """The lines the framing must give: split on \\n, one trailing \\r removed, the tail kept."""
    pieces = data.split(b"\n")
    lines = [p[:-1] if p.endswith(b"\r") else p for p in pieces]
    return lines if lines[-1] else lines[:-1]


@settings(max_examples=_EXAMPLES, deadline=None)
@given(st.binary(max_size=3000) | st.lists(st.sampled_from([b"\n", b"\r", b"{", b"}", b"\xff", b"x" * 100,
                                                         b"Traceback (most recent call last):", b'  File "a"']),
                                       max_size=60).map(b"".join),
       st.lists(st.integers(1, 700), max_size=8), st.sampled_from([64, 300, 4096]))
def random_bytes_property(data, cuts, max_line):
    framer = LineFramer(max_line)
    items: list = []
    position = 0
    for cut in cuts + [len(data)]:
        items += framer.feed(data[position:position + cut])
        position += cut
    items += framer.end()
    whole, parts = [], b""
    for item in items:  # every byte is in a line or a part, in order
        if isinstance(item, Part):
            parts += item.data
            if item.last:
                whole.append(parts)
                parts = b""
        else:
            whole.append(item)
    assert whole == expected_lines(data)
    grouper = Grouper("python")
    grouped = grouper.feed(items, data, 0.0) + grouper.end()
    flat = [line for g in grouped for line in (g.lines if isinstance(g, Group) else [g])]
    assert flat == items  # grouping only gathers lines: none lost, none added, order kept
    body, end = RecordBuilder("stdout", RecordOptions(), IdSource()).pack(items, 0, 10**6, 10**9, 0)
    assert end == len(items) and len(decode_packed_entries(body)) == len(items)
    _seen["inputs"] += 1
    _seen["bytes"] += len(data)


def test_random_bytes_row(reliability):
    """hypothesis: random bytes through framing, record building and multiline grouping"""
    random_bytes_property()
    reliability(f"{_seen['inputs']:,} random inputs ({_seen['bytes']:,} bytes), read in random pieces: "
                "0 exceptions, every byte in a line or a part, one record per item")


MONSTERS = {
    "invalid UTF-8": b"caf\xe9 \xff\xfe ok",
    "NUL bytes": b"a\x00b\x00c",
    "JSON nested 100,000 deep": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "a JSON array": b"[1, 2, 3]",
    "a JSON scalar": b"42",
}


def test_odd_lines_become_text_records(forward_receiver, reliability):
    """Invalid UTF-8, NUL bytes, JSON nested 100,000 deep, JSON arrays and scalars on a line"""
    app = "import sys\nfor line in sys.stdin.buffer: sys.stdout.buffer.write(line)"
    result = run_logwrap(forward_receiver.url, command=python(app), input=b"\n".join(MONSTERS.values()) + b"\n")
    records = [e.record["message"] for e in forward_receiver.wait_for(len(MONSTERS))]
    assert result.returncode == 0
    assert records == [line.decode("utf-8", "replace") for line in MONSTERS.values()]
    reliability(f"{len(MONSTERS)} of {len(MONSTERS)} kept as text records, byte for byte (invalid UTF-8 replaced)")


def flood(receiver, shell: str) -> tuple[int, tuple[int, ...], int, float, float]:  # type: ignore[no-untyped-def]
    """logwrap around ``sh -c shell``: exit status, its summary, records received, peak RSS, seconds."""
    code, err, peak, elapsed = measured([*LOGWRAP, "--to", receiver.url, "--", "sh", "-c", shell])
    return code, summary(err), receiver.stop(), peak, elapsed


def test_a_100_mb_line(counting_receiver, reliability):
    """A 100 MB single line"""
    code, totals, received, peak, elapsed = flood(counting_receiver(),
                                                  "head -c 100000000 /dev/zero | tr '\\0' x; echo")
    lines, records, shipped, dropped, spilled = totals
    assert code == 0 and (lines, shipped, dropped, spilled) == (96, 96, 0, 0) and received == 96
    assert peak < 64 + 40  # never the whole line in memory
    reliability(f"shipped as {shipped} parts of at most 1 MiB (Docker's partial_* fields), none lost; "
                f"peak RSS {peak:.0f} MiB; {elapsed:.1f} s")


def test_a_gigabyte_of_one_byte_without_newline(counting_receiver, reliability):
    """A 1 GB stream of one repeated byte with no newline"""
    code, totals, received, peak, elapsed = flood(counting_receiver(), "head -c 1073741824 /dev/zero | tr '\\0' a")
    lines, records, shipped, dropped, spilled = totals
    assert code == 0 and shipped == received == 1024 and dropped == spilled == 0 and peak < 64 + 40
    reliability(f"split into {shipped:,} parts of 1 MiB, all delivered; peak RSS {peak:.0f} MiB "
                f"(bound 104); {elapsed:.1f} s ({1024 / elapsed:.0f} MB/s)")


def test_receiver_under_abuse_serves_others(counting_receiver, reliability):
    """Into shipper receive: random bytes, truncated and oversized frames, a slowloris, 1,000 idle connections"""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    receiver = counting_receiver("--max-frame-bytes", "1MiB", "--frame-timeout", "2")
    host, port = "127.0.0.1", receiver.port
    idle: list[socket.socket] = []
    abusive: list[socket.socket] = []
    try:
        idle += [socket.create_connection((host, port)) for _ in range(1000)]
        for payload in (bytes(range(256)) * 4, b"\x93\xa3tag\xc6\x00\x10\x00\x00", b"\x93\xa1t\xc6\x7f\xff\xff\xff"):
            conn = socket.create_connection((host, port))
            conn.sendall(payload)
            abusive.append(conn)
        slow = socket.create_connection((host, port))
        abusive.append(slow)
        ports = [conn.getsockname()[1] for conn in abusive]  # how the receiver's log names each
        started = time.monotonic()
        garbage_closed = _closed_by_peer(abusive[0])
        garbage_after = time.monotonic() - started
        slowloris_cut_after = _trickle(slow)
        sent = subprocess.run([*SHIPPER, "send", "--to", receiver.url], capture_output=True, timeout=120,
                              input=b"".join(b'{"n": %d}\n' % n for n in range(100_000)))
        peak = receiver.peak_mib()
        timed_out = [_closed_by_peer(conn) for conn in abusive[1:3]]  # the truncated and oversized frames
        idle_open = sum(_still_open(conn) for conn in idle)
    finally:
        for conn in [*idle, *abusive]:
            conn.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    received = receiver.stop()
    garbage, truncated, oversized, slowloris = (_closed_because(receiver.log, port) for port in ports)
    assert garbage_closed and timed_out == [True] * 2 and idle_open == 1000
    assert "expected a message array" in garbage  # closed for what it sent, not at the frame timeout
    assert all("incomplete for 2s" in reason for reason in (truncated, oversized, slowloris))
    assert 2 <= slowloris_cut_after < _TRICKLE_LIMIT  # cut at the frame timeout although it kept sending
    assert sent.returncode == 0 and received == 100_000 and peak < 200
    assert receiver.log.count("closing connection from") == 4
    reliability(f"garbage closed in {garbage_after:.2f} s; truncated and oversized frames closed at --frame-timeout "
                f"(2 s here), a slowloris still sending a byte every 0.3 s cut after {slowloris_cut_after:.1f} s, "
                "each with the reason logged; 1,000 idle connections still open; "
                f"a normal sender alongside: 100,000 of 100,000 acked; receiver peak RSS {peak:.0f} MiB")


_TRICKLE_LIMIT = 30.0  # seconds; the whole frame would take 80 s at a byte every 0.3 s


def _closed_because(log: str, port: int) -> str:
    """Why the receiver closed the connection from 127.0.0.1:``port``, from its log ("" if it did not)."""
    found = re.search(rf"closing connection from 127\.0\.0\.1:{port}: (.*)", log)
    return found.group(1) if found else ""


def _trickle(conn: socket.socket, every: float = 0.3, limit: float = _TRICKLE_LIMIT) -> float:
    """Send a frame one byte at a time until the receiver cuts the connection (or ``limit`` seconds
    pass); seconds it took."""
    started = time.monotonic()
    frame = b"\x93\xa3tag\xc6\x00\x00\x01\x00" + b"x" * 256
    for byte in frame:
        try:
            conn.send(bytes([byte]))
        except OSError:
            return time.monotonic() - started
        if time.monotonic() - started > limit:
            break
        time.sleep(every)  # the slowness is the attack
    return time.monotonic() - started


def _still_open(conn: socket.socket) -> bool:
    conn.setblocking(False)
    try:
        return conn.recv(1) != b""
    except BlockingIOError:
        return True  # nothing to read, and not closed
    except OSError:
        return False


def _closed_by_peer(conn: socket.socket) -> bool:
    conn.settimeout(10)
    try:
        return conn.recv(1) == b""
    except ConnectionResetError:
        return True


def test_wrong_credentials_are_refused_clearly_and_others_served(counting_receiver, tmp_path, reliability):
    """Into shipper receive: a wrong shared key, and TLS with a wrong CA, beside a good client"""
    ca, other = trustme.CA(), trustme.CA()
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    other.cert_pem.write_to_path(str(tmp_path / "other.pem"))
    receiver = counting_receiver("-l", "tls://127.0.0.1:0", "--shared-key", "right", "--tls-cert",
                                 str(tmp_path / "server.pem"), "--tls-key", str(tmp_path / "server.pem"))
    tls_url = receiver.urls[1]

    def send(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*SHIPPER, "send", "--retry-limit", "0", *args], input=b'{"a": 1}\n' * 10,
                              capture_output=True, timeout=60)

    wrong_key = send("--to", receiver.url, "--shared-key", "wrong")
    wrong_ca = send("--to", tls_url, "--shared-key", "right", "--tls-ca", str(tmp_path / "other.pem"))
    good = send("--to", tls_url, "--shared-key", "right", "--tls-ca", str(tmp_path / "ca.pem"))
    counted = receiver.stop()
    assert b"shared key mismatch" in wrong_key.stderr and wrong_key.returncode != 0
    assert b"certificate could not be verified" in wrong_ca.stderr and wrong_ca.returncode != 0
    assert good.returncode == 0 and counted == 10 and b"Traceback" not in wrong_key.stderr + wrong_ca.stderr
    reliability("wrong key: 'shared key mismatch'; wrong CA: 'certificate could not be verified'; "
                "no traceback; the good client's 10 of 10 delivered")
