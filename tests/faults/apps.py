"""Child programs for the fault scenarios (run under logwrap with ``python -c``)."""

from __future__ import annotations

from ..processes import python

_LINE = """
import itertools, sys
out = sys.stdout.buffer
line = b'{"n": %d, "message": "GET /api/items 200 in 3.2ms", "service": {"name": "web"}, "pad": "PAD"}\\n'
line = line.replace(b"PAD", b"x" * 100)
"""

_WRITER = _LINE + """
for start in range(0, COUNT, 1000):
    out.write(b"".join(line % n for n in range(start, min(start + 1000, COUNT))))
out.flush()
"""

_ENDLESS_WRITER = _LINE + """
for start in itertools.count(0, 1000):
    out.write(b"".join(line % n for n in range(start, start + 1000)))
"""


def json_writer(count: int) -> list[str]:
    """Writes ``count`` ~200-byte JSON lines as fast as it can, numbered from 0."""
    return python(_WRITER.replace("COUNT", str(count)))


def endless_json_writer() -> list[str]:
    """Writes the same lines as ``json_writer`` as fast as it can and never stops by itself."""
    return python(_ENDLESS_WRITER)
