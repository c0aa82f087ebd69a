"""The gate's cross-site check: which state-changing requests count as from Hotspot's own pages."""

from __future__ import annotations

import pytest
from flask import Flask

from dashboard.access.gate import _same_origin

HOST = "hotspot.example:8050"

CASES = {
    # Chromium's own form POST (the header's Sign out button): Referrer-Policy no-referrer
    # makes it send "Origin: null", and Sec-Fetch-Site says where it really came from
    "own form, origin null": ({"Sec-Fetch-Site": "same-origin", "Origin": "null"}, True),
    "own script": ({"Sec-Fetch-Site": "same-origin", "Origin": f"http://{HOST}"}, True),
    "another site": ({"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"}, False),
    "a sibling host": ({"Sec-Fetch-Site": "same-site", "Origin": "http://x.example"}, False),
    "cross-site claiming our origin": ({"Sec-Fetch-Site": "cross-site",
                                        "Origin": f"http://{HOST}"}, False),
    "old browser, another site": ({"Origin": "http://evil.example"}, False),
    "old browser, our site": ({"Origin": f"http://{HOST}"}, True),
    "old browser, origin null": ({"Origin": "null"}, False),
    "typed address, another origin": ({"Sec-Fetch-Site": "none",
                                       "Origin": "http://evil.example"}, False),
    "not a browser": ({}, True),
}


@pytest.mark.parametrize(("headers", "same"), CASES.values(), ids=CASES.keys())
def test_same_origin(headers, same):
    app = Flask(__name__)
    with app.test_request_context("/sign-out", method="POST", base_url=f"http://{HOST}",
                                  headers=headers):
        assert _same_origin() is same
