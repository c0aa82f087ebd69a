"""Starting a real ``hotspot serve`` for a test or a benchmark: a free port, and the wait.

The browser tests (``tests/browser/conftest.py``), the cluster test,
``scripts/bench_browser.py`` and ``hotspot bench --load`` (:mod:`dashboard.loadbench`) each
start the server as a user would, in its own process, and wait until it answers before
sending anything (:func:`serve` does all three).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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


#: The ``hotspot`` command of the Python running this.
HOTSPOT = Path(sys.executable).with_name("hotspot")


@contextmanager
def serve(data_dir: Path, env: dict[str, str] | None = None, flags: Sequence[str] = (),
          log_path: Path | None = None) -> Iterator[str]:
    """Run `hotspot serve` on ``data_dir`` as it stands; yield its address once it answers.

    The data directory may be empty (the server loads the synthetic sample) or prepared
    beforehand, for example with users added by `hotspot users add`. ``env`` adds settings
    (``HOTSPOT_BASEMAP``...) to the server's environment and ``flags`` to its command line
    (``--engine dask``...); its output goes to ``log_path`` (default
    ``data_dir/server.log``). The server is stopped when the block ends.
    """
    port = free_port()
    cmd = [str(HOTSPOT), "serve", "--data-dir", str(data_dir), "--port", str(port), *flags]
    log_path = log_path or data_dir / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})})
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_up(url, proc, log_path)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=30)
