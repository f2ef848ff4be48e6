"""Suite-wide fixtures: the thread-leak check and the timing factor."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

#: Every interval and deadline in timing-sensitive tests is a multiple of this, so a slow
#: machine can scale them all at once (websockets' ``MS``).
MS = 0.001


def _ours(thread: threading.Thread) -> bool:
    return thread.name.startswith("gqlws_sync-")


@pytest.fixture(autouse=True)
def no_thread_leak() -> Iterator[None]:
    """Fail any test after which a ``gqlws_sync-*`` thread is still alive."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5.0
    leaked: list[threading.Thread] = []
    for thread in threading.enumerate():
        if thread in before or not _ours(thread):
            continue
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            leaked.append(thread)
    assert not leaked, f"threads left running: {[t.name for t in leaked]}"
