"""Every option of a Client in one frozen dataclass, with its checks and defaults.

Names and defaults follow gql's ``WebsocketsTransport`` so that moving from gql is a rename.
"""

from __future__ import annotations

import json
import math
import ssl as ssl_module
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ._protocol import APOLLO_SUBPROTOCOL, GRAPHQLWS_SUBPROTOCOL, PROTOCOLS

#: graphql-transport-ws first: it is the maintained protocol, and Strawberry and Ariadne
#: speak whichever protocol the client lists first, while Strawberry refuses queries and
#: mutations over Apollo's. The one server family this order trips up, Apollo's
#: subscriptions-transport-ws, accepts the first token and closes 1002 at once; connect()
#: recognises that and retries offering only ``graphql-ws``.
DEFAULT_SUBPROTOCOLS: tuple[str, ...] = (GRAPHQLWS_SUBPROTOCOL, APOLLO_SUBPROTOCOL)

#: gql's defaults: long enough for a slow TLS handshake across the world, short enough that a
#: dead server is reported while a person is still waiting.
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_CLOSE_TIMEOUT = 10.0
DEFAULT_ACK_TIMEOUT = 10.0

#: WebSocket-level ping frames, as the ``websockets`` library (and so gql) sends them by
#: default: every 20 s, and the connection is declared dead when no pong comes within 20 s.
#: They catch a peer that is gone while the kernel keeps the TCP connection open (a stopped
#: process, a half-dead NAT), which an Apollo server without ``ka`` would never reveal.
DEFAULT_WS_PING_INTERVAL = 20.0
DEFAULT_WS_PONG_TIMEOUT = 20.0

#: A send that cannot make progress for this long fails the connection: part of a frame may
#: have gone out, so the stream can no longer be trusted (websocket-client has one socket
#: timeout, for reads and writes alike).
DEFAULT_SEND_TIMEOUT = 10.0

#: Largest message accepted from the server. websocket-client would buffer any announced length;
#: 64 MiB is far above real GraphQL results (a full introspection result is a few hundred KiB)
#: yet bounds what a broken or hostile server can make us hold.
DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024

#: Options of websocket-client's ``create_connection`` a caller may set through
#: ``connect_args``. The rest are set by the client itself (timeouts, subprotocols, threading
#: and UTF-8 handling) and would break it if overridden.
CONNECT_ARGS_ALLOWED = frozenset(
    {
        "cookie",
        "origin",
        "suppress_origin",
        "host",
        "http_proxy_host",
        "http_proxy_port",
        "http_proxy_auth",
        "http_proxy_timeout",
        "http_no_proxy",
        "proxy_type",
        "redirect_limit",
        "sockopt",
        "sslopt",
        "socket",
    }
)
#: The ``websockets`` library's keepalive names, as gql's documentation passes them in
#: ``connect_args``; accepted as aliases of ``ws_ping_interval`` and ``ws_pong_timeout``.
CONNECT_ARGS_ALIASES = {"ping_interval": "ws_ping_interval", "ping_timeout": "ws_pong_timeout"}

_MASK = "[secure]"


def check_duration(name: str, value: Any, *, allow_none: bool = True) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number of seconds or None, not {value!r}")
    if not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds or None, not {value!r}")
    if math.isnan(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
    if math.isinf(value):
        raise ValueError(f"{name} must be finite, not {value!r}; None means no limit")
    return float(value)


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """The checked options of one Client; see the README's options table for each meaning."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    ssl: bool | ssl_module.SSLContext = False
    init_payload: dict[str, Any] | None = None
    subprotocols: tuple[str, ...] = DEFAULT_SUBPROTOCOLS
    connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT
    close_timeout: float | None = DEFAULT_CLOSE_TIMEOUT
    ack_timeout: float | None = DEFAULT_ACK_TIMEOUT
    keep_alive_timeout: float | None = None
    ping_interval: float | None = None
    pong_timeout: float | None = None
    answer_pings: bool = True
    connect_args: Mapping[str, Any] = field(default_factory=dict)
    ws_ping_interval: float | None = DEFAULT_WS_PING_INTERVAL
    ws_pong_timeout: float | None = DEFAULT_WS_PONG_TIMEOUT
    max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE
    json_loads: Callable[[str | bytes | bytearray], Any] = json.loads
    json_dumps: Callable[[Any], str] = json.dumps
    #: True when ``subprotocols`` was left to its default: only then may connect() retry
    #: with the other subprotocol after a legacy server's 1002/4406.
    default_subprotocols: bool = True

    def __repr__(self) -> str:
        # Header values and the init payload are credentials more often than not.
        headers = dict.fromkeys(self.headers, _MASK)
        payload = None if self.init_payload is None else _MASK
        return (
            f"ClientOptions(url={redact_url(self.url)!r}, headers={headers!r}, "
            f"init_payload={payload}, "
            f"subprotocols={list(self.subprotocols)!r})"
        )

    @property
    def is_secure(self) -> bool:
        return self.url.startswith("wss://")

    @property
    def effective_pong_timeout(self) -> float | None:
        """gql's rule: without an explicit pong_timeout, half of ping_interval."""
        if self.pong_timeout is not None or self.ping_interval is None:
            return self.pong_timeout
        return self.ping_interval / 2

    @classmethod
    def build(
        cls,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        ssl: bool | ssl_module.SSLContext = False,
        init_payload: dict[str, Any] | None = None,
        subprotocols: Sequence[str] | None = None,
        connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
        close_timeout: float | None = DEFAULT_CLOSE_TIMEOUT,
        ack_timeout: float | None = DEFAULT_ACK_TIMEOUT,
        keep_alive_timeout: float | None = None,
        ping_interval: float | None = None,
        pong_timeout: float | None = None,
        answer_pings: bool = True,
        connect_args: Mapping[str, Any] | None = None,
        ws_ping_interval: float | None = DEFAULT_WS_PING_INTERVAL,
        ws_pong_timeout: float | None = DEFAULT_WS_PONG_TIMEOUT,
        max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE,
        json_loads: Callable[[str | bytes | bytearray], Any] | None = None,
        json_dumps: Callable[[Any], str] | None = None,
    ) -> ClientOptions:
        """Check every option and return them frozen.

        Raises:
            TypeError, ValueError: an option has the wrong type or an impossible value; the
                message names the option (never a header value or the init payload).
        """
        if not isinstance(url, str):
            raise TypeError(f"url must be a str, not {type(url).__name__}")
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError(
                f"url must be a ws:// or wss:// URL with a host, not {redact_url(url)!r}"
            )
        # urlsplit lower-cases the scheme; websocket-client does not accept "WS://".
        url = urlunsplit(parts)

        header_map: dict[str, str] = {}
        for name, value in (headers or {}).items():
            if not isinstance(name, str) or not isinstance(value, str):
                raise TypeError(f"header {name!r}: names and values must be str")
            if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
                raise ValueError(f"header {name!r} contains a line break")
            if name.lower() == "sec-websocket-protocol":
                raise ValueError("set the offered subprotocols with subprotocols=, not headers")
            header_map[name] = value

        if isinstance(ssl, bool):
            if ssl and parts.scheme == "ws":
                raise ValueError("ssl=True needs a wss:// URL")
        elif isinstance(ssl, ssl_module.SSLContext):
            if parts.scheme == "ws":
                raise ValueError("an ssl.SSLContext needs a wss:// URL")
        else:
            raise TypeError(f"ssl must be a bool or an ssl.SSLContext, not {type(ssl).__name__}")

        if init_payload is not None and not isinstance(init_payload, dict):
            raise TypeError(
                f"init_payload must be a dict or None, not {type(init_payload).__name__}"
            )

        if subprotocols is None:
            offer = DEFAULT_SUBPROTOCOLS
        else:
            if isinstance(subprotocols, str):
                raise TypeError("subprotocols must be a list of str, not a str")
            offer = tuple(subprotocols)
            if not offer:
                raise ValueError("subprotocols must name at least one subprotocol")
            for token in offer:
                if token not in PROTOCOLS:
                    raise ValueError(
                        f"unknown subprotocol {token!r}; choose from {sorted(PROTOCOLS)}"
                    )
            if len(set(offer)) != len(offer):
                raise ValueError(f"subprotocols lists one twice: {list(offer)}")

        args = dict(connect_args or {})
        for alias, option in CONNECT_ARGS_ALIASES.items():
            if alias in args:
                value = args.pop(alias)
                if option == "ws_ping_interval":
                    if ws_ping_interval != DEFAULT_WS_PING_INTERVAL:
                        raise ValueError(
                            "give ws_ping_interval or connect_args['ping_interval'], not both"
                        )
                    ws_ping_interval = value
                else:
                    if ws_pong_timeout != DEFAULT_WS_PONG_TIMEOUT:
                        raise ValueError(
                            "give ws_pong_timeout or connect_args['ping_timeout'], not both"
                        )
                    ws_pong_timeout = value
        unknown = sorted(set(args) - CONNECT_ARGS_ALLOWED)
        if unknown:
            raise ValueError(
                f"unknown or reserved connect_args {unknown}; allowed: "
                f"{sorted(CONNECT_ARGS_ALLOWED | set(CONNECT_ARGS_ALIASES))}"
            )

        if not isinstance(answer_pings, bool):
            raise TypeError(f"answer_pings must be a bool, not {answer_pings!r}")
        if max_message_size is not None and (
            isinstance(max_message_size, bool)
            or not isinstance(max_message_size, int)
            or max_message_size <= 0
        ):
            raise ValueError(
                f"max_message_size must be a positive int or None, not {max_message_size!r}"
            )

        return cls(
            url=url,
            headers=header_map,
            ssl=ssl,
            init_payload=init_payload,
            subprotocols=offer,
            connect_timeout=check_duration("connect_timeout", connect_timeout),
            close_timeout=check_duration("close_timeout", close_timeout),
            ack_timeout=check_duration("ack_timeout", ack_timeout),
            keep_alive_timeout=check_duration("keep_alive_timeout", keep_alive_timeout),
            ping_interval=check_duration("ping_interval", ping_interval),
            pong_timeout=check_duration("pong_timeout", pong_timeout),
            answer_pings=answer_pings,
            connect_args=args,
            ws_ping_interval=check_duration("ws_ping_interval", ws_ping_interval),
            ws_pong_timeout=check_duration("ws_pong_timeout", ws_pong_timeout),
            max_message_size=max_message_size,
            json_loads=json_loads or json.loads,
            json_dumps=json_dumps or json.dumps,
            default_subprotocols=subprotocols is None,
        )


def redact_url(url: str) -> str:
    """The URL as it may appear in logs and messages: no password, no query values.

    Tokens are often passed as ``?token=...`` or ``user:secret@host`` on WebSocket URLs.
    """
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            # A user name alone is often a token (ws://TOKEN@host): mask all of it.
            netloc = f"{_MASK}@{netloc.rpartition('@')[2]}"
        query = "&".join(
            f"{pair.split('=', 1)[0]}={_MASK}" if "=" in pair else _MASK
            for pair in parts.query.split("&")
            if pair
        )
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    except ValueError:
        return "<unparsable url>"
