"""Each fault of the reference server, observed on the wire in both subprotocols."""

from __future__ import annotations

import time

import pytest
import websocket

from gqlws_sync.testing import Faults, ReferenceServer, ServerFactory, TextBytes

from ._refserver_raw import (
    APOLLO,
    BINARY,
    BOTH,
    GTW,
    MS,
    PING,
    PONG,
    SILENCE,
    TEXT,
    ClientPool,
    RawClient,
)

pytestmark = pytest.mark.parametrize("protocol", BOTH)


def assert_dropped(client: RawClient) -> None:
    """The TCP connection ends without a close frame."""
    with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionResetError)):
        client.frame()


def test_close_on_init(
    gqlws_server_factory: ServerFactory, clients: ClientPool, protocol: str
) -> None:
    """connection_init is answered with the configured close frame."""
    server = gqlws_server_factory(faults=Faults(close_on_init=(4403, "forbidden")))
    client = clients.connect(server.url, protocol, init=False)
    client.send({"type": "connection_init"})
    assert client.recv_close() == (4403, "forbidden")
    disconnect = server.wait_for_disconnect()
    assert (disconnect.server_code, disconnect.client_code) == (4403, 1000)


def test_close_on_subscribe(
    gqlws_server_factory: ServerFactory, clients: ClientPool, protocol: str
) -> None:
    """The first operation is answered with the configured close frame."""
    server = gqlws_server_factory(faults=Faults(close_on_subscribe=(4500, "internal")))
    client = clients.connect(server.url, protocol)
    client.start(protocol, "1", "{ hello }")
    assert client.recv_close() == (4500, "internal")


def test_drop_on_subscribe(
    gqlws_server_factory: ServerFactory, clients: ClientPool, protocol: str
) -> None:
    """The first operation makes the server abort TCP: no close frame at all."""
    server = gqlws_server_factory(faults=Faults(drop_on_subscribe=True))
    client = clients.connect(server.url, protocol)
    client.start(protocol, "1", "{ hello }")
    assert_dropped(client)
    assert server.wait_for_disconnect().server_code is None


def test_drop_connections(
    gqlws_server: ReferenceServer, clients: ClientPool, protocol: str
) -> None:
    """drop_connections() aborts every live connection, mid-subscription too."""
    first = clients.connect(gqlws_server.url, protocol)
    second = clients.connect(gqlws_server.url, protocol)
    first.start(protocol, "t", "subscription { ticks(interval: 10) }")
    first.recv()
    assert gqlws_server.connection_count() == 2
    gqlws_server.drop_connections()
    assert gqlws_server.connection_count() == 0
    assert_dropped(first)
    assert_dropped(second)


def test_close_connections(
    gqlws_server: ReferenceServer, clients: ClientPool, protocol: str
) -> None:
    """close_connections() sends that close frame; the client's answer is recorded."""
    client = clients.connect(gqlws_server.url, protocol)
    gqlws_server.close_connections(4321, "going")
    assert client.recv_close() == (4321, "going")
    disconnect = gqlws_server.wait_for_disconnect()
    assert disconnect.server_code == 4321
    assert disconnect.client_code == 1000
    assert disconnect.subprotocol == protocol


def test_send_raw(gqlws_server: ReferenceServer, clients: ClientPool, protocol: str) -> None:
    """Text, binary and unchecked-text frames go out exactly as given."""
    client = clients.connect(gqlws_server.url, protocol)
    gqlws_server.send_raw('{"type":"bogus"}')
    gqlws_server.send_raw(b"\x00\x01")
    gqlws_server.send_raw(TextBytes(b"\xff\xfe"))
    assert client.frame() == (TEXT, b'{"type":"bogus"}')
    assert client.frame() == (BINARY, b"\x00\x01")
    assert client.frame() == (TEXT, b"\xff\xfe")


def test_raw_after_ack(
    gqlws_server_factory: ServerFactory, clients: ClientPool, protocol: str
) -> None:
    """The frames follow the ack directly."""
    faults = Faults(raw_after_ack=["garbage", b"\x01"])
    server = gqlws_server_factory(faults=faults)
    client = clients.connect(server.url, protocol)
    assert client.frame() == (TEXT, b"garbage")
    assert client.frame() == (BINARY, b"\x01")


def test_raw_on_subscribe_substitutes_the_id(
    gqlws_server_factory: ServerFactory, clients: ClientPool, protocol: str
) -> None:
    """``{id}`` becomes the operation's id; the frames precede its results."""
    faults = Faults(raw_on_subscribe=['{"type":"next","id":"{id}-unknown","payload":{}}'])
    server = gqlws_server_factory(faults=faults)
    client = clients.connect(server.url, protocol)
    client.start(protocol, "op7", "{ hello }")
    assert client.frame() == (TEXT, b'{"type":"next","id":"op7-unknown","payload":{}}')
    assert client.results(protocol, "op7") == [{"hello": "Hello world"}]


def test_hang_silences_everything_until_cleared(
    gqlws_server_factory: ServerFactory, clients: ClientPool, protocol: str
) -> None:
    """No results, no protocol pings/pongs or ka, no WebSocket Pong; all resume afterwards."""
    faults = Faults(keep_alive_interval=30 * MS if protocol == APOLLO else None)
    server = gqlws_server_factory(faults=faults)
    client = clients.connect(server.url, protocol)
    client.start(protocol, "t", "subscription { ticks(interval: 0.01) }")
    client.recv()
    server.faults.hang = True
    # Whatever was already on its way drains; then silence, whatever we send.
    client.ws.ping(b"ws-ping")
    if protocol == GTW:
        client.send({"type": "ping", "payload": {"n": 1}})
    time.sleep(SILENCE / 3)  # let frames sent before the hang arrive; time is the subject
    drained: list[tuple[int, bytes]] = []
    try:
        while True:
            drained.append(client.frame(SILENCE / 3))
    except websocket.WebSocketTimeoutException:
        pass
    assert all(opcode == TEXT for opcode, _ in drained), drained
    assert all(b'"pong"' not in data for _, data in drained), drained
    client.expect_silence()

    server.faults.hang = False
    seen = {"ws-pong": False, "pong": protocol != GTW, "result": False}
    deadline = time.monotonic() + 5
    while not all(seen.values()) and time.monotonic() < deadline:
        opcode, data = client.frame()
        if opcode == PONG and data == b"ws-ping":
            seen["ws-pong"] = True
        elif opcode == TEXT and b'"pong"' in data:
            seen["pong"] = True
        elif opcode == TEXT and b'"ticks"' in data:
            seen["result"] = True
    assert all(seen.values()), seen


def test_stop_is_bounded_while_hung(
    gqlws_server_factory: ServerFactory, clients: ClientPool, protocol: str
) -> None:
    """stop() does not wait on a silent server: it gives up after close_timeout."""
    server = gqlws_server_factory(close_timeout=0.2)
    client = clients.connect(server.url, protocol)
    server.faults.hang = True
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2.0
    opcode, data = client.frame()
    assert (opcode, data[:2]) == (websocket.ABNF.OPCODE_CLOSE, (1001).to_bytes(2, "big"))


def test_websocket_pings_are_sent_and_enforced(
    gqlws_server_factory: ServerFactory, clients: ClientPool, protocol: str
) -> None:
    """Ping frames come at the interval; a client that stops reading is closed 1011."""
    server = gqlws_server_factory(faults=Faults(websocket_ping_interval=30 * MS))
    client = clients.connect(server.url, protocol)
    # Reading answers the pings (websocket-client pongs inside recv_data_frame).
    assert client.frame()[0] == PING
    assert client.frame()[0] == PING
    time.sleep(200 * MS)  # not reading: time is the subject
    while (frame := client.frame())[0] == PING:
        pass
    assert frame[0] == websocket.ABNF.OPCODE_CLOSE
    assert frame[1][:2] == (1011).to_bytes(2, "big")


def test_faults_object_can_be_replaced(
    gqlws_server: ReferenceServer, clients: ClientPool, protocol: str
) -> None:
    """Assigning a new Faults applies it, watchers included (hang takes effect at once)."""
    client = clients.connect(gqlws_server.url, protocol)
    gqlws_server.faults = Faults(close_on_subscribe=(4000, "replaced"))
    client.start(protocol, "1", "{ hello }")
    assert client.recv_close() == (4000, "replaced")
