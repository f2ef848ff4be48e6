"""``gqlws serve``: the reference server in the foreground, to point clients at.

It serves the demo schema over both subprotocols until Ctrl-C (SIGINT) or SIGTERM, and can
misbehave on a schedule (drop every connection, close them with a code, delay the ack) so a
client's error handling can be tried by hand. It needs the ``server`` extra.

stdout carries only what a script needs, one item a line, flushed at once: the URL, then,
with ``--tls``, the path of the CA certificate that verifies the server. Everything for a
person goes to stderr.

Signals: SIGINT and SIGTERM raise an exception in the main thread (``_Stop``), which leaves
the ``with`` block that owns the server, so shutdown runs in one place and the exit status is
0. Handlers only raise: setting an Event from a handler can deadlock if the signal lands
while the main thread holds that Event's lock.

This is a program, not the library: printing is its job.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import io
import logging
import math
import os
import signal
import ssl
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

from ._protocol import APOLLO_SUBPROTOCOL, GRAPHQLWS_SUBPROTOCOL
from .cli import _seconds  # the client command's own check: the two commands agree

if TYPE_CHECKING:
    from .testing import ReferenceServer

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "PATH", "main"]

PROG = "gqlws serve"
#: Loopback only: a demo server that anyone on the network can reach must be asked for.
DEFAULT_HOST = "127.0.0.1"
#: What the examples' GQLWS_URL points at by default.
DEFAULT_PORT = 8000
PATH = "/graphql"

EXIT_OK = 0
EXIT_USAGE = 2
#: The same code as the client command's "connection failed": here, could not listen.
EXIT_LISTEN = 3
EXIT_INTERRUPTED = 130

#: Close codes a server may send (RFC 6455 section 7.4; websockets refuses the others).
_SENDABLE_CODES = frozenset({1000, 1001, 1002, 1003, *range(1007, 1015)})
#: How long the main thread sleeps when no fault is scheduled; a signal cuts it short.
_IDLE_SLEEP = 3600.0
#: Reason sent with the Close frames of --close-every, so a client can tell them apart.
CLOSE_EVERY_REASON = "gqlws serve --close-every"

_WILDCARDS = {"0.0.0.0", "::", ""}

_EPILOG = f"""\
output:
  stdout gets the URL on the first line (ws://{DEFAULT_HOST}:{DEFAULT_PORT}{PATH} by
  default; with --port 0 it shows the port actually chosen) and, with --tls, the path of the
  CA certificate file on the second. A script can read both and then point a client at them:
    gqlws URL '{{ hello }}' --ca CAFILE
  The CA and its key are made afresh at each start and deleted at exit.

faults (each repeats until the server stops; they can be combined):
  --drop-every S       every S seconds, every open connection is cut at the TCP level, with
                       no Close frame: clients see a lost connection (code 1006)
  --close-every S CODE every S seconds, every open connection gets a Close frame with CODE
                       (1000-1003, 1007-1014 or 3000-4999), e.g. 1012 (service restart) or
                       4500 (internal error); the reason says it came from --close-every
  --ack-delay S        every connection_ack is sent S seconds after connection_init: try a
                       client's ack timeout (gqlws --timeout) against it
  --subprotocol P      speak only P: try a client that offers the other one

schema (the demo schema):
  queries hello(name), add(a, b), echo(value), boom, partial {{ ok bad }},
  whoami {{ authorization initToken }}, slow(seconds), subprotocol, message;
  mutations increment(by), setMessage(text);
  subscriptions countdown(from), ticks(interval), burst(count, size), failAfter(n).

exit status:
  0 stopped by Ctrl-C (SIGINT) or SIGTERM; 2 usage error or a missing extra;
  3 cannot listen (port in use, permission denied); 130 a second Ctrl-C cut shutdown short.

examples:
  gqlws serve
  gqlws serve --port 0 --tls
  gqlws serve --drop-every 5 --ack-delay 0.5
  gqlws serve --close-every 10 1012
"""


class UsageError(Exception):
    """A request that cannot be served: a missing extra, a bad option value."""


class _Stop(BaseException):
    """Raised by the SIGINT and SIGTERM handlers; a BaseException like KeyboardInterrupt."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{PROG}: error: {message} (see '{PROG} --help')\n")


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0 to 65535, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; its help and epilog are the command's documentation."""
    parser = _Parser(
        prog=PROG,
        allow_abbrev=False,
        description=(
            "Run the reference GraphQL-over-WebSocket server (both subprotocols, the demo\n"
            "schema) in the foreground until Ctrl-C or SIGTERM, to point clients at."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"interface to listen on (default: {DEFAULT_HOST}; 0.0.0.0 for all of them)",
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help=f"port to listen on (default: {DEFAULT_PORT}; 0 picks a free one)",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve wss:// with a certificate from a throwaway CA, whose file is printed",
    )
    parser.add_argument(
        "--subprotocol",
        choices=[GRAPHQLWS_SUBPROTOCOL, APOLLO_SUBPROTOCOL],
        help="speak only this subprotocol (default: both)",
    )
    parser.add_argument(
        "--drop-every",
        type=_seconds,
        metavar="S",
        help="cut every connection (TCP, no Close frame) every S seconds",
    )
    parser.add_argument(
        "--close-every",
        nargs=2,
        metavar=("S", "CODE"),
        help="send every connection a Close frame with CODE every S seconds",
    )
    parser.add_argument(
        "--ack-delay",
        type=_seconds,
        metavar="S",
        help="wait S seconds before each connection_ack",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log connections and frames to stderr",
    )
    return parser


@dataclass(frozen=True, slots=True)
class Periodic:
    """A fault repeated every ``interval_s`` seconds while the server runs."""

    interval_s: float
    what: str
    act: Callable[[ReferenceServer], None]


def _close_every(values: Sequence[str]) -> Periodic:
    interval_text, code_text = values
    try:
        interval = _seconds(interval_text)
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"--close-every: {exc}") from None
    try:
        code = int(code_text)
    except ValueError:
        raise UsageError(f"--close-every: not a close code: {code_text!r}") from None
    if code not in _SENDABLE_CODES and not 3000 <= code <= 4999:
        raise UsageError(
            f"--close-every: {code} is not a close code a server may send "
            "(1000-1003, 1007-1014, 3000-4999)"
        )
    return Periodic(
        interval,
        f"every connection is closed with code {code}",
        lambda server: server.close_connections(code, CLOSE_EVERY_REASON),
    )


def _schedule(args: argparse.Namespace) -> list[Periodic]:
    plan: list[Periodic] = []
    if args.drop_every is not None:
        plan.append(
            Periodic(
                args.drop_every,
                "every connection is dropped (TCP cut, no Close frame)",
                lambda server: server.drop_connections(),
            )
        )
    if args.close_every is not None:
        plan.append(_close_every(args.close_every))
    return plan


def _url(scheme: str, host: str, port: int) -> str:
    # A wildcard address is where to listen, not where to connect: name loopback instead.
    if host in _WILDCARDS:
        host = "::1" if host == "::" else "127.0.0.1"
    authority = f"[{host}]" if ":" in host else host
    return f"{scheme}://{authority}:{port}{PATH}"


def _tls_context(host: str, folder: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context with a certificate from a new CA, and the CA's PEM file."""
    try:
        import trustme  # noqa: PLC0415  # only --tls needs it
    except ImportError:
        raise UsageError("--tls needs trustme: pip install 'gqlws_sync[server]'") from None
    names = ["localhost", "127.0.0.1", "::1"]
    if host not in _WILDCARDS and host not in names:
        names.append(host)
    ca = trustme.CA(organization_name="gqlws serve")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    ca_file = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return context, ca_file


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    raise _Stop(signum)


@contextlib.contextmanager
def _stopped_by_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise ``_Stop`` in this thread while the block runs."""
    previous = {
        signum: signal.signal(signum, _raise_stop) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _serve_until_stopped(server: ReferenceServer, plan: list[Periodic]) -> None:
    """Run the scheduled faults until a signal raises ``_Stop``."""
    started = time.monotonic()
    due = [started + periodic.interval_s for periodic in plan]
    while True:
        now = time.monotonic()
        for index, periodic in enumerate(plan):
            if now >= due[index]:
                try:
                    periodic.act(server)
                except (RuntimeError, TimeoutError) as exc:
                    print(f"{PROG}: warning: {periodic.what} failed: {exc}", file=sys.stderr)
                # Keep to the grid; after a stall, skip the missed turns instead of bunching.
                due[index] += periodic.interval_s * max(
                    1, math.ceil((now - due[index]) / periodic.interval_s)
                )
        wait = min(due) - time.monotonic() if due else _IDLE_SLEEP
        # Sleeping is the point here: nothing to wait on but the clock. A signal handler
        # raises _Stop out of the sleep.
        time.sleep(max(0.0, wait))


def _configure_logging(verbose: bool) -> None:
    logger = logging.getLogger("gqlws_sync")
    handler = logging.StreamHandler(sys.stderr)
    if verbose:
        handler.setFormatter(logging.Formatter("%(relativeCreated)8.1f ms %(name)s: %(message)s"))
        logger.setLevel(logging.DEBUG)
    else:
        # A client that sends garbage (a TLS hello to a plain port) is the server's everyday
        # business: one line, not websockets' traceback.
        handler.setFormatter(_OneLineFormatter())
        logger.setLevel(logging.WARNING)
    logger.addHandler(handler)
    logger.propagate = False


class _OneLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f": {record.exc_info[1]!r}"
        return " ".join(f"{PROG}: {text}".split())


def _listen_error(exc: RuntimeError, host: str, port: int) -> str:
    cause = exc.__cause__
    if isinstance(cause, OSError) and cause.errno is not None:
        # asyncio's own strerror repeats the address in a long sentence; the errno says it.
        text = f"cannot listen on {host}:{port}: {os.strerror(cause.errno).lower()}"
        if cause.errno == errno.EADDRINUSE:
            text += " (choose another port with --port; --port 0 picks a free one)"
        return text
    return f"cannot listen on {host}:{port}: {cause or exc}"


def run(args: argparse.Namespace, plan: list[Periodic]) -> int:
    """Serve until a signal; return the exit status.

    Raises:
        UsageError: the request cannot be served (a missing extra).
    """
    try:
        from .testing import Faults, ReferenceServer  # noqa: PLC0415  # needs websockets
    except ImportError as exc:
        raise UsageError(f"needs the server extra: {exc}") from None
    faults = Faults()
    if args.subprotocol is not None:
        faults.protocols = (args.subprotocol,)
    if args.ack_delay is not None:
        faults.ack_delay = args.ack_delay

    with tempfile.TemporaryDirectory(prefix="gqlws-serve-") as folder, _stopped_by_signals():
        context, ca_file = _tls_context(args.host, Path(folder)) if args.tls else (None, None)
        server = ReferenceServer(
            host=args.host, port=args.port, ssl_context=context, faults=faults, path=PATH
        )
        try:
            try:
                server.start()
            except RuntimeError as exc:
                print(f"{PROG}: {_listen_error(exc, args.host, args.port)}", file=sys.stderr)
                return EXIT_LISTEN
            _announce(server, args, ca_file, plan)
            _serve_until_stopped(server, plan)
        except _Stop as stop:
            print(f"{PROG}: stopping ({stop})", file=sys.stderr)
        finally:
            # The one way out, also after an unexpected error. A second signal raises _Stop
            # out of stop() itself; the server's thread is a daemon, so exiting is safe then.
            server.stop()
    print(f"{PROG}: stopped", file=sys.stderr)
    return EXIT_OK


def _announce(
    server: ReferenceServer, args: argparse.Namespace, ca_file: Path | None, plan: list[Periodic]
) -> None:
    print(_url("wss" if args.tls else "ws", args.host, server.port), flush=True)
    if ca_file is not None:
        print(ca_file, flush=True)
    protocols = args.subprotocol or f"{GRAPHQLWS_SUBPROTOCOL} and {APOLLO_SUBPROTOCOL}"
    where = "all interfaces" if args.host in _WILDCARDS else args.host
    notes = [f"the demo schema over {protocols}, listening on {where}"]
    if args.tls:
        notes.append("TLS with a throwaway CA, whose certificate is the file printed above")
    if args.ack_delay is not None:
        notes.append(f"connection_ack is sent {args.ack_delay:g} s after connection_init")
    notes += [f"every {periodic.interval_s:g} s, {periodic.what}" for periodic in plan]
    notes.append("Ctrl-C stops it")
    for note in notes:
        print(f"{PROG}: {note}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``gqlws serve`` and return its exit status.

    Args:
        argv: the arguments after ``serve``; ``None`` reads ``sys.argv``.
    """
    parser = build_parser()
    args = parser.parse_args(sys.argv[2:] if argv is None else argv)
    try:
        plan = _schedule(args)
    except UsageError as exc:
        parser.error(str(exc))
    if isinstance(sys.stdout, io.TextIOWrapper):
        # A script reads the URL through a pipe: each line must leave at once.
        sys.stdout.reconfigure(line_buffering=True)
    _configure_logging(args.verbose)
    try:
        return run(args, plan)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except _Stop:
        return EXIT_INTERRUPTED
