"""One measurement for one peer, repeated, in a fresh process: ``python -m benchmarks.worker JOB``.

``JOB`` is a JSON object: ``measurement``, ``peer``, ``url``, ``server_pid``, ``reps``, ``cpu``
(pin to this CPU, or null) and ``params``. The result is one JSON object on stdout: per-
repetition figures under ``reps``, or ``unsupported`` / ``error`` with the reason.

A process per cell keeps cells apart: no threads, sockets, heap or tracemalloc state of one
peer is left when the next runs, and memory is measured in a process that did nothing else.
The process ends with ``os._exit``, because gql's sync subscribe cannot be interrupted from
another thread and would otherwise keep the process alive.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import time
import traceback
from typing import Any

from .meter import Meter
from .peers import PEERS, Peer, Unsupported

__all__ = ["main", "percentile", "run_job"]


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list (p99 of 2,000 is the 1,980th value)."""
    if not ordered:
        raise ValueError("no samples")
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def _throughput(peer: Peer, job: dict[str, Any]) -> dict[str, Any]:
    params = job["params"]
    results: dict[str, list[dict[str, Any]]] = {}
    for _ in range(job["reps"]):
        for size_text, count in params["counts"].items():
            meter = Meter(job["server_pid"])
            received = peer.throughput(job["url"], count, int(size_text), meter)
            window = meter.result()
            if received != count:
                raise RuntimeError(f"expected {count} messages of {size_text} B, got {received}")
            results.setdefault(size_text, []).append(
                {
                    "messages": received,
                    "rate": received / window.seconds,
                    "faults_per_message": window.minor_faults / received,
                    **window.as_dict(),
                }
            )
    return {"sizes": results}


def _latency(peer: Peer, job: dict[str, Any]) -> dict[str, Any]:
    count = job["params"]["count"]
    peer.latency(job["url"], min(count, 100))  # warm-up: first-use imports and caches
    reps = []
    for _ in range(job["reps"]):
        samples = sorted(peer.latency(job["url"], count))
        reps.append(
            {
                "count": len(samples),
                "p50_us": percentile(samples, 0.50) * 1e6,
                "p99_us": percentile(samples, 0.99) * 1e6,
                "mean_us": statistics.fmean(samples) * 1e6,
                "max_us": samples[-1] * 1e6,
            }
        )
    return {"reps": reps}


def _threads(peer: Peer, job: dict[str, Any]) -> dict[str, Any]:
    params = job["params"]
    workers, per_worker = params["workers"], params["per_worker"]
    reps = []
    for _ in range(job["reps"]):
        meter = Meter(job["server_pid"])
        run = peer.threads(job["url"], workers, per_worker, meter)
        window = meter.result()
        sequential = Meter(job["server_pid"])
        alone = peer.threads(job["url"], 1, workers * per_worker, sequential)
        reps.append(
            {
                "workers": workers,
                "queries": workers * per_worker,
                "completed": run.completed,
                "failures": run.failures,
                "connections": run.connections,
                "first_failure": run.first_failure,
                "qps": run.completed / window.seconds,
                "sequential_qps": alone.completed / sequential.result().seconds,
                "sequential_failures": alone.failures,
                **window.as_dict(),
            }
        )
    return {"reps": reps}


def _connect(peer: Peer, job: dict[str, Any]) -> dict[str, Any]:
    count = job["params"]["count"]
    peer.connect(job["url"], 2)  # warm-up: the first connect of a process imports and caches
    reps = []
    for _ in range(job["reps"]):
        samples = sorted(peer.connect(job["url"], count))
        reps.append(
            {
                "count": len(samples),
                "median_ms": statistics.median(samples) * 1e3,
                "p90_ms": percentile(samples, 0.90) * 1e3,
            }
        )
    return {"reps": reps}


def _idle_subscriptions(peer: Peer, job: dict[str, Any]) -> dict[str, Any]:
    count = job["params"]["count"]
    reps = []
    for _ in range(job["reps"]):
        # tracemalloc slows every allocation, so the timed run is not the traced one.
        plain = peer.idle_subscriptions(job["url"], count, traced=False)
        traced = peer.idle_subscriptions(job["url"], count, traced=True)
        reps.append(
            {
                "count": count,
                "open_seconds": plain.open_seconds,
                "rss_bytes_per_subscription": plain.bytes_per_subscription,
                "traced_bytes_per_subscription": traced.bytes_per_subscription,
            }
        )
    return {"reps": reps}


def _idle_cpu(peer: Peer, job: dict[str, Any]) -> dict[str, Any]:
    params = job["params"]
    reps = []
    for _ in range(job["reps"]):
        with peer.idle_connection(job["url"], params["ping_interval"]):
            time.sleep(params["settle"])  # the ack and the first ping
            meter = Meter(job["server_pid"])
            with meter:
                time.sleep(params["seconds"])
        window = meter.result()
        reps.append(
            {
                "cpu_ms_per_s": window.cpu_seconds * 1e3 / window.seconds,
                "wakeups_per_s": window.voluntary_switches / window.seconds,
                **window.as_dict(),
            }
        )
    return {"reps": reps}


# -- cost curves: one figure per point (a count of subscriptions, threads, a size) -------------


def _fanout(peer: Peer, job: dict[str, Any]) -> dict[str, Any]:
    params = job["params"]
    size, total = params["size"], params["messages"]
    peer.fanout(job["url"], 1, 100, size, Meter(None))  # warm-up: first-use imports and caches
    points: dict[str, list[dict[str, Any]]] = {}
    for _ in range(job["reps"]):
        for subscriptions in params["subscriptions"]:
            each = max(1, total // subscriptions)
            meter = Meter(job["server_pid"])
            received = peer.fanout(job["url"], subscriptions, each, size, meter)
            window = meter.result()
            if received != subscriptions * each:
                raise RuntimeError(
                    f"expected {subscriptions} x {each} messages, got {received} in all"
                )
            points.setdefault(str(subscriptions), []).append(
                {
                    "messages": received,
                    "rate": received / window.seconds,
                    "cpu_us_per_message": window.cpu_seconds * 1e6 / received,
                    **window.as_dict(),
                }
            )
    return {"points": points}


def _threads_curve(peer: Peer, job: dict[str, Any]) -> dict[str, Any]:
    params = job["params"]
    peer.threads(job["url"], 1, 50, Meter(None))  # warm-up
    points: dict[str, list[dict[str, Any]]] = {}
    for _ in range(job["reps"]):
        for workers in params["workers"]:
            per_worker = max(1, params["queries"] // workers)
            meter = Meter(job["server_pid"])
            run = peer.threads(job["url"], workers, per_worker, meter)
            window = meter.result()
            samples = sorted(run.latencies)
            if run.failures or not samples:
                raise RuntimeError(
                    f"{run.failures} of {workers * per_worker} queries failed with {workers} "
                    f"threads: {run.first_failure}"
                )
            points.setdefault(str(workers), []).append(
                {
                    "queries": run.completed,
                    "qps": run.completed / window.seconds,
                    "p50_us": percentile(samples, 0.50) * 1e6,
                    "p99_us": percentile(samples, 0.99) * 1e6,
                    **window.as_dict(),
                }
            )
    return {"points": points}


def _memory_curve(peer: Peer, job: dict[str, Any]) -> dict[str, Any]:
    points: dict[str, list[dict[str, Any]]] = {}
    for _ in range(job["reps"]):
        for count in job["params"]["counts"]:
            # As in the idle-subscriptions cell: the traced run is not the timed one.
            plain = peer.idle_subscriptions(job["url"], count, traced=False)
            traced = peer.idle_subscriptions(job["url"], count, traced=True)
            points.setdefault(str(count), []).append(
                {
                    "count": count,
                    "open_seconds": plain.open_seconds,
                    "rss_bytes_per_subscription": plain.bytes_per_subscription,
                    "traced_bytes_per_subscription": traced.bytes_per_subscription,
                }
            )
    return {"points": points}


def _cpu_per_message(peer: Peer, job: dict[str, Any]) -> dict[str, Any]:
    counts = job["params"]["counts"]
    peer.throughput(job["url"], 100, 200, Meter(None))  # warm-up
    points: dict[str, list[dict[str, Any]]] = {}
    for _ in range(job["reps"]):
        for size_text, count in counts.items():
            meter = Meter(job["server_pid"])
            received = peer.throughput(job["url"], count, int(size_text), meter)
            window = meter.result()
            if received != count:
                raise RuntimeError(f"expected {count} messages of {size_text} B, got {received}")
            points.setdefault(size_text, []).append(
                {
                    "messages": received,
                    "rate": received / window.seconds,
                    "cpu_us_per_message": window.cpu_seconds * 1e6 / received,
                    "faults_per_message": window.minor_faults / received,
                    **window.as_dict(),
                }
            )
    return {"points": points}


_MEASUREMENTS = {
    "throughput": _throughput,
    "latency": _latency,
    "threads": _threads,
    "connect": _connect,
    "idle_subscriptions": _idle_subscriptions,
    "idle_cpu": _idle_cpu,
    "fanout": _fanout,
    "threads_curve": _threads_curve,
    "memory_curve": _memory_curve,
    "cpu_per_message": _cpu_per_message,
}


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run one job in this process; never raises."""
    peer = PEERS[job["peer"]]()
    try:
        return _MEASUREMENTS[job["measurement"]](peer, job)
    except Unsupported as exc:
        return {"unsupported": str(exc)}
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m benchmarks.worker JOB_JSON", file=sys.stderr)
        return 2
    job = json.loads(args[0])
    if job.get("cpu") is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {job["cpu"]})
    result = run_job(job)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    raise SystemExit(main())
