"""Load across forced reconnections: many threads executing and hundreds of subscriptions
streaming on one client while the reference server drops every connection three times.

The subscriptions' events are paced by the executes: event ``v`` of every stream is
released once ``v / EVENTS`` of the executes have run on the server. So every stream is
live at every cut, however fast or slow this machine is, and the cuts (at a quarter, a
half and three quarters of the executes) always hit both kinds of operation in flight.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any

import pytest
from graphql import GraphQLSchema, build_schema

from gqlws_sync import Client, Reconnect, TransportClosed
from gqlws_sync.testing import ServerFactory

from .conftest import Callbacks, record_timing

#: The full size is 64 threads x 500 execute() calls and 500 subscriptions x 100 events.
#: It takes about 120 s on a loaded 2-core machine, nearly all of it the in-process
#: reference server running graphql-core (about 3 ms of CPU per execute), so by default the
#: same 64 threads and 500 subscriptions make a fifth of the calls and half the events;
#: GQLWS_LOAD_FULL=1 runs the full size.
FULL_SIZE = os.environ.get("GQLWS_LOAD_FULL") == "1"
THREADS = 64
CALLS_PER_THREAD = 500 if FULL_SIZE else 100
SUBSCRIPTIONS = 500
EVENTS = 100 if FULL_SIZE else 50
CUTS = 3
#: Threads reading the subscriptions, each its share one after the other (the others'
#: events wait in their buffers meanwhile).
READERS = 20
POLICY = Reconnect(initial_delay=0.05, max_delay=0.2, max_attempts=50)
#: Bound on every call and every event: nothing may block longer (no deadlock).
BOUND = 60.0
#: Bound on waiting for a quarter of the run, and for the threads at its end.
RUN_BOUND = 300.0 if FULL_SIZE else 120.0

ECHO = "query Echo($v: String!) { echo(value: $v) }"
SEQ = "subscription Seq($k: String!, $n: Int!) { seq(key: $k, count: $n) }"

_SDL = """
type Query { echo(value: String!): String }
type Subscription {
  "key's values 0 .. count - 1, resumed where the server left off after a resubscribe."
  seq(key: String!, count: Int!): Int
}
"""


class Pacer:
    """Releases step ``s`` of every stream once ``s / steps`` of ``total`` executes ran.

    Used on the server's event loop only: ``answered()`` from the echo resolver, ``wait()``
    from the subscription sources.
    """

    def __init__(self, total: int, steps: int) -> None:
        self.total = total
        self.steps = steps
        self.answered_count = 0
        self.step = 0
        self._stepped = asyncio.Event()

    def answered(self) -> None:
        self.answered_count += 1
        step = min(self.steps, self.answered_count * self.steps // self.total)
        if step > self.step:
            self.step = step
            self._stepped.set()
            self._stepped = asyncio.Event()

    async def wait(self, step: int) -> None:
        while self.step < step:
            await self._stepped.wait()


def load_schema(pacer: Pacer) -> GraphQLSchema:
    schema = build_schema(_SDL)
    progress: dict[str, int] = {}

    def echo(_root: Any, _info: Any, value: str) -> str:
        pacer.answered()
        return value

    async def seq(_root: Any, _info: Any, key: str, count: int) -> Any:
        while (value := progress.get(key, 0)) < count:
            await pacer.wait(value)
            progress[key] = value + 1
            yield value

    query: Any = schema.query_type
    query.fields["echo"].resolve = echo
    assert schema.subscription_type is not None
    field = schema.subscription_type.fields["seq"]
    field.subscribe = seq
    field.resolve = lambda value, *_, **__: value
    return schema


class Progress:
    """How many executes have been answered, for the cuts to wait on."""

    def __init__(self) -> None:
        self.done = 0
        self._changed = threading.Condition()

    def add(self, count: int) -> None:
        with self._changed:
            self.done += count
            self._changed.notify_all()

    def wait_for(self, count: int) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self.done >= count, RUN_BOUND), (
                f"{self.done} of {count} executes answered within {RUN_BOUND} s"
            )


@pytest.mark.timeout(2 * RUN_BOUND)
def test_load_across_forced_reconnects(gqlws_server_factory: ServerFactory) -> None:
    """Every answer reaches its caller and every stream stays in order across three cuts."""
    total_calls = THREADS * CALLS_PER_THREAD
    server = gqlws_server_factory(load_schema(Pacer(total_calls, EVENTS)))
    callbacks = Callbacks(RUN_BOUND)
    progress = Progress()
    errors: list[str] = []
    wrong: list[tuple[str, Any]] = []
    streams: dict[int, tuple[list[int], int]] = {}

    def execute_many(client: Client, worker: int) -> None:
        for call in range(CALLS_PER_THREAD):
            value = f"{worker}-{call}"
            try:
                answer = client.execute(ECHO, {"v": value}, timeout=BOUND)
            except BaseException as exc:  # noted, and the run goes on: the streams need it
                errors.append(f"execute {value}: {exc!r}")
            else:
                if answer != {"echo": value}:
                    wrong.append((value, answer))
            progress.add(1)

    def read_streams(share: list[tuple[int, Any]]) -> None:
        try:
            for number, subscription in share:
                values = [event["seq"] for event in subscription]
                streams[number] = (values, subscription.resubscribed)
        except BaseException as exc:
            errors.append(f"subscription reader: {exc!r}")

    started = time.monotonic()
    client = Client(
        server.url,
        reconnect=POLICY,
        execute_timeout=BOUND,
        on_connect=callbacks.on_connect,
        on_disconnect=callbacks.on_disconnect,
    )
    with client:
        subscriptions = [
            (n, client.subscribe(SEQ, {"k": f"s{n}", "n": EVENTS}, timeout=BOUND))
            for n in range(SUBSCRIPTIONS)
        ]
        threads = [
            threading.Thread(
                target=read_streams, args=(subscriptions[r::READERS],), name=f"test-reader-{r}"
            )
            for r in range(READERS)
        ] + [
            threading.Thread(target=execute_many, args=(client, w), name=f"test-worker-{w}")
            for w in range(THREADS)
        ]
        for thread in threads:
            thread.start()
        for cut in range(1, CUTS + 1):
            progress.wait_for(total_calls * cut // (CUTS + 1))
            cut_at = time.monotonic()
            server.drop_connections()
            reconnected_at = callbacks.wait_connects(cut + 1)
            detected_at, cause = callbacks.disconnects[cut - 1]
            assert isinstance(cause, TransportClosed)
            assert cause.code == 1006
            record_timing(
                target="reference-load",
                fault=f"drop-{cut}",
                reconnect=True,
                detection_s=detected_at - cut_at,
                recovery_s=reconnected_at - detected_at,
                seen=f"{type(cause).__name__}({cause.code})",
            )
        end = time.monotonic() + RUN_BOUND
        for thread in threads:
            thread.join(max(0.0, end - time.monotonic()))
        stuck = [thread.name for thread in threads if thread.is_alive()]
        assert not stuck, f"still running after {RUN_BOUND} s: {stuck}"
    elapsed = time.monotonic() - started

    assert not errors, f"{len(errors)} failed: {errors[:5]}"
    assert not wrong, wrong[:5]
    assert len(streams) == SUBSCRIPTIONS
    missing = 0
    for number, (values, resubscribed) in streams.items():
        assert values == sorted(set(values)), f"stream {number} out of order: {values}"
        assert values[0] == 0
        assert values[-1] == EVENTS - 1, f"stream {number} did not end: {values[-5:]}"
        # Live at every cut: resubscribed each time; only a resubscribed stream has gaps.
        assert resubscribed == CUTS, f"stream {number} resubscribed {resubscribed} times"
        missing += EVENTS - len(values)
    assert len(callbacks.disconnects) == CUTS
    assert len(callbacks.connects) == CUTS + 1
    print(
        f"load: {total_calls} executes, {SUBSCRIPTIONS}x{EVENTS} events, {CUTS} cuts in "
        f"{elapsed:.1f} s; {missing} events lost in the outages"
    )
    record_timing(
        target="reference-load",
        fault="total",
        reconnect=True,
        elapsed_s=elapsed,
        missing_events=missing,
    )
