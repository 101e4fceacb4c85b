"""Sending StatsD datagrams: UDP from a non-blocking socket, so a slow or absent StatsD never
holds logwrap up. The host is resolved (off the event loop) at the first flush and again after
any failure; a failure is warned about once until sending works again.

A UDP send succeeds even when nobody listens: the refusal (ICMP) only fails the next send on
the same socket. So sending counts as working again after two flushes in a row went out.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

from ..forward.address import Address


class StatsdSender:
    def __init__(self, endpoint: Address, warn: Callable[[str], None]) -> None:
        self.endpoint = endpoint
        self.sent = 0
        self.failed = 0
        self._warn = warn
        self._socket: socket.socket | None = None
        self._warned = False
        self._good_flushes = 0

    async def send(self, packets: list[bytes]) -> bool:
        """Send the datagrams; False when they could not all go."""
        if not packets:
            return True
        if self._socket is None:
            self._socket = await self._connect()
            if self._socket is None:
                self.failed += len(packets)
                return False
        try:
            for packet in packets:
                self._socket.send(packet)
                self.sent += 1
        except OSError as exc:  # refused (ICMP from a host with nothing there), unreachable, full buffer
            self.failed += 1
            self._fail(exc.strerror or str(exc))
            self.close()
            return False
        self._good_flushes += 1
        if self._good_flushes >= 2:
            self._warned = False
        return True

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    async def _connect(self) -> socket.socket | None:
        loop = asyncio.get_running_loop()
        try:
            found = await loop.getaddrinfo(self.endpoint.host, self.endpoint.port, type=socket.SOCK_DGRAM)
        except OSError as exc:
            self._fail(f"cannot resolve {self.endpoint.host!r}: {exc.strerror or exc}")
            return None
        family, kind, proto, _, address = found[0]
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        try:
            sock.connect(address)  # a connected socket hears of refusals, so a dead StatsD is noticed
        except OSError as exc:
            sock.close()
            self._fail(exc.strerror or str(exc))
            return None
        return sock

    def _fail(self, reason: str) -> None:
        self._good_flushes = 0
        if not self._warned:
            self._warned = True
            self._warn(f"--statsd {self.endpoint}: {reason}; metrics are not reaching StatsD, "
                       "logging carries on and sending is tried again at each flush")
