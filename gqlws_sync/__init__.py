"""A synchronous, thread-backed GraphQL-over-WebSocket client."""

from __future__ import annotations

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

__version__ = "0.1.0"

__all__ = [
    "AckTimeout",
    "ConnectTimeout",
    "KeepAliveTimeout",
    "OperationTimeout",
    "TransportAlreadyConnected",
    "TransportClosed",
    "TransportConnectionFailed",
    "TransportError",
    "TransportProtocolError",
    "TransportQueryError",
    "TransportServerError",
    "__version__",
]
