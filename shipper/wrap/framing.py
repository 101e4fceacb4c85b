"""Bytes to lines (sans-I/O): a line ends at ``\\n``; a trailing ``\\r`` is removed.

``feed`` returns the lines completed by a chunk and keeps the partial tail; ``end`` returns
that tail as a last line when the stream closes without a final newline.

A line longer than ``max_line_bytes`` is never cut silently and never buffered whole: it comes
out as ``Part``s of at most that size, cut on a UTF-8 character boundary, numbered from 1,
the last one marked. Memory per stream stays under two times ``max_line_bytes``.
"""

from __future__ import annotations

from typing import NamedTuple

DEFAULT_MAX_LINE_BYTES = 1024 * 1024


class Part(NamedTuple):
    data: bytes
    line: int  # which long line of this stream (1, 2, ...): parts of one line share it
    ordinal: int  # 1-based position within the line
    last: bool


Line = bytes | Part


class LineFramer:
    def __init__(self, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        self._max = max_line_bytes
        self._tail = b""
        self._long_lines = 0
        self._parts = 0  # parts already emitted for the unfinished long line

    def feed(self, data: bytes) -> list[Line]:
        if self._tail:
            data = self._tail + data
        lines: list[Line] = data.split(b"\n")  # type: ignore[assignment]
        tail: bytes = lines.pop()  # type: ignore[assignment]
        if b"\r" in data:
            lines = [_strip_cr(line) for line in lines]  # type: ignore[arg-type]
        if self._parts and lines:
            lines[0:1] = self._finish_long(lines[0])  # type: ignore[arg-type]
        if len(data) > self._max and max(map(len, lines), default=0) > self._max:  # C-speed gate
            lines = self._split_long_lines(lines)
        lines.extend(self._bound_tail(tail))
        return lines

    def end(self) -> list[Line]:
        tail, self._tail = _strip_cr(self._tail), b""
        if self._parts:
            return self._finish_long(tail)
        return [tail] if tail else []

    def _split_long_lines(self, lines: list[Line]) -> list[Line]:
        out: list[Line] = []
        for line in lines:
            if type(line) is bytes and len(line) > self._max:
                self._long_lines += 1
                self._parts = 0
                out.extend(self._finish_long(line))
            else:
                out.append(line)
        return out

    def _finish_long(self, rest: bytes) -> list[Line]:
        """The remaining parts of the current long line, the last one marked."""
        parts = self._emit_parts(rest, keep_last=False)
        self._parts = 0
        return parts

    def _bound_tail(self, tail: bytes) -> list[Line]:
        if len(tail) <= self._max:
            self._tail = tail
            return []
        if not self._parts:
            self._long_lines += 1
        parts = self._emit_parts(tail, keep_last=True)
        return parts

    def _emit_parts(self, data: bytes, keep_last: bool) -> list[Line]:
        """Cut ``data`` into parts; with ``keep_last`` the remainder stays as the tail."""
        parts: list[Line] = []
        while len(data) > self._max or (not keep_last and (data or not parts)):
            cut = utf8_boundary(data, self._max) if len(data) > self._max else len(data)
            self._parts += 1
            last = not keep_last and cut == len(data)
            parts.append(Part(data[:cut], self._long_lines, self._parts, last))
            data = data[cut:]
            if last:
                break
        self._tail = data if keep_last else b""
        return parts


def _strip_cr(line: bytes) -> bytes:
    return line[:-1] if line.endswith(b"\r") else line


def utf8_boundary(data: bytes, limit: int) -> int:
    """The largest cut <= ``limit`` that does not split a UTF-8 character (when there is one)."""
    cut = limit
    while cut > limit - 3 and cut > 1 and (data[cut] & 0xC0) == 0x80:
        cut -= 1
    return cut if (data[cut] & 0xC0) != 0x80 else limit
