"""The upgrade the client does itself: the request websocket-client would send, and the
response read in one go, against a peer on a real socket pair."""

from __future__ import annotations

import base64
import hashlib
import socket
import threading
from collections.abc import Iterator

import pytest
import websocket
from websocket._handshake import _get_handshake_headers

from gqlws_sync._deadline import Deadline
from gqlws_sync._upgrade import request, upgrade

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@pytest.mark.parametrize(
    ("url", "connect_args"),
    [
        ("ws://127.0.0.1:8000/graphql", {}),
        ("wss://example.com/graphql?token=x", {}),
        ("ws://example.com:80", {"origin": "https://app.example", "cookie": "a=1"}),
        ("wss://[::1]:8443/gql", {"suppress_origin": True, "host": "api.example"}),
        ("ws://example.com/graphql;jsessionid=1?x=2", {}),
    ],
)
def test_request_is_the_one_websocket_client_sends(
    url: str, connect_args: dict[str, object]
) -> None:
    """Same lines in the same order (the key aside): no server can tell the paths apart."""
    header = ["Authorization: Bearer t", "Sec-WebSocket-Protocol: graphql-transport-ws"]
    ours, key = request(url, header, connect_args)
    parts = websocket._url.parse_url(url)  # host, port, resource, secure
    theirs, their_key = _get_handshake_headers(
        parts[2], url, parts[0], parts[1], {"header": header, **connect_args}
    )
    expected = "\r\n".join(theirs).replace(their_key, key.decode())
    assert ours.decode() == expected
    assert len(base64.b64decode(key)) == 16


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    client, server = socket.socketpair()
    client.settimeout(5)
    server.settimeout(5)
    yield client, server
    client.close()
    server.close()


def _answer(
    server: socket.socket, build: bytes | None, *chunks: bytes, hang_up: bool = False
) -> threading.Thread:
    """Read the request on ``server``, then send ``chunks`` one send each (``{accept}`` in
    them replaced by the key's answer unless ``build`` is given), then maybe hang up."""

    def run() -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            head += server.recv(4096)
        key = head.split(b"Sec-WebSocket-Key: ")[1].split(b"\r\n")[0]
        accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
        for chunk in chunks:
            server.sendall(chunk.replace(b"{accept}", accept) if build is None else chunk)
        if hang_up:
            server.shutdown(socket.SHUT_WR)

    thread = threading.Thread(target=run, name="upgrade-peer", daemon=True)
    thread.start()
    return thread


_OK = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n"
    b"Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n"
)


def test_response_in_pieces_and_the_frames_after_it(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    client, server = pair
    frame = b"\x81\x02{}"
    peer = _answer(server, None, _OK[:40], _OK[40:] + frame)
    headers, leftover = upgrade(client, "ws://h:1/", [], {}, Deadline(5))
    peer.join(5)
    assert headers["sec-websocket-protocol"] == "graphql-transport-ws"
    assert headers["set-cookie"] == "a=1; b=2"
    assert leftover == frame


def test_bare_line_feeds_are_taken(pair: tuple[socket.socket, socket.socket]) -> None:
    """As websocket-client reads a response: lines may end in LF alone."""
    client, server = pair
    peer = _answer(server, None, _OK.replace(b"\r\n", b"\n") + b"\x81\x00")
    headers, leftover = upgrade(client, "ws://h:1/", [], {}, Deadline(5))
    peer.join(5)
    assert headers["sec-websocket-protocol"] == "graphql-transport-ws"
    assert leftover == b"\x81\x00"


def test_unparsable_cookie_is_not_an_error(pair: tuple[socket.socket, socket.socket]) -> None:
    """A Set-Cookie the cookie jar cannot parse is dropped; the upgrade goes on."""
    client, server = pair
    peer = _answer(server, None, _OK.replace(b"Set-Cookie: a=1", b"Set-Cookie: a/b=1"))
    headers, _ = upgrade(client, "ws://h:1/", [], {}, Deadline(5))
    peer.join(5)
    assert headers["upgrade"] == "websocket"


@pytest.mark.parametrize(
    ("response", "error", "text"),
    [
        (_OK.replace(b"{accept}", b"AAAA"), websocket.WebSocketException, "Invalid WebSocket"),
        (_OK.replace(b"Upgrade: websocket\r\n", b""), websocket.WebSocketException, "Invalid"),
        (b"HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n", websocket.WebSocketException, "Redirect"),
        (b"nonsense\r\n\r\n", websocket.WebSocketException, "Invalid status line"),
        (b"HTTP/1.1 101 OK\r\nno colon\r\n\r\n", websocket.WebSocketException, "Invalid header"),
        (b"HTTP/1.1 101 OK\r\n", websocket.WebSocketConnectionClosedException, "lost"),
    ],
    ids=["bad-accept", "no-upgrade", "redirect", "status-line", "header-line", "eof"],
)
def test_invalid_responses_are_refused(
    pair: tuple[socket.socket, socket.socket],
    response: bytes,
    error: type[Exception],
    text: str,
) -> None:
    client, server = pair
    peer = _answer(server, None, response, hang_up=True)
    with pytest.raises(error, match=text):
        upgrade(client, "ws://h:1/", [], {}, Deadline(5))
    peer.join(5)


def test_refusal_keeps_status_and_body(pair: tuple[socket.socket, socket.socket]) -> None:
    client, server = pair
    peer = _answer(server, b"", b"HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r\nno", b" entry")
    with pytest.raises(websocket.WebSocketBadStatusException) as caught:
        upgrade(client, "ws://h:1/", [], {}, Deadline(5))
    peer.join(5)
    assert caught.value.status_code == 403
    assert caught.value.resp_body == b"no entry"


def test_endless_head_is_refused(pair: tuple[socket.socket, socket.socket]) -> None:
    """A server that never ends its header cannot make the client buffer without end."""
    client, server = pair
    peer = _answer(server, b"", b"HTTP/1.1 101 OK\r\n" + b"X-Pad: " + b"x" * 70_000)
    with pytest.raises(websocket.WebSocketException, match="over 65536 bytes"):
        upgrade(client, "ws://h:1/", [], {}, Deadline(5))
    peer.join(5)


def test_silent_server_times_out(pair: tuple[socket.socket, socket.socket]) -> None:
    client, _server = pair
    with pytest.raises(TimeoutError):
        upgrade(client, "ws://h:1/", [], {}, Deadline(0.2))
