"""A WSGI app whose one Client is created, and even used, at import: under gunicorn
``--preload`` that happens in the master, before the workers are forked. Run with
``GQLWS_URL=ws://... gunicorn --preload preload_app:app``."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any

from gqlws_sync import Client

client = Client(os.environ["GQLWS_URL"])
# Used in the master: its connection and threads exist when gunicorn forks the workers.
WARMED_UP = client.execute("{ hello }")


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    query = environ.get("QUERY_STRING", "")
    n = int(query.partition("=")[2] or 0)
    data = client.execute("query A($a: Int!) { add(a: $a, b: 1) }", {"a": n})
    body = json.dumps({"pid": os.getpid(), "data": data}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
