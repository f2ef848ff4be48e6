"""examples/notebook.ipynb, executed cell by cell by a real IPython kernel.

The kernel runs an asyncio event loop, as Jupyter's does, so the notebook proves the client
works inside one. Between cells the test looks at the reference server: the interrupted
subscription must be cancelled there, and re-creating the client must leave one live
connection, not one per run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gqlws_sync.testing import ReferenceServer

from .support import EXAMPLES, READ_TIMEOUT, wait_for_cancel, wait_for_subscription

nbformat = pytest.importorskip("nbformat", reason="the notebook test needs nbformat")
nbclient = pytest.importorskip("nbclient", reason="the notebook test needs nbclient")
pytest.importorskip("ipykernel", reason="the notebook test needs ipykernel for its kernel")

NOTEBOOK = EXAMPLES / "notebook.ipynb"
#: Bound on one cell; the slowest takes well under a second.
CELL_TIMEOUT = 30
#: Bound on the kernel's start.
STARTUP_TIMEOUT = 60


def tags(cell: Any) -> list[str]:
    found: list[str] = cell.metadata.get("tags", [])
    return found


def text_of(cell: Any) -> str:
    """What a cell showed: its printed text, then its result (``Out[n]``), joined."""
    parts: list[str] = []
    for output in cell.outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type == "execute_result":
            parts.append(output.data["text/plain"] + "\n")
    return "".join(parts)


def errors_of(cell: Any) -> list[str]:
    return [output.ename for output in cell.outputs if output.output_type == "error"]


class Kernel:
    """Runs the notebook's cells one at a time in one kernel; remembers each cell's output."""

    def __init__(self, notebook: Any, client: Any) -> None:
        self.notebook = notebook
        self.client = client
        self.next_index = 0

    def run_until(self, tag: str) -> Any:
        """Run every cell up to and including the next one tagged ``tag``; return that cell."""
        while self.next_index < len(self.notebook.cells):
            index, cell = self.next_index, self.notebook.cells[self.next_index]
            self.next_index += 1
            self.client.execute_cell(cell, index)
            if cell.cell_type == "code" and "raises-exception" not in tags(cell):
                assert errors_of(cell) == [], f"cell {index} failed:\n{cell.source}"
            if tag in tags(cell):
                return cell
        raise AssertionError(f"no cell tagged {tag!r} after the last one run")

    def run_again(self, cell: Any) -> Any:
        """Run ``cell`` once more, as a user re-running it does."""
        index = self.notebook.cells.index(cell)
        self.client.execute_cell(cell, index)
        assert errors_of(cell) == [], f"cell {index} failed on its re-run:\n{cell.source}"
        return cell


#: See the end of the kernel fixture.
_KEPT_LOOPS: list[Any] = []


@pytest.fixture
def kernel(gqlws_server: ReferenceServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Kernel]:
    """A live kernel for the notebook, connected to the reference server through GQLWS_URL."""
    # The kernel is started with this process's environment.
    monkeypatch.setenv("GQLWS_URL", gqlws_server.url)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        startup_timeout=STARTUP_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(EXAMPLES)}},
    )
    with client.setup_kernel():
        yield Kernel(notebook, client)
    # nbclient's synchronous calls run on an event loop of jupyter_core's, which it makes the
    # thread's current one and never closes. Closing it here would hand a closed loop to the
    # next code asking for the current one (gql's sync client does); dropped by the next
    # asyncio.run(), the garbage collector would warn in whichever test came next. It is
    # kept for the rest of the session instead.
    from jupyter_core.utils import ensure_event_loop

    _KEPT_LOOPS.append(ensure_event_loop())


def test_notebook(kernel: Kernel, gqlws_server: ReferenceServer) -> None:
    """Query, subscribe, interrupt, re-run and close, in a kernel with a running loop."""
    client_cell = kernel.run_until("client")
    cells = kernel.notebook.cells
    shown = [text_of(cell) for cell in cells if cell.cell_type == "code"]
    assert "event loop running in this kernel: True\n" in shown
    assert text_of(client_cell) == "{'hello': 'Hello world'}\n"
    assert len(gqlws_server.handshakes) == 1

    # Running the client's cell again replaces the client; the first one closes.
    kernel.run_again(client_cell)
    assert text_of(client_cell) == "{'hello': 'Hello world'}\n"
    gqlws_server.wait_for_disconnect(READ_TIMEOUT, count=1)
    assert gqlws_server.connection_count() == 1

    interrupted = kernel.run_until("interrupt")
    countdown = next(cell for cell in cells if "countdown" in cell.source)
    assert text_of(countdown) == "{'countdown': 3}\n{'countdown': 2}\n{'countdown': 1}\n"
    assert errors_of(interrupted) == ["KeyboardInterrupt"]
    assert text_of(interrupted) == "{'ticks': 0}\n{'ticks': 1}\n{'ticks': 2}\n"
    wait_for_cancel(gqlws_server, wait_for_subscription(gqlws_server, "ticks"))

    after = kernel.run_until("after-interrupt")
    assert text_of(after) == "subscription closed: True\n{'add': 3}\n"
    assert len(gqlws_server.handshakes) == 2  # the interrupt did not cost the connection

    rerun = kernel.run_until("rerun")
    assert text_of(rerun) == "{'hello': 'Hello world'}\n" * 3
    # Five clients were created in all; four were dropped and must have closed.
    assert len(gqlws_server.handshakes) == 5
    gqlws_server.wait_for_disconnect(READ_TIMEOUT, count=4)
    assert gqlws_server.connection_count() == 1

    closed = kernel.run_until("close")
    assert text_of(closed) == "gqlws_sync threads still running: []\n"
    gqlws_server.wait_for_disconnect(READ_TIMEOUT, count=5)
    assert gqlws_server.connection_count() == 0
    assert kernel.next_index == len(cells), "cells after the last checked one"
