"""Servers that can be killed, stopped gracefully and started again on the same port, each
behind a fault-injecting proxy, with a journal that counts what reached them.

A ``Target`` is one server speaking one subprotocol, reached through a fresh ``Proxy``:
Strawberry under uvicorn, the Node graphql-ws and subscriptions-transport-ws servers (one
process each per module, started again in place after a test kills it), or the reference
server (one per test). Every server serves the same fields: ``echo``, ``slow(seconds, tag)``,
``slowIncrement(seconds, tag)`` (journalled before they sleep) and ``clock(interval)``
(wall-clock milliseconds, so a stream stays increasing across a restart).

Timings recorded with ``record_timing`` are written as JSON (``GQLWS_FAULT_TIMINGS`` names
the file; else it goes under pytest's base temporary directory) and shown as a table at the
end of the run.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
from graphql import GraphQLSchema, build_schema

from gqlws_sync import APOLLO_SUBPROTOCOL, GRAPHQLWS_SUBPROTOCOL, Client
from gqlws_sync.testing import ReferenceServer, ServerFactory

from ..integration.conftest import NodeServer, UvicornServer, requires_node
from ._proxy import Proxy

GTW = GRAPHQLWS_SUBPROTOCOL
APOLLO = APOLLO_SUBPROTOCOL

#: Bound on every wait for something that must happen (detection, reconnection, answers).
BOUND = 10.0
#: Bound on waiting for an operation to show up in a journal.
JOURNAL_TIMEOUT = 5.0
#: How often a file journal is read while waiting: the server is another process and gives
#: no signal when it writes, so the file is polled.
_JOURNAL_POLL = 0.005


# -- journals -----------------------------------------------------------------------------


class Journal(Protocol):
    """What reached a server: one entry per resolver start, by field and tag."""

    def count(self, field: str, tag: str) -> int: ...

    def wait_for(
        self, field: str, tag: str, count: int = 1, timeout: float = JOURNAL_TIMEOUT
    ) -> None: ...


class MemoryJournal:
    """The reference server's journal: resolvers append on the server's loop thread; tests
    wait on a condition."""

    def __init__(self) -> None:
        self._entries: list[tuple[str, str]] = []
        self._changed = threading.Condition()

    def record(self, field: str, tag: str) -> None:
        with self._changed:
            self._entries.append((field, tag))
            self._changed.notify_all()

    def count(self, field: str, tag: str) -> int:
        with self._changed:
            return self._entries.count((field, tag))

    def wait_for(
        self, field: str, tag: str, count: int = 1, timeout: float = JOURNAL_TIMEOUT
    ) -> None:
        with self._changed:
            if not self._changed.wait_for(
                lambda: self._entries.count((field, tag)) >= count, timeout
            ):
                raise TimeoutError(f"{field} {tag!r} not journalled {count} times in {timeout} s")


class FileJournal:
    """A server process's journal: the file named by ``GQLWS_JOURNAL`` (``_testkit.record``
    and ``node/schema.js``), which outlives the process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.touch()

    def count(self, field: str, tag: str) -> int:
        entry = f"{field}\t{tag}"
        return self.path.read_text(encoding="utf-8").splitlines().count(entry)

    def wait_for(
        self, field: str, tag: str, count: int = 1, timeout: float = JOURNAL_TIMEOUT
    ) -> None:
        deadline = time.monotonic() + timeout
        while self.count(field, tag) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{field} {tag!r} not journalled {count} times in {timeout} s")
            time.sleep(_JOURNAL_POLL)  # nothing to wait on: see _JOURNAL_POLL


# -- the reference server's schema --------------------------------------------------------

_SDL = """
type Query {
  hello: String
  echo(value: String!): String
  add(a: Int!, b: Int!): Int
  slow(seconds: Float!, tag: String = ""): Float
}
type Mutation {
  increment(by: Int = 1): Int
  slowIncrement(seconds: Float!, tag: String = ""): Int
}
type Subscription {
  clock(interval: Float = 0.02): Float
  "key's next values up to count - 1, resumed where the server left off after a resubscribe."
  seq(key: String!, count: Int!, interval: Float = 0): Int
}
"""


def resilience_schema(journal: MemoryJournal) -> GraphQLSchema:
    """The fields every target serves, for the reference server; state lives in the schema,
    so a reference server started again with the same schema carries on."""
    schema = build_schema(_SDL)
    state: dict[str, Any] = {"counter": 0, "seq": {}}

    async def slow(_root: Any, _info: Any, seconds: float, tag: str) -> float:
        journal.record("slow", tag)
        await asyncio.sleep(seconds)
        return seconds

    def increment(_root: Any, _info: Any, by: int) -> int:
        journal.record("increment", "")
        state["counter"] += by
        counter: int = state["counter"]
        return counter

    async def slow_increment(_root: Any, _info: Any, seconds: float, tag: str) -> int:
        journal.record("slowIncrement", tag)
        await asyncio.sleep(seconds)
        state["counter"] += 1
        counter: int = state["counter"]
        return counter

    async def clock(_root: Any, _info: Any, interval: float) -> Any:
        while True:
            yield time.time() * 1000
            await asyncio.sleep(interval)

    async def seq(_root: Any, _info: Any, key: str, count: int, interval: float) -> Any:
        progress: dict[str, int] = state["seq"]
        while (value := progress.get(key, 0)) < count:
            progress[key] = value + 1
            yield value
            await asyncio.sleep(interval)

    resolvers: dict[str, dict[str, Callable[..., Any]]] = {
        "Query": {
            "hello": lambda *_: "Hello world",
            "echo": lambda _root, _info, value: value,
            "add": lambda _root, _info, a, b: a + b,
            "slow": slow,
        },
        "Mutation": {"increment": increment, "slowIncrement": slow_increment},
    }
    for type_name, fields in resolvers.items():
        object_type: Any = schema.get_type(type_name)
        for name, resolver in fields.items():
            object_type.fields[name].resolve = resolver
    assert schema.subscription_type is not None
    for name, source in (("clock", clock), ("seq", seq)):
        field = schema.subscription_type.fields[name]
        field.subscribe = source
        field.resolve = lambda value, *_, **__: value
    return schema


# -- targets ------------------------------------------------------------------------------


class Target:
    """One server speaking one subprotocol, behind its own proxy.

    ``kill()``, ``terminate()`` and the close and proxy faults end the connection; the
    server stays down after ``kill()`` and ``terminate()`` until ``revive()``.
    """

    #: The close code a client sees when the server shuts down gracefully.
    graceful_code: int
    #: Whether queries and mutations run (Strawberry refuses them over Apollo's protocol).
    queries = True

    def __init__(self, name: str, subprotocol: str, proxy: Proxy, journal: Journal) -> None:
        self.name = name
        self.subprotocol = subprotocol
        self.proxy = proxy
        self.journal = journal

    @property
    def url(self) -> str:
        return self.proxy.url()

    def kill(self) -> None:
        raise NotImplementedError

    def terminate(self) -> None:
        raise NotImplementedError

    def revive(self) -> None:
        raise NotImplementedError

    def close_connections(self, code: int, reason: str) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<Target {self.name}>"


class ProcessTarget(Target):
    """A server process: SIGKILL, SIGTERM, and a new process on the same port."""

    def __init__(
        self,
        name: str,
        subprotocol: str,
        proxy: Proxy,
        journal: Journal,
        *,
        server: UvicornServer | NodeServer,
        graceful_code: int,
        queries: bool,
    ) -> None:
        super().__init__(name, subprotocol, proxy, journal)
        self.server = server
        self.graceful_code = graceful_code
        self.queries = queries

    def kill(self) -> None:
        self.server.kill()

    def terminate(self) -> None:
        self.server.terminate()

    def revive(self) -> None:
        self.server.start()

    def close_connections(self, code: int, reason: str) -> None:
        assert self.server.close_connections(code, reason) >= 1


class ReferenceTarget(Target):
    """The reference server, in this process. A kill is its TCP connections aborted while
    the proxy refuses new ones (the port is closed); a graceful stop is ``stop()``, which
    closes them with 1001. ``revive()`` starts a new one on the same port and schema."""

    graceful_code = 1001

    def __init__(
        self,
        name: str,
        subprotocol: str,
        proxy: Proxy,
        journal: MemoryJournal,
        *,
        factory: ServerFactory,
        server: ReferenceServer,
    ) -> None:
        super().__init__(name, subprotocol, proxy, journal)
        self.factory = factory
        self.server = server

    def kill(self) -> None:
        self.proxy.refuse()
        self.server.drop_connections()
        self.server.stop()

    def terminate(self) -> None:
        self.proxy.refuse()
        self.server.stop()

    def revive(self) -> None:
        self.server = self.factory(self.server.schema, port=self.server.port)
        self.proxy.restore()

    def close_connections(self, code: int, reason: str) -> None:
        self.server.close_connections(code, reason)


#: id -> (server kind, subprotocol)
TARGETS = {
    "strawberry-gtw": ("strawberry", GTW),
    "strawberry-apollo": ("strawberry", APOLLO),
    "graphql-ws-gtw": ("graphql-ws", GTW),
    "stws-apollo": ("stws", APOLLO),
    "reference-gtw": ("reference", GTW),
    "reference-apollo": ("reference", APOLLO),
}

TARGET_PARAMS = [
    pytest.param(name, id=name, marks=[requires_node] if kind in ("graphql-ws", "stws") else [])
    for name, (kind, _) in TARGETS.items()
]


def _journal_path(factory: pytest.TempPathFactory, name: str) -> Path:
    return factory.mktemp("journal") / f"{name}.log"


@pytest.fixture(scope="module")
def strawberry_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UvicornServer]:
    path = _journal_path(tmp_path_factory, "strawberry")
    server = UvicornServer("strawberry_app", env={"GQLWS_JOURNAL": str(path)})
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _node_process(factory: pytest.TempPathFactory, script: str) -> Iterator[NodeServer]:
    path = _journal_path(factory, script)
    server = NodeServer(script, {"GQLWS_JOURNAL": str(path)})
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def graphql_ws_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeServer]:
    yield from _node_process(tmp_path_factory, "graphql_ws_server.js")


@pytest.fixture(scope="module")
def stws_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeServer]:
    yield from _node_process(tmp_path_factory, "subscriptions_transport_ws_server.js")


_PROCESS_FIXTURES = {
    "strawberry": ("strawberry_process", 1012),  # uvicorn closes 1012 on SIGTERM
    "graphql-ws": ("graphql_ws_process", 1006),  # Node exits on SIGTERM: TCP dropped
    "stws": ("stws_process", 1006),
}


@pytest.fixture
def target(request: pytest.FixtureRequest, gqlws_server_factory: ServerFactory) -> Iterator[Target]:
    """The target named by the test's ``target`` parameter, behind a fresh proxy."""
    name: str = request.param
    kind, subprotocol = TARGETS[name]
    built: Target
    if kind == "reference":
        journal = MemoryJournal()
        server = gqlws_server_factory(resilience_schema(journal))
        proxy = Proxy(server.port).start()
        built = ReferenceTarget(
            name, subprotocol, proxy, journal, factory=gqlws_server_factory, server=server
        )
    else:
        fixture, graceful_code = _PROCESS_FIXTURES[kind]
        process: UvicornServer | NodeServer = request.getfixturevalue(fixture)
        if process.process is None or process.process.poll() is not None:
            process.start()  # an earlier test left it down
        assert process.env["GQLWS_JOURNAL"]
        proxy = Proxy(process.port).start()
        built = ProcessTarget(
            name,
            subprotocol,
            proxy,
            FileJournal(Path(process.env["GQLWS_JOURNAL"])),
            server=process,
            graceful_code=graceful_code,
            queries=name != "strawberry-apollo",
        )
    try:
        yield built
    finally:
        built.proxy.stop()
        if isinstance(built, ProcessTarget):
            process = built.server
            if process.process is None or process.process.poll() is not None:
                process.start()  # leave it up for the next test


# -- callbacks ---------------------------------------------------------------------------


class Callbacks:
    """``on_connect`` / ``on_disconnect``: when each ran, and with which error."""

    def __init__(self, bound: float = BOUND) -> None:
        self.bound = bound
        self.connects: list[float] = []
        self.disconnects: list[tuple[float, BaseException]] = []
        self.threads: list[str] = []
        self._changed = threading.Condition()

    def on_connect(self, client: Client) -> None:
        with self._changed:
            self.connects.append(time.monotonic())
            self.threads.append(threading.current_thread().name)
            self._changed.notify_all()

    def on_disconnect(self, client: Client, error: BaseException) -> None:
        with self._changed:
            self.disconnects.append((time.monotonic(), error))
            self._changed.notify_all()

    def wait_connects(self, count: int) -> float:
        """Block until ``count`` connects; return when the ``count``-th happened."""
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.connects) >= count, self.bound), (
                f"{len(self.connects)} connects, not {count}, within {self.bound} s"
            )
            return self.connects[count - 1]

    def wait_disconnect(self) -> tuple[float, BaseException]:
        with self._changed:
            assert self._changed.wait_for(lambda: bool(self.disconnects), self.bound), (
                f"no on_disconnect within {self.bound} s"
            )
            return self.disconnects[0]


# -- timings ------------------------------------------------------------------------------

_timings: list[dict[str, Any]] = []


def record_timing(**row: Any) -> None:
    """Keep one measurement for the end-of-run table and the JSON file; print it too (``-s``)."""
    _timings.append(row)
    print("timing " + json.dumps(row, sort_keys=True))


_timings_file: list[Path] = []


@pytest.fixture(scope="session", autouse=True)
def _timings_destination(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Where the end-of-run hook writes the timings: ``GQLWS_FAULT_TIMINGS`` or the base
    temporary directory (the hook itself cannot reach fixtures)."""
    named = os.environ.get("GQLWS_FAULT_TIMINGS")
    path = Path(named) if named else tmp_path_factory.getbasetemp() / "fault-timings.json"
    _timings_file[:] = [path]


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value * 1000:.0f}"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _timings or not _timings_file:
        return
    path = _timings_file[0]
    path.write_text(json.dumps(_timings, indent=1, sort_keys=True), encoding="utf-8")
    write = terminalreporter.write_line
    terminalreporter.section("fault detection and recovery (ms)")
    write(f"{'target':18} {'fault':11} {'reconnect':9} {'detect':>7} {'recover':>8}  seen")
    for row in sorted(_timings, key=lambda r: (r["target"], r["fault"], not r["reconnect"])):
        write(
            f"{row['target']:18} {row['fault']:11} {'on' if row['reconnect'] else 'off':9} "
            f"{_ms(row.get('detection_s')):>7} {_ms(row.get('recovery_s')):>8}  "
            f"{row.get('seen', '')}"
        )
    write(f"written to {path}")
