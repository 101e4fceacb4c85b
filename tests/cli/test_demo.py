import subprocess

from ..processes import SHIPPER


def test_demo_runs_an_app_under_logwrap_and_shows_its_records_arriving():
    done = subprocess.run([*SHIPPER, "demo"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert " INFO     [demo] GET /orders/42 url.path=/orders/42 http.response.status_code=200" in done.stdout
    assert " -        [demo] RuntimeError: checkout failed stream=stderr\n    Traceback" in done.stdout
    assert "\n    The above exception was the direct cause of the following exception:\n" in done.stdout
    assert "logwrap exited 0, the app's own status" in done.stderr
    assert "0 dropped, 0 spilled to stderr" in done.stderr
