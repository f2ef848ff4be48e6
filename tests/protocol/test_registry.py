"""Operations and the registry: ids, routing, release, detach, buffers, hand-over, copies."""

from __future__ import annotations

import logging
from queue import SimpleQueue
from typing import TYPE_CHECKING, Any, cast

import pytest

from gqlws_sync import exceptions
from gqlws_sync._protocol import LocalProtocolError, RemoteProtocolError
from gqlws_sync._protocol.events import Complete, Error, Next
from gqlws_sync._registry import (
    MAX_DETACHED,
    Item,
    Kind,
    Operation,
    Registry,
    copy_exception,
)
from gqlws_sync.exceptions import (
    AckTimeout,
    ConnectTimeout,
    KeepAliveTimeout,
    OperationTimeout,
    SubscriptionOverflow,
    TransportAlreadyConnected,
    TransportClosed,
    TransportConnectionFailed,
    TransportError,
    TransportProtocolError,
    TransportQueryError,
    TransportServerError,
)

if TYPE_CHECKING:
    from gqlws_sync._connection import Connection


class _NoReader:
    """Stands in for a connection: the registry stores it on the operation, and a put
    from outside the reader asks it to wake a caller reading for itself (none here)."""

    def nudge(self, op: Operation) -> None:
        pass


CONNECTION = cast("Connection", _NoReader())
OTHER_CONNECTION = cast("Connection", _NoReader())


def make_op(
    kind: Kind = "subscription",
    *,
    max_buffered: int | None = None,
    drop_oldest: bool = False,
    single: bool = False,
) -> Operation:
    """An operation of ``kind`` that no registry has seen yet."""
    return Operation(
        "subscription { n }",
        None,
        None,
        None,
        kind,
        single=single,
        generation=0,
        max_buffered=max_buffered,
        drop_oldest=drop_oldest,
    )


def opened(registry: Registry, **kwargs: Any) -> Operation:
    """A new operation, opened on ``registry``."""
    op = make_op(**kwargs)
    registry.open(op, CONNECTION)
    return op


def drain(queue: SimpleQueue[Item]) -> list[Item]:
    """Everything in ``queue`` right now, without blocking."""
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


def result(op_id: str, n: int = 0) -> Next:
    """A ``Next`` for ``op_id`` carrying ``n``."""
    return Next(op_id, {"data": {"n": n}})


def make_failure() -> TransportClosed:
    """A 1006 TransportClosed chained to a connection reset, as the reader would build it."""
    exc = TransportClosed("connection closed: connection lost (code 1006)", 1006, "")
    exc.__cause__ = ConnectionResetError(104, "Connection reset by peer")
    return exc


def assert_copy_of(item: Any, original: TransportError) -> None:
    """``item`` is a distinct copy of ``original``: same type, message, attributes, cause."""
    assert item is not original
    assert type(item) is type(original)
    assert item.args == original.args
    assert vars(item) == vars(original)
    assert item.__cause__ is original.__cause__


# -- Operation -------------------------------------------------------------------------------


def test_new_operation_state() -> None:
    """A new operation has no id, no connection, an empty queue and is not cancelled."""
    op = make_op("query", single=True)
    assert op.id is None
    assert op.connection is None
    assert op.queue.empty()
    assert (op.kind, op.single, op.cancelled, op.retried, op.resubscribed) == (
        "query",
        True,
        False,
        False,
        0,
    )


def test_payload_query_only() -> None:
    """payload() of an operation with only a query holds just the query."""
    assert make_op().payload() == {"query": "subscription { n }"}


def test_payload_every_field() -> None:
    """payload() carries variables, operationName and extensions under their wire names."""
    op = Operation(
        "query Q($n: Int) { a(n: $n) }",
        {"n": 1},
        "Q",
        {"persistedQuery": {"version": 1}},
        "query",
        single=True,
        generation=0,
    )
    assert op.payload() == {
        "query": "query Q($n: Int) { a(n: $n) }",
        "variables": {"n": 1},
        "operationName": "Q",
        "extensions": {"persistedQuery": {"version": 1}},
    }


def test_payload_keeps_empty_variables() -> None:
    """Empty (but given) variables and extensions are sent; only None leaves a key out."""
    op = Operation("{ a }", {}, None, {}, "query", single=True, generation=0)
    assert op.payload() == {"query": "{ a }", "variables": {}, "extensions": {}}


def test_payload_built_anew_each_time() -> None:
    """Each payload() is a fresh dict: changing one does not change the next."""
    op = make_op()
    first = op.payload()
    first["query"] = "changed"
    first["variables"] = {"x": 1}
    assert op.payload() == {"query": "subscription { n }"}


@pytest.mark.parametrize(
    ("kind", "expected"), [("query", False), ("mutation", True), ("subscription", False)]
)
def test_is_mutation(kind: Kind, expected: bool) -> None:
    """is_mutation is True for mutations only."""
    assert make_op(kind).is_mutation is expected


def test_operation_fail_puts_a_copy() -> None:
    """Operation.fail() wakes the caller with a copy of the exception, not the instance."""
    op = make_op()
    failure = make_failure()
    op.fail(failure)
    [item] = drain(op.queue)
    assert_copy_of(item, failure)


# -- ids -------------------------------------------------------------------------------------


def test_ids_count_from_one() -> None:
    """open() hands out "1", "2", "3", ... as strings and records them on the operation."""
    registry = Registry()
    ops = [make_op() for _ in range(3)]
    assert [registry.open(op, CONNECTION) for op in ops] == ["1", "2", "3"]
    assert [op.id for op in ops] == ["1", "2", "3"]
    assert all(op.connection is CONNECTION for op in ops)


def test_ids_never_reused() -> None:
    """Released and completed ids are never handed out again."""
    registry = Registry()
    seen = []
    for n in range(50):
        op = opened(registry)
        assert op.id is not None
        seen.append(op.id)
        if n % 2:
            assert registry.release(op) is True
        else:
            registry.dispatch(Complete(op.id))
    assert len(set(seen)) == 50
    assert len(registry) == 0
    assert registry.open(make_op(), CONNECTION) == "51"


def test_each_operation_has_its_own_queue() -> None:
    """Operations do not share queues."""
    registry = Registry()
    first, second = opened(registry), opened(registry)
    assert first.queue is not second.queue


def test_len_and_live_ids() -> None:
    """len() and live_ids() list the operations still registered, in order."""
    registry = Registry()
    ops = [opened(registry) for _ in range(3)]
    registry.release(ops[1])
    assert len(registry) == 2
    assert registry.live_ids() == ["1", "3"]


def test_operation_moves_to_a_new_registry() -> None:
    """After take_all(), an operation opened on the next connection gets that connection's
    id and connection, keeps its queue, and the old registry no longer routes to it."""
    old, new = Registry(), Registry()
    for _ in range(4):
        opened(new)  # the new connection has handed out ids already
    op = opened(old)
    queue = op.queue
    assert old.take_all(make_failure()) == [op]
    assert new.open(op, OTHER_CONNECTION) == "5"
    assert (op.id, op.connection, op.queue) == ("5", OTHER_CONNECTION, queue)
    assert old.dispatch(result("1")) is None
    new.dispatch(result("5", 7))
    assert drain(queue) == [result("5", 7)]


# -- dispatch --------------------------------------------------------------------------------


def test_next_keeps_operation() -> None:
    """Next reaches the queue, in order, and the operation stays live."""
    registry = Registry()
    op = opened(registry)
    events = [result("1", n) for n in range(3)]
    assert [registry.dispatch(event) for event in events] == [None, None, None]
    assert drain(op.queue) == events
    assert registry.live_ids() == ["1"]


@pytest.mark.parametrize(
    "event", [Error("1", [{"message": "x"}]), Complete("1")], ids=["error", "complete"]
)
def test_terminal_event_removes_operation(event: Error | Complete) -> None:
    """Error and Complete reach the queue and end the operation."""
    registry = Registry()
    op = opened(registry)
    assert registry.dispatch(event) is None
    assert drain(op.queue) == [event]
    assert registry.live_ids() == []
    assert len(registry) == 0


def test_dispatch_routes_by_id() -> None:
    """An event goes only to its own operation's queue."""
    registry = Registry()
    first, second = opened(registry), opened(registry)
    registry.dispatch(result("2", 2))
    registry.dispatch(Complete("1"))
    assert drain(first.queue) == [Complete("1")]
    assert drain(second.queue) == [result("2", 2)]


@pytest.mark.parametrize(
    ("event", "logged"),
    [
        (result("9"), "dropped a result for unknown operation id '9'"),
        (Error("9", [{"message": "x"}]), "dropped Error for unknown operation id '9'"),
        (Complete("9"), "dropped Complete for unknown operation id '9'"),
    ],
    ids=["next", "error", "complete"],
)
def test_unknown_id_dropped_silently(
    event: Next | Error | Complete, logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An event for an id nobody waits for is dropped, logged at debug, and raises nothing."""
    registry = Registry()
    op = opened(registry)
    with caplog.at_level(logging.DEBUG, logger="gqlws_sync.registry"):
        assert registry.dispatch(event) is None
    assert drain(op.queue) == []
    assert registry.live_ids() == ["1"]
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("gqlws_sync.registry", logging.DEBUG, logged)
    ]


def test_events_after_complete_dropped() -> None:
    """next, error and a duplicate complete after complete are dropped."""
    registry = Registry()
    op = opened(registry)
    registry.dispatch(Complete("1"))
    registry.dispatch(result("1"))
    registry.dispatch(Error("1", [{"message": "late"}]))
    registry.dispatch(Complete("1"))
    assert drain(op.queue) == [Complete("1")]


def test_events_after_release_dropped() -> None:
    """Events in flight for a cancelled (released) operation are dropped."""
    registry = Registry()
    op = opened(registry)
    registry.release(op)
    assert registry.dispatch(result("1")) is None
    assert registry.dispatch(Complete("1")) is None
    assert drain(op.queue) == []


# -- release ---------------------------------------------------------------------------------


def test_release_true_only_once() -> None:
    """release() is True the first time, False after."""
    registry = Registry()
    op = opened(registry)
    assert registry.release(op) is True
    assert registry.release(op) is False
    assert registry.live_ids() == []


def test_release_never_opened() -> None:
    """release() of an operation that was never given an id is False."""
    assert Registry().release(make_op()) is False


@pytest.mark.parametrize(
    "event", [Error("1", [{"message": "x"}]), Complete("1")], ids=["error", "complete"]
)
def test_release_after_server_ended(event: Error | Complete) -> None:
    """release() after the server ended the operation is False (no cancel needed)."""
    registry = Registry()
    op = opened(registry)
    registry.dispatch(event)
    assert registry.release(op) is False


def test_release_of_another_registrys_operation() -> None:
    """release() of an operation that holds the same id on another connection is False and
    leaves this registry's own operation with that id alone."""
    here, elsewhere = Registry(), Registry()
    mine = opened(here)
    stranger = opened(elsewhere)
    assert mine.id == stranger.id == "1"
    assert here.release(stranger) is False
    assert here.live_ids() == ["1"]
    here.dispatch(result("1"))
    assert drain(mine.queue) == [result("1")]


# -- take_all / fail_all ---------------------------------------------------------------------


def test_take_all_returns_live_operations() -> None:
    """take_all() returns the live operations in order, puts nothing in their queues, and
    forgets them all; ended, released and detached ones are not returned."""
    registry = Registry()
    done, gone, live1, detached, live2 = (opened(registry) for _ in range(5))
    registry.dispatch(Complete("1"))
    registry.release(gone)
    assert registry.detach(detached) is None
    failure = make_failure()
    assert registry.take_all(failure) == [live1, live2]
    assert [drain(op.queue) for op in (gone, live1, detached, live2)] == [[], [], [], []]
    assert drain(done.queue) == [Complete("1")]
    assert registry.live_ids() == []
    assert len(registry) == 0
    assert registry.failure is failure


def test_take_all_refuses_new_operations_with_a_copy() -> None:
    """open() after take_all() raises a copy of the failure and gives the operation no id."""
    registry = Registry()
    failure = make_failure()
    registry.take_all(failure)
    op = make_op()
    with pytest.raises(TransportClosed) as info:
        registry.open(op, CONNECTION)
    assert_copy_of(info.value, failure)
    assert str(info.value) == "connection closed: connection lost (code 1006)"
    assert (op.id, op.connection) == (None, None)
    assert op.queue.empty()


def test_take_all_twice() -> None:
    """A second take_all() returns nothing and keeps the first failure."""
    registry = Registry()
    op = opened(registry)
    first = make_failure()
    assert registry.take_all(first) == [op]
    assert registry.take_all(TransportProtocolError("later", 4004)) == []
    assert registry.failure is first


def test_fail_all_wakes_every_queue_with_its_own_copy() -> None:
    """fail_all() puts a distinct copy of the exception in every live queue."""
    registry = Registry()
    ops = [opened(registry) for _ in range(3)]
    failure = make_failure()
    registry.fail_all(failure)
    items = [drain(op.queue) for op in ops]
    assert [len(got) for got in items] == [1, 1, 1]
    for [item] in items:
        assert_copy_of(item, failure)
    assert len({id(got[0]) for got in items}) == 3
    assert registry.live_ids() == []
    assert registry.failure is failure


def test_fail_all_skips_ended_operations() -> None:
    """Operations already ended, released or detached get nothing from fail_all()."""
    registry = Registry()
    done, gone, detached, live = (opened(registry) for _ in range(4))
    registry.dispatch(Complete("1"))
    registry.release(gone)
    registry.detach(detached)
    failure = make_failure()
    registry.fail_all(failure)
    assert drain(done.queue) == [Complete("1")]
    assert drain(gone.queue) == []
    assert drain(detached.queue) == []
    [item] = drain(live.queue)
    assert_copy_of(item, failure)


def test_open_after_fail_all_raises_new_copy_each_time() -> None:
    """Each refused open() raises its own copy, never the recorded instance."""
    registry = Registry()
    failure = make_failure()
    registry.fail_all(failure)
    raised = []
    for _ in range(2):
        with pytest.raises(TransportClosed) as info:
            registry.open(make_op(), CONNECTION)
        assert_copy_of(info.value, failure)
        raised.append(info.value)
    assert raised[0] is not raised[1]


@pytest.mark.parametrize("first_call", ["take_all", "fail_all"])
@pytest.mark.parametrize("second_call", ["take_all", "fail_all"])
def test_first_failure_wins(first_call: str, second_call: str) -> None:
    """Whichever of take_all()/fail_all() comes first, its exception is the one kept."""
    registry = Registry()
    first = make_failure()
    getattr(registry, first_call)(first)
    getattr(registry, second_call)(TransportProtocolError("later", 4004))
    assert registry.failure is first
    with pytest.raises(TransportClosed):
        registry.open(make_op(), CONNECTION)


def test_fail_all_without_operations() -> None:
    """fail_all() on an idle registry records the failure."""
    registry = Registry()
    assert registry.failure is None
    failure = make_failure()
    registry.fail_all(failure)
    assert registry.failure is failure
    assert len(registry) == 0


def test_dispatch_after_fail_all_dropped() -> None:
    """Events arriving after fail_all() are dropped."""
    registry = Registry()
    op = opened(registry)
    registry.fail_all(make_failure())
    assert registry.dispatch(result("1")) is None
    assert registry.dispatch(Complete("1")) is None
    assert [type(item) for item in drain(op.queue)] == [TransportClosed]


# -- detach ----------------------------------------------------------------------------------


def test_detached_operation_ends_quietly_on_complete() -> None:
    """After detach(), the server's complete removes the id without waking anyone."""
    registry = Registry()
    op = opened(registry)
    assert registry.detach(op) is None
    assert registry.live_ids() == ["1"]
    assert registry.dispatch(Complete("1")) is None
    assert registry.live_ids() == []
    assert op.queue.empty()


def test_detached_operation_ends_quietly_on_error() -> None:
    """After detach(), a late error removes the id without waking anyone."""
    registry = Registry()
    op = opened(registry)
    registry.detach(op)
    assert registry.dispatch(Error("1", [{"message": "late"}])) is None
    assert registry.live_ids() == []
    assert op.queue.empty()


def test_detached_operation_that_streams_is_returned_for_cancel() -> None:
    """A detached operation that sends another result is handed back to be cancelled."""
    registry = Registry()
    op = opened(registry)
    registry.detach(op)
    assert registry.dispatch(result("1")) == "1"
    assert registry.live_ids() == []
    assert op.queue.empty()
    assert registry.dispatch(result("1")) is None  # gone now
    assert registry.dispatch(Complete("1")) is None


def test_detach_after_server_ended() -> None:
    """Detaching an operation the server already completed does nothing."""
    registry = Registry()
    op = opened(registry)
    registry.dispatch(Complete("1"))
    assert registry.detach(op) is None
    assert registry.live_ids() == []


def test_detach_never_opened() -> None:
    """Detaching an operation without an id does nothing."""
    registry = Registry()
    opened(registry)
    assert registry.detach(make_op()) is None
    assert registry.live_ids() == ["1"]


def test_detached_operations_are_bounded() -> None:
    """Past MAX_DETACHED waiting for complete, the oldest is returned to be cancelled and
    forgotten; its late complete is then dropped."""
    registry = Registry()
    ops = [opened(registry) for _ in range(MAX_DETACHED + 2)]
    assert [registry.detach(op) for op in ops[:MAX_DETACHED]] == [None] * MAX_DETACHED
    assert registry.detach(ops[MAX_DETACHED]) == "1"
    assert registry.detach(ops[MAX_DETACHED + 1]) == "2"
    assert len(registry) == MAX_DETACHED
    assert registry.live_ids()[0] == "3"
    assert registry.dispatch(Complete("1")) is None
    assert registry.dispatch(Complete("3")) is None
    assert len(registry) == MAX_DETACHED - 1
    assert all(op.queue.empty() for op in ops)


# -- bounded buffers -------------------------------------------------------------------------


def test_overflow_error_delivers_buffered_then_raises() -> None:
    """overflow "error": the buffered events come first, then SubscriptionOverflow; the
    operation is released and its id returned for the server to be told to stop."""
    registry = Registry()
    op = opened(registry, max_buffered=3)
    assert [registry.dispatch(result("1", n)) for n in range(3)] == [None, None, None]
    assert registry.dispatch(result("1", 3)) == "1"
    items = drain(op.queue)
    assert items[:3] == [result("1", n) for n in range(3)]
    assert len(items) == 4
    overflow = items[3]
    assert type(overflow) is SubscriptionOverflow
    assert overflow.code is None
    assert str(overflow).startswith("subscription 1: more than 3 results waited unread")
    assert "max_buffered_events" in str(overflow)
    assert "drop_oldest" in str(overflow)
    assert registry.live_ids() == []
    assert registry.release(op) is False


def test_overflow_error_later_events_dropped() -> None:
    """After an overflow, the operation's further events go nowhere and ask for nothing."""
    registry = Registry()
    op = opened(registry, max_buffered=1)
    registry.dispatch(result("1", 0))
    registry.dispatch(result("1", 1))
    drain(op.queue)
    assert registry.dispatch(result("1", 2)) is None
    assert registry.dispatch(Complete("1")) is None
    assert op.queue.empty()


def test_overflow_leaves_other_operations_alone() -> None:
    """One subscription's overflow does not touch the others on the connection."""
    registry = Registry()
    slow = opened(registry, max_buffered=1)
    other = opened(registry, max_buffered=1)
    registry.dispatch(result("1", 0))
    assert registry.dispatch(result("1", 1)) == "1"
    registry.dispatch(result("2", 0))
    assert registry.live_ids() == ["2"]
    assert drain(other.queue) == [result("2", 0)]
    assert [type(item) for item in drain(slow.queue)] == [Next, SubscriptionOverflow]


def test_overflow_counts_only_unread_events() -> None:
    """Events the reader took free their place: a reader that keeps up never overflows."""
    registry = Registry()
    op = opened(registry, max_buffered=2)
    for n in range(10):
        assert registry.dispatch(result("1", n)) is None
        assert op.queue.get_nowait() == result("1", n)
    registry.dispatch(result("1", 10))
    assert registry.dispatch(result("1", 11)) is None
    assert drain(op.queue) == [result("1", 10), result("1", 11)]
    assert registry.live_ids() == ["1"]


@pytest.mark.parametrize(
    "event", [Complete("1"), Error("1", [{"message": "x"}])], ids=["complete", "error"]
)
def test_terminal_event_not_refused_by_a_full_buffer(event: Complete | Error) -> None:
    """A full buffer still takes the operation's complete or error: the end is never lost."""
    registry = Registry()
    op = opened(registry, max_buffered=2)
    registry.dispatch(result("1", 0))
    registry.dispatch(result("1", 1))
    assert registry.dispatch(event) is None
    assert drain(op.queue) == [result("1", 0), result("1", 1), event]


def test_overflow_drop_oldest_keeps_newest() -> None:
    """overflow "drop_oldest": the queue keeps the newest max_buffered events, and the
    operation stays live."""
    registry = Registry()
    op = opened(registry, max_buffered=3, drop_oldest=True)
    assert [registry.dispatch(result("1", n)) for n in range(10)] == [None] * 10
    assert drain(op.queue) == [result("1", 7), result("1", 8), result("1", 9)]
    assert registry.live_ids() == ["1"]
    registry.dispatch(Complete("1"))
    assert drain(op.queue) == [Complete("1")]


def test_overflow_drop_oldest_of_one() -> None:
    """drop_oldest with a buffer of one keeps only the latest result."""
    registry = Registry()
    op = opened(registry, max_buffered=1, drop_oldest=True)
    for n in range(5):
        registry.dispatch(result("1", n))
    assert drain(op.queue) == [result("1", 4)]


def test_unbounded_buffer() -> None:
    """max_buffered None keeps every unread event (past the default bound of 10 000)."""
    registry = Registry()
    op = opened(registry, max_buffered=None)
    for n in range(10_001):
        assert registry.dispatch(result("1", n)) is None
    assert op.queue.qsize() == 10_001
    assert registry.live_ids() == ["1"]


# -- copy_exception --------------------------------------------------------------------------


def _instances() -> list[Any]:
    return [
        pytest.param(TransportError("base"), id="TransportError"),
        pytest.param(TransportConnectionFailed("tcp refused"), id="TransportConnectionFailed"),
        pytest.param(TransportConnectionFailed("tls", 1015), id="TransportConnectionFailed-1015"),
        pytest.param(TransportServerError("forbidden", 4403), id="TransportServerError"),
        pytest.param(TransportProtocolError("bad", 4409), id="TransportProtocolError"),
        pytest.param(
            TransportQueryError(
                "query failed",
                query_id="3",
                errors=[{"message": "x"}],
                data={"a": None},
                extensions={"cost": 1},
            ),
            id="TransportQueryError",
        ),
        pytest.param(TransportClosed("gone", 1001, "restart"), id="TransportClosed"),
        pytest.param(TransportAlreadyConnected("already"), id="TransportAlreadyConnected"),
        pytest.param(
            SubscriptionOverflow("subscription 1: more than 3 results waited unread"),
            id="SubscriptionOverflow",
        ),
        pytest.param(ConnectTimeout("connect took 10.0 s"), id="ConnectTimeout"),
        pytest.param(AckTimeout("no connection_ack within 10.0 s", 4504), id="AckTimeout"),
        pytest.param(OperationTimeout("no result within 5.0 s"), id="OperationTimeout"),
        pytest.param(KeepAliveTimeout("no pong within 5.0 s", 1006, ""), id="KeepAliveTimeout"),
        pytest.param(LocalProtocolError("out of turn"), id="LocalProtocolError"),
        pytest.param(RemoteProtocolError("not JSON", 4004), id="RemoteProtocolError"),
    ]


def test_copy_cases_cover_every_exception_class() -> None:
    """The copy_exception cases cover every class exported by gqlws_sync.exceptions."""
    covered = {type(case.values[0]).__name__ for case in _instances()}
    transport_errors = {
        name for name in exceptions.__all__ if issubclass(getattr(exceptions, name), TransportError)
    }
    assert transport_errors <= covered
    assert "SubscriptionOverflow" in covered


@pytest.mark.parametrize("original", _instances())
def test_copy_exception(original: TransportError) -> None:
    """copy_exception gives a distinct instance with the same type, message, attributes, cause."""
    cause = OSError("root cause")
    try:
        raise original from cause
    except TransportError:
        pass
    clone = copy_exception(original)
    assert clone is not original
    assert type(clone) is type(original)
    assert str(clone) == str(original)
    assert clone.args == original.args
    assert vars(clone) == vars(original)
    assert clone.code == original.code
    assert clone.__cause__ is cause
    assert clone.__suppress_context__ is True
    assert clone.__traceback__ is None
    assert original.__traceback__ is not None


@pytest.mark.parametrize("original", _instances())
def test_copy_exception_is_raisable(original: TransportError) -> None:
    """The copy raises and is caught as its own class and as TransportError."""
    clone = copy_exception(original)
    with pytest.raises(type(original)) as info:
        raise clone
    assert info.value is clone
    assert isinstance(info.value, TransportError)


@pytest.mark.parametrize(
    "original",
    [
        ConnectTimeout("connect took 10.0 s"),
        AckTimeout("no connection_ack within 10.0 s", 4504),
        OperationTimeout("no result within 5.0 s"),
        KeepAliveTimeout("no pong within 5.0 s", 1006, ""),
    ],
    ids=["ConnectTimeout", "AckTimeout", "OperationTimeout", "KeepAliveTimeout"],
)
def test_copy_of_timeout_is_still_timeout_error(original: TransportError) -> None:
    """A copied timeout is still a builtin TimeoutError, with the same message and code."""
    clone = copy_exception(original)
    assert isinstance(clone, TimeoutError)
    assert str(clone) == str(original)
    assert clone.code == original.code
    with pytest.raises(TimeoutError):
        raise clone


def test_copy_without_cause() -> None:
    """A copy of an exception without a cause has no cause."""
    clone = copy_exception(TransportClosed("closed", 1000))
    assert clone.__cause__ is None


def test_copy_keeps_close_code_of_remote_error() -> None:
    """A copied RemoteProtocolError keeps its close_code."""
    clone = copy_exception(RemoteProtocolError("bad", 1002))
    assert isinstance(clone, RemoteProtocolError)
    assert clone.close_code == 1002
