"""Children for logwrap's Sentry tests: scripts written to a directory, so their frames have real paths and lines.

``Script.line(text)`` is the number of the line that starts with ``text`` (indentation aside), as its
traceback and Sentry frames give it.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Script:
    source: str
    name: str = "app.py"

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", textwrap.dedent(self.source))

    def line(self, text: str) -> int:
        """The number of the one line that starts with ``text``, indentation aside."""
        [number] = [number for number, line in enumerate(self.source.splitlines(), 1) if line.strip().startswith(text)]
        return number

    def write(self, folder: Path) -> Path:
        path = folder / self.name
        path.write_text(self.source)
        return path


# An exception group nobody catches: Python prints it with its two sub-exceptions, and exits 1.
EXCEPTION_GROUP = Script("""\
    print("validating the order", flush=True)


    def validate():
        raise ExceptionGroup("order is invalid", [ValueError("no items"), TypeError("price is not a number")])


    validate()
    """)

# The main script imports a module with bad syntax.
BROKEN_MODULE = Script("""\
    def total(:
        return 0
    """, name="pricing.py")
IMPORTS_BROKEN_MODULE = Script("""\
    print("loading the price rules", flush=True)
    import pricing  # noqa: F401
    """)

# A segfault in the app's own function, after a line on each stream.
SEGFAULT = Script("""\
    import ctypes
    import sys

    print("reading the cache", flush=True)
    print("cache file is short", file=sys.stderr, flush=True)


    def read_cache():
        ctypes.string_at(0)


    read_cache()
    """)

# Exits 3 with no traceback, after lines on both streams, a JSON one with its level among them.
EXIT_3 = Script("""\
    import sys

    print("checking the config", flush=True)
    print('{"log.level": "warning", "message": "no database url"}', flush=True)
    print("giving up", file=sys.stderr, flush=True)
    sys.exit(3)
    """)

# Kills itself with SIGKILL, as the OOM killer would.
SIGKILL = Script("""\
    import os

    print("allocating the buffers", flush=True)
    os.kill(os.getpid(), 9)
    """)

# An error logged through shipper's own logging setup: one JSON line with a nested error.stack_trace.
LOGGED_EXCEPTION = Script("""\
    import logging

    import shipper

    shipper.setup_logging()
    log = logging.getLogger("shop.orders")


    def charge():
        raise ValueError("card declined")


    try:
        charge()
    except ValueError:
        log.exception("payment failed")
    """)

# An ECS JSON record as another logger writes it: dotted error fields, a trace, labels.
ECS_RECORD = Script("""\
    import json

    STACK = '''Traceback (most recent call last):
      File "/srv/shop/orders.py", line 12, in place
        charge(order)
      File "/srv/shop/payments.py", line 40, in charge
        raise ValueError("card declined")
    ValueError: card declined'''

    print(json.dumps({
        "log.level": "error", "message": "payment failed", "log.logger": "shop.payments",
        "error.type": "ValueError", "error.message": "card declined", "error.stack_trace": STACK,
        "service.name": "shop", "trace.id": "4bf92f3577b34da6a3ce929d0e0e4736", "span.id": "00f067aa0ba902b7",
        "labels": {"tenant": "acme"},
    }), flush=True)
    """)

# An uncaught exception: a traceback, then exit status 1.
UNCAUGHT = Script("""\
    print("starting", flush=True)


    def start():
        raise RuntimeError("no config")


    start()
    """)

# Prints lines and, between them, tracebacks it caught, then exits with the status given (argv[1]).
JOBS = 3  # each prints a line and a traceback
CLEANUPS = 2
CAUGHT_TRACEBACKS = Script(f"""\
    import sys
    import traceback


    def work(number):
        raise ValueError(f"job {{number}} failed")


    for number in range({JOBS}):
        print(f"job {{number}} starting", flush=True)
        try:
            work(number)
        except ValueError:
            traceback.print_exc()
    for number in range({CLEANUPS}):
        print(f"cleanup {{number}}", flush=True)
    sys.exit(int(sys.argv[1]))
    """)
