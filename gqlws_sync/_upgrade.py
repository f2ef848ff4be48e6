"""The HTTP/1.1 upgrade (RFC 6455 §4.1-4.2) on a socket the client opened itself.

websocket-client reads the upgrade response one byte per call, through three layers of
Python: about 125 µs for a short response, a sixth of a local connect. Here the response is
read in one or two ``recv`` calls and parsed in one go; whatever the server sent after it
(frames already on their way) is returned for the frame reader.

The request is the one websocket-client would send (same headers, same order, its
``origin``, ``suppress_origin``, ``host`` and ``cookie`` options, its cookie jar), so that a
server cannot tell the two paths apart, and failures are raised as websocket-client's
exceptions so that one function (``_handshake._connect_error``) maps both paths.
"""

from __future__ import annotations

import base64
import hashlib
import http.cookies
import os
import re
import socket
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

import websocket

from ._deadline import Deadline

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#: A response head larger than this is refused: no server needs it, and a hostile one must
#: not make the client buffer without end.
_MAX_HEAD = 64 * 1024
#: Of a refusal's body, only an excerpt reaches the error message.
_MAX_BODY = 64 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: The end of the response head; bare LF line ends are taken, as websocket-client takes them.
_HEAD_END = re.compile(rb"\r?\n\r?\n")


def _cookie_jar() -> Any:
    """websocket-client's process-wide cookie jar, when this version has one: cookies a
    server set on an earlier upgrade (a load balancer's affinity cookie) are sent again, as
    websocket-client's own handshake does."""
    handshake = getattr(websocket, "_handshake", None)
    return getattr(handshake, "CookieJar", None)


def request(
    url: str, header: Sequence[str], connect_args: Mapping[str, Any]
) -> tuple[bytes, bytes]:
    """The upgrade request for ``url`` and its ``Sec-WebSocket-Key``."""
    # Parsed as websocket-client parses it (as an http URL): ";params" of the last path
    # segment are not sent.
    scheme, _, rest = url.partition(":")
    parts = urlparse(rest, scheme="http")
    host = parts.hostname or ""
    port = parts.port or (443 if scheme == "wss" else 80)
    resource = parts.path or "/"
    if parts.query:
        resource += "?" + parts.query
    packed = f"[{host}]" if ":" in host else host
    hostport = packed if port in (80, 443) else f"{packed}:{port}"
    key = base64.b64encode(os.urandom(16))
    lines = [f"GET {resource} HTTP/1.1", "Upgrade: websocket"]
    lines.append(f"Host: {connect_args.get('host') or hostport}")
    if not connect_args.get("suppress_origin"):
        origin = connect_args.get("origin")
        if origin is None:
            origin = ("https://" if scheme == "wss" else "http://") + hostport
        lines.append(f"Origin: {origin}")
    lines += [
        f"Sec-WebSocket-Key: {key.decode()}",
        "Sec-WebSocket-Version: 13",
        "Connection: Upgrade",
        *header,
    ]
    jar = _cookie_jar()
    cookies = [jar.get(host) if jar is not None else None, connect_args.get("cookie")]
    cookie = "; ".join(c for c in cookies if c)
    if cookie:
        lines.append(f"Cookie: {cookie}")
    lines += ["", ""]
    return "\r\n".join(lines).encode("utf-8"), key


def upgrade(
    sock: socket.socket,
    url: str,
    header: Sequence[str],
    connect_args: Mapping[str, Any],
    deadline: Deadline,
    *,
    on_sent: Callable[[], None] | None = None,
) -> tuple[dict[str, str], bytearray]:
    """Send the upgrade request on ``sock`` and read the response within ``deadline``.

    Returns the response headers (names in lower case) and the bytes read past them.
    ``on_sent`` runs between the two, while the server works on the request.

    Raises:
        websocket.WebSocketBadStatusException: a status other than 101 (body excerpt kept).
        websocket.WebSocketException: a redirect, or a response that is not a valid upgrade.
        websocket.WebSocketConnectionClosedException: the server hung up first.
        TimeoutError, OSError: as the socket raises them.
    """
    data, key = request(url, header, connect_args)
    _settimeout(sock, deadline)
    sock.sendall(data)
    if on_sent is not None:
        on_sent()
    received = bytearray()
    end = None
    while end is None:
        if len(received) > _MAX_HEAD:
            raise websocket.WebSocketException(
                f"the upgrade response's header is over {_MAX_HEAD} bytes"
            )
        _settimeout(sock, deadline)
        chunk = sock.recv(16384)
        if not chunk:
            raise websocket.WebSocketConnectionClosedException(
                "Connection to remote host was lost."
            )
        received += chunk
        end = _HEAD_END.search(received)
    status, message, headers = _parse_head(bytes(received[: end.start()]))
    leftover = received[end.end() :]
    if status in _REDIRECTS:
        _remember_cookies(headers)
        raise websocket.WebSocketException("Redirect limit exhausted")
    if status != 101:
        body = _read_body(sock, leftover, headers.get("content-length"), deadline)
        raise websocket.WebSocketBadStatusException(
            f"Handshake status {status} {message}", status, message, headers, body
        )
    if not _is_valid_upgrade(headers, key):
        raise websocket.WebSocketException("Invalid WebSocket Header")
    _remember_cookies(headers)
    return headers, leftover


def _remember_cookies(headers: Mapping[str, str]) -> None:
    """Keep what the server set, for the next upgrade, where websocket-client keeps it (on
    an accepted upgrade or a redirect); a cookie the jar cannot parse is not kept."""
    jar = _cookie_jar()
    if jar is not None and headers.get("set-cookie"):
        try:
            jar.add(headers["set-cookie"])
        except http.cookies.CookieError:
            pass


def _settimeout(sock: socket.socket, deadline: Deadline) -> None:
    remaining = deadline.remaining()
    if remaining is not None and remaining == 0:
        raise TimeoutError("the WebSocket upgrade timed out")
    sock.settimeout(remaining)


def _parse_head(head: bytes) -> tuple[int, str | None, dict[str, str]]:
    """Status, reason phrase and headers, read as websocket-client reads them."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise websocket.WebSocketException(
            f"Invalid header line, not valid UTF-8 at byte {exc.start}"
        ) from None
    lines = text.split("\n")
    status_line = lines[0].strip()
    fields = status_line.split(" ", 2)
    try:
        status = int(fields[1])
    except (IndexError, ValueError):
        raise websocket.WebSocketException(f"Invalid status line: {status_line!r}") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.strip().partition(":")
        if not colon:
            raise websocket.WebSocketException("Invalid header")
        name = name.lower()
        value = value.strip()
        if name == "set-cookie" and headers.get(name):
            headers[name] += "; " + value
        else:
            headers[name] = value
    return status, fields[2] if len(fields) > 2 else None, headers


def _read_body(
    sock: socket.socket, body: bytearray, length: str | None, deadline: Deadline
) -> bytes | None:
    """The start of a refusal's body, when it declares its length (the message shows an
    excerpt: what the server says about why it refused)."""
    try:
        wanted = min(int(length or ""), _MAX_BODY)
    except ValueError:
        return None
    try:
        while len(body) < wanted:
            _settimeout(sock, deadline)
            chunk = sock.recv(wanted - len(body))
            if not chunk:
                break
            body += chunk
    except OSError:
        pass  # the status is the news; a body cut short is still an excerpt
    return bytes(body[:wanted]) or None


def _is_valid_upgrade(headers: Mapping[str, str], key: bytes) -> bool:
    """RFC 6455 §4.1's checks of a 101 response (the subprotocol is checked by the caller,
    which can then say what was offered and what came back)."""
    for name, token in (("upgrade", "websocket"), ("connection", "upgrade")):
        values = [value.strip().lower() for value in headers.get(name, "").split(",")]
        if token not in values:
            return False
    accept = headers.get("sec-websocket-accept", "").strip()
    expected = base64.b64encode(hashlib.sha1(key + _GUID).digest()).decode()
    # Without regard to case, as websocket-client compares: both paths accept the same servers.
    return accept.lower() == expected.lower()
