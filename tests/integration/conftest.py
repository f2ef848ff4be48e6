"""Third-party GraphQL servers (Strawberry, Ariadne) under uvicorn, each in its own process
on a free 127.0.0.1 port, so that tests can kill or stop them like a real crash, and start
them again on the same port."""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
import trustme

APPS = Path(__file__).parent / "apps"
READY_TIMEOUT = 20.0
#: How long a server may take to exit after SIGTERM (uvicorn waits for its connections).
STOP_TIMEOUT = 10.0
#: Bound on one request to a server's control endpoint or stdin.
CONTROL_TIMEOUT = 5.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class UvicornServer:
    """A real ASGI server process; ``url`` is ready once ``start()`` returns.

    The port is chosen once: ``start()`` after ``kill()`` or ``terminate()`` brings the
    server back on the same one. ``env`` is added to the process environment (for example
    ``GQLWS_JOURNAL``, see ``apps/_testkit.py``). ``app_dir`` is where the app module
    lives; ``apps/`` stays importable too.
    """

    def __init__(
        self,
        app: str,
        *,
        certfile: str | None = None,
        keyfile: str | None = None,
        env: dict[str, str] | None = None,
        app_dir: str | Path = APPS,
    ):
        self.app = app
        self.certfile = certfile
        self.keyfile = keyfile
        self.env = env or {}
        self.app_dir = app_dir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        # A file, not a pipe: nobody reads stderr while the server runs, and a full pipe
        # would stall a server that logs.
        self._stderr: IO[bytes] | None = None

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
        env = dict(os.environ, PYTHONPATH=path, PYTHONWARNINGS="ignore", **self.env)
        self._close_stderr()
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115  # closed by stop()/start()
        self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=self._stderr
        )
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.app} exited at start: {self.stderr_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)  # nothing to wait on: the process gives no readiness signal
        self.stop()
        raise RuntimeError(f"{self.app} not listening on {self.port} within {READY_TIMEOUT} s")

    def stderr_text(self) -> str:
        """What the current process wrote to stderr so far."""
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def _close_stderr(self) -> None:
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def kill(self) -> None:
        """SIGKILL: the TCP connections end without a Close frame."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def terminate(self) -> None:
        """SIGTERM, uvicorn's graceful shutdown: it stops listening, closes every WebSocket
        with 1012, waits for its connections to end, and exits; returns once it has."""
        assert self.process is not None
        self.process.terminate()
        self.process.wait(STOP_TIMEOUT)

    def close_connections(self, code: int, reason: str = "") -> int:
        """Have the app close every open WebSocket with ``code`` (``apps/_testkit.py``);
        returns how many it closed, once their Close frames are written."""
        query = urllib.parse.urlencode({"code": code, "reason": reason})
        url = f"http://127.0.0.1:{self.port}/control/close?{query}"
        request = urllib.request.Request(url, method="POST")
        with urllib.request.urlopen(request, timeout=CONTROL_TIMEOUT) as response:
            return int(response.read().split()[1])

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        self._close_stderr()


def _serve(
    app: str, *, certfile: str | None = None, keyfile: str | None = None
) -> Iterator[UvicornServer]:
    server = UvicornServer(app, certfile=certfile, keyfile=keyfile)
    server.start()
    try:
        yield server
    finally:
        server.stop()


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
    """A Node GraphQL server process (graphql-ws or subscriptions-transport-ws).

    The first ``start()`` takes a free port; ``start()`` after ``kill()`` or ``terminate()``
    brings the server back on the same one (the scripts read ``PORT``).
    """

    def __init__(self, script: str, env: dict[str, str] | None = None) -> None:
        self.script = script
        self.env = env or {}
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    def start(self) -> None:
        self._close_streams()
        env = dict(os.environ, **self.env)
        if self.port:
            env["PORT"] = str(self.port)
        self.process = subprocess.Popen(
            ["node", str(NODE_DIR / self.script)],
            cwd=NODE_DIR,
            env=env,
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

    def terminate(self) -> None:
        """SIGTERM: Node's default is to exit at once, so the TCP connections are dropped
        without a Close frame, as graphql-ws and subscriptions-transport-ws do on shutdown."""
        assert self.process is not None
        self.process.terminate()
        self.process.wait(STOP_TIMEOUT)

    def close_connections(self, code: int, reason: str = "") -> int:
        """Have the server close every client with ``code`` (the scripts' ``CLOSE`` command);
        returns how many it closed."""
        process = self.process
        assert process is not None
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write(f"CLOSE {code} {reason}\n".encode())
        process.stdin.flush()
        ready, _, _ = select.select([process.stdout], [], [], CONTROL_TIMEOUT)
        line = process.stdout.readline().decode() if ready else ""
        if not line.startswith("CLOSED "):
            raise RuntimeError(f"{self.script} did not close its clients: {line!r}")
        return int(line.split()[1])

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
        self._close_streams()

    def _close_streams(self) -> None:
        process = self.process
        if process is None:
            return
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
