"""A synchronous, thread-backed GraphQL-over-WebSocket client."""

from __future__ import annotations

import logging

from .client import APOLLO_SUBPROTOCOL, GRAPHQLWS_SUBPROTOCOL, Client, Subscription
from .exceptions import (
    AckTimeout,
    ConnectTimeout,
    GraphQLValidationError,
    KeepAliveTimeout,
    OperationTimeout,
    SubscriptionOverflow,
    TransportAlreadyConnected,
    TransportClosed,
    TransportConnectionFailed,
    TransportError,
    TransportProtocolError,
    TransportQueryError,
    TransportServerError,
)
from .options import ClientOptions, Reconnect

__version__ = "0.1.0"

# A library only logs; what is shown is the application's choice. Without this, Python's
# last-resort handler would print our warnings to stderr.
logging.getLogger("gqlws_sync").addHandler(logging.NullHandler())

__all__ = [
    "APOLLO_SUBPROTOCOL",
    "GRAPHQLWS_SUBPROTOCOL",
    "AckTimeout",
    "Client",
    "ClientOptions",
    "ConnectTimeout",
    "GraphQLValidationError",
    "KeepAliveTimeout",
    "OperationTimeout",
    "Reconnect",
    "Subscription",
    "SubscriptionOverflow",
    "TransportAlreadyConnected",
    "TransportClosed",
    "TransportConnectionFailed",
    "TransportError",
    "TransportProtocolError",
    "TransportQueryError",
    "TransportServerError",
    "__version__",
]
