"""Strawberry with a custom ``Datetime`` scalar (ISO 8601 on the wire), for gql's
``serialize_variables`` and ``parse_result``; wrapped in ``Counting`` so that tests can see
how many sockets and messages reached the server. Run with ``uvicorn gql_app:app``.

A ``connection_init`` payload of ``{"refuse": true}`` is refused with close code 4403.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import datetime, timedelta
from typing import Any

import strawberry
from counting import Counting  # type: ignore[import-not-found]  # this folder, on PYTHONPATH
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types import Info

#: ``datetime`` fields and arguments use this scalar (see scalar_overrides below) instead of
#: Strawberry's built-in ``DateTime``, so that the name is the one in gql's documentation.
DATETIME = strawberry.scalar(
    name="Datetime",
    serialize=lambda value: value.isoformat(),
    parse_value=datetime.fromisoformat,
)

_state = {"active_ticks": 0}


@strawberry.type
class Partial:
    ok: str = "fine"

    @strawberry.field
    def bad(self) -> str | None:
        raise ValueError("bad field")


@strawberry.type
class Whoami:
    authorization: str | None
    init_token: str | None


@strawberry.type
class Query:
    @strawberry.field
    def hello(self, name: str = "world") -> str:
        return f"Hello {name}"

    @strawberry.field
    def echo(self, value: str) -> str:
        return value

    @strawberry.field
    def big(self, size: int) -> str:
        return "x" * size

    @strawberry.field
    def partial(self) -> Partial:
        return Partial()

    @strawberry.field
    async def slow(self, seconds: float) -> float:
        await asyncio.sleep(seconds)
        return seconds

    @strawberry.field
    def shift(self, at: datetime, hours: int) -> datetime:
        """``at`` arrives parsed (a datetime) only if the client sent ISO 8601."""
        return at + timedelta(hours=hours)

    @strawberry.field
    def whoami(self, info: Info[Any, Any]) -> Whoami:
        params = info.context.get("connection_params") or {}
        return Whoami(
            authorization=info.context["request"].headers.get("authorization"),
            init_token=params.get("Authorization"),
        )


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def clock(self, start: datetime, count: int) -> AsyncGenerator[datetime, None]:
        for hour in range(count):
            yield start + timedelta(hours=hour)
            await asyncio.sleep(0)

    @strawberry.subscription
    async def ticks(self, interval: float = 0.02) -> AsyncGenerator[int, None]:
        _state["active_ticks"] += 1
        try:
            i = 0
            while True:
                yield i
                i += 1
                await asyncio.sleep(interval)
        finally:
            _state["active_ticks"] -= 1

    @strawberry.subscription
    async def fail_after(self, n: int) -> AsyncGenerator[int, None]:
        for i in range(1, n + 1):
            yield i
            await asyncio.sleep(0)
        raise ValueError(f"failed after {n} events")


class _View(GraphQL[Any, Any]):
    async def on_ws_connect(self, context: Any) -> Any:
        params = context.get("connection_params") or {}
        if isinstance(params, dict) and params.get("refuse"):
            raise ConnectionRejectionError({"reason": "refused by test"})
        return await super().on_ws_connect(context)


schema = strawberry.Schema(
    query=Query, subscription=Subscription, scalar_overrides={datetime: DATETIME}
)
app = Counting(_View(schema))
