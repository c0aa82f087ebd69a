"""Steps on the page that several browser tests share."""

from __future__ import annotations

import re


def choose_option(page, dropdown: str, name: str) -> None:
    """Pick the option labelled exactly ``name`` in the Dash dropdown ``dropdown`` (a selector).

    Click the option itself: typed keys can reach the list before its search box has focus,
    and Enter then picks whatever option is first (seen under load, on two pages).
    """
    page.click(dropdown)
    exact = re.compile(rf"^\s*{re.escape(name)}\s*$")
    page.locator(".dash-dropdown-content .dash-dropdown-option", has_text=exact).first.click()
    page.keyboard.press("Escape")
    page.wait_for_function(
        "([sel, name]) => document.querySelector(sel).innerText.includes(name)",
        arg=[dropdown, name], timeout=10_000)
