"""PNG charts of the cost curves, one per curve, for the README: ``write_charts(document, dir)``.

matplotlib comes with the ``bench`` extra but is imported only here and only when charts are
asked for, so a machine without it still runs every measurement (the runner prints a note).
Each chart draws one line per peer, solid for the pinned run and dashed for the unpinned one,
so where the two part is where cross-core hand-offs start to cost.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .report import MODES, PEER_ORDER

__all__ = ["CHART_FILES", "write_charts"]

#: File name of each curve's chart.
CHART_FILES = {
    "fanout": "bench-subscriptions.png",
    "threads_curve": "bench-threads.png",
    "memory_curve": "bench-memory.png",
    "cpu_per_message": "bench-cpu-per-message.png",
}
_STYLES = {"pinned": "-", "unpinned": "--"}
_COLOURS = dict(
    zip(
        PEER_ORDER,
        ("black", "tab:purple", "tab:blue", "tab:cyan", "tab:orange", "tab:red"),
        strict=True,
    )
)


def _size_label(size: float) -> str:
    value = int(size)
    if value >= 1024 and value % 1024 == 0:
        return f"{value // 1024} KiB"
    return f"{value} B"


def _series(
    document: dict[str, Any], measurement: str, field: str
) -> list[tuple[str, str, list[float], list[float]]]:
    """(peer, mode, xs, ys) for every peer and mode that has this curve."""
    lines = []
    for peer in PEER_ORDER:
        for mode in MODES:
            cell = document["results"].get(mode, {}).get(measurement, {}).get(peer)
            if not cell or cell.get("status") != "ok":
                continue
            points = sorted(cell["points"].items(), key=lambda item: int(item[0]))
            xs = [float(key) for key, entry in points if entry.get(field) is not None]
            ys = [float(entry[field]) for _, entry in points if entry.get(field) is not None]
            if xs:
                lines.append((peer, mode, xs, ys))
    return lines


def write_charts(document: dict[str, Any], directory: Path) -> list[Path] | None:
    """Write a chart for each curve in ``document``; the paths, or None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display needed, and none is touched
        import matplotlib.pyplot as plt
        from matplotlib.axes import Axes
        from matplotlib.ticker import FuncFormatter
    except ImportError:
        return None

    smoke = " (SMOKE: meaningless)" if document["config"]["smoke"] else ""
    machine = document["machine"]
    caption = (
        f"{machine['cpu_model']}, {machine['logical_cpus']} CPUs, {machine['python']}; "
        f"median of {document['config']['reps']} runs; solid: pinned, dashed: unpinned"
    )

    def plot(axes: Axes, measurement: str, field: str) -> None:
        for peer, mode, xs, ys in _series(document, measurement, field):
            axes.plot(
                xs,
                ys,
                _STYLES[mode],
                marker="o",
                markersize=3,
                color=_COLOURS.get(peer, "grey"),
                label=f"{peer} ({mode})",
            )
        axes.set_xscale(
            "log", base=2 if measurement in ("threads_curve", "cpu_per_message") else 10
        )
        axes.grid(True, which="both", alpha=0.3)

    def save(
        measurement: str, title: str, panels: list[tuple[str, str, Callable[[Axes], None] | None]]
    ) -> Path:
        figure, grid = plt.subplots(1, len(panels), figsize=(6.4 * len(panels), 4.8), squeeze=False)
        for axes, (field, ylabel, adjust) in zip(grid[0], panels, strict=True):
            plot(axes, measurement, field)
            axes.set_ylabel(ylabel)
            if adjust is not None:
                adjust(axes)
        grid[0][0].legend(fontsize="small")
        figure.suptitle(title + smoke)
        figure.text(0.5, 0.01, caption, ha="center", fontsize="x-small")
        figure.tight_layout(rect=(0, 0.03, 1, 1))
        path = directory / CHART_FILES[measurement]
        figure.savefig(path, dpi=100)
        plt.close(figure)
        return path

    def by_size(axes: Axes) -> None:
        axes.set_xlabel("message size (JSON text)")
        axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: _size_label(value)))
        axes.set_yscale("log")

    def counted(label: str) -> Callable[[Axes], None]:
        def adjust(axes: Axes) -> None:
            axes.set_xlabel(label)
            axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
            axes.set_ylim(bottom=0)

        return adjust

    present = {
        measurement
        for by_measurement in document["results"].values()
        for measurement in by_measurement
    }
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    if "fanout" in present:
        size = _size_label(document["config"]["fanout_size"])
        written.append(
            save(
                "fanout",
                f"Concurrent subscriptions sharing one stream ({size} messages)",
                [
                    ("rate", "messages/s, all subscriptions", counted("subscriptions")),
                    ("cpu_us_per_message", "client CPU µs per message", counted("subscriptions")),
                ],
            )
        )
    if "threads_curve" in present:
        written.append(
            save(
                "threads_curve",
                "execute() from N threads (gql-async: N tasks) on one connection",
                [
                    ("qps", "queries/s, all threads", counted("threads")),
                    ("p99_us", "p99 round trip, µs", counted("threads")),
                ],
            )
        )
    if "memory_curve" in present:
        written.append(
            save(
                "memory_curve",
                "Memory per idle subscription",
                [
                    (
                        "traced_bytes_per_subscription",
                        "bytes (tracemalloc)",
                        counted("idle subscriptions"),
                    ),
                    (
                        "rss_bytes_per_subscription",
                        "bytes (RSS growth)",
                        counted("idle subscriptions"),
                    ),
                ],
            )
        )
    if "cpu_per_message" in present:
        written.append(
            save(
                "cpu_per_message",
                "Client CPU per message against message size",
                [
                    ("cpu_us_per_message", "CPU µs per message (log)", by_size),
                    ("rate", "messages/s (log)", by_size),
                ],
            )
        )
    return written
