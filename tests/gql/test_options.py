"""The transport takes gql's WebsocketsTransport arguments: names, defaults, connect_args
keys written for the websockets library, and the import without gql."""

from __future__ import annotations

import inspect
import subprocess
import sys
from typing import Any

import pytest
from gql.transport.websockets import WebsocketsTransport as GqlWebsocketsTransport

from gqlws_sync.gql import WebsocketsTransport

URL = "ws://127.0.0.1:9/graphql"


def _parameters(cls: type) -> dict[str, Any]:
    return {
        name: parameter.default for name, parameter in inspect.signature(cls).parameters.items()
    }


def test_every_gql_argument_with_its_default() -> None:
    """Each argument of gql 4's WebsocketsTransport exists here with the same default."""
    ours = _parameters(WebsocketsTransport)
    for name, default in _parameters(GqlWebsocketsTransport).items():
        assert name in ours, name
        assert ours[name] == default, name
    assert set(ours) - set(_parameters(GqlWebsocketsTransport)) == {
        "execute_timeout",
        "linger_timeout",
    }


def test_subprotocol_names_as_in_gql() -> None:
    assert WebsocketsTransport.APOLLO_SUBPROTOCOL == GqlWebsocketsTransport.APOLLO_SUBPROTOCOL
    assert WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL == GqlWebsocketsTransport.GRAPHQLWS_SUBPROTOCOL


def test_gql_arguments_reach_the_options() -> None:
    transport = WebsocketsTransport(
        url=URL,
        headers=[("X-A", "1"), ("x-a", "2"), ("X-B", "3")],
        init_payload={"token": "s3cret"},
        connect_timeout=3,
        close_timeout=4,
        ack_timeout=5,
        keep_alive_timeout=6,
        ping_interval=8,
        answer_pings=False,
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    options = transport.options
    assert transport.headers == {"X-A": "1, 2", "X-B": "3"}
    assert options.init_payload == {"token": "s3cret"}
    assert (options.connect_timeout, options.close_timeout, options.ack_timeout) == (3, 4, 5)
    assert options.keep_alive_timeout == 6
    assert options.effective_pong_timeout == 4  # gql's rule: half of ping_interval
    assert options.answer_pings is False
    assert options.subprotocols == ("graphql-transport-ws",)
    assert "s3cret" not in repr(transport)
    assert "s3cret" not in repr(transport.options)


@pytest.mark.parametrize(
    ("connect_args", "expected"),
    [
        ({"max_size": 2048}, {"max_message_size": 2048}),
        ({"max_size": None}, {"max_message_size": None}),
        ({"ping_interval": None}, {"ws_ping_interval": None}),
        ({"ping_interval": 5, "ping_timeout": 2}, {"ws_ping_interval": 5, "ws_pong_timeout": 2}),
        ({"open_timeout": 2}, {"connect_timeout": 2}),
        ({"open_timeout": 30}, {"connect_timeout": 10}),  # gql's own 10 s still applies
        ({"close_timeout": 1}, {"close_timeout": 1}),
        ({"compression": None}, {}),
        ({"origin": "https://example.com"}, {"connect_args": {"origin": "https://example.com"}}),
        (
            {"sslopt": {"server_hostname": "h"}},
            {"connect_args": {"sslopt": {"server_hostname": "h"}}},
        ),
    ],
)
def test_connect_args_that_map(connect_args: dict[str, Any], expected: dict[str, Any]) -> None:
    """websockets' keys with a meaning here become options; websocket-client's pass on."""
    options = WebsocketsTransport(url=URL, connect_args=connect_args).options
    for name, value in expected.items():
        got = getattr(options, name)
        assert (dict(got) if name == "connect_args" else got) == value, name


@pytest.mark.parametrize(
    ("key", "value", "advice"),
    [
        ("compression", "deflate", "permessage-deflate"),
        ("additional_headers", {"a": "b"}, "use headers="),
        ("extra_headers", {"a": "b"}, "use headers="),
        ("user_agent_header", "x", "User-Agent"),
        ("subprotocols", ["graphql-ws"], "use subprotocols="),
        ("ssl", True, "use ssl="),
        ("proxy", "http://proxy:3128", "http_proxy_host"),
        ("sock", None, "'socket'"),
        ("host", "example.com", "url="),
        ("max_queue", 16, "no equivalent"),
        ("write_limit", 2**16, "no equivalent"),
        ("logger", None, "'gqlws_sync' logger"),
        ("extensions", [], "no WebSocket extension"),
        ("max_size", (2**20, 2**16), "one int"),
    ],
)
def test_connect_args_refused(key: str, value: Any, advice: str) -> None:
    """A websockets key that cannot be honoured is a ValueError naming it and the way."""
    with pytest.raises(ValueError, match=rf"connect_args\['{key}'\]") as info:
        WebsocketsTransport(url=URL, connect_args={key: value})
    assert advice in str(info.value)


def test_unknown_connect_args_key() -> None:
    with pytest.raises(ValueError, match="no_such_key"):
        WebsocketsTransport(url=URL, connect_args={"no_such_key": 1})


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"url": "http://x/graphql"}, ValueError),
        ({"url": URL, "linger_timeout": -1}, ValueError),
        ({"url": URL, "linger_timeout": True}, ValueError),
        ({"url": URL, "execute_timeout": float("nan")}, ValueError),
        ({"url": URL, "subprotocols": ["graphql-sse"]}, ValueError),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        WebsocketsTransport(**kwargs)


def test_linger_zero_and_none_are_accepted() -> None:
    WebsocketsTransport(url=URL, linger_timeout=0)
    WebsocketsTransport(url=URL, linger_timeout=None)


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_import_gqlws_sync_does_not_import_gql() -> None:
    result = _python("import sys, gqlws_sync; print('gql' in sys.modules)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_import_without_gql_says_how_to_install() -> None:
    """sys.modules['gql'] = None makes 'import gql' fail as if gql were not installed."""
    result = _python(
        "import sys; sys.modules['gql'] = None\n"
        "import gqlws_sync\n"
        "try:\n"
        "    import gqlws_sync.gql\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'gqlws_sync[gql]'" in result.stdout
