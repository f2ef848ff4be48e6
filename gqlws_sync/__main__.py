"""``python -m gqlws_sync``: the ``gqlws`` command, or ``python -m gqlws_sync demo``.

``demo`` cannot be mistaken for a URL (the command wants ``ws://`` or ``wss://``), so the
first argument alone decides which program runs.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo or the command line and return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["demo"]:
        # Imported on demand: the demo needs the server extra, the command does not.
        from ._demo import main as demo_main  # noqa: PLC0415

        return demo_main(args[1:])
    from .cli import main as cli_main  # noqa: PLC0415

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
