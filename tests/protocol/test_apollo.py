"""Subprotocol graphql-ws (Apollo): ka, connection_error, connection-level error, goodbye."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gqlws_sync._protocol import ApolloProtocol, ConnectionState, RemoteProtocolError
from gqlws_sync._protocol.events import (
    Complete,
    ConnectionAck,
    ConnectionRefused,
    Error,
    KeepAlive,
    Next,
)
from gqlws_sync.exceptions import TransportServerError

from ._wire import acknowledged, frame, initialising, parse


def test_no_client_ping() -> None:
    """Apollo has no ping/pong: ping() and pong() give None."""
    protocol = acknowledged(ApolloProtocol)
    assert ApolloProtocol.has_client_ping is False
    assert protocol.ping() is None
    assert protocol.pong(None) is None
    assert protocol.pong({"x": 1}) is None


@pytest.mark.parametrize("kind", ["ping", "pong"])
def test_ping_pong_from_server_are_unknown(kind: str) -> None:
    """ping or pong from an Apollo server is an unknown type, closed with 1002."""
    protocol = acknowledged(ApolloProtocol)
    with pytest.raises(RemoteProtocolError) as info:
        protocol.receive(frame(type=kind))
    assert str(info.value) == f"server sent a message of unknown type {kind!r}"
    assert info.value.close_code == 1002


@pytest.mark.parametrize(
    "kind", ["next", "subscribe", "start", "stop", "connection_terminate", "ka_"]
)
def test_other_protocol_types_are_unknown(kind: str) -> None:
    """graphql-transport-ws and client-only message types from the server are violations."""
    protocol = acknowledged(ApolloProtocol)
    with pytest.raises(RemoteProtocolError) as info:
        protocol.receive(frame(type=kind, id="1", payload={"data": {}}))
    assert str(info.value) == f"server sent a message of unknown type {kind!r}"
    assert info.value.close_code == 1002


def test_ka_after_ack() -> None:
    """ka after the ack gives KeepAlive."""
    protocol = acknowledged(ApolloProtocol)
    assert protocol.receive('{"type":"ka"}') == KeepAlive()
    assert protocol.state is ConnectionState.ACKNOWLEDGED


def test_ka_before_ack_is_tolerated() -> None:
    """ka while waiting for the ack gives KeepAlive and does not ack."""
    protocol = initialising(ApolloProtocol)
    assert protocol.receive('{"type":"ka"}') == KeepAlive()
    assert protocol.state is ConnectionState.INITIALISING


def test_ka_before_init_is_tolerated() -> None:
    """ka on a socket that has not sent connection_init yet gives KeepAlive; still NEW."""
    protocol = ApolloProtocol()
    assert protocol.receive('{"type":"ka"}') == KeepAlive()
    assert protocol.state is ConnectionState.NEW


@pytest.mark.parametrize("started", [False, True], ids=["before-init", "before-ack"])
@pytest.mark.parametrize(
    "message",
    [
        {"type": "data", "id": "1", "payload": {"data": {"a": 1}}},
        {"type": "error", "id": "1", "payload": {"message": "x"}},
        {"type": "complete", "id": "1"},
    ],
    ids=["data", "error-with-id", "complete"],
)
def test_operation_message_before_ack_is_violation(started: bool, message: dict[str, Any]) -> None:
    """data, complete, or error with an id before connection_ack is a violation, closed with
    1002; the state does not move."""
    protocol = initialising(ApolloProtocol) if started else ApolloProtocol()
    state = protocol.state
    with pytest.raises(RemoteProtocolError) as info:
        protocol.receive(json.dumps(message))
    assert str(info.value) == f"server sent {message['type']!r} before connection_ack"
    assert info.value.close_code == 1002
    assert info.value.code == 1002
    assert protocol.state is state


def test_operation_message_after_ack_is_fine() -> None:
    """The same data/error/complete messages decode once the ack has come."""
    protocol = initialising(ApolloProtocol)
    assert protocol.receive('{"type":"connection_ack"}') == ConnectionAck(None)
    assert protocol.receive(frame(type="data", id="1", payload={"data": {"a": 1}})) == Next(
        "1", {"data": {"a": 1}}
    )
    assert protocol.receive(frame(type="error", id="2", payload={"message": "x"})) == Error(
        "2", [{"message": "x"}]
    )
    assert protocol.receive(frame(type="complete", id="1")) == Complete("1")


def test_error_without_id_before_ack_is_refusal() -> None:
    """An error without an id before the ack is a connection refusal, not a violation."""
    protocol = initialising(ApolloProtocol)
    event = protocol.receive(frame(type="error", payload={"message": "bad init"}))
    assert event == ConnectionRefused("bad init")
    assert protocol.state is ConnectionState.INITIALISING


def test_connection_error_before_init() -> None:
    """connection_error on a socket that has not sent connection_init is still a refusal."""
    protocol = ApolloProtocol()
    event = protocol.receive(frame(type="connection_error", payload={"message": "go away"}))
    assert event == ConnectionRefused("go away")
    assert protocol.refusal_message == "go away"
    assert protocol.state is ConnectionState.NEW


@pytest.mark.parametrize(
    ("payload", "text"),
    [
        ({"message": "invalid token"}, "invalid token"),
        ({"message": "m", "extensions": {"code": "UNAUTHENTICATED"}}, "m"),
        ("plain refusal", "plain refusal"),
    ],
    ids=["object", "object-with-extra", "string"],
)
def test_connection_error_before_ack(payload: Any, text: str) -> None:
    """connection_error gives ConnectionRefused and records the refusal message."""
    protocol = initialising(ApolloProtocol)
    assert protocol.receive(frame(type="connection_error", payload=payload)) == (
        ConnectionRefused(text)
    )
    assert protocol.refusal_message == text
    assert protocol.state is ConnectionState.INITIALISING


@pytest.mark.parametrize(
    "message",
    [
        {"type": "connection_error"},
        {"type": "connection_error", "payload": None},
        {"type": "connection_error", "payload": {}},
        {"type": "connection_error", "payload": {"message": 42}},
    ],
    ids=["missing", "null", "empty", "non-str-message"],
)
def test_connection_error_without_usable_message(message: dict[str, Any]) -> None:
    """connection_error with no string message says "no reason given"."""
    protocol = initialising(ApolloProtocol)
    assert protocol.receive(json.dumps(message)) == ConnectionRefused("no reason given")
    assert protocol.refusal_message == "no reason given"


def test_connection_error_after_ack() -> None:
    """connection_error after the ack is still ConnectionRefused (a connection failure)."""
    protocol = acknowledged(ApolloProtocol)
    event = protocol.receive(frame(type="connection_error", payload={"message": "bad input"}))
    assert event == ConnectionRefused("bad input")
    assert protocol.refusal_message == "bad input"


def test_refusal_then_1011_carries_message() -> None:
    """connection_error then a 1011 close raises TransportServerError with the refusal text."""
    protocol = initialising(ApolloProtocol)
    protocol.receive(frame(type="connection_error", payload={"message": "invalid token"}))
    exc = protocol.close_error(1011, "", acknowledged=False)
    assert type(exc) is TransportServerError
    assert exc.code == 1011
    assert str(exc) == "the server refused the connection: invalid token"


@pytest.mark.parametrize(
    ("payload", "text"),
    [
        ({"message": "Invalid message type!"}, "Invalid message type!"),
        ("bare text", "bare text"),
        (None, "no reason given"),
    ],
    ids=["reference-server", "string", "null"],
)
def test_error_without_id_is_connection_level(payload: Any, text: str) -> None:
    """error with no id (reference server on bad input) gives ConnectionRefused, not Error."""
    protocol = acknowledged(ApolloProtocol)
    assert protocol.receive(frame(type="error", payload=payload)) == ConnectionRefused(text)
    assert protocol.state is ConnectionState.ACKNOWLEDGED


def test_error_with_id_single_object() -> None:
    """error with an id and one object (the Apollo spec) gives Error with a one-item list."""
    protocol = acknowledged(ApolloProtocol)
    event = protocol.receive(frame(type="error", id="1", payload={"name": "E", "message": "m"}))
    assert event == Error("1", [{"name": "E", "message": "m"}])


def test_validation_errors_as_data() -> None:
    """data with only errors (validation) then complete decode as Next then Complete."""
    protocol = acknowledged(ApolloProtocol)
    errors = [{"message": 'Cannot query field "x" on type "Query".'}]
    assert protocol.receive(frame(type="data", id="1", payload={"errors": errors})) == Next(
        "1", {"errors": errors}
    )
    assert protocol.receive(frame(type="complete", id="1")) == Complete("1")


@pytest.mark.parametrize(
    ("live_ids", "expected"),
    [
        ([], [{"type": "connection_terminate"}]),
        (
            ["1", "3", "10"],
            [
                {"id": "1", "type": "stop"},
                {"id": "3", "type": "stop"},
                {"id": "10", "type": "stop"},
                {"type": "connection_terminate"},
            ],
        ),
    ],
    ids=["idle", "ops-live"],
)
def test_goodbye_stops_each_op_then_terminates(
    live_ids: list[str], expected: list[dict[str, Any]]
) -> None:
    """goodbye() sends stop for each live id in order, then connection_terminate."""
    protocol = acknowledged(ApolloProtocol)
    assert [parse(text) for text in protocol.goodbye(live_ids)] == expected
    assert protocol.state is ConnectionState.CLOSING


def test_goodbye_before_ack() -> None:
    """goodbye() while waiting for the ack still terminates and moves to CLOSING."""
    protocol = initialising(ApolloProtocol)
    assert [parse(text) for text in protocol.goodbye([])] == [{"type": "connection_terminate"}]
    assert protocol.state is ConnectionState.CLOSING


def test_whole_exchange() -> None:
    """init, ka before the ack, ack, ka, start, data, complete, start, stop, goodbye."""
    protocol = ApolloProtocol()
    sent = [parse(protocol.connection_init(None))]
    events = [protocol.receive('{"type":"ka"}'), protocol.receive('{"type":"connection_ack"}')]
    events.append(protocol.receive('{"type":"ka"}'))
    sent.append(parse(protocol.subscribe("1", {"query": "{ a }", "variables": {}})))
    events.append(protocol.receive(frame(type="data", id="1", payload={"data": {"a": 1}})))
    events.append(protocol.receive(frame(type="complete", id="1")))
    sent.append(parse(protocol.subscribe("2", {"query": "subscription { n }"})))
    sent.append(parse(protocol.cancel("2")))
    sent.extend(parse(text) for text in protocol.goodbye([]))
    assert events == [
        KeepAlive(),
        ConnectionAck(None),
        KeepAlive(),
        Next("1", {"data": {"a": 1}}),
        Complete("1"),
    ]
    assert sent == [
        {"type": "connection_init", "payload": {}},
        {"id": "1", "type": "start", "payload": {"query": "{ a }", "variables": {}}},
        {"id": "2", "type": "start", "payload": {"query": "subscription { n }"}},
        {"id": "2", "type": "stop"},
        {"type": "connection_terminate"},
    ]
    assert protocol.state is ConnectionState.CLOSING
