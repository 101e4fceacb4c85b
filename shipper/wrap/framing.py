"""Bytes to lines (sans-I/O): a line ends at ``\\n``; a trailing ``\\r`` is removed.

``feed`` returns the lines completed by a chunk and keeps the partial tail; ``end`` returns
that tail as a last line when the stream closes without a final newline.
"""

from __future__ import annotations


class LineFramer:
    def __init__(self) -> None:
        self._tail = b""

    def feed(self, data: bytes) -> list[bytes]:
        if self._tail:
            data = self._tail + data
        lines = data.split(b"\n")
        self._tail = lines.pop()
        if b"\r" in data:
            lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
        return lines

    def end(self) -> list[bytes]:
        tail, self._tail = self._tail, b""
        if tail.endswith(b"\r"):
            tail = tail[:-1]
        return [tail] if tail else []
