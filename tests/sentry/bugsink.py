"""A real Sentry-compatible server for the tests: Bugsink (PyPI ``bugsink``), started once per session.

Bugsink pins its dependencies tightly (Django, requests, gunicorn), so it lives in a virtualenv of its
own: ``SHIPPER_BUGSINK_VENV`` when set, else ``.venv-bugsink`` at the top of the repository; ``.ci/run``
creates that one. Without it the tests skip, saying how to create it; under ``SHIPPER_EXPECT_TOOLS=1``
(CI) they fail.

A session's server runs in a temporary directory with its own configuration, made by
``bugsink-create-conf`` for its private port, and its own databases, ingestion store and snappea
directory; it does not phone home. Migrating both databases takes 7-12 s here, 20-45 s on a loaded
machine, so it is done once per Bugsink version: the migrated databases, with an API token already in
them, are kept in the virtualenv as a template that each session copies (``template``). From there a
session's server is ready in 1.3-1.7 s (2.5-4 s loaded).

The tests talk to it through its REST API, as ``Bugsink`` and ``Project`` below: a test creates its own
project, points sentry-sdk at ``project.dsn``, and reads the events back.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import tempfile
import textwrap
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Any

from ..peers import READ_TIMEOUT, answers_ok, free_port, missing, running, wait_until

VERSION = "2.6.2"  # the one .ci/run installs
REPOSITORY = Path(__file__).resolve().parents[2]
DATABASES = ("db.sqlite3", "snappea.sqlite3")
Json = Any
# Straight to 127.0.0.1, whatever http_proxy says.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def venv() -> Path:
    return Path(os.environ.get("SHIPPER_BUGSINK_VENV") or REPOSITORY / ".venv-bugsink").absolute()


def create_command(where: Path) -> str:
    """The command that creates a Bugsink virtualenv at ``where`` (Bugsink needs Python >= 3.11)."""
    return f"python3.11 -m venv {shlex.quote(str(where))} && {shlex.quote(str(where / 'bin' / 'pip'))} install -q bugsink=={VERSION}"


def need_bugsink() -> Path:
    """The Bugsink virtualenv; when it has no Bugsink the test is skipped, or failed under SHIPPER_EXPECT_TOOLS=1."""
    where = venv()
    if os.access(where / "bin" / "bugsink-manage", os.X_OK):
        return where
    missing(f"Bugsink is not installed in {where} (SHIPPER_BUGSINK_VENV chooses another virtualenv); "
            f"create it with: {create_command(where)}")


def versions(where: Path) -> str:
    """``bugsink-2.6.2-django-5.2.19``: what decides the migrated schema, read from the virtualenv's metadata."""
    site = [str(path) for path in where.glob("lib/python3*/site-packages")]
    found = {dist.metadata["Name"].lower(): dist.version for dist in importlib.metadata.distributions(path=site)}
    return f"bugsink-{found['bugsink']}-django-{found['django']}"


def environment(folder: Path) -> dict[str, str]:
    """The environment of Bugsink's commands: its conf from ``folder``, and nothing of the tests' Python or Sentry.

    A PYTHONPATH or DJANGO_SETTINGS_MODULE meant for the tests would send Bugsink's Python to the wrong
    packages or settings; a SENTRY_DSN set by a test has no business in the server.
    """
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PYTHON", "DJANGO_", "SENTRY_"))}
    return {**env, "PYTHONPATH": str(folder), "DJANGO_SETTINGS_MODULE": "bugsink_conf", "PYTHONUNBUFFERED": "1"}


def run(where: Path, folder: Path, script: str, *args: str) -> str:
    """Run Bugsink's ``script`` in ``folder`` with the conf there; its output, or a RuntimeError showing it."""
    done = subprocess.run([str(where / "bin" / script), *args], cwd=folder, env=environment(folder),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"{script} {shlex.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return done.stdout


def write_conf(where: Path, folder: Path, port: int, data: Path) -> None:
    """``folder/bugsink_conf.py`` for a server on 127.0.0.1:``port``, with its state under ``data``.

    ``bugsink-create-conf`` writes the BASE_URL that DSNs are made of: its port must be the one served.
    What is appended keeps the instance to itself: the defaults put the ingestion store and snappea's
    wake-up files in shared directories under /tmp, and the databases in the current directory.
    Tasks run in the request (TASK_ALWAYS_EAGER), so an event is readable once sentry-sdk's flush returns.
    """
    run(where, folder, "bugsink-create-conf", "--template=local", "--host=127.0.0.1", f"--port={port}")
    with (folder / "bugsink_conf.py").open("a") as conf:
        conf.write(textwrap.dedent(f"""
            # shipper's tests: a private instance
            BUGSINK["PHONEHOME"] = False
            DATABASES["default"]["NAME"] = {str(data / DATABASES[0])!r}
            DATABASES["snappea"]["NAME"] = {str(data / DATABASES[1])!r}
            BUGSINK["INGEST_STORE_BASE_DIR"] = {str(data / "ingestion")!r}
            SNAPPEA = {{"TASK_ALWAYS_EAGER": True, "WAKEUP_CALLS_DIR": {str(data / "wakeup")!r}}}
            """))


def build_template(where: Path, into: Path, scratch: Path) -> None:
    """Migrate both databases into ``into`` and create an API token there (``into/token``).

    The databases are in WAL mode: they are checkpointed, so that each is one file to copy.
    """
    write_conf(where, scratch, free_port(), into)
    run(where, scratch, "bugsink-manage", "migrate", "--verbosity=0")
    run(where, scratch, "bugsink-manage", "migrate", "snappea", "--database=snappea", "--verbosity=0")
    (into / "token").write_text(run(where, scratch, "bugsink-manage", "create_auth_token").strip())
    for name in DATABASES:
        database = sqlite3.connect(into / name)
        try:
            database.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            database.close()


def template(where: Path, scratch: Path) -> Path:
    """Migrated databases and their token, made once per Bugsink and Django version and kept in the virtualenv.

    Built in a directory of its own and renamed into place, so that a session never sees half of one: of
    two sessions building at once, one rename wins and the other's copy is dropped. A virtualenv we may not
    write to gets no template: the session migrates in ``scratch``, each time.
    """
    final = where / "shipper-test-templates" / versions(where)
    if (final / "token").exists():
        return final
    (scratch / "template-conf").mkdir()
    try:
        final.parent.mkdir(exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=f"{final.name}.", dir=final.parent))
    except OSError:
        (scratch / "template").mkdir()
        build_template(where, scratch / "template", scratch / "template-conf")
        return scratch / "template"
    try:
        build_template(where, building, scratch / "template-conf")
        building.chmod(0o755)  # mkdtemp's 0700 would hide it from the virtualenv's other users
        with suppress(OSError):  # another session's template is in place already
            building.rename(final)
    finally:
        shutil.rmtree(building, ignore_errors=True)  # a template that lost the race
    if not (final / "token").exists():
        raise RuntimeError(f"could not put Bugsink's template databases in place at {final}")
    return final


class BugsinkError(RuntimeError):
    """Bugsink answered an API call with an error status; the message has its answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Bugsink:
    """A running Bugsink: ``new_project(name)`` gives a project to send events to and read them back from."""

    def __init__(self, url: str, token: str, log: Path) -> None:
        self.url = url
        self.log = log
        self._token = token
        self.team = str(self.api("POST", "teams/", {"name": "shipper-tests"})["id"])

    def api(self, method: str, path: str, body: Json = None) -> Json:
        """Call ``/api/canonical/0/PATH`` (or a full URL, as in ``next``) and return its JSON answer."""
        url = path if path.startswith("http") else f"{self.url}/api/canonical/0/{path}"
        request = urllib.request.Request(url, method=method, headers={"Authorization": f"Bearer {self._token}"})
        if body is not None:
            request.data = json.dumps(body).encode()
            request.add_header("Content-Type", "application/json")
        try:
            with OPENER.open(request, timeout=READ_TIMEOUT) as answer:
                return json.load(answer)
        except urllib.error.HTTPError as error:
            raise BugsinkError(error.code, f"{method} {url}: {error.code} {error.read().decode(errors='replace')}") from None

    def listing(self, path: str, **query: object) -> list[Json]:
        """Every item of a paginated list, following its ``next`` links."""
        items: list[Json] = []
        url: str | None = f"{path}?{urllib.parse.urlencode(query)}"
        while url:
            page = self.api("GET", url)
            items.extend(page["results"])
            url = page["next"]
        return items

    def new_project(self, name: str) -> Project:
        """A new project; names are unique (a name used before in this session is a BugsinkError)."""
        created = self.api("POST", "projects/", {"name": name, "team": self.team})
        # The answer to the POST has no DSN, and its id is a string; the project's own page has both right.
        return Project(self, self.api("GET", f"projects/{created['id']}/"))


class Project:
    """A Bugsink project: ``dsn`` for sentry-sdk; ``issues``, ``events`` and ``event`` to read back what arrived."""

    def __init__(self, server: Bugsink, fields: Json) -> None:
        self.server = server
        self.id: int = fields["id"]
        self.name: str = fields["name"]
        self.dsn: str = fields["dsn"]

    def __repr__(self) -> str:
        return f"<Bugsink project {self.id} {self.name!r} {self.dsn}>"

    def issues(self) -> list[Json]:
        """The project's issues, oldest first: ``calculated_type``, ``calculated_value``, ``digested_event_count``..."""
        return self.server.listing("issues/", project=self.id, order="asc")

    def events(self) -> list[Json]:
        """Every event of every issue, in the order they were digested, without their data.

        Each has ``event_id`` (the SDK's, dashed), ``id`` (Bugsink's), ``issue``, ``timestamp``; ``event``
        gives the whole of one.
        """
        events = [event for issue in self.issues() for event in self.server.listing("events/", issue=issue["id"])]
        return sorted(events, key=lambda event: (digested_at(event), event["digest_order"]))

    def event(self, event_id: str) -> Json:
        """The whole event the SDK sent as ``event_id`` (hex, dashed or not): what it sent is in ``["data"]``.

        A LookupError when this project has no such event (yet: ``wait_for_event`` waits for it).
        """
        try:
            return self.server.api("GET", f"events/lookup/?{urllib.parse.urlencode({'project': self.id, 'event_id': event_id})}")
        except BugsinkError as error:
            if error.status == 404:
                raise LookupError(f"project {self.name!r} has no event {event_id}") from None
            raise

    def wait_for_event(self, event_id: str, timeout: float = READ_TIMEOUT) -> Json:
        """``event(event_id)`` as soon as it is there; an AssertionError at the timeout."""
        def read() -> Json:
            try:
                return self.event(event_id)
            except LookupError:
                return None
        return wait_until(read, timeout=timeout)

    def wait_for_events(self, count: int, timeout: float = READ_TIMEOUT) -> list[Json]:
        """``events()`` as soon as there are at least ``count``; an AssertionError showing them at the timeout."""
        return wait_until(self.events, lambda events: len(events) >= count, timeout)


def digested_at(event: Json) -> datetime:
    return datetime.fromisoformat(event["digested_at"].replace("Z", "+00:00"))  # Python 3.10 reads no Z


def project_name(text: str) -> str:
    """A project name from any text (a test's name): Bugsink makes the project's slug of it, at most 50 characters."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:40]


@contextmanager
def start_bugsink() -> Iterator[Bugsink]:
    """A Bugsink on a free port of 127.0.0.1, in a temporary directory; killed and removed when the block ends."""
    where = need_bugsink()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="shipper-bugsink-") as tmp:
        root = Path(tmp)
        made = template(where, root)
        data = root / "data"
        data.mkdir()
        for name in DATABASES:
            shutil.copyfile(made / name, data / name)
        write_conf(where, root, port, data)
        url = f"http://127.0.0.1:{port}"
        command = [str(where / "bin" / "bugsink-manage"), "runserver", f"127.0.0.1:{port}", "--noreload"]
        with running(command, root / "bugsink.log", lambda: answers_ok(f"{url}/health/ready"),
                     cwd=root, env=environment(root)):
            yield Bugsink(url, (made / "token").read_text(), root / "bugsink.log")
