"""Answering as someone outside a web request: tests that call page code directly use this.

The web app's query layer answers nothing unless a principal is pinned (the gate pins one
for each request), so a test that calls a callback or builds a layout itself says who it
asks as, just as a request would.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from geo.access import Principal, load_roles


def principal(role: str = "analyst", areas: tuple[str, ...] | None = None) -> Principal:
    """Return a principal of ``role`` (the default site roles)."""
    return Principal(f"test {role}", load_roles()[role], areas, via="local")


@contextlib.contextmanager
def acting_as(who: Principal | None = None) -> Iterator[Principal]:
    """Pin the current app's services to ``who`` (an analyst by default) within the block."""
    from flask import g, has_request_context

    from dashboard import services

    who = who or principal()
    with services.current().pinned(who):
        if has_request_context():
            g.hotspot_principal = who
        yield who
