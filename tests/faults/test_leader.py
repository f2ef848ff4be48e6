"""The hand-over of reading between callers and the reader thread, hammered.

A caller waiting for its own result reads the socket itself while nobody else does. Here
callers arrive, time out, break out of subscriptions, have them closed under them by other
threads and are interrupted with a real SIGINT, all at once, while a fast subscription
streams and both sides ping on short deadlines. Whatever the order, every caller gets its
own answer or the error it was promised, on time, and the stream and the keep-alive carry on.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import pytest

from gqlws_sync import (
    APOLLO_SUBPROTOCOL,
    GRAPHQLWS_SUBPROTOCOL,
    Client,
    OperationTimeout,
    Reconnect,
    TransportError,
)
from gqlws_sync.testing import Faults
from gqlws_sync.testing.pytest_plugin import ServerFactory

#: How long the storm blows.
DURATION = 3.0
#: A caller's timeout, a close() from another thread and a SIGINT reach it within this.
PROMPT = 0.1
#: Nothing may take longer than this, whatever happened.
BOUND = 10.0
WORKERS = 4
#: The longest the stream may go without an event (a reconnection included).
STALL = 0.5


@pytest.fixture(params=[GRAPHQLWS_SUBPROTOCOL, APOLLO_SUBPROTOCOL])
def subprotocol(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


#: The server, in a process of its own: sharing this one's GIL with the storm's threads, it
#: would slow every answer by more than the promises measured here.
SERVER = """
import sys
from gqlws_sync.testing import Faults, ReferenceServer

# It pings too (GTW messages, Apollo ka, WebSocket pings it wants answered before the next
# one): whoever reads must answer them, and a gap in reading shows.
faults = Faults(server_ping_interval=0.05, keep_alive_interval=0.05, websocket_ping_interval=0.1)
with ReferenceServer(faults=faults) as server:
    print(server.url, flush=True)
    sys.stdin.read()  # until the test closes the pipe
"""


@pytest.fixture
def server_url() -> Iterator[str]:
    with subprocess.Popen(
        [sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdin is not None
        assert process.stdout is not None
        try:
            url = process.stdout.readline().strip()
            assert url.startswith("ws://"), url
            yield url
        finally:
            process.stdin.close()  # the server's signal to stop
            try:
                process.wait(BOUND)
            except subprocess.TimeoutExpired:
                process.kill()


class Storm:
    """What the threads saw that they should not have."""

    def __init__(self, client: Client, stop_at: float) -> None:
        self.client = client
        self.stop_at = stop_at
        self.problems: list[str] = []
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def problem(self, text: str) -> None:
        with self._lock:
            self.problems.append(text)

    def count(self, what: str) -> None:
        with self._lock:
            self.counts[what] = self.counts.get(what, 0) + 1

    def running(self) -> bool:
        return time.monotonic() < self.stop_at


def _runs(values: list[int], first: int) -> list[list[int]]:
    """Cut a stream at every restart from ``first``: a resubscription starts it over."""
    runs: list[list[int]] = []
    for value in values:
        if value == first or not runs:
            runs.append([])
        runs[-1].append(value)
    return runs


def _query(storm: Storm, rng: random.Random) -> None:
    a, b = rng.randrange(1000), rng.randrange(1000)
    result = storm.client.execute(
        "query ($a: Int!, $b: Int!) { add(a: $a, b: $b) }", {"a": a, "b": b}, timeout=BOUND
    )
    if result != {"add": a + b}:
        storm.problem(f"add({a}, {b}) answered {result!r}")
    storm.count("query")


def _timeout(storm: Storm, rng: random.Random) -> None:
    timeout = rng.choice([0.01, 0.03, 0.05])
    started = time.monotonic()
    try:
        storm.client.execute("{ slow(seconds: 0.5) }", timeout=timeout)
    except OperationTimeout:
        late = time.monotonic() - started - timeout
        if late > PROMPT:
            storm.problem(f"a {timeout} s timeout was honoured {late * 1000:.0f} ms late")
        storm.count("timeout")
    else:
        storm.problem("a 0.5 s query returned within a shorter timeout")


def _countdown(storm: Storm, rng: random.Random) -> None:
    start = rng.randrange(1, 8)
    with storm.client.subscribe(
        "subscription ($n: Int!) { countdown(from: $n) }", {"n": start}, timeout=BOUND
    ) as events:
        values = [event["countdown"] for event in events]
    # Started over from the top after each resubscription; the last run went to the end.
    runs = _runs(values, start)
    whole = list(range(start, 0, -1))
    # (A resubscription before the first event leaves no trace in the values.)
    if (
        len(runs) > events.resubscribed + 1
        or runs[-1] != whole
        or any(run != whole[: len(run)] for run in runs)
    ):
        storm.problem(f"countdown({start}) gave {values}, resubscribed {events.resubscribed}")
    storm.count("countdown")


def _break_out(storm: Storm, rng: random.Random) -> None:
    wanted = rng.randrange(1, 4)
    with storm.client.subscribe("subscription { ticks(interval: 0.005) }", timeout=BOUND) as ticks:
        values = [next(ticks)["ticks"] for _ in range(wanted)]
    runs = _runs(values, 0)
    if len(runs) > ticks.resubscribed + 1 or any(run != list(range(len(run))) for run in runs):
        storm.problem(f"ticks began {values}, resubscribed {ticks.resubscribed}")
    storm.count("break-out")


def _closed_under(storm: Storm, rng: random.Random) -> None:
    """close() from another thread while this one waits in next(), maybe reading."""
    ticks = storm.client.subscribe("subscription { ticks(interval: 0.5) }", timeout=BOUND)
    if next(ticks) != {"ticks": 0}:
        storm.problem("the first tick was not 0")
    resubscribed = ticks.resubscribed
    closed_at: list[float] = []

    def close() -> None:
        closed_at.append(time.monotonic())
        ticks.close()

    timer = threading.Timer(rng.uniform(0.005, 0.03), close)
    timer.start()
    try:
        rest = list(ticks)  # ends when close() lands
    finally:
        timer.join(BOUND)
    late = time.monotonic() - closed_at[0]
    if late > PROMPT:
        storm.problem(f"close() woke the reading caller {late * 1000:.0f} ms late")
    # Each resubscription may have started the stream over before close() landed.
    if any(event != {"ticks": 0} for event in rest) or len(rest) > (
        ticks.resubscribed - resubscribed
    ):
        storm.problem(f"ticks after the first: {rest}, resubscribed {ticks.resubscribed}")
    storm.count("closed-under")


ACTIONS: list[Callable[[Storm, random.Random], None]] = [
    _query,
    _query,
    _timeout,
    _countdown,
    _break_out,
    _closed_under,
]


def _worker(storm: Storm, seed: int) -> None:
    rng = random.Random(seed)
    while storm.running():
        action = rng.choice(ACTIONS)
        try:
            action(storm, rng)
        except TransportError as exc:
            # A SIGINT that lands mid-read drops the connection: whoever was in flight
            # then may see it (a subscription is resubscribed, a query retried once).
            storm.count(f"lost: {type(exc).__name__}")
        except BaseException as exc:
            storm.problem(f"{action.__name__}: {type(exc).__name__}: {exc}")


class Stream:
    """A fast subscription read all along: consecutive ticks, restarting only when it is
    resubscribed after a dropped connection."""

    def __init__(self, storm: Storm) -> None:
        self.values: list[int] = []
        self.arrivals: list[float] = []
        self._storm = storm
        self._ticks = storm.client.subscribe("subscription { ticks(interval: 0.002) }")
        self._thread = threading.Thread(target=self._read, name="test-stream", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for event in self._ticks:
                self.values.append(event["ticks"])
                self.arrivals.append(time.monotonic())
        except BaseException as exc:
            self._storm.problem(f"the stream ended: {type(exc).__name__}: {exc}")

    @property
    def resubscribed(self) -> int:
        return self._ticks.resubscribed

    def stop(self) -> None:
        self._ticks.close()
        self._thread.join(BOUND)
        assert not self._thread.is_alive(), "the stream reader is still blocked"


@pytest.fixture
def sigint() -> Iterator[Callable[[bool], None]]:
    """A SIGINT handler that raises KeyboardInterrupt only while armed."""
    armed = [False]

    def handler(signum: int, frame: FrameType | None) -> None:
        if armed[0]:
            armed[0] = False
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield lambda on: armed.__setitem__(0, on)
    finally:
        signal.signal(signal.SIGINT, previous)


def _interrupt_main(storm: Storm, arm: Callable[[bool], None], rng: random.Random) -> None:
    """Ctrl-C, for real: SIGINT to this process while its main thread waits in execute()."""
    while storm.running():
        fire_at: list[float] = []

        def fire(fire_at: list[float] = fire_at) -> None:
            fire_at.append(time.monotonic())
            os.kill(os.getpid(), signal.SIGINT)

        timer = threading.Timer(rng.uniform(0.0, 0.02), fire)
        try:
            try:
                arm(True)
                timer.start()
                storm.client.execute("{ slow(seconds: 0.05) }", timeout=BOUND)
                storm.count("interrupt missed")
            finally:
                timer.join(BOUND)
                arm(False)
        except KeyboardInterrupt:
            if fire_at:
                late = time.monotonic() - fire_at[0]
                if late > PROMPT:
                    storm.problem(f"SIGINT landed {late * 1000:.0f} ms late")
            storm.count("interrupted")
        except TransportError as exc:
            storm.count(f"lost: {type(exc).__name__}")
        # Whatever the interrupt cut, the next call works (on this connection or the next).
        try:
            _query(storm, rng)
        except TransportError as exc:
            storm.count(f"lost: {type(exc).__name__}")
            _query(storm, rng)


def test_reading_hand_over_under_a_storm(
    server_url: str, subprotocol: str, sigint: Callable[[bool], None]
) -> None:
    disconnects: list[BaseException] = []
    client = Client(
        server_url,
        subprotocols=[subprotocol],
        ping_interval=0.05 if subprotocol == GRAPHQLWS_SUBPROTOCOL else None,
        pong_timeout=0.5 if subprotocol == GRAPHQLWS_SUBPROTOCOL else None,
        keep_alive_timeout=0.5 if subprotocol == APOLLO_SUBPROTOCOL else None,
        ws_ping_interval=0.05,
        ws_pong_timeout=0.5,
        reconnect=Reconnect(initial_delay=0.01, max_delay=0.05),
        on_disconnect=lambda _client, error: disconnects.append(error),
    )
    with client:
        storm = Storm(client, time.monotonic() + DURATION)
        stream = Stream(storm)
        workers = [
            threading.Thread(target=_worker, args=(storm, seed), name=f"test-worker-{seed}")
            for seed in range(WORKERS)
        ]
        for worker in workers:
            worker.start()
        _interrupt_main(storm, sigint, random.Random(99))
        for worker in workers:
            worker.join(BOUND)
        assert not any(worker.is_alive() for worker in workers), "a caller is still blocked"
        stream.stop()
        assert client.execute("{ add(a: 1, b: 2) }") == {"add": 3}

    assert not storm.problems, "\n".join(storm.problems)
    counts: dict[str, Any] = storm.counts
    for action in ("query", "timeout", "countdown", "break-out", "closed-under", "interrupted"):
        assert counts.get(action, 0) >= 3, f"too few {action}: {counts}"
    # Only interrupts drop the connection: no keep-alive deadline was missed.
    assert len(disconnects) <= counts["interrupted"], disconnects
    for error in disconnects:
        assert "interrupted" in str(error), repr(error)
    runs = _runs(stream.values, 0)
    for run in runs:
        assert run == list(range(len(run))), "the stream skipped or repeated a tick"
    assert len(runs) <= stream.resubscribed + 1 <= len(disconnects) + 1
    # The server shares this process's GIL with the storm, so the rate is not the point: no
    # caller holding the socket may stall the stream for long.
    gaps = [b - a for a, b in itertools.pairwise(stream.arrivals)]
    assert len(stream.values) > 20
    assert max(gaps) < STALL, f"the stream stalled for {max(gaps):.3f} s"


# -- edges of a reading caller ----------------------------------------------------------------


def test_timeouts_beyond_what_a_poll_accepts(gqlws_server_factory: ServerFactory) -> None:
    """A caller may wait (and ping) on scales of weeks: poll() refuses waits past ~24 days,
    so long waits are made of several."""
    server = gqlws_server_factory(faults=Faults())
    with Client(server.url, ws_ping_interval=3e6, ws_pong_timeout=3e6) as client:
        assert client.execute("{ hello }", timeout=1e7) == {"hello": "Hello world"}
        with client.subscribe("subscription { countdown(from: 2) }", timeout=1e7) as events:
            assert [event["countdown"] for event in events] == [2, 1]


@pytest.mark.parametrize("subprotocol", [GRAPHQLWS_SUBPROTOCOL])
def test_a_reading_caller_hands_the_end_to_the_reader(
    gqlws_server_factory: ServerFactory, subprotocol: str
) -> None:
    """What ends the connection while a caller reads for everyone is handled as the reader
    thread handles it: the caller gets the connection's error, not an exception of the
    reading code (here a server ping whose payload cannot be echoed back)."""
    server = gqlws_server_factory(
        faults=Faults(raw_on_subscribe=['{"type":"ping","payload":{"x":NaN}}'])
    )
    with Client(server.url, subprotocols=[subprotocol], reconnect=False) as client:
        with pytest.raises(TransportError) as info:
            client.execute("{ slow(seconds: 0.5) }", timeout=5)
        assert not isinstance(info.value.__cause__, KeyboardInterrupt)
        # The client is usable again: the next call connects anew.
        server.faults.raw_on_subscribe = []
        assert client.execute("{ hello }", timeout=5) == {"hello": "Hello world"}


@pytest.mark.parametrize("subprotocol", [GRAPHQLWS_SUBPROTOCOL, APOLLO_SUBPROTOCOL])
def test_a_stream_reader_that_stops_reading_gives_the_socket_back(
    gqlws_server_factory: ServerFactory, subprotocol: str
) -> None:
    """A subscription's loop keeps the socket for a moment after each event (it is back for
    the next one within microseconds). One that never comes back must not cost anyone
    else: the reader thread takes the socket back, and another thread's stream and
    queries carry on at their own pace, as do the server's pings."""
    server = gqlws_server_factory(faults=Faults(websocket_ping_interval=0.05))
    losses: list[BaseException | None] = []
    with Client(
        server.url,
        subprotocols=[subprotocol],
        reconnect=False,
        on_disconnect=lambda _client, error: losses.append(error),
    ) as client:
        abandoned = client.subscribe("subscription { ticks(interval: 0.001) }", timeout=BOUND)
        next(abandoned)  # read for itself, then never asked again: it keeps the socket
        # Nobody else asks for anything now: only the reader thread can answer the server's
        # pings (it closes 1011 when one goes unanswered for 50 ms) or read the ticks.
        time.sleep(0.5)
        assert next(abandoned) == {"ticks": 1}  # what came meanwhile waited in order
        arrivals: list[float] = []
        failures: list[BaseException] = []

        def follow() -> None:
            try:
                with client.subscribe("subscription { ticks(interval: 0.01) }") as events:
                    for _ in events:
                        arrivals.append(time.monotonic())
                        if len(arrivals) == 30:
                            return
            except BaseException as exc:
                failures.append(exc)

        follower = threading.Thread(target=follow, name="follower")
        follower.start()
        started = time.monotonic()
        while follower.is_alive() and time.monotonic() - started < BOUND:
            # This thread's queries read for themselves between the follower's events.
            assert client.execute("{ hello }", timeout=PROMPT * 5) == {"hello": "Hello world"}
            time.sleep(0.02)
        follower.join(BOUND)
        assert not failures
        assert len(arrivals) == 30
        gaps = [b - a for a, b in itertools.pairwise(arrivals)]
        # Ticks every 10 ms: a stalled hand-back would show as gaps of many of them.
        assert max(gaps) < PROMPT, f"the follower's stream stalled for {max(gaps):.3f} s"
        abandoned.close()
        assert not losses  # the server's pings were answered all along
