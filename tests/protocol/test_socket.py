"""When the client opens the socket itself, and the stand-in socket of the handshake."""

from __future__ import annotations

import socket
import ssl

import pytest

from gqlws_sync._socket import HandshakeSocket, can_open_directly


@pytest.mark.parametrize(
    "connect_args",
    [
        {"http_proxy_host": "proxy", "http_proxy_port": 3128},
        {"proxy_type": "socks5"},
        {"socket": object()},
    ],
)
def test_proxies_go_through_websocket_client(connect_args: dict[str, object]) -> None:
    """Proxy options (and a socket of the caller's) leave connecting to websocket-client."""
    assert not can_open_directly(connect_args, None)


@pytest.mark.parametrize("variable", ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"])
def test_proxy_environment_goes_through_websocket_client(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    """websocket-client honours the proxy environment, so it keeps connecting then."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert can_open_directly({"origin": "x"}, None)
    monkeypatch.setenv(variable, "http://proxy:3128")
    assert not can_open_directly({"origin": "x"}, None)


def test_sslopt_beyond_a_context_goes_through_websocket_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only a ready SSLContext is applied directly; other sslopt keys need websocket-client."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    context = ssl.create_default_context()
    assert can_open_directly({}, {"context": context})
    assert not can_open_directly({}, {"context": context, "check_hostname": False})
    assert not can_open_directly({}, {"ca_certs": "ca.pem"})


def test_handshake_socket_reads_ahead() -> None:
    """One large read serves many one-byte reads; the rest stays for the frame reader."""
    server, client = socket.socketpair()
    try:
        client.settimeout(2)
        server.sendall(b"HTTP/1.1 101 OK\r\n\r\n\x89\x00")
        stand_in = HandshakeSocket(client)
        line = b"".join(stand_in.recv(1) for _ in range(17))
        assert line == b"HTTP/1.1 101 OK\r\n"
        assert stand_in.recv(2) == b"\r\n"
        assert stand_in.leftover == bytearray(b"\x89\x00")
        assert stand_in.gettimeout() == 2
        assert stand_in.fileno() == client.fileno()
        server.close()
        stand_in.leftover.clear()
        assert stand_in.recv(1) == b""
    finally:
        server.close()
        client.close()
