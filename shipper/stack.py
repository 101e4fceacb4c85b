"""``shipper stack up|down|status``: the local pipeline of docker-compose.yml, waited for.

``docker compose`` (or the older ``docker-compose``) does the work; this layer checks that an
engine answers, waits until every container is healthy while showing progress, installs the
templates and Kibana objects (``shipper es setup``) and says where Kibana is. Reading container
states is a pure function, tested without Docker.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .bundle import demo_source
from .errors import ConfigError, ConnectError, ShipperError
from .es import Cluster, setup

PROJECT = "shipper"
ELASTICSEARCH, KIBANA = "http://localhost:9200", "http://localhost:5601"
URLS = f"Kibana: {KIBANA}   Elasticsearch: {ELASTICSEARCH}   Fluentd (Forward): tcp://127.0.0.1:24224"
_INSPECT = "{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}-{{end}}"

Run = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


class StackError(ShipperError):
    exit_code = 69  # EX_UNAVAILABLE: a container did not come up


@dataclass(frozen=True)
class Container:
    name: str
    status: str  # running, exited, ...
    health: str  # healthy, starting, unhealthy, or "-" without a healthcheck

    @property
    def ready(self) -> bool:
        return self.status == "running" and self.health in ("healthy", "-")

    @property
    def failed(self) -> bool:
        return self.status in ("exited", "dead") or self.health == "unhealthy"

    def __str__(self) -> str:
        return f"{self.name} {self.health if self.health != '-' else self.status}"


def parse_inspect(output: str) -> list[Container]:
    """``docker inspect --format _INSPECT`` output, one container a line."""
    containers = []
    for line in output.splitlines():
        name, status, health = (line.split() + ["-", "-"])[:3]
        containers.append(Container(name.lstrip("/"), status, health))
    return containers


def compose_command(which: Callable[[str], str | None],
                    succeeds: Callable[[list[str]], bool]) -> list[str] | None:
    """``docker compose`` when the plugin answers, else the older ``docker-compose``, else None."""
    docker = which("docker")
    if docker and succeeds([docker, "compose", "version"]):
        return [docker, "compose"]
    legacy = which("docker-compose")
    return [legacy] if legacy else None


def _run(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(command), capture_output=True, text=True)


class Stack:
    def __init__(self, root: Path, run: Run = _run, which: Callable[[str], str | None] = shutil.which,
                 say: Callable[[str], None] = print) -> None:
        compose_file = root / "docker-compose.yml"
        if not compose_file.exists():
            raise ConfigError(f"no docker-compose.yml in {root}: give --root a folder made by "
                              "`shipper init`, or leave it out to use the bundled stack")
        self._root = root
        self._file = compose_file
        self._run = run
        self._which = which
        self._say = say

    @cached_property
    def _compose(self) -> list[str]:
        """The compose command, asked for once the engine answered (its absence matters more)."""
        return [*self._compose_command(), "-p", PROJECT, "-f", str(self._file)]

    def up(self, profiles: Sequence[str], timeout: float) -> None:
        self._require_engine()
        if "demo" in profiles:  # the compose file's demo service installs shipper from this tree
            os.environ["SHIPPER_SOURCE"] = str(demo_source())
        flags = [arg for profile in profiles for arg in ("--profile", profile)]
        self._checked([*self._compose, *flags, "up", "-d", "--build"], "start the stack")
        self._wait_healthy(timeout)
        setup(Cluster(ELASTICSEARCH), self._root / "configs", KIBANA, self._say)
        self._say(URLS)

    def down(self, volumes: bool) -> None:
        self._require_engine()
        flags = ["--profile", "logstash", "--profile", "demo"]
        self._checked([*self._compose, *flags, "down", *(["-v"] if volumes else [])], "stop the stack")

    def status(self) -> list[Container]:
        self._require_engine()
        return self._containers()

    def _compose_command(self) -> list[str]:
        found = compose_command(self._which, lambda command: self._run(command).returncode == 0)
        if found is None:
            raise ConfigError("neither `docker compose` nor `docker-compose` is installed")
        return found

    def _require_engine(self) -> None:
        docker = self._which("docker")
        if docker is None:
            raise ConnectError("no Docker engine: the docker command is not installed")
        probe = self._run([docker, "info", "--format", "{{.ServerVersion}}"])
        if probe.returncode != 0:
            reason = (probe.stderr.strip().splitlines() or ["no answer"])[0]
            raise ConnectError(f"no Docker engine is reachable ({reason}); start Docker or set DOCKER_HOST")

    def _checked(self, command: list[str], what: str) -> str:
        done = self._run(command)
        if done.returncode != 0:
            tail = " ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
            raise StackError(f"could not {what}: {tail}")
        return done.stdout

    def _containers(self) -> list[Container]:
        ids = self._checked([*self._compose, "ps", "-q"], "list the containers").split()
        if not ids:
            return []
        docker = self._which("docker") or "docker"
        return parse_inspect(self._checked([docker, "inspect", "--format", _INSPECT, *ids], "inspect them"))

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            containers = self._containers()
            line = ", ".join(map(str, containers))
            if line != last:
                self._say(f"waiting: {line}")
                last = line
            failed = [c for c in containers if c.failed]
            if failed:
                raise StackError(f"{', '.join(map(str, failed))}; see `docker compose -p {PROJECT} logs`")
            if containers and all(c.ready for c in containers):
                return
            if time.monotonic() > deadline:
                raise StackError(f"not healthy after {timeout:g}s: {line}")
            time.sleep(2)  # polling Docker: there is no event to wait on here
