"""Hooks the integration apps share for fault tests.

- ``record(field, tag)`` appends ``field<TAB>tag`` to the file named by ``GQLWS_JOURNAL``
  (nothing when unset). The file outlives the server process, so a test can count how often
  an operation reached the server across kills and restarts.
- ``Closable(app)`` wraps an ASGI app: ``POST /control/close?code=C&reason=R`` sends a Close
  frame with that code to every open WebSocket, as a server that ends sessions itself does.
  The app's later sends on those sockets are dropped, so it winds down quietly.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

JOURNAL_ENV = "GQLWS_JOURNAL"
CONTROL_CLOSE_PATH = "/control/close"

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]


def record(field: str, tag: str) -> None:
    """Note that ``field`` started running; one short append, atomic with O_APPEND."""
    path = os.environ.get(JOURNAL_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as journal:
            journal.write(f"{field}\t{tag}\n")


class _Socket:
    """One WebSocket's ``send``, which the control endpoint can close from outside."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.accepted = False
        self.closed = False

    async def send(self, message: Message) -> None:
        if self.closed:
            return  # closed by the control endpoint: the app's late results go nowhere
        if message["type"] == "websocket.accept":
            self.accepted = True
        elif message["type"] == "websocket.close":
            self.closed = True
        await self._send(message)

    async def close(self, code: int, reason: str) -> bool:
        if not self.accepted or self.closed:
            return False
        self.closed = True
        await self._send({"type": "websocket.close", "code": code, "reason": reason})
        return True


class Closable:
    """ASGI middleware adding ``POST /control/close?code=C&reason=R`` (see the module)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.sockets: set[_Socket] = set()

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == CONTROL_CLOSE_PATH:
            await self._control(scope, send)
            return
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        socket = _Socket(send)
        self.sockets.add(socket)
        try:
            await self.app(scope, receive, socket.send)
        finally:
            self.sockets.discard(socket)

    async def _control(self, scope: MutableMapping[str, Any], send: Send) -> None:
        query = parse_qs(scope.get("query_string", b"").decode())
        code = int(query.get("code", ["1000"])[0])
        reason = query.get("reason", [""])[0]
        closed = 0
        for socket in list(self.sockets):
            closed += await socket.close(code, reason)
        body = f"closed {closed}\n".encode()
        headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
