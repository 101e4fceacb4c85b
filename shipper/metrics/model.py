"""Metrics as plain values, read at one moment: what every exporter formats (sans-I/O).

A ``Family`` is one metric with its samples by label values. Its name is the Prometheus one
without the namespace (``records_shipped``); ``statsd`` is the dotted StatsD name, to which
the label values are appended (``records.dropped.buffer_full``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .timing import Timing

Kind = Literal["counter", "gauge", "histogram"]
Labels = tuple[str, ...]


@dataclass(frozen=True)
class Family:
    name: str
    kind: Kind
    help: str
    statsd: str
    label_names: tuple[str, ...] = ()
    values: dict[Labels, float] = field(default_factory=dict)  # counters and gauges
    timing: Timing | None = None  # histograms


def counter(name: str, help: str, statsd: str, value: float) -> Family:
    return Family(name, "counter", help, statsd, (), {(): value})


def gauge(name: str, help: str, statsd: str, value: float) -> Family:
    return Family(name, "gauge", help, statsd, (), {(): value})


def histogram(name: str, help: str, statsd: str, timing: Timing) -> Family:
    return Family(name, "histogram", help, statsd, timing=timing)
