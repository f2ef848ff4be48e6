"""What is retried after a failure (the close-code table, row by row) and how long the
Reconnect policy waits between attempts."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from gqlws_sync import Reconnect
from gqlws_sync._protocol import (
    APOLLO_SUBPROTOCOL,
    GRAPHQLWS_SUBPROTOCOL,
    LocalProtocolError,
    RemoteProtocolError,
    close_error,
    is_retryable,
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

SUBPROTOCOLS = pytest.mark.parametrize("subprotocol", [GRAPHQLWS_SUBPROTOCOL, APOLLO_SUBPROTOCOL])

#: PROTOCOLS.md §2, last column: the rows that say "retryable".
RETRYABLE_ROWS = [1000, 1001, 1005, 1006, 1012, 1013, 1014, 4408, 4499]

#: The rows that say "fatal", and 4403 ("no automatic retry").
FATAL_ROWS = [
    1002,
    1003,
    1007,
    1008,
    1009,
    1010,
    1011,
    1015,
    4400,
    4401,
    4403,
    4406,
    4409,
    4429,
    4500,
    # A graphql-ws client's "bad response" and "internal client error": fatal in the table's
    # graphql-ws column, and received from a server they mean the same.
    4004,
    4005,
]

#: "other 3000-4999": server specific, retryable with back-off. 4504 is in the table as a
#: code this client sends (ack timeout), which graphql-ws retries.
OTHER_PRIVATE = [3000, 3001, 3999, 4000, 4001, 4418, 4504, 4998, 4999]

#: Codes outside every row and outside 3000-4999: not retried.
OUTSIDE_TABLE = [1004, 1016, 1100, 2000, 2999, 5000]


def closed_with(code: int, subprotocol: str, *, acknowledged: bool = True) -> TransportError:
    """The exception a Close frame with ``code`` raises in waiting callers."""
    return close_error(code, "", subprotocol=subprotocol, acknowledged=acknowledged)


# -- is_retryable: close codes ---------------------------------------------------------------


def test_rows_are_disjoint() -> None:
    """Each code is listed in exactly one group above (a typo would hide a row)."""
    groups = [RETRYABLE_ROWS, FATAL_ROWS, OTHER_PRIVATE, OUTSIDE_TABLE]
    codes = [code for group in groups for code in group]
    assert len(codes) == len(set(codes))


@SUBPROTOCOLS
@pytest.mark.parametrize("code", RETRYABLE_ROWS)
def test_retryable_row(code: int, subprotocol: str) -> None:
    """A close code the table calls retryable is retried."""
    assert is_retryable(closed_with(code, subprotocol)) is True


@SUBPROTOCOLS
@pytest.mark.parametrize("code", FATAL_ROWS)
def test_fatal_row(code: int, subprotocol: str) -> None:
    """A close code the table calls fatal (or not retried automatically) is not retried."""
    assert is_retryable(closed_with(code, subprotocol)) is False


@SUBPROTOCOLS
@pytest.mark.parametrize("code", OTHER_PRIVATE)
def test_other_private_code_retryable(code: int, subprotocol: str) -> None:
    """A 3000-4999 code the table does not name is retried with back-off."""
    exc = closed_with(code, subprotocol)
    assert type(exc) is TransportServerError
    assert is_retryable(exc) is True


@SUBPROTOCOLS
@pytest.mark.parametrize("code", OUTSIDE_TABLE)
def test_code_outside_table_not_retried(code: int, subprotocol: str) -> None:
    """A code in no row and outside 3000-4999 is not retried."""
    assert is_retryable(closed_with(code, subprotocol)) is False


@SUBPROTOCOLS
@pytest.mark.parametrize("code", [1002, 4406])
def test_wrong_subprotocol_before_ack_not_retried(code: int, subprotocol: str) -> None:
    """1002/4406 right after the upgrade (the server speaks another subprotocol): fatal."""
    assert is_retryable(closed_with(code, subprotocol, acknowledged=False)) is False


@pytest.mark.parametrize("code", [1000, 1006, 4408, 4499])
def test_retryable_rows_before_ack(code: int) -> None:
    """A retryable code before connection_ack is still retryable."""
    exc = closed_with(code, GRAPHQLWS_SUBPROTOCOL, acknowledged=False)
    assert is_retryable(exc) is True


def test_1011_after_apollo_refusal_not_retried() -> None:
    """1011 carrying an Apollo connection_error message (init refused) is not retried."""
    exc = close_error(
        1011,
        "",
        subprotocol=APOLLO_SUBPROTOCOL,
        acknowledged=False,
        refusal_message="invalid token",
    )
    assert exc.code == 1011
    assert is_retryable(exc) is False


# -- is_retryable: other failures ------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "retryable"),
    [
        pytest.param(TransportConnectionFailed("connection refused"), True, id="tcp-refused"),
        pytest.param(TransportConnectionFailed("could not resolve"), True, id="dns"),
        pytest.param(TransportConnectionFailed("tls", 1015), False, id="tls-1015"),
        pytest.param(ConnectTimeout("could not connect within 10.0 s"), True, id="connect-timeout"),
        pytest.param(AckTimeout("no connection_ack within 10.0 s", 4504), True, id="ack-timeout"),
        pytest.param(KeepAliveTimeout("no pong within 5.0 s", 1006), True, id="keepalive-1006"),
        pytest.param(TransportClosed("connection lost", 1006), True, id="closed-1006"),
        pytest.param(TransportClosed("closed"), True, id="closed-without-code"),
        pytest.param(TransportServerError("HTTP 401", 401), False, id="http-401"),
        pytest.param(TransportServerError("HTTP 403", 403), False, id="http-403"),
        pytest.param(TransportServerError("HTTP 404", 404), False, id="http-404"),
        pytest.param(TransportServerError("HTTP 500", 500), False, id="http-500"),
        pytest.param(TransportServerError("HTTP 502", 502), True, id="http-502"),
        pytest.param(TransportServerError("HTTP 503", 503), True, id="http-503"),
        pytest.param(TransportServerError("HTTP 504", 504), True, id="http-504"),
        pytest.param(TransportServerError("redirect not followed"), False, id="server-no-code"),
        pytest.param(TransportProtocolError("bad frame", 4004), False, id="our-4004"),
        pytest.param(RemoteProtocolError("not JSON", 4004), False, id="remote-violation"),
        pytest.param(LocalProtocolError("out of turn"), False, id="local-violation"),
        pytest.param(
            TransportQueryError("boom", query_id="1", errors=[{"message": "boom"}]),
            False,
            id="query-error",
        ),
        pytest.param(OperationTimeout("no result within 5.0 s"), False, id="operation-timeout"),
        pytest.param(SubscriptionOverflow("subscription 1 overflowed"), False, id="overflow"),
        pytest.param(TransportAlreadyConnected("already"), False, id="already-connected"),
        pytest.param(TransportError("base"), False, id="base"),
        pytest.param(ConnectionResetError(104, "reset"), False, id="builtin-oserror"),
        pytest.param(TimeoutError("builtin"), False, id="builtin-timeout"),
    ],
)
def test_is_retryable_other_failures(exc: BaseException, retryable: bool) -> None:
    """Network failures, timeouts of the connection and 502-504 are retried; refusals,
    protocol errors, per-operation errors and foreign exceptions are not."""
    assert is_retryable(exc) is retryable


# -- Reconnect: validation -------------------------------------------------------------------


def test_reconnect_defaults() -> None:
    """The default policy: 12 attempts, 0.5 s doubling up to 30 s, a quarter of jitter."""
    policy = Reconnect()
    assert (
        policy.max_attempts,
        policy.initial_delay,
        policy.max_delay,
        policy.multiplier,
        policy.jitter,
    ) == (12, 0.5, 30.0, 2.0, 0.25)


def test_reconnect_is_frozen() -> None:
    """A Reconnect cannot be changed once built."""
    policy = Reconnect()
    with pytest.raises(AttributeError):
        policy.max_attempts = 3  # type: ignore[misc]  # the point: it is frozen


def test_reconnect_unlimited_attempts_allowed() -> None:
    """max_attempts=None means no limit."""
    assert Reconnect(max_attempts=None).max_attempts is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 1},
        {"max_attempts": 1000},
        {"initial_delay": 0.001, "max_delay": 0.001},
        {"initial_delay": 5, "max_delay": 1},
        {"multiplier": 1},
        {"multiplier": 1.5},
        {"jitter": 0},
        {"jitter": 1},
        {"jitter": 0.5},
    ],
    ids=lambda kwargs: "-".join(f"{k}={v}" for k, v in kwargs.items()),
)
def test_reconnect_valid(kwargs: dict[str, Any]) -> None:
    """Boundary values that make sense are accepted and kept."""
    policy = Reconnect(**kwargs)
    for name, value in kwargs.items():
        assert getattr(policy, name) == value


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_attempts", 0),
        ("max_attempts", -1),
        ("max_attempts", True),
        ("max_attempts", 1.5),
        ("max_attempts", "3"),
        ("initial_delay", 0),
        ("initial_delay", -0.5),
        ("initial_delay", math.nan),
        ("initial_delay", math.inf),
        ("initial_delay", True),
        ("max_delay", 0),
        ("max_delay", -1),
        ("max_delay", math.nan),
        ("max_delay", math.inf),
        ("max_delay", False),
        ("multiplier", 0.5),
        ("multiplier", 0),
        ("multiplier", -2),
        ("multiplier", math.nan),
        ("multiplier", math.inf),
        ("multiplier", True),
        ("multiplier", "2"),
        ("jitter", -0.1),
        ("jitter", 1.5),
        ("jitter", math.nan),
        ("jitter", True),
        ("jitter", "0.1"),
    ],
)
def test_reconnect_invalid(field: str, value: Any) -> None:
    """An impossible value is a ValueError naming the field and the value."""
    with pytest.raises(ValueError) as info:
        Reconnect(**{field: value})
    assert str(info.value).startswith(f"{field} must be ")
    assert repr(value) in str(info.value)


@pytest.mark.parametrize("field", ["initial_delay", "max_delay"])
def test_reconnect_delay_not_a_number(field: str) -> None:
    """A delay that is not a number is a TypeError naming the field, like every duration."""
    kwargs: dict[str, Any] = {field: "1"}
    with pytest.raises(TypeError) as info:
        Reconnect(**kwargs)
    assert str(info.value) == f"{field} must be a number of seconds or None, not '1'"


# -- Reconnect: delay() ----------------------------------------------------------------------

MIDDLE = 0.5  # an rng() of 0.5 moves the delay neither up nor down


def constant(value: float) -> Callable[[], float]:
    """An rng that always says ``value``."""
    return lambda: value


def no_jitter(attempt: int, **kwargs: Any) -> float:
    """The delay of ``attempt`` under Reconnect(**kwargs), moved neither up nor down."""
    return Reconnect(**kwargs).delay(attempt, rng=constant(MIDDLE))


def test_delay_grows_exponentially_then_caps() -> None:
    """Attempt n waits initial_delay * multiplier ** n, capped at max_delay."""
    delays = [no_jitter(n) for n in range(10)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0, 30.0]


def test_delay_with_other_multiplier() -> None:
    """The growth follows the given multiplier and initial delay."""
    delays = [no_jitter(n, initial_delay=1, multiplier=3, max_delay=100) for n in range(6)]
    assert delays == [1.0, 3.0, 9.0, 27.0, 81.0, 100.0]


def test_delay_with_multiplier_one_is_constant() -> None:
    """multiplier=1 waits the initial delay every time."""
    assert [no_jitter(n, initial_delay=2, multiplier=1) for n in (0, 1, 50)] == [2.0] * 3


def test_delay_never_above_max_delay_when_initial_is() -> None:
    """An initial delay above max_delay is capped from the first attempt."""
    assert no_jitter(0, initial_delay=60, max_delay=10) == 10.0


@pytest.mark.parametrize(
    ("rng", "factor"), [(0.0, 0.75), (0.5, 1.0), (1.0, 1.25)], ids=["low", "middle", "high"]
)
@pytest.mark.parametrize("attempt", [0, 3, 20])
def test_delay_jitter_bounds(rng: float, factor: float, attempt: int) -> None:
    """The jitter moves each delay by up to its fraction of it, down (rng 0) or up (rng 1)."""
    policy = Reconnect()
    base = min(30.0, 0.5 * 2.0**attempt)
    assert policy.delay(attempt, rng=lambda: rng) == pytest.approx(base * factor)


def test_full_jitter_bounds() -> None:
    """jitter=1 spreads a delay from zero to twice itself."""
    policy = Reconnect(jitter=1)
    assert policy.delay(2, rng=lambda: 0.0) == 0.0
    assert policy.delay(2, rng=lambda: 1.0) == 4.0


def test_no_jitter_ignores_rng() -> None:
    """jitter=0 gives the same delay whatever the rng says."""
    policy = Reconnect(jitter=0)
    assert {policy.delay(4, rng=constant(v)) for v in (0.0, 0.3, 1.0)} == {8.0}


def test_delay_uses_random_by_default() -> None:
    """Without an rng, the delay falls within the jitter bounds."""
    policy = Reconnect()
    for _ in range(100):
        assert 0.75 <= policy.delay(1) <= 1.25


@pytest.mark.parametrize(
    ("kwargs", "attempt"),
    [
        ({}, 1_024),
        ({}, 10**6),
        ({}, 10**18),
        ({"multiplier": 1.0000001}, 10**12),
        ({"initial_delay": 1e-9, "multiplier": 10.0}, 10**18),
        ({"multiplier": 2}, 100_000),
    ],
    ids=["1024", "million", "1e18", "tiny-multiplier", "tiny-initial", "int-multiplier"],
)
def test_delay_huge_attempt_does_not_overflow(kwargs: dict[str, Any], attempt: int) -> None:
    """A huge attempt number (max_attempts=None, a long outage) gives max_delay, no error."""
    policy = Reconnect(max_attempts=None, **kwargs)
    assert policy.delay(attempt, rng=lambda: MIDDLE) == policy.max_delay
    assert policy.delay(attempt, rng=lambda: 1.0) == pytest.approx(policy.max_delay * 1.25)
