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


class _Pinger:
    """One kind of ping (protocol or WebSocket): when to send the next, when its pong is due.

    ``pong_deadline`` is written by the reader (``None`` when the pong came) and read by the
    timer; single attribute stores are atomic.
    """

    __slots__ = ("interval", "next_at", "pong_deadline", "pong_timeout", "send", "silence")

    def __init__(
        self,
        send: Callable[[], None],
        interval: float,
        pong_timeout: float | None,
        silence: str,
        now: float,
    ) -> None:
        self.send = send
        self.interval = interval
        self.pong_timeout = pong_timeout
        self.silence = silence  # what a missed pong means, for the error message
        self.next_at = now + interval
        self.pong_deadline: float | None = None

    def due(self, now: float) -> float:
        """Send the ping if it is time; return the pinger's next deadline.

        Raises:
            _Dead: the pong is late (the message says which), or the send failed.
        """
        if self.pong_deadline is not None and now >= self.pong_deadline:
            raise _Dead(self.silence)
        if now >= self.next_at:
            if self.pong_timeout is not None and self.pong_deadline is None:
                # Armed before sending: the pong may come back before send returns.
                self.pong_deadline = now + self.pong_timeout
            self.next_at = now + self.interval
            try:
                self.send()
            except TransportError:
                raise _Dead(None) from None  # the connection is dying; the reader says why
        return min(self.next_at, self.pong_deadline or _FOREVER)


class _Dead(Exception):
    """Ends the timer thread; ``args[0]`` is why (None: the reader reports it)."""


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
        self._keep_alive_timeout = keep_alive_timeout
        self._on_timeout = on_timeout
        # Set to wake the timer early: by stop(), and by arm() which adds deadlines.
        self._wake = threading.Event()
        self._stopping = False
        now = time.monotonic()
        # Written by the reader thread, read here: single float stores are atomic.
        self.last_seen = now
        self._armed = False
        self._ws_pinger = (
            None
            if ws_ping_interval is None
            else _Pinger(
                send_ws_ping,
                ws_ping_interval,
                ws_pong_timeout,
                f"no pong to a WebSocket ping within {ws_pong_timeout} s",
                now,
            )
        )
        # Protocol pings start at the ack (arm()): before it, only ping/pong may be sent
        # anyway, and connect() bounds that phase with ack_timeout.
        self._pinger = (
            None
            if send_ping is None or ping_interval is None
            else _Pinger(
                send_ping,
                ping_interval,
                pong_timeout,
                f"no pong within {pong_timeout} s of a ping",
                now,
            )
        )
        # Daemon: a safety net for a program that exits without close(); close() joins it.
        self._thread = threading.Thread(
            target=self._run, name=f"gqlws_sync-timer-{number}", daemon=True
        )

    @property
    def needed(self) -> bool:
        """False when every deadline is off: then no thread is started at all."""
        return (
            self._pinger is not None
            or self._ws_pinger is not None
            or self._keep_alive_timeout is not None
        )

    def start(self) -> None:
        if self.needed:
            self._thread.start()

    def arm(self) -> None:
        """Start enforcing ``keep_alive_timeout`` and protocol pings: called at the ack."""
        now = time.monotonic()
        self.last_seen = now
        if self._pinger is not None:
            self._pinger.next_at = now + self._pinger.interval
        self._armed = True
        self._wake.set()

    def touch(self) -> None:
        self.last_seen = time.monotonic()

    def pong_received(self) -> None:
        if self._pinger is not None:
            self._pinger.pong_deadline = None

    def ws_pong_received(self) -> None:
        if self._ws_pinger is not None:
            self._ws_pinger.pong_deadline = None

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
        """Do what is due at ``now``; return seconds until the next deadline (None: none).

        Ends the thread (``_stopping``) when a deadline is missed or a ping cannot be sent.
        """
        nearest = _FOREVER
        try:
            if self._ws_pinger is not None:
                nearest = min(nearest, self._ws_pinger.due(now))
            if self._armed and self._pinger is not None:
                nearest = min(nearest, self._pinger.due(now))
            if self._armed and self._keep_alive_timeout is not None:
                deadline = self.last_seen + self._keep_alive_timeout
                if now >= deadline:
                    raise _Dead(
                        f"no keep-alive from the server within {self._keep_alive_timeout} s"
                    )
                nearest = min(nearest, deadline)
        except _Dead as dead:
            self._stopping = True
            message = dead.args[0]
            if message is not None:
                logger.warning("closing the connection: %s", message)
                self._on_timeout(KeepAliveTimeout(message, 1006))
            return None
        if nearest == _FOREVER:
            return None  # nothing due until arm() or stop() wakes the thread
        return max(0.0, nearest - now)
