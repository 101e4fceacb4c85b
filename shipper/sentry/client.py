"""sentry-sdk's client for logwrap, made at the first event, and closed within the drain deadline.

A run with no error never imports sentry-sdk. The first event starts a thread that imports it
and makes the client (0.06 s of CPU), so the child's pipes never wait for it; events wait in
``_pending`` until then. If the client cannot be made, every event counts as failed and one
warning says why. ``close`` gives sentry-sdk what is left of the deadline to send what it
holds, and stops at once when the drain is cut short (a second signal).

The client is told what logwrap knows: ``release`` is ``--sentry-release``, else
SERVICE_VERSION, else SENTRY_RELEASE (never a ``git`` run in logwrap's directory, which
sentry-sdk would try); ``environment`` is SERVICE_ENVIRONMENT, else SENTRY_ENVIRONMENT, else
"production", sentry-sdk's default.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from .options import SentryOptions
from .outcomes import Outcomes


class LazyClient:
    def __init__(self, options: SentryOptions, warn: Callable[[str], None], where: str) -> None:
        self.outcomes = Outcomes(warn, where)
        self._options = options
        self._warn = warn
        self._client: Any = None
        self._failed = False
        self._pending: list[dict[str, Any]] = []
        self._maker: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def capture(self, event: dict[str, Any]) -> None:
        with self._lock:
            client = self._client
            if client is None and not self._failed:
                self._pending.append(event)
                if self._maker is None:
                    self._start_maker()
                return
        if client is None:
            self.outcomes.failure("setup")
        else:
            self._send(client, event)

    async def close(self, deadline: float, stop: asyncio.Event) -> None:
        """Until the loop time ``deadline``, or until ``stop`` is set: let sentry-sdk send."""
        if self._maker is None or self._maker.ident is None:
            return
        loop = asyncio.get_running_loop()
        finished = _in_daemon_thread(loop, self._finish, deadline - loop.time())
        stopped: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
        waits: list[asyncio.Future[Any]] = [finished, stopped]
        await asyncio.wait(waits, timeout=max(deadline - loop.time(), 0), return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()

    def _start_maker(self) -> None:
        """Under the lock. A thread that cannot start (a pids limit) fails the client, not logwrap."""
        self._maker = threading.Thread(target=self._make, daemon=True)
        try:
            self._maker.start()
        except RuntimeError as exc:
            self._give_up(exc)

    def _make(self) -> None:
        try:
            client = make_client(self._options, self.outcomes)
        except Exception as exc:
            with self._lock:
                self._give_up(exc)
            return
        with self._lock:
            self._client = client
            pending, self._pending = self._pending, []
        for event in pending:
            self._send(client, event)

    def _give_up(self, exc: BaseException) -> None:
        """Under the lock: no client will be made; what waits for one has failed."""
        self._failed = True
        self._warn(f"cannot set up sentry-sdk ({exc!r}); no event will be sent, the logs are not affected")
        for _ in self._pending:
            self.outcomes.failure("setup", warn=False)
        self._pending.clear()

    def _send(self, client: Any, event: dict[str, Any]) -> None:
        try:
            if client.capture_event(event) is None:  # the client dropped it itself
                self.outcomes.failure("client")
        except Exception as exc:
            self.outcomes.failure(f"error: {exc!r}")

    def _finish(self, timeout: float) -> None:
        """In a thread of its own: wait for the client, then for sentry-sdk's queue."""
        assert self._maker is not None
        self._maker.join(timeout)
        if self._client is not None:
            self._client.flush(max(timeout, 0))


def make_client(options: SentryOptions, outcomes: Outcomes) -> Any:
    """sentry-sdk's client with a transport that counts into ``outcomes``.

    sentry-sdk's client imports its spotlight module, which imports Django when it is installed
    (as in a Django app's virtualenv) to offer a middleware: 200 modules, 0.17 s of CPU. logwrap
    is no Django app, so a None in sys.modules makes that import fail as if Django were absent,
    which sentry-sdk expects.
    """
    sys.modules.setdefault("django", None)  # type: ignore[arg-type]
    import sentry_sdk

    from .transport import counting_transport

    return sentry_sdk.Client(
        dsn=options.dsn, transport=counting_transport(outcomes),
        release=options.release or os.environ.get("SENTRY_RELEASE") or "", before_send=_no_empty_release,
        environment=options.environment or os.environ.get("SENTRY_ENVIRONMENT") or "production",
        default_integrations=False, auto_enabling_integrations=False, send_client_reports=False,
        sample_rate=1.0, server_name=os.uname().nodename)


def _no_empty_release(event: Any, hint: Any) -> Any:
    """An empty release is how ``make_client`` keeps sentry-sdk from guessing one: not sent."""
    if not event.get("release"):
        event.pop("release", None)
    return event


def _in_daemon_thread(loop: asyncio.AbstractEventLoop, function: Callable[[float], None],
                      timeout: float) -> asyncio.Future[None]:
    """``function(timeout)`` in a daemon thread: unlike the loop's executor, nothing waits for it
    at exit when the drain is cut short."""
    done: asyncio.Future[None] = loop.create_future()

    def settle() -> None:
        if not done.done():
            done.set_result(None)

    def run() -> None:
        try:
            function(timeout)
        finally:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                loop.call_soon_threadsafe(settle)

    threading.Thread(target=run, daemon=True).start()
    return done
