"""The ``gqlws`` command end to end: a real subprocess against a real reference server."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import ssl
import sys
from pathlib import Path

import pytest
import trustme
from graphql import build_schema

from gqlws_sync.testing import Faults, ReferenceServer, ServerFactory

from .conftest import RunCli, StartCli

HEADER_SECRET = "Bearer hdr-s3cret-7f3a"
INIT_SECRET = "init-s3cret-91c2"
INIT_PAYLOAD = json.dumps({"authToken": INIT_SECRET})


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (it was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- results on stdout ------------------------------------------------------------------------


def test_query_with_variables_prints_data(run_cli: RunCli, gqlws_server: ReferenceServer) -> None:
    """-V values are JSON when they parse (a=40 is a number), strings otherwise."""
    result = run_cli(
        gqlws_server.url,
        "query Q($n: String, $a: Int!, $b: Int!) { hello(name: $n) add(a: $a, b: $b) }",
        "-V",
        "n=Jürgen",
        "-V",
        "a=40",
        "--variable",
        "b=2",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"hello": "Hello Jürgen", "add": 42}
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        ("v=007", "007"),  # not JSON: kept as typed
        ('v="42"', "42"),  # a JSON string: how to force a string that looks like a number
        ("v=NaN", "NaN"),  # json.loads would take it, but it is not JSON
        ("v=a=b", "a=b"),  # only the first = separates the name
        ("v:a=b", "a=b"),  # gql-cli's form; the first of : and = ends the name
        ("v=12:30", "12:30"),
        ("v:http://h:1/?q=2", "http://h:1/?q=2"),
        (" v :x", "x"),  # spaces around the name do not count
    ],
)
def test_variable_kept_as_string(
    run_cli: RunCli, gqlws_server: ReferenceServer, argument: str, expected: str
) -> None:
    """A -V value that is not JSON (or is a JSON string) reaches the server as a string."""
    result = run_cli(gqlws_server.url, "query E($v: String!) { echo(value: $v) }", "-V", argument)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"echo": expected}


def test_gql_cli_variable_form(run_cli: RunCli, gqlws_server: ReferenceServer) -> None:
    """-V name:value, as gql-cli writes it, parses its value as JSON like name=value."""
    result = run_cli(
        gqlws_server.url,
        "query Q($n: String, $a: Int!, $b: Int!) { hello(name: $n) add(a: $a, b: $b) }",
        "-V",
        "n:Ada",
        "-V",
        "a:40",
        "-V",
        "b=2",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"hello": "Hello Ada", "add": 42}


def test_mutation_prints_data(run_cli: RunCli, gqlws_server: ReferenceServer) -> None:
    """A mutation runs once and prints its data."""
    result = run_cli(gqlws_server.url, "mutation { increment(by: 5) }")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"increment": 5}


@pytest.mark.parametrize("subprotocol", ["graphql-transport-ws", "graphql-ws"])
def test_subscription_prints_one_json_line_per_event(
    run_cli: RunCli, gqlws_server: ReferenceServer, subprotocol: str
) -> None:
    """Each event is one compact JSON line; the command ends when the stream completes."""
    result = run_cli(
        gqlws_server.url, "subscription { countdown(from: 3) }", "--subprotocol", subprotocol
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        '{"countdown": 3}',
        '{"countdown": 2}',
        '{"countdown": 1}',
    ]
    assert gqlws_server.handshakes[0].subprotocols == (subprotocol,)


def test_operation_name_selects_the_subscription(
    run_cli: RunCli, gqlws_server: ReferenceServer
) -> None:
    """With several operations, --operation-name decides both what runs and how it prints."""
    document = "query Q { hello } subscription S { countdown(from: 2) }"
    subscription = run_cli(gqlws_server.url, document, "--operation-name", "S")
    query = run_cli(gqlws_server.url, document, "--operation-name", "Q")
    assert (subscription.returncode, query.returncode) == (0, 0)
    assert subscription.stdout.splitlines() == ['{"countdown": 2}', '{"countdown": 1}']
    assert json.loads(query.stdout) == {"hello": "Hello world"}


def test_print_schema(run_cli: RunCli, gqlws_server: ReferenceServer) -> None:
    """--print-schema prints SDL that describes the server's schema."""
    result = run_cli(gqlws_server.url, "--print-schema")
    assert result.returncode == 0, result.stderr
    schema = build_schema(result.stdout)
    assert schema.subscription_type is not None
    assert "countdown" in schema.subscription_type.fields
    assert "countdown(from: Int!): Int" in result.stdout


def test_query_from_stdin(run_cli: RunCli, gqlws_server: ReferenceServer) -> None:
    """QUERY '-' reads the document from stdin."""
    result = run_cli(gqlws_server.url, "-", stdin='{ echo(value: "from stdin") }\n')
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"echo": "from stdin"}


def test_query_from_file(run_cli: RunCli, gqlws_server: ReferenceServer, tmp_path: Path) -> None:
    """QUERY '@FILE' reads the document from FILE."""
    path = tmp_path / "sub.graphql"
    path.write_text("subscription Down {\n  countdown(from: 1)\n}\n", encoding="utf-8")
    result = run_cli(gqlws_server.url, f"@{path}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ['{"countdown": 1}']


def test_headers_and_init_payload_reach_the_server(
    run_cli: RunCli, gqlws_server: ReferenceServer
) -> None:
    """-H goes into the upgrade request, --init-payload into connection_init."""
    result = run_cli(
        gqlws_server.url,
        "{ whoami { authorization initToken } }",
        "-H",
        f"Authorization: {HEADER_SECRET}",
        "--init-payload",
        INIT_PAYLOAD,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "whoami": {"authorization": HEADER_SECRET, "initToken": INIT_SECRET}
    }


def test_partial_data_is_printed_with_exit_code_1(
    run_cli: RunCli, gqlws_server: ReferenceServer
) -> None:
    """Data that came with errors goes to stdout; each error's message to stderr."""
    result = run_cli(gqlws_server.url, "{ partial { ok bad } }")
    assert result.returncode == 1
    assert json.loads(result.stdout) == {"partial": {"ok": "fine", "bad": None}}
    assert result.stderr == "gqlws: GraphQL error: bad field (at partial.bad)\n"


def test_demo_option_uses_an_embedded_server(run_cli: RunCli) -> None:
    """--demo needs no URL: it starts the reference server in-process."""
    result = run_cli("--demo", "-", stdin="subscription { countdown(from: 2) }")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ['{"countdown": 2}', '{"countdown": 1}']


def test_demo_program_exits_0(run_cli: RunCli) -> None:
    """``python -m gqlws_sync demo`` shows every step and succeeds."""
    result = run_cli("demo")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "240/240 correct" in result.stdout
    assert "reconnected and resubscribed" in result.stdout
    assert "with reconnect=False the caller gets TransportClosed" in result.stdout
    assert "demo finished" in result.stdout


def test_help_documents_exit_codes(run_cli: RunCli) -> None:
    """--help explains QUERY, -V parsing and every exit code."""
    result = run_cli("--help")
    assert result.returncode == 0
    for text in ("'@FILE'", "parsed as JSON", "-V name:value", "whichever comes first"):
        assert text in result.stdout
    for text in ("--subprotocol names a protocol", "did you mean wss://...?"):
        assert text in result.stdout
    for text in ("exit codes:", "130", "141"):
        assert text in result.stdout
    for code in "012345":
        assert f"\n  {code}    " in result.stdout


# -- exit codes -------------------------------------------------------------------------------


def test_refused_port_exits_3(run_cli: RunCli) -> None:
    """Nothing listening: a connection failure, one line, no traceback."""
    url = f"ws://127.0.0.1:{closed_port()}/graphql"
    result = run_cli(url, "{ hello }")
    assert result.returncode == 3
    assert (
        result.stderr
        == f"gqlws: connection failed: could not connect to {url}: connection refused\n"
    )


def test_wrong_path_exits_3(run_cli: RunCli, gqlws_server: ReferenceServer) -> None:
    """A URL the server does not upgrade (404) is a connection failure."""
    url = gqlws_server.url.replace("/graphql", "/nothing-here")
    result = run_cli(url, "{ hello }")
    assert result.returncode == 3
    assert "HTTP 404" in result.stderr


@pytest.mark.parametrize(
    ("faults", "code", "message"),
    [
        (Faults(http_status=401), 3, "HTTP 401"),
        (Faults(init_error="bad token"), 3, "4403"),
        (Faults(drop_on_subscribe=True), 3, "connection closed: "),
        (Faults(subprotocol_choice="none"), 4, "protocol error: "),
        (Faults(raw_on_subscribe=["not json"]), 4, "protocol error: "),
        (Faults(send_ack=False), 5, "timeout: no connection_ack within 0.3 s"),
    ],
    ids=["http-401", "init-refused", "dropped", "no-subprotocol", "garbage", "no-ack"],
)
def test_server_faults_map_to_exit_codes(
    run_cli: RunCli,
    gqlws_server_factory: ServerFactory,
    faults: Faults,
    code: int,
    message: str,
) -> None:
    """Each class of failure has its own exit code and a one-line message."""
    server = gqlws_server_factory(faults=faults)
    # Only the no-ack case may time out; the others keep the default, so a slow machine
    # cannot turn their failure into a timeout.
    timeout = ["--timeout", "0.3"] if code == 5 else []
    result = run_cli(server.url, "{ hello }", *timeout)
    assert result.returncode == code, result.stderr
    assert result.stderr.startswith("gqlws: ")
    assert message in result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("document", "first_line"),
    [
        ("{ slow(seconds: 30) }", None),
        ("subscription { ticks(interval: 30) }", '{"ticks": 0}'),
    ],
    ids=["query", "subscription-event"],
)
def test_timeout_exits_5(
    run_cli: RunCli, gqlws_server: ReferenceServer, document: str, first_line: str | None
) -> None:
    """--timeout bounds a query's result and the wait for each subscription event."""
    # 1 s: the same budget must first cover connecting, which has to succeed here.
    result = run_cli(gqlws_server.url, document, "--timeout", "1")
    assert result.returncode == 5
    assert result.stderr.startswith("gqlws: timeout: ")
    assert result.stdout.splitlines() == ([] if first_line is None else [first_line])
    gqlws_server.wait_for_message("complete")  # the operation was cancelled on the server


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{ boom }", "gqlws: GraphQL error: boom (at boom)\n"),
        ("{ nope }", "gqlws: GraphQL error: Cannot query field 'nope' on type 'Query'.\n"),
        (
            "{ hello",
            "gqlws: QUERY does not parse (line 1, column 8): Syntax Error: "
            "Expected Name, found <EOF>.\n",
        ),
        (
            "query A { hello } query B { hello }",
            "gqlws: QUERY has 2 operations; choose one with --operation-name\n",
        ),
    ],
    ids=["field-error", "invalid", "syntax", "ambiguous"],
)
def test_graphql_errors_exit_1(
    run_cli: RunCli, gqlws_server: ReferenceServer, document: str, message: str
) -> None:
    """Errors in the document or its result print their messages and exit 1."""
    result = run_cli(gqlws_server.url, document)
    assert result.returncode == 1
    assert result.stderr == message


def test_subscription_error_mid_stream_exits_1(
    run_cli: RunCli, gqlws_server: ReferenceServer
) -> None:
    """Events before the error are printed, then the error ends the command."""
    result = run_cli(gqlws_server.url, "subscription { failAfter(n: 2) }")
    assert result.returncode == 1
    assert result.stdout.splitlines() == ['{"failAfter": 1}', '{"failAfter": 2}']
    assert result.stderr == "gqlws: GraphQL error: failed after 2 events (at failAfter)\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give URL and QUERY"),
        (["ws://127.0.0.1:9/graphql"], "missing QUERY after URL"),
        (["http://127.0.0.1:9/graphql", "{ hello }"], "must start with ws:// or wss://"),
        (["ws://127.0.0.1:9/graphql", "{ a }", "-V", "novalue"], "expected name=value or name:"),
        (["ws://127.0.0.1:9/graphql", "{ a }", "-V", ":1"], "'' is not a GraphQL variable name"),
        (["ws://127.0.0.1:9/graphql", "{ a }", "-V", "$n=1"], "'$n' is not a GraphQL variable"),
        (["ws://127.0.0.1:9/graphql", "{ a }", "-V", "x:1", "-V", "x=2"], "'x' is set twice"),
        (["ws://127.0.0.1:9/graphql", "{ a }", "-V", "x=1", "-V", "x=2"], "'x' is set twice"),
        (["ws://127.0.0.1:9/graphql", "{ a }", "--init-payload", "[1]"], "a JSON object"),
        (["ws://127.0.0.1:9/graphql", "{ a }", "--timeout", "0"], "positive number"),
        (["ws://127.0.0.1:9/graphql", "{ a }", "--insecure"], "need a wss:// URL"),
        (["ws://127.0.0.1:9/graphql", "@/nonexistent/q.graphql"], "cannot read QUERY"),
        (["wss://127.0.0.1:9/graphql", "{ a }", "--ca", "/nonexistent.pem"], "cannot load CA"),
        (["--demo", "ws://127.0.0.1:9/graphql", "{ a }"], "--demo takes QUERY and no URL"),
        (["ws://127.0.0.1:9/graphql", "{ a }", "--subprotocol", "mqtt"], "invalid choice"),
        (["ws://127.0.0.1:9/graphql", "--print-schema", "-V", "a=1"], "takes no -V"),
        (["ws://127.0.0.1:9/graphql", "{ a }", "-H", "Sec-WebSocket-Protocol: x"], "--subprotocol"),
        (["ws://127.0.0.1:9/graphql", "{ a }", "-H", "X: 1", "-H", "x: 2"], "'x' is set twice"),
        (["ws://:9/graphql", "{ a }"], "with a host"),
    ],
)
def test_usage_errors_exit_2(run_cli: RunCli, args: list[str], message: str) -> None:
    """Bad command lines exit 2 with one line, before any connection is tried."""
    result = run_cli(*args)
    assert result.returncode == 2
    assert result.stderr.startswith("gqlws: error: ")
    assert message in result.stderr
    assert result.stderr.count("\n") == 1


# -- secrets ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("faults", "code"),
    [
        (Faults(http_status=401), 3),
        (Faults(init_error="denied"), 3),
        (Faults(subprotocol_choice="none"), 4),
        (Faults(send_ack=False), 5),
        (Faults(raw_on_subscribe=["not json"]), 4),
    ],
    ids=["http-401", "init-refused", "no-subprotocol", "no-ack", "garbage"],
)
def test_secrets_never_reach_stderr_on_failure(
    run_cli: RunCli, gqlws_server_factory: ServerFactory, faults: Faults, code: int
) -> None:
    """Neither the error line nor --verbose logging shows a header value or the init payload."""
    server = gqlws_server_factory(faults=faults)
    result = run_cli(
        server.url,
        "{ whoami { authorization } }",
        "--verbose",
        *(["--timeout", "0.3"] if code == 5 else []),
        "-H",
        f"Authorization: {HEADER_SECRET}",
        f"--init-payload={INIT_PAYLOAD}",
    )
    assert result.returncode == code, result.stderr
    assert "gqlws: " in result.stderr
    for secret in (HEADER_SECRET, "hdr-s3cret", INIT_SECRET):
        assert secret not in result.stderr
        assert secret not in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["-H", f"Authorization {HEADER_SECRET}"],  # no colon
        ["--init-payload", INIT_PAYLOAD[:-1]],  # broken JSON
        ["--init-payload", json.dumps([INIT_SECRET])],  # not an object
        ["--unknown-option", "-H", f"Authorization: {HEADER_SECRET}"],
        [f"-HAuthorization: {HEADER_SECRET}", "--unknown-option"],
    ],
    ids=["header-without-colon", "broken-json", "not-an-object", "unknown-option", "glued"],
)
def test_secrets_never_reach_stderr_on_usage_errors(run_cli: RunCli, args: list[str]) -> None:
    """Rejecting a secret argument does not echo it."""
    result = run_cli("ws://127.0.0.1:9/graphql", "{ hello }", *args)
    assert result.returncode == 2
    assert result.stderr.startswith("gqlws: error: ")
    for secret in (HEADER_SECRET, "hdr-s3cret", INIT_SECRET):
        assert secret not in result.stderr


# -- TLS ------------------------------------------------------------------------------------


@pytest.fixture
def tls_server(gqlws_server_factory: ServerFactory, tmp_path: Path) -> tuple[str, Path]:
    """A wss:// reference server with a throwaway CA; returns its URL and the CA's PEM file."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server = gqlws_server_factory(ssl_context=context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return server.url, ca_file


def test_ca_option_trusts_a_private_ca(run_cli: RunCli, tls_server: tuple[str, Path]) -> None:
    """--ca FILE verifies the server against that CA."""
    url, ca_file = tls_server
    result = run_cli(url, "{ hello }", "--ca", str(ca_file))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"hello": "Hello world"}
    assert result.stderr == ""


def test_unknown_ca_exits_3(run_cli: RunCli, tls_server: tuple[str, Path]) -> None:
    """Without --ca, a certificate from an unknown CA fails verification."""
    url, _ = tls_server
    result = run_cli(url, "{ hello }")
    assert result.returncode == 3
    assert "certificate" in result.stderr


def test_insecure_skips_verification_with_a_warning(
    run_cli: RunCli, tls_server: tuple[str, Path]
) -> None:
    """--insecure connects anyway and says so on stderr."""
    url, _ = tls_server
    result = run_cli(url, "{ hello }", "--insecure")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"hello": "Hello world"}
    assert result.stderr.startswith("gqlws: warning: --insecure")


# -- stopping a subscription ------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT is POSIX")
@pytest.mark.parametrize(
    ("subprotocol", "stop"),
    [("graphql-transport-ws", "complete"), ("graphql-ws", "stop")],
)
def test_sigint_stops_the_subscription_and_exits_130(
    start_cli: StartCli, gqlws_server: ReferenceServer, subprotocol: str, stop: str
) -> None:
    """Ctrl-C sends the protocol's stop message before the command exits 130."""
    cli = start_cli(
        gqlws_server.url,
        "subscription { ticks(interval: 0.05) }",
        "--subprotocol",
        subprotocol,
    )
    assert json.loads(cli.line()) == {"ticks": 0}
    assert json.loads(cli.line()) == {"ticks": 1}
    started = gqlws_server.wait_for_message("subscribe" if stop == "complete" else "start")
    cli.process.send_signal(signal.SIGINT)
    assert cli.wait() == 130
    assert gqlws_server.wait_for_message(stop, op_id=started["id"])["id"] == started["id"]
    assert cli.stderr == ""


@pytest.mark.skipif(sys.platform == "win32", reason="pipes and SIGPIPE semantics are POSIX")
def test_closed_stdout_stops_the_subscription_and_exits_141(
    start_cli: StartCli, gqlws_server: ReferenceServer
) -> None:
    """A reader that goes away (``| head -1``) ends the subscription quietly."""
    read_end, write_end = os.pipe()
    try:
        cli = start_cli(
            gqlws_server.url, "subscription { ticks(interval: 0.01) }", stdout=write_end
        )
    finally:
        os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], 10.0)
        assert ready, f"no output within 10 s: {cli.stderr!r}"
        assert os.read(read_end, 4096).startswith(b'{"ticks": 0}')
    finally:
        os.close(read_end)
    assert cli.wait() == 141
    assert cli.stderr == ""
    gqlws_server.wait_for_message("complete")
