import subprocess

from ..processes import SHIPPER


def test_demo_runs_an_app_under_logwrap_and_shows_its_records_arriving():
    done = subprocess.run([*SHIPPER, "demo"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert " demo GET /orders/42 " in done.stdout
    assert " demo RuntimeError: checkout failed error.type=\"RuntimeError\"" in done.stdout
    assert "    The above exception was the direct cause of the following exception:" in done.stdout
    assert "logwrap exited 0, the app's own status" in done.stderr
    assert "0 dropped, 0 spilled to stderr" in done.stderr
