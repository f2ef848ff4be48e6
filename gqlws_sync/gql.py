"""gql 4's synchronous transport on top of gqlws_sync, and subscriptions for gql's sync Client.

Code written for gql keeps its shape: ``Client(transport=WebsocketsTransport(url=...))``,
``client.execute(gql("..."))``, ``with client as session:``, local validation, custom scalars
and gql's exception classes. What changes is underneath: one WebSocket, opened on demand and
shared by every call and every thread, where gql's own ``WebsocketsTransport`` needs an
asyncio event loop.

gql's synchronous ``Client`` calls ``connect()`` before and ``close()`` after every
``execute()`` and every ``with client`` block, from whichever thread runs them. The transport
therefore counts users instead of opening a socket each time: the first ``connect()`` opens the
WebSocket, the others share it, and when the last user has called ``close()`` the socket stays
open for ``linger_timeout`` seconds (``DEFAULT_LINGER_TIMEOUT``) in case another call follows,
then closes. ``shutdown()`` (or leaving ``with transport:``) closes it at once.

Rules of this module:

- ``_Shared`` holds everything the transport, its linger threads and its finalizer touch. It
  never refers to the transport, so a transport dropped without ``shutdown()`` is collected,
  and its finalizer closes the socket and ends the linger thread.
- ``_Shared.lock`` guards every field of ``_Shared``. It is held for bookkeeping only, never
  around socket I/O, a join or a wait on another thread. It is reentrant because
  ``close()`` can run from a finalizer (a ``subscribe()`` generator dropped mid-iteration) in
  a thread that already holds it.
- Whoever takes a socket out of ``_Shared.socket`` closes it, after releasing the lock.
- Threads: one ``gqlws_sync-linger-<n>`` at a time while the socket is idle (two for a moment
  while an old socket closes and a new one idles), each joined by ``shutdown()``; and, for a
  transport garbage-collected with its socket open, one that closes it and ends.

Importing this module needs gql 4: ``pip install 'gqlws_sync[gql]'``. ``import gqlws_sync``
alone never imports gql.
"""

from __future__ import annotations

import itertools
import logging
import ssl as ssl_module
import sys
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, overload

from graphql import DocumentNode, ExecutionResult, GraphQLSchema

from . import exceptions as ours
from .client import (
    APOLLO_SUBPROTOCOL,
    DEFAULT_EXECUTE_TIMEOUT,
    GRAPHQLWS_SUBPROTOCOL,
    Client,
    Subscription,
)
from .options import (
    DEFAULT_ACK_TIMEOUT,
    DEFAULT_CLOSE_TIMEOUT,
    DEFAULT_CONNECT_TIMEOUT,
    ClientOptions,
    check_duration,
    redact_url,
)

_INSTALL_HINT = "gqlws_sync.gql needs gql 4 or later: pip install 'gqlws_sync[gql]'"

try:
    import gql as _gql
    from gql import Client as GqlClient
    from gql import GraphQLRequest
    from gql.transport.exceptions import (
        TransportAlreadyConnected,
        TransportClosed,
        TransportConnectionFailed,
        TransportError,
        TransportProtocolError,
        TransportQueryError,
        TransportServerError,
    )
    from gql.transport.transport import Transport
    from gql.utilities import parse_result as _parse_result
except ImportError as exc:
    raise ImportError(_INSTALL_HINT) from exc

if int(_gql.__version__.split(".")[0]) < 4:
    # gql 3's Transport.execute() takes a DocumentNode and variables, not a GraphQLRequest.
    raise ImportError(f"{_INSTALL_HINT} (found gql {_gql.__version__})")

__all__ = [
    "DEFAULT_LINGER_TIMEOUT",
    "AckTimeout",
    "ConnectTimeout",
    "ConnectionFailed",
    "KeepAliveTimeout",
    "OperationTimeout",
    "ProtocolError",
    "ServerError",
    "WebsocketsTransport",
    "subscribe",
]

logger = logging.getLogger("gqlws_sync.gql")

#: How long an idle socket stays open after the last user left. gql's sync Client connects
#: and closes around every call, so a loop of ``client.execute()`` would otherwise pay a TCP,
#: TLS and connection_init round trip each time; a few seconds bridge the gaps of such a loop
#: without keeping a forgotten connection around. httpx keeps idle connections 5 s
#: (``keepalive_expiry``) for the same reason.
DEFAULT_LINGER_TIMEOUT = 5.0

#: How long shutdown() waits for a linger thread that is closing a socket, beyond the
#: socket's own close_timeout; it only finishes a close that is already bounded.
_JOIN_SLACK = 1.0

_linger_numbers = itertools.count(1)


# -- exceptions --------------------------------------------------------------------------------
#
# Each one is a gql class, so except clauses written for gql catch it. gql 4 raises
# TransportConnectionFailed whenever the connection could not be made or went away (whatever
# the server's close code), and a bare asyncio.TimeoutError for the connect and ack timeouts;
# the classes below are those, and also say what gqlws_sync knows more precisely.

if sys.version_info >= (3, 11):
    _TimeoutBase = TimeoutError  # asyncio.TimeoutError is TimeoutError since 3.11
else:
    import asyncio

    class _TimeoutBase(TimeoutError, asyncio.TimeoutError):
        """Caught by both except clauses gql users write on Python 3.10."""


class ConnectionFailed(TransportConnectionFailed):
    """The connection could not be opened, or it ended under an operation.

    ``code`` is the WebSocket close code or the HTTP status that explains it (``None`` when
    none did, e.g. a refused TCP connection), ``reason`` the close reason. A new call opens a
    new connection; an operation that was in flight may or may not have run.
    """

    def __init__(self, message: str, code: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


class ServerError(ConnectionFailed, TransportServerError):
    """The server refused the connection (HTTP status, ``connection_error``, a 4403 close) or
    failed it (1011, 4500, ...); ``code`` says which."""


class ProtocolError(ConnectionFailed, TransportProtocolError):
    """The server broke the protocol, or no subprotocol both sides speak was found; the
    connection was closed. Retrying against the same server gives the same result."""


class ConnectTimeout(ConnectionFailed, _TimeoutBase):
    """TCP connect, TLS handshake and HTTP upgrade took longer than ``connect_timeout``;
    safe to retry."""


class AckTimeout(ServerError, _TimeoutBase):
    """No ``connection_ack`` within ``ack_timeout``; ``code`` is 4504."""


class KeepAliveTimeout(ServerError, _TimeoutBase):
    """The server went silent (no pong, no keep-alive, or it stopped reading); the
    connection was closed."""


class OperationTimeout(TransportError, _TimeoutBase):
    """No result within the operation's timeout. The operation was cancelled on the server
    and the connection stays open for other calls."""


def _query_id(op_id: str | None) -> int | None:
    # gql numbers operations with ints; ours are the same counter as text.
    return int(op_id) if op_id is not None and op_id.isdigit() else None


def _first_error(errors: Sequence[Any] | None) -> str:
    # gql's message for an operation with errors: the first error object as str().
    return str(errors[0]) if errors else "unknown error"


def _query_error(exc: ours.TransportQueryError, data: Any = None) -> TransportQueryError:
    return TransportQueryError(
        _first_error(exc.errors),
        query_id=_query_id(exc.query_id),
        errors=exc.errors,
        data=exc.data if data is None else data,
        extensions=exc.extensions,
    )


def _gql_error(exc: ours.TransportError, closed_by_user: bool = False) -> TransportError:
    """The gql exception for one of ours; the caller raises it ``from exc``."""
    message = str(exc)
    code: int | None = getattr(exc, "code", None)
    if isinstance(exc, ours.TransportQueryError):
        return _query_error(exc)
    if isinstance(exc, ours.OperationTimeout):
        return OperationTimeout(message)
    if isinstance(exc, ours.ConnectTimeout):
        return ConnectTimeout(message, code)
    if isinstance(exc, ours.AckTimeout):
        return AckTimeout(message, code)
    if isinstance(exc, ours.KeepAliveTimeout):
        return KeepAliveTimeout(message, code, exc.reason)
    if isinstance(exc, ours.TransportAlreadyConnected):
        return TransportAlreadyConnected(message)
    if isinstance(exc, ours.TransportClosed):
        if closed_by_user:
            return TransportClosed(message)
        return ConnectionFailed(message, code, exc.reason)
    if isinstance(exc, ours.TransportServerError):
        return ServerError(message, code)
    if isinstance(exc, ours.TransportProtocolError):
        return ProtocolError(message, code)
    if isinstance(exc, ours.TransportConnectionFailed):
        return ConnectionFailed(message, code)
    return TransportError(message)


# -- connect_args ------------------------------------------------------------------------------

#: ``websockets.connect()`` arguments that gql passes through ``connect_args`` and that have no
#: meaning for websocket-client, with what to use instead.
_WEBSOCKETS_ONLY: dict[str, str] = {
    "additional_headers": "use headers=",
    "extra_headers": "use headers=",
    "user_agent_header": "use headers={'User-Agent': ...}",
    "subprotocols": "use subprotocols=",
    "ssl": "use ssl=",
    "server_hostname": "use connect_args={'sslopt': {'server_hostname': ...}}",
    "proxy": (
        "use websocket-client's connect_args http_proxy_host=, http_proxy_port= and "
        "proxy_type=, or the HTTP_PROXY/HTTPS_PROXY environment variables (honoured by default)"
    ),
    "sock": "use connect_args={'socket': ...} (websocket-client's name)",
    "host": (
        "websockets takes it as the TCP host, websocket-client as the Host header: put the "
        "host in url= (and a Host header in headers= if it must differ)"
    ),
    "port": "put the port in url=",
    "timeout": "use close_timeout=",
    "extensions": "no WebSocket extension is supported",
    "max_queue": "there is no equivalent: each operation has its own queue",
    "write_limit": "there is no equivalent: a send that stalls for 10 s fails the connection",
    "read_limit": "there is no equivalent",
    "logger": "there is no equivalent: gqlws_sync logs to the 'gqlws_sync' logger",
    "process_exception": "there is no equivalent",
    "create_connection": "there is no equivalent",
    "klass": "there is no equivalent",
    "reconnect_delays": "there is no equivalent",
    "family": "there is no equivalent",
    "local_addr": "there is no equivalent",
}


def _shorter(first: float | None, second: Any) -> Any:
    """The shorter of two time limits, ``None`` meaning no limit; checks are left to Client."""
    if first is None:
        return second
    if second is None:
        return first
    if isinstance(second, (int, float)) and not isinstance(second, bool):
        return min(first, second)
    return second  # let the option checks name the bad value


def _map_connect_args(
    connect_args: Mapping[str, Any] | None, options: dict[str, Any]
) -> dict[str, Any]:
    """Move the websockets-library keys gql users pass into our options; refuse the others.

    Returns what is left: websocket-client's own keys, which Client checks.

    Raises:
        ValueError: a key that cannot be honoured, with what to use instead.
    """
    if connect_args is None:
        return {}
    if not isinstance(connect_args, Mapping):
        raise TypeError(f"connect_args must be a dict, not {type(connect_args).__name__}")
    rest = dict(connect_args)
    refused = sorted(set(rest) & set(_WEBSOCKETS_ONLY))
    if refused:
        key = refused[0]
        raise ValueError(
            f"connect_args[{key!r}] is an argument of the websockets library, which "
            f"gqlws_sync does not use: {_WEBSOCKETS_ONLY[key]}"
        )
    if "compression" in rest and rest.pop("compression") is not None:
        raise ValueError(
            "connect_args['compression']: gqlws_sync does not do permessage-deflate; "
            "pass compression=None or leave it out"
        )
    if "max_size" in rest:
        max_size = rest.pop("max_size")
        if isinstance(max_size, tuple):
            raise ValueError(
                "connect_args['max_size'] must be one int (the largest message) or None, "
                f"not {max_size!r}"
            )
        options["max_message_size"] = max_size
    if "ping_interval" in rest:
        options["ws_ping_interval"] = rest.pop("ping_interval")
    if "ping_timeout" in rest:
        options["ws_pong_timeout"] = rest.pop("ping_timeout")
    # gql applies its own timeout and websockets' one: the shorter wins.
    if "open_timeout" in rest:
        options["connect_timeout"] = _shorter(options["connect_timeout"], rest.pop("open_timeout"))
    if "close_timeout" in rest:
        options["close_timeout"] = _shorter(options["close_timeout"], rest.pop("close_timeout"))
    return rest


def _header_map(headers: Any) -> dict[str, str] | None:
    """gql takes websockets' ``HeadersLike``: a mapping, a ``Headers`` or a list of pairs."""
    if headers is None:
        return None
    if hasattr(headers, "raw_items"):
        pairs: Iterable[Any] = headers.raw_items()
    elif isinstance(headers, Mapping):
        pairs = headers.items()
    elif isinstance(headers, Iterable) and not isinstance(headers, (str, bytes)):
        pairs = headers
    else:
        raise TypeError(f"headers must be a dict or a list of pairs, not {type(headers).__name__}")
    result: dict[str, str] = {}
    lower: dict[str, str] = {}
    for name, value in pairs:
        seen = lower.get(str(name).lower())
        if seen is None:
            lower[str(name).lower()] = name
            result[name] = value
        else:
            # One header given twice: HTTP's rule is to join the values with commas.
            result[seen] = f"{result[seen]}, {value}"
    return result


# -- the shared socket -------------------------------------------------------------------------


@dataclass(eq=False)
class _Socket:
    client: Client
    #: shutdown() closed it: operations that were still running get TransportClosed, as in gql.
    closed_by_user: bool = False


@dataclass(eq=False)
class _Attempt:
    """One connect in progress; threads that need the socket meanwhile wait for it."""

    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    cancelled: bool = False  # shutdown() ran meanwhile: close what was opened


class _Shared:
    """The state of one transport's socket; see the module docstring for its rules."""

    def __init__(
        self,
        client_options: dict[str, Any],
        linger_timeout: float | None,
        connect_wait_timeout: float | None,
    ) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)  # wakes linger threads early
        self.client_options = client_options
        self.linger_timeout = linger_timeout
        self.connect_wait_timeout = connect_wait_timeout
        self.users = 0
        self.socket: _Socket | None = None
        self.attempt: _Attempt | None = None
        self.idle_since = 0.0
        self.lingering: threading.Thread | None = None  # the one that closes the current socket
        self.threads: set[threading.Thread] = set()  # every linger thread still running
        self.shut = False  # shutdown() ran and nobody connected since
        self.sockets_opened = 0

    # -- users ----------------------------------------------------------------------------------

    def enter(self) -> None:
        with self.lock:
            self.users += 1
            self.shut = False
        try:
            self.acquire()
        except BaseException:
            self.leave()
            raise

    def leave(self) -> None:
        with self.lock:
            if self.users == 0:
                logger.debug("close() without a matching connect(): ignored")
                return
            self.users -= 1
            if self.users > 0 or self.socket is None:
                return
            self.idle_since = time.monotonic()
            if self.linger_timeout is None or self.lingering is not None:
                return  # kept until shutdown(), or the running linger thread sees idle_since
            # Even with linger_timeout=0 a thread closes it: close() may run in a finalizer,
            # on the very reader thread that closing the socket joins.
            self._start_linger(self.socket)

    def _start_linger(self, socket: _Socket) -> None:
        # Called with the lock held. Starting only waits for the OS to create the thread,
        # which then blocks on this lock until the caller releases it.
        thread = threading.Thread(
            target=self._linger,
            args=(socket,),
            name=f"gqlws_sync-linger-{next(_linger_numbers)}",
            # A safety net only: shutdown() and the finalizer end it. Daemon so that an
            # interpreter exiting with a socket still lingering does not wait for it.
            daemon=True,
        )
        self.threads.add(thread)
        self.lingering = thread
        thread.start()

    def _linger(self, socket: _Socket) -> None:
        """Close ``socket`` once it has been idle for linger_timeout, unless a user came back."""
        me = threading.current_thread()
        close: _Socket | None = None
        try:
            with self.lock:
                while self.lingering is me and self.socket is socket and self.users == 0:
                    assert self.linger_timeout is not None
                    left = self.idle_since + self.linger_timeout - time.monotonic()
                    if left <= 0:
                        close, self.socket = socket, None
                        break
                    # Woken early by shutdown() and abandon(); else by its own deadline.
                    self.changed.wait(left)
                if self.lingering is me:
                    self.lingering = None
            if close is not None:
                logger.debug("closing the socket, idle for %s s", self.linger_timeout)
                close.client.close()
        except Exception:
            logger.exception("the linger thread failed")  # nothing dies silently
        finally:
            with self.lock:
                self.threads.discard(me)

    # -- the socket -----------------------------------------------------------------------------

    def acquire(self) -> _Socket:
        """The open socket, opening one if there is none (or it died); from any thread.

        One thread connects; the others that arrive meanwhile wait for it and share its
        result, so a server that is down is tried once, not once per thread.

        Raises:
            The gql exception of the connect failure, chained to ours.
        """
        while True:
            with self.lock:
                socket = self.socket
                if socket is not None and socket.client.is_connected:
                    return socket
                attempt = self.attempt
                leading = attempt is None
                if attempt is None:
                    attempt = self.attempt = _Attempt()
                    self.socket = None
                    options = self.client_options
            if leading:
                return self._connect(attempt, socket, options)
            # Who wakes it: the leading thread's _connect(), in its finally.
            if not attempt.done.wait(self.connect_wait_timeout):
                raise ConnectTimeout(
                    f"another thread's connect did not finish within {self.connect_wait_timeout} s"
                )
            error = attempt.error
            if isinstance(error, ours.TransportError):
                raise _gql_error(error) from error
            if isinstance(error, TransportError):
                raise type(error)(str(error)) from error
            # Success, or the leader was interrupted (KeyboardInterrupt): look again.

    def _connect(self, attempt: _Attempt, dead: _Socket | None, options: dict[str, Any]) -> _Socket:
        try:
            if dead is not None:
                dead.client.close()  # it is closed already: this joins its threads
            client = Client(**options)
            try:
                client.connect()
            except ours.TransportError as exc:
                raise _gql_error(exc) from exc
            socket = _Socket(client)
            with self.lock:
                cancelled = attempt.cancelled
                if not cancelled:
                    self.socket = socket
                    self.sockets_opened += 1
                    # A linger thread still waiting belongs to the socket this one replaces.
                    self.lingering = None
                    self.changed.notify_all()
            if cancelled:
                client.close()
                raise TransportClosed("the transport was shut down while connecting")
            return socket
        except BaseException as exc:
            attempt.error = exc.__cause__ if isinstance(exc.__cause__, ours.TransportError) else exc
            raise
        finally:
            with self.lock:
                self.attempt = None
            attempt.done.set()

    def shutdown(self) -> None:
        """Close the socket now and join every linger thread; in-flight operations get
        gql's TransportClosed."""
        with self.lock:
            self.shut = True
            socket, self.socket = self.socket, None
            if socket is not None:
                socket.closed_by_user = True
            if self.attempt is not None:
                self.attempt.cancelled = True
            self.lingering = None
            threads = list(self.threads)
            self.changed.notify_all()
        if socket is not None:
            socket.client.close()
        close_timeout = self.client_options.get("close_timeout", DEFAULT_CLOSE_TIMEOUT)
        budget = None if close_timeout is None else close_timeout + _JOIN_SLACK
        me = threading.current_thread()
        for thread in threads:
            if thread is not me:
                thread.join(budget)
                if thread.is_alive():
                    logger.warning("%s still closing a socket after %s s", thread.name, budget)

    def abandon(self) -> None:
        """The transport was garbage-collected: close its socket without blocking the
        thread the collector happens to run in (it may even be our reader)."""
        with self.lock:
            self.shut = True
            socket, self.socket = self.socket, None
            if self.attempt is not None:
                self.attempt.cancelled = True
            self.lingering = None
            self.changed.notify_all()  # lingering threads exit at once
        if socket is None:
            return
        closer = threading.Thread(
            target=socket.client.close,
            name=f"gqlws_sync-linger-{next(_linger_numbers)}",
            daemon=True,  # the close itself is bounded by close_timeout
        )
        try:
            closer.start()
        except RuntimeError:  # the interpreter is shutting down: no new threads
            socket.client.close()


# -- the transport ---------------------------------------------------------------------------


class WebsocketsTransport(Transport):
    """gql 4's synchronous ``Transport`` over one shared gqlws_sync connection.

    Takes the arguments of gql's ``WebsocketsTransport`` with the same names and defaults
    (see docs/migrating-from-gql.md for each), plus two of its own:

    Args:
        execute_timeout: default seconds to wait for a result, as on gql's ``Client`` (which
            applies its own ``execute_timeout`` to async transports only); ``None``: no limit.
            ``client.execute(..., timeout=S)`` overrides it for one call.
        linger_timeout: seconds the socket stays open after the last user left; ``0`` closes
            it as soon as the last user leaves, ``None`` keeps it until ``shutdown()``.

    Thread-safe: any number of threads may use one gql ``Client`` with this transport; they
    share one WebSocket. It is not an async transport: for subscriptions use
    :func:`subscribe`.
    """

    APOLLO_SUBPROTOCOL = APOLLO_SUBPROTOCOL
    GRAPHQLWS_SUBPROTOCOL = GRAPHQLWS_SUBPROTOCOL

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        ssl: bool | ssl_module.SSLContext = False,
        init_payload: dict[str, Any] | None = None,
        connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
        close_timeout: float | None = DEFAULT_CLOSE_TIMEOUT,
        ack_timeout: float | None = DEFAULT_ACK_TIMEOUT,
        keep_alive_timeout: float | None = None,
        ping_interval: float | None = None,
        pong_timeout: float | None = None,
        answer_pings: bool = True,
        connect_args: Mapping[str, Any] | None = None,
        subprotocols: Sequence[str] | None = None,
        execute_timeout: float | None = DEFAULT_EXECUTE_TIMEOUT,
        linger_timeout: float | None = DEFAULT_LINGER_TIMEOUT,
    ) -> None:
        options: dict[str, Any] = {
            "url": url,
            "headers": _header_map(headers),
            "ssl": ssl,
            "init_payload": init_payload,
            "subprotocols": subprotocols,
            "connect_timeout": connect_timeout,
            "close_timeout": close_timeout,
            "ack_timeout": ack_timeout,
            "keep_alive_timeout": keep_alive_timeout,
            "ping_interval": ping_interval,
            "pong_timeout": pong_timeout,
            "answer_pings": answer_pings,
            # gql's transport does not reconnect, and gql's callers expect a lost socket to
            # raise; this transport opens a new one on the next call instead.
            "reconnect": False,
        }
        options["connect_args"] = _map_connect_args(connect_args, options)
        options["execute_timeout"] = check_duration("execute_timeout", execute_timeout)
        self.options = _checked(options)
        linger_timeout = _check_linger(linger_timeout)
        self._shared = _Shared(options, linger_timeout, _connect_wait_timeout(self.options))
        # Closes the socket of a transport dropped without shutdown(); refers to _shared only.
        self._finalizer = weakref.finalize(self, self._shared.abandon)
        # Not at interpreter exit: a closer thread started then could be cut off halfway,
        # and the socket ends with the process anyway, like every other gqlws_sync socket.
        self._finalizer.atexit = False

    def __repr__(self) -> str:
        shared = self._shared
        state = "open" if shared.socket is not None else "closed"
        return (
            f"<WebsocketsTransport {redact_url(self.options.url)} {state}, {shared.users} user(s)>"
        )

    # -- what gql reads and sets ----------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.options.url

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol of the open socket, as gql's transport has it; else ``None``."""
        socket = self._shared.socket
        return None if socket is None else socket.client.subprotocol

    @property
    def init_payload(self) -> dict[str, Any] | None:
        """Settable: a new payload (a refreshed token) is sent by the next socket; the open
        one keeps the payload it was opened with (``shutdown()`` ends it)."""
        payload = self.options.init_payload
        return None if callable(payload) else payload

    @init_payload.setter
    def init_payload(self, value: dict[str, Any] | None) -> None:
        self._replace_option("init_payload", value)

    @property
    def headers(self) -> Mapping[str, str]:
        """Settable, used from the next socket on, like ``init_payload``."""
        headers = self.options.headers
        return {} if callable(headers) else headers

    @headers.setter
    def headers(self, value: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> None:
        self._replace_option("headers", _header_map(value))

    def _replace_option(self, name: str, value: Any) -> None:
        shared = self._shared
        with shared.lock:
            options = dict(shared.client_options, **{name: value})
            self.options = _checked(options)  # raises before anything changes
            shared.client_options = options

    @property
    def sockets_opened(self) -> int:
        """How many WebSockets this transport has opened so far."""
        return self._shared.sockets_opened

    # -- gql's Transport --------------------------------------------------------------------------

    def connect(self) -> None:
        """Become a user of the shared socket, opening it if needed.

        Never raises ``TransportAlreadyConnected``: gql's sync Client calls this around every
        call and from every thread, and each call is one more user.

        Raises:
            ConnectionFailed (gql's TransportConnectionFailed) and its subclasses: no socket
                could be opened; the call did not count as a user.
        """
        self._shared.enter()

    def close(self) -> None:
        """Stop being a user; the last one out starts the linger (see ``linger_timeout``).

        Never blocks and never raises. ``shutdown()`` closes the socket at once, whoever
        uses it.
        """
        self._shared.leave()

    def shutdown(self) -> None:
        """Close the socket now, whoever still uses it, and end every thread of the transport.

        Operations still running raise gql's ``TransportClosed``. The transport stays usable:
        a later ``connect()`` opens a new socket. Idempotent.
        """
        self._shared.shutdown()

    def __enter__(self) -> WebsocketsTransport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()

    def _socket(self) -> _Socket:
        shared = self._shared
        with shared.lock:
            if shared.users == 0:
                raise TransportClosed(
                    "the transport is not connected: use it through gql's Client "
                    "(client.execute() or 'with client as session'), or call connect() first"
                )
            if shared.shut:
                raise TransportClosed("the transport was shut down")
        # A socket that died since connect() is replaced here: the next operation connects.
        return shared.acquire()

    def execute(
        self,
        request: GraphQLRequest,
        *args: Any,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> ExecutionResult:
        """Run one query or mutation (or the first result of a subscription) on the socket.

        A result with GraphQL errors is returned, as by gql's transports, for gql's session
        to parse and raise; an ``error`` message raises gql's ``TransportQueryError`` here.

        Args:
            timeout: seconds to wait for the result, for this call; ``None`` uses
                ``execute_timeout``. gql's ``client.execute(..., timeout=S)`` passes it on.

        Raises:
            TransportQueryError: the server refused the operation (validation, ...); the
                socket is fine.
            OperationTimeout (a TimeoutError): no result in time; cancelled on the server.
            ConnectionFailed and its subclasses: the socket failed; the next call opens a
                new one.
            TransportClosed: not connected, or ``shutdown()`` ran meanwhile.
        """
        _no_extra_arguments("execute", args, kwargs)
        socket = self._socket()
        return _execute(socket, request, timeout)

    def execute_batch(
        self,
        reqs: list[GraphQLRequest],
        *args: Any,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> list[ExecutionResult]:
        """Run the requests one after the other on the socket (``timeout`` applies to each).

        gql batches to save HTTP round trips; a WebSocket has none to save, and the
        protocols have no batch message. For requests at the same time, call
        ``client.execute()`` from several threads: they share the socket.
        """
        _no_extra_arguments("execute_batch", args, kwargs)
        socket = self._socket()
        return [_execute(socket, request, timeout) for request in reqs]

    def _subscribe(
        self, request: GraphQLRequest, timeout: float | None
    ) -> tuple[_Socket, Subscription[ExecutionResult]]:
        socket = self._socket()
        try:
            subscription = socket.client.subscribe(
                request.document,
                request.variable_values,
                request.operation_name,
                timeout=timeout,
                extensions=request.extensions,
                get_execution_result=True,
            )
        except ours.TransportError as exc:
            raise _gql_error(exc, socket.closed_by_user) from exc
        return socket, subscription


def _execute(socket: _Socket, request: GraphQLRequest, timeout: float | None) -> ExecutionResult:
    try:
        return socket.client.execute(
            request.document,
            request.variable_values,
            request.operation_name,
            timeout=timeout,
            extensions=request.extensions,
            get_execution_result=True,
        )
    except ours.TransportQueryError as exc:
        if _is_result(exc):
            # gql's transports return these; gql's session parses the data and raises.
            return ExecutionResult(data=exc.data, errors=exc.errors, extensions=exc.extensions)
        raise _query_error(exc) from exc
    except ours.TransportError as exc:
        raise _gql_error(exc, socket.closed_by_user) from exc


def _is_result(exc: ours.TransportQueryError) -> bool:
    """Whether the errors came in a result (next/data) rather than an ``error`` message.

    gqlws_sync.Client raises both the same way; a result is known by its data or
    extensions. A result with errors only is taken for an ``error`` message, which gql
    raises with the same message, only with a ``query_id`` too.
    """
    return exc.data is not None or exc.extensions is not None


def _no_extra_arguments(method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    if args or kwargs:
        given = [repr(arg) for arg in args] + sorted(kwargs)
        raise TypeError(
            f"WebsocketsTransport.{method}() takes a request and timeout= only, not {given}"
        )


def _checked(options: dict[str, Any]) -> ClientOptions:
    """Every option checked by the same code as gqlws_sync.Client's (ValueError, TypeError)."""
    build_options = {key: value for key, value in options.items() if key != "execute_timeout"}
    return ClientOptions.build(**build_options)


def _check_linger(value: Any) -> float | None:
    if value == 0 and not isinstance(value, bool):
        return 0.0
    return check_duration("linger_timeout", value)


def _connect_wait_timeout(options: ClientOptions) -> float | None:
    """How long a thread waits for another's connect before giving up: a safety net, since
    that connect is bounded itself (twice: the legacy-server retry may connect again)."""
    parts = (options.connect_timeout, options.ack_timeout, options.close_timeout)
    if any(part is None for part in parts):
        return None
    connect, ack, close = (float(part) for part in parts if part is not None)
    return 2 * (connect + ack) + close + _JOIN_SLACK


# -- subscriptions -------------------------------------------------------------------------


@overload
def subscribe(
    client: GqlClient,
    request: GraphQLRequest | DocumentNode | str,
    *,
    variable_values: dict[str, Any] | None = ...,
    operation_name: str | None = ...,
    serialize_variables: bool | None = ...,
    parse_result: bool | None = ...,
    get_execution_result: Literal[False] = ...,
    timeout: float | None = ...,
) -> Iterator[dict[str, Any]]: ...


@overload
def subscribe(
    client: GqlClient,
    request: GraphQLRequest | DocumentNode | str,
    *,
    variable_values: dict[str, Any] | None = ...,
    operation_name: str | None = ...,
    serialize_variables: bool | None = ...,
    parse_result: bool | None = ...,
    get_execution_result: Literal[True],
    timeout: float | None = ...,
) -> Iterator[ExecutionResult]: ...


def subscribe(
    client: GqlClient,
    request: GraphQLRequest | DocumentNode | str,
    *,
    variable_values: dict[str, Any] | None = None,
    operation_name: str | None = None,
    serialize_variables: bool | None = None,
    parse_result: bool | None = None,
    get_execution_result: bool = False,
    timeout: float | None = None,
) -> Iterator[dict[str, Any]] | Iterator[ExecutionResult]:
    """Subscribe through a gql ``Client`` whose transport is :class:`WebsocketsTransport`.

    gql 4's ``client.subscribe()`` needs an async transport; this generator does what it
    does, synchronously: it connects (fetching the schema if the client asks for it),
    validates the request against the client's schema, serializes the variables and parses
    each result with gql's own utilities when ``serialize_variables``/``parse_result`` (or
    the client's ``serialize_variables``/``parse_results``) say so, and yields the ``data`` of
    each result (the ``ExecutionResult`` with ``get_execution_result=True``).

    Nothing happens until the first ``next()``. Leaving the loop early (``break``, an
    exception, ``close()`` on the generator) cancels the subscription on the server.

    Args:
        variable_values, operation_name: override the request's own, as gql 3 took them.
        timeout: seconds to wait for each next result; ``None`` (gql's behaviour) waits as
            long as the connection lives.

    Raises:
        TypeError: the client's transport is not this module's WebsocketsTransport.
        graphql.GraphQLError: the request does not validate against the client's schema;
            nothing was sent.
        TransportQueryError: a result had errors, or the server refused the operation; the
            subscription is over, the socket is fine.
        The gql exceptions of :meth:`WebsocketsTransport.execute`, from the generator.
    """
    transport = client.transport
    if not isinstance(transport, WebsocketsTransport):
        raise TypeError(
            "gqlws_sync.gql.subscribe() needs a gql Client whose transport is "
            f"gqlws_sync.gql.WebsocketsTransport, not {type(transport).__name__}"
        )
    if isinstance(request, (str, DocumentNode)):
        request = GraphQLRequest(request)
    elif not isinstance(request, GraphQLRequest):
        raise TypeError(
            f"request must be a GraphQLRequest (what gql() returns), not {type(request).__name__}"
        )
    if variable_values is not None or operation_name is not None:
        request = GraphQLRequest(
            request, variable_values=variable_values, operation_name=operation_name
        )
    timeout = check_duration("timeout", timeout)
    return _subscription(
        client,
        transport,
        request,
        serialize_variables=serialize_variables,
        parse_result=parse_result,
        get_execution_result=get_execution_result,
        timeout=timeout,
    )


def _subscription(
    client: GqlClient,
    transport: WebsocketsTransport,
    request: GraphQLRequest,
    *,
    serialize_variables: bool | None,
    parse_result: bool | None,
    get_execution_result: bool,
    timeout: float | None,
) -> Iterator[Any]:
    with client:  # connect, and fetch the schema if the client was told to
        schema = client.schema
        parse_with: GraphQLSchema | None = None
        if schema is not None:
            client.validate(request)
            serialize = serialize_variables
            if serialize is None:
                serialize = client.serialize_variables
            # Not for {}: gql's serialize_variable_values() asserts there are some.
            if serialize and request.variable_values:
                request = request.serialize_variable_values(schema)
            if parse_result or (parse_result is None and client.parse_results):
                parse_with = schema

        def parsed(data: dict[str, Any] | None) -> dict[str, Any] | None:
            if parse_with is None or data is None:
                return data
            result: dict[str, Any] | None = _parse_result(
                parse_with, request.document, data, operation_name=request.operation_name
            )
            return result

        socket, subscription = transport._subscribe(request, timeout)
        with subscription:  # cancels it on the server if we leave early
            while True:
                try:
                    result = next(subscription)
                except StopIteration:
                    return
                except ours.TransportQueryError as exc:
                    data = parsed(exc.data) if _is_result(exc) else None
                    raise _query_error(exc, data) from exc
                except ours.TransportError as exc:
                    raise _gql_error(exc, socket.closed_by_user) from exc
                result.data = parsed(result.data)
                yield result if get_execution_result else result.data
