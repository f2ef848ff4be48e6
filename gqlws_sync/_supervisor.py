"""A client's connection over time: connect on demand, reconnect, resubscribe, survive fork.

Operations outlive connections. A connection carries operations while it lives; when an
established one is lost for a retryable reason it hands them back, and the supervisor
starts a reconnection on the thread ``gqlws_sync-reconnect-<n>``, then starts the
operations again on the new connection: subscriptions (``resubscribed`` counts it), and
queries in flight, once. A mutation in flight is never sent again: its caller learns that
it may or may not have been applied.

An ``_Episode`` is one effort to get a connection: an on-demand connect on a caller's
thread, or a reconnection in the background. Callers that need a connection while one runs
wait for its outcome (up to their own deadline), so many threads asking at once cause one
connect.

Threads: callers (``connection_for``, ``start``, ``cancel``, ``connect``, ``close``), each
connection's reader (``_lost``), the reconnect thread, and the fork hook in a child. ``_cond``
(over ``_lock``) guards ``_connection``, ``_episode``, ``_closed`` and ``_pending``; it is
never held while connecting, sending, joining or calling user code.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import weakref
from collections.abc import Callable
from typing import Any

from ._connection import Connection, inherited_error
from ._deadline import Deadline
from ._protocol import is_retryable
from ._registry import Item, Operation, copy_exception, new_queue_lock
from .exceptions import (
    OperationTimeout,
    TransportAlreadyConnected,
    TransportClosed,
    TransportError,
    TransportProtocolError,
)
from .options import DEFAULT_SUBPROTOCOLS, ClientOptions, redact_url

logger = logging.getLogger("gqlws_sync.supervisor")

_numbers = itertools.count(1)

#: How many times this process has been forked into (it counts in the child). An operation
#: made under an older count belongs to the parent process.
_generation = 0
_pid = os.getpid()

_supervisors: weakref.WeakSet[Supervisor] = weakref.WeakSet()


def generation() -> int:
    """The fork count, checked against the process id: uWSGI forks its workers from C
    without running Python's at-fork hooks, and that fork must be seen too."""
    if os.getpid() != _pid:
        _after_fork_in_child()
    return _generation


def _after_fork_in_child() -> None:
    global _generation, _pid
    if os.getpid() == _pid:
        return  # the hook ran, and generation() noticed too: count one fork once
    _pid = os.getpid()
    _generation += 1
    new_queue_lock()  # a fork from C ran no at-fork hook: the registry's lock too
    for supervisor in list(_supervisors):
        supervisor._forget_parent()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class _Episode:
    """One effort to get a connection; ``error`` says how it failed, once ``done``."""

    __slots__ = ("connection", "done", "error", "last_error")

    def __init__(self, last_error: BaseException | None = None) -> None:
        self.done = False
        self.error: TransportError | None = None
        #: The latest failure seen while it runs: named when a caller gives up waiting.
        self.last_error = last_error
        #: The connection being opened now, for close() to abort.
        self.connection: Connection | None = None


class Supervisor:
    """The connection of one client, and the operations waiting for the next one."""

    def __init__(self, options: ClientOptions, client: Callable[[], Any]) -> None:
        """
        Args:
            client: returns the Client (a weak reference), for the callbacks; the
                supervisor must not keep its client alive.
        """
        self.options = options
        self.number = next(_numbers)
        self._client = client
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._connection: Connection | None = None
        self._last_connection: Connection | None = None
        self._episode: _Episode | None = None
        self._closed = False
        self._pending: list[Operation] = []
        self._reconnector: threading.Thread | None = None
        # Set by close() to cut the reconnect thread's back-off short.
        self._stop = threading.Event()
        _supervisors.add(self)

    # -- state ------------------------------------------------------------------------------

    @property
    def connection(self) -> Connection | None:
        """The current connection, or the last one (for its subprotocol)."""
        return self._connection or self._last_connection

    @property
    def is_connected(self) -> bool:
        connection = self._connection
        return connection is not None and connection.is_open

    # -- getting a connection ---------------------------------------------------------------

    def connect(self) -> None:
        """Connect now, on this thread.

        Raises:
            TransportAlreadyConnected: connected, or a connect or reconnection is under way.
            TransportError: the connect failed (see Connection.open).
        """
        with self._cond:
            connection = self._connection
            if self._episode is not None or (connection is not None and connection.is_open):
                raise TransportAlreadyConnected(
                    f"already connected to {redact_url(self.options.url)}"
                )
            self._closed = False
            self._stop = threading.Event()
            episode = self._episode = _Episode()
        self._connect(episode, Deadline(None))

    def connection_for(self, deadline: Deadline) -> Connection:
        """An open connection: the current one, or the outcome of the connect or
        reconnection under way, or a new one connected on this thread.

        Raises:
            TransportClosed: the client was closed.
            OperationTimeout: ``deadline`` passed while another thread was connecting.
            TransportError: the connect failed (its own error), or the reconnection this
                call waited for gave up (the last connection error).
        """
        while True:
            with self._cond:
                if self._closed:
                    raise TransportClosed(
                        "the client is closed: call connect() (or enter 'with') to use it again",
                        1000,
                    )
                connection = self._connection
                if connection is not None:
                    if connection.is_open:
                        return connection
                    # Ending: its reader hands it back in a moment (_lost), and whether a
                    # reconnection follows is decided there. Who wakes it: _lost, close().
                    remaining = deadline.remaining()
                    if remaining == 0:
                        raise self._wait_timeout(deadline, connection.cause)
                    self._cond.wait(remaining)
                    continue
                episode = self._episode
                if episode is None:
                    episode = self._episode = _Episode()
                else:
                    # Who wakes it: the episode's end (_finish_episode), or close().
                    while not episode.done and not self._closed:
                        remaining = deadline.remaining()
                        if remaining == 0:
                            raise self._wait_timeout(deadline, episode.last_error)
                        self._cond.wait(remaining)
                    if episode.error is not None:
                        raise copy_exception(episode.error)
                    continue
            return self._connect(episode, deadline)

    def _wait_timeout(self, deadline: Deadline, last: BaseException | None) -> OperationTimeout:
        because = f"; last connection error: {last}" if last is not None else ""
        timeout = OperationTimeout(
            f"no connection within {deadline.timeout} s (connecting to "
            f"{redact_url(self.options.url)}){because}"
        )
        timeout.__cause__ = last
        return timeout

    def _connect(self, episode: _Episode, deadline: Deadline) -> Connection:
        """Run an on-demand (or explicit) connect on this thread."""
        try:
            connection = self._open(episode, deadline)
        except BaseException as exc:
            failure = (
                exc
                if isinstance(exc, TransportError)
                else TransportClosed(f"connecting was interrupted ({type(exc).__name__})")
            )
            self._finish_episode(episode, failure)
            raise
        if not self._install(episode, connection):
            connection.close()
            raise TransportClosed("the client was closed while connecting", 1000)
        return connection

    def _open(self, episode: _Episode, deadline: Deadline) -> Connection:
        """Open a connection (headers and init payload fetched afresh), retrying once with
        the other subprotocol when a legacy server refuses the default offer's first."""
        options = self.options
        headers = options.connect_headers()
        init_payload = options.connect_init_payload()
        offer = options.subprotocols
        while True:
            connection = Connection(options, offer, self._lost)
            episode.connection = connection
            if self._closed:
                raise TransportClosed("the client was closed while connecting", 1000)
            try:
                connection.open(deadline, headers, init_payload)
            except TransportProtocolError as exc:
                picked = connection.subprotocol
                if not (
                    options.default_subprotocols
                    and len(offer) > 1
                    and exc.code in (1002, 4406)
                    and picked is not None
                ):
                    raise
                offer = tuple(token for token in DEFAULT_SUBPROTOCOLS if token != picked)
                logger.info(
                    "server accepted %s, then closed with %s; retrying with %s only",
                    picked,
                    exc.code,
                    offer[0],
                )
                continue
            return connection

    def _install(self, episode: _Episode, connection: Connection) -> bool:
        """Make ``connection`` current and start the waiting operations on it; False when
        the client was closed meanwhile (the caller closes the connection)."""
        with self._cond:
            if self._episode is episode:
                self._episode = None
            episode.done = True
            episode.connection = None
            if self._closed:
                episode.error = TransportClosed("the client was closed while connecting", 1000)
                self._cond.notify_all()
                return False
            self._connection = self._last_connection = connection
            pending, self._pending = self._pending, []
            self._cond.notify_all()
        self._call("on_connect")
        for op in pending:
            self._restart(op, connection)
        return True

    def _finish_episode(self, episode: _Episode, error: TransportError) -> list[Operation]:
        """End an episode that got no connection; return the operations that waited for it."""
        with self._cond:
            if self._episode is episode:
                self._episode = None
            episode.done = True
            episode.error = error
            episode.connection = None
            pending: list[Operation] = []
            if self._reconnector is None or self._reconnector is threading.current_thread():
                pending, self._pending = self._pending, []
            self._cond.notify_all()
        return pending

    # -- operations -------------------------------------------------------------------------

    def start(self, op: Operation, deadline: Deadline) -> None:
        """Start ``op`` on an open connection, connecting or waiting for one first.

        Raises:
            TransportError: see ``connection_for``; or the connection died while the start
                message was being sent and the operation cannot be sent again (a mutation,
                reconnect off, or a second failure).
            ValueError: the message cannot be sent (NaN, too large); nothing was sent.
        """
        while True:
            connection = self._connection
            if connection is None or not connection.is_open:
                connection = self.connection_for(deadline)
            try:
                if connection.start(op):
                    return
            except TransportError as exc:
                if op.is_mutation:
                    raise _loss_error(op, exc) from exc
                if self.options.reconnect is None or op.retried or not is_retryable(exc):
                    raise
                op.retried = True
            # The connection ended under us: wait for (or make) the next one.

    def wait(self, op: Operation, deadline: Deadline) -> Item:
        """``op``'s next item. The caller reads the socket itself while nobody else does
        (no hand-off from the reader thread), else waits on its queue.

        Raises:
            queue.Empty: ``deadline`` passed first.
        """
        connection = op.connection
        if connection is not None:
            item = connection.lead(op, deadline)
            if item is not None:
                return item
        # Who wakes it: the reader thread (or a reading caller) dispatching to this queue;
        # a lost connection puts its exception here; bounded by the deadline anyway.
        return op.queue.get(timeout=deadline.remaining())

    def cancel(self, op: Operation) -> None:
        """The caller has gone: stop ``op`` wherever it runs, or wherever it would."""
        op.cancelled = True
        connection = op.connection
        if connection is not None:
            connection.cancel(op)
        if self._pending:
            with self._cond:
                if op in self._pending:
                    self._pending.remove(op)

    def _restart(self, op: Operation, connection: Connection) -> None:
        """Start an operation handed back by a lost connection on ``connection``."""
        if op.cancelled:
            return
        resubscription = op.streams
        retried = op.retried
        # Counted before the start: its first event may reach the reader of the iterator
        # before start() returns here.
        if resubscription:
            op.resubscribed += 1
        else:
            op.retried = True
        try:
            started = connection.start(op)
        except (TransportError, ValueError) as exc:
            started = False
            cause: TransportError = (
                exc if isinstance(exc, TransportError) else TransportClosed(str(exc))
            )
        else:
            cause = connection.cause or TransportClosed("connection lost", 1006)
        if not started:  # this attempt does not count
            if resubscription:
                op.resubscribed -= 1
            else:
                op.retried = retried
            self._hand_back(connection, cause, [op])
            return
        if op.cancelled:
            # The caller gave up while it was being started: it must not run for nobody.
            connection.cancel(op)

    # -- losing a connection ----------------------------------------------------------------

    def _lost(self, connection: Connection, cause: TransportError, ops: list[Operation]) -> None:
        """From a reader thread: an established connection ended; ``ops`` were live on it."""
        if not self._hand_back(connection, cause, ops, lost=True):
            self._call("on_disconnect", cause)

    def _hand_back(
        self,
        connection: Connection,
        cause: TransportError,
        ops: list[Operation],
        *,
        lost: bool = False,
    ) -> bool:
        """Decide, for each operation of a lost connection, whether it starts again, and
        whether to reconnect. ``lost``: ``connection`` itself ended and stops being current
        (in the same step as the decision, so no caller sees neither). Returns whether the
        client was closed (by its user)."""
        policy = self.options.reconnect
        nothing_live = not ops and cause.code == 1000  # a server's goodbye is no failure
        retry = policy is not None and not nothing_live and is_retryable(cause)
        again: list[Operation] = []
        failed: list[tuple[Operation, TransportError]] = []
        for op in ops:
            if op.cancelled or op.generation != _generation:
                continue
            if retry and _may_restart(op):
                again.append(op)
            else:
                failed.append((op, _loss_error(op, cause)))
        start_now: Connection | None = None
        reconnector: threading.Thread | None = None
        with self._cond:
            if lost and self._connection is connection:
                self._connection = None
                self._cond.notify_all()
            closed = self._closed
            if closed:
                failed += [(op, cause) for op in again]
                again = []
            elif retry:
                # Reconnected even with nothing live: the next call then finds it open.
                current = self._connection
                if current is not None and current.is_open and current is not connection:
                    start_now = current
                else:
                    self._pending.extend(again)
                    if self._episode is None:
                        reconnector = self._reconnecting(cause)
                    else:
                        self._episode.last_error = cause
        if reconnector is not None:
            logger.info(
                "connection to %s lost (%s); reconnecting", redact_url(self.options.url), cause
            )
            reconnector.start()
        for op, error in failed:
            op.fail(error)
        if start_now is not None:
            for op in again:
                self._restart(op, start_now)
        return closed

    def _reconnecting(self, cause: TransportError) -> threading.Thread:
        """Begin a reconnection episode; the caller starts the thread once unlocked."""
        assert self._lock.locked()
        episode = self._episode = _Episode(cause)
        thread = threading.Thread(
            target=self._reconnect,
            args=(episode, cause),
            name=f"gqlws_sync-reconnect-{self.number}",
            # Daemon: a safety net for programs that exit without close(); close() joins it.
            daemon=True,
        )
        self._reconnector = thread
        return thread

    def _reconnect(self, episode: _Episode, cause: TransportError) -> None:
        """The reconnect thread: back off, connect, start the waiting operations again."""
        policy = self.options.reconnect
        assert policy is not None
        last: TransportError = cause
        attempt = 0
        stop = self._stop
        try:
            while policy.max_attempts is None or attempt < policy.max_attempts:
                # Who wakes it: the back-off delay, or close() setting _stop.
                if stop.wait(policy.delay(attempt)) or self._closed:
                    return
                attempt += 1
                try:
                    connection = self._open(episode, Deadline(None))
                except TransportError as exc:
                    last = exc
                    episode.last_error = exc
                    logger.info(
                        "reconnection attempt %d to %s failed: %s",
                        attempt,
                        redact_url(self.options.url),
                        exc,
                    )
                    if not is_retryable(exc):
                        break
                    continue
                if not self._install(episode, connection):
                    connection.close()
                return
            logger.warning(
                "gave up reconnecting to %s after %d attempts: %s",
                redact_url(self.options.url),
                attempt,
                last,
            )
        except BaseException as exc:  # a bug must not leave callers waiting: it ends the wait
            logger.exception("reconnect thread failed")
            last = TransportClosed(f"internal error while reconnecting: {exc!r}")
        finally:
            with self._cond:
                if self._reconnector is threading.current_thread():
                    self._reconnector = None
            if not episode.done:
                for op in self._finish_episode(episode, last):
                    op.fail(last)

    # -- closing ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection, stop any reconnection, fail what waits; join our threads."""
        closed = TransportClosed("the client closed the connection", 1000)
        with self._cond:
            self._closed = True
            connection, self._connection = self._connection, None
            episode = self._episode
            connecting = episode.connection if episode is not None else None
            pending, self._pending = self._pending, []
            reconnector = self._reconnector
            self._stop.set()
            self._cond.notify_all()
        for op in pending:
            op.fail(closed)
        if connecting is not None:
            connecting.abort(
                TransportClosed("the client was closed while connecting", 1000), close_code=1000
            )
        if connection is not None:
            connection.close()
        timeout = self.options.close_timeout
        if (
            reconnector is not None
            and reconnector.ident is not None  # started (it starts right after the lock)
            and reconnector is not threading.current_thread()
        ):
            reconnector.join(timeout)
        if episode is not None and reconnector is None:
            # Another caller's connect: it closes what it opened once it sees _closed.
            with self._cond:
                deadline = Deadline(timeout)
                # Who wakes it: _install/_finish_episode, at the end of that connect.
                while not episode.done and (remaining := deadline.remaining()) != 0:
                    self._cond.wait(remaining)
            if connecting is not None:
                connecting.join(timeout)

    def close_from_finalizer(self) -> None:
        """close() for a client that was garbage-collected: nothing that blocks or locks;
        the reader says goodbye and the threads end on their own."""
        self._closed = True
        self._stop.set()
        connection = self._connection
        if connection is not None and connection.is_open:
            connection.request_close()

    def _forget_parent(self) -> None:
        """In a forked child: start from nothing, without touching the parent's socket."""
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._stop = threading.Event()
        episode = self._episode
        for connection in (self._connection, episode.connection if episode else None):
            if connection is not None:
                connection.forget_inherited()
        self._connection = None
        self._episode = None
        self._pending = []
        self._reconnector = None

    # -- callbacks --------------------------------------------------------------------------

    def _call(self, name: str, *args: Any) -> None:
        """Run the user's ``on_connect`` / ``on_disconnect``; never with a lock of ours held,
        and never letting its exception into our threads."""
        callback = getattr(self.options, name)
        client = self._client()
        if callback is None or client is None:
            return
        try:
            callback(client, *args)
        except Exception:
            logger.exception("the %s callback raised; ignored", name)


def _may_restart(op: Operation) -> bool:
    if op.is_mutation:
        return False
    if op.streams:
        return op.resubscribe
    return not op.retried  # a query (or a subscription document in execute()) goes once more


def _loss_error(op: Operation, cause: TransportError) -> TransportError:
    if not op.is_mutation:
        return cause
    lost = TransportClosed(
        f"the connection was lost while mutation {op.id} was in flight; it may or may not "
        f"have been applied ({cause})",
        cause.code,
    )
    lost.__cause__ = cause
    return lost


def check_generation(op: Operation) -> None:
    """Raise in a forked child for an operation of the parent process."""
    if op.generation != generation():
        raise inherited_error()
