"""Running the child: spawn with piped stdout/stderr, forward signals, reap, exit status.

Rules, as dumb-init and tini keep them: stdin and everything after ``--`` pass through
untouched; the signals a supervisor or an operator sends (TERM, INT, HUP, QUIT, USR1, USR2,
TTIN, TTOU, WINCH) reach the child; our status is the child's, or 128+N when signal N
killed it; a command that cannot be found exits 127 and one that cannot run 126, like a
shell. As PID 1 (a container's entrypoint) every orphan reparented to us is reaped too.
If logwrap itself dies (kill -9, the OOM killer), Linux sends the child ``death_signal`` (tini's
``-p``), so a supervisor that restarts us does not find an orphan still holding the app's port,
writing into a broken pipe. Linux forgets that request when the child execs a setuid, setgid or
file-capability program, or changes its own user or group (gosu, su-exec, ``gunicorn --user``):
run such a child as its user from the supervisor instead.

Signal handlers only record (asyncio turns them into loop callbacks); forwarding and
reaping happen on the loop.
"""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import ExecError

FORWARDED = (
    signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
    signal.SIGUSR2, signal.SIGTTIN, signal.SIGTTOU, signal.SIGWINCH,
)


@dataclass
class Child:
    pid: int
    stdout: int  # read ends of the pipes
    stderr: int
    status: int | None = None  # our exit code once it exited
    signal: int | None = None  # the signal that killed it, if one did


CHILD_DEFAULTS = {
    "PYTHONUNBUFFERED": "1",  # else a Python child block-buffers a pipe and its lines arrive at exit
    "PYTHONFAULTHANDLER": "1",  # a Python child that dies of a fatal signal prints where it was
}


def child_environment(environ: dict[str, str]) -> dict[str, str]:
    """The child's environment: ours, with ``CHILD_DEFAULTS`` where the environment is silent."""
    return {**CHILD_DEFAULTS, **environ}


PR_SET_PDEATHSIG = 1


def spawn(argv: Sequence[str], env: dict[str, str], death_signal: int | None = signal.SIGTERM) -> Child:
    """Start ``argv`` with stdout and stderr piped to us; stdin is shared.

    Call it from the main thread: Linux sends the death signal when the *thread* that forked
    the child ends, and only the main thread lives as long as logwrap (as PID 1 too). And call
    it before starting any thread: ``preexec_fn`` runs between fork and exec, where only this
    thread exists, and another thread holding a lock at fork time could deadlock it.
    """
    arm = _die_with_us(death_signal) if death_signal else None
    try:
        process = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                   preexec_fn=arm)
    except FileNotFoundError:
        raise ExecError(f"{argv[0]}: command not found", 127) from None
    except PermissionError:
        raise ExecError(f"{argv[0]}: permission denied (not executable?)", 126) from None
    except OSError as exc:
        raise ExecError(f"{argv[0]}: cannot execute: {exc.strerror or exc}", 126) from None
    assert process.stdout is not None and process.stderr is not None
    child = Child(process.pid, os.dup(process.stdout.fileno()), os.dup(process.stderr.fileno()))
    process.stdout.close()
    process.stderr.close()
    process.returncode = 0  # we reap with waitpid(-1) ourselves; Popen must never try
    return child


def _die_with_us(signum: int) -> Callable[[], None] | None:
    """What the child runs before exec so that it gets ``signum`` when we die (Linux only)."""
    prctl = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None)
    if prctl is None:
        return None
    parent = os.getpid()

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)
        if os.getppid() != parent:  # we died before prctl took effect: the signal is due now
            os.kill(os.getpid(), signum)

    return arm


def exit_code(wait_status: int) -> int:
    """Our exit code for a child's wait status: its code, or 128+N for signal N."""
    code = os.waitstatus_to_exitcode(wait_status)
    return 128 - code if code < 0 else code


def reap(child: Child, on_exit: Callable[[], None]) -> None:
    """Collect every exited child (orphans too, as PID 1); ``on_exit`` when ours is done."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return  # ECHILD: nobody left to reap
        except OSError as exc:
            if exc.errno == errno.EINTR:
                continue
            raise
        if pid == 0:
            return
        if pid == child.pid and child.status is None:
            child.signal = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
            child.status = exit_code(status)
            on_exit()


def forward(child: Child, signum: int) -> None:
    if child.status is not None:
        return
    try:
        os.kill(child.pid, signum)
    except ProcessLookupError:
        pass  # it exited between our check and the kill; reap will tell
