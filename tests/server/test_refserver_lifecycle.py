"""Starting, stopping and observing the reference server; TLS; the pytest plugin."""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import trustme
from graphql import build_schema

from gqlws_sync.testing import Faults, ReferenceServer, ServerFactory, demo_schema

from ._refserver_raw import APOLLO, BOTH, GTW, ClientPool


def test_start_binds_a_free_port_and_names_its_thread() -> None:
    """port=0 picks a port; the daemon thread is named gqlws_sync-server-<n>."""
    with ReferenceServer() as server:
        assert server.port > 0
        assert server.url == f"ws://127.0.0.1:{server.port}/graphql"
        threads = [t for t in threading.enumerate() if t.name.startswith("gqlws_sync-server-")]
        assert len(threads) == 1
        assert threads[0].daemon
        assert server.is_running
    assert not server.is_running
    assert not threads[0].is_alive()


def test_stop_is_idempotent_and_start_only_once() -> None:
    """A second stop() does nothing; a second start() is refused."""
    server = ReferenceServer().start()
    server.stop()
    server.stop()
    with pytest.raises(RuntimeError, match="only be started once"):
        server.start()


def test_stop_before_start_does_nothing() -> None:
    """stop() on a server that never started is harmless."""
    ReferenceServer().stop()


def test_port_in_use_fails_start_with_the_cause() -> None:
    """A bind error surfaces from start(), chained, and no thread is left behind."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = ReferenceServer(port=taken.getsockname()[1])
        with pytest.raises(RuntimeError, match="failed to start") as info:
            server.start()
        assert isinstance(info.value.__cause__, OSError)


def test_stop_closes_live_connections_with_1001(clients: ClientPool) -> None:
    """Clients see a going-away close, and stop() returns quickly when they answer."""
    server = ReferenceServer().start()
    try:
        client = clients.connect(server.url, GTW)
        closer = threading.Thread(target=server.stop, name="test-stopper")
        closer.start()
        assert client.recv_close() == (1001, "")
        closer.join(5)
        assert not closer.is_alive()
    finally:
        server.stop()


def test_controls_refuse_a_stopped_server() -> None:
    """Control calls on a server that is not running raise instead of hanging."""
    server = ReferenceServer()
    with pytest.raises(RuntimeError, match="not running"):
        server.drop_connections()
    server.start()
    server.stop()
    with pytest.raises(RuntimeError, match="not running"):
        server.send_raw("x")


def test_wait_for_message_counts_and_times_out(
    gqlws_server: ReferenceServer, clients: ClientPool
) -> None:
    """Past messages count; ``count`` waits for later ones; a miss is a builtin TimeoutError."""
    clients.connect(gqlws_server.url, GTW)
    clients.connect(gqlws_server.url, APOLLO)
    assert gqlws_server.wait_for_message("connection_init", count=2) == {"type": "connection_init"}
    with pytest.raises(TimeoutError, match="'connection_init' message"):
        gqlws_server.wait_for_message("connection_init", timeout=0.05, count=3)
    assert [m["type"] for m in gqlws_server.received] == ["connection_init"] * 2
    gqlws_server.received.clear()
    assert gqlws_server.received == []


def test_custom_schema_and_context(
    gqlws_server_factory: ServerFactory, clients: ClientPool
) -> None:
    """Any schema is served; resolvers get headers, init payload and subprotocol."""
    schema = build_schema("type Query { context: String }")
    query_type = schema.query_type
    assert query_type is not None

    def context(_root: object, info: object) -> str:
        ctx = info.context  # type: ignore[attr-defined]  # the resolver info of graphql-core
        return f"{ctx['headers']['x-id']}/{ctx['init_payload']['k']}/{ctx['subprotocol']}"

    query_type.fields["context"].resolve = context
    server = gqlws_server_factory(schema)
    for protocol in BOTH:
        client = clients.raw(server.url, [protocol], header=["X-Id: 7"])
        client.init({"k": "v"})
        client.start(protocol, "1", "{ context }")
        assert client.results(protocol, "1") == [{"context": f"7/v/{protocol}"}]


def test_demo_schemas_do_not_share_state(clients: ClientPool) -> None:
    """Each demo_schema() has its own counter."""
    with ReferenceServer(demo_schema()) as first, ReferenceServer(demo_schema()) as second:
        for server in (first, second, first):
            client = clients.connect(server.url, GTW)
            client.start(GTW, "1", "mutation { increment }")
            client.results(GTW, "1")
            client.shutdown()
        client = clients.connect(first.url, GTW)
        client.start(GTW, "1", "mutation { increment(by: 0) }")
        assert client.results(GTW, "1") == [{"increment": 2}]
        client.shutdown()


# TLS


@pytest.fixture(scope="module")
def tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a trustme certificate for 127.0.0.1, and a client trusting it."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_context)
    client_context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(client_context)
    return server_context, client_context


@pytest.mark.parametrize("protocol", BOTH)
def test_tls(
    gqlws_server_factory: ServerFactory,
    clients: ClientPool,
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
    protocol: str,
) -> None:
    """wss:// works in both subprotocols, burst and drop included."""
    server_context, client_context = tls
    server = gqlws_server_factory(ssl_context=server_context)
    assert server.url.startswith("wss://127.0.0.1:")
    client = clients.connect(server.url, protocol, ssl_context=client_context)
    client.start(protocol, "b", "subscription { burst(count: 500, size: 1000) }")
    assert client.results(protocol, "b") == [{"burst": "x" * 1000}] * 500
    server.drop_connections()
    with pytest.raises(Exception):  # over TLS the drop may surface as SSL or socket errors
        client.frame()


def test_tls_hang_stops_websocket_pongs(
    gqlws_server_factory: ServerFactory,
    clients: ClientPool,
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    """Pausing reading works on the TLS transport too."""
    server_context, client_context = tls
    server = gqlws_server_factory(ssl_context=server_context, faults=Faults(hang=False))
    client = clients.connect(server.url, GTW, ssl_context=client_context)
    server.faults.hang = True
    client.ws.ping(b"p")
    client.expect_silence()
    server.faults.hang = False
    assert client.frame() == (10, b"p")


# The pytest plugin


def test_plugin_fixtures_give_running_servers(
    gqlws_server: ReferenceServer, gqlws_server_factory: ServerFactory
) -> None:
    """gqlws_server runs the demo schema; the factory passes faults and options through."""
    assert gqlws_server.is_running
    faults = Faults(protocols=(APOLLO,))
    other = gqlws_server_factory(faults=faults, path="/other")
    assert other.faults is faults
    assert other.url.endswith("/other")
    assert other.port != gqlws_server.port


def test_plugin_import_does_not_need_websockets() -> None:
    """Loading the plugin, as pytest does for every user, leaves websockets unimported."""
    code = (
        "import sys, gqlws_sync.testing, gqlws_sync.testing.pytest_plugin;"
        "assert 'websockets' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


def test_plugin_is_auto_loaded_and_stops_servers(tmp_path: Path) -> None:
    """In a fresh pytest run, the fixtures exist and every server is stopped at teardown."""
    (tmp_path / "test_uses_plugin.py").write_text(
        textwrap.dedent(
            """
            import threading

            started = []

            def test_first(gqlws_server, gqlws_server_factory):
                started.extend([gqlws_server, gqlws_server_factory(), gqlws_server_factory()])
                assert all(server.is_running for server in started)

            def test_second():
                assert len(started) == 3
                assert not any(server.is_running for server in started)
                names = [t.name for t in threading.enumerate()]
                assert not [n for n in names if n.startswith("gqlws_sync-server-")], names
            """
        )
    )
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        check=False,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    assert time.monotonic() - started < 30
