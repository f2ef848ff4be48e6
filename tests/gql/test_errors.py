"""What gql users catch: gql's own exception classes, raised for real failures (refused
connection, refused init, killed server, silent server, oversized message), each chained to
gqlws_sync's exception."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from gql import Client, gql
from gql.transport.exceptions import (
    TransportAlreadyConnected,
    TransportClosed,
    TransportConnectionFailed,
    TransportProtocolError,
    TransportServerError,
)

import gqlws_sync
from gqlws_sync.gql import (
    AckTimeout,
    ConnectionFailed,
    ConnectTimeout,
    KeepAliveTimeout,
    OperationTimeout,
    ProtocolError,
    ServerError,
    _gql_error,
    subscribe,
)
from tests.conftest import MS
from tests.integration.conftest import UvicornServer, free_port

from .conftest import MakeTransport, Stats


def test_connection_refused(make_transport: MakeTransport) -> None:
    """Nothing listens: gql's TransportConnectionFailed, as gql raises it."""
    client = Client(transport=make_transport(f"ws://127.0.0.1:{free_port()}/graphql"))

    with pytest.raises(TransportConnectionFailed) as info:
        client.execute(gql("{ hello }"))

    assert isinstance(info.value.__cause__, gqlws_sync.TransportConnectionFailed)
    assert "refused" in str(info.value)


def test_threads_share_one_failed_connect(make_transport: MakeTransport) -> None:
    """Eight threads connecting at once to a dead server each get the error; the transport
    counts no user afterwards."""
    transport = make_transport(f"ws://127.0.0.1:{free_port()}/graphql")
    client = Client(transport=transport)
    raised: list[BaseException] = []

    def work() -> None:
        try:
            client.execute(gql("{ hello }"))
        except BaseException as exc:
            raised.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert len(raised) == 8
    assert all(isinstance(exc, TransportConnectionFailed) for exc in raised)
    assert "0 user(s)" in repr(transport)


def test_init_refused_by_the_server(
    gql_server: UvicornServer, make_transport: MakeTransport
) -> None:
    """Strawberry closes with 4403 on connection_init: a TransportConnectionFailed (gql's
    class for it) that is also a TransportServerError with the code."""
    client = Client(transport=make_transport(gql_server.url, init_payload={"refuse": True}))

    with pytest.raises(TransportServerError) as info:
        client.execute(gql("{ hello }"))

    assert isinstance(info.value, ServerError)
    assert isinstance(info.value, TransportConnectionFailed)
    assert info.value.code == 4403
    assert isinstance(info.value.__cause__, gqlws_sync.TransportServerError)


def test_server_killed_mid_subscription(
    own_gql_server: UvicornServer, make_transport: MakeTransport
) -> None:
    """SIGKILL of the server: the subscription raises gql's TransportConnectionFailed
    (code 1006) at once, and the next call's connect is refused."""
    client = Client(transport=make_transport(own_gql_server.url))
    ticks = subscribe(client, gql("subscription { ticks(interval: 0.01) }"))
    assert next(ticks) == {"ticks": 0}

    killed_at = time.monotonic()
    own_gql_server.kill()
    with pytest.raises(TransportConnectionFailed) as info:
        for _ in ticks:
            pass

    assert time.monotonic() - killed_at < 2.0
    assert isinstance(info.value, ConnectionFailed)
    assert info.value.code == 1006
    assert isinstance(info.value.__cause__, gqlws_sync.TransportClosed)
    with pytest.raises(TransportConnectionFailed):
        client.execute(gql("{ hello }"))


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A TCP port that accepts connections and never answers the upgrade."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def test_connect_timeout(silent_listener: int, make_transport: MakeTransport) -> None:
    """No upgrade answer within connect_timeout: gql's TransportConnectionFailed that is
    also a TimeoutError (gql raises asyncio's TimeoutError there)."""
    limit = 200 * MS
    client = Client(
        transport=make_transport(f"ws://127.0.0.1:{silent_listener}/graphql", connect_timeout=limit)
    )
    started = time.monotonic()

    with pytest.raises(TimeoutError) as info:
        client.execute(gql("{ hello }"))

    assert limit * 0.9 <= time.monotonic() - started < limit + 2.0
    assert isinstance(info.value, ConnectTimeout)
    assert isinstance(info.value, TransportConnectionFailed)
    assert isinstance(info.value.__cause__, gqlws_sync.ConnectTimeout)


def test_message_over_max_size(
    gql_server: UvicornServer, stats: Stats, make_transport: MakeTransport
) -> None:
    """connect_args={'max_size': N}, as written for gql, limits what the server may send:
    a bigger result fails the socket with a protocol error (close 1009); the next call opens
    a new socket."""
    transport = make_transport(gql_server.url, connect_args={"max_size": 1000})
    client = Client(transport=transport)
    with pytest.raises(TransportProtocolError) as info:
        client.execute(gql("{ big(size: 2000) }"))

    assert isinstance(info.value, ProtocolError)
    assert isinstance(info.value, TransportConnectionFailed)
    assert info.value.code == 1009
    assert client.execute(gql("{ hello }")) == {"hello": "Hello world"}
    assert transport.sockets_opened == 2


def test_keep_alive_timeout(gql_server: UvicornServer, make_transport: MakeTransport) -> None:
    """A server silent for keep_alive_timeout (ticks slower than that): gql raises
    TransportServerError there; ours is also a TimeoutError and a TransportConnectionFailed."""
    limit = 300 * MS
    client = Client(transport=make_transport(gql_server.url, keep_alive_timeout=limit))
    started = time.monotonic()

    with pytest.raises(TransportServerError) as info:
        for _ in subscribe(client, gql("subscription { ticks(interval: 30) }")):
            pass

    assert limit * 0.9 <= time.monotonic() - started < limit + 2.0
    assert isinstance(info.value, KeepAliveTimeout)
    assert isinstance(info.value, TimeoutError)
    assert isinstance(info.value, TransportConnectionFailed)
    assert isinstance(info.value.__cause__, gqlws_sync.KeepAliveTimeout)


_CLOSED_BY_SERVER = gqlws_sync.TransportClosed("connection closed", 1001, "going away")


@pytest.mark.parametrize(
    ("ours", "closed_by_user", "classes", "code"),
    [
        (gqlws_sync.TransportConnectionFailed("refused"), False, [ConnectionFailed], None),
        (
            gqlws_sync.ConnectTimeout("slow"),
            False,
            [ConnectTimeout, TransportConnectionFailed, TimeoutError],
            None,
        ),
        (
            gqlws_sync.AckTimeout("no ack", 4504),
            False,
            [AckTimeout, TransportServerError, TransportConnectionFailed, TimeoutError],
            4504,
        ),
        (
            gqlws_sync.TransportServerError("forbidden", 4403),
            False,
            [ServerError, TransportServerError, TransportConnectionFailed],
            4403,
        ),
        (
            gqlws_sync.TransportServerError("401 Unauthorized", 401),
            False,
            [ServerError, TransportConnectionFailed],
            401,
        ),
        (
            gqlws_sync.TransportProtocolError("bad json", 4400),
            False,
            [ProtocolError, TransportProtocolError, TransportConnectionFailed],
            4400,
        ),
        (_CLOSED_BY_SERVER, False, [ConnectionFailed], 1001),
        (_CLOSED_BY_SERVER, True, [TransportClosed], None),
        (
            gqlws_sync.KeepAliveTimeout("no pong", 1011),
            False,
            [KeepAliveTimeout, TransportServerError, TransportConnectionFailed, TimeoutError],
            1011,
        ),
        (gqlws_sync.OperationTimeout("no result"), False, [OperationTimeout, TimeoutError], None),
        (
            gqlws_sync.TransportAlreadyConnected("connected"),
            False,
            [TransportAlreadyConnected],
            None,
        ),
    ],
)
def test_every_exception_maps_to_gqls_classes(
    ours: gqlws_sync.TransportError,
    closed_by_user: bool,
    classes: list[type[BaseException]],
    code: int | None,
) -> None:
    """The table of docs/migrating-from-gql.md, row by row: each of gqlws_sync's exceptions
    becomes the gql class gql raises in that situation, keeping message and code."""
    mapped = _gql_error(ours, closed_by_user)

    for cls in classes:
        assert isinstance(mapped, cls), cls
    assert str(mapped) == str(ours)
    assert getattr(mapped, "code", None) == code
    if isinstance(mapped, ConnectionFailed):
        assert mapped.reason == getattr(ours, "reason", "")
