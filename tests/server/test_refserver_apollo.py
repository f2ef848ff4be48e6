"""The reference server speaking Apollo's graphql-ws, checked frame by frame."""

from __future__ import annotations

import pytest

from gqlws_sync.testing import Faults, ReferenceServer, ServerFactory

from ._refserver_raw import APOLLO, MS, SILENCE, ClientPool, RawClient


@pytest.fixture
def client(gqlws_server: ReferenceServer, clients: ClientPool) -> RawClient:
    """An acknowledged APOLLO connection to a polite server."""
    return clients.connect(gqlws_server.url, APOLLO)


def test_init_ack_and_no_keep_alive_by_default(client: RawClient) -> None:
    """The ack has no payload, and no ``ka`` follows it when keep-alive is off."""
    client.expect_silence()


def test_keep_alive_right_after_ack_then_every_interval(
    gqlws_server_factory: ServerFactory, clients: ClientPool
) -> None:
    """``ka`` follows the ack at once, then keeps coming; turning it off stops it."""
    server = gqlws_server_factory(faults=Faults(keep_alive_interval=20 * MS))
    client = clients.connect(server.url, APOLLO)
    assert [client.recv() for _ in range(3)] == [{"type": "ka"}] * 3
    server.faults.keep_alive_interval = None
    client.start(APOLLO, "1", "{ hello }")
    while (message := client.recv()) == {"type": "ka"}:
        pass
    assert message["type"] == "data"
    client.recv_type("complete")
    client.expect_silence(100 * MS)


def test_query_gives_data_then_complete(client: RawClient) -> None:
    """A query's result comes as ``data``, then ``complete``."""
    client.start(APOLLO, "1", "query ($a: Int!) { add(a: $a, b: 2) }", {"a": 40})
    assert client.recv() == {"type": "data", "id": "1", "payload": {"data": {"add": 42}}}
    assert client.recv() == {"type": "complete", "id": "1"}


def test_mutation(client: RawClient) -> None:
    """Mutations run over APOLLO too."""
    client.start(APOLLO, "1", "mutation { increment(by: 2) }")
    assert client.results(APOLLO, "1") == [{"increment": 2}]


def test_subscription_runs_to_completion(client: RawClient) -> None:
    """countdown yields from..1 then completes."""
    client.start(APOLLO, "s", "subscription { countdown(from: 2) }")
    assert client.results(APOLLO, "s") == [{"countdown": 2}, {"countdown": 1}]


def test_start_before_init_runs(gqlws_server: ReferenceServer, clients: ClientPool) -> None:
    """Like subscriptions-transport-ws, an operation before the init still runs."""
    client = clients.connect(gqlws_server.url, APOLLO, init=False)
    client.start(APOLLO, "1", "{ hello }")
    assert client.results(APOLLO, "1") == [{"hello": "Hello world"}]


def test_stop_ends_the_subscription_with_complete(client: RawClient) -> None:
    """stop → complete, and no data for that id after it."""
    client.start(APOLLO, "t", "subscription { ticks(interval: 0.005) }")
    client.recv_type("data")
    client.send({"type": "stop", "id": "t"})
    while (message := client.recv())["type"] == "data":
        pass
    assert message == {"type": "complete", "id": "t"}
    client.expect_silence()


def test_stop_for_an_unknown_id_is_ignored(client: RawClient) -> None:
    """Nothing is sent for an id that is not live."""
    client.send({"type": "stop", "id": "nope"})
    client.expect_silence()


def test_start_with_a_live_id_replaces_the_operation(client: RawClient) -> None:
    """The old operation stops without complete; the new one runs."""
    client.start(APOLLO, "x", "subscription { ticks(interval: 10) }")
    assert client.recv()["payload"] == {"data": {"ticks": 0}}
    client.start(APOLLO, "x", "{ hello }")
    assert client.results(APOLLO, "x") == [{"hello": "Hello world"}]
    client.expect_silence()


def test_second_init_is_acked_again(client: RawClient) -> None:
    """APOLLO servers re-run the init and ack again."""
    client.init()


def test_connection_terminate_closes_1000(client: RawClient) -> None:
    """The server closes normally on connection_terminate."""
    client.send({"type": "connection_terminate"})
    assert client.recv_close() == (1000, "")


def test_validation_errors_come_as_data_then_complete(client: RawClient) -> None:
    """subscriptions-transport-ws style: ``data`` with only ``errors``, then ``complete``."""
    client.start(APOLLO, "1", "{ nope }")
    message = client.recv_type("data")
    assert list(message["payload"]) == ["errors"]
    assert "nope" in message["payload"]["errors"][0]["message"]
    assert client.recv() == {"type": "complete", "id": "1"}


@pytest.mark.parametrize(
    ("query", "operation_name", "text"),
    [
        ("{ hello", None, "Syntax Error"),
        ("query A { hello }", "B", "unknown operation named 'B'"),
    ],
)
def test_request_errors_come_as_one_error_object(
    client: RawClient, query: str, operation_name: str | None, text: str
) -> None:
    """``error`` with one ``{message}`` object, and nothing after it."""
    client.start(APOLLO, "1", query, operation_name=operation_name)
    message = client.recv_type("error")
    assert message["id"] == "1"
    assert text in message["payload"]["message"]
    client.expect_silence()


def test_source_error_is_data_with_errors_then_complete(client: RawClient) -> None:
    """A source raising mid-stream: ``data`` with null data and errors, then complete."""
    client.start(APOLLO, "f", "subscription { failAfter(n: 1) }")
    assert client.recv()["payload"] == {"data": {"failAfter": 1}}
    assert client.recv()["payload"] == {
        "data": None,
        "errors": [{"message": "failed after 1 events", "path": ["failAfter"]}],
    }
    assert client.recv() == {"type": "complete", "id": "f"}


def test_unknown_type_gets_error_and_connection_stays(client: RawClient) -> None:
    """subscriptions-transport-ws answers ``error`` and keeps the connection."""
    client.send({"type": "bogus", "id": "7"})
    message = client.recv_type("error")
    assert message["id"] == "7"
    assert "bogus" in message["payload"]["message"]
    client.start(APOLLO, "1", "{ hello }")
    assert client.results(APOLLO, "1") == [{"hello": "Hello world"}]


@pytest.mark.parametrize("frame", ["not json", "[1]"])
def test_unparseable_input_gets_connection_error_and_connection_stays(
    client: RawClient, frame: str
) -> None:
    """``connection_error`` without closing."""
    client.send_text(frame)
    assert client.recv_type("connection_error")["payload"]["message"]
    client.start(APOLLO, "1", "{ hello }")
    assert client.results(APOLLO, "1") == [{"hello": "Hello world"}]


def test_start_without_query_gets_error(client: RawClient) -> None:
    """A start without a query string is answered with ``error`` for its id."""
    client.send({"type": "start", "id": "1", "payload": {}})
    message = client.recv_type("error")
    assert message["id"] == "1"
    assert "query" in message["payload"]["message"]


def test_init_error_sends_connection_error_then_closes_1011(
    gqlws_server_factory: ServerFactory, clients: ClientPool
) -> None:
    """The reference refusal: ``connection_error`` {message}, then close 1011."""
    server = gqlws_server_factory(faults=Faults(init_error="bad token"))
    client = clients.connect(server.url, APOLLO, init=False)
    client.send({"type": "connection_init", "payload": {"authToken": "x"}})
    assert client.recv() == {"type": "connection_error", "payload": {"message": "bad token"}}
    assert client.recv_close()[0] == 1011


def test_apollo_queries_false_refuses_queries_like_strawberry(
    gqlws_server_factory: ServerFactory, clients: ClientPool
) -> None:
    """Only subscriptions run; a query gets an ``error`` object."""
    server = gqlws_server_factory(faults=Faults(apollo_queries=False))
    client = clients.connect(server.url, APOLLO)
    client.start(APOLLO, "q", "{ hello }")
    message = client.recv_type("error")
    assert message["id"] == "q"
    assert "subscriptions" in message["payload"]["message"]
    client.start(APOLLO, "s", "subscription { countdown(from: 1) }")
    assert client.results(APOLLO, "s") == [{"countdown": 1}]


def test_send_query_complete_false_like_ariadne(
    gqlws_server_factory: ServerFactory, clients: ClientPool
) -> None:
    """``data`` and then nothing for a query; subscriptions still complete."""
    server = gqlws_server_factory(faults=Faults(send_query_complete=False))
    client = clients.connect(server.url, APOLLO)
    client.start(APOLLO, "q", "{ hello }")
    client.recv_type("data")
    client.expect_silence(SILENCE / 2)
    client.start(APOLLO, "s", "subscription { countdown(from: 1) }")
    assert client.results(APOLLO, "s") == [{"countdown": 1}]


def test_burst_uses_data_messages(client: RawClient) -> None:
    """The fast path speaks APOLLO's message names."""
    client.start(APOLLO, "b", "subscription { burst(count: 3, size: 5) }")
    assert client.frame()[1] == b'{"type":"data","id":"b","payload":{"data":{"burst":"xxxxx"}}}'
    assert client.results(APOLLO, "b") == [{"burst": "xxxxx"}] * 2
