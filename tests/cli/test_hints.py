"""The hints on the error line: advice in the command's own terms, given only when it holds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
