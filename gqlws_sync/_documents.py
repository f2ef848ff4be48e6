"""Documents are parsed here, on the caller's thread, before anything is sent.

A document that does not parse makes several servers close the whole connection (Strawberry
with 4400, every graphql-ws based one with 4500), failing every other caller's operations
with someone else's syntax error. Parsing locally keeps the mistake with its caller, and
gives the operation's kind, which reconnection needs: a query may be sent again, a mutation
never. Parses are cached by document text (and by node identity for parsed documents), so a
repeated document costs a dictionary lookup.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol, TypeAlias

from graphql import DocumentNode, GraphQLError, OperationDefinitionNode, parse, print_ast

from ._registry import Kind

#: Documents remembered, by text and by node. Applications use a fixed set of documents;
#: one that builds documents on the fly evicts the oldest and only pays the parse again.
CACHE_SIZE = 512


class HasDocument(Protocol):
    """gql 4's ``GraphQLRequest`` (what ``gql("...")`` returns), without importing gql."""

    @property
    def document(self) -> DocumentNode: ...


Document: TypeAlias = "str | DocumentNode | HasDocument"


@dataclass(frozen=True, slots=True)
class Parsed:
    """One document, parsed: the text to send and each operation's kind by name."""

    text: str
    node: DocumentNode
    #: Operation name (``None`` for an anonymous one) to kind, in document order.
    kinds: dict[str | None, Kind]
    #: Every operation's name in document order, repeats included (``kinds`` keeps one).
    names: tuple[str | None, ...]

    def kind(self, operation_name: str | None) -> Kind:
        """The kind of the operation the server will run.

        Raises:
            GraphQLError: the name matches no operation, or the document has several and
                no name says which (the server would refuse it after the fact).
        """
        kinds = self.kinds
        names = self.names
        if operation_name is not None:
            if names.count(operation_name) > 1:
                raise GraphQLError(
                    f"the document has {names.count(operation_name)} operations named "
                    f"{operation_name!r}"
                )
            try:
                return kinds[operation_name]
            except KeyError:
                raise GraphQLError(
                    f"the document has no operation named {operation_name!r} "
                    f"(it has: {', '.join(repr(name) for name in names)})"
                ) from None
        if len(names) == 1:
            return kinds[names[0]]
        if not names:
            raise GraphQLError("the document has no operation (only fragments)")
        raise GraphQLError(
            f"the document has {len(names)} operations; pass operation_name= to choose one "
            f"of {', '.join(repr(name) for name in names)}"
        )


@lru_cache(maxsize=CACHE_SIZE)
def parse_text(text: str) -> Parsed:
    """Parse ``text`` (cached).

    Raises:
        GraphQLSyntaxError: with its line and column.
    """
    node = parse(text)
    return Parsed(text, node, *_operations(node))


_by_node: OrderedDict[int, tuple[DocumentNode, Parsed]] = OrderedDict()


def parse_node(node: DocumentNode) -> Parsed:
    """A parsed document as sent: printed once, remembered by identity."""
    key = id(node)
    entry = _by_node.get(key)
    if entry is not None and entry[0] is node:
        return entry[1]
    parsed = Parsed(print_ast(node), node, *_operations(node))
    # Holding the node keeps its id from being reused by another object.
    _by_node[key] = (node, parsed)
    while len(_by_node) > CACHE_SIZE:
        _by_node.popitem(last=False)
    return parsed


def _operations(node: DocumentNode) -> tuple[dict[str | None, Kind], tuple[str | None, ...]]:
    kinds: dict[str | None, Kind] = {}
    names: list[str | None] = []
    for definition in node.definitions:
        if isinstance(definition, OperationDefinitionNode):
            name = definition.name.value if definition.name else None
            kinds[name] = definition.operation.value
            names.append(name)
    return kinds, tuple(names)


def prepare(
    document: Document,
    variables: Mapping[str, Any] | None,
    operation_name: str | None,
) -> tuple[Parsed, dict[str, Any] | None, str | None]:
    """The parsed document, variables and operation name of one call.

    gql 4's ``GraphQLRequest`` brings its own variables and operation name, used unless the
    call gives them.

    Raises:
        GraphQLSyntaxError: the text does not parse; nothing is sent.
        GraphQLError: see ``Parsed.kind``.
        TypeError: not a document.
    """
    node = getattr(document, "document", None)
    if isinstance(node, DocumentNode):
        if variables is None:
            variables = getattr(document, "variable_values", None)
        if operation_name is None:
            operation_name = getattr(document, "operation_name", None)
        document = node
    if isinstance(document, str):
        parsed = parse_text(document)
    elif isinstance(document, DocumentNode):
        parsed = parse_node(document)
    else:
        raise TypeError(
            "document must be a str, a graphql DocumentNode or gql's GraphQLRequest, not "
            f"{type(document).__name__}"
        )
    return parsed, None if variables is None else dict(variables), operation_name
