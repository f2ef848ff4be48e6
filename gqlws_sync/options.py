"""Every option of a Client in one frozen dataclass, with its checks and defaults.

Names and defaults follow gql's ``WebsocketsTransport`` so that moving from gql is a rename.
"""

from __future__ import annotations

import json
import math
import random
import ssl as ssl_module
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias
from urllib.parse import urlsplit, urlunsplit

from ._protocol import APOLLO_SUBPROTOCOL, GRAPHQLWS_SUBPROTOCOL, PROTOCOLS
from .exceptions import TransportConnectionFailed

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

#: How many results of one operation may wait unread. A subscription whose reader stops
#: while the server streams would otherwise grow memory without bound (hundreds of MB in
#: seconds) and slow every other operation on the connection. One 256 KiB read of the socket
#: can complete several thousand small messages at once, so the bound sits well above that:
#: a reader that keeps up never sees it. At ~1 KiB per result it caps a stalled
#: subscription at about 10 MB.
DEFAULT_MAX_BUFFERED_EVENTS = 10_000

Overflow: TypeAlias = Literal["error", "drop_oldest"]

#: ``headers`` and ``init_payload`` may be given as callables, called on every connect (a
#: token that expires is fetched afresh for each reconnection).
HeadersOption: TypeAlias = "Mapping[str, str] | Callable[[], Mapping[str, str]] | None"
InitPayloadOption: TypeAlias = "dict[str, Any] | Callable[[], dict[str, Any] | None] | None"


@dataclass(frozen=True, slots=True)
class Reconnect:
    """How a client reconnects after losing an established connection.

    Attempt ``n`` (from 0) waits ``min(max_delay, initial_delay * multiplier ** n)``, moved
    up or down at random by up to ``jitter`` of itself so that many clients of one server do
    not all come back at the same instant. The defaults try for about three and a half
    minutes (0.5, 1, 2, ... then every 30 s, 12 attempts): long enough for a server that is
    restarted or redeployed, not forever. ``max_attempts=None`` retries without limit.
    """

    max_attempts: int | None = 12
    initial_delay: float = 0.5
    max_delay: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.25

    def __post_init__(self) -> None:
        if self.max_attempts is not None and (
            isinstance(self.max_attempts, bool)
            or not isinstance(self.max_attempts, int)
            or self.max_attempts < 1
        ):
            raise ValueError(
                f"max_attempts must be a positive int or None, not {self.max_attempts!r}"
            )
        check_duration("initial_delay", self.initial_delay, allow_none=False)
        check_duration("max_delay", self.max_delay, allow_none=False)
        multiplier = self.multiplier
        if (
            isinstance(multiplier, bool)
            or not isinstance(multiplier, (int, float))
            or not (1 <= multiplier < math.inf)
        ):
            raise ValueError(f"multiplier must be a number of at least 1, not {multiplier!r}")
        jitter = self.jitter
        if (
            isinstance(jitter, bool)
            or not isinstance(jitter, (int, float))
            or not (0 <= jitter <= 1)
        ):
            raise ValueError(f"jitter must be a fraction from 0 to 1, not {jitter!r}")

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait before attempt ``attempt`` (0 is the first)."""
        try:
            base = self.initial_delay * float(self.multiplier) ** attempt
        except OverflowError:
            base = self.max_delay
        base = min(self.max_delay, base)
        return max(0.0, base * (1 + self.jitter * (2 * rng() - 1)))


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


_NOT_FINITE = (
    "cannot send NaN or infinity (in the variables?): JSON has no such numbers; nothing was sent"
)


def _stdlib_dumps(value: Any) -> str:
    """stdlib json, refusing what JSON cannot carry.

    ``json.dumps`` writes ``NaN`` and ``Infinity`` by default, which is not JSON: strict
    servers (graphql-ws) close the whole connection over it, failing every other operation.
    """
    try:
        return json.dumps(value, allow_nan=False)
    except ValueError as exc:
        if "Circular" in str(exc):
            raise
        raise ValueError(_NOT_FINITE) from exc


def _check_finite(value: Any) -> None:
    """Refuse NaN and infinities anywhere in ``value`` (orjson would write them as null,
    silently changing what the caller sent)."""
    kind = type(value)
    if kind is float:
        if not math.isfinite(value):
            raise ValueError(_NOT_FINITE)
    elif kind is dict:
        for item in value.values():
            if type(item) is not str:
                _check_finite(item)
    elif kind is list or kind is tuple:
        for item in value:
            if type(item) is not str:
                _check_finite(item)


try:
    import orjson

    HAVE_ORJSON = True
except ImportError:  # the "fast" extra is not installed
    HAVE_ORJSON = False


def _orjson_dumps(value: Any) -> str:
    text = orjson.dumps(value)  # first: it refuses circular values, which the check is not for
    _check_finite(value)
    return text.decode()


def _orjson_loads(data: str | bytes | bytearray) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        # What orjson refuses and the stdlib takes (integers over 64 bits, NaN): decoded
        # as before, so that installing the extra changes nothing but speed.
        return json.loads(data)


_Loads: TypeAlias = Callable[[str | bytes | bytearray], Any]


def direct_loads(loads: _Loads) -> tuple[_Loads, _Loads | None]:
    """The decoder to call for every frame, and the one to try when it refuses a frame:
    the default codec's two halves, so that the protocol calls orjson without a wrapper."""
    if HAVE_ORJSON and loads is _orjson_loads:
        return orjson.loads, json.loads
    return loads, None


#: The JSON codec used unless json_loads/json_dumps say otherwise: orjson when the "fast"
#: extra is installed (about six times faster to decode), else the standard library. The
#: results are the same but for integers beyond 64 bits, which orjson decodes as floats
#: (as JavaScript does); GraphQL's Int is 32 bits.
DEFAULT_JSON_LOADS: Callable[[str | bytes | bytearray], Any] = (
    _orjson_loads if HAVE_ORJSON else json.loads
)
DEFAULT_JSON_DUMPS: Callable[[Any], str] = _orjson_dumps if HAVE_ORJSON else _stdlib_dumps


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """The checked options of one Client; see the README's options table for each meaning."""

    url: str
    headers: Mapping[str, str] | Callable[[], Mapping[str, str]] = field(default_factory=dict)
    ssl: bool | ssl_module.SSLContext = False
    init_payload: dict[str, Any] | Callable[[], dict[str, Any] | None] | None = None
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
    json_loads: Callable[[str | bytes | bytearray], Any] = DEFAULT_JSON_LOADS
    json_dumps: Callable[[Any], str] = DEFAULT_JSON_DUMPS
    reconnect: Reconnect | None = field(default_factory=Reconnect)
    on_connect: Callable[[Any], None] | None = None
    on_disconnect: Callable[[Any, BaseException], None] | None = None
    max_buffered_events: int | None = DEFAULT_MAX_BUFFERED_EVENTS
    overflow: Overflow = "error"
    #: True when ``subprotocols`` was left to its default: only then may connect() retry
    #: with the other subprotocol after a legacy server's 1002/4406.
    default_subprotocols: bool = True

    def __repr__(self) -> str:
        # Header values and the init payload are credentials more often than not.
        headers: Any = (
            "<callable>" if callable(self.headers) else dict.fromkeys(self.headers, _MASK)
        )
        payload = None if self.init_payload is None else _MASK
        return (
            f"ClientOptions(url={redact_url(self.url)!r}, headers={headers!r}, "
            f"init_payload={payload}, "
            f"subprotocols={list(self.subprotocols)!r})"
        )

    def connect_headers(self) -> Mapping[str, str]:
        """The headers for one connect: a callable is asked afresh each time.

        Raises:
            TransportConnectionFailed: the callable raised, or returned something unusable
                (chained to its exception; the message never holds header values).
        """
        if not callable(self.headers):
            return self.headers
        value = _call_credentials("headers", self.headers)
        try:
            return check_headers(value)
        except (TypeError, ValueError) as exc:
            raise _credentials_failure("headers", exc) from exc

    def connect_init_payload(self) -> dict[str, Any] | None:
        """The ``connection_init`` payload for one connect; see ``connect_headers``."""
        if not callable(self.init_payload):
            return self.init_payload
        value = _call_credentials("init_payload", self.init_payload)
        if value is not None and not isinstance(value, dict):
            wrong = TypeError(f"it returned a {type(value).__name__}, not a dict or None")
            raise _credentials_failure("init_payload", wrong) from wrong
        return value

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
        headers: HeadersOption = None,
        ssl: bool | ssl_module.SSLContext = False,
        init_payload: InitPayloadOption = None,
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
        reconnect: bool | Reconnect = True,
        on_connect: Callable[[Any], None] | None = None,
        on_disconnect: Callable[[Any, BaseException], None] | None = None,
        max_buffered_events: int | None = DEFAULT_MAX_BUFFERED_EVENTS,
        overflow: Overflow = "error",
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

        header_option: Mapping[str, str] | Callable[[], Mapping[str, str]] = (
            headers if callable(headers) else check_headers(headers or {})
        )

        if isinstance(ssl, bool):
            if ssl and parts.scheme == "ws":
                raise ValueError("ssl=True needs a wss:// URL")
        elif isinstance(ssl, ssl_module.SSLContext):
            if parts.scheme == "ws":
                raise ValueError("an ssl.SSLContext needs a wss:// URL")
        else:
            raise TypeError(f"ssl must be a bool or an ssl.SSLContext, not {type(ssl).__name__}")

        if not (init_payload is None or isinstance(init_payload, dict) or callable(init_payload)):
            raise TypeError(
                "init_payload must be a dict, a callable returning one, or None, not "
                f"{type(init_payload).__name__}"
            )
        for name, callback in (("on_connect", on_connect), ("on_disconnect", on_disconnect)):
            if callback is not None and not callable(callback):
                raise TypeError(f"{name} must be callable or None, not {callback!r}")

        if reconnect is True:
            reconnect_policy: Reconnect | None = Reconnect()
        elif reconnect is False:
            reconnect_policy = None
        elif isinstance(reconnect, Reconnect):
            reconnect_policy = reconnect
        else:
            raise TypeError(
                f"reconnect must be True, False or a gqlws_sync.Reconnect, not {reconnect!r}"
            )
        check_buffering(max_buffered_events, overflow)

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
            headers=header_option,
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
            json_loads=json_loads or DEFAULT_JSON_LOADS,
            json_dumps=json_dumps or DEFAULT_JSON_DUMPS,
            reconnect=reconnect_policy,
            on_connect=on_connect,
            on_disconnect=on_disconnect,
            max_buffered_events=max_buffered_events,
            overflow=overflow,
            default_subprotocols=subprotocols is None,
        )


def check_headers(headers: Any) -> dict[str, str]:
    """Headers as a checked dict: str names and values, no line breaks, no subprotocol."""
    if not isinstance(headers, Mapping):
        raise TypeError(f"headers must be a mapping, not {type(headers).__name__}")
    header_map: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(f"header {name!r}: names and values must be str")
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise ValueError(f"header {name!r} contains a line break")
        if name.lower() == "sec-websocket-protocol":
            raise ValueError("set the offered subprotocols with subprotocols=, not headers")
        header_map[name] = value
    return header_map


def check_buffering(max_buffered_events: Any, overflow: Any) -> None:
    if max_buffered_events is not None and (
        isinstance(max_buffered_events, bool)
        or not isinstance(max_buffered_events, int)
        or max_buffered_events < 1
    ):
        raise ValueError(
            f"max_buffered_events must be a positive int or None, not {max_buffered_events!r}"
        )
    if overflow not in ("error", "drop_oldest"):
        raise ValueError(f"overflow must be 'error' or 'drop_oldest', not {overflow!r}")


def _call_credentials(name: str, function: Callable[[], Any]) -> Any:
    try:
        return function()
    except Exception as exc:
        # Chained, not quoted: the message of an exception from a token service may hold a
        # secret, and this one may end up in a log.
        raise _credentials_failure(name, exc) from exc


def _credentials_failure(name: str, exc: BaseException) -> Exception:
    return TransportConnectionFailed(
        f"the {name} callable failed ({type(exc).__name__}); no connection was attempted"
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
