"""An Ariadne server for the integration tests, speaking both subprotocols on one endpoint
(the handler is chosen by the first subprotocol the client offers that Ariadne supports),
with the fault-test hooks of ``_testkit``. Run with ``uvicorn ariadne_app:app``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from typing import Any

from ariadne import (
    MutationType,
    ObjectType,
    QueryType,
    SubscriptionType,
    make_executable_schema,
)
from ariadne.asgi import GraphQL
from ariadne.asgi.handlers import GraphQLTransportWSHandler, GraphQLWSHandler

try:  # run by uvicorn, the apps folder is on sys.path; checked by mypy, it is a package
    from ._testkit import Closable, record
except ImportError:
    from _testkit import Closable, record  # type: ignore[import-not-found,no-redef]

type_defs = """
type Query {
  hello(name: String = "world"): String
  echo(value: String!): String
  whoami: Whoami
  activeTicks: Int
  partial: Partial
  slow(seconds: Float!, tag: String = ""): Float
}
type Partial { ok: String, bad: String }
type Whoami { authorization: String, initToken: String }
type Mutation {
  increment(by: Int = 1): Int
  slowIncrement(seconds: Float!, tag: String = ""): Int
}
type Subscription {
  countdown(from: Int!): Int
  ticks(interval: Float = 0.02): Int
  failAfter(n: Int!): Int
  clock(interval: Float = 0.02): Float
}
"""

_state = {"counter": 0, "active_ticks": 0}
query = QueryType()
mutation = MutationType()
subscription = SubscriptionType()


@query.field("hello")
def resolve_hello(_: Any, __: Any, name: str) -> str:
    return f"Hello {name}"


@query.field("echo")
def resolve_echo(_: Any, __: Any, value: str) -> str:
    return value


@query.field("partial")
def resolve_partial(_: Any, __: Any) -> dict[str, Any]:
    return {"ok": "fine"}


partial = ObjectType("Partial")


@partial.field("bad")
def resolve_bad(_: Any, __: Any) -> str:
    raise ValueError("bad field")


@query.field("slow")
async def resolve_slow(_: Any, __: Any, seconds: float, tag: str) -> float:
    record("slow", tag)
    await asyncio.sleep(seconds)
    return seconds


@query.field("activeTicks")
def resolve_active(_: Any, __: Any) -> int:
    return _state["active_ticks"]


@query.field("whoami")
def resolve_whoami(_: Any, info: Any) -> dict[str, Any]:
    request = info.context["request"]
    payload = request.scope.get("connection_params") or {}
    return {
        "authorization": request.headers.get("authorization"),
        "initToken": payload.get("Authorization") or payload.get("authToken"),
    }


@mutation.field("increment")
def resolve_increment(_: Any, __: Any, by: int) -> int:
    record("increment", "")
    _state["counter"] += by
    return _state["counter"]


@mutation.field("slowIncrement")
async def resolve_slow_increment(_: Any, __: Any, seconds: float, tag: str) -> int:
    record("slowIncrement", tag)
    await asyncio.sleep(seconds)
    _state["counter"] += 1
    return _state["counter"]


@subscription.source("countdown")
async def countdown_source(_: Any, __: Any, **kwargs: int) -> AsyncGenerator[int, None]:
    for i in range(kwargs["from"], 0, -1):
        yield i
        await asyncio.sleep(0)


@subscription.source("ticks")
async def ticks_source(_: Any, __: Any, interval: float) -> AsyncGenerator[int, None]:
    _state["active_ticks"] += 1
    try:
        i = 0
        while True:
            yield i
            i += 1
            await asyncio.sleep(interval)
    finally:
        _state["active_ticks"] -= 1


@subscription.source("failAfter")
async def fail_source(_: Any, __: Any, n: int) -> AsyncGenerator[int, None]:
    for i in range(1, n + 1):
        yield i
        await asyncio.sleep(0)
    raise ValueError(f"failed after {n} events")


@subscription.source("clock")
async def clock_source(_: Any, __: Any, interval: float) -> AsyncGenerator[float, None]:
    while True:
        yield time.time() * 1000
        await asyncio.sleep(interval)


for name in ("countdown", "ticks", "failAfter", "clock"):
    subscription.set_field(name, lambda value, *_, **__: value)

schema = make_executable_schema(type_defs, query, mutation, subscription, partial)


def _on_connect(websocket: Any, payload: Any) -> None:
    # Ariadne hands the init payload here; keep it where resolvers can read it.
    websocket.scope["connection_params"] = payload if isinstance(payload, dict) else {}


_apps = {
    "graphql-transport-ws": GraphQL(
        schema, websocket_handler=GraphQLTransportWSHandler(on_connect=_on_connect)
    ),
    "graphql-ws": GraphQL(schema, websocket_handler=GraphQLWSHandler(on_connect=_on_connect)),
}


async def _app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "websocket":
        for token in scope.get("subprotocols") or []:
            if token in _apps:
                await _apps[token](scope, receive, send)
                return
    await _apps["graphql-transport-ws"](scope, receive, send)


app = Closable(_app)
