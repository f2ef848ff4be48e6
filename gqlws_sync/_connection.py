"""One WebSocket connection: connection_init and the ack, the reader thread, sends, the way out.

Lifecycle (``State``), one way only::

    CONNECTING --ack--> OPEN --close() / abort() / the server's Close / EOF--> CLOSING --> CLOSED
         \\______________________ failure before the ack ______________________________/

Who does what:

- The owner (the client's supervisor) calls ``open()`` once and ``close()`` at the end.
- Any thread calls ``send()``; websocket-client's own send lock (``enable_multithread``) keeps
  frames whole. No lock of ours is held around a socket call.
- After the ack, whoever holds ``_token`` reads the socket: the reader thread
  ``gqlws_sync-reader-<n>``, or a caller waiting for its own result while nobody else reads
  (``lead()``: leader/follower, see docs/threads.md). The reader waits in a selector on the
  socket and a wake-up pipe, so other threads can hand it work (cancels from finalizers, a
  close request) without touching the socket themselves; a reading caller takes the socket
  out of that selector while it reads (a subscription's loop keeps it out for a moment
  after its event, ``_HOLD``), and hands whatever ends the connection to the reader, which
  alone runs the teardown.
- ``_end()`` is the one way out: it records the cause once and moves the state on; the
  reader's teardown then hands the live operations back to the owner (``on_lost``) or, when
  the client itself closed, fails them. Any other thread that wants the connection gone
  calls ``abort()``, which ends it and shuts the socket down to wake the reader.
  websocket-client's ``close()`` is never called: it reads frames itself and would race the
  reader.

``_lock`` guards ``_state``, ``_cause`` and ``_close_claimed``. Exactly one Close frame goes
out: whoever claims it first sends it, holding ``_close_send_lock``, which the teardown also
takes before it closes the socket (the one lock of ours held around a socket call).
"""

from __future__ import annotations

import enum
import itertools
import logging
import math
import os
import select
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from queue import Empty, SimpleQueue
from typing import Any, NoReturn

import websocket

from ._deadline import MAX_WAIT, Deadline
from ._frames import (
    CLOSE,
    PING,
    PONG,
    TEXT,
    ConnectionEOF,
    FrameError,
    FrameReader,
    parse_close,
    text_frame,
)
from ._handshake import check_subprotocol, describe_os_error, open_websocket
from ._keepalive import KeepAlive
from ._protocol import PROTOCOLS, LocalProtocolError, Protocol, RemoteProtocolError
from ._protocol.base import peek_id
from ._protocol.events import (
    Complete,
    ConnectionAck,
    ConnectionRefused,
    Error,
    Next,
    Ping,
    Pong,
)
from ._protocol.events import (
    KeepAlive as KeepAliveEvent,
)
from ._registry import Item, Operation, Registry, copy_exception
from .exceptions import (
    AckTimeout,
    KeepAliveTimeout,
    TransportClosed,
    TransportConnectionFailed,
    TransportError,
    TransportProtocolError,
    TransportServerError,
)
from .options import DEFAULT_SEND_TIMEOUT, ClientOptions, direct_loads, redact_url

logger = logging.getLogger("gqlws_sync.connection")

_numbers = itertools.count(1)

#: After close() gave up waiting for the server's Close, how long the reader gets to notice the
#: shut-down socket. It only has to wake from a selector, which is immediate.
_READER_WAKE_TIMEOUT = 2.0

#: How long the reader keeps reading, after it closed the connection over a protocol
#: violation, for the server to close its side; bounded by close_timeout too.
_LINGER = 1.0

#: After this many frames with none for a cancelled operation, the reader stops looking
#: for its late results (they come right after the cancel, if at all).
_DRAIN_QUIET = 256

#: The close codes this client sends.
NORMAL_CLOSURE = 1000
INTERNAL_ERROR = 4005
ACK_TIMEOUT = 4504


class State(enum.Enum):
    CONNECTING = "connecting"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class _Refused(Exception):
    """Apollo's connection_error before the ack (internal to _await_ack)."""


class _Ended(Exception):
    """The server ended the connection (a Close frame, or Apollo's connection_error after
    the ack): internal, raised by whoever read it, handled by the reader thread."""

    def __init__(self, code: int, reason: str, *, linger: bool = False) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason
        self.linger = linger


#: How long a caller waits for the read token when the reader thread holds it (it holds it
#: only while it handles what one read brought).
_TOKEN_WAIT = 0.002

#: How long the reader thread waits for the token when a caller took it between the reader's
#: wait and its read: only as long as that caller needs to take the socket out of the
#: reader's wait (the reader then sleeps until the caller leaves).
_LEADER_CHECK = 0.01

#: How long a subscription's reader that got its event keeps the socket out of the reader
#: thread's wait: a loop over a stream is back for the next event within microseconds, and
#: it then reads on without the reader thread taking the socket (and the next messages) in
#: between. Past this, the reader thread takes the socket back; so this bounds how late
#: anything else on the connection can be read while a stream's loop is away.
_HOLD = 0.001


#: ``on_lost(connection, cause, operations)``: an established connection ended for a reason
#: other than the client's own close(); the operations it still carried are handed back.
OnLost = Callable[["Connection", TransportError, list[Operation]], None]


class Connection:
    """One socket, its threads and the operations it carries; replaced whole when it ends."""

    def __init__(self, options: ClientOptions, offer: tuple[str, ...], on_lost: OnLost) -> None:
        self.options = options
        self.offer = offer
        self.number = next(_numbers)
        # A forked child inherits the socket but not the threads: it must neither use nor
        # shut down a socket that the parent process still owns.
        self.pid = os.getpid()
        self.registry = Registry()
        self.subprotocol: str | None = None
        self.ack_payload: dict[str, Any] | None = None
        self.close_code: int | None = None
        self.close_reason = ""
        self._on_lost = on_lost
        self._protocol: Protocol | None = None
        self._ws: websocket.WebSocket | None = None
        self._lock = threading.Lock()
        self._state = State.CONNECTING
        self._cause: TransportError | None = None
        self._close_claimed = False
        self._close_send_lock = threading.Lock()
        # Subscriptions dropped without close(): their finalizers may run in any thread, even
        # one holding a lock of ours, so they only queue the operation here (SimpleQueue.put
        # is safe there) and wake the reader, which sends the cancels.
        self._orphans: SimpleQueue[Operation] = SimpleQueue()
        self._goodbye_requested = False
        self._reader: threading.Thread | None = None
        # Set by open() once the reader may start reading: after the ack, or on failure.
        self._released = threading.Event()
        self._frames: FrameReader | None = None
        self._selector: selectors.BaseSelector | None = None
        self._wake_r = self._wake_w = -1
        self._keepalive: KeepAlive | None = None
        self._raw_sock: socket.socket | None = None
        # Leader/follower: whoever holds _token may read the socket. The reader thread takes
        # it only to read what a wait showed; a caller in lead() holds it while it waits.
        self._token = threading.Lock()
        # The operation whose caller reads now: a thread that puts into its queue must wake it.
        self._leading: Operation | None = None
        #: Until when the last reading caller keeps the socket (0: the reader thread has it).
        self._linger_deadline = 0.0
        #: When the reader thread's current wait ends at the latest (inf: no limit).
        self._reader_deadline = math.inf
        # A terminal condition a leading caller met, for the reader thread to act on.
        self._leader_error: BaseException | None = None
        self._quiet = 0
        self._lead_poll: Any = None
        self._nudge_r = self._nudge_w = -1

    # -- state ------------------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self._state

    @property
    def protocol(self) -> Protocol:
        assert self._protocol is not None, "open() first"
        return self._protocol

    @property
    def is_open(self) -> bool:
        return self._state is State.OPEN

    @property
    def cause(self) -> TransportError | None:
        """Why the connection ended (or is ending); ``None`` while it lives."""
        return self._cause

    def __repr__(self) -> str:
        return (
            f"<Connection #{self.number} {redact_url(self.options.url)} "
            f"{self.subprotocol or 'no subprotocol'} {self._state.value}>"
        )

    def _end(self, cause: TransportError) -> bool:
        """Record why the connection ends; the first cause wins. True for the first call."""
        with self._lock:
            if self._cause is not None:
                return False
            self._cause = cause
            if self._state is not State.CLOSED:
                self._state = State.CLOSING
        # The socket may be out of the reader's wait (a caller's moment with it): the end,
        # and the server's answer to it, could not wake the reader then.
        self._wake()
        return True

    # -- opening ----------------------------------------------------------------------------

    def open(
        self,
        deadline: Deadline,
        headers: Mapping[str, str],
        init_payload: dict[str, Any] | None,
    ) -> None:
        """Connect, negotiate the subprotocol, send ``connection_init``, wait for the ack.

        ``deadline`` is the caller's: connecting takes at most ``connect_timeout`` plus
        ``ack_timeout``, and never longer than the caller asked for.

        Raises:
            ConnectTimeout, TransportConnectionFailed: the socket could not be opened.
            TransportServerError: HTTP refusal of the upgrade, or init refused / close code.
            TransportProtocolError: no usable subprotocol, or the server broke the protocol.
            AckTimeout: no ``connection_ack`` within ``ack_timeout``.
            TransportClosed: ``abort()`` (the client closing) ended it meanwhile.
        """
        options = self.options
        try:
            ws, response, leftover = open_websocket(
                options,
                self.offer,
                headers,
                deadline.capped(options.connect_timeout),
                on_socket=self._upgrading,
                # Started before the socket, protocol and selector it will use exist: it
                # touches none of them until open() releases it (_released), after the ack.
                on_request_sent=self._start_reader,
            )
        except BaseException:
            self._stop_unused_reader()
            raise
        self._ws = ws
        try:
            self._start(ws, response, leftover, init_payload)
            self._await_ack(ws, deadline.capped(options.ack_timeout))
        except BaseException as exc:  # KeyboardInterrupt included: close what was opened
            self._fail_open(ws, exc)
            raise
        # From here on the socket timeout bounds every send: a stalled send must not hang a
        # caller, and it may have left half a frame, so it fails the connection.
        ws.settimeout(DEFAULT_SEND_TIMEOUT)
        protocol = self.protocol
        self._keepalive = KeepAlive(
            number=self.number,
            send_ping=self._send_protocol_ping if protocol.has_client_ping else None,
            ping_interval=options.ping_interval if protocol.has_client_ping else None,
            pong_timeout=options.effective_pong_timeout,
            send_ws_ping=self._send_ws_ping,
            ws_ping_interval=options.ws_ping_interval,
            ws_pong_timeout=options.ws_pong_timeout,
            keep_alive_timeout=options.keep_alive_timeout,
            on_timeout=self.abort,
        )
        with self._lock:
            aborted = self._cause
            if aborted is None:
                self._state = State.OPEN
        if aborted is not None:
            self._fail_open(ws, aborted)
            raise copy_exception(aborted)
        self._released.set()
        logger.info(
            "connection #%d to %s open, subprotocol %s",
            self.number,
            redact_url(options.url),
            self.subprotocol,
        )

    def _upgrading(self, sock: socket.socket) -> None:
        """The socket of an upgrade under way, for abort() to cut short."""
        self._raw_sock = sock
        if self._cause is not None:  # aborted before the socket existed
            _shutdown_raw(sock)

    def _start(
        self,
        ws: websocket.WebSocket,
        response: Mapping[str, str],
        leftover: bytearray,
        init_payload: dict[str, Any] | None,
    ) -> None:
        """Check the subprotocol, send connection_init, make the reader's wait; start the
        (held) reader thread if the upgrade did not (websocket-client's, through a proxy)."""
        picked = check_subprotocol(response, self.offer)
        self.subprotocol = picked
        loads, fallback = direct_loads(self.options.json_loads)
        protocol = PROTOCOLS[picked](self.options.json_dumps, loads, fallback_loads=fallback)
        self._protocol = protocol
        init = protocol.connection_init(init_payload)
        try:
            _send_text(ws, init)
        except (websocket.WebSocketException, OSError) as exc:
            raise TransportConnectionFailed(
                f"connection to {redact_url(self.options.url)} lost before connection_init: "
                f"{describe_os_error(exc)}"
            ) from exc
        sock = ws.sock
        assert sock is not None
        self._frames = FrameReader(
            sock,
            self.options.max_message_size,
            ws.lock if isinstance(sock, ssl.SSLSocket) else None,
            leftover,
            text_as_str=protocol.takes_text,
        )
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        # epoll/kqueue/poll: select() fails on descriptors above 1024, which busy servers pass.
        selector = selectors.DefaultSelector()
        selector.register(sock, selectors.EVENT_READ, True)
        selector.register(self._wake_r, selectors.EVENT_READ, False)
        self._selector = selector
        if self._reader is None:  # a proxy's upgrade: websocket-client's, with no hook
            self._start_reader()

    def _start_reader(self) -> None:
        """Start the reader thread, held until the ack (``_released``).

        Called once the upgrade request is on its way: starting a thread (two wake-ups
        across threads, about 100 µs unpinned) then overlaps the server's work on the
        upgrade instead of adding to connect().
        """
        # Daemon: a safety net for programs that exit without close(); close() joins it.
        reader = threading.Thread(
            target=self._read_loop, name=f"gqlws_sync-reader-{self.number}", daemon=True
        )
        self._reader = reader
        reader.start()

    def _stop_unused_reader(self) -> None:
        """The upgrade failed after the reader thread started: let it end, unused."""
        with self._lock:
            self._state = State.CLOSED
        self._released.set()  # the reader sees CLOSED and returns at once
        reader = self._reader
        if reader is not None and reader.ident is not None:
            reader.join(_READER_WAKE_TIMEOUT)
            if reader.is_alive():
                logger.warning("reader thread of connection #%d did not end", self.number)

    def _await_ack(self, ws: websocket.WebSocket, deadline: Deadline) -> None:
        """Read until ``connection_ack``, on the calling thread.

        The reader thread is held until the ack, so connect() is spared a hand-off between
        threads, and a refusal, a close or a timeout here only has to release it to end it.
        Whatever came with the ack in the same read is handled here too: the reader reads
        only after it.

        Raises:
            AckTimeout, TransportServerError, TransportProtocolError, TransportClosed.
        """
        protocol = self.protocol
        frames = self._frames
        assert frames is not None
        acknowledged = False
        try:
            while not acknowledged:
                remaining = deadline.remaining()
                if remaining == 0:
                    raise TimeoutError
                if not self._wait_readable(remaining):
                    continue
                for opcode, data in frames.read():
                    if opcode == TEXT:
                        event = protocol.receive(data)
                        kind = type(event)
                        if kind is ConnectionAck:
                            self.ack_payload = event.payload  # type: ignore[union-attr]  # narrowed by kind
                            acknowledged = True
                        elif kind is Ping and self.options.answer_pings:
                            pong = protocol.pong(event.payload)  # type: ignore[union-attr]  # narrowed by kind
                            if pong is not None:
                                _send_text(ws, pong)
                        elif kind is ConnectionRefused:
                            raise _Refused(event.message)  # type: ignore[union-attr]  # narrowed by kind
                        # Pong, ka or nothing (a repeated ack): no action. Operation
                        # messages before the ack are refused by the protocol layer.
                        continue
                    assert not isinstance(data, str)  # only whole text messages come as str
                    if opcode == PING:
                        ws.pong(bytes(data))
                    elif opcode == CLOSE:
                        code, reason = parse_close(data)
                        self.close_code, self.close_reason = code, reason
                        self._send_close_quietly(NORMAL_CLOSURE)
                        raise protocol.close_error(
                            code, reason, acknowledged=False, offered=self.offer
                        )
                    elif opcode != PONG:
                        raise protocol.binary_error()
        except RemoteProtocolError as exc:
            self._send_close_quietly(exc.close_code)
            raise self._aborted_or(_public(exc)) from exc.__cause__
        except TransportError as exc:
            raise self._aborted_or(exc) from exc.__cause__
        except _Refused as exc:
            # Apollo's refusal of connection_init; its server follows up with 1011.
            self._send_close_quietly(NORMAL_CLOSURE)
            refused = TransportServerError(f"the server refused the connection: {exc}", code=1011)
            raise self._aborted_or(refused) from None
        except FrameError as exc:
            self._send_close_quietly(exc.close_code)
            raise self._aborted_or(TransportProtocolError(str(exc), exc.close_code)) from exc
        except (TimeoutError, websocket.WebSocketTimeoutException):
            self._send_close_quietly(ACK_TIMEOUT, "connection_ack timeout")
            timeout = AckTimeout(f"no connection_ack within {deadline.timeout} s", code=4504)
            raise self._aborted_or(timeout) from None
        except (ConnectionEOF, websocket.WebSocketException, OSError) as exc:
            failure = protocol.close_error(1006, "", acknowledged=False, offered=self.offer)
            raise self._aborted_or(failure) from exc

    def _aborted_or(self, failure: TransportError) -> TransportError:
        """What a failed connect raises: the reason it was aborted (the client closing), if
        it was, rather than the EOF that the abort caused."""
        cause = self._cause
        return copy_exception(cause) if cause is not None else failure

    def _fail_open(self, ws: websocket.WebSocket, exc: BaseException) -> None:
        """Undo a failed open(): no thread, no descriptor is left behind."""
        if isinstance(exc, TransportError):
            failure = exc
        else:
            failure = TransportClosed(f"connecting was interrupted ({type(exc).__name__})")
        self._end(failure)
        with self._lock:
            self._state = State.CLOSED
        self._released.set()  # the reader sees the failure and returns at once
        _shutdown(ws)
        reader = self._reader
        if reader is not None:
            reader.join(_READER_WAKE_TIMEOUT)
        self._close_descriptors()
        logger.info(
            "connection #%d to %s failed before connection_ack: %s",
            self.number,
            redact_url(self.options.url),
            failure,
        )

    def _wait_readable(self, timeout: float | None) -> bool:
        """Wait until the socket has data (or EOF); False when woken for anything else."""
        assert self._selector is not None
        if self._buffered():
            return True
        readable = False
        for key, _ in self._selector.select(None if timeout is None else min(timeout, MAX_WAIT)):
            if key.data:
                readable = True
            else:
                try:
                    os.read(self._wake_r, 4096)
                except OSError:
                    pass
        return readable

    def nudge(self, op: Operation) -> None:
        """Another thread put an item into ``op``'s queue: if its caller is reading the
        socket (lead()), it waits on the socket, not on the queue; wake it."""
        if self._leading is op:
            try:
                os.write(self._nudge_w, b"\0")
            except OSError:
                pass  # full (a nudge is pending anyway), or not made yet (nobody waits)

    def _wake(self) -> None:
        """Wake the reader from its wait; lock-free, so safe in a finalizer."""
        try:
            os.write(self._wake_w, b"\0")
        except OSError:
            pass  # the pipe is full (a wake-up is pending anyway) or closed (the reader left)

    def _send_close_quietly(self, code: int, reason: str = "") -> None:
        """Send our one Close frame, if nobody has (see ``_claim_close``); best effort.

        ``_close_send_lock`` is held across the send so that the reader's teardown, which
        takes it before closing the socket, cannot cut off a Close that another thread
        claimed and is still writing.
        """
        ws = self._ws
        if ws is None:
            return
        with self._close_send_lock:
            if self._claim_close():
                try:
                    ws.send_close(code, reason.encode()[:123])
                except (websocket.WebSocketException, OSError, AttributeError):
                    pass

    def _claim_close(self) -> bool:
        """True for the one caller that is to send our Close frame."""
        with self._lock:
            claimed = self._close_claimed
            self._close_claimed = True
        return not claimed

    # -- operations -------------------------------------------------------------------------

    def start(self, op: Operation) -> bool:
        """Register an operation and send its start message; from any thread.

        Returns False, having sent nothing, when the connection is no longer open; True
        when the message went out, or when the send failed after the connection's end had
        already taken ``op`` over (it is then started again elsewhere, or failed, by the
        hand-back, and the caller only waits).

        Raises:
            TransportClosed (or what ended the connection): the send failed; part of the
                message may have gone out. ``op`` is not registered.
            ValueError: the message cannot be encoded as JSON, or is over
                ``max_message_size``; nothing was sent and the connection is unharmed.
        """
        if self.pid != os.getpid():
            raise inherited_error()
        if self._state is not State.OPEN:
            return False
        try:
            self.registry.open(op, self)
        except TransportError:
            return False
        try:
            try:
                text = self.protocol.subscribe(op.id or "", op.payload())
            except LocalProtocolError:
                # close() said goodbye since the check above.
                self.registry.release(op)
                return False
            limit = self.options.max_message_size
            if limit is not None and len(text) * 4 > limit:
                size = len(text.encode())
                if size > limit:
                    raise ValueError(
                        f"the operation's message is {size} bytes, over max_message_size="
                        f"{limit}; nothing was sent"
                    )
            self.send(text)
        except TransportError:
            # Whoever takes the operation out of the registry owns it from then on: this
            # caller, or the teardown, which hands it back to be started again or failed.
            if self.registry.release(op):
                raise
            return True  # the teardown has it: its outcome reaches the caller's queue
        except BaseException:
            self.registry.release(op)
            raise
        return True

    def _closing_error(self) -> TransportError:
        cause = self._cause
        return copy_exception(cause) if cause else TransportClosed("the connection is closing")

    def orphan(self, op: Operation) -> None:
        """Cancel an operation from the reader thread, soon; safe in a finalizer."""
        self._orphans.put(op)
        self._wake()

    def cancel(self, op: Operation) -> None:
        """Forget an operation whose caller has gone and tell the server, if it still runs.

        In a forked child it does nothing: the operation is the parent's.
        """
        if self.pid != os.getpid():
            return
        if self.registry.release(op):
            assert op.id is not None
            self.registry.drain(op.id)
            self._send_quietly(self.protocol.cancel(op.id))

    def finish(self, op: Operation) -> None:
        """Let go of an operation after the first result its caller wanted."""
        protocol = self.protocol
        if op.kind == "subscription":
            # A subscription document given to execute(): it would go on streaming.
            self.cancel(op)
        elif not protocol.completes_queries:
            # Some Apollo servers never send complete after a query, and Ariadne drops the
            # whole connection on a stop for a finished one: forget it, send nothing.
            self.registry.release(op)
        else:
            # graphql-transport-ws servers end a query with complete, often a moment after
            # the result. Sending our own complete would cost a frame per query; instead the
            # id stays known until the server's complete.
            stale = self.registry.detach(op)
            if stale is not None:
                self._send_quietly(protocol.cancel(stale))

    def _send_quietly(self, text: str) -> None:
        try:
            self.send(text)
        except TransportError:
            pass  # the connection is dying; whoever waits on it learns why from the reader

    # -- sending ----------------------------------------------------------------------------

    def send(self, text: str) -> None:
        """Send one text frame from any thread.

        Raises:
            TransportClosed (or the exception that ended the connection): the frame was not
                sent, or not whole; the connection is ending.
        """
        if self.pid != os.getpid():
            raise inherited_error()  # the socket is the parent's: never write to it
        ws = self._ws
        assert ws is not None
        try:
            _send_text(ws, text)
        except (websocket.WebSocketException, OSError, AttributeError) as exc:
            self._raise_send_failure(exc)
        except BaseException as exc:
            # KeyboardInterrupt (or anything else) part-way through a frame: the server now
            # takes our next bytes for the rest of this frame. Nothing more can be sent.
            failure = TransportClosed(
                f"a send was interrupted ({type(exc).__name__}); the connection was dropped, "
                "as part of a frame may have gone out",
                1006,
            )
            failure.__cause__ = exc
            self.abort(failure)
            raise

    def _raise_send_failure(self, exc: BaseException) -> NoReturn:
        if self._cause is None:
            failure: TransportClosed
            if isinstance(exc, (websocket.WebSocketTimeoutException, TimeoutError)):
                # Part of a frame may be out: nothing more can be sent on this stream.
                failure = KeepAliveTimeout(
                    f"sending stalled for {DEFAULT_SEND_TIMEOUT} s (the server reads nothing); "
                    "connection abandoned",
                    1006,
                )
            else:
                failure = TransportClosed(
                    f"connection lost while sending: {describe_os_error(exc)}", 1006
                )
            failure.__cause__ = exc
            self.abort(failure)
        raise self._closing_error() from exc

    def _send_protocol_ping(self) -> None:
        frame = self.protocol.ping()
        if frame is not None:
            self.send(frame)

    def _send_ws_ping(self) -> None:
        ws = self._ws
        assert ws is not None
        try:
            ws.ping(b"")
        except (websocket.WebSocketException, OSError, AttributeError) as exc:
            self._raise_send_failure(exc)

    # -- the reader thread ------------------------------------------------------------------

    def _read_loop(self) -> None:
        # Who wakes this wait: open(), on the ack or on failure.
        self._released.wait()
        if self._state is State.CLOSED:
            return  # connect() failed before the ack; it closes the socket
        keepalive = self._keepalive
        assert keepalive is not None
        keepalive.arm()
        wait = self._wait_readable
        token = self._token
        code = 1006
        reason = ""
        error: BaseException | None = None
        linger = False
        try:
            while True:
                passed = self._leader_error
                if passed is not None:
                    raise passed  # what a caller met while it read: handled as if read here
                # Who wakes it: data or EOF (unless a caller reads: lead() takes the socket
                # out of this wait meanwhile, and a subscription's loop keeps it out until
                # its linger deadline, which bounds this wait), abort()'s shutdown, _wake()
                # (_end() calls it), or the keep-alive: the time to start the timer thread,
                # or a pong deadline (see _keepalive).
                now = time.monotonic()
                wake_at = keepalive.reader_wake_at(now)
                until = math.inf if wake_at is None else wake_at
                # Written before the linger is read: a caller that starts lingering after
                # the read sees a wait that would outlast it, and wakes this one (lead()).
                self._reader_deadline = until
                lingering = self._linger_deadline
                if now < lingering < until:  # past, it is _watch_again's to end (below)
                    until = self._reader_deadline = lingering
                readable = wait(None if until == math.inf else max(0.0, until - now))
                # Served whatever woke the wait: a wake-up may come with data.
                self._serve_requests()
                if not readable:
                    self._watch_again()
                elif token.acquire(timeout=_LEADER_CHECK):
                    try:
                        if self._leader_error is None:
                            self._read_once()
                    finally:
                        token.release()
                # Else a caller took the token between the wait and here: it reads this, and
                # takes the socket out of this wait until it leaves.
                if wake_at is not None:
                    now = time.monotonic()
                    if now >= wake_at:
                        keepalive.reader_woke(now)
        except _Ended as ended:
            code, reason, linger = ended.code, ended.reason, ended.linger
        except RemoteProtocolError as exc:
            error = exc
            code = exc.close_code
            self._end(_public(exc))
            self._send_close_quietly(exc.close_code, "protocol violation")
            linger = True
        except FrameError as exc:
            failure = TransportProtocolError(str(exc), exc.close_code)
            failure.__cause__ = exc
            error = exc
            code = exc.close_code
            self._end(failure)
            self._send_close_quietly(exc.close_code, "invalid frame")
            linger = True
        except (ConnectionEOF, websocket.WebSocketException, OSError) as exc:
            # EOF, reset, or abort()'s shutdown waking this thread: _cause says which.
            error = exc
        except TransportError as exc:
            # A send from this thread (pong) failed; the cause is recorded already.
            error = exc
        except BaseException as exc:
            # A bug here must not leave callers waiting forever: it becomes the close cause.
            logger.exception("reader thread of connection #%d failed", self.number)
            error = exc
            failure = TransportProtocolError(f"internal error in the reader thread: {exc!r}")
            failure.__cause__ = exc
            self._end(failure)
            self._send_close_quietly(INTERNAL_ERROR, "internal client error")
        finally:
            self._teardown(code, reason, error, linger)

    def _read_once(self) -> None:
        """Read what the socket has and act on every message in it; the token holder only.

        Raises:
            _Ended: the server closed (Close frame, or Apollo's connection_error).
            RemoteProtocolError, FrameError: the server broke the protocol.
            ConnectionEOF, OSError, websocket.WebSocketException: the connection is gone.
            TransportError: a send from here (a pong) failed.
        """
        frames = self._frames
        ws = self._ws
        protocol = self._protocol
        keepalive = self._keepalive
        assert frames is not None
        assert ws is not None
        assert protocol is not None
        assert keepalive is not None
        registry = self.registry
        dispatch = registry.dispatch
        receive = protocol.receive
        touch_on_any = protocol.any_message_is_alive and self.options.keep_alive_timeout is not None
        for opcode, data in frames.read():
            if opcode != TEXT:
                assert not isinstance(data, str)  # only whole text messages come as str
                if opcode == PING:
                    ws.pong(bytes(data))
                elif opcode == PONG:
                    keepalive.ws_pong_received()
                elif opcode == CLOSE:
                    code, reason = parse_close(data)
                    self._end(self._close_error(code, reason))
                    # RFC 6455 §5.5.1: answer it, unless ours is out or on its way.
                    self._send_close_quietly(NORMAL_CLOSURE)
                    raise _Ended(code, reason)
                else:  # a binary message: neither protocol has any
                    raise protocol.binary_error()
                continue
            if touch_on_any:
                keepalive.last_seen = time.monotonic()
            if registry.draining:
                if peek_id(data) in registry.draining:
                    self._quiet = 0
                    continue  # a result for a cancelled operation: not even decoded
                self._quiet += 1
                if self._quiet > _DRAIN_QUIET:
                    self._quiet = 0
                    registry.stop_draining()
            event = receive(data)
            kind = type(event)
            if kind is Next or kind is Complete or kind is Error:
                stale = dispatch(event)  # type: ignore[arg-type]  # narrowed above
                if stale is not None:
                    self._send_quietly(protocol.cancel(stale))
            elif kind is Ping:
                if self.options.answer_pings:
                    pong = protocol.pong(event.payload)  # type: ignore[union-attr]  # narrowed by kind
                    if pong is not None:
                        self.send(pong)
            elif kind is Pong:
                keepalive.pong_received()
            elif kind is KeepAliveEvent:
                keepalive.touch()
            elif kind is ConnectionRefused:
                failure: TransportError = TransportServerError(
                    "the server reported a connection error: " + event.message  # type: ignore[union-attr]  # narrowed by kind
                )
                self._end(failure)
                self._send_close_quietly(NORMAL_CLOSURE)
                raise _Ended(1006, "", linger=True)

    # -- callers reading for themselves (leader/follower) ---------------------------------

    def lead(self, op: Operation, deadline: Deadline) -> Item | None:
        """Wait for ``op``'s next item, reading the socket on this thread while nobody else
        does; return ``None`` when that is not possible (another caller reads, or the
        connection is ending): then wait on the queue.

        A caller that reads for itself gets its result without a hand-off from the reader
        thread, which costs tens of microseconds when the two threads are on different
        cores. Whatever it reads for others it dispatches as the reader thread would.

        Raises:
            queue.Empty: ``deadline`` passed first.
            KeyboardInterrupt (or anything raised into this thread): as it came; when it
                came in the middle of a read, the connection is dropped (bytes may have
                been lost) and reconnected.
        """
        queue = op.queue
        try:
            return queue.get_nowait()  # a reader (or the last read) got it here already
        except Empty:
            pass
        token = self._token
        if self._leading is not None or not token.acquire(timeout=_TOKEN_WAIT):
            return None
        selector = self._selector
        sock = self._ws.sock if self._ws is not None else None
        watched = False  # whether the socket must go back into the reader's wait
        linger = False  # whether it stays out of it a moment longer (see _HOLD)
        try:
            # Set before the queue is looked at again: a thread that puts an item after
            # that look sees it, and wakes this wait (nudge()).
            self._leading = op
            if selector is None or sock is None:
                return None  # the connection ended meanwhile
            try:
                # The reader thread stops watching the socket: it sleeps through the data
                # that this caller reads, instead of waking for nothing.
                selector.unregister(sock)
            except (KeyError, ValueError, OSError):
                # Out already: the last reading caller kept it (lingering), or was
                # interrupted before it could put it back. Holding the token, this caller
                # may read it, unless the teardown closed the selector meanwhile.
                if self._state is not State.OPEN:
                    return None
            # The linger deadline stays: the reader may sleep until it, and wakes then only
            # to find it moved on when this caller lingers again (once per _HOLD at most).
            watched = True
            # Made before the queue is looked at again, so that no nudge can be missed.
            poll = self._lead_poll or self._make_lead_poll(sock)
            while True:
                try:
                    item = queue.get_nowait()
                except Empty:
                    pass
                else:
                    # A stream's loop will be back for its next event in a moment.
                    linger = type(item) is Next and op.kind == "subscription"
                    return item
                if self._state is not State.OPEN or self._leader_error is not None:
                    return None
                remaining = deadline.remaining()
                if remaining == 0:
                    raise Empty
                if not self._lead_wait(poll, remaining):
                    continue
                try:
                    self._read_once()
                except Exception as exc:
                    # Whatever ends the connection (a Close, EOF, a protocol violation, a
                    # failed pong) the reader thread handles, in its one way out, exactly
                    # as if it had read this itself.
                    self._leader_error = exc
                    return None
                except BaseException as exc:
                    # Interrupted mid-read (KeyboardInterrupt): what was read may be half
                    # handled, so the stream cannot be trusted; drop the connection
                    # (reconnection follows).
                    failure = TransportClosed(
                        f"reading was interrupted ({type(exc).__name__}); the connection was "
                        "dropped",
                        1006,
                    )
                    failure.__cause__ = exc
                    self._leader_error = failure
                    self.abort(failure)
                    raise
        finally:
            # Nothing here may skip the release: an interrupt in the middle of it must not
            # leave the token taken (the reader could never read again).
            wake = True  # unless decided otherwise below: an interrupt must leave it woken
            try:
                self._leading = None
                kept = False
                try:
                    # Asked holding the token: OpenSSL must not serve two threads at once.
                    wake = self._buffered() or self._leader_error is not None
                    if watched and linger and not wake and self._state is State.OPEN:
                        # Kept out of the reader's wait until then; the reader wakes by then
                        # at the latest (woken now if its wait would last longer) and takes
                        # the socket back unless a caller reads again (_watch_again).
                        linger_end = self._linger_deadline = time.monotonic() + _HOLD
                        kept = True
                        wake = self._reader_deadline > linger_end
                finally:
                    if watched and not kept and selector is not None and sock is not None:
                        self._linger_deadline = 0.0
                        try:
                            # Level-triggered: what came meanwhile for others wakes the
                            # reader.
                            selector.register(sock, selectors.EVENT_READ, True)
                        except (KeyError, ValueError, OSError):
                            pass  # the connection ended meanwhile: the teardown closed it
                    if wake:
                        # Bytes read but not parsed, an end to handle, or a linger that
                        # outlasts the reader's wait. Before the release, so that an
                        # interrupt after it cannot leave the reader asleep.
                        self._wake()
            finally:
                token.release()

    def _watch_again(self) -> None:
        """Put the socket back into the reader's wait when the last reading caller's linger
        is over (or it was interrupted, KeyboardInterrupt, before it could); checked
        whenever the reader wakes without data."""
        selector = self._selector
        sock = self._ws.sock if self._ws is not None else None
        if selector is None or sock is None:
            return
        if self._state is State.OPEN and time.monotonic() < self._linger_deadline:
            return  # a caller's moment with the socket (an ending connection cuts it short)
        if not self._token.acquire(blocking=False):
            return
        try:
            if self._leading is None and sock not in selector.get_map():
                self._linger_deadline = 0.0
                selector.register(sock, selectors.EVENT_READ, True)
        except (KeyError, ValueError, OSError):
            pass
        finally:
            self._token.release()

    def _make_lead_poll(self, sock: socket.socket) -> Any:
        """The reading caller's wait, and the pipe that nudges it: made on the first lead(),
        not at connect (a connection used by subscription readers only never needs them)."""
        self._nudge_r, self._nudge_w = os.pipe()
        os.set_blocking(self._nudge_r, False)
        os.set_blocking(self._nudge_w, False)
        poll = select.poll()
        poll.register(sock, select.POLLIN)
        poll.register(self._nudge_r, select.POLLIN)
        self._lead_poll = poll
        return poll

    def _lead_wait(self, poll: Any, timeout: float | None) -> bool:
        """A reading caller's wait: True when the socket has data (or EOF), False when
        nudge() woke it or the time ran out."""
        if self._buffered():
            return True
        readable = False
        wait_ms = None if timeout is None else math.ceil(min(timeout, MAX_WAIT) * 1000)
        for fd, _ in poll.poll(wait_ms):
            if fd == self._nudge_r:
                try:
                    os.read(fd, 4096)
                except OSError:
                    pass
            else:
                readable = True
        return readable

    def _buffered(self) -> bool:
        """Bytes read from the socket but not parsed yet, which no wait can see."""
        frames = self._frames
        if frames is not None and frames.primed:
            return True
        sock = self._ws.sock if self._ws is not None else None
        # Decrypted bytes may wait in OpenSSL's buffer, where the selector cannot see them.
        return isinstance(sock, ssl.SSLSocket) and sock.pending() > 0

    def _serve_requests(self) -> None:
        """Work other threads handed to the reader: cancels of dropped subscriptions, and
        the goodbye of a client that was garbage-collected."""
        orphans = self._orphans
        if orphans.empty() and not self._goodbye_requested:
            return
        while not orphans.empty():
            self.cancel(orphans.get_nowait())
        if self._goodbye_requested and self._end(
            TransportClosed("the client was garbage-collected", NORMAL_CLOSURE)
        ):
            self._say_goodbye()

    def _close_error(self, code: int, reason: str) -> TransportError:
        return self.protocol.close_error(code, reason, acknowledged=True, offered=self.offer)

    def _teardown(self, code: int, reason: str, error: BaseException | None, linger: bool) -> None:
        """The reader's way out: wake or hand back every operation, close the socket."""
        failure = self._close_error(code, reason)
        if error is not None:
            failure.__cause__ = error
        self._end(failure)
        cause = self._cause
        assert cause is not None
        with self._lock:
            self._state = State.CLOSED
        self.close_code = code
        self.close_reason = reason
        ops = self.registry.take_all(cause)
        if self._keepalive is not None:
            self._keepalive.stop()
        if self._ws is not None:
            if linger:
                self._drain()
            _shutdown_socket(self._ws)  # wakes a caller that reads for itself
        # No caller may be reading when the descriptors close: a new one could reuse them.
        taken = self._token.acquire(timeout=_READER_WAKE_TIMEOUT)
        try:
            if self._ws is not None:
                with self._close_send_lock:  # let a Close being written finish first
                    _shutdown(self._ws)
            self._close_descriptors()
        finally:
            if taken:
                self._token.release()
        logger.info("connection #%d closed: %s", self.number, cause)
        # Last, with no lock held: the owner may start a reconnection or call user code.
        self._on_lost(self, cause, ops)

    def _close_descriptors(self) -> None:
        selector, self._selector = self._selector, None
        if selector is not None:
            selector.close()
        self._lead_poll = None
        for fd in (self._wake_r, self._wake_w, self._nudge_r, self._nudge_w):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._wake_r = self._wake_w = self._nudge_r = self._nudge_w = -1

    # -- closing ----------------------------------------------------------------------------

    def abort(self, exc: TransportError, close_code: int | None = None, reason: str = "") -> None:
        """End the connection with ``exc`` (unless it ended already) and wake the reader.

        Safe from any thread. With ``close_code`` a Close frame is sent first, best effort.
        """
        self._end(exc)
        ws = self._ws
        if self.pid != os.getpid():
            return
        if ws is None:
            if self._raw_sock is not None:
                _shutdown_raw(self._raw_sock)  # the upgrade under way fails at once
            return
        if close_code is not None:
            self._send_close_quietly(close_code, reason)
        _shutdown_socket(ws)

    def _drain(self) -> None:
        """After our Close: discard what the server still sends until it closes, briefly, so
        that the Close is not lost to the reset that closing with unread data causes."""
        ws = self._ws
        sock = ws.sock if ws is not None else None
        if sock is None:
            return
        deadline = time.monotonic() + min(self.options.close_timeout or _LINGER, _LINGER)
        try:
            sock.shutdown(socket.SHUT_WR)
            while (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                if not sock.recv(65536):
                    return
        except (OSError, ValueError):
            return

    def close(self) -> None:
        """Say goodbye, send Close 1000, wait up to ``close_timeout`` for the server's Close,
        then make sure both threads are gone. Idempotent; safe from any thread.

        Operations still waiting raise ``TransportClosed``: the client closed, so nothing
        is handed back for another connection.
        """
        if self.pid != os.getpid():
            self.forget_inherited()
            return
        closed = TransportClosed("the client closed the connection", NORMAL_CLOSURE)
        if self._end(closed):
            # Waiters learn at once that the client closed; whatever the server still sends
            # for these operations (Apollo answers each stop with complete) is dropped.
            self._say_goodbye()
        self.join(self.options.close_timeout)

    def request_close(self) -> None:
        """close() without waiting, for a finalizer: the reader says goodbye. Lock-free."""
        self._goodbye_requested = True
        self._wake()

    def _say_goodbye(self) -> None:
        ws = self._ws
        if ws is None or self._protocol is None:
            return
        cause = self._cause
        assert cause is not None
        live_ids = self.registry.live_ids()
        self.registry.fail_all(cause)
        try:
            for frame in self._protocol.goodbye(live_ids):
                _send_text(ws, frame)
        except (websocket.WebSocketException, OSError, AttributeError):
            _shutdown_socket(ws)
        # The server may answer the goodbye with its own Close before this line, and the
        # reader then answers it: the claim makes sure one Close goes out.
        self._send_close_quietly(NORMAL_CLOSURE)

    def forget_inherited(self) -> None:
        """In a forked child: release this process's copy of the descriptors, leave the
        parent's socket (and its TCP connection) untouched: no Close frame, no shutdown()."""
        ws = self._ws
        sock = ws.sock if ws is not None else None
        if sock is not None:
            try:
                sock.close()  # closes this process's descriptor only
            except OSError:
                pass
            ws.sock = None  # type: ignore[union-attr]  # websocket-client allows None here
        try:
            self._close_descriptors()
        except OSError:
            pass

    def join(self, timeout: float | None) -> None:
        """Wait for the reader to see the server's Close (or EOF), then for both threads."""
        reader = self._reader
        if reader is not None and reader is not threading.current_thread():
            reader.join(timeout)
            if reader.is_alive():
                logger.info(
                    "connection #%d: no Close from the server within %s s; shutting down",
                    self.number,
                    timeout,
                )
                if self._ws is not None:
                    _shutdown_socket(self._ws)
                reader.join(_READER_WAKE_TIMEOUT)
                if reader.is_alive():
                    logger.warning("%s did not stop", reader.name)
        if self._keepalive is not None:
            self._keepalive.join(timeout)


def _public(exc: RemoteProtocolError) -> TransportProtocolError:
    """The exception callers see for a server's protocol violation: a public class that
    survives pickle, with the close code we sent."""
    failure = TransportProtocolError(str(exc), exc.close_code)
    failure.__cause__ = exc.__cause__
    return failure


def _send_text(ws: websocket.WebSocket, text: str) -> None:
    """Send ``text`` as one frame, whole, under websocket-client's send lock (its own
    control frames and the TLS reads take it too).

    Raises:
        TimeoutError: the frame did not go out within the socket's timeout (part of it may
            have).
        OSError, websocket.WebSocketException: the connection is gone.
    """
    frame = text_frame(text)
    with ws.lock:
        sock = ws.sock
        if sock is None:
            raise websocket.WebSocketConnectionClosedException("the socket is closed")
        # send(), not sendall(): the socket's timeout then bounds each step of progress, as
        # in websocket-client, rather than the whole of a large message on a slow link.
        view = memoryview(frame)
        while view:
            view = view[sock.send(view) :]


def _shutdown_socket(ws: websocket.WebSocket) -> None:
    """Wake a reader blocked on this socket; works after send_close() too (unlike abort())."""
    sock = ws.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _shutdown_raw(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _shutdown(ws: websocket.WebSocket) -> None:
    _shutdown_socket(ws)
    try:
        ws.shutdown()  # type: ignore[no-untyped-call]  # websocket-client leaves it unannotated
    except (OSError, AttributeError):
        pass


def inherited_error() -> TransportClosed:
    return TransportClosed(
        "this operation belongs to the parent process (os.fork); the child connects afresh: "
        "start it again in the child"
    )
