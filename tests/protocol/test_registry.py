"""The operation registry: ids, routing, release, mass failure and exception copies."""

from __future__ import annotations

import logging
from queue import SimpleQueue
from typing import Any

import pytest

from gqlws_sync import exceptions
from gqlws_sync._protocol import LocalProtocolError, RemoteProtocolError
from gqlws_sync._protocol.events import Complete, Error, Next
from gqlws_sync._registry import Item, Registry, copy_exception
from gqlws_sync.exceptions import (
    AckTimeout,
    ConnectTimeout,
    KeepAliveTimeout,
    OperationTimeout,
    TransportAlreadyConnected,
    TransportClosed,
    TransportConnectionFailed,
    TransportError,
    TransportProtocolError,
    TransportQueryError,
    TransportServerError,
)


def drain(queue: SimpleQueue[Item]) -> list[Item]:
    """Everything in ``queue`` right now, without blocking."""
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


# -- ids -------------------------------------------------------------------------------------


def test_ids_count_from_one() -> None:
    """open() hands out "1", "2", "3", ... as strings."""
    registry = Registry()
    assert [registry.open()[0] for _ in range(3)] == ["1", "2", "3"]


def test_ids_never_reused() -> None:
    """Released and completed ids are never handed out again."""
    registry = Registry()
    seen = []
    for n in range(50):
        op_id, _ = registry.open()
        seen.append(op_id)
        if n % 2:
            registry.release(op_id)
        else:
            registry.dispatch(Complete(op_id))
    assert len(set(seen)) == 50
    assert registry.open()[0] == "51"


def test_open_gives_a_fresh_queue_each() -> None:
    """Each operation gets its own queue."""
    registry = Registry()
    _, first = registry.open()
    _, second = registry.open()
    assert first is not second


def test_open_keeps_given_queue() -> None:
    """open(queue) registers the caller's queue (kept across connections)."""
    registry = Registry()
    queue: SimpleQueue[Item] = SimpleQueue()
    op_id, got = registry.open(queue)
    assert got is queue
    registry.dispatch(Next(op_id, {"data": {}}))
    assert drain(queue) == [Next(op_id, {"data": {}})]


def test_len_and_live_ids() -> None:
    """len() and live_ids() list the operations still registered, in order."""
    registry = Registry()
    ids = [registry.open()[0] for _ in range(3)]
    registry.release(ids[1])
    assert len(registry) == 2
    assert registry.live_ids() == ["1", "3"]


# -- dispatch --------------------------------------------------------------------------------


def test_next_keeps_operation() -> None:
    """Next reaches the queue, in order, and the operation stays live."""
    registry = Registry()
    op_id, queue = registry.open()
    events = [Next(op_id, {"data": {"n": n}}) for n in range(3)]
    for event in events:
        registry.dispatch(event)
    assert drain(queue) == events
    assert registry.live_ids() == [op_id]


@pytest.mark.parametrize(
    "event", [Error("1", [{"message": "x"}]), Complete("1")], ids=["error", "complete"]
)
def test_terminal_event_removes_operation(event: Error | Complete) -> None:
    """Error and Complete reach the queue and end the operation."""
    registry = Registry()
    op_id, queue = registry.open()
    assert op_id == "1"
    registry.dispatch(event)
    assert drain(queue) == [event]
    assert registry.live_ids() == []
    assert len(registry) == 0


def test_dispatch_routes_by_id() -> None:
    """An event goes only to its own operation's queue."""
    registry = Registry()
    first_id, first = registry.open()
    second_id, second = registry.open()
    registry.dispatch(Next(second_id, {"data": 2}))
    registry.dispatch(Complete(first_id))
    assert drain(first) == [Complete(first_id)]
    assert drain(second) == [Next(second_id, {"data": 2})]


@pytest.mark.parametrize(
    "event",
    [Next("9", {"data": {}}), Error("9", [{"message": "x"}]), Complete("9")],
    ids=["next", "error", "complete"],
)
def test_unknown_id_dropped_silently(event: Next | Error | Complete, caplog: Any) -> None:
    """An event for an id nobody waits for is dropped, logged at debug, and raises nothing."""
    registry = Registry()
    op_id, queue = registry.open()
    with caplog.at_level(logging.DEBUG, logger="gqlws_sync.registry"):
        registry.dispatch(event)
    assert drain(queue) == []
    assert registry.live_ids() == [op_id]
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.DEBUG, f"dropped {type(event).__name__} for unknown operation id '9'")
    ]


def test_events_after_complete_dropped() -> None:
    """next, error and a duplicate complete after complete are dropped."""
    registry = Registry()
    op_id, queue = registry.open()
    registry.dispatch(Complete(op_id))
    registry.dispatch(Next(op_id, {"data": {}}))
    registry.dispatch(Error(op_id, [{"message": "late"}]))
    registry.dispatch(Complete(op_id))
    assert drain(queue) == [Complete(op_id)]


def test_events_after_release_dropped() -> None:
    """Events in flight for a cancelled (released) operation are dropped."""
    registry = Registry()
    op_id, queue = registry.open()
    registry.release(op_id)
    registry.dispatch(Next(op_id, {"data": {}}))
    registry.dispatch(Complete(op_id))
    assert drain(queue) == []


# -- release ---------------------------------------------------------------------------------


def test_release_true_only_once() -> None:
    """release() is True the first time, False after."""
    registry = Registry()
    op_id, _ = registry.open()
    assert registry.release(op_id) is True
    assert registry.release(op_id) is False
    assert registry.live_ids() == []


def test_release_unknown_id() -> None:
    """release() of an id never opened is False."""
    assert Registry().release("1") is False


@pytest.mark.parametrize(
    "event", [Error("1", [{"message": "x"}]), Complete("1")], ids=["error", "complete"]
)
def test_release_after_server_ended(event: Error | Complete) -> None:
    """release() after the server ended the operation is False (no cancel needed)."""
    registry = Registry()
    registry.open()
    registry.dispatch(event)
    assert registry.release("1") is False


# -- fail_all --------------------------------------------------------------------------------


def make_failure() -> TransportClosed:
    """A 1006 TransportClosed chained to a connection reset, as the reader would build it."""
    exc = TransportClosed("connection closed: connection lost (code 1006)", 1006, "")
    exc.__cause__ = ConnectionResetError(104, "Connection reset by peer")
    return exc


def test_fail_all_wakes_every_queue() -> None:
    """fail_all() puts the exception in every live queue and forgets every operation."""
    registry = Registry()
    queues = [registry.open()[1] for _ in range(3)]
    failure = make_failure()
    registry.fail_all(failure)
    for queue in queues:
        items = drain(queue)
        assert len(items) == 1
        assert items[0] is failure
    assert registry.live_ids() == []
    assert registry.failure is failure


def test_fail_all_skips_ended_operations() -> None:
    """Operations already ended or released get nothing from fail_all()."""
    registry = Registry()
    done_id, done = registry.open()
    gone_id, gone = registry.open()
    _, live = registry.open()
    registry.dispatch(Complete(done_id))
    registry.release(gone_id)
    failure = make_failure()
    registry.fail_all(failure)
    assert drain(done) == [Complete(done_id)]
    assert drain(gone) == []
    assert drain(live) == [failure]


def test_open_after_fail_all_raises_copy() -> None:
    """open() after fail_all() raises a distinct copy: same type, message, code, cause."""
    registry = Registry()
    failure = make_failure()
    registry.fail_all(failure)
    with pytest.raises(TransportClosed) as info:
        registry.open()
    raised = info.value
    assert raised is not failure
    assert type(raised) is TransportClosed
    assert str(raised) == str(failure)
    assert raised.args == failure.args
    assert raised.code == 1006
    assert raised.reason == ""
    assert raised.__cause__ is failure.__cause__


def test_open_after_fail_all_raises_new_copy_each_time() -> None:
    """Each refused open() raises its own copy."""
    registry = Registry()
    registry.fail_all(make_failure())
    raised = []
    for _ in range(2):
        with pytest.raises(TransportClosed) as info:
            registry.open()
        raised.append(info.value)
    assert raised[0] is not raised[1]
    assert raised[0] is not registry.failure


def test_open_with_queue_after_fail_all() -> None:
    """open(queue) after fail_all() raises and leaves the caller's queue empty."""
    registry = Registry()
    registry.fail_all(make_failure())
    queue: SimpleQueue[Item] = SimpleQueue()
    with pytest.raises(TransportClosed):
        registry.open(queue)
    assert drain(queue) == []


def test_first_failure_wins() -> None:
    """A second fail_all() keeps the first exception."""
    registry = Registry()
    first = make_failure()
    registry.fail_all(first)
    registry.fail_all(TransportProtocolError("later", 4004))
    assert registry.failure is first
    with pytest.raises(TransportClosed):
        registry.open()


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
    op_id, queue = registry.open()
    failure = make_failure()
    registry.fail_all(failure)
    registry.dispatch(Next(op_id, {"data": {}}))
    registry.dispatch(Complete(op_id))
    assert drain(queue) == [failure]


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
        pytest.param(ConnectTimeout("connect took 10.0 s"), id="ConnectTimeout"),
        pytest.param(AckTimeout("no connection_ack within 10.0 s"), id="AckTimeout"),
        pytest.param(OperationTimeout("no result within 5.0 s"), id="OperationTimeout"),
        pytest.param(KeepAliveTimeout("no pong within 5.0 s", 1006, ""), id="KeepAliveTimeout"),
        pytest.param(LocalProtocolError("out of turn"), id="LocalProtocolError"),
        pytest.param(RemoteProtocolError("not JSON", 4004), id="RemoteProtocolError"),
    ]


def test_copy_cases_cover_every_exception_class() -> None:
    """The copy_exception cases cover every class exported by gqlws_sync.exceptions."""
    covered = {type(case.values[0]).__name__ for case in _instances()}
    assert set(exceptions.__all__) <= covered


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
        AckTimeout("no connection_ack within 10.0 s", 4408),
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
    assert getattr(clone, "code", None) == getattr(original, "code", None)
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


def test_detached_operation_ends_quietly_on_complete() -> None:
    """After detach(), the server's complete removes the id without waking anyone."""
    registry = Registry()
    op_id, queue = registry.open()
    assert registry.detach(op_id) is None
    assert registry.live_ids() == [op_id]
    assert registry.dispatch(Complete(op_id)) is None
    assert registry.live_ids() == []
    assert queue.empty()


def test_detached_operation_that_streams_is_returned_for_cancel() -> None:
    """A detached operation that sends another result is handed back to be cancelled."""
    registry = Registry()
    op_id, queue = registry.open()
    registry.detach(op_id)
    assert registry.dispatch(Next(op_id, {"data": {}})) == op_id
    assert registry.live_ids() == []
    assert queue.empty()
    assert registry.dispatch(Next(op_id, {"data": {}})) is None  # gone now


def test_detach_after_server_ended() -> None:
    """Detaching an operation the server already completed does nothing."""
    registry = Registry()
    op_id, _ = registry.open()
    registry.dispatch(Complete(op_id))
    assert registry.detach(op_id) is None
    assert registry.live_ids() == []


def test_detached_operations_are_bounded() -> None:
    """Past MAX_DETACHED waiting for complete, the oldest is returned to be cancelled."""
    from gqlws_sync._registry import MAX_DETACHED

    registry = Registry()
    ids = [registry.open()[0] for _ in range(MAX_DETACHED + 1)]
    assert [registry.detach(op_id) for op_id in ids[:-1]] == [None] * MAX_DETACHED
    assert registry.detach(ids[-1]) == ids[0]
    assert len(registry) == MAX_DETACHED


def test_fail_all_skips_detached() -> None:
    """Detached operations have no caller: fail_all puts nothing anywhere for them."""
    registry = Registry()
    op_id, queue = registry.open()
    registry.detach(op_id)
    registry.fail_all(exceptions.TransportClosed("gone", 1006))
    assert queue.empty()
    assert registry.live_ids() == []
