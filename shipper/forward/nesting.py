"""One nesting limit for records, and what a receiver does with a record past any limit.

``MAX_NESTING`` is how many levels of maps and arrays a record may have, itself included. logwrap
never packs a deeper record (the line is kept as text: both its C and its Python path use this
number), and every decoder a receiver uses (msgspec, msgpack, Fluentd's and Fluent Bit's) reads
that depth on every Python version. Fluentd and Fluent Bit read 1,000 levels; msgpack stops at
1,024, and how deep msgspec goes depends on the interpreter (3.13 goes much deeper than 3.12), so
without one limit a line logwrap accepted could make a chunk no receiver could decode.

A receiver may still meet a deeper record from another sender. It must not lose the chunk for
it: ``entry_spans`` finds where each entry starts and ends without recursing, so the entries
around it are decoded one by one and only the deep one is set aside.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator
from typing import Any

MAX_NESTING = 64

_FIXED = {0xC0: 0, 0xC2: 0, 0xC3: 0, 0xCA: 4, 0xCB: 8, 0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8,
          0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8, 0xD4: 2, 0xD5: 3, 0xD6: 5, 0xD7: 9, 0xD8: 17}
_SIZED = {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4}  # bin and str: length bytes
_EXT = {0xC7: 1, 0xC8: 2, 0xC9: 4}  # ext: length bytes, then a type byte
_CONTAINERS = {0xDC: (2, 1), 0xDD: (4, 1), 0xDE: (2, 2), 0xDF: (4, 2)}  # count bytes, items per count
_UINT = {1: struct.Struct(">B"), 2: struct.Struct(">H"), 4: struct.Struct(">I")}


def deeper_than(value: Any, limit: int = MAX_NESTING) -> bool:
    """Whether ``value`` nests maps and arrays more than ``limit`` levels (without recursing)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def too_deep_note(packed: bytes | None) -> dict[str, Any]:
    """What stands in for a record nested too deep to decode or print: a note, and its msgpack
    bytes (base64) when they could be had, so nothing is lost."""
    note = {"message": f"this record nests maps and arrays too deep to decode here (shipper keeps "
                       f"records to {MAX_NESTING} levels); its msgpack bytes are in undecodable.msgpack"}
    return {**note, "undecodable.msgpack": base64.b64encode(packed).decode()} if packed else note


def entry_spans(body: bytes) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each msgpack object in ``body``; raises ValueError where it breaks."""
    position = 0
    while position < len(body):
        end = _skip(body, position)
        yield position, end
        position = end


def _skip(body: bytes, position: int) -> int:
    """The end of the object starting at ``position``: one counter of pending items, no stack."""
    pending = 1
    while pending:
        if position >= len(body):
            raise ValueError("the object is cut off")
        marker = body[position]
        position += 1
        pending -= 1
        if marker <= 0x7F or marker >= 0xE0:
            continue
        if marker <= 0x8F:
            pending += 2 * (marker & 0x0F)
        elif marker <= 0x9F:
            pending += marker & 0x0F
        elif marker <= 0xBF:
            position += marker & 0x1F
        elif marker in _FIXED:
            position += _FIXED[marker]
        elif marker in _SIZED:
            width = _SIZED[marker]
            position += width + _uint(body, position, width)
        elif marker in _EXT:
            width = _EXT[marker]
            position += width + 1 + _uint(body, position, width)
        elif marker in _CONTAINERS:
            width, per = _CONTAINERS[marker]
            pending += per * _uint(body, position, width)
            position += width
        else:
            raise ValueError(f"byte 0x{marker:02x} starts no msgpack object")
    if position > len(body):
        raise ValueError("the object is cut off")
    return position


def _uint(body: bytes, position: int, width: int) -> int:
    if position + width > len(body):
        raise ValueError("the object is cut off")
    return int(_UINT[width].unpack_from(body, position)[0])
