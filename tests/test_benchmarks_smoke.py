"""The benchmark at tiny sizes, so that it never rots; no timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("gql", reason="the benchmark extra (gql) is not installed")
pytest.importorskip("orjson", reason="the benchmark extra (orjson) is not installed")

ROOT = Path(__file__).resolve().parent.parent

MEASUREMENTS = (
    "throughput",
    "latency",
    "threads",
    "connect",
    "idle_subscriptions",
    "idle_cpu",
)
PEERS = ("raw", "gqlws_sync", "gqlws_sync+orjson", "gql-async", "gql-sync")
#: Cells a peer cannot do, with the reason printed in their place; nothing else may be missing.
UNSUPPORTED = {("connect", "gql-sync"), ("idle_subscriptions", "gql-sync")}
#: gql's sync Client fails when threads share it: some runs complete no query at all.
MAY_BE_ZERO = {("threads", "gql-sync", "qps")}
#: Fields that must hold a positive number in every supported cell.
POSITIVE = {
    "latency": ("p50_us", "p99_us", "mean_us"),
    "threads": ("qps", "sequential_qps"),
    "connect": ("median_ms",),
    "idle_subscriptions": ("open_seconds", "traced_bytes_per_subscription"),
    "idle_cpu": ("seconds",),
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.timeout(60)
def test_every_measurement_has_every_peer(document: dict[str, Any]) -> None:
    """Each cell has figures, or is one of the known unsupported ones; no cell failed."""
    results = document["results"]
    assert set(results) == set(MEASUREMENTS)
    for measurement in MEASUREMENTS:
        assert set(results[measurement]) == set(PEERS), measurement
        for peer in PEERS:
            cell = results[measurement][peer]
            expected = "unsupported" if (measurement, peer) in UNSUPPORTED else "ok"
            assert cell["status"] == expected, (measurement, peer, cell.get("reason"))


@pytest.mark.timeout(60)
def test_numbers_are_sane(document: dict[str, Any]) -> None:
    """Every figure that exists is a positive number; message counts are exact."""
    results = document["results"]
    counts = document["config"]["throughput_counts"]
    for peer in PEERS:
        sizes = results["throughput"][peer]["sizes"]
        assert set(sizes) == {str(size) for size in counts}
        for size, entry in sizes.items():
            assert entry["messages"] == counts[size]
            assert entry["rate"] > 0
            assert entry["cpu_share"] > 0
    for measurement, fields in POSITIVE.items():
        for peer in PEERS:
            cell = results[measurement][peer]
            if cell["status"] != "ok":
                continue
            for field in fields:
                assert isinstance(cell[field], int | float), (measurement, peer, field)
                if (measurement, peer, field) in MAY_BE_ZERO:
                    assert cell[field] >= 0, (measurement, peer, field, cell[field])
                else:
                    assert cell[field] > 0, (measurement, peer, field, cell[field])
            assert cell["repetitions"] == 1
    assert results["idle_cpu"]["gqlws_sync"]["cpu_ms_per_s"] >= 0
    ours = results["threads"]["gqlws_sync"]
    assert (ours["failures"], ours["connections"]) == (0, 1)
    assert results["threads"]["raw"]["connections"] == document["config"]["thread_workers"]


@pytest.mark.timeout(60)
def test_report_parts(document: dict[str, Any]) -> None:
    """Machine details, the server check and the target verdicts are all there."""
    machine = document["machine"]
    assert machine["logical_cpus"] >= 1
    assert set(machine["versions"]) >= {"websocket-client", "gql", "websockets", "gqlws_sync"}
    assert [check["size"] for check in document["server_check"]] == [
        str(size) for size in document["config"]["throughput_counts"]
    ]
    targets = document["targets"]
    assert {target["peer"] for target in targets} == {"gqlws_sync", "gqlws_sync+orjson"}
    assert all(target["value"] is not None for target in targets), targets


@pytest.mark.timeout(60)
def test_text_report_renders(document: dict[str, Any]) -> None:
    """The table renderer handles a real result document."""
    from benchmarks.report import render

    text = render(document)
    for title in ("Subscription throughput", "round trip", "Threads", "Connect", "Idle"):
        assert title in text
    assert "Targets" in text


@pytest.mark.timeout(60)
@pytest.mark.parametrize("workload", ["throughput", "latency"])
def test_profiling_target_runs(workload: str) -> None:
    """The profiling entry point runs each workload briefly and reports its per-unit cost."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.profiling", workload, "--seconds", "0.2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith(workload), done.stdout
    assert "µs client CPU" in done.stdout
