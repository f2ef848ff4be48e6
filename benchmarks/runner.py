"""The command line: ``python -m benchmarks [--smoke] [--json] [--only ...] [--peers ...]``.

One run measures every cell twice: pinned (the server on one CPU, each client process on
another, so the client has a core to itself) and unpinned (the OS places everything, which is
what users get). Each mode has its own server process, started once; for each measurement the
pinned cells run, then the unpinned ones, so the two see the same state of the machine. Each
(measurement, peer, mode) cell runs in a fresh worker process that repeats the measurement
``reps`` times. The idle-CPU cells are the exception: they only sleep, so all of them, both
modes, run at once to save the 10 s each would take.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any

from .peers import PEERS
from .report import (
    CELL_PEERS,
    MEASUREMENTS,
    MODES,
    PEER_ORDER,
    evaluate,
    machine_details,
    render,
    server_check,
    summarise,
)

__all__ = ["FULL", "SMOKE", "Sizes", "main"]

_ROOT = Path(__file__).resolve().parent.parent
#: Where a full run writes its charts unless told otherwise.
CHARTS_DIR = _ROOT / "docs"
#: How long the server may take to print its port.
_SERVER_START_TIMEOUT = 20.0


@dataclass(frozen=True)
class Sizes:
    """How much each measurement does; FULL for the real run, SMOKE for CI."""

    smoke: bool
    reps: int
    #: Messages per burst, by message size in bytes (the JSON text of one message).
    throughput_counts: dict[int, int] = field(default_factory=dict)
    latency_count: int = 2000
    thread_workers: int = 32
    thread_per_worker: int = 125
    connect_count: int = 50
    idle_subscriptions: int = 10_000
    idle_seconds: float = 10.0
    ping_interval: float = 1.0
    #: Curve: concurrent subscriptions, and the messages (of fanout_size) split between them.
    fanout_subscriptions: tuple[int, ...] = (1, 10, 100, 1000)
    fanout_messages: int = 60_000
    fanout_size: int = 200
    #: Curve: threads on one connection, and the queries split between them, per point.
    curve_threads: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    curve_queries: int = 4000
    #: Curve: idle subscriptions held at once.
    memory_counts: tuple[int, ...] = (1000, 10_000, 50_000)
    #: Curve: messages per burst, by message size in bytes.
    cpu_counts: dict[int, int] = field(default_factory=dict)
    #: Seconds a worker process may take before it is killed.
    worker_timeout: float = 600.0
    #: Worker processes at a time. Only the smoke run, whose timings mean nothing, uses more
    #: than one: cells running side by side would measure each other.
    parallel: int = 1


def _cpu_counts(sizes: Sequence[int], budget: int, least: int, most: int) -> dict[int, int]:
    """About ``budget`` bytes per burst, within ``least``..``most`` messages."""
    return {size: max(least, min(most, budget // size)) for size in sizes}


#: 64 B to 256 KiB, by fours: where the per-message costs give way to the per-byte ones.
_CPU_SIZES = (64, 256, 1024, 4096, 16384, 65536, 262144)

FULL = Sizes(
    smoke=False,
    reps=3,
    throughput_counts={200: 200_000, 4096: 100_000, 65536: 15_000},
    cpu_counts=_cpu_counts(_CPU_SIZES, 64 * 1024 * 1024, 1000, 50_000),
)
SMOKE = Sizes(
    smoke=True,
    reps=1,
    throughput_counts={200: 2000, 4096: 500, 65536: 100},
    latency_count=100,
    thread_per_worker=4,
    connect_count=5,
    idle_subscriptions=100,
    idle_seconds=0.5,
    fanout_subscriptions=(1, 4),
    fanout_messages=400,
    curve_threads=(1, 4),
    curve_queries=40,
    memory_counts=(20, 100),
    cpu_counts=_cpu_counts((64, 65536), 2 * 1024 * 1024, 20, 500),
    worker_timeout=60.0,
    parallel=2,
)

_SERVERS = {
    "firehose": (
        "benchmarks.firehose",
        "benchmarks/firehose.py, asyncio Protocol, prebuilt frames, burst in ~256 KiB writes",
    ),
    "reference": (
        "benchmarks.refserver",
        "gqlws_sync.testing.ReferenceServer (websockets + graphql-core; burst fast path)",
    ),
}


class ServerProcess:
    """The benchmark server in a child process; stopped by closing its stdin, then by pid."""

    def __init__(self, kind: str, cpu: int | None) -> None:
        self.kind = kind
        self.module, self.description = _SERVERS[kind]
        self.cpu = cpu
        self.port = 0
        self._process: subprocess.Popen[str] | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    def __enter__(self) -> ServerProcess:
        command = [sys.executable, "-m", self.module]
        if self.cpu is not None:
            command += ["--cpu", str(self.cpu)]
        self._process = subprocess.Popen(
            command, cwd=_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        stdout = self._process.stdout
        assert stdout is not None
        ready, _, _ = select.select([stdout], [], [], _SERVER_START_TIMEOUT)
        line = stdout.readline() if ready else ""
        if not line.startswith("LISTENING "):
            self.__exit__(None, None, None)
            raise RuntimeError(f"the {self.kind} server did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        process = self._process
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()  # EOF: the server's signal to stop
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _run_worker(job: dict[str, Any], timeout: float) -> dict[str, Any]:
    try:
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.worker", json.dumps(job)],
            cwd=_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"the worker took over {timeout:g} s and was killed"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = done.stderr.strip().splitlines()[-3:]
        return {"error": f"worker exit status {done.returncode}: {' | '.join(tail)}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _params(measurement: str, sizes: Sizes) -> dict[str, Any]:
    if measurement == "throughput":
        return {"counts": {str(size): count for size, count in sizes.throughput_counts.items()}}
    if measurement == "latency":
        return {"count": sizes.latency_count}
    if measurement == "threads":
        return {"workers": sizes.thread_workers, "per_worker": sizes.thread_per_worker}
    if measurement == "connect":
        return {"count": sizes.connect_count}
    if measurement == "idle_subscriptions":
        return {"count": sizes.idle_subscriptions}
    if measurement == "idle_cpu":
        return {"seconds": sizes.idle_seconds, "ping_interval": sizes.ping_interval, "settle": 0.5}
    if measurement == "fanout":
        return {
            "subscriptions": list(sizes.fanout_subscriptions),
            "messages": sizes.fanout_messages,
            "size": sizes.fanout_size,
        }
    if measurement == "threads_curve":
        return {"workers": list(sizes.curve_threads), "queries": sizes.curve_queries}
    if measurement == "memory_curve":
        return {"counts": list(sizes.memory_counts)}
    if measurement == "cpu_per_message":
        return {"counts": {str(size): count for size, count in sizes.cpu_counts.items()}}
    raise ValueError(f"unknown measurement {measurement!r}")


def _pick_cpus(pin: bool) -> tuple[int | None, int | None]:
    if not pin or not hasattr(os, "sched_getaffinity"):
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return cpus[0], cpus[1]


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


#: What the reference server cannot serve: it has no idle subscriptions and no grouped bursts.
_REFERENCE_UNSUPPORTED = {
    "idle_subscriptions": "the reference server has no idle subscription",
    "memory_curve": "the reference server has no idle subscription",
    "fanout": "the reference server cannot start bursts together",
}


def run(
    sizes: Sizes,
    measurements: list[str],
    peers: list[str],
    *,
    server_kind: str = "firehose",
    modes: Sequence[str] = MODES,
) -> dict[str, Any]:
    """Run the benchmark and return the whole result document (what ``--json`` prints)."""
    pinning = {mode: _pick_cpus(mode == "pinned") for mode in modes}
    machine = machine_details(pinning)
    raw: dict[str, dict[str, dict[str, Any]]] = {mode: {} for mode in modes}
    started = time.perf_counter()
    with ExitStack() as stack:
        servers = {
            mode: stack.enter_context(ServerProcess(server_kind, pinning[mode][0]))
            for mode in modes
        }

        def job(measurement: str, mode: str, peer: str, reps: int) -> dict[str, Any]:
            return {
                "measurement": measurement,
                "peer": peer,
                "url": servers[mode].url,
                "server_pid": servers[mode].pid,
                "reps": reps,
                "cpu": pinning[mode][1],
                "params": _params(measurement, sizes),
            }

        for measurement in measurements:
            cell_peers = [peer for peer in peers if peer in CELL_PEERS[measurement]]
            if server_kind == "reference" and measurement in _REFERENCE_UNSUPPORTED:
                for mode in modes:
                    raw[mode][measurement] = {
                        peer: {"unsupported": _REFERENCE_UNSUPPORTED[measurement]}
                        for peer in cell_peers
                    }
                continue
            if measurement == "idle_cpu":
                # One process per (mode, peer, repetition), all at once: each only sleeps.
                tick = time.perf_counter()
                jobs = [
                    (mode, peer, rep)
                    for mode in modes
                    for peer in cell_peers
                    for rep in range(sizes.reps)
                ]
                with ThreadPoolExecutor(max(1, len(jobs))) as pool:
                    futures = {
                        key: pool.submit(
                            _run_worker, job(measurement, key[0], key[1], 1), sizes.worker_timeout
                        )
                        for key in jobs
                    }
                    for mode in modes:
                        raw[mode][measurement] = {
                            peer: _merge_reps(futures, mode, peer, sizes.reps)
                            for peer in cell_peers
                        }
                seconds = time.perf_counter() - tick
                _progress(f"{measurement:<20} {'all peers, all modes':<27} {seconds:6.1f} s")
                continue
            for mode in modes:

                def timed(
                    peer: str, measurement: str = measurement, mode: str = mode
                ) -> dict[str, Any]:
                    tick = time.perf_counter()
                    result = _run_worker(
                        job(measurement, mode, peer, sizes.reps), sizes.worker_timeout
                    )
                    _progress(
                        f"{measurement:<20} {peer:<18} {mode:<8} "
                        f"{time.perf_counter() - tick:6.1f} s"
                    )
                    return result

                with ThreadPoolExecutor(sizes.parallel) as pool:
                    raw[mode][measurement] = dict(
                        zip(cell_peers, pool.map(timed, cell_peers), strict=True)
                    )
        server_info = {
            mode: {"kind": server_kind, "description": server.description, "pid": server.pid}
            for mode, server in servers.items()
        }
    try:
        machine["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    except OSError:
        machine["load_average_at_end"] = None
    summary = {
        mode: {
            measurement: {peer: summarise(measurement, result) for peer, result in cells.items()}
            for measurement, cells in by_measurement.items()
        }
        for mode, by_measurement in raw.items()
    }
    size_keys = [str(size) for size in sizes.throughput_counts]
    return {
        "machine": machine,
        "servers": server_info,
        "config": {**asdict(sizes), "measurements": measurements, "modes": list(modes)},
        "peers": {peer: PEERS[peer].usage for peer in peers},
        "results": summary,
        "server_check": {
            mode: server_check(summary[mode], size_keys) if "throughput" in summary[mode] else []
            for mode in modes
        },
        "targets": [
            {**target, "mode": mode}
            for mode in modes
            for target in evaluate(summary[mode], size_keys)
        ],
        "charts": [],
        "seconds": time.perf_counter() - started,
        "worker_results": raw,
    }


def _merge_reps(
    futures: dict[tuple[str, str, int], Future[dict[str, Any]]], mode: str, peer: str, reps: int
) -> dict[str, Any]:
    merged: list[dict[str, Any]] = []
    for rep in range(reps):
        result = futures[(mode, peer, rep)].result()
        if "reps" not in result:
            return dict(result)
        merged += result["reps"]
    return {"reps": merged}


def _choices(text: str, allowed: tuple[str, ...], what: str) -> list[str]:
    picked = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [item for item in picked if item not in allowed]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown {what} {', '.join(unknown)}; choose from {', '.join(allowed)}"
        )
    return [item for item in allowed if item in picked]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="gqlws_sync against the raw websocket-client loop and gql, in one run.",
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one repetition (CI)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument(
        "--only",
        type=lambda text: _choices(text, MEASUREMENTS, "measurement"),
        default=list(MEASUREMENTS),
        help=f"comma-separated subset of: {', '.join(MEASUREMENTS)}",
    )
    parser.add_argument(
        "--peers",
        type=lambda text: _choices(text, PEER_ORDER, "peer"),
        default=list(PEER_ORDER),
        help=f"comma-separated subset of: {', '.join(PEER_ORDER)}",
    )
    parser.add_argument("--reps", type=int, default=None, help="repetitions per cell")
    parser.add_argument(
        "--server",
        choices=sorted(_SERVERS),
        default="firehose",
        help="firehose (default): the dedicated server; reference: gqlws_sync.testing's",
    )
    placement = parser.add_mutually_exclusive_group()
    placement.add_argument(
        "--pin-only",
        action="store_true",
        help="only the pinned run: server and each client on CPUs of their own",
    )
    placement.add_argument(
        "--no-pin",
        action="store_true",
        help="only the unpinned run: the OS places server and clients (what users get)",
    )
    charts = parser.add_mutually_exclusive_group()
    charts.add_argument(
        "--charts",
        type=Path,
        metavar="DIR",
        help="write the curves' PNG charts here (default: docs/ for a full run, none for --smoke)",
    )
    charts.add_argument("--no-charts", action="store_true", help="write no charts")
    args = parser.parse_args(argv)
    sizes = SMOKE if args.smoke else FULL
    if args.reps is not None:
        if args.reps < 1:
            parser.error("--reps must be at least 1")
        sizes = replace(sizes, reps=args.reps)
    modes = ["pinned"] if args.pin_only else ["unpinned"] if args.no_pin else list(MODES)
    document = run(sizes, args.only, args.peers, server_kind=args.server, modes=modes)
    chart_dir = None if args.no_charts else args.charts or (None if args.smoke else CHARTS_DIR)
    if chart_dir is not None:
        from .charts import write_charts

        written = write_charts(document, chart_dir)
        if written is None:
            _progress("matplotlib is not installed (pip install matplotlib): no charts written")
        else:
            document["charts"] = [_shown_path(path) for path in written]
    if args.json:
        print(json.dumps(document, indent=2))
    else:
        sys.stdout.write(render(document))
        sys.stdout.write(f"\ntotal {document['seconds']:.0f} s\n")
    return 0


def _shown_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(_ROOT))
    except ValueError:
        return str(path)
