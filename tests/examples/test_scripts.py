"""Smoke tests: every script in examples/ runs against the reference server and says so."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gqlws_sync.testing import ReferenceServer

from .support import EXAMPLES, AppProcess

#: Each example takes a few seconds at most; this only catches a hang.
RUN_TIMEOUT = 30.0


def run_example(
    name: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run one example to its end; ``env`` adds to (or overrides) this process's environment."""
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=RUN_TIMEOUT,
        check=False,
    )


def test_every_example_has_a_test() -> None:
    """A new example must be added to the tests below or get a test module of its own."""
    assert sorted(path.name for path in EXAMPLES.iterdir() if path.is_file()) == [
        "django_app.py",  # test_django_app.py, test_browser.py
        "flask_app.py",  # test_flask_app.py, test_browser.py
        "notebook.ipynb",  # test_notebook.py
        "query_and_subscribe.py",
        "thread_pool.py",
        "threads.py",
        "token_refresh.py",  # test_token_refresh.py
        "wsgi_view.py",
    ]


def test_query_and_subscribe(gqlws_server: ReferenceServer) -> None:
    """The query, the mutation and three countdown events, in order."""
    result = run_example("query_and_subscribe.py", gqlws_server.url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "query: {'hello': 'Hello world'}",
        "mutation: {'increment': 1}",
        "event: {'countdown': 3}",
        "event: {'countdown': 2}",
        "event: {'countdown': 1}",
    ]


def test_threads(gqlws_server: ReferenceServer) -> None:
    """Every threaded query got its own correct answer, over one connection."""
    result = run_example("threads.py", gqlws_server.url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("400 queries from 16 threads in ")
    assert result.stdout.rstrip().endswith(", 0 wrong")
    assert len(gqlws_server.handshakes) == 1


def test_wsgi_view(gqlws_server: ReferenceServer) -> None:
    """Concurrent requests of the WSGI app share the one connection."""
    result = run_example("wsgi_view.py", gqlws_server.url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f'GET /?name={name} -> {{"hello": "Hello {name}"}}'
        for name in ("Ada", "Grace", "Linus", "Barbara")
    ]
    assert len(gqlws_server.handshakes) == 1


@pytest.mark.parametrize("name", ["query_and_subscribe.py", "threads.py", "wsgi_view.py"])
def test_url_from_the_environment(gqlws_server: ReferenceServer, name: str) -> None:
    """Without a URL argument an example connects to GQLWS_URL."""
    result = run_example(name, env={"GQLWS_URL": gqlws_server.url})
    assert result.returncode == 0, result.stderr
    assert len(gqlws_server.handshakes) == 1


@pytest.mark.parametrize(
    "name", ["query_and_subscribe.py", "thread_pool.py", "threads.py", "wsgi_view.py"]
)
def test_unreachable_server_fails_cleanly(name: str) -> None:
    """An example whose server is down says so in one line and exits 1."""
    result = run_example(name, "ws://127.0.0.1:9/graphql")
    assert result.returncode == 1
    assert result.stderr.startswith("error: TransportConnectionFailed: ")
    assert "Traceback" not in result.stderr


def test_thread_pool(gqlws_server: ReferenceServer) -> None:
    """1,000 queries from the pool, all answered, over one connection, with a progress bar."""
    result = run_example("thread_pool.py", env={"GQLWS_URL": gqlws_server.url})
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(
        r"1000 answers from 32 threads over one connection in \d+\.\d\d s, 0 wrong\n",
        result.stdout,
    )
    assert len(gqlws_server.handshakes) == 1
    assert sum(message["type"] == "subscribe" for message in gqlws_server.received) == 1000
    if importlib.util.find_spec("tqdm") is not None:
        assert "1000/1000" in result.stderr


def test_thread_pool_without_tqdm(gqlws_server: ReferenceServer, tmp_path: Path) -> None:
    """Where tqdm cannot be imported, a plain counter shows the progress instead."""
    (tmp_path / "tqdm.py").write_text('raise ImportError("tqdm hidden by the test")\n')
    result = run_example(
        "thread_pool.py",
        env={"GQLWS_URL": gqlws_server.url, "PYTHONPATH": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(", 0 wrong\n")
    # Text mode reads the counter's carriage returns as line ends.
    assert result.stderr.endswith("\n1000/1000 queries\n")


def test_against_gqlws_serve() -> None:
    """What the docstrings say: ``gqlws serve`` in one terminal, an example in another."""
    with AppProcess(
        [sys.executable, "-m", "gqlws_sync", "serve", "--port", "0"], env=dict(os.environ)
    ) as serve:
        url = serve.wait_for_line(r"^(ws://127\.0\.0\.1:\d+/graphql)$").group(1)
        result = run_example("query_and_subscribe.py", env={"GQLWS_URL": url})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "event: {'countdown': 1}"
