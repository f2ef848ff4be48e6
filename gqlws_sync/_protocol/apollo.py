"""Subprotocol ``graphql-ws``, Apollo's subscriptions-transport-ws protocol (unmaintained,
still spoken by many servers).

Wire rules this module enforces or tolerates:

- ``connection_init`` carries an object payload (``{}`` when there is none); the server answers
  ``connection_ack`` or refuses with ``connection_error`` (then usually closes 1011).
- ``start`` begins an operation; ``data`` carries a result; ``error`` (one object, sometimes a
  list) and ``complete`` end it; the client cancels with ``stop``.
- ``ka`` keep-alives go server to client only; there is no ping/pong in this protocol.
- Goodbye is ``stop`` for each live operation, then ``connection_terminate``.
- Servers differ: some send no ``complete`` after a query's ``data``, some report validation
  errors as ``data`` with only ``errors``. Both are handled above this layer.
"""

from __future__ import annotations

from typing import Any

from .base import ConnectionState, Protocol
from .events import Complete, ConnectionAck, ConnectionRefused, Error, Event, KeepAlive


class ApolloProtocol(Protocol):
    subprotocol = "graphql-ws"
    violation_close_code = 1002
    binary_close_code = 1003  # "unsupported data"
    has_client_ping = False
    any_message_is_alive = False
    completes_queries = False
    _result_type = "data"
    _start_type = "start"
    _cancel_type = "stop"

    def goodbye(self, live_ids: list[str]) -> list[str]:
        frames = [self.cancel(op_id) for op_id in live_ids]
        frames.append('{"type":"connection_terminate"}')
        super().goodbye(live_ids)
        return frames

    def _event(self, message: dict[str, Any]) -> Event | None:
        kind = message.get("type")
        # Results ("data") never come here: receive() takes them first.
        if kind == "complete":
            self._require_ack(kind)
            return Complete(self._op_id(message))
        if kind == "ka":
            return KeepAlive()
        if kind == "error":
            if message.get("id") is None:
                # Not about any operation: the server rejected something on the connection.
                return ConnectionRefused(_error_message(message.get("payload")))
            self._require_ack(kind)
            return Error(self._op_id(message), self._errors(message))
        if kind == "connection_ack":
            if self.state is not ConnectionState.INITIALISING:
                return None  # servers ack again on a repeated init; nothing changes
            self.state = ConnectionState.ACKNOWLEDGED
            payload = message.get("payload")
            return ConnectionAck(payload if type(payload) is dict else None)
        if kind == "connection_error":
            text = _error_message(message.get("payload"))
            self.refusal_message = text
            return ConnectionRefused(text)
        raise self._violation(f"server sent a message of unknown type {kind!r}")


def _error_message(payload: Any) -> str:
    if type(payload) is dict and isinstance(payload.get("message"), str):
        return str(payload["message"])
    if type(payload) is str:
        return payload
    return "no reason given"
