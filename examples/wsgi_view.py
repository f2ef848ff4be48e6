"""One Client shared by every request of a threaded WSGI app, with the standard library only.

Usage: python examples/wsgi_view.py [URL] [--serve PORT]

Web servers run each request in its own thread, and opening a WebSocket per request would
cost a handshake each time. Create one ``Client`` per process and let every request use it.
This uses only the standard library's ``wsgiref`` so it runs anywhere; ``flask_app.py`` and
``django_app.py`` are the same idea in those frameworks, with a streamed subscription too.

Without ``--serve`` it starts the app on a free port, requests it from a few threads and
exits; with ``--serve PORT`` it serves http://127.0.0.1:PORT/?name=you until Ctrl-C. URL
defaults to the environment variable GQLWS_URL, else ws://127.0.0.1:8000/graphql, where
``gqlws serve`` runs the reference server with the demo schema.
"""

from __future__ import annotations

import json
import os
import socketserver
import sys
import threading
import urllib.request
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from gqlws_sync import Client, TransportError, TransportQueryError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

URL = os.environ.get("GQLWS_URL", "ws://127.0.0.1:8000/graphql")
HELLO = "query Greet($name: String) { hello(name: $name) }"
#: A view must answer even when the GraphQL server does not: never wait without a bound.
QUERY_TIMEOUT = 5.0


def make_app(client: Client) -> WSGIApplication:
    """Build the WSGI app; ``client`` is connected once and shared by all requests."""

    def hello_view(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        name = parse_qs(environ.get("QUERY_STRING", "")).get("name", ["world"])[0]
        status = "200 OK"
        try:
            body: Any = client.execute(HELLO, {"name": name}, timeout=QUERY_TIMEOUT)
        except TransportQueryError as exc:
            status, body = "400 Bad Request", {"errors": exc.errors}
        except TransportError as exc:  # connection trouble: the upstream failed, not us
            status, body = "502 Bad Gateway", {"error": str(exc)}
        payload = json.dumps(body).encode()
        start_response(
            status,
            [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
        )
        return [payload]

    return hello_view


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """wsgiref's server, one thread per request like a production server."""

    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # the base class's names
        pass


def fetch(port: int, name: str) -> str:
    url = f"http://127.0.0.1:{port}/?name={quote(name)}"
    with urllib.request.urlopen(url, timeout=QUERY_TIMEOUT) as response:
        text: str = response.read().decode()
        return text


def main(url: str, serve_port: int | None = None) -> int:
    """Serve the app; without ``serve_port``, request it a few times and return."""
    client = Client(url)
    try:
        client.connect()  # once per process, before the first request
    except TransportError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    try:
        with make_server(
            "127.0.0.1",
            serve_port or 0,
            make_app(client),
            server_class=ThreadingWSGIServer,
            handler_class=QuietHandler,
        ) as server:
            if serve_port is not None:
                print(f"serving http://127.0.0.1:{serve_port}/?name=you (Ctrl-C stops)")
                try:
                    server.serve_forever()
                except KeyboardInterrupt:
                    pass
                return 0
            thread = threading.Thread(target=server.serve_forever, name="wsgi-server")
            thread.start()
            try:
                names = ["Ada", "Grace", "Linus", "Barbara"]
                with ThreadPoolExecutor(len(names)) as pool:
                    bodies = list(pool.map(lambda n: fetch(server.server_port, n), names))
            finally:
                server.shutdown()
                thread.join(QUERY_TIMEOUT)
    finally:
        client.close()
    for name, body in zip(names, bodies, strict=True):
        print(f"GET /?name={name} -> {body}")
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    url = args.pop(0) if args and not args[0].startswith("--") else URL
    if not args:
        sys.exit(main(url))
    if len(args) == 2 and args[0] == "--serve" and args[1].isdigit():
        sys.exit(main(url, int(args[1])))
    sys.exit(__doc__)
