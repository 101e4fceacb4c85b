"""``shipper demo``: records flowing end to end on this machine, no Docker needed.

A receiver runs in this process (pretty output); a real ``shipper send`` process ships sample
log lines to it over TCP with acks, JSON and plain text mixed, as an app's stdout would be.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable

from .forward.address import Address
from .forward.protocol import EventBatch
from .forward.server import Receiver, ReceiverOptions
from .forward.sinks import PrettySink

SAMPLE = b"".join(line + b"\n" for line in [
    json.dumps({"@timestamp": "2026-11-28T09:00:00.000000Z", "log.level": "info",
                "message": "starting web app", "service.name": "demo"}).encode(),
    json.dumps({"@timestamp": "2026-11-28T09:00:01.250000Z", "log.level": "info",
                "message": "GET /orders 200", "http.response.status_code": 200}).encode(),
    b"a plain text line from a library that does not log JSON",
    json.dumps({"@timestamp": "2026-11-28T09:00:02.500000Z", "log.level": "error",
                "message": "payment failed", "error.type": "TimeoutError"}).encode(),
])


class _Counting(PrettySink):
    """Pretty output that also tells the demo when every sample line has arrived."""

    def __init__(self, expected: int, done: asyncio.Event, colour: bool) -> None:
        super().__init__(sys.stdout.buffer, colour)
        self._left = expected
        self._done = done

    def write(self, batch: EventBatch) -> None:
        super().write(batch)
        self._left -= batch.count
        if self._left <= 0:
            self._done.set()


async def run_demo(say: Callable[[str], None], colour: bool) -> int:
    done = asyncio.Event()
    sink = _Counting(SAMPLE.count(b"\n"), done, colour)
    receiver = Receiver(ReceiverOptions(listen=(Address("tcp", "127.0.0.1", 0),)), sink, say)
    await receiver.start()
    url = str(receiver.addresses[0])
    say(f"receiver listening on {url}; running: shipper send --to {url} --tag demo.app --time-key @timestamp")
    sender = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shipper", "send", "--to", url, "--tag", "demo.app",
        "--time-key", "@timestamp", stdin=asyncio.subprocess.PIPE,
    )
    await sender.communicate(SAMPLE)
    await asyncio.wait_for(done.wait(), 10)
    await receiver.close()
    say(f"every record arrived and was acknowledged; shipper send exited {sender.returncode}")
    return sender.returncode or 0
