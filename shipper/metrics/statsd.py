"""Metric families as StatsD lines in Etsy's protocol, packed into datagrams (sans-I/O).

Counters go out as the increase since the previous flush (``|c``), gauges as their value
(``|g``), and histograms as the durations sampled since then (``|ms``, with ``|@rate`` when
there were more than the sample holds). DogStatsD tags (``|#key:value``) are optional.
A counter's new baseline takes effect at ``commit``, once its lines went out: a flush that
failed is made up by the next one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from .model import Family, Labels

MAX_PACKET_BYTES = 1432  # fits one Ethernet frame over IPv6 with room to spare, as Etsy's docs advise
MAX_PART = 100  # characters of one name part (Graphite refuses parts over 255 bytes)
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")


def safe(part: str) -> str:
    """One dotted part of a name: StatsD and Graphite take letters, digits, ``_`` and ``-``."""
    return _UNSAFE.sub("_", part[:MAX_PART]) or "_"


class StatsdFormatter:
    def __init__(self, prefix: str, tags: Sequence[tuple[str, str]] = ()) -> None:
        self.prefix = prefix.strip(".")
        self._suffix = "|#" + ",".join(f"{key}:{value}" for key, value in tags) if tags else ""
        self._last: dict[tuple[str, Labels], float] = {}
        self._staged: dict[tuple[str, Labels], float] = {}

    def commit(self) -> None:
        """The lines of the last ``lines`` call went out: counters move on from there."""
        self._last.update(self._staged)
        self._staged.clear()

    def lines(self, families: Iterable[Family]) -> list[str]:
        self._staged.clear()
        out: list[str] = []
        for family in families:
            if family.kind == "histogram":
                out.extend(self._timer(family))
            else:
                out.extend(self._value(family, labels, value) for labels, value in family.values.items())
        return [line for line in out if line]

    def _name(self, family: Family, labels: Labels) -> str:
        return ".".join([self.prefix, family.statsd, *map(safe, labels)]).strip(".")

    def _value(self, family: Family, labels: Labels, value: float) -> str:
        name = self._name(family, labels)
        if family.kind == "gauge":
            return f"{name}:{_number(value)}|g{self._suffix}"
        last = self._last.get((family.name, labels), 0.0)
        self._staged[(family.name, labels)] = value
        increase = value - last
        return f"{name}:{_number(increase)}|c{self._suffix}" if increase > 0 else ""

    def _timer(self, family: Family) -> list[str]:
        assert family.timing is not None
        samples, seen = family.timing.drain()
        if not samples:
            return []
        rate = f"|@{len(samples) / seen:.6g}" if seen > len(samples) else ""
        name = self._name(family, ())
        return [f"{name}:{_number(seconds * 1000)}|ms{rate}{self._suffix}" for seconds in samples]


def packets(lines: Iterable[str], limit: int = MAX_PACKET_BYTES) -> list[bytes]:
    """Lines joined by newlines into datagrams of at most ``limit`` bytes (a longer line alone)."""
    out: list[bytes] = []
    current = b""
    for line in lines:
        data = line.encode()
        if current and len(current) + 1 + len(data) > limit:
            out.append(current)
            current = b""
        current = current + b"\n" + data if current else data
    if current:
        out.append(current)
    return out


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.6g}"
