"""One WebSocket connection: the handshake, the reader thread, sends, and the one way out.

Who does what:

- The owner (``Client``) calls ``open()`` once and ``close()`` at the end.
- Any thread calls ``send()``; websocket-client's own send lock (``enable_multithread``) keeps
  frames whole. No lock of ours is held around a socket call.
- The reader thread ``gqlws_sync-reader-<n>`` is the only one that reads the socket, and the
  only one that tears the connection down, in its ``finally``: it settles the close cause,
  fails every waiting operation, stops the timer and closes the socket.
- Any other thread that wants the connection gone (timer, failed send, close()) records a
  cause with ``abort()`` and shuts the socket down, which wakes the reader. websocket-client's
  ``close()`` is never called: it reads frames itself and would race the reader.

``_lock`` guards ``_cause``, ``_closing`` and ``_close_claimed`` only. Exactly one Close frame
goes out: whoever claims it first (close(), abort(), or the reader answering the server's
Close) sends it, holding ``_close_send_lock``, which the teardown also takes before it closes
the socket (the one lock held around a socket call besides websocket-client's send lock).
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import ssl
import threading
import time
import weakref
from queue import SimpleQueue
from typing import Any, NoReturn

import certifi
import websocket

from ._deadline import Deadline
from ._frames import CLOSE, PING, PONG, TEXT, ConnectionEOF, FrameError, FrameReader, parse_close
from ._keepalive import KeepAlive
from ._protocol import (
    PROTOCOLS,
    ApolloProtocol,
    ConnectionState,
    LocalProtocolError,
    Protocol,
    RemoteProtocolError,
    TransportWSProtocol,
)
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
from ._registry import OperationQueue, Registry, copy_exception
from ._socket import HandshakeSocket, can_open_directly, open_socket
from .exceptions import (
    AckTimeout,
    ConnectTimeout,
    KeepAliveTimeout,
    TransportClosed,
    TransportConnectionFailed,
    TransportError,
    TransportProtocolError,
    TransportServerError,
)
from .options import DEFAULT_SEND_TIMEOUT, ClientOptions, redact_url

logger = logging.getLogger("gqlws_sync.connection")

_numbers = itertools.count(1)

#: Every connection of this process, so that a forked child can replace their locks: a lock
#: held by a parent thread at fork() time would stay held forever in the child.
_connections: weakref.WeakSet[Connection] = weakref.WeakSet()


def _reset_locks_after_fork() -> None:
    for connection in list(_connections):
        connection._lock = threading.Lock()
        connection._close_send_lock = threading.Lock()
        connection.registry.reset_lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_locks_after_fork)


class _Refused(Exception):
    """Apollo's connection_error before the ack (internal to _await_ack)."""


#: After close() gave up waiting for the server's Close, how long the reader gets to notice the
#: shut-down socket. It only has to wake from a blocking read, which is immediate.
_READER_WAKE_TIMEOUT = 2.0

#: How long the reader keeps reading, after it closed the connection over a protocol
#: violation, for the server to close its side; bounded by close_timeout too.
_LINGER = 1.0


class Connection:
    """One socket, its threads and its operations; replaced whole when it dies."""

    def __init__(self, options: ClientOptions, offer: tuple[str, ...]) -> None:
        self.options = options
        self.offer = offer
        self.number = next(_numbers)
        # A forked child inherits the socket but not the threads: it must neither use nor
        # shut down a socket that the parent process still owns.
        self.pid = os.getpid()
        _connections.add(self)
        self.registry = Registry()
        self.subprotocol: str | None = None
        self.ack_payload: dict[str, Any] | None = None
        self.close_code: int | None = None
        self.close_reason = ""
        self._protocol: Protocol | None = None
        self._ws: websocket.WebSocket | None = None
        self._lock = threading.Lock()
        self._cause: TransportError | None = None
        self._closing = False
        self._close_claimed = False
        self._close_send_lock = threading.Lock()
        # Ids of subscriptions dropped without close(): their finalizers may run in any thread,
        # even one holding a lock of ours, so they only put the id here (SimpleQueue.put is
        # safe there) and the reader sends the cancels after its next read.
        self._orphans: SimpleQueue[str] = SimpleQueue()
        # Set by the reader when it fails the connection itself: see abort().
        self._linger = False
        # True once close() was called: the end is ours, not a failure.
        self._closing_by_us = False
        self._reader: threading.Thread | None = None
        # Set by open() once the reader may start reading: after the ack, or on failure.
        self._released = threading.Event()
        self._frames: FrameReader | None = None
        # Bytes the handshake read past the HTTP response: the first frames, if any.
        self._leftover = bytearray()
        self._keepalive: KeepAlive | None = None

    # -- state ------------------------------------------------------------------------------

    @property
    def protocol(self) -> Protocol:
        assert self._protocol is not None, "open() first"
        return self._protocol

    @property
    def is_closed(self) -> bool:
        return self._cause is not None or self.registry.failure is not None or self.is_inherited

    @property
    def is_inherited(self) -> bool:
        """True in a child process forked after this connection was opened."""
        return self.pid != os.getpid()

    @property
    def acknowledged(self) -> bool:
        return self._protocol is not None and self._protocol.state in (
            ConnectionState.ACKNOWLEDGED,
            ConnectionState.CLOSING,
        )

    def __repr__(self) -> str:
        state = "closed" if self.is_closed else "open"
        return (
            f"<Connection #{self.number} {redact_url(self.options.url)} "
            f"{self.subprotocol or 'no subprotocol'} {state}>"
        )

    # -- opening ----------------------------------------------------------------------------

    def open(self) -> None:
        """Connect, negotiate the subprotocol, send ``connection_init``, wait for the ack.

        Raises:
            ConnectTimeout, TransportConnectionFailed: the socket could not be opened.
            TransportServerError: HTTP refusal of the upgrade, or init refused / close code.
            TransportProtocolError: no usable subprotocol, or the server broke the protocol.
            AckTimeout: no ``connection_ack`` within ``ack_timeout``.
        """
        options = self.options
        ws = self._handshake()
        self._ws = ws
        try:
            picked = self._check_subprotocol(ws)
        except TransportProtocolError:
            _shutdown(ws)
            raise
        self.subprotocol = picked
        protocol = PROTOCOLS[picked](options.json_dumps, options.json_loads)
        self._protocol = protocol
        try:
            init = protocol.connection_init(options.init_payload)
        except BaseException:  # an init_payload the JSON encoder refuses
            _shutdown(ws)
            raise
        try:
            ws.send(init)
        except (websocket.WebSocketException, OSError) as exc:
            _shutdown(ws)
            raise TransportConnectionFailed(
                f"connection to {redact_url(options.url)} lost before connection_init: "
                f"{_describe_os_error(exc)}"
            ) from exc
        sock = ws.sock
        assert sock is not None
        self._frames = FrameReader(
            sock,
            options.max_message_size,
            ws.lock if isinstance(sock, ssl.SSLSocket) else None,
            self._leftover,
        )
        # The reader thread is started now but waits for _released: starting a thread takes
        # as long as the server needs to answer connection_init, so the two overlap.
        # Daemon: a safety net for programs that exit without close(); close() joins it.
        self._reader = threading.Thread(
            target=self._read_loop, name=f"gqlws_sync-reader-{self.number}", daemon=True
        )
        self._reader.start()
        try:
            self._await_ack(ws, protocol)
        except BaseException:
            self._released.set()  # with no keep-alive set up, the reader returns at once
            self._reader.join(_READER_WAKE_TIMEOUT)
            raise
        # From here on the socket timeout bounds every send (a stalled send must not hang a
        # caller) and is the reader's idle tick (partial frames survive a read timeout).
        ws.settimeout(DEFAULT_SEND_TIMEOUT)
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
        self._released.set()
        logger.info(
            "connection #%d to %s open, subprotocol %s",
            self.number,
            redact_url(options.url),
            picked,
        )

    def _await_ack(self, ws: websocket.WebSocket, protocol: Protocol) -> None:
        """Read until ``connection_ack``, on the calling thread.

        No thread runs yet, so a refusal, a close or a timeout here leaves nothing to join,
        and connect() is spared a hand-off between threads. Whatever came with the ack in
        the same read is handled here too: the reader starts after it.

        Raises:
            AckTimeout, TransportServerError, TransportProtocolError, TransportClosed; the
                socket is closed.
        """
        deadline = Deadline(self.options.ack_timeout)
        frames = self._frames
        assert frames is not None
        acknowledged = False
        try:
            while not acknowledged:
                remaining = deadline.remaining()
                if remaining == 0:
                    raise TimeoutError
                ws.settimeout(remaining)
                for opcode, data in frames.read():
                    if opcode == TEXT:
                        event = protocol.receive(data)
                        kind = type(event)
                        if kind is ConnectionAck:
                            self.ack_payload = event.payload  # type: ignore[union-attr]
                            acknowledged = True
                        elif kind is Ping and self.options.answer_pings:
                            pong = protocol.pong(event.payload)  # type: ignore[union-attr]
                            if pong is not None:
                                ws.send(pong)
                        elif kind is ConnectionRefused:
                            raise _Refused(event.message)  # type: ignore[union-attr]
                        # Anything else (pong, ka, a result for an id) needs no action yet.
                    elif opcode == PING:
                        ws.pong(bytes(data))
                    elif opcode == CLOSE:
                        code, reason = parse_close(data)
                        self.close_code, self.close_reason = code, reason
                        self._send_close_quietly(ws, 1000)
                        raise protocol.close_error(
                            code, reason, acknowledged=acknowledged, offered=self.offer
                        )
                    elif opcode != PONG:
                        raise protocol.binary_error()
        except TransportError as exc:
            if isinstance(exc, RemoteProtocolError):
                self._send_close_quietly(ws, exc.close_code)
                failure: TransportError = TransportProtocolError(str(exc), exc.close_code)
                failure.__cause__ = exc
            else:
                failure = exc
            self._fail_open(ws, failure)
            raise failure from exc.__cause__
        except _Refused as exc:
            # Apollo's refusal of connection_init; its server follows up with 1011.
            self._send_close_quietly(ws, 1000)
            refused = TransportServerError(f"the server refused the connection: {exc}", code=1011)
            self._fail_open(ws, refused)
            raise copy_exception(refused) from None
        except FrameError as exc:
            self._send_close_quietly(ws, exc.close_code)
            failure = TransportProtocolError(str(exc), exc.close_code)
            self._fail_open(ws, failure)
            raise failure from exc
        except (TimeoutError, websocket.WebSocketTimeoutException):
            self._send_close_quietly(ws, 4504, "connection_ack timeout")
            timeout = AckTimeout(
                f"no connection_ack within {self.options.ack_timeout} s", code=4504
            )
            self._fail_open(ws, timeout)
            raise copy_exception(timeout) from None
        except (ConnectionEOF, websocket.WebSocketException, OSError) as exc:
            failure = protocol.close_error(1006, "", acknowledged=False, offered=self.offer)
            self._fail_open(ws, failure)
            raise copy_exception(failure) from exc

    def _fail_open(self, ws: websocket.WebSocket, failure: TransportError) -> None:
        with self._lock:
            if self._cause is None:
                self._cause = failure
            self._closing = True
        self.registry.fail_all(failure)
        _shutdown(ws)
        logger.info(
            "connection #%d to %s failed before connection_ack: %s",
            self.number,
            redact_url(self.options.url),
            failure,
        )

    def _send_close_quietly(self, ws: websocket.WebSocket, code: int, reason: str = "") -> None:
        """Send our one Close frame, if nobody has (see ``_claim_close``); best effort.

        ``_close_send_lock`` is held across the send so that the reader's teardown, which
        takes it before closing the socket, cannot cut off a Close that another thread
        claimed and is still writing.
        """
        with self._close_send_lock:
            if self._claim_close():
                try:
                    ws.send_close(code, reason.encode()[:123])
                except (websocket.WebSocketException, OSError, AttributeError):
                    pass

    def _handshake(self) -> websocket.WebSocket:
        options = self.options
        url = redact_url(options.url)
        header = [f"{name}: {value}" for name, value in options.headers.items()]
        # Offered as a plain header, not through websocket-client's subprotocols=: its check
        # fails with "Invalid WebSocket Header" and hides what the server answered.
        header.append("Sec-WebSocket-Protocol: " + ", ".join(self.offer))
        kwargs: dict[str, Any] = dict(options.connect_args)
        # websocket-client follows redirects by default and sends every header again,
        # credentials included, to wherever the Location points. Opt-in only.
        kwargs.setdefault("redirect_limit", 0)
        if options.is_secure:
            kwargs["sslopt"] = self._sslopt(kwargs.get("sslopt"))
        deadline = Deadline(options.connect_timeout)
        direct: HandshakeSocket | None = None
        try:
            if can_open_directly(kwargs, kwargs.get("sslopt")):
                sslopt = kwargs.pop("sslopt", None)
                sock = open_socket(
                    options.url,
                    deadline,
                    sslopt["context"] if sslopt else None,
                    kwargs.pop("sockopt", ()),
                )
                direct = kwargs["socket"] = HandshakeSocket(sock)
            ws = websocket.create_connection(
                options.url,
                timeout=deadline.remaining(),
                header=header,
                enable_multithread=True,
                # The UTF-8 check is done once, by the JSON decoder reading bytes; websocket-
                # client's pure-Python validator caps throughput at a few MB/s.
                skip_utf8_validation=True,
                **kwargs,
            )
            # websocket-client types ws.sock as a socket; here it may be our stand-in.
            if direct is not None and ws.sock is direct:  # type: ignore[comparison-overlap]
                ws.sock = direct.sock
                self._leftover = direct.leftover
            return ws
        except websocket.WebSocketBadStatusException as exc:
            status = exc.status_code
            raise TransportServerError(
                f"the server refused the WebSocket upgrade at {url} with HTTP {status}"
                f"{_body_excerpt(exc.resp_body)}",
                code=status,
            ) from None
        except (TimeoutError, websocket.WebSocketTimeoutException) as exc:
            raise ConnectTimeout(
                f"could not connect to {url} within {options.connect_timeout} s"
            ) from exc
        except ssl.SSLCertVerificationError as exc:
            raise TransportConnectionFailed(
                f"TLS certificate verification failed for {url}: {exc.verify_message}"
            ) from exc
        except ssl.SSLError as exc:
            raise TransportConnectionFailed(f"TLS handshake with {url} failed: {exc}") from exc
        except (websocket.WebSocketAddressException, socket.gaierror) as exc:
            raise TransportConnectionFailed(f"could not resolve the host of {url}") from exc
        except websocket.WebSocketProxyException as exc:
            raise TransportConnectionFailed(f"proxy failure connecting to {url}: {exc}") from exc
        except websocket.WebSocketConnectionClosedException as exc:
            raise TransportConnectionFailed(
                f"{url} closed the connection during the WebSocket upgrade"
            ) from exc
        except websocket.WebSocketException as exc:
            if "redirect limit" in str(exc).lower():
                raise TransportServerError(
                    f"{url} answered the WebSocket upgrade with a redirect; redirects are not "
                    "followed unless connect_args={'redirect_limit': N} allows it (headers, "
                    "credentials included, are then sent to the new location)"
                ) from exc
            raise TransportProtocolError(
                f"invalid WebSocket upgrade response from {url}: {exc}"
            ) from exc
        except OSError as exc:
            raise TransportConnectionFailed(
                f"could not connect to {url}: {_describe_os_error(exc)}"
            ) from exc

    def _sslopt(self, given: Any) -> dict[str, Any]:
        sslopt = dict(given or {})
        ssl_option = self.options.ssl
        if isinstance(ssl_option, ssl.SSLContext):
            context = ssl_option
            if context.verify_mode == ssl.CERT_NONE or not context.check_hostname:
                logger.warning(
                    "TLS certificate or hostname verification is off for %s",
                    redact_url(self.options.url),
                )
            sslopt.setdefault("context", context)
        elif not sslopt:
            sslopt["context"] = ssl.create_default_context(cafile=certifi.where())
        elif not ({"context", "ca_certs", "ca_cert_path", "cert_reqs"} & sslopt.keys()):
            # websocket-client ignores every other key (certfile, ciphers, ...) when given a
            # context: let it build one, from certifi's bundle.
            sslopt["ca_certs"] = certifi.where()
        elif sslopt.get("cert_reqs") == ssl.CERT_NONE:
            logger.warning("TLS verification is off for %s", redact_url(self.options.url))
        return sslopt

    def _check_subprotocol(self, ws: websocket.WebSocket) -> str:
        """Apply RFC 6455 §4.1 to the server's pick and name both sides when it fails."""
        answer = (ws.getheaders() or {}).get("sec-websocket-protocol")
        offered = ", ".join(self.offer)
        if answer is None:
            raise TransportProtocolError(
                f"the server accepted the WebSocket upgrade without choosing a subprotocol "
                f"(offered: {offered}); it may not speak GraphQL over WebSocket at this URL"
            )
        picked = answer.strip().lower()
        for token in self.offer:
            if token.lower() == picked:
                return token
        raise TransportProtocolError(
            f"the server chose subprotocol {answer.strip()!r}, which was not offered "
            f"(offered: {offered})"
        )

    # -- operations -------------------------------------------------------------------------

    def start(self, payload: dict[str, Any]) -> tuple[str, OperationQueue]:
        """Register an operation and send its start message; from any thread.

        Raises:
            TransportClosed (or what killed the connection): closing or closed.
            TypeError, ValueError: the payload cannot be encoded as JSON.
        """
        if self.is_inherited:
            raise _inherited_error()
        op_id, queue = self.registry.open()
        try:
            if self._closing:
                raise self._closing_error()
            try:
                text = self.protocol.subscribe(op_id, payload)
            except LocalProtocolError:
                # close() said goodbye between the check above and here.
                raise self._closing_error() from None
            self.send(text)
        except BaseException:
            self.registry.release(op_id)
            raise
        return op_id, queue

    def _closing_error(self) -> TransportError:
        cause = self._cause
        return copy_exception(cause) if cause else TransportClosed("the connection is closing")

    def orphan(self, op_id: str) -> None:
        """Cancel an operation later, from the reader thread; safe in a finalizer."""
        self._orphans.put(op_id)

    def _cancel_orphans(self) -> None:
        orphans = self._orphans
        while not orphans.empty():
            self.cancel(orphans.get_nowait())

    def cancel(self, op_id: str) -> None:
        """Forget an operation whose caller has gone and tell the server, if it still runs.

        In a forked child it does nothing: the operation is the parent's.
        """
        if self.is_inherited:
            return
        if self.registry.release(op_id):
            self._send_quietly(self.protocol.cancel(op_id))

    def finish(self, op_id: str) -> None:
        """Let go of an operation after its first result (``execute()``)."""
        if isinstance(self._protocol, ApolloProtocol):
            # Some Apollo servers never send complete after a query, and Ariadne drops the
            # whole connection on a stop for a finished one: forget it, send nothing.
            self.registry.release(op_id)
            return
        # graphql-transport-ws servers end a query with complete, often a moment after the
        # result. Sending our own complete would cost a frame per query; instead the id stays
        # known until the server's complete, and a second result (a subscription document
        # given to execute()) makes the reader cancel it.
        stale = self.registry.detach(op_id)
        if stale is not None:
            self._send_quietly(self.protocol.cancel(stale))

    def _send_quietly(self, text: str) -> None:
        try:
            self.send(text)
        except TransportError:
            pass  # the connection is dying; whoever waits on it learns why from the reader

    # -- sending ----------------------------------------------------------------------------

    def send(self, text: str) -> None:
        """Send one text frame from any thread.

        Raises:
            TransportClosed (or the exception that killed the connection): the frame was not
                sent, or not whole; the connection is closing.
        """
        if self.is_inherited:
            raise _inherited_error()  # the socket is the parent's: never write to it
        ws = self._ws
        assert ws is not None
        try:
            ws.send(text)
        except (websocket.WebSocketException, OSError, AttributeError) as exc:
            self._raise_send_failure(exc)

    def _raise_send_failure(self, exc: BaseException) -> NoReturn:
        if self._cause is None:
            failure: TransportClosed
            if isinstance(exc, websocket.WebSocketTimeoutException):
                # Part of a frame may be out: nothing more can be sent on this stream.
                failure = KeepAliveTimeout(
                    f"sending stalled for {DEFAULT_SEND_TIMEOUT} s (the server reads nothing); "
                    "connection abandoned",
                    1006,
                )
            else:
                failure = TransportClosed(
                    f"connection lost while sending: {_describe_os_error(exc)}", 1006
                )
            failure.__cause__ = exc
            self.abort(failure)
        cause = self._cause
        assert cause is not None
        raise copy_exception(cause) from exc

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
        # Who wakes this wait: open(), on the ack (keep-alive set up) or on failure (not).
        self._released.wait()
        keepalive = self._keepalive
        if keepalive is None:
            return  # connect() failed before the ack; it has closed the socket
        ws = self._ws
        protocol = self._protocol
        assert ws is not None
        assert protocol is not None
        assert ws.sock is not None
        frames = self._frames
        assert frames is not None
        keepalive.start()
        keepalive.arm()
        dispatch = self.registry.dispatch
        receive = protocol.receive
        # graphql-transport-ws counts any message as a sign of life; Apollo only its ka.
        touch_on_any = (
            isinstance(protocol, TransportWSProtocol)
            and self.options.keep_alive_timeout is not None
        )
        monotonic = time.monotonic
        code = 1006
        reason = ""
        error: BaseException | None = None
        try:
            while True:
                try:
                    messages = frames.read()
                except TimeoutError:
                    continue  # idle: the socket timeout only bounds sends
                for opcode, data in messages:
                    if opcode != TEXT:
                        if opcode == PING:
                            ws.pong(bytes(data))
                        elif opcode == PONG:
                            keepalive.ws_pong_received()
                        elif opcode == CLOSE:
                            code, reason = parse_close(data)
                            # Settled before anything marks the connection as closing, so a
                            # caller starting an operation now gets this code's exception.
                            self._settle_cause(code, reason)
                            # RFC 6455 §5.5.1: answer it, unless ours is out or on its way.
                            self._send_close_quietly(ws, 1000)
                            return
                        else:  # a binary message: neither protocol has any
                            raise protocol.binary_error()
                        continue
                    if touch_on_any:
                        keepalive.last_seen = monotonic()
                    event = receive(data)
                    kind = type(event)
                    if kind is Next or kind is Complete or kind is Error:
                        stale = dispatch(event)  # type: ignore[arg-type]  # narrowed above
                        if stale is not None:
                            self._send_quietly(protocol.cancel(stale))
                    elif kind is Ping:
                        if self.options.answer_pings:
                            pong = protocol.pong(event.payload)  # type: ignore[union-attr]
                            if pong is not None:
                                self.send(pong)
                    elif kind is Pong:
                        keepalive.pong_received()
                    elif kind is KeepAliveEvent:
                        keepalive.touch()
                    elif kind is ConnectionRefused:
                        self._refused(event.message)  # type: ignore[union-attr]
                if not self._orphans.empty():
                    self._cancel_orphans()
        except RemoteProtocolError as exc:
            error = exc
            code = exc.close_code
            self.abort(exc, close_code=exc.close_code, reason="protocol violation", linger=True)
        except FrameError as exc:
            failure = TransportProtocolError(str(exc), exc.close_code)
            failure.__cause__ = exc
            error = exc
            code = exc.close_code
            self.abort(failure, close_code=exc.close_code, reason="invalid frame", linger=True)
        except (ConnectionEOF, websocket.WebSocketException, OSError) as exc:
            # EOF, reset, or our own shutdown() waking this thread: see _cause for which.
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
            self.abort(failure, close_code=4005, reason="internal client error")
        finally:
            self._teardown(code, reason, error)

    def _refused(self, message: str) -> None:
        """Apollo's connection_error after the ack (before it, _await_ack handles it)."""
        failure = TransportServerError(f"the server reported a connection error: {message}")
        self.abort(failure, close_code=1000)

    def _claim_close(self) -> bool:
        """True for the one caller that is to send our Close frame."""
        with self._lock:
            claimed = self._close_claimed
            self._close_claimed = True
            self._closing = True
        return not claimed

    def _settle_cause(
        self, code: int, reason: str, error: BaseException | None = None
    ) -> TransportError:
        """Record why the connection ended, unless a cause is recorded already; return it."""
        acknowledged = self.acknowledged
        with self._lock:
            cause = self._cause
            if cause is None:
                if self._closing_by_us:
                    cause = TransportClosed("the client closed the connection", 1000)
                else:
                    assert self._protocol is not None
                    cause = self._protocol.close_error(
                        code, reason, acknowledged=acknowledged, offered=self.offer
                    )
                    if error is not None:
                        cause.__cause__ = error
                self._cause = cause
        return cause

    def _teardown(self, code: int, reason: str, error: BaseException | None) -> None:
        """The one way out: settle the cause, wake everyone, close the socket."""
        cause = self._settle_cause(code, reason, error)
        self.close_code = code
        self.close_reason = reason
        self.registry.fail_all(cause)
        if self._keepalive is not None:
            self._keepalive.stop()
        if self._ws is not None:
            if self._linger:
                self._drain()
            with self._close_send_lock:  # let a Close being written finish first
                _shutdown(self._ws)
        log = logger.debug if self._closing_by_us else logger.info
        log("connection #%d closed: %s", self.number, cause)

    # -- closing ----------------------------------------------------------------------------

    def abort(
        self,
        exc: TransportError,
        close_code: int | None = None,
        reason: str = "",
        *,
        linger: bool = False,
    ) -> None:
        """Record why the connection ends (the first cause wins) and wake the reader.

        Safe from any thread. With ``close_code`` a Close frame is sent first, best effort.
        ``linger`` is for the reader itself: instead of cutting the socket at once, its
        teardown reads and discards until the server's EOF, so that the Close frame is not
        lost to the TCP reset that closing with unread data causes.
        """
        if linger:
            self._linger = True
        with self._lock:
            if self._cause is None:
                self._cause = exc
        ws = self._ws
        if ws is None:
            return
        if close_code is not None:
            self._send_close_quietly(ws, close_code, reason)
        if not linger:
            _shutdown_socket(ws)

    def _drain(self) -> None:
        """After our Close: discard what the server still sends until it closes, briefly."""
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
        then make sure both threads are gone. Idempotent; safe from any thread."""
        if self.is_inherited:
            self._forget_inherited()
            return
        with self._lock:
            first = not self._closing and self._cause is None
            self._closing = True
            self._closing_by_us = True
        ws = self._ws
        if first and ws is not None and self._protocol is not None:
            live_ids = self.registry.live_ids()
            # Waiters learn at once that the client closed; whatever the server still sends
            # for these operations (Apollo answers each stop with complete) is dropped.
            self.registry.fail_all(TransportClosed("the client closed the connection", 1000))
            try:
                for frame in self._protocol.goodbye(live_ids):
                    ws.send(frame)
            except (websocket.WebSocketException, OSError, AttributeError):
                _shutdown_socket(ws)
            # The server may answer the goodbye with its own Close before this line, and the
            # reader then answers it: the claim makes sure one Close goes out.
            self._send_close_quietly(ws, 1000)
        self.join(self.options.close_timeout)

    def _forget_inherited(self) -> None:
        """In a forked child: release our copy of the descriptor, leave the parent's socket
        (and its TCP connection) untouched. No Close frame, no shutdown()."""
        ws = self._ws
        sock = ws.sock if ws is not None else None
        if sock is not None:
            try:
                sock.close()  # closes this process's descriptor only
            except OSError:
                pass
            ws.sock = None  # type: ignore[union-attr]
        self.registry.fail_all(_inherited_error())

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


def _shutdown_socket(ws: websocket.WebSocket) -> None:
    """Wake a reader blocked on this socket; works after send_close() too (unlike abort())."""
    sock = ws.sock
    if sock is not None:
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


def _inherited_error() -> TransportClosed:
    return TransportClosed(
        "this connection belongs to the parent process (os.fork); connect again in the child"
    )


def _describe_os_error(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset by peer"
    if isinstance(exc, BrokenPipeError):
        return "broken pipe"
    text = str(exc)
    return text or type(exc).__name__


def _body_excerpt(body: Any) -> str:
    if not body:
        return ""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    text = " ".join(str(body).split())
    if len(text) > 200:
        text = text[:200] + "…"
    return f": {text}"
