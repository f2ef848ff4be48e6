"""The client against a reference server that misbehaves in one way per test, for real on the
wire: each fault raises the right exception, promptly, and leaves no thread behind."""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import trustme

from gqlws_sync import (
    APOLLO_SUBPROTOCOL,
    GRAPHQLWS_SUBPROTOCOL,
    AckTimeout,
    Client,
    ConnectTimeout,
    KeepAliveTimeout,
    OperationTimeout,
    TransportClosed,
    TransportConnectionFailed,
    TransportError,
    TransportProtocolError,
    TransportQueryError,
    TransportServerError,
)
from gqlws_sync.testing import Faults, ReferenceServer, TextBytes
from gqlws_sync.testing.pytest_plugin import ServerFactory

from ..conftest import MS

GTW = GRAPHQLWS_SUBPROTOCOL
APOLLO = APOLLO_SUBPROTOCOL
BOTH = [GTW, APOLLO]
#: Promptness bound for failures that need no timer: the reader sees them at once.
PROMPT = 1.0


@pytest.fixture
def server(gqlws_server_factory: ServerFactory) -> ReferenceServer:
    return gqlws_server_factory(faults=Faults())


@pytest.fixture(params=BOTH)
def subprotocol(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def client(server: ReferenceServer, subprotocol: str) -> Iterator[Client]:
    with Client(server.url, reconnect=False, subprotocols=[subprotocol], ack_timeout=5) as client:
        yield client


def _drain(iterator: Iterator[Any]) -> None:
    for _ in iterator:
        pass


# -- the connection dies ---------------------------------------------------------------------


def test_tcp_drop_wakes_every_waiter(server: ReferenceServer, client: Client) -> None:
    """TCP dropped without a Close frame, reconnect off: a subscription and a waiting
    execute() both wake with TransportClosed(1006) at once; the next call connects anew."""
    ticks = client.subscribe("subscription { ticks(interval: 0.01) }")
    assert next(ticks) == {"ticks": 0}
    server.faults.send_results = False
    outcome: list[BaseException] = []

    def waiting_query() -> None:
        try:
            client.execute("{ hello }", timeout=10)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=waiting_query)
    thread.start()
    server.wait_for_message("subscribe" if client.subprotocol == GTW else "start", count=2)
    dropped_at = time.monotonic()
    server.drop_connections()
    with pytest.raises(TransportClosed) as info:
        _drain(ticks)
    thread.join(5)
    assert time.monotonic() - dropped_at < PROMPT
    assert info.value.code == 1006
    assert "connection lost" in str(info.value)
    assert len(outcome) == 1
    assert type(outcome[0]) is TransportClosed
    assert outcome[0].code == 1006
    assert not client.is_connected
    server.faults.send_results = True
    assert client.execute("{ hello }") == {"hello": "Hello world"}
    assert len(server.handshakes) == 2


def test_drop_on_subscribe(server: ReferenceServer, client: Client) -> None:
    """The server drops TCP when an operation starts: execute() raises TransportClosed."""
    server.faults.drop_on_subscribe = True
    with pytest.raises(TransportClosed) as info:
        client.execute("{ hello }")
    assert info.value.code == 1006


# Close codes and the exception each must raise (PROTOCOLS.md §2, the README's table).
CLOSE_CODES: list[tuple[int, type[TransportError]]] = [
    (1000, TransportClosed),
    (1001, TransportClosed),
    (1011, TransportServerError),
    (1012, TransportClosed),
    (1013, TransportClosed),
    (1014, TransportClosed),
    (1002, TransportProtocolError),
    (1003, TransportProtocolError),
    (1007, TransportProtocolError),
    (1008, TransportProtocolError),
    (1009, TransportProtocolError),
    (4400, TransportProtocolError),
    (4401, TransportProtocolError),
    (4403, TransportServerError),
    (4406, TransportProtocolError),
    (4408, TransportServerError),
    (4409, TransportProtocolError),
    (4429, TransportProtocolError),
    (4499, TransportClosed),
    (4500, TransportServerError),
    (3000, TransportServerError),
    (4321, TransportServerError),
]


@pytest.mark.parametrize(("code", "expected"), CLOSE_CODES, ids=[str(c) for c, _ in CLOSE_CODES])
def test_close_code_mid_subscription(
    server: ReferenceServer, client: Client, code: int, expected: type[TransportError]
) -> None:
    """A Close frame with a code wakes the iterator with that code's exception and reason."""
    ticks = client.subscribe("subscription { ticks(interval: 0.01) }")
    assert next(ticks) == {"ticks": 0}
    closed_at = time.monotonic()
    server.close_connections(code, "because of the test")
    with pytest.raises(TransportError) as info:
        _drain(ticks)
    assert time.monotonic() - closed_at < PROMPT
    assert type(info.value) is expected
    assert info.value.code == code
    assert "because of the test" in str(info.value)
    assert str(code) in str(info.value)
    # The client answered the server's Close.
    assert server.wait_for_disconnect().client_code is not None


def test_close_without_code(server: ReferenceServer, subprotocol: str) -> None:
    """A Close frame without a code (subscriptions-transport-ws's goodbye) reads as 1005."""
    with Client(server.url, reconnect=False, subprotocols=[subprotocol]) as client:
        ticks = client.subscribe("subscription { ticks(interval: 0.01) }")
        next(ticks)
        server.close_connections(1005)
        with pytest.raises(TransportClosed) as info:
            _drain(ticks)
        assert info.value.code == 1005
        assert "without a status code" in str(info.value)


# -- handshake faults ------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403, 404, 500, 503])
def test_http_refusal(gqlws_server_factory: ServerFactory, status: int) -> None:
    """The upgrade refused with an HTTP status: TransportServerError with that code."""
    server = gqlws_server_factory(faults=Faults(http_status=status))
    with pytest.raises(TransportServerError) as info:
        Client(server.url, reconnect=False).connect()
    assert info.value.code == status
    assert f"HTTP {status}" in str(info.value)


def test_redirect_not_followed_by_default(gqlws_server_factory: ServerFactory) -> None:
    """A 3xx on the upgrade is refused unless redirect_limit allows it: headers (tokens)
    would be sent again to wherever the redirect points."""
    target = gqlws_server_factory()
    server = gqlws_server_factory(faults=Faults(redirect_to=target.url))
    headers = {"Authorization": "Bearer token"}
    with pytest.raises(TransportServerError, match="redirect"):
        Client(server.url, reconnect=False, headers=headers).connect()
    assert len(target.handshakes) == 0
    with Client(
        server.url, reconnect=False, headers=headers, connect_args={"redirect_limit": 1}
    ) as client:
        assert client.execute("{ hello }") == {"hello": "Hello world"}
    assert target.handshakes[0].headers["authorization"] == "Bearer token"


def test_no_subprotocol_chosen(gqlws_server_factory: ServerFactory) -> None:
    """A server that picks no subprotocol: the error names what was offered."""
    server = gqlws_server_factory(faults=Faults(subprotocol_choice="none"))
    with pytest.raises(TransportProtocolError) as info:
        Client(server.url, reconnect=False).connect()
    assert "without choosing a subprotocol" in str(info.value)
    assert "graphql-transport-ws, graphql-ws" in str(info.value)


def test_unoffered_subprotocol(gqlws_server_factory: ServerFactory) -> None:
    """A server that picks a token never offered: the error names both sides."""
    server = gqlws_server_factory(faults=Faults(subprotocol_choice="unoffered"))
    with pytest.raises(TransportProtocolError) as info:
        Client(server.url, reconnect=False, subprotocols=[GTW]).connect()
    assert "'bogus-protocol'" in str(info.value)
    assert "offered: graphql-transport-ws" in str(info.value)


def test_legacy_apollo_server_default_offer_retries(gqlws_server_factory: ServerFactory) -> None:
    """A subscriptions-transport-ws-like server takes the first token, closes 1002; the
    default offer recognises it and reconnects with graphql-ws only."""
    server = gqlws_server_factory(
        faults=Faults(protocols=(APOLLO,), subprotocol_choice="first-offered")
    )
    with Client(server.url, reconnect=False) as client:
        assert client.subprotocol == APOLLO
        assert client.execute("{ hello }") == {"hello": "Hello world"}
    assert [h.subprotocols for h in server.handshakes] == [(GTW, APOLLO), (APOLLO,)]


def test_legacy_apollo_server_explicit_offer_hints(gqlws_server_factory: ServerFactory) -> None:
    """With an explicit offer there is no retry; the error suggests subprotocols=."""
    server = gqlws_server_factory(
        faults=Faults(protocols=(APOLLO,), subprotocol_choice="first-offered")
    )
    with pytest.raises(TransportProtocolError) as info:
        Client(server.url, reconnect=False, subprotocols=[GTW, APOLLO]).connect()
    assert info.value.code == 1002
    assert "subprotocols=" in str(info.value)
    assert len(server.handshakes) == 1


def test_legacy_graphql_ws_server_4406(gqlws_server_factory: ServerFactory) -> None:
    """An old graphql-ws server takes the first token (Apollo's) and closes 4406; offered
    [graphql-ws, graphql-transport-ws] explicitly, the error names the fix."""
    server = gqlws_server_factory(
        faults=Faults(protocols=(GTW,), subprotocol_choice="first-offered")
    )
    with pytest.raises(TransportProtocolError) as info:
        Client(server.url, reconnect=False, subprotocols=[APOLLO, GTW]).connect()
    assert info.value.code == 4406
    assert "subprotocols=" in str(info.value)
    with Client(server.url, reconnect=False) as client:  # the default offer needs no retry here
        assert client.subprotocol == GTW
    assert len(server.handshakes) == 2


def test_no_ack(gqlws_server_factory: ServerFactory, subprotocol: str) -> None:
    """A server that never acknowledges: AckTimeout after ack_timeout; we close with 4504."""
    server = gqlws_server_factory(faults=Faults(send_ack=False))
    timeout = 200 * MS
    started = time.monotonic()
    with pytest.raises(AckTimeout) as info:
        Client(
            server.url, reconnect=False, subprotocols=[subprotocol], ack_timeout=timeout
        ).connect()
    elapsed = time.monotonic() - started
    assert timeout <= elapsed < timeout + PROMPT
    assert isinstance(info.value, TimeoutError)
    assert info.value.code == 4504
    assert server.wait_for_disconnect().client_code == 4504


def test_server_pings_before_the_ack(gqlws_server_factory: ServerFactory) -> None:
    """graphql-transport-ws allows pings before connection_ack: connect() answers them."""
    server = gqlws_server_factory(faults=Faults(server_ping_interval=20 * MS, ack_delay=200 * MS))
    with Client(server.url, reconnect=False, subprotocols=[GTW], ack_timeout=5) as client:
        pong = server.wait_for_message("pong")
        assert client.execute("{ hello }") == {"hello": "Hello world"}
    types = [m["type"] for m in server.received]
    assert types.index("pong") < types.index("subscribe")
    assert pong == {"type": "pong"}


def test_slow_ack_within_timeout(gqlws_server_factory: ServerFactory) -> None:
    """An ack that comes late but within ack_timeout is fine."""
    server = gqlws_server_factory(faults=Faults(ack_delay=100 * MS))
    with Client(server.url, reconnect=False, ack_timeout=2) as client:
        assert client.execute("{ hello }") == {"hello": "Hello world"}


def test_init_refused_apollo(gqlws_server_factory: ServerFactory) -> None:
    """Apollo's refusal: connection_error then 1011 → TransportServerError with the message."""
    server = gqlws_server_factory(faults=Faults(init_error="bad credentials"))
    with pytest.raises(TransportServerError) as info:
        Client(server.url, reconnect=False, subprotocols=[APOLLO]).connect()
    assert info.value.code == 1011
    assert "bad credentials" in str(info.value)


def test_init_refused_graphql_transport_ws(gqlws_server_factory: ServerFactory) -> None:
    """graphql-transport-ws refusal: close 4403 → TransportServerError(4403)."""
    server = gqlws_server_factory(faults=Faults(init_error="bad credentials"))
    with pytest.raises(TransportServerError) as info:
        Client(server.url, reconnect=False, subprotocols=[GTW]).connect()
    assert info.value.code == 4403
    assert "forbidden" in str(info.value)


def test_connection_refused() -> None:
    """Nothing listens on the port: TransportConnectionFailed, nothing left running."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(TransportConnectionFailed, match="connection refused"):
        Client(f"ws://127.0.0.1:{port}/graphql", reconnect=False).connect()


def test_connect_timeout_on_silent_server(gqlws_server_factory: ServerFactory) -> None:
    """A server that accepts TCP but never answers the upgrade: ConnectTimeout."""
    server = gqlws_server_factory(faults=Faults(hang=True))
    timeout = 200 * MS
    started = time.monotonic()
    with pytest.raises(ConnectTimeout):
        Client(server.url, reconnect=False, connect_timeout=timeout).connect()
    assert time.monotonic() - started < timeout + PROMPT
    server.faults.hang = False


def test_tls_verification_on_by_default(gqlws_server_factory: ServerFactory) -> None:
    """wss:// with a certificate from an unknown CA fails verification by default; the same
    CA passed in an SSLContext works."""
    ca = trustme.CA()
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_context)
    server = gqlws_server_factory(ssl_context=server_context)
    assert server.url.startswith("wss://")
    with pytest.raises(TransportConnectionFailed, match="certificate verif"):
        Client(server.url, reconnect=False).connect()
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    with Client(server.url, reconnect=False, ssl=client_context) as client:
        assert client.execute("{ hello }") == {"hello": "Hello world"}


def test_client_certificate(gqlws_server_factory: ServerFactory, tmp_path: Any) -> None:
    """A server that requires a client certificate: given in an SSLContext, or as
    websocket-client sslopt keys through connect_args; without one the handshake fails."""
    ca = trustme.CA()
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_context)
    ca.configure_trust(server_context)
    server_context.verify_mode = ssl.CERT_REQUIRED
    server = gqlws_server_factory(ssl_context=server_context)
    client_cert = ca.issue_cert("client@example.com")
    cert_file = tmp_path / "client.pem"
    client_cert.private_key_and_cert_chain_pem.write_to_path(str(cert_file))
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))

    context = ssl.create_default_context(cafile=str(ca_file))
    with pytest.raises(TransportError):
        with Client(server.url, reconnect=False, ssl=context) as client:
            client.execute("{ hello }")
    context.load_cert_chain(str(cert_file))
    with Client(server.url, reconnect=False, ssl=context) as client:
        assert client.execute("{ hello }") == {"hello": "Hello world"}
    sslopt = {"certfile": str(cert_file), "ca_certs": str(ca_file)}
    with Client(server.url, reconnect=False, connect_args={"sslopt": sslopt}) as client:
        assert client.execute("{ hello }") == {"hello": "Hello world"}


# -- garbage from the server -----------------------------------------------------------------

GARBAGE: list[tuple[str, Any]] = [
    ("non-json", "this is not json"),
    ("json-array", "[1, 2, 3]"),
    ("unknown-type", '{"type": "bogus"}'),
    ("no-type", '{"payload": {}}'),
    ("next-without-id", '{"type": "next", "payload": {"data": {}}}'),
    ("binary", b"\x00\x01binary"),
    ("invalid-utf8", TextBytes(b'{"type": "\xff\xfe"}')),
]


@pytest.mark.parametrize(("kind", "frame"), GARBAGE, ids=[k for k, _ in GARBAGE])
def test_garbage_fails_the_connection(
    server: ReferenceServer, client: Client, kind: str, frame: Any
) -> None:
    """A frame the protocol forbids: every waiter gets TransportProtocolError at once, and
    the client closes with 4004 (graphql-transport-ws) or 1002/1003 (Apollo)."""
    if kind == "next-without-id" and client.subprotocol == APOLLO:
        frame = '{"type": "data", "payload": {"data": {}}}'
    ticks = client.subscribe("subscription { ticks(interval: 0.01) }")
    next(ticks)
    server.send_raw(frame)
    with pytest.raises(TransportProtocolError):
        _drain(ticks)
    expected = 4004 if client.subprotocol == GTW else (1003 if kind == "binary" else 1002)
    assert server.wait_for_disconnect().client_code == expected


def test_message_for_unknown_id_is_ignored(server: ReferenceServer, client: Client) -> None:
    """A result for an id nobody waits for is dropped; the connection carries on."""
    kind = "next" if client.subprotocol == GTW else "data"
    server.send_raw(f'{{"type": "{kind}", "id": "999", "payload": {{"data": {{"x": 1}}}}}}')
    server.send_raw('{"type": "complete", "id": "998"}')
    assert client.execute("{ hello }") == {"hello": "Hello world"}


def test_oversized_message(server: ReferenceServer, subprotocol: str) -> None:
    """A message over max_message_size fails the connection with 1009."""
    with Client(
        server.url, reconnect=False, subprotocols=[subprotocol], max_message_size=1000
    ) as client:
        events = client.subscribe("subscription { burst(count: 1, size: 5000) }")
        with pytest.raises(TransportProtocolError, match="max_message_size") as info:
            _drain(events)
        assert info.value.code == 1009
    assert server.wait_for_disconnect().client_code == 1009


# -- keep-alive, pings, hangs ----------------------------------------------------------------


def test_server_pings_are_answered(gqlws_server_factory: ServerFactory) -> None:
    """graphql-transport-ws server pings get pongs; with answer_pings=False they do not."""
    server = gqlws_server_factory(faults=Faults(server_ping_interval=50 * MS))
    with Client(server.url, reconnect=False, subprotocols=[GTW]) as client:
        server.wait_for_message("pong", count=2)
        assert client.execute("{ hello }") == {"hello": "Hello world"}
    before = sum(1 for m in server.received if m.get("type") == "pong")
    with Client(server.url, reconnect=False, subprotocols=[GTW], answer_pings=False) as client:
        time.sleep(200 * MS)  # time is the subject: several server pings go unanswered
        assert client.execute("{ hello }") == {"hello": "Hello world"}
    assert sum(1 for m in server.received if m.get("type") == "pong") == before


@pytest.mark.parametrize(
    ("subprotocol", "options", "message"),
    [
        (GTW, {"ping_interval": 0.2, "pong_timeout": 0.2}, "no pong within"),
        (GTW, {"ws_ping_interval": 0.2, "ws_pong_timeout": 0.2}, "WebSocket ping"),
        (APOLLO, {"ws_ping_interval": 0.2, "ws_pong_timeout": 0.2}, "WebSocket ping"),
        (GTW, {"keep_alive_timeout": 0.3}, "no keep-alive"),
    ],
    ids=["gtw-ping", "gtw-ws-ping", "apollo-ws-ping", "gtw-keep-alive"],
)
def test_hung_server_detected(
    gqlws_server_factory: ServerFactory, subprotocol: str, options: dict[str, Any], message: str
) -> None:
    """The server goes silent with the TCP connection open: KeepAliveTimeout, bounded."""
    server = gqlws_server_factory()
    with Client(server.url, reconnect=False, subprotocols=[subprotocol], **options) as client:
        ticks = client.subscribe("subscription { ticks(interval: 0.01) }")
        next(ticks)
        server.faults.hang = True
        hung_at = time.monotonic()
        with pytest.raises(KeepAliveTimeout, match=message) as info:
            _drain(ticks)
        assert time.monotonic() - hung_at < 0.8 + PROMPT
        assert isinstance(info.value, TimeoutError)
        server.faults.hang = False


def test_stalled_send_is_abandoned(server: ReferenceServer) -> None:
    """A server that stops reading: once the socket buffers are full, a send gives up after
    the send timeout and every waiter gets KeepAliveTimeout: the caller whose send stalled
    directly, or, when the connection's end took its operation over first, from its
    subscription, as every other subscription on the connection."""
    from gqlws_sync.options import DEFAULT_SEND_TIMEOUT

    big = "x" * 500_000
    subscriptions: list[Any] = []

    def flood(client: Client) -> None:
        for _ in range(400):  # far more than the kernel buffers of both ends hold
            subscriptions.append(
                client.subscribe("query Q($v: String!) { echo(value: $v) }", {"v": big})
            )
            if not client.is_connected:
                break
        next(subscriptions[-1])  # its start message was the one that stalled

    with Client(
        server.url,
        reconnect=False,
        subprotocols=[GTW],
        ws_ping_interval=None,
        connect_timeout=0.5,
    ) as client:
        server.faults.hang = True
        started = time.monotonic()
        with pytest.raises(KeepAliveTimeout, match="sending stalled") as info:
            flood(client)
        assert time.monotonic() - started < DEFAULT_SEND_TIMEOUT + 5
        for subscription in subscriptions[:-1]:
            with pytest.raises(KeepAliveTimeout):
                next(subscription)
        assert isinstance(info.value, TimeoutError)
        assert not client.is_connected  # never left claiming a corrupt stream is usable
        # The next call opens a new connection (which the still silent server leaves
        # unanswered) instead of waiting on the abandoned one.
        with pytest.raises(ConnectTimeout):
            client.execute("{ hello }", timeout=5)
        assert len(server.handshakes) == 2
        server.faults.hang = False


def test_apollo_ka_keeps_alive_then_deadline(gqlws_server_factory: ServerFactory) -> None:
    """Apollo ka messages reset keep_alive_timeout; when they stop, the deadline fires."""
    server = gqlws_server_factory(faults=Faults(keep_alive_interval=50 * MS))
    with Client(
        server.url, reconnect=False, subprotocols=[APOLLO], keep_alive_timeout=0.3
    ) as client:
        started = time.monotonic()
        ticks = client.subscribe("subscription { ticks(interval: 0.05) }")
        for event in ticks:  # well past the deadline, kept alive by ka
            if event["ticks"] >= 12:
                break
        assert time.monotonic() - started > 0.5
        server.faults.keep_alive_interval = None
        server.faults.send_results = False
        with pytest.raises(KeepAliveTimeout, match="no keep-alive"):
            client.execute("{ hello }", timeout=5)


def test_apollo_query_without_complete(gqlws_server_factory: ServerFactory) -> None:
    """Some Apollo servers send no complete after a query: execute() returns on the data."""
    server = gqlws_server_factory(faults=Faults(send_query_complete=False))
    with Client(server.url, reconnect=False, subprotocols=[APOLLO]) as client:
        for n in range(5):
            assert client.execute(f'{{ echo(value: "{n}") }}', timeout=2) == {"echo": str(n)}
    assert not any(m.get("type") == "stop" for m in server.received)


def test_execute_timeout_cancels_operation(server: ReferenceServer, client: Client) -> None:
    """No answer within timeout: OperationTimeout, the server is told, the connection lives."""
    server.faults.send_results = False
    with pytest.raises(OperationTimeout) as info:
        client.execute("{ hello }", timeout=200 * MS)
    assert isinstance(info.value, TimeoutError)
    cancel = "complete" if client.subprotocol == GTW else "stop"
    server.wait_for_message(cancel)
    server.faults.send_results = True
    assert client.execute("{ hello }") == {"hello": "Hello world"}


def test_subscription_event_timeout(server: ReferenceServer, client: Client) -> None:
    """A subscription whose next event is late raises OperationTimeout and is cancelled."""
    events = client.subscribe("subscription { ticks(interval: 10) }", timeout=200 * MS)
    assert next(events) == {"ticks": 0}
    with pytest.raises(OperationTimeout):
        next(events)
    server.wait_for_message("complete" if client.subprotocol == GTW else "stop")
    with pytest.raises(StopIteration):
        next(events)


def test_operation_error_message(server: ReferenceServer, client: Client) -> None:
    """A graphql-transport-ws error message ends only its operation."""
    server.faults.source_error = "error"
    with pytest.raises(TransportQueryError, match="failed after 2"):
        _drain(client.subscribe("subscription { failAfter(n: 2) }"))
    assert client.execute("{ hello }") == {"hello": "Hello world"}


def test_execute_of_a_subscription_document(server: ReferenceServer) -> None:
    """execute() on a subscription returns its first event; on graphql-transport-ws the
    second event makes the client cancel it, and no complete is sent for plain queries."""
    with Client(server.url, reconnect=False, subprotocols=[GTW]) as client:
        for _ in range(20):
            assert client.execute("{ hello }") == {"hello": "Hello world"}
        assert not any(m.get("type") == "complete" for m in server.received)
        assert client.execute("subscription { ticks(interval: 0.01) }") == {"ticks": 0}
        cancel = server.wait_for_message("complete")
        assert client.execute("{ hello }") == {"hello": "Hello world"}
    assert cancel["id"] == "21"


def test_orjson_codec(server: ReferenceServer, subprotocol: str) -> None:
    """json_loads/json_dumps plug in another codec (orjson, as the README shows)."""
    import orjson

    with Client(
        server.url,
        subprotocols=[subprotocol],
        json_loads=orjson.loads,
        json_dumps=lambda value: orjson.dumps(value).decode(),
    ) as client:
        assert client.execute("query E($v: String!) { echo(value: $v) }", {"v": "é"}) == {
            "echo": "é"
        }
        assert list(client.subscribe("subscription { countdown(from: 2) }")) == [
            {"countdown": 2},
            {"countdown": 1},
        ]
        ticks = client.subscribe("subscription { ticks(interval: 0.05) }")
        next(ticks)
        server.send_raw("not json")
        with pytest.raises(TransportProtocolError, match="not JSON"):
            _drain(ticks)


def test_dropped_subscription_is_cancelled(server: ReferenceServer, client: Client) -> None:
    """A subscription dropped without close() is cancelled by the reader, not by its
    finalizer (which may run in any thread, inside any lock)."""
    import gc

    ticks = client.subscribe("subscription { ticks(interval: 0.02) }")
    assert next(ticks) == {"ticks": 0}
    del ticks
    gc.collect()
    cancel = server.wait_for_message("complete" if client.subprotocol == GTW else "stop")
    assert cancel["id"] == "1"
    assert client.execute("{ hello }") == {"hello": "Hello world"}


def test_protocol_violation_after_ack_has_its_code(server: ReferenceServer, client: Client) -> None:
    """A violation after the ack carries the close code the client sent, as before it."""
    ticks = client.subscribe("subscription { ticks(interval: 0.05) }")
    next(ticks)
    server.send_raw('{"type": "bogus"}')
    with pytest.raises(TransportProtocolError) as info:
        _drain(ticks)
    assert info.value.code == (4004 if client.subprotocol == GTW else 1002)


def test_callers_racing_a_server_close_get_its_code(server: ReferenceServer) -> None:
    """Operations in flight when the server closes raise that code's exception, never a bare
    'closing'; those started while the Close is handled wait for it, then connect anew."""
    errors: list[BaseException] = []
    with Client(server.url, reconnect=False, subprotocols=[GTW]) as client:
        stop = threading.Event()

        def hammer() -> None:
            while not stop.is_set():
                try:
                    client.execute("{ hello }", timeout=5)
                except TransportError as exc:
                    errors.append(exc)

        threads = [threading.Thread(target=hammer) for _ in range(8)]
        for thread in threads:
            thread.start()
        server.wait_for_message("subscribe", count=50)
        server.close_connections(4500, "boom")
        server.handshakes.wait_for(lambda _: True, 5, count=2)
        count = len(server.received)
        server.received.wait_for(lambda _: True, 5, count=count + 50)
        stop.set()
        for thread in threads:
            thread.join(5)
    assert errors
    assert {(type(e).__name__, getattr(e, "code", None)) for e in errors} == {
        ("TransportServerError", 4500)
    }
    assert len(server.handshakes) == 2  # one new connection served them all


@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
def test_fork_child_leaves_parent_subscription_alone(server: ReferenceServer) -> None:
    """In a forked child an inherited subscription fails at once and cancels nothing; the
    parent's keeps running."""
    import os

    with Client(server.url, reconnect=False, subprotocols=[GTW]) as client:
        ticks = client.subscribe("subscription { ticks(interval: 0.02) }", timeout=5)
        assert next(ticks) == {"ticks": 0}
        pid = os.fork()
        if pid == 0:  # the child: report through the exit status only
            status = 1
            try:
                try:
                    next(ticks)
                except TransportClosed as exc:
                    if "parent process" in str(exc):
                        status = 0
                ticks.close()
                client.close()
            finally:
                os._exit(status)
        _, wait_status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(wait_status) == 0
        assert [next(ticks)["ticks"] for _ in range(3)] == [1, 2, 3]
        assert not any(m.get("type") == "complete" for m in server.received)


def test_gql_request_as_document(server: ReferenceServer, subprotocol: str) -> None:
    """gql 4's gql() returns a GraphQLRequest: accepted as it is, with its variables and
    operation name unless given explicitly; a wrong type is a clear TypeError."""
    from gql import gql

    request = gql("query A($v: String!) { echo(value: $v) } query B { hello }")
    with Client(server.url, reconnect=False, subprotocols=[subprotocol]) as client:
        assert client.execute(request, {"v": "x"}, "A") == {"echo": "x"}
        assert client.execute(request, operation_name="B") == {"hello": "Hello world"}
        with_values = gql("query C($v: String!) { echo(value: $v) }")
        with_values.variable_values = {"v": "from the request"}
        assert client.execute(with_values) == {"echo": "from the request"}
        with pytest.raises(TypeError, match="GraphQLRequest"):
            client.execute(42)  # type: ignore[call-overload]


# -- closing ---------------------------------------------------------------------------------


def test_close_wakes_waiters(server: ReferenceServer, client: Client) -> None:
    """close() from another thread wakes a blocked iterator with TransportClosed."""
    ticks = client.subscribe("subscription { ticks(interval: 10) }")
    assert next(ticks) == {"ticks": 0}
    timer = threading.Timer(100 * MS, client.close)
    timer.start()
    with pytest.raises(TransportClosed, match="client closed"):
        next(ticks)
    timer.join()
    disconnect = server.wait_for_disconnect()
    assert disconnect.client_code == 1000


def test_close_during_connect(gqlws_server_factory: ServerFactory) -> None:
    """close() from another thread while connect() waits for the ack: connect() raises
    TransportClosed and leaves nothing open."""
    server = gqlws_server_factory(faults=Faults(ack_delay=300 * MS))
    client = Client(server.url, reconnect=False)
    outcome: list[BaseException] = []

    def connect() -> None:
        try:
            client.connect()
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=connect)
    thread.start()
    server.wait_for_message("connection_init")
    client.close()
    thread.join(5)
    assert len(outcome) == 1
    assert type(outcome[0]) is TransportClosed
    assert "closed while connecting" in str(outcome[0])
    assert not client.is_connected
    assert server.wait_for_disconnect().client_code == 1000


def test_close_is_bounded_when_server_hangs(server: ReferenceServer, subprotocol: str) -> None:
    """A server that never answers our Close: close() returns after close_timeout."""
    client = Client(server.url, reconnect=False, subprotocols=[subprotocol], close_timeout=200 * MS)
    client.connect()
    server.faults.hang = True
    started = time.monotonic()
    client.close()
    assert time.monotonic() - started < 200 * MS + PROMPT
    client.close()  # idempotent
    server.faults.hang = False


def test_apollo_goodbye(server: ReferenceServer) -> None:
    """Apollo close: stop for each live operation, connection_terminate, then Close 1000."""
    with Client(server.url, reconnect=False, subprotocols=[APOLLO]) as client:
        ticks = client.subscribe("subscription { ticks(interval: 0.05) }")
        next(ticks)
    # The server answers our Close before it has handled the messages queued ahead of it.
    server.wait_for_message("connection_terminate")
    types = [m["type"] for m in server.received]
    assert types[-2:] == ["stop", "connection_terminate"]
    assert server.wait_for_disconnect().client_code == 1000


# -- secrets ---------------------------------------------------------------------------------


def test_secrets_never_logged(
    gqlws_server_factory: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Header values and the init payload appear in no log record, repr or error message."""
    secret_header = "Bearer s3cr3t-header"
    secret_payload = "s3cr3t-payload"
    server = gqlws_server_factory(faults=Faults(init_error="nope"))
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    for subprotocol in BOTH:
        client = Client(
            server.url + "?token=s3cr3t-query",
            subprotocols=[subprotocol],
            headers={"Authorization": secret_header},
            init_payload={"token": secret_payload},
        )
        texts += [repr(client), repr(client.options)]
        with pytest.raises(TransportError) as info:
            client.connect()
        texts += [str(info.value), repr(info.value), repr(client)]
    # The client's records; the reference server's own (websockets) logs are the server's.
    ours = [
        record
        for record in caplog.records
        if record.name == "websocket"
        or (record.name.startswith("gqlws_sync") and not record.name.startswith("gqlws_sync.test"))
    ]
    texts += [record.getMessage() for record in ours]
    assert any(record.name.startswith("gqlws_sync.connection") for record in caplog.records)
    for text in texts:
        assert "s3cr3t" not in text, text
