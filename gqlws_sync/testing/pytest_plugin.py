"""pytest fixtures that run the reference server: ``gqlws_server``, ``gqlws_server_factory``.

pytest loads this plugin for everyone who installs gqlws_sync (entry point ``pytest11``),
including users without the ``server`` extra, so websockets and the server are imported inside
the fixtures only; merely loading the plugin costs nothing and cannot fail.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

import pytest

if TYPE_CHECKING:
    from graphql import GraphQLSchema

    from ._faults import Faults
    from ._server import ReferenceServer

__all__ = ["ServerFactory", "gqlws_server", "gqlws_server_factory"]


class ServerFactory(Protocol):
    """Starts a ``ReferenceServer``; every server it started is stopped at teardown."""

    def __call__(
        self,
        schema: GraphQLSchema | None = None,
        *,
        faults: Faults | None = None,
        ssl_context: ssl.SSLContext | None = None,
        **kwargs: Any,
    ) -> ReferenceServer: ...


@pytest.fixture
def gqlws_server_factory() -> Iterator[ServerFactory]:
    """Start reference servers on demand, with any schema, faults or TLS context."""
    # Imported here, not at the top: see the module docstring.
    from gqlws_sync.testing._server import ReferenceServer  # noqa: PLC0415

    servers: list[ReferenceServer] = []

    def factory(
        schema: GraphQLSchema | None = None,
        *,
        faults: Faults | None = None,
        ssl_context: ssl.SSLContext | None = None,
        **kwargs: Any,
    ) -> ReferenceServer:
        server = ReferenceServer(schema, faults=faults, ssl_context=ssl_context, **kwargs)
        server.start()
        servers.append(server)
        return server

    try:
        yield factory
    finally:
        errors: list[BaseException] = []
        for server in reversed(servers):
            try:
                server.stop()
            except Exception as exc:  # stop the others before reporting it
                errors.append(exc)
        if errors:
            raise errors[0]


@pytest.fixture
def gqlws_server(gqlws_server_factory: ServerFactory) -> ReferenceServer:
    """A running reference server on a fresh demo schema, stopped after the test."""
    return gqlws_server_factory()
