"""The reference server speaking graphql-transport-ws, checked frame by frame."""

from __future__ import annotations

from typing import Any

import pytest

from gqlws_sync.testing import Faults, ReferenceServer, ServerFactory

from ._refserver_raw import GTW, MS, SILENCE, ClientPool, RawClient


@pytest.fixture
def client(gqlws_server: ReferenceServer, clients: ClientPool) -> RawClient:
    """An acknowledged GTW connection to a polite server."""
    return clients.connect(gqlws_server.url, GTW)


def assert_next_is_pong(client: RawClient) -> None:
    """Ping and expect the pong as the very next message: nothing was still in flight."""
    client.send({"type": "ping", "payload": {"probe": True}})
    assert client.recv() == {"type": "pong", "payload": {"probe": True}}


# connection_init / connection_ack


def test_init_is_acknowledged_and_recorded(
    gqlws_server: ReferenceServer, clients: ClientPool
) -> None:
    """connection_init → connection_ack without payload; the init lands in ``received``."""
    client = clients.connect(gqlws_server.url, GTW, init=False)
    assert client.init({"token": "t"}) == {"type": "connection_ack"}
    assert gqlws_server.wait_for_message("connection_init") == {
        "type": "connection_init",
        "payload": {"token": "t"},
    }


@pytest.mark.parametrize("payload", [None, {}])
def test_init_payload_may_be_null_or_empty(
    gqlws_server: ReferenceServer, clients: ClientPool, payload: dict[str, Any] | None
) -> None:
    """Absent, null and empty payloads are all valid."""
    client = clients.connect(gqlws_server.url, GTW, init=False)
    client.send({"type": "connection_init", "payload": payload})
    client.recv_type("connection_ack")


def test_ack_payload(gqlws_server_factory: ServerFactory, clients: ClientPool) -> None:
    """``ack_payload`` travels in connection_ack."""
    server = gqlws_server_factory(faults=Faults(ack_payload={"server": "ref"}))
    client = clients.connect(server.url, GTW, init=False)
    assert client.init() == {"type": "connection_ack", "payload": {"server": "ref"}}


def test_init_payload_reaches_resolvers_with_headers(
    gqlws_server: ReferenceServer, clients: ClientPool
) -> None:
    """``whoami`` reads the Authorization header and the init payload's token."""
    client = clients.raw(gqlws_server.url, [GTW], header=["Authorization: Bearer h"])
    client.init({"Authorization": "Bearer i"})
    client.start(GTW, "1", "{ whoami { authorization initToken } }")
    assert client.results(GTW, "1") == [
        {"whoami": {"authorization": "Bearer h", "initToken": "Bearer i"}}
    ]


def test_init_error_closes_4403(gqlws_server_factory: ServerFactory, clients: ClientPool) -> None:
    """GTW refuses an init by closing 4403 with the message as reason."""
    server = gqlws_server_factory(faults=Faults(init_error="bad token"))
    client = clients.connect(server.url, GTW, init=False)
    client.send({"type": "connection_init"})
    assert client.recv_close() == (4403, "bad token")


def test_ack_delay_holds_the_ack(gqlws_server_factory: ServerFactory, clients: ClientPool) -> None:
    """Nothing comes during ``ack_delay``; the ack follows it."""
    server = gqlws_server_factory(faults=Faults(ack_delay=SILENCE * 2))
    client = clients.connect(server.url, GTW, init=False)
    client.send({"type": "connection_init"})
    client.expect_silence()
    client.recv_type("connection_ack")


def test_send_ack_false_never_acks_but_answers_pings(
    gqlws_server_factory: ServerFactory, clients: ClientPool
) -> None:
    """An unacknowledged connection still gets pongs."""
    server = gqlws_server_factory(faults=Faults(send_ack=False))
    client = clients.connect(server.url, GTW, init=False)
    client.send({"type": "connection_init"})
    client.expect_silence()
    assert_next_is_pong(client)


# ping / pong


def test_ping_is_answered_with_pong_echoing_the_payload(client: RawClient) -> None:
    """The pong carries the ping's payload; without one, no payload."""
    assert_next_is_pong(client)
    client.send({"type": "ping"})
    assert client.recv() == {"type": "pong"}


def test_ping_before_init_is_answered(gqlws_server: ReferenceServer, clients: ClientPool) -> None:
    """Pings are legal before connection_init."""
    client = clients.connect(gqlws_server.url, GTW, init=False)
    assert_next_is_pong(client)
    client.init()


def test_answer_pings_false_sends_no_pong(
    gqlws_server_factory: ServerFactory, clients: ClientPool
) -> None:
    """With ``answer_pings=False`` a ping goes unanswered, and the server stays usable."""
    server = gqlws_server_factory(faults=Faults(answer_pings=False))
    client = clients.connect(server.url, GTW)
    client.send({"type": "ping"})
    client.expect_silence()
    client.start(GTW, "1", "{ hello }")
    assert client.results(GTW, "1") == [{"hello": "Hello world"}]


def test_server_ping_interval_sends_pings(
    gqlws_server_factory: ServerFactory, clients: ClientPool
) -> None:
    """``server_ping_interval`` makes the server ping; the client's pong is recorded."""
    server = gqlws_server_factory(faults=Faults(server_ping_interval=20 * MS))
    client = clients.connect(server.url, GTW)
    assert client.recv() == {"type": "ping"}
    assert client.recv() == {"type": "ping"}
    client.send({"type": "pong"})
    server.wait_for_message("pong")
    server.faults.server_ping_interval = None
    # The pings stop at once: the next message is the pong to our own ping.
    client.send({"type": "ping", "payload": {"last": 1}})
    while (message := client.recv()) == {"type": "ping"}:
        pass
    assert message == {"type": "pong", "payload": {"last": 1}}
    client.expect_silence()


# Operations


def test_query_gives_next_then_complete(client: RawClient) -> None:
    """A query's single result, then complete."""
    client.start(GTW, "q1", "query Q($n: String) { hello(name: $n) add(a: 2, b: 3) }", {"n": "x"})
    assert client.recv() == {
        "type": "next",
        "id": "q1",
        "payload": {"data": {"hello": "Hello x", "add": 5}},
    }
    assert client.recv() == {"type": "complete", "id": "q1"}


def test_operation_name_selects_among_several(client: RawClient) -> None:
    """operationName picks one operation of a multi-operation document."""
    document = 'query A { hello } query B { echo(value: "b") }'
    client.start(GTW, "1", document, operation_name="B")
    assert client.results(GTW, "1") == [{"echo": "b"}]


def test_mutations_change_state_per_schema(
    gqlws_server: ReferenceServer, clients: ClientPool
) -> None:
    """The counter and message live as long as the schema, across connections."""
    first = clients.connect(gqlws_server.url, GTW)
    first.start(GTW, "1", "mutation { increment }")
    assert first.results(GTW, "1") == [{"increment": 1}]
    first.start(GTW, "2", 'mutation { increment(by: 5) setMessage(text: "hi") }')
    assert first.results(GTW, "2") == [{"increment": 6, "setMessage": "hi"}]
    second = clients.connect(gqlws_server.url, GTW)
    second.start(GTW, "1", "{ message }")
    assert second.results(GTW, "1") == [{"message": "hi"}]


def test_field_errors_come_with_partial_data(client: RawClient) -> None:
    """A failing field is null with an error; its siblings resolve."""
    client.start(GTW, "1", "{ hello boom partial { ok bad } }")
    message = client.recv_type("next")
    assert message["payload"]["data"] == {
        "hello": "Hello world",
        "boom": None,
        "partial": {"ok": "fine", "bad": None},
    }
    assert [error["path"] for error in message["payload"]["errors"]] == [
        ["boom"],
        ["partial", "bad"],
    ]
    client.recv_type("complete")


def test_subscription_runs_to_completion(client: RawClient) -> None:
    """countdown yields from..1 then completes."""
    client.start(GTW, "s", "subscription { countdown(from: 3) }")
    assert client.results(GTW, "s") == [{"countdown": 3}, {"countdown": 2}, {"countdown": 1}]


def test_client_complete_stops_the_subscription_silently(
    gqlws_server: ReferenceServer, client: RawClient
) -> None:
    """After the client's complete nothing more comes for that id, not even a complete."""
    client.start(GTW, "t", "subscription { ticks(interval: 0.005) }")
    assert client.recv()["payload"] == {"data": {"ticks": 0}}
    client.send({"type": "complete", "id": "t"})
    client.send({"type": "ping"})
    while (message := client.recv())["type"] == "next":
        assert message["id"] == "t"
    assert message == {"type": "pong"}
    client.expect_silence()
    assert gqlws_server.wait_for_message("complete", op_id="t")["id"] == "t"


def test_ids_may_be_reused_after_completion(client: RawClient) -> None:
    """Only a *live* duplicate id is an error."""
    for _ in range(2):
        client.start(GTW, "same", "{ hello }")
        assert client.results(GTW, "same") == [{"hello": "Hello world"}]


def test_operations_run_concurrently(client: RawClient) -> None:
    """A slow query does not hold up a fast one on the same connection."""
    client.start(GTW, "slow", "{ slow(seconds: 0.2) }")
    client.start(GTW, "fast", "{ hello }")
    assert client.recv_type("next")["id"] == "fast"


def test_serial_operations_run_one_at_a_time(
    gqlws_server_factory: ServerFactory, clients: ClientPool
) -> None:
    """Ariadne's behaviour: the fast query waits for the slow one."""
    server = gqlws_server_factory(faults=Faults(serial_operations=True))
    client = clients.connect(server.url, GTW)
    client.start(GTW, "slow", "{ slow(seconds: 0.05) }")
    client.start(GTW, "fast", "{ hello }")
    assert [client.recv()["id"] for _ in range(4)] == ["slow", "slow", "fast", "fast"]


# Errors of an operation


@pytest.mark.parametrize(
    ("query", "variables", "operation_name", "message"),
    [
        ("{ nope }", None, None, "Cannot query field 'nope' on type 'Query'."),
        ("{ hello", None, None, "Syntax Error: Expected Name, found <EOF>."),
        ("query A { hello }", None, "B", "unknown operation named 'B'"),
        ("query A { hello } query B { hello }", None, None, "several operations"),
    ],
)
def test_request_errors_give_error_list_and_no_complete(
    client: RawClient,
    query: str,
    variables: dict[str, Any] | None,
    operation_name: str | None,
    message: str,
) -> None:
    """Parse, validation and operation-selection errors: ``error`` with a list, then nothing."""
    client.start(GTW, "e", query, variables, operation_name)
    error = client.recv_type("error")
    assert error["id"] == "e"
    assert isinstance(error["payload"], list)
    assert message in error["payload"][0]["message"]
    assert_next_is_pong(client)


def test_variable_errors_are_a_result(client: RawClient) -> None:
    """Bad variables come back as a result with errors, like graphql-ws does."""
    client.start(GTW, "v", "query ($a: Int!) { add(a: $a, b: 1) }", {"a": "x"})
    message = client.recv_type("next")
    assert message["payload"]["data"] is None
    assert "$a" in message["payload"]["errors"][0]["message"]
    client.recv_type("complete")


def test_source_error_mid_stream_is_next_with_errors_then_complete(client: RawClient) -> None:
    """The default, Strawberry-like: the failure is a result, then complete."""
    client.start(GTW, "f", "subscription { failAfter(n: 2) }")
    assert client.recv()["payload"] == {"data": {"failAfter": 1}}
    assert client.recv()["payload"] == {"data": {"failAfter": 2}}
    assert client.recv()["payload"] == {
        "data": None,
        "errors": [{"message": "failed after 2 events", "path": ["failAfter"]}],
    }
    assert client.recv() == {"type": "complete", "id": "f"}


def test_source_error_as_error_message(
    gqlws_server_factory: ServerFactory, clients: ClientPool
) -> None:
    """``source_error="error"`` imitates graphql-ws on Node: ``error`` list, no complete."""
    server = gqlws_server_factory(faults=Faults(source_error="error"))
    client = clients.connect(server.url, GTW)
    client.start(GTW, "f", "subscription { failAfter(n: 1) }")
    client.recv_type("next")
    assert client.recv() == {
        "type": "error",
        "id": "f",
        "payload": [{"message": "failed after 1 events", "path": ["failAfter"]}],
    }
    assert_next_is_pong(client)


def test_send_query_complete_false_omits_complete(
    gqlws_server_factory: ServerFactory, clients: ClientPool
) -> None:
    """The result comes, its complete does not."""
    server = gqlws_server_factory(faults=Faults(send_query_complete=False))
    client = clients.connect(server.url, GTW)
    client.start(GTW, "1", "{ hello }")
    client.recv_type("next")
    assert_next_is_pong(client)


def test_send_results_false_holds_results_until_set_again(
    gqlws_server: ReferenceServer, client: RawClient
) -> None:
    """Operations are received but answered only once results flow again."""
    gqlws_server.faults.send_results = False
    client.start(GTW, "1", "{ hello }")
    gqlws_server.wait_for_message("subscribe", op_id="1")
    assert_next_is_pong(client)
    client.expect_silence()
    gqlws_server.faults.send_results = True
    assert client.results(GTW, "1") == [{"hello": "Hello world"}]


# Close codes


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1, 2]",
        '{"no": "type"}',
        '{"type": "bogus"}',
        '{"type": "subscribe", "payload": {"query": "{ hello }"}}',
        '{"type": "subscribe", "id": "", "payload": {"query": "{ hello }"}}',
        '{"type": "subscribe", "id": "1"}',
        '{"type": "subscribe", "id": "1", "payload": {"query": "{ hello }", "variables": 3}}',
        '{"type": "complete"}',
        '{"type": "next", "id": "1", "payload": {}}',
        '{"type": "connection_ack"}',
        '{"type": "ping", "payload": "text"}',
    ],
)
def test_invalid_messages_close_4400(client: RawClient, frame: str) -> None:
    """Non-JSON, unknown types, missing fields and server-only types: 4400."""
    client.send_text(frame)
    code, reason = client.recv_close()
    assert code == 4400
    assert reason


def test_binary_frame_closes_4400(client: RawClient) -> None:
    """GTW is text only."""
    client.send_binary(b'{"type": "ping"}')
    assert client.recv_close() == (4400, "binary frames are not allowed")


def test_invalid_init_payload_closes_4400(
    gqlws_server: ReferenceServer, clients: ClientPool
) -> None:
    """connection_init's payload must be an object or null."""
    client = clients.connect(gqlws_server.url, GTW, init=False)
    client.send({"type": "connection_init", "payload": "token"})
    assert client.recv_close()[0] == 4400


def test_subscribe_before_ack_closes_4401(
    gqlws_server: ReferenceServer, clients: ClientPool
) -> None:
    """No subscribe before connection_ack."""
    client = clients.connect(gqlws_server.url, GTW, init=False)
    client.start(GTW, "1", "{ hello }")
    assert client.recv_close() == (4401, "unauthorized")


def test_subscribe_during_ack_delay_closes_4401(
    gqlws_server_factory: ServerFactory, clients: ClientPool
) -> None:
    """Sent init is not enough: the ack must have been sent."""
    server = gqlws_server_factory(faults=Faults(ack_delay=1.0))
    client = clients.connect(server.url, GTW, init=False)
    client.send({"type": "connection_init"})
    client.start(GTW, "1", "{ hello }")
    assert client.recv_close()[0] == 4401


def test_missing_init_closes_4408(gqlws_server_factory: ServerFactory, clients: ClientPool) -> None:
    """No connection_init within init_timeout: 4408."""
    server = gqlws_server_factory(faults=Faults(init_timeout=50 * MS))
    client = clients.connect(server.url, GTW, init=False)
    assert client.recv_close() == (4408, "connection initialisation timeout")


def test_init_in_time_is_not_closed(
    gqlws_server_factory: ServerFactory, clients: ClientPool
) -> None:
    """The init timer is cancelled by the init."""
    server = gqlws_server_factory(faults=Faults(init_timeout=50 * MS))
    client = clients.connect(server.url, GTW)
    client.expect_silence(150 * MS)


def test_duplicate_live_id_closes_4409(client: RawClient) -> None:
    """A second subscribe with a live id: 4409 naming it."""
    client.start(GTW, "dup", "subscription { ticks(interval: 10) }")
    client.recv_type("next")
    client.start(GTW, "dup", "{ hello }")
    assert client.recv_close() == (4409, "subscriber for dup already exists")


def test_second_init_closes_4429(client: RawClient) -> None:
    """connection_init may come once per socket."""
    client.send({"type": "connection_init"})
    assert client.recv_close() == (4429, "too many initialisation requests")


# burst


@pytest.mark.parametrize("size", [0, 1, 200, 70_000])
def test_burst_sizes_are_exact(client: RawClient, size: int) -> None:
    """Every event's string has exactly ``size`` bytes, whatever the frame size."""
    client.start(GTW, "b", f"subscription {{ burst(count: 70, size: {size}) }}")
    values = client.results(GTW, "b")
    assert len(values) == 70
    assert all(value == {"burst": "x" * size} for value in values)


def test_burst_fast_path_matches_graphql_core(client: RawClient) -> None:
    """The prebuilt frames equal what the executed path sends (a fragment disables it)."""
    client.start(
        GTW,
        "b",
        "subscription S($c: Int!, $s: Int = 3) { many: burst(count: $c, size: $s) }",
        {"c": 300},
    )
    fast = [client.frame() for _ in range(301)]
    client.start(
        GTW,
        "b",
        "subscription { ...F } fragment F on Subscription { many: burst(count: 300, size: 3) }",
    )
    slow = [client.frame() for _ in range(301)]
    assert fast == slow
    assert fast[0][1] == b'{"type":"next","id":"b","payload":{"data":{"many":"xxx"}}}'
    assert fast[-1][1] == b'{"type":"complete","id":"b"}'


def test_burst_can_be_cancelled(client: RawClient) -> None:
    """A client's complete stops even an endless-looking burst."""
    client.start(GTW, "b", "subscription { burst(count: 100000000, size: 10) }")
    client.recv_type("next")
    client.send({"type": "complete", "id": "b"})
    client.send({"type": "ping"})
    while (message := client.recv())["type"] == "next":
        pass
    assert message == {"type": "pong"}
    client.expect_silence(100 * MS)
