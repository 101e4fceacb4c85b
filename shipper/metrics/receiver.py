"""``shipper receive``'s health as metric families (sans-I/O)."""

from __future__ import annotations

from ..forward.server import ReceiverStats
from .model import Family, counter, gauge


def receiver_families(stats: ReceiverStats, open_connections: int) -> list[Family]:
    return [
        counter("connections", "Connections accepted.", "connections.accepted", stats.connections),
        gauge("connections_open", "Connections open now.", "connections.open", open_connections),
        counter("events", "Events received and written.", "events", stats.events),
        counter("acks", "Chunks acknowledged.", "acks", stats.acks),
        Family("connections_closed", "counter", "Connections closed for bad input, by reason.",
               "connections.closed", ("reason",),
               {(reason,): n for reason, n in sorted(stats.closed.items())}),
    ]
