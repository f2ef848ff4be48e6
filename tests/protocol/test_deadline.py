"""Deadline: one time budget, on a fake monotonic clock (no real time passes)."""

from __future__ import annotations

import pytest

from gqlws_sync import _deadline
from gqlws_sync._deadline import Deadline


class FakeTime:
    """Stands in for the ``time`` module inside ``_deadline``; moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    """A fake clock that ``_deadline`` reads instead of ``time.monotonic``."""
    fake = FakeTime()
    monkeypatch.setattr(_deadline, "time", fake)
    return fake


def test_no_limit(clock: FakeTime) -> None:
    """Deadline(None) never expires and has no remaining time."""
    deadline = Deadline(None)
    clock.now += 1e9
    assert deadline.timeout is None
    assert deadline.remaining() is None
    assert deadline.expired() is False


def test_remaining_counts_down(clock: FakeTime) -> None:
    """remaining() is the budget minus the time spent."""
    deadline = Deadline(10.0)
    assert deadline.timeout == 10.0
    assert deadline.remaining() == 10.0
    clock.now += 4.0
    assert deadline.remaining() == 6.0
    assert deadline.expired() is False


def test_expires_at_budget(clock: FakeTime) -> None:
    """At the budget the deadline has expired and 0 remains."""
    deadline = Deadline(2.5)
    clock.now += 2.5
    assert deadline.remaining() == 0.0
    assert deadline.expired() is True


def test_remaining_never_negative(clock: FakeTime) -> None:
    """Past the deadline remaining() stays 0.0."""
    deadline = Deadline(1.0)
    clock.now += 100.0
    assert deadline.remaining() == 0.0
    assert deadline.expired() is True


def test_zero_budget_expired_at_once(clock: FakeTime) -> None:
    """Deadline(0) is expired from the start."""
    deadline = Deadline(0)
    assert deadline.remaining() == 0.0
    assert deadline.expired() is True
