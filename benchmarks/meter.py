"""Wall time, this process's CPU time and the server's CPU time over one measured window."""

from __future__ import annotations

import os
import resource
import time
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any

__all__ = ["Meter", "Window", "process_cpu_seconds", "rss_bytes", "runqueue_wait_seconds"]


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of another process, from ``/proc`` (None where there is none).

    The kernel counts in clock ticks (usually 10 ms), so keep windows at a second or more.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            text = stat.read()
    except OSError:
        return None
    # Fields after the parenthesised command name start at field 3 (state); utime is 14.
    fields = text.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes() -> int | None:
    """This process's resident set size now (not the peak), from ``/proc``."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
    except OSError:
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def runqueue_wait_seconds() -> float | None:
    """Seconds this process's live threads spent runnable but waiting for a CPU, all told.

    From ``/proc/self/task/*/schedstat`` (run time, run-queue wait, time slices, in ns).
    Growth over a window means other processes (or our own threads) held the CPU we wanted.
    """
    total = 0
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return None
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/schedstat", encoding="ascii") as schedstat:
                total += int(schedstat.read().split()[1])
        except (OSError, IndexError, ValueError):
            continue  # the thread ended meanwhile
    return total / 1e9


@dataclass(frozen=True, slots=True)
class Window:
    """What one measured stretch of time cost."""

    seconds: float
    #: CPU seconds of this (client) process, all threads, user + system.
    cpu_seconds: float
    #: CPU seconds of the server process in the same stretch; None if unknown.
    server_cpu_seconds: float | None
    #: Context switches of this process: voluntary ones count wake-ups after blocking.
    voluntary_switches: int
    involuntary_switches: int
    #: Seconds our threads were runnable but not running (summed over threads); None if unknown.
    runqueue_wait_seconds: float | None = None
    #: Page faults of this process served without I/O: first touches of fresh memory. Each
    #: zeroes a page, and on a VM may stall the vCPU in the host for longer than the guest
    #: counts as CPU time, so a client that keeps allocating fresh buffers shows up here.
    minor_faults: int = 0

    @property
    def cpu_share(self) -> float:
        """Client CPU per wall second: 1.0 is one core busy all the time."""
        return self.cpu_seconds / self.seconds if self.seconds > 0 else 0.0

    @property
    def server_cpu_share(self) -> float | None:
        if self.server_cpu_seconds is None or self.seconds <= 0:
            return None
        return self.server_cpu_seconds / self.seconds

    @property
    def runqueue_wait_share(self) -> float | None:
        """Run-queue wait per wall second: how much CPU our threads wanted and did not get."""
        if self.runqueue_wait_seconds is None or self.seconds <= 0:
            return None
        return self.runqueue_wait_seconds / self.seconds

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["cpu_share"] = self.cpu_share
        data["server_cpu_share"] = self.server_cpu_share
        data["runqueue_wait_share"] = self.runqueue_wait_share
        return data


class Meter:
    """``with meter:`` measures the block; read ``meter.window`` afterwards."""

    def __init__(self, server_pid: int | None) -> None:
        self._server_pid = server_pid
        self._start = 0.0
        self._usage: resource.struct_rusage | None = None
        self._server_cpu: float | None = None
        self._waited: float | None = None
        self.window: Window | None = None

    def __enter__(self) -> Meter:
        self._server_cpu = (
            None if self._server_pid is None else process_cpu_seconds(self._server_pid)
        )
        self._waited = runqueue_wait_seconds()
        self._usage = resource.getrusage(resource.RUSAGE_SELF)
        self._start = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        seconds = time.perf_counter() - self._start
        usage = resource.getrusage(resource.RUSAGE_SELF)
        waited = runqueue_wait_seconds()
        before = self._usage
        assert before is not None
        server_cpu = None
        if self._server_pid is not None and self._server_cpu is not None:
            now = process_cpu_seconds(self._server_pid)
            server_cpu = None if now is None else now - self._server_cpu
        self.window = Window(
            seconds=seconds,
            cpu_seconds=(usage.ru_utime - before.ru_utime) + (usage.ru_stime - before.ru_stime),
            server_cpu_seconds=server_cpu,
            voluntary_switches=usage.ru_nvcsw - before.ru_nvcsw,
            involuntary_switches=usage.ru_nivcsw - before.ru_nivcsw,
            runqueue_wait_seconds=(
                None if waited is None or self._waited is None else waited - self._waited
            ),
            minor_faults=usage.ru_minflt - before.ru_minflt,
        )

    def result(self) -> Window:
        assert self.window is not None, "use the meter in a with block first"
        return self.window
