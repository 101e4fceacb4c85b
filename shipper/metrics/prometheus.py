"""Metric families in Prometheus's text format, made by prometheus-client."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from .model import Family

CONTENT_TYPE = CONTENT_TYPE_LATEST


class _Reading:
    """What ``generate_latest`` collects from: the families of one reading."""

    def __init__(self, namespace: str, families: list[Family]) -> None:
        self._namespace = namespace
        self._families = families

    def collect(self) -> Iterator[Metric]:
        for family in self._families:
            yield _converted(f"{self._namespace}_{family.name}", family)


def exposition(namespace: str, families: list[Family]) -> bytes:
    return generate_latest(_Reading(namespace, families))  # type: ignore[arg-type]


def _converted(name: str, family: Family) -> Metric:
    labels = list(family.label_names)
    if family.kind == "histogram":
        assert family.timing is not None
        histogram = HistogramMetricFamily(name, family.help, labels=labels)
        histogram.add_metric([], family.timing.buckets(), family.timing.sum)
        return histogram
    make: Callable[..., Metric] = CounterMetricFamily if family.kind == "counter" else GaugeMetricFamily
    metric = make(name, family.help, labels=labels)
    for values, value in family.values.items():
        metric.add_metric(list(values), value)  # type: ignore[attr-defined]
    return metric
