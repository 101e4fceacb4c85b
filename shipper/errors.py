"""One exception hierarchy for the whole package.

Every error a user can meet is a ``ShipperError``; the CLI maps it to a one-line message and
the exit code it carries (sysexits.h values, so supervisors and scripts can tell them apart).
Raw ``OSError``, ``msgpack`` and ``ssl`` errors are translated at the edge that meets them,
with ``raise ... from exc`` so the cause is kept for debugging.
"""

from __future__ import annotations


class ShipperError(Exception):
    """Root of every error raised by shipper."""

    exit_code = 70  # EX_SOFTWARE


class ConfigError(ShipperError):
    """A flag, environment variable or file holds a value we cannot use."""

    exit_code = 64  # EX_USAGE


class DataError(ShipperError):
    """Input data (a line, a record) is not what the chosen format requires."""

    exit_code = 65  # EX_DATAERR


class OutputError(ShipperError):
    """Events could not be written to our own output (a closed pipe, a full disk)."""

    exit_code = 74  # EX_IOERR


class ProtocolError(ShipperError):
    """The Forward protocol was broken."""

    exit_code = 76  # EX_PROTOCOL


class LocalProtocolError(ProtocolError):
    """We were asked to send something the protocol cannot carry (a bug or bad argument)."""


class RemoteProtocolError(ProtocolError):
    """The peer sent bytes that are not valid Forward protocol."""

    reason = "protocol"  # the label a receiver counts the closed connection under


class AuthError(RemoteProtocolError):
    """The shared-key / user handshake failed."""

    reason = "auth"


class LimitError(RemoteProtocolError):
    """A message is over a limit: frame bytes, entries, or inflated gzip bytes."""

    reason = "too_large"


class FrameTimeoutError(RemoteProtocolError):
    """A message began and did not end in time (a slowloris, or a stalled peer)."""

    reason = "timeout"


class TransportError(ShipperError):
    """The network failed us: connect, send or a missing ack."""

    exit_code = 69  # EX_UNAVAILABLE


class ConnectError(TransportError):
    """Could not open a connection to the peer."""


class SendError(TransportError):
    """The connection broke while writing or reading."""


class AckTimeoutError(TransportError):
    """The peer did not acknowledge a chunk in time."""


class DeliveryError(TransportError):
    """Some records could not be delivered; ``undelivered`` says how many."""

    exit_code = 75  # EX_TEMPFAIL

    def __init__(self, message: str, undelivered: int) -> None:
        super().__init__(message)
        self.undelivered = undelivered


class DroppedError(DeliveryError):
    """Records dropped by the buffer's overflow policy (counted, not retried)."""


class ExecError(ShipperError):
    """The command could not be started: 127 when not found, 126 when not executable."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code
