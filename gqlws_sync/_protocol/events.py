"""What the server said, as typed events (one per text frame).

The protocol classes turn each frame into one of these; the connection's reader thread routes
operation events (``Next``, ``Error``, ``Complete``) to their operation's queue and handles the
connection-level ones itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ConnectionAck:
    """The server accepted ``connection_init``; operations may be started."""

    payload: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ConnectionRefused:
    """Apollo's ``connection_error``: init refused (before the ack) or a connection failure."""

    message: str


@dataclass(slots=True)  # not frozen: one per message, and frozen doubles the cost of making it
class Next:
    """One execution result for an operation: ``data``, ``errors`` and ``extensions`` keys."""

    id: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Error:
    """The operation failed as a whole; no more events follow for it."""

    id: str
    errors: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Complete:
    """The server finished the operation; no more events follow for it."""

    id: str


@dataclass(frozen=True, slots=True)
class Ping:
    """graphql-transport-ws ``ping``: must be answered with a ``pong`` at once."""

    payload: Any = None


@dataclass(frozen=True, slots=True)
class Pong:
    """graphql-transport-ws ``pong``: answers our ping, or an unsolicited heartbeat."""

    payload: Any = None


@dataclass(frozen=True, slots=True)
class KeepAlive:
    """Apollo ``ka``: the server is alive."""


Event = ConnectionAck | ConnectionRefused | Next | Error | Complete | Ping | Pong | KeepAlive
