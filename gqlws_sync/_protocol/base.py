"""What both subprotocols share: connection state, JSON decoding, message checks.

Rules of this layer (after h11 and wsproto): no sockets, no threads, no clocks. Verbs return the
text frame to send; ``receive()`` turns one text frame into one event. Which ids are live is
the operation registry's business, not this layer's: an event for an id nobody waits for is
dropped there, in one place.

State (``ConnectionState``) moves one way only::

    NEW --connection_init()--> INITIALISING --ConnectionAck--> ACKNOWLEDGED --goodbye()--> CLOSING

``connection_init()`` is allowed once (a second init is fatal on graphql-transport-ws, 4429) and
``subscribe()`` only once ACKNOWLEDGED (a subscribe before the ack is fatal there, 4401).
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable
from typing import Any, ClassVar

from ..exceptions import TransportError, TransportProtocolError
from .closecodes import close_error
from .events import Event, Next

JsonLoads = Callable[[str | bytes | bytearray], Any]
JsonDumps = Callable[[Any], str]


#: The C scanner under json.loads: one value from a position, no Python around it.
_scan_once: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # set in __init__, missing from the stubs


def _stdlib_loads(text: str | bytes | bytearray) -> Any:
    """``json.loads(text)``, the same value or the same error, without the Python layers
    that json.loads puts around its C scanner (a fifth of its time on a small message).

    Anything but one JSON value filling the whole string (whitespace around it, trailing
    data, not JSON at all) is left to json.loads itself, which accepts or explains it.
    """
    if not isinstance(text, str):
        return json.loads(text)
    try:
        value, end = _scan_once(text, 0)
    except StopIteration:
        return json.loads(text)
    if end != len(text):
        return json.loads(text)
    return value


class ConnectionState(enum.Enum):
    NEW = "new"
    INITIALISING = "initialising"
    ACKNOWLEDGED = "acknowledged"
    CLOSING = "closing"


class LocalProtocolError(TransportProtocolError):
    """This client tried to act out of turn; a bug in gqlws_sync or in how it is driven."""


class RemoteProtocolError(TransportProtocolError):
    """The server sent something the protocol does not allow.

    ``close_code`` is the code the client should close the connection with. Internal: the
    connection turns it into a plain ``TransportProtocolError`` before any caller sees it.
    """

    def __init__(self, message: str, close_code: int = 4004) -> None:
        super().__init__(message, close_code)
        self.close_code = close_code


class Protocol:
    """One subprotocol's encoder, decoder and connection state; subclasses fill in the wire."""

    subprotocol: ClassVar[str]
    #: The close code we send when the server breaks the protocol.
    violation_close_code: ClassVar[int]
    #: The close code for a binary frame from the server.
    binary_close_code: ClassVar[int]
    #: Whether the protocol has client-to-server pings (graphql-transport-ws does, Apollo not).
    has_client_ping: ClassVar[bool]
    #: Whether every message proves the server alive for ``keep_alive_timeout``, or only the
    #: protocol's own keep-alive message (Apollo's ``ka``, as gql counts it).
    any_message_is_alive: ClassVar[bool]
    #: Whether the server reliably ends a query with ``complete`` after its result. Then a
    #: finished query's id is kept until that ``complete`` (a second result means it was a
    #: subscription after all, to be cancelled); otherwise it is forgotten at once.
    completes_queries: ClassVar[bool]
    #: The ``type`` of a result message (``next``, Apollo's ``data``): looked for first.
    _result_type: ClassVar[str]

    def __init__(
        self,
        dumps: JsonDumps = json.dumps,
        loads: JsonLoads = json.loads,
        *,
        fallback_loads: JsonLoads | None = None,
    ) -> None:
        """
        Args:
            fallback_loads: tried on a frame ``loads`` refuses before calling it a protocol
                violation (orjson refuses integers over 64 bits and NaN, which the standard
                library decodes): here rather than in a wrapper, so that the usual frame
                costs no extra Python call.
        """
        self._dumps = dumps
        self._fallback_loads = fallback_loads
        # The stdlib decoder given bytes first guesses their encoding; decoding UTF-8 here
        # is cheaper (about 30% of its time on small messages). Other codecs take bytes.
        self._decode_first = loads is json.loads
        #: Whether text is best handed over as ``str`` (the standard library's decoder
        #: needs it; the frame reader can decode it straight from its buffer).
        self.takes_text = self._decode_first
        self._loads = _stdlib_loads if loads is json.loads else loads
        self.state = ConnectionState.NEW
        #: Set by an Apollo ``connection_error``: the message to put on the 1011 that follows.
        self.refusal_message: str | None = None

    # -- outgoing ---------------------------------------------------------------------------

    def connection_init(self, payload: dict[str, Any] | None) -> str:
        """The first message on a new socket. Wait for ``ConnectionAck`` before subscribing."""
        if self.state is not ConnectionState.NEW:
            raise LocalProtocolError("connection_init may be sent once per connection")
        self.state = ConnectionState.INITIALISING
        return self._dumps({"type": "connection_init", "payload": payload or {}})

    def subscribe(self, op_id: str, payload: dict[str, Any]) -> str:
        """Start an operation; ``payload`` has ``query`` and optional ``variables``,
        ``operationName`` and ``extensions``."""
        if self.state is not ConnectionState.ACKNOWLEDGED:
            raise LocalProtocolError(
                f"cannot start an operation while the connection is {self.state.value}"
            )
        return self._dumps({"id": op_id, "type": self._start_type, "payload": payload})

    def cancel(self, op_id: str) -> str:
        """Tell the server to stop an operation whose caller has gone."""
        return self._dumps({"id": op_id, "type": self._cancel_type})

    def ping(self) -> str | None:
        """A protocol-level ping, or ``None`` when the protocol has none."""
        return None

    def pong(self, payload: Any) -> str | None:
        """The answer to a server ``Ping``, or ``None`` when the protocol has none."""
        return None

    def goodbye(self, live_ids: list[str]) -> list[str]:
        """Frames to send before the Close frame of a clean shutdown."""
        self.state = ConnectionState.CLOSING
        return []

    # -- incoming ---------------------------------------------------------------------------

    def receive(self, data: bytes | bytearray | str) -> Event | None:
        """Parse one text frame into an event; ``None`` for a message to ignore.

        Raises:
            RemoteProtocolError: the frame breaks the protocol; close with ``close_code``.
        """
        try:
            if self._decode_first and not isinstance(data, str):
                data = data.decode()
            message = self._loads(data)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, …
            message = self._decode_again(data, exc)
        if type(message) is not dict:
            raise RemoteProtocolError(
                f"server sent JSON that is not an object: {type(message).__name__}",
                self.violation_close_code,
            )
        kind = message.get("type")
        if kind == self._result_type:  # nearly every message of a busy connection
            return self._next(message, kind)
        return self._event(message)

    def _decode_again(self, data: bytes | bytearray | str, exc: Exception) -> Any:
        """``data`` through the fallback decoder, if there is one.

        Raises:
            RemoteProtocolError: no decoder takes it.
        """
        fallback = self._fallback_loads
        if fallback is not None:
            try:
                return fallback(data)
            except (ValueError, RecursionError) as again:
                exc = again
        raise RemoteProtocolError(
            "server sent a text frame that is not JSON", self.violation_close_code
        ) from exc

    def _event(self, message: dict[str, Any]) -> Event | None:
        raise NotImplementedError

    def close_error(
        self, code: int, reason: str, *, acknowledged: bool, offered: tuple[str, ...] = ()
    ) -> TransportError:
        """The exception that a Close frame from the server (or a lost TCP connection, 1006)
        raises in every waiting caller."""
        return close_error(
            code,
            reason,
            subprotocol=self.subprotocol,
            acknowledged=acknowledged,
            refusal_message=self.refusal_message,
            offered=offered,
        )

    _start_type: ClassVar[str]
    _cancel_type: ClassVar[str]

    # -- helpers for subclasses --------------------------------------------------------------

    def binary_error(self) -> RemoteProtocolError:
        """Neither protocol sends binary frames; a server that does is not guessed at."""
        return RemoteProtocolError(
            "server sent a binary frame; GraphQL over WebSocket uses text frames only",
            self.binary_close_code,
        )

    def _violation(self, text: str) -> RemoteProtocolError:
        return RemoteProtocolError(text, self.violation_close_code)

    def _require_ack(self, kind: str) -> None:
        """Before ``connection_ack`` only the ack, keep-alives, pings and a refusal may come."""
        if self.state is ConnectionState.INITIALISING or self.state is ConnectionState.NEW:
            raise self._violation(f"server sent {kind!r} before connection_ack")

    def _next(self, message: dict[str, Any], kind: str) -> Next:
        """A result: the checks of ``_require_ack``, ``_op_id`` and ``_result`` at once for
        the usual case, since a busy stream makes one per message."""
        op_id = message.get("id")
        payload = message.get("payload")
        if (
            self.state is ConnectionState.ACKNOWLEDGED
            and type(op_id) is str
            and op_id
            and type(payload) is dict
            and ("data" in payload or "errors" in payload)
        ):
            return Next(op_id, payload)
        self._require_ack(kind)  # raises the precise violation, or it is the CLOSING state
        return Next(self._op_id(message), self._result(message))

    def _op_id(self, message: dict[str, Any]) -> str:
        op_id = message.get("id")
        if type(op_id) is not str or not op_id:
            raise self._violation(
                f"server sent {message.get('type')!r} without a valid id: {op_id!r}"
            )
        return op_id

    def _result(self, message: dict[str, Any]) -> dict[str, Any]:
        payload = message.get("payload")
        if type(payload) is not dict or ("data" not in payload and "errors" not in payload):
            raise self._violation(
                f"server sent {message.get('type')!r} whose payload has neither data nor errors"
            )
        return payload

    def _errors(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        """An ``error`` payload as a list: the specs say a list (graphql-transport-ws) or one
        object (Apollo); servers also send ``{"errors": [...]}``. Accept all three."""
        payload = message.get("payload")
        if type(payload) is dict:
            inner = payload.get("errors")
            if type(inner) is list and "message" not in payload:
                payload = inner
            else:
                return [payload]
        if type(payload) is list and payload:
            return [e if type(e) is dict else {"message": str(e)} for e in payload]
        if type(payload) is str:
            return [{"message": payload}]
        raise self._violation(f"server sent an error message with a bad payload: {payload!r}")


# A top-level "id" key with a plain string value, before any "payload" key: the keys of the
# envelope come before the payload's nested objects can begin, so this cannot match inside
# a result.
_ID_PATTERN = re.compile(rb'[{,]\s*"id"\s*:\s*"([^"\\]{1,64})"')
_PAYLOAD_KEY = b'"payload"'
#: How far into a message the envelope's id is looked for.
_PEEK = 128


def peek_id(data: bytes | bytearray | str) -> str | None:
    """The operation id of a message, read without decoding its JSON; ``None`` when it is
    not among the first keys.

    Lets the reader throw away, cheaply, the results still streaming for an operation
    nobody waits for (a cancelled subscription on a fast stream), which would otherwise
    each cost a full decode while later messages (other callers' results) wait behind them.
    """
    head = data[:_PEEK].encode() if isinstance(data, str) else bytes(data[:_PEEK])
    match = _ID_PATTERN.search(head)
    if match is None:
        return None
    payload = head.find(_PAYLOAD_KEY)
    if payload != -1 and payload < match.start():
        return None
    return match.group(1).decode("ascii", "replace")
