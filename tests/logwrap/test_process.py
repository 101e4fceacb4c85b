"""logwrap as a process: transparent exit status, signals, stdin, environment, diagnostics."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from ..processes import LOGWRAP, python, run_logwrap


def messages(receiver):
    return [record.get("message") for record in receiver.records]


@pytest.mark.parametrize("code", [0, 3, 255])
def test_the_childs_exit_status_is_ours(forward_receiver, code):
    done = run_logwrap(forward_receiver.url, command=python(f"import sys; sys.exit({code})"))
    assert done.returncode == code


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM, signal.SIGSEGV])
def test_a_child_killed_by_signal_n_gives_128_plus_n(forward_receiver, signum):
    done = run_logwrap(forward_receiver.url, command=python(f"import os; os.kill(os.getpid(), {signum})"))
    assert done.returncode == 128 + signum


def test_a_child_dying_of_a_segfault_ships_pythons_dump_as_one_record(forward_receiver, tmp_path):
    code = "import ctypes\nprint('starting', flush=True)\nctypes.string_at(0)"
    done = run_logwrap(forward_receiver.url, command=python(code), cwd=tmp_path,
                       env={**os.environ, "PYTHONFAULTHANDLER": "1"})
    assert done.returncode == 128 + signal.SIGSEGV
    starting, crash = forward_receiver.records
    assert starting["message"] == "starting" and crash["stream"] == "stderr"
    assert (crash["error.type"], crash["error.message"]) == ("SIGSEGV", "Fatal Python error: Segmentation fault")
    assert crash["error.stack_trace"].endswith('  File "<string>", line 3 in <module>')


def test_a_command_not_found_exits_127_with_one_line(forward_receiver):
    done = run_logwrap(forward_receiver.url, command=["no-such-command-xyz"])
    assert done.returncode == 127
    assert done.stderr.decode() == "logwrap: no-such-command-xyz: command not found\n"


def test_a_command_that_cannot_execute_exits_126(forward_receiver, tmp_path):
    script = tmp_path / "not-executable"
    script.write_text("echo hi\n")
    done = run_logwrap(forward_receiver.url, command=[str(script)])
    assert done.returncode == 126 and done.stderr.decode().startswith("logwrap: ")
    assert "Traceback" not in done.stderr.decode()


def test_everything_after_the_double_dash_reaches_the_child_untouched(forward_receiver):
    args = ["--to", "x", "-v", "--", "two words"]
    run_logwrap(forward_receiver.url, command=python("import sys, json; print(json.dumps({'argv': sys.argv[1:]}))") + args)
    assert forward_receiver.wait_for(1)[0].record["argv"] == args


def test_stdin_passes_through_to_the_child(forward_receiver):
    run_logwrap(forward_receiver.url, command=python("import sys; print(sys.stdin.read().upper())"),
                input=b"from stdin")
    assert messages(forward_receiver) == ["FROM STDIN"]


def test_the_child_gets_pythonunbuffered(forward_receiver):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    run_logwrap(forward_receiver.url, command=python("import os; print(os.environ['PYTHONUNBUFFERED'])"), env=env)
    assert messages(forward_receiver) == ["1"]


def test_a_pythonunbuffered_already_set_is_left_alone(forward_receiver):
    env = {**os.environ, "PYTHONUNBUFFERED": "0"}
    run_logwrap(forward_receiver.url, command=python("import os; print(os.environ['PYTHONUNBUFFERED'])"), env=env)
    assert messages(forward_receiver) == ["0"]


def test_diagnostics_go_to_stderr_prefixed_and_never_into_the_stream(forward_receiver):
    done = run_logwrap(forward_receiver.url, command=python("print('app line')"))
    assert done.stdout == b""
    assert done.stderr.decode().splitlines() == [
        "logwrap: 1 lines read as 1 records: 1 shipped, 0 dropped, 0 spilled to stderr, 0 retries"]
    assert messages(forward_receiver) == ["app line"]


def test_tee_copies_the_output_unchanged(forward_receiver):
    done = run_logwrap(forward_receiver.url, "--tee",
                       command=python("import sys; print('out'); print('err', file=sys.stderr)"))
    assert done.stdout == b"out\n" and done.stderr.startswith(b"err\n")


def test_tag_defaults_to_the_command_base_name_and_streams_are_marked(forward_receiver):
    run_logwrap(forward_receiver.url, "--tag-stream",
                command=python("import sys; print('o'); print('e', file=sys.stderr)"))
    events = forward_receiver.events
    base = os.path.basename(sys.executable)
    assert {(e.tag, e.record["stream"]) for e in events} == {(f"{base}.stdout", "stdout"), (f"{base}.stderr", "stderr")}


def test_labels_and_options_can_come_from_the_environment(forward_receiver):
    env = {**os.environ, "LOGWRAP_TO": forward_receiver.url, "LOGWRAP_TAG": "envtag", "LOGWRAP_LABELS": "env=prod"}
    subprocess.run([*LOGWRAP, "--", *python("print('x')")], env=env, timeout=60, capture_output=True)
    (event,) = forward_receiver.events
    assert event.tag == "envtag" and event.record["env"] == "prod"


def test_a_flag_wins_over_the_environment(forward_receiver):
    env = {**os.environ, "LOGWRAP_TAG": "from-env"}
    run_logwrap(forward_receiver.url, "--tag", "from-flag", command=python("print('x')"), env=env)
    assert forward_receiver.events[0].tag == "from-flag"


# The child prints each signal once its handler ran. The test sends the next one only then: a
# burst of different signals nests their handlers, and past four of them CPython overflows the
# alternate stack that PYTHONFAULTHANDLER=1 gives them (python/cpython#124001).
SIGNAL_PRINTER = textwrap.dedent("""
    import signal, sys, time
    names = sys.argv[1:]
    got = []
    for name in names:
        signal.signal(getattr(signal, name), lambda n, f: got.append(signal.Signals(n).name))
    print("ready", flush=True)
    deadline = time.monotonic() + 30
    printed = 0
    while printed < len(names) and time.monotonic() < deadline:
        while printed < len(got):
            print(got[printed], flush=True)
            printed += 1
        time.sleep(0.01)
""")
FORWARDED = ["SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGTTIN", "SIGTTOU", "SIGWINCH"]


def test_signals_are_forwarded_to_the_child(forward_receiver):
    proc = subprocess.Popen([*LOGWRAP, "--to", forward_receiver.url, "--", sys.executable, "-c",
                             SIGNAL_PRINTER, *FORWARDED], stderr=subprocess.PIPE)
    try:
        forward_receiver.wait_for(1)
        for count, name in enumerate(FORWARDED, start=2):
            assert proc.poll() is None  # no signal so far ended logwrap: it passed each one on
            proc.send_signal(getattr(signal, name))
            forward_receiver.wait_for(count, timeout=30)
        assert proc.wait(30) == 0
    finally:
        proc.kill()
        proc.wait()
    assert messages(forward_receiver)[1:] == FORWARDED


def test_term_stops_a_child_that_handles_it_and_everything_is_shipped(forward_receiver):
    child = textwrap.dedent("""
        import signal
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM])
        print("ready", flush=True)
        signal.sigwait([signal.SIGTERM])
        print("bye")
    """)
    proc = subprocess.Popen([*LOGWRAP, "--to", forward_receiver.url, "--", *python(child)], stderr=subprocess.PIPE)
    forward_receiver.wait_for(1)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert messages(forward_receiver) == ["ready", "bye"]


ZOMBIE_COUNTER = textwrap.dedent("""
    import os, subprocess, time

    def zombies():
        found = 0
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z":
                    found += 1
            except OSError:
                pass
        return found

    # the sleep is orphaned to PID 1 (its subshell exits at once); $! is its pid
    orphan = subprocess.run(["sh", "-c", "(sleep 0.1 >/dev/null 2>&1 & echo $!)"], capture_output=True).stdout
    deadline = time.monotonic() + 30
    while os.path.exists(f"/proc/{int(orphan)}") and time.monotonic() < deadline:
        time.sleep(0.05)  # it runs 0.1 s, then stays a zombie until PID 1 reaps it
    print(f"zombies={zombies()} pid1={open('/proc/1/cmdline').read().split(chr(0))[1:3]}")
""")


@pytest.mark.skipif(os.geteuid() != 0, reason="a new PID namespace needs root")
def test_as_pid_1_orphaned_zombies_are_reaped(forward_receiver):
    done = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", *LOGWRAP, "--to", forward_receiver.url,
                           "--", *python(ZOMBIE_COUNTER)], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert messages(forward_receiver)[0].startswith("zombies=0 ")
    assert "shipper.logwrap" in messages(forward_receiver)[0]


DEATH_SIGNAL = ("import ctypes; value = ctypes.c_int(); "
                "ctypes.CDLL(None).prctl(2, ctypes.byref(value), 0, 0, 0); print(value.value)")  # PR_GET_PDEATHSIG


@pytest.mark.parametrize("args, expected", [((), signal.SIGTERM), (("--death-signal", "KILL"), signal.SIGKILL),
                                            (("--death-signal", "none"), 0)])
def test_the_child_is_set_to_get_the_death_signal_should_logwrap_die(forward_receiver, args, expected):
    done = run_logwrap(forward_receiver.url, *args, command=python(DEATH_SIGNAL))
    assert done.returncode == 0 and messages(forward_receiver) == [str(int(expected))]


@pytest.mark.skipif(os.geteuid() != 0, reason="a new PID namespace needs root")
def test_as_pid_1_the_child_is_set_to_get_the_death_signal_too(forward_receiver):
    done = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", *LOGWRAP, "--to", forward_receiver.url,
                           "--", *python(DEATH_SIGNAL + "; import os; print(os.getppid())")],
                          capture_output=True, timeout=60)
    assert done.returncode == 0 and messages(forward_receiver) == [str(int(signal.SIGTERM)), "1"]


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its reaper does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def wait_until_gone(pids, timeout: float) -> list[int]:
    """Wait for every pid to end; returns those still running after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    return [pid for pid in pids if alive(pid)]


def test_a_child_does_not_outlive_a_logwrap_killed_with_sigkill(forward_receiver, spawn):
    proc = spawn([*LOGWRAP, "--to", forward_receiver.url, "--", *python(
        "import os, time\nprint(os.getpid(), flush=True)\nwhile True: time.sleep(0.01)")])
    child = int(forward_receiver.wait_for(1)[0].record["message"])
    proc.kill()
    proc.wait()
    assert wait_until_gone([child], timeout=30) == []


def test_an_unknown_death_signal_is_refused_naming_the_flag(forward_receiver):
    done = run_logwrap(forward_receiver.url, "--death-signal", "BOGUS", command=python("print('x')"))
    assert done.returncode == 2 and "Invalid value for '--death-signal': 'BOGUS' is not a signal" in done.stderr.decode()


def test_a_malformed_label_is_one_line_with_status_64(forward_receiver):
    done = run_logwrap(forward_receiver.url, "--label", "novalue", command=python("print('x')"))
    assert done.returncode == 64 and done.stderr.decode() == "logwrap: --label 'novalue': write KEY=VALUE\n"


def test_a_max_line_bytes_too_small_to_cut_is_refused(forward_receiver):
    done = run_logwrap(forward_receiver.url, "--max-line-bytes", "3", command=python("print('x')"))
    assert done.returncode == 64 and "--max-line-bytes must be at least 64" in done.stderr.decode()
