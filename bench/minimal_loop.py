"""The baseline for logwrap: the least a Python program must do to ship a child's JSON lines.

    python bench/minimal_loop.py HOST PORT FILE

It runs ``cat FILE`` as its child (as logwrap does), splits the pipe into lines, parses each
with msgspec, packs PackedForward chunks of 4096 entries with one C call per chunk, sends them
without waiting, and at the end reads one ack per chunk. No multiline, no ids, no time
extraction, no buffer bound, no reconnects: the floor that logwrap's features sit on.
"""

from __future__ import annotations

import base64
import os
import socket
import struct
import subprocess
import sys
import time

import msgpack
import msgspec

BATCH = 4096


def pack_chunk(encode, entries: list) -> tuple[bytes, str]:  # type: ignore[no-untyped-def,type-arg]
    body = encode(entries)
    header = 1 if body[0] >> 4 == 0x9 else 3 if body[0] == 0xDC else 5
    chunk = base64.b64encode(os.urandom(16)).decode()
    return encode(("bench", body[header:], {"size": len(entries), "chunk": chunk})), chunk


def main(host: str, port: int, path: str) -> None:
    sock = socket.create_connection((host, port))
    child = subprocess.Popen(["cat", path], stdout=subprocess.PIPE)
    assert child.stdout is not None
    decode, encode = msgspec.json.Decoder().decode, msgspec.msgpack.Encoder().encode
    tail, entries, chunks = b"", [], 0
    while data := os.read(child.stdout.fileno(), 256 * 1024):
        lines = (tail + data).split(b"\n")
        tail = lines.pop()
        now = msgspec.msgpack.Ext(0, struct.pack(">II", *divmod(time.time_ns(), 1_000_000_000)))
        entries.extend((now, decode(line)) for line in lines)
        while len(entries) >= BATCH:
            sock.sendall(pack_chunk(encode, entries[:BATCH])[0])
            entries, chunks = entries[BATCH:], chunks + 1
    if entries:
        sock.sendall(pack_chunk(encode, entries)[0])
        chunks += 1
    unpacker, acks = msgpack.Unpacker(), 0
    while acks < chunks:
        unpacker.feed(sock.recv(65536))
        acks += sum(1 for _ in unpacker)
    child.wait()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
