"""What docs/web-apps.md says about uWSGI, which forks its workers from C.

A fork made by C code does not run Python's ``os.register_at_fork`` hooks unless the server
calls ``PyOS_AfterFork_Child()`` (uWSGI's ``--py-call-osafterfork``). The script below
forks through libc, as uWSGI does, in a process of its own: forking the test process
itself would copy the reference server's thread.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from gqlws_sync.testing import ReferenceServer

from .support import START_TIMEOUT, example_env

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="forks through glibc")

SCRIPT = """
import ctypes, os, sys, traceback

from gqlws_sync import Client

client = Client(os.environ["GQLWS_URL"])  # created at import, as in a web app
if sys.argv[1] == "master-used":
    client.execute("{ hello }", timeout=5)
# A fork from C, as uWSGI makes it, with the GIL held as its master holds it (CDLL would
# let the master's reader thread take the GIL during the call, and a child forked then
# never gets it back).
pid = ctypes.PyDLL(None).fork()
if pid == 0:
    status = 1
    try:
        if sys.argv[2] == "after-fork-hook":
            ctypes.pythonapi.PyOS_AfterFork_Child()  # what --py-call-osafterfork adds
        print("worker:", client.execute("{ hello }", timeout=5), flush=True)
        client.close()
        status = 0
    except BaseException:
        traceback.print_exc()  # os._exit() would swallow it
    finally:
        os._exit(status)
_, status = os.waitpid(pid, 0)
client.close()
sys.exit(os.waitstatus_to_exitcode(status))
"""


@pytest.mark.parametrize(
    ("master", "hook"),
    [("master-unused", "no-hook"), ("master-used", "after-fork-hook")],
)
def test_worker_forked_from_c_connects_afresh(
    gqlws_server: ReferenceServer, master: str, hook: str
) -> None:
    """A client unused before the fork, or one with the after-fork hook run, just works."""
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, master, hook],
        env=example_env(gqlws_server.url),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "worker: {'hello': 'Hello world'}\n"
    # The worker's own connection, plus the master's when it had one.
    assert len(gqlws_server.handshakes) == (2 if master == "master-used" else 1)
