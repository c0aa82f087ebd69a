"""A live Hotspot server and a headless Debian Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from dashboard.liveserver import free_port, wait_until_up

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--disable-quic"]


#: The ``hotspot`` command of the Python running the tests.
HOTSPOT = Path(sys.executable).with_name("hotspot")


@contextmanager
def serve(data_dir: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """Run `hotspot serve` on ``data_dir`` as it stands; yield its address once it answers.

    The data directory may be empty (the server loads the synthetic sample) or prepared
    beforehand, for example with users added by `hotspot users add`. ``env`` adds settings
    (``HOTSPOT_BASEMAP``...) to the server's environment.
    """
    port = free_port()
    cmd = [str(HOTSPOT), "serve", "--data-dir", str(data_dir), "--port", str(port)]
    log_path = data_dir / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})})
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_up(url, proc, log_path)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> Iterator[str]:
    """`hotspot serve` on an empty data directory (so it loads the synthetic sample)."""
    with serve(tmp_path_factory.mktemp("browser-data")) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("HOTSPOT_CHROMIUM") or shutil.which("chromium")
    if not executable:
        pytest.fail("Debian's chromium is not installed: run ./scripts/test.sh, which installs it")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS,
                                     headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    """A fresh page that records console errors; the test fails if any appear."""
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    # the product must work on a closed network: any request off this machine is a defect
    pg.on("request", lambda r: errors.append(f"external request: {r.url}")
          if not r.url.startswith(("http://127.0.0.1", "data:", "blob:")) else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.console_errors = errors  # type: ignore[attr-defined]
    yield pg
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert errors == [], f"browser console errors: {errors}"
