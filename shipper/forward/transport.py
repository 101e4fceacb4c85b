"""Opening streams to peers: TCP, TLS and Unix sockets, with bounded connect time.

This is the edge where ``OSError``, ``ssl.SSLError`` and timeouts become ``ConnectError`` /
``SendError`` carrying the peer's address and what to check.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import socket
import ssl
import struct
import termios
from dataclasses import dataclass

from ..errors import ConfigError, ConnectError, SendError
from .address import Address

READ_SIZE = 256 * 1024
Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@dataclass(frozen=True)
class TlsOptions:
    """Client TLS settings; verification is on unless ``verify`` is explicitly False."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    verify: bool = True


@dataclass(frozen=True)
class ServerTls:
    cert_file: str
    key_file: str
    client_ca_file: str | None = None  # when set, clients must present a certificate


def client_context(options: TlsOptions) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=options.ca_file)
        if options.cert_file:
            context.load_cert_chain(options.cert_file, options.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"TLS client settings: {exc}") from exc
    if not options.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def server_context(options: ServerTls) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(options.cert_file, options.key_file)
        if options.client_ca_file:
            context.load_verify_locations(options.client_ca_file)
            context.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"TLS server settings: {exc}") from exc
    return context


async def open_stream(
    address: Address, timeout: float, tls: ssl.SSLContext | None = None
) -> Stream:
    """Connect to ``address`` within ``timeout`` seconds."""
    try:
        return await asyncio.wait_for(_open(address, tls), timeout)
    except asyncio.TimeoutError:
        raise ConnectError(f"{address}: no connection within {timeout:g}s") from None
    except ssl.SSLCertVerificationError as exc:
        raise ConnectError(
            f"{address}: the server's TLS certificate could not be verified "
            f"({exc.verify_message}); give its CA with --tls-ca"
        ) from exc
    except ssl.SSLError as exc:
        raise ConnectError(f"{address}: TLS handshake failed: {exc.reason or exc}") from exc
    except OSError as exc:
        raise ConnectError(f"{address}: {describe(exc)}") from exc
    except ValueError as exc:  # e.g. a host name IDNA cannot encode
        raise ConnectError(f"{address}: invalid address: {exc}") from exc


def describe(exc: OSError) -> str:
    """The OS's words for an error ("Connection refused"), not asyncio's wrapper text."""
    return os.strerror(exc.errno) if exc.errno else str(exc)


async def _open(address: Address, tls: ssl.SSLContext | None) -> Stream:
    if address.is_unix:
        return await asyncio.open_unix_connection(address.path, limit=READ_SIZE)
    if address.scheme == "tls":
        tls = tls or client_context(TlsOptions())
        return await asyncio.open_connection(
            address.host, address.port, ssl=tls, server_hostname=address.host, limit=READ_SIZE
        )
    return await asyncio.open_connection(address.host, address.port, limit=READ_SIZE)


async def write_all(writer: asyncio.StreamWriter, data: bytes, timeout: float, peer: object) -> None:
    """Write ``data`` and wait until the kernel took it, within ``timeout`` seconds."""
    try:
        writer.write(data)
        await asyncio.wait_for(writer.drain(), timeout)
    except asyncio.TimeoutError:
        raise SendError(f"{peer}: could not write for {timeout:g}s (peer not reading)") from None
    except (OSError, ssl.SSLError) as exc:
        raise SendError(f"{peer}: connection lost while writing: {exc}") from exc


def unread_bytes(writer: asyncio.StreamWriter) -> int | None:
    """Bytes written to a Unix socket that the peer has not read yet, in our buffer or the
    kernel's; None where that cannot be seen (TCP and TLS, or no ``TIOCOUTQ``).

    On a Unix stream socket the kernel charges a sent buffer to the sender until the
    receiver's ``read`` has taken all of it, so a count of 0 means the peer process has read
    everything. (On TCP the same count only tells what the peer's kernel has.)
    """
    sock = writer.get_extra_info("socket")
    outq = getattr(termios, "TIOCOUTQ", None)
    if sock is None or sock.family != socket.AF_UNIX or outq is None:
        return None
    try:
        (queued,) = struct.unpack("i", fcntl.ioctl(sock.fileno(), outq, b"\0\0\0\0"))
    except OSError:
        return None
    return writer.transport.get_write_buffer_size() + queued


async def read_some(reader: asyncio.StreamReader, peer: object) -> bytes:
    try:
        return await reader.read(READ_SIZE)
    except (OSError, ssl.SSLError) as exc:
        raise SendError(f"{peer}: connection lost while reading: {exc}") from exc


async def close_stream(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), 1.0)
    except (OSError, ssl.SSLError, asyncio.TimeoutError):
        pass  # closing a broken connection: nothing left to report
