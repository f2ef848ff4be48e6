"""The reference server: a real GraphQL-over-WebSocket server run from synchronous code.

Rules:

- One daemon thread, ``gqlws_sync-server-<n>``, runs one asyncio event loop with a websockets
  server on it. Everything that touches connections runs on that loop; the public methods of
  ``ReferenceServer`` hand work to it with ``run_coroutine_threadsafe`` and wait with a bound.
- ``start()`` returns once the socket listens, or raises; ``stop()`` is idempotent, closes every
  connection (1001), aborts what has not closed after ``close_timeout``, and joins the thread.
- The logs (``received``, ``handshakes``, ``disconnects``) are written on the loop and read by
  test threads; ``MessageLog`` does the locking.
- websockets is imported here and only here, so the core package works without the extra.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import http
import itertools
import logging
import ssl
import threading
from collections.abc import Coroutine, Sequence
from types import TracebackType
from typing import Any

from graphql import GraphQLSchema

try:
    from websockets.asyncio.server import Server, ServerConnection, serve
    from websockets.datastructures import Headers
    from websockets.exceptions import ConnectionClosed
    from websockets.http11 import Request, Response
    from websockets.protocol import State
    from websockets.typing import Subprotocol
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "gqlws_sync.testing needs the websockets package: pip install 'gqlws_sync[server]'"
    ) from exc

from ._faults import Faults, RawFrame
from ._log import Disconnect, Handshake, MessageLog, message_matcher
from ._schema import demo_schema
from ._session import ServerState, Session, dialect_for

__all__ = ["ReferenceServer"]

log = logging.getLogger("gqlws_sync.testing")

#: How long start() waits for the socket to listen; binding 127.0.0.1 takes milliseconds, so
#: running out of it means the thread is stuck, not slow.
DEFAULT_START_TIMEOUT = 10.0
#: How long a close handshake may take before the TCP connection is aborted. Short, because
#: test clients that stopped reading would otherwise hold every stop() for websockets' 10 s.
DEFAULT_CLOSE_TIMEOUT = 1.0
#: Largest client message accepted (websockets' default); bigger ones are closed with 1009.
DEFAULT_MAX_SIZE = 2**20
#: Bound on one control call (drop, close, send_raw) handed to the loop.
_CONTROL_TIMEOUT = 5.0

_numbers = itertools.count(1)


def _headers_dict(headers: Headers) -> dict[str, str]:
    result: dict[str, str] = {}
    for name, value in headers.raw_items():
        key = name.lower()
        result[key] = f"{result[key]}, {value}" if key in result else value
    return result


def _offered(headers: Headers) -> tuple[str, ...]:
    tokens: list[str] = []
    for value in headers.get_all("Sec-WebSocket-Protocol"):
        tokens.extend(token.strip() for token in value.split(",") if token.strip())
    return tuple(tokens)


class ReferenceServer:
    """A GraphQL server speaking both WebSocket subprotocols, on 127.0.0.1 in a thread.

    It serves any graphql-core schema and can misbehave in the ways ``Faults`` lists, each done
    for real on the wire, so clients are tested against a server rather than a mock::

        with ReferenceServer() as server:
            client = Client(server.url, subprotocols=["graphql-transport-ws"])
            ...
            server.faults.hang = True     # takes effect at once

    Resolvers get ``info.context`` as a dict: ``headers`` (request headers, lower-cased names),
    ``init_payload`` (the ``connection_init`` payload, ``{}`` if none) and ``subprotocol``
    (the protocol the connection speaks).

    Args:
        schema: The schema to serve; None serves a fresh ``demo_schema()``.
        host: Interface to bind.
        port: Port to bind; 0 picks a free one, see ``port`` once started.
        ssl_context: Serve ``wss://`` with this server-side context.
        faults: The misbehaviours to start with; the server keeps this very object, so a test
            may keep a reference and change it later.
        path: The only path that upgrades; others get 404. None accepts any path.
        max_size: Largest client message, in bytes; None for no limit.
        close_timeout: Seconds to wait for a client's close frame before aborting TCP.
        start_timeout: Seconds ``start()`` waits for the socket to listen.
    """

    def __init__(
        self,
        schema: GraphQLSchema | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        faults: Faults | None = None,
        path: str | None = "/graphql",
        max_size: int | None = DEFAULT_MAX_SIZE,
        close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
        start_timeout: float = DEFAULT_START_TIMEOUT,
    ) -> None:
        self.schema = demo_schema() if schema is None else schema
        self.host = host
        self._port = port
        self.ssl_context = ssl_context
        self._faults = Faults() if faults is None else faults
        self.path = path
        self.max_size = max_size
        self.close_timeout = close_timeout
        self.start_timeout = start_timeout

        self.received: MessageLog[dict[str, Any]] = MessageLog()
        """Every JSON object a client sent, in arrival order, across connections."""
        self.handshakes: MessageLog[Handshake] = MessageLog()
        """Every upgrade request, recorded before it is answered."""
        self.disconnects: MessageLog[Disconnect] = MessageLog()
        """How each WebSocket connection ended, in order."""

        self._number = next(_numbers)
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._state: ServerState | None = None
        self._stop_requested: asyncio.Event | None = None
        self._stopped = False
        self._transports: set[ServerConnection] = set()

    # Properties

    @property
    def port(self) -> int:
        """The bound port (the real one once started, even with ``port=0``)."""
        return self._port

    @property
    def url(self) -> str:
        """``ws://host:port/path``, or ``wss://`` with an SSL context."""
        scheme = "wss" if self.ssl_context is not None else "ws"
        path = self.path if self.path is not None else "/"
        return f"{scheme}://{self.host}:{self._port}{path}"

    @property
    def faults(self) -> Faults:
        """The live ``Faults``: changing a field affects the next event it governs."""
        return self._faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        self._faults._unwatch(self._on_fault_set)
        self._faults = faults
        if self._state is not None:
            self._state.faults = faults
            faults._watch(self._on_fault_set)
            self._on_fault_set("hang")

    @property
    def is_running(self) -> bool:
        """Started and not yet stopped."""
        return self._thread is not None and not self._stopped

    def connection_count(self) -> int:
        """Number of WebSocket connections whose handler is still running."""
        state = self._state
        return 0 if state is None else len(state.sessions)

    def __repr__(self) -> str:
        status = "running" if self.is_running else "stopped"
        return f"<ReferenceServer {self.url} {status}>"

    # Life cycle

    def start(self) -> ReferenceServer:
        """Start the thread and return once the server listens.

        Raises:
            RuntimeError: Already started, or the server failed to start (the cause is
                chained: a port in use, a bad SSL context, ...).
            TimeoutError: The server was not listening within ``start_timeout``.
        """
        if self._thread is not None:
            raise RuntimeError("a ReferenceServer can only be started once")
        self._thread = threading.Thread(
            target=self._run,
            name=f"gqlws_sync-server-{self._number}",
            # Safety net only: a test that forgets stop() must not keep the interpreter alive.
            daemon=True,
        )
        self._thread.start()
        if not self._ready.wait(self.start_timeout):
            self.stop()
            raise TimeoutError(f"reference server not listening within {self.start_timeout} s")
        if self._startup_error is not None:
            self._thread.join(self.start_timeout)
            self._stopped = True
            raise RuntimeError(
                f"reference server failed to start on {self.host}:{self._port}"
            ) from self._startup_error
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Close every connection, stop the loop and join the thread; safe to call twice.

        Connections get a 1001 close frame; those that have not closed after
        ``close_timeout`` are aborted.

        Raises:
            RuntimeError: The thread was still alive after ``timeout`` (it has been logged;
                as a daemon thread it cannot keep the process alive).
        """
        thread = self._thread
        if thread is None or self._stopped:
            return
        self._stopped = True
        loop, stop_requested = self._loop, self._stop_requested
        if loop is not None and stop_requested is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(stop_requested.set)
        thread.join(timeout)
        self._faults._unwatch(self._on_fault_set)
        if thread.is_alive():
            log.error("%s did not stop within %s s", thread.name, timeout)
            raise RuntimeError(f"{thread.name} did not stop within {timeout} s")

    def __enter__(self) -> ReferenceServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # Waiting for clients

    def wait_for_message(
        self,
        type_: str,
        timeout: float | None = 5.0,
        op_id: str | None = None,
        *,
        count: int = 1,
    ) -> dict[str, Any]:
        """Block until a client has sent a message of this type (and id); return it.

        Messages that came before the call count, so call it after the action that causes
        the message. ``count=2`` waits for the second such message, and so on.

        Raises:
            TimeoutError: No such message within ``timeout`` seconds.
        """
        what = f"{type_!r} message" + ("" if op_id is None else f" for id {op_id!r}")
        return self.received.wait_for(
            message_matcher(type_, op_id), timeout, count=count, what=what
        )

    def wait_for_disconnect(self, timeout: float | None = 5.0, *, count: int = 1) -> Disconnect:
        """Block until ``count`` connections have ended; return the ``count``-th.

        Raises:
            TimeoutError: Fewer connections ended within ``timeout`` seconds.
        """
        return self.disconnects.wait_for(
            lambda _item: True, timeout, count=count, what="disconnect"
        )

    # Acting on every live connection

    def drop_connections(self) -> None:
        """Abort the TCP connection of every live connection, without a close frame.

        Returns once their handlers have finished, so ``connection_count()`` is then 0.
        """

        async def drop(state: ServerState) -> None:
            sessions = list(state.sessions)
            for session in sessions:
                session.abort()
            if sessions:
                await asyncio.wait(
                    [asyncio.ensure_future(session.finished.wait()) for session in sessions],
                    timeout=_CONTROL_TIMEOUT,
                )

        self._control(drop)

    def close_connections(self, code: int, reason: str = "") -> None:
        """Send a close frame with ``code`` and ``reason`` to every live connection.

        Returns once the frames are written, without waiting for the clients' replies:
        a client answers only while it reads, and the caller may be that client.
        """

        async def close(state: ServerState) -> None:
            for session in list(state.sessions):
                session.spawn(session.close(code, reason), "close")
            # Each close task writes its frame in its first step, which runs before this.
            await asyncio.sleep(0)

        self._control(close)

    def send_raw(self, frame: RawFrame) -> None:
        """Send one frame, as given, to every live connection.

        ``str`` becomes a text frame, ``bytes`` a binary frame and ``TextBytes`` a text frame
        of unchecked bytes. It ignores ``Faults.hang`` and ``Faults.send_results``.
        """

        async def send(state: ServerState) -> None:
            for session in list(state.sessions):
                with contextlib.suppress(ConnectionClosed):
                    await session.send_raw(frame)

        self._control(send)

    def _control(self, action: Any) -> None:
        loop, state = self._loop, self._state
        if loop is None or state is None or self._stopped:
            raise RuntimeError("the reference server is not running")
        if threading.current_thread() is self._thread:
            raise RuntimeError("call this from another thread than the server's")
        coro: Coroutine[Any, Any, None] = action(state)
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        try:
            future.result(_CONTROL_TIMEOUT)
        except concurrent.futures.TimeoutError:  # not yet the builtin on Python 3.10
            future.cancel()
            raise TimeoutError(f"the server did not finish within {_CONTROL_TIMEOUT} s") from None

    # The server thread

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # nothing may die silently in a thread
            log.exception("%s crashed", threading.current_thread().name)
            if self._startup_error is None:
                self._startup_error = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._stop_requested = asyncio.Event()
        state = ServerState(
            self.schema, self._faults, self.received, self.disconnects, self.close_timeout
        )
        transports = self._transports

        class TrackedConnection(ServerConnection):
            # websockets tracks connections only once upgraded; stop() must also reach those
            # still waiting for (or held before) their upgrade.
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                super().connection_made(transport)
                transports.add(self)

            def connection_lost(self, exc: Exception | None) -> None:
                transports.discard(self)
                super().connection_lost(exc)

        try:
            server = await serve(
                self._handler,
                self.host,
                self._port,
                ssl=self.ssl_context,
                process_request=self._process_request,
                select_subprotocol=self._select_subprotocol,
                create_connection=TrackedConnection,
                # websocket-client cannot negotiate compression, and a fixed wire format
                # keeps burst frames identical for every client.
                compression=None,
                # Pings are a fault (websocket_ping_interval), not a default.
                ping_interval=None,
                # A hung server must be able to leave an upgrade unanswered for good.
                open_timeout=None,
                close_timeout=self.close_timeout,
                max_size=self.max_size,
                logger=logging.getLogger("gqlws_sync.testing.websockets"),
            )
        except Exception as exc:
            self._startup_error = exc
            return
        self._state = state
        self._loop = asyncio.get_running_loop()
        self._port = server.sockets[0].getsockname()[1]
        self._faults._watch(self._on_fault_set)
        log.debug("listening on %s", self.url)
        self._ready.set()
        try:
            await self._stop_requested.wait()
        finally:
            await self._shutdown(server, state)

    async def _shutdown(self, server: Server, state: ServerState) -> None:
        state.stopping = True
        state.fire()
        for session in list(state.sessions):
            # A hung connection must read the client's close frame to finish the handshake.
            session.resume_reading()
        server.close(close_connections=True)
        for connection in list(self._transports):
            # Upgrades not done yet (a client that never sent its request) would hold the
            # shutdown until close_timeout for nothing.
            if connection.protocol.state is State.CONNECTING:
                connection.transport.abort()
        try:
            await asyncio.wait_for(server.wait_closed(), self.close_timeout + 1.0)
        except asyncio.TimeoutError:
            log.warning("aborting %d connections that did not close", len(self._transports))
            for connection in list(self._transports):
                connection.transport.abort()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 1.0)

    def _on_fault_set(self, name: str) -> None:
        """Called in whatever thread changed a fault; moves the reaction onto the loop."""
        loop = self._loop
        if loop is None or self._stopped:
            return
        with contextlib.suppress(RuntimeError):  # the loop just closed
            loop.call_soon_threadsafe(self._apply_fault, name)

    def _apply_fault(self, name: str) -> None:
        state = self._state
        if state is None or state.stopping:
            return
        if name == "hang":
            for session in list(state.sessions):
                if state.faults.hang:
                    session.pause_reading()
                else:
                    session.resume_reading()
        state.fire()

    # websockets callbacks, on the loop

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        self.handshakes.append(
            Handshake(request.path, _headers_dict(request.headers), _offered(request.headers))
        )
        state = self._state
        if state is not None:
            # A hung server leaves the upgrade unanswered (stop() ends the wait).
            await state.until(state.awake)
            if state.stopping:
                return connection.respond(http.HTTPStatus.SERVICE_UNAVAILABLE, "Stopping\n")
        faults = self._faults
        if self.path is not None and request.path.partition("?")[0] != self.path:
            return connection.respond(http.HTTPStatus.NOT_FOUND, "Not Found\n")
        if faults.redirect_to is not None:
            response = connection.respond(http.HTTPStatus.TEMPORARY_REDIRECT, "")
            response.headers["Location"] = faults.redirect_to
            return response
        if faults.http_status is not None:
            status = http.HTTPStatus(faults.http_status)
            return connection.respond(status, f"{status.phrase}\n")
        return None

    def _select_subprotocol(
        self, _connection: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        faults = self._faults
        choice = faults.subprotocol_choice
        if choice == "client-order":
            return next((token for token in offered if token in faults.protocols), None)
        if choice == "first-offered":
            return offered[0] if offered else None
        if choice == "none":
            return None
        if choice == "unoffered":
            token = faults.unoffered_token
            while token in offered:
                token += "-x"
            return Subprotocol(token)
        raise ValueError(f"unknown subprotocol_choice {choice!r}")

    async def _handler(self, ws: ServerConnection) -> None:
        state = self._state
        assert state is not None
        assert ws.request is not None
        dialect, refusal = dialect_for(ws.subprotocol, state.faults)
        session = Session(state, ws, dialect, refusal, _headers_dict(ws.request.headers))
        await session.run()
