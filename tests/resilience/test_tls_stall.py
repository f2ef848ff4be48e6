"""A TLS record delivered in part: the reader must not wait for its rest holding the lock
that every send needs, or other callers' operations (and their timeouts) wait with it."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator

import pytest
import trustme

from gqlws_sync import Client, OperationTimeout
from gqlws_sync.testing import ReferenceServer
from gqlws_sync.testing.pytest_plugin import ServerFactory

from ._proxy import Proxy


@pytest.fixture
def tls(gqlws_server_factory: ServerFactory) -> Iterator[tuple[Proxy, ssl.SSLContext]]:
    """The reference server over TLS, behind a proxy; and a context that trusts it."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)
    server: ReferenceServer = gqlws_server_factory(ssl_context=server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    with Proxy(server.port) as proxy:
        yield proxy, client_context


def test_half_delivered_tls_record(tls: tuple[Proxy, ssl.SSLContext]) -> None:
    """With a 100 KB result stuck after its first bytes, another caller's execute(timeout=1)
    still sends and times out on time; once the rest arrives, everything goes on."""
    proxy, context = tls
    url = proxy.url(scheme="wss").replace("127.0.0.1", "localhost")
    with Client(url, ssl=context) as client:
        assert client.execute("{ hello }") == {"hello": "Hello world"}
        proxy.stall_after(100)  # the next record from the server arrives only in part
        big = client.subscribe("subscription { burst(count: 1, size: 100000) }", timeout=10)
        started = time.monotonic()
        with pytest.raises(OperationTimeout):
            client.execute('{ hello(name: "meanwhile") }', timeout=1)
        elapsed = time.monotonic() - started
        assert 0.9 < elapsed < 1.1, f"execute(timeout=1) returned after {elapsed:.2f} s"
        proxy.restore()
        assert len(next(big)["burst"]) == 100000
        assert client.execute("{ hello }") == {"hello": "Hello world"}
        big.close()
