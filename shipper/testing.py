"""A Forward receiver on a background thread, for tests (ours and our users').

It is the real ``Receiver`` with a ``MemorySink``, so what a test sees is what ``shipper
receive`` would have written and acked. Fault switches let a test play a bad collector.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from .forward.address import Address, parse_address
from .forward.server import Faults, Receiver, ReceiverOptions, ReceiverStats
from .forward.sinks import Event, MemorySink


class ForwardReceiver:
    """Start with ``start()`` (or as a context manager); every address may use port 0."""

    def __init__(self, listen: tuple[str, ...] = ("tcp://127.0.0.1:0",), **options: Any) -> None:
        self.sink = MemorySink()
        self.faults = Faults()
        self.log: list[str] = []
        self._options = ReceiverOptions(listen=tuple(parse_address(u) for u in listen), **options)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="forward-receiver", daemon=True)
        self._receiver = Receiver(self._options, self.sink, self._record_log, self.faults, self._notify)
        self._refusing = False

    def _notify(self, _: int) -> None:
        with self.sink.cond:
            self.sink.cond.notify_all()

    def _record_log(self, line: str) -> None:
        with self.sink.cond:
            self.log.append(line)
            self.sink.cond.notify_all()

    def __enter__(self) -> ForwardReceiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> ForwardReceiver:
        self._thread.start()
        self._call(self._receiver.start())
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._call(self._receiver.close())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        self._loop.close()

    def _call(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    @property
    def addresses(self) -> list[Address]:
        return list(self._receiver.addresses)

    @property
    def url(self) -> str:
        """The first listening address as a URL, with the real port."""
        return str(self._receiver.addresses[0])

    @property
    def port(self) -> int:
        return self._receiver.addresses[0].port

    @property
    def events(self) -> list[Event]:
        with self.sink.cond:
            return list(self.sink.events)

    @property
    def records(self) -> list[dict[Any, Any]]:
        return [event.record for event in self.events]

    @property
    def acks_sent(self) -> int:
        return self._receiver.stats.acks

    @property
    def stats(self) -> ReceiverStats:
        """What the receiver counted (its metrics): connections, events, acks, bad-input closes."""
        return self._receiver.stats

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Event]:
        """Block until at least ``count`` events arrived; fail the test with what did if not."""
        with self.sink.cond:
            if not self.sink.cond.wait_for(lambda: len(self.sink.events) >= count, timeout):
                raise AssertionError(
                    f"expected {count} events within {timeout}s, got {len(self.sink.events)}; "
                    f"receiver log: {self.log}"
                )
            return list(self.sink.events)

    def wait_for_log(self, fragment: str, timeout: float = 10.0) -> str:
        """Block until the receiver logs a line containing ``fragment``."""
        with self.sink.cond:
            if self.sink.cond.wait_for(lambda: any(fragment in line for line in self.log), timeout):
                return next(line for line in self.log if fragment in line)
        raise AssertionError(f"the receiver never logged {fragment!r}; it logged {self.log}")

    def wait_until(self, predicate: Callable[[Event], bool], timeout: float = 10.0) -> Event:
        """Block until an event matching ``predicate`` arrives, and return it."""
        def match() -> Event | None:
            return next((event for event in self.sink.events if predicate(event)), None)

        with self.sink.cond:
            if not self.sink.cond.wait_for(lambda: match() is not None, timeout):
                raise AssertionError(f"no matching event within {timeout}s; got {len(self.sink.events)}: "
                                     f"{[e.record for e in self.sink.events[-5:]]}")
            return match()  # type: ignore[return-value]

    def wait_for_acks(self, count: int, timeout: float = 10.0) -> None:
        """Block until the receiver has sent at least ``count`` acks."""
        with self.sink.cond:
            if not self.sink.cond.wait_for(lambda: self.acks_sent >= count, timeout):
                raise AssertionError(f"expected {count} acks within {timeout}s, sent {self.acks_sent}")

    def clear(self) -> None:
        with self.sink.cond:
            self.sink.events.clear()

    @property
    def refuse_connections(self) -> bool:
        return self._refusing

    @refuse_connections.setter
    def refuse_connections(self, refuse: bool) -> None:
        """True closes the listening sockets (connects get ECONNREFUSED); False reopens them."""
        if refuse != self._refusing:
            self._call(self._receiver.stop_listening() if refuse else self._receiver.start())
            self._refusing = refuse

    def cut_mid_frame(self) -> None:
        """Drop the next connection that sends data, halfway through what it sent.

        When it does, the receiver logs a line with "mid-frame" (``wait_for_log`` sees it)."""
        self.faults.cut_mid_frame = True
