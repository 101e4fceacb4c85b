"""Grouping continuation lines into one event (sans-I/O; the caller passes ``now``).

``python`` mode gathers a Python traceback into one ``Group``: chained tracebacks ("During
handling of the above exception..." / "The above exception was the direct cause..."), 3.11
caret lines, exception groups (``+-+`` / ``|`` blocks) and SyntaxError blocks that start at a
bare ``File "...", line N``. It also gathers what Python prints as it dies of a fatal error
into one ``Group`` marked ``fault``: "Fatal Python error: Segmentation fault", then each
thread's "Current thread 0x... (most recent call first):" or "Thread 0x..." with its
``File "...", line N in f`` lines, up to "Extension modules: ...". That is faulthandler's dump
on a fatal signal, or ``Py_FatalError``'s, which may show the pending exception first.
``indent`` mode appends every line that starts with a space or tab to the line before it
(Java-style traces). A JSON line is never merged into a group.

A group ends when a line cannot continue it, when no line came for ``timeout`` seconds
(``poll``), at ``end()``, or when it reaches ``max_lines`` or ``max_bytes``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .framing import Line

TRACEBACK_STARTS = (b"Traceback (most recent call last):", b"  File \"", b"  + Exception Group Traceback")
CHAIN_MESSAGES = (
    b"During handling of the above exception, another exception occurred:",
    b"The above exception was the direct cause of the following exception:",
)
_HEADERS = (TRACEBACK_STARTS[0], TRACEBACK_STARTS[2])
_FRAME = b'  File "'  # in every traceback form: frames, exception groups' "|   File", SyntaxError
FATAL_ERROR = b"Fatal Python error"  # ": Segmentation fault", or " from unexpected signum: 7"
_STARTS = (*TRACEBACK_STARTS, FATAL_ERROR)
# A fatal error's dump with no frame in its block is near that block's end. Either the read cut
# it before its frames, or it has none: the process died as it started, or the crash came outside
# any Python code. Such a dump is a few short lines, plus up to 3 KB of C stack in Python 3.14.
# Searching only the block's tail keeps this check cheap on big blocks.
_FATAL_TAIL = 4096
_THREADS = (b"Current thread", b"Thread 0x", b"Stack (most recent call first):", b"<Cannot show all threads")
_EXCEPTION_LINE = re.compile(rb"[A-Za-z_][\w.]*(?:: |$)")  # "ModuleNotFoundError: No module named 'x'"


@dataclass
class Group:
    """Lines that form one event, and whether they are a Python traceback."""

    lines: list[bytes]
    traceback: bool
    started: float = field(default=0.0, compare=False)
    fault: bool = False  # Python's dump as it died of a fatal error, not a traceback


Item = Line | Group


class Grouper:
    """Mode ``none`` passes lines through; ``python`` and ``indent`` group them."""

    def __init__(self, mode: str = "python", timeout: float = 1.0, max_lines: int = 1000,
                 max_bytes: int = 1024 * 1024) -> None:
        self._mode = mode
        self._timeout = timeout
        self._max_lines = max_lines
        self._max_bytes = max_bytes
        self._group: Group | None = None
        self._group_bytes = 0
        # A traceback: frames -> exception -> (chain -> frames ...). A fault: fatal (-> raised -> fatal ...)
        # -> threads -> modules.
        self._state = "frames"
        self._exception_group = False  # the exception being read is a group: "+ Exception Group Traceback"
        self._fault = False  # the group started as "Fatal Python error"

    def feed(self, lines: list[Line], block: bytes, now: float) -> list[Item]:
        """Group ``lines`` (``block`` is the raw bytes they came from, for a fast pre-check)."""
        if self._mode == "none" or not lines:
            return lines  # type: ignore[return-value]
        if self._group is None and not self._may_start(lines, block):
            if self._mode == "python":
                return lines  # type: ignore[return-value]
            out: list[Item] = list(lines[:-1])  # indent: the last line may head a group
            self._take(lines[-1], now, out)  # whose indented lines come in the next read
            return out
        out = []
        for line in lines:
            self._take(line, now, out)
        return out

    def poll(self, now: float) -> list[Item]:
        """The pending group, once no line has continued it for ``timeout`` seconds."""
        if self._group is not None and now - self._group.started >= self._timeout:
            return self._flush()
        return []

    def deadline(self) -> float | None:
        return None if self._group is None else self._group.started + self._timeout

    def end(self) -> list[Item]:
        return self._flush()

    def _may_start(self, lines: list[Line], block: bytes) -> bool:
        """A fast check over the raw block, so most blocks skip the per-line state machine."""
        if self._mode == "indent":
            return b"\n " in block or b"\n\t" in block or block[:1] in (b" ", b"\t")
        tail = block[-_FATAL_TAIL:]
        if _FRAME in block or (b"F" in tail and FATAL_ERROR in tail):  # memchr first: JSON seldom has an F
            return True
        # The first line may have begun in an earlier read (faulthandler writes a few bytes at a
        # time), out of this block's sight. A header without a frame in its block must be the
        # block's last line.
        first, last = lines[0], lines[-1]
        return (type(first) is bytes and first.startswith(_STARTS)) or (
            type(last) is bytes and last.endswith(TRACEBACK_STARTS[0]))

    def _take(self, line: Line, now: float, out: list[Item]) -> None:
        if type(line) is not bytes:  # a part of an over-long line stands alone
            out.extend(self._flush())
            out.append(line)
            return
        if self._group is not None and self._continues(line):
            self._group.lines.append(line)
            self._group.started = now
            self._group_bytes += len(line)
            if len(self._group.lines) >= self._max_lines or self._group_bytes >= self._max_bytes:
                out.extend(self._flush())
            return
        out.extend(self._flush())
        if self._starts(line):
            self._fault = line.startswith(FATAL_ERROR)
            self._group = Group([line], self._mode == "python" and not self._fault, now, fault=self._fault)
            self._group_bytes = len(line)
            self._exception_group = line.startswith(TRACEBACK_STARTS[2])
            self._state = "fatal" if self._fault else "frames"
        else:
            out.append(line)

    def _starts(self, line: bytes) -> bool:
        if self._mode == "indent":
            return not line.startswith((b" ", b"\t")) and not line.startswith(b"{")
        if line.startswith(TRACEBACK_STARTS[1]):
            return b'", line ' in line  # a SyntaxError block: '  File "x.py", line 3'
        return line.startswith(_STARTS)

    def _continues(self, line: bytes) -> bool:
        if line.startswith(b"{"):
            return False  # JSON is never merged
        if self._mode == "indent":
            return line.startswith((b" ", b"\t"))
        return self._continues_fault(line) if self._fault else self._continues_traceback(line)

    def _continues_traceback(self, line: bytes) -> bool:
        """The traceback grammar: frames, then the exception line, then maybe a chain."""
        if not line.strip():
            return True  # held back: trailing blank lines are released at flush
        if self._state == "exception":
            return self._enter("chain") if line.startswith(CHAIN_MESSAGES) else False
        if self._state == "chain":
            if not line.startswith(_HEADERS):
                return False
            self._exception_group = line.startswith(TRACEBACK_STARTS[2])  # each exception has its own form
            return self._enter("frames")
        if line.startswith((b" ", b"\t")):
            return True
        if line.startswith(CHAIN_MESSAGES):
            return self._enter("chain")
        if self._exception_group:
            return False  # a group's exception lines are all indented: this is the next event
        return self._enter("exception")  # "pkg.Error: text" ends a traceback unless a chain follows

    def _continues_fault(self, line: bytes) -> bool:
        """A fatal error's dump: thread headers with their indented frames, then the extension modules."""
        if not line.strip():
            return True  # held back, as in a traceback
        if self._state == "modules":
            return False  # "Extension modules: ..." is the dump's last line
        if line.startswith((b" ", b"\t", b"Python runtime state:")) or line == b"...":  # over 100 threads
            return True
        if line.startswith(_THREADS):
            return self._enter("threads")
        if line.startswith(b"Extension modules:"):
            return self._enter("modules")
        return self._continues_pending(line)

    def _continues_pending(self, line: bytes) -> bool:
        """Before the threads: the exception Py_FatalError was called with, if any, and its traceback."""
        if self._state == "fatal":
            if line.startswith(TRACEBACK_STARTS[0]):
                return True
            return self._enter("raised") if _EXCEPTION_LINE.match(line) else False
        return self._state == "raised" and line.startswith(CHAIN_MESSAGES) and self._enter("fatal")

    def _enter(self, state: str) -> bool:
        self._state = state
        return True

    def _flush(self) -> list[Item]:
        group, self._group = self._group, None
        self._state = "frames"
        self._exception_group = False
        self._fault = False
        if group is None:
            return []
        released: list[Item] = []
        while group.lines and not group.lines[-1].strip():
            released.insert(0, group.lines.pop())  # blank lines held for a chain that never came
        head: list[Item] = [group] if len(group.lines) > 1 else [group.lines[0]]
        return head + released
