"""examples/token_refresh.py: a new token from the init_payload callable on every connect."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

from gqlws_sync.testing import ReferenceServer

from .support import EXAMPLES, READ_TIMEOUT, AppProcess, example_env

TOKEN = r"token-\d+-[0-9a-f]{8}"


def close_4403(server: ReferenceServer) -> None:
    """What a server does when the token expires: no background reconnect follows."""
    server.close_connections(4403, "token expired")


def close_1012(server: ReferenceServer) -> None:
    """A server restart: the client reconnects in the background."""
    server.close_connections(1012, "service restart")


def drop(server: ReferenceServer) -> None:
    """A lost TCP connection, without a Close frame."""
    server.drop_connections()


@pytest.mark.parametrize("end_connection", [close_4403, close_1012, drop])
def test_new_token_after_the_connection_ends(
    gqlws_server: ReferenceServer, end_connection: Callable[[ReferenceServer], None]
) -> None:
    """However the first connection ends, the next one carries a different token."""
    app = AppProcess(
        [sys.executable, str(EXAMPLES / "token_refresh.py"), "2"],
        env=example_env(gqlws_server.url),
    )
    with app:
        first = app.wait_for_line(rf"^the server saw ({TOKEN})$").group(1)
        end_connection(gqlws_server)
        second = app.wait_for_line(rf"^the server saw ({TOKEN})$", count=2).group(1)
        assert app.process.wait(READ_TIMEOUT) == 0, app.output
    assert first != second
    sent = [
        message["payload"]["authToken"]
        for message in gqlws_server.received
        if message["type"] == "connection_init"
    ]
    assert sent == [first, second]
    lines = app.output.splitlines()
    assert lines.count("connected") == 2
    assert sum(line.startswith("connection lost: ") for line in lines) == 1
    assert sum(line.startswith("connecting with token-") for line in lines) == 2


def test_unreachable_server_fails_cleanly() -> None:
    """Without a server the example says so in one line and exits 1."""
    app = AppProcess(
        [sys.executable, str(EXAMPLES / "token_refresh.py"), "2"],
        env=example_env("ws://127.0.0.1:9/graphql"),
    )
    with app:
        assert app.process.wait(READ_TIMEOUT) == 1
    assert "error: TransportConnectionFailed: " in app.output
    assert "Traceback" not in app.output
