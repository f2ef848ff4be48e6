"""``python -m gqlws_sync``: the ``gqlws`` command, ``serve`` and ``demo`` included."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
