"""The integration suite's Ariadne server (both subprotocols, queries over Apollo's too),
wrapped in ``Counting``. Run with ``uvicorn gql_ariadne_app:app``."""

from __future__ import annotations

# Both run as top-level modules: uvicorn gets this folder and tests/integration/apps on
# PYTHONPATH.
from ariadne_app import app as ariadne  # type: ignore[import-not-found]
from counting import Counting  # type: ignore[import-not-found]

app = Counting(ariadne)
