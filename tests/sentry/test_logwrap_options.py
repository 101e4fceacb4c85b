"""logwrap's Sentry flags as a user meets them: where the DSN comes from, a bad one, the cap and the sample rate."""

from __future__ import annotations

import os
import subprocess
import sys

from ..peers import free_port
from ..processes import LOGWRAP, python, run_logwrap
from .bugsink import Project

TRACEBACK_PRINTER = """\
import sys
for i in range(int(sys.argv[1])):
    print(f'Traceback (most recent call last):\\n  File "/srv/app.py", line {i + 1}, in f\\nKeyError: {i}',
          file=sys.stderr, flush=True)
"""


def tracebacks(count: int) -> list[str]:
    return [*python(TRACEBACK_PRINTER), str(count)]


def summary(done: subprocess.CompletedProcess) -> str:
    return done.stderr.decode().strip().splitlines()[-1]


def closed_dsn() -> str:
    return f"http://key@127.0.0.1:{free_port()}/1"


def test_a_malformed_dsn_stops_logwrap_with_exit_64_before_the_child_starts(forward_receiver, tmp_path):
    marker = tmp_path / "started"
    done = run_logwrap(forward_receiver.url, "--sentry-dsn", "https://sentry.example.com/4",
                       command=python(f"open({str(marker)!r}, 'w')"))
    assert done.returncode == 64
    assert done.stderr.decode().splitlines() == [
        "logwrap: --sentry-dsn 'https://sentry.example.com/4' is not a Sentry DSN (it has no public key before "
        "the @): copy it from the project's settings, https://KEY@HOST/PROJECT_ID"]
    assert not marker.exists()


def test_the_dsn_can_come_from_logwrap_sentry_dsn(forward_receiver):
    env = {**os.environ, "LOGWRAP_SENTRY_DSN": closed_dsn()}
    done = subprocess.run([*LOGWRAP, "--to", forward_receiver.url, "--", *tracebacks(1)], capture_output=True,
                          env=env, timeout=60)
    assert summary(done).endswith("; sentry: 0 events sent, 1 dropped (1 not delivered)")


def test_the_apps_own_sentry_dsn_is_not_read(forward_receiver):
    env = {**os.environ, "SENTRY_DSN": closed_dsn()}
    env.pop("LOGWRAP_SENTRY_DSN", None)
    done = subprocess.run([*LOGWRAP, "--to", forward_receiver.url, "--", *tracebacks(1)], capture_output=True,
                          env=env, timeout=60)
    assert "sentry" not in done.stderr.decode()
    assert done.returncode == 0


def test_events_over_the_cap_per_minute_are_counted_and_not_sent(forward_receiver, sentry_project: Project):
    done = run_logwrap(forward_receiver.url, "--sentry-dsn", sentry_project.dsn, "--sentry-max-events", "3",
                       command=tracebacks(20))
    assert summary(done).endswith("; sentry: 3 events sent, 17 dropped (17 over --sentry-max-events)")
    assert len(forward_receiver.wait_for(20)) == 20  # every record is still shipped
    sent = sentry_project.wait_for_events(3)
    assert sorted(event["event_id"] for event in sent) == sorted({event["event_id"] for event in sent})


def test_a_sample_rate_of_zero_sends_no_traceback_event(forward_receiver):
    done = run_logwrap(forward_receiver.url, "--sentry-dsn", closed_dsn(), "--sentry-sample-rate", "0",
                       command=tracebacks(4))
    assert summary(done).endswith("; sentry: 0 events sent, 0 dropped, 4 sampled out")


def test_a_crash_is_sent_whatever_the_sample_rate(forward_receiver, sentry_project: Project):
    done = run_logwrap(forward_receiver.url, "--sentry-dsn", sentry_project.dsn, "--sentry-sample-rate", "0",
                       command=python("import sys; sys.exit(3)"))
    assert done.returncode == 3
    assert summary(done).endswith("; sentry: 1 events sent, 0 dropped")
    [event] = sentry_project.wait_for_events(1)
    assert sentry_project.event(event["event_id"])["data"]["logentry"]["message"] == f"{os.path.basename(sys.executable)} exited with status 3"


def test_with_no_release_configured_none_is_guessed_from_the_git_checkout_logwrap_runs_in(
        forward_receiver, sentry_project: Project, tmp_path):
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "x"],
                   cwd=tmp_path, check=True)
    env = {key: value for key, value in os.environ.items()
           if key not in ("SERVICE_VERSION", "SENTRY_RELEASE", "SERVICE_ENVIRONMENT", "SENTRY_ENVIRONMENT")}
    done = run_logwrap(forward_receiver.url, "--sentry-dsn", sentry_project.dsn, command=tracebacks(1),
                       cwd=tmp_path, env=env)
    assert summary(done).endswith("; sentry: 1 events sent, 0 dropped")
    [event] = sentry_project.wait_for_events(1)
    data = sentry_project.event(event["event_id"])["data"]
    assert (data.get("release"), data["environment"]) == (None, "production")
