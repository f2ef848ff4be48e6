"""The ``gqlws`` command: run one GraphQL operation over a WebSocket from a shell.

::

    gqlws URL QUERY [-V name=value]... [-H 'Name: value']... [options]
    gqlws URL --print-schema [options]
    gqlws --demo QUERY [options]          (against an embedded reference server)
    gqlws serve [--port N] [--tls] ...    (run the reference server; see gqlws serve --help)
    gqlws demo                            (a tour of the client against that server)

A query or mutation prints its ``data`` as JSON on stdout. A subscription prints one JSON
line per event, flushed at once, until the server completes it or Ctrl-C stops it (the
protocol's ``complete``/``stop`` is sent before exiting). Whether QUERY is a subscription is
read from the document itself, honouring ``--operation-name``.

QUERY is the document text; ``-`` reads it from stdin and ``@FILE`` from a file (no GraphQL
document can start with ``@``, so the two cannot be confused).

Errors print one line on stderr, never a traceback, a header value or the init payload, and
exit with a code scripts can branch on:

====  =======================================================================================
code  meaning
====  =======================================================================================
0     success
1     GraphQL errors: the server answered with errors (partial data, if any, still goes to
      stdout), or QUERY does not parse
2     usage error: bad arguments, unreadable QUERY file or CA file
3     connection failed: DNS, TCP, TLS, the upgrade refused (HTTP 401, 404, ...), the server
      refused ``connection_init`` or closed with an error code (4403, 4500, 1011, ...), or
      closed or dropped the connection
4     protocol error: the server broke the GraphQL-over-WebSocket protocol or chose no
      subprotocol
5     timeout: connecting, waiting for ``connection_ack``, or for a result or event
70    internal error: a bug in gqlws (run with ``--verbose`` for the traceback)
130   interrupted by Ctrl-C (SIGINT)
141   stdout was closed early (``gqlws ... | head -1``), as if killed by SIGPIPE
====  =======================================================================================

This module is a program, not the library: it is the one place that prints.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import math
import os
import re
import signal
import socket
import ssl
import sys
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, cast
from urllib.parse import urlsplit

from graphql import (
    GraphQLError,
    GraphQLSyntaxError,
    IntrospectionQuery,
    OperationDefinitionNode,
    OperationType,
    build_client_schema,
    get_introspection_query,
    parse,
    print_schema,
)

from . import __version__
from ._protocol import APOLLO_SUBPROTOCOL, GRAPHQLWS_SUBPROTOCOL
from .client import Client
from .exceptions import (
    TransportClosed,
    TransportConnectionFailed,
    TransportError,
    TransportProtocolError,
    TransportQueryError,
    TransportServerError,
)
from .options import DEFAULT_ACK_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, redact_url

if TYPE_CHECKING:
    from .testing import ReferenceServer

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_CONNECTION",
    "EXIT_GRAPHQL",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_PROTOCOL",
    "EXIT_TIMEOUT",
    "EXIT_USAGE",
    "exit_code_for",
    "main",
]

PROG = "gqlws"

EXIT_OK = 0
EXIT_GRAPHQL = 1
#: argparse's own code for a bad command line; every other usage error reuses it.
EXIT_USAGE = 2
EXIT_CONNECTION = 3
EXIT_PROTOCOL = 4
EXIT_TIMEOUT = 5
#: sysexits.h's EX_SOFTWARE.
EXIT_INTERNAL = 70
#: 128 + SIGINT, what a shell reports for a command stopped with Ctrl-C.
EXIT_INTERRUPTED = 130
#: 128 + SIGPIPE, what a shell reports for a writer whose reader went away.
EXIT_BROKEN_PIPE = 141

_MASK = "***"
#: A GraphQL name (spec section 2.1.9); a -V name must be one.
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")

_EPILOG = """\
QUERY:
  the GraphQL document itself, '-' to read it from stdin, or '@FILE' to read it from FILE.

variables (-V name=value, or gql-cli's -V name:value):
  the name ends at the first '=' or ':', whichever comes first (a GraphQL name holds
  neither), and the rest is the value: -V url=http://x:1/ and -V url:http://x:1/ both set
  url to "http://x:1/", and -V t:12=30 sets t to "12=30".
  The value is parsed as JSON when it parses (-V n=3 is the number 3, -V on=true a boolean,
  -V 'ids=[1,2]' a list, -V 'in={"a":1}' an object), and kept as a string otherwise
  (-V name=Ada is "Ada", -V zip=007 is "007"). Quote to force a string: -V 'n="3"'.

output:
  a query or mutation prints its data as indented JSON; a subscription prints one compact
  JSON line per event as it arrives, until the server completes it or Ctrl-C stops it
  (the server is told to stop the subscription first).

exit codes:
  0    success
  1    GraphQL errors (partial data, if any, is still printed), or QUERY does not parse
  2    usage error: bad arguments, unreadable QUERY or CA file
  3    connection failed: DNS, TCP, TLS, upgrade refused (HTTP 401, 404, ...),
       connection_init refused, connection closed (4500, 1011, ...) or dropped
  4    protocol error: the server broke the protocol or chose no subprotocol
  5    timeout: connect, connection_ack, or a result or event (see --timeout)
  70   internal error (a bug; --verbose shows the traceback)
  130  interrupted (Ctrl-C)
  141  stdout closed early (e.g. piped into head)

Errors are one line on stderr and never show header values or the init payload.
When --subprotocol names a protocol the server does not speak, the line says which option
to use instead. When a failure to connect looks like the wrong scheme (ws:// to a TLS port,
wss:// to a plain one), one more short connection checks what the port speaks, and if it
is the other, the line ends with: did you mean wss://...? (or ws://).

examples:
  gqlws ws://localhost:8000/graphql '{ hello }'
  gqlws ws://localhost:8000/graphql 'query Q($n: String) { hello(name: $n) }' -V n=Ada
  gqlws wss://api.example.com/graphql @ops.graphql --operation-name Feed \\
        -H 'Authorization: Bearer TOKEN'
  echo 'subscription { countdown(from: 3) }' | gqlws --demo -
  gqlws --demo --print-schema
"""


class UsageError(Exception):
    """A bad command line found after argparse was done; exits with ``EXIT_USAGE``."""


class _Parser(argparse.ArgumentParser):
    """argparse, but its errors are one line and never show a secret argument."""

    secrets: Sequence[str] = ()

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, _usage_line(message, self.secrets))


def _usage_line(message: str, secrets: Sequence[str] = ()) -> str:
    # argparse quotes the offending argument in some messages ("unrecognized arguments: ...");
    # a mistyped option right before a token must not print the token.
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            message = message.replace(secret, _MASK)
    return f"{PROG}: error: {_one_line(message)} (see '{PROG} --help')\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())


# -- parsing the command line --------------------------------------------------------------


def _variable(text: str) -> tuple[str, Any]:
    # gql-cli writes name:value, curl-like tools name=value. A GraphQL name can hold neither
    # character, so the first of the two always ends the name and the value may contain both.
    cut = min((i for i in (text.find("="), text.find(":")) if i >= 0), default=-1)
    if cut < 0:
        raise argparse.ArgumentTypeError("expected name=value or name:value")
    name = text[:cut].strip()
    if not _NAME.fullmatch(name):
        raise argparse.ArgumentTypeError(f"{name!r} is not a GraphQL variable name")
    return name, _json_or_string(text[cut + 1 :])


def _json_or_string(raw: str) -> Any:
    def reject(constant: str) -> NoReturn:
        # json.loads takes NaN and Infinity, which are not JSON; keep such words as strings.
        raise ValueError(constant)

    try:
        return json.loads(raw, parse_constant=reject)
    except ValueError:
        return raw


def _header(text: str) -> tuple[str, str]:
    # The value is a secret (Authorization, cookies): no message here may contain it.
    name, sep, value = text.partition(":")
    name = name.strip()
    if not sep or not name or any(ch.isspace() for ch in name):
        raise argparse.ArgumentTypeError("expected 'Name: value'")
    return name, value.strip()


def _init_payload(text: str) -> dict[str, Any]:
    # The payload usually carries a token: report where it is broken, never what it says.
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(
            f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    if not isinstance(payload, dict):
        raise argparse.ArgumentTypeError(
            f"must be a JSON object, not a JSON {type(payload).__name__}"
        )
    return payload


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text!r}")
    return value


def build_parser(secrets: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The argument parser; its help and epilog are the command's documentation.

    Args:
        secrets: arguments its error messages must mask (see ``_secret_arguments``).
    """
    parser = _Parser(
        prog=PROG,
        # An abbreviation ("--init") would slip past the masking of secret arguments.
        allow_abbrev=False,
        usage=(
            f"{PROG} URL QUERY [options]\n"
            f"       {PROG} URL --print-schema [options]\n"
            f"       {PROG} --demo QUERY [options]\n"
            f"       {PROG} serve [--port N] [--tls] [faults]   (see {PROG} serve --help)\n"
            f"       {PROG} demo"
        ),
        description=(
            "Run one GraphQL query, mutation or subscription over a WebSocket\n"
            "(graphql-transport-ws or Apollo's graphql-ws) and print the result as JSON.\n"
            f"'{PROG} serve' runs a server to try it against (with faults on demand);\n"
            f"'{PROG} demo' shows the client library at work against that server."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.secrets = secrets
    parser.add_argument(
        "target",
        nargs="*",
        metavar="URL QUERY",
        help="ws:// or wss:// endpoint, then the document (QUERY: text, '-' or '@FILE')",
    )
    parser.add_argument(
        "-V",
        "--variable",
        dest="variables",
        action="append",
        type=_variable,
        default=[],
        metavar="NAME=VALUE",
        help=(
            "set a variable (NAME:VALUE works too); VALUE is JSON if it parses, else a string "
            "(repeatable)"
        ),
    )
    parser.add_argument(
        "-H",
        "--header",
        dest="headers",
        action="append",
        type=_header,
        default=[],
        metavar="'NAME: VALUE'",
        help="add an HTTP header to the upgrade request (repeatable; never printed)",
    )
    parser.add_argument(
        "--init-payload",
        type=_init_payload,
        metavar="JSON",
        help="JSON object sent as the connection_init payload (never printed)",
    )
    parser.add_argument(
        "--subprotocol",
        choices=[GRAPHQLWS_SUBPROTOCOL, APOLLO_SUBPROTOCOL],
        help="offer only this subprotocol (default: offer both, graphql-transport-ws first)",
    )
    tls = parser.add_mutually_exclusive_group()
    tls.add_argument(
        "--ca",
        metavar="FILE",
        help="trust the CA certificates in this PEM file (wss:// only)",
    )
    tls.add_argument(
        "--insecure",
        action="store_true",
        help="do not verify the server's certificate (wss:// only; prints a warning)",
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        metavar="S",
        help=(
            "seconds allowed to connect, to get connection_ack and to get a query's result; "
            "for a subscription also the longest wait for each next event "
            "(default: 10 s to connect and per query, subscriptions wait forever)"
        ),
    )
    parser.add_argument(
        "--operation-name",
        metavar="NAME",
        help="run the operation of this name when QUERY holds several",
    )
    parser.add_argument(
        "--print-schema",
        action="store_true",
        help="print the server's schema in SDL, from an introspection query (no QUERY)",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="start the embedded reference server (demo schema) and use it instead of URL",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log the client's activity to stderr (secrets stay masked)",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


@dataclass(frozen=True)
class Request:
    """Everything the command line asked for, checked and ready to run."""

    url: str | None
    document: str | None
    operation_name: str | None
    is_subscription: bool
    variables: dict[str, Any] | None
    headers: dict[str, str] | None
    init_payload: dict[str, Any] | None
    subprotocols: list[str] | None
    ssl_context: ssl.SSLContext | None
    insecure: bool
    timeout: float | None


def _request(args: argparse.Namespace) -> Request:
    """Check the combination of arguments and load QUERY and the CA file.

    Raises:
        UsageError: a combination that cannot run, or a file that cannot be read.
        GraphQLError: QUERY does not parse, or names no runnable operation.
    """
    target: list[str] = args.target
    wanted = (0 if args.demo else 1) + (0 if args.print_schema else 1)
    if len(target) != wanted:
        if args.demo and args.print_schema:
            raise UsageError("--demo --print-schema takes no URL and no QUERY")
        if args.demo:
            raise UsageError("--demo takes QUERY and no URL (it uses the embedded server's)")
        if args.print_schema:
            raise UsageError("--print-schema takes URL and no QUERY")
        if not target:
            raise UsageError("give URL and QUERY (or --demo QUERY)")
        if len(target) == 1:
            raise UsageError("missing QUERY after URL")
        raise UsageError(f"expected URL and QUERY, got {len(target)} arguments")

    url = None if args.demo else target[0]
    if url is not None and not url.startswith(("ws://", "wss://")):
        # The client would say the same, less helpfully for someone holding an http:// URL.
        raise UsageError(f"URL must start with ws:// or wss://, not {redact_url(url)!r}")
    is_tls = url is not None and url.startswith("wss://")
    if (args.ca or args.insecure) and not is_tls:
        suggestion = "" if url is None else f" (did you mean {_other_scheme(url)}?)"
        raise UsageError(f"--ca and --insecure need a wss:// URL{suggestion}")

    document = None
    is_subscription = False
    if not args.print_schema:
        document = _read_query(target[-1])
        is_subscription = _operation(document, args.operation_name) is OperationType.SUBSCRIPTION
    elif args.variables or args.operation_name:
        raise UsageError("--print-schema takes no -V and no --operation-name")

    variables: dict[str, Any] = {}
    for name, value in args.variables:
        if name in variables:
            raise UsageError(f"variable {name!r} is set twice")
        variables[name] = value
    headers: dict[str, str] = {}
    for name, value in args.headers:
        if name.lower() == "sec-websocket-protocol":
            raise UsageError("choose the subprotocol with --subprotocol, not with -H")
        if name.lower() in (key.lower() for key in headers):
            raise UsageError(f"header {name!r} is set twice")
        headers[name] = value

    return Request(
        url=url,
        document=document,
        operation_name=args.operation_name,
        is_subscription=is_subscription,
        variables=variables or None,
        headers=headers or None,
        init_payload=args.init_payload,
        subprotocols=[args.subprotocol] if args.subprotocol else None,
        ssl_context=_ssl_context(args.ca, args.insecure),
        insecure=args.insecure,
        timeout=args.timeout,
    )


def _read_query(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    if source.startswith("@"):
        path = Path(source[1:])
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise UsageError(f"cannot read QUERY from {str(path)!r}: {reason}") from None
    return source


def _operation(document: str, operation_name: str | None) -> OperationType:
    """The type of the operation the server will run, found as the server will find it."""
    ast = parse(document)
    operations = [d for d in ast.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        for operation in operations:
            if operation.name is not None and operation.name.value == operation_name:
                return operation.operation
        raise GraphQLError(f"QUERY has no operation named {operation_name!r}")
    if len(operations) == 1:
        return operations[0].operation
    if not operations:
        raise GraphQLError("QUERY has no operation, only fragments")
    raise GraphQLError(f"QUERY has {len(operations)} operations; choose one with --operation-name")


def _ssl_context(cafile: str | None, insecure: bool) -> ssl.SSLContext | None:
    if cafile is not None:
        try:
            return ssl.create_default_context(cafile=cafile)
        except (OSError, ssl.SSLError) as exc:
            reason = exc.strerror or str(exc)
            raise UsageError(f"cannot load CA file {cafile!r}: {reason}") from None
    if insecure:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return None


# -- running --------------------------------------------------------------------------------


def exit_code_for(exc: BaseException) -> int:
    """The exit code for an exception that ended the command (see the module docstring)."""
    # Timeouts first: AckTimeout is also a TransportServerError and ConnectTimeout a
    # TransportConnectionFailed, and the table promises 5 for every timeout.
    if isinstance(exc, TimeoutError):
        return EXIT_TIMEOUT
    if isinstance(exc, (TransportQueryError, GraphQLError)):
        return EXIT_GRAPHQL
    if isinstance(exc, TransportProtocolError):
        return EXIT_PROTOCOL
    if isinstance(exc, (TransportConnectionFailed, TransportServerError, TransportClosed)):
        return EXIT_CONNECTION
    if isinstance(exc, TransportError):  # TransportAlreadyConnected cannot happen here
        return EXIT_CONNECTION
    if isinstance(exc, UsageError):
        return EXIT_USAGE
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    return EXIT_INTERNAL


def _describe(exc: BaseException) -> str:
    """One line for stderr; library messages already leave out headers and init payloads."""
    if isinstance(exc, TransportQueryError):
        messages = [_error_message(error) for error in exc.errors or []] or [str(exc)]
        label = "GraphQL error" if len(messages) == 1 else f"{len(messages)} GraphQL errors"
        return f"{label}: {'; '.join(messages)}"
    if isinstance(exc, GraphQLSyntaxError):
        where = ""
        if exc.locations:
            where = f" (line {exc.locations[0].line}, column {exc.locations[0].column})"
        return f"QUERY does not parse{where}: {exc.message}"
    if isinstance(exc, GraphQLError):
        return exc.message
    if isinstance(exc, UsageError):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return f"timeout: {exc}"
    if isinstance(exc, TransportProtocolError):
        return f"protocol error: {exc}"
    if isinstance(exc, TransportClosed):
        # The client's own messages already say so ("connection closed by the server ...").
        text = str(exc)
        return text if text.startswith("connection") else f"connection closed: {text}"
    if isinstance(exc, TransportServerError):
        return f"server error: {exc}"
    if isinstance(exc, TransportError):
        return f"connection failed: {exc}"
    return f"internal error: {type(exc).__name__}: {exc}"


# -- hints in the command's own terms ------------------------------------------------------

#: The library's advice to Python callers ("pass subprotocols=[...]"), from the ';' that opens
#: the clause to the end of the message; the command says it with its own options instead.
_PYTHON_ADVICE = re.compile(r";[^;]*\bsubprotocols=\[.*$")
#: What the client says when the upgrade succeeded but no subprotocol was chosen.
_NO_CHOICE = "without choosing a subprotocol"
#: Bound on the one extra connection that checks a suspected wrong scheme.
PROBE_TIMEOUT = 2.0


def _with_hints(line: str, exc: BaseException, request: Request) -> str:
    """The error line, with advice a person at a shell can act on.

    The library's messages advise Python callers; the command's users need its options.
    A scheme is suggested only once one short connection has shown what the port speaks,
    so the advice is never a guess.
    """
    line = _subprotocol_advice(line, exc, request.subprotocols)
    if request.url is not None:
        hint = _scheme_hint(request.url, exc)
        if hint is not None:
            line += f"; {hint}"
    return line


def _subprotocol_advice(line: str, exc: BaseException, offered: list[str] | None) -> str:
    if not isinstance(exc, TransportProtocolError):
        return line
    other = None
    if offered is not None:
        other = APOLLO_SUBPROTOCOL if offered == [GRAPHQLWS_SUBPROTOCOL] else GRAPHQLWS_SUBPROTOCOL
    use_other = f"use --subprotocol {other}, or leave out --subprotocol to offer both"
    if _PYTHON_ADVICE.search(line):
        # The server took the subprotocol offered, then closed 1002/4406 before the ack.
        if other is None:
            # Without --subprotocol the client has already tried each protocol in turn.
            advice = (
                f"; it refused both {GRAPHQLWS_SUBPROTOCOL} and {APOLLO_SUBPROTOCOL}: "
                "check that the URL is a GraphQL over WebSocket endpoint"
            )
        else:
            advice = f"; it probably speaks {other}: {use_other}"
        return _PYTHON_ADVICE.sub(lambda _match: advice, line)
    if other is not None and _NO_CHOICE in line:
        # graphql-ws on Node, for one, accepts an upgrade that offers only a protocol it does
        # not speak, without choosing it, and closes 4406 a moment later.
        head = line[: line.rfind(";")] if ";" in line else line
        return f"{head}; a server that speaks only {other} answers this way: {use_other}"
    return line


def _scheme_hint(url: str, exc: BaseException) -> str | None:
    """The "did you mean wss://…?" advice, or None unless the other scheme is shown to fit."""
    if isinstance(exc, TimeoutError) or not isinstance(exc, TransportError):
        return None
    if _in_chain(exc, (ConnectionRefusedError, socket.gaierror, ssl.SSLCertVerificationError)):
        return None  # no TCP connection, or a TLS handshake that got as far as a certificate
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if host is None:
        return None
    if parts.scheme == "ws":
        # A TLS port drops or refuses (nginx, Go: HTTP 400) a plain HTTP request; anything
        # that speaks WebSocket closes with a code of its own instead.
        suspect = isinstance(exc, TransportConnectionFailed) or (
            isinstance(exc, (TransportProtocolError, TransportServerError))
            and exc.code in (None, 400)
        )
        if suspect and _speaks_tls(host, port or 80):
            return f"did you mean {_other_scheme(url)}? (port {port or 80} speaks TLS)"
    elif parts.scheme == "wss":
        suspect = isinstance(exc, TransportConnectionFailed) and _in_chain(
            exc, (ssl.SSLError, ConnectionError)
        )
        if suspect and _speaks_plain_http(host, port or 443):
            return (
                f"did you mean {_other_scheme(url)}? "
                f"(port {port or 443} speaks plain HTTP, not TLS)"
            )
    return None


def _other_scheme(url: str) -> str:
    """``url`` with ws:// and wss:// swapped, fit to print (no credentials)."""
    swapped = "ws://" + url[6:] if url.startswith("wss://") else "wss://" + url[5:]
    return redact_url(swapped)


def _in_chain(exc: BaseException, types: tuple[type[BaseException], ...]) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, types):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _speaks_tls(host: str, port: int) -> bool:
    """Whether a TLS handshake with ``host:port`` completes; nothing is verified or requested."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((host, port), PROBE_TIMEOUT) as sock,
            context.wrap_socket(sock, server_hostname=host),
        ):
            return True
    except (OSError, ValueError):  # ssl.SSLError is an OSError
        return False


def _speaks_plain_http(host: str, port: int) -> bool:
    """Whether ``host:port`` answers a plain HTTP request for ``/`` in HTTP."""
    authority = f"[{host}]" if ":" in host else host
    answer = b""
    try:
        request = f"GET / HTTP/1.1\r\nHost: {authority}:{port}\r\nConnection: close\r\n\r\n"
        with socket.create_connection((host, port), PROBE_TIMEOUT) as sock:
            sock.sendall(request.encode("ascii"))
            while len(answer) < 5:
                chunk = sock.recv(5 - len(answer))
                if not chunk:
                    break
                answer += chunk
    except (OSError, UnicodeError):
        return False
    return answer == b"HTTP/"


def _error_message(error: Any) -> str:
    if isinstance(error, dict):
        message = error.get("message")
        path = error.get("path")
        text = str(message) if message is not None else json.dumps(error)
        if isinstance(path, list) and path:
            text += f" (at {'.'.join(str(part) for part in path)})"
        return text
    return str(error)


def _print_json(data: Any, *, indent: int | None) -> None:
    print(json.dumps(data, indent=indent, ensure_ascii=False), flush=True)


@contextlib.contextmanager
def _endpoint(request: Request) -> Iterator[str]:
    """The URL to use: the given one, or that of a reference server started for ``--demo``."""
    if request.url is not None:
        yield request.url
        return
    try:
        from .testing import ReferenceServer  # noqa: PLC0415  # only --demo needs websockets
    except ImportError as exc:
        raise UsageError(f"--demo needs the server extra: {exc}") from None
    server: ReferenceServer = ReferenceServer()
    with server:
        yield server.url


def _run(request: Request) -> int:
    if request.insecure:
        print(
            f"{PROG}: warning: --insecure: the server's certificate is not verified; "
            "anyone on the network path can read and change this connection",
            file=sys.stderr,
        )
    timeout = request.timeout
    with _endpoint(request) as url:
        try:
            client = Client(
                url,
                headers=request.headers,
                ssl=request.ssl_context if request.ssl_context is not None else False,
                init_payload=request.init_payload,
                subprotocols=request.subprotocols,
                connect_timeout=DEFAULT_CONNECT_TIMEOUT if timeout is None else timeout,
                ack_timeout=DEFAULT_ACK_TIMEOUT if timeout is None else timeout,
            )
        except (TypeError, ValueError) as exc:
            # The client checks its options (a header it reserves, a URL without a host);
            # its messages name the option, never a header value.
            raise UsageError(str(exc)) from None
        with client:
            if request.document is None:
                return _print_schema(client, timeout)
            if request.is_subscription:
                return _subscribe(client, request)
            try:
                data = client.execute(
                    request.document,
                    request.variables,
                    request.operation_name,
                    timeout=timeout,
                )
            except TransportQueryError as exc:
                if exc.data is not None:
                    _print_json(exc.data, indent=2)
                raise
            _print_json(data, indent=2)
    return EXIT_OK


def _subscribe(client: Client, request: Request) -> int:
    assert request.document is not None
    subscription = client.subscribe(
        request.document,
        request.variables,
        request.operation_name,
        timeout=request.timeout,
    )
    # Leaving this block in any way, Ctrl-C included, stops the subscription on the server.
    with subscription:
        try:
            for data in subscription:
                _print_json(data, indent=None)
        except TransportQueryError as exc:
            if exc.data is not None:
                _print_json(exc.data, indent=None)
            raise
    return EXIT_OK


def _print_schema(client: Client, timeout: float | None) -> int:
    data = client.execute(get_introspection_query(descriptions=True), timeout=timeout)
    try:
        # build_client_schema checks the shape itself and raises on a bad one.
        schema = build_client_schema(cast("IntrospectionQuery", data))
    except (TypeError, ValueError, GraphQLError) as exc:
        raise TransportProtocolError(
            f"the introspection result is not a valid schema: {exc}"
        ) from exc
    print(print_schema(schema), flush=True)
    return EXIT_OK


def _configure_logging(verbose: bool) -> None:
    logger = logging.getLogger("gqlws_sync")
    if verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(relativeCreated)8.1f ms %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    else:
        # Without a handler, logging's last resort prints warnings to stderr, which would
        # break the promise of one line per error; --verbose shows them.
        logger.addHandler(logging.NullHandler())
    logger.propagate = False


def _secret_arguments(argv: Sequence[str]) -> list[str]:
    """The arguments that must never be echoed: header values and the init payload."""
    secrets: list[str] = []
    for index, arg in enumerate(argv):
        if arg in ("-H", "--header", "--init-payload"):
            if index + 1 < len(argv):
                secrets.append(argv[index + 1])
        elif arg.startswith(("--header=", "--init-payload=")):
            secrets.append(arg.split("=", 1)[1])
        elif arg.startswith("-H"):
            secrets.append(arg[2:])
    # A message may repeat a header's value alone, without its name.
    secrets += [s.partition(":")[2].strip() for s in secrets if ":" in s]
    # Masking a one- or two-letter "secret" would mangle the message and hide nothing.
    return [s for s in secrets if len(s) >= 3]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command and return its exit code (the console script ``gqlws``).

    Args:
        argv: the arguments after the program name; ``None`` reads ``sys.argv``.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    # A URL starts with ws:// or wss://, so these words can only be subcommands. Their
    # modules are imported on demand: they need the server extra, the command does not.
    if argv[:1] == ["serve"]:
        from ._serve import main as serve_main  # noqa: PLC0415

        return serve_main(argv[1:])
    if argv[:1] == ["demo"]:
        from ._demo import main as demo_main  # noqa: PLC0415

        return demo_main(argv[1:])
    # A shell that started us in the background may have left SIGINT ignored; the exit
    # code table promises that Ctrl-C stops a subscription cleanly.
    with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if isinstance(sys.stdout, io.TextIOWrapper):
        # JSON travels as UTF-8 (RFC 8259 section 8.1), whatever the locale says.
        sys.stdout.reconfigure(encoding="utf-8")

    secrets = _secret_arguments(argv)
    parser = build_parser(secrets)
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)

    request: Request | None = None
    try:
        request = _request(args)
        return _run(request)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Python would print an error when it flushes stdout at exit; point it at nothing.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except UsageError as exc:
        sys.stderr.write(_usage_line(str(exc), secrets))
        return EXIT_USAGE
    except Exception as exc:
        code = exit_code_for(exc)
        if code == EXIT_INTERNAL and args.verbose:
            traceback.print_exc()
        line = _describe(exc)
        if request is not None:
            line = _with_hints(line, exc, request)
        for secret in secrets:
            line = line.replace(secret, _MASK)
        print(f"{PROG}: {_one_line(line)}", file=sys.stderr)
        return code
