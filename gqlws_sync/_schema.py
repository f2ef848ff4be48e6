"""Schemas on the client side: fetched by introspection, given as SDL, and used to validate
every document before it is sent.

An invalid document would be refused by the server anyway; validating it here saves the
round trip, reports every problem at once with its location, and keeps a document that
some servers answer by closing the connection (Strawberry, graphql-ws) off the wire.
Results are cached per schema by document text, as parses are.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLSchema,
    build_client_schema,
    build_schema,
    get_introspection_query,
    validate,
)

from ._documents import Parsed
from .exceptions import GraphQLValidationError

#: The introspection query sent by ``fetch_schema()``: what graphql-core (and gql) send,
#: with descriptions so that printed schemas keep them.
INTROSPECTION_QUERY = get_introspection_query(descriptions=True)

#: Validation results remembered per schema, by document text.
CACHE_SIZE = 512


def as_schema(schema: str | GraphQLSchema) -> GraphQLSchema:
    """A schema given as SDL text or as a graphql-core schema.

    Raises:
        GraphQLError: the SDL does not parse or does not build a schema.
        TypeError: neither.
    """
    if isinstance(schema, GraphQLSchema):
        return schema
    if isinstance(schema, str):
        return build_schema(schema)
    raise TypeError(
        f"schema must be SDL text or a graphql GraphQLSchema, not {type(schema).__name__}"
    )


def from_introspection(data: dict[str, Any]) -> GraphQLSchema:
    """The schema of an introspection result's ``data``."""
    return build_client_schema(data)  # type: ignore[arg-type]  # a plain dict is what it reads


class Validator:
    """Validates documents against one schema, remembering the verdicts."""

    def __init__(self, schema: GraphQLSchema) -> None:
        self.schema = schema
        self._lock = threading.Lock()
        self._verdicts: OrderedDict[str, tuple[GraphQLError, ...]] = OrderedDict()
        #: How many documents were validated, as opposed to found in the cache.
        self.validations = 0

    def check(self, parsed: Parsed) -> None:
        """Raise if ``parsed`` is not valid against the schema; cached by its text.

        Raises:
            GraphQLValidationError: listing every problem with its location.
        """
        errors = self._verdicts.get(parsed.text)
        if errors is None:
            errors = tuple(validate(self.schema, parsed.node))
            self.validations += 1
            with self._lock:
                self._verdicts[parsed.text] = errors
                while len(self._verdicts) > CACHE_SIZE:
                    self._verdicts.popitem(last=False)
        if errors:
            raise GraphQLValidationError(list(errors))
