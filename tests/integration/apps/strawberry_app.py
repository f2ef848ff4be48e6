"""A Strawberry server for the integration tests: the demo schema's fields, Strawberry's
own protocol handling, and the fault-test hooks of ``_testkit`` (a journal of operations,
an endpoint that closes every WebSocket with a given code). Run with
``uvicorn strawberry_app:app``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from typing import Annotated, Any

import strawberry
from strawberry.asgi import GraphQL
from strawberry.types import Info

try:  # run by uvicorn, the apps folder is on sys.path; checked by mypy, it is a package
    from ._testkit import Closable, record
except ImportError:
    from _testkit import Closable, record  # type: ignore[import-not-found,no-redef]

_state = {"counter": 0, "active_ticks": 0}


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


def _init_payload(info: Info[Any, Any]) -> dict[str, Any]:
    context = info.context
    params = context.get("connection_params") if isinstance(context, dict) else None
    return params if isinstance(params, dict) else {}


@strawberry.type
class Query:
    @strawberry.field
    def hello(self, name: str = "world") -> str:
        return f"Hello {name}"

    @strawberry.field
    def add(self, a: int, b: int) -> int:
        return a + b

    @strawberry.field
    def echo(self, value: str) -> str:
        return value

    @strawberry.field
    def partial(self) -> Partial:
        return Partial()

    @strawberry.field
    def active_ticks(self) -> int:
        return _state["active_ticks"]

    @strawberry.field
    async def slow(self, seconds: float, tag: str = "") -> float:
        record("slow", tag)
        await asyncio.sleep(seconds)
        return seconds

    @strawberry.field
    def whoami(self, info: Info[Any, Any]) -> Whoami:
        request = info.context["request"]
        payload = _init_payload(info)
        return Whoami(
            authorization=request.headers.get("authorization"),
            init_token=payload.get("Authorization") or payload.get("authToken"),
        )


@strawberry.type
class Mutation:
    @strawberry.mutation
    def increment(self, by: int = 1) -> int:
        record("increment", "")
        _state["counter"] += by
        return _state["counter"]

    @strawberry.mutation
    async def slow_increment(self, seconds: float, tag: str = "") -> int:
        """Recorded first, then applied after ``seconds``: a mutation a test can catch in flight."""
        record("slowIncrement", tag)
        await asyncio.sleep(seconds)
        _state["counter"] += 1
        return _state["counter"]


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def countdown(
        self, from_: Annotated[int, strawberry.argument(name="from")]
    ) -> AsyncGenerator[int, None]:
        for i in range(from_, 0, -1):
            yield i
            await asyncio.sleep(0)

    @strawberry.subscription
    async def echoes(self, tag: str, count: int) -> AsyncGenerator[str, None]:
        for i in range(count):
            yield f"{tag}-{i}"
            await asyncio.sleep(0.001)

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
    async def clock(self, interval: float = 0.02) -> AsyncGenerator[float, None]:
        """Wall-clock milliseconds every ``interval``: increasing across server restarts."""
        while True:
            yield time.time() * 1000
            await asyncio.sleep(interval)

    @strawberry.subscription
    async def fail_after(self, n: int) -> AsyncGenerator[int, None]:
        for i in range(1, n + 1):
            yield i
            await asyncio.sleep(0)
        raise ValueError(f"failed after {n} events")


schema = strawberry.Schema(query=Query, mutation=Mutation, subscription=Subscription)
app = Closable(GraphQL(schema))
