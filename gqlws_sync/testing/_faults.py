"""The knobs that make the reference server misbehave, one wire-level fault each.

Rules:

- Every field's default is the behaviour of a polite, modern server, so ``Faults()`` is "no fault".
- The server reads a field when the event it governs happens (a handshake, a message, a timer
  tick), never once at start-up. Tests change fields from their own thread while the server
  runs; plain attribute assignment is atomic in CPython, so no lock is needed for that.
- ``hang``, ``send_results`` and the three intervals must take effect at once, not at the next
  event, so assignments are reported to watchers (the running server) through ``__setattr__``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal

__all__ = ["APOLLO", "GTW", "Faults", "RawFrame", "SubprotocolChoice", "TextBytes"]

#: The graphql-ws library's protocol.
GTW = "graphql-transport-ws"
#: Apollo's subscriptions-transport-ws protocol (its token is confusingly "graphql-ws").
APOLLO = "graphql-ws"

SubprotocolChoice = Literal["client-order", "first-offered", "none", "unoffered"]


class TextBytes(bytes):
    """Bytes to send in a *text* frame exactly as they are, even when they are not UTF-8.

    Plain ``bytes`` become a binary frame and ``str`` a text frame; this third kind exists
    so a test can check how a client copes with invalid UTF-8 in a text frame.
    """

    __slots__ = ()


#: A frame queued by ``raw_after_ack``, ``raw_on_subscribe`` or ``ReferenceServer.send_raw``.
RawFrame = str | bytes


@dataclasses.dataclass(eq=False)
class Faults:
    """What the reference server does differently from a polite server.

    Attributes:
        protocols: Subprotocol tokens the server speaks, in its own order of preference.
        subprotocol_choice: How the upgrade answers ``Sec-WebSocket-Protocol``.
            ``"client-order"``: the first token of the client's offer that the server speaks,
            as Strawberry does; none in common → upgrade accepted without the header.
            ``"first-offered"``: echo the client's first token whatever it is, as a Node ``ws``
            server without a ``handleProtocols`` hook does.
            ``"none"``: never send the header.
            ``"unoffered"``: answer ``unoffered_token``, which the client did not offer.
            Whenever the connection ends up without a token the server speaks, the first
            message (or ``init_timeout``) closes it: 1002 if ``protocols`` is APOLLO only
            (subscriptions-transport-ws), else 4406 (graphql-ws, Strawberry).
        unoffered_token: The token sent by ``"unoffered"``.
        fallback_protocol: Spoken when no subprotocol was agreed instead of closing 4406/1002;
            APOLLO imitates Ariadne, which speaks APOLLO to a client that offered nothing.
        http_status: Refuse the upgrade with this HTTP status (401, 404, 500, ...).
        redirect_to: Answer the upgrade with 307 and this ``Location``.
        init_timeout: GTW: close 4408 when no ``connection_init`` came within this many
            seconds of the upgrade; None waits forever. It also bounds how long a connection
            without an agreed subprotocol waits for the first message that gets it refused.
            APOLLO servers have no such deadline.
        ack_delay: Seconds between ``connection_init`` and ``connection_ack``.
        send_ack: False never acknowledges ``connection_init``.
        ack_payload: Payload of ``connection_ack``; None sends none.
        init_error: Refuse ``connection_init`` with this message: APOLLO sends
            ``connection_error`` then closes 1011 (subscriptions-transport-ws); GTW closes 4403
            with the message as reason (graphql-ws).
        close_on_init: Close with ``(code, reason)`` on ``connection_init``.
        close_on_subscribe: Close with ``(code, reason)`` on ``subscribe``/``start``.
        drop_on_subscribe: Abort the TCP connection, without a close frame, on
            ``subscribe``/``start``.
        answer_pings: GTW: answer ``ping`` with ``pong``.
        server_ping_interval: GTW: send a ``ping`` message this often (seconds).
        keep_alive_interval: APOLLO: send ``ka`` right after the ack, then this often.
        websocket_ping_interval: Send WebSocket Ping frames this often and close 1011 when the
            Pong has not come back before the next one is due (what websockets and uvicorn do).
        hang: Go silent while the TCP connection stays open: the server stops reading the
            socket (so WebSocket Ping frames go unanswered too), sends nothing, and leaves new
            upgrades unanswered. Clearing it resumes everything where it stopped.
        send_results: False holds every operation result (and ``complete``) back until it is
            set again; the operation is still received and can still be cancelled.
        send_query_complete: False sends no ``complete`` after a query's or mutation's result
            (Ariadne and vert.x in APOLLO mode).
        source_error: GTW: how a subscription whose source raises mid-stream ends: ``"next"``
            sends ``next`` with the error then ``complete`` (Strawberry, Ariadne); ``"error"``
            sends ``error`` with a list and nothing after (graphql-ws on Node).
        apollo_queries: False refuses queries and mutations on APOLLO with an ``error``
            message, as Strawberry does; only subscriptions run there.
        serial_operations: Run one operation at a time per connection, as Ariadne does.
        raw_after_ack: Frames sent right after ``connection_ack`` (and the first ``ka``).
        raw_on_subscribe: Frames sent when an operation arrives, before any result; ``{id}``
            in a ``str`` frame becomes the operation id.
    """

    protocols: tuple[str, ...] = (GTW, APOLLO)
    subprotocol_choice: SubprotocolChoice = "client-order"
    unoffered_token: str = "bogus-protocol"
    fallback_protocol: str | None = None
    http_status: int | None = None
    redirect_to: str | None = None
    init_timeout: float | None = 10.0
    ack_delay: float = 0.0
    send_ack: bool = True
    ack_payload: dict[str, Any] | None = None
    init_error: str | None = None
    close_on_init: tuple[int, str] | None = None
    close_on_subscribe: tuple[int, str] | None = None
    drop_on_subscribe: bool = False
    answer_pings: bool = True
    server_ping_interval: float | None = None
    keep_alive_interval: float | None = None
    websocket_ping_interval: float | None = None
    hang: bool = False
    send_results: bool = True
    send_query_complete: bool = True
    source_error: Literal["next", "error"] = "next"
    apollo_queries: bool = True
    serial_operations: bool = False
    raw_after_ack: list[RawFrame] = dataclasses.field(default_factory=list)
    raw_on_subscribe: list[RawFrame] = dataclasses.field(default_factory=list)
    _watchers: list[Callable[[str], None]] = dataclasses.field(
        default_factory=list, init=False, repr=False
    )

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        # During __init__ the watcher list may not exist yet, and nobody watches anyway.
        for watcher in tuple(self.__dict__.get("_watchers", ())):
            watcher(name)

    def _watch(self, watcher: Callable[[str], None]) -> None:
        self._watchers.append(watcher)

    def _unwatch(self, watcher: Callable[[str], None]) -> None:
        if watcher in self._watchers:
            self._watchers.remove(watcher)
