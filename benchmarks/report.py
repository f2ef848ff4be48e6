"""Machine details, medians and spreads of the workers' repetitions, target verdicts, tables.

A run measures every cell twice, pinned and unpinned (see ``benchmarks.runner``); each mode's
results are summarised on their own, ratios are only ever taken within one mode, and every
table shows the two modes side by side.
"""

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
    "CELL_PEERS",
    "CURVES",
    "MEASUREMENTS",
    "MODES",
    "NOISE_MARGIN",
    "PEER_ORDER",
    "evaluate",
    "machine_details",
    "render",
    "server_check",
    "summarise",
]

#: Measurements in the order they run and print; the last four are the cost curves.
MEASUREMENTS = (
    "throughput",
    "latency",
    "threads",
    "connect",
    "idle_subscriptions",
    "idle_cpu",
    "fanout",
    "threads_curve",
    "memory_curve",
    "cpu_per_message",
)
CURVES = ("fanout", "threads_curve", "memory_curve", "cpu_per_message")
PEER_ORDER = (
    "raw",
    "websockets-sync",
    "gqlws_sync",
    "gqlws_sync+orjson",
    "gql-async",
    "gql-sync",
)
#: Who takes part in each measurement. A curve leaves out the peers that would only repeat
#: another's line (orjson where JSON is negligible) or cost minutes for a point already known
#: (gql at 50,000 idle subscriptions); gql-sync cannot hold several operations at once.
CELL_PEERS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(MEASUREMENTS[:6], PEER_ORDER),
    "fanout": ("raw", "websockets-sync", "gqlws_sync", "gqlws_sync+orjson", "gql-async"),
    "threads_curve": ("gqlws_sync", "gql-async"),
    "memory_curve": ("raw", "websockets-sync", "gqlws_sync"),
    "cpu_per_message": ("raw", "websockets-sync", "gqlws_sync", "gqlws_sync+orjson"),
}
#: "pinned": the server on one CPU, each client process on another, so the client has a core
#: to itself. "unpinned": the OS places everything, as it does for users; threads that hand
#: work to each other may then sit on different cores, which costs each hand-off more.
MODES = ("pinned", "unpinned")
#: The peers the targets are about.
OURS = ("gqlws_sync", "gqlws_sync+orjson")
#: How much figures move from run to run on a small shared machine: a target is "met" only
#: when it clears its threshold by this fraction, and "thin" when it clears it by less.
NOISE_MARGIN = 0.10

_TITLES = {
    "throughput": "1. Subscription throughput",
    "latency": "2. execute() round trip, sequential, one connection",
    "threads": "3. Threads sharing one connection: aggregate queries/s",
    "connect": "4. Connect: TCP + upgrade + connection_init + connection_ack",
    "idle_subscriptions": "5. Idle subscriptions on one connection",
    "idle_cpu": "6. CPU of an idle connection pinging every second",
    "fanout": "7. Curve: concurrent subscriptions sharing one stream, total msg/s",
    "threads_curve": "8. Curve: execute() from N threads on one connection",
    "memory_curve": "9. Curve: memory per idle subscription",
    "cpu_per_message": "10. Curve: client CPU per message against message size",
}

Cell = dict[str, Any]
#: One mode's results: measurement -> peer -> cell.
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


def machine_details(pinning: dict[str, tuple[int | None, int | None]]) -> dict[str, Any]:
    """Where and on what the run happens; ``pinning``: mode -> (server CPU, client CPU)."""
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    try:
        load: list[float] | None = [round(value, 2) for value in os.getloadavg()]
    except OSError:
        load = None
    return {
        "cpu_model": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": affinity,
        "pinning": {
            mode: {"server_cpu": server, "client_cpu": client}
            for mode, (server, client) in pinning.items()
        },
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


# -- medians and spreads ----------------------------------------------------------------------


def _median(values: Sequence[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def _fields(reps: list[dict[str, Any]], *names: str) -> dict[str, Any]:
    """The median of each field over the repetitions, and its range under ``spread``."""
    fields: dict[str, Any] = {}
    spread: dict[str, list[float]] = {}
    for name in names:
        values = [rep[name] for rep in reps if rep.get(name) is not None]
        fields[name] = statistics.median(values) if values else None
        if values:
            spread[name] = [min(values), max(values)]
    fields["spread"] = spread
    return fields


_CURVE_FIELDS = {
    "fanout": (
        "rate",
        "cpu_us_per_message",
        "cpu_share",
        "server_cpu_share",
        "runqueue_wait_share",
    ),
    "threads_curve": ("qps", "p50_us", "p99_us", "cpu_share"),
    "memory_curve": (
        "open_seconds",
        "traced_bytes_per_subscription",
        "rss_bytes_per_subscription",
    ),
    "cpu_per_message": (
        "cpu_us_per_message",
        "rate",
        "cpu_share",
        "server_cpu_share",
        "runqueue_wait_share",
        "faults_per_message",
    ),
}


def summarise(measurement: str, result: dict[str, Any]) -> Cell:
    """Reduce one worker result to medians (and min-max ranges) over its repetitions."""
    if "unsupported" in result:
        return {"status": "unsupported", "reason": result["unsupported"]}
    if "error" in result:
        return {"status": "error", "reason": result["error"]}
    cell: Cell = {"status": "ok"}
    if measurement in _CURVE_FIELDS:
        cell["points"] = {
            point: {"repetitions": len(reps), **_fields(reps, *_CURVE_FIELDS[measurement])}
            for point, reps in result["points"].items()
        }
        return cell
    if measurement == "throughput":
        sizes = {}
        for size, reps in result["sizes"].items():
            sizes[size] = {
                "repetitions": len(reps),
                "messages": reps[0]["messages"],
                "rates": [rep["rate"] for rep in reps],
                **_fields(
                    reps,
                    "rate",
                    "cpu_share",
                    "server_cpu_share",
                    "runqueue_wait_share",
                    "faults_per_message",
                ),
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
    met = margin_met = None
    if value is not None and limit is not None:
        met = value >= limit if at_least else value <= limit
        if at_least:
            margin_met = value >= limit * (1 + NOISE_MARGIN)
        else:
            margin_met = value <= limit * (1 - NOISE_MARGIN)
    return {
        "target": name,
        "peer": peer,
        "value": value,
        "limit": limit,
        "unit": unit,
        "met": met,
        "met_with_margin": margin_met,
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


#: Throughput floors against the raw loop, by peer and message size in bytes.
_THROUGHPUT_FLOORS = {
    "gqlws_sync": {200: 2.0, 4096: 1.7, 65536: 1.3},
    "gqlws_sync+orjson": {200: 3.5, 4096: 2.5, 65536: 1.7},
}


def evaluate(summary: Summary, sizes: Sequence[str]) -> list[dict[str, Any]]:
    """Every target, for each of our peers, on one mode's medians: value, limit, verdicts.

    ``met`` says whether the threshold is cleared at all, ``met_with_margin`` whether it is
    cleared by ``NOISE_MARGIN``; None when a figure is missing.
    """
    targets: list[dict[str, Any]] = []

    def add(
        name: str, peer: str, value: float | None, limit: float, *, at_least: bool, unit: str = "x"
    ) -> None:
        targets.append(_target(name, peer, value, limit, at_least=at_least, unit=unit))

    for peer in OURS:
        if not any(peer in cells for cells in summary.values()):
            continue
        for size in sizes:
            ours = _value(summary, "throughput", peer, "sizes", size, "rate")
            raw = _value(summary, "throughput", "raw", "sizes", size, "rate")
            label = _size_label(size)
            floor = 0.80 if int(size) <= 200 else 0.90
            add(
                f"throughput {label} >= {floor:.2f}x raw",
                peer,
                _ratio(ours, raw),
                floor,
                at_least=True,
            )
            strict = _THROUGHPUT_FLOORS[peer].get(int(size))
            if strict is not None:
                add(
                    f"throughput {label} >= {strict:.1f}x raw",
                    peer,
                    _ratio(ours, raw),
                    strict,
                    at_least=True,
                )
            for other, floor in (("gql-async", 1.0), ("gql-sync", 2.0)):
                theirs = _value(summary, "throughput", other, "sizes", size, "rate")
                add(
                    f"throughput {label} >= {floor:.1f}x {other}",
                    peer,
                    _ratio(ours, theirs),
                    floor,
                    at_least=True,
                )
        for stat, ceilings in (("p50_us", (1.3, 1.05)), ("p99_us", (2.0, 1.2))):
            ours = _value(summary, "latency", peer, stat)
            raw = _value(summary, "latency", "raw", stat)
            gql = _value(summary, "latency", "gql-async", stat)
            name = stat.removesuffix("_us")
            for ceiling in ceilings:
                add(
                    f"execute {name} <= {ceiling}x raw",
                    peer,
                    _ratio(ours, raw),
                    ceiling,
                    at_least=False,
                )
            add(f"execute {name} below gql-async", peer, _ratio(ours, gql), 1.0, at_least=False)
        threads = _value(summary, "threads", peer, "qps")
        gql_threads = _value(summary, "threads", "gql-async", "qps")
        alone = _value(summary, "threads", peer, "sequential_qps")
        add(
            "threads q/s >= 1.0x gql-async (tasks, one connection)",
            peer,
            _ratio(threads, gql_threads),
            1.0,
            at_least=True,
        )
        add(
            "threads q/s >= 1.5x gql-async (tasks, one connection)",
            peer,
            _ratio(threads, gql_threads),
            1.5,
            at_least=True,
        )
        add(
            "threads q/s >= 2x one thread sequentially",
            peer,
            _ratio(threads, alone),
            2.0,
            at_least=True,
        )
        add(
            "threads q/s >= 2.5x one thread sequentially",
            peer,
            _ratio(threads, alone),
            2.5,
            at_least=True,
        )
        connect = _ratio(
            _value(summary, "connect", peer, "median_ms"),
            _value(summary, "connect", "raw", "median_ms"),
        )
        add("connect <= 1.15x raw", peer, connect, 1.15, at_least=False)
        add("connect <= 1.10x raw", peer, connect, 1.10, at_least=False)
        idle = _value(summary, "idle_cpu", peer, "cpu_ms_per_s")
        add("idle CPU <= 1 ms per second", peer, idle, 1.0, at_least=False, unit="ms/s")
        add(
            "idle CPU <= 1.0x raw",
            peer,
            _ratio(idle, _value(summary, "idle_cpu", "raw", "cpu_ms_per_s")),
            1.0,
            at_least=False,
        )
        memory = _value(summary, "idle_subscriptions", peer, "traced_bytes_per_subscription")
        add(
            "memory <= 4 KiB per idle subscription (tracemalloc)",
            peer,
            memory,
            4096.0,
            at_least=False,
            unit="B",
        )
        add(
            "memory < 400 B per idle subscription (tracemalloc)",
            peer,
            memory,
            400.0,
            at_least=False,
            unit="B",
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


def _size_label(size: str | int) -> str:
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


def _spread(entry: Cell, field: str) -> str:
    """How far the repetitions strayed from the median: the larger side, in percent."""
    bounds = entry.get("spread", {}).get(field)
    middle = entry.get(field)
    if not bounds or not middle or entry.get("repetitions", 0) < 2:
        return ""
    return f"±{max(bounds[1] - middle, middle - bounds[0]) / middle * 100:.0f}%"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> list[str]:
    """Columns padded to their widest cell: the first ``left`` ones to the left, the rest right."""
    widths = [len(header) for header in headers]
    for row in rows:
        for index, text in enumerate(row):
            widths[index] = max(widths[index], len(text))

    def line(cells: Sequence[str]) -> str:
        parts = [text.ljust(width) for text, width in zip(cells[:left], widths[:left], strict=True)]
        parts += [
            text.rjust(width) for text, width in zip(cells[left:], widths[left:], strict=True)
        ]
        return "  ".join(parts).rstrip()

    return [line(headers), line(["-" * width for width in widths]), *(line(r) for r in rows)]


#: A column of a mode's group: header, and the text for (that mode's summary, peer, entry,
#: point). The entry is the cell itself, or one size / point of it.
Column = tuple[str, Callable[[Summary, str, Cell, str | None], str]]


def _entry(measurement: str, cell: Cell, point: str | None) -> Cell | None:
    if point is None:
        return cell
    key = "sizes" if measurement == "throughput" else "points"
    found: Cell | None = cell.get(key, {}).get(point)
    return found


def _mode_table(
    document: dict[str, Any],
    measurement: str,
    columns: Sequence[Column],
    *,
    points: Sequence[str] = (),
    point_header: str = "",
    point_label: Callable[[str], str] = str,
) -> list[str]:
    """One table: a row per peer (and point), a group of ``columns`` per mode, side by side."""
    modes = [mode for mode in MODES if mode in document["results"]]
    summaries: dict[str, Summary] = {mode: document["results"][mode] for mode in modes}
    headers = ["peer", *([point_header] if points else [])]
    for mode in modes:
        headers += [
            f"{mode} {title}" if index == 0 else title for index, (title, _) in enumerate(columns)
        ]
    rows: list[list[str]] = []
    notes: list[str] = []
    for peer in PEER_ORDER:
        cells = {mode: summaries[mode].get(measurement, {}).get(peer) for mode in modes}
        present = {mode: cell for mode, cell in cells.items() if cell is not None}
        if not present:
            continue
        if all(cell["status"] != "ok" for cell in present.values()):
            label = (
                "n/a" if all(c["status"] == "unsupported" for c in present.values()) else "ERROR"
            )
            rows.append([peer, label, *([""] * (len(headers) - 2))])
        else:
            keys: Sequence[str | None] = points or [None]
            for point in keys:
                row = [peer, *([point_label(point)] if point is not None else [])]
                for mode in modes:
                    cell = cells[mode]
                    entry = None
                    if cell is not None and cell["status"] == "ok":
                        entry = _entry(measurement, cell, point)
                    if entry is None:
                        missing = "-" if cell is None or cell["status"] == "ok" else "ERROR"
                        row += [missing, *([""] * (len(columns) - 1))]
                        continue
                    row += [make(summaries[mode], peer, entry, point) for _, make in columns]
                rows.append(row)
        failed = {mode: cell for mode, cell in present.items() if cell["status"] != "ok"}
        reasons = {(cell["status"], cell["reason"]) for cell in failed.values()}
        for mode, cell in failed.items():
            label = "n/a" if cell["status"] == "unsupported" else "ERROR"
            if len(failed) == len(present) and len(reasons) == 1:
                notes.append(f"{peer}: {label}: {cell['reason']}")  # the same in every mode
                break
            notes.append(f"{peer} ({mode}): {label}: {cell['reason']}")
    return [*_table(headers, rows), *notes]


def _points(document: dict[str, Any], measurement: str) -> list[str]:
    keys: set[str] = set()
    for summary in document["results"].values():
        for cell in summary.get(measurement, {}).values():
            keys.update(cell.get("points", {}))
    return sorted(keys, key=int)


def _vs(
    measurement: str, field: str, other: str, *path: str, invert: bool = False
) -> Callable[[Summary, str, Cell, str | None], str]:
    """A column: this entry's ``field`` over ``other``'s at the same point, in this mode."""

    def make(summary: Summary, peer: str, entry: Cell, point: str | None) -> str:
        where = (*path, point) if point is not None else path
        theirs = _value(summary, measurement, other, *where, field)
        ratio = _ratio(entry.get(field), theirs)
        if invert and ratio:
            ratio = 1 / ratio
        return _times(ratio)

    return make


def _field(
    name: str, digits: int = 0, scale: float = 1.0
) -> Callable[[Summary, str, Cell, str | None], str]:
    def make(summary: Summary, peer: str, entry: Cell, point: str | None) -> str:
        value = entry.get(name)
        return _num(None if value is None else value * scale, digits)

    return make


def _spread_of(name: str) -> Callable[[Summary, str, Cell, str | None], str]:
    return lambda summary, peer, entry, point: _spread(entry, name)


def _share(name: str) -> Callable[[Summary, str, Cell, str | None], str]:
    return lambda summary, peer, entry, point: _percent(entry.get(name))


def render(document: dict[str, Any]) -> str:
    """The whole report as text: machine, one table per measurement (both modes), targets."""
    config = document["config"]
    modes = [mode for mode in MODES if mode in document["results"]]
    present = {m for summary in document["results"].values() for m in summary}
    sizes = [str(size) for size in config["throughput_counts"]]
    machine = document["machine"]
    out: list[str] = []
    out.append(
        "gqlws_sync benchmark"
        + (" (SMOKE: tiny sizes, timings meaningless)" if config["smoke"] else "")
    )
    out.append("")
    versions = ", ".join(f"{name} {version}" for name, version in machine["versions"].items())
    out.append(f"machine  {machine['cpu_model']}, {machine['logical_cpus']} logical CPUs")
    for mode in modes:
        pins = machine["pinning"][mode]
        if pins["client_cpu"] is None:
            placement = "the OS places server and clients"
        else:
            placement = (
                f"server on CPU {pins['server_cpu']}, each client process on CPU "
                f"{pins['client_cpu']}"
            )
        out.append(f"         {mode}: {placement}")
    out.append(
        f"         load average at start {machine['load_average_at_start']}, at end "
        f"{machine.get('load_average_at_end')}"
    )
    out.append(f"         {machine['python']} on {machine['platform']}")
    out.append(f"         {versions}")
    out.append(f"         gqlws_sync source at git {machine.get('gqlws_sync_revision')}")
    for mode, server in document["servers"].items():
        out.append(
            f"server   {mode}: {server['kind']}: {server['description']} (pid {server['pid']})"
        )
    out.append(
        f"runs     median of {config['reps']} repetition(s) per cell, each cell in a fresh "
        "process; ±: the farthest repetition from the median"
    )
    out.append("peers")
    for peer in PEER_ORDER:
        if peer in document["peers"]:
            out.append(f"  {peer:<18} {document['peers'][peer]}")

    if "throughput" in present:
        counts = ", ".join(
            f"{_num(count)} x {_size_label(size)}"
            for size, count in config["throughput_counts"].items()
        )
        out += ["", f"{_TITLES['throughput']}, msg/s ({counts} per run)"]
        out += _mode_table(
            document,
            "throughput",
            [
                ("msg/s", _field("rate")),
                ("±", _spread_of("rate")),
                ("x raw", _vs("throughput", "rate", "raw", "sizes")),
                ("x gql-async", _vs("throughput", "rate", "gql-async", "sizes")),
                ("CPU", _share("cpu_share")),
                ("wait", _share("runqueue_wait_share")),
            ],
            points=sizes,
            point_header="size",
            point_label=_size_label,
        )
        out.append(
            "CPU: the client process, all threads (100% = one core busy); wait: its threads' "
            "time runnable but not running, summed (other load on the machine). A cell with "
            "low CPU and no wait stalled inside the client; with wait, it was crowded out"
        )
        for mode in modes:
            for check in document["server_check"].get(mode, []):
                verdict = {True: "yes", False: "NO", None: "unknown"}[check["client_bound"]]
                out.append(
                    f"{mode}: server not the bottleneck at {_size_label(check['size'])}: "
                    f"{verdict} (raw client at {_percent(check['raw_client_cpu_share'])} of a "
                    f"core, waiting for one {_percent(check['raw_client_runqueue_wait_share'])} "
                    f"of the time; server at {_percent(check['server_cpu_share'])})"
                )

    if "latency" in present:
        out += ["", f"{_TITLES['latency']}, µs ({config['latency_count']:,} queries per run)"]
        out += _mode_table(
            document,
            "latency",
            [
                ("p50", _field("p50_us")),
                ("±", _spread_of("p50_us")),
                ("x raw", _vs("latency", "p50_us", "raw")),
                ("p99", _field("p99_us")),
                ("±", _spread_of("p99_us")),
                ("x raw", _vs("latency", "p99_us", "raw")),
                ("x gql-async", _vs("latency", "p50_us", "gql-async")),
            ],
        )
        out.append("x gql-async: of the p50")

    if "threads" in present:
        workers = config["thread_workers"]
        out += [
            "",
            f"{_TITLES['threads']} ({workers} threads/tasks x {config['thread_per_worker']:,} "
            f"queries; 'alone': the same {workers * config['thread_per_worker']:,} queries "
            "from one thread)",
        ]

        def alone(summary: Summary, peer: str, entry: Cell, point: str | None) -> str:
            return _times(_ratio(entry.get("qps"), entry.get("sequential_qps")))

        def failures(summary: Summary, peer: str, entry: Cell, point: str | None) -> str:
            return f"{entry['failures']:,}"

        out += _mode_table(
            document,
            "threads",
            [
                (f"q/s x{workers}", _field("qps")),
                ("±", _spread_of("qps")),
                ("x raw", _vs("threads", "qps", "raw")),
                ("x gql-async", _vs("threads", "qps", "gql-async")),
                ("q/s alone", _field("sequential_qps")),
                ("x alone", alone),
                ("sockets", _field("connections")),
                ("failed", failures),
            ],
        )
        for mode in modes:
            for peer, cell in document["results"][mode].get("threads", {}).items():
                if cell.get("first_failure"):
                    out.append(f"{peer} ({mode}) failures: {cell['first_failure']}")
        out.append(
            "sockets: raw and websockets-sync need one per thread; gql-sync opens one per call "
            "and fails when threads share its Client"
        )

    if "connect" in present:
        out += [
            "",
            f"{_TITLES['connect']}, ms (median of {config['connect_count']} connects per run)",
        ]
        out += _mode_table(
            document,
            "connect",
            [
                ("median", _field("median_ms", 3)),
                ("±", _spread_of("median_ms")),
                ("x raw", _vs("connect", "median_ms", "raw")),
                ("p90", _field("p90_ms", 3)),
            ],
        )

    if "idle_subscriptions" in present:
        out += [
            "",
            f"{_TITLES['idle_subscriptions']} ({config['idle_subscriptions']:,}; open: until "
            "the server reports holding them all)",
        ]
        out += _mode_table(
            document,
            "idle_subscriptions",
            [
                ("open ms", _field("open_seconds", 1, 1e3)),
                ("±", _spread_of("open_seconds")),
                ("B/sub traced", _field("traced_bytes_per_subscription")),
                ("B/sub RSS", _field("rss_bytes_per_subscription")),
            ],
        )
        out.append(
            "traced: Python heap still allocated after gc, per subscription (tracemalloc; the "
            "targets' figure); RSS: resident-set growth, page-grained and noisy"
        )

    if "idle_cpu" in present:
        out += [
            "",
            f"{_TITLES['idle_cpu']} ({config['idle_seconds']:g} s per run, client process "
            "only; all cells measured at the same time, each in its own process)",
        ]
        out += _mode_table(
            document,
            "idle_cpu",
            [
                ("CPU ms/s", _field("cpu_ms_per_s", 3)),
                ("±", _spread_of("cpu_ms_per_s")),
                ("x raw", _vs("idle_cpu", "cpu_ms_per_s", "raw")),
                ("wake-ups/s", _field("wakeups_per_s", 1)),
            ],
        )
        out.append("wake-ups: voluntary context switches of the client process")

    if "fanout" in present:
        out += [
            "",
            f"{_TITLES['fanout']} ({config['fanout_messages']:,} messages of "
            f"{_size_label(config['fanout_size'])} in all, split evenly, interleaved by the "
            "server)",
        ]
        out += _mode_table(
            document,
            "fanout",
            [
                ("msg/s", _field("rate")),
                ("±", _spread_of("rate")),
                ("x raw", _vs("fanout", "rate", "raw", "points")),
                ("x gql-async", _vs("fanout", "rate", "gql-async", "points")),
                ("CPU µs/msg", _field("cpu_us_per_message", 1)),
            ],
            points=_points(document, "fanout"),
            point_header="subs",
            point_label=lambda point: f"{int(point):,}",
        )
        out.append(
            "gqlws_sync: one consumer thread per subscription (the caller's own for one); "
            "raw, websockets-sync: one loop routing by id; gql-async: one task each"
        )

    if "threads_curve" in present:
        out += [
            "",
            f"{_TITLES['threads_curve']} ({config['curve_queries']:,} queries per point, "
            "split evenly between the threads/tasks)",
        ]

        def over_one(summary: Summary, peer: str, entry: Cell, point: str | None) -> str:
            one = _value(summary, "threads_curve", peer, "points", "1", "qps")
            return _times(_ratio(entry.get("qps"), one))

        out += _mode_table(
            document,
            "threads_curve",
            [
                ("q/s", _field("qps")),
                ("±", _spread_of("qps")),
                ("x 1 thread", over_one),
                ("x gql-async", _vs("threads_curve", "qps", "gql-async", "points")),
                ("p50 µs", _field("p50_us")),
                ("p99 µs", _field("p99_us")),
            ],
            points=_points(document, "threads_curve"),
            point_header="threads",
        )

    if "memory_curve" in present:
        out += ["", f"{_TITLES['memory_curve']} (idle subscriptions on one connection)"]
        out += _mode_table(
            document,
            "memory_curve",
            [
                ("B/sub traced", _field("traced_bytes_per_subscription")),
                ("±", _spread_of("traced_bytes_per_subscription")),
                ("B/sub RSS", _field("rss_bytes_per_subscription")),
                ("open ms", _field("open_seconds", 1, 1e3)),
            ],
            points=_points(document, "memory_curve"),
            point_header="subs",
            point_label=lambda point: f"{int(point):,}",
        )

    if "cpu_per_message" in present:
        counts = ", ".join(
            f"{_num(count)} x {_size_label(size)}" for size, count in config["cpu_counts"].items()
        )
        out += ["", f"{_TITLES['cpu_per_message']} (one subscription; {counts})"]
        out += _mode_table(
            document,
            "cpu_per_message",
            [
                ("µs/msg", _field("cpu_us_per_message", 2)),
                ("±", _spread_of("cpu_us_per_message")),
                ("x raw", _vs("cpu_per_message", "cpu_us_per_message", "raw", "points")),
                ("msg/s", _field("rate")),
                ("faults/msg", _field("faults_per_message", 2)),
            ],
            points=_points(document, "cpu_per_message"),
            point_header="size",
            point_label=_size_label,
        )
        out.append(
            "µs/msg: CPU time of the client process (all threads) per message received; "
            "faults/msg: its minor page faults per message (first touches of fresh memory)"
        )

    if document.get("charts"):
        out += ["", "charts: " + ", ".join(document["charts"])]

    targets = document["targets"]
    if targets:
        out += [
            "",
            f"Targets, on the medians above (met: cleared by {NOISE_MARGIN:.0%} or more; thin: "
            "cleared by less, within run-to-run noise; MISSED: not cleared)",
        ]
        verdicts: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        for target in targets:
            verdicts.setdefault((target["peer"], target["target"]), {})[target["mode"]] = target
        headers = ["peer", "target"]
        for mode in modes:
            headers += [mode, "value"]
        rows = []
        unmeasured = 0
        for (peer, name), by_mode in verdicts.items():
            if all(target["value"] is None for target in by_mode.values()):
                unmeasured += 1  # its measurement was left out of this run (--only, --peers)
                continue
            row = [peer, name]
            for mode in modes:
                target = by_mode.get(mode)
                if target is None:
                    row += ["", ""]
                    continue
                row += [_verdict(target), _shown(target)]
            rows.append(row)
        if rows:
            out += _table(headers, rows, left=2)
        if unmeasured:
            out.append(f"{unmeasured} more targets need measurements this run left out")
    return "\n".join(out) + "\n"


def _verdict(target: dict[str, Any]) -> str:
    if target["met"] is None:
        return "unknown"
    if not target["met"]:
        return "MISSED"
    return "met" if target["met_with_margin"] else "thin"


def _shown(target: dict[str, Any]) -> str:
    value = target["value"]
    if value is None:
        return "-"
    if target["unit"] == "x":
        return f"{value:.2f}x"
    return f"{_num(value, 3 if value < 10 else 0)} {target['unit']}"
