"""The demo schema: one field for every kind of result a client has to handle.

Each call of :func:`demo_schema` builds a new schema with its own state (the ``increment``
counter, the ``setMessage`` text), so tests sharing a process do not see each other's writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from graphql import GraphQLSchema, build_schema

if TYPE_CHECKING:
    from graphql import GraphQLResolveInfo

    Info = GraphQLResolveInfo[dict[str, Any]]

__all__ = ["BURST_FILLER", "burst_source", "demo_schema"]

_SDL = """
type Query {
  "Greets; the default name shows that argument defaults work."
  hello(name: String = "world"): String
  add(a: Int!, b: Int!): Int
  echo(value: String!): String
  "Always fails: a field error with null data."
  boom: String
  "ok resolves, bad fails: a field error next to partial data."
  partial: Partial
  "What the server saw of the client's credentials, in the headers and in connection_init."
  whoami: Whoami
  "Sleeps without blocking the server, then returns its argument."
  slow(seconds: Float!): Float
  "The subprotocol this connection speaks."
  subprotocol: String
  "The text last stored by setMessage."
  message: String
}

type Partial {
  ok: String
  bad: String
}

type Whoami {
  authorization: String
  initToken: String
}

type Mutation {
  increment(by: Int = 1): Int
  setMessage(text: String!): String
}

type Subscription {
  "from, from - 1, ... 1, then the stream ends."
  countdown(from: Int!): Int
  "0, 1, 2, ... every interval seconds, until cancelled."
  ticks(interval: Float = 0.05): Int
  "count events of exactly size ASCII characters each, as fast as the connection takes them."
  burst(count: Int!, size: Int!): String
  "1 ... n, then the source raises."
  failAfter(n: Int!): Int
}
"""

#: The character burst events are made of; one byte in UTF-8, so ``size`` is exact in bytes.
BURST_FILLER = "x"


async def burst_source(_root: Any, _info: Info, count: int, size: int) -> Any:
    """Yield ``count`` strings of ``size`` characters.

    The server recognises this function on a schema and then skips graphql-core entirely
    (see ``_burst_plan`` in ``_session``), so any other schema may reuse the name ``burst``
    without being short-circuited.
    """
    value = BURST_FILLER * size
    for index in range(count):
        yield value
        if index % 256 == 255:
            # Let the connection read a cancellation even when nothing else yields.
            await asyncio.sleep(0)


def demo_schema() -> GraphQLSchema:
    """Build a fresh demo schema with its own mutable state.

    Returns:
        A schema whose resolvers expect ``info.context`` to be the dict the reference server
        passes: ``headers``, ``init_payload`` and ``subprotocol``.
    """
    schema = build_schema(_SDL)
    state: dict[str, Any] = {"counter": 0, "message": None}

    def hello(_root: Any, _info: Info, name: str) -> str:
        return f"Hello {name}"

    def add(_root: Any, _info: Info, a: int, b: int) -> int:
        return a + b

    def echo(_root: Any, _info: Info, value: str) -> str:
        return value

    def boom(_root: Any, _info: Info) -> str:
        raise ValueError("boom")

    def partial(_root: Any, _info: Info) -> dict[str, Any]:
        return {}

    def partial_ok(_root: Any, _info: Info) -> str:
        return "fine"

    def partial_bad(_root: Any, _info: Info) -> str:
        raise ValueError("bad field")

    def whoami(_root: Any, info: Info) -> dict[str, Any]:
        context = info.context
        headers = context.get("headers") or {}
        init_payload = context.get("init_payload") or {}
        token = None
        if isinstance(init_payload, dict):
            token = init_payload.get("Authorization") or init_payload.get("authToken")
        return {"authorization": headers.get("authorization"), "initToken": token}

    async def slow(_root: Any, _info: Info, seconds: float) -> float:
        await asyncio.sleep(seconds)
        return seconds

    def subprotocol(_root: Any, info: Info) -> Any:
        return info.context.get("subprotocol")

    def message(_root: Any, _info: Info) -> Any:
        return state["message"]

    def increment(_root: Any, _info: Info, by: int) -> int:
        state["counter"] += by
        counter: int = state["counter"]
        return counter

    def set_message(_root: Any, _info: Info, text: str) -> str:
        state["message"] = text
        return text

    async def countdown(_root: Any, _info: Info, **kwargs: int) -> Any:
        # "from" is a Python keyword, hence **kwargs.
        for value in range(kwargs["from"], 0, -1):
            yield value
            await asyncio.sleep(0)

    async def ticks(_root: Any, _info: Info, interval: float) -> Any:
        value = 0
        while True:
            yield value
            value += 1
            await asyncio.sleep(interval)

    async def fail_after(_root: Any, _info: Info, n: int) -> Any:
        for value in range(1, n + 1):
            yield value
            await asyncio.sleep(0)
        raise RuntimeError(f"failed after {n} events")

    def event(value: Any, _info: Info, **_kwargs: Any) -> Any:
        return value

    resolvers: dict[str, dict[str, Callable[..., Any]]] = {
        "Query": {
            "hello": hello,
            "add": add,
            "echo": echo,
            "boom": boom,
            "partial": partial,
            "whoami": whoami,
            "slow": slow,
            "subprotocol": subprotocol,
            "message": message,
        },
        "Partial": {"ok": partial_ok, "bad": partial_bad},
        "Mutation": {"increment": increment, "setMessage": set_message},
    }
    for type_name, fields in resolvers.items():
        object_type: Any = schema.get_type(type_name)
        for field_name, resolver in fields.items():
            object_type.fields[field_name].resolve = resolver

    sources = {
        "countdown": countdown,
        "ticks": ticks,
        "burst": burst_source,
        "failAfter": fail_after,
    }
    assert schema.subscription_type is not None
    for field_name, source in sources.items():
        field = schema.subscription_type.fields[field_name]
        field.subscribe = source
        field.resolve = event
    return schema
