"""Helpers shared by the protocol tests: the wire names of each subprotocol, and frame builders."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from gqlws_sync._protocol import ApolloProtocol, Protocol, TransportWSProtocol
from gqlws_sync._protocol.events import ConnectionAck


@dataclass(frozen=True)
class Wire:
    """What differs between the two subprotocols on the wire."""

    cls: type[Protocol]
    start: str
    cancel: str
    result: str
    violation_code: int


GTW = Wire(TransportWSProtocol, "subscribe", "complete", "next", 4004)
APOLLO = Wire(ApolloProtocol, "start", "stop", "data", 1002)

#: Parametrize a test over both subprotocols: ``@BOTH`` then take ``wire: Wire``.
BOTH = pytest.mark.parametrize(
    "wire",
    [pytest.param(GTW, id="graphql-transport-ws"), pytest.param(APOLLO, id="graphql-ws")],
)


def frame(**message: Any) -> str:
    """One server text frame holding ``message`` as JSON."""
    return json.dumps(message)


def parse(text: str | None) -> Any:
    """A frame produced by the protocol, parsed back (fails on ``None``)."""
    assert text is not None
    return json.loads(text)


def initialising(cls: type[Protocol]) -> Protocol:
    """A protocol that has sent ``connection_init`` and waits for the ack."""
    protocol = cls()
    protocol.connection_init(None)
    return protocol


def acknowledged(cls: type[Protocol]) -> Protocol:
    """A protocol whose ``connection_init`` was acknowledged."""
    protocol = initialising(cls)
    assert protocol.receive(frame(type="connection_ack")) == ConnectionAck(None)
    return protocol
