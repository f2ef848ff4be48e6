"""The client against the two Node servers of the protocols: graphql-ws (the reference of
graphql-transport-ws) and Apollo's subscriptions-transport-ws (the reference of graphql-ws)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from gqlws_sync import (
    APOLLO_SUBPROTOCOL,
    GRAPHQLWS_SUBPROTOCOL,
    Client,
    TransportClosed,
    TransportProtocolError,
    TransportQueryError,
    TransportServerError,
)

from .conftest import NodeServer, requires_node

pytestmark = requires_node

FIXTURES = {"graphql-ws": "graphql_ws_server", "subscriptions-transport-ws": "stws_server"}


def speaks_apollo(server: NodeServer) -> bool:
    return server.script.startswith("subscriptions_transport_ws")


@pytest.fixture(params=list(FIXTURES))
def node_server(request: pytest.FixtureRequest) -> NodeServer:
    server: NodeServer = request.getfixturevalue(FIXTURES[request.param])
    return server


@pytest.fixture
def client(node_server: NodeServer) -> Iterator[Client]:
    with Client(node_server.url) as client:
        yield client


def test_default_offer_finds_the_servers_protocol(node_server: NodeServer, client: Client) -> None:
    """The default offer works with both: subscriptions-transport-ws takes the first token,
    closes 1002, and the client retries with graphql-ws alone."""
    expected = APOLLO_SUBPROTOCOL if speaks_apollo(node_server) else GRAPHQLWS_SUBPROTOCOL
    assert client.subprotocol == expected


def test_query_and_subscription(client: Client) -> None:
    """A query with variables, and a subscription to its end."""
    query = "query Q($n: String) { hello(name: $n) }"
    assert client.execute(query, {"n": "Node"}) == {"hello": "Hello Node"}
    events = list(client.subscribe("subscription { countdown(from: 3) }"))
    assert events == [{"countdown": 3}, {"countdown": 2}, {"countdown": 1}]


def test_validation_error(client: Client) -> None:
    """graphql-ws sends error (a list); subscriptions-transport-ws data with errors only."""
    with pytest.raises(TransportQueryError, match='Cannot query field "nope"'):
        client.execute("{ nope }")
    assert client.execute("{ hello }") == {"hello": "Hello world"}


def test_subscription_error_midway(client: Client) -> None:
    """A failing source: its events, then TransportQueryError; the connection lives on."""
    seen = []
    with pytest.raises(TransportQueryError, match="failed after 2 events"):
        for event in client.subscribe("subscription { failAfter(n: 2) }"):
            seen.append(event["failAfter"])
    assert seen == [1, 2]
    assert client.execute("{ hello }") == {"hello": "Hello world"}


def test_break_stops_the_server_side(client: Client) -> None:
    """Leaving early sends complete/stop: the server's generator ends."""
    with client.subscribe("subscription { ticks(interval: 0.01) }") as ticks:
        assert [next(ticks)["ticks"] for _ in range(3)] == [0, 1, 2]
    deadline = time.monotonic() + 5
    while client.execute("{ activeTicks }")["activeTicks"] != 0:
        assert time.monotonic() < deadline, "the server kept the subscription running"
        time.sleep(0.02)  # the server offers no event for this; poll its counter briefly


def test_init_refused(node_server: NodeServer) -> None:
    """graphql-ws refuses with 4403; subscriptions-transport-ws with connection_error, 1011."""
    with pytest.raises(TransportServerError) as info:
        Client(node_server.url, init_payload={"deny": True}).connect()
    if speaks_apollo(node_server):
        assert info.value.code == 1011
        assert "denied" in str(info.value)
    else:
        assert info.value.code == 4403


def test_explicit_wrong_offer_is_explained(stws_server: NodeServer) -> None:
    """Offering graphql-transport-ws alone to subscriptions-transport-ws: a clear error."""
    with pytest.raises(TransportProtocolError, match="subprotocols=") as info:
        Client(stws_server.url, subprotocols=[GRAPHQLWS_SUBPROTOCOL]).connect()
    assert info.value.code == 1002


def test_websocket_pings_are_answered(graphql_ws_server: NodeServer) -> None:
    """This graphql-ws server pings every 100 ms and drops a client that misses one; an
    idle client stays connected across many pings."""
    with Client(graphql_ws_server.url, ws_ping_interval=None) as client:
        with client.subscribe("subscription { ticks(interval: 1) }", timeout=5) as ticks:
            assert next(ticks) == {"ticks": 0}
            time.sleep(0.6)  # time is the subject: six server pings while nothing else happens
            assert next(ticks) == {"ticks": 1}


def test_killed_server(own_graphql_ws_server: NodeServer) -> None:
    """The Node process killed mid-subscription: TransportClosed(1006) promptly."""
    with Client(own_graphql_ws_server.url, reconnect=False) as client:
        ticks = client.subscribe("subscription { ticks(interval: 0.01) }")
        next(ticks)
        started = time.monotonic()
        own_graphql_ws_server.kill()
        with pytest.raises(TransportClosed) as info:
            for _ in ticks:
                pass
        assert time.monotonic() - started < 1.0
        assert info.value.code == 1006
