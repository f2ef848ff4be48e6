"""Behaviour both subprotocols share, run under each: frames in, events and frames out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gqlws_sync._protocol import (
    APOLLO_SUBPROTOCOL,
    GRAPHQLWS_SUBPROTOCOL,
    PROTOCOLS,
    ApolloProtocol,
    ConnectionState,
    LocalProtocolError,
    Protocol,
    RemoteProtocolError,
    TransportWSProtocol,
)
from gqlws_sync._protocol.events import Complete, ConnectionAck, Error, Next
from gqlws_sync.exceptions import TransportProtocolError, TransportServerError
from gqlws_sync.options import DEFAULT_JSON_LOADS, direct_loads

from ._wire import APOLLO, BOTH, GTW, Wire, acknowledged, frame, initialising, parse

FULL_PAYLOAD: dict[str, Any] = {
    "query": "subscription S($n: Int) { count(to: $n) }",
    "variables": {"n": 3, "nested": [1, {"a": None}]},
    "operationName": "S",
    "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "abc"}},
}


# -- identity -------------------------------------------------------------------------------


def test_subprotocol_names_and_registry() -> None:
    """Each class carries its subprotocol token, and PROTOCOLS maps the token to it."""
    assert GRAPHQLWS_SUBPROTOCOL == "graphql-transport-ws"
    assert APOLLO_SUBPROTOCOL == "graphql-ws"
    assert TransportWSProtocol.subprotocol == "graphql-transport-ws"
    assert ApolloProtocol.subprotocol == "graphql-ws"
    assert dict(PROTOCOLS) == {
        "graphql-transport-ws": TransportWSProtocol,
        "graphql-ws": ApolloProtocol,
    }


@BOTH
def test_violation_close_code(wire: Wire) -> None:
    """The close code for a server violation is 4004 on graphql-transport-ws, 1002 on Apollo."""
    assert wire.cls.violation_close_code == wire.violation_code


@pytest.mark.parametrize(
    ("cls", "expected"),
    [(TransportWSProtocol, True), (ApolloProtocol, False)],
    ids=["graphql-transport-ws", "graphql-ws"],
)
def test_liveness_and_completion_flags(cls: type[Protocol], expected: bool) -> None:
    """graphql-transport-ws counts any message as a sign of life and always completes
    queries; Apollo counts only ka and may leave a query without complete."""
    assert cls.any_message_is_alive is expected
    assert cls.completes_queries is expected
    assert type(cls.any_message_is_alive) is bool
    assert type(cls.completes_queries) is bool


@BOTH
def test_new_protocol_state(wire: Wire) -> None:
    """A fresh protocol is NEW and has no refusal message."""
    protocol = wire.cls()
    assert protocol.state is ConnectionState.NEW
    assert protocol.refusal_message is None


def test_protocol_errors_are_transport_protocol_errors() -> None:
    """Both protocol errors are TransportProtocolErrors; the remote one carries a close code."""
    assert issubclass(LocalProtocolError, TransportProtocolError)
    assert issubclass(RemoteProtocolError, TransportProtocolError)
    exc = RemoteProtocolError("bad", 4004)
    assert exc.close_code == 4004
    assert str(exc) == "bad"


# -- connection_init -------------------------------------------------------------------------


@BOTH
def test_connection_init_without_payload_sends_empty_object(wire: Wire) -> None:
    """connection_init(None) sends payload {} and moves NEW -> INITIALISING."""
    protocol = wire.cls()
    assert parse(protocol.connection_init(None)) == {"type": "connection_init", "payload": {}}
    assert protocol.state is ConnectionState.INITIALISING


@BOTH
def test_connection_init_with_empty_payload(wire: Wire) -> None:
    """connection_init({}) sends payload {}."""
    protocol = wire.cls()
    assert parse(protocol.connection_init({})) == {"type": "connection_init", "payload": {}}


@BOTH
def test_connection_init_with_payload(wire: Wire) -> None:
    """connection_init sends the init payload unchanged."""
    payload = {"authToken": "secret", "nested": {"list": [1, 2, None]}}
    protocol = wire.cls()
    assert parse(protocol.connection_init(payload)) == {
        "type": "connection_init",
        "payload": payload,
    }


@BOTH
def test_connection_init_twice_is_local_error(wire: Wire) -> None:
    """A second connection_init raises LocalProtocolError and leaves the state alone."""
    protocol = initialising(wire.cls)
    with pytest.raises(LocalProtocolError, match="connection_init may be sent once"):
        protocol.connection_init(None)
    assert protocol.state is ConnectionState.INITIALISING


@BOTH
def test_connection_init_after_ack_is_local_error(wire: Wire) -> None:
    """connection_init after the ack raises LocalProtocolError; still ACKNOWLEDGED."""
    protocol = acknowledged(wire.cls)
    with pytest.raises(LocalProtocolError, match="connection_init may be sent once"):
        protocol.connection_init({"a": 1})
    assert protocol.state is ConnectionState.ACKNOWLEDGED


@BOTH
def test_connection_init_after_goodbye_is_local_error(wire: Wire) -> None:
    """connection_init while CLOSING raises LocalProtocolError."""
    protocol = acknowledged(wire.cls)
    protocol.goodbye([])
    with pytest.raises(LocalProtocolError):
        protocol.connection_init(None)
    assert protocol.state is ConnectionState.CLOSING


# -- connection_ack --------------------------------------------------------------------------


@BOTH
def test_ack_without_payload(wire: Wire) -> None:
    """connection_ack without payload gives ConnectionAck(None) and ACKNOWLEDGED."""
    protocol = initialising(wire.cls)
    assert protocol.receive('{"type":"connection_ack"}') == ConnectionAck(None)
    assert protocol.state is ConnectionState.ACKNOWLEDGED


@BOTH
def test_ack_with_payload(wire: Wire) -> None:
    """connection_ack with an object payload hands the payload over."""
    protocol = initialising(wire.cls)
    event = protocol.receive(frame(type="connection_ack", payload={"server": "x", "n": [1]}))
    assert event == ConnectionAck({"server": "x", "n": [1]})
    assert protocol.state is ConnectionState.ACKNOWLEDGED


@BOTH
def test_ack_with_null_payload(wire: Wire) -> None:
    """connection_ack with payload null gives ConnectionAck(None)."""
    protocol = initialising(wire.cls)
    assert protocol.receive('{"type":"connection_ack","payload":null}') == ConnectionAck(None)


@BOTH
def test_repeated_ack_is_ignored(wire: Wire) -> None:
    """A second connection_ack yields no event and changes nothing."""
    protocol = acknowledged(wire.cls)
    assert protocol.receive(frame(type="connection_ack", payload={"again": True})) is None
    assert protocol.state is ConnectionState.ACKNOWLEDGED


@BOTH
def test_ack_while_closing_is_ignored(wire: Wire) -> None:
    """A connection_ack after goodbye() yields no event; the state stays CLOSING."""
    protocol = acknowledged(wire.cls)
    protocol.goodbye([])
    assert protocol.receive(frame(type="connection_ack")) is None
    assert protocol.state is ConnectionState.CLOSING


@BOTH
def test_ack_as_bytes(wire: Wire) -> None:
    """A frame given as UTF-8 bytes is decoded like text."""
    protocol = initialising(wire.cls)
    assert protocol.receive(b'{"type":"connection_ack"}') == ConnectionAck(None)


@BOTH
@pytest.mark.parametrize("started", [False, True], ids=["before-init", "before-ack"])
@pytest.mark.parametrize("kind", ["result", "error", "complete"])
def test_operation_message_before_ack_is_violation(wire: Wire, started: bool, kind: str) -> None:
    """A result, an error with an id, or a complete before connection_ack breaks either
    protocol: RemoteProtocolError with the violation close code, state unchanged."""
    protocol = initialising(wire.cls) if started else wire.cls()
    state = protocol.state
    messages: dict[str, dict[str, Any]] = {
        "result": {"type": wire.result, "id": "1", "payload": {"data": {}}},
        "error": {"type": "error", "id": "1", "payload": [{"message": "x"}]},
        "complete": {"type": "complete", "id": "1"},
    }
    message = messages[kind]
    with pytest.raises(RemoteProtocolError) as info:
        protocol.receive(json.dumps(message))
    assert str(info.value) == f"server sent {message['type']!r} before connection_ack"
    assert info.value.close_code == wire.violation_code
    assert protocol.state is state


# -- subscribe / cancel ----------------------------------------------------------------------


@BOTH
def test_subscribe_with_every_payload_key(wire: Wire) -> None:
    """subscribe() sends the start message with id and the whole payload."""
    protocol = acknowledged(wire.cls)
    assert parse(protocol.subscribe("1", FULL_PAYLOAD)) == {
        "id": "1",
        "type": wire.start,
        "payload": FULL_PAYLOAD,
    }


@BOTH
def test_subscribe_with_query_only(wire: Wire) -> None:
    """subscribe() with only a query sends just that key in the payload."""
    protocol = acknowledged(wire.cls)
    assert parse(protocol.subscribe("7", {"query": "{ a }"})) == {
        "id": "7",
        "type": wire.start,
        "payload": {"query": "{ a }"},
    }


@BOTH
@pytest.mark.parametrize(
    ("prepare", "state_name"),
    [("new", "new"), ("initialising", "initialising"), ("closing", "closing")],
)
def test_subscribe_out_of_turn_is_local_error(wire: Wire, prepare: str, state_name: str) -> None:
    """subscribe() before the ack (or after goodbye) raises LocalProtocolError naming the state."""
    protocol = wire.cls()
    if prepare != "new":
        protocol.connection_init(None)
    if prepare == "closing":
        protocol.receive(frame(type="connection_ack"))
        protocol.goodbye([])
    with pytest.raises(LocalProtocolError) as info:
        protocol.subscribe("1", {"query": "{ a }"})
    assert str(info.value) == f"cannot start an operation while the connection is {state_name}"


@BOTH
def test_cancel(wire: Wire) -> None:
    """cancel() sends the subprotocol's stop message (complete / stop) with the id."""
    protocol = acknowledged(wire.cls)
    assert parse(protocol.cancel("3")) == {"id": "3", "type": wire.cancel}


@BOTH
def test_goodbye_moves_to_closing(wire: Wire) -> None:
    """goodbye() moves ACKNOWLEDGED -> CLOSING."""
    protocol = acknowledged(wire.cls)
    protocol.goodbye(["1"])
    assert protocol.state is ConnectionState.CLOSING


@BOTH
def test_full_state_sequence(wire: Wire) -> None:
    """States go NEW -> INITIALISING -> ACKNOWLEDGED -> CLOSING through init, ack, goodbye."""
    protocol = wire.cls()
    seen = [protocol.state]
    protocol.connection_init(None)
    seen.append(protocol.state)
    protocol.receive(frame(type="connection_ack"))
    seen.append(protocol.state)
    protocol.goodbye([])
    seen.append(protocol.state)
    assert seen == [
        ConnectionState.NEW,
        ConnectionState.INITIALISING,
        ConnectionState.ACKNOWLEDGED,
        ConnectionState.CLOSING,
    ]


# -- results ---------------------------------------------------------------------------------


@BOTH
@pytest.mark.parametrize(
    "payload",
    [
        {"data": {"count": 1}},
        {"data": None, "errors": [{"message": "boom", "path": ["count"]}]},
        {"errors": [{"message": "Cannot query field"}]},
        {"data": {"a": 1}, "extensions": {"cost": 3}},
    ],
    ids=["data", "data-null-with-errors", "errors-only", "with-extensions"],
)
def test_result(wire: Wire, payload: dict[str, Any]) -> None:
    """next / data gives Next with the id and the payload unchanged."""
    protocol = acknowledged(wire.cls)
    assert protocol.receive(frame(type=wire.result, id="1", payload=payload)) == Next("1", payload)


@BOTH
def test_result_for_unknown_id_is_an_event(wire: Wire) -> None:
    """A result for an id never started is still an event: the registry drops it, not this."""
    protocol = acknowledged(wire.cls)
    event = protocol.receive(frame(type=wire.result, id="99", payload={"data": {}}))
    assert event == Next("99", {"data": {}})


@BOTH
def test_complete(wire: Wire) -> None:
    """complete gives Complete with the id."""
    protocol = acknowledged(wire.cls)
    assert protocol.receive('{"type":"complete","id":"1"}') == Complete("1")


@BOTH
def test_error_then_complete_both_decode(wire: Wire) -> None:
    """error then a late complete for the same id decode to Error then Complete."""
    protocol = acknowledged(wire.cls)
    error = protocol.receive(frame(type="error", id="1", payload=[{"message": "x"}]))
    assert error == Error("1", [{"message": "x"}])
    assert protocol.receive(frame(type="complete", id="1")) == Complete("1")


@BOTH
@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        (
            [{"message": "a", "locations": [{"line": 1, "column": 2}]}, {"message": "b"}],
            [{"message": "a", "locations": [{"line": 1, "column": 2}]}, {"message": "b"}],
        ),
        ({"message": "one", "name": "GraphQLError"}, [{"message": "one", "name": "GraphQLError"}]),
        ({"errors": [{"message": "wrapped"}]}, [{"message": "wrapped"}]),
        ("plain text", [{"message": "plain text"}]),
        (["text item", {"message": "obj"}], [{"message": "text item"}, {"message": "obj"}]),
        (
            {"message": "outer", "errors": [{"message": "inner"}]},
            [{"message": "outer", "errors": [{"message": "inner"}]}],
        ),
    ],
    ids=["list", "single-object", "errors-key", "string", "list-with-text", "object-with-both"],
)
def test_error_payload_shapes(wire: Wire, payload: Any, errors: list[dict[str, Any]]) -> None:
    """error accepts a list, one object, {errors: [...]} or a string; always gives a list."""
    protocol = acknowledged(wire.cls)
    assert protocol.receive(frame(type="error", id="2", payload=payload)) == Error("2", errors)


@BOTH
@pytest.mark.parametrize(
    "message",
    [
        {"type": "error", "id": "2"},
        {"type": "error", "id": "2", "payload": None},
        {"type": "error", "id": "2", "payload": 42},
        {"type": "error", "id": "2", "payload": True},
        {"type": "error", "id": "2", "payload": []},
        {"type": "error", "id": "2", "payload": {"errors": []}},
    ],
    ids=["missing", "null", "number", "bool", "empty-list", "empty-errors-key"],
)
def test_error_bad_payload(wire: Wire, message: dict[str, Any]) -> None:
    """error with a payload that holds no error is a RemoteProtocolError."""
    protocol = acknowledged(wire.cls)
    with pytest.raises(RemoteProtocolError, match="error message with a bad payload") as info:
        protocol.receive(json.dumps(message))
    assert info.value.close_code == wire.violation_code


# -- invalid input ---------------------------------------------------------------------------


@BOTH
@pytest.mark.parametrize("text", ["not json", "", "{", '{"type": "next"', "{'type': 'ka'}"])
def test_non_json_text(wire: Wire, text: str) -> None:
    """A text frame that is not JSON is a RemoteProtocolError chained to the decode error."""
    protocol = acknowledged(wire.cls)
    with pytest.raises(RemoteProtocolError) as info:
        protocol.receive(text)
    assert str(info.value) == "server sent a text frame that is not JSON"
    assert info.value.close_code == wire.violation_code
    assert isinstance(info.value.__cause__, json.JSONDecodeError)


@BOTH
def test_invalid_utf8_bytes(wire: Wire) -> None:
    """Bytes that are not UTF-8 are a RemoteProtocolError chained to the UnicodeDecodeError."""
    protocol = acknowledged(wire.cls)
    with pytest.raises(RemoteProtocolError) as info:
        protocol.receive(b'{"type":"complete","id":"\xff\xfe1"}')
    assert str(info.value) == "server sent a text frame that is not JSON"
    assert info.value.close_code == wire.violation_code
    assert isinstance(info.value.__cause__, UnicodeDecodeError)


@BOTH
def test_deeply_nested_json(wire: Wire) -> None:
    """JSON nested too deep for the parser is a RemoteProtocolError, not a RecursionError."""
    protocol = acknowledged(wire.cls)
    depth = 200_000
    with pytest.raises(RemoteProtocolError) as info:
        protocol.receive("[" * depth + "]" * depth)
    assert info.value.close_code == wire.violation_code


@BOTH
@pytest.mark.parametrize(
    ("text", "kind"),
    [("[]", "list"), ("1", "int"), ("1.5", "float"), ('"ka"', "str"), ("null", "NoneType")],
)
def test_json_not_an_object(wire: Wire, text: str, kind: str) -> None:
    """JSON that is not an object is a RemoteProtocolError naming what it was."""
    protocol = acknowledged(wire.cls)
    with pytest.raises(RemoteProtocolError) as info:
        protocol.receive(text)
    assert str(info.value) == f"server sent JSON that is not an object: {kind}"
    assert info.value.close_code == wire.violation_code


@BOTH
@pytest.mark.parametrize(
    ("message", "shown"),
    [
        ({}, "None"),
        ({"id": "1", "payload": {"data": {}}}, "None"),
        ({"type": None}, "None"),
        ({"type": 1}, "1"),
        ({"type": "NEXT"}, "'NEXT'"),
        ({"type": "connection_init"}, "'connection_init'"),
        ({"type": "connection_terminate"}, "'connection_terminate'"),
        ({"type": "bogus", "id": "1"}, "'bogus'"),
    ],
    ids=["empty", "no-type", "null", "int", "upper-case", "init", "terminate", "bogus"],
)
def test_missing_or_unknown_type(wire: Wire, message: dict[str, Any], shown: str) -> None:
    """A message with no type or a type unknown to the subprotocol is a RemoteProtocolError."""
    protocol = acknowledged(wire.cls)
    with pytest.raises(RemoteProtocolError) as info:
        protocol.receive(json.dumps(message))
    assert str(info.value) == f"server sent a message of unknown type {shown}"
    assert info.value.close_code == wire.violation_code


_BAD_IDS: list[tuple[str, dict[str, Any]]] = [
    ("missing", {}),
    ("null", {"id": None}),
    ("int", {"id": 1}),
    ("empty", {"id": ""}),
    ("list", {"id": ["1"]}),
    ("object", {"id": {"v": "1"}}),
]


def _bad_id_cases() -> list[Any]:
    cases = []
    for wire in (GTW, APOLLO):
        for kind in (wire.result, "error", "complete"):
            for name, id_field in _BAD_IDS:
                if wire is APOLLO and kind == "error" and name in ("missing", "null"):
                    continue  # an Apollo error without id is about the connection: test_apollo.py
                cases.append(pytest.param(wire, kind, id_field, id=f"{wire.start}-{kind}-{name}"))
    return cases


@pytest.mark.parametrize(("wire", "kind", "id_field"), _bad_id_cases())
def test_bad_operation_id(wire: Wire, kind: str, id_field: dict[str, Any]) -> None:
    """next/data, error and complete without a non-empty string id are RemoteProtocolErrors."""
    protocol = acknowledged(wire.cls)
    payload: Any = {"data": {}} if kind == wire.result else [{"message": "x"}]
    message: dict[str, Any] = {"type": kind, "payload": payload, **id_field}
    with pytest.raises(RemoteProtocolError) as info:
        protocol.receive(json.dumps(message))
    shown = repr(id_field.get("id"))
    assert str(info.value) == f"server sent {kind!r} without a valid id: {shown}"
    assert info.value.close_code == wire.violation_code


@BOTH
@pytest.mark.parametrize(
    "payload_field",
    [
        {},
        {"payload": None},
        {"payload": []},
        {"payload": [{"data": {}}]},
        {"payload": "data"},
        {"payload": 1},
        {"payload": {}},
        {"payload": {"extensions": {"x": 1}}},
        {"payload": {"Data": {}}},
    ],
    ids=["missing", "null", "list", "list-of-result", "str", "int", "empty", "ext-only", "case"],
)
def test_bad_result_payload(wire: Wire, payload_field: dict[str, Any]) -> None:
    """next/data whose payload is not an object with data or errors is a RemoteProtocolError."""
    protocol = acknowledged(wire.cls)
    message: dict[str, Any] = {"type": wire.result, "id": "1", **payload_field}
    with pytest.raises(RemoteProtocolError) as info:
        protocol.receive(json.dumps(message))
    assert str(info.value) == (
        f"server sent {wire.result!r} whose payload has neither data nor errors"
    )
    assert info.value.close_code == wire.violation_code


@BOTH
def test_protocol_error_leaves_state(wire: Wire) -> None:
    """A rejected frame does not change the connection state."""
    protocol = acknowledged(wire.cls)
    with pytest.raises(RemoteProtocolError):
        protocol.receive("nonsense")
    assert protocol.state is ConnectionState.ACKNOWLEDGED


# -- custom JSON -----------------------------------------------------------------------------


class RecordingJson:
    """json.loads / json.dumps that remember what passed through them."""

    def __init__(self) -> None:
        self.dumped: list[Any] = []
        self.loaded: list[str | bytes | bytearray] = []

    def dumps(self, obj: Any) -> str:
        self.dumped.append(obj)
        return json.dumps(obj, separators=(",", ":"), sort_keys=True)

    def loads(self, data: str | bytes | bytearray) -> Any:
        self.loaded.append(data)
        return json.loads(data)


@BOTH
def test_custom_dumps_encodes_outgoing_messages(wire: Wire) -> None:
    """connection_init, subscribe and cancel are encoded with the given dumps."""
    codec = RecordingJson()
    protocol = wire.cls(dumps=codec.dumps, loads=codec.loads)
    init = protocol.connection_init({"token": "t"})
    protocol.receive('{"type":"connection_ack"}')
    start = protocol.subscribe("1", {"query": "{ a }"})
    stop = protocol.cancel("1")
    assert codec.dumped == [
        {"type": "connection_init", "payload": {"token": "t"}},
        {"id": "1", "type": wire.start, "payload": {"query": "{ a }"}},
        {"id": "1", "type": wire.cancel},
    ]
    assert init == '{"payload":{"token":"t"},"type":"connection_init"}'
    assert start == f'{{"id":"1","payload":{{"query":"{{ a }}"}},"type":"{wire.start}"}}'
    assert stop == f'{{"id":"1","type":"{wire.cancel}"}}'


@BOTH
def test_custom_loads_decodes_incoming_frames(wire: Wire) -> None:
    """receive() decodes every frame with the given loads."""
    codec = RecordingJson()
    protocol = wire.cls(dumps=codec.dumps, loads=codec.loads)
    protocol.connection_init(None)
    protocol.receive('{"type":"connection_ack"}')
    protocol.receive(b'{"type":"complete","id":"1"}')
    assert codec.loaded == ['{"type":"connection_ack"}', b'{"type":"complete","id":"1"}']


@BOTH
def test_custom_loads_result_is_used(wire: Wire) -> None:
    """The object returned by the custom loads is what receive() interprets."""

    decoded: dict[str, Any] = {
        "ACK": {"type": "connection_ack", "payload": {"via": "loads"}},
        "RESULT": {"type": wire.result, "id": "5", "payload": {"data": {"from": "loads"}}},
    }

    def loads(data: str | bytes | bytearray) -> Any:
        assert isinstance(data, str)
        return decoded[data]

    protocol = wire.cls(loads=loads)
    protocol.connection_init(None)
    assert protocol.receive("ACK") == ConnectionAck({"via": "loads"})
    assert protocol.receive("RESULT") == Next("5", {"data": {"from": "loads"}})


@BOTH
def test_custom_loads_value_error_is_protocol_error(wire: Wire) -> None:
    """A ValueError from a custom loads (as orjson raises) becomes a RemoteProtocolError."""

    class DecodeError(ValueError):
        pass

    def loads(data: str | bytes | bytearray) -> Any:
        raise DecodeError("unexpected character")

    protocol = wire.cls(loads=loads)
    protocol.connection_init(None)
    with pytest.raises(RemoteProtocolError) as info:
        protocol.receive("{")
    assert info.value.close_code == wire.violation_code
    assert type(info.value.__cause__) is DecodeError


# -- close codes through the protocol ---------------------------------------------------------


@BOTH
def test_close_error_names_own_subprotocol(wire: Wire) -> None:
    """Protocol.close_error() puts its own subprotocol in the wrong-subprotocol hint."""
    protocol = initialising(wire.cls)
    exc = protocol.close_error(1002, "", acknowledged=False)
    assert type(exc) is TransportProtocolError
    assert exc.code == 1002
    assert f"subprotocol {wire.cls.subprotocol!r}" in str(exc)
    assert "subprotocols=" in str(exc)


@BOTH
def test_close_error_4403(wire: Wire) -> None:
    """Protocol.close_error() maps 4403 to TransportServerError(code=4403)."""
    protocol = initialising(wire.cls)
    exc = protocol.close_error(4403, "Forbidden", acknowledged=False)
    assert type(exc) is TransportServerError
    assert exc.code == 4403
    assert "Forbidden" in str(exc)


# What orjson refuses and the standard library takes, and the 64-bit integer limits (orjson
# decodes integers beyond them as floats, as the README says).
_ODD_VALUES = ["NaN", "-Infinity", "1e400", "9223372036854775807", "-9223372036854775808"]


@BOTH
@pytest.mark.parametrize("value", ["1", '"é"', "[1.5, null]", *_ODD_VALUES])
def test_default_codec_in_the_protocol_decodes_as_stdlib(wire: Wire, value: str) -> None:
    """The protocol as a connection builds it with the default codec (orjson when installed,
    called directly, the standard library for what orjson refuses) gives the same events as
    with json.loads, also for the values orjson refuses."""
    text = f'{{"type": "{wire.result}", "id": "1", "payload": {{"data": {{"v": {value}}}}}}}'
    loads, fallback = direct_loads(DEFAULT_JSON_LOADS)
    fast = wire.cls(loads=loads, fallback_loads=fallback)
    plain = wire.cls(loads=json.loads)
    ack = frame(type="connection_ack")
    for protocol in (fast, plain):
        protocol.connection_init(None)
        assert protocol.receive(ack) == ConnectionAck(None)
    for data in (text, text.encode(), bytearray(text.encode())):
        assert repr(fast.receive(data)) == repr(plain.receive(text))


@BOTH
def test_fallback_decoder_refusing_too_is_a_protocol_error(wire: Wire) -> None:
    loads, fallback = direct_loads(DEFAULT_JSON_LOADS)
    protocol = wire.cls(loads=loads, fallback_loads=fallback)
    protocol.connection_init(None)
    protocol.receive(frame(type="connection_ack"))
    with pytest.raises(RemoteProtocolError) as info:
        protocol.receive('{"type": "next", "id": "1", "payload": {')
    assert info.value.close_code == wire.violation_code
    assert isinstance(info.value.__cause__, ValueError)
