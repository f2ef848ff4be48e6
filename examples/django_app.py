"""A one-file Django app whose request threads share one Client: a query, a live stream.

Usage:

    gqlws serve                          # the reference server, ws://127.0.0.1:8000/graphql
    python examples/django_app.py        # Django's development server, http://127.0.0.1:8001/

or under gunicorn, with threads in each worker and the app imported before the fork:

    cd examples
    gunicorn --preload --workers 2 --threads 8 --bind 127.0.0.1:8001 django_app:application

Routes:

- ``/``: a page that shows the events of ``/events`` as they arrive.
- ``/query?name=you``: the answer of one query, as JSON.
- ``/events?interval=0.5``: the ``ticks`` subscription as Server-Sent Events, one event
  every ``interval`` seconds, until the browser goes away.

Environment: ``GQLWS_URL`` (default ``ws://127.0.0.1:8000/graphql``) and ``PORT`` (default
8001, for the development server).

Settings are made in code so the example stays one file; a real project keeps them in
``settings.py`` and the client in a module of its own (``myproject/graphql.py``), imported
by the views. The client is created at import and never connected there: the first request
that needs it connects it, once per process, however many threads ask at the same moment.
With ``--preload`` the import happens in gunicorn's master, before it forks the workers;
each worker then connects its own connection on first use, since a socket and the threads
reading it cannot be shared across a fork. See docs/web-apps.md.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import sys
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import path

from gqlws_sync import Client, TransportError, TransportQueryError

URL = os.environ.get("GQLWS_URL", "ws://127.0.0.1:8000/graphql")
PORT = int(os.environ.get("PORT", "8001"))

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

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    # Nothing here signs or encrypts; a real project reads its key from the environment.
    SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(32),
    INSTALLED_APPS=[],
    MIDDLEWARE=[],
)

PAGE = """<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>gqlws_sync and Django</title>
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

# Created at import, connected by the first request that uses it (see the docstring).
client = Client(URL)


def index(request: HttpRequest) -> HttpResponse:
    return HttpResponse(PAGE)


def query(request: HttpRequest) -> JsonResponse:
    """Run one query on the shared connection; any number of threads may do so at once."""
    name = request.GET.get("name", "world")
    try:
        data = client.execute(HELLO, {"name": name}, timeout=QUERY_TIMEOUT)
    except TransportQueryError as exc:  # the GraphQL server answered with errors
        return JsonResponse({"errors": exc.errors}, status=400)
    except TransportError as exc:  # it could not be reached or did not answer
        return JsonResponse({"error": f"{type(exc).__name__}: {exc}"}, status=502)
    return JsonResponse(data)


def server_sent_event(data: Any, event: str | None = None) -> str:
    """Format one event of the ``text/event-stream`` format (one JSON line of data)."""
    head = "" if event is None else f"event: {event}\n"
    return f"{head}data: {json.dumps(data)}\n\n"


def stream_ticks(interval: float) -> Iterator[str]:
    """Yield the subscription's events until it ends, fails, or this generator is closed.

    The body runs when the WSGI server starts sending the response, not in the view, so the
    subscription lives exactly as long as the stream. When the browser goes away, the
    server's next write fails and it closes the response, which closes this generator
    (``StreamingHttpResponse.close()`` calls the generator's ``close()``): ``GeneratorExit``
    is raised at the ``yield``, and leaving the ``with`` block cancels the subscription on
    the GraphQL server.
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


def events(request: HttpRequest) -> StreamingHttpResponse:
    """Stream the ``ticks`` subscription as Server-Sent Events.

    Each open stream holds one server thread for as long as the browser stays: size the
    server's threads for the streams plus the ordinary requests.
    """
    try:
        interval = float(request.GET.get("interval", DEFAULT_INTERVAL))
    except ValueError:
        interval = DEFAULT_INTERVAL
    if not math.isfinite(interval):
        interval = DEFAULT_INTERVAL
    interval = min(max(interval, MIN_INTERVAL), MAX_INTERVAL)
    response = StreamingHttpResponse(stream_ticks(interval), content_type="text/event-stream")
    # No caching, and no buffering by a proxy such as nginx: each event must go out now.
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


urlpatterns = [
    path("", index),
    path("query", query),
    path("events", events),
]

application = get_wsgi_application()


if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    # --noreload: the reloader would run this file again in a child process; the
    # development server already runs each request in its own thread.
    execute_from_command_line([sys.argv[0], "runserver", "--noreload", f"127.0.0.1:{PORT}"])
