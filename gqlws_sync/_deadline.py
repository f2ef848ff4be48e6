"""A monotonic time budget that one blocking call spends across several waits."""

from __future__ import annotations

import time

#: The longest single wait handed to a selector, poll() or a lock (they refuse timeouts past
#: about 24 days, or TIMEOUT_MAX); a longer wait is made of several.
MAX_WAIT = 86_400.0


class Deadline:
    """The moment a blocking call must give up; ``None`` means it may wait forever.

    One Deadline is built per public call and handed down, so a call made of several waits
    (send, then wait for a result) never takes longer than the caller asked for in total.
    """

    __slots__ = ("_deadline", "timeout")

    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout
        self._deadline = None if timeout is None else time.monotonic() + timeout

    def remaining(self) -> float | None:
        """Seconds left, never negative; ``None`` when there is no limit."""
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - time.monotonic())

    def expired(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    def capped(self, timeout: float | None) -> Deadline:
        """A deadline for one step: ``timeout`` from now, but never past this one."""
        remaining = self.remaining()
        if timeout is None:
            return Deadline(remaining)
        if remaining is None:
            return Deadline(timeout)
        return Deadline(min(timeout, remaining))
