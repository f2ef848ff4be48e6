"""The client against real third-party servers: Strawberry and Ariadne, both subprotocols."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from graphql import ExecutionResult, parse

from gqlws_sync import (
    APOLLO_SUBPROTOCOL,
    GRAPHQLWS_SUBPROTOCOL,
    Client,
    TransportClosed,
    TransportConnectionFailed,
    TransportQueryError,
)

from .conftest import UvicornServer

GTW = GRAPHQLWS_SUBPROTOCOL
APOLLO = APOLLO_SUBPROTOCOL

# Strawberry refuses queries and mutations over Apollo's protocol, so queries run on three
# of the four combinations and subscriptions on all four.
# "tls_strawberry" is Strawberry behind wss:// with a certificate from a throwaway CA.
QUERY_TARGETS = [
    ("strawberry", GTW),
    ("ariadne", GTW),
    ("ariadne", APOLLO),
    ("tls_strawberry", GTW),
]
SUBSCRIPTION_TARGETS = [*QUERY_TARGETS, ("strawberry", APOLLO), ("tls_strawberry", APOLLO)]


def _ids(target: tuple[str, str]) -> str:
    return f"{target[0]}-{target[1]}"


def _server(request: pytest.FixtureRequest, name: str) -> UvicornServer:
    server: UvicornServer = request.getfixturevalue(f"{name}_server")
    return server


def _client(request: pytest.FixtureRequest, name: str, subprotocol: str, **options: Any) -> Client:
    if name.startswith("tls_"):
        options["ssl"] = request.getfixturevalue("tls_client_context")
    return Client(_server(request, name).url, subprotocols=[subprotocol], **options)


@pytest.fixture(params=QUERY_TARGETS, ids=_ids)
def query_client(request: pytest.FixtureRequest) -> Iterator[Client]:
    name, subprotocol = request.param
    with _client(request, name, subprotocol) as client:
        assert client.subprotocol == subprotocol
        yield client


@pytest.fixture(params=SUBSCRIPTION_TARGETS, ids=_ids)
def sub_client(request: pytest.FixtureRequest) -> Iterator[Client]:
    name, subprotocol = request.param
    with _client(request, name, subprotocol) as client:
        yield client


def test_query(query_client: Client) -> None:
    """A plain query returns its data dict."""
    assert query_client.execute("{ hello }") == {"hello": "Hello world"}


def test_query_with_variables_and_operation_name(query_client: Client) -> None:
    """Variables reach the server and operation_name picks one of several operations."""
    document = """
        query A($n: String!) { hello(name: $n) }
        query B { hello(name: "b") }
    """
    assert query_client.execute(document, {"n": "x"}, "A") == {"hello": "Hello x"}
    assert query_client.execute(document, operation_name="B") == {"hello": "Hello b"}


def test_document_node_and_execution_result(query_client: Client) -> None:
    """A parsed DocumentNode is accepted; get_execution_result returns an ExecutionResult."""
    result = query_client.execute(parse('{ echo(value: "v") }'), get_execution_result=True)
    assert isinstance(result, ExecutionResult)
    assert result.data == {"echo": "v"}
    assert result.errors is None


def test_mutation(query_client: Client) -> None:
    """A mutation runs and returns its result; two in a row see each other's effect."""
    first = query_client.execute("mutation { increment(by: 2) }")["increment"]
    second = query_client.execute("mutation { increment(by: 3) }")["increment"]
    assert second == first + 3


def test_validation_error(query_client: Client) -> None:
    """A document the server's schema rejects raises TransportQueryError with its errors."""
    with pytest.raises(TransportQueryError) as info:
        query_client.execute("{ noSuchField }")
    assert "noSuchField" in str(info.value)
    assert info.value.errors
    assert "noSuchField" in info.value.errors[0]["message"]
    assert info.value.query_id is not None
    assert query_client.execute("{ hello }") == {"hello": "Hello world"}  # connection intact


def test_field_error_with_partial_data(query_client: Client) -> None:
    """A resolver error comes back with the partial data and the errors list."""
    with pytest.raises(TransportQueryError) as info:
        query_client.execute("{ hello partial { ok bad } }")
    assert str(info.value) == "bad field"
    assert info.value.data == {"hello": "Hello world", "partial": {"ok": "fine", "bad": None}}
    assert info.value.errors is not None
    assert info.value.errors[0]["path"] == ["partial", "bad"]


def test_subscription_to_completion(sub_client: Client) -> None:
    """A finite subscription yields every event in order, then ends."""
    events = list(sub_client.subscribe("subscription { countdown(from: 4) }"))
    assert events == [{"countdown": n} for n in (4, 3, 2, 1)]


def test_subscription_error_midway(sub_client: Client) -> None:
    """Events before the failure arrive, then the iterator raises TransportQueryError."""
    received: list[Any] = []
    with pytest.raises(TransportQueryError) as info:
        for event in sub_client.subscribe("subscription { failAfter(n: 3) }"):
            received.append(event["failAfter"])
    assert received == [1, 2, 3]
    assert "failed after 3 events" in str(info.value)
    # The connection survives an operation's failure.
    assert list(sub_client.subscribe("subscription { countdown(from: 1) }")) == [{"countdown": 1}]


def _wait_for_active_ticks(client: Client, expected: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        active = client.execute("{ activeTicks }")["activeTicks"]
        if active == expected or time.monotonic() > deadline:
            break
        time.sleep(0.02)  # the server offers no event for this; poll its counter briefly
    assert active == expected


@pytest.mark.parametrize("name", ["strawberry", "ariadne"])
def test_break_stops_the_server_side(request: pytest.FixtureRequest, name: str) -> None:
    """Leaving the loop early sends complete; the server ends its generator."""
    with Client(_server(request, name).url, subprotocols=[GTW]) as client:
        _wait_for_active_ticks(client, 0)
        seen = []
        for event in client.subscribe("subscription { ticks(interval: 0.01) }"):
            seen.append(event["ticks"])
            if len(seen) == 3:
                break
        assert seen == [0, 1, 2]
        _wait_for_active_ticks(client, 0)


def test_apollo_stop_on_strawberry(strawberry_server: UvicornServer) -> None:
    """Over Apollo's protocol, closing the iterator sends stop and the server ends it."""
    with (
        Client(strawberry_server.url) as probe,
        Client(strawberry_server.url, subprotocols=[APOLLO]) as client,
    ):
        _wait_for_active_ticks(probe, 0)
        with client.subscribe("subscription { ticks(interval: 0.01) }") as ticks:
            assert next(ticks) == {"ticks": 0}
            _wait_for_active_ticks(probe, 1)
        _wait_for_active_ticks(probe, 0)
        assert list(client.subscribe("subscription { countdown(from: 2) }")) == [
            {"countdown": 2},
            {"countdown": 1},
        ]


def test_strawberry_apollo_refuses_queries(strawberry_server: UvicornServer) -> None:
    """Strawberry's refusal of queries over Apollo's protocol surfaces as a clear error."""
    with Client(strawberry_server.url, subprotocols=[APOLLO]) as client:
        with pytest.raises(TransportQueryError, match="queries are not allowed"):
            client.execute("{ hello }")


def test_default_offer_picks_graphql_transport_ws(strawberry_server: UvicornServer) -> None:
    """With no subprotocols given, both are offered and Strawberry picks the first."""
    with Client(strawberry_server.url) as client:
        assert client.subprotocol == GTW


@pytest.mark.parametrize("target", QUERY_TARGETS, ids=_ids)
def test_auth_by_header_and_init_payload(
    request: pytest.FixtureRequest, target: tuple[str, str]
) -> None:
    """Both ways of authenticating reach the server's resolver context."""
    name, subprotocol = target
    with _client(
        request,
        name,
        subprotocol,
        headers={"Authorization": "Bearer header-token"},
        init_payload={"Authorization": "init-token"},
    ) as client:
        result = client.execute("{ whoami { authorization initToken } }")
    assert result == {"whoami": {"authorization": "Bearer header-token", "initToken": "init-token"}}


def test_32_threads_share_one_connection(query_client: Client) -> None:
    """32 threads x 50 execute() on one connection: every answer reaches its own caller."""
    errors: list[BaseException] = []
    mismatches: list[tuple[str, Any]] = []
    start = threading.Barrier(32)

    def work(n: int) -> None:
        try:
            start.wait(10)
            for i in range(50):
                value = f"t{n}-{i}"
                result = query_client.execute(
                    "query E($v: String!) { echo(value: $v) }", {"v": value}, timeout=30
                )
                if result != {"echo": value}:
                    mismatches.append((value, result))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert mismatches == []


def test_100_concurrent_subscriptions(strawberry_server: UvicornServer) -> None:
    """100 subscriptions on one connection each get exactly their own events, in order."""
    with Client(strawberry_server.url) as client:
        subs = [
            client.subscribe(
                "subscription S($t: String!) { echoes(tag: $t, count: 20) }",
                {"t": f"s{k}"},
                timeout=30,
            )
            for k in range(100)
        ]
        for k, sub in enumerate(subs):
            assert [event["echoes"] for event in sub] == [f"s{k}-{i}" for i in range(20)]


def test_kill_server_wakes_subscription(own_strawberry_server: UvicornServer) -> None:
    """SIGKILL of the server mid-subscription wakes the iterator with TransportClosed < 1 s."""
    with Client(own_strawberry_server.url, reconnect=False) as client:
        ticks = client.subscribe("subscription { ticks(interval: 0.01) }")
        assert next(ticks) == {"ticks": 0}
        killed_at = time.monotonic()
        own_strawberry_server.kill()
        with pytest.raises(TransportClosed) as info:
            for _ in ticks:
                pass
        elapsed = time.monotonic() - killed_at
        assert elapsed < 1.0
        assert info.value.code == 1006
        assert "connection lost" in str(info.value)
        assert not client.is_connected
        with pytest.raises(TransportConnectionFailed, match="connection refused"):
            client.execute("{ hello }")  # connects on demand, and the server is gone


def test_wss_with_custom_ca(tls_strawberry_server: UvicornServer, tls_client_context: Any) -> None:
    """Over wss with a CA passed as an SSLContext: query and subscription work."""
    with Client(tls_strawberry_server.url, ssl=tls_client_context) as client:
        assert client.execute("{ hello }") == {"hello": "Hello world"}
        assert list(client.subscribe("subscription { countdown(from: 2) }")) == [
            {"countdown": 2},
            {"countdown": 1},
        ]


@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
def test_fork_child_cannot_use_parent_connection(strawberry_server: UvicornServer) -> None:
    """After os.fork() the child connects afresh on its first operation, the parent's
    subscription fails there with a clear error, and the parent's connection is unharmed."""
    import os

    with Client(strawberry_server.url) as client:
        ticks = client.subscribe("subscription { ticks(interval: 0.01) }")
        next(ticks)
        pid = os.fork()
        if pid == 0:  # the child: report through the exit status only
            status = 1
            try:
                try:
                    next(ticks)
                except TransportClosed as exc:
                    if "os.fork" in str(exc):
                        status = 0
                if client.execute("{ hello }") != {"hello": "Hello world"}:
                    status = 2
                client.close()
            finally:
                os._exit(status)
        _, wait_status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(wait_status) == 0
        assert client.execute("{ hello }") == {"hello": "Hello world"}
        assert next(ticks)["ticks"] > 0  # the parent's subscription never noticed
        ticks.close()
