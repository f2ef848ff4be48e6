"""Shared code for the example tests: examples run as real processes, read over real HTTP.

Every wait here has a bound, and a process that does not say what a test waits for fails
the test with its whole output, so a broken example explains itself.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from gqlws_sync.testing import ReferenceServer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: Bound on a web server's start (Django and gunicorn import a lot on a busy 2-core machine).
START_TIMEOUT = 30.0
#: Bound on one HTTP answer, one streamed event, or one message reaching the GraphQL server.
READ_TIMEOUT = 10.0
#: Bound on a process's exit after it was asked to stop, before it is killed.
STOP_TIMEOUT = 10.0
#: gunicorn's worker processes, and threads in each, for the Django example.
WORKERS = 2
THREADS = 8


def free_port() -> int:
    """A port free on 127.0.0.1 right now, for servers that cannot report the one they bound.

    Another process could take it before the server binds it; on loopback, in a test run,
    that is rare enough, and the server's start then fails loudly rather than silently.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def example_env(url: str, **extra: str) -> dict[str, str]:
    """This process's environment with GQLWS_URL set, unbuffered output, and ``extra``."""
    return {**os.environ, "GQLWS_URL": url, "PYTHONUNBUFFERED": "1", **extra}


class AppProcess:
    """A long-running example (a web server) in its own process group, output captured.

    A thread reads its merged stdout and stderr line by line so that tests can wait for a
    line. ``stop()`` signals the group (a gunicorn master and its workers are one group, all
    started by this object), kills it when it does not exit in time, and joins the reader.
    """

    def __init__(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path | None = None,
        stop_signal: int = signal.SIGTERM,
    ) -> None:
        self.args = list(args)
        self.stop_signal = stop_signal
        self._lines: list[str] = []
        self._condition = threading.Condition()
        self._eof = False
        self.process = subprocess.Popen(
            self.args,
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            # Its own group, so stop() reaches the workers a server forks, and only them.
            start_new_session=True,
        )
        self._reader = threading.Thread(
            target=self._read, name=f"example-output-{self.process.pid}", daemon=True
        )
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        # Ends at EOF: when every process of the group has exited or closed the pipe.
        for line in stdout:
            with self._condition:
                self._lines.append(line.rstrip("\n"))
                self._condition.notify_all()
        with self._condition:
            self._eof = True
            self._condition.notify_all()

    @property
    def output(self) -> str:
        with self._condition:
            return "\n".join(self._lines)

    def wait_for_line(
        self, pattern: str, timeout: float = START_TIMEOUT, *, count: int = 1
    ) -> re.Match[str]:
        """Wait until the ``count``-th output line matching ``pattern``; return its match.

        Raises:
            AssertionError: The process ended, or ``timeout`` passed, first; the message has
                the output so far.
        """
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                matches = [m for m in map(regex.search, self._lines) if m is not None]
                if len(matches) >= count:
                    return matches[count - 1]
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    why = "exited" if self._eof else f"did not print it within {timeout} s"
                    raise AssertionError(
                        f"waiting for {pattern!r} (x{count}): {self.args[0]} {why}; "
                        f"output:\n{chr(10).join(self._lines)}"
                    )
                self._condition.wait(left)

    def stop(self) -> int:
        """Signal the process group, kill it if it lingers; return the exit status."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, self.stop_signal)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        # Workers may outlive their master; the group id is the pid of the process we started.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        status = self.process.wait(STOP_TIMEOUT)
        self._reader.join(STOP_TIMEOUT)
        assert not self._reader.is_alive(), f"output of {self.args[0]} still open"
        if self.process.stdout is not None:
            self.process.stdout.close()
        return status

    def __enter__(self) -> AppProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_flask(url: str) -> tuple[AppProcess, int]:
    """Start the example with GQLWS_URL=``url``; return it and its port once it listens."""
    port = free_port()
    app = AppProcess(
        [sys.executable, str(EXAMPLES / "flask_app.py")], env=example_env(url, PORT=str(port))
    )
    try:
        app.wait_for_line(rf"Running on http://127\.0\.0\.1:{port}")
    except BaseException:
        app.stop()
        raise
    return app, port


def start_gunicorn(url: str, *extra: str) -> tuple[AppProcess, int]:
    """Start the example under gunicorn; return it and its port once the workers booted."""
    app = AppProcess(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--preload",
            f"--workers={WORKERS}",
            f"--threads={THREADS}",
            "--bind=127.0.0.1:0",
            # Streams still open at shutdown would otherwise hold it for 30 s.
            "--graceful-timeout=5",
            *extra,
            "django_app:application",
        ],
        env=example_env(url),
        cwd=EXAMPLES,
    )
    try:
        port = int(app.wait_for_line(r"Listening at: http://127\.0\.0\.1:(\d+)").group(1))
        app.wait_for_line(r"Booting worker with pid", count=WORKERS)
    except BaseException:
        app.stop()
        raise
    return app, port


def get(port: int, path: str) -> tuple[int, str, str]:
    """GET ``path`` from 127.0.0.1:``port``; return the status, content type and body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=READ_TIMEOUT)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read().decode()
        return response.status, response.getheader("Content-Type", ""), body
    finally:
        connection.close()


def get_json(port: int, path: str) -> tuple[int, Any]:
    """GET ``path`` and decode its JSON body; return the status and the value."""
    status, content_type, body = get(port, path)
    assert content_type.startswith("application/json"), (status, content_type, body)
    return status, json.loads(body)


@dataclass(frozen=True)
class ServerSentEvent:
    """One event of a ``text/event-stream``: its type (``message`` unless named) and data."""

    event: str
    data: Any


class EventStream:
    """A ``text/event-stream`` response read event by event, like a browser's EventSource."""

    def __init__(self, port: int, path: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=READ_TIMEOUT)
        self.connection.request("GET", path, headers={"Accept": "text/event-stream"})
        self.response = self.connection.getresponse()
        self.status = self.response.status
        self.content_type = self.response.getheader("Content-Type", "")

    def next_event(self) -> ServerSentEvent:
        """Read up to the next event that has data; each read waits at most READ_TIMEOUT.

        Raises:
            AssertionError: The stream ended first.
        """
        event, data = "message", []
        while True:
            line = self.response.readline().decode()
            if not line:
                raise AssertionError("the event stream ended")
            line = line.rstrip("\r\n")
            if line:
                field, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if field == "event":
                    event = value
                elif field == "data":
                    data.append(value)
            elif data:  # a blank line ends an event; blocks without data (retry:) are skipped
                return ServerSentEvent(event, json.loads("\n".join(data)))

    def events(self) -> Iterator[ServerSentEvent]:
        while True:
            yield self.next_event()

    def close(self) -> None:
        """Hang up, as a browser does when its page is closed."""
        self.response.close()
        self.connection.close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _is_cancel(message: Mapping[str, Any], op_id: str) -> bool:
    # "complete" on graphql-transport-ws, "stop" on Apollo's graphql-ws.
    return message.get("id") == op_id and message.get("type") in ("complete", "stop")


def wait_for_subscription(
    server: ReferenceServer, field: str, timeout: float = READ_TIMEOUT, *, count: int = 1
) -> str:
    """Wait until a client has started a subscription on ``field``; return its id."""

    def match(message: dict[str, Any]) -> bool:
        payload = message.get("payload") or {}
        return message.get("type") in ("subscribe", "start") and field in str(
            payload.get("query", "")
        )

    message = server.received.wait_for(match, timeout, count=count, what=f"subscribe to {field}")
    op_id: str = message["id"]
    return op_id


def wait_for_cancel(
    server: ReferenceServer, op_id: str, timeout: float = READ_TIMEOUT
) -> dict[str, Any]:
    """Wait until the client has cancelled ``op_id`` on the server; return that message."""
    return server.received.wait_for(
        lambda message: _is_cancel(message, op_id), timeout, what=f"cancel of {op_id}"
    )


def cancelled(server: ReferenceServer, op_id: str) -> bool:
    """Whether the client has cancelled ``op_id`` so far."""
    return any(_is_cancel(message, op_id) for message in server.received)
