"""Exceptions raised by gqlws_sync.

The names follow gql's transports, so ``except`` clauses written for gql keep working::

    TransportError                    base of everything raised here
    ├── TransportConnectionFailed     could not open: DNS, TCP, TLS, proxy, upgrade I/O
    ├── TransportServerError          the server refused or failed: HTTP status, close code
    ├── TransportProtocolError        a peer broke the protocol, or no common subprotocol
    ├── TransportQueryError           this operation was answered with errors (.errors, .data)
    ├── TransportClosed               the connection is gone (.code, .reason); __cause__ says why
    ├── SubscriptionOverflow          one subscription's buffer filled up: its reader is too slow
    ├── TransportAlreadyConnected     connect() on a client that is already connected
    └── the *Timeout classes below    also instances of the builtin TimeoutError
        ├── ConnectTimeout            (TransportConnectionFailed) TCP, TLS or upgrade too slow
        ├── AckTimeout                (TransportServerError) no connection_ack in time
        ├── OperationTimeout          (TransportError) no answer to execute()/next event in time
        └── KeepAliveTimeout          (TransportClosed) no pong / ka / message in time

    graphql.GraphQLError              graphql-core's: the document itself is wrong
    └── GraphQLValidationError        not valid against the client's schema; nothing sent

Documents are checked before anything is sent, and refused with graphql-core's own error
classes: ``GraphQLSyntaxError`` when one does not parse, ``GraphQLError`` when it names no
single operation, and, given a schema, ``GraphQLValidationError`` (below, a ``GraphQLError``)
when it is not valid against it.

Whether a caller may retry is said on each class. Messages never contain header values or
the init payload. Every class has a ``code`` attribute (``None`` where no code applies) and
survives ``pickle``, so errors can cross process boundaries (multiprocessing, task queues).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphql import GraphQLError

__all__ = [
    "AckTimeout",
    "ConnectTimeout",
    "GraphQLValidationError",
    "KeepAliveTimeout",
    "OperationTimeout",
    "SubscriptionOverflow",
    "TransportAlreadyConnected",
    "TransportClosed",
    "TransportConnectionFailed",
    "TransportError",
    "TransportProtocolError",
    "TransportQueryError",
    "TransportServerError",
]


class TransportError(Exception):
    """Base class of every exception raised by gqlws_sync."""

    #: A WebSocket close code or an HTTP status where one explains the error, else ``None``.
    code: int | None = None


class TransportConnectionFailed(TransportError):
    """The connection could not be opened (DNS, TCP, TLS, proxy).

    Nothing reached the GraphQL server, so retrying later is safe. ``code`` is 1015 for a TLS
    failure reported by close code, else ``None``.
    """

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TransportServerError(TransportError):
    """The server refused the connection or failed it.

    ``code`` is the HTTP status of a refused upgrade (401, 404, 503, ...) or the WebSocket close
    code the server sent (4403, 4500, 1011, ...). Whether a retry can help depends on the code.
    """

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TransportProtocolError(TransportError):
    """A peer broke the GraphQL-over-WebSocket protocol, or no common subprotocol was found.

    Retrying the same thing against the same server gives the same result.
    """

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TransportQueryError(TransportError):
    """The server answered this operation with GraphQL errors.

    The connection is unharmed; other operations go on. ``data`` holds partial data when the
    server sent any, ``errors`` the list of GraphQL error objects. ``code`` is ``None``.
    """

    def __init__(
        self,
        message: str,
        query_id: str | None = None,
        errors: list[Any] | None = None,
        data: dict[str, Any] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.query_id = query_id
        self.errors = errors
        self.data = data
        self.extensions = extensions


class TransportClosed(TransportError):
    """The connection is closed: by the client, by the server, or because it was lost.

    ``code`` is the WebSocket close code (1006 when the TCP connection ended without a Close
    frame, 1005 for a Close frame without a code) and ``reason`` the close reason. Operations
    that were in flight may or may not have run on the server; a new connection may succeed.
    """

    def __init__(self, message: str, code: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


class TransportAlreadyConnected(TransportError):
    """connect() was called on a client that is already connected. ``code`` is ``None``."""


class SubscriptionOverflow(TransportError):
    """A subscription's consumer fell behind: more than ``max_buffered_events`` results waited
    unread. The events buffered before the overflow were delivered first.

    Only this subscription ended (it was cancelled on the server); the connection and every
    other operation on it carry on. Subscribing again is safe. ``code`` is ``None``.
    """


class ConnectTimeout(TransportConnectionFailed, TimeoutError):
    """TCP connect, TLS handshake or the HTTP upgrade took longer than ``connect_timeout``."""


class AckTimeout(TransportServerError, TimeoutError):
    """The server did not send ``connection_ack`` within ``ack_timeout``."""


class OperationTimeout(TransportError, TimeoutError):
    """No result (``execute()``) or no next event (``subscribe()``) arrived within ``timeout``,
    or no connection could be had within it (the message then names the last connection
    error).

    The operation was cancelled on the server; the connection stays usable. ``code`` is
    ``None``.
    """


class KeepAliveTimeout(TransportClosed, TimeoutError):
    """The server went silent: no pong within ``pong_timeout`` or ``ws_pong_timeout``,
    nothing within ``keep_alive_timeout``, or it stopped reading what we send. The connection
    was closed; every operation on it failed."""


class GraphQLValidationError(GraphQLError):
    """The document is not valid against the client's schema; nothing was sent.

    ``errors`` holds graphql-core's error for each problem; the message lists them all,
    each with its place in the document (``line L, column C``). Fix the document: sending
    it again fails the same way. ``code`` is ``None``.
    """

    code: int | None = None

    def __init__(self, errors: Sequence[GraphQLError] | str) -> None:
        if isinstance(errors, str):
            self.errors: list[GraphQLError] = []
            super().__init__(errors)
            return
        self.errors = list(errors)
        problems = []
        for error in self.errors:
            where = ", ".join(
                f"line {location.line}, column {location.column}"
                for location in error.locations or ()
            )
            problems.append(f"{error.message} ({where})" if where else error.message)
        count = len(problems)
        super().__init__(
            f"the document is not valid against the schema ({count} "
            f"problem{'s' if count != 1 else ''}): " + "; ".join(problems)
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # graphql-core's errors lose their locations in pickle: carry them alongside.
        details = [(e.message, e.locations, e.path, e.extensions) for e in self.errors]
        return (_restore_validation_error, (self.message, details))


def _restore_validation_error(message: str, details: list[Any]) -> GraphQLValidationError:
    error = GraphQLValidationError(message)
    for text, locations, path, extensions in details:
        inner = GraphQLError(text, path=path, extensions=extensions)
        inner.locations = locations
        error.errors.append(inner)
    return error
