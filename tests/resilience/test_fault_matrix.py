"""The fault matrix: every way a connection is lost, against every server and subprotocol,
with reconnection on and off, and what each kind of caller sees.

Each test opens one client with a running subscription, a slow query and a slow mutation in
flight (both journalled by the server before they sleep), injects one fault, and checks:

- retryable losses, reconnect on: the subscription goes on (``resubscribed == 1``, values
  still increasing, the outage's missing), the query is sent again once and answered, the
  mutation fails with ``TransportClosed`` saying it may or may not have been applied and
  reached the server once, and a call made during the outage waits and succeeds;
- retryable losses, reconnect off: every live operation fails with the loss, a call during
  the outage fails to connect at once, and the next one connects on demand;
- fatal closes (4500, 4403, 4400): no reconnection attempt, every live operation fails with
  the typed error, and the next operation connects on demand.

The outage lasts until the test lifts it: a killed or stopped server is started again on the
same port, and for faults that leave the server up the proxy refuses new connections (or
keeps black-holing them) until then. That makes "a call during the outage" certain, and
recovery is measured from the moment the way back is open.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from gqlws_sync import (
    Client,
    KeepAliveTimeout,
    Reconnect,
    TransportClosed,
    TransportConnectionFailed,
    TransportError,
    TransportProtocolError,
    TransportQueryError,
    TransportServerError,
)

from .conftest import APOLLO, BOUND, TARGET_PARAMS, Callbacks, Target, record_timing

#: Short back-off, so a test's recovery is quick; enough attempts for a server restart.
POLICY = Reconnect(initial_delay=0.05, max_delay=0.2, max_attempts=50)
#: The slow query must still be running on the server when the fault hits, which follows
#: its journal entry by a few milliseconds; it runs in full again after the reconnection.
SLOW_QUERY_SECONDS = 0.5
#: The mutation never gets its answer in these tests: its length costs nothing.
SLOW_MUTATION_SECONDS = 2.0
CLOCK_INTERVAL = 0.02
#: A call made during an outage with reconnection off: long enough to connect, if it could.
OFF_CALL_TIMEOUT = 0.5
#: Black-hole detection: the client pings this often, and a pong missing for PONG_TIMEOUT
#: means a dead peer. Generous, so that a loaded machine's slow pong is never taken for one.
PING = 0.1
PONG_TIMEOUT = 0.5

SLOW_QUERY = "query Slow($s: Float!, $t: String!) { slow(seconds: $s, tag: $t) }"
SLOW_MUTATION = "mutation Slow($s: Float!, $t: String!) { slowIncrement(seconds: $s, tag: $t) }"
ECHO = "query Echo($v: String!) { echo(value: $v) }"
CLOCK = "subscription Clock($i: Float!) { clock(interval: $i) }"


# -- faults -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Fault:
    """One row of the matrix: how the connection is lost and what callers must see."""

    name: str
    inject: Callable[[Target], None]
    #: Opens the way back; None for fatal faults (the server never went away).
    lift: Callable[[Target], None] | None
    error: type[TransportError]
    #: The close code of the loss; None: the target's graceful-shutdown code.
    code: int | None

    @property
    def retryable(self) -> bool:
        return self.lift is not None

    def expected_code(self, target: Target) -> int:
        return target.graceful_code if self.code is None else self.code


def _refuse_then(action: Callable[[Target], None]) -> Callable[[Target], None]:
    """The fault, with the proxy refusing new connections until the outage is lifted."""

    def inject(target: Target) -> None:
        target.proxy.refuse()
        action(target)

    return inject


def _close(code: int) -> Callable[[Target], None]:
    return lambda target: target.close_connections(code, f"closed with {code}")


def _restore(target: Target) -> None:
    target.proxy.restore()


FAULTS = [
    Fault("kill", lambda t: t.kill(), lambda t: t.revive(), TransportClosed, 1006),
    Fault("term", lambda t: t.terminate(), lambda t: t.revive(), TransportClosed, None),
    Fault("lb-reset", _refuse_then(lambda t: t.proxy.reset()), _restore, TransportClosed, 1006),
    Fault("black-hole", lambda t: t.proxy.black_hole(), _restore, KeepAliveTimeout, 1006),
    Fault("close-1001", _refuse_then(_close(1001)), _restore, TransportClosed, 1001),
    Fault("close-1012", _refuse_then(_close(1012)), _restore, TransportClosed, 1012),
    Fault("close-4500", _close(4500), None, TransportServerError, 4500),
    Fault("close-4403", _close(4403), None, TransportServerError, 4403),
    Fault("close-4400", _close(4400), None, TransportProtocolError, 4400),
]


# -- helpers ------------------------------------------------------------------------------


class Call:
    """One blocking call on a thread of its own, and how it ended."""

    def __init__(self, name: str, function: Callable[[], Any]) -> None:
        self.value: Any = None
        self.error: BaseException | None = None
        self.ended_at = 0.0
        self._function = function
        self._thread = threading.Thread(target=self._run, name=f"test-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.value = self._function()
        except BaseException as exc:
            self.error = exc
        finally:
            self.ended_at = time.monotonic()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def join(self) -> None:
        self._thread.join(BOUND)
        assert not self._thread.is_alive(), f"{self._thread.name} still blocked after {BOUND} s"

    def result(self) -> Any:
        self.join()
        if self.error is not None:
            raise self.error
        return self.value

    def failure(self) -> BaseException:
        self.join()
        assert self.error is not None, f"{self._thread.name} returned {self.value!r}"
        return self.error


class StreamReader:
    """Reads a subscription on its own thread: (arrival, value) pairs, then how it ended."""

    def __init__(self, subscription: Any) -> None:
        self.events: list[tuple[float, float]] = []
        self.error: BaseException | None = None
        self._subscription = subscription
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="test-subscription", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for result in self._subscription:
                with self._changed:
                    self.events.append((time.monotonic(), result["clock"]))
                    self._changed.notify_all()
        except BaseException as exc:
            self.error = exc
        finally:
            with self._changed:
                self._changed.notify_all()

    def wait_events(self, count: int, after: float = 0.0) -> None:
        """Block until ``count`` events arrived after monotonic time ``after``."""

        def enough() -> bool:
            return sum(1 for at, _ in self.events if at > after) >= count

        with self._changed:
            assert self._changed.wait_for(lambda: enough() or not self._thread.is_alive(), BOUND), (
                f"fewer than {count} events within {BOUND} s"
            )
            assert enough(), f"subscription ended early: {self.error!r}"

    def failure(self) -> BaseException:
        self._thread.join(BOUND)
        assert not self._thread.is_alive(), "the subscription is still being read"
        assert self.error is not None, "the subscription ended without an error"
        return self.error

    def join(self) -> None:
        self._thread.join(BOUND)
        assert not self._thread.is_alive(), "the subscription is still being read"


def _client_options(fault: Fault, subprotocol: str) -> dict[str, Any]:
    if fault.name != "black-hole":
        return {}
    if subprotocol == APOLLO:  # no protocol-level ping there: WebSocket pings
        return {"ws_ping_interval": PING, "ws_pong_timeout": PONG_TIMEOUT}
    return {"ping_interval": PING, "pong_timeout": PONG_TIMEOUT}


def _new_call(client: Client, target: Target, tag: str, timeout: float) -> Any:
    """A call made while the connection is down: a query, or on Strawberry's Apollo side
    (no queries there) a subscription's first event."""
    if target.queries:
        return client.execute(ECHO, {"v": tag}, timeout=timeout)
    with client.subscribe(CLOCK, {"i": CLOCK_INTERVAL}, timeout=timeout) as events:
        return next(events)


def _check_new_call_result(value: Any, target: Target, tag: str) -> None:
    if target.queries:
        assert value == {"echo": tag}
    else:
        assert isinstance(value["clock"], float)


def _check_loss(error: BaseException, fault: Fault, code: int) -> None:
    assert isinstance(error, fault.error), f"{type(error).__name__}: {error}"
    assert isinstance(error, TransportError)
    assert error.code == code, f"code {error.code}, not {code}: {error}"


def _check_mutation_loss(error: BaseException, fault: Fault, code: int) -> None:
    """A mutation in flight raises TransportClosed whatever ended the connection (fatal
    closes too): its caller must learn first that it may have been applied; the close
    itself is its cause."""
    assert isinstance(error, TransportClosed), f"{type(error).__name__}: {error}"
    assert "may or may not have been applied" in str(error)
    assert error.code == code
    assert isinstance(error.__cause__, fault.error), repr(error.__cause__)


def _reconnect_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("gqlws_sync-reconnect-")]


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}({getattr(error, 'code', None)})"


# -- the matrix ---------------------------------------------------------------------------


@pytest.mark.parametrize("reconnect", [True, False], ids=["reconnect-on", "reconnect-off"])
@pytest.mark.parametrize("fault", FAULTS, ids=[fault.name for fault in FAULTS])
@pytest.mark.parametrize("target", TARGET_PARAMS, indirect=True)
def test_fault(target: Target, fault: Fault, reconnect: bool) -> None:
    """Each kind of caller sees what the contract says for this fault, server and setting."""
    callbacks = Callbacks()
    tag = uuid.uuid4().hex[:12]
    code = fault.expected_code(target)
    proxy = target.proxy
    timing: dict[str, Any] = {"target": target.name, "fault": fault.name, "reconnect": reconnect}
    client = Client(
        target.url,
        subprotocols=[target.subprotocol],
        reconnect=POLICY if reconnect else False,
        on_connect=callbacks.on_connect,
        on_disconnect=callbacks.on_disconnect,
        **_client_options(fault, target.subprotocol),
    )
    with client:
        subscription = client.subscribe(CLOCK, {"i": CLOCK_INTERVAL}, timeout=BOUND)
        reader = StreamReader(subscription)
        reader.wait_events(2)
        query = mutation = None
        if not target.queries:
            # Strawberry runs only subscriptions over Apollo's protocol: no query columns.
            with pytest.raises(TransportQueryError):
                client.execute(ECHO, {"v": tag})
        else:
            query = Call(
                "query", lambda: client.execute(SLOW_QUERY, {"s": SLOW_QUERY_SECONDS, "t": tag})
            )
            mutation = Call(
                "mutation",
                lambda: client.execute(SLOW_MUTATION, {"s": SLOW_MUTATION_SECONDS, "t": tag}),
            )
            target.journal.wait_for("slow", tag)
            target.journal.wait_for("slowIncrement", tag)
        accepted = proxy.accepted

        fault_at = time.monotonic()
        fault.inject(target)
        detected_at, cause = callbacks.wait_disconnect()
        timing["detection_s"] = detected_at - fault_at
        timing["seen"] = _describe(cause)
        _check_loss(cause, fault, code)
        assert query is None or query.running or query.error is not None, "answered too early"

        if mutation is not None:
            _check_mutation_loss(mutation.failure(), fault, code)

        if fault.retryable:
            # The outage goes on until lift(): the server is down, or the proxy refuses
            # (or black-holes) new connections.
            call_timeout = BOUND if reconnect else OFF_CALL_TIMEOUT
            during = Call("during-outage", lambda: _new_call(client, target, tag, call_timeout))
            # Reconnect on: the reconnect thread's attempt; off: the call's own connect.
            proxy.wait_for_accepted(accepted + 1)
            if reconnect:
                assert during.running, f"did not wait for the reconnection: {during.error!r}"
                assert len(_reconnect_threads()) == 1
            else:
                assert isinstance(during.failure(), TransportConnectionFailed)
                _check_loss(reader.failure(), fault, code)
                if query is not None:
                    _check_loss(query.failure(), fault, code)
                assert not _reconnect_threads()
            assert fault.lift is not None
            fault.lift(target)
            lifted_at = time.monotonic()
            if reconnect:
                recovered_at = callbacks.wait_connects(2)
                assert callbacks.threads[1].startswith("gqlws_sync-reconnect-")
                _check_new_call_result(during.result(), target, tag)
                assert during.ended_at >= recovered_at
                reader.wait_events(3, after=recovered_at)
                resumed_at = next(at for at, _ in reader.events if at > recovered_at)
                timing["resume_s"] = resumed_at - lifted_at
                if query is not None:
                    assert query.result() == {"slow": SLOW_QUERY_SECONDS}
                    assert target.journal.count("slow", tag) == 2  # sent again, once
                assert subscription.resubscribed == 1
                values = [value for _, value in reader.events]
                assert values == sorted(set(values)), "events out of order or repeated"
                gaps = [b - a for a, b in itertools.pairwise(values)]
                timing["gap_ms"] = max(gaps)
            else:
                assert subscription.resubscribed == 0
                started = time.monotonic()
                _check_new_call_result(_new_call(client, target, tag, BOUND), target, tag)
                recovered_at = callbacks.wait_connects(2)
                assert recovered_at >= started
                assert callbacks.threads[1] == threading.current_thread().name
                lifted_at = started  # on demand: measured from the call
            timing["recovery_s"] = recovered_at - lifted_at
            timing["outage_s"] = recovered_at - fault_at
        else:
            # Fatal: every live operation fails with the typed error, nothing is retried.
            _check_loss(reader.failure(), fault, code)
            if query is not None:
                _check_loss(query.failure(), fault, code)
            assert subscription.resubscribed == 0
            assert not _reconnect_threads()
            assert proxy.accepted == accepted
            started = time.monotonic()
            _check_new_call_result(_new_call(client, target, tag, BOUND), target, tag)
            recovered_at = callbacks.wait_connects(2)
            assert proxy.accepted == accepted + 1  # connected on demand, once
            timing["recovery_s"] = recovered_at - started
        subscription.close()
        reader.join()
    assert len(callbacks.disconnects) == 1
    assert len(callbacks.connects) == 2
    if mutation is not None:
        assert target.journal.count("slowIncrement", tag) == 1
    record_timing(**timing)
