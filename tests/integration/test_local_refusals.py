"""No caller breaks the connection for the others, against real servers that would close the
whole connection over a bad message (Strawberry with 4400, graphql-ws with 4500, both over
NaN, and servers with a message size limit): the mistake stays with its caller."""

from __future__ import annotations

import math

import pytest
from graphql import GraphQLSyntaxError

from gqlws_sync import Client

from .conftest import NodeServer, UvicornServer, requires_node


@pytest.fixture(
    params=["strawberry_server", pytest.param("graphql_ws_server", marks=requires_node)]
)
def server(request: pytest.FixtureRequest) -> UvicornServer | NodeServer:
    value: UvicornServer | NodeServer = request.getfixturevalue(request.param)
    return value


def test_bad_requests_stay_with_their_caller(server: UvicornServer | NodeServer) -> None:
    """A syntax error, NaN in the variables and an oversized message are refused locally
    while a subscription runs; it carries on, on the same connection."""
    with Client(server.url, reconnect=False, max_message_size=1024 * 1024) as client:
        ticks = client.subscribe("subscription { ticks(interval: 0.02) }", timeout=5)
        first = next(ticks)["ticks"]
        with pytest.raises(GraphQLSyntaxError):
            client.execute("{ hello(name: }")
        with pytest.raises(ValueError, match="NaN or infinity"):
            client.execute("query Q($v: String) { echo(value: $v) }", {"v": math.nan})
        with pytest.raises(ValueError, match="over max_message_size"):
            client.execute("query Q($v: String!) { echo(value: $v) }", {"v": "x" * 2_000_000})
        # Had any of them reached the server, it would have closed the connection, and
        # with reconnect off the subscription would have raised.
        later = [next(ticks)["ticks"] for _ in range(5)]
        assert later == list(range(first + 1, first + 6))
        assert client.execute('{ hello(name: "still") }') == {"hello": "Hello still"}
        ticks.close()
