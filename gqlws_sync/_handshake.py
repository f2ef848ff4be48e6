"""Opening a socket and upgrading it: TCP, TLS, the HTTP upgrade and the subprotocol check.

Every failure of these steps is mapped to the project's exceptions here, at one boundary
(``raise ... from`` the library's error), so the rest of the client never sees a raw
``OSError``, ``ssl.SSLError`` or websocket-client exception from connecting.
"""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Callable, Mapping
from typing import Any

import certifi
import websocket

from ._deadline import Deadline
from ._socket import can_open_directly, open_socket
from ._upgrade import upgrade
from .exceptions import (
    ConnectTimeout,
    TransportConnectionFailed,
    TransportProtocolError,
    TransportServerError,
)
from .options import ClientOptions, redact_url

logger = logging.getLogger("gqlws_sync.handshake")

#: The code a failed TLS handshake carries (RFC 6455 names it 1015; it never goes on the wire).
TLS_FAILURE = 1015


def open_websocket(
    options: ClientOptions,
    offer: tuple[str, ...],
    headers: Mapping[str, str],
    deadline: Deadline,
    *,
    on_socket: Callable[[socket.socket], None] | None = None,
    on_request_sent: Callable[[], None] | None = None,
) -> tuple[websocket.WebSocket, dict[str, str], bytearray]:
    """Connect and upgrade within ``deadline``; return the socket, the response's headers
    (names in lower case) and what was read past the response (the first frames, if the
    server was quick).

    ``on_socket`` gets the TCP (or TLS) socket as soon as it is connected, so that another
    thread can cut a slow upgrade short by shutting it down. ``on_request_sent`` is called
    while the server works on the upgrade request (on the direct path only).

    Raises:
        ConnectTimeout, TransportConnectionFailed: TCP, TLS, DNS, proxy or upgrade I/O.
        TransportServerError: the upgrade was refused with an HTTP status, or redirected.
        TransportProtocolError: the upgrade response is not a valid WebSocket one.
    """
    url = redact_url(options.url)
    header = [f"{name}: {value}" for name, value in headers.items()]
    # Offered as a plain header, not through websocket-client's subprotocols=: its check
    # fails with "Invalid WebSocket Header" and hides what the server answered.
    header.append("Sec-WebSocket-Protocol: " + ", ".join(offer))
    kwargs: dict[str, Any] = dict(options.connect_args)
    # websocket-client follows redirects by default and sends every header again,
    # credentials included, to wherever the Location points. Opt-in only.
    kwargs.setdefault("redirect_limit", 0)
    if options.is_secure:
        kwargs["sslopt"] = _sslopt(options, kwargs.get("sslopt"))
    direct: socket.socket | None = None
    try:
        if can_open_directly(kwargs, kwargs.get("sslopt")):
            sslopt = kwargs.pop("sslopt", None)
            direct = open_socket(
                options.url,
                deadline,
                sslopt["context"] if sslopt else None,
                kwargs.pop("sockopt", ()),
            )
            if on_socket is not None:
                on_socket(direct)
            response, leftover = upgrade(
                direct, options.url, header, kwargs, deadline, on_sent=on_request_sent
            )
            # websocket-client still sends control frames: it gets the upgraded socket.
            ws = websocket.WebSocket(enable_multithread=True, skip_utf8_validation=True)
            ws.sock = direct
            ws.connected = True
            return ws, response, leftover
        ws = websocket.create_connection(
            options.url,
            timeout=deadline.remaining(),
            header=header,
            enable_multithread=True,
            # The UTF-8 check is done once, by the JSON decoder reading bytes; websocket-
            # client's pure-Python validator caps throughput at a few MB/s.
            skip_utf8_validation=True,
            **kwargs,
        )
    except BaseException as exc:
        if direct is not None:
            direct.close()
        mapped = _connect_error(exc, url, deadline)
        if mapped is exc:
            raise
        if isinstance(exc, websocket.WebSocketBadStatusException):
            raise mapped from None  # its text repeats the whole response, headers included
        raise mapped from exc
    return ws, dict(ws.getheaders() or {}), bytearray()


def _connect_error(exc: BaseException, url: str, deadline: Deadline) -> BaseException:
    """The project's exception for a failure while connecting (``exc`` itself when it is
    not a connection failure, such as KeyboardInterrupt)."""
    if isinstance(exc, websocket.WebSocketBadStatusException):
        status = exc.status_code
        return TransportServerError(
            f"the server refused the WebSocket upgrade at {url} with HTTP {status}"
            f"{_body_excerpt(exc.resp_body)}",
            code=status,
        )
    if isinstance(exc, (TimeoutError, websocket.WebSocketTimeoutException)):
        return ConnectTimeout(f"could not connect to {url} within {deadline.timeout} s")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return TransportConnectionFailed(
            f"TLS certificate verification failed for {url}: {exc.verify_message}",
            TLS_FAILURE,
        )
    if isinstance(exc, ssl.SSLError):
        return TransportConnectionFailed(f"TLS handshake with {url} failed: {exc}", TLS_FAILURE)
    if isinstance(exc, (websocket.WebSocketAddressException, socket.gaierror)):
        return TransportConnectionFailed(f"could not resolve the host of {url}")
    if isinstance(exc, websocket.WebSocketProxyException):
        return TransportConnectionFailed(f"proxy failure connecting to {url}: {exc}")
    if isinstance(exc, websocket.WebSocketConnectionClosedException):
        return TransportConnectionFailed(
            f"{url} closed the connection during the WebSocket upgrade"
        )
    if isinstance(exc, websocket.WebSocketException):
        if "redirect limit" in str(exc).lower():
            return TransportServerError(
                f"{url} answered the WebSocket upgrade with a redirect; redirects are not "
                "followed unless connect_args={'redirect_limit': N} allows it (headers, "
                "credentials included, are then sent to the new location)"
            )
        return TransportProtocolError(f"invalid WebSocket upgrade response from {url}: {exc}")
    if isinstance(exc, OSError):
        return TransportConnectionFailed(f"could not connect to {url}: {describe_os_error(exc)}")
    return exc


def _sslopt(options: ClientOptions, given: Any) -> dict[str, Any]:
    sslopt = dict(given or {})
    ssl_option = options.ssl
    if isinstance(ssl_option, ssl.SSLContext):
        context = ssl_option
        if context.verify_mode == ssl.CERT_NONE or not context.check_hostname:
            logger.warning(
                "TLS certificate or hostname verification is off for %s", redact_url(options.url)
            )
        sslopt.setdefault("context", context)
    elif not sslopt:
        sslopt["context"] = ssl.create_default_context(cafile=certifi.where())
    elif not ({"context", "ca_certs", "ca_cert_path", "cert_reqs"} & sslopt.keys()):
        # websocket-client ignores every other key (certfile, ciphers, ...) when given a
        # context: let it build one, from certifi's bundle.
        sslopt["ca_certs"] = certifi.where()
    elif sslopt.get("cert_reqs") == ssl.CERT_NONE:
        logger.warning("TLS verification is off for %s", redact_url(options.url))
    return sslopt


def check_subprotocol(headers: Mapping[str, str], offer: tuple[str, ...]) -> str:
    """Apply RFC 6455 §4.1 to the server's pick (in the upgrade response's ``headers``)
    and name both sides when it fails.

    Raises:
        TransportProtocolError: no subprotocol chosen, or one that was not offered.
    """
    answer = headers.get("sec-websocket-protocol")
    offered = ", ".join(offer)
    if answer is None:
        raise TransportProtocolError(
            f"the server accepted the WebSocket upgrade without choosing a subprotocol "
            f"(offered: {offered}); it may not speak GraphQL over WebSocket at this URL"
        )
    picked = answer.strip().lower()
    for token in offer:
        if token.lower() == picked:
            return token
    raise TransportProtocolError(
        f"the server chose subprotocol {answer.strip()!r}, which was not offered "
        f"(offered: {offered})"
    )


def describe_os_error(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset by peer"
    if isinstance(exc, BrokenPipeError):
        return "broken pipe"
    text = str(exc)
    return text or type(exc).__name__


def _body_excerpt(body: Any) -> str:
    if not body:
        return ""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    text = " ".join(str(body).split())
    if len(text) > 200:
        text = text[:200] + "…"
    return f": {text}"
