"""The exception tree drawn in exceptions.py's docstring, and its public re-exports."""

from __future__ import annotations

import inspect
import pickle
from typing import Any

import pytest
from graphql import GraphQLError, build_schema, parse, validate

import gqlws_sync
from gqlws_sync import exceptions
from gqlws_sync.exceptions import (
    AckTimeout,
    ConnectTimeout,
    GraphQLValidationError,
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

#: The docstring's tree: class -> its direct bases.
TREE: dict[type[BaseException], tuple[type[BaseException], ...]] = {
    TransportError: (Exception,),
    TransportConnectionFailed: (TransportError,),
    TransportServerError: (TransportError,),
    TransportProtocolError: (TransportError,),
    TransportQueryError: (TransportError,),
    TransportClosed: (TransportError,),
    TransportAlreadyConnected: (TransportError,),
    SubscriptionOverflow: (TransportError,),
    ConnectTimeout: (TransportConnectionFailed, TimeoutError),
    AckTimeout: (TransportServerError, TimeoutError),
    OperationTimeout: (TransportError, TimeoutError),
    KeepAliveTimeout: (TransportClosed, TimeoutError),
    GraphQLValidationError: (GraphQLError,),
}

TIMEOUTS = [ConnectTimeout, AckTimeout, OperationTimeout, KeepAliveTimeout]


def test_tree_covers_module() -> None:
    """The tree lists exactly the exception classes exceptions.py defines and exports,
    SubscriptionOverflow included."""
    defined = {
        obj
        for _, obj in inspect.getmembers(exceptions, inspect.isclass)
        if issubclass(obj, BaseException) and obj.__module__ == exceptions.__name__
    }
    assert defined == set(TREE)
    assert set(exceptions.__all__) == {cls.__name__ for cls in TREE}
    assert SubscriptionOverflow in defined


def test_docstring_tree_names_every_class() -> None:
    """The module docstring's tree draws every exported class, each on its own line."""
    doc = exceptions.__doc__
    assert doc is not None
    lines = doc.splitlines()
    for name in exceptions.__all__:
        drawn = [line for line in lines if line.lstrip(" │├└─").startswith(name + " ")]
        assert len(drawn) == 1, name


def _drawn_depth(doc: str, name: str) -> tuple[str, int]:
    """The docstring line that draws ``name``, and how far in its name starts."""
    [line] = [line for line in doc.splitlines() if line.lstrip(" │├└─").startswith(name + " ")]
    return line, len(line) - len(line.lstrip(" │├└─"))


@pytest.mark.parametrize(
    ("name", "parent"),
    [
        ("TransportConnectionFailed", "TransportError"),
        ("SubscriptionOverflow", "TransportError"),
        ("TransportAlreadyConnected", "TransportError"),
        ("ConnectTimeout", "TransportConnectionFailed"),
        ("AckTimeout", "TransportServerError"),
        ("OperationTimeout", "TransportError"),
        ("KeepAliveTimeout", "TransportClosed"),
    ],
)
def test_docstring_tree_matches_bases(name: str, parent: str) -> None:
    """The docstring draws each class one level under TransportError, each timeout two levels
    under it naming the family it inherits from."""
    doc = exceptions.__doc__
    assert doc is not None
    _, root = _drawn_depth(doc, "TransportError")
    line, depth = _drawn_depth(doc, name)
    if name.endswith("Timeout"):
        assert depth == root + 8
        assert f"({parent})" in line
    else:
        assert depth == root + 4
    assert parent in {base.__name__ for base in getattr(exceptions, name).__bases__}


@pytest.mark.parametrize(("cls", "bases"), TREE.items(), ids=[c.__name__ for c in TREE])
def test_direct_bases(cls: type[BaseException], bases: tuple[type[BaseException], ...]) -> None:
    """Each class sits where the docstring draws it."""
    assert cls.__bases__ == bases


TRANSPORT_TREE = [cls for cls in TREE if cls is not GraphQLValidationError]


@pytest.mark.parametrize("cls", TRANSPORT_TREE, ids=[c.__name__ for c in TRANSPORT_TREE])
def test_everything_is_transport_error(cls: type[BaseException]) -> None:
    """Every exception about the transport is a TransportError; the one about the document
    is graphql-core's GraphQLError, as its syntax errors are."""
    assert issubclass(cls, TransportError)
    assert not issubclass(GraphQLValidationError, TransportError)
    assert issubclass(GraphQLValidationError, GraphQLError)


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


def _validation_error() -> GraphQLValidationError:
    schema = build_schema("type Query { a: Int }")
    return GraphQLValidationError(validate(schema, parse("{ b c }")))


def _picklable() -> list[Any]:
    return [
        pytest.param(_validation_error(), id="GraphQLValidationError"),
        pytest.param(TransportError("base"), id="TransportError"),
        pytest.param(TransportConnectionFailed("tcp refused"), id="TransportConnectionFailed"),
        pytest.param(TransportConnectionFailed("tls", 1015), id="TransportConnectionFailed-1015"),
        pytest.param(TransportServerError("HTTP 503", 503), id="TransportServerError"),
        pytest.param(TransportProtocolError("bad frame", 4400), id="TransportProtocolError"),
        pytest.param(
            TransportQueryError(
                "query failed",
                query_id="7",
                errors=[{"message": "x", "path": ["a"]}],
                data={"a": None},
                extensions={"cost": 3},
            ),
            id="TransportQueryError",
        ),
        pytest.param(TransportClosed("going away", 1001, "restart"), id="TransportClosed"),
        pytest.param(
            TransportAlreadyConnected("already connected"), id="TransportAlreadyConnected"
        ),
        pytest.param(
            SubscriptionOverflow("subscription 3: more than 10 results waited unread"),
            id="SubscriptionOverflow",
        ),
        pytest.param(ConnectTimeout("could not connect within 10.0 s"), id="ConnectTimeout"),
        pytest.param(AckTimeout("no connection_ack within 10.0 s", 4504), id="AckTimeout"),
        pytest.param(OperationTimeout("no result within 5.0 s"), id="OperationTimeout"),
        pytest.param(
            KeepAliveTimeout("no pong within 5.0 s", 1006, "keepalive"), id="KeepAliveTimeout"
        ),
    ]


def test_pickle_cases_cover_every_class() -> None:
    """The pickle cases cover every class in exceptions.__all__."""
    covered = {type(case.values[0]).__name__ for case in _picklable()}
    assert covered == set(exceptions.__all__)


@pytest.mark.parametrize("original", _picklable())
def test_survives_pickle(original: TransportError) -> None:
    """Each exception crosses pickle with its class, message, .code and other attributes."""
    clone = pickle.loads(pickle.dumps(original))
    assert type(clone) is type(original)
    assert str(clone) == str(original)
    assert clone.args == original.args
    assert clone.code == original.code
    if isinstance(original, GraphQLValidationError):
        # The inner errors' AST nodes and source stay behind; what they say crosses.
        assert isinstance(clone, GraphQLValidationError)
        assert [e.formatted for e in clone.errors] == [e.formatted for e in original.errors]
        assert len(original.errors) == 2
    else:
        assert vars(clone) == vars(original)


def test_pickle_keeps_closed_fields() -> None:
    """TransportClosed and KeepAliveTimeout keep code and reason across pickle."""
    for original in (
        TransportClosed("going away", 1001, "restart"),
        KeepAliveTimeout("no pong", 1006, "keepalive"),
    ):
        clone = pickle.loads(pickle.dumps(original))
        assert (clone.code, clone.reason) == (original.code, original.reason)


def test_pickle_keeps_query_error_fields() -> None:
    """TransportQueryError keeps errors, data, extensions and query_id across pickle."""
    original = TransportQueryError(
        "query failed",
        query_id="7",
        errors=[{"message": "x", "locations": [{"line": 1, "column": 3}]}],
        data={"a": None, "b": [1]},
        extensions={"cost": 3},
    )
    clone = pickle.loads(pickle.dumps(original))
    assert (clone.query_id, clone.errors, clone.data, clone.extensions) == (
        "7",
        [{"message": "x", "locations": [{"line": 1, "column": 3}]}],
        {"a": None, "b": [1]},
        {"cost": 3},
    )


@pytest.mark.parametrize(
    "original",
    [
        ConnectTimeout("connect"),
        AckTimeout("ack", 4504),
        OperationTimeout("operation"),
        KeepAliveTimeout("keepalive", 1006),
    ],
    ids=["ConnectTimeout", "AckTimeout", "OperationTimeout", "KeepAliveTimeout"],
)
def test_pickled_timeout_is_still_timeout_error(original: TransportError) -> None:
    """A pickled timeout is still a builtin TimeoutError."""
    clone = pickle.loads(pickle.dumps(original))
    assert isinstance(clone, TimeoutError)
    with pytest.raises(TimeoutError):
        raise clone


@pytest.mark.parametrize("cls", list(TREE), ids=[c.__name__ for c in TREE])
def test_every_class_has_code(cls: type[TransportError]) -> None:
    """Every class has a code attribute, on the class and on instances: None unless given."""
    assert cls.code is None
    assert cls("message").code is None


def test_package_constants() -> None:
    """The package re-exports gql's subprotocol constant names with their tokens."""
    assert gqlws_sync.GRAPHQLWS_SUBPROTOCOL == "graphql-transport-ws"
    assert gqlws_sync.APOLLO_SUBPROTOCOL == "graphql-ws"
