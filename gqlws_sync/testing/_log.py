"""Thread-safe records of what the reference server saw, with waits for test threads.

The server's event loop thread appends; test threads read and wait. One ``threading.Condition``
guards each log, and nothing blocks while holding it except ``Condition.wait`` itself.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar, overload

__all__ = ["Disconnect", "Handshake", "MessageLog"]

T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True)
class Handshake:
    """One upgrade request, recorded before the server answers it.

    Attributes:
        path: Request path, query string included.
        headers: Request headers, names lower-cased, repeated headers joined with ", ".
        subprotocols: Tokens of ``Sec-WebSocket-Protocol`` in the client's order.
    """

    path: str
    headers: dict[str, str]
    subprotocols: tuple[str, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Disconnect:
    """How one WebSocket connection ended.

    Attributes:
        subprotocol: The subprotocol the server spoke, or None when none was agreed.
        client_code: Close code in the client's close frame; None when the client sent none
            (TCP dropped, or the server gave up waiting).
        client_reason: Reason in the client's close frame.
        server_code: Close code the server sent; None when it sent no close frame.
        server_reason: Reason the server sent.
    """

    subprotocol: str | None
    client_code: int | None
    client_reason: str
    server_code: int | None
    server_reason: str


class MessageLog(Sequence[T], Generic[T]):
    """An append-only list shared between the server thread and test threads.

    Reading it (indexing, ``len``, iterating, comparing with a list) works on a snapshot,
    so a test never sees it change half-way through a loop.
    """

    def __init__(self) -> None:
        self._items: list[T] = []
        self._condition = threading.Condition()

    def append(self, item: T) -> None:
        """Add an item and wake every waiter; called by the server thread."""
        with self._condition:
            self._items.append(item)
            self._condition.notify_all()

    def snapshot(self) -> list[T]:
        """Return a copy of the items received so far."""
        with self._condition:
            return list(self._items)

    def clear(self) -> None:
        """Forget everything recorded so far, e.g. between two phases of a test."""
        with self._condition:
            self._items.clear()

    def wait_for(
        self,
        predicate: Callable[[T], bool],
        timeout: float | None,
        *,
        count: int = 1,
        what: str = "item",
    ) -> T:
        """Block until ``count`` items match ``predicate``; return the ``count``-th of them.

        Items recorded before the call count too, so there is no race between the event a test
        triggers and the wait that follows it.

        Raises:
            TimeoutError: Fewer than ``count`` matching items arrived within ``timeout``.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._condition:
            while True:
                matches = [item for item in self._items if predicate(item)]
                if len(matches) >= count:
                    return matches[count - 1]
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError(
                        f"no {what} within {timeout} s (found {len(matches)} of {count})"
                    )
                # append() wakes this wait; the timeout bounds it otherwise.
                self._condition.wait(left)

    def __len__(self) -> int:
        with self._condition:
            return len(self._items)

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        with self._condition:
            return self._items[index]

    def __iter__(self) -> Iterator[T]:
        return iter(self.snapshot())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MessageLog):
            return self.snapshot() == other.snapshot()
        if isinstance(other, list):
            return self.snapshot() == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like list

    def __repr__(self) -> str:
        return f"MessageLog({self.snapshot()!r})"


def message_matcher(type_: str, op_id: str | None) -> Callable[[dict[str, Any]], bool]:
    """Match client messages by ``type`` and, when given, ``id``."""

    def match(message: dict[str, Any]) -> bool:
        return message.get("type") == type_ and (op_id is None or message.get("id") == op_id)

    return match
