"""Third-party GraphQL servers (Strawberry, Ariadne) under uvicorn, each in its own process
on a free 127.0.0.1 port, so that tests can kill or stop them like a real crash."""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

APPS = Path(__file__).parent / "apps"
READY_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class UvicornServer:
    """A real ASGI server process; ``url`` is ready once ``start()`` returns."""

    def __init__(
        self,
        app: str,
        *,
        certfile: str | None = None,
        keyfile: str | None = None,
        app_dir: str | Path = APPS,
    ):
        self.app = app
        self.certfile = certfile
        self.keyfile = keyfile
        self.app_dir = app_dir  # where the app module is; APPS stays importable too
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        scheme = "wss" if self.certfile else "ws"
        host = "localhost" if self.certfile else "127.0.0.1"
        return f"{scheme}://{host}:{self.port}/graphql"

    def start(self) -> None:
        command = [
            sys.executable, "-m", "uvicorn", f"{self.app}:app",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--log-level", "warning",
        ]  # fmt: skip
        if self.certfile and self.keyfile:
            command += ["--ssl-certfile", self.certfile, "--ssl-keyfile", self.keyfile]
        path = os.pathsep.join(dict.fromkeys([str(self.app_dir), str(APPS)]))
        env = dict(os.environ, PYTHONPATH=path, PYTHONWARNINGS="ignore")
        self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                assert self.process.stderr is not None
                raise RuntimeError(
                    f"{self.app} exited at start: {self.process.stderr.read().decode()}"
                )
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)  # nothing to wait on: the process gives no readiness signal
        self.stop()
        raise RuntimeError(f"{self.app} not listening on {self.port} within {READY_TIMEOUT} s")

    def kill(self) -> None:
        """SIGKILL: the TCP connections end without a Close frame."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGCONT)
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _serve(app: str, **kwargs: str) -> Iterator[UvicornServer]:
    server = UvicornServer(app, **kwargs)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        if server.process is not None and server.process.stderr is not None:
            server.process.stderr.close()


@pytest.fixture(scope="session")
def strawberry_server() -> Iterator[UvicornServer]:
    yield from _serve("strawberry_app")


@pytest.fixture(scope="session")
def ariadne_server() -> Iterator[UvicornServer]:
    yield from _serve("ariadne_app")


@pytest.fixture
def own_strawberry_server() -> Iterator[UvicornServer]:
    """A server this test alone may kill or stop."""
    yield from _serve("strawberry_app")


@pytest.fixture(scope="session")
def tls_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def tls_strawberry_server(
    tls_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[UvicornServer]:
    cert = tls_ca.issue_cert("localhost", "127.0.0.1")
    folder = tmp_path_factory.mktemp("tls")
    certfile = folder / "cert.pem"
    keyfile = folder / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    yield from _serve("strawberry_app", certfile=str(certfile), keyfile=str(keyfile))


@pytest.fixture(scope="session")
def tls_client_context(tls_ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    tls_ca.configure_trust(context)
    return context


NODE_DIR = Path(__file__).parent / "node"


class NodeServer:
    """A Node GraphQL server process (graphql-ws or subscriptions-transport-ws)."""

    def __init__(self, script: str, env: dict[str, str] | None = None) -> None:
        self.script = script
        self.env = env or {}
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["node", str(NODE_DIR / self.script)],
            cwd=NODE_DIR,
            env=dict(os.environ, **self.env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], READY_TIMEOUT)
        line = self.process.stdout.readline().decode() if ready else ""
        if not line.startswith("LISTENING "):
            self.stop()
            raise RuntimeError(f"{self.script} did not start within {READY_TIMEOUT} s: {line!r}")
        self.port = int(line.split()[1])

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()


def _node_available() -> bool:
    return shutil.which("node") is not None and (NODE_DIR / "node_modules" / "graphql-ws").is_dir()


requires_node = pytest.mark.skipif(
    not _node_available(),
    reason="node and the packages of tests/integration/node (make node-servers) are needed",
)


def _serve_node(script: str, env: dict[str, str] | None = None) -> Iterator[NodeServer]:
    server = NodeServer(script, env)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def graphql_ws_server() -> Iterator[NodeServer]:
    yield from _serve_node("graphql_ws_server.js", {"KEEPALIVE_MS": "100"})


@pytest.fixture(scope="session")
def stws_server() -> Iterator[NodeServer]:
    yield from _serve_node("subscriptions_transport_ws_server.js")


@pytest.fixture
def own_graphql_ws_server() -> Iterator[NodeServer]:
    yield from _serve_node("graphql_ws_server.js")
