"""Benchmarks of gqlws_sync against raw WebSocket loops and gql, in one run.

``python -m benchmarks`` (``make bench``) starts the firehose server (``benchmarks.firehose``)
in its own process, once pinned to a CPU and once unpinned, then runs every measurement for
every peer in both placements, each in a fresh worker process (``benchmarks.worker``), and
prints one table per measurement with the ratio of each peer to the raw loop, both placements
side by side. ``--smoke`` runs the same code at tiny sizes for CI.

Modules:

- ``firehose``: the server: graphql-transport-ws from prebuilt frames, nothing else.
- ``peers``: the clients under test, one class each, all with the same measurements.
- ``worker``: runs one measurement for one peer, repeated, and prints JSON.
- ``runner``: the command line; starts the server, runs the workers, checks the targets.
- ``report``: machine details, the tables and the target verdicts.
- ``charts``: PNG charts of the cost curves (matplotlib, imported only when charts are drawn).
"""

from __future__ import annotations
