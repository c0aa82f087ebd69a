"""Starting a real ``hotspot serve`` for a test or a benchmark: a free port, and the wait.

The browser tests (``tests/browser/conftest.py``), ``scripts/bench_browser.py`` and
``hotspot bench --load`` (:mod:`dashboard.loadbench`) each start the server as a user would,
in its own process, and wait until it answers before sending anything.
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

#: Polled until the server answers; it needs no data loaded and no sign-in to say so.
HEALTH = "/api/v1/health"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing is listening on now.

    Examples
    --------
    >>> 0 < free_port() < 65536
    True
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, proc: subprocess.Popen, log_path: Path,
                  timeout_s: float = 120.0) -> None:
    """Return once the server at ``url`` answers its health check.

    A server with users answers a request that is not signed in with 401: that too means it is
    up. Raises RuntimeError, with the server's log, when the process exits first or
    ``timeout_s`` seconds pass.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + HEALTH, timeout=5):
                return
        except urllib.error.HTTPError as err:
            if err.code == 401:
                return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("the server exited before it answered:\n"
                                   + log_path.read_text()) from None
        time.sleep(0.5)
    raise RuntimeError(f"the server did not answer {HEALTH} within {timeout_s:g} s:\n"
                       + log_path.read_text())
