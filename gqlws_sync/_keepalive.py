"""Keep-alive: client pings, pong deadlines and the server's keep-alive deadline.

The timer thread (one per connection, started when its first deadline comes, not at connect)
sleeps on a lock until the next ping is due or the keep-alive deadline passes; ``stop()``
wakes it at once. Pong deadlines are enforced by the reader instead (``pong_check_at`` and
``check_pongs``): the reader wakes for the pong anyway, and it knows in advance the deadline
of the next ping, so an idle connection costs two wake-ups per interval (the ping, the pong),
as a bare loop that pings does, and not a third to find that the pong came. Other threads
report activity by plain attribute writes (``touch``, ``pong_received``); nothing on the hot
reader path takes a lock or wakes the timer.

Threads: ``start`` and ``check_pongs`` from the reader, ``stop`` from whoever ends the
connection, ``touch``/``*_received`` from whoever reads, the rest on the timer thread itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ._deadline import MAX_WAIT
from .exceptions import KeepAliveTimeout, TransportError

logger = logging.getLogger("gqlws_sync.keepalive")

_FOREVER = float("inf")


class _Pinger:
    """One kind of ping (protocol or WebSocket): when to send the next, when its pong is due.

    ``pong_deadline`` is set by the timer when it pings, cleared by whoever reads the pong,
    and checked by the reader thread; single attribute stores are atomic.
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
        """Send the ping if it is time; return when the next one is due.

        Raises:
            _Dead: the send failed.
        """
        if now >= self.next_at:
            if self.pong_timeout is not None and self.pong_deadline is None:
                # Armed before sending: the pong may come back before send returns.
                self.pong_deadline = now + self.pong_timeout
            self.next_at = now + self.interval
            try:
                self.send()
            except TransportError:
                raise _Dead(None) from None  # the connection is dying; the reader says why
        return self.next_at

    def pong_check_at(self, now: float) -> float:
        """When to look for a late pong: the deadline of the ping out, or, while none is
        out, the earliest the next ping can have (so no wake-up is needed to learn it; a
        ping sent late only moves its deadline later)."""
        if self.pong_timeout is None:
            return _FOREVER
        deadline = self.pong_deadline
        if deadline is not None:
            return deadline
        return max(self.next_at, now) + self.pong_timeout


class _Dead(Exception):
    """Ends the timer thread; ``args[0]`` is why (None: the reader reports it)."""


class KeepAlive:
    """Deadlines of one connection, enforced by the ``gqlws_sync-timer-<n>`` thread.

    Args:
        send_ping: sends a protocol ping (graphql-transport-ws), or None when there is none.
        send_ws_ping: sends a WebSocket ping frame.
        on_timeout: called (on the timer thread, or on the reader for a late pong) with the
            exception that kills the connection.
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
        # Released to wake the timer early: by stop(), and by arm() which adds deadlines.
        # A bare lock, not an Event: the timer's every wait is then one C call, which keeps
        # an idle connection's CPU down (an Event wait builds a Condition each time).
        self._wake = threading.Lock()
        self._wake.acquire()
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
        self._number = number
        self._thread: threading.Thread | None = None

    @property
    def needed(self) -> bool:
        """False when every deadline is off: then no thread is started at all."""
        return (
            self._pinger is not None
            or self._ws_pinger is not None
            or self._keep_alive_timeout is not None
        )

    def _first_due(self) -> float | None:
        """When the first deadline falls (monotonic), None when there is none.

        The thread need not exist before then: a connection that lives less long than its
        first ping interval (a script, a benchmark, a request) never starts it, and
        connecting does not pay for it. Activity only moves deadlines later, so starting
        the thread at this time is never late.
        """
        due = _FOREVER
        if self._ws_pinger is not None:
            due = self._ws_pinger.next_at
        if self._armed and self._pinger is not None:
            due = min(due, self._pinger.next_at)
        if self._armed and self._keep_alive_timeout is not None:
            due = min(due, self.last_seen + self._keep_alive_timeout)
        return None if due == _FOREVER else due

    def start(self) -> None:
        """Start the thread (once); the reader does, when ``_first_due()`` comes."""
        if self.needed and self._thread is None and not self._stopping:
            # Daemon: a safety net for a program that exits without close(); close() joins it.
            self._thread = threading.Thread(
                target=self._run, name=f"gqlws_sync-timer-{self._number}", daemon=True
            )
            self._thread.start()

    def arm(self) -> None:
        """Start enforcing ``keep_alive_timeout`` and protocol pings: called at the ack."""
        now = time.monotonic()
        self.last_seen = now
        if self._pinger is not None:
            self._pinger.next_at = now + self._pinger.interval
        self._armed = True
        self._signal()

    def _pingers(self) -> tuple[_Pinger, ...]:
        pingers: tuple[_Pinger, ...] = () if self._ws_pinger is None else (self._ws_pinger,)
        if self._armed and self._pinger is not None:
            pingers += (self._pinger,)
        return pingers

    def pong_check_at(self, now: float) -> float | None:
        """When the reader must next look for a late pong (monotonic), None: never.

        Pong deadlines are the reader's to enforce: it is awake when a pong arrives anyway,
        and it can sleep until the deadline that the next ping will have without being told.
        The timer thread would have to wake at each deadline only to find the pong came.
        """
        if self._stopping:
            return None  # the connection is ending: nothing more to check
        at = min((pinger.pong_check_at(now) for pinger in self._pingers()), default=_FOREVER)
        return None if at == _FOREVER else at

    def reader_wake_at(self, now: float) -> float | None:
        """When the reader must wake for the keep-alive (monotonic), None: it need not. It
        starts the timer thread at its first deadline, and looks for late pongs."""
        at = self.pong_check_at(now)
        if self._thread is None and self.needed and not self._stopping:
            first = self._first_due()
            if first is not None and (at is None or first < at):
                at = first
        return at

    def reader_woke(self, now: float) -> None:
        """The reader's part once ``reader_wake_at()`` came (after it read what woke it: a
        pong may have been in it)."""
        if self._thread is None:
            first = self._first_due()
            if first is not None and now >= first:
                self.start()
        self.check_pongs(now)

    def check_pongs(self, now: float) -> None:
        """End the connection if a pong is late (the reader's job, see pong_check_at)."""
        for pinger in self._pingers():
            deadline = pinger.pong_deadline
            if deadline is not None and now >= deadline and not self._stopping:
                self._stopping = True
                self._signal()
                logger.warning("closing the connection: %s", pinger.silence)
                self._on_timeout(KeepAliveTimeout(pinger.silence, 1006))
                return

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
        self._signal()

    def _signal(self) -> None:
        try:
            self._wake.release()
        except RuntimeError:
            pass  # released already: the wake-up is pending

    def join(self, timeout: float | None) -> None:
        self.stop()
        thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            # Who wakes it: stop() above; a send in progress is bounded by the socket timeout.
            thread.join(timeout)
            if thread.is_alive():
                logger.warning("%s did not stop within %s s", thread.name, timeout)

    def _run(self) -> None:
        try:
            while not self._stopping:
                wait = self._tick(time.monotonic())
                if self._stopping:
                    return
                # Who wakes it: the nearest deadline, or stop()/arm() releasing _wake.
                self._wake.acquire(timeout=-1 if wait is None else min(wait, MAX_WAIT))
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
