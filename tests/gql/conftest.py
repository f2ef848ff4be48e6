"""Servers and helpers for the gql adapter's tests: Strawberry (with a ``Datetime`` scalar)
and Ariadne under uvicorn, each behind ``Counting`` (see apps/counting.py) so that a test can
ask the server how many sockets and messages it saw."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import trustme
from graphql import GraphQLScalarType

from gqlws_sync import APOLLO_SUBPROTOCOL, GRAPHQLWS_SUBPROTOCOL
from gqlws_sync.gql import WebsocketsTransport
from tests.integration.conftest import UvicornServer

GQL_APPS = Path(__file__).parent / "apps"
GTW = GRAPHQLWS_SUBPROTOCOL
APOLLO = APOLLO_SUBPROTOCOL

#: What gql's documentation has users write for a custom scalar.
DatetimeScalar = GraphQLScalarType(
    name="Datetime",
    serialize=lambda value: value.isoformat(),
    parse_value=datetime.fromisoformat,
)


class Stats:
    """The counters of a ``Counting`` server (see apps/counting.py)."""

    def __init__(self, server: UvicornServer) -> None:
        self.base = f"http://127.0.0.1:{server.port}/stats"

    def get(self) -> dict[str, int]:
        with urllib.request.urlopen(self.base, timeout=10) as response:
            stats: dict[str, int] = json.load(response)
        return stats

    def wait(self, timeout: float = 5.0, **expected: int) -> dict[str, int]:
        """Wait (in the server, on its own condition) until every counter has its value."""
        query = "&".join(f"{key}={value}" for key, value in {**expected}.items())
        url = f"{self.base}?{query}&timeout={timeout}"
        with urllib.request.urlopen(url, timeout=timeout + 10) as response:
            stats: dict[str, Any] = json.load(response)
        assert stats.pop("met"), f"server counters {stats}, wanted {expected}"
        return stats

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.base}/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass


def _serve(
    app: str, certfile: str | None = None, keyfile: str | None = None
) -> Iterator[UvicornServer]:
    server = UvicornServer(app, app_dir=GQL_APPS, certfile=certfile, keyfile=keyfile)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        if server.process is not None and server.process.stderr is not None:
            server.process.stderr.close()


@pytest.fixture(scope="session")
def gql_server() -> Iterator[UvicornServer]:
    """Strawberry: queries over graphql-transport-ws only, subscriptions over both."""
    yield from _serve("gql_app")


@pytest.fixture(scope="session")
def gql_ariadne_server() -> Iterator[UvicornServer]:
    """Ariadne: queries and subscriptions over both subprotocols."""
    yield from _serve("gql_ariadne_app")


@pytest.fixture(scope="session")
def tls_gql_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[UvicornServer, Path]]:
    """Strawberry over wss://, and the PEM file of the throwaway CA that signed its
    certificate (what gql's documentation calls the server's public certificate)."""
    ca = trustme.CA()
    folder = tmp_path_factory.mktemp("gql-tls")
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(folder / "cert.pem"))
    cert.private_key_pem.write_to_path(str(folder / "key.pem"))
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    for server in _serve(
        "gql_app", certfile=str(folder / "cert.pem"), keyfile=str(folder / "key.pem")
    ):
        yield server, folder / "ca.pem"


@pytest.fixture
def own_gql_server() -> Iterator[UvicornServer]:
    """A Strawberry server this test alone may kill."""
    yield from _serve("gql_app")


def _fresh_stats(server: UvicornServer) -> Stats:
    stats = Stats(server)
    stats.wait(open=0)  # the sockets of earlier tests are gone
    stats.reset()
    return stats


@pytest.fixture
def stats(gql_server: UvicornServer) -> Stats:
    """The Strawberry server's counters, zeroed for this test."""
    return _fresh_stats(gql_server)


@pytest.fixture
def ariadne_stats(gql_ariadne_server: UvicornServer) -> Stats:
    return _fresh_stats(gql_ariadne_server)


MakeTransport = Callable[..., WebsocketsTransport]


@pytest.fixture
def make_transport() -> Iterator[MakeTransport]:
    """``WebsocketsTransport(...)``, shut down at the end of the test whatever happened."""
    made: list[WebsocketsTransport] = []

    def make(url: str, **kwargs: Any) -> WebsocketsTransport:
        transport = WebsocketsTransport(url=url, **kwargs)
        made.append(transport)
        return transport

    yield make
    for transport in made:
        transport.shutdown()
