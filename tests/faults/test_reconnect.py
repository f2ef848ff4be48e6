"""Connect on demand and reconnection, against the reference server on the real wire: what
each kind of caller sees when the connection is lost, for retryable and fatal causes, with
reconnect on and off, and the callbacks and credentials callables around it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from gqlws_sync import (
    APOLLO_SUBPROTOCOL,
    GRAPHQLWS_SUBPROTOCOL,
    Client,
    OperationTimeout,
    Reconnect,
    TransportClosed,
    TransportConnectionFailed,
    TransportError,
    TransportProtocolError,
    TransportServerError,
)
from gqlws_sync.testing import Faults, ReferenceServer
from gqlws_sync.testing.pytest_plugin import ServerFactory

GTW = GRAPHQLWS_SUBPROTOCOL
APOLLO = APOLLO_SUBPROTOCOL
BOTH = [GTW, APOLLO]

#: Quick back-off for tests: the behaviour is the same as with the defaults, only sooner.
FAST = Reconnect(initial_delay=0.02, max_delay=0.1, jitter=0.0, max_attempts=30)

#: How long a test gives a reconnection (a handful of fast attempts) to succeed.
RECOVERY = 5.0


@pytest.fixture
def server(gqlws_server_factory: ServerFactory) -> ReferenceServer:
    return gqlws_server_factory(faults=Faults())


@pytest.fixture(params=BOTH)
def subprotocol(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


class Recorder:
    """on_connect / on_disconnect callbacks that record what they saw, and on which thread."""

    def __init__(self) -> None:
        self.connects: list[str] = []
        self.disconnects: list[Any] = []
        self._event = threading.Condition()

    def on_connect(self, client: Client) -> None:
        assert isinstance(client, Client)
        with self._event:
            self.connects.append(threading.current_thread().name)
            self._event.notify_all()

    def on_disconnect(self, client: Client, error: BaseException) -> None:
        assert isinstance(client, Client)
        with self._event:
            self.disconnects.append(error)
            self._event.notify_all()

    def wait(self, connects: int = 0, disconnects: int = 0, timeout: float = RECOVERY) -> None:
        with self._event:
            ok = self._event.wait_for(
                lambda: len(self.connects) >= connects and len(self.disconnects) >= disconnects,
                timeout,
            )
        assert ok, f"callbacks: {self.connects}, {self.disconnects}"


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(server: ReferenceServer, subprotocol: str, recorder: Recorder) -> Iterator[Client]:
    with Client(
        server.url,
        subprotocols=[subprotocol],
        reconnect=FAST,
        on_connect=recorder.on_connect,
        on_disconnect=recorder.on_disconnect,
    ) as client:
        yield client


def _starts(server: ReferenceServer, needle: str) -> int:
    """How many start messages (subscribe/start) whose query contains ``needle`` arrived."""
    return sum(
        1
        for message in server.received.snapshot()
        if message.get("type") in ("subscribe", "start")
        and needle in message.get("payload", {}).get("query", "")
    )


def _in_thread(function: Any, *args: Any) -> tuple[threading.Thread, list[Any]]:
    """Run ``function`` in a thread; the list gets its result or its exception."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(function(*args))
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


# -- connect on demand -------------------------------------------------------------------------


def test_operations_connect_on_demand(server: ReferenceServer, subprotocol: str) -> None:
    """execute() and subscribe() on a client never connected connect it first."""
    client = Client(server.url, subprotocols=[subprotocol])
    try:
        assert not client.is_connected
        assert client.execute("{ hello }") == {"hello": "Hello world"}
        assert client.is_connected
        assert list(client.subscribe("subscription { countdown(from: 2) }")) == [
            {"countdown": 2},
            {"countdown": 1},
        ]
        assert len(server.handshakes) == 1
    finally:
        client.close()


def test_many_threads_one_connect(gqlws_server_factory: ServerFactory) -> None:
    """Sixteen threads asking a fresh client at once cause one connect, and all are served."""
    server = gqlws_server_factory(faults=Faults(ack_delay=0.2))
    with Client(server.url, connect_timeout=5, ack_timeout=5) as probe:
        assert probe.execute("{ hello }") == {"hello": "Hello world"}
    client = Client(server.url)
    try:
        threads = [_in_thread(client.execute, "{ add(a: 1, b: 2) }") for _ in range(16)]
        for thread, _ in threads:
            thread.join(10)
        assert [outcome for _, outcome in threads] == [[{"add": 3}]] * 16
        assert len(server.handshakes) == 2  # the probe's and this client's
    finally:
        client.close()


def test_failed_on_demand_connect_raises_at_once(gqlws_server_factory: ServerFactory) -> None:
    """An on-demand connect that fails raises its own error, with no background retry."""
    server = gqlws_server_factory(faults=Faults(http_status=401))
    client = Client(server.url, reconnect=FAST)
    started = time.monotonic()
    with pytest.raises(TransportServerError) as info:
        client.execute("{ hello }")
    assert info.value.code == 401
    assert time.monotonic() - started < 1.0
    assert len(server.handshakes) == 1
    assert not [t for t in threading.enumerate() if t.name.startswith("gqlws_sync-reconnect")]
    server.faults.http_status = None
    assert client.execute("{ hello }") == {"hello": "Hello world"}  # and the next one tries
    client.close()


def test_closed_client_refuses_until_connect(server: ReferenceServer) -> None:
    """After close(), operations raise TransportClosed until connect() is called again."""
    client = Client(server.url)
    assert client.execute("{ hello }") == {"hello": "Hello world"}
    client.close()
    with pytest.raises(TransportClosed, match="call connect"):
        client.execute("{ hello }")
    with pytest.raises(TransportClosed, match="call connect"):
        client.subscribe("subscription { countdown(from: 1) }")
    client.connect()
    assert client.execute("{ hello }") == {"hello": "Hello world"}
    client.close()


def test_connect_is_bounded_by_the_call_timeout(gqlws_server_factory: ServerFactory) -> None:
    """An on-demand connect honours the call's own timeout, shorter than ack_timeout."""
    server = gqlws_server_factory(faults=Faults(send_ack=False))
    client = Client(server.url, ack_timeout=10)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        client.execute("{ hello }", timeout=0.3)
    assert time.monotonic() - started < 1.0
    client.close()


# -- a lost connection, reconnect on ----------------------------------------------------------


def test_drop_resubscribes_and_sends_query_again(
    server: ReferenceServer, client: Client, subprotocol: str, recorder: Recorder
) -> None:
    """TCP dropped: the subscription goes on (resubscribed once), a query in flight is
    answered after being sent once more, and the callbacks see the loss and the reconnect."""
    ticks = client.subscribe("subscription { ticks(interval: 0.02) }", timeout=RECOVERY)
    assert next(ticks) == {"ticks": 0}
    thread, outcome = _in_thread(client.execute, "{ slow(seconds: 0.3) }")
    server.wait_for_message("subscribe" if subprotocol == GTW else "start", count=2)
    dropped_at = time.monotonic()
    server.drop_connections()
    event = next(ticks)
    recovered = time.monotonic() - dropped_at
    assert event == {"ticks": 0}  # a new subscription on the server counts from 0 again
    assert ticks.resubscribed == 1
    assert recovered < RECOVERY
    thread.join(RECOVERY)
    assert outcome == [{"slow": 0.3}]
    assert _starts(server, "slow") == 2
    assert _starts(server, "ticks") == 2
    recorder.wait(connects=2, disconnects=1)
    assert recorder.connects[0] == threading.current_thread().name  # connect() ran here
    assert recorder.connects[1].startswith("gqlws_sync-reconnect-")
    assert isinstance(recorder.disconnects[0], TransportClosed)
    assert recorder.disconnects[0].code == 1006
    assert next(ticks) == {"ticks": 1}
    ticks.close()
    assert len(server.handshakes) == 2


def test_mutation_in_flight_is_never_sent_again(
    server: ReferenceServer, client: Client, subprotocol: str
) -> None:
    """A mutation in flight at a loss fails saying it may or may not have been applied; the
    server got it exactly once."""
    server.faults.send_results = False
    thread, outcome = _in_thread(client.execute, "mutation { increment(by: 1) }")
    server.wait_for_message("subscribe" if subprotocol == GTW else "start")
    server.drop_connections()
    thread.join(RECOVERY)
    assert len(outcome) == 1
    error = outcome[0]
    assert type(error) is TransportClosed
    assert "may or may not have been applied" in str(error)
    assert error.code == 1006
    server.faults.send_results = True
    assert client.execute("{ hello }") == {"hello": "Hello world"}
    assert _starts(server, "increment") == 1


def test_new_call_during_outage_waits_for_the_reconnection(
    server: ReferenceServer, client: Client
) -> None:
    """While the server refuses (HTTP 503, retryable), a new call waits for the reconnection
    and is served by it."""
    assert client.execute("{ hello }") == {"hello": "Hello world"}
    server.faults.http_status = 503
    server.drop_connections()
    thread, outcome = _in_thread(client.execute, '{ hello(name: "later") }')
    server.handshakes.wait_for(lambda h: True, RECOVERY, count=3)  # refused attempts
    assert outcome == []  # still waiting
    server.faults.http_status = None
    thread.join(RECOVERY)
    assert outcome == [{"hello": "Hello later"}]


def test_call_during_outage_times_out_naming_the_last_error(
    server: ReferenceServer, subprotocol: str
) -> None:
    """A call that cannot get a connection within its timeout names the last error."""
    with Client(server.url, subprotocols=[subprotocol], reconnect=FAST) as client:
        server.faults.http_status = 503
        server.drop_connections()
        server.handshakes.wait_for(lambda h: True, RECOVERY, count=2)
        started = time.monotonic()
        with pytest.raises(OperationTimeout, match="HTTP 503") as info:
            client.execute("{ hello }", timeout=0.3)
        assert 0.25 < time.monotonic() - started < 1.0
        assert isinstance(info.value, TimeoutError)
        server.faults.http_status = None


@pytest.mark.parametrize("code", [1001, 1012, 1013, 4499, 3000])
def test_retryable_close_codes_reconnect(
    server: ReferenceServer, client: Client, code: int
) -> None:
    """Going away, restart, try later, terminated, and codes the table does not name: the
    subscription is resubscribed."""
    ticks = client.subscribe("subscription { ticks(interval: 0.02) }", timeout=RECOVERY)
    next(ticks)
    server.close_connections(code, "bye")
    assert next(ticks) == {"ticks": 0}
    assert ticks.resubscribed == 1
    ticks.close()


@pytest.mark.parametrize(
    ("code", "error_type"),
    [
        (4500, TransportServerError),
        (4403, TransportServerError),
        (1011, TransportServerError),
        (4400, TransportProtocolError),
        (4409, TransportProtocolError),
        (1002, TransportProtocolError),
    ],
)
def test_fatal_close_codes_fail_everything_and_do_not_retry(
    server: ReferenceServer,
    client: Client,
    recorder: Recorder,
    code: int,
    error_type: type[TransportError],
) -> None:
    """A close that says the request or the server is at fault: every live operation fails
    with the typed error, no background attempt, and the next call connects on demand."""
    ticks = client.subscribe("subscription { ticks(interval: 0.02) }", timeout=RECOVERY)
    next(ticks)
    server.close_connections(code, "fatal")
    with pytest.raises(error_type) as info:
        for _ in ticks:
            pass
    assert info.value.code == code
    recorder.wait(disconnects=1)
    assert type(recorder.disconnects[0]) is error_type
    assert not [t for t in threading.enumerate() if t.name.startswith("gqlws_sync-reconnect")]
    assert len(server.handshakes) == 1
    assert client.execute("{ hello }") == {"hello": "Hello world"}
    assert len(server.handshakes) == 2


def test_server_goodbye_with_nothing_live_is_no_failure(
    server: ReferenceServer, client: Client, recorder: Recorder
) -> None:
    """A server's 1000 while no operation runs: nothing is retried until the next call."""
    assert client.execute("{ hello }") == {"hello": "Hello world"}
    server.close_connections(1000, "idle")
    recorder.wait(disconnects=1)
    assert not client.is_connected
    assert not [t for t in threading.enumerate() if t.name.startswith("gqlws_sync-reconnect")]
    assert len(server.handshakes) == 1
    assert client.execute("{ hello }") == {"hello": "Hello world"}
    assert len(server.handshakes) == 2


def test_resubscribe_false_raises_the_loss(server: ReferenceServer, client: Client) -> None:
    """subscribe(resubscribe=False) raises the loss; the others are resubscribed."""
    kept = client.subscribe("subscription { ticks(interval: 0.02) }", timeout=RECOVERY)
    fragile = client.subscribe(
        "subscription { ticks(interval: 0.02) }", timeout=RECOVERY, resubscribe=False
    )
    next(kept)
    next(fragile)
    server.drop_connections()
    with pytest.raises(TransportClosed) as info:
        for _ in fragile:
            pass
    assert info.value.code == 1006
    assert next(kept) == {"ticks": 0}
    assert (kept.resubscribed, fragile.resubscribed) == (1, 0)
    kept.close()


def test_gives_up_after_max_attempts(server: ReferenceServer, subprotocol: str) -> None:
    """After the last attempt every live operation fails with the last connection error,
    no thread is left, and the next call connects on demand again."""
    policy = Reconnect(initial_delay=0.02, max_delay=0.02, jitter=0.0, max_attempts=3)
    with Client(server.url, subprotocols=[subprotocol], reconnect=policy) as client:
        ticks = client.subscribe("subscription { ticks(interval: 0.02) }", timeout=RECOVERY)
        next(ticks)
        server.faults.http_status = 503
        server.drop_connections()
        with pytest.raises(TransportServerError) as info:
            next(ticks)
        assert info.value.code == 503
        assert len(server.handshakes) == 1 + 3
        deadline = time.monotonic() + RECOVERY
        while [t for t in threading.enumerate() if t.name.startswith("gqlws_sync-reconnect")]:
            assert time.monotonic() < deadline, "the reconnect thread did not end"
            time.sleep(0.01)  # nothing to wait on: the thread ends right after failing ticks
        server.faults.http_status = None
        assert client.execute("{ hello }") == {"hello": "Hello world"}


def test_waiting_caller_gets_the_last_error_when_reconnection_gives_up(
    server: ReferenceServer,
) -> None:
    """A call that waited through a reconnection that gave up raises its last error."""
    policy = Reconnect(initial_delay=0.1, max_delay=0.1, jitter=0.0, max_attempts=2)
    with Client(server.url, reconnect=policy) as client:
        ticks = client.subscribe("subscription { ticks(interval: 0.02) }", timeout=RECOVERY)
        next(ticks)
        server.faults.http_status = 502
        server.drop_connections()
        with pytest.raises(TransportServerError) as info:
            client.execute("{ hello }", timeout=RECOVERY)
        assert info.value.code == 502
        server.faults.http_status = None
        ticks.close()


def test_fatal_failure_while_reconnecting_stops_at_once(server: ReferenceServer) -> None:
    """A reconnection attempt refused for good (HTTP 401) ends the reconnection."""
    with Client(server.url, reconnect=FAST) as client:
        ticks = client.subscribe("subscription { ticks(interval: 0.02) }", timeout=RECOVERY)
        next(ticks)
        server.faults.http_status = 401
        server.drop_connections()
        with pytest.raises(TransportServerError) as info:
            next(ticks)
        assert info.value.code == 401
        assert len(server.handshakes) == 2
        server.faults.http_status = None


def test_close_stops_reconnection_at_once(server: ReferenceServer) -> None:
    """close() during a long back-off returns at once and leaves no thread."""
    slow = Reconnect(initial_delay=30, max_delay=30, jitter=0.0)
    client = Client(server.url, reconnect=slow)
    ticks = client.subscribe("subscription { ticks(interval: 0.02) }")
    next(ticks)
    server.drop_connections()
    deadline = time.monotonic() + RECOVERY
    while not [t for t in threading.enumerate() if t.name.startswith("gqlws_sync-reconnect")]:
        assert time.monotonic() < deadline
        time.sleep(0.005)  # nothing to wait on: the reader starts the thread as it leaves
    started = time.monotonic()
    client.close()
    assert time.monotonic() - started < 0.5
    with pytest.raises(TransportClosed, match="client closed"):
        next(ticks)


# -- reconnect off -----------------------------------------------------------------------------


def test_reconnect_off_fails_everything_then_connects_on_demand(
    server: ReferenceServer, subprotocol: str, recorder: Recorder
) -> None:
    """reconnect=False: every live operation fails with the loss; the next call connects."""
    with Client(
        server.url,
        subprotocols=[subprotocol],
        reconnect=False,
        on_disconnect=recorder.on_disconnect,
    ) as client:
        ticks = client.subscribe("subscription { ticks(interval: 0.02) }")
        next(ticks)
        server.faults.send_results = False
        thread, outcome = _in_thread(client.execute, "{ hello }")
        server.wait_for_message("subscribe" if subprotocol == GTW else "start", count=2)
        server.drop_connections()
        with pytest.raises(TransportClosed):
            next(ticks)
        thread.join(RECOVERY)
        assert type(outcome[0]) is TransportClosed
        recorder.wait(disconnects=1)
        server.faults.send_results = True
        assert client.execute("{ hello }") == {"hello": "Hello world"}
        assert len(server.handshakes) == 2


# -- callbacks and credentials ---------------------------------------------------------------


def test_callback_exceptions_are_logged_and_ignored(
    server: ReferenceServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A callback that raises is logged, and the client carries on."""

    def broken(client: Client, *_: Any) -> None:
        raise RuntimeError("callback bug")

    with (
        caplog.at_level(logging.ERROR, logger="gqlws_sync"),
        Client(server.url, reconnect=FAST, on_connect=broken, on_disconnect=broken) as client,
    ):
        ticks = client.subscribe("subscription { ticks(interval: 0.02) }", timeout=RECOVERY)
        next(ticks)
        server.drop_connections()
        assert next(ticks) == {"ticks": 0}
        ticks.close()
    messages = [record.getMessage() for record in caplog.records]
    assert sum("on_connect callback raised" in m for m in messages) == 2
    assert sum("on_disconnect callback raised" in m for m in messages) == 1


def test_callbacks_may_use_the_client(server: ReferenceServer) -> None:
    """on_connect runs with no lock of ours held: it may run an operation itself."""
    seen: list[dict[str, Any]] = []

    def warm_up(client: Client) -> None:
        seen.append(client.execute('{ hello(name: "warm") }'))

    with Client(server.url, reconnect=FAST, on_connect=warm_up) as client:
        ticks = client.subscribe("subscription { ticks(interval: 0.02) }", timeout=RECOVERY)
        next(ticks)
        server.drop_connections()
        next(ticks)
        ticks.close()
    assert seen == [{"hello": "Hello warm"}] * 2


def test_credentials_callables_are_called_on_every_connect(
    server: ReferenceServer, subprotocol: str
) -> None:
    """headers and init_payload callables give each connect (and reconnect) fresh values."""
    issued: list[str] = []

    def init_payload() -> dict[str, Any]:
        issued.append(f"token-{len(issued) + 1}")
        return {"Authorization": issued[-1]}

    def headers() -> dict[str, str]:
        return {"Authorization": f"Bearer {len(issued)}"}

    query = "{ whoami { authorization initToken } }"
    with Client(
        server.url,
        subprotocols=[subprotocol],
        reconnect=FAST,
        headers=headers,
        init_payload=init_payload,
    ) as client:
        first = client.execute(query)
        server.drop_connections()
        second = client.execute(query, timeout=RECOVERY)
    assert first == {"whoami": {"authorization": "Bearer 0", "initToken": "token-1"}}
    assert second == {"whoami": {"authorization": "Bearer 1", "initToken": "token-2"}}


def test_failing_credentials_callable(server: ReferenceServer) -> None:
    """A credentials callable that raises fails the connect with TransportConnectionFailed,
    chained to its exception, whose text (maybe a secret) is not repeated."""

    def init_payload() -> dict[str, Any]:
        raise RuntimeError("vault says s3cr3t")

    client = Client(server.url, init_payload=init_payload)
    with pytest.raises(TransportConnectionFailed) as info:
        client.execute("{ hello }")
    assert "init_payload" in str(info.value)
    assert "s3cr3t" not in str(info.value)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert len(server.handshakes) == 0
    client.close()


def test_on_disconnect_not_called_for_our_own_close(
    server: ReferenceServer, recorder: Recorder
) -> None:
    """close() is not a disconnection to report."""
    with Client(server.url, on_disconnect=recorder.on_disconnect) as client:
        client.execute("{ hello }")
    assert recorder.disconnects == []


def test_errors_survive_pickle(server: ReferenceServer) -> None:
    """What a caller catches after a fatal close can cross a process boundary."""
    import pickle

    with Client(server.url, reconnect=FAST) as client:
        ticks = client.subscribe("subscription { ticks(interval: 0.02) }")
        next(ticks)
        server.send_raw('{"type": "bogus"}')
        with pytest.raises(TransportError) as info:
            next(ticks)
    clone = pickle.loads(pickle.dumps(info.value))
    assert type(clone) is TransportProtocolError
    assert clone.code == 4004
    assert str(clone) == str(info.value)
