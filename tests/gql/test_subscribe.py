"""gqlws_sync.gql.subscribe(): subscriptions through a gql Client, with gql's schema-based
serializing and parsing, over both subprotocols on Strawberry."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from gql import Client, gql
from gql.transport.exceptions import TransportQueryError
from gql.utilities import update_schema_scalar
from graphql import ExecutionResult, GraphQLError, GraphQLSchema

from gqlws_sync import TransportQueryError as OurTransportQueryError
from gqlws_sync.gql import WebsocketsTransport, subscribe
from tests.integration.conftest import UvicornServer

from .conftest import APOLLO, GTW, DatetimeScalar, MakeTransport, Stats

START = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(params=[GTW, APOLLO])
def subprotocol(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def _schema(server: UvicornServer) -> GraphQLSchema:
    """The server's schema with gql's Datetime scalar in it. Fetched over
    graphql-transport-ws: Strawberry answers no query (introspection included) over Apollo's."""
    with WebsocketsTransport(url=server.url) as transport:
        client = Client(transport=transport, fetch_schema_from_transport=True)
        with client:
            pass
    assert client.schema is not None
    update_schema_scalar(client.schema, "Datetime", DatetimeScalar)
    return client.schema


def _client(
    server: UvicornServer,
    subprotocol: str,
    make_transport: MakeTransport,
    *,
    serialize_variables: bool = False,
    parse_results: bool = False,
) -> Client:
    return Client(
        schema=_schema(server),
        transport=make_transport(server.url, subprotocols=[subprotocol]),
        serialize_variables=serialize_variables,
        parse_results=parse_results,
    )


def test_subscribe_serializes_and_parses_like_gql(
    gql_server: UvicornServer, subprotocol: str, make_transport: MakeTransport
) -> None:
    """A Datetime variable is serialized and each Datetime result parsed."""
    client = _client(gql_server, subprotocol, make_transport)
    request = gql("subscription Clock($start: Datetime!) { clock(start: $start, count: 3) }")

    results = list(
        subscribe(
            client,
            request,
            variable_values={"start": START},
            serialize_variables=True,
            parse_result=True,
        )
    )

    assert results == [{"clock": START + timedelta(hours=hour)} for hour in range(3)]


def test_subscribe_uses_the_clients_defaults(
    gql_server: UvicornServer, subprotocol: str, make_transport: MakeTransport
) -> None:
    """serialize_variables and parse_results set on the gql Client apply, and
    get_execution_result yields ExecutionResults."""
    client = _client(
        gql_server, subprotocol, make_transport, serialize_variables=True, parse_results=True
    )
    request = gql("subscription Clock($start: Datetime!) { clock(start: $start, count: 2) }")
    request.variable_values = {"start": START}

    results = list(subscribe(client, request, get_execution_result=True))

    assert all(isinstance(result, ExecutionResult) for result in results)
    assert [result.data for result in results] == [
        {"clock": START},
        {"clock": START + timedelta(hours=1)},
    ]


def test_leaving_early_cancels_on_the_server(
    gql_server: UvicornServer, stats: Stats, subprotocol: str, make_transport: MakeTransport
) -> None:
    """``break`` out of the loop: the server gets complete (or Apollo's stop), and the
    transport's user count goes back to zero so the socket can linger out."""
    client = _client(gql_server, subprotocol, make_transport)
    transport = client.transport
    assert isinstance(transport, WebsocketsTransport)

    seen = []
    for data in subscribe(client, gql("subscription { ticks(interval: 0.01) }")):
        seen.append(data["ticks"])
        if len(seen) == 3:
            break

    assert seen == [0, 1, 2]
    cancel = "received_complete" if subprotocol == GTW else "received_stop"
    stats.wait(**{cancel: 1})
    assert "0 user(s)" in repr(transport)


def test_error_in_a_subscription(
    gql_server: UvicornServer, subprotocol: str, make_transport: MakeTransport
) -> None:
    """A resolver error after some events raises gql's TransportQueryError, chained to
    gqlws_sync's own."""
    client = _client(gql_server, subprotocol, make_transport)

    seen = []
    with pytest.raises(TransportQueryError) as info:
        for data in subscribe(client, gql("subscription { failAfter(n: 2) }")):
            seen.append(data["failAfter"])

    assert seen == [1, 2]
    assert "failed after 2 events" in str(info.value)
    assert isinstance(info.value.__cause__, OurTransportQueryError)


def test_local_validation_error_sends_nothing(
    gql_server: UvicornServer, stats: Stats, subprotocol: str, make_transport: MakeTransport
) -> None:
    """A subscription that does not validate against the client's schema raises
    GraphQLError at the first next(), before anything reaches the server."""
    client = _client(gql_server, subprotocol, make_transport)
    stats.wait(open=0)
    stats.reset()

    with pytest.raises(GraphQLError, match="noSuchField"):
        next(subscribe(client, gql("subscription { noSuchField }")))

    counted = stats.get()
    assert counted.get("received_subscribe", 0) == counted.get("received_start", 0) == 0


def test_schema_fetched_through_subscribe(
    gql_server: UvicornServer, make_transport: MakeTransport
) -> None:
    """With fetch_schema_from_transport, subscribe() fetches the schema first, as gql's
    session does, then validates against it."""
    client = Client(transport=make_transport(gql_server.url), fetch_schema_from_transport=True)

    assert list(
        subscribe(client, 'subscription { clock(start: "2024-05-01T00:00:00", count: 1) }')
    ) == [{"clock": "2024-05-01T00:00:00"}]
    assert client.schema is not None


def test_subscribe_needs_this_transport() -> None:
    """A gql Client with another transport is refused at once."""
    from gql.transport.local_schema import LocalSchemaTransport

    client = Client(transport=LocalSchemaTransport(GraphQLSchema()))
    with pytest.raises(TypeError, match=r"gqlws_sync\.gql\.WebsocketsTransport"):
        subscribe(client, gql("subscription { ticks }"))


def test_dropped_generator_cancels_on_the_server(
    gql_server: UvicornServer, stats: Stats, make_transport: MakeTransport
) -> None:
    """A subscription generator dropped mid-stream without close() is finalized: the
    server gets complete and the transport no longer counts it as a user."""
    client = _client(gql_server, GTW, make_transport)
    transport = client.transport
    ticks = subscribe(client, gql("subscription { ticks(interval: 0.01) }"))
    assert next(ticks) == {"ticks": 0}
    assert "1 user(s)" in repr(transport)

    del ticks

    stats.wait(received_complete=1)
    assert "0 user(s)" in repr(transport)


def test_empty_variables_with_serialize_variables(
    gql_server: UvicornServer, make_transport: MakeTransport
) -> None:
    """variable_values={} with serialize_variables: nothing to serialize, no error."""
    client = _client(gql_server, GTW, make_transport, serialize_variables=True)
    request = gql('subscription { clock(start: "2024-05-01T12:00:00+00:00", count: 1) }')

    assert list(subscribe(client, request, variable_values={})) == [
        {"clock": "2024-05-01T12:00:00+00:00"}
    ]
