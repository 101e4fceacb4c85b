import subprocess

from ..processes import SHIPPER


def test_demo_shows_every_sample_record_arriving_and_exits_0():
    done = subprocess.run([*SHIPPER, "demo"], capture_output=True, text=True, timeout=60)
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stderr
    assert len(lines) == 4 and all(" demo.app " in line for line in lines)
    assert "every record arrived and was acknowledged" in done.stderr
