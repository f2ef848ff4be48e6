"""Third-party GraphQL servers (Strawberry, Ariadne) under uvicorn, each in its own process
on a free 127.0.0.1 port, so that tests can kill or stop them like a real crash."""

from __future__ import annotations

import os
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

    def __init__(self, app: str, *, certfile: str | None = None, keyfile: str | None = None):
        self.app = app
        self.certfile = certfile
        self.keyfile = keyfile
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
        env = dict(os.environ, PYTHONPATH=str(APPS), PYTHONWARNINGS="ignore")
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
