"""Grouping real Python tracebacks, produced by a real interpreter."""

import subprocess
import sys
import textwrap

import pytest

from shipper.wrap.framing import LineFramer
from shipper.wrap.multiline import Group, Grouper

from .. import crashes


def stderr_of(code: str) -> bytes:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True)
    return done.stderr


def group_all(data: bytes, mode: str = "python"):
    framer, grouper = LineFramer(), Grouper(mode)
    return grouper.feed(framer.feed(data), data, now=0.0) + grouper.end()


TRACEBACKS = {
    "simple": "def f():\n    raise ValueError('bad value')\nf()",
    "3.11 carets": "d = {'a': {}}\nprint(d['a']['b']['c'])",
    "during handling": "try:\n    1/0\nexcept Exception:\n    {}['missing']",
    "direct cause": "try:\n    1/0\nexcept Exception as e:\n    raise RuntimeError('wrapped') from e",
    "exception group": "raise ExceptionGroup('many', [ValueError('a'), TypeError('b')])",
    "nested exception group": "raise ExceptionGroup('outer', [ExceptionGroup('inner', [KeyError('k')])])",
    "raised while handling a group": "try:\n    raise ExceptionGroup('batch', [KeyError('k')])\n"
                                     "except ExceptionGroup:\n    raise RuntimeError('batch failed')",
    "a group raised while handling": "try:\n    1/0\nexcept Exception as e:\n    raise ExceptionGroup('g', [e])",
    "syntax error": "exec('x = = 1')",
}


@pytest.mark.parametrize("name", TRACEBACKS, ids=list(TRACEBACKS))
def test_a_real_traceback_becomes_one_group_holding_every_line(name):
    text = stderr_of(TRACEBACKS[name])
    items = group_all(b"before\n" + text + b"after\n")
    assert items[0] == b"before" and items[-1] == b"after"
    (group,) = items[1:-1]
    assert isinstance(group, Group) and group.traceback
    assert b"\n".join(group.lines) == text.rstrip(b"\n")


def test_a_script_syntax_error_block_without_traceback_header_is_grouped(tmp_path):
    script = tmp_path / "broken.py"
    script.write_text("x = = 1\n")
    text = subprocess.run([sys.executable, str(script)], capture_output=True).stderr
    (group,) = group_all(text)
    assert group.lines[0].startswith(b'  File "') and group.lines[-1].startswith(b"SyntaxError")


def test_two_tracebacks_in_a_row_stay_two_groups():
    text = stderr_of(TRACEBACKS["simple"])
    items = group_all(text + text)
    assert len(items) == 2 and all(isinstance(i, Group) for i in items)


def test_a_json_line_is_never_merged_into_a_traceback():
    text = stderr_of(TRACEBACKS["simple"])
    items = group_all(text.replace(b"  File", b'{"json": 1}\n  File', 1))
    assert items[1] == b'{"json": 1}'


def test_a_blank_line_after_a_traceback_is_not_lost():
    text = stderr_of(TRACEBACKS["simple"])
    items = group_all(text + b"\nnext\n")
    assert items[1:] == [b"", b"next"]


def test_a_line_after_an_exception_group_is_its_own_event():
    text = stderr_of(TRACEBACKS["exception group"])
    items = group_all(text + b"INFO: still running\n")
    assert items[-1] == b"INFO: still running"


def test_a_pending_traceback_is_released_after_the_timeout():
    text = stderr_of(TRACEBACKS["simple"])
    framer, grouper = LineFramer(), Grouper("python", timeout=1.0)
    assert grouper.feed(framer.feed(text), text, now=10.0) == []
    assert grouper.poll(now=10.5) == [] and grouper.deadline() == 11.0
    (group,) = grouper.poll(now=11.0)
    assert group.lines[-1] == b"ValueError: bad value"


def test_a_group_is_released_at_the_line_limit():
    grouper = Grouper("indent", max_lines=3)
    lines = [b"head", b" a", b" b", b" c"]
    items = grouper.feed(lines, b"\n ", now=0.0) + grouper.end()
    assert [i.lines for i in items if isinstance(i, Group)] == [[b"head", b" a", b" b"]]
    assert items[-1] == b" c"


def test_indent_mode_appends_indented_lines_to_the_line_before():
    data = b"Exception in thread main java.lang.Error\n\tat A.b(A.java:1)\n\tat C.d(C.java:2)\nnext\n"
    items = group_all(data, mode="indent")
    assert items[0].lines == [b"Exception in thread main java.lang.Error", b"\tat A.b(A.java:1)",
                              b"\tat C.d(C.java:2)"]
    assert items[1] == b"next"


def test_mode_none_passes_every_line_through():
    text = stderr_of(TRACEBACKS["simple"])
    assert group_all(text, mode="none") == text.rstrip(b"\n").split(b"\n")


def test_lines_without_any_traceback_marker_pass_through_untouched():
    lines = [b'{"a": 1}', b"plain"]
    assert Grouper("python").feed(lines, b'{"a": 1}\nplain\n', now=0.0) is lines


def test_a_line_after_a_group_raised_while_handling_another_exception_is_its_own_event():
    text = stderr_of(TRACEBACKS["a group raised while handling"])
    items = group_all(text + b"INFO: still running\n")
    assert items[-1] == b"INFO: still running" and b"\n".join(items[0].lines) == text.rstrip(b"\n")


def test_a_chained_traceback_after_an_exception_group_is_its_own_group():
    group_text = stderr_of(TRACEBACKS["exception group"])
    chained = stderr_of(TRACEBACKS["direct cause"])
    items = group_all(group_text + chained)
    assert [b"\n".join(i.lines) for i in items] == [group_text.rstrip(b"\n"), chained.rstrip(b"\n")]


def test_an_indent_group_whose_header_ends_a_read_is_still_grouped():
    framer, grouper = LineFramer(), Grouper("indent")
    first, second = b"noise\nException in thread main\n", b"\tat A.b(A.java:1)\nnext\n"
    items = grouper.feed(framer.feed(first), first, 0.0) + grouper.feed(framer.feed(second), second, 0.0)
    assert items[0] == b"noise" and items[1].lines == [b"Exception in thread main", b"\tat A.b(A.java:1)"]


def test_an_exception_group_whose_header_ends_a_read_is_still_grouped():
    text = stderr_of(TRACEBACKS["exception group"])
    header_end = text.index(b"\n") + 1
    framer, grouper = LineFramer(), Grouper("python")
    items = grouper.feed(framer.feed(text[:header_end]), text[:header_end], 0.0)
    items += grouper.feed(framer.feed(text[header_end:]), text[header_end:], 0.0) + grouper.end()
    (group,) = items
    assert b"\n".join(group.lines) == text.rstrip(b"\n")


def test_a_group_is_released_at_the_byte_limit():
    grouper = Grouper("indent", max_bytes=10)
    items = grouper.feed([b"head", b" aaaa", b" bbbb", b" c"], b"\n ", now=0.0) + grouper.end()
    assert [i.lines for i in items if isinstance(i, Group)] == [[b"head", b" aaaa", b" bbbb"]]


# What Python prints as it dies of a fatal error: faulthandler's dump, or Py_FatalError's.

def dump_of(text: bytes) -> bytes:
    """The dump within a dying child's stderr (Python may print its path configuration first)."""
    return text[text.index(b"Fatal Python error"):]


FATAL_ERRORS = {
    "segfault": lambda: crashes.crash(crashes.SEGFAULT),
    "two threads": lambda: crashes.crash(crashes.SEGFAULT_TWO_THREADS),
    "current thread only": lambda: crashes.crash(
        "import ctypes, faulthandler\nfaulthandler.enable(all_threads=False)\nctypes.string_at(0)"),
    "extension modules": lambda: crashes.crash("import ctypes, msgspec\nctypes.string_at(0)"),
    "Py_FatalError": lambda: crashes.crash("import ctypes\nctypes.pythonapi.Py_FatalError(b'pool is corrupt')"),
    "failure to start": lambda: crashes.crash("pass", env={"PYTHONHOME": "/nonexistent"}),
    "3.10 two threads": lambda: crashes.PY310_TWO_THREADS.encode(),
    "3.13 two threads": lambda: crashes.PY313_TWO_THREADS.encode(),
    "3.13 floating point": lambda: crashes.PY313_FLOATING_POINT.encode(),
    "3.10 failure to start, with a chained traceback": lambda: crashes.PY310_START_FAILURE.encode(),
    "3.14 C stack": lambda: crashes.PY314_C_STACK.encode(),
}


@pytest.mark.parametrize("name", FATAL_ERRORS, ids=list(FATAL_ERRORS))
def test_a_fatal_errors_dump_becomes_one_fault_group_holding_every_line(name):
    dump = dump_of(FATAL_ERRORS[name]())
    items = group_all(b"before\n" + dump + b"after\n")
    assert items[0] == b"before" and items[-1] == b"after"
    (group,) = items[1:-1]
    assert isinstance(group, Group) and group.fault and not group.traceback
    assert b"\n".join(group.lines) == dump.rstrip(b"\n")


def test_extension_modules_are_the_last_line_of_a_dump():
    dump = crashes.PY314_C_STACK.encode()
    items = group_all(dump + b"  indented, but from someone else\n")
    assert items[-1] == b"  indented, but from someone else"


def test_the_line_another_process_writes_after_a_dump_is_its_own_event():
    worker_died = b"[2024-05-01 12:00:00 +0000] [1] [ERROR] Worker (pid:7) was sent SIGSEGV!"
    items = group_all(crashes.PY313_TWO_THREADS.encode() + worker_died + b"\n")
    assert items[-1] == worker_died and items[0].fault


def test_a_dump_cut_anywhere_between_two_reads_is_still_one_group():
    dump = dump_of(crashes.crash(crashes.SEGFAULT_TWO_THREADS))
    noise = b"GET /health 200\n" * 200  # a big read: the header is found in its last few lines
    for cut in range(len(dump)):
        first, second = noise + dump[:cut], dump[cut:]
        framer, grouper = LineFramer(), Grouper("python")
        items = grouper.feed(framer.feed(first), first, 0.0) + grouper.feed(framer.feed(second), second, 0.0)
        (group,) = [item for item in items + grouper.end() if isinstance(item, Group)]
        assert b"\n".join(group.lines) == dump.rstrip(b"\n"), cut


def test_a_traceback_printed_just_before_a_crash_stays_its_own_group():
    text = crashes.crash("import ctypes, traceback\ntry:\n    1 / 0\nexcept ZeroDivisionError:\n    traceback.print_exc()\n"
                         "ctypes.string_at(0)")
    traceback_group, fault_group = group_all(text)
    assert traceback_group.traceback and traceback_group.lines[-1] == b"ZeroDivisionError: division by zero"
    assert fault_group.fault and fault_group.lines[0] == b"Fatal Python error: Segmentation fault"


def script_syntax_error(tmp_path) -> bytes:
    (tmp_path / "broken.py").write_text("x = = 1\n")
    return subprocess.run([sys.executable, str(tmp_path / "broken.py")], capture_output=True).stderr


WRITTEN_IN_PIECES = {
    "fatal error": lambda tmp_path: dump_of(crashes.crash(crashes.SEGFAULT_TWO_THREADS)),
    "traceback": lambda tmp_path: stderr_of(TRACEBACKS["direct cause"]),
    "script syntax error": script_syntax_error,
}


@pytest.mark.parametrize("size", [1, 3, 16])
@pytest.mark.parametrize("name", WRITTEN_IN_PIECES, ids=list(WRITTEN_IN_PIECES))
def test_what_is_read_a_few_bytes_at_a_time_is_still_one_group(tmp_path, name, size):
    text = WRITTEN_IN_PIECES[name](tmp_path)  # faulthandler writes its dump in pieces this small
    framer, grouper = LineFramer(), Grouper("python")
    items = []
    for at in range(0, len(text), size):
        block = text[at:at + size]
        items += grouper.feed(framer.feed(block), block, 0.0)
    (group,) = items + grouper.end()
    assert b"\n".join(group.lines) == text.rstrip(b"\n")
