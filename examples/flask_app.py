"""A Flask app whose request threads share one Client: a query per request, a live stream.

Usage:

    gqlws serve                          # the reference server, ws://127.0.0.1:8000/graphql
    python examples/flask_app.py         # then open http://127.0.0.1:5000/

Routes:

- ``/``: a page that shows the events of ``/events`` as they arrive.
- ``/query?name=you``: the answer of one query, as JSON.
- ``/events?interval=0.5``: the ``ticks`` subscription as Server-Sent Events, one event
  every ``interval`` seconds, until the browser goes away.

Environment: ``GQLWS_URL`` (default ``ws://127.0.0.1:8000/graphql``) and ``PORT`` (default
5000). Under gunicorn: ``gunicorn --workers 2 --threads 8 --chdir examples flask_app:app``.

Why one module-level client: opening a WebSocket per request would cost a handshake each
time, and a ``Client`` is safe to share between threads. It is created at import and not
connected there: the first request that needs it connects it, once, however many threads
ask at the same moment, and every later request reuses the connection. A server that forks
workers after importing the app (gunicorn ``--preload``) is fine too: the client connects
afresh in each worker on first use. See docs/web-apps.md.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, jsonify, request

from gqlws_sync import Client, TransportError, TransportQueryError

URL = os.environ.get("GQLWS_URL", "ws://127.0.0.1:8000/graphql")
PORT = int(os.environ.get("PORT", "5000"))

HELLO = "query Greet($name: String) { hello(name: $name) }"
TICKS = "subscription Ticks($interval: Float) { ticks(interval: $interval) }"
#: A request must end even when the GraphQL server does not answer: every wait is bounded.
QUERY_TIMEOUT = 5.0
#: How long a stream waits for the next event, beyond the interval, before giving up.
EVENT_GRACE = 10.0
#: Bounds on ``?interval=``: faster would flood the page, slower would look dead.
MIN_INTERVAL, MAX_INTERVAL, DEFAULT_INTERVAL = 0.05, 10.0, 1.0
#: What the browser waits before reconnecting a stream that ended, in milliseconds.
RETRY_MS = 2000

PAGE = """<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>gqlws_sync and Flask</title>
<h1>ticks</h1>
<p>query: <code id="query">...</code></p>
<p>stream: <span id="status">connecting</span></p>
<ol id="events"></ol>
<script>
  const list = document.getElementById("events");
  const status = document.getElementById("status");
  fetch("query").then((response) => response.json()).then((data) => {
    document.getElementById("query").textContent = JSON.stringify(data);
  });
  // The page's own query string (?interval=...) is passed on to the stream.
  const source = new EventSource("events" + location.search);
  source.onopen = () => { status.textContent = "open"; };
  source.onmessage = (message) => {
    const item = document.createElement("li");
    item.textContent = message.data;
    list.append(item);
  };
  source.addEventListener("failure", (message) => {
    status.textContent = "failed: " + JSON.parse(message.data).error;
  });
  // Fired when the stream ends or breaks; EventSource reconnects by itself.
  source.onerror = () => { status.textContent = "reconnecting"; };
</script>
</html>
"""

app = Flask(__name__)
# Created at import, connected by the first request that uses it (see the docstring).
client = Client(URL)


@app.errorhandler(TransportQueryError)
def query_failed(exc: TransportQueryError) -> tuple[Response, int]:
    """The GraphQL server answered with errors: say which."""
    return jsonify(errors=exc.errors), 400


@app.errorhandler(TransportError)
def upstream_failed(exc: TransportError) -> tuple[Response, int]:
    """The GraphQL server could not be reached or did not answer: the upstream failed."""
    return jsonify(error=f"{type(exc).__name__}: {exc}"), 502


@app.get("/")
def index() -> str:
    return PAGE


@app.get("/query")
def query() -> Response:
    """Run one query on the shared connection; any number of threads may do so at once."""
    name = request.args.get("name", "world")
    return jsonify(client.execute(HELLO, {"name": name}, timeout=QUERY_TIMEOUT))


def server_sent_event(data: Any, event: str | None = None) -> str:
    """Format one event of the ``text/event-stream`` format (one JSON line of data)."""
    head = "" if event is None else f"event: {event}\n"
    return f"{head}data: {json.dumps(data)}\n\n"


def stream_ticks(interval: float) -> Iterator[str]:
    """Yield the subscription's events until it ends, fails, or this generator is closed.

    The body runs when the web server starts sending the response, not in the view, so the
    subscription lives exactly as long as the stream. When the browser goes away, the web
    server's next write fails and it calls ``close()`` on the response, which closes this
    generator: ``GeneratorExit`` is raised at the ``yield`` and leaving the ``with`` block
    cancels the subscription on the GraphQL server. Without the ``with``, the subscription
    would live on until garbage collection.
    """
    # Sent at once so the browser sees the stream open even before the first event.
    yield f"retry: {RETRY_MS}\n\n"
    try:
        with client.subscribe(
            TICKS, {"interval": interval}, timeout=interval + EVENT_GRACE
        ) as ticks:
            for data in ticks:
                yield server_sent_event(data)
    except TransportError as exc:  # not GeneratorExit: that one must go through
        yield server_sent_event({"error": f"{type(exc).__name__}: {exc}"}, event="failure")


@app.get("/events")
def events() -> Response:
    """Stream the ``ticks`` subscription as Server-Sent Events."""
    interval = request.args.get("interval", DEFAULT_INTERVAL, type=float)
    if not math.isfinite(interval):
        interval = DEFAULT_INTERVAL
    interval = min(max(interval, MIN_INTERVAL), MAX_INTERVAL)
    return Response(
        stream_ticks(interval),
        mimetype="text/event-stream",
        # No caching, and no buffering by a proxy such as nginx: each event must go out now.
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


if __name__ == "__main__":
    # The development server runs each request in its own thread (threaded=True is Flask's
    # default, written out because the shared client is what makes it work).
    app.run(host="127.0.0.1", port=PORT, threaded=True)
