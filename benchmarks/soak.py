"""A soak run: mixed traffic on one long-lived client while the connection is cut again and
again. Not part of the suite; ``python -m benchmarks.soak`` (10 minutes by default).

What it shows: whether a client kept for the life of a process stays flat (memory, threads)
and keeps serving across reconnections, and which errors its callers see. The reference
server runs in a process of its own and drops every connection (a TCP abort, no Close)
each ``--cut-every`` seconds. Meanwhile threads run queries and mutations and read
subscriptions. Every ``--sample-every`` seconds a line reports RSS, threads, reconnections
and errors so far; the end compares the first and last samples.
"""

from __future__ import annotations

import argparse
import collections
import os
import signal
import subprocess
import sys
import threading
import time
from types import FrameType
from typing import Any

__all__ = ["main"]


def _serve(port: int) -> int:
    """The server process: the reference server; SIGUSR1 drops every connection."""
    import logging

    from gqlws_sync.testing import ReferenceServer

    # Writes to connections it just aborted are expected here, and logged by asyncio.
    logging.getLogger("asyncio").setLevel(logging.ERROR)

    stop = threading.Event()
    cut = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()

    def on_cut(signum: int, frame: FrameType | None) -> None:
        cut.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGUSR1, on_cut)
    with ReferenceServer(port=port) as server:
        print(f"LISTENING {server.port}", flush=True)
        while not stop.is_set():
            if cut.wait(0.2):
                cut.clear()
                server.drop_connections()
    return 0


def _rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class Tally:
    """Counters shared by the traffic threads (one lock; contention is irrelevant here)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: collections.Counter[str] = collections.Counter()
        self.errors: collections.Counter[str] = collections.Counter()

    def count(self, what: str, n: int = 1) -> None:
        with self.lock:
            self.counts[what] += n

    def error(self, exc: BaseException) -> None:
        name = type(exc).__name__
        if "may or may not have been applied" in str(exc):
            name += " (mutation in flight)"
        with self.lock:
            self.errors[name] += 1


def _traffic(url: str, args: argparse.Namespace) -> dict[str, Any]:
    from gqlws_sync import Client, Reconnect, TransportError

    tally = Tally()
    connects = [0]

    def on_connect(_client: Client) -> None:
        connects[0] += 1

    policy = Reconnect(initial_delay=0.1, max_delay=2.0, max_attempts=None)
    client = Client(url, reconnect=policy, on_connect=on_connect, execute_timeout=10)
    stop = threading.Event()

    def queries(index: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                if n % 10 == 0:
                    client.execute("mutation { increment(by: 1) }")
                    tally.count("mutations")
                else:
                    data = client.execute("query A($a: Int!) { add(a: $a, b: 1) }", {"a": n})
                    assert data == {"add": n + 1}, data
                    tally.count("queries")
            except TransportError as exc:
                tally.error(exc)

    def subscription() -> None:
        while not stop.is_set():
            try:
                with client.subscribe(
                    "subscription { ticks(interval: 0.05) }", timeout=10
                ) as ticks:
                    for _ in ticks:
                        tally.count("events")
                        if stop.is_set():
                            break
                    tally.count("resubscribed", ticks.resubscribed)
            except TransportError as exc:
                tally.error(exc)

    workers = [
        threading.Thread(target=queries, args=(i,), name=f"soak-query-{i}")
        for i in range(args.threads)
    ] + [
        threading.Thread(target=subscription, name=f"soak-sub-{i}")
        for i in range(args.subscriptions)
    ]
    client.execute("{ hello }")
    samples: list[dict[str, Any]] = []

    def sample(elapsed: float) -> None:
        ours = [t for t in threading.enumerate() if t.name.startswith("gqlws_sync-")]
        with tally.lock:
            row = {
                "t": round(elapsed),
                "rss_mib": round(_rss() / 2**20, 1),
                "threads": threading.active_count(),
                "client_threads": len(ours),
                "reconnects": max(0, connects[0] - 1),
                **dict(tally.counts),
                "errors": sum(tally.errors.values()),
            }
        samples.append(row)
        print("  ".join(f"{k}={v}" for k, v in row.items()), flush=True)

    for worker in workers:
        worker.start()
    return {
        "client": client,
        "stop": stop,
        "workers": workers,
        "sample": sample,
        "samples": samples,
        "tally": tally,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__)
    parser.add_argument("--duration", type=float, default=600.0, help="seconds (600)")
    parser.add_argument("--cut-every", type=float, default=20.0, help="seconds (20)")
    parser.add_argument("--sample-every", type=float, default=10.0, help="seconds (10)")
    parser.add_argument("--threads", type=int, default=8, help="query threads (8)")
    parser.add_argument("--subscriptions", type=int, default=20, help="(20)")
    parser.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        return _serve(args.serve)

    server = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.soak", "--serve", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if not line.startswith("LISTENING "):
            print(f"the server did not start: {line!r}", file=sys.stderr)
            return 1
        url = f"ws://127.0.0.1:{int(line.split()[1])}/graphql"
        print(
            f"soak: {args.duration:.0f} s against {url}, connection cut every "
            f"{args.cut_every:.0f} s, {args.threads} query threads, "
            f"{args.subscriptions} subscriptions",
            flush=True,
        )
        run = _traffic(url, args)
        started = time.monotonic()
        next_cut = started + args.cut_every
        next_sample = started
        while (now := time.monotonic()) - started < args.duration:
            if now >= next_sample:
                run["sample"](now - started)
                next_sample += args.sample_every
            if now >= next_cut:
                os.kill(server.pid, signal.SIGUSR1)
                next_cut += args.cut_every
            time.sleep(max(0.0, min(next_sample, next_cut) - time.monotonic()))
        run["sample"](time.monotonic() - started)
        run["stop"].set()
        for worker in run["workers"]:
            worker.join(15)
        run["client"].close()
        first, last = run["samples"][0], run["samples"][-1]
        tally: Tally = run["tally"]
        print()
        print(f"RSS: {first['rss_mib']} MiB at start, {last['rss_mib']} MiB at the end")
        left = [t for t in threading.enumerate() if t.name.startswith("gqlws_sync-")]
        print(
            f"threads: {first['threads']} at start, {last['threads']} at the end "
            f"(client's own: {first['client_threads']} -> {last['client_threads']}); "
            f"after close(): {len(left)}"
        )
        print(f"reconnects: {last['reconnects']}; cuts: {int(args.duration // args.cut_every)}")
        print(f"served: {dict(tally.counts)}")
        print(f"errors by kind: {dict(tally.errors) or 'none'}")
    finally:
        server.terminate()
        server.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
