"""Cost per record of shipper's JSON formatter beside python-json-logger's and ecs-logging's.

    python bench/logging_formatter.py [--records N]

Every formatter formats the same LogRecords (a message with an argument and two extra
fields, as an app's request log has) in the same run; the best of five rounds is kept
because the machine is shared. The goal: shipper's formatter no slower than either baseline.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable

import ecs_logging
from pythonjsonlogger.json import JsonFormatter as PlainJsonFormatter

from shipper.logs import JsonFormatter

SAME_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(filename)s %(lineno)d %(funcName)s " \
              "%(process)d %(threadName)s"


def records(count: int) -> list[logging.LogRecord]:
    made = []
    for n in range(count):
        record = logging.LogRecord("app.orders", logging.INFO, "/srv/app/orders.py", 42, "order %s placed",
                                   (n,), None, func="place")
        record.__dict__.update({"order_id": n, "customer": "c-17"})
        made.append(record)
    return made


def per_record(format_: Callable[[logging.LogRecord], str], batch: list[logging.LogRecord]) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for record in batch:
            format_(record)
        best = min(best, time.perf_counter() - start)
    return best / len(batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    batch = records(parser.parse_args().records)
    formatters = {
        "python-json-logger JsonFormatter()": PlainJsonFormatter(),
        "python-json-logger JsonFormatter(same fields)": PlainJsonFormatter(SAME_FIELDS),
        "ecs-logging StdlibFormatter()": ecs_logging.StdlibFormatter(),
        "shipper JsonFormatter(schema='ecs')": JsonFormatter(schema="ecs"),
        "shipper JsonFormatter(schema='flat')": JsonFormatter(schema="flat"),
    }
    costs = {name: per_record(formatter.format, batch) for name, formatter in formatters.items()}
    baselines = list(costs)[:3]
    print(f"{'':48}{'us/record':>10}" + "".join(f"{'vs ' + str(i + 1):>8}" for i in range(3)))
    for name, cost in costs.items():
        ratios = "".join(f"{cost / costs[base]:>7.2f}x" for base in baselines)
        print(f"{name:48}{cost * 1e6:>10.2f}{ratios}")
    print("(vs N: this formatter's cost divided by baseline N's; below 1.00x is faster)")


if __name__ == "__main__":
    main()
