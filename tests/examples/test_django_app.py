"""examples/django_app.py under Django's development server and under a real gunicorn.

gunicorn runs with ``--preload --workers 2 --threads 8``: the module, and so the client, is
created in the master, which then forks the workers. Every worker must get a connection of
its own, and a stream's cancel must still reach the GraphQL server from a forked worker.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from pathlib import Path

import pytest

from gqlws_sync.testing import ReferenceServer

from .support import (
    EXAMPLES,
    WORKERS,
    AppProcess,
    EventStream,
    example_env,
    free_port,
    get,
    get_json,
    start_gunicorn,
    wait_for_cancel,
    wait_for_subscription,
)

pytest.importorskip("django", reason="the Django example needs django installed")

REQUESTS = 200
#: Concurrent HTTP clients: more than one worker's threads, so both workers get requests.
CLIENTS = 32

#: A gunicorn hook that runs in the master after --preload imported the app and before any
#: worker is forked: it connects the master's client, so the workers inherit a live one.
WARM_MASTER_CONFIG = """
def when_ready(server):
    import django_app

    django_app.client.execute("{ hello }", timeout=5)
    server.log.info("master connected: %s", django_app.client)
"""


@pytest.fixture
def gunicorn_port(gqlws_server: ReferenceServer) -> Iterator[int]:
    """The port of the example under gunicorn, running against the reference server."""
    app, port = start_gunicorn(gqlws_server.url)
    with app:
        yield port


def query_many(port: int) -> list[tuple[int, object]]:
    names = [f"n{index}" for index in range(REQUESTS)]
    with ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(lambda name: get_json(port, f"/query?name={name}"), names))


def test_gunicorn_concurrent_queries(gunicorn_port: int, gqlws_server: ReferenceServer) -> None:
    """200 queries from 32 clients all succeed, over at most one connection per worker."""
    # Created in the master before the fork, but connected by nobody yet.
    assert len(gqlws_server.handshakes) == 0
    answers = query_many(gunicorn_port)
    failed = [
        answer for n, answer in enumerate(answers) if answer != (200, {"hello": f"Hello n{n}"})
    ]
    assert failed == []
    assert 1 <= len(gqlws_server.handshakes) <= WORKERS
    assert gqlws_server.connection_count() == len(gqlws_server.handshakes)


def test_gunicorn_workers_inherit_a_connected_client(
    gqlws_server: ReferenceServer, tmp_path: Path
) -> None:
    """A client the master connected before forking connects afresh in each worker."""
    config = tmp_path / "gunicorn_conf.py"
    config.write_text(WARM_MASTER_CONFIG)
    app, port = start_gunicorn(gqlws_server.url, f"--config={config}")
    with app:
        app.wait_for_line(r"master connected: <Client .* open>")
        assert len(gqlws_server.handshakes) == 1
        answers = query_many(port)
        failed = [a for n, a in enumerate(answers) if a != (200, {"hello": f"Hello n{n}"})]
        assert failed == []
        # The master's connection plus one per worker that served a request.
        assert 2 <= len(gqlws_server.handshakes) <= 1 + WORKERS
        assert gqlws_server.connection_count() == len(gqlws_server.handshakes)


def test_gunicorn_events_stream_and_cancel(
    gunicorn_port: int, gqlws_server: ReferenceServer
) -> None:
    """A forked worker streams ticks and cancels the subscription when the client hangs up."""
    with EventStream(gunicorn_port, "/events?interval=0.05") as stream:
        assert stream.status == 200
        assert stream.content_type.startswith("text/event-stream")
        events = list(islice(stream.events(), 3))
        op_id = wait_for_subscription(gqlws_server, "ticks")
    assert [event.data for event in events] == [{"ticks": 0}, {"ticks": 1}, {"ticks": 2}]
    wait_for_cancel(gqlws_server, op_id)


def test_development_server(gqlws_server: ReferenceServer) -> None:
    """``python django_app.py`` serves the three routes with Django's runserver."""
    port = free_port()
    app = AppProcess(
        [sys.executable, str(EXAMPLES / "django_app.py")],
        env=example_env(gqlws_server.url, PORT=str(port)),
        # Django's runserver stops on Ctrl-C.
        stop_signal=signal.SIGINT,
    )
    with app:
        app.wait_for_line(rf"Starting development server at http://127\.0\.0\.1:{port}/")
        status, content_type, body = get(port, "/")
        assert (status, content_type) == (200, "text/html; charset=utf-8")
        assert 'new EventSource("events" + location.search)' in body
        assert get_json(port, "/query?name=Ada") == (200, {"hello": "Hello Ada"})
        with EventStream(port, "/events?interval=0.05") as stream:
            assert [stream.next_event().data for _ in range(3)] == [
                {"ticks": 0},
                {"ticks": 1},
                {"ticks": 2},
            ]
            op_id = wait_for_subscription(gqlws_server, "ticks")
        wait_for_cancel(gqlws_server, op_id)
        assert len(gqlws_server.handshakes) == 1


def test_graphql_server_down() -> None:
    """Without a GraphQL server, /query answers 502 and /events sends a failure event."""
    app, port = start_gunicorn("ws://127.0.0.1:9/graphql")
    with app:
        status, body = get_json(port, "/query")
        assert status == 502
        assert isinstance(body, dict)
        assert body["error"].startswith("TransportConnectionFailed: ")
        with EventStream(port, "/events") as stream:
            event = stream.next_event()
        assert event.event == "failure"
        assert event.data["error"].startswith("TransportConnectionFailed: ")
