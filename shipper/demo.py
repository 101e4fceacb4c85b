"""``shipper demo``: a real app under logwrap, shipping to a receiver, on this machine only.

A receiver runs in this process and prints what arrives, pretty. ``logwrap`` runs the sample
app (``shipper.demo_app``); the demo sends it a few requests, one of which fails with a chained
exception, then stops it with TERM as a supervisor would.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import urllib.error
import urllib.request
from collections.abc import Callable

from .forward.address import Address
from .forward.protocol import EventBatch
from .forward.server import Receiver, ReceiverOptions
from .forward.sinks import PrettySink

REQUESTS = ("/", "/orders/42", "/checkout")


class _Watching(PrettySink):
    """Pretty output that also finds the port the app announces."""

    def __init__(self, colour: bool) -> None:
        super().__init__(sys.stdout.buffer, colour)
        self.port: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def write(self, batch: EventBatch) -> None:
        super().write(batch)
        for _, record in batch.entries:
            if record.get("message") == "listening" and not self.port.done():
                self.port.set_result(record["port"])


def _get(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


async def run_demo(say: Callable[[str], None], colour: bool) -> int:
    sink = _Watching(colour)
    receiver = Receiver(ReceiverOptions(listen=(Address("tcp", "127.0.0.1", 0),)), sink, say)
    await receiver.start()
    url = str(receiver.addresses[0])
    say(f"receiver on {url}; running: logwrap --to {url} --tag demo -- python -m shipper.demo_app")
    wrapper = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shipper.logwrap", "--to", url, "--tag", "demo", "--",
        sys.executable, "-m", "shipper.demo_app",
    )
    try:
        port = await asyncio.wait_for(sink.port, 30)
        for path in REQUESTS:
            status = await asyncio.get_running_loop().run_in_executor(None, _get, port, path)
            say(f"GET {path} -> {status}")
        wrapper.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(wrapper.wait(), 30)
    finally:
        if wrapper.returncode is None:
            wrapper.kill()
            await wrapper.wait()
        await receiver.close()
    say(f"logwrap exited {code}, the app's own status; every record above was acknowledged")
    return code
