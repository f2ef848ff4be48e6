"""Fixtures for the command-line tests: the ``gqlws`` command run as a real subprocess.

Every run has a deadline, and output is read as it comes (a thread per pipe), so a test waits
on the line it needs instead of sleeping, and a hung command fails the test with what it
printed so far.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import IO, Protocol

import pytest

from gqlws_sync.testing import ServerFactory

#: The command under test; ``-m`` rather than the ``gqlws`` script, so it runs from this venv.
COMMAND = [sys.executable, "-m", "gqlws_sync"]
#: Upper bound on one run: startup is ~0.2 s; the slowest case (the demo) takes ~2 s.
RUN_TIMEOUT = 20.0
#: Upper bound on the wait for one line of a streaming run.
LINE_TIMEOUT = 10.0


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # Python's own error messages (if any) must not depend on the test runner's locale.
    env["PYTHONIOENCODING"] = "utf-8"
    env.pop("PYTHONWARNINGS", None)
    return env


class RunCli(Protocol):
    def __call__(
        self, *args: str, stdin: str | None = None, timeout: float = RUN_TIMEOUT
    ) -> subprocess.CompletedProcess[str]: ...


@pytest.fixture
def run_cli() -> RunCli:
    """Run ``python -m gqlws_sync ARGS...`` to completion and return its result."""

    def run(
        *args: str, stdin: str | None = None, timeout: float = RUN_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*COMMAND, *args],
            input=stdin,
            # Without input, stdin must not be the test runner's: a command that wrongly
            # reads it would wait forever.
            stdin=subprocess.DEVNULL if stdin is None else None,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            env=_env(),
            check=False,
        )

    return run


class CliProcess:
    """A running command whose stdout can be read line by line with a deadline."""

    def __init__(self, args: list[str], stdout: int | IO[bytes] | None = subprocess.PIPE) -> None:
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env=_env(),
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[str] = []
        self._readers: list[threading.Thread] = []
        if self.process.stdout is not None:
            self._start_reader("stdout", self.process.stdout, self._lines.put)
        assert self.process.stderr is not None
        self._start_reader("stderr", self.process.stderr, self._stderr.append)

    def _start_reader(self, name: str, pipe: IO[str], sink: Callable[[str], None]) -> None:
        def read() -> None:
            with pipe:
                for line in pipe:
                    sink(line)
            if pipe is self.process.stdout:
                self._lines.put(None)  # end of output

        thread = threading.Thread(target=read, name=f"cli-{name}-reader", daemon=True)
        thread.start()
        self._readers.append(thread)

    def line(self, timeout: float = LINE_TIMEOUT) -> str:
        """The next line of stdout.

        Raises:
            AssertionError: none within ``timeout``, or the output ended.
        """
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no output line within {timeout} s: {self.stderr!r}") from None
        assert line is not None, f"output ended; stderr: {self.stderr!r}"
        return line

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def wait(self, timeout: float = RUN_TIMEOUT) -> int:
        """Wait for the exit and for both pipes to be drained; return the exit code."""
        code = self.process.wait(timeout)
        for thread in self._readers:
            thread.join(timeout)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(RUN_TIMEOUT)
        for thread in self._readers:
            thread.join(RUN_TIMEOUT)


StartCli = Callable[..., CliProcess]


@pytest.fixture
def start_cli(gqlws_server_factory: ServerFactory) -> Iterator[StartCli]:
    """Start ``python -m gqlws_sync ARGS...`` in the background; killed at teardown.

    Depending on the server factory makes this teardown run first, so no server waits on a
    client that is still running.
    """
    started: list[CliProcess] = []

    def start(*args: str, stdout: int | IO[bytes] | None = subprocess.PIPE) -> CliProcess:
        process = CliProcess([*COMMAND, *args], stdout=stdout)
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()
