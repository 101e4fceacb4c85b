"""The child misbehaves, the peer never acks, and what logwrap must never do (write files, leak secrets)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import time

import pytest
import trustme

from shipper.forward.transport import ServerTls

from ..processes import LOGWRAP, SHIPPER, python, run_logwrap
from .test_network_faults import summary

CRASHES = {
    "SIGSEGV": ("import os, signal, sys\nfor n in range(1000): print(n)\nsys.stdout.flush()\n"
                "os.kill(os.getpid(), signal.SIGSEGV)", 128 + signal.SIGSEGV),
    "SIGKILL": ("import os, signal, sys\nfor n in range(1000): print(n)\nsys.stdout.flush()\n"
                "os.kill(os.getpid(), signal.SIGKILL)", 128 + signal.SIGKILL),
    "closes stdout early": ("import os, sys\nfor n in range(1000): print(n)\nsys.stdout.flush()\nos.close(1)\n"
                            "import time\nprint('still here', file=sys.stderr)", 0),
    "grandchild keeps the pipes": ("import subprocess, sys\nfor n in range(1000): print(n)\n"
                                   "grandchild = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])\n"
                                   "print('grandchild', grandchild.pid, flush=True)", 0),
}


def test_child_crashes_and_misbehaviour(forward_receiver, reliability):
    """Child crashes (SIGSEGV, SIGKILL), closes stdout early, or leaves a grandchild holding the pipes"""
    figures = []
    grandchildren: list[int] = []
    try:
        for name, (code, expected) in CRASHES.items():
            forward_receiver.clear()
            started = time.monotonic()
            result = run_logwrap(forward_receiver.url, "--drain-timeout", "3", command=python(code))
            elapsed = time.monotonic() - started
            events = forward_receiver.wait_for(1000)
            grandchildren += [int(e.record["message"].split()[1]) for e in events
                              if str(e.record["message"]).startswith("grandchild ")]
            err = result.stderr.decode()
            lines, records, shipped, dropped, spilled = summary(err)
            assert result.returncode == expected and shipped >= 1000 and dropped == spilled == 0
            if name == "grandchild keeps the pipes":
                # logwrap stopped reading at its drain timeout, not when the pipes closed (30 s on)
                assert "the child exited but its output pipes are still open" in err and elapsed >= 3
            figures.append(f"{name}: exit {result.returncode}, 1,000 of 1,000 shipped, {elapsed:.1f} s")
    finally:
        for pid in grandchildren:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    reliability("; ".join(figures))


def test_a_child_that_ignores_term(forward_receiver, spawn, reliability):
    """Child ignores TERM: logwrap passes it on and keeps running with it, until the child is killed"""
    code = ("import os, signal, sys, time\n"
            "signal.signal(signal.SIGTERM, lambda *a: print('got TERM, staying', flush=True))\n"
            "print(os.getpid(), flush=True)\n"
            "while True: time.sleep(1)")
    proc = spawn([*LOGWRAP, "--to", forward_receiver.url, "--", *python(code)], stderr=subprocess.PIPE)
    (event,) = forward_receiver.wait_for(1)
    proc.send_signal(signal.SIGTERM)
    forward_receiver.wait_until(lambda e: e.record.get("message") == "got TERM, staying")  # it reached the child
    assert proc.poll() is None  # logwrap stays with its child
    os.kill(int(event.record["message"]), signal.SIGKILL)  # what a supervisor does after its timeout
    assert proc.wait(10) == 128 + signal.SIGKILL
    reliability("TERM reached the child, which chose to stay; logwrap stayed with it; the child's KILL gave "
                "exit 137")


def test_a_peer_that_never_acks(forward_receiver_factory, tmp_path, reliability):
    """Fluentd in_unix style peer (a Unix socket that reads and never acks), logwrap's default flags"""
    peer = forward_receiver_factory(f"unix://{tmp_path}/in_unix.sock")
    peer.faults.withhold_acks = True
    started = time.monotonic()
    result = run_logwrap(peer.url, command=python("for n in range(100): print(n)"))
    elapsed = time.monotonic() - started
    err = result.stderr.decode()
    warnings = [line for line in err.splitlines() if "--no-ack" in line]
    lines, records, shipped, dropped, spilled = summary(err)
    received = sorted(int(event.record["message"]) for event in peer.wait_for(100))
    assert result.returncode == 0 and len(warnings) == 1 and (shipped, spilled) == (100, 0)
    assert received == list(range(100)) and "(100 of them read by a server that does not ack)" in err
    assert "could not deliver everything within --drain-timeout" not in err  # it did not sit through it
    reliability(f"found within a second, with one warning naming --no-ack and in_forward; "
                f"100 of 100 stored once, none spilled; exit after {elapsed:.1f} s")


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_logwrap_never_opens_a_file_for_writing(forward_receiver, tmp_path, reliability):
    """logwrap never opens a file for writing (strace -f, logwrap's own process)"""
    trace = tmp_path / "trace"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    command = ["strace", "-f", "-qq", "-e", "trace=open,openat,creat,execve", "-o", str(trace), *LOGWRAP,
               "--to", forward_receiver.url, "--", *python("for n in range(1000): print(n)")]
    assert subprocess.run(command, env=env, capture_output=True, timeout=60).returncode == 0
    calls = [line.split(None, 1) for line in trace.read_text().splitlines()]
    first = calls[0][0]  # strace's own child: it execs logwrap
    # logwrap's process is every pid or thread id but the ones that exec something else (its child)
    child = {pid for pid, call in calls if call.startswith("execve(") and pid != first}
    own = [call for pid, call in calls if pid not in child and not call.startswith("execve(")]
    writes = [call for call in own if re.search(r"O_WRONLY|O_RDWR|O_CREAT|creat\(", call)]
    assert own and child and writes == [], writes
    reliability(f"{len(own)} open calls by logwrap's process, 0 for writing")


def test_redacted_secrets_never_reach_the_wire(forward_receiver, reliability):
    """Secrets redacted by the logging setup never reach the wire (checked at the receiver)"""
    app = ("import logging, shipper.autolog\nlogging.getLogger('a').info('login', extra={'password': 'hunter2', "
           "'headers': {'Authorization': 'Bearer s3cr3t'}, 'user': {'api_key': 'k-123'}})")
    result = run_logwrap(forward_receiver.url, command=python(app))
    (event,) = forward_receiver.wait_for(1)
    wire = repr(event.record)
    assert result.returncode == 0 and not any(secret in wire for secret in ("hunter2", "s3cr3t", "k-123"))
    assert event.record["password"] == "[REDACTED]"
    reliability("3 of 3 secrets masked; none in the received record")


def test_unix_socket_is_0600_and_tls_verifies_by_default(tmp_path, forward_receiver_factory, spawn, reliability):
    """The receiver's Unix socket mode is 0600 by default; TLS verification is on by default"""
    path = tmp_path / "fwd.sock"
    proc = subprocess.Popen([*SHIPPER, "receive", "-l", f"unix://{path}"], stderr=subprocess.PIPE, text=True)
    try:
        assert "listening on" in proc.stderr.readline()
        mode = stat.S_IMODE(os.stat(path).st_mode)
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stderr.close()
    ca = trustme.CA()
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    receiver = forward_receiver_factory("tls://127.0.0.1:0", tls=ServerTls(str(tmp_path / "server.pem"),
                                                                           str(tmp_path / "server.pem")))
    app = python("print('over tls')")
    # nothing is sent before the child exits, and the drain would wait long: the refusal is
    # awaited as a line, then a TERM ends the drain and the record is spilled
    unverified = spawn([*LOGWRAP, "--to", receiver.url, "--flush-interval", "300", "--drain-timeout", "300",
                        "--", *app], stderr=subprocess.PIPE)
    refusal = next((line for line in iter(unverified.stderr.readline, b"")
                    if b"certificate could not be verified" in line), b"")
    unverified.send_signal(signal.SIGTERM)
    _, rest = unverified.communicate(timeout=30)
    spilled = [json.loads(line)["record"]["message"] for line in rest.splitlines() if line.startswith(b"{")]
    verified = run_logwrap(receiver.url, "--tls-ca", str(tmp_path / "ca.pem"), command=app)
    assert mode == 0o600 and refusal and unverified.returncode == 0 and spilled == ["over tls"]
    assert verified.returncode == 0 and [e.record["message"] for e in receiver.wait_for(1)] == ["over tls"]
    reliability(f"socket mode {mode:o}; a server whose CA is not given is refused (the record is spilled), "
                "and delivered once --tls-ca names it")
