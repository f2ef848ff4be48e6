"""Run 1,000 queries from a thread pool over one connection, with a progress bar.

Usage:

    gqlws serve                          # the reference server, ws://127.0.0.1:8000/graphql
    python examples/thread_pool.py       # GQLWS_URL overrides the URL

The progress bar is tqdm's when it is installed (``pip install tqdm``), else a plain counter;
either goes to stderr, and the summary line to stdout.

Every worker thread calls ``execute()`` on the same ``Client``: the client sends each query
as it is asked and its reader thread hands each answer to the thread that is waiting for it,
so the pool needs one connection, not one per thread. ``threads.py`` is the minimal version.
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import Any, Protocol, TextIO

from gqlws_sync import Client, TransportError

URL = os.environ.get("GQLWS_URL", "ws://127.0.0.1:8000/graphql")
QUERIES = 1000
THREADS = 32
ADD = "query Add($a: Int!, $b: Int!) { add(a: $a, b: $b) }"
#: Per query: a query that takes longer means the server is in trouble, not busy.
QUERY_TIMEOUT = 10.0


class Progress(Protocol):
    """The part of tqdm's interface used here."""

    def update(self, n: int = 1) -> object: ...

    def close(self) -> None: ...


class Counter:
    """A progress display for when tqdm is not installed: ``done/total`` on one line."""

    def __init__(self, total: int, stream: TextIO = sys.stderr) -> None:
        self.total = total
        self.done = 0
        self.stream = stream
        self.step = max(1, total // 20)  # redraw 20 times, not 1,000

    def update(self, n: int = 1) -> None:
        self.done += n
        if self.done % self.step == 0 or self.done == self.total:
            print(f"\r{self.done}/{self.total} queries", end="", file=self.stream, flush=True)

    def close(self) -> None:
        print(file=self.stream)


def progress_bar(total: int) -> Progress:
    """tqdm's bar when it is installed, else a ``Counter``."""
    try:
        # Optional, so imported here: the example runs without it.
        from tqdm import tqdm  # noqa: PLC0415
    except ImportError:
        return Counter(total)
    bar: Progress = tqdm(total=total, unit="query")
    return bar


def main(url: str) -> int:
    """Run QUERIES additions from THREADS threads; print a summary; return the exit code."""
    wrong = 0
    try:
        with Client(url) as client, ThreadPoolExecutor(THREADS) as pool:
            started = time.perf_counter()
            futures: dict[Future[dict[str, Any]], int] = {
                pool.submit(client.execute, ADD, {"a": n, "b": n}, timeout=QUERY_TIMEOUT): n
                for n in range(QUERIES)
            }
            bar = progress_bar(QUERIES)
            try:
                # as_completed, not map: the bar moves as answers arrive, in any order.
                for future in as_completed(futures):
                    n = futures[future]
                    wrong += future.result()["add"] != 2 * n
                    bar.update(1)
            finally:
                bar.close()
            elapsed = time.perf_counter() - started
    except TransportError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(
        f"{QUERIES} answers from {THREADS} threads over one connection "
        f"in {elapsed:.2f} s, {wrong} wrong"
    )
    return 0 if wrong == 0 else 1


if __name__ == "__main__":
    if len(sys.argv) > 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1] if len(sys.argv) == 2 else URL))
