"""The public Client: blocking ``execute()`` and iterator ``subscribe()`` over one connection.

Any number of threads may share one Client. The Client checks arguments and parses
documents on the caller's thread; the connection's life (connect on demand, reconnect,
fork) belongs to its supervisor, and everything that touches the socket to ``_connection``.
"""

from __future__ import annotations

import logging
import ssl as ssl_module
import threading
import warnings
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from queue import Empty
from types import TracebackType
from typing import Any, Final, Generic, Literal, TypeVar, overload

from graphql import ExecutionResult, GraphQLSchema

from ._deadline import Deadline
from ._documents import Document, prepare
from ._protocol import APOLLO_SUBPROTOCOL, GRAPHQLWS_SUBPROTOCOL
from ._protocol.events import Complete, Error, Next
from ._registry import Item, Operation, copy_exception
from ._schema import INTROSPECTION_QUERY, Validator, as_schema, from_introspection
from ._supervisor import Supervisor, check_generation, generation
from .exceptions import (
    OperationTimeout,
    TransportError,
    TransportProtocolError,
    TransportQueryError,
)
from .options import (
    DEFAULT_ACK_TIMEOUT,
    DEFAULT_CLOSE_TIMEOUT,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_BUFFERED_EVENTS,
    DEFAULT_MAX_MESSAGE_SIZE,
    DEFAULT_WS_PING_INTERVAL,
    DEFAULT_WS_PONG_TIMEOUT,
    ClientOptions,
    HeadersOption,
    InitPayloadOption,
    Overflow,
    Reconnect,
    check_buffering,
    check_duration,
    redact_url,
)

__all__ = ["APOLLO_SUBPROTOCOL", "GRAPHQLWS_SUBPROTOCOL", "Client", "Subscription"]

logger = logging.getLogger("gqlws_sync.client")

#: gql's ``Client(execute_timeout=10)``: a query that takes longer is usually stuck.
DEFAULT_EXECUTE_TIMEOUT = 10.0

T = TypeVar("T", dict[str, Any], ExecutionResult)


class _Default:
    """The type of ``DEFAULT``: "not given", where ``None`` already means "no limit"."""

    def __repr__(self) -> str:
        return "DEFAULT"


#: ``execute(timeout=DEFAULT)`` uses the client's ``execute_timeout``.
DEFAULT: Final = _Default()

#: Decides which thread fetches a schema for fetch_schema=True (held for no I/O).
_FETCH_LOCK = threading.Lock()

# Put in a subscription's queue by Subscription.close() to wake a thread blocked in next().
_CLOSED = Complete("")


class Client:
    """A synchronous GraphQL-over-WebSocket client; one connection shared by all threads.

    Options and their defaults follow gql's ``WebsocketsTransport`` (see the README's options
    table). The connection opens on ``connect()``, on entering ``with``, or on the first
    operation; with ``reconnect`` on (the default) a lost connection is reopened in the
    background and live subscriptions go on.
    """

    #: The graphql-ws library's protocol.
    GRAPHQLWS_SUBPROTOCOL = GRAPHQLWS_SUBPROTOCOL
    #: Apollo's subscriptions-transport-ws protocol.
    APOLLO_SUBPROTOCOL = APOLLO_SUBPROTOCOL

    def __init__(
        self,
        url: str,
        *,
        headers: HeadersOption = None,
        ssl: bool | ssl_module.SSLContext = False,
        init_payload: InitPayloadOption = None,
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
        reconnect: bool | Reconnect = True,
        on_connect: Callable[[Client], None] | None = None,
        on_disconnect: Callable[[Client, BaseException], None] | None = None,
        max_buffered_events: int | None = DEFAULT_MAX_BUFFERED_EVENTS,
        overflow: Overflow = "error",
        schema: str | GraphQLSchema | None = None,
        fetch_schema: bool = False,
    ) -> None:
        # Set first: __del__ runs even when a check below raises.
        self._supervisor: Supervisor | None = None
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
            reconnect=reconnect,
            on_connect=on_connect,
            on_disconnect=on_disconnect,
            max_buffered_events=max_buffered_events,
            overflow=overflow,
        )
        self.execute_timeout = check_duration("execute_timeout", execute_timeout)
        if not isinstance(fetch_schema, bool):
            raise TypeError(f"fetch_schema must be a bool, not {fetch_schema!r}")
        if fetch_schema and schema is not None:
            raise ValueError("give schema= or fetch_schema=True, not both")
        self._validator = None if schema is None else Validator(as_schema(schema))
        self._fetch_schema = fetch_schema
        # Set while one thread fetches the schema for fetch_schema=True; the others wait.
        self._schema_fetched: threading.Event | None = None
        # A weak reference: the supervisor's threads must not keep the client alive, or a
        # client dropped without close() would never be collected (and closed).
        self._supervisor = Supervisor(self.options, weakref.ref(self))

    def __repr__(self) -> str:
        supervisor = self._supervisor
        state = "open" if supervisor is not None and supervisor.is_connected else "not connected"
        return f"<Client {redact_url(self.options.url)} {state}>"

    def __del__(self) -> None:
        supervisor = self._supervisor
        if supervisor is not None and supervisor.is_connected:
            # As for files and sockets: the connection should have been closed explicitly.
            warnings.warn(
                f"unclosed {self!r}; call close() or use 'with'",
                ResourceWarning,
                stacklevel=2,
                source=self,
            )
            supervisor.close_from_finalizer()

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def _sup(self) -> Supervisor:
        supervisor = self._supervisor
        assert supervisor is not None
        return supervisor

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the server picked; ``None`` before the first connection."""
        connection = self._sup.connection
        return None if connection is None else connection.subprotocol

    @property
    def is_connected(self) -> bool:
        return self._sup.is_connected

    @property
    def schema(self) -> GraphQLSchema | None:
        """The schema documents are validated against: given, or fetched (``None``: none)."""
        validator = self._validator
        return None if validator is None else validator.schema

    def fetch_schema(self, *, timeout: float | _Default | None = DEFAULT) -> GraphQLSchema:
        """Ask the server for its schema (introspection, over this connection).

        The result is returned, not kept: pass it as ``schema=`` to a client, or use
        ``fetch_schema=True`` to have documents validated against the server's schema.

        Raises:
            The errors of ``execute()``: a server that refuses introspection answers with
            ``TransportQueryError``.
        """
        data = self.execute(INTROSPECTION_QUERY, timeout=timeout, _validate=False)
        return from_introspection(data)

    def _ensure_schema(self) -> None:
        """For ``fetch_schema=True``: fetch the schema once, before the first operation.

        One thread fetches; the others wait for it, and try themselves if it failed.
        """
        while self._validator is None:
            with _FETCH_LOCK:  # only decides who fetches; never held while fetching
                waiting = self._schema_fetched
                mine = waiting is None
                if waiting is None:
                    waiting = self._schema_fetched = threading.Event()
            if mine:
                try:
                    self._validator = Validator(self.fetch_schema())
                finally:
                    if self._validator is None:
                        self._schema_fetched = None  # failed: the next caller tries again
                    waiting.set()
            # Who wakes it: the fetching thread's finally; its fetch is an execute(), bounded
            # by execute_timeout (plus the connect when it had to connect first).
            elif not waiting.wait(
                None if self.execute_timeout is None else 2 * self.execute_timeout
            ):
                raise OperationTimeout("the schema was not fetched in time by another thread")

    def connect(self) -> None:
        """Open the connection now and wait for ``connection_ack``.

        Not needed before operations (they connect on demand), but it reports a wrong URL
        or refused credentials at start-up. With the default ``subprotocols``, a server that
        accepts the first offered subprotocol and then closes with 1002 or 4406 (a legacy
        server that speaks only the other one) is retried once, offering only the other.

        Raises:
            TransportAlreadyConnected: connected (or connecting) already.
            TransportConnectionFailed, TransportServerError, TransportProtocolError: see the
                README's error table; nothing is left running.
        """
        self._sup.connect()
        if self._fetch_schema and self._validator is None:
            self._ensure_schema()

    def close(self) -> None:
        """Send the protocol's goodbye and Close, stop any reconnection, join our threads.

        Waits at most ``close_timeout`` for the server's Close. Idempotent. Every operation
        still waiting raises ``TransportClosed``; later ones too, until ``connect()``.
        """
        self._sup.close()

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

    # -- operations -------------------------------------------------------------------------

    def _operation(
        self,
        document: Document,
        variables: Mapping[str, Any] | None,
        operation_name: str | None,
        extensions: Mapping[str, Any] | None,
        *,
        single: bool,
        max_buffered: int | None = None,
        drop_oldest: bool = False,
        resubscribe: bool = True,
        validate: bool = True,
    ) -> Operation:
        parsed, variables, operation_name = prepare(document, variables, operation_name)
        if validate:
            if self._fetch_schema and self._validator is None:
                self._ensure_schema()
            validator = self._validator
            if validator is not None:
                validator.check(parsed)
        return Operation(
            parsed.text,
            variables,
            operation_name,
            None if extensions is None else dict(extensions),
            parsed.kind(operation_name),
            single=single,
            generation=generation(),
            max_buffered=max_buffered,
            drop_oldest=drop_oldest,
            resubscribe=resubscribe,
        )

    @overload
    def execute(
        self,
        document: Document,
        variables: Mapping[str, Any] | None = ...,
        operation_name: str | None = ...,
        *,
        timeout: float | _Default | None = ...,
        extensions: Mapping[str, Any] | None = ...,
        get_execution_result: Literal[False] = ...,
        _validate: bool = ...,
    ) -> dict[str, Any]: ...

    @overload
    def execute(
        self,
        document: Document,
        variables: Mapping[str, Any] | None = ...,
        operation_name: str | None = ...,
        *,
        timeout: float | _Default | None = ...,
        extensions: Mapping[str, Any] | None = ...,
        get_execution_result: Literal[True],
        _validate: bool = ...,
    ) -> ExecutionResult: ...

    def execute(
        self,
        document: Document,
        variables: Mapping[str, Any] | None = None,
        operation_name: str | None = None,
        *,
        timeout: float | _Default | None = DEFAULT,
        extensions: Mapping[str, Any] | None = None,
        get_execution_result: bool = False,
        _validate: bool = True,
    ) -> dict[str, Any] | ExecutionResult:
        """Run a query or mutation and return its ``data``.

        Connects first if needed. Returns on the first result: some Apollo-protocol servers
        never send ``complete`` after it; a subscription document is stopped on the server
        after its first result. Safe to call from many threads at once.

        Args:
            timeout: seconds for the whole call (connecting included); left out, the
                client's ``execute_timeout``; ``None``, no limit.
            get_execution_result: return a graphql-core ``ExecutionResult`` (with
                ``extensions``) instead of the ``data`` dict.

        Raises:
            GraphQLSyntaxError, GraphQLError: the document does not parse, or names no
                single operation; nothing was sent.
            GraphQLValidationError: given a schema, the document is not valid against it;
                nothing was sent.
            ValueError: the variables hold NaN or infinity, or the message is over
                ``max_message_size``; nothing was sent.
            TransportQueryError: the server answered with errors; the connection is fine.
            OperationTimeout: no result in time; the operation was cancelled on the server.
            TransportClosed (or the exception that ended the connection): the connection
                was lost and the operation could not be sent again (a mutation: it may or
                may not have been applied).
        """
        timeout = self.execute_timeout if timeout is DEFAULT else check_duration("timeout", timeout)
        deadline = Deadline(timeout)
        op = self._operation(
            document, variables, operation_name, extensions, single=True, validate=_validate
        )
        supervisor = self._sup
        supervisor.start(op, deadline)
        try:
            item = supervisor.wait(op, deadline)
        except Empty:
            supervisor.cancel(op)
            raise OperationTimeout(
                f"no result for operation {op.id} within {timeout} s; it was cancelled"
            ) from None
        except BaseException:
            # Includes KeyboardInterrupt: the server must not keep running it for nobody.
            supervisor.cancel(op)
            raise
        kind = type(item)
        if kind is Next:
            connection = op.connection
            if connection is not None:
                connection.finish(op)
            return _result(item.payload, op.id, get_execution_result)  # type: ignore[union-attr]  # narrowed by kind
        if kind is Error:
            raise _operation_error(op.id, item.errors)  # type: ignore[union-attr]  # narrowed by kind
        if kind is Complete:
            raise TransportQueryError(
                f"operation {op.id} completed without a result", query_id=op.id
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
        resubscribe: bool = ...,
        max_buffered_events: int | _Default | None = ...,
        overflow: Overflow | _Default = ...,
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
        resubscribe: bool = ...,
        max_buffered_events: int | _Default | None = ...,
        overflow: Overflow | _Default = ...,
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
        resubscribe: bool = True,
        max_buffered_events: int | _Default | None = DEFAULT,
        overflow: Overflow | _Default = DEFAULT,
    ) -> Subscription[dict[str, Any]] | Subscription[ExecutionResult]:
        """Start a subscription and return an iterator over its results.

        Connects first if needed; the operation starts at once. Leaving it through
        ``with``, ``close()``, an exception inside the loop, or dropping the iterator
        cancels it on the server. A query or mutation yields its one result.

        Args:
            timeout: seconds to wait for each next event (an outage counts); ``None``
                waits as long as the connection lives. Connecting waits at most this long
                too.
            resubscribe: after a lost connection, start it again on the new one (the gap is
                counted in ``resubscribed``); False raises the loss instead.
            max_buffered_events, overflow: this subscription's buffer; left out, the
                client's.

        Raises:
            GraphQLSyntaxError, GraphQLError, ValueError: as for ``execute()``; nothing sent.
            TransportError: no connection could be had; from the iterator, see ``execute()``.
        """
        timeout = check_duration("timeout", timeout)
        options = self.options
        limit = (
            options.max_buffered_events if max_buffered_events is DEFAULT else max_buffered_events
        )
        mode = options.overflow if overflow is DEFAULT else overflow
        check_buffering(limit, mode)
        if not isinstance(resubscribe, bool):
            raise TypeError(f"resubscribe must be a bool, not {resubscribe!r}")
        op = self._operation(
            document,
            variables,
            operation_name,
            extensions,
            single=False,
            max_buffered=limit,  # type: ignore[arg-type]  # checked above
            drop_oldest=mode == "drop_oldest",
            resubscribe=resubscribe,
        )
        supervisor = self._sup
        supervisor.start(op, Deadline(timeout))
        return Subscription(supervisor, op, timeout, get_execution_result)


class Subscription(Generic[T]):
    """The results of one subscription, as an iterator; also a context manager.

    Iterating raises ``TransportQueryError`` for results with errors and for an ``error``
    message, ``OperationTimeout`` when no event comes within ``timeout``,
    ``SubscriptionOverflow`` when its reader fell too far behind, and the connection's
    failure (``TransportClosed`` ...) when it is lost for good. Each of those ends the
    subscription.
    """

    # Thousands may be open at once: no per-instance __dict__.
    __slots__ = ("_done", "_get_execution_result", "_op", "_supervisor", "_timeout")

    def __init__(
        self,
        supervisor: Supervisor,
        op: Operation,
        timeout: float | None,
        get_execution_result: bool,
    ) -> None:
        self._supervisor = supervisor
        self._op = op
        self._timeout = timeout
        self._get_execution_result = get_execution_result
        self._done = False

    @property
    def id(self) -> str | None:
        """The operation's id on its current connection (it changes on resubscription)."""
        return self._op.id

    @property
    def resubscribed(self) -> int:
        """How often it was started again after a lost connection: each time, the events the
        server sent during the outage were lost."""
        return self._op.resubscribed

    @property
    def closed(self) -> bool:
        """True once it ended: completed, failed, or closed by its reader."""
        return self._done

    def __repr__(self) -> str:
        return f"<Subscription {self._op.id} {'done' if self._done else 'live'}>"

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        op = self._op
        try:
            # What was read already (a stream seldom keeps its reader waiting): no checks,
            # no wait. The item is this process's, even in a forked child.
            item = (op.made_queue or op.queue).get_nowait()
        except Empty:
            item = self._wait(op)
        kind = type(item)
        if kind is Next:
            payload = item.payload  # type: ignore[union-attr]  # narrowed by kind
            if op.kind == "subscription":
                if payload.get("errors"):
                    self.close()
                elif not self._get_execution_result:
                    data = payload.get("data")
                    if type(data) is dict:
                        return data  # type: ignore[return-value]  # the usual event, at once
            else:
                # A query or mutation: its one result is all there is.
                self._done = True
                connection = op.connection
                if connection is not None:
                    connection.finish(op)
            return _result(payload, op.id, self._get_execution_result)  # type: ignore[return-value]  # T is what get_execution_result chose
        self._done = True
        if kind is Complete:
            raise StopIteration
        if kind is Error:
            raise _operation_error(op.id, item.errors)  # type: ignore[union-attr]  # narrowed by kind
        assert isinstance(item, TransportError)
        raise copy_exception(item)

    def _wait(self, op: Operation) -> Item:
        try:
            check_generation(op)
        except TransportError:
            # No reader feeds this queue in a forked child: fail instead of waiting forever.
            self._done = True
            raise
        try:
            return self._supervisor.wait(op, Deadline(self._timeout))
        except Empty:
            self.close()
            raise OperationTimeout(
                f"no event for subscription {op.id} within {self._timeout} s; it was cancelled"
            ) from None
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop the subscription on the server and wake any thread waiting in ``next()``.

        Idempotent; never raises (a dead connection has nothing left to cancel).
        """
        if self._done:
            return
        self._done = True
        if self._op.generation == generation():
            self._supervisor.cancel(self._op)
        self._op.put(_CLOSED)

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
        # no lock and send nothing here; hand the operation to the reader instead.
        if not self._done:
            self._done = True
            op = self._op
            op.cancelled = True
            connection = op.connection
            if connection is not None and op.generation == generation():
                connection.orphan(op)


def _result(
    payload: dict[str, Any], op_id: str | None, get_execution_result: bool
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
    op_id: str | None,
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
