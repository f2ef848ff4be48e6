"""No caller breaks the connection for the others: local refusal of what a server would
answer by closing the whole connection, bounded buffers for slow readers, and cancels that
reach the server promptly. Against the reference server, on the real wire."""

from __future__ import annotations

import gc
import math
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from graphql import GraphQLError, GraphQLSyntaxError

from gqlws_sync import (
    APOLLO_SUBPROTOCOL,
    GRAPHQLWS_SUBPROTOCOL,
    Client,
    SubscriptionOverflow,
)
from gqlws_sync.testing import Faults, ReferenceServer
from gqlws_sync.testing.pytest_plugin import ServerFactory

GTW = GRAPHQLWS_SUBPROTOCOL
APOLLO = APOLLO_SUBPROTOCOL
BOTH = [GTW, APOLLO]

#: The promise for cancels: on the wire within this long, even on an idle connection.
PROMPT_CANCEL = 0.1


@pytest.fixture
def server(gqlws_server_factory: ServerFactory) -> ReferenceServer:
    return gqlws_server_factory(faults=Faults())


@pytest.fixture(params=BOTH)
def subprotocol(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def client(server: ReferenceServer, subprotocol: str) -> Iterator[Client]:
    # No WebSocket pings: a cancel must not need any other traffic to go out.
    with Client(server.url, subprotocols=[subprotocol], ws_ping_interval=None) as client:
        yield client


def _start_type(subprotocol: str) -> str:
    return "subscribe" if subprotocol == GTW else "start"


def _cancel_type(subprotocol: str) -> str:
    return "complete" if subprotocol == GTW else "stop"


# -- refused locally ---------------------------------------------------------------------------


def test_local_refusals_send_nothing_and_leave_others_alone(
    server: ReferenceServer, client: Client, subprotocol: str
) -> None:
    """A syntax error, several unnamed operations, NaN, infinity and an oversized message are
    refused in the caller; nothing is sent and a running subscription carries on."""
    ticks = client.subscribe("subscription { ticks(interval: 0.02) }")
    assert next(ticks) == {"ticks": 0}
    sent_before = len(server.received)
    with pytest.raises(GraphQLSyntaxError) as syntax:
        client.execute("{ hello(name: }")
    assert syntax.value.locations is not None
    assert (syntax.value.locations[0].line, syntax.value.locations[0].column) == (1, 15)
    with pytest.raises(GraphQLError, match="operation_name"):
        client.execute("query A { hello } query B { add(a: 1, b: 2) }")
    with pytest.raises(GraphQLError, match="no operation named 'C'"):
        client.execute("query A { hello }", operation_name="C")
    for number in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError, match="NaN or infinity"):
            client.execute("query Q($v: String) { echo(value: $v) }", {"v": [1, number]})
    big = "x" * (client.options.max_message_size or 0)
    with pytest.raises(ValueError, match="over max_message_size"):
        client.execute("query Q($v: String!) { echo(value: $v) }", {"v": big})
    with pytest.raises(GraphQLSyntaxError):
        client.subscribe("subscription { ticks(")
    assert (
        len([m for m in server.received.snapshot() if m.get("type") == _start_type(subprotocol)])
        == 1
    )
    assert next(ticks)["ticks"] >= 1
    assert client.execute("query A { hello } query B { add(a: 1, b: 2) }", operation_name="B") == {
        "add": 3
    }
    ticks.close()
    assert len(server.received) > sent_before  # the later query and the cancel did go out


def test_outgoing_limit_is_counted_in_bytes(server: ReferenceServer) -> None:
    """max_message_size counts encoded bytes: four-byte characters count four times."""
    with Client(server.url, max_message_size=4_000) as client:
        with pytest.raises(ValueError, match="bytes, over max_message_size=4000"):
            client.execute("query Q($v: String!) { echo(value: $v) }", {"v": "😀" * 1_000})
        assert client.execute("query Q($v: String!) { echo(value: $v) }", {"v": "😀" * 10}) == {
            "echo": "😀" * 10
        }


def test_parse_is_cached(client: Client) -> None:
    """A repeated document is parsed once: the second call finds it in the cache."""
    from gqlws_sync._documents import parse_text

    document = "query Cached { hello }"
    parse_text.cache_clear()
    for _ in range(3):
        client.execute(document)
    info = parse_text.cache_info()
    assert (info.misses, info.hits) == (1, 2)


# -- execute() and subscribe() of the other kinds ---------------------------------------------


def test_execute_of_a_subscription_stops_it(
    server: ReferenceServer, client: Client, subprotocol: str
) -> None:
    """execute() of a subscription document returns the first result and stops the
    subscription on the server, on both protocols."""
    assert client.execute("subscription { ticks(interval: 0.02) }") == {"ticks": 0}
    cancel = server.wait_for_message(_cancel_type(subprotocol), timeout=1)
    start = server.wait_for_message(_start_type(subprotocol))
    assert cancel["id"] == start["id"]


def test_subscribe_of_a_query_yields_its_one_result(client: Client) -> None:
    """subscribe() of a query yields its one result, then ends."""
    with client.subscribe("{ add(a: 2, b: 3) }") as results:
        assert list(results) == [{"add": 5}]
        assert results.closed


# -- bounded buffers ---------------------------------------------------------------------------


def _rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


#: What an unread subscription of 200,000 events may cost, at most: the default buffer
#: (10,000 events of ~200 bytes, decoded) is a few MB; the rest is allocator slack.
RSS_BOUND = 48 * 1024 * 1024


def test_unread_subscription_is_bounded(server: ReferenceServer, subprotocol: str) -> None:
    """200,000 events to a subscription nobody reads: memory stays bounded, another caller's
    execute() keeps p99 under 50 ms throughout, and only that subscription fails, with
    SubscriptionOverflow after its buffered events; the server was told to stop it."""
    count = 200_000
    window = 1.5  # seconds of queries from the start of the flood
    with Client(server.url, subprotocols=[subprotocol]) as client:
        client.execute("{ hello }")  # warm up: the first queries pay for imports
        gc.collect()
        before = _rss()
        flood = client.subscribe(f"subscription {{ burst(count: {count}, size: 200) }}")
        latencies: list[float] = []
        peak = before
        started = time.monotonic()
        while time.monotonic() - started < window:
            began = time.perf_counter()
            assert client.execute('{ hello(name: "x") }') == {"hello": "Hello x"}
            latencies.append(time.perf_counter() - began)
            peak = max(peak, _rss())
        latencies.sort()
        p99 = latencies[int(len(latencies) * 0.99)]
        assert p99 < 0.05, f"p99 {p99 * 1000:.1f} ms over {len(latencies)} queries"
        assert peak - before < RSS_BOUND, f"RSS grew by {(peak - before) / 2**20:.1f} MiB"
        server.wait_for_message(_cancel_type(subprotocol), timeout=1)
        limit = client.options.max_buffered_events
        events = []
        with pytest.raises(SubscriptionOverflow) as info:
            for event in flood:
                events.append(event)
        assert len(events) == limit
        assert "max_buffered_events" in str(info.value)


def test_drop_oldest_keeps_the_newest(server: ReferenceServer, subprotocol: str) -> None:
    """overflow='drop_oldest': an unread subscription keeps its newest events, within the
    bound, and nothing fails."""
    count = 50_000
    with Client(server.url, subprotocols=[subprotocol]) as client:
        gc.collect()
        before = _rss()
        flood = client.subscribe(
            f"subscription {{ burst(count: {count}, size: 200) }}",
            max_buffered_events=1000,
            overflow="drop_oldest",
        )
        # The burst ends with complete: once it is queued, the stream is over.
        deadline = time.monotonic() + 20
        while (
            flood._op.connection is not None
            and flood._op.id in flood._op.connection.registry.live_ids()
        ):
            assert time.monotonic() < deadline, "the burst did not end"
            time.sleep(0.01)  # nothing to wait on: the reader queues without telling anyone
        assert _rss() - before < RSS_BOUND
        events = list(flood)
        assert len(events) == 1000
        assert all(len(event["burst"]) == 200 for event in events)
        assert client.execute("{ hello }") == {"hello": "Hello world"}


def test_overflow_error_delivers_the_buffered_events_first(
    server: ReferenceServer, subprotocol: str
) -> None:
    """With a small buffer: the buffered events come first, then SubscriptionOverflow, and
    the server was told to stop."""
    with Client(server.url, subprotocols=[subprotocol]) as client:
        flood = client.subscribe(
            "subscription { burst(count: 5000, size: 50) }", max_buffered_events=100
        )
        server.wait_for_message(_cancel_type(subprotocol), timeout=5)
        events = []
        with pytest.raises(SubscriptionOverflow):
            for event in flood:
                events.append(event)
        assert len(events) == 100
        assert flood.closed


# -- prompt cancels -------------------------------------------------------------------------------


def _idle_subscription(client: Client) -> Any:
    ticks = client.subscribe("subscription { ticks(interval: 60) }")
    assert next(ticks) == {"ticks": 0}
    return ticks


@pytest.mark.parametrize("how", ["close", "with", "exception", "timeout", "dropped", "break"])
def test_cancel_reaches_the_server_promptly(
    server: ReferenceServer, client: Client, subprotocol: str, how: str
) -> None:
    """However a subscription is left, its cancel is on the wire within 100 ms, on a
    connection where nothing else arrives."""
    cancel = _cancel_type(subprotocol)
    if how == "close":
        ticks = _idle_subscription(client)
        left = time.monotonic()
        ticks.close()
    elif how == "with":
        with client.subscribe("subscription { ticks(interval: 60) }") as ticks:
            next(ticks)
            left = time.monotonic()
    elif how == "exception":
        with (
            pytest.raises(RuntimeError),
            client.subscribe("subscription { ticks(interval: 60) }") as ticks,
        ):
            next(ticks)
            left = time.monotonic()
            raise RuntimeError("the consumer failed")
    elif how == "timeout":
        ticks = client.subscribe("subscription { ticks(interval: 60) }", timeout=0.2)
        next(ticks)
        with pytest.raises(TimeoutError):
            next(ticks)
        left = time.monotonic()
    elif how == "break":
        ticks = client.subscribe("subscription { ticks(interval: 60) }")
        for _ in ticks:
            break
        left = time.monotonic()
        del ticks  # no reference cycle: the finalizer runs here
    else:
        ticks = _idle_subscription(client)
        left = time.monotonic()
        del ticks
    message = server.wait_for_message(cancel, timeout=2)
    arrived = time.monotonic()
    assert message["id"] == "1"
    assert arrived - left < PROMPT_CANCEL + 0.05, f"cancel after {(arrived - left) * 1000:.0f} ms"
    assert client.execute("{ hello }") == {"hello": "Hello world"}


def test_dropped_subscriptions_from_many_threads(server: ReferenceServer, client: Client) -> None:
    """Finalizers running in many threads at once hand over their cancels without harm."""
    started = threading.Barrier(8)

    def churn() -> None:
        started.wait(5)
        for _ in range(20):
            ticks = client.subscribe("subscription { ticks(interval: 60) }")
            next(ticks)
            del ticks

    threads = [threading.Thread(target=churn) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    gc.collect()
    cancel = "complete" if client.subprotocol == GTW else "stop"
    server.wait_for_message(cancel, timeout=5, count=160)
    assert client.execute("{ hello }") == {"hello": "Hello world"}
