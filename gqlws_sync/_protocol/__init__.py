"""The I/O-free protocol layer: one class per GraphQL-over-WebSocket subprotocol."""

from __future__ import annotations

from .apollo import ApolloProtocol
from .base import (
    ConnectionState,
    JsonDumps,
    JsonLoads,
    LocalProtocolError,
    Protocol,
    RemoteProtocolError,
)
from .closecodes import RETRYABLE_CODES, close_error, is_retryable
from .transport_ws import TransportWSProtocol

GRAPHQLWS_SUBPROTOCOL = TransportWSProtocol.subprotocol
APOLLO_SUBPROTOCOL = ApolloProtocol.subprotocol

PROTOCOLS: dict[str, type[Protocol]] = {
    GRAPHQLWS_SUBPROTOCOL: TransportWSProtocol,
    APOLLO_SUBPROTOCOL: ApolloProtocol,
}

__all__ = [
    "APOLLO_SUBPROTOCOL",
    "GRAPHQLWS_SUBPROTOCOL",
    "PROTOCOLS",
    "RETRYABLE_CODES",
    "ApolloProtocol",
    "ConnectionState",
    "JsonDumps",
    "JsonLoads",
    "LocalProtocolError",
    "Protocol",
    "RemoteProtocolError",
    "TransportWSProtocol",
    "close_error",
    "is_retryable",
]
