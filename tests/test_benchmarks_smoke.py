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
pytest.importorskip("websockets.sync.client", reason="the benchmark extra is not installed")

ROOT = Path(__file__).resolve().parent.parent

MEASUREMENTS = (
    "throughput",
    "latency",
    "threads",
    "connect",
    "idle_subscriptions",
    "idle_cpu",
)
CURVES = ("fanout", "threads_curve", "memory_curve", "cpu_per_message")
PEERS = ("raw", "websockets-sync", "gqlws_sync", "gqlws_sync+orjson", "gql-async", "gql-sync")
#: Who takes part in each curve.
CURVE_PEERS = {
    "fanout": {"raw", "websockets-sync", "gqlws_sync", "gqlws_sync+orjson", "gql-async"},
    "threads_curve": {"gqlws_sync", "gql-async"},
    "memory_curve": {"raw", "websockets-sync", "gqlws_sync"},
    "cpu_per_message": {"raw", "websockets-sync", "gqlws_sync", "gqlws_sync+orjson"},
}
#: Fields that must hold a positive number at every point of a curve.
CURVE_FIELDS = {
    "fanout": ("rate", "cpu_us_per_message"),
    "threads_curve": ("qps", "p50_us", "p99_us"),
    "memory_curve": ("open_seconds", "traced_bytes_per_subscription"),
    "cpu_per_message": ("cpu_us_per_message", "rate"),
}
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


#: Bounds, not expectations: the smoke run takes 10-20 s, but three times that on a machine
#: busy with other work.
RUN_TIMEOUT = 120


def _run(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--json", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.fixture(scope="module")
def charts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("charts")


@pytest.fixture(scope="module")
def document(charts: Path) -> dict[str, Any]:
    """Every cell and curve for every peer, in one mode (both modes double the time)."""
    return _run("--no-pin", "--charts", str(charts))


@pytest.fixture(scope="module")
def both_modes() -> dict[str, Any]:
    """A small subset, pinned and unpinned, as a full run does by default."""
    return _run("--only", "connect,fanout", "--peers", "raw,gqlws_sync", "--no-charts")


@pytest.mark.timeout(RUN_TIMEOUT + 30)
def test_every_measurement_has_every_peer(document: dict[str, Any]) -> None:
    """Each cell has figures, or is one of the known unsupported ones; no cell failed."""
    assert set(document["results"]) == {"unpinned"}
    results = document["results"]["unpinned"]
    assert set(results) == set(MEASUREMENTS) | set(CURVES)
    for measurement in MEASUREMENTS:
        assert set(results[measurement]) == set(PEERS), measurement
        for peer in PEERS:
            cell = results[measurement][peer]
            expected = "unsupported" if (measurement, peer) in UNSUPPORTED else "ok"
            assert cell["status"] == expected, (measurement, peer, cell.get("reason"))
    for curve, peers in CURVE_PEERS.items():
        assert set(results[curve]) == peers, curve
        for peer in peers:
            cell = results[curve][peer]
            assert cell["status"] == "ok", (curve, peer, cell.get("reason"))


@pytest.mark.timeout(RUN_TIMEOUT + 30)
def test_numbers_are_sane(document: dict[str, Any]) -> None:
    """Every figure that exists is a positive number; message counts are exact."""
    results = document["results"]["unpinned"]
    counts = document["config"]["throughput_counts"]
    for peer in PEERS:
        sizes = results["throughput"][peer]["sizes"]
        assert set(sizes) == {str(size) for size in counts}
        for size, entry in sizes.items():
            assert entry["messages"] == counts[size]
            assert entry["rate"] > 0
            assert entry["cpu_share"] > 0
            assert entry["spread"]["rate"][0] <= entry["rate"] <= entry["spread"]["rate"][1]
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
    workers = document["config"]["thread_workers"]
    assert results["threads"]["raw"]["connections"] == workers
    assert results["threads"]["websockets-sync"]["connections"] == workers


@pytest.mark.timeout(RUN_TIMEOUT + 30)
def test_curves_have_every_point(document: dict[str, Any]) -> None:
    """Each curve has a positive figure at each of its points, for each of its peers."""
    config = document["config"]
    points = {
        "fanout": config["fanout_subscriptions"],
        "threads_curve": config["curve_threads"],
        "memory_curve": config["memory_counts"],
        "cpu_per_message": list(config["cpu_counts"]),
    }
    results = document["results"]["unpinned"]
    for curve, fields in CURVE_FIELDS.items():
        for peer, cell in results[curve].items():
            assert set(cell["points"]) == {str(point) for point in points[curve]}, (curve, peer)
            for point, entry in cell["points"].items():
                for field in fields:
                    value = entry[field]
                    assert isinstance(value, int | float), (curve, peer, point, field)
                    assert value > 0, (curve, peer, point, field, value)
                if curve == "cpu_per_message":
                    assert entry["faults_per_message"] >= 0, (peer, point)


@pytest.mark.timeout(RUN_TIMEOUT + 30)
def test_report_parts(document: dict[str, Any]) -> None:
    """Machine details, the server check and the target verdicts are all there."""
    machine = document["machine"]
    assert machine["logical_cpus"] >= 1
    assert set(machine["versions"]) >= {"websocket-client", "gql", "websockets", "gqlws_sync"}
    assert machine["pinning"]["unpinned"] == {"server_cpu": None, "client_cpu": None}
    assert [check["size"] for check in document["server_check"]["unpinned"]] == [
        str(size) for size in document["config"]["throughput_counts"]
    ]
    targets = document["targets"]
    assert {target["peer"] for target in targets} == {"gqlws_sync", "gqlws_sync+orjson"}
    assert {target["mode"] for target in targets} == {"unpinned"}
    assert all(target["value"] is not None for target in targets), targets
    names = {target["target"] for target in targets}
    for name in (
        "execute p50 <= 1.05x raw",
        "execute p99 <= 1.2x raw",
        "threads q/s >= 2.5x one thread sequentially",
        "threads q/s >= 1.5x gql-async (tasks, one connection)",
        "throughput 200 B >= 2.0x raw",
        "throughput 200 B >= 3.5x raw",
        "throughput 64 KiB >= 1.3x raw",
        "connect <= 1.10x raw",
        "idle CPU <= 1.0x raw",
        "memory < 400 B per idle subscription (tracemalloc)",
    ):
        assert name in names


@pytest.mark.timeout(RUN_TIMEOUT + 30)
def test_charts_written(document: dict[str, Any], charts: Path) -> None:
    """Each curve has its PNG, unless matplotlib is missing (then the run still succeeds)."""
    pytest.importorskip("matplotlib", reason="matplotlib is not installed")
    expected = {
        "bench-subscriptions.png",
        "bench-threads.png",
        "bench-memory.png",
        "bench-cpu-per-message.png",
    }
    assert {path.name for path in charts.iterdir()} == expected
    for path in charts.iterdir():
        assert path.read_bytes().startswith(b"\x89PNG")
    assert len(document["charts"]) == len(expected)


@pytest.mark.timeout(RUN_TIMEOUT + 30)
def test_text_report_renders(document: dict[str, Any]) -> None:
    """The table renderer handles a real result document."""
    from benchmarks.report import render

    text = render(document)
    for title in (
        "Subscription throughput",
        "round trip",
        "Threads",
        "Connect",
        "Idle",
        "concurrent subscriptions",
        "threads on one connection",
        "memory per idle subscription",
        "CPU per message",
    ):
        assert title in text
    assert "Targets" in text


@pytest.mark.timeout(RUN_TIMEOUT + 30)
def test_both_modes_by_default(both_modes: dict[str, Any]) -> None:
    """Without --pin-only/--no-pin a run measures each cell pinned and unpinned."""
    from benchmarks.report import render

    assert both_modes["config"]["modes"] == ["pinned", "unpinned"]
    for mode in ("pinned", "unpinned"):
        results = both_modes["results"][mode]
        assert set(results) == {"connect", "fanout"}
        for peer in ("raw", "gqlws_sync"):
            assert results["connect"][peer]["median_ms"] > 0
            assert all(entry["rate"] > 0 for entry in results["fanout"][peer]["points"].values())
    verdicts = {
        (target["mode"], target["target"])
        for target in both_modes["targets"]
        if target["value"] is not None
    }
    assert ("pinned", "connect <= 1.10x raw") in verdicts
    assert ("unpinned", "connect <= 1.10x raw") in verdicts
    text = render(both_modes)
    assert "pinned median" in text
    assert "unpinned median" in text


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
