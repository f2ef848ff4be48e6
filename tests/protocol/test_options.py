"""ClientOptions.build: every check, the defaults, the masked repr and redact_url."""

from __future__ import annotations

import json
import math
import ssl
from typing import Any

import pytest

from gqlws_sync.options import (
    CONNECT_ARGS_ALLOWED,
    DEFAULT_ACK_TIMEOUT,
    DEFAULT_CLOSE_TIMEOUT,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_MESSAGE_SIZE,
    DEFAULT_SUBPROTOCOLS,
    DEFAULT_WS_PING_INTERVAL,
    DEFAULT_WS_PONG_TIMEOUT,
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
    assert options.json_loads is json.loads
    assert options.json_dumps is json.dumps


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
    """init_payload that is not a dict or None is a TypeError that does not show it."""
    with pytest.raises(TypeError, match=r"^init_payload must be a dict or None") as info:
        build(init_payload=value)
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
