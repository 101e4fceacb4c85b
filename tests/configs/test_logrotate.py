"""The real logrotate, with our copytruncate template, on a file a real process keeps writing."""

import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shipper.bundle import HERE as BUNDLE

ROOT = BUNDLE  # configs/ and docker-compose.yml, as shipped in the package
RATE = 20_000  # lines per second
LINES = 200_000
ROTATE_EVERY = 40_000
LINE_BYTES = 200

WRITER = f"""
import sys, time
out = open(sys.argv[1], "a", buffering=1)  # append mode (O_APPEND), line-buffered, as loggers do
start = time.monotonic()
for n in range({LINES}):
    out.write(f"{{n:09d}} " + "x" * {LINE_BYTES - 11} + "\\n")
    if n % 1000 == 999:
        print(n + 1, flush=True)  # progress, for the test to rotate on
    if n % 10 == 9:  # a steady pace, 10 lines at a time, so lines keep coming during a rotation
        delay = start + (n + 1) / {RATE} - time.monotonic()
        if delay > 0:
            time.sleep(delay)  # the writer's pace, not a wait in the test
out.close()
"""


def lines_in(directory: Path) -> list[str]:
    lines = []
    for path in sorted(directory.iterdir()):
        if path.name.startswith("app.log"):
            data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            lines += data.decode().splitlines()
    return lines


@pytest.mark.skipif(shutil.which("logrotate") is None, reason="logrotate is not installed here")
def test_copytruncate_loses_only_the_lines_written_during_the_copy(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    template = (ROOT / "configs/logrotate/gunicorn").read_text()
    config = tmp_path / "logrotate.conf"
    config.write_text(template.replace("/var/log/gunicorn/*.log", str(logs / "app.log")))
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(logs / "app.log")], stdout=subprocess.PIPE, text=True)
    rotations = 0
    for progress in writer.stdout:
        if int(progress) % ROTATE_EVERY == 0 and int(progress) < LINES:
            subprocess.run(["logrotate", "-f", "-s", str(tmp_path / "state"), str(config)], check=True)
            rotations += 1
    assert writer.wait(60) == 0

    kept = lines_in(logs)
    numbers = [int(line.split()[0]) for line in kept]
    lost = LINES - len(numbers)
    assert len(set(numbers)) == len(numbers) and set(numbers) <= set(range(LINES))  # no duplicates, no garbage
    assert all(len(line) == LINE_BYTES - 1 for line in kept)  # no torn or NUL-filled lines (O_APPEND)
    assert rotations == LINES // ROTATE_EVERY - 1 and lost >= 0
    print(f"\ncopytruncate at {RATE:,} lines/s of {LINE_BYTES} bytes, rotating every {ROTATE_EVERY:,} lines "
          f"(~{ROTATE_EVERY * LINE_BYTES / 1e6:.0f} MB): {lost} of {LINES:,} lines lost over {rotations} "
          f"rotations ({lost / rotations:.0f} per rotation, a window of ~{lost / rotations / RATE * 1000:.1f} ms)")
