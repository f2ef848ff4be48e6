"""Subprotocol graphql-transport-ws: what only it has (ping/pong, the ack gate, no goodbye)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gqlws_sync._protocol import ConnectionState, RemoteProtocolError, TransportWSProtocol
from gqlws_sync._protocol.events import Complete, ConnectionAck, Error, Next, Ping, Pong

from ._wire import acknowledged, frame, initialising, parse


def test_client_ping_frame() -> None:
    """ping() sends a bare ping; the protocol has client pings."""
    protocol = acknowledged(TransportWSProtocol)
    assert TransportWSProtocol.has_client_ping is True
    assert parse(protocol.ping()) == {"type": "ping"}


def test_pong_without_payload() -> None:
    """pong(None) answers with a bare pong."""
    protocol = acknowledged(TransportWSProtocol)
    assert parse(protocol.pong(None)) == {"type": "pong"}


@pytest.mark.parametrize(
    "payload",
    [{"ts": 123, "nested": {"a": [1, 2]}}, {}, "text", 0, [1, 2]],
    ids=["object", "empty-object", "str", "zero", "list"],
)
def test_pong_echoes_payload(payload: Any) -> None:
    """pong(payload) echoes the ping's payload unchanged."""
    protocol = acknowledged(TransportWSProtocol)
    assert parse(protocol.pong(payload)) == {"type": "pong", "payload": payload}


def test_pong_payload_uses_custom_dumps() -> None:
    """A pong with a payload is encoded with the given dumps."""
    dumped: list[Any] = []

    def dumps(obj: Any) -> str:
        dumped.append(obj)
        return json.dumps(obj)

    protocol = TransportWSProtocol(dumps=dumps)
    protocol.pong({"k": "v"})
    assert dumped == [{"type": "pong", "payload": {"k": "v"}}]


def test_ping_received_then_answered() -> None:
    """A server ping with a payload gives Ping(payload); its answer echoes the payload."""
    protocol = acknowledged(TransportWSProtocol)
    event = protocol.receive(frame(type="ping", payload={"seq": 4}))
    assert event == Ping({"seq": 4})
    assert isinstance(event, Ping)
    assert parse(protocol.pong(event.payload)) == {"type": "pong", "payload": {"seq": 4}}


def test_ping_received_without_payload() -> None:
    """A bare server ping gives Ping(None), answered by a bare pong."""
    protocol = acknowledged(TransportWSProtocol)
    event = protocol.receive('{"type":"ping"}')
    assert event == Ping(None)
    assert isinstance(event, Ping)
    assert parse(protocol.pong(event.payload)) == {"type": "pong"}


@pytest.mark.parametrize(
    ("text", "event"),
    [
        ('{"type":"pong"}', Pong(None)),
        ('{"type":"pong","payload":{"ts":1}}', Pong({"ts": 1})),
        ('{"type":"pong","payload":null}', Pong(None)),
    ],
    ids=["bare", "payload", "null"],
)
def test_pong_received(text: str, event: Pong) -> None:
    """A server pong (answer or unsolicited) gives Pong with its payload."""
    protocol = acknowledged(TransportWSProtocol)
    assert protocol.receive(text) == event


@pytest.mark.parametrize("started", [False, True], ids=["before-init", "before-ack"])
@pytest.mark.parametrize(
    ("text", "event"),
    [('{"type":"ping","payload":"p"}', Ping("p")), ('{"type":"pong"}', Pong(None))],
    ids=["ping", "pong"],
)
def test_ping_pong_before_ack_are_fine(started: bool, text: str, event: Ping | Pong) -> None:
    """ping and pong may come before connection_ack; the state does not move."""
    protocol = initialising(TransportWSProtocol) if started else TransportWSProtocol()
    state = protocol.state
    assert protocol.receive(text) == event
    assert protocol.state is state


@pytest.mark.parametrize("started", [False, True], ids=["before-init", "before-ack"])
@pytest.mark.parametrize(
    "message",
    [
        {"type": "next", "id": "1", "payload": {"data": {}}},
        {"type": "error", "id": "1", "payload": [{"message": "x"}]},
        {"type": "complete", "id": "1"},
    ],
    ids=["next", "error", "complete"],
)
def test_operation_message_before_ack_is_violation(started: bool, message: dict[str, Any]) -> None:
    """next, error or complete before connection_ack is a violation, closed with 4004."""
    protocol = initialising(TransportWSProtocol) if started else TransportWSProtocol()
    with pytest.raises(RemoteProtocolError) as info:
        protocol.receive(json.dumps(message))
    assert str(info.value) == f"server sent {message['type']!r} before connection_ack"
    assert info.value.close_code == 4004


def test_results_still_decode_while_closing() -> None:
    """After goodbye(), late next / error / complete still decode (the ack came before)."""
    protocol = acknowledged(TransportWSProtocol)
    assert protocol.goodbye(["1", "2"]) == []
    assert protocol.receive(frame(type="next", id="1", payload={"data": None})) == Next(
        "1", {"data": None}
    )
    assert protocol.receive(frame(type="error", id="2", payload=[{"message": "e"}])) == Error(
        "2", [{"message": "e"}]
    )
    assert protocol.receive(frame(type="complete", id="1")) == Complete("1")


@pytest.mark.parametrize("live_ids", [[], ["1", "2", "3"]], ids=["idle", "ops-live"])
def test_goodbye_sends_nothing(live_ids: list[str]) -> None:
    """goodbye() sends no message on graphql-transport-ws (the Close frame says it all)."""
    protocol = acknowledged(TransportWSProtocol)
    assert protocol.goodbye(live_ids) == []
    assert protocol.state is ConnectionState.CLOSING


@pytest.mark.parametrize(
    "kind", ["ka", "data", "start", "stop", "connection_error", "subscribe", "connection_init"]
)
def test_other_protocol_types_are_unknown(kind: str) -> None:
    """Apollo's and client-only message types from the server are violations (4004)."""
    protocol = acknowledged(TransportWSProtocol)
    with pytest.raises(RemoteProtocolError) as info:
        protocol.receive(frame(type=kind, id="1", payload={"data": {}}))
    assert str(info.value) == f"server sent a message of unknown type {kind!r}"
    assert info.value.close_code == 4004


def test_ack_with_non_object_payload_drops_it() -> None:
    """connection_ack whose payload is not an object still acks, with payload None."""
    protocol = initialising(TransportWSProtocol)
    assert protocol.receive('{"type":"connection_ack","payload":[1]}') == ConnectionAck(None)
    assert protocol.state is ConnectionState.ACKNOWLEDGED


def test_whole_exchange() -> None:
    """init, ping/pong before the ack, ack, subscribe, two nexts, complete, cancel, goodbye."""
    protocol = TransportWSProtocol()
    sent = [parse(protocol.connection_init({"token": "t"}))]
    ping = protocol.receive('{"type":"ping"}')
    assert ping == Ping(None)
    sent.append(parse(protocol.pong(None)))
    assert protocol.receive('{"type":"connection_ack"}') == ConnectionAck(None)
    sent.append(parse(protocol.subscribe("1", {"query": "subscription { n }"})))
    events = [
        protocol.receive(frame(type="next", id="1", payload={"data": {"n": 1}})),
        protocol.receive(frame(type="next", id="1", payload={"data": {"n": 2}})),
        protocol.receive(frame(type="complete", id="1")),
    ]
    sent.append(parse(protocol.subscribe("2", {"query": "subscription { n }"})))
    sent.append(parse(protocol.cancel("2")))
    assert protocol.goodbye([]) == []
    assert events == [Next("1", {"data": {"n": 1}}), Next("1", {"data": {"n": 2}}), Complete("1")]
    assert sent == [
        {"type": "connection_init", "payload": {"token": "t"}},
        {"type": "pong"},
        {"id": "1", "type": "subscribe", "payload": {"query": "subscription { n }"}},
        {"id": "2", "type": "subscribe", "payload": {"query": "subscription { n }"}},
        {"id": "2", "type": "complete"},
    ]
    assert protocol.state is ConnectionState.CLOSING
