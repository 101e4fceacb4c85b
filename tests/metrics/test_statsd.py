"""StatsD lines in Etsy's protocol, and the datagrams they travel in."""

from shipper.metrics.model import Family, counter, gauge, histogram
from shipper.metrics.statsd import MAX_PACKET_BYTES, StatsdFormatter, packets
from shipper.metrics.timing import Timing


def test_counters_go_out_as_the_increase_since_the_last_flush_that_went_out():
    statsd = StatsdFormatter("logwrap.web")
    first = statsd.lines([counter("records_shipped", "", "records.shipped", 10)])
    statsd.commit()
    second = statsd.lines([counter("records_shipped", "", "records.shipped", 25)])
    assert first == ["logwrap.web.records.shipped:10|c"] and second == ["logwrap.web.records.shipped:15|c"]


def test_a_flush_that_failed_is_made_up_by_the_next():
    statsd = StatsdFormatter("p")
    statsd.lines([counter("retries", "", "retries", 3)])  # not committed: it did not go out
    assert statsd.lines([counter("retries", "", "retries", 5)]) == ["p.retries:5|c"]


def test_a_counter_that_did_not_move_sends_nothing():
    statsd = StatsdFormatter("p")
    statsd.lines([counter("retries", "", "retries", 3)])
    statsd.commit()
    assert statsd.lines([counter("retries", "", "retries", 3)]) == []


def test_a_very_long_label_value_is_cut_to_a_name_part_graphite_takes():
    family = Family("errors", "counter", "", "errors", ("type",), {("E" * 5000,): 1})
    assert StatsdFormatter("p").lines([family]) == [f"p.errors.{'E' * 100}:1|c"]


def test_gauges_go_out_as_their_value_every_time():
    statsd = StatsdFormatter("p")
    lines = [statsd.lines([gauge("buffer_bytes", "", "buffer.bytes", 512)]) for _ in range(2)]
    assert lines == [["p.buffer.bytes:512|g"]] * 2


def test_label_values_extend_the_name_made_safe_for_graphite():
    family = Family("errors", "counter", "", "errors", ("type",), {("app.errors:Bad Thing",): 2})
    assert StatsdFormatter("p").lines([family]) == ["p.errors.app_errors_Bad_Thing:2|c"]


def test_timers_send_the_sampled_durations_in_milliseconds_with_the_rate_they_stand_for():
    timing = Timing(max_samples=2)
    for seconds in (0.010, 0.020, 0.030, 0.040):
        timing.observe(seconds)
    lines = StatsdFormatter("p").lines([histogram("latency", "", "latency", timing)])
    assert lines == ["p.latency:10|ms|@0.5", "p.latency:20|ms|@0.5"]


def test_timers_send_only_what_came_since_the_last_flush():
    timing = Timing()
    statsd = StatsdFormatter("p")
    timing.observe(0.001)
    statsd.lines([histogram("latency", "", "latency", timing)])
    timing.observe(0.002)
    assert statsd.lines([histogram("latency", "", "latency", timing)]) == ["p.latency:2|ms"]


def test_dogstatsd_tags_are_added_to_every_line():
    statsd = StatsdFormatter("p", [("env", "prod"), ("team", "web")])
    assert statsd.lines([gauge("servers", "", "servers", 1)]) == ["p.servers:1|g|#env:prod,team:web"]


def test_lines_are_packed_into_datagrams_under_the_limit():
    lines = [f"logwrap.web.metric{n}:{n}|c" for n in range(500)]
    datagrams = packets(lines)
    assert all(len(d) <= MAX_PACKET_BYTES for d in datagrams) and len(datagrams) > 1
    assert b"\n".join(datagrams).decode().split("\n") == lines
