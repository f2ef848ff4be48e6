"""Schemas on the client: fetched by introspection from real servers, given as SDL, and
used to refuse invalid documents before anything is sent."""

from __future__ import annotations

import pytest
from graphql import GraphQLSchema, print_schema

from gqlws_sync import Client, GraphQLValidationError

from .conftest import NodeServer, UvicornServer, requires_node

INVALID = "query Bad($n: Int) { hello(name: $n) nope { x } }"


@pytest.fixture(
    params=[
        "strawberry_server",
        pytest.param("graphql_ws_server", marks=requires_node),
    ]
)
def server(request: pytest.FixtureRequest) -> UvicornServer | NodeServer:
    value: UvicornServer | NodeServer = request.getfixturevalue(request.param)
    return value


def test_fetch_schema(server: UvicornServer | NodeServer) -> None:
    """fetch_schema() returns the server's schema as a graphql-core GraphQLSchema."""
    with Client(server.url) as client:
        schema = client.fetch_schema()
    assert isinstance(schema, GraphQLSchema)
    query = schema.query_type
    assert query is not None
    assert "hello" in query.fields
    assert "type Query" in print_schema(schema)


def test_fetched_schema_refuses_invalid_documents(server: UvicornServer | NodeServer) -> None:
    """Client(fetch_schema=True): an invalid document is refused locally, naming every
    problem with its location; a valid one runs, and is not slowed after its first call."""
    with Client(server.url, fetch_schema=True) as client:
        assert client.schema is not None
        with pytest.raises(GraphQLValidationError) as info:
            client.execute(INVALID)
        message = str(info.value)
        assert len(info.value.errors) == 2
        assert "line 1, column 34" in message  # $n: Int where String is expected
        assert "nope" in message
        assert "line 1, column 38" in message
        with pytest.raises(GraphQLValidationError):
            client.subscribe("subscription { nope }")
        assert client.execute("{ hello }") == {"hello": "Hello world"}
        validator = client._validator
        assert validator is not None
        validations = validator.validations
        for _ in range(50):
            assert client.execute("{ hello }") == {"hello": "Hello world"}
        # Cached like the parse: the same document is not validated again.
        assert validator.validations == validations


def test_schema_given_as_sdl(strawberry_server: UvicornServer) -> None:
    """Client(schema=SDL) validates against that schema, without asking the server."""
    with Client(strawberry_server.url) as probe:
        sdl = print_schema(probe.fetch_schema())
    client = Client(strawberry_server.url, schema=sdl)
    with pytest.raises(GraphQLValidationError, match="nope"):
        client.execute("{ nope }")
    assert not client.is_connected  # refused before connecting, nothing sent
    assert client.execute("{ hello }") == {"hello": "Hello world"}
    client.close()
