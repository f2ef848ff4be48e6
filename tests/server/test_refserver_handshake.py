"""The reference server's upgrade: subprotocol choice, HTTP refusals, what it records."""

from __future__ import annotations

import pytest
import websocket

from gqlws_sync.testing import Faults, ReferenceServer, ServerFactory

from ._refserver_raw import APOLLO, GTW, MS, SILENCE, ClientPool, RawClient


def plain_offer(
    clients: ClientPool, server: ReferenceServer, offer: list[str] | None = None
) -> RawClient:
    """Connect offering tokens as a plain header, so websocket-client accepts any answer."""
    header = [] if offer is None else [f"Sec-WebSocket-Protocol: {', '.join(offer)}"]
    return clients.raw(server.url, None, header=header)


@pytest.mark.parametrize(
    ("offer", "picked"),
    [
        ([GTW, APOLLO], GTW),
        ([APOLLO, GTW], APOLLO),
        (["foo", APOLLO, GTW], APOLLO),
        ([GTW], GTW),
        ([APOLLO], APOLLO),
    ],
)
def test_client_order_picks_first_supported_token_of_the_offer(
    gqlws_server: ReferenceServer, clients: ClientPool, offer: list[str], picked: str
) -> None:
    """By default the first token of the client's offer that the server speaks wins."""
    client = clients.raw(gqlws_server.url, offer)
    assert client.subprotocol == picked
    client.init()
    client.start(picked, "1", "{ subprotocol }")
    assert client.results(picked, "1") == [{"subprotocol": picked}]


@pytest.mark.parametrize(
    ("protocols", "offer", "code"),
    [
        ((GTW, APOLLO), ["foo"], 4406),
        ((GTW,), [APOLLO], 4406),
        ((APOLLO,), [GTW], 1002),
    ],
)
def test_client_order_without_common_token_accepts_then_closes(
    gqlws_server_factory: ServerFactory,
    clients: ClientPool,
    protocols: tuple[str, ...],
    offer: list[str],
    code: int,
) -> None:
    """No common token: upgrade without the header, then close on the first message."""
    server = gqlws_server_factory(faults=Faults(protocols=protocols))
    client = plain_offer(clients, server, offer)
    assert client.subprotocol is None
    client.send({"type": "connection_init"})
    assert client.recv_close()[0] == code


def test_library_check_rejects_a_missing_subprotocol(
    gqlws_server_factory: ServerFactory, clients: ClientPool
) -> None:
    """websocket-client itself fails the upgrade when ``subprotocols=`` gets no answer."""
    server = gqlws_server_factory(faults=Faults(protocols=(GTW,)))
    with pytest.raises(websocket.WebSocketException, match="Invalid WebSocket Header"):
        clients.raw(server.url, [APOLLO])


@pytest.mark.parametrize(
    ("protocols", "offer", "code"),
    [
        ((APOLLO,), [GTW, APOLLO], 1002),  # subscriptions-transport-ws
        ((GTW,), [APOLLO, GTW], 4406),  # graphql-ws before 5.6.1
        ((GTW, APOLLO), ["foo", GTW], 4406),
    ],
)
def test_first_offered_echoes_the_first_token_then_closes(
    gqlws_server_factory: ServerFactory,
    clients: ClientPool,
    protocols: tuple[str, ...],
    offer: list[str],
    code: int,
) -> None:
    """Legacy Node servers accept the first token even if they cannot speak it."""
    faults = Faults(protocols=protocols, subprotocol_choice="first-offered")
    server = gqlws_server_factory(faults=faults)
    client = clients.raw(server.url, offer)
    assert client.subprotocol == offer[0]
    client.send({"type": "connection_init"})
    close_code, _reason = client.recv_close()
    assert close_code == code
    assert server.wait_for_disconnect().server_code == code


def test_first_offered_speaks_the_token_when_supported(
    gqlws_server_factory: ServerFactory, clients: ClientPool
) -> None:
    """An APOLLO-only legacy server works when APOLLO comes first in the offer."""
    faults = Faults(protocols=(APOLLO,), subprotocol_choice="first-offered")
    server = gqlws_server_factory(faults=faults)
    client = clients.raw(server.url, [APOLLO, GTW])
    assert client.subprotocol == APOLLO
    client.init()
    client.start(APOLLO, "1", "{ hello }")
    assert client.results(APOLLO, "1") == [{"hello": "Hello world"}]


def test_none_answers_without_a_subprotocol_then_closes_4406(
    gqlws_server_factory: ServerFactory, clients: ClientPool
) -> None:
    """``none`` omits the header even though a supported token was offered."""
    server = gqlws_server_factory(faults=Faults(subprotocol_choice="none"))
    with pytest.raises(websocket.WebSocketException, match="Invalid WebSocket Header"):
        clients.raw(server.url, [GTW])
    client = plain_offer(clients, server, [GTW, APOLLO])
    assert client.subprotocol is None
    client.send({"type": "connection_init"})
    assert client.recv_close() == (4406, "subprotocol not acceptable")


def test_no_offer_at_all_is_closed_4406(gqlws_server: ReferenceServer, clients: ClientPool) -> None:
    """A client that offers nothing is accepted and refused on its first message."""
    client = plain_offer(clients, gqlws_server)
    client.send({"type": "connection_init"})
    assert client.recv_close()[0] == 4406


def test_refusal_also_comes_when_the_client_stays_silent(
    gqlws_server_factory: ServerFactory, clients: ClientPool
) -> None:
    """Without any message the refusal waits for init_timeout instead."""
    server = gqlws_server_factory(faults=Faults(subprotocol_choice="none", init_timeout=50 * MS))
    client = plain_offer(clients, server, [GTW])
    assert client.recv_close()[0] == 4406


def test_fallback_protocol_speaks_apollo_to_a_client_offering_nothing(
    gqlws_server_factory: ServerFactory, clients: ClientPool
) -> None:
    """Ariadne's behaviour: no subprotocol agreed, APOLLO spoken anyway."""
    server = gqlws_server_factory(faults=Faults(fallback_protocol=APOLLO))
    client = plain_offer(clients, server)
    assert client.subprotocol is None
    client.init()
    client.start(APOLLO, "1", "{ subprotocol }")
    assert client.results(APOLLO, "1") == [{"subprotocol": APOLLO}]


def test_unoffered_answers_a_token_the_client_did_not_offer(
    gqlws_server_factory: ServerFactory, clients: ClientPool
) -> None:
    """RFC 6455 says the client must fail; websocket-client does, the plain route sees it."""
    server = gqlws_server_factory(faults=Faults(subprotocol_choice="unoffered"))
    with pytest.raises(websocket.WebSocketException, match="Invalid WebSocket Header"):
        clients.raw(server.url, [GTW, APOLLO])
    client = plain_offer(clients, server, [GTW, APOLLO])
    assert client.subprotocol == "bogus-protocol"
    client.send({"type": "connection_init"})
    assert client.recv_close()[0] == 4406


@pytest.mark.parametrize("status", [401, 403, 404, 500, 503])
def test_http_status_refuses_the_upgrade(
    gqlws_server_factory: ServerFactory, clients: ClientPool, status: int
) -> None:
    """The upgrade gets a plain HTTP response with that status."""
    server = gqlws_server_factory(faults=Faults(http_status=status))
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        clients.raw(server.url, [GTW])
    assert info.value.status_code == status
    assert server.connection_count() == 0


def test_other_paths_get_404(gqlws_server: ReferenceServer, clients: ClientPool) -> None:
    """Only the configured path upgrades; a query string does not matter."""
    url = gqlws_server.url.replace("/graphql", "/nope")
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        clients.raw(url, [GTW])
    assert info.value.status_code == 404
    client = clients.raw(gqlws_server.url + "?token=abc", [GTW])
    assert client.subprotocol == GTW


def test_redirect_to_sends_the_client_elsewhere(
    gqlws_server_factory: ServerFactory, clients: ClientPool
) -> None:
    """A 307 with Location; websocket-client follows it to the second server."""
    target = gqlws_server_factory()
    server = gqlws_server_factory(faults=Faults(redirect_to=target.url))
    client = clients.raw(server.url, [GTW])
    client.init()
    assert len(server.handshakes) == 1
    assert len(target.handshakes) == 1
    assert target.connection_count() == 1
    assert server.connection_count() == 0


def test_handshakes_record_path_headers_and_offer(
    gqlws_server: ReferenceServer, clients: ClientPool
) -> None:
    """Header names are lower-cased and the offer keeps the client's order."""
    clients.raw(
        gqlws_server.url + "?a=1",
        [APOLLO, GTW],
        header=["Authorization: Bearer xyz", "X-Custom: 1"],
    )
    handshake = gqlws_server.handshakes[0]
    assert handshake.path == "/graphql?a=1"
    assert handshake.headers["authorization"] == "Bearer xyz"
    assert handshake.headers["x-custom"] == "1"
    assert handshake.subprotocols == (APOLLO, GTW)


def test_hang_leaves_the_upgrade_unanswered(
    gqlws_server_factory: ServerFactory, clients: ClientPool
) -> None:
    """A hung server accepts TCP but never answers the HTTP upgrade."""
    server = gqlws_server_factory(faults=Faults(hang=True))
    with pytest.raises(websocket.WebSocketTimeoutException):
        clients.raw(server.url, [GTW], timeout=SILENCE)
    assert len(server.handshakes) == 1
    server.faults.hang = False
    clients.raw(server.url, [GTW]).init()


def test_messages_above_max_size_are_closed_1009(
    gqlws_server_factory: ServerFactory, clients: ClientPool
) -> None:
    """websockets enforces max_size on client messages with 1009."""
    server = gqlws_server_factory(max_size=1024)
    client = clients.connect(server.url, GTW)
    client.send({"type": "ping", "payload": {"pad": "x" * 2048}})
    assert client.recv_close()[0] == 1009
