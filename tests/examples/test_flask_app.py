"""examples/flask_app.py under Flask's threaded development server, in its own process."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import islice

import pytest

from gqlws_sync.testing import ReferenceServer

from .support import (
    EventStream,
    get,
    get_json,
    start_flask,
    wait_for_cancel,
    wait_for_subscription,
)

pytest.importorskip("flask", reason="the Flask example needs flask installed")


@pytest.fixture
def flask_port(gqlws_server: ReferenceServer) -> Iterator[int]:
    """The port of the Flask example, running against the reference server."""
    app, port = start_flask(gqlws_server.url)
    with app:
        yield port


def test_query(flask_port: int, gqlws_server: ReferenceServer) -> None:
    """/query answers with the query's data as JSON."""
    assert get_json(flask_port, "/query?name=Ada") == (200, {"hello": "Hello Ada"})


def test_concurrent_requests_share_one_connection(
    flask_port: int, gqlws_server: ReferenceServer
) -> None:
    """Requests on many threads at once, from the first on, connect the client once."""
    names = [f"n{index}" for index in range(40)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda name: get_json(flask_port, f"/query?name={name}"), names))
    assert answers == [(200, {"hello": f"Hello {name}"}) for name in names]
    assert len(gqlws_server.handshakes) == 1
    assert gqlws_server.connection_count() == 1


def test_page(flask_port: int) -> None:
    """/ is an HTML page that opens the event stream."""
    status, content_type, body = get(flask_port, "/")
    assert (status, content_type) == (200, "text/html; charset=utf-8")
    assert 'new EventSource("events" + location.search)' in body


def test_events_stream_and_cancel_when_the_client_hangs_up(
    flask_port: int, gqlws_server: ReferenceServer
) -> None:
    """/events streams ticks; hanging up cancels the subscription on the GraphQL server."""
    with EventStream(flask_port, "/events?interval=0.05") as stream:
        assert stream.status == 200
        assert stream.content_type.startswith("text/event-stream")
        events = list(islice(stream.events(), 3))
        op_id = wait_for_subscription(gqlws_server, "ticks")
    assert [(event.event, event.data) for event in events] == [
        ("message", {"ticks": 0}),
        ("message", {"ticks": 1}),
        ("message", {"ticks": 2}),
    ]
    # Werkzeug finds the browser gone at its next write and closes the generator.
    wait_for_cancel(gqlws_server, op_id)
    # Only the subscription ended; the shared connection stays for the next request.
    assert get_json(flask_port, "/query") == (200, {"hello": "Hello world"})
    assert len(gqlws_server.handshakes) == 1


def test_two_streams_at_once(flask_port: int, gqlws_server: ReferenceServer) -> None:
    """Each stream is its own subscription; closing one leaves the other running."""
    with EventStream(flask_port, "/events?interval=0.05") as first:
        first.next_event()
        with EventStream(flask_port, "/events?interval=0.05") as second:
            second.next_event()
            first_id = wait_for_subscription(gqlws_server, "ticks")
            second_id = wait_for_subscription(gqlws_server, "ticks", count=2)
        wait_for_cancel(gqlws_server, second_id)
        assert first.next_event().event == "message"
    wait_for_cancel(gqlws_server, first_id)
    assert len(gqlws_server.handshakes) == 1


def test_graphql_server_down() -> None:
    """Without a GraphQL server, /query answers 502 and /events sends a failure event."""
    app, port = start_flask("ws://127.0.0.1:9/graphql")
    with app:
        status, body = get_json(port, "/query")
        assert status == 502
        assert body["error"].startswith("TransportConnectionFailed: ")
        with EventStream(port, "/events") as stream:
            event = stream.next_event()
        assert event.event == "failure"
        assert event.data["error"].startswith("TransportConnectionFailed: ")
