"""The command line: ``python -m benchmarks [--smoke] [--json] [--only ...] [--peers ...]``.

One run, one server, every peer in turn: the server starts once, in its own process pinned to
one CPU; each (measurement, peer) cell then runs in a fresh worker process pinned to another,
repeating the measurement ``reps`` times. The idle-CPU cells are the exception: they only
sleep, so all of them run at once to save the 10 s each would take.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any

from .peers import PEERS
from .report import MEASUREMENTS, PEER_ORDER, evaluate, machine_details, render, summarise
from .report import server_check as check_server

__all__ = ["FULL", "SMOKE", "Sizes", "main"]

_ROOT = Path(__file__).resolve().parent.parent
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
    #: Seconds a worker process may take before it is killed.
    worker_timeout: float = 600.0


FULL = Sizes(
    smoke=False,
    reps=3,
    throughput_counts={200: 300_000, 4096: 150_000, 65536: 25_000},
)
SMOKE = Sizes(
    smoke=True,
    reps=1,
    throughput_counts={200: 2000, 4096: 500, 65536: 100},
    latency_count=100,
    thread_per_worker=4,
    connect_count=5,
    idle_subscriptions=100,
    idle_seconds=1.0,
    worker_timeout=60.0,
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
    return {"seconds": sizes.idle_seconds, "ping_interval": sizes.ping_interval, "settle": 0.5}


def _pick_cpus(pin: bool) -> tuple[int | None, int | None]:
    if not pin or not hasattr(os, "sched_getaffinity"):
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return cpus[0], cpus[1]


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run(
    sizes: Sizes,
    measurements: list[str],
    peers: list[str],
    *,
    server_kind: str = "firehose",
    pin: bool = True,
) -> dict[str, Any]:
    """Run the benchmark and return the whole result document (what ``--json`` prints)."""
    server_cpu, client_cpu = _pick_cpus(pin)
    machine = machine_details(server_cpu=server_cpu, client_cpu=client_cpu)
    raw: dict[str, dict[str, Any]] = {}
    started = time.perf_counter()
    with ServerProcess(server_kind, server_cpu) as server:
        for measurement in measurements:
            params = _params(measurement, sizes)

            def job(
                peer: str,
                reps: int,
                measurement: str = measurement,
                params: dict[str, Any] = params,
            ) -> dict[str, Any]:
                return {
                    "measurement": measurement,
                    "peer": peer,
                    "url": server.url,
                    "server_pid": server.pid,
                    "reps": reps,
                    "cpu": client_cpu,
                    "params": params,
                }

            if measurement == "idle_cpu":
                # One process per (peer, repetition), all at once: each only sleeps.
                tick = time.perf_counter()
                with ThreadPoolExecutor(len(peers) * sizes.reps) as pool:
                    futures = {
                        (peer, rep): pool.submit(_run_worker, job(peer, 1), sizes.worker_timeout)
                        for peer in peers
                        for rep in range(sizes.reps)
                    }
                    raw[measurement] = {
                        peer: _merge_reps(futures, peer, sizes.reps) for peer in peers
                    }
                _progress(f"{measurement:<20} all peers     {time.perf_counter() - tick:6.1f} s")
                continue
            raw[measurement] = {}
            for peer in peers:
                tick = time.perf_counter()
                raw[measurement][peer] = _run_worker(job(peer, sizes.reps), sizes.worker_timeout)
                _progress(f"{measurement:<20} {peer:<18} {time.perf_counter() - tick:6.1f} s")
        server_info = {
            "kind": server_kind,
            "description": server.description,
            "pid": server.pid,
        }
    if server_kind == "reference":
        for peer in peers:
            if "idle_subscriptions" in raw:
                raw["idle_subscriptions"][peer] = {
                    "unsupported": "the reference server has no idle subscription"
                }
    try:
        machine["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    except OSError:
        machine["load_average_at_end"] = None
    summary = {
        measurement: {peer: summarise(measurement, result) for peer, result in cells.items()}
        for measurement, cells in raw.items()
    }
    size_keys = [str(size) for size in sizes.throughput_counts]
    return {
        "machine": machine,
        "server": server_info,
        "config": {**asdict(sizes), "measurements": measurements},
        "peers": {peer: PEERS[peer].usage for peer in peers},
        "results": summary,
        "server_check": check_server(summary, size_keys) if "throughput" in summary else [],
        "targets": evaluate(summary, size_keys),
        "seconds": time.perf_counter() - started,
        "worker_results": raw,
    }


def _merge_reps(futures: dict[tuple[str, int], Any], peer: str, reps: int) -> dict[str, Any]:
    merged: list[dict[str, Any]] = []
    for rep in range(reps):
        result = futures[(peer, rep)].result()
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
    parser.add_argument(
        "--no-pin", action="store_true", help="do not pin server and client to separate CPUs"
    )
    args = parser.parse_args(argv)
    sizes = SMOKE if args.smoke else FULL
    if args.reps is not None:
        if args.reps < 1:
            parser.error("--reps must be at least 1")
        sizes = replace(sizes, reps=args.reps)
    document = run(sizes, args.only, args.peers, server_kind=args.server, pin=not args.no_pin)
    if args.json:
        print(json.dumps(document, indent=2))
    else:
        sys.stdout.write(render(document))
        sys.stdout.write(f"\ntotal {document['seconds']:.0f} s\n")
    return 0
