"""``python -m gqlws_sync demo``: the client at work against the embedded reference server.

A tour for a person (a few seconds of output) that doubles as a smoke test for CI: every
step checks what it got, and anything unexpected ends the demo with exit code 1 and a
message saying which step broke. It needs the ``server`` extra (websockets).

This is a program, not the library: printing is its job.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from .client import Client
from .exceptions import TransportClosed

if TYPE_CHECKING:
    from .testing import ReferenceServer

__all__ = ["DemoFailure", "main"]

#: The thread demo: enough threads and queries to show interleaving on one socket, few
#: enough to finish in well under a second.
THREADS = 12
QUERIES_PER_THREAD = 20
#: Events shown from the live subscription, and the pause the server puts between them:
#: slow enough to watch them arrive.
TICKS_SHOWN = 5
TICK_INTERVAL = 0.25
#: Every wait of the demo is bounded by this, so a broken client fails the demo, not hangs it.
STEP_TIMEOUT = 5.0


class DemoFailure(Exception):
    """Something the demo checks came out wrong: the client or the server is broken."""


def _expect(condition: bool, what: str) -> None:
    # Not assert: python -O would skip the checks that make the demo a smoke test.
    if not condition:
        raise DemoFailure(what)


def _show(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def step_query(client: Client) -> None:
    """A query with a variable."""
    document = "query Greet($name: String) { hello(name: $name) }"
    started = time.perf_counter()
    data = client.execute(document, {"name": "demo"})
    elapsed = time.perf_counter() - started
    print(f"  {document}")
    print(f"    -> {_show(data)}  ({_ms(elapsed)})")
    _expect(data == {"hello": "Hello demo"}, f"unexpected query result {data!r}")


def step_mutation(client: Client) -> None:
    """A mutation, twice, to show that it changed state on the server."""
    document = "mutation Bump($by: Int) { increment(by: $by) }"
    first = client.execute(document, {"by": 2})
    second = client.execute(document, {"by": 2})
    print(f"  {document}   (twice, by 2)")
    print(f"    -> {_show(first)}, then {_show(second)}")
    _expect(
        first == {"increment": 2} and second == {"increment": 4},
        f"unexpected mutation results {first!r}, {second!r}",
    )


def step_subscription(client: Client, server: ReferenceServer) -> None:
    """A subscription streaming live; leaving the loop early stops it on the server."""
    document = f"subscription {{ ticks(interval: {TICK_INTERVAL}) }}"
    print(f"  {document}   (events printed as they arrive)")
    started = time.perf_counter()
    received: list[Any] = []
    with client.subscribe(document, timeout=STEP_TIMEOUT) as ticks:
        for event in ticks:
            received.append(event)
            print(f"    +{time.perf_counter() - started:4.2f} s  {_show(event)}")
            if len(received) == TICKS_SHOWN:
                break  # leaving the loop sends "complete": the server stops the stream
        op_id = ticks.id
    stop = server.wait_for_message("complete", timeout=STEP_TIMEOUT, op_id=op_id)
    print(f"    left the loop after {TICKS_SHOWN} events; the server got {_show(stop)}")
    _expect(
        received == [{"ticks": n} for n in range(TICKS_SHOWN)],
        f"unexpected subscription events {received!r}",
    )


def step_threads(client: Client) -> None:
    """Many threads, one connection: every caller gets its own answer."""

    def worker(thread_index: int) -> int:
        correct = 0
        for query_index in range(QUERIES_PER_THREAD):
            data = client.execute(
                "query Add($a: Int!, $b: Int!) { add(a: $a, b: $b) }",
                {"a": thread_index, "b": query_index},
                timeout=STEP_TIMEOUT,
            )
            correct += data == {"add": thread_index + query_index}
        return correct

    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS, thread_name_prefix="demo-worker") as pool:
        correct = sum(pool.map(worker, range(THREADS)))
    elapsed = time.perf_counter() - started
    total = THREADS * QUERIES_PER_THREAD
    print(
        f"  {THREADS} threads x {QUERIES_PER_THREAD} queries on one connection: "
        f"{correct}/{total} correct answers in {elapsed:.2f} s ({total / elapsed:.0f} queries/s)"
    )
    _expect(correct == total, f"only {correct} of {total} threaded queries were right")


def step_dropped_connection(client: Client, server: ReferenceServer) -> None:
    """What callers see when the TCP connection dies under them: the client reconnects and
    the subscription goes on, with the gap counted."""
    document = "subscription { ticks(interval: 0.2) }"
    print(f"  {document}, then server.drop_connections() while the caller waits")
    dropped_at: list[float] = []

    def drop() -> None:
        dropped_at.append(time.perf_counter())
        server.drop_connections()

    with client.subscribe(document, timeout=STEP_TIMEOUT) as ticks:
        first = next(ticks)
        print(f"    first event {_show(first)}; the caller now blocks for the next one")
        # The caller (this thread) is blocked in next() when the drop happens.
        timer = threading.Timer(0.05, drop)
        timer.start()
        try:
            after = next(ticks)
        finally:
            timer.join(STEP_TIMEOUT)
        woke = time.perf_counter() - dropped_at[0] if dropped_at else float("nan")
        print(
            f"    reconnected and resubscribed: next event {_show(after)} {_ms(woke)} after "
            f"the drop (subscription.resubscribed == {ticks.resubscribed})"
        )
        _expect(ticks.resubscribed == 1, "the subscription was not resubscribed")
    data = client.execute('{ hello(name: "again") }', timeout=STEP_TIMEOUT)
    print(f"    the same Client goes on: {_show(data)}")
    _expect(data == {"hello": "Hello again"}, f"unexpected result after reconnecting {data!r}")
    with Client(server.url, reconnect=False) as fragile, fragile.subscribe(document) as ticks:
        next(ticks)
        server.drop_connections()
        try:
            next(ticks)
        except TransportClosed as exc:
            print(f"    with reconnect=False the caller gets {type(exc).__name__}: {exc}")
        else:
            raise DemoFailure("the subscription went on after the connection was dropped")


def run() -> None:
    """Run every step against a fresh reference server.

    Raises:
        DemoFailure: a step saw something it did not expect.
        TransportError: the client failed where it should not have.
    """
    from .testing import ReferenceServer  # noqa: PLC0415  # needs websockets: import late

    started = time.perf_counter()
    with ReferenceServer() as server:
        print(f"gqlws_sync demo: reference server at {server.url}\n")
        with Client(server.url, execute_timeout=STEP_TIMEOUT) as client:
            print(f"connected; the server chose subprotocol {client.subprotocol!r}\n")
            steps: list[tuple[str, Callable[[], None]]] = [
                ("a query", lambda: step_query(client)),
                ("a mutation", lambda: step_mutation(client)),
                ("a live subscription", lambda: step_subscription(client, server)),
                ("threads sharing one connection", lambda: step_threads(client)),
                ("a dropped connection", lambda: step_dropped_connection(client, server)),
            ]
            for number, (title, step) in enumerate(steps, 1):
                print(f"{number}. {title}")
                step()
                print()
    print(f"demo finished in {time.perf_counter() - started:.1f} s")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; return 0, or 1 when anything unexpected happened.

    Args:
        argv: arguments after ``demo``; only ``--help`` is understood.
    """
    parser = argparse.ArgumentParser(
        prog="gqlws demo",
        description=(
            "Start the embedded reference server and show the client at work: a query, a "
            "mutation, a live subscription, threads sharing one connection and a dropped "
            "connection. Exits 1 if anything unexpected happens."
        ),
    )
    parser.parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        # Show each line as it happens even through a pipe (make, CI logs, tee).
        sys.stdout.reconfigure(line_buffering=True)
    try:
        run()
    except KeyboardInterrupt:
        return 130
    except ImportError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    except DemoFailure as exc:
        print(f"\ndemo FAILED: {exc}", file=sys.stderr)
        return 1
    except Exception:
        # Unlike the command line, the demo shows the traceback: it is what CI will report.
        print("\ndemo FAILED with an unexpected exception:", file=sys.stderr)
        traceback.print_exc()
        return 1
    return 0
