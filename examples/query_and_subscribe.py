"""Run a query, a mutation and a subscription on one connection.

Usage: python examples/query_and_subscribe.py [URL]

URL defaults to the environment variable GQLWS_URL, else ws://127.0.0.1:8000/graphql, where
``gqlws serve`` runs the reference server with the demo schema. Any server with ``hello``,
``increment`` and ``countdown`` fields will do.
"""

from __future__ import annotations

import os
import sys

from gqlws_sync import Client, TransportError

URL = os.environ.get("GQLWS_URL", "ws://127.0.0.1:8000/graphql")


def main(url: str) -> int:
    """Print each result as it comes; return the process exit code."""
    try:
        with Client(url) as client:
            data = client.execute(
                "query Greet($name: String) { hello(name: $name) }", variables={"name": "world"}
            )
            print("query:", data)

            data = client.execute("mutation { increment(by: 1) }")
            print("mutation:", data)

            # The loop ends when the server completes the stream; leaving it early (break,
            # an exception) would stop the subscription on the server instead.
            for event in client.subscribe("subscription { countdown(from: 3) }"):
                print("event:", event)
    except TransportError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1] if len(sys.argv) == 2 else URL))
