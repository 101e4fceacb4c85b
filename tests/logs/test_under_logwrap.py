"""Both halves together: an app using shipper's logging, run under logwrap (real processes)."""

from datetime import datetime, timedelta, timezone

from ..processes import python, run_logwrap
from .test_configure import _base_env

APP = """
import logging, shipper.autolog
log = logging.getLogger("app")
log.info("order placed", extra={"order.id": 17})
try:
    1 / 0
except ZeroDivisionError:
    log.exception("could not split the bill")
"""


def test_records_arrive_at_the_receiver_with_the_fields_the_app_wrote(forward_receiver):
    result = run_logwrap(forward_receiver.url, command=python(APP), env={**_base_env(), "SERVICE_NAME": "shop"})
    assert result.returncode == 0, result.stderr
    placed, failed = [e for e in forward_receiver.wait_for(2)]
    assert placed.record["message"] == "order placed" and placed.record["order"] == {"id": 17}
    assert placed.record["service"] == {"name": "shop"} and placed.record["stream"] == "stdout"
    assert placed.record["event.id"]  # logwrap's id beside the app's fields
    written = datetime.fromisoformat(placed.record["@timestamp"].replace("Z", "+00:00"))
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    assert placed.time == (written - epoch) // timedelta(microseconds=1) * 1000  # the app's time
    assert failed.record["error"]["type"] == "ZeroDivisionError" and failed.record["log.level"] == "error"
    # one record with the whole traceback: logwrap did not group or split it
    assert failed.record["error"]["stack_trace"].endswith("ZeroDivisionError: division by zero")
