"""One gqlws_sync workload, repeated, to profile the client: ``python -m benchmarks.profiling``.

Starts the firehose server (pinned to one CPU, the client to another, as in the benchmark)
and repeats one workload for ``--seconds``, then prints what it cost per message: wall time,
client CPU, voluntary context switches (thread wake-ups). Two ways to see where the time goes:

- ``--cprofile``: every thread of this process runs under cProfile (the reader and timer
  threads included) and the top functions of each are printed. cProfile adds a fixed cost to
  every call, so it overstates small functions; use it for call counts and shape.
- a sampler from outside, which does not slow the code down, e.g.
  ``py-spy record --threads --rate 1000 -o profile.svg -- python -m benchmarks.profiling``
  (``pip install py-spy``; add ``--gil`` to sample only the thread holding the GIL).

Only the public API is used, so this keeps working while the client's internals change.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from .firehose import ECHO_QUERY, SUBPROTOCOL, burst_query
from .meter import Meter
from .runner import ServerProcess

__all__ = ["main"]


def _profile_threads(profiles: dict[str, cProfile.Profile]) -> None:
    """Make every thread started from now on run under its own cProfile.Profile."""
    original = threading.Thread.run

    def run(self: threading.Thread) -> None:
        profile = cProfile.Profile()
        profiles[self.name] = profile
        profile.enable()
        try:
            original(self)
        finally:
            profile.disable()

    threading.Thread.run = run  # type: ignore[method-assign]  # this process only, on purpose


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profiling", description=__doc__)
    parser.add_argument(
        "workload", choices=("throughput", "latency"), nargs="?", default="throughput"
    )
    parser.add_argument("--size", type=int, default=200, help="message size for throughput")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long to run")
    parser.add_argument(
        "--orjson",
        action="store_true",
        help="the default codec, orjson (without it: the standard library's json)",
    )
    parser.add_argument("--cprofile", action="store_true", help="cProfile every thread")
    parser.add_argument("--no-pin", action="store_true", help="do not pin to CPUs")
    args = parser.parse_args(argv)

    from gqlws_sync import Client

    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    pin = not args.no_pin and len(cpus) >= 2
    profiles: dict[str, cProfile.Profile] = {}
    if args.cprofile:
        _profile_threads(profiles)
    # orjson is the client's default codec once installed; without --orjson, ask for json.
    options: dict[str, Any] = (
        {} if args.orjson else {"json_loads": json.loads, "json_dumps": json.dumps}
    )

    with ServerProcess("firehose", cpus[0] if pin else None) as server:
        if pin:
            os.sched_setaffinity(0, {cpus[1]})
        with Client(server.url, subprotocols=[SUBPROTOCOL], **options) as client:
            step: Callable[[], int]
            if args.workload == "throughput":
                # About 0.2 s per burst, so a run is many bursts on one connection.
                count = max(100, 50_000_000 // max(args.size, 200) // 10)
                query = burst_query(count, args.size)

                def step() -> int:
                    return sum(1 for _ in client.subscribe(query))

            else:

                def step() -> int:
                    for _ in range(200):
                        client.execute(ECHO_QUERY)
                    return 200

            step()  # warm-up
            main_profile = cProfile.Profile()
            meter = Meter(server.pid)
            done = 0
            with meter:
                if args.cprofile:
                    main_profile.enable()
                deadline = time.monotonic() + args.seconds
                while time.monotonic() < deadline:
                    done += step()
                main_profile.disable()
    window = meter.result()
    unit = "message" if args.workload == "throughput" else "query"
    print(
        f"{args.workload}{f' {args.size} B' if args.workload == 'throughput' else ''}"
        f"{' orjson' if args.orjson else ''}: {done:,} in {window.seconds:.2f} s = "
        f"{done / window.seconds:,.0f}/s; per {unit}: {window.seconds / done * 1e6:.2f} µs wall, "
        f"{window.cpu_seconds / done * 1e6:.2f} µs client CPU, "
        f"{window.voluntary_switches / done:.3f} wake-ups, "
        f"{window.minor_faults / done:.2f} page faults; client at {window.cpu_share:.0%} of a core"
    )
    if args.cprofile:
        profiles["MainThread"] = main_profile
        for name, profile in profiles.items():
            text = io.StringIO()
            pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(15)
            print(f"\n== {name}")
            print("\n".join(line for line in text.getvalue().splitlines() if line.strip()))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
