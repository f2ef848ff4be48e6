"""The fault proxy itself, against a plain TCP listener: each mode does what it says."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from ._proxy import Proxy

#: Bound on every socket call in these tests.
TIMEOUT = 5.0
#: How long "nothing arrives" is watched for: absence cannot be waited on, only observed.
QUIET = 0.2


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.create_server(("127.0.0.1", 0))
    sock.settimeout(TIMEOUT)
    yield sock
    sock.close()


@pytest.fixture
def proxy(listener: socket.socket) -> Iterator[Proxy]:
    with Proxy(listener.getsockname()[1]) as proxy:
        yield proxy
    assert not [t for t in threading.enumerate() if t.name == f"proxy-{proxy.number}"]


def _pair(proxy: Proxy, listener: socket.socket) -> tuple[socket.socket, socket.socket]:
    client = socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT)
    server, _ = listener.accept()
    server.settimeout(TIMEOUT)
    return client, server


def _assert_reset_at_once(port: int) -> None:
    """A new connection is reset: during connect() or at the first read, whichever the RST
    beats."""
    with pytest.raises(ConnectionResetError):
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        with sock:
            sock.recv(1)


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, f"EOF after {len(data)} of {size} bytes"
        data += chunk
    return data


def test_forwards_both_ways_and_counts(proxy: Proxy, listener: socket.socket) -> None:
    """Bytes go through in both directions; every accepted connection is counted."""
    client, server = _pair(proxy, listener)
    with client, server:
        client.sendall(b"ping")
        assert _recv_exactly(server, 4) == b"ping"
        server.sendall(b"pong")
        assert _recv_exactly(client, 4) == b"pong"
        proxy.wait_for_accepted(1)
        assert proxy.accepted == 1
        assert proxy.live == 1
        client.shutdown(socket.SHUT_WR)
        assert server.recv(1) == b""  # the FIN is passed on


def test_reset_sends_rst_to_both_peers(proxy: Proxy, listener: socket.socket) -> None:
    """reset() cuts the connection with an RST, not a FIN, on both sides."""
    client, server = _pair(proxy, listener)
    with client, server:
        client.sendall(b"x")
        assert _recv_exactly(server, 1) == b"x"
        proxy.reset()
        with pytest.raises(ConnectionResetError):
            client.recv(1)
        with pytest.raises(ConnectionResetError):
            server.recv(1)
        assert proxy.live == 0


def test_black_hole_holds_bytes_until_restore(proxy: Proxy, listener: socket.socket) -> None:
    """black_hole() forwards nothing either way, on new connections too; restore() delivers."""
    client, server = _pair(proxy, listener)
    with client, server:
        proxy.black_hole()
        client.sendall(b"up")
        server.sendall(b"down")
        late = socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT)
        late_server, _ = listener.accept()  # accepted and connected, but silent
        with late, late_server:
            late.sendall(b"new")
            for sock in (client, server, late_server):
                sock.settimeout(QUIET)
                with pytest.raises(TimeoutError):
                    sock.recv(1)
                sock.settimeout(TIMEOUT)
            proxy.restore()
            assert _recv_exactly(server, 2) == b"up"
            assert _recv_exactly(client, 4) == b"down"
            assert _recv_exactly(late_server, 3) == b"new"
        assert proxy.accepted == 2


def test_stall_after_lets_n_bytes_through(proxy: Proxy, listener: socket.socket) -> None:
    """stall_after(n) passes exactly n server-to-client bytes, then holds the rest."""
    client, server = _pair(proxy, listener)
    with client, server:
        proxy.stall_after(10)
        server.sendall(bytes(range(100)))
        assert _recv_exactly(client, 10) == bytes(range(10))
        client.settimeout(QUIET)
        with pytest.raises(TimeoutError):
            client.recv(1)
        client.settimeout(TIMEOUT)
        client.sendall(b"still up")  # the other direction flows
        assert _recv_exactly(server, 8) == b"still up"
        proxy.restore()
        assert _recv_exactly(client, 90) == bytes(range(10, 100))


def test_refuse_resets_new_connections_only(proxy: Proxy, listener: socket.socket) -> None:
    """refuse() resets new connections at once; live ones carry on; restore() ends it."""
    client, server = _pair(proxy, listener)
    with client, server:
        proxy.refuse()
        _assert_reset_at_once(proxy.port)
        assert proxy.refused == 1
        client.sendall(b"ok")
        assert _recv_exactly(server, 2) == b"ok"
        proxy.restore()
        again, again_server = _pair(proxy, listener)
        with again, again_server:
            again.sendall(b"!")
            assert _recv_exactly(again_server, 1) == b"!"


def test_server_down_resets_the_client(listener: socket.socket) -> None:
    """With nothing listening behind it, the proxy resets the client at once."""
    port = listener.getsockname()[1]
    listener.close()
    with Proxy(port) as proxy:
        _assert_reset_at_once(proxy.port)
        assert proxy.refused == 1
