"""ClientOptions.build: every check, the defaults, the masked repr and redact_url."""

from __future__ import annotations

import functools
import inspect
import json
import math
import ssl
from collections.abc import Mapping
from typing import Any, cast

import pytest

from gqlws_sync import Client, Reconnect
from gqlws_sync import options as options_module
from gqlws_sync._protocol.base import _stdlib_loads
from gqlws_sync.client import DEFAULT_EXECUTE_TIMEOUT
from gqlws_sync.exceptions import TransportConnectionFailed
from gqlws_sync.options import (
    CONNECT_ARGS_ALLOWED,
    DEFAULT_ACK_TIMEOUT,
    DEFAULT_CLOSE_TIMEOUT,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_JSON_DUMPS,
    DEFAULT_JSON_LOADS,
    DEFAULT_MAX_BUFFERED_EVENTS,
    DEFAULT_MAX_MESSAGE_SIZE,
    DEFAULT_SUBPROTOCOLS,
    DEFAULT_WS_PING_INTERVAL,
    DEFAULT_WS_PONG_TIMEOUT,
    HAVE_ORJSON,
    ClientOptions,
    redact_url,
)

URL = "ws://localhost:8000/graphql"
WSS = "wss://example.com/graphql"

DURATIONS = [
    "connect_timeout",
    "close_timeout",
    "ack_timeout",
    "keep_alive_timeout",
    "ping_interval",
    "pong_timeout",
    "ws_ping_interval",
    "ws_pong_timeout",
]


def build(url: str = URL, /, **kwargs: Any) -> ClientOptions:
    """ClientOptions.build with loosely typed keywords, for feeding it wrong types."""
    return ClientOptions.build(url, **kwargs)


# -- defaults --------------------------------------------------------------------------------


def test_defaults() -> None:
    """build(url) alone gives gql's defaults."""
    options = build()
    assert options.url == URL
    assert options.headers == {}
    assert options.ssl is False
    assert options.init_payload is None
    assert options.subprotocols == DEFAULT_SUBPROTOCOLS
    assert options.subprotocols == ("graphql-transport-ws", "graphql-ws")
    assert options.default_subprotocols is True
    assert options.connect_timeout == DEFAULT_CONNECT_TIMEOUT == 10.0
    assert options.close_timeout == DEFAULT_CLOSE_TIMEOUT == 10.0
    assert options.ack_timeout == DEFAULT_ACK_TIMEOUT == 10.0
    assert options.keep_alive_timeout is None
    assert options.ping_interval is None
    assert options.pong_timeout is None
    assert options.effective_pong_timeout is None
    assert options.answer_pings is True
    assert options.connect_args == {}
    assert options.ws_ping_interval == DEFAULT_WS_PING_INTERVAL == 20.0
    assert options.ws_pong_timeout == DEFAULT_WS_PONG_TIMEOUT == 20.0
    assert options.max_message_size == DEFAULT_MAX_MESSAGE_SIZE == 64 * 1024 * 1024
    assert options.json_loads is DEFAULT_JSON_LOADS
    assert options.json_dumps is DEFAULT_JSON_DUMPS
    value = {"a": [1, 2.5, None, "é"]}
    assert json.loads(options.json_dumps(value)) == value
    # With the "fast" extra installed (as in the test extra), orjson is the default.
    assert (options.json_loads is json.loads) is not HAVE_ORJSON
    assert options.reconnect == Reconnect()
    assert options.on_connect is None
    assert options.on_disconnect is None
    assert options.max_buffered_events == DEFAULT_MAX_BUFFERED_EVENTS == 10_000
    assert options.overflow == "error"


ENCODERS = pytest.mark.parametrize(
    "dumps", [options_module._stdlib_dumps, options_module._orjson_dumps], ids=["stdlib", "orjson"]
)


@ENCODERS
@pytest.mark.parametrize(
    "value",
    [math.nan, math.inf, -math.inf, {"variables": {"x": [1, math.nan]}}, [(1, {"y": -math.inf})]],
    ids=["nan", "inf", "minus-inf", "nested", "tuple"],
)
def test_default_dumps_refuse_nan_and_infinity(dumps: Any, value: Any) -> None:
    """Both default encoders refuse NaN and infinity (not JSON) with the same message."""
    with pytest.raises(ValueError) as info:
        dumps(value)
    assert str(info.value) == (
        "cannot send NaN or infinity (in the variables?): JSON has no such numbers; "
        "nothing was sent"
    )


def test_stdlib_dumps_chains_json_error() -> None:
    """The stdlib encoder's refusal is chained to json's own error."""
    with pytest.raises(ValueError) as info:
        options_module._stdlib_dumps(math.nan)
    assert type(info.value.__cause__) is ValueError


@ENCODERS
def test_default_dumps_report_circular_reference_as_such(dumps: Any) -> None:
    """A circular structure is not misreported as NaN: the encoder's own error goes through."""
    looped: dict[str, Any] = {}
    looped["self"] = looped
    with pytest.raises((ValueError, TypeError)) as info:
        dumps(looped)
    assert "NaN" not in str(info.value)


PAYLOADS = [
    {"id": "1", "type": "next", "payload": {"data": {"hello": "Hello world"}}},
    {"type": "next", "id": "2", "payload": {"data": {"echo": 'é ü 😀 \u0000 " \\'}}},
    {
        "id": "3",
        "type": "next",
        "payload": {
            "data": None,
            "errors": [{"message": "x", "locations": [{"line": 1, "column": 3}], "path": ["a", 0]}],
        },
    },
    {
        "id": "4",
        "type": "next",
        "payload": {"data": {"n": [0, -1, 2**53, 2**63 - 1, -(2**63), 1.5, -0.0, 1e300, 5e-324]}},
    },
    {"type": "connection_ack", "payload": {"nested": {"deep": [[[{}]]], "t": True, "f": False}}},
    {"type": "ka"},
]


@pytest.mark.parametrize("message", PAYLOADS)
def test_default_codec_matches_stdlib(message: Any) -> None:
    """Whatever the default codec is, it decodes and encodes as the standard library does."""
    text = json.dumps(message)
    for data in (text, text.encode(), bytearray(text.encode())):
        decoded = DEFAULT_JSON_LOADS(data)
        assert decoded == json.loads(text)
        assert [type(v) for v in _leaves(decoded)] == [type(v) for v in _leaves(json.loads(text))]
    assert json.loads(DEFAULT_JSON_DUMPS(message)) == message


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def test_options_are_frozen() -> None:
    """ClientOptions cannot be changed after build()."""
    options = build()
    with pytest.raises(AttributeError):
        options.url = "ws://other"  # type: ignore[misc]  # the point: it is frozen


@pytest.mark.parametrize(
    ("url", "secure"),
    [(URL, False), (WSS, True), ("ws://[::1]:9000/", False), ("wss://h", True)],
)
def test_valid_urls(url: str, secure: bool) -> None:
    """ws:// and wss:// URLs with a host are accepted; is_secure follows the scheme."""
    options = build(url)
    assert options.url == url
    assert options.is_secure is secure


# -- url -------------------------------------------------------------------------------------


def test_url_not_str() -> None:
    """A url that is not a str is a TypeError."""
    with pytest.raises(TypeError, match=r"^url must be a str, not bytes$"):
        build(b"ws://localhost/")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    ["http://localhost/graphql", "https://h/", "localhost:8000", "", "ws://", "ws:///graphql"],
)
def test_url_bad_scheme_or_host(url: str) -> None:
    """A url without ws/wss scheme or without a host is a ValueError."""
    with pytest.raises(ValueError, match=r"^url must be a ws:// or wss:// URL with a host"):
        build(url)


def test_url_error_is_redacted() -> None:
    """The url error message hides the password and query values."""
    with pytest.raises(ValueError) as info:
        build("https://alice:hunter2@example.com/graphql?token=s3cret")
    assert "hunter2" not in str(info.value)
    assert "s3cret" not in str(info.value)
    assert "https://[secure]@example.com/graphql?token=[secure]" in str(info.value)


# -- headers ---------------------------------------------------------------------------------


def test_headers_copied() -> None:
    """Headers are copied into a new dict."""
    given = {"Authorization": "Bearer t", "X-Trace": "1"}
    options = build(headers=given)
    assert options.headers == given
    assert options.headers is not given


@pytest.mark.parametrize(
    "headers",
    [{"X-Count": 1}, {"X-Bytes": b"v"}, {b"X-Name": "v"}, {1: "v"}, {"X-None": None}],
    ids=["int-value", "bytes-value", "bytes-name", "int-name", "none-value"],
)
def test_header_types(headers: dict[Any, Any]) -> None:
    """Header names and values must be str."""
    with pytest.raises(TypeError, match="names and values must be str"):
        build(headers=headers)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("X-Token", "a\r\nInjected: 1"),
        ("X-Token", "a\nb"),
        ("X-Token", "a\rb"),
        ("X-Bad\r\nName", "v"),
        ("X-Bad\nName", "v"),
    ],
    ids=["crlf-value", "lf-value", "cr-value", "crlf-name", "lf-name"],
)
def test_header_line_breaks(name: str, value: str) -> None:
    """A line break in a header name or value is a ValueError that does not show the value."""
    with pytest.raises(ValueError) as info:
        build(headers={name: value})
    assert str(info.value) == f"header {name!r} contains a line break"


@pytest.mark.parametrize(
    "name", ["Sec-WebSocket-Protocol", "sec-websocket-protocol", "SEC-WEBSOCKET-PROTOCOL"]
)
def test_header_subprotocol_refused(name: str) -> None:
    """Sec-WebSocket-Protocol in headers is refused in any case: use subprotocols=."""
    with pytest.raises(ValueError, match="subprotocols="):
        build(headers={name: "graphql-ws"})


def test_header_error_hides_value() -> None:
    """A header type error names the header, never its value."""
    with pytest.raises(TypeError) as info:
        build(headers={"Authorization": b"Bearer topsecret"})
    assert "Authorization" in str(info.value)
    assert "topsecret" not in str(info.value)


# -- ssl -------------------------------------------------------------------------------------


def test_ssl_true_needs_wss() -> None:
    """ssl=True with a ws:// URL is a ValueError."""
    with pytest.raises(ValueError, match=r"^ssl=True needs a wss:// URL$"):
        build(URL, ssl=True)


def test_ssl_context_needs_wss() -> None:
    """An SSLContext with a ws:// URL is a ValueError."""
    with pytest.raises(ValueError, match=r"^an ssl.SSLContext needs a wss:// URL$"):
        build(URL, ssl=ssl.create_default_context())


@pytest.mark.parametrize("value", [True, False], ids=["true", "false"])
def test_ssl_bool_with_wss(value: bool) -> None:
    """ssl=True or False with wss:// is accepted as given."""
    assert build(WSS, ssl=value).ssl is value


def test_ssl_context_with_wss() -> None:
    """An SSLContext with wss:// is kept as given."""
    context = ssl.create_default_context()
    assert build(WSS, ssl=context).ssl is context


@pytest.mark.parametrize("value", ["yes", 1, None], ids=["str", "int", "none"])
def test_ssl_wrong_type(value: Any) -> None:
    """ssl that is neither bool nor SSLContext is a TypeError."""
    with pytest.raises(TypeError, match=r"^ssl must be a bool or an ssl.SSLContext"):
        build(WSS, ssl=value)


# -- init_payload ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [[("a", 1)], "token", 1], ids=["list", "str", "int"])
def test_init_payload_must_be_dict(value: Any) -> None:
    """init_payload that is not a dict, a callable or None is a TypeError that does not show
    it."""
    with pytest.raises(TypeError) as info:
        build(init_payload=value)
    assert str(info.value) == (
        "init_payload must be a dict, a callable returning one, or None, not "
        f"{type(value).__name__}"
    )
    assert "token" not in str(info.value)


# -- subprotocols ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "offer",
    [
        ["graphql-ws"],
        ["graphql-transport-ws"],
        ["graphql-ws", "graphql-transport-ws"],
        ("graphql-transport-ws", "graphql-ws"),
    ],
)
def test_subprotocols_given(offer: list[str]) -> None:
    """An explicit offer is kept in order, as a tuple, and marked not default."""
    options = build(subprotocols=offer)
    assert options.subprotocols == tuple(offer)
    assert options.default_subprotocols is False


def test_subprotocols_str_refused() -> None:
    """A single str for subprotocols is a TypeError (it would be split into characters)."""
    with pytest.raises(TypeError, match=r"^subprotocols must be a list of str, not a str$"):
        build(subprotocols="graphql-ws")


def test_subprotocols_empty() -> None:
    """An empty subprotocols list is a ValueError."""
    with pytest.raises(ValueError, match=r"^subprotocols must name at least one subprotocol$"):
        build(subprotocols=[])


@pytest.mark.parametrize("token", ["graphql-sse", "GRAPHQL-WS", "", "graphql_ws"])
def test_subprotocols_unknown(token: str) -> None:
    """An unknown token is a ValueError naming it and the known ones."""
    with pytest.raises(ValueError) as info:
        build(subprotocols=["graphql-ws", token])
    assert str(info.value) == (
        f"unknown subprotocol {token!r}; choose from ['graphql-transport-ws', 'graphql-ws']"
    )


def test_subprotocols_duplicate() -> None:
    """A token listed twice is a ValueError."""
    with pytest.raises(ValueError, match="lists one twice"):
        build(subprotocols=["graphql-ws", "graphql-transport-ws", "graphql-ws"])


# -- durations -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DURATIONS)
@pytest.mark.parametrize(
    ("value", "stored"), [(1, 1.0), (0.25, 0.25), (3600, 3600.0)], ids=["int", "float", "hour"]
)
def test_duration_valid(name: str, value: float, stored: float) -> None:
    """Positive numbers are accepted and stored as float."""
    got = getattr(build(**{name: value}), name)
    assert got == stored
    assert type(got) is float


@pytest.mark.parametrize("name", DURATIONS)
def test_duration_none(name: str) -> None:
    """None means no limit for every duration."""
    assert getattr(build(**{name: None}), name) is None


@pytest.mark.parametrize("name", DURATIONS)
@pytest.mark.parametrize(
    "value", [0, 0.0, -1, -0.5, math.nan], ids=["zero", "zero-float", "neg", "neg-float", "nan"]
)
def test_duration_impossible_value(name: str, value: float) -> None:
    """Zero, negative and NaN durations are a ValueError naming the option and value."""
    with pytest.raises(ValueError) as info:
        build(**{name: value})
    assert str(info.value) == f"{name} must be a positive number of seconds, not {value!r}"


@pytest.mark.parametrize("name", DURATIONS)
@pytest.mark.parametrize("value", [True, False], ids=["true", "false"])
def test_duration_bool(name: str, value: bool) -> None:
    """A bool duration is a ValueError naming the option and value (STYLE.md §4)."""
    with pytest.raises(ValueError) as info:
        build(**{name: value})
    assert name in str(info.value)
    assert repr(value) in str(info.value)


@pytest.mark.parametrize("name", DURATIONS)
@pytest.mark.parametrize("value", ["10", [1], object()], ids=["str", "list", "object"])
def test_duration_not_a_number(name: str, value: Any) -> None:
    """A duration that is not a number is a TypeError naming the option."""
    with pytest.raises(TypeError) as info:
        build(**{name: value})
    assert str(info.value) == f"{name} must be a number of seconds or None, not {value!r}"


@pytest.mark.parametrize("name", DURATIONS)
def test_duration_infinite(name: str) -> None:
    """An infinite duration is a ValueError naming the option (Event.wait(inf) overflows)."""
    with pytest.raises(ValueError, match=name):
        build(**{name: math.inf})


# -- pong_timeout ----------------------------------------------------------------------------


def test_pong_timeout_defaults_to_half_ping_interval() -> None:
    """Without pong_timeout, the effective pong timeout is half of ping_interval."""
    options = build(ping_interval=10)
    assert options.pong_timeout is None
    assert options.effective_pong_timeout == 5.0


def test_pong_timeout_explicit() -> None:
    """An explicit pong_timeout wins over half of ping_interval."""
    assert build(ping_interval=10, pong_timeout=1.5).effective_pong_timeout == 1.5


def test_pong_timeout_without_ping_interval() -> None:
    """pong_timeout alone is kept; with neither it is None."""
    assert build(pong_timeout=2).effective_pong_timeout == 2.0
    assert build().effective_pong_timeout is None


# -- connect_args ----------------------------------------------------------------------------


def test_connect_args_allowed() -> None:
    """Allowed websocket-client options pass through unchanged."""
    args = {"origin": "https://example.com", "http_proxy_host": "proxy", "redirect_limit": 0}
    options = build(connect_args=args)
    assert options.connect_args == args


@pytest.mark.parametrize("name", sorted(CONNECT_ARGS_ALLOWED))
def test_connect_args_each_allowed_key(name: str) -> None:
    """Every key of CONNECT_ARGS_ALLOWED is accepted."""
    assert dict(build(connect_args={name: None}).connect_args) == {name: None}


@pytest.mark.parametrize(
    "name",
    [
        "timeout",
        "subprotocols",
        "header",
        "enable_multithread",
        "skip_utf8_validation",
        "fire_cont_frame",
        "class_",
        "bogus",
    ],
)
def test_connect_args_unknown_or_reserved(name: str) -> None:
    """Unknown and reserved connect_args keys are a ValueError listing them."""
    with pytest.raises(ValueError) as info:
        build(connect_args={name: 1, "origin": "o"})
    assert str(info.value).startswith(f"unknown or reserved connect_args [{name!r}]; allowed: ")


def test_connect_args_lists_every_unknown_key() -> None:
    """The error lists all unknown keys, sorted."""
    with pytest.raises(ValueError, match=r"^unknown or reserved connect_args \['b', 'z'\]"):
        build(connect_args={"z": 1, "b": 2})


def test_connect_args_aliases() -> None:
    """ping_interval / ping_timeout in connect_args map to ws_ping_interval / ws_pong_timeout."""
    options = build(connect_args={"ping_interval": 5, "ping_timeout": 7, "origin": "o"})
    assert options.ws_ping_interval == 5.0
    assert options.ws_pong_timeout == 7.0
    assert options.connect_args == {"origin": "o"}
    assert options.ping_interval is None
    assert options.pong_timeout is None


def test_connect_args_alias_none_disables() -> None:
    """connect_args ping_interval=None turns WebSocket pings off."""
    options = build(connect_args={"ping_interval": None, "ping_timeout": None})
    assert options.ws_ping_interval is None
    assert options.ws_pong_timeout is None


@pytest.mark.parametrize("alias", ["ping_interval", "ping_timeout"])
def test_connect_args_alias_checked(alias: str) -> None:
    """An alias value is checked like the option it maps to."""
    with pytest.raises(ValueError, match="must be a positive number of seconds"):
        build(connect_args={alias: -1})


def test_connect_args_not_mutated() -> None:
    """build() does not change the caller's connect_args."""
    given = {"ping_interval": 5, "origin": "o"}
    build(connect_args=given)
    assert given == {"ping_interval": 5, "origin": "o"}


# -- other options ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", [1, "yes", None], ids=["int", "str", "none"])
def test_answer_pings_must_be_bool(value: Any) -> None:
    """answer_pings that is not a bool is a TypeError."""
    with pytest.raises(TypeError, match=r"^answer_pings must be a bool"):
        build(answer_pings=value)


@pytest.mark.parametrize("value", [1, 1024, None], ids=["one", "kib", "none"])
def test_max_message_size_valid(value: int | None) -> None:
    """max_message_size is a positive int or None."""
    assert build(max_message_size=value).max_message_size == value


@pytest.mark.parametrize(
    "value",
    [0, -1, True, 1.5, "1024", math.nan],
    ids=["zero", "neg", "bool", "float", "str", "nan"],
)
def test_max_message_size_invalid(value: Any) -> None:
    """max_message_size that is not a positive int is a ValueError naming it."""
    with pytest.raises(ValueError) as info:
        build(max_message_size=value)
    assert str(info.value) == f"max_message_size must be a positive int or None, not {value!r}"


def test_custom_json_functions() -> None:
    """json_loads / json_dumps are kept when given."""

    def loads(data: str | bytes) -> Any:
        return json.loads(data)

    def dumps(obj: Any) -> str:
        return json.dumps(obj)

    options = build(json_loads=loads, json_dumps=dumps)
    assert options.json_loads is loads
    assert options.json_dumps is dumps


# -- reconnect -------------------------------------------------------------------------------


def test_reconnect_true_is_default_policy() -> None:
    """reconnect=True gives the default Reconnect policy."""
    assert build(reconnect=True).reconnect == Reconnect()


def test_reconnect_false_is_none() -> None:
    """reconnect=False turns reconnection off (None)."""
    assert build(reconnect=False).reconnect is None


def test_reconnect_policy_kept() -> None:
    """A Reconnect instance is kept as given."""
    policy = Reconnect(max_attempts=None, initial_delay=0.1, max_delay=1, jitter=0)
    assert build(reconnect=policy).reconnect is policy


@pytest.mark.parametrize(
    "value",
    [None, 1, 0, "yes", {"max_attempts": 3}],
    ids=["none", "one", "zero", "str", "dict"],
)
def test_reconnect_invalid(value: Any) -> None:
    """Anything but True, False or a Reconnect is a TypeError naming the option."""
    with pytest.raises(TypeError) as info:
        build(reconnect=value)
    assert str(info.value) == (
        f"reconnect must be True, False or a gqlws_sync.Reconnect, not {value!r}"
    )


# -- headers and init_payload as callables ---------------------------------------------------


class Counter:
    """A credentials callable that counts its calls and returns a fresh value each time."""

    def __init__(self, make: Any) -> None:
        self.calls = 0
        self._make = make

    def __call__(self) -> Any:
        self.calls += 1
        return self._make(self.calls)


def test_static_headers_and_payload_per_connect() -> None:
    """Without callables, connect_headers() and connect_init_payload() give the options."""
    options = build(headers={"A": "1"}, init_payload={"token": "t"})
    assert options.connect_headers() == {"A": "1"}
    assert options.connect_init_payload() == {"token": "t"}
    assert build().connect_init_payload() is None


def test_headers_callable_called_per_connect() -> None:
    """A headers callable is kept, not called by build(), and asked afresh on every connect."""
    headers = Counter(lambda n: {"Authorization": f"Bearer token-{n}"})
    options = build(headers=headers)
    assert options.headers is cast(object, headers)
    assert headers.calls == 0
    assert options.connect_headers() == {"Authorization": "Bearer token-1"}
    assert options.connect_headers() == {"Authorization": "Bearer token-2"}
    assert headers.calls == 2


def test_init_payload_callable_called_per_connect() -> None:
    """An init_payload callable is kept, not called by build(), and asked on every connect."""
    payload = Counter(lambda n: {"token": f"t{n}"})
    options = build(init_payload=payload)
    assert options.init_payload is cast(object, payload)
    assert payload.calls == 0
    assert options.connect_init_payload() == {"token": "t1"}
    assert options.connect_init_payload() == {"token": "t2"}
    assert payload.calls == 2


def test_init_payload_callable_may_return_none() -> None:
    """An init_payload callable may return None (an empty connection_init payload)."""
    assert build(init_payload=lambda: None).connect_init_payload() is None


def test_headers_callable_result_is_checked_copy() -> None:
    """The mapping a headers callable returns is checked and copied into a dict."""
    given = {"X-Trace": "1"}
    headers = build(headers=lambda: given).connect_headers()
    assert headers == given
    assert headers is not given


class TokenServiceError(Exception):
    """What a token service might raise, with a secret in its message."""


@pytest.mark.parametrize("option", ["headers", "init_payload"])
def test_raising_callable(option: str) -> None:
    """A callable that raises gives TransportConnectionFailed chained to its exception, whose
    message (it may hold a secret) is not repeated."""
    original = TokenServiceError("refresh failed for secret-refresh-token")

    def credentials() -> Any:
        raise original

    options = build(**{option: credentials})
    connect = options.connect_headers if option == "headers" else options.connect_init_payload
    with pytest.raises(TransportConnectionFailed) as info:
        connect()
    assert str(info.value) == (
        f"the {option} callable failed (TokenServiceError); no connection was attempted"
    )
    assert info.value.__cause__ is original
    assert info.value.code is None
    assert "secret-refresh-token" not in str(info.value)
    assert str(original) not in str(info.value)


@pytest.mark.parametrize("option", ["headers", "init_payload"])
def test_callable_keyboard_interrupt_passes_through(option: str) -> None:
    """A KeyboardInterrupt inside a credentials callable is not turned into a failure."""

    def credentials() -> Any:
        raise KeyboardInterrupt

    options = build(**{option: credentials})
    connect = options.connect_headers if option == "headers" else options.connect_init_payload
    with pytest.raises(KeyboardInterrupt):
        connect()


@pytest.mark.parametrize(
    ("returned", "cause"),
    [
        (None, TypeError),
        ([("Authorization", "Bearer t")], TypeError),
        ("Authorization: Bearer t", TypeError),
        ({"Authorization": b"Bearer secret-bytes"}, TypeError),
        ({"X-Count": 1}, TypeError),
        ({"Authorization": "Bearer secret\r\nInjected: 1"}, ValueError),
        ({"Sec-WebSocket-Protocol": "graphql-ws"}, ValueError),
    ],
    ids=["none", "list", "str", "bytes-value", "int-value", "line-break", "subprotocol"],
)
def test_headers_callable_bad_result(returned: Any, cause: type[Exception]) -> None:
    """A headers callable returning a non-mapping or a bad header gives
    TransportConnectionFailed chained to the check's error, without the header values."""
    options = build(headers=lambda: returned)
    with pytest.raises(TransportConnectionFailed) as info:
        options.connect_headers()
    assert str(info.value) == (
        f"the headers callable failed ({cause.__name__}); no connection was attempted"
    )
    assert type(info.value.__cause__) is cause
    assert "secret" not in str(info.value)


BAD_PAYLOADS = pytest.mark.parametrize(
    "returned",
    [[("token", "t")], "secret-token", 1, ("a",)],
    ids=["list", "str", "int", "tuple"],
)


@BAD_PAYLOADS
def test_init_payload_callable_bad_result(returned: Any) -> None:
    """An init_payload callable returning neither a dict nor None gives
    TransportConnectionFailed naming the error type, not the value."""
    options = build(init_payload=lambda: returned)
    with pytest.raises(TransportConnectionFailed) as info:
        options.connect_init_payload()
    assert str(info.value) == (
        "the init_payload callable failed (TypeError); no connection was attempted"
    )
    assert "secret-token" not in str(info.value)


@BAD_PAYLOADS
def test_init_payload_callable_bad_result_is_chained(returned: Any) -> None:
    """The failure for a bad init_payload result is chained to a TypeError naming the type."""
    options = build(init_payload=lambda: returned)
    with pytest.raises(TransportConnectionFailed) as info:
        options.connect_init_payload()
    cause = info.value.__cause__
    assert type(cause) is TypeError
    assert str(cause) == f"it returned a {type(returned).__name__}, not a dict or None"


def test_headers_callable_returning_mapping() -> None:
    """Any Mapping returned by a headers callable is accepted."""

    class Headers(Mapping[str, str]):
        def __getitem__(self, key: str) -> str:
            if key != "X-A":
                raise KeyError(key)
            return "1"

        def __iter__(self) -> Any:
            return iter(["X-A"])

        def __len__(self) -> int:
            return 1

    assert build(headers=Headers).connect_headers() == {"X-A": "1"}


# -- buffering -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [1, 50, 1_000_000, None], ids=["one", "fifty", "big", "none"])
@pytest.mark.parametrize("overflow", ["error", "drop_oldest"])
def test_buffering_valid(value: int | None, overflow: str) -> None:
    """max_buffered_events is a positive int or None; overflow is "error" or "drop_oldest"."""
    options = build(max_buffered_events=value, overflow=overflow)
    assert options.max_buffered_events == value
    assert options.overflow == overflow


@pytest.mark.parametrize(
    "value",
    [0, -1, True, False, 1.5, 10.0, "10", math.nan],
    ids=["zero", "neg", "true", "false", "float", "whole-float", "str", "nan"],
)
def test_max_buffered_events_invalid(value: Any) -> None:
    """max_buffered_events that is not a positive int or None is a ValueError naming it."""
    with pytest.raises(ValueError) as info:
        build(max_buffered_events=value)
    assert str(info.value) == (f"max_buffered_events must be a positive int or None, not {value!r}")


@pytest.mark.parametrize("value", ["ERROR", "drop", "drop-oldest", "", None, True], ids=repr)
def test_overflow_invalid(value: Any) -> None:
    """overflow other than "error" or "drop_oldest" is a ValueError naming it."""
    with pytest.raises(ValueError) as info:
        build(overflow=value)
    assert str(info.value) == f"overflow must be 'error' or 'drop_oldest', not {value!r}"


# -- callbacks -------------------------------------------------------------------------------


def test_callbacks_kept() -> None:
    """on_connect and on_disconnect are kept as given."""

    def on_connect(client: Any) -> None:
        pass

    def on_disconnect(client: Any, error: BaseException) -> None:
        pass

    options = build(on_connect=on_connect, on_disconnect=on_disconnect)
    assert options.on_connect is on_connect
    assert options.on_disconnect is on_disconnect


@pytest.mark.parametrize("name", ["on_connect", "on_disconnect"])
@pytest.mark.parametrize("value", [1, "print", True], ids=["int", "str", "bool"])
def test_callbacks_must_be_callable(name: str, value: Any) -> None:
    """on_connect / on_disconnect that is not callable is a TypeError naming it."""
    with pytest.raises(TypeError) as info:
        build(**{name: value})
    assert str(info.value) == f"{name} must be callable or None, not {value!r}"


# -- Client and ClientOptions.build agree ----------------------------------------------------


def _keywords(function: Any) -> dict[str, tuple[Any, Any]]:
    """Each parameter of ``function`` but self/cls: its kind and default."""
    return {
        name: (parameter.kind, parameter.default)
        for name, parameter in inspect.signature(function).parameters.items()
        if name != "self"
    }


def test_client_signature_matches_build() -> None:
    """Client() takes exactly ClientOptions.build's parameters, with the same kinds and
    defaults, plus execute_timeout and the schema options."""
    client = _keywords(Client.__init__)
    options = _keywords(ClientOptions.build)
    assert client.pop("execute_timeout") == (
        inspect.Parameter.KEYWORD_ONLY,
        DEFAULT_EXECUTE_TIMEOUT,
    )
    assert client.pop("schema") == (inspect.Parameter.KEYWORD_ONLY, None)
    assert client.pop("fetch_schema") == (inspect.Parameter.KEYWORD_ONLY, False)
    assert client == options
    assert client["url"][0] is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert all(
        kind is inspect.Parameter.KEYWORD_ONLY
        for name, (kind, _) in client.items()
        if name != "url"
    )


def test_client_passes_every_option_through() -> None:
    """Every option given to Client() reaches its ClientOptions unchanged (no thread starts:
    a Client connects on demand)."""

    def on_connect(client: Any) -> None:
        pass

    def on_disconnect(client: Any, error: BaseException) -> None:
        pass

    def dumps(value: Any) -> str:
        return json.dumps(value)

    def loads(data: str | bytes | bytearray) -> Any:
        return json.loads(data)

    context = ssl.create_default_context()
    policy = Reconnect(max_attempts=2)
    given: dict[str, Any] = {
        "headers": {"X-A": "1"},
        "ssl": context,
        "init_payload": {"token": "t"},
        "subprotocols": ["graphql-ws"],
        "connect_timeout": 1.5,
        "close_timeout": 2.5,
        "ack_timeout": 3.5,
        "keep_alive_timeout": 4.5,
        "ping_interval": 5.5,
        "pong_timeout": 6.5,
        "answer_pings": False,
        "connect_args": {"origin": "https://example.com"},
        "ws_ping_interval": 7.5,
        "ws_pong_timeout": 8.5,
        "max_message_size": 1024,
        "json_loads": loads,
        "json_dumps": dumps,
        "reconnect": policy,
        "on_connect": on_connect,
        "on_disconnect": on_disconnect,
        "max_buffered_events": 5,
        "overflow": "drop_oldest",
    }
    assert set(given) | {"url"} == set(_keywords(ClientOptions.build))
    client = Client(WSS, execute_timeout=9.5, **given)
    assert client.options == ClientOptions.build(WSS, **given)
    assert client.execute_timeout == 9.5


# -- repr ------------------------------------------------------------------------------------


def test_repr_masks_headers_and_init_payload() -> None:
    """repr() shows header names and masks header values and init_payload contents."""
    options = build(
        headers={"Authorization": "Bearer hdr-secret", "Cookie": "sid=cookie-secret"},
        init_payload={"authToken": "payload-secret", "nested": {"password": "deep-secret"}},
    )
    text = repr(options)
    for secret in ("hdr-secret", "cookie-secret", "payload-secret", "deep-secret", "authToken"):
        assert secret not in text
    assert "'Authorization': '[secure]'" in text
    assert "'Cookie': '[secure]'" in text
    assert "init_payload=[secure]" in text


def test_repr_without_init_payload() -> None:
    """repr() shows init_payload=None when there is none."""
    assert "init_payload=None" in repr(build())


def test_repr_redacts_url() -> None:
    """repr() does not show the URL's password or query values."""
    options = build("wss://alice:url-secret@example.com/graphql?token=query-secret")
    text = repr(options)
    assert "url-secret" not in text
    assert "query-secret" not in text


def test_repr_masks_callables() -> None:
    """repr() shows neither a headers nor an init_payload callable (a partial's repr would
    show its arguments)."""
    options = build(
        headers=functools.partial(dict, Authorization="Bearer partial-hdr-secret"),
        init_payload=functools.partial(dict, token="partial-payload-secret"),
    )
    text = repr(options)
    assert "partial-hdr-secret" not in text
    assert "partial-payload-secret" not in text
    assert "functools" not in text
    assert "headers='<callable>'" in text
    assert "init_payload=[secure]" in text


# -- redact_url ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("ws://localhost:8000/graphql", "ws://localhost:8000/graphql"),
        ("wss://alice:pw@example.com/g", "wss://[secure]@example.com/g"),
        ("wss://tok3n@example.com/g", "wss://[secure]@example.com/g"),
        ("wss://alice:p@ss:w@example.com:443/g", "wss://[secure]@example.com:443/g"),
        ("ws://h/g?token=abc", "ws://h/g?token=[secure]"),
        ("ws://h/g?token=abc&user=bob&flag", "ws://h/g?token=[secure]&user=[secure]&[secure]"),
        ("ws://h/g?a=b=c", "ws://h/g?a=[secure]"),
        ("ws://h/g?token=", "ws://h/g?token=[secure]"),
        ("ws://u:p@h/g?k=v#frag", "ws://[secure]@h/g?k=[secure]"),
        ("ws://h/g#access_token=x", "ws://h/g"),
    ],
)
def test_redact_url(url: str, redacted: str) -> None:
    """redact_url masks passwords and query values and drops the fragment."""
    assert redact_url(url) == redacted


def test_redact_url_unparsable() -> None:
    """A URL urlsplit cannot parse is replaced by a placeholder."""
    assert redact_url("ws://[::1/graphql?token=secret") == "<unparsable url>"


@pytest.mark.parametrize(
    "text",
    [
        *(json.dumps(message) for message in PAYLOADS),
        ' {"type": "ka"} ',
        '{"type": "ka"}\n',
        '{"type": "ka"} x',
        '{"type": "ka"}{"type": "ka"}',
        "",
        "nul",
        "NaN",
        "[1, 2",
        '"\\ud800"',
        "1e400",
        '{"a": 1, "a": 2}',
    ],
)
def test_stdlib_fast_path_matches_json_loads(text: str) -> None:
    """With json.loads as the codec the protocol calls its C scanner directly; every text,
    JSON or not, gives what json.loads gives: the same value or the same error."""
    expected: Any
    try:
        expected = ("value", json.loads(text))
    except ValueError as exc:
        expected = ("error", type(exc), str(exc))
    got: Any
    try:
        got = ("value", _stdlib_loads(text))
    except ValueError as exc:
        got = ("error", type(exc), str(exc))
    if expected[0] == "value" and expected[1] != expected[1]:  # NaN
        assert got[0] == "value"
        assert got[1] != got[1]
    else:
        assert got == expected
