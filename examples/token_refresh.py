"""Send a fresh, short-lived token with every connect and reconnect.

Usage:

    gqlws serve                          # the reference server, ws://127.0.0.1:8000/graphql
    python examples/token_refresh.py     # GQLWS_URL overrides the URL; Ctrl-C stops it

Then stop ``gqlws serve`` with Ctrl-C and start it again: the client reconnects by itself,
and the server sees a new token. ``python examples/token_refresh.py 2`` exits once the
server has seen two different tokens.

Servers often authenticate the WebSocket once, from the ``connection_init`` payload, and
close the connection when the token expires (graphql-ws servers commonly with 4403). A
fixed ``init_payload`` would then resend the expired token on every reconnect. Given a
callable instead, the client calls it on every connect and reconnect, on the thread that
connects, so each connection starts with a token that is valid at that moment. ``headers``
takes a callable the same way, for tokens sent in the upgrade request.

The demo schema's ``whoami { initToken }`` answers with the token the server saw in the
``connection_init`` of the connection that carried the query.
"""

from __future__ import annotations

import itertools
import os
import secrets
import sys
import threading
import time
from dataclasses import dataclass

from gqlws_sync import Client, TransportError

URL = os.environ.get("GQLWS_URL", "ws://127.0.0.1:8000/graphql")
WHOAMI = "{ whoami { initToken } }"
#: How long a token is valid; a real identity provider decides this.
TOKEN_LIFETIME = 300.0
#: How often to ask the server which token it saw, when no reconnect wakes the loop sooner.
CHECK_INTERVAL = 1.0
QUERY_TIMEOUT = 5.0


@dataclass(frozen=True)
class Token:
    value: str
    expires_at: float  # time.time()

    @property
    def expires_in(self) -> float:
        return self.expires_at - time.time()


class TokenSource:
    """Stands in for your identity provider: each call returns a new token that expires.

    A real application would fetch one (an OAuth client-credentials grant, a refresh-token
    exchange, ...) and might reuse it until shortly before it expires; here every connect
    gets a new one, so that the change is visible.
    """

    def __init__(self, lifetime: float = TOKEN_LIFETIME) -> None:
        self.lifetime = lifetime
        self._numbers = itertools.count(1)
        # The client calls it from whichever thread connects: the first caller's, or its
        # background reconnect thread.
        self._lock = threading.Lock()

    def new_token(self) -> Token:
        with self._lock:
            number = next(self._numbers)
        return Token(f"token-{number}-{secrets.token_hex(4)}", time.time() + self.lifetime)


tokens = TokenSource()
#: Set by on_connect, so the loop below looks again as soon as a new connection is up.
connected = threading.Event()


def init_payload() -> dict[str, str]:
    """The ``connection_init`` payload: called by the client on every connect."""
    token = tokens.new_token()
    print(f"connecting with {token.value} (expires in {token.expires_in:.0f} s)")
    return {"authToken": token.value}


def on_connect(client: Client) -> None:
    """Called after every ``connection_ack``, on the thread that connected."""
    print("connected")
    connected.set()


def on_disconnect(client: Client, error: BaseException) -> None:
    """Called when an established connection ends for any reason but our own ``close()``.

    What follows depends on why it ended: after a lost connection or a server restart the
    client reconnects in the background; after a refusal such as 4403 it does not, and the
    next operation connects (calling ``init_payload`` again, as always).
    """
    print(f"connection lost: {error}")


def main(url: str, tokens_wanted: int | None) -> int:
    """Print each token the server sees; return once it has seen ``tokens_wanted`` of them."""
    client = Client(
        url,
        init_payload=init_payload,
        on_connect=on_connect,
        on_disconnect=on_disconnect,
        reconnect=True,  # the default, written out: a lost connection is re-established
    )
    seen: list[str] = []
    try:
        with client:
            while tokens_wanted is None or len(seen) < tokens_wanted:
                connected.clear()
                try:
                    token = client.execute(WHOAMI, timeout=QUERY_TIMEOUT)["whoami"]["initToken"]
                except TransportError as exc:
                    # A query caught by a lost connection; the next one goes out on the new
                    # connection (or connects one).
                    print(f"query failed: {type(exc).__name__}: {exc}")
                    token = None
                if token is not None and token not in seen:
                    seen.append(token)
                    print(f"the server saw {token}")
                # Wakes early when a new connection is up, else looks again after a while.
                connected.wait(CHECK_INTERVAL)
    except KeyboardInterrupt:
        return 130
    except TransportError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) > 1 or (args and not args[0].isdigit()):
        sys.exit(__doc__)
    sys.exit(main(URL, int(args[0]) if args else None))
