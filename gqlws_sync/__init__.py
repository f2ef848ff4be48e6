"""A synchronous, thread-backed GraphQL-over-WebSocket client."""

from __future__ import annotations

from .client import APOLLO_SUBPROTOCOL, GRAPHQLWS_SUBPROTOCOL, Client, Subscription
from .exceptions import (
    AckTimeout,
    ConnectTimeout,
    KeepAliveTimeout,
    OperationTimeout,
    TransportAlreadyConnected,
    TransportClosed,
    TransportConnectionFailed,
    TransportError,
    TransportProtocolError,
    TransportQueryError,
    TransportServerError,
)
from .options import ClientOptions

__version__ = "0.1.0"

__all__ = [
    "APOLLO_SUBPROTOCOL",
    "GRAPHQLWS_SUBPROTOCOL",
    "AckTimeout",
    "Client",
    "ClientOptions",
    "ConnectTimeout",
    "KeepAliveTimeout",
    "OperationTimeout",
    "Subscription",
    "TransportAlreadyConnected",
    "TransportClosed",
    "TransportConnectionFailed",
    "TransportError",
    "TransportProtocolError",
    "TransportQueryError",
    "TransportServerError",
    "__version__",
]
