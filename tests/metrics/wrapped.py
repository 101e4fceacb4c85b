"""A real logwrap and the child it wraps, as the end-to-end metrics tests run them.

- ``printing(records)``: a child that prints records as JSON lines, then exits with a given status or,
  with ``hold=True``, holds until its stdin closes (``Logwrap.release``), so a test can look at a
  logwrap whose child still runs.
- ``Logwrap``: ``python -m shipper.logwrap ARGS -- CHILD`` in its own session. Its stderr goes to a
  file (a pipe nobody reads could fill and stall it); its stdin is a pipe the child shares.
- ``Page``: one /metrics page, parsed by prometheus-client's own parser.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

import shipper

from ..processes import LOGWRAP, python
from .peers import wait_until

# The directory the shipper under test is imported from: a process the tests do not start themselves
# (a Munin plugin) gets it as PYTHONPATH, so that it runs this code and not another installed copy.
SOURCE_ROOT = Path(shipper.__file__).resolve().parents[1]
DEFAULT_BUFFER_BYTES = 64 * 1024 * 1024

_PRINTING = """\
import json, sys
for record in json.loads(sys.argv[1]):
    print(record if isinstance(record, str) else json.dumps(record))
sys.stdout.flush()
if sys.argv[2] == "hold":
    sys.stdin.read()
sys.exit(int(sys.argv[3]))
"""


def printing(records: Sequence[dict[str, Any] | str], *, hold: bool = False, status: int = 0) -> list[str]:
    """A child printing each record as a line of JSON (a str as it is), then holding or exiting ``status``."""
    return [*python(_PRINTING), json.dumps(list(records)), "hold" if hold else "exit", str(status)]


def touching(marker: Path) -> list[str]:
    """A child whose only effect is to create ``marker``: proof that it ran."""
    return [*python("import pathlib, sys; pathlib.Path(sys.argv[1]).touch()"), str(marker)]


@dataclass(frozen=True)
class Page:
    """The samples of one /metrics page."""

    samples: tuple[Sample, ...]

    @classmethod
    def parse(cls, text: str) -> Page:
        return cls(tuple(sample for family in text_string_to_metric_families(text) for sample in family.samples))

    def value(self, name: str, **labels: str) -> float:
        """The value of the one sample called ``name`` with exactly ``labels``."""
        found = [sample.value for sample in self.samples if sample.name == name and sample.labels == labels]
        if len(found) != 1:
            raise AssertionError(f"{len(found)} samples {name}{labels or ''} on the page")
        return found[0]

    def total(self, name: str) -> float:
        """The sum of every sample called ``name``, whatever its labels (0 when there is none)."""
        return sum(sample.value for sample in self.samples if sample.name == name)


def get(url: str) -> tuple[int, bytes]:
    """The status and body of ``GET url``, whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


class Logwrap:
    """``logwrap ARGS -- CHILD``; with ``metrics=True`` it serves /metrics on a free port (``metrics_url``)."""

    def __init__(self, args: Sequence[str], child: Sequence[str], stderr_path: Path, *, metrics: bool = False) -> None:
        listen = ["--metrics-listen", "tcp://127.0.0.1:0"] if metrics else []
        self.stderr_path = stderr_path
        with stderr_path.open("wb") as stderr:
            self.proc = subprocess.Popen([*LOGWRAP, *listen, *args, "--", *child], stdin=subprocess.PIPE,
                                         stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
        try:
            self.metrics_url = wait_until(self._announced) if metrics else ""
        except BaseException:
            self.kill()  # nobody else holds it yet
            raise

    def _announced(self) -> str | None:
        """The URL of its 'metrics on' line, once it has written it."""
        found = re.search(r"^logwrap: metrics on (http://\S+)$", self.stderr(), re.MULTILINE)
        if found:
            return found.group(1)
        if self.proc.poll() is not None:
            raise AssertionError(f"logwrap exited with {self.proc.returncode} before serving metrics:\n"
                                 f"{self.stderr()}")
        return None

    @property
    def address(self) -> str:
        """HOST:PORT of the metrics server, as a Prometheus target."""
        return urllib.parse.urlsplit(self.metrics_url).netloc

    def scrape(self) -> Page:
        status, body = get(self.metrics_url)
        assert status == 200, (status, body)
        return Page.parse(body.decode())

    def health(self) -> tuple[int, dict[str, Any]]:
        """The status of /healthz, and its JSON body."""
        status, body = get(self.metrics_url.removesuffix("/metrics") + "/healthz")
        return status, json.loads(body)

    def release(self) -> None:
        """Close the child's stdin: a holding child exits."""
        assert self.proc.stdin is not None
        with suppress(BrokenPipeError):
            self.proc.stdin.close()

    def wait(self, timeout: float = 60) -> int:
        return self.proc.wait(timeout)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL for logwrap and its child (its session), then reap logwrap."""
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.release()
        self.proc.wait(10)
