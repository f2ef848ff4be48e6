"""Fixtures for the reference server's conformance tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gqlws_sync.testing import ServerFactory

from ._refserver_raw import ClientPool


@pytest.fixture
def clients(gqlws_server_factory: ServerFactory) -> Iterator[ClientPool]:
    """Raw connections, all shut down before any server stops.

    Depending on the server factory makes this teardown run first, so stop() never waits for
    a client that has stopped reading.
    """
    pool = ClientPool()
    yield pool
    pool.shutdown()
