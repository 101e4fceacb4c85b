"""Against a real Fluentd: runs when ``fluentd`` is on PATH, skips otherwise."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from ..processes import python, run_logwrap, run_send

pytestmark = [
    pytest.mark.fluentd,
    pytest.mark.skipif(shutil.which("fluentd") is None, reason="no fluentd on PATH"),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Fluentd:
    """A fluentd process; its stdout lines are collected and can be awaited."""

    def __init__(self, config: str, folder) -> None:
        path = folder / "fluent.conf"
        path.write_text(textwrap.dedent(config))
        self.proc = subprocess.Popen(
            ["fluentd", "--no-supervisor", "-c", str(path)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        threading.Thread(target=self._collect, daemon=True).start()
        self.wait_for("fluentd worker is now running")

    def _collect(self) -> None:
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()

    def wait_for(self, text: str, count: int = 1, timeout: float = 30) -> list[str]:
        def found() -> list[str]:
            return [line for line in self.lines if text in line]

        with self._changed:
            done = lambda: len(found()) >= count or self.proc.poll() is not None  # noqa: E731
            if not self._changed.wait_for(done, timeout):
                raise AssertionError(f"fluentd never printed {text!r}:\n{''.join(self.lines)}")
            if len(found()) < count:
                raise AssertionError(f"fluentd exited:\n{''.join(self.lines)}")
            return found()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


@pytest.fixture
def fluentd(tmp_path):
    started: list[Fluentd] = []

    def start(config: str) -> Fluentd:
        started.append(Fluentd(config, tmp_path))
        return started[-1]

    yield start
    for process in started:
        process.stop()


LINES = b"".join(b'{"n": %d, "msg": "hello"}\n' % n for n in range(50))


def in_forward_to_stdout(fluentd, match: str) -> tuple[Fluentd, str]:
    """Fluentd with an in_forward source, printing the records whose tag matches; and its URL."""
    port = free_port()
    server = fluentd(f"""
        <source>
          @type forward
          bind 127.0.0.1
          port {port}
        </source>
        <match {match}>
          @type stdout
        </match>
    """)
    return server, f"tcp://127.0.0.1:{port}"


def test_shipper_send_delivers_to_fluentd_in_forward_with_acks(fluentd):
    server, url = in_forward_to_stdout(fluentd, "app.**")
    sent = run_send("--to", url, "--tag", "app.web", input=LINES)
    assert sent.returncode == 0, sent.stderr.decode()
    assert "50 delivered" in sent.stderr.decode()
    assert len(server.wait_for("app.web: {", count=50)) == 50


def test_shipper_send_passes_fluentd_shared_key_and_user_auth(fluentd):
    port = free_port()
    server = fluentd(f"""
        <source>
          @type forward
          bind 127.0.0.1
          port {port}
          <security>
            self_hostname collector
            shared_key s3cret
            user_auth true
            <user>
              username ann
              password pw
            </user>
          </security>
        </source>
        <match app.**>
          @type stdout
        </match>
    """)
    sent = run_send("--to", f"tcp://127.0.0.1:{port}", "--tag", "app.sec", "--shared-key", "s3cret",
                    "--username", "ann", "--password", "pw", input=LINES)
    assert sent.returncode == 0, sent.stderr.decode()
    assert len(server.wait_for("app.sec: {", count=50)) == 50


def test_shipper_send_reports_fluentds_refusal_of_a_wrong_key(fluentd):
    port = free_port()
    fluentd(f"""
        <source>
          @type forward
          bind 127.0.0.1
          port {port}
          <security>
            self_hostname collector
            shared_key s3cret
          </security>
        </source>
        <match **>
          @type null
        </match>
    """)
    sent = run_send("--to", f"tcp://127.0.0.1:{port}", "--shared-key", "wrong", "--retry-limit", "0",
                    input=LINES)
    stderr = sent.stderr.decode()
    assert sent.returncode == 75
    # Fluentd closes with SO_LINGER 0: its PONG with the reason may be overtaken by the reset.
    assert "refused the handshake: shared_key mismatch" in stderr or "check --shared-key" in stderr


def test_fluentd_out_forward_with_acks_gzip_and_shared_key_delivers_to_us(fluentd, forward_receiver_factory):
    receiver = forward_receiver_factory(shared_key="s3cret")
    fluentd(f"""
        <source>
          @type sample
          tag app.sample
          rate 20
          auto_increment_key n
          sample {{"msg": "from fluentd"}}
        </source>
        <match app.**>
          @type forward
          require_ack_response true
          compress gzip
          <security>
            self_hostname fluentd-test
            shared_key s3cret
          </security>
          <server>
            host 127.0.0.1
            port {receiver.port}
          </server>
          <buffer>
            flush_interval 0.2s
          </buffer>
        </match>
    """)
    events = receiver.wait_for(20, timeout=30)
    assert {e.tag for e in events} == {"app.sample"}
    assert all(e.record["msg"] == "from fluentd" for e in events)
    receiver.wait_for_acks(1)
    numbers = [e.record["n"] for e in events]
    assert numbers == sorted(numbers)


@pytest.fixture
def in_unix(fluentd, tmp_path):
    """Fluentd whose only source is in_unix, as in configs/fluentd/sources.conf; records to stdout."""
    path = tmp_path / "fluentd.sock"
    server = fluentd(f"""
        <source>
          @type unix
          path {path}
        </source>
        <match **>
          @type stdout
        </match>
    """)
    server.url = f"unix://{path}"
    return server


def stored_once(server, tag: str, key: str, count: int) -> list[int]:
    """The values of ``key`` Fluentd printed for ``tag``, once every earlier record is out.

    A marker sent afterwards on a new connection comes out after everything read before it: in_unix
    emits what it reads before reading more, and the sender counted its records shipped only once
    Fluentd had read them.
    """
    marker = run_send("--to", server.url, "--tag", "marker", "--no-ack", input=b'{"end": true}\n')
    assert marker.returncode == 0, marker.stderr.decode()
    server.wait_for("marker: {")
    found = [json.loads(line.split(f"{tag}: ", 1)[1]) for line in server.lines if f" {tag}: {{" in line]
    values = sorted(record[key] for record in found)
    assert len(values) == count and values == sorted(set(values)), values
    return values


def test_logwrap_delivers_to_fluentd_in_unix_with_the_default_flags(in_unix):
    started = time.monotonic()
    done = run_logwrap(in_unix.url, "--tag", "u", command=python('for i in range(1000): print("{\\"i\\": %d}" % i)'))
    elapsed = time.monotonic() - started
    err = done.stderr.decode()
    assert done.returncode == 0 and stored_once(in_unix, "u", "i", 1000) == list(range(1000))
    assert err.count("--no-ack") == 1 and "in_forward" in err  # the remedy, once
    assert "1000 shipped, 0 dropped, 0 spilled to stderr" in err
    assert "could not deliver everything within --drain-timeout" not in err, f"{elapsed:.1f}s"


def test_shipper_send_delivers_to_fluentd_in_unix_with_the_default_flags(in_unix):
    sent = run_send("--to", in_unix.url, "--tag", "app.web", input=LINES)
    assert sent.returncode == 0 and "50 delivered, 0 failed" in sent.stderr.decode()
    assert stored_once(in_unix, "app.web", "n", 50) == list(range(50))


def test_shipper_to_delivers_to_fluentd_in_unix(in_unix):
    code = ("import logging, shipper\n"
            f"shipper.setup_logging(to='{in_unix.url}', tag='direct')\n"
            "for n in range(40): logging.getLogger('app').info('record', extra={'n': n})\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == ""
    in_unix.wait_for(" direct: {", count=40)
    assert stored_once(in_unix, "direct", "n", 40) == list(range(40))


DEEP_LINES = ('import json\nprint(json.dumps({"n": 1}))\n'
              'print(\'{"a": \' * 64 + "{}" + "}" * 64)\n'
              'print(\'{"a": \' * 4999 + "{}" + "}" * 4999)\n'
              'print(json.dumps({"n": 4}))\n')


def test_lines_nested_too_deep_do_not_poison_a_chunk_for_fluentd(fluentd):
    server, url = in_forward_to_stdout(fluentd, "deep")
    done = run_logwrap(url, "--tag", "deep", command=python(DEEP_LINES))
    assert done.returncode == 0 and "4 shipped, 0 dropped, 0 spilled" in done.stderr.decode()
    records = [json.loads(line.split("deep: ", 1)[1]) for line in server.wait_for("deep: {", count=4)]
    assert [r.get("n") for r in records] == [1, None, None, 4]
    assert [r["message"][:6] for r in records[1:3]] == ['{"a": ', '{"a": ']  # kept as text, whole
