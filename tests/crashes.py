"""What Python prints as it dies of a fatal error: from real crashing children, and recorded.

``crash`` runs code that dies in this interpreter, with ``PYTHONFAULTHANDLER=1`` as logwrap sets
it. The recorded dumps come from the same kind of runs under the Python versions they are named
after, which need not be installed where the tests run.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

SEGFAULT = """\
    import ctypes


    def crash():
        ctypes.string_at(0)


    crash()
    """

# A second thread polls while the main thread dies: faulthandler shows both.
SEGFAULT_TWO_THREADS = """\
    import ctypes
    import threading
    import time


    polling = threading.Event()


    def poll():
        polling.set()
        while True:
            time.sleep(0.01)


    def crash():
        ctypes.string_at(0)


    threading.Thread(target=poll, daemon=True).start()
    polling.wait()
    crash()
    """


def crash(code: str, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> bytes:
    """The stderr of a child running ``code`` (a script ``app.py`` in ``cwd`` if given), which must fail."""
    command = [sys.executable, "-c", textwrap.dedent(code), *args]
    if cwd is not None:
        (cwd / "app.py").write_text(textwrap.dedent(code))
        command = [sys.executable, str(cwd / "app.py"), *args]
    done = subprocess.run(command, capture_output=True, timeout=60, cwd=cwd, preexec_fn=_no_core_file,
                          env={**os.environ, "PYTHONFAULTHANDLER": "1", **(env or {})})
    assert done.returncode != 0, done.stderr.decode()
    return done.stderr


def _no_core_file() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


# A script like SEGFAULT_TWO_THREADS (its first form, which slept where it now waits), as /tmp/web/app.py,
# under Python 3.10.13.
PY310_TWO_THREADS = """\
Fatal Python error: Segmentation fault

Thread 0x00007f8e093616c0 (most recent call first):
  File "/tmp/web/app.py", line 8 in poll
  File "/root/.pyenv/versions/3.10.13/lib/python3.10/threading.py", line 953 in run
  File "/root/.pyenv/versions/3.10.13/lib/python3.10/threading.py", line 1016 in _bootstrap_inner
  File "/root/.pyenv/versions/3.10.13/lib/python3.10/threading.py", line 973 in _bootstrap

Current thread 0x00007f8e09bafb80 (most recent call first):
  File "/root/.pyenv/versions/3.10.13/lib/python3.10/ctypes/__init__.py", line 517 in string_at
  File "/tmp/web/app.py", line 12 in crash
  File "/tmp/web/app.py", line 17 in <module>
"""

# The same under Python 3.13.0.
PY313_TWO_THREADS = """\
Fatal Python error: Segmentation fault

Thread 0x00007f1ca4ed56c0 (most recent call first):
  File "/tmp/web/app.py", line 8 in poll
  File "/root/.pyenv/versions/3.13.0/lib/python3.13/threading.py", line 992 in run
  File "/root/.pyenv/versions/3.13.0/lib/python3.13/threading.py", line 1041 in _bootstrap_inner
  File "/root/.pyenv/versions/3.13.0/lib/python3.13/threading.py", line 1012 in _bootstrap

Current thread 0x00007f1ca5a83c40 (most recent call first):
  File "/root/.pyenv/versions/3.13.0/lib/python3.13/ctypes/__init__.py", line 538 in string_at
  File "/tmp/web/app.py", line 12 in crash
  File "/tmp/web/app.py", line 17 in <module>
"""

# python -c "import faulthandler; faulthandler._sigfpe()" under Python 3.13.0: the signal's name
# gained a hyphen in 3.13.
PY313_FLOATING_POINT = """\
Fatal Python error: Floating-point exception

Current thread 0x00007f30c6a87c40 (most recent call first):
  File "<string>", line 1 in <module>
"""

# Python 3.10.13 failing to start: a site.py on PYTHONPATH raised. Py_FatalError prints the
# exception with its traceback in place of the threads, and the process exits with status 1.
PY310_START_FAILURE = """\
Fatal Python error: init_import_site: Failed to import the site module
Python runtime state: initialized
Traceback (most recent call last):
  File "/tmp/web/broken/site.py", line 2, in <module>
    import missing_settings
ModuleNotFoundError: No module named 'missing_settings'

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/tmp/web/broken/site.py", line 4, in <module>
    raise RuntimeError("site is broken") from error
RuntimeError: site is broken
"""

# Not recorded: the form Python 3.14's faulthandler.c writes, which adds the C stack after the
# Python one (addresses made up).
PY314_C_STACK = """\
Fatal Python error: Segmentation fault

Current thread 0x00007f30efc42c40 (most recent call first):
  File "/usr/lib/python3.14/ctypes/__init__.py", line 590 in string_at
  File "/srv/web/app.py", line 5 in crash
  File "/srv/web/app.py", line 8 in <module>

Current thread's C stack trace (most recent call first):
  Binary file "/usr/bin/python3.14", at _Py_DumpStack+0x42 [0x5b27f7d7147e]
  Binary file "/usr/lib/libc.so.6", at +0x3def0 [0x77b73226bef0]
  Binary file "/usr/lib/libffi.so.8", at ffi_call+0x12e [0x77b73158ef0e]

Extension modules: msgspec._core (total: 1)
"""
