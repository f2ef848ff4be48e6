"""Close codes as data: which exception each code raises in the callers it wakes.

The table is the project's contract (see the README's error table); ``.code`` is always set.
"Retryable" codes describe the server going away or the network failing: a later connection
may work. "Fatal" ones say that the same request would fail the same way.
"""

from __future__ import annotations

from ..exceptions import (
    TransportClosed,
    TransportConnectionFailed,
    TransportError,
    TransportProtocolError,
    TransportServerError,
)

#: Codes after which a new connection may well succeed (going away, restart, network lost).
RETRYABLE_CODES = frozenset({1000, 1001, 1005, 1006, 1012, 1013, 1014, 4408, 4499})

#: Codes a graphql-ws client sends when its peer broke the protocol (4004) or it failed
#: itself (4005): received from a server, they say the same, and a retry would too.
_CLIENT_FATAL = frozenset({4004, 4005})

#: HTTP statuses of a refused upgrade that a proxy or load balancer gives while the server
#: behind it restarts.
RETRYABLE_HTTP_STATUSES = frozenset({502, 503, 504})

_PROTOCOL_MEANINGS = {
    1002: "protocol error",
    1003: "unsupported data",
    1007: "invalid frame payload data",
    1008: "policy violation",
    1009: "message too big for the server",
    1010: "mandatory extension missing",
    4400: "bad request: the server rejected a message from this client",
    4401: "unauthorized: an operation was started before connection_ack",
    4406: "subprotocol not acceptable",
    4409: "subscriber for an id already exists",
    4429: "too many initialisation requests",
}

_SERVER_MEANINGS = {
    1011: "internal server error",
    4403: "forbidden: the server refused connection_init",
    4408: "connection initialisation timeout",
    4500: "internal server error",
}

_CLOSED_MEANINGS = {
    1000: "normal closure",
    1001: "going away",
    1005: "closed without a status code",
    1006: "connection lost",
    1012: "service restart",
    1013: "try again later",
    1014: "bad gateway",
    4499: "terminated",
}


def _describe(code: int, meaning: str, reason: str) -> str:
    text = f"connection closed by the server with code {code} ({meaning})"
    if code in (1005, 1006):
        text = f"connection closed: {meaning} (code {code})"
    if reason:
        text += f": {reason}"
    return text


def close_error(
    code: int,
    reason: str,
    *,
    subprotocol: str,
    acknowledged: bool,
    refusal_message: str | None = None,
    offered: tuple[str, ...] = (),
) -> TransportError:
    """Map a close code to the exception it raises.

    Args:
        code: the code of the server's Close frame; 1005 for a Close without one and 1006 when
            the TCP connection ended without any Close frame.
        reason: the Close frame's reason text.
        subprotocol: the subprotocol in use, to name it in the subprotocol hint.
        acknowledged: whether ``connection_ack`` had arrived. A 1002 or 4406 before it means
            the server does not speak the subprotocol it accepted.
        refusal_message: the message of an Apollo ``connection_error`` that came before.
        offered: the subprotocols the client offered, named in the 4406 message.
    """
    offer = f"offered: {', '.join(offered) or 'none'}; selected: {subprotocol!r}"
    if code in (1002, 4406) and not acknowledged:
        return TransportProtocolError(
            f"the server accepted subprotocol {subprotocol!r} but closed the connection with "
            f"code {code} ({_PROTOCOL_MEANINGS[code]}{': ' + reason if reason else ''}; "
            f"{offer}); it probably speaks another one: pass "
            "subprotocols=[Client.APOLLO_SUBPROTOCOL] or "
            "subprotocols=[Client.GRAPHQLWS_SUBPROTOCOL]",
            code=code,
        )
    if code == 4406:
        return TransportProtocolError(
            _describe(code, f"{_PROTOCOL_MEANINGS[code]}; {offer}", reason), code
        )
    if code == 1011 and refusal_message is not None:
        return TransportServerError(
            f"the server refused the connection: {refusal_message}", code=code
        )
    if code in _PROTOCOL_MEANINGS:
        return TransportProtocolError(_describe(code, _PROTOCOL_MEANINGS[code], reason), code)
    if code in _SERVER_MEANINGS:
        return TransportServerError(_describe(code, _SERVER_MEANINGS[code], reason), code)
    if code in _CLOSED_MEANINGS:
        return TransportClosed(_describe(code, _CLOSED_MEANINGS[code], reason), code, reason)
    if code == 1015:
        return TransportConnectionFailed(_describe(code, "TLS handshake failure", reason), code)
    if 3000 <= code <= 4999:
        return TransportServerError(_describe(code, "server-specific code", reason), code)
    return TransportClosed(_describe(code, "unexpected code", reason), code, reason)


def is_retryable(exc: BaseException) -> bool:
    """Whether a new connection may succeed after ``exc`` ended (or refused) the last one.

    Retryable: the server going away or restarting, the network failing (1006, resets,
    refused TCP connections while a server restarts), missed pongs and keep-alives, an
    HTTP 502-504 from a proxy, and close codes 3000-4999 that the table does not name.
    Everything that says this client sent something wrong (1002, 1003, 1007-1010, 4400,
    4401, 4409, 4429), that the server refuses it (401/403/404, 1011, 4403, 4406, 4500) or
    that TLS verification failed is not: the same attempt would fail the same way, and a
    poison request must not bring the connection down again and again.
    """
    if not isinstance(exc, (TransportClosed, TransportConnectionFailed, TransportServerError)):
        return False
    code = exc.code
    if isinstance(exc, TransportConnectionFailed):
        # TCP refused or reset, DNS, timeouts: a restarting server or network. A failed TLS
        # handshake (1015: certificate, protocol) does not fix itself.
        return code != 1015
    if code is None:
        return isinstance(exc, TransportClosed)
    if code < 1000:
        return code in RETRYABLE_HTTP_STATUSES
    if code in RETRYABLE_CODES:
        return True
    named = _PROTOCOL_MEANINGS.keys() | _SERVER_MEANINGS.keys() | _CLOSED_MEANINGS.keys()
    return 3000 <= code <= 4999 and code not in named and code not in _CLIENT_FATAL
