"""shipper munin-plugin: a logwrap /metrics page becomes Munin's config and values; a page that
cannot be read is one line naming the URL."""

import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shipper.errors import DataError
from shipper.metrics.munin import config_lines, fetch_lines, fieldname, graphs, parse

from ..processes import SHIPPER

# As prometheus-client writes it (trimmed): labelled counters, _created series, a float in e-notation.
PAGE = """\
# HELP logwrap_records_total Records built
# TYPE logwrap_records_total counter
logwrap_records_total{stream="stdout"} 1200.0
logwrap_records_total{stream="stderr"} 34.0
# HELP logwrap_records_created Records built
# TYPE logwrap_records_created gauge
logwrap_records_created{stream="stdout"} 1.7961405203191736e+09
logwrap_records_created{stream="stderr"} 1.7961405203191986e+09
# HELP logwrap_records_shipped_total Records acked
# TYPE logwrap_records_shipped_total counter
logwrap_records_shipped_total 1180.0
# HELP logwrap_records_dropped_total Records dropped
# TYPE logwrap_records_dropped_total counter
logwrap_records_dropped_total{reason="buffer_full"} 40.0
# HELP logwrap_records_spilled_total Records spilled
# TYPE logwrap_records_spilled_total counter
logwrap_records_spilled_total 0.0
# HELP logwrap_records_filtered_total Records filtered
# TYPE logwrap_records_filtered_total counter
logwrap_records_filtered_total{stream="stdout"} 9.0
logwrap_records_filtered_total{stream="stderr"} 1.0
# HELP logwrap_records_throttled_total Records throttled
# TYPE logwrap_records_throttled_total counter
logwrap_records_throttled_total{stream="stdout"} 5.0
logwrap_records_throttled_total{stream="stderr"} 0.0
# HELP logwrap_retries_total Retries
# TYPE logwrap_retries_total counter
logwrap_retries_total 3.0
# HELP logwrap_buffer_bytes Buffer bytes
# TYPE logwrap_buffer_bytes gauge
logwrap_buffer_bytes 65536.0
# HELP logwrap_buffer_limit_bytes Buffer limit
# TYPE logwrap_buffer_limit_bytes gauge
logwrap_buffer_limit_bytes 8.388608e+06
# HELP logwrap_buffer_records Buffer records
# TYPE logwrap_buffer_records gauge
logwrap_buffer_records 14.0
"""

CONFIG = """\
multigraph shipper_records
graph_title logwrap records
graph_vlabel records per ${graph_period}
graph_category shipper
graph_args --base 1000 -l 0
graph_info Records logwrap built from the app's lines, shipped (acknowledged by a server), spilled to stderr (not delivered when logwrap stopped), and left out by the filters (--drop, --keep) and by --throttle.
built.label built
built.type DERIVE
built.min 0
shipped.label shipped
shipped.type DERIVE
shipped.min 0
spilled.label spilled
spilled.type DERIVE
spilled.min 0
filtered.label filtered
filtered.type DERIVE
filtered.min 0
throttled.label throttled
throttled.type DERIVE
throttled.min 0
multigraph shipper_dropped
graph_title logwrap records dropped
graph_vlabel records per ${graph_period}
graph_category shipper
graph_args --base 1000 -l 0
graph_info Records logwrap dropped, by reason: they are lost. buffer_full: the servers did not keep up, or were unreachable, until the buffer was full.
buffer_full.label buffer_full
buffer_full.type DERIVE
buffer_full.min 0
multigraph shipper_retries
graph_title logwrap retries
graph_vlabel retries per ${graph_period}
graph_category shipper
graph_args --base 1000 -l 0
graph_info Chunks logwrap sent again after a failed send or a missing ack.
retries.label retries
retries.type DERIVE
retries.min 0
multigraph shipper_buffer
graph_title logwrap buffer
graph_vlabel bytes
graph_category shipper
graph_args --base 1024 -l 0
graph_info Bytes of records waiting in logwrap's buffer for an ack, and the buffer's limit: at the limit, logwrap drops records.
used.label used
used.type GAUGE
used.min 0
used.warning 6710886
limit.label limit
limit.type GAUGE
limit.min 0
"""

VALUES = """\
multigraph shipper_records
built.value 1234
shipped.value 1180
spilled.value 0
filtered.value 10
throttled.value 5
multigraph shipper_dropped
buffer_full.value 40
multigraph shipper_retries
retries.value 3
multigraph shipper_buffer
used.value 65536
limit.value 8388608
"""


def lines(text: str) -> list[str]:
    return text.splitlines()


def test_config_declares_four_graphs_counters_as_derive_and_a_warning_at_80_percent_of_the_limit():
    assert config_lines(graphs(parse(PAGE))) == lines(CONFIG)


def test_fetch_gives_each_graphs_values_the_records_summed_over_streams():
    assert fetch_lines(graphs(parse(PAGE))) == lines(VALUES)


def test_a_drop_reason_before_its_first_drop_is_zero_and_a_new_reason_gets_a_clean_field():
    page = PAGE.replace('logwrap_records_dropped_total{reason="buffer_full"} 40.0\n',
                        'logwrap_records_dropped_total{reason="queue.closed"} 2.0\n')
    dropped = fetch_lines(graphs(parse(page)))[6:9]
    assert dropped == ["multigraph shipper_dropped", "buffer_full.value 0", "queue_closed.value 2"]


def test_a_metric_missing_from_the_page_is_unknown():
    values = fetch_lines(graphs(parse("logwrap_records_shipped_total 5.0\n")))
    assert values[:4] == ["multigraph shipper_records", "built.value U", "shipped.value 5", "spilled.value U"]


def test_field_names_are_cleaned_as_munins_clean_fieldname_does():
    assert [fieldname(name) for name in ("buffer_full", "42.bad-name", "root")] == ["buffer_full", "_bad_name", "__root"]


def test_a_page_that_is_not_prometheus_text_is_a_data_error():
    with pytest.raises(DataError, match="not Prometheus text"):
        parse("<html><body>it works</body></html>")


def test_a_page_without_logwrap_metrics_is_a_data_error_naming_what_to_point_at():
    with pytest.raises(DataError, match="no logwrap_ metrics on the page: is it a logwrap's --metrics-listen address"):
        parse("shipper_receive_events_total 3.0\n")


# --- the command, as munin-run runs it: env.url reaches it as the variable url -------------------

class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = PAGE.encode()
        self.send_response(200 if self.path == "/metrics" else 404)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    """``http://127.0.0.1:PORT``, serving PAGE at /metrics."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def munin_plugin(url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*SHIPPER, "munin-plugin", *args], env={**os.environ, "url": url},
                          capture_output=True, text=True, timeout=60)


def test_the_command_prints_the_config_of_the_page_at_env_url(server):
    done = munin_plugin(f"{server}/metrics", "config")
    assert done.returncode == 0 and done.stdout == CONFIG and done.stderr == ""


def test_the_command_without_argument_prints_the_values(server):
    done = munin_plugin(f"{server}/metrics")
    assert done.returncode == 0 and done.stdout == VALUES


def test_a_closed_port_is_one_line_naming_the_url_and_the_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed when the block ends: nothing listens there
    done = munin_plugin(f"http://127.0.0.1:{port}/metrics")
    assert done.returncode == 69 and done.stdout == ""
    assert done.stderr == f"shipper munin-plugin: cannot read http://127.0.0.1:{port}/metrics: [Errno 111] Connection refused\n"


def test_an_http_error_is_one_line_with_its_status(server):
    done = munin_plugin(f"{server}/nothing-here", "config")
    assert done.returncode == 69
    assert done.stderr == f"shipper munin-plugin: cannot read {server}/nothing-here: HTTP 404 Not Found\n"
