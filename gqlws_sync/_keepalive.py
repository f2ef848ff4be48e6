"""The timer thread: client pings, pong deadlines and the keep-alive deadline.

One thread per connection sleeps on an Event until the nearest deadline, so an idle connection
costs one wake-up per interval and ``stop()`` wakes it at once. Other threads report activity by
plain attribute writes (``touch``, ``pong_received``); the timer reads them when it wakes, so the
hot reader path never takes a lock or wakes this thread.

Threads: ``start``/``stop`` from the connection's owner, ``touch``/``*_received`` from the
reader, everything else on the timer thread itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from .exceptions import KeepAliveTimeout, TransportError

logger = logging.getLogger("gqlws_sync.keepalive")

_FOREVER = float("inf")


class KeepAlive:
    """Deadlines of one connection, enforced by the ``gqlws_sync-timer-<n>`` thread.

    Args:
        send_ping: sends a protocol ping (graphql-transport-ws), or None when there is none.
        send_ws_ping: sends a WebSocket ping frame.
        on_timeout: called on the timer thread with the exception that kills the connection.
    """

    def __init__(
        self,
        *,
        number: int,
        send_ping: Callable[[], None] | None,
        ping_interval: float | None,
        pong_timeout: float | None,
        send_ws_ping: Callable[[], None],
        ws_ping_interval: float | None,
        ws_pong_timeout: float | None,
        keep_alive_timeout: float | None,
        on_timeout: Callable[[TransportError], None],
    ) -> None:
        self._send_ping = send_ping if ping_interval is not None else None
        self._ping_interval = ping_interval or _FOREVER
        self._pong_timeout = pong_timeout
        self._send_ws_ping = send_ws_ping
        self._ws_ping_interval = ws_ping_interval
        self._ws_pong_timeout = ws_pong_timeout
        self._keep_alive_timeout = keep_alive_timeout
        self._on_timeout = on_timeout
        # Set to wake the timer early: by stop(), and by arm() which adds deadlines.
        self._wake = threading.Event()
        self._stopping = False
        now = time.monotonic()
        # Written by the reader thread, read here: single float/None stores are atomic.
        self.last_seen = now
        self._pong_deadline: float | None = None
        self._ws_pong_deadline: float | None = None
        self._armed = False
        self._next_ping = now + self._ping_interval
        self._next_ws_ping = now + (ws_ping_interval or _FOREVER)
        # Daemon: a safety net for a program that exits without close(); close() joins it.
        self._thread = threading.Thread(
            target=self._run, name=f"gqlws_sync-timer-{number}", daemon=True
        )

    @property
    def needed(self) -> bool:
        """False when every deadline is off: then no thread is started at all."""
        return (
            self._send_ping is not None
            or self._ws_ping_interval is not None
            or self._keep_alive_timeout is not None
        )

    def start(self) -> None:
        if self.needed:
            self._thread.start()

    def arm(self) -> None:
        """Start enforcing ``keep_alive_timeout`` and protocol pings: called at the ack."""
        now = time.monotonic()
        self.last_seen = now
        self._next_ping = now + self._ping_interval
        self._armed = True
        self._wake.set()

    def touch(self) -> None:
        self.last_seen = time.monotonic()

    def pong_received(self) -> None:
        self._pong_deadline = None

    def ws_pong_received(self) -> None:
        self._ws_pong_deadline = None

    def stop(self) -> None:
        """Ask the thread to end; it wakes at once. Safe from any thread."""
        self._stopping = True
        self._wake.set()

    def join(self, timeout: float | None) -> None:
        self.stop()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            # Who wakes it: stop() above; a send in progress is bounded by the socket timeout.
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning("%s did not stop within %s s", self._thread.name, timeout)

    def _run(self) -> None:
        try:
            while not self._stopping:
                wait = self._tick(time.monotonic())
                if self._stopping:
                    return
                # Who wakes it: the nearest deadline, or stop()/arm() setting _wake.
                self._wake.wait(wait)
                self._wake.clear()
        except Exception:  # a bug must not die silently: it becomes the close cause
            logger.exception("timer thread failed")
            self._on_timeout(KeepAliveTimeout("internal error in the timer thread", 1011))

    def _tick(self, now: float) -> float | None:
        """Do what is due at ``now``; return seconds until the next deadline (None: none)."""
        nearest = _FOREVER
        if self._ws_ping_interval is not None:
            if self._ws_pong_deadline is not None and now >= self._ws_pong_deadline:
                self._fail(f"no pong to a WebSocket ping within {self._ws_pong_timeout} s")
                self._stopping = True
                return None
            if now >= self._next_ws_ping:
                if self._ws_pong_timeout is not None and self._ws_pong_deadline is None:
                    # Armed before sending: the pong may come back before send returns.
                    self._ws_pong_deadline = now + self._ws_pong_timeout
                self._next_ws_ping = now + self._ws_ping_interval
                if not self._call(self._send_ws_ping):
                    self._stopping = True
                    return None
            nearest = min(nearest, self._next_ws_ping, self._ws_pong_deadline or _FOREVER)
        if self._armed and self._send_ping is not None:
            if self._pong_deadline is not None and now >= self._pong_deadline:
                self._fail(f"no pong within {self._pong_timeout} s of a ping")
                self._stopping = True
                return None
            if now >= self._next_ping:
                if self._pong_timeout is not None and self._pong_deadline is None:
                    self._pong_deadline = now + self._pong_timeout
                self._next_ping = now + self._ping_interval
                if not self._call(self._send_ping):
                    self._stopping = True
                    return None
            nearest = min(nearest, self._next_ping, self._pong_deadline or _FOREVER)
        if self._armed and self._keep_alive_timeout is not None:
            deadline = self.last_seen + self._keep_alive_timeout
            if now >= deadline:
                self._fail(f"no keep-alive from the server within {self._keep_alive_timeout} s")
                self._stopping = True
                return None
            nearest = min(nearest, deadline)
        if nearest == _FOREVER:
            return None  # nothing due until arm() or stop() wakes the thread
        return max(0.0, nearest - now)

    def _call(self, send: Callable[[], None]) -> bool:
        try:
            send()
        except TransportError:
            return False  # the connection is dying; the reader reports why
        return True

    def _fail(self, message: str) -> None:
        logger.warning("closing the connection: %s", message)
        self._on_timeout(KeepAliveTimeout(message, 1006))
