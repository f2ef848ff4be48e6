"""The client across the life of a process: interrupts part-way through a send or a connect,
fork in every phase, garbage collection, many open descriptors, and protocol errors before
the ack. Against the reference server on the real wire."""

from __future__ import annotations

import gc
import os
import resource
import signal
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import trustme

from gqlws_sync import (
    APOLLO_SUBPROTOCOL,
    GRAPHQLWS_SUBPROTOCOL,
    Client,
    Reconnect,
    TransportClosed,
    TransportProtocolError,
)
from gqlws_sync.testing import Faults, ReferenceServer
from gqlws_sync.testing.pytest_plugin import ServerFactory

GTW = GRAPHQLWS_SUBPROTOCOL
APOLLO = APOLLO_SUBPROTOCOL
BOTH = [GTW, APOLLO]
FAST = Reconnect(initial_delay=0.02, max_delay=0.1, jitter=0.0, max_attempts=50)


@pytest.fixture
def server(gqlws_server_factory: ServerFactory) -> ReferenceServer:
    return gqlws_server_factory(faults=Faults())


@pytest.fixture(params=BOTH)
def subprotocol(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


def _interrupt_main_after(delay: float) -> threading.Timer:
    """Deliver SIGINT to the main thread after ``delay``, as Ctrl-C in a terminal does."""
    main = threading.main_thread().ident
    assert main is not None
    timer = threading.Timer(delay, signal.pthread_kill, (main, signal.SIGINT))
    timer.start()
    return timer


@pytest.fixture
def sigint_default() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt here whatever the test runner installed."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# -- interrupts --------------------------------------------------------------------------------


@pytest.mark.usefixtures("sigint_default")
def test_interrupt_mid_send_drops_the_connection(server: ReferenceServer, subprotocol: str) -> None:
    """Ctrl-C while an 8 MB message is half written: the connection is failed at once (never
    left claiming to be usable), a subscription is resubscribed, and the next call works on
    a new connection."""
    assert threading.current_thread() is threading.main_thread()
    with Client(server.url, subprotocols=[subprotocol], reconnect=FAST) as client:
        ticks = client.subscribe("subscription { ticks(interval: 0.05) }", timeout=5)
        next(ticks)
        server.faults.hang = True  # the server stops reading: the send blocks part-way
        timer = _interrupt_main_after(0.3)
        try:
            with pytest.raises(KeyboardInterrupt):
                client.execute(
                    "query Q($v: String!) { echo(value: $v) }", {"v": "x" * 8_000_000}, timeout=5
                )
        finally:
            timer.join()
        interrupted_at = time.monotonic()
        assert not client.is_connected
        server.faults.hang = False
        assert client.execute("{ hello }", timeout=5) == {"hello": "Hello world"}
        assert time.monotonic() - interrupted_at < 2
        assert next(ticks) == {"ticks": 0}
        assert ticks.resubscribed == 1
        ticks.close()


@pytest.mark.usefixtures("sigint_default")
def test_interrupt_inside_connect_closes_the_socket(gqlws_server_factory: ServerFactory) -> None:
    """Ctrl-C while connect() waits for the ack: the socket it opened is closed and no
    thread is left."""
    server = gqlws_server_factory(faults=Faults(ack_delay=5))
    client = Client(server.url, ack_timeout=10)
    timer = _interrupt_main_after(0.3)
    try:
        with pytest.raises(KeyboardInterrupt):
            client.connect()
    finally:
        timer.join()
    disconnect = server.wait_for_disconnect(timeout=2)
    assert disconnect is not None
    assert not client.is_connected
    server.faults.ack_delay = 0
    assert client.execute("{ hello }") == {"hello": "Hello world"}
    client.close()


# -- fork --------------------------------------------------------------------------------------


def _in_child(body: Any) -> int:
    """Fork; run ``body()`` in the child, which reports through its exit status only."""
    pid = os.fork()
    if pid == 0:
        status = 70
        try:
            status = body()
        finally:
            os._exit(status)
    _, wait_status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(wait_status)


def _child_uses_client(client: Client) -> Any:
    def body() -> int:
        started = time.monotonic()
        if client.execute('{ hello(name: "child") }', timeout=5) != {"hello": "Hello child"}:
            return 2
        client.close()
        return 0 if time.monotonic() - started < 3 else 3

    return body


@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
def test_client_made_before_fork_connects_afresh(server: ReferenceServer) -> None:
    """A client created (not connected) in the parent works in the child: the gunicorn
    --preload case."""
    client = Client(server.url)
    assert _in_child(_child_uses_client(client)) == 0
    assert client.execute("{ hello }") == {"hello": "Hello world"}
    client.close()
    assert len(server.handshakes) == 2


@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
def test_fork_while_connecting(gqlws_server_factory: ServerFactory) -> None:
    """Fork while another thread of the parent is inside connect(): the child connects
    afresh at once, and the parent's connect completes."""
    server = gqlws_server_factory(faults=Faults(ack_delay=0.5))
    client = Client(server.url)
    outcome: list[Any] = []
    connecting = threading.Thread(target=lambda: outcome.append(client.execute("{ hello }")))
    connecting.start()
    server.wait_for_message("connection_init")
    server.faults.ack_delay = 0  # the child's own connect is quick
    assert _in_child(_child_uses_client(client)) == 0
    connecting.join(5)
    assert outcome == [{"hello": "Hello world"}]
    client.close()


@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
def test_fork_while_reading_and_sending(server: ReferenceServer, subprotocol: str) -> None:
    """Fork while the parent streams a subscription and other threads send: the child's
    copy works on its own connection, and nothing of the parent's connection is touched."""
    with Client(server.url, subprotocols=[subprotocol]) as client:
        ticks = client.subscribe("subscription { ticks(interval: 0.001) }", timeout=5)
        stop = threading.Event()

        def read() -> None:
            for _ in ticks:
                if stop.is_set():
                    break

        def send() -> None:
            while not stop.is_set():
                client.execute("{ hello }")

        workers = [threading.Thread(target=read), threading.Thread(target=send)]
        for worker in workers:
            worker.start()
        try:
            for _ in range(3):
                assert _in_child(_child_uses_client(client)) == 0
        finally:
            stop.set()
            for worker in workers:
                worker.join(5)
        ticks.close()
        assert client.execute("{ hello }") == {"hello": "Hello world"}
        # The parent's connection never saw a Close or a stray frame from a child.
        assert [d for d in server.disconnects.snapshot() if d.client_code != 1000] == []
        assert len(server.handshakes) == 1 + 3


# -- garbage collection ------------------------------------------------------------------------


def test_dropped_client_closes_its_connection(server: ReferenceServer) -> None:
    """A connected client that is garbage-collected says goodbye (with a ResourceWarning, as
    sockets do) and its threads end."""

    def make() -> None:
        client = Client(server.url)
        client.execute("{ hello }")

    with pytest.warns(ResourceWarning, match="unclosed <Client"):
        make()
    gc.collect()
    assert server.wait_for_disconnect(timeout=2).client_code == 1000


def test_rerun_cell_leaks_nothing(server: ReferenceServer) -> None:
    """Re-creating a client under the same name, as re-running a notebook cell does, leaves
    one live connection, not one per run."""
    namespace: dict[str, Any] = {}

    def run_cell() -> None:
        namespace["client"] = Client(server.url)
        namespace["client"].execute("{ hello }")

    run_cell()
    for _ in range(2):
        with pytest.warns(ResourceWarning):
            run_cell()
    gc.collect()
    server.disconnects.wait_for(lambda _: True, 2, count=2)
    assert server.connection_count() == 1
    namespace["client"].close()


# -- descriptors and protocol errors before the ack -------------------------------------------


@pytest.fixture
def many_descriptors() -> Iterator[None]:
    """Push this process past 1,024 open descriptors, where select() stops working."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2048:
        pytest.skip(f"the descriptor limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 4096), hard))
    opened = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        assert max(opened) > 1024
        yield
    finally:
        for fd in opened:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.usefixtures("many_descriptors")
def test_wss_above_1024_descriptors(gqlws_server_factory: ServerFactory) -> None:
    """Over wss:// with 1,100 descriptors open, connect, query and subscribe work."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_context)
    server = gqlws_server_factory(ssl_context=server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    url = server.url.replace("127.0.0.1", "localhost")
    with Client(url, ssl=client_context) as client:
        assert client.execute("{ hello }") == {"hello": "Hello world"}
        assert list(client.subscribe("subscription { countdown(from: 2) }")) == [
            {"countdown": 2},
            {"countdown": 1},
        ]


@pytest.mark.parametrize(
    "message",
    [
        '{"type": "data", "id": "1", "payload": {"data": {}}}',
        '{"type": "complete", "id": "1"}',
        '{"type": "error", "id": "1", "payload": {"message": "x"}}',
    ],
)
def test_operation_message_before_ack_is_a_protocol_error(
    gqlws_server_factory: ServerFactory, message: str
) -> None:
    """Apollo: an operation message instead of the ack fails connect() at once, not after
    ack_timeout."""
    server = gqlws_server_factory(faults=Faults(send_ack=False))
    client = Client(server.url, subprotocols=[APOLLO], ack_timeout=10)
    outcome: list[BaseException] = []

    def connect() -> None:
        try:
            client.connect()
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=connect)
    thread.start()
    server.wait_for_message("connection_init")
    sent_at = time.monotonic()
    server.send_raw(message)
    thread.join(5)
    assert time.monotonic() - sent_at < 1
    assert len(outcome) == 1
    assert type(outcome[0]) is TransportProtocolError
    assert "before connection_ack" in str(outcome[0])
    assert outcome[0].code == 1002


@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
def test_subscription_of_the_parent_fails_clearly_in_the_child(server: ReferenceServer) -> None:
    """An operation the parent had open fails in the child with a clear error."""
    with Client(server.url) as client:
        ticks = client.subscribe("subscription { ticks(interval: 0.02) }")
        next(ticks)

        def body() -> int:
            try:
                next(ticks)
            except TransportClosed as exc:
                return 0 if "parent process" in str(exc) else 4
            return 5

        assert _in_child(body) == 0
        assert next(ticks)["ticks"] >= 1
        ticks.close()


@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_dropped_clients_always_say_goodbye(server: ReferenceServer) -> None:
    """The goodbye of a garbage-collected client is served even when its wake-up comes
    together with a frame (here the complete that follows each query)."""
    for round_ in range(25):
        client = Client(server.url)
        client.execute("{ hello }")
        del client
        gc.collect()
        server.disconnects.wait_for(lambda _: True, 5, count=round_ + 1)
    assert server.connection_count() == 0


def test_close_cuts_a_stuck_reconnection_short(server: ReferenceServer) -> None:
    """close() while a reconnection waits for an upgrade the server never answers returns at
    once instead of after connect_timeout."""
    with Client(server.url, reconnect=FAST) as client:
        ticks = client.subscribe("subscription { ticks(interval: 0.02) }")
        next(ticks)
        server.faults.hang = True
        server.drop_connections()
        server.handshakes.wait_for(lambda _: True, 5, count=2)  # the attempt is in the upgrade
        started = time.monotonic()
        client.close()
        assert time.monotonic() - started < 1.0
    server.faults.hang = False


def _timer_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("gqlws_sync-timer-")]


def test_timer_thread_starts_at_its_first_deadline(server: ReferenceServer) -> None:
    """Connecting starts the reader only; the timer thread comes when its first ping is due,
    and pings flow from then on (a server that wants them answered keeps the connection)."""
    interval = 0.3
    lost: list[BaseException] = []
    with Client(
        server.url,
        ws_ping_interval=interval,
        ws_pong_timeout=interval,
        reconnect=False,
        on_disconnect=lambda _client, error: lost.append(error),
    ) as client:
        connected_at = time.monotonic()
        assert client.execute("{ hello }") == {"hello": "Hello world"}
        if time.monotonic() - connected_at < interval / 2:  # not a slow machine's fluke
            assert _timer_threads() == []
        deadline = time.monotonic() + 5
        while not _timer_threads() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(_timer_threads()) == 1
        assert time.monotonic() - connected_at >= interval * 0.9
        # Several pong deadlines later the connection is still up: pings went out, pongs
        # came back and were seen.
        time.sleep(interval * 4)
        assert lost == []
        assert client.execute("{ hello }") == {"hello": "Hello world"}
    assert _timer_threads() == []
