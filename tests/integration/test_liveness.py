"""Dead-peer detection against a real server process stopped with SIGSTOP: its kernel keeps
the TCP connection open, so only pings or keep-alive deadlines can tell."""

from __future__ import annotations

import time

import pytest

from gqlws_sync import (
    APOLLO_SUBPROTOCOL,
    Client,
    KeepAliveTimeout,
    TransportClosed,
)

from ..conftest import MS
from .conftest import UvicornServer

INTERVAL = 200 * MS


def test_pings_answered_keep_connection_alive(strawberry_server: UvicornServer) -> None:
    """With ping_interval set, a live server's pongs keep the connection up across pings."""
    with Client(strawberry_server.url, ping_interval=INTERVAL / 4, reconnect=False) as client:
        ticks = client.subscribe("subscription { ticks(interval: 0.02) }", timeout=5)
        deadline = time.monotonic() + INTERVAL * 2
        count = 0
        for _ in ticks:
            count += 1
            if time.monotonic() > deadline:
                break
        assert count > 5
        assert client.execute("{ hello }") == {"hello": "Hello world"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"ping_interval": INTERVAL, "pong_timeout": INTERVAL}, "no pong within"),
        (
            {"ws_ping_interval": INTERVAL, "ws_pong_timeout": INTERVAL},
            "no pong to a WebSocket ping",
        ),
    ],
    ids=["graphql-transport-ws-ping", "websocket-ping"],
)
def test_stopped_server_detected(
    own_strawberry_server: UvicornServer, options: dict[str, float], message: str
) -> None:
    """A SIGSTOPped server misses its pong; the waiting iterator wakes with KeepAliveTimeout."""
    with Client(own_strawberry_server.url, reconnect=False, **options) as client:  # type: ignore[arg-type]
        ticks = client.subscribe("subscription { ticks(interval: 0.01) }")
        assert next(ticks) == {"ticks": 0}
        own_strawberry_server.pause()
        stopped_at = time.monotonic()
        try:
            with pytest.raises(KeepAliveTimeout, match=message) as info:
                for _ in ticks:
                    pass
            elapsed = time.monotonic() - stopped_at
        finally:
            own_strawberry_server.resume()
        # One interval until the ping, one for the pong, plus scheduling slack.
        assert elapsed < 4 * INTERVAL + 0.5
        assert isinstance(info.value, TransportClosed)
        assert isinstance(info.value, TimeoutError)


def test_apollo_stopped_server_detected_by_websocket_ping(
    own_strawberry_server: UvicornServer,
) -> None:
    """Apollo's protocol has no client ping: WebSocket-level pings still catch a dead peer."""
    with Client(
        own_strawberry_server.url,
        subprotocols=[APOLLO_SUBPROTOCOL],
        ws_ping_interval=INTERVAL,
        ws_pong_timeout=INTERVAL,
        reconnect=False,
    ) as client:
        ticks = client.subscribe("subscription { ticks(interval: 0.01) }")
        assert next(ticks) == {"ticks": 0}
        own_strawberry_server.pause()
        try:
            with pytest.raises(KeepAliveTimeout):
                for _ in ticks:
                    pass
        finally:
            own_strawberry_server.resume()
