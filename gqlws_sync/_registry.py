"""Operations, and the map of those in flight on one connection.

An ``Operation`` belongs to its caller and outlives connections: it keeps what is needed to
start it again (document, variables, kind) and the queue its caller reads. A ``Registry``
belongs to one connection and maps that connection's ids to operations; when the connection
is lost it hands its live operations back (``take_all``) instead of failing them, and the
client decides which are started again elsewhere.

Threads: ``open``/``release`` run in caller threads (and the reconnect thread), ``dispatch``
in whichever thread reads (the reader thread, or a caller reading for itself),
``take_all``/``fail_all`` in whichever thread ends the connection.
``_lock`` guards the id counter, the map and the closed flag; it is never held while
blocking (``SimpleQueue.put`` never blocks).

Routing a ``Next`` reads the map without the lock: a dict lookup is atomic, and an item put
into a queue whose operation was released a moment before is garbage, collected with it.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
from queue import Empty, SimpleQueue
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from ._protocol.events import Complete, Error, Next
from .exceptions import SubscriptionOverflow, TransportError

if TYPE_CHECKING:
    from ._connection import Connection

logger = logging.getLogger("gqlws_sync.registry")

Item: TypeAlias = Next | Error | Complete | TransportError
OperationQueue: TypeAlias = "SimpleQueue[Item]"
Kind: TypeAlias = Literal["query", "mutation", "subscription"]

#: How many finished-but-not-completed operations to remember. A server that never completes
#: queries would otherwise grow the map forever; past this, the oldest is cancelled.
MAX_DETACHED = 256

#: How many cancelled ids the reader watches for, to drop their late results undecoded.
MAX_DRAINING = 64

#: Guards the first making of an operation's queue (rare, and over in a moment).
_QUEUE_LOCK = threading.Lock()


def new_queue_lock() -> None:
    """In a forked child: a thread of the parent may have held the lock at the fork."""
    global _QUEUE_LOCK
    _QUEUE_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=new_queue_lock)


class Operation:
    """One operation of one caller, across however many connections carry it.

    ``connection`` and ``id`` say where it runs now (``None`` between connections). A
    caller that gives up sets ``cancelled`` first, so that a reconnection about to start it
    again cancels it instead.
    """

    __slots__ = (
        "cancelled",
        "connection",
        "drop_oldest",
        "extensions",
        "generation",
        "id",
        "kind",
        "made_queue",
        "max_buffered",
        "operation_name",
        "query",
        "resubscribe",
        "resubscribed",
        "retried",
        "single",
        "variables",
    )

    def __init__(
        self,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        extensions: dict[str, Any] | None,
        kind: Kind,
        *,
        single: bool,
        generation: int,
        max_buffered: int | None = None,
        drop_oldest: bool = False,
        resubscribe: bool = True,
    ) -> None:
        self.query = query
        self.variables = variables
        self.operation_name = operation_name
        self.extensions = extensions
        self.kind: Kind = kind
        #: True for execute(): the caller wants the first result only.
        self.single = single
        self.generation = generation
        self.max_buffered = max_buffered
        self.drop_oldest = drop_oldest
        self.resubscribe = resubscribe
        # Made when first needed: an idle subscription (there may be tens of thousands)
        # then costs no queue, its lock and its list. Read it directly where every message
        # passes (``made_queue or queue``): the property is a call more per message.
        self.made_queue: OperationQueue | None = None
        self.connection: Connection | None = None
        self.id: str | None = None
        self.cancelled = False
        self.retried = False
        self.resubscribed = 0

    @property
    def queue(self) -> OperationQueue:
        """The results for the caller, in order; the reader puts, the caller gets."""
        queue = self.made_queue
        if queue is None:
            with _QUEUE_LOCK:  # the reader and the caller may both be first
                queue = self.made_queue
                if queue is None:
                    queue = self.made_queue = SimpleQueue()
        return queue

    def payload(self) -> dict[str, Any]:
        """The ``payload`` of the start message; built anew for every connection."""
        payload: dict[str, Any] = {"query": self.query}
        if self.variables is not None:
            payload["variables"] = self.variables
        if self.operation_name is not None:
            payload["operationName"] = self.operation_name
        if self.extensions is not None:
            payload["extensions"] = self.extensions
        return payload

    @property
    def is_mutation(self) -> bool:
        return self.kind == "mutation"

    @property
    def streams(self) -> bool:
        """A subscription read as one (not through execute()): resubscribed after a loss."""
        return self.kind == "subscription" and not self.single

    def fail(self, exc: TransportError) -> None:
        """Wake the caller with ``exc`` (a copy of its own)."""
        self.put(copy_exception(exc))

    def put(self, item: Item) -> None:
        """Hand the caller ``item`` from a thread that is not reading the socket.

        A caller may be reading the socket itself (leader/follower), waiting there rather
        than on its queue: it is woken too.
        """
        self.queue.put(item)
        connection = self.connection
        if connection is not None:
            connection.nudge(self)


class Registry:
    """The operations in flight on one connection, by the ids that connection gave them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # None stands in for an operation whose caller already has its result (execute()):
        # the server's complete is still to come and must not look like a stranger's.
        self._ops: dict[str, Operation | None] = {}
        # Ids are never reused on a connection: a late message for a finished operation must
        # not reach a newer one.
        self._ids = itertools.count(1)
        self._failure: TransportError | None = None
        self._detached: dict[str, None] = {}  # insertion-ordered set of detached ids
        #: Ids cancelled lately whose results may still be streaming in (read by the reader
        #: without the lock: membership tests are atomic). See ``drain``.
        self.draining: dict[str, None] = {}

    def __len__(self) -> int:
        return len(self._ops)

    @property
    def failure(self) -> TransportError | None:
        """Why the connection stopped taking operations, once it did."""
        return self._failure

    def open(self, op: Operation, connection: Connection) -> str:
        """Give ``op`` the next id of this connection.

        Raises:
            TransportError: the connection is dead; a copy of the exception that killed it.
        """
        with self._lock:
            if self._failure is not None:
                raise copy_exception(self._failure)
            op_id = str(next(self._ids))
            self._ops[op_id] = op
            op.id = op_id
            op.connection = connection
        return op_id

    def release(self, op: Operation) -> bool:
        """Forget an operation whose caller has gone; True if the server had not ended it."""
        op_id = op.id
        if op_id is None:
            return False
        with self._lock:
            if self._ops.get(op_id) is not op:
                return False
            del self._ops[op_id]
            return True

    def drain(self, op_id: str) -> None:
        """Remember that ``op_id`` was cancelled: what still arrives for it can be dropped
        before it is decoded. The most recent ``MAX_DRAINING`` are kept."""
        with self._lock:
            draining = self.draining
            draining[op_id] = None
            while len(draining) > MAX_DRAINING:
                del draining[next(iter(draining))]

    def stop_draining(self) -> None:
        """The cancelled operations have gone quiet: stop looking for them."""
        with self._lock:
            self.draining = {}

    def detach(self, op: Operation) -> str | None:
        """The caller has its result; keep the id until the server's complete arrives.

        Returns the id of an operation to cancel on the server: the oldest detached one, when
        more than ``MAX_DETACHED`` wait for their complete.
        """
        op_id = op.id
        with self._lock:
            if op_id is None or self._ops.get(op_id) is not op:
                return None  # the server ended it already
            self._ops[op_id] = None
            self._detached[op_id] = None
            if len(self._detached) <= MAX_DETACHED:
                return None
            oldest = next(iter(self._detached))
            del self._detached[oldest]
            self._ops.pop(oldest, None)
            return oldest

    def live_ids(self) -> list[str]:
        """Operations the server may still be running, detached ones included."""
        with self._lock:
            return list(self._ops)

    def dispatch(self, event: Next | Error | Complete) -> str | None:
        """Route one server event to its operation; events for unknown ids are dropped.

        Returns an operation id the server should be told to stop: a detached operation
        that goes on sending results (a subscription run through execute()), or a
        subscription whose buffer overflowed.
        """
        op_id = event.id
        if type(event) is Next:
            op = self._ops.get(op_id, _MISSING)
            if op is None:  # detached
                with self._lock:
                    self._ops.pop(op_id, None)
                    self._detached.pop(op_id, None)
                return op_id
            if op is _MISSING:
                logger.debug("dropped a result for unknown operation id %r", op_id)
                return None
            assert isinstance(op, Operation)
            limit = op.max_buffered
            queue = op.made_queue or op.queue  # the property only to make it
            if limit is not None and queue.qsize() >= limit:
                return self._overflow(op, event)
            queue.put(event)
            return None
        with self._lock:
            found = self._ops.pop(op_id, _MISSING)
            if found is None:
                del self._detached[op_id]
                return None
        if found is _MISSING:
            # The caller went away (cancel, timeout) or the server repeated itself: the
            # protocols say to ignore it.
            logger.debug("dropped %s for unknown operation id %r", type(event).__name__, op_id)
            return None
        assert isinstance(found, Operation)
        found.queue.put(event)
        return None

    def _overflow(self, op: Operation, event: Next) -> str | None:
        queue = op.queue
        if op.drop_oldest:
            try:
                queue.get_nowait()
            except Empty:
                pass  # the consumer took it meanwhile
            queue.put(event)
            return None
        if not self.release(op):
            return None
        assert op.id is not None
        self.drain(op.id)
        # What was buffered is delivered first; then the caller learns why the rest is not.
        queue.put(
            SubscriptionOverflow(
                f"subscription {op.id}: more than {op.max_buffered} results waited unread "
                "(max_buffered_events); it was cancelled. Read faster, raise "
                "max_buffered_events, or pass overflow='drop_oldest' to keep only the latest"
            )
        )
        return op.id

    def take_all(self, exc: TransportError) -> list[Operation]:
        """Refuse new operations from now on and return the live ones, for the client to
        start again elsewhere or fail; detached ones (their callers have gone) are dropped."""
        with self._lock:
            if self._failure is None:
                self._failure = exc
            ops = [op for op in self._ops.values() if op is not None]
            self._ops.clear()
            self._detached.clear()
        return ops

    def fail_all(self, exc: TransportError) -> None:
        """Wake every waiting operation with ``exc`` and refuse new ones from now on."""
        for op in self.take_all(exc):
            op.fail(exc)


_MISSING: Any = object()


def copy_exception(exc: TransportError) -> TransportError:
    """A fresh instance of ``exc`` for one more thread to raise.

    One exception instance raised in many threads at once would gather all their tracebacks;
    each waiter raises its own copy, chained to the same cause.
    """
    clone = exc.__class__.__new__(exc.__class__)
    clone.__dict__.update(exc.__dict__)
    clone.args = exc.args
    clone.__cause__ = exc.__cause__
    clone.__suppress_context__ = True
    return clone
