"""shipper stack: without an engine it says so in one line; with one, it waits for health."""

import os
import subprocess
import sys

import pytest

from shipper.bundle import HERE as BUNDLE
from shipper.errors import ConnectError
from shipper.stack import Container, Stack, StackError, parse_inspect

ROOT = BUNDLE  # configs/ and docker-compose.yml, as shipped in the package


class FakeDocker:
    """Answers docker commands from a script: ``inspect`` returns the next state in turn."""

    def __init__(self, states: list[str], engine: bool = True) -> None:
        self.states = states
        self.engine = engine
        self.commands: list[list[str]] = []

    def __call__(self, command):
        self.commands.append(list(command))
        words = " ".join(command)
        if "info" in command:
            return self._done(0 if self.engine else 1, "", "Cannot connect to the Docker daemon")
        if "inspect" in command:
            return self._done(0, self.states.pop(0) if len(self.states) > 1 else self.states[0])
        if words.endswith("ps -q"):
            return self._done(0, "a1\nb2\n")
        return self._done(0, "")

    @staticmethod
    def _done(code, out, err=""):
        return subprocess.CompletedProcess([], code, out, err)


def which(name):
    return f"/usr/bin/{name}"


def test_without_an_engine_up_is_one_line_and_exit_69(tmp_path):
    result = subprocess.run([sys.executable, "-m", "shipper", "stack", "up"], cwd=ROOT, capture_output=True,
                            text=True, env={"PATH": "/usr/bin:/bin:/usr/local/bin", "DOCKER_HOST": f"unix://{tmp_path}/none.sock"})
    assert result.returncode == 69 and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("shipper stack up: no Docker engine is reachable (")


def test_the_engine_check_comes_first(monkeypatch):
    docker = FakeDocker(["x"], engine=False)
    with pytest.raises(ConnectError, match="no Docker engine is reachable"):
        Stack(ROOT, run=docker, which=which, say=lambda s: None).up([], timeout=5)
    assert not any("up" in command for command in docker.commands)


def test_up_waits_until_every_container_is_healthy_showing_progress(monkeypatch):
    monkeypatch.delenv("SHIPPER_SOURCE", raising=False)
    installed = []
    monkeypatch.setattr("shipper.stack.setup", lambda cluster, configs, kibana, say: installed.append(kibana))
    monkeypatch.setattr("shipper.stack.time.sleep", lambda seconds: None)
    docker = FakeDocker(["/es running starting\n/kb running starting", "/es running healthy\n/kb running starting",
                         "/es running healthy\n/kb running healthy"])
    said = []
    Stack(ROOT, run=docker, which=which, say=said.append).up(["demo"], timeout=60)
    assert said[:3] == ["waiting: es starting, kb starting", "waiting: es healthy, kb starting",
                        "waiting: es healthy, kb healthy"]
    assert said[-1].startswith("Kibana: http://localhost:5601") and installed == ["http://localhost:5601"]
    assert any(c[-5:] == ["--profile", "demo", "up", "-d", "--build"] for c in docker.commands)
    assert os.environ["SHIPPER_SOURCE"] == str(BUNDLE.parents[1])  # the demo installs this checkout


def test_an_unhealthy_container_ends_the_wait_with_its_name(monkeypatch):
    monkeypatch.setattr("shipper.stack.time.sleep", lambda seconds: None)
    docker = FakeDocker(["/es running healthy\n/fluentd running unhealthy"])
    with pytest.raises(StackError, match="fluentd unhealthy; see `docker compose -p shipper logs`"):
        Stack(ROOT, run=docker, which=which, say=lambda s: None).up([], timeout=60)


def test_container_states_are_read_from_docker_inspect():
    assert parse_inspect("/shipper-es-1 running healthy\n/shipper-demo-1 exited -\n") == [
        Container("shipper-es-1", "running", "healthy"), Container("shipper-demo-1", "exited", "-")]
    assert Container("c", "running", "-").ready and Container("c", "exited", "-").failed
