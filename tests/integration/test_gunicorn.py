"""A client created before fork, under a real gunicorn with ``--preload``: the workers
connect afresh and every request is served."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from gqlws_sync.testing import ReferenceServer
from gqlws_sync.testing.pytest_plugin import ServerFactory

from .conftest import APPS, READY_TIMEOUT, free_port

pytestmark = pytest.mark.skipif(
    shutil.which("gunicorn", path=os.path.dirname(sys.executable)) is None,
    reason="gunicorn is not installed (it is in the test extra)",
)

REQUESTS = 1000


@pytest.fixture
def gunicorn(gqlws_server_factory: ServerFactory) -> Iterator[tuple[int, ReferenceServer]]:
    server = gqlws_server_factory()
    port = free_port()
    command = [
        sys.executable, "-m", "gunicorn", "--preload",
        "--workers", "2", "--threads", "8",
        "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
        "preload_app:app",
    ]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(APPS), GQLWS_URL=server.url)
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.05)  # nothing to wait on: gunicorn gives no readiness signal
        yield port, server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        if process.stderr is not None:
            process.stderr.close()


def _get(port: int, n: int) -> tuple[int, int, dict[str, int]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", f"/?n={n}")
        response = connection.getresponse()
        body = json.loads(response.read())
        return response.status, body["pid"], body["data"]
    finally:
        connection.close()


def test_preload_workers_serve_every_request(gunicorn: tuple[int, ReferenceServer]) -> None:
    """2 workers x 8 threads, the client created and used in the master before fork: 1,000
    requests, 0 errors; each worker has a connection of its own."""
    port, server = gunicorn
    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(lambda n: _get(port, n), range(REQUESTS)))
    assert [status for status, _, _ in results] == [200] * REQUESTS
    assert [data for _, _, data in results] == [{"add": n + 1} for n in range(REQUESTS)]
    workers = {pid for _, pid, _ in results}
    assert len(workers) == 2
    # The master's connection, and one per worker: none shared a socket with the master.
    assert len(server.handshakes) == 1 + len(workers)
    assert server.connection_count() == 1 + len(workers)
