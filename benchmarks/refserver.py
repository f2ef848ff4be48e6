"""gqlws_sync's reference server in a process of its own, for ``--server reference``.

Prints ``LISTENING <port>`` like the firehose server and stops on stdin EOF or SIGTERM. It
serves the demo schema: ``burst`` takes its prebuilt-frame fast path, ``echo`` goes through
graphql-core, and there is no ``idle``/``idleCount``, so idle subscriptions are not measured.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.refserver")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cpu", type=int, default=None, help="pin the process to this CPU")
    args = parser.parse_args(argv)
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})

    from gqlws_sync.testing import ReferenceServer

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)

    def watch_stdin() -> None:
        while os.read(sys.stdin.fileno(), 4096):
            pass
        stop.set()  # EOF: the parent closed the pipe or died

    with ReferenceServer(port=args.port) as server:
        print(f"LISTENING {server.port}", flush=True)
        threading.Thread(target=watch_stdin, daemon=True).start()
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
