"""Raw-socket helpers for tests that play a client byte by byte."""

from __future__ import annotations

import socket
from collections import deque

import msgpack

from shipper.forward.protocol import Framer


class RawClient:
    """A blocking socket speaking raw bytes to a receiver, reading its responses as msgpack."""

    def __init__(self, address) -> None:
        if address.is_unix:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(address.path)
        else:
            self.sock = socket.create_connection((address.host, address.port), timeout=10)
        self.sock.settimeout(10)
        self._framer = Framer()
        self._ready: deque = deque()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_message(self, message: object) -> None:
        self.send(msgpack.packb(message))

    def receive(self) -> object:
        """The next whole message from the receiver (None when it closed the connection)."""
        while not self._ready:
            data = self.sock.recv(65536)
            if not data:
                return None
            self._ready.extend(self._framer.feed(data))
        return self._ready.popleft()

    def closed_by_peer(self) -> bool:
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True
