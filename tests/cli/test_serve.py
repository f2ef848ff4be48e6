"""``gqlws serve`` as a real process: a client library and the command pointed at it."""

from __future__ import annotations

import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest

from gqlws_sync import (
    AckTimeout,
    Client,
    TransportClosed,
    TransportServerError,
)
from gqlws_sync._serve import CLOSE_EVERY_REASON, DEFAULT_HOST, DEFAULT_PORT, build_parser

from .conftest import COMMAND, CliProcess, RunCli

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="signals are POSIX")

#: Bound on the exit after SIGINT or SIGTERM: closing connections takes at most the
#: reference server's close timeout (1 s); the rest is slack for a loaded machine.
STOP_BOUND = 5.0
#: Bound on a client seeing a scheduled fault that repeats every FAULT_INTERVAL seconds.
FAULT_INTERVAL = 0.3
FAULT_BOUND = 5.0

URL_PATTERN = re.compile(r"(wss?)://127\.0\.0\.1:(\d+)/graphql")


class Serve:
    """A running ``gqlws serve`` and the lines it printed on start."""

    def __init__(self, process: CliProcess, url: str, ca_file: Path | None) -> None:
        self.process = process
        self.url = url
        self.ca_file = ca_file

    def stop(self, signum: int = signal.SIGINT) -> tuple[int, float]:
        """Send ``signum``; return the exit status and how long the exit took."""
        started = time.monotonic()
        self.process.process.send_signal(signum)
        code = self.process.wait(STOP_BOUND * 2)
        return code, time.monotonic() - started


class StartServe(Protocol):
    def __call__(self, *args: str) -> Serve: ...


@pytest.fixture
def serve() -> Iterator[StartServe]:
    """Start ``gqlws serve ARGS...`` and wait for its URL line; killed at teardown."""
    started: list[CliProcess] = []

    def start(*args: str) -> Serve:
        process = CliProcess([*COMMAND, "serve", "--port", "0", *args])
        started.append(process)
        url = process.line().strip()
        match = URL_PATTERN.fullmatch(url)
        assert match, f"not a URL line: {url!r}"
        ca_file = Path(process.line().strip()) if match.group(1) == "wss" else None
        return Serve(process, url, ca_file)

    yield start
    for process in started:
        process.kill()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serves_the_demo_schema_until_a_signal(serve: StartServe, signum: int) -> None:
    """The printed URL works for queries and subscriptions; a signal stops it with status 0."""
    server = serve()
    with Client(server.url) as client:
        assert client.execute("{ hello }") == {"hello": "Hello world"}
        events = list(client.subscribe("subscription { countdown(from: 2) }", timeout=5))
        assert events == [{"countdown": 2}, {"countdown": 1}]
    code, elapsed = server.stop(signum)
    assert code == 0, server.process.stderr
    assert elapsed < STOP_BOUND
    name = signal.Signals(signum).name
    assert f"gqlws serve: stopping ({name})\n" in server.process.stderr
    assert server.process.stderr.endswith("gqlws serve: stopped\n")


def test_stops_promptly_with_a_client_connected(serve: StartServe) -> None:
    """A live subscription does not hold the exit up; the client sees the server go away."""
    server = serve()
    with Client(server.url, reconnect=False) as client:
        ticks = client.subscribe("subscription { ticks(interval: 0.05) }", timeout=5)
        assert next(ticks) == {"ticks": 0}
        code, elapsed = server.stop()
        with pytest.raises(TransportClosed) as caught:
            for _ in ticks:
                pass
    assert code == 0, server.process.stderr
    assert elapsed < STOP_BOUND
    assert caught.value.code == 1001  # going away


def test_tls_prints_a_ca_that_verifies_it(serve: StartServe, run_cli: RunCli) -> None:
    """--tls serves wss:// and prints the CA file on its own line; the file goes at exit."""
    server = serve("--tls")
    assert server.url.startswith("wss://")
    assert server.ca_file is not None
    assert server.ca_file.is_file()
    context = ssl.create_default_context(cafile=str(server.ca_file))
    with Client(server.url, ssl=context) as client:
        assert client.execute("{ hello }") == {"hello": "Hello world"}
    result = run_cli(server.url, "{ add(a: 1, b: 2) }", "--ca", str(server.ca_file))
    assert result.returncode == 0, result.stderr
    # Without the CA, the certificate is unknown: verification is really on.
    unverified = run_cli(server.url, "{ hello }")
    assert unverified.returncode == 3
    assert "certificate verification failed" in unverified.stderr
    code, elapsed = server.stop()
    assert code == 0, server.process.stderr
    assert elapsed < STOP_BOUND
    assert not server.ca_file.exists()


def test_drop_every_cuts_connections(serve: StartServe) -> None:
    """--drop-every: a waiting subscriber sees a lost connection (1006) within the period."""
    server = serve("--drop-every", str(FAULT_INTERVAL))
    started = time.monotonic()
    with Client(server.url, reconnect=False) as client:
        with pytest.raises(TransportClosed) as caught:
            for _ in client.subscribe("subscription { ticks(interval: 0.05) }", timeout=5):
                pass
    assert time.monotonic() - started < FAULT_BOUND
    assert caught.value.code == 1006
    # The server lives on: a new client connects.
    with Client(server.url) as client:
        assert client.execute("{ hello }") == {"hello": "Hello world"}
    assert server.stop()[0] == 0
    assert "every 0.3 s, every connection is dropped" in server.process.stderr


def test_close_every_sends_the_code(serve: StartServe) -> None:
    """--close-every S CODE: every connection gets a Close frame with CODE and a reason."""
    server = serve("--close-every", str(FAULT_INTERVAL), "4500")
    started = time.monotonic()
    with Client(server.url) as client:
        with pytest.raises(TransportServerError) as caught:
            for _ in client.subscribe("subscription { ticks(interval: 0.05) }", timeout=5):
                pass
    assert time.monotonic() - started < FAULT_BOUND
    assert caught.value.code == 4500
    assert CLOSE_EVERY_REASON in str(caught.value)
    assert server.stop()[0] == 0


def test_ack_delay_trips_a_short_ack_timeout(serve: StartServe, run_cli: RunCli) -> None:
    """--ack-delay: a client with a shorter ack timeout gives up; a patient one connects."""
    server = serve("--ack-delay", "1")
    with pytest.raises(AckTimeout):
        Client(server.url, ack_timeout=0.2).connect()
    result = run_cli(server.url, "{ hello }", "--timeout", "0.2")
    assert result.returncode == 5
    assert "no connection_ack within 0.2 s" in result.stderr
    with Client(server.url, ack_timeout=5) as client:
        assert client.execute("{ hello }") == {"hello": "Hello world"}
    assert server.stop()[0] == 0


def test_one_subprotocol(serve: StartServe, run_cli: RunCli) -> None:
    """--subprotocol graphql-ws serves Apollo's protocol only; the command's hint names it."""
    server = serve("--subprotocol", "graphql-ws")
    with Client(server.url) as client:
        assert client.subprotocol == "graphql-ws"
    result = run_cli(server.url, "{ hello }", "--subprotocol", "graphql-transport-ws")
    assert result.returncode == 4
    assert "use --subprotocol graphql-ws" in result.stderr
    assert server.stop()[0] == 0


def test_verbose_logs_connections(serve: StartServe) -> None:
    """-v shows the server's activity on stderr; stdout still holds only the URL."""
    server = serve("-v")
    with Client(server.url) as client:
        client.execute("{ hello }")
    assert server.stop()[0] == 0
    assert "gqlws_sync.testing" in server.process.stderr


def test_quiet_about_clients_that_speak_nonsense(serve: StartServe, run_cli: RunCli) -> None:
    """Without -v, a client's bad handshake (TLS to the plain port) prints nothing."""
    server = serve()
    result = run_cli(server.url.replace("ws://", "wss://"), "{ hello }")
    assert result.returncode == 3
    assert server.stop()[0] == 0
    assert "Traceback" not in server.process.stderr
    assert server.process.stderr.count("\n") == 4  # the banner, stopping, stopped


def test_port_in_use_exits_3(run_cli: RunCli) -> None:
    """A port another program holds: one line saying so, exit 3."""
    with socket.create_server(("127.0.0.1", 0)) as holder:
        port = holder.getsockname()[1]
        result = run_cli("serve", "--port", str(port))
    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr == (
        f"gqlws serve: cannot listen on 127.0.0.1:{port}: address already in use "
        "(choose another port with --port; --port 0 picks a free one)\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "70000"], "must be 0 to 65535"),
        (["--drop-every", "0"], "positive number of seconds"),
        (["--close-every", "1", "999"], "999 is not a close code a server may send"),
        (["--close-every", "1", "x"], "not a close code: 'x'"),
        (["--close-every", "soon", "1000"], "not a number of seconds: 'soon'"),
        (["--subprotocol", "mqtt"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2(run_cli: RunCli, args: list[str], message: str) -> None:
    """Bad options exit 2 with one line before anything listens."""
    result = run_cli("serve", *args)
    assert result.returncode == 2
    assert result.stderr.startswith("gqlws serve: error: ")
    assert message in result.stderr
    assert result.stderr.count("\n") == 1


def test_defaults_are_loopback_and_port_8000() -> None:
    """Only loopback unless asked, on the port the examples expect."""
    args = build_parser().parse_args([])
    assert (args.host, args.port) == (DEFAULT_HOST, DEFAULT_PORT) == ("127.0.0.1", 8000)


def test_help_documents_faults_and_output(run_cli: RunCli) -> None:
    """serve --help explains the output lines, each fault flag and the exit status."""
    result = run_cli("serve", "--help")
    assert result.returncode == 0
    for text in (
        "ws://127.0.0.1:8000/graphql",
        "CA certificate file",
        "--drop-every S",
        "--close-every S CODE",
        "--ack-delay S",
        "exit status:",
    ):
        assert text in result.stdout


def test_console_script_runs_the_subcommands() -> None:
    """The installed ``gqlws`` script knows serve and demo, not only ``python -m``."""
    script = shutil.which("gqlws", path=str(Path(sys.executable).parent))
    assert script is not None
    for name in ("serve", "demo"):
        result = subprocess.run(
            [script, name, "--help"], capture_output=True, text=True, timeout=20, check=False
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"usage: gqlws {name}")
