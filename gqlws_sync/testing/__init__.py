"""Test helpers: a real GraphQL-over-WebSocket server to run clients against.

``ReferenceServer`` serves any graphql-core schema over both subprotocols from a background
thread, and ``Faults`` makes it misbehave on the wire in the ways real servers do. It needs the
``server`` extra (``pip install 'gqlws_sync[server]'``) for the websockets package.

Names are loaded on first use: the pytest plugin imports this package in every test session of
every user, with or without the extra, so importing it must stay free of websockets.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._faults import APOLLO, GTW, Faults, RawFrame, SubprotocolChoice, TextBytes
    from ._log import Disconnect, Handshake, MessageLog
    from ._schema import demo_schema
    from ._server import ReferenceServer
    from .pytest_plugin import ServerFactory

__all__ = [
    "APOLLO",
    "GTW",
    "Disconnect",
    "Faults",
    "Handshake",
    "MessageLog",
    "RawFrame",
    "ReferenceServer",
    "ServerFactory",
    "SubprotocolChoice",
    "TextBytes",
    "demo_schema",
]

_HOMES = {
    "APOLLO": "._faults",
    "GTW": "._faults",
    "Faults": "._faults",
    "RawFrame": "._faults",
    "SubprotocolChoice": "._faults",
    "TextBytes": "._faults",
    "Disconnect": "._log",
    "Handshake": "._log",
    "MessageLog": "._log",
    "demo_schema": "._schema",
    "ReferenceServer": "._server",
    "ServerFactory": ".pytest_plugin",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
