"""Machine details, medians of the workers' repetitions, target verdicts, and the text tables."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "MEASUREMENTS",
    "PEER_ORDER",
    "evaluate",
    "machine_details",
    "render",
    "summarise",
]

#: Measurements in the order they run and print.
MEASUREMENTS = (
    "throughput",
    "latency",
    "threads",
    "connect",
    "idle_subscriptions",
    "idle_cpu",
)
PEER_ORDER = ("raw", "gqlws_sync", "gqlws_sync+orjson", "gql-async", "gql-sync")
#: The peers the issue's targets are about.
OURS = ("gqlws_sync", "gqlws_sync+orjson")

_TITLES = {
    "throughput": "1. Subscription throughput",
    "latency": "2. execute() round trip, sequential, one connection",
    "threads": "3. Threads sharing one connection: aggregate queries/s",
    "connect": "4. Connect: TCP + upgrade + connection_init + connection_ack",
    "idle_subscriptions": "5. Idle subscriptions on one connection",
    "idle_cpu": "6. CPU of an idle connection pinging every second",
}

Cell = dict[str, Any]
Summary = dict[str, dict[str, Cell]]


# -- machine ----------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _source_revision() -> str | None:
    """The git commit of the checkout measured, "+dirty" if gqlws_sync/ has local changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "gqlws_sync"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def machine_details(*, server_cpu: int | None, client_cpu: int | None) -> dict[str, Any]:
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    try:
        load: list[float] | None = [round(value, 2) for value in os.getloadavg()]
    except OSError:
        load = None
    return {
        "cpu_model": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": affinity,
        "server_pinned_to_cpu": server_cpu,
        "client_pinned_to_cpu": client_cpu,
        "load_average_at_start": load,
        "platform": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "gil_switch_interval_s": sys.getswitchinterval(),
        "gqlws_sync_revision": _source_revision(),
        "versions": {
            name: _version(name)
            for name in (
                "gqlws_sync",
                "websocket-client",
                "gql",
                "websockets",
                "graphql-core",
                "orjson",
            )
        },
    }


# -- medians ----------------------------------------------------------------------------------


def _median(values: Sequence[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def _fields(reps: list[dict[str, Any]], *names: str) -> dict[str, float | None]:
    return {name: _median([rep.get(name) for rep in reps]) for name in names}


def summarise(measurement: str, result: dict[str, Any]) -> Cell:
    """Reduce one worker result to medians over its repetitions."""
    if "unsupported" in result:
        return {"status": "unsupported", "reason": result["unsupported"]}
    if "error" in result:
        return {"status": "error", "reason": result["error"]}
    cell: Cell = {"status": "ok"}
    if measurement == "throughput":
        sizes = {}
        for size, reps in result["sizes"].items():
            sizes[size] = {
                "repetitions": len(reps),
                "messages": reps[0]["messages"],
                "rates": [rep["rate"] for rep in reps],
                **_fields(reps, "rate", "cpu_share", "server_cpu_share", "runqueue_wait_share"),
            }
        cell["sizes"] = sizes
        return cell
    reps = result["reps"]
    cell["repetitions"] = len(reps)
    if measurement == "latency":
        cell.update(_fields(reps, "p50_us", "p99_us", "mean_us", "max_us"))
        cell["count"] = reps[0]["count"]
    elif measurement == "threads":
        cell.update(
            _fields(
                reps,
                "qps",
                "sequential_qps",
                "cpu_share",
                "server_cpu_share",
                "runqueue_wait_share",
            )
        )
        cell["workers"] = reps[0]["workers"]
        cell["queries"] = reps[0]["queries"]
        cell["failures"] = max(rep["failures"] for rep in reps)
        cell["connections"] = max(rep["connections"] for rep in reps)
        cell["first_failure"] = next(
            (rep["first_failure"] for rep in reps if rep["first_failure"]), None
        )
    elif measurement == "connect":
        cell.update(_fields(reps, "median_ms", "p90_ms"))
        cell["count"] = reps[0]["count"]
    elif measurement == "idle_subscriptions":
        cell.update(
            _fields(
                reps,
                "open_seconds",
                "traced_bytes_per_subscription",
                "rss_bytes_per_subscription",
            )
        )
        cell["count"] = reps[0]["count"]
    elif measurement == "idle_cpu":
        cell.update(_fields(reps, "cpu_ms_per_s", "wakeups_per_s", "seconds"))
    return cell


# -- targets ----------------------------------------------------------------------------------


def _value(summary: Summary, measurement: str, peer: str, *path: str) -> float | None:
    cell: Any = summary.get(measurement, {}).get(peer)
    if not cell or cell.get("status") != "ok":
        return None
    for key in path:
        cell = cell.get(key) if isinstance(cell, dict) else None
    return float(cell) if isinstance(cell, int | float) else None


def _target(
    name: str,
    peer: str,
    value: float | None,
    limit: float | None,
    *,
    at_least: bool,
    unit: str,
) -> dict[str, Any]:
    met = None
    if value is not None and limit is not None:
        met = value >= limit if at_least else value <= limit
    return {
        "target": name,
        "peer": peer,
        "value": value,
        "limit": limit,
        "unit": unit,
        "met": met,
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def evaluate(summary: Summary, sizes: Sequence[str]) -> list[dict[str, Any]]:
    """Each of the issue's targets, for each of our peers: value, limit, met (None: unknown)."""
    targets: list[dict[str, Any]] = []
    for peer in OURS:
        if peer not in summary.get("throughput", {}) and peer not in summary.get("latency", {}):
            continue
        for size in sizes:
            ours = _value(summary, "throughput", peer, "sizes", size, "rate")
            raw = _value(summary, "throughput", "raw", "sizes", size, "rate")
            floor = 0.80 if int(size) <= 200 else 0.90
            label = _size_label(size)
            targets.append(
                _target(
                    f"throughput {label} >= {floor:.2f}x raw",
                    peer,
                    _ratio(ours, raw),
                    floor,
                    at_least=True,
                    unit="x",
                )
            )
            for other, floor in (("gql-async", 1.0), ("gql-sync", 2.0)):
                theirs = _value(summary, "throughput", other, "sizes", size, "rate")
                targets.append(
                    _target(
                        f"throughput {label} >= {floor:.1f}x {other}",
                        peer,
                        _ratio(ours, theirs),
                        floor,
                        at_least=True,
                        unit="x",
                    )
                )
        for stat, ceiling in (("p50_us", 1.3), ("p99_us", 2.0)):
            ours = _value(summary, "latency", peer, stat)
            raw = _value(summary, "latency", "raw", stat)
            gql = _value(summary, "latency", "gql-async", stat)
            name = stat.removesuffix("_us")
            targets.append(
                _target(
                    f"execute {name} <= {ceiling}x raw",
                    peer,
                    _ratio(ours, raw),
                    ceiling,
                    at_least=False,
                    unit="x",
                )
            )
            targets.append(
                _target(
                    f"execute {name} below gql-async",
                    peer,
                    _ratio(ours, gql),
                    1.0,
                    at_least=False,
                    unit="x",
                )
            )
        ours = _value(summary, "threads", peer, "qps")
        targets.append(
            _target(
                "threads q/s >= 1.0x gql-async (tasks, one connection)",
                peer,
                _ratio(ours, _value(summary, "threads", "gql-async", "qps")),
                1.0,
                at_least=True,
                unit="x",
            )
        )
        targets.append(
            _target(
                "threads q/s >= 2x one thread sequentially",
                peer,
                _ratio(ours, _value(summary, "threads", peer, "sequential_qps")),
                2.0,
                at_least=True,
                unit="x",
            )
        )
        targets.append(
            _target(
                "connect <= 1.15x raw",
                peer,
                _ratio(
                    _value(summary, "connect", peer, "median_ms"),
                    _value(summary, "connect", "raw", "median_ms"),
                ),
                1.15,
                at_least=False,
                unit="x",
            )
        )
        targets.append(
            _target(
                "idle CPU <= 1 ms per second",
                peer,
                _value(summary, "idle_cpu", peer, "cpu_ms_per_s"),
                1.0,
                at_least=False,
                unit="ms/s",
            )
        )
        targets.append(
            _target(
                "memory <= 4 KiB per idle subscription (tracemalloc)",
                peer,
                _value(summary, "idle_subscriptions", peer, "traced_bytes_per_subscription"),
                4096.0,
                at_least=False,
                unit="B",
            )
        )
    return targets


def server_check(summary: Summary, sizes: Sequence[str]) -> list[dict[str, Any]]:
    """Per size: was the raw loop's process CPU-bound, and did the server have CPU to spare?"""
    checks = []
    for size in sizes:
        client = _value(summary, "throughput", "raw", "sizes", size, "cpu_share")
        server = _value(summary, "throughput", "raw", "sizes", size, "server_cpu_share")
        waited = _value(summary, "throughput", "raw", "sizes", size, "runqueue_wait_share")
        checks.append(
            {
                "size": size,
                "raw_client_cpu_share": client,
                "raw_client_runqueue_wait_share": waited,
                "server_cpu_share": server,
                "client_bound": None
                if client is None or server is None
                else client >= 0.9 and server < 0.9,
            }
        )
    return checks


# -- text -------------------------------------------------------------------------------------


def _size_label(size: str) -> str:
    value = int(size)
    if value >= 1024 and value % 1024 == 0:
        return f"{value // 1024} KiB"
    return f"{value} B"


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _times(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [len(header) for header in headers]
    for row in rows:
        for index, text in enumerate(row):
            widths[index] = max(widths[index], len(text))

    def line(cells: Sequence[str]) -> str:
        parts = [cells[0].ljust(widths[0])]
        parts += [text.rjust(width) for text, width in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join(parts).rstrip()

    return [line(headers), line(["-" * width for width in widths]), *(line(r) for r in rows)]


def _rows(
    summary: Summary,
    measurement: str,
    peers: Sequence[str],
    width: int,
    make: Callable[[str, Cell], list[list[str]]],
) -> tuple[list[list[str]], list[str]]:
    """Table rows, and a note for each peer that has no figures here (unsupported, error)."""
    rows: list[list[str]] = []
    notes: list[str] = []
    for peer in peers:
        cell = summary.get(measurement, {}).get(peer)
        if cell is None:
            continue
        if cell["status"] != "ok":
            label = "n/a" if cell["status"] == "unsupported" else "ERROR"
            rows.append([peer, label, *([""] * (width - 2))])
            notes.append(f"{peer}: {label}: {cell['reason']}")
            continue
        rows.extend(make(peer, cell))
    return rows, notes


def _section(
    headers: Sequence[str],
    summary: Summary,
    measurement: str,
    peers: Sequence[str],
    make: Callable[[str, Cell], list[list[str]]],
) -> list[str]:
    rows, notes = _rows(summary, measurement, peers, len(headers), make)
    return [*_table(headers, rows), *notes]


def render(document: dict[str, Any]) -> str:
    """The whole report as text: machine, one table per measurement, targets."""
    summary: Summary = document["results"]
    config = document["config"]
    peers = [peer for peer in PEER_ORDER if peer in document["peers"]]
    sizes = [str(size) for size in config["throughput_counts"]]
    reps = config["reps"]
    machine = document["machine"]
    out: list[str] = []
    out.append(
        "gqlws_sync benchmark"
        + (" (SMOKE: tiny sizes, timings meaningless)" if config["smoke"] else "")
    )
    out.append("")
    versions = ", ".join(f"{name} {version}" for name, version in machine["versions"].items())
    out.append(f"machine  {machine['cpu_model']}, {machine['logical_cpus']} logical CPUs")
    out.append(
        f"         server pinned to CPU {machine['server_pinned_to_cpu']}, each client process "
        f"to CPU {machine['client_pinned_to_cpu']}; load average at start "
        f"{machine['load_average_at_start']}, at end {machine.get('load_average_at_end')}"
    )
    out.append(f"         {machine['python']} on {machine['platform']}")
    out.append(f"         {versions}")
    out.append(f"         gqlws_sync source at git {machine.get('gqlws_sync_revision')}")
    server = document["server"]
    out.append(f"server   {server['kind']}: {server['description']} (pid {server['pid']})")
    out.append(f"runs     median of {reps} repetition(s) per cell; each cell in a fresh process")
    out.append("peers")
    for peer in peers:
        out.append(f"  {peer:<18} {document['peers'][peer]}")

    def size_rows(peer: str, cell: Cell) -> list[list[str]]:
        rows = []
        for size in sizes:
            entry = cell["sizes"].get(size)
            if entry is None:
                continue
            rate = entry["rate"]

            def vs(other: str, size: str = size, rate: float = rate) -> str:
                theirs = _value(summary, "throughput", other, "sizes", size, "rate")
                return _times(_ratio(rate, theirs))

            rows.append(
                [
                    peer,
                    _size_label(size),
                    _num(rate),
                    vs("raw"),
                    vs("gql-async"),
                    vs("gql-sync"),
                    _percent(entry["cpu_share"]),
                    _percent(entry["server_cpu_share"]),
                ]
            )
        return rows

    if "throughput" in summary:
        counts = ", ".join(
            f"{_num(count)} x {_size_label(size)}"
            for size, count in config["throughput_counts"].items()
        )
        out += ["", f"{_TITLES['throughput']}, msg/s ({counts} per run)"]
        headers = [
            "peer",
            "size",
            "msg/s",
            "x raw",
            "x gql-async",
            "x gql-sync",
            "client CPU",
            "server CPU",
        ]
        out += _section(headers, summary, "throughput", peers, size_rows)
        out.append("client CPU: the client process, all threads (100% = one core busy)")
        for check in server_check(summary, sizes):
            verdict = {True: "yes", False: "NO", None: "unknown"}[check["client_bound"]]
            out.append(
                f"server not the bottleneck at {_size_label(check['size'])}: {verdict} (raw "
                f"client at {_percent(check['raw_client_cpu_share'])} of a core and waiting for "
                f"one {_percent(check['raw_client_runqueue_wait_share'])} of the time; server "
                f"at {_percent(check['server_cpu_share'])})"
            )

    if "latency" in summary:
        raw = summary["latency"].get("raw", {})

        def latency_rows(peer: str, cell: Cell) -> list[list[str]]:
            return [
                [
                    peer,
                    _num(cell["p50_us"]),
                    _times(_ratio(cell["p50_us"], raw.get("p50_us"))),
                    _num(cell["p99_us"]),
                    _times(_ratio(cell["p99_us"], raw.get("p99_us"))),
                    _num(cell["mean_us"]),
                    _num(cell["max_us"]),
                ]
            ]

        out += ["", f"{_TITLES['latency']}, µs ({config['latency_count']:,} queries per run)"]
        headers = ["peer", "p50", "x raw", "p99", "x raw", "mean", "max"]
        out += _section(headers, summary, "latency", peers, latency_rows)

    if "threads" in summary:
        failure_notes: list[str] = []

        def thread_rows(peer: str, cell: Cell) -> list[list[str]]:
            failures = f"{cell['failures']:,} of {cell['queries']:,}"
            if cell["first_failure"]:
                failure_notes.append(f"{peer} failures: {cell['first_failure']}")
            return [
                [
                    peer,
                    _num(cell["qps"]),
                    _times(_ratio(cell["qps"], _value(summary, "threads", "raw", "qps"))),
                    _times(_ratio(cell["qps"], _value(summary, "threads", "gql-async", "qps"))),
                    _num(cell["sequential_qps"]),
                    _times(_ratio(cell["qps"], cell["sequential_qps"])),
                    _percent(cell["cpu_share"]),
                    str(cell["connections"]),
                    failures,
                ]
            ]

        workers = config["thread_workers"]
        out += [
            "",
            f"{_TITLES['threads']} ({workers} threads/tasks x {config['thread_per_worker']:,} "
            f"queries; 'alone': the same {workers * config['thread_per_worker']:,} queries "
            "from one thread)",
        ]
        headers = [
            "peer",
            f"q/s x{workers}",
            "x raw",
            "x gql-async",
            "q/s alone",
            "x alone",
            "client CPU",
            "sockets",
            "failures",
        ]
        out += _section(headers, summary, "threads", peers, thread_rows)
        out += failure_notes
        out.append(
            "sockets: raw needs one per thread; gql-sync opens one per call and fails when "
            "threads share its Client"
        )

    if "connect" in summary:
        raw_connect = summary["connect"].get("raw", {})

        def connect_rows(peer: str, cell: Cell) -> list[list[str]]:
            return [
                [
                    peer,
                    _num(cell["median_ms"], 3),
                    _times(_ratio(cell["median_ms"], raw_connect.get("median_ms"))),
                    _num(cell["p90_ms"], 3),
                ]
            ]

        out += [
            "",
            f"{_TITLES['connect']}, ms (median of {config['connect_count']} connects per run)",
        ]
        headers = ["peer", "median", "x raw", "p90"]
        out += _section(headers, summary, "connect", peers, connect_rows)

    if "idle_subscriptions" in summary:

        def idle_rows(peer: str, cell: Cell) -> list[list[str]]:
            return [
                [
                    peer,
                    _num(cell["open_seconds"] * 1e3, 1),
                    _num(cell["traced_bytes_per_subscription"]),
                    _num(cell["rss_bytes_per_subscription"]),
                ]
            ]

        out += [
            "",
            f"{_TITLES['idle_subscriptions']} ({config['idle_subscriptions']:,}; open: until "
            "the server reports holding them all)",
        ]
        headers = ["peer", "open ms", "B/sub (tracemalloc)", "B/sub (RSS growth)"]
        out += _section(headers, summary, "idle_subscriptions", peers, idle_rows)
        out.append(
            "tracemalloc: Python heap still allocated after gc, per subscription (the target's "
            "figure); RSS: resident-set growth, page-grained and noisy"
        )

    if "idle_cpu" in summary:

        def cpu_rows(peer: str, cell: Cell) -> list[list[str]]:
            return [[peer, _num(cell["cpu_ms_per_s"], 3), _num(cell["wakeups_per_s"], 1)]]

        out += [
            "",
            f"{_TITLES['idle_cpu']} ({config['idle_seconds']:g} s per run, client process "
            "only; all peers measured at the same time, each in its own process)",
        ]
        headers = ["peer", "CPU ms/s", "wake-ups/s"]
        out += _section(headers, summary, "idle_cpu", peers, cpu_rows)
        out.append("wake-ups: voluntary context switches of the client process")

    targets = document["targets"]
    if targets:
        out += ["", "Targets (issue), on the medians above"]
        for target in targets:
            verdict = {True: "met    ", False: "MISSED ", None: "unknown"}[target["met"]]
            value = target["value"]
            if value is None:
                shown = "-"
            elif target["unit"] == "x":
                shown = f"{value:.2f}x"
            else:
                shown = f"{_num(value, 3 if value < 10 else 0)} {target['unit']}"
            out.append(f"  {verdict} {target['peer']:<18} {target['target']:<55} {shown}")
    return "\n".join(out) + "\n"
