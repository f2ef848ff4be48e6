"""gql's documented synchronous usage, unchanged but for the import of the transport, against
Strawberry and Ariadne under uvicorn."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest
from gql import Client, gql
from gql.transport.exceptions import TransportConnectionFailed, TransportQueryError
from gql.utilities import update_schema_scalar
from graphql import ExecutionResult, GraphQLError

from gqlws_sync import TransportQueryError as OurTransportQueryError
from gqlws_sync.gql import OperationTimeout
from tests.integration.conftest import UvicornServer

from .conftest import APOLLO, GTW, DatetimeScalar, MakeTransport, Stats


@dataclass
class Target:
    url: str
    subprotocol: str
    stats: Stats

    @property
    def operation(self) -> str:
        """What the server counts per operation: subscribe, or Apollo's start."""
        return "received_subscribe" if self.subprotocol == GTW else "received_start"


# Strawberry answers queries over graphql-transport-ws only; Ariadne over both.
TARGETS = [("strawberry", GTW), ("ariadne", GTW), ("ariadne", APOLLO)]


@pytest.fixture(params=TARGETS, ids=[f"{name}-{sub}" for name, sub in TARGETS])
def target(request: pytest.FixtureRequest) -> Target:
    name, subprotocol = request.param
    if name == "strawberry":
        stats: Stats = request.getfixturevalue("stats")
        server = request.getfixturevalue("gql_server")
    else:
        stats = request.getfixturevalue("ariadne_stats")
        server = request.getfixturevalue("gql_ariadne_server")
    return Target(server.url, subprotocol, stats)


def test_execute(target: Target, make_transport: MakeTransport) -> None:
    """client.execute(gql(...)) with fetch_schema_from_transport, as in gql's README."""
    transport = make_transport(target.url, subprotocols=[target.subprotocol])
    client = Client(transport=transport, fetch_schema_from_transport=True)

    assert client.execute(gql("{ hello }")) == {"hello": "Hello world"}
    assert client.schema is not None
    assert transport.subprotocol == target.subprotocol


def test_execute_with_variable_values(target: Target, make_transport: MakeTransport) -> None:
    """Variables as gql 4 takes them (on the request) and as gql 3 did (variable_values=)."""
    client = Client(transport=make_transport(target.url, subprotocols=[target.subprotocol]))
    query = gql("query Echo($v: String!) { echo(value: $v) }")

    query.variable_values = {"v": "four"}
    assert client.execute(query) == {"echo": "four"}

    with pytest.warns(DeprecationWarning, match="variable_values"):
        result = client.execute(
            gql("query Echo($v: String!) { echo(value: $v) }"), variable_values={"v": "three"}
        )
    assert result == {"echo": "three"}


def test_session(target: Target, make_transport: MakeTransport) -> None:
    """``with client as session:`` runs every call on one socket."""
    transport = make_transport(target.url, subprotocols=[target.subprotocol])
    client = Client(transport=transport, fetch_schema_from_transport=True)

    with client as session:
        assert session.execute(gql('{ echo(value: "a") }')) == {"echo": "a"}
        assert session.execute(gql('{ echo(value: "b") }')) == {"echo": "b"}
        result = session.execute(gql("{ hello }"), get_execution_result=True)
        assert isinstance(result, ExecutionResult)
        assert result.data == {"hello": "Hello world"}

    assert transport.sockets_opened == 1
    assert target.stats.get()["connects"] == 1


def test_local_validation_error_sends_nothing(
    target: Target, make_transport: MakeTransport
) -> None:
    """With the schema fetched, gql rejects a bad document itself: the server never sees it."""
    client = Client(
        transport=make_transport(target.url, subprotocols=[target.subprotocol]),
        fetch_schema_from_transport=True,
    )
    with client as session:
        with pytest.raises(GraphQLError, match="Cannot query field 'noSuchField'"):
            session.execute(gql("{ noSuchField }"))

    assert target.stats.get()[target.operation] == 1  # the introspection query only


def test_field_error_raises_gqls_query_error(target: Target, make_transport: MakeTransport) -> None:
    """A result with errors raises gql's TransportQueryError with gql's message and the
    partial data."""
    client = Client(transport=make_transport(target.url, subprotocols=[target.subprotocol]))

    with pytest.raises(TransportQueryError) as info:
        client.execute(gql("{ hello partial { ok bad } }"))

    error = info.value
    assert error.errors is not None
    assert error.errors[0]["message"] == "bad field"
    assert str(error) == str(error.errors[0])  # gql's format
    assert error.data == {"hello": "Hello world", "partial": {"ok": "fine", "bad": None}}


def test_server_validation_error_raises_gqls_query_error(
    target: Target, make_transport: MakeTransport
) -> None:
    """Without a local schema the server refuses the document: gql's TransportQueryError
    with its query_id, chained to gqlws_sync's own exception; the socket carries on."""
    transport = make_transport(target.url, subprotocols=[target.subprotocol])
    client = Client(transport=transport)

    with client as session:
        with pytest.raises(TransportQueryError) as info:
            session.execute(gql("{ noSuchField }"))
        assert session.execute(gql("{ hello }")) == {"hello": "Hello world"}

    error = info.value
    assert isinstance(error.__cause__, OurTransportQueryError)
    assert isinstance(error.query_id, int)
    assert error.errors is not None
    assert "noSuchField" in str(error.errors[0])
    assert transport.sockets_opened == 1


def test_headers_and_init_payload(target: Target, make_transport: MakeTransport) -> None:
    """Headers go with the upgrade and init_payload with connection_init; a new
    init_payload is sent by the next socket."""
    transport = make_transport(
        target.url,
        subprotocols=[target.subprotocol],
        headers={"Authorization": "Bearer header-token"},
        init_payload={"Authorization": "init-token"},
    )
    client = Client(transport=transport)
    query = gql("{ whoami { authorization initToken } }")

    assert client.execute(query) == {
        "whoami": {"authorization": "Bearer header-token", "initToken": "init-token"}
    }

    transport.init_payload = {"Authorization": "refreshed"}
    transport.shutdown()
    assert client.execute(query)["whoami"]["initToken"] == "refreshed"


def test_execute_batch(target: Target, make_transport: MakeTransport) -> None:
    """execute_batch runs the requests in order on the one socket."""
    transport = make_transport(target.url, subprotocols=[target.subprotocol])
    client = Client(transport=transport)
    requests = [gql(f'{{ echo(value: "{n}") }}') for n in range(3)]

    assert client.execute_batch(requests) == [{"echo": "0"}, {"echo": "1"}, {"echo": "2"}]
    assert transport.sockets_opened == 1


def test_timeout_per_call(
    stats: Stats, gql_server: UvicornServer, make_transport: MakeTransport
) -> None:
    """client.execute(..., timeout=S) reaches the transport; the timeout is gql's
    TransportError and a TimeoutError, and the socket stays usable."""
    client = Client(transport=make_transport(gql_server.url))

    with client as session:
        with pytest.raises(OperationTimeout) as info:
            session.execute(gql("{ slow(seconds: 5) }"), timeout=0.2)
        assert isinstance(info.value, TimeoutError)
        assert session.execute(gql("{ hello }")) == {"hello": "Hello world"}

    assert stats.get()["connects"] == 1
    stats.wait(received_complete=1)  # the timed-out query was cancelled on the server


def test_custom_scalar_parse_result_and_serialize_variables(
    gql_server: UvicornServer, make_transport: MakeTransport
) -> None:
    """A Datetime variable is serialized and a Datetime result parsed by gql, per call and
    as the client's defaults, with the schema fetched and the scalar updated as gql's
    documentation shows."""
    client = Client(transport=make_transport(gql_server.url), fetch_schema_from_transport=True)
    at = datetime(2024, 5, 1, 12, 30, tzinfo=timezone.utc)
    query = gql("query Shift($at: Datetime!) { shift(at: $at, hours: 3) }")
    query.variable_values = {"at": at}

    with client as session:
        assert client.schema is not None
        update_schema_scalar(client.schema, "Datetime", DatetimeScalar)
        result = session.execute(query, serialize_variables=True, parse_result=True)
    assert result == {"shift": datetime(2024, 5, 1, 15, 30, tzinfo=timezone.utc)}

    client.serialize_variables = True
    client.parse_results = True
    assert client.execute(query) == result


def test_wss_with_a_self_signed_certificate(
    tls_gql_server: tuple[UvicornServer, Path], make_transport: MakeTransport
) -> None:
    """gql's SSL recipe, unchanged: an SSLContext that trusts the server's certificate."""
    server, ca_pem = tls_gql_server
    ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ssl_context.load_verify_locations(ca_pem)
    client = Client(transport=make_transport(server.url, ssl=ssl_context))

    assert server.url.startswith("wss://")
    assert client.execute(gql("{ hello }")) == {"hello": "Hello world"}


def test_wss_certificate_not_trusted(
    tls_gql_server: tuple[UvicornServer, Path], make_transport: MakeTransport
) -> None:
    """Without the CA the certificate is refused: gql's TransportConnectionFailed."""
    server, _ = tls_gql_server
    client = Client(transport=make_transport(server.url))

    with pytest.raises(TransportConnectionFailed, match="certificate"):
        client.execute(gql("{ hello }"))
