"""Opening the TCP (and TLS) connection ourselves, so that the upgrade is read in one go.

websocket-client reads the HTTP response to the upgrade one byte per ``recv`` call; with a
socket timeout each byte costs a ``poll`` too, about 350 system calls per handshake, which is
most of a local connect. When nothing needs websocket-client's own connection code (no
proxy, no redirects to follow, no ``sslopt`` beyond a ready context), we connect and wrap TLS
here and upgrade in ``_upgrade``; websocket-client then only sends control frames (text
frames are framed in ``_frames``).
"""

from __future__ import annotations

import os
import socket
import ssl
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from ._deadline import Deadline

#: websocket-client's own socket options, so both paths behave alike: no Nagle delay, and
#: TCP keep-alive probes after 30 s idle, every 10 s, 3 times.
_SOCKET_OPTIONS: list[tuple[int, int, int]] = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
if hasattr(socket, "SO_KEEPALIVE"):
    _SOCKET_OPTIONS.append((socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1))
for _name, _value in (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3)):
    if hasattr(socket, _name):
        _SOCKET_OPTIONS.append((socket.IPPROTO_TCP, getattr(socket, _name), _value))

#: connect_args that only websocket-client's connection code understands.
_NEEDS_WEBSOCKET_CLIENT = frozenset(
    {
        "http_proxy_host",
        "http_proxy_port",
        "http_proxy_auth",
        "http_proxy_timeout",
        "http_no_proxy",
        "proxy_type",
        "socket",
    }
)
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")


def can_open_directly(connect_args: Mapping[str, Any], sslopt: Mapping[str, Any] | None) -> bool:
    """True when opening the socket here changes nothing but speed.

    Proxies (given, or from the environment, which websocket-client honours) and ``sslopt``
    keys other than a ready ``context`` are left to websocket-client.
    """
    if _NEEDS_WEBSOCKET_CLIENT & connect_args.keys():
        return False
    if connect_args.get("redirect_limit"):
        return False  # following a redirect means connecting elsewhere: websocket-client's
    if sslopt is not None and set(sslopt) - {"context"}:
        return False
    return not any(os.environ.get(name) for name in _PROXY_VARIABLES)


def open_socket(
    url: str,
    deadline: Deadline,
    context: ssl.SSLContext | None,
    sockopt: Iterable[tuple[int, int, int]] = (),
) -> socket.socket:
    """TCP connect (and TLS handshake with ``context``) within ``deadline``.

    Raises:
        OSError, ssl.SSLError, TimeoutError: as the socket module raises them.
    """
    parts = urlsplit(url)
    host = parts.hostname
    assert host is not None  # checked by ClientOptions.build
    port = parts.port or (443 if parts.scheme == "wss" else 80)
    sock = socket.create_connection((host, port), timeout=deadline.remaining())
    try:
        for option in (*_SOCKET_OPTIONS, *sockopt):
            sock.setsockopt(*option)
        if context is not None:
            sock.settimeout(deadline.remaining())
            sock = context.wrap_socket(sock, server_hostname=host)
        sock.settimeout(deadline.remaining())
    except BaseException:
        sock.close()
        raise
    return sock
