"""One socket for every call and every thread of a gql Client; the linger that closes it;
nothing of ours left running once the transport is shut down or collected."""

from __future__ import annotations

import gc
import threading
import time
from typing import Any

import pytest
from gql import Client, gql
from gql.transport.exceptions import TransportClosed

from gqlws_sync.gql import DEFAULT_LINGER_TIMEOUT, WebsocketsTransport
from tests.conftest import MS
from tests.integration.conftest import UvicornServer

from .conftest import MakeTransport, Stats

LINGER = 300 * MS


def _our_threads(prefix: str = "gqlws_sync-") -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(prefix)]


def test_32_threads_one_gql_client_one_socket(
    gql_server: UvicornServer, stats: Stats, make_transport: MakeTransport
) -> None:
    """32 threads x 20 client.execute() on one gql Client: every answer reaches its caller,
    and the server saw one WebSocket."""
    transport = make_transport(gql_server.url)
    client = Client(transport=transport, fetch_schema_from_transport=True)
    start = threading.Barrier(32)
    errors: list[BaseException] = []
    wrong: list[Any] = []

    def work(n: int) -> None:
        try:
            start.wait(10)
            for i in range(20):
                query = gql("query Echo($v: String!) { echo(value: $v) }")
                query.variable_values = {"v": f"t{n}-{i}"}
                result = client.execute(query)
                if result != {"echo": f"t{n}-{i}"}:
                    wrong.append(result)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)

    assert errors == []
    assert wrong == []
    assert transport.sockets_opened == 1
    counted = stats.get()
    assert counted["connects"] == 1
    assert counted["received_connection_init"] == 1
    # gql fetches the schema in each thread that enters before the first fetch is done.
    assert 32 * 20 + 1 <= counted["received_subscribe"] <= 32 * 20 + 32


def test_linger_closes_the_idle_socket(
    gql_server: UvicornServer, stats: Stats, make_transport: MakeTransport
) -> None:
    """After the last call the socket stays open for linger_timeout (a call in that window
    reuses it), then closes, and the linger thread ends."""
    transport = make_transport(gql_server.url, linger_timeout=LINGER)
    client = Client(transport=transport)

    assert client.execute(gql("{ hello }")) == {"hello": "Hello world"}
    assert client.execute(gql("{ hello }")) == {"hello": "Hello world"}  # within the linger
    left_at = time.monotonic()
    assert _our_threads("gqlws_sync-linger-") != []
    assert stats.get()["open"] == 1

    stats.wait(open=0, connects=1)
    closed_after = time.monotonic() - left_at
    assert LINGER * 0.9 <= closed_after < LINGER + 2.0
    deadline = time.monotonic() + 5
    while _our_threads() and time.monotonic() < deadline:
        for thread in threading.enumerate():
            if thread.name.startswith("gqlws_sync-"):
                thread.join(max(0.0, deadline - time.monotonic()))
    assert _our_threads() == []
    assert transport.subprotocol is None

    # The next call opens a new socket.
    assert client.execute(gql("{ hello }")) == {"hello": "Hello world"}
    assert transport.sockets_opened == 2


def test_default_linger_then_shutdown(
    gql_server: UvicornServer, stats: Stats, make_transport: MakeTransport
) -> None:
    """With the default linger a loop of client.execute() uses one socket; shutdown()
    closes it at once and joins the linger thread."""
    transport = make_transport(gql_server.url)
    client = Client(transport=transport)
    for n in range(5):
        assert client.execute(gql(f'{{ echo(value: "{n}") }}')) == {"echo": str(n)}
    assert transport.sockets_opened == 1

    started = time.monotonic()
    transport.shutdown()
    assert time.monotonic() - started < DEFAULT_LINGER_TIMEOUT / 2
    assert _our_threads() == []
    stats.wait(open=0, connects=1)


def test_with_transport_shuts_down(gql_server: UvicornServer, stats: Stats) -> None:
    """Leaving ``with WebsocketsTransport(...)`` closes the socket whoever used it."""
    with WebsocketsTransport(url=gql_server.url) as transport:
        client = Client(transport=transport)
        assert client.execute(gql("{ hello }")) == {"hello": "Hello world"}
    assert _our_threads() == []
    stats.wait(open=0)


def test_garbage_collected_transport_closes_its_socket(
    gql_server: UvicornServer, stats: Stats
) -> None:
    """A transport dropped while its socket lingers is collected; its finalizer closes the
    socket and no thread of ours stays (the autouse leak check joins them)."""
    client = Client(transport=WebsocketsTransport(url=gql_server.url, linger_timeout=None))
    assert client.execute(gql("{ hello }")) == {"hello": "Hello world"}
    assert stats.get()["open"] == 1

    del client
    gc.collect()

    stats.wait(open=0)


def test_shutdown_fails_calls_in_flight_with_transport_closed(
    gql_server: UvicornServer, stats: Stats, make_transport: MakeTransport
) -> None:
    """shutdown() while another thread waits for a result: that call raises gql's
    TransportClosed, and the transport can be used again afterwards."""
    transport = make_transport(gql_server.url)
    client = Client(transport=transport)
    raised: list[BaseException] = []

    def slow() -> None:
        try:
            client.execute(gql("{ slow(seconds: 5) }"))
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=slow)
    thread.start()
    stats.wait(received_subscribe=1)
    transport.shutdown()
    thread.join(5)

    assert not thread.is_alive()
    assert len(raised) == 1
    assert isinstance(raised[0], TransportClosed)
    assert client.execute(gql("{ hello }")) == {"hello": "Hello world"}
    assert transport.sockets_opened == 2


def test_gqls_async_api_is_refused_clearly(
    gql_server: UvicornServer, stats: Stats, make_transport: MakeTransport
) -> None:
    """gql's own client.subscribe() refuses a sync transport before using it: no socket is
    opened, and the client goes on working (gqlws_sync.gql.subscribe() is the way)."""
    transport = make_transport(gql_server.url)
    client = Client(transport=transport)

    with pytest.raises(AssertionError, match="AsyncTransport"):
        for _ in client.subscribe(gql("subscription { ticks }")):
            pass

    assert transport.sockets_opened == 0
    assert stats.get().get("connects", 0) == 0
    assert client.execute(gql("{ hello }")) == {"hello": "Hello world"}


def test_transport_used_without_connect(make_transport: MakeTransport) -> None:
    """execute() outside gql's Client and without connect() says how to use it."""
    transport = make_transport("ws://127.0.0.1:9/graphql")
    with pytest.raises(TransportClosed, match="not connected"):
        transport.execute(gql("{ hello }"))


def test_linger_zero_closes_when_the_last_user_leaves(
    gql_server: UvicornServer, stats: Stats, make_transport: MakeTransport
) -> None:
    """linger_timeout=0: each call's socket closes as soon as the call is over."""
    transport = make_transport(gql_server.url, linger_timeout=0)
    client = Client(transport=transport)

    assert client.execute(gql("{ hello }")) == {"hello": "Hello world"}
    stats.wait(open=0, connects=1)
    assert client.execute(gql("{ hello }")) == {"hello": "Hello world"}
    stats.wait(open=0, connects=2)
    assert transport.sockets_opened == 2


def test_gql_batching_runs_on_the_shared_socket(
    gql_server: UvicornServer, stats: Stats, make_transport: MakeTransport
) -> None:
    """gql's Client(batch_interval=...) sends through execute_batch(); it works, one
    request after the other."""
    transport = make_transport(gql_server.url)
    client = Client(transport=transport, batch_interval=0.01)

    with client as session:
        assert session.execute(gql('{ echo(value: "b") }')) == {"echo": "b"}
    assert stats.get()["connects"] == 1
