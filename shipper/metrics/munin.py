"""``shipper munin-plugin``: a Munin multigraph plugin graphing a logwrap's ``/metrics`` page.

Munin runs a plugin with ``config`` to learn its graphs, and with no argument for the values, at
each update. Both answers are pure functions of the page's text here (``config_lines`` and
``fetch_lines`` of ``graphs(parse(text))``); ``read_page`` is the only I/O, one GET.

Counters are DERIVE with min 0: Munin graphs their rate, and a restarted logwrap (its counters
back at 0) leaves a gap instead of a negative spike.
"""

from __future__ import annotations

import math
import re
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from ..errors import DataError, TransportError

DEFAULT_URL = "http://127.0.0.1:9880/metrics"
TIMEOUT = 5.0  # seconds: munin-node stops a plugin after 10
DROP_REASONS = ("buffer_full",)  # graphed from the start, before a first drop adds the series


@dataclass(frozen=True)
class Scrape:
    """One /metrics page: the names of its metric families, and every sample."""

    families: frozenset[str]
    samples: tuple[Sample, ...]

    def total(self, name: str, **labels: str) -> float | None:
        """The sum of the samples called ``name`` that carry ``labels``.

        0 when the metric is on the page without such a sample (a labelled counter before its
        first increment has no series yet); None when the page lacks the metric.
        """
        values = [s.value for s in self.samples if s.name == name and labels.items() <= s.labels.items()]
        if values:
            return math.fsum(values)
        return 0.0 if name.removesuffix("_total") in self.families else None

    def label_values(self, name: str, label: str) -> list[str]:
        return sorted({s.labels[label] for s in self.samples if s.name == name and label in s.labels})


@dataclass(frozen=True)
class Field:
    name: str  # a Munin field name (see fieldname)
    label: str
    value: float | None  # None: unknown
    warning: int | None = None  # Munin warns above it


@dataclass(frozen=True)
class Graph:
    name: str
    title: str
    vlabel: str
    info: str
    kind: str  # DERIVE (a counter, graphed as a rate) or GAUGE
    fields: tuple[Field, ...]
    base: int = 1000


def parse(text: str) -> Scrape:
    try:
        families = list(text_string_to_metric_families(text))
    except ValueError as exc:
        raise DataError(f"not Prometheus text: {exc}") from None
    names = frozenset(family.name for family in families)
    if not any(name.startswith("logwrap_") for name in names):
        raise DataError("no logwrap_ metrics on the page: is it a logwrap's --metrics-listen address?")
    return Scrape(names, tuple(sample for family in families for sample in family.samples))


def graphs(scrape: Scrape) -> list[Graph]:
    return [_records(scrape), _dropped(scrape), _retries(scrape), _buffer(scrape)]


def _records(scrape: Scrape) -> Graph:
    return Graph("shipper_records", "logwrap records", "records per ${graph_period}",
                 "Records logwrap built from the app's lines, shipped (acknowledged by a server), "
                 "spilled to stderr (not delivered when logwrap stopped), and left out by the "
                 "filters (--drop, --keep) and by --throttle.", "DERIVE",
                 (Field("built", "built", scrape.total("logwrap_records_total")),
                  Field("shipped", "shipped", scrape.total("logwrap_records_shipped_total")),
                  Field("spilled", "spilled", scrape.total("logwrap_records_spilled_total")),
                  Field("filtered", "filtered", scrape.total("logwrap_records_filtered_total")),
                  Field("throttled", "throttled", scrape.total("logwrap_records_throttled_total"))))


def _dropped(scrape: Scrape) -> Graph:
    name = "logwrap_records_dropped_total"
    reasons = sorted({*DROP_REASONS, *scrape.label_values(name, "reason")})
    return Graph("shipper_dropped", "logwrap records dropped", "records per ${graph_period}",
                 "Records logwrap dropped, by reason: they are lost. buffer_full: the servers did not "
                 "keep up, or were unreachable, until the buffer was full.", "DERIVE",
                 tuple(Field(fieldname(reason), reason, scrape.total(name, reason=reason))
                       for reason in reasons))


def _retries(scrape: Scrape) -> Graph:
    return Graph("shipper_retries", "logwrap retries", "retries per ${graph_period}",
                 "Chunks logwrap sent again after a failed send or a missing ack.", "DERIVE",
                 (Field("retries", "retries", scrape.total("logwrap_retries_total")),))


def _buffer(scrape: Scrape) -> Graph:
    limit = scrape.total("logwrap_buffer_limit_bytes")
    # Munin warns above 80% of the limit, as the LogwrapBufferNearlyFull alert does.
    warning = math.floor(0.8 * limit) if limit and math.isfinite(limit) else None
    return Graph("shipper_buffer", "logwrap buffer", "bytes",
                 "Bytes of records waiting in logwrap's buffer for an ack, and the buffer's limit: "
                 "at the limit, logwrap drops records.", "GAUGE",
                 (Field("used", "used", scrape.total("logwrap_buffer_bytes"), warning),
                  Field("limit", "limit", limit)), base=1024)


def config_lines(chosen: Iterable[Graph]) -> list[str]:
    return [line for graph in chosen for line in _graph_config(graph)]


def _graph_config(graph: Graph) -> list[str]:
    lines = [f"multigraph {graph.name}", f"graph_title {graph.title}", f"graph_vlabel {graph.vlabel}",
             "graph_category shipper", f"graph_args --base {graph.base} -l 0", f"graph_info {graph.info}"]
    for field in graph.fields:
        lines += [f"{field.name}.label {field.label}", f"{field.name}.type {graph.kind}",
                  f"{field.name}.min 0"]
        if field.warning is not None:
            lines.append(f"{field.name}.warning {field.warning}")
    return lines


def fetch_lines(chosen: Iterable[Graph]) -> list[str]:
    lines = []
    for graph in chosen:
        lines.append(f"multigraph {graph.name}")
        lines += [f"{field.name}.value {_number(field.value, graph.kind)}" for field in graph.fields]
    return lines


def _number(value: float | None, kind: str) -> str:
    """Munin's text for a value: U when unknown; DERIVE takes whole numbers only (rrdtool)."""
    if value is None or not math.isfinite(value):
        return "U"
    return str(int(value)) if kind == "DERIVE" or value.is_integer() else repr(value)


def fieldname(text: str) -> str:
    """A valid Munin field name, made as Munin::Plugin's clean_fieldname does."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", re.sub(r"^[^A-Za-z_]+", "_", text))
    return "__root" if name == "root" else name  # "root" is refused (a Munin 2.0 bug)


# --- the I/O: one GET ---------------------------------------------------------------------------

def read_page(url: str, timeout: float = TIMEOUT) -> str:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return str(response.read().decode("utf-8", errors="replace"))
    except urllib.error.HTTPError as exc:
        raise TransportError(f"cannot read {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:  # ValueError: not a URL at all
        raise TransportError(f"cannot read {url}: {getattr(exc, 'reason', exc)}") from None


def plugin(argument: str | None, url: str) -> list[str]:
    """Munin's two calls: ``config`` for the graphs, no argument for the values."""
    try:
        chosen = graphs(parse(read_page(url)))
    except DataError as exc:
        raise DataError(f"{url}: {exc}") from None
    return config_lines(chosen) if argument == "config" else fetch_lines(chosen)
