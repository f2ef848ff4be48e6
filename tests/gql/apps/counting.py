"""An ASGI wrapper that counts what clients do on the wire, for tests in another process.

``GET /stats`` answers the counters as JSON: ``connects`` (WebSocket upgrades), ``open``
(connections not yet ended), and ``received_<type>`` for every message type clients sent
(``received_subscribe``, ``received_complete``, ``received_start``, ``received_stop``, ...).
``GET /stats?open=0&received_complete=1&timeout=5`` waits until every named counter has that
value (or the timeout passes) and adds ``"met": true/false``; ``POST /stats/reset`` zeroes them.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any
from urllib.parse import parse_qsl

Scope = dict[str, Any]
Message = dict[str, Any]


class Counting:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.stats: Counter[str] = Counter()
        self._changed: asyncio.Condition | None = None

    @property
    def changed(self) -> asyncio.Condition:
        # Created in the server's event loop, on first use.
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    async def _bump(self, key: str, by: int = 1) -> None:
        async with self.changed:
            self.stats[key] += by
            self.changed.notify_all()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/stats"):
            await self._answer(scope, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _websocket(self, scope: Scope, receive: Any, send: Any) -> None:
        await self._bump("connects")
        await self._bump("open")

        async def counting_receive() -> Message:
            message: Message = await receive()
            text = message.get("text") if message["type"] == "websocket.receive" else None
            if text:
                try:
                    kind = json.loads(text).get("type")
                except (ValueError, AttributeError):
                    kind = "invalid"
                await self._bump(f"received_{kind}")
            return message

        try:
            await self.app(scope, counting_receive, send)
        finally:
            await self._bump("open", -1)

    async def _answer(self, scope: Scope, send: Any) -> None:
        if scope["method"] == "POST" and scope["path"] == "/stats/reset":
            async with self.changed:
                open_now = self.stats["open"]
                self.stats.clear()
                self.stats["open"] = open_now
            body: dict[str, Any] = dict(self.stats)
        else:
            query = dict(parse_qsl(scope["query_string"].decode()))
            timeout = float(query.pop("timeout", "0"))
            wanted = {key: int(value) for key, value in query.items()}

            def met() -> bool:
                return all(self.stats[key] == value for key, value in wanted.items())

            async with self.changed:
                try:
                    await asyncio.wait_for(self.changed.wait_for(met), timeout)
                except asyncio.TimeoutError:
                    pass
                body = dict(self.stats, met=met())
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": payload})
