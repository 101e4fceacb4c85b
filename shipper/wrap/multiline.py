"""Grouping continuation lines into one event (sans-I/O; the caller passes ``now``).

``python`` mode gathers a Python traceback into one ``Group``: chained tracebacks ("During
handling of the above exception..." / "The above exception was the direct cause..."), 3.11
caret lines, exception groups (``+-+`` / ``|`` blocks) and SyntaxError blocks that start at a
bare ``File "...", line N``. ``indent`` mode appends every line that starts with a space or
tab to the line before it (Java-style traces). A JSON line is never merged into a group.

A group ends when a line cannot continue it, when no line came for ``timeout`` seconds
(``poll``), at ``end()``, or when it reaches ``max_lines`` or ``max_bytes``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .framing import Line

TRACEBACK_STARTS = (b"Traceback (most recent call last):", b"  File \"", b"  + Exception Group Traceback")
CHAIN_MESSAGES = (
    b"During handling of the above exception, another exception occurred:",
    b"The above exception was the direct cause of the following exception:",
)
_HEADERS = (TRACEBACK_STARTS[0], TRACEBACK_STARTS[2])
_FRAME = b'  File "'  # in every traceback form: frames, exception groups' "|   File", SyntaxError


@dataclass
class Group:
    """Lines that form one event, and whether they are a Python traceback."""

    lines: list[bytes]
    traceback: bool
    started: float = field(default=0.0, compare=False)


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
        self._state = "frames"  # frames -> exception -> (chain -> frames ...)
        self._exception_group = False  # the group started as "+ Exception Group Traceback"

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
        if _FRAME in block:
            return True
        # The first line may have begun in an earlier read, out of this block's sight. A header
        # without a frame in its block must be the block's last line.
        first, last = lines[0], lines[-1]
        return (type(first) is bytes and first.startswith(TRACEBACK_STARTS)) or (
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
            self._group = Group([line], self._mode == "python", now)
            self._group_bytes = len(line)
            self._exception_group = line.startswith(TRACEBACK_STARTS[2])
        else:
            out.append(line)

    def _starts(self, line: bytes) -> bool:
        if self._mode == "indent":
            return not line.startswith((b" ", b"\t")) and not line.startswith(b"{")
        if line.startswith(TRACEBACK_STARTS[1]):
            return b'", line ' in line  # a SyntaxError block: '  File "x.py", line 3'
        return line.startswith(TRACEBACK_STARTS)

    def _continues(self, line: bytes) -> bool:
        if line.startswith(b"{"):
            return False  # JSON is never merged
        if self._mode == "indent":
            return line.startswith((b" ", b"\t"))
        return self._continues_traceback(line)

    def _continues_traceback(self, line: bytes) -> bool:
        """The traceback grammar: frames, then the exception line, then maybe a chain."""
        if not line.strip():
            return True  # held back: trailing blank lines are released at flush
        if self._state == "exception":
            return self._enter("chain") if line.startswith(CHAIN_MESSAGES) else False
        if self._state == "chain":
            return self._enter("frames") if line.startswith(_HEADERS) else False
        if line.startswith((b" ", b"\t")):
            return True
        if line.startswith(CHAIN_MESSAGES):
            return self._enter("chain")
        if self._exception_group:
            return False  # a group's exception lines are all indented: this is the next event
        return self._enter("exception")  # "pkg.Error: text" ends a traceback unless a chain follows

    def _enter(self, state: str) -> bool:
        self._state = state
        return True

    def _flush(self) -> list[Item]:
        group, self._group = self._group, None
        self._state = "frames"
        self._exception_group = False
        if group is None:
            return []
        released: list[Item] = []
        while group.lines and not group.lines[-1].strip():
            released.insert(0, group.lines.pop())  # blank lines held for a chain that never came
        head: list[Item] = [group] if len(group.lines) > 1 else [group.lines[0]]
        return head + released
