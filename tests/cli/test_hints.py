"""The hints on the error line: advice in the command's own terms, given only when it holds."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from gqlws_sync.testing import APOLLO, GTW, Faults, ServerFactory
from tests.integration.conftest import NodeServer, requires_node

from .conftest import RunCli

USE_APOLLO = "use --subprotocol graphql-ws, or leave out --subprotocol to offer both"
USE_GTW = "use --subprotocol graphql-transport-ws, or leave out --subprotocol to offer both"


def assert_cli_terms(stderr: str) -> None:
    """The line is one line of advice for a shell, with nothing meant for Python callers."""
    assert stderr.count("\n") == 1
    assert "subprotocols=" not in stderr
    assert "Client." not in stderr


# -- subprotocols -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("faults", "offered", "expected"),
    [
        # subscriptions-transport-ws takes any first token, then closes 1002.
        (
            Faults(protocols=(APOLLO,), subprotocol_choice="first-offered"),
            GTW,
            f"code 1002 (protocol error: subprotocol not acceptable; offered: {GTW}; "
            f"selected: '{GTW}'); it probably speaks {APOLLO}: {USE_APOLLO}\n",
        ),
        # A server of the other protocol that takes any first token closes 4406.
        (
            Faults(protocols=(GTW,), subprotocol_choice="first-offered"),
            APOLLO,
            f"; it probably speaks {GTW}: {USE_GTW}\n",
        ),
        # graphql-ws on Node accepts an offer of graphql-ws alone without choosing it.
        (
            Faults(protocols=(GTW,)),
            APOLLO,
            f"without choosing a subprotocol (offered: {APOLLO}); a server that speaks only "
            f"{GTW} answers this way: {USE_GTW}\n",
        ),
        (
            Faults(protocols=(APOLLO,)),
            GTW,
            f"without choosing a subprotocol (offered: {GTW}); a server that speaks only "
            f"{APOLLO} answers this way: {USE_APOLLO}\n",
        ),
    ],
    ids=["apollo-only-1002", "gtw-only-4406", "gtw-only-no-choice", "apollo-only-no-choice"],
)
def test_wrong_subprotocol_suggests_the_other_option(
    run_cli: RunCli,
    gqlws_server_factory: ServerFactory,
    faults: Faults,
    offered: str,
    expected: str,
) -> None:
    """--subprotocol X against a server of the other protocol names --subprotocol Y."""
    server = gqlws_server_factory(faults=faults)
    result = run_cli(server.url, "{ hello }", "--subprotocol", offered)
    assert result.returncode == 4
    assert result.stderr.startswith("gqlws: protocol error: the server accepted ")
    assert result.stderr.endswith(expected)
    assert "may not speak GraphQL" not in result.stderr
    assert_cli_terms(result.stderr)


def test_both_subprotocols_refused(run_cli: RunCli, gqlws_server_factory: ServerFactory) -> None:
    """Without --subprotocol both were tried in turn: no option would help, so none is named."""
    server = gqlws_server_factory(faults=Faults(protocols=(), subprotocol_choice="first-offered"))
    result = run_cli(server.url, "{ hello }")
    assert result.returncode == 4
    assert result.stderr.endswith(
        f"; it refused both {GTW} and {APOLLO}: check that the URL is a GraphQL over "
        "WebSocket endpoint\n"
    )
    assert "--subprotocol" not in result.stderr
    assert_cli_terms(result.stderr)


def test_no_subprotocol_for_the_default_offer_keeps_its_message(
    run_cli: RunCli, gqlws_server_factory: ServerFactory
) -> None:
    """Offered both and given neither, the server may well not speak GraphQL at that URL."""
    server = gqlws_server_factory(faults=Faults(subprotocol_choice="none"))
    result = run_cli(server.url, "{ hello }")
    assert result.returncode == 4
    assert result.stderr.endswith("it may not speak GraphQL over WebSocket at this URL\n")


@pytest.fixture(params=["graphql_ws_server.js", "subscriptions_transport_ws_server.js"])
def node_server(request: pytest.FixtureRequest) -> Iterator[NodeServer]:
    server = NodeServer(request.param)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@requires_node
def test_node_servers_get_the_other_subprotocol(run_cli: RunCli, node_server: NodeServer) -> None:
    """The reference implementations of both protocols, offered the one they do not speak."""
    speaks_apollo = node_server.script.startswith("subscriptions_transport_ws")
    offered, advice = (GTW, USE_APOLLO) if speaks_apollo else (APOLLO, USE_GTW)
    result = run_cli(node_server.url, "{ hello }", "--subprotocol", offered)
    assert result.returncode == 4
    assert result.stderr.endswith(f": {advice}\n")
    assert_cli_terms(result.stderr)
    # ... and the advice works.
    other = APOLLO if speaks_apollo else GTW
    followed = run_cli(node_server.url, "{ hello }", "--subprotocol", other)
    assert followed.returncode == 0, followed.stderr


# -- ws:// and wss:// -------------------------------------------------------------------------


@pytest.fixture
def tls_url(gqlws_server_factory: ServerFactory) -> str:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return gqlws_server_factory(ssl_context=context).url


def test_ws_to_a_tls_port_suggests_wss(run_cli: RunCli, tls_url: str) -> None:
    """A plain upgrade request to a TLS port: the server drops it, the hint names wss://."""
    url = tls_url.replace("wss://", "ws://")
    port = url.split(":")[2].split("/")[0]
    result = run_cli(url, "{ hello }")
    assert result.returncode == 3
    assert result.stderr == (
        f"gqlws: connection failed: {url} closed the connection during the WebSocket upgrade; "
        f"did you mean {tls_url}? (port {port} speaks TLS)\n"
    )


@pytest.fixture
def go_style_tls_port() -> Iterator[int]:
    """A TLS port that answers a plain HTTP request with HTTP 400, as Go's and nginx's do."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()

    def answer(conn: socket.socket) -> None:
        conn.settimeout(5.0)
        first = conn.recv(1, socket.MSG_PEEK)
        if first == b"\x16":  # a TLS handshake record
            with context.wrap_socket(conn, server_side=True):
                return
        conn.sendall(
            b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\n\r\n"
            b"Client sent an HTTP request to an HTTPS server.\n"
        )

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                try:
                    answer(conn)
                except OSError:
                    pass  # the client went away first

    thread = threading.Thread(target=serve, name="go-style-tls-server", daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5.0)
        listener.close()
        assert not thread.is_alive()


def test_ws_to_a_tls_port_that_answers_400_suggests_wss(
    run_cli: RunCli, go_style_tls_port: int
) -> None:
    """Go and nginx answer a plain request on a TLS port with HTTP 400, not a hang-up."""
    url = f"ws://127.0.0.1:{go_style_tls_port}/graphql"
    result = run_cli(url, "{ hello }")
    assert result.returncode == 3
    assert "with HTTP 400" in result.stderr
    assert result.stderr.endswith(
        f"; did you mean wss://127.0.0.1:{go_style_tls_port}/graphql? "
        f"(port {go_style_tls_port} speaks TLS)\n"
    )


def test_wss_to_a_plain_port_suggests_ws(
    run_cli: RunCli, gqlws_server_factory: ServerFactory
) -> None:
    """A TLS handshake with a plain server fails; the hint names ws://."""
    url = gqlws_server_factory().url
    wrong = url.replace("ws://", "wss://")
    port = url.split(":")[2].split("/")[0]
    result = run_cli(wrong, "{ hello }")
    assert result.returncode == 3
    assert result.stderr.startswith(f"gqlws: connection failed: TLS handshake with {wrong} failed")
    assert result.stderr.endswith(
        f"; did you mean {url}? (port {port} speaks plain HTTP, not TLS)\n"
    )


@requires_node
def test_wss_to_a_node_server_suggests_ws(run_cli: RunCli) -> None:
    """Node answers a TLS hello with HTTP 400: OpenSSL's "wrong version number"."""
    server = NodeServer("graphql_ws_server.js")
    server.start()
    try:
        result = run_cli(server.url.replace("ws://", "wss://"), "{ hello }")
    finally:
        server.stop()
    assert result.returncode == 3
    assert "WRONG_VERSION_NUMBER" in result.stderr or "record layer" in result.stderr
    assert result.stderr.endswith(
        f"; did you mean {server.url}? (port {server.port} speaks plain HTTP, not TLS)\n"
    )


def test_ca_with_ws_suggests_wss(run_cli: RunCli, tmp_path: Path) -> None:
    """--ca only makes sense with TLS, so the usage error names the wss:// URL."""
    result = run_cli("ws://127.0.0.1:9/graphql", "{ a }", "--ca", str(tmp_path / "ca.pem"))
    assert result.returncode == 2
    assert "need a wss:// URL (did you mean wss://127.0.0.1:9/graphql?)" in result.stderr


@pytest.fixture
def hanging_up_port() -> Iterator[int]:
    """A plain TCP port that closes every connection at once, without a byte."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.close()

    thread = threading.Thread(target=serve, name="hang-up-server", daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5.0)
        listener.close()
        assert not thread.is_alive()


@pytest.mark.parametrize("scheme", ["ws", "wss"])
def test_no_scheme_hint_when_the_other_scheme_fails_too(
    run_cli: RunCli, hanging_up_port: int, scheme: str
) -> None:
    """A port that hangs up on both plain and TLS connections gets no guess."""
    result = run_cli(f"{scheme}://127.0.0.1:{hanging_up_port}/graphql", "{ hello }")
    assert result.returncode == 3
    assert "did you mean" not in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("faults", [Faults(http_status=404), Faults(close_on_init=(4500, "x"))])
def test_no_scheme_hint_when_the_server_speaks_http(
    run_cli: RunCli, gqlws_server_factory: ServerFactory, faults: Faults
) -> None:
    """An HTTP status or a close code shows the scheme was right."""
    result = run_cli(gqlws_server_factory(faults=faults).url, "{ hello }")
    assert result.returncode == 3
    assert "did you mean" not in result.stderr
