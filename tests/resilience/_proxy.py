"""A TCP proxy on 127.0.0.1 in front of a server, whose faults a test switches at run time.

Modes, each applied by the proxy's thread before the call returns:

- forwarding (the default, and what ``restore()`` returns to): bytes flow both ways.
- ``reset()``: every live connection is cut with a TCP RST to both peers (``SO_LINGER`` 0),
  as a load balancer does when it drops its connection table.
- ``black_hole()``: nothing is forwarded in either direction, on live connections and on
  those accepted meanwhile. Bytes are held, not dropped, as TCP retransmits them across a
  network outage: ``restore()`` delivers them.
- ``refuse()``: new connections are accepted and reset at once, as when nothing listens
  behind a load balancer; live connections carry on.
- ``stall_after(n)``: server-to-client bytes stop after ``n`` more bytes on each connection
  (live or new), until ``restore()``: a TLS record or a frame can be delivered in part.

Threads: one, ``proxy-<n>``, runs a selector loop over the listening socket, both sockets
of every connection and a wake-up socketpair. Tests never touch a socket: they queue a
command and wait (with a bound) for the loop to run it. Counters are written by the loop
only, under ``_changed``, which ``wait_for_accepted`` waits on.
"""

from __future__ import annotations

import itertools
import queue
import selectors
import socket
import struct
import threading
from collections.abc import Callable
from types import TracebackType

__all__ = ["Proxy"]

#: Bound on one command handed to the loop, and on joining the thread at stop().
CONTROL_TIMEOUT = 5.0
#: Longest the loop sleeps in select(); commands wake it earlier through the socketpair.
_TICK = 0.5
#: Bound on connecting to the server: a refused or reset connect returns at once; only a
#: stopped server with a full backlog could use it up.
_UPSTREAM_CONNECT_TIMEOUT = 1.0
#: Bytes held per direction before the proxy stops reading the sender (who then blocks).
_BUFFER_LIMIT = 1 << 20
_CHUNK = 65536

_numbers = itertools.count(1)


def _reset(sock: socket.socket) -> None:
    """Close with an RST instead of a FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class _Link:
    """One proxied connection: the client's socket, the server's, and the bytes in between."""

    __slots__ = (
        "budget",
        "client",
        "client_eof",
        "down",
        "down_shut",
        "server",
        "server_eof",
        "up",
        "up_shut",
    )

    def __init__(self, client: socket.socket, server: socket.socket, budget: int | None) -> None:
        self.client = client
        self.server = server
        self.up = bytearray()  # client -> server, not yet written
        self.down = bytearray()  # server -> client, not yet written
        self.client_eof = False
        self.server_eof = False
        self.up_shut = False
        self.down_shut = False
        #: Server-to-client bytes still allowed through; None: no limit (stall_after).
        self.budget = budget


class Proxy:
    """A fault-injecting TCP proxy; ``port`` is ready once ``start()`` returns."""

    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.number = next(_numbers)
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._commands: queue.SimpleQueue[tuple[Callable[[], None], threading.Event]] = (
            queue.SimpleQueue()
        )
        self._links: list[_Link] = []
        self._holding = False
        self._refusing = False
        self._stall: int | None = None
        self._stopping = False
        self._changed = threading.Condition()
        self._accepted = 0
        self._refused = 0
        self._thread = threading.Thread(
            target=self._run,
            name=f"proxy-{self.number}",
            # Daemon: a safety net if a test dies before stop(); stop() joins it.
            daemon=True,
        )

    def url(self, path: str = "/graphql", scheme: str = "ws") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def __repr__(self) -> str:
        return f"<Proxy :{self.port} -> {self.upstream[0]}:{self.upstream[1]}>"

    # -- counters --------------------------------------------------------------------------

    @property
    def accepted(self) -> int:
        """Connections accepted so far, refused ones included."""
        return self._accepted

    @property
    def refused(self) -> int:
        """Connections reset at once: by ``refuse()``, or because the server was down."""
        return self._refused

    @property
    def live(self) -> int:
        """Connections being proxied now."""
        return len(self._links)

    def wait_for_accepted(self, count: int, timeout: float = CONTROL_TIMEOUT) -> None:
        """Block until ``count`` connections have been accepted in all.

        Raises:
            TimeoutError: fewer within ``timeout``.
        """
        with self._changed:
            if not self._changed.wait_for(lambda: self._accepted >= count, timeout):
                raise TimeoutError(
                    f"{self!r}: {self._accepted} connections accepted, not {count}, "
                    f"within {timeout} s"
                )

    # -- modes -----------------------------------------------------------------------------

    def reset(self) -> None:
        """Cut every live connection with an RST to both peers."""

        def cut() -> None:
            for link in self._links:
                self._drop(link, rst=True)
            self._links.clear()

        self._command(cut)

    def black_hole(self) -> None:
        """Forward nothing, either way, on live and new connections, until ``restore()``."""
        self._command(lambda: setattr(self, "_holding", True))

    def refuse(self) -> None:
        """Reset new connections at once until ``restore()``; live ones carry on."""
        self._command(lambda: setattr(self, "_refusing", True))

    def stall_after(self, n_bytes: int) -> None:
        """Let ``n_bytes`` more server-to-client bytes through on each connection, then
        hold the rest until ``restore()``."""
        if n_bytes < 0:
            raise ValueError(f"n_bytes must be >= 0, not {n_bytes}")

        def stall() -> None:
            self._stall = n_bytes
            for link in self._links:
                link.budget = n_bytes

        self._command(stall)

    def restore(self) -> None:
        """Forward everything again, held bytes first."""

        def restore() -> None:
            self._holding = self._refusing = False
            self._stall = None
            for link in self._links:
                link.budget = None

        self._command(restore)

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> Proxy:
        self._selector.register(self._listener, selectors.EVENT_READ, "listener")
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Reset every connection, close the listener and join the thread; idempotent.

        Raises:
            RuntimeError: the thread did not end within ``CONTROL_TIMEOUT``.
        """
        if self._thread.is_alive():
            self._command(lambda: setattr(self, "_stopping", True))
            self._thread.join(CONTROL_TIMEOUT)
            if self._thread.is_alive():
                raise RuntimeError(f"{self._thread.name} did not stop")
        for sock in (self._wake_r, self._wake_w, self._listener):
            sock.close()
        self._selector.close()

    def __enter__(self) -> Proxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _command(self, action: Callable[[], None]) -> None:
        """Run ``action`` on the proxy's thread and wait for it."""
        done = threading.Event()
        self._commands.put((action, done))
        try:
            self._wake_w.send(b"x")
        except BlockingIOError:  # the pipe is full of wake-ups already: it is awake
            pass
        if not done.wait(CONTROL_TIMEOUT):
            raise TimeoutError(f"{self!r} did not run a command within {CONTROL_TIMEOUT} s")

    # -- the loop (proxy thread only) ------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stopping:
                self._update_interest()
                for key, mask in self._selector.select(_TICK):
                    if key.data == "wake":
                        self._run_commands()
                    elif key.data == "listener":
                        self._accept()
                    else:
                        self._pump(key.fileobj, key.data, mask)  # type: ignore[arg-type]  # links register sockets
                self._finish_links()
        finally:
            for link in self._links:
                self._drop(link, rst=True)
            self._links.clear()
            self._run_commands()  # nobody waits on a command forever

    def _run_commands(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass
        while True:
            try:
                action, done = self._commands.get_nowait()
            except queue.Empty:
                return
            try:
                action()
            finally:
                done.set()

    def _accept(self) -> None:
        try:
            client, _ = self._listener.accept()
        except (BlockingIOError, OSError):
            return
        with self._changed:
            self._accepted += 1
            self._changed.notify_all()
        if self._refusing:
            self._count_refused()
            _reset(client)
            return
        try:
            server = socket.create_connection(self.upstream, timeout=_UPSTREAM_CONNECT_TIMEOUT)
        except OSError:
            # Nothing listens behind us (a killed server): the client learns at once.
            self._count_refused()
            _reset(client)
            return
        for sock in (client, server):
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._links.append(_Link(client, server, self._stall))

    def _count_refused(self) -> None:
        with self._changed:
            self._refused += 1
            self._changed.notify_all()

    def _update_interest(self) -> None:
        for link in self._links:
            client_events = server_events = 0
            if not self._holding:
                if not link.client_eof and len(link.up) < _BUFFER_LIMIT:
                    client_events |= selectors.EVENT_READ
                if link.down and link.budget != 0:
                    client_events |= selectors.EVENT_WRITE
                if not link.server_eof and len(link.down) < _BUFFER_LIMIT:
                    server_events |= selectors.EVENT_READ
                if link.up:
                    server_events |= selectors.EVENT_WRITE
            self._interest(link.client, client_events, link)
            self._interest(link.server, server_events, link)

    def _interest(self, sock: socket.socket, events: int, link: _Link) -> None:
        try:
            registered = self._selector.get_key(sock).events
        except KeyError:
            registered = 0
        if events == registered:
            return
        if not events:
            self._selector.unregister(sock)
        elif not registered:
            self._selector.register(sock, events, link)
        else:
            self._selector.modify(sock, events, link)

    def _pump(self, sock: socket.socket, link: _Link, mask: int) -> None:
        if link not in self._links:
            return  # dropped earlier in this round
        from_client = sock is link.client
        try:
            if mask & selectors.EVENT_READ:
                data = sock.recv(_CHUNK)
                if from_client:
                    link.up += data
                    link.client_eof = not data
                else:
                    link.down += data
                    link.server_eof = not data
            if mask & selectors.EVENT_WRITE:
                if from_client:
                    limit = len(link.down) if link.budget is None else link.budget
                    sent = sock.send(link.down[:limit])
                    del link.down[:sent]
                    if link.budget is not None:
                        link.budget -= sent
                else:
                    sent = sock.send(link.up)
                    del link.up[:sent]
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            # One peer reset (or vanished): reset the other too, as a load balancer does.
            self._links.remove(link)
            self._drop(link, rst=True)

    def _finish_links(self) -> None:
        """Pass each side's FIN on once its bytes are through; forget finished links."""
        for link in list(self._links):
            try:
                if link.client_eof and not link.up and not link.up_shut:
                    link.server.shutdown(socket.SHUT_WR)
                    link.up_shut = True
                if link.server_eof and not link.down and not link.down_shut:
                    link.client.shutdown(socket.SHUT_WR)
                    link.down_shut = True
            except OSError:
                self._links.remove(link)
                self._drop(link, rst=True)
                continue
            if link.up_shut and link.down_shut:
                self._links.remove(link)
                self._drop(link, rst=False)

    def _drop(self, link: _Link, *, rst: bool) -> None:
        for sock in (link.client, link.server):
            try:
                self._selector.unregister(sock)
            except (KeyError, ValueError):
                pass
            if rst:
                _reset(sock)
            else:
                sock.close()
