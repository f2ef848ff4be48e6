"""The clients under test, each driven the way its users would drive it.

Every peer offers the same six measurements; a peer that cannot do one raises ``Unsupported``
with the reason, which the report prints instead of a number. All of them pin the subprotocol
to ``graphql-transport-ws``.

- ``raw``: websocket-client's ``create_connection(..., skip_utf8_validation=True)`` and a loop
  of ``recv()`` + ``json.loads``, single-threaded: the practical ceiling for a consumer that
  parses every message. It has no reader thread, no queues and no dispatch.
- ``websockets-sync``: the websockets library's synchronous client, ``connect(url,
  subprotocols=[...])`` with its defaults, and the same ``recv()`` + ``json.loads`` loop: what a
  sync Python user who does not want websocket-client would pick. Unlike ``raw`` it has a
  background thread of its own that reads the socket and hands messages to ``recv()``.
- ``gqlws_sync`` / ``gqlws_sync+orjson``: ``gqlws_sync.Client``, the first with the standard
  library's ``json`` chosen explicitly (orjson is the default once it is installed, and the
  benchmark extra installs it), the second with its default codec, which must be orjson.
- ``gql-async``: gql 4's ``Client(transport=WebsocketsTransport(...))`` in ``async with client
  as session``; concurrency is tasks on that one session.
- ``gql-sync``: the same gql ``Client`` called from plain synchronous code,
  ``client.execute()`` / ``client.subscribe()``: every call runs an event loop and opens (and
  closes) its own socket.
"""

from __future__ import annotations

import asyncio
import gc
import json
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import websocket

from .firehose import ECHO_QUERY, IDLE_COUNT_QUERY, IDLE_SUBSCRIPTION, SUBPROTOCOL, burst_query
from .meter import Meter, rss_bytes

if TYPE_CHECKING:
    from websockets.sync.client import ClientConnection

__all__ = ["PEERS", "IdleSubscriptions", "Peer", "ThreadsRun", "Unsupported"]

#: Bound on any single wait in a peer; a benchmark that stalls this long is broken, not slow.
STALL_TIMEOUT = 60.0


class Unsupported(Exception):
    """This peer cannot take part in this measurement; the message says why."""


@dataclass(frozen=True, slots=True)
class ThreadsRun:
    completed: int
    failures: int
    #: WebSocket connections opened to run the queries.
    connections: int
    #: The first failure, as text, when there were any.
    first_failure: str | None = None
    #: Seconds per successful query, all threads together (for percentiles under load).
    latencies: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class IdleSubscriptions:
    #: From the first subscribe until the server confirmed it holds them all.
    open_seconds: float
    #: Memory that stayed allocated per open subscription: tracemalloc bytes when traced,
    #: else the growth of the resident set size.
    bytes_per_subscription: float | None


class Peer:
    """One client under test; the measurement methods raise ``Unsupported`` by default."""

    name: ClassVar[str]
    #: How this peer is used, for the report.
    usage: ClassVar[str]

    def throughput(self, url: str, count: int, size: int, meter: Meter) -> int:
        """Receive one burst of ``count`` messages of ``size`` bytes; return how many came."""
        raise Unsupported("not implemented")

    def latency(self, url: str, count: int) -> list[float]:
        """``count`` sequential echo queries on one connection; seconds per round trip."""
        raise Unsupported("not implemented")

    def threads(self, url: str, workers: int, per_worker: int, meter: Meter) -> ThreadsRun:
        """``workers`` threads (or tasks) each running ``per_worker`` echo queries."""
        raise Unsupported("not implemented")

    def fanout(self, url: str, subscriptions: int, each: int, size: int, meter: Meter) -> int:
        """``subscriptions`` bursts of ``each`` messages sharing one stream; messages received.

        The server starts them together once all are subscribed (``burst(group:)``), and the
        meter covers subscribing too, as a user would pay for it.
        """
        raise Unsupported("not implemented")

    def connect(self, url: str, count: int) -> list[float]:
        """``count`` connects (TCP + upgrade + init + ack); seconds each, closing untimed."""
        raise Unsupported("not implemented")

    def idle_subscriptions(self, url: str, count: int, *, traced: bool) -> IdleSubscriptions:
        """Open ``count`` subscriptions that never get an event, on one connection."""
        raise Unsupported("not implemented")

    def idle_connection(self, url: str, ping_interval: float) -> AbstractContextManager[None]:
        """A context in which one connection is open, idle, pinging every ``ping_interval``."""
        raise Unsupported("not implemented")


def _wait_until(predicate: Callable[[], bool], what: str) -> None:
    """Check ``predicate`` every 10 ms; only used to set up, never inside a measured window."""
    deadline = time.monotonic() + STALL_TIMEOUT
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {STALL_TIMEOUT} s")
        time.sleep(0.01)


def _subscribe_frame(op_id: str, query: str) -> str:
    return json.dumps({"id": op_id, "type": "subscribe", "payload": {"query": query}})


def _demultiplex(
    send: Callable[[str], object],
    recv: Callable[[], str | bytes],
    subscriptions: int,
    each: int,
    size: int,
) -> int:
    """Subscribe grouped bursts on one socket and read until every one has completed.

    What a single-threaded user of a bare socket writes for many subscriptions: route each
    message by its id (here to a counter, the cheapest handler) and count the completes.
    """
    query = burst_query(each, size, group=subscriptions)
    for number in range(subscriptions):
        send(_subscribe_frame(str(number), query))
    per_id = dict.fromkeys(map(str, range(subscriptions)), 0)
    live = subscriptions
    loads = json.loads
    while live:
        message = loads(recv())
        kind = message["type"]
        if kind == "next":
            per_id[message["id"]] += 1
        elif kind == "complete":
            live -= 1
        else:
            raise RuntimeError(f"unexpected message {message!r}")
    return sum(per_id.values())


def _count_burst(
    send: Callable[[str], object], recv: Callable[[], str | bytes], count: int, size: int
) -> int:
    """Subscribe one burst and count its results until it ends: a bare socket's loop of
    ``recv()`` and ``json.loads``, the baseline the subscription cells compare against."""
    received = 0
    loads = json.loads
    send(_subscribe_frame("1", burst_query(count, size)))
    while True:
        message = loads(recv())
        if message["type"] != "next":
            return received
        received += 1


# -- bare sync libraries: a socket and a loop per thread ---------------------------------


class _SocketPerThreadPeer(Peer):
    """A bare sync WebSocket library: a loop of its own per thread, one socket each. What
    differs between libraries is how a socket is opened (``_open``: upgrade, init, ack)."""

    @staticmethod
    def _open(url: str) -> Any:
        raise NotImplementedError

    @staticmethod
    def _round_trip(ws: Any, op_id: str) -> None:
        ws.send(_subscribe_frame(op_id, ECHO_QUERY))
        result = json.loads(ws.recv())
        done = json.loads(ws.recv())
        if result.get("type") != "next" or done.get("type") != "complete":
            raise RuntimeError(f"unexpected answer {result!r} {done!r}")

    def latency(self, url: str, count: int) -> list[float]:
        ws = self._open(url)
        try:
            samples = []
            clock = time.perf_counter
            for number in range(count):
                start = clock()
                self._round_trip(ws, str(number))
                samples.append(clock() - start)
            return samples
        finally:
            ws.close()

    def threads(self, url: str, workers: int, per_worker: int, meter: Meter) -> ThreadsRun:
        # One connection per thread: neither library shares one between threads (websockets
        # refuses concurrent recv() calls).
        sockets = [self._open(url) for _ in range(workers)]
        start = threading.Barrier(workers + 1)
        failures: list[BaseException] = []
        completed = [0] * workers

        def work(index: int) -> None:
            ws = sockets[index]
            start.wait(STALL_TIMEOUT)
            try:
                for number in range(per_worker):
                    self._round_trip(ws, str(number))
                    completed[index] += 1
            except Exception as exc:  # the socket is unusable after a failure
                failures.append(exc)

        threads = [
            threading.Thread(target=work, args=(index,), daemon=True) for index in range(workers)
        ]
        for thread in threads:
            thread.start()
        try:
            with meter:
                start.wait(STALL_TIMEOUT)
                for thread in threads:
                    thread.join(STALL_TIMEOUT)
        finally:
            for ws in sockets:
                ws.close()
        done = sum(completed)
        return ThreadsRun(
            completed=done,
            failures=workers * per_worker - done,
            connections=workers,
            first_failure=repr(failures[0]) if failures else None,
        )

    def connect(self, url: str, count: int) -> list[float]:
        samples = []
        for _ in range(count):
            start = time.perf_counter()
            ws = self._open(url)
            samples.append(time.perf_counter() - start)
            ws.close()
        return samples


# -- raw websocket-client loop ----------------------------------------------------------------


class RawPeer(_SocketPerThreadPeer):
    name = "raw"
    usage = (
        "websocket-client create_connection(skip_utf8_validation=True); one thread: "
        "ws.recv() + json.loads per message; a connection per thread"
    )

    @staticmethod
    def _open(url: str) -> websocket.WebSocket:
        # No timeout: with one, every recv() becomes poll() + recv(), and this is the ceiling.
        # A stalled worker is killed by the runner instead.
        ws = websocket.create_connection(url, subprotocols=[SUBPROTOCOL], skip_utf8_validation=True)
        ws.send('{"type":"connection_init","payload":{}}')
        ack = json.loads(ws.recv())
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"expected connection_ack, got {ack!r}")
        return ws

    def fanout(self, url: str, subscriptions: int, each: int, size: int, meter: Meter) -> int:
        ws = self._open(url)
        try:
            with meter:
                return _demultiplex(ws.send, ws.recv, subscriptions, each, size)
        finally:
            ws.close()

    def throughput(self, url: str, count: int, size: int, meter: Meter) -> int:
        ws = self._open(url)
        try:
            with meter:
                return _count_burst(ws.send, ws.recv, count, size)
        finally:
            ws.close()

    def idle_subscriptions(self, url: str, count: int, *, traced: bool) -> IdleSubscriptions:
        ws = self._open(url)
        try:
            with _memory(traced) as memory:
                start = time.perf_counter()
                live: dict[str, str] = {}
                for number in range(count):
                    op_id = str(number)
                    ws.send(_subscribe_frame(op_id, IDLE_SUBSCRIPTION))
                    live[op_id] = IDLE_SUBSCRIPTION
                ws.send(_subscribe_frame("count", IDLE_COUNT_QUERY))
                answer = json.loads(ws.recv())
                json.loads(ws.recv())  # complete
                seconds = time.perf_counter() - start
            if answer["payload"]["data"]["idleCount"] != count:
                raise RuntimeError(f"the server holds {answer} idle subscriptions, not {count}")
            return IdleSubscriptions(seconds, memory.per(count))
        finally:
            ws.close()

    @contextmanager
    def idle_connection(self, url: str, ping_interval: float) -> Iterator[None]:
        ws = self._open(url)
        stop = threading.Event()

        def pinger() -> None:
            # Sleeps in recv() until the next ping is due, never longer, never polling.
            next_ping = time.monotonic() + ping_interval
            while not stop.is_set():
                wait = next_ping - time.monotonic()
                if wait <= 0:
                    ws.send('{"type":"ping"}')
                    next_ping += ping_interval
                    continue
                ws.settimeout(wait)
                try:
                    ws.recv()
                except websocket.WebSocketTimeoutException:
                    pass
                except (websocket.WebSocketException, OSError):
                    return

        thread = threading.Thread(target=pinger, name="raw-pinger", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            ws.abort()  # type: ignore[no-untyped-call]  # websocket-client is untyped here
            thread.join(STALL_TIMEOUT)
            ws.shutdown()  # type: ignore[no-untyped-call]


# -- websockets' synchronous client ------------------------------------------------------------


class WebsocketsSyncPeer(_SocketPerThreadPeer):
    name = "websockets-sync"
    usage = (
        "websockets.sync.client.connect(url, subprotocols=[...]), its defaults; one thread: "
        "ws.recv() + json.loads per message; a connection per thread"
    )

    @staticmethod
    def _open(url: str) -> ClientConnection:
        from websockets.sync.client import connect
        from websockets.typing import Subprotocol

        ws = connect(url, subprotocols=[Subprotocol(SUBPROTOCOL)])
        try:
            ws.send('{"type":"connection_init","payload":{}}')
            ack = json.loads(ws.recv(timeout=STALL_TIMEOUT))
        except BaseException:
            ws.close()
            raise
        if ack.get("type") != "connection_ack":
            ws.close()
            raise RuntimeError(f"expected connection_ack, got {ack!r}")
        return ws

    def throughput(self, url: str, count: int, size: int, meter: Meter) -> int:
        with self._open(url) as ws, meter:
            return _count_burst(ws.send, ws.recv, count, size)

    def fanout(self, url: str, subscriptions: int, each: int, size: int, meter: Meter) -> int:
        with self._open(url) as ws, meter:
            return _demultiplex(ws.send, ws.recv, subscriptions, each, size)

    def idle_subscriptions(self, url: str, count: int, *, traced: bool) -> IdleSubscriptions:
        with self._open(url) as ws:
            with _memory(traced) as memory:
                start = time.perf_counter()
                live: dict[str, str] = {}
                for number in range(count):
                    op_id = str(number)
                    ws.send(_subscribe_frame(op_id, IDLE_SUBSCRIPTION))
                    live[op_id] = IDLE_SUBSCRIPTION
                ws.send(_subscribe_frame("count", IDLE_COUNT_QUERY))
                answer = json.loads(ws.recv(timeout=STALL_TIMEOUT))
                json.loads(ws.recv(timeout=STALL_TIMEOUT))  # complete
                seconds = time.perf_counter() - start
            if answer["payload"]["data"]["idleCount"] != count:
                raise RuntimeError(f"the server holds {answer} idle subscriptions, not {count}")
            return IdleSubscriptions(seconds, memory.per(count))

    @contextmanager
    def idle_connection(self, url: str, ping_interval: float) -> Iterator[None]:
        from websockets.exceptions import ConnectionClosed

        ws = self._open(url)
        stop = threading.Event()

        def pinger() -> None:
            # As the raw loop: sleeps in recv() until the next ping is due, never polling.
            next_ping = time.monotonic() + ping_interval
            while not stop.is_set():
                wait = next_ping - time.monotonic()
                if wait <= 0:
                    ws.send('{"type":"ping"}')
                    next_ping += ping_interval
                    continue
                try:
                    ws.recv(timeout=wait)
                except TimeoutError:
                    pass
                except ConnectionClosed:
                    return

        thread = threading.Thread(target=pinger, name="websockets-pinger", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            ws.close()  # wakes the pinger's recv() with ConnectionClosed
            thread.join(STALL_TIMEOUT)


# -- gqlws_sync ---------------------------------------------------------------------------------


class GqlwsSyncPeer(Peer):
    name = "gqlws_sync"
    usage = (
        "gqlws_sync.Client(url, subprotocols=[...], json_loads=json.loads, "
        "json_dumps=json.dumps); threads share one Client"
    )

    def _client(self, url: str, **options: Any) -> Any:
        from gqlws_sync import Client

        return Client(url, subprotocols=[SUBPROTOCOL], **self._options(), **options)

    def _options(self) -> dict[str, Any]:
        """The JSON codec: the standard library's here, whatever else is installed."""
        return {"json_loads": json.loads, "json_dumps": json.dumps}

    def throughput(self, url: str, count: int, size: int, meter: Meter) -> int:
        with self._client(url) as client:
            received = 0
            with meter:
                for _ in client.subscribe(burst_query(count, size), timeout=STALL_TIMEOUT):
                    received += 1
            return received

    def latency(self, url: str, count: int) -> list[float]:
        with self._client(url) as client:
            execute = client.execute
            samples = []
            clock = time.perf_counter
            for _ in range(count):
                start = clock()
                execute(ECHO_QUERY)
                samples.append(clock() - start)
            return samples

    def threads(self, url: str, workers: int, per_worker: int, meter: Meter) -> ThreadsRun:
        with self._client(url) as client:
            start = threading.Barrier(workers + 1)
            failures: list[BaseException] = []
            latencies: list[float] = []

            def work() -> None:
                execute = client.execute
                clock = time.perf_counter
                mine = []
                start.wait(STALL_TIMEOUT)
                for _ in range(per_worker):
                    began = clock()
                    try:
                        execute(ECHO_QUERY)
                    except Exception as exc:
                        failures.append(exc)
                    else:
                        mine.append(clock() - began)
                latencies.extend(mine)

            threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
            for thread in threads:
                thread.start()
            with meter:
                start.wait(STALL_TIMEOUT)
                for thread in threads:
                    thread.join(STALL_TIMEOUT)
        return ThreadsRun(
            completed=workers * per_worker - len(failures),
            failures=len(failures),
            connections=1,
            first_failure=repr(failures[0]) if failures else None,
            latencies=tuple(latencies),
        )

    def fanout(self, url: str, subscriptions: int, each: int, size: int, meter: Meter) -> int:
        # A sync user consumes each subscription's iterator on a thread of its own; the calling
        # thread does it when there is only one.
        query = burst_query(each, size, group=subscriptions)
        with self._client(url) as client:
            if subscriptions == 1:
                with meter:
                    return sum(1 for _ in client.subscribe(query, timeout=STALL_TIMEOUT))
            go = threading.Event()
            subscribed: list[Any] = []
            received = [0] * subscriptions

            def consume(index: int) -> None:
                go.wait(STALL_TIMEOUT)
                received[index] = sum(1 for _ in subscribed[index])

            threads = [
                threading.Thread(target=consume, args=(index,), daemon=True)
                for index in range(subscriptions)
            ]
            for thread in threads:
                thread.start()
            with meter:
                subscribed.extend(
                    client.subscribe(query, timeout=STALL_TIMEOUT) for _ in range(subscriptions)
                )
                go.set()
                for thread in threads:
                    thread.join(STALL_TIMEOUT)
            return sum(received)

    def connect(self, url: str, count: int) -> list[float]:
        samples = []
        for _ in range(count):
            start = time.perf_counter()
            client = self._client(url)
            client.connect()
            samples.append(time.perf_counter() - start)
            client.close()
        return samples

    def idle_subscriptions(self, url: str, count: int, *, traced: bool) -> IdleSubscriptions:
        with self._client(url) as client:
            with _memory(traced) as memory:
                start = time.perf_counter()
                subscriptions = [client.subscribe(IDLE_SUBSCRIPTION) for _ in range(count)]
                held = client.execute(IDLE_COUNT_QUERY)["idleCount"]
                seconds = time.perf_counter() - start
            if held != count:
                raise RuntimeError(f"the server holds {held} idle subscriptions, not {count}")
            result = IdleSubscriptions(seconds, memory.per(count))
            for subscription in subscriptions:
                subscription.close()
            return result

    @contextmanager
    def idle_connection(self, url: str, ping_interval: float) -> Iterator[None]:
        with self._client(url, ping_interval=ping_interval):
            yield


class GqlwsSyncOrjsonPeer(GqlwsSyncPeer):
    name = "gqlws_sync+orjson"
    usage = "as gqlws_sync, with its default codec: orjson, installed (the fast extra)"

    def _options(self) -> dict[str, Any]:
        try:
            import orjson  # noqa: F401  # the default codec is orjson only when it is installed
        except ImportError as exc:
            raise Unsupported("orjson is not installed (pip install 'gqlws_sync[fast]')") from exc
        return {}


# -- gql --------------------------------------------------------------------------------------


def _gql_client(url: str, **transport_options: Any) -> Any:
    from gql import Client
    from gql.transport.websockets import WebsocketsTransport

    transport = WebsocketsTransport(url=url, subprotocols=[SUBPROTOCOL], **transport_options)
    return Client(transport=transport)


def _gql_request(query: str) -> Any:
    from gql import gql

    return gql(query)


class GqlAsyncPeer(Peer):
    name = "gql-async"
    usage = (
        "gql Client(transport=WebsocketsTransport(...)); async with client as session; "
        "concurrent tasks share the session"
    )

    def throughput(self, url: str, count: int, size: int, meter: Meter) -> int:
        request = _gql_request(burst_query(count, size))

        async def run() -> int:
            received = 0
            async with _gql_client(url) as session:
                with meter:
                    async for _ in session.subscribe(request):
                        received += 1
            return received

        return asyncio.run(run())

    def latency(self, url: str, count: int) -> list[float]:
        request = _gql_request(ECHO_QUERY)

        async def run() -> list[float]:
            samples = []
            clock = time.perf_counter
            async with _gql_client(url) as session:
                for _ in range(count):
                    start = clock()
                    await session.execute(request)
                    samples.append(clock() - start)
            return samples

        return asyncio.run(run())

    def threads(self, url: str, workers: int, per_worker: int, meter: Meter) -> ThreadsRun:
        request = _gql_request(ECHO_QUERY)
        failures: list[BaseException] = []
        latencies: list[float] = []

        async def run() -> None:
            async with _gql_client(url) as session:

                async def work() -> None:
                    clock = time.perf_counter
                    for _ in range(per_worker):
                        began = clock()
                        try:
                            await session.execute(request)
                        except Exception as exc:
                            failures.append(exc)
                        else:
                            latencies.append(clock() - began)

                with meter:
                    await asyncio.gather(*(work() for _ in range(workers)))

        asyncio.run(run())
        return ThreadsRun(
            completed=workers * per_worker - len(failures),
            failures=len(failures),
            connections=1,
            first_failure=repr(failures[0]) if failures else None,
            latencies=tuple(latencies),
        )

    def fanout(self, url: str, subscriptions: int, each: int, size: int, meter: Meter) -> int:
        request = _gql_request(burst_query(each, size, group=subscriptions))

        async def run() -> int:
            async with _gql_client(url) as session:

                async def consume() -> int:
                    received = 0
                    async for _ in session.subscribe(request):
                        received += 1
                    return received

                with meter:
                    counts = await asyncio.gather(*(consume() for _ in range(subscriptions)))
            return sum(counts)

        return asyncio.run(run())

    def connect(self, url: str, count: int) -> list[float]:
        async def run() -> list[float]:
            samples = []
            for _ in range(count):
                start = time.perf_counter()
                client = _gql_client(url)
                await client.connect_async()
                samples.append(time.perf_counter() - start)
                await client.close_async()
            return samples

        return asyncio.run(run())

    def idle_subscriptions(self, url: str, count: int, *, traced: bool) -> IdleSubscriptions:
        subscription = _gql_request(IDLE_SUBSCRIPTION)
        count_query = _gql_request(IDLE_COUNT_QUERY)

        async def run() -> IdleSubscriptions:
            async with _gql_client(url) as session:

                async def listen() -> None:
                    async for _ in session.subscribe(subscription):
                        pass

                with _memory(traced) as memory:
                    start = time.perf_counter()
                    tasks = [asyncio.create_task(listen()) for _ in range(count)]
                    deadline = time.monotonic() + STALL_TIMEOUT
                    # The tasks send their subscribe when they first run; ask until all have.
                    while (await session.execute(count_query))["idleCount"] != count:
                        if time.monotonic() > deadline:
                            raise TimeoutError("the idle subscriptions did not all arrive")
                        await asyncio.sleep(0.001)
                    seconds = time.perf_counter() - start
                result = IdleSubscriptions(seconds, memory.per(count))
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                return result

        return asyncio.run(run())

    @contextmanager
    def idle_connection(self, url: str, ping_interval: float) -> Iterator[None]:
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()
        stop = loop.create_future()

        async def hold() -> None:
            try:
                async with _gql_client(url, ping_interval=ping_interval):
                    ready.set()
                    await stop
            except BaseException as exc:
                failure.append(exc)
                ready.set()

        thread = threading.Thread(target=loop.run_until_complete, args=(hold(),), daemon=True)
        thread.start()
        try:
            if not ready.wait(STALL_TIMEOUT) or failure:
                raise RuntimeError(f"gql did not connect: {failure}")
            yield
        finally:

            def release() -> None:
                if not stop.done():
                    stop.set_result(None)

            loop.call_soon_threadsafe(release)
            thread.join(STALL_TIMEOUT)
            loop.close()


class GqlSyncPeer(Peer):
    name = "gql-sync"
    #: Seconds the threads test waits for gql-sync threads stuck on a shared Client.
    HANG_TIMEOUT = 5.0
    usage = (
        "the same gql Client from sync code: client.execute() / client.subscribe(); "
        "each call runs an event loop and opens its own socket"
    )

    def throughput(self, url: str, count: int, size: int, meter: Meter) -> int:
        client = _gql_client(url)
        request = _gql_request(burst_query(count, size))
        received = 0
        with meter:  # includes this call's own connect: one round trip in a second or more
            for _ in client.subscribe(request):
                received += 1
        return received

    def latency(self, url: str, count: int) -> list[float]:
        client = _gql_client(url)
        request = _gql_request(ECHO_QUERY)
        samples = []
        clock = time.perf_counter
        for _ in range(count):
            start = clock()
            client.execute(request)
            samples.append(clock() - start)
        return samples

    def threads(self, url: str, workers: int, per_worker: int, meter: Meter) -> ThreadsRun:
        client = _gql_client(url)
        request = _gql_request(ECHO_QUERY)
        start = threading.Barrier(workers + 1)
        failures: list[BaseException] = []
        completed = [0] * workers

        def work(index: int) -> None:
            start.wait(STALL_TIMEOUT)
            for _ in range(per_worker):
                try:
                    client.execute(request)
                    completed[index] += 1
                except Exception as exc:
                    failures.append(exc)

        threads = [
            threading.Thread(target=work, args=(index,), daemon=True) for index in range(workers)
        ]
        for thread in threads:
            thread.start()
        with meter:
            start.wait(STALL_TIMEOUT)
            # Threads sharing this Client can sit out gql's 10 s ack_timeout, several times:
            # give them a few seconds, then count what is left as failed and abandon it (the
            # worker process ends with os._exit).
            deadline = time.monotonic() + self.HANG_TIMEOUT
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))
        hung = sum(thread.is_alive() for thread in threads)
        done = sum(completed)
        return ThreadsRun(
            completed=done,
            failures=workers * per_worker - done,
            connections=done,
            first_failure=(
                f"{repr(failures[0]) if failures else ''}"
                f"{f'; {hung} threads still blocked after {self.HANG_TIMEOUT:g} s' if hung else ''}"
                or None
            ),
        )

    def connect(self, url: str, count: int) -> list[float]:
        raise Unsupported(
            "gql's sync Client has no connect for an async transport: every call connects"
        )

    def idle_subscriptions(self, url: str, count: int, *, traced: bool) -> IdleSubscriptions:
        raise Unsupported(
            "each sync subscribe() is a socket and an event loop blocking its thread: "
            "no way to hold many at once from one thread"
        )

    @contextmanager
    def idle_connection(self, url: str, ping_interval: float) -> Iterator[None]:
        # A sync user waiting on a subscription: the generator blocks its thread in the loop.
        client = _gql_client(url, ping_interval=ping_interval)
        request = _gql_request(IDLE_SUBSCRIPTION)
        started = threading.Event()

        def wait_for_events() -> None:
            started.set()
            for _ in client.subscribe(request):
                pass

        # Daemon and never joined: nothing can interrupt the sync generator from outside, so
        # the worker process exits with os._exit() after this measurement.
        thread = threading.Thread(target=wait_for_events, daemon=True)
        thread.start()
        started.wait(STALL_TIMEOUT)
        _wait_until(lambda: bool(client.transport._connected), "gql-sync connecting")
        yield


PEERS: dict[str, type[Peer]] = {
    peer.name: peer
    for peer in (
        RawPeer,
        WebsocketsSyncPeer,
        GqlwsSyncPeer,
        GqlwsSyncOrjsonPeer,
        GqlAsyncPeer,
        GqlSyncPeer,
    )
}


# -- memory -----------------------------------------------------------------------------------


class _Memory:
    def __init__(self, traced: bool) -> None:
        self.traced = traced
        self.before = 0
        self.after = 0

    def per(self, count: int) -> float | None:
        if count <= 0:
            return None
        return (self.after - self.before) / count


@contextmanager
def _memory(traced: bool) -> Iterator[_Memory]:
    """Measure what the block leaves allocated: tracemalloc bytes, or the RSS growth."""
    memory = _Memory(traced)
    gc.collect()
    if traced:
        tracemalloc.start()
        memory.before = tracemalloc.get_traced_memory()[0]
    else:
        memory.before = rss_bytes() or 0
    try:
        yield memory
        gc.collect()
        if traced:
            memory.after = tracemalloc.get_traced_memory()[0]
        else:
            memory.after = rss_bytes() or 0
    finally:
        if traced:
            tracemalloc.stop()
