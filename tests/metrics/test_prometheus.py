"""Metric families in Prometheus's text format, read back with prometheus-client's parser."""

from prometheus_client.parser import text_string_to_metric_families

from shipper.metrics.model import Family, counter, histogram
from shipper.metrics.prometheus import exposition
from shipper.metrics.timing import Timing


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text.decode()) for s in family.samples}


def test_counters_get_the_namespace_and_the_total_suffix():
    text = exposition("logwrap", [counter("records_shipped", "Records acked.", "records.shipped", 7)])
    assert samples(text) == {("logwrap_records_shipped_total", ()): 7}
    assert b"# HELP logwrap_records_shipped_total Records acked." in text


def test_labelled_families_expose_one_sample_per_label_value():
    family = Family("records", "counter", "", "records", ("stream",), {("stdout",): 3, ("stderr",): 1})
    assert samples(exposition("logwrap", [family])) == {
        ("logwrap_records_total", (("stream", "stdout"),)): 3, ("logwrap_records_total", (("stream", "stderr"),)): 1}


def test_histograms_expose_cumulative_buckets_a_sum_and_a_count():
    timing = Timing(bounds=(0.1, 1.0))
    for seconds in (0.05, 0.5, 5.0):
        timing.observe(seconds)
    got = samples(exposition("logwrap", [histogram("latency_seconds", "", "latency", timing)]))
    assert got[("logwrap_latency_seconds_bucket", (("le", "0.1"),))] == 1
    assert got[("logwrap_latency_seconds_bucket", (("le", "1.0"),))] == 2
    assert got[("logwrap_latency_seconds_bucket", (("le", "+Inf"),))] == 3
    assert got[("logwrap_latency_seconds_count", ())] == 3 and got[("logwrap_latency_seconds_sum", ())] == 5.55
