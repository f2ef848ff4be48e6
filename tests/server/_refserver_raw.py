"""A raw websocket-client peer for the reference server's conformance tests.

The tests in this directory check the server frame by frame, so they never use gqlws_sync's own
client: a bug there must not hide a bug here. Every receive has a socket timeout.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Sequence
from typing import Any

import websocket

GTW = "graphql-transport-ws"
APOLLO = "graphql-ws"
BOTH = (GTW, APOLLO)

#: Timing factor: every interval and silence window in these tests is a multiple of it.
MS = 0.001
#: How long a test listens to prove that nothing arrives.
SILENCE = 300 * MS
#: Bound on every receive that is expected to succeed.
TIMEOUT = 5.0

TEXT = websocket.ABNF.OPCODE_TEXT
BINARY = websocket.ABNF.OPCODE_BINARY
CLOSE = websocket.ABNF.OPCODE_CLOSE
PING = websocket.ABNF.OPCODE_PING
PONG = websocket.ABNF.OPCODE_PONG

RESULT = {GTW: "next", APOLLO: "data"}
START = {GTW: "subscribe", APOLLO: "start"}
CANCEL = {GTW: "complete", APOLLO: "stop"}


class Closed(AssertionError):
    """A close frame came where a message was expected."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"connection closed with {code} {reason!r}")
        self.code = code
        self.reason = reason


class RawClient:
    """One websocket-client connection, speaking JSON messages by hand."""

    def __init__(
        self,
        url: str,
        subprotocols: Sequence[str] | None = (GTW,),
        *,
        header: Sequence[str] = (),
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = TIMEOUT,
    ) -> None:
        options: dict[str, Any] = {"header": list(header), "skip_utf8_validation": True}
        if subprotocols is not None:
            options["subprotocols"] = list(subprotocols)
        if ssl_context is not None:
            options["sslopt"] = {"context": ssl_context}
        self.ws = websocket.create_connection(url, timeout=timeout, **options)

    @property
    def subprotocol(self) -> str | None:
        headers = self.ws.getheaders() or {}
        value: str | None = headers.get("sec-websocket-protocol")
        return value

    def send(self, message: dict[str, Any]) -> None:
        self.ws.send(json.dumps(message))

    def send_text(self, text: str) -> None:
        self.ws.send(text)

    def send_binary(self, data: bytes) -> None:
        self.ws.send_binary(data)

    def frame(self, timeout: float = TIMEOUT) -> tuple[int, bytes]:
        """Return the next frame, control frames included, as (opcode, payload)."""
        self.ws.settimeout(timeout)
        opcode, frame = self.ws.recv_data_frame(True)
        return int(opcode), bytes(frame.data)

    def recv(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """Return the next JSON message, skipping WebSocket Ping and Pong frames.

        Raises:
            Closed: A close frame came instead.
        """
        while True:
            opcode, data = self.frame(timeout)
            if opcode == CLOSE:
                raise Closed(*_close_body(data))
            if opcode == TEXT:
                message: dict[str, Any] = json.loads(data)
                return message
            assert opcode in (PING, PONG), f"unexpected frame {opcode}: {data!r}"

    def recv_type(self, type_: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        message = self.recv(timeout)
        assert message["type"] == type_, message
        return message

    def recv_close(self, timeout: float = TIMEOUT) -> tuple[int | None, str]:
        """Read until the close frame and return its code and reason; fail on any message.

        websocket-client has answered the close frame by then but keeps the socket open; shut
        it, as a real client does, or the server waits ``close_timeout`` for the TCP end.
        """
        while True:
            opcode, data = self.frame(timeout)
            if opcode == CLOSE:
                self.shutdown()
                return _close_body(data)
            assert opcode in (PING, PONG), f"expected a close frame, got {opcode}: {data!r}"

    def expect_silence(self, seconds: float = SILENCE) -> None:
        """Assert that no frame at all arrives within ``seconds``."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                opcode, data = self.frame(left)
            except websocket.WebSocketTimeoutException:
                return
            raise AssertionError(f"expected silence, got frame {opcode}: {data!r}")

    def init(self, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send connection_init and return the connection_ack."""
        message: dict[str, Any] = {"type": "connection_init"}
        if payload is not None:
            message["payload"] = payload
        self.send(message)
        return self.recv_type("connection_ack")

    def start(
        self,
        protocol: str,
        op_id: str,
        query: str,
        variables: dict[str, Any] | None = None,
        operation_name: str | None = None,
    ) -> None:
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = variables
        if operation_name is not None:
            payload["operationName"] = operation_name
        self.send({"type": START[protocol], "id": op_id, "payload": payload})

    def results(self, protocol: str, op_id: str, limit: int = 10_000) -> list[Any]:
        """Collect the ``data`` of each result for ``op_id`` until its complete."""
        values: list[Any] = []
        for _ in range(limit):
            message = self.recv()
            if message["type"] == "complete":
                assert message["id"] == op_id, message
                return values
            assert message["type"] == RESULT[protocol], message
            assert message["id"] == op_id, message
            values.append(message["payload"]["data"])
        raise AssertionError(f"no complete after {limit} results")

    def close(self) -> None:
        self.ws.close(timeout=1)

    def shutdown(self) -> None:
        """Close the socket without a close frame (and after one, as websocket-client won't)."""
        self.ws.shutdown()  # type: ignore[no-untyped-call]  # websocket-client lacks a hint here


def _close_body(data: bytes) -> tuple[int | None, str]:
    if len(data) < 2:
        return None, ""
    return int.from_bytes(data[:2], "big"), data[2:].decode()


class ClientPool:
    """Opens raw clients and shuts them all down at the end of a test."""

    def __init__(self) -> None:
        self.opened: list[RawClient] = []

    def raw(
        self, url: str, subprotocols: Sequence[str] | None = (GTW,), **kwargs: Any
    ) -> RawClient:
        """Open a connection offering ``subprotocols``; nothing is sent."""
        client = RawClient(url, subprotocols, **kwargs)
        self.opened.append(client)
        return client

    def connect(self, url: str, protocol: str, *, init: bool = True, **kwargs: Any) -> RawClient:
        """Open a connection speaking ``protocol`` and, by default, get it acknowledged."""
        client = self.raw(url, (protocol,), **kwargs)
        assert client.subprotocol == protocol
        if init:
            client.init()
        return client

    def shutdown(self) -> None:
        for client in self.opened:
            client.shutdown()
