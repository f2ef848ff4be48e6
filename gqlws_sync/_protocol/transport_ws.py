"""Subprotocol ``graphql-transport-ws``, as defined by the graphql-ws library's PROTOCOL.md.

Wire rules this module enforces or relies on:

- ``connection_init`` once; nothing but ``ping``/``pong`` may precede ``connection_ack``.
- ``subscribe`` only after the ack; ``next`` carries an ExecutionResult; ``error`` (a list of
  GraphQL errors) and ``complete`` end an operation; the client cancels with ``complete``.
- ``ping`` must be answered by ``pong`` echoing its payload; unsolicited ``pong`` is allowed.
- The server signals every connection-level failure with a 44xx close code; the client closes
  with 4004 when the server breaks the protocol, 1000 on a clean shutdown.
"""

from __future__ import annotations

from typing import Any

from .base import ConnectionState, Protocol
from .events import Complete, ConnectionAck, Error, Event, Ping, Pong


class TransportWSProtocol(Protocol):
    subprotocol = "graphql-transport-ws"
    violation_close_code = 4004
    binary_close_code = 4004
    has_client_ping = True
    any_message_is_alive = True
    completes_queries = True
    _result_type = "next"
    _start_type = "subscribe"
    _cancel_type = "complete"

    def ping(self) -> str:
        return '{"type":"ping"}'

    def pong(self, payload: Any) -> str:
        if payload is None:
            return '{"type":"pong"}'
        return self._dumps({"type": "pong", "payload": payload})

    def _event(self, message: dict[str, Any]) -> Event | None:
        kind = message.get("type")
        # Results ("next") never come here: receive() takes them first.
        if kind == "complete":
            self._require_ack(kind)
            return Complete(self._op_id(message))
        if kind == "error":
            self._require_ack(kind)
            return Error(self._op_id(message), self._errors(message))
        if kind == "ping":
            return Ping(message.get("payload"))
        if kind == "pong":
            return Pong(message.get("payload"))
        if kind == "connection_ack":
            if self.state is not ConnectionState.INITIALISING:
                return None  # a repeated ack changes nothing
            self.state = ConnectionState.ACKNOWLEDGED
            payload = message.get("payload")
            return ConnectionAck(payload if type(payload) is dict else None)
        raise self._violation(f"server sent a message of unknown type {kind!r}")
