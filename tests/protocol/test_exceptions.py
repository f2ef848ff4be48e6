"""The exception tree drawn in exceptions.py's docstring, and its public re-exports."""

from __future__ import annotations

import inspect

import pytest

import gqlws_sync
from gqlws_sync import exceptions
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

#: The docstring's tree: class -> its direct bases.
TREE: dict[type[BaseException], tuple[type[BaseException], ...]] = {
    TransportError: (Exception,),
    TransportConnectionFailed: (TransportError,),
    TransportServerError: (TransportError,),
    TransportProtocolError: (TransportError,),
    TransportQueryError: (TransportError,),
    TransportClosed: (TransportError,),
    TransportAlreadyConnected: (TransportError,),
    ConnectTimeout: (TransportConnectionFailed, TimeoutError),
    AckTimeout: (TransportServerError, TimeoutError),
    OperationTimeout: (TransportError, TimeoutError),
    KeepAliveTimeout: (TransportClosed, TimeoutError),
}

TIMEOUTS = [ConnectTimeout, AckTimeout, OperationTimeout, KeepAliveTimeout]


def test_tree_covers_module() -> None:
    """The tree lists exactly the exception classes exceptions.py defines and exports."""
    defined = {
        obj
        for _, obj in inspect.getmembers(exceptions, inspect.isclass)
        if issubclass(obj, BaseException) and obj.__module__ == exceptions.__name__
    }
    assert defined == set(TREE)
    assert set(exceptions.__all__) == {cls.__name__ for cls in TREE}


@pytest.mark.parametrize(("cls", "bases"), TREE.items(), ids=[c.__name__ for c in TREE])
def test_direct_bases(cls: type[BaseException], bases: tuple[type[BaseException], ...]) -> None:
    """Each class sits where the docstring draws it."""
    assert cls.__bases__ == bases


@pytest.mark.parametrize("cls", list(TREE), ids=[c.__name__ for c in TREE])
def test_everything_is_transport_error(cls: type[BaseException]) -> None:
    """Every exception raised by gqlws_sync is a TransportError."""
    assert issubclass(cls, TransportError)


@pytest.mark.parametrize("cls", TIMEOUTS, ids=[c.__name__ for c in TIMEOUTS])
def test_timeouts_are_builtin_timeout_errors(cls: type[TransportError]) -> None:
    """Every *Timeout class is also a builtin TimeoutError, and caught as one."""
    assert issubclass(cls, TimeoutError)
    with pytest.raises(TimeoutError):
        raise cls("too slow")


@pytest.mark.parametrize(
    "cls",
    [c for c in TREE if c not in TIMEOUTS],
    ids=[c.__name__ for c in TREE if c not in TIMEOUTS],
)
def test_other_classes_are_not_timeouts(cls: type[BaseException]) -> None:
    """Only the *Timeout classes are TimeoutErrors (or OSErrors)."""
    assert not issubclass(cls, OSError)


@pytest.mark.parametrize(
    ("cls", "family"),
    [
        (ConnectTimeout, TransportConnectionFailed),
        (AckTimeout, TransportServerError),
        (KeepAliveTimeout, TransportClosed),
    ],
)
def test_timeouts_caught_by_their_family(
    cls: type[TransportError], family: type[TransportError]
) -> None:
    """A timeout is also caught by the family the tree puts it in."""
    with pytest.raises(family):
        raise cls("too slow")


def test_operation_timeout_family() -> None:
    """OperationTimeout is neither a server error nor a closed connection."""
    assert not issubclass(OperationTimeout, (TransportServerError, TransportClosed))


@pytest.mark.parametrize("cls", list(TREE), ids=[c.__name__ for c in TREE])
def test_reexported_from_package(cls: type[BaseException]) -> None:
    """Every exception class is importable from gqlws_sync and listed in its __all__."""
    assert getattr(gqlws_sync, cls.__name__) is cls
    assert cls.__name__ in gqlws_sync.__all__


@pytest.mark.parametrize(
    "cls",
    [TransportConnectionFailed, TransportServerError, TransportProtocolError, TransportClosed],
)
def test_code_defaults_to_none(cls: type[TransportConnectionFailed]) -> None:
    """Classes with a code default it to None and keep the message as str()."""
    exc = cls("message")
    assert exc.code is None
    assert str(exc) == "message"


@pytest.mark.parametrize(
    "cls",
    [TransportConnectionFailed, TransportServerError, TransportProtocolError, TransportClosed],
)
def test_code_given_positionally(cls: type[TransportConnectionFailed]) -> None:
    """The second positional argument is the code."""
    exc = cls("message", 4500)
    assert exc.code == 4500
    assert str(exc) == "message"


def test_transport_closed_fields() -> None:
    """TransportClosed keeps code and reason; reason defaults to ""."""
    exc = TransportClosed("gone", 1001, "restart")
    assert (exc.code, exc.reason, str(exc)) == (1001, "restart", "gone")
    assert TransportClosed("gone").reason == ""


def test_keepalive_timeout_fields() -> None:
    """KeepAliveTimeout is a TransportClosed with code and reason."""
    exc = KeepAliveTimeout("no pong within 5.0 s", 1006, "")
    assert (exc.code, exc.reason, str(exc)) == (1006, "", "no pong within 5.0 s")


def test_ack_timeout_fields() -> None:
    """AckTimeout is a TransportServerError with a code."""
    exc = AckTimeout("no connection_ack within 10.0 s")
    assert exc.code is None
    assert str(exc) == "no connection_ack within 10.0 s"


def test_query_error_fields() -> None:
    """TransportQueryError keeps query_id, errors, data and extensions; all default to None."""
    exc = TransportQueryError(
        "boom", query_id="1", errors=[{"message": "boom"}], data={"a": None}, extensions={"x": 1}
    )
    assert (exc.query_id, exc.errors, exc.data, exc.extensions) == (
        "1",
        [{"message": "boom"}],
        {"a": None},
        {"x": 1},
    )
    assert str(exc) == "boom"
    bare = TransportQueryError("bare")
    assert (bare.query_id, bare.errors, bare.data, bare.extensions) == (None, None, None, None)


def test_package_constants() -> None:
    """The package re-exports gql's subprotocol constant names with their tokens."""
    assert gqlws_sync.GRAPHQLWS_SUBPROTOCOL == "graphql-transport-ws"
    assert gqlws_sync.APOLLO_SUBPROTOCOL == "graphql-ws"
