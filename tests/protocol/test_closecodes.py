"""The close-code table of PROTOCOLS.md §2, row by row: the exception type and ``.code``."""

from __future__ import annotations

import pytest

from gqlws_sync._protocol import (
    APOLLO_SUBPROTOCOL,
    GRAPHQLWS_SUBPROTOCOL,
    RETRYABLE_CODES,
    ApolloProtocol,
    close_error,
)
from gqlws_sync.exceptions import (
    TransportClosed,
    TransportConnectionFailed,
    TransportError,
    TransportProtocolError,
    TransportServerError,
)

SUBPROTOCOLS = pytest.mark.parametrize("subprotocol", [GRAPHQLWS_SUBPROTOCOL, APOLLO_SUBPROTOCOL])

#: PROTOCOLS.md §2, last column: code -> the exception class it raises.
TABLE: list[tuple[int, type[TransportError]]] = [
    (1000, TransportClosed),
    (1001, TransportClosed),
    (1002, TransportProtocolError),
    (1003, TransportProtocolError),
    (1005, TransportClosed),
    (1006, TransportClosed),
    (1007, TransportProtocolError),
    (1008, TransportProtocolError),
    (1009, TransportProtocolError),
    (1010, TransportProtocolError),
    (1011, TransportServerError),
    (1012, TransportClosed),
    (1013, TransportClosed),
    (1014, TransportClosed),
    (1015, TransportConnectionFailed),
    (4400, TransportProtocolError),
    (4401, TransportProtocolError),
    (4403, TransportServerError),
    (4406, TransportProtocolError),
    (4408, TransportServerError),
    (4409, TransportProtocolError),
    (4429, TransportProtocolError),
    (4499, TransportClosed),  # "retryable if ever received": a closed connection, like 1001
    (4500, TransportServerError),
    # "other 3000-4999": server specific -> TransportServerError(code)
    (3000, TransportServerError),
    (3003, TransportServerError),
    (3999, TransportServerError),
    (4000, TransportServerError),
    (4001, TransportServerError),
    (4004, TransportServerError),  # our own violation code, if a server ever sent it
    (4418, TransportServerError),
    (4504, TransportServerError),
    (4999, TransportServerError),
]

#: Codes the table calls retryable; every other code in it is fatal.
RETRYABLE = {1000, 1001, 1005, 1006, 1012, 1013, 1014, 4408, 4499}
FATAL = {1002, 1003, 1007, 1008, 1009, 1010, 1011, 1015, 4400, 4401, 4406, 4409, 4429, 4500}


@SUBPROTOCOLS
@pytest.mark.parametrize("acknowledged", [True, False], ids=["after-ack", "before-ack"])
@pytest.mark.parametrize(("code", "cls"), TABLE, ids=[str(code) for code, _ in TABLE])
def test_table_row(
    code: int, cls: type[TransportError], acknowledged: bool, subprotocol: str
) -> None:
    """Each close code raises exactly the table's exception class, with .code set."""
    exc = close_error(code, "", subprotocol=subprotocol, acknowledged=acknowledged)
    assert type(exc) is cls
    assert getattr(exc, "code", None) == code


@SUBPROTOCOLS
@pytest.mark.parametrize(
    ("code", "cls"),
    [row for row in TABLE if row[0] not in (1002, 4406)],
    ids=[str(code) for code, _ in TABLE if code not in (1002, 4406)],
)
def test_reason_and_code_in_message(code: int, cls: type[TransportError], subprotocol: str) -> None:
    """The message names the code and carries the Close frame's reason text."""
    exc = close_error(code, "the reason text", subprotocol=subprotocol, acknowledged=True)
    assert type(exc) is cls
    assert str(code) in str(exc)
    assert str(exc).endswith(": the reason text")


@pytest.mark.parametrize(
    ("code", "cls"),
    [row for row in TABLE if row[1] is TransportClosed],
    ids=[str(code) for code, cls in TABLE if cls is TransportClosed],
)
def test_transport_closed_keeps_reason(code: int, cls: type[TransportError]) -> None:
    """TransportClosed codes keep the reason in .reason."""
    exc = close_error(code, "bye", subprotocol=GRAPHQLWS_SUBPROTOCOL, acknowledged=True)
    assert isinstance(exc, TransportClosed)
    assert (exc.code, exc.reason) == (code, "bye")


def test_1000_message() -> None:
    """1000 from the server reads as a normal closure by the server."""
    exc = close_error(1000, "", subprotocol=GRAPHQLWS_SUBPROTOCOL, acknowledged=True)
    assert str(exc) == "connection closed by the server with code 1000 (normal closure)"


def test_1005_message() -> None:
    """1005 (Close without a code) says so."""
    exc = close_error(1005, "", subprotocol=APOLLO_SUBPROTOCOL, acknowledged=True)
    assert type(exc) is TransportClosed
    assert str(exc) == "connection closed: closed without a status code (code 1005)"


def test_1006_is_connection_lost() -> None:
    """1006 is TransportClosed("connection lost")."""
    exc = close_error(1006, "", subprotocol=GRAPHQLWS_SUBPROTOCOL, acknowledged=True)
    assert type(exc) is TransportClosed
    assert exc.code == 1006
    assert exc.reason == ""
    assert str(exc) == "connection closed: connection lost (code 1006)"


def test_1009_says_our_message_was_too_big() -> None:
    """1009 says that our message exceeded the server's limit."""
    exc = close_error(1009, "", subprotocol=GRAPHQLWS_SUBPROTOCOL, acknowledged=True)
    assert str(exc) == (
        "connection closed by the server with code 1009 (message too big for the server)"
    )


def test_1015_names_tls_reason() -> None:
    """1015 is TransportConnectionFailed naming TLS and the reason."""
    exc = close_error(
        1015, "certificate verify failed", subprotocol=GRAPHQLWS_SUBPROTOCOL, acknowledged=False
    )
    assert type(exc) is TransportConnectionFailed
    assert exc.code == 1015
    assert "TLS" in str(exc)
    assert str(exc).endswith(": certificate verify failed")


def test_4401_says_subscribe_before_ack() -> None:
    """4401 is our bug (subscribe before the ack), not a credential failure."""
    exc = close_error(4401, "Unauthorized", subprotocol=GRAPHQLWS_SUBPROTOCOL, acknowledged=True)
    assert type(exc) is TransportProtocolError
    assert "before connection_ack" in str(exc)


@SUBPROTOCOLS
@pytest.mark.parametrize("code", [1002, 4406])
def test_wrong_subprotocol_hint_before_ack(code: int, subprotocol: str) -> None:
    """1002 / 4406 before the ack: TransportProtocolError with the subprotocols= hint."""
    exc = close_error(
        code, "Subprotocol not acceptable", subprotocol=subprotocol, acknowledged=False
    )
    assert type(exc) is TransportProtocolError
    assert exc.code == code
    text = str(exc)
    assert f"accepted subprotocol {subprotocol!r}" in text
    assert f"code {code}" in text
    assert "Subprotocol not acceptable" in text
    assert "subprotocols=[Client.APOLLO_SUBPROTOCOL]" in text
    assert "subprotocols=[Client.GRAPHQLWS_SUBPROTOCOL]" in text


@SUBPROTOCOLS
@pytest.mark.parametrize("code", [1002, 4406])
def test_no_subprotocol_hint_after_ack(code: int, subprotocol: str) -> None:
    """1002 / 4406 after the ack: TransportProtocolError without the subprotocols= hint."""
    exc = close_error(code, "bad", subprotocol=subprotocol, acknowledged=True)
    assert type(exc) is TransportProtocolError
    assert exc.code == code
    assert "subprotocols=" not in str(exc)
    assert str(exc).endswith(": bad")


@SUBPROTOCOLS
@pytest.mark.parametrize("acknowledged", [False, True], ids=["before-ack", "after-ack"])
def test_4406_names_selected_subprotocol(subprotocol: str, acknowledged: bool) -> None:
    """4406 names the selected subprotocol token (table: "naming offered and selected")."""
    exc = close_error(4406, "", subprotocol=subprotocol, acknowledged=acknowledged)
    assert type(exc) is TransportProtocolError
    assert repr(subprotocol) in str(exc)


@pytest.mark.parametrize("acknowledged", [False, True], ids=["before-ack", "after-ack"])
def test_1011_with_refusal_message(acknowledged: bool) -> None:
    """1011 after an Apollo connection_error carries that message."""
    exc = close_error(
        1011,
        "",
        subprotocol=APOLLO_SUBPROTOCOL,
        acknowledged=acknowledged,
        refusal_message="Authentication failed",
    )
    assert type(exc) is TransportServerError
    assert exc.code == 1011
    assert str(exc) == "the server refused the connection: Authentication failed"


def test_1011_without_refusal_message() -> None:
    """1011 with no connection_error before is an internal server error with the reason."""
    exc = close_error(1011, "oops", subprotocol=APOLLO_SUBPROTOCOL, acknowledged=True)
    assert type(exc) is TransportServerError
    assert exc.code == 1011
    assert (
        str(exc) == "connection closed by the server with code 1011 (internal server error): oops"
    )


@pytest.mark.parametrize("code", [1000, 1006, 4403, 4500])
def test_refusal_message_only_affects_1011(code: int) -> None:
    """A recorded refusal message changes only the 1011 mapping."""
    plain = close_error(code, "r", subprotocol=APOLLO_SUBPROTOCOL, acknowledged=True)
    refused = close_error(
        code, "r", subprotocol=APOLLO_SUBPROTOCOL, acknowledged=True, refusal_message="no"
    )
    assert type(refused) is type(plain)
    assert str(refused) == str(plain)


def test_apollo_protocol_1011_after_refusal() -> None:
    """ApolloProtocol passes its connection_error message to the 1011 mapping."""
    protocol = ApolloProtocol()
    protocol.connection_init({"token": "bad"})
    protocol.receive('{"type":"connection_error","payload":{"message":"bad token"}}')
    exc = protocol.close_error(1011, "", acknowledged=False)
    assert type(exc) is TransportServerError
    assert exc.code == 1011
    assert "bad token" in str(exc)


@pytest.mark.parametrize("code", sorted(RETRYABLE))
def test_retryable_codes(code: int) -> None:
    """Codes the table calls retryable are in RETRYABLE_CODES."""
    assert code in RETRYABLE_CODES


@pytest.mark.parametrize("code", sorted(FATAL))
def test_fatal_codes_not_retryable(code: int) -> None:
    """Codes the table calls fatal are not in RETRYABLE_CODES."""
    assert code not in RETRYABLE_CODES


def test_4403_not_retried_automatically() -> None:
    """4403 (init refused) is not retried automatically."""
    assert 4403 not in RETRYABLE_CODES
