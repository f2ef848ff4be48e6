"""The operations in flight on one connection: ids, one queue each, routing, mass failure.

Threads: ``open``/``release`` run in caller threads, ``dispatch`` in the reader thread,
``fail_all`` in the reader thread's teardown. ``_lock`` guards the id counter, the map and the
closed flag; it is never held while blocking (``SimpleQueue.put`` never blocks).

Routing a ``Next`` reads the map without the lock: a dict lookup is atomic, and an item put
into a queue whose operation was released a moment before is garbage, collected with it.
"""

from __future__ import annotations

import itertools
import logging
import threading
from queue import SimpleQueue
from typing import TypeAlias

from ._protocol.events import Complete, Error, Next
from .exceptions import TransportError

logger = logging.getLogger("gqlws_sync.registry")

Item: TypeAlias = Next | Error | Complete | TransportError
OperationQueue: TypeAlias = "SimpleQueue[Item]"

#: Stands in for the queue of an operation whose caller already has its result (execute()):
#: the server's complete is still to come and must not look like a message for a stranger.
_DETACHED: OperationQueue = SimpleQueue()

#: How many finished-but-not-completed operations to remember. A server that never completes
#: queries would otherwise grow the map forever; past this, the oldest is cancelled.
MAX_DETACHED = 256


class Registry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, OperationQueue] = {}
        # Ids are never reused on a connection: a late message for a finished operation must
        # not reach a newer one.
        self._ids = itertools.count(1)
        self._failure: TransportError | None = None
        self._detached: dict[str, None] = {}  # insertion-ordered set of detached ids

    def reset_lock(self) -> None:
        """In a forked child only: a parent thread may have held the lock at fork() time."""
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._queues)

    @property
    def failure(self) -> TransportError | None:
        """The exception every operation failed with, once the connection died."""
        return self._failure

    def open(self, queue: OperationQueue | None = None) -> tuple[str, OperationQueue]:
        """Register a new operation; ``queue`` lets a caller keep its queue across connections.

        Raises:
            TransportError: the connection is dead; a copy of the exception that killed it.
        """
        with self._lock:
            if self._failure is not None:
                raise copy_exception(self._failure)
            op_id = str(next(self._ids))
            if queue is None:
                queue = SimpleQueue()
            self._queues[op_id] = queue
        return op_id, queue

    def release(self, op_id: str) -> bool:
        """Forget an operation whose caller has gone; True if the server had not ended it."""
        with self._lock:
            self._detached.pop(op_id, None)
            return self._queues.pop(op_id, None) is not None

    def detach(self, op_id: str) -> str | None:
        """The caller has its result; keep the id until the server's complete arrives.

        Returns the id of an operation to cancel on the server: the oldest detached one, when
        more than ``MAX_DETACHED`` wait for their complete.
        """
        with self._lock:
            if op_id not in self._queues:
                return None  # the server ended it already
            self._queues[op_id] = _DETACHED
            self._detached[op_id] = None
            if len(self._detached) <= MAX_DETACHED:
                return None
            oldest = next(iter(self._detached))
            del self._detached[oldest]
            self._queues.pop(oldest, None)
            return oldest

    def live_ids(self) -> list[str]:
        """Operations the server may still be running, detached ones included."""
        with self._lock:
            return list(self._queues)

    def dispatch(self, event: Next | Error | Complete) -> str | None:
        """Route one server event to its operation; events for unknown ids are dropped.

        Returns an operation id the server should be told to stop: a detached operation
        that goes on sending results (a subscription run through execute()).
        """
        if type(event) is Next:
            queue = self._queues.get(event.id)
            if queue is _DETACHED:
                with self._lock:
                    self._queues.pop(event.id, None)
                    self._detached.pop(event.id, None)
                return event.id
        else:
            with self._lock:
                queue = self._queues.pop(event.id, None)
                if queue is _DETACHED:
                    del self._detached[event.id]
                    return None
        if queue is None:
            # The caller went away (cancel, timeout) or the server repeated itself: the
            # protocols say to ignore it.
            logger.debug("dropped %s for unknown operation id %r", type(event).__name__, event.id)
            return None
        queue.put(event)
        return None

    def fail_all(self, exc: TransportError) -> None:
        """Wake every waiting operation with ``exc`` and refuse new ones from now on."""
        with self._lock:
            if self._failure is None:
                self._failure = exc
            queues = [queue for queue in self._queues.values() if queue is not _DETACHED]
            self._queues.clear()
            self._detached.clear()
        for queue in queues:
            queue.put(exc)


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
