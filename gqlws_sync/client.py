"""The public Client: blocking ``execute()`` and iterator ``subscribe()`` over one connection.

Any number of threads may share one Client. The Client itself only keeps the current
connection; everything that touches the socket lives in ``_connection``.
"""

from __future__ import annotations

import logging
import os
import ssl as ssl_module
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from queue import Empty
from types import TracebackType
from typing import Any, Generic, Literal, Protocol, TypeAlias, TypeVar, overload

from graphql import DocumentNode, ExecutionResult, print_ast

from ._connection import Connection
from ._deadline import Deadline
from ._protocol import APOLLO_SUBPROTOCOL, GRAPHQLWS_SUBPROTOCOL
from ._protocol.events import Complete, Error, Next
from ._registry import OperationQueue, copy_exception
from .exceptions import (
    OperationTimeout,
    TransportAlreadyConnected,
    TransportClosed,
    TransportError,
    TransportProtocolError,
    TransportQueryError,
)
from .options import (
    DEFAULT_ACK_TIMEOUT,
    DEFAULT_CLOSE_TIMEOUT,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_MESSAGE_SIZE,
    DEFAULT_SUBPROTOCOLS,
    DEFAULT_WS_PING_INTERVAL,
    DEFAULT_WS_PONG_TIMEOUT,
    ClientOptions,
    check_duration,
    redact_url,
)

__all__ = ["APOLLO_SUBPROTOCOL", "GRAPHQLWS_SUBPROTOCOL", "Client", "Subscription"]

logger = logging.getLogger("gqlws_sync.client")

#: Every client of this process, so that a forked child gets fresh locks (see _connection).
_clients: weakref.WeakSet[Client] = weakref.WeakSet()


def _reset_locks_after_fork() -> None:
    for client in list(_clients):
        client._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_locks_after_fork)

#: gql's ``Client(execute_timeout=10)``: a query that takes longer is usually stuck.
DEFAULT_EXECUTE_TIMEOUT = 10.0

T = TypeVar("T", dict[str, Any], ExecutionResult)


class _HasDocument(Protocol):
    """gql 4's ``GraphQLRequest`` (what ``gql("...")`` returns), without importing gql."""

    @property
    def document(self) -> DocumentNode: ...


Document: TypeAlias = "str | DocumentNode | _HasDocument"

# Put in a subscription's queue by Subscription.close() to wake a thread blocked in next().
_CLOSED = Complete("")


class Client:
    """A synchronous GraphQL-over-WebSocket client; one connection shared by all threads.

    Options and their defaults follow gql's ``WebsocketsTransport`` (see the README's options
    table). The connection opens on ``connect()`` or on entering ``with``.
    """

    #: The graphql-ws library's protocol.
    GRAPHQLWS_SUBPROTOCOL = GRAPHQLWS_SUBPROTOCOL
    #: Apollo's subscriptions-transport-ws protocol.
    APOLLO_SUBPROTOCOL = APOLLO_SUBPROTOCOL

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        ssl: bool | ssl_module.SSLContext = False,
        init_payload: dict[str, Any] | None = None,
        subprotocols: Sequence[str] | None = None,
        connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
        close_timeout: float | None = DEFAULT_CLOSE_TIMEOUT,
        ack_timeout: float | None = DEFAULT_ACK_TIMEOUT,
        keep_alive_timeout: float | None = None,
        ping_interval: float | None = None,
        pong_timeout: float | None = None,
        answer_pings: bool = True,
        connect_args: Mapping[str, Any] | None = None,
        execute_timeout: float | None = DEFAULT_EXECUTE_TIMEOUT,
        ws_ping_interval: float | None = DEFAULT_WS_PING_INTERVAL,
        ws_pong_timeout: float | None = DEFAULT_WS_PONG_TIMEOUT,
        max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
        json_loads: Callable[[str | bytes | bytearray], Any] | None = None,
        json_dumps: Callable[[Any], str] | None = None,
    ) -> None:
        self.options = ClientOptions.build(
            url,
            headers=headers,
            ssl=ssl,
            init_payload=init_payload,
            subprotocols=subprotocols,
            connect_timeout=connect_timeout,
            close_timeout=close_timeout,
            ack_timeout=ack_timeout,
            keep_alive_timeout=keep_alive_timeout,
            ping_interval=ping_interval,
            pong_timeout=pong_timeout,
            answer_pings=answer_pings,
            connect_args=connect_args,
            ws_ping_interval=ws_ping_interval,
            ws_pong_timeout=ws_pong_timeout,
            max_message_size=max_message_size,
            json_loads=json_loads,
            json_dumps=json_dumps,
        )
        self.execute_timeout = check_duration("execute_timeout", execute_timeout)
        self._lock = threading.Lock()  # guards _connection and _connecting; never held blocking
        self._connection: Connection | None = None
        self._connecting = False
        self._close_requested = False  # close() during connect(): connect() closes at its end
        self._connect_done = threading.Event()
        self._connect_done.set()
        _clients.add(self)

    def __repr__(self) -> str:
        conn = self._connection
        state = "not connected" if conn is None else ("closed" if conn.is_closed else "open")
        return f"<Client {redact_url(self.options.url)} {state}>"

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the server picked; ``None`` before the first connect()."""
        conn = self._connection
        return None if conn is None else conn.subprotocol

    @property
    def is_connected(self) -> bool:
        conn = self._connection
        return conn is not None and not conn.is_closed

    def connect(self) -> None:
        """Open the connection and wait for ``connection_ack``.

        With the default ``subprotocols``, a server that accepts the first offered
        subprotocol and then closes with 1002 or 4406 (a legacy server that speaks only the
        other one) is retried once, offering only the other.

        Raises:
            TransportAlreadyConnected: connected (or connecting) already.
            TransportConnectionFailed, TransportServerError, TransportProtocolError: see the
                README's error table; nothing is left running.
        """
        with self._lock:
            if self._connecting or (
                self._connection is not None and not self._connection.is_closed
            ):
                raise TransportAlreadyConnected(
                    f"already connected to {redact_url(self.options.url)}"
                )
            self._connecting = True
            self._close_requested = False
            self._connect_done.clear()
        try:
            try:
                connection = self._open()
            finally:
                with self._lock:
                    self._connecting = False
            with self._lock:
                self._connection = connection
                close_requested = self._close_requested
            if close_requested:
                # close() ran in another thread while this one was connecting.
                connection.close()
                raise TransportClosed("the client was closed while connecting", 1000)
        finally:
            self._connect_done.set()

    def _open(self) -> Connection:
        options = self.options
        connection = Connection(options, options.subprotocols)
        try:
            connection.open()
        except TransportProtocolError as exc:
            picked = connection.subprotocol
            if not (
                options.default_subprotocols
                and exc.code in (1002, 4406)
                and picked is not None
                and not connection.acknowledged
            ):
                raise
            other = tuple(token for token in DEFAULT_SUBPROTOCOLS if token != picked)
            logger.info(
                "server accepted %s, then closed with %s; retrying with %s only",
                picked,
                exc.code,
                other[0],
            )
            connection = Connection(options, other)
            connection.open()
        return connection

    def close(self) -> None:
        """Send the protocol's goodbye and Close, then join both threads.

        Waits at most ``close_timeout`` for the server's Close. Idempotent. Every operation
        still waiting raises ``TransportClosed``.
        """
        with self._lock:
            connection = self._connection
            self._close_requested = connecting = self._connecting
        if connecting:
            # Who wakes it: connect(), which closes what it opened when it sees the request;
            # bounded because connect() itself is (connect_timeout + ack_timeout).
            self._connect_done.wait(self.options.close_timeout)
            return
        if connection is not None:
            connection.close()

    def __enter__(self) -> Client:
        """Connect, unless connected already (a client opened at start-up may enter ``with``
        later just to be closed at its end)."""
        if not self.is_connected:
            self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _live_connection(self) -> Connection:
        connection = self._connection
        if connection is None:
            raise TransportClosed("not connected: call connect() or use 'with Client(...)'")
        if connection.is_inherited:
            raise TransportClosed(
                "this client was connected in the parent process before os.fork(); "
                "its connection cannot be shared: call connect() in the child"
            )
        return connection

    # -- operations -------------------------------------------------------------------------

    @overload
    def execute(
        self,
        document: Document,
        variables: Mapping[str, Any] | None = ...,
        operation_name: str | None = ...,
        *,
        timeout: float | None = ...,
        extensions: Mapping[str, Any] | None = ...,
        get_execution_result: Literal[False] = ...,
    ) -> dict[str, Any]: ...

    @overload
    def execute(
        self,
        document: Document,
        variables: Mapping[str, Any] | None = ...,
        operation_name: str | None = ...,
        *,
        timeout: float | None = ...,
        extensions: Mapping[str, Any] | None = ...,
        get_execution_result: Literal[True],
    ) -> ExecutionResult: ...

    def execute(
        self,
        document: Document,
        variables: Mapping[str, Any] | None = None,
        operation_name: str | None = None,
        *,
        timeout: float | None = None,
        extensions: Mapping[str, Any] | None = None,
        get_execution_result: bool = False,
    ) -> dict[str, Any] | ExecutionResult:
        """Run a query or mutation and return its ``data``.

        Returns on the first result: some Apollo-protocol servers never send ``complete``
        after it. Safe to call from many threads at once.

        Args:
            timeout: seconds to wait for the result; ``None`` uses the client's
                ``execute_timeout``.
            get_execution_result: return a graphql-core ``ExecutionResult`` (with
                ``extensions``) instead of the ``data`` dict.

        Raises:
            TransportQueryError: the server answered with errors; the connection is fine.
            OperationTimeout: no result in time; the operation was cancelled on the server.
            TransportClosed (or the exception that killed the connection): the connection
                died before the result came; the operation may or may not have run.
        """
        timeout = check_duration("timeout", timeout)
        if timeout is None:
            timeout = self.execute_timeout
        deadline = Deadline(timeout)
        connection = self._live_connection()
        op_id, queue = connection.start(_payload(document, variables, operation_name, extensions))
        try:
            item = queue.get(timeout=deadline.remaining())
        except Empty:
            connection.cancel(op_id)
            raise OperationTimeout(
                f"no result for operation {op_id} within {timeout} s; it was cancelled"
            ) from None
        except BaseException:
            # Includes KeyboardInterrupt: the server must not keep running it for nobody.
            connection.cancel(op_id)
            raise
        kind = type(item)
        if kind is Next:
            connection.finish(op_id)
            return _result(item.payload, op_id, get_execution_result)  # type: ignore[union-attr]
        if kind is Error:
            raise _operation_error(op_id, item.errors)  # type: ignore[union-attr]
        if kind is Complete:
            raise TransportQueryError(
                f"operation {op_id} completed without a result", query_id=op_id
            )
        assert isinstance(item, TransportError)
        raise copy_exception(item)

    @overload
    def subscribe(
        self,
        document: Document,
        variables: Mapping[str, Any] | None = ...,
        operation_name: str | None = ...,
        *,
        timeout: float | None = ...,
        extensions: Mapping[str, Any] | None = ...,
        get_execution_result: Literal[False] = ...,
    ) -> Subscription[dict[str, Any]]: ...

    @overload
    def subscribe(
        self,
        document: Document,
        variables: Mapping[str, Any] | None = ...,
        operation_name: str | None = ...,
        *,
        timeout: float | None = ...,
        extensions: Mapping[str, Any] | None = ...,
        get_execution_result: Literal[True],
    ) -> Subscription[ExecutionResult]: ...

    def subscribe(
        self,
        document: Document,
        variables: Mapping[str, Any] | None = None,
        operation_name: str | None = None,
        *,
        timeout: float | None = None,
        extensions: Mapping[str, Any] | None = None,
        get_execution_result: bool = False,
    ) -> Subscription[dict[str, Any]] | Subscription[ExecutionResult]:
        """Start a subscription and return an iterator over its results.

        The operation starts at once. Leaving the loop early (``break``, an exception,
        ``close()``, or dropping the iterator) cancels it on the server.

        Args:
            timeout: seconds to wait for each next event; ``None`` waits as long as the
                connection lives.

        Raises:
            TransportClosed: not connected (starting); from the iterator, see ``execute()``.
        """
        timeout = check_duration("timeout", timeout)
        connection = self._live_connection()
        op_id, queue = connection.start(_payload(document, variables, operation_name, extensions))
        return Subscription(connection, op_id, queue, timeout, get_execution_result)


class Subscription(Generic[T]):
    """The results of one subscription, as an iterator; also a context manager.

    Iterating raises ``TransportQueryError`` for results with errors and for an ``error``
    message, ``OperationTimeout`` when no event comes within ``timeout``, and the connection's
    failure (``TransportClosed`` ...) when it dies. Each of those ends the subscription.
    """

    # Thousands may be open at once: no per-instance __dict__.
    __slots__ = ("_connection", "_done", "_get_execution_result", "_queue", "_timeout", "id")

    def __init__(
        self,
        connection: Connection,
        op_id: str,
        queue: OperationQueue,
        timeout: float | None,
        get_execution_result: bool,
    ) -> None:
        self._connection = connection
        self.id = op_id
        self._queue = queue
        self._timeout = timeout
        self._get_execution_result = get_execution_result
        self._done = False

    def __repr__(self) -> str:
        return f"<Subscription {self.id} {'done' if self._done else 'live'}>"

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        if self._connection.is_inherited:
            # No reader feeds this queue in a forked child: fail instead of waiting forever.
            self._done = True
            raise TransportClosed(
                "this subscription belongs to the parent process (os.fork); "
                "subscribe again in the child"
            )
        try:
            item = self._queue.get(timeout=self._timeout)
        except Empty:
            self.close()
            raise OperationTimeout(
                f"no event for subscription {self.id} within {self._timeout} s; it was cancelled"
            ) from None
        except BaseException:
            self.close()
            raise
        kind = type(item)
        if kind is Next:
            payload = item.payload  # type: ignore[union-attr]
            if payload.get("errors"):
                self.close()
            return _result(payload, self.id, self._get_execution_result)  # type: ignore[return-value]
        self._done = True
        if kind is Complete:
            raise StopIteration
        if kind is Error:
            raise _operation_error(self.id, item.errors)  # type: ignore[union-attr]
        assert isinstance(item, TransportError)
        raise copy_exception(item)

    def close(self) -> None:
        """Stop the subscription on the server and wake any thread waiting in ``next()``.

        Idempotent; never raises (a dead connection has nothing left to cancel).
        """
        if self._done:
            return
        self._done = True
        self._connection.cancel(self.id)
        self._queue.put(_CLOSED)

    def __enter__(self) -> Subscription[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # A finalizer may run in any thread, even one inside a lock of the connection: take
        # no lock and do no I/O here, hand the id to the reader instead.
        if not self._done:
            self._done = True
            self._connection.orphan(self.id)


def _payload(
    document: Document,
    variables: Mapping[str, Any] | None,
    operation_name: str | None,
    extensions: Mapping[str, Any] | None,
) -> dict[str, Any]:
    node = getattr(document, "document", None)
    if isinstance(node, DocumentNode):
        # gql 4's gql() returns a GraphQLRequest: its document, and its variables and
        # operation name unless given here.
        if variables is None:
            variables = getattr(document, "variable_values", None)
        if operation_name is None:
            operation_name = getattr(document, "operation_name", None)
        document = node
    if isinstance(document, DocumentNode):
        query = print_ast(document)
    elif isinstance(document, str):
        query = document
    else:
        raise TypeError(
            "document must be a str, a graphql DocumentNode or gql's GraphQLRequest, not "
            f"{type(document).__name__}"
        )
    payload: dict[str, Any] = {"query": query}
    if variables is not None:
        payload["variables"] = dict(variables)
    if operation_name is not None:
        payload["operationName"] = operation_name
    if extensions is not None:
        payload["extensions"] = dict(extensions)
    return payload


def _result(
    payload: dict[str, Any], op_id: str, get_execution_result: bool
) -> dict[str, Any] | ExecutionResult:
    errors = payload.get("errors")
    data = payload.get("data")
    extensions = payload.get("extensions")
    if errors:
        raise _operation_error(op_id, errors, data, extensions)
    if not isinstance(data, dict):
        raise TransportProtocolError(
            f"operation {op_id}: the server sent a result with neither data nor errors"
        )
    if get_execution_result:
        return ExecutionResult(data=data, errors=None, extensions=extensions)
    return data


def _operation_error(
    op_id: str,
    errors: Any,
    data: Any = None,
    extensions: Any = None,
) -> TransportQueryError:
    if not isinstance(errors, list):
        errors = [errors]
    first = errors[0] if errors else None
    message = first.get("message") if isinstance(first, dict) else first
    return TransportQueryError(
        str(message if message is not None else "unknown error"),
        query_id=op_id,
        errors=errors,
        data=data if isinstance(data, dict) else None,
        extensions=extensions if isinstance(extensions, dict) else None,
    )
