"""Local parsing of documents: syntax errors, operation kinds, the choice of operation, the
caches, and the document types accepted."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import graphql
import pytest
from graphql import DocumentNode, SourceLocation, print_ast

from gqlws_sync._documents import Parsed, parse_node, parse_text, prepare

THREE_KINDS = """
query Q { a }
mutation M { b }
subscription S { c }
"""


@dataclass
class Request:
    """What gql 4's ``gql("...")`` returns, reduced to the attributes prepare() reads."""

    document: DocumentNode
    variable_values: dict[str, Any] | None = None
    operation_name: str | None = None


# -- syntax ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("query { a", 1, 10),
        ("{ a }\n{ b(x: ) }", 2, 8),
        ("subscription S {\n  count(to: 3\n}", 3, 1),
        ("", 1, 1),
    ],
    ids=["eof", "second-line", "unclosed-args", "empty"],
)
def test_syntax_error_has_line_and_column(text: str, line: int, column: int) -> None:
    """A document that does not parse raises GraphQLSyntaxError locating the mistake."""
    with pytest.raises(graphql.GraphQLSyntaxError) as info:
        prepare(text, None, None)
    assert info.value.locations == [SourceLocation(line, column)]
    assert str(info.value).startswith("Syntax Error: ")
    assert f"GraphQL request:{line}:{column}" in str(info.value)


def test_syntax_error_is_not_cached() -> None:
    """A syntax error is raised again on every call, not remembered as a success."""
    for _ in range(2):
        with pytest.raises(graphql.GraphQLSyntaxError):
            parse_text("query { a ")


# -- kinds -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("{ a }", "query"),
        ("query { a }", "query"),
        ("query Q($n: Int) { a(n: $n) }", "query"),
        ("mutation { b }", "mutation"),
        ("mutation M($v: String!) { b(v: $v) }", "mutation"),
        ("subscription { c }", "subscription"),
        ("subscription S { c }", "subscription"),
        ("fragment F on Query { a }\nmutation { ...F }", "mutation"),
    ],
    ids=[
        "shorthand",
        "query",
        "named-query",
        "mutation",
        "named-mutation",
        "subscription",
        "named-subscription",
        "with-fragment",
    ],
)
def test_single_operation_kind(text: str, kind: str) -> None:
    """A document with one operation gives its kind without an operation name."""
    parsed, _, _ = prepare(text, None, None)
    assert parsed.kind(None) == kind


def test_kinds_by_name_in_document_order() -> None:
    """Parsed.kinds maps each operation's name to its kind, in document order."""
    parsed = parse_text(THREE_KINDS)
    assert list(parsed.kinds.items()) == [
        ("Q", "query"),
        ("M", "mutation"),
        ("S", "subscription"),
    ]


@pytest.mark.parametrize(
    ("name", "kind"), [("Q", "query"), ("M", "mutation"), ("S", "subscription")]
)
def test_operation_name_picks_one(name: str, kind: str) -> None:
    """operation_name picks the operation whose kind is reported."""
    parsed, _, operation_name = prepare(THREE_KINDS, None, name)
    assert operation_name == name
    assert parsed.kind(name) == kind


def test_operation_name_of_single_operation() -> None:
    """The name of the only operation may be given."""
    assert parse_text("mutation M { b }").kind("M") == "mutation"


def test_unknown_operation_name() -> None:
    """A name that matches no operation is a GraphQLError naming the ones there are."""
    with pytest.raises(graphql.GraphQLError) as info:
        parse_text(THREE_KINDS).kind("X")
    assert info.value.message == "the document has no operation named 'X' (it has: 'Q', 'M', 'S')"


def test_name_given_for_anonymous_operation() -> None:
    """A name given for a document whose only operation is anonymous is a GraphQLError."""
    with pytest.raises(graphql.GraphQLError) as info:
        parse_text("{ a }").kind("A")
    assert info.value.message == "the document has no operation named 'A' (it has: None)"


def test_several_operations_without_name() -> None:
    """Several named operations and no operation_name: a GraphQLError naming the choices."""
    with pytest.raises(graphql.GraphQLError) as info:
        parse_text(THREE_KINDS).kind(None)
    assert info.value.message == (
        "the document has 3 operations; pass operation_name= to choose one of 'Q', 'M', 'S'"
    )


def test_anonymous_and_named_operation_without_name() -> None:
    """An anonymous and a named operation without operation_name: a GraphQLError."""
    with pytest.raises(graphql.GraphQLError) as info:
        parse_text("{ a }\nquery N { b }").kind(None)
    assert info.value.message == (
        "the document has 2 operations; pass operation_name= to choose one of None, 'N'"
    )


@pytest.mark.parametrize(
    "text",
    ["{ a }\n{ b }", "mutation { b }\nquery { a }", "query { a }\nsubscription { c }"],
    ids=["two-queries", "mutation-then-query", "query-then-subscription"],
)
def test_several_anonymous_operations(text: str) -> None:
    """Two anonymous operations: a GraphQLError, not the kind of whichever came last."""
    with pytest.raises(graphql.GraphQLError):
        parse_text(text).kind(None)


def test_fragments_only_document_refused() -> None:
    """A document with fragments and no operation is refused with a GraphQLError."""
    parsed, _, _ = prepare("fragment F on Query { a }", None, None)
    assert parsed.kinds == {}
    with pytest.raises(graphql.GraphQLError) as info:
        parsed.kind(None)
    assert info.value.message == "the document has no operation (only fragments)"


def test_kind_errors_are_plain_graphql_errors() -> None:
    """Choice errors are GraphQLErrors, not syntax errors: the document itself parsed."""
    with pytest.raises(graphql.GraphQLError) as info:
        parse_text(THREE_KINDS).kind(None)
    assert not isinstance(info.value, graphql.GraphQLSyntaxError)


# -- caches ----------------------------------------------------------------------------------


def test_same_text_gives_same_parsed() -> None:
    """The same text is parsed once: the same Parsed object comes back."""
    text = "query CachedByText { a }"
    first, _, _ = prepare(text, None, None)
    second, _, _ = prepare(text, None, None)
    assert first is second
    assert first is parse_text(text)
    assert first.text == text


def test_different_text_gives_different_parsed() -> None:
    """Texts that differ (even in white space only) are separate entries."""
    assert parse_text("{ a }") is not parse_text("{  a }")


def test_same_node_gives_same_parsed() -> None:
    """A DocumentNode is printed once: the same node gives the same Parsed object."""
    node = graphql.parse("query CachedByNode($n: Int) { a(n: $n) }")
    first, _, _ = prepare(node, None, None)
    second, _, _ = prepare(node, None, None)
    assert first is second
    assert first is parse_node(node)
    assert first.node is node
    assert first.text == print_ast(node)
    assert first.kind(None) == "query"


def test_equal_nodes_are_cached_by_identity() -> None:
    """Two distinct but equal nodes are separate entries, each holding its own node."""
    text = "subscription ByIdentity { c }"
    one, other = graphql.parse(text), graphql.parse(text)
    assert parse_node(one) is not parse_node(other)
    assert parse_node(one).node is one
    assert parse_node(other).node is other


def test_parsed_is_frozen() -> None:
    """A cached Parsed cannot be changed by one caller under another."""
    parsed = parse_text("{ frozen }")
    with pytest.raises(AttributeError):
        parsed.text = "{ other }"  # type: ignore[misc]  # the point: it is frozen


# -- what prepare() accepts ------------------------------------------------------------------


def test_prepare_text() -> None:
    """A str document: the parsed text, the variables as a new dict, the name as given."""
    given = {"n": 1}
    parsed, variables, name = prepare("query Q($n: Int) { a(n: $n) }", given, "Q")
    assert isinstance(parsed, Parsed)
    assert parsed.text == "query Q($n: Int) { a(n: $n) }"
    assert variables == {"n": 1}
    assert type(variables) is dict
    assert variables is not given
    assert name == "Q"


def test_prepare_without_variables() -> None:
    """No variables stay None (no "variables" key is sent)."""
    assert prepare("{ a }", None, None)[1:] == (None, None)


def test_prepare_mapping_variables() -> None:
    """Variables given as any Mapping come back as a plain dict."""
    _, variables, _ = prepare("{ a }", MappingProxyType({"x": [1, 2]}), None)
    assert variables == {"x": [1, 2]}
    assert type(variables) is dict


def test_gql_request_brings_variables_and_name() -> None:
    """A gql-like request object gives its document, variables and operation name."""
    node = graphql.parse("query A($n: Int) { a(n: $n) }\nmutation B { b }")
    request = Request(node, {"n": 5}, "B")
    parsed, variables, name = prepare(request, None, None)
    assert parsed is parse_node(node)
    assert variables == {"n": 5}
    assert variables is not request.variable_values
    assert name == "B"
    assert parsed.kind(name) == "mutation"


def test_call_arguments_win_over_gql_request() -> None:
    """Variables and an operation name given to the call are used instead of the request's."""
    node = graphql.parse("query A($n: Int) { a(n: $n) }\nmutation B { b }")
    request = Request(node, {"n": 5}, "B")
    parsed, variables, name = prepare(request, {"n": 6}, "A")
    assert (variables, name) == ({"n": 6}, "A")
    assert parsed.kind(name) == "query"


def test_gql_request_without_variables_or_name() -> None:
    """A request whose variables and name are None gives None for both."""
    request = Request(graphql.parse("subscription { c }"))
    parsed, variables, name = prepare(request, None, None)
    assert (variables, name) == (None, None)
    assert parsed.kind(name) == "subscription"


def test_gql_request_with_bad_choice() -> None:
    """A request whose operation_name matches nothing fails like a str document."""
    request = Request(graphql.parse("{ a }"), None, "Missing")
    parsed, _, name = prepare(request, None, None)
    with pytest.raises(graphql.GraphQLError, match="no operation named 'Missing'"):
        parsed.kind(name)


@pytest.mark.parametrize(
    "document",
    [b"{ a }", 42, None, {"query": "{ a }"}, ["{ a }"]],
    ids=["bytes", "int", "none", "dict", "list"],
)
def test_other_types_refused(document: Any) -> None:
    """Anything but a str, a DocumentNode or a gql request is a TypeError naming its type."""
    with pytest.raises(TypeError) as info:
        prepare(document, None, None)
    assert str(info.value) == (
        "document must be a str, a graphql DocumentNode or gql's GraphQLRequest, not "
        f"{type(document).__name__}"
    )


def test_object_whose_document_is_not_a_node_refused() -> None:
    """An object with a .document that is not a DocumentNode is a TypeError."""

    @dataclass
    class Fake:
        document: str

    with pytest.raises(TypeError, match=r"not Fake$"):
        prepare(Fake("{ a }"), None, None)  # type: ignore[arg-type]  # the point: wrong type
