"""Share one connection between many threads.

Usage: python examples/threads.py [URL]

A ``Client`` is thread-safe: its reader thread routes each answer to the thread that asked,
so a pool of workers needs one connection, not one each. URL defaults to the environment
variable GQLWS_URL, else ws://127.0.0.1:8000/graphql, where ``gqlws serve`` runs the
reference server with the demo schema (``add(a, b)``). ``thread_pool.py`` does the same with
a progress bar.
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from gqlws_sync import Client, TransportError

URL = os.environ.get("GQLWS_URL", "ws://127.0.0.1:8000/graphql")
THREADS = 16
QUERIES = 400
ADD = "query Add($a: Int!, $b: Int!) { add(a: $a, b: $b) }"


def main(url: str) -> int:
    """Run QUERIES additions from THREADS threads and check every answer."""
    try:
        with Client(url) as client, ThreadPoolExecutor(THREADS) as pool:
            started = time.perf_counter()
            results = list(
                pool.map(lambda n: client.execute(ADD, {"a": n, "b": n})["add"], range(QUERIES))
            )
            elapsed = time.perf_counter() - started
    except TransportError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    wrong = sum(result != 2 * n for n, result in enumerate(results))
    print(f"{QUERIES} queries from {THREADS} threads in {elapsed:.2f} s, {wrong} wrong")
    return 0 if wrong == 0 else 1


if __name__ == "__main__":
    if len(sys.argv) > 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1] if len(sys.argv) == 2 else URL))
