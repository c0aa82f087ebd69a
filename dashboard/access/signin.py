"""The sign-in page, sign-in and sign-out: a Flask blueprint with no scripts at all.

The page works under the app's Content-Security-Policy (no inline script; its one ``<style>``
block is allowed) and carries its own styles, so it looks right even if the gate keeps
``/assets/`` for signed-in users.

Forgery protection: the sign-in form carries a random token that must equal the one in the
short-lived ``hotspot_signin`` cookie (a page on another site can set neither), and the
sign-out form carries the session's own CSRF token. Both cookies and the session cookie are
HttpOnly and SameSite=Strict.

The blueprint finds the accounts and settings in ``current_app.extensions["hotspot_access"]``
(an :class:`~dashboard.access.identity.AccessState`) and, if there is one, records sign-ins and
sign-outs in ``current_app.extensions["hotspot_audit"]``.
"""

from __future__ import annotations

import hmac
import re
import secrets
from typing import Any

import jinja2
from flask import Blueprint, Response, current_app, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from dashboard.access.accounts import MAX_PASSWORD, SignInFailed
from dashboard.access.identity import (
    ACCESS_EXTENSION,
    AUDIT_EXTENSION,
    SESSION_COOKIE,
    AccessState,
    peer_address,
)

bp = Blueprint("hotspot_signin", __name__)

#: Cookie holding the sign-in form's anti-forgery token.
SIGNIN_COOKIE = "hotspot_signin"
#: How long a sign-in form stays usable (seconds); after that a reload gives a fresh one.
SIGNIN_FORM_S = 20 * 60
#: Where the app keeps the function giving a principal's start page (the gate's
#: ``landing_page``); without one, a sign-in with no page asked for goes to "/".
LANDING_EXTENSION = "hotspot_landing"
#: Longest ``next`` path kept; a longer one is replaced by "/".
MAX_NEXT = 2000

_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,128}")

_PAGE = jinja2.Environment(autoescape=True).from_string("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hotspot · Sign in</title>
<style>
* { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
       font-size: 14px; color: #1a1a1a; background: #f4f5f7; }
.topbar { padding: 8px 16px; background: #1f2a44; color: #fff; font-weight: 700;
          font-size: 18px; letter-spacing: 0.5px; }
form { max-width: 360px; margin: 48px auto; background: #fff; border: 1px solid #d9dce1;
       padding: 16px 20px 20px; }
h1 { font-size: 18px; margin: 0 0 12px; }
label { display: block; font-weight: 600; margin: 12px 0 4px; }
input { width: 100%; padding: 6px; font-size: 14px; border: 1px solid #9aa3b2; }
button { margin-top: 16px; padding: 7px 18px; font-size: 14px; background: #1f4b99;
         color: #fff; border: none; cursor: pointer; }
.error { color: #611a15; background: #fdecea; border-left: 4px solid #b3261e;
         padding: 6px 10px; margin: 0 0 8px; }
</style>
</head>
<body>
<header class="topbar">Hotspot</header>
<main>
<form method="post" action="{{ action }}">
<h1>Sign in</h1>
{% if message %}<p class="error" role="alert">{{ message }}</p>{% endif %}
<input type="hidden" name="csrf" value="{{ csrf }}">
<input type="hidden" name="next" value="{{ next }}">
<label for="user">User name</label>
<input id="user" name="user" value="{{ user }}" maxlength="64" autocomplete="username"
       autocapitalize="none" spellcheck="false" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
</main>
</body>
</html>
""")


def _state() -> AccessState:
    state = current_app.extensions.get(ACCESS_EXTENSION)
    if not isinstance(state, AccessState):
        raise RuntimeError(f"the app has no app.extensions['{ACCESS_EXTENSION}'] AccessState; "
                           "the app factory sets it up")
    return state


def _secure() -> bool:
    return request.is_secure or _state().settings.secure_cookies


def _same(expected: str | None, given: str | None) -> bool:
    """Compare two tokens in constant time; a missing or empty one never matches."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def safe_next(target: str | None) -> str:
    r"""Return ``target`` if it is a path on this site, else ``"/"``.

    Only a path starting with a single ``/`` is kept: ``//host`` and ``/\host`` (which
    browsers read as another host), a scheme, spaces, control or non-ASCII characters (which
    browsers drop or rewrite) all give ``"/"``, as does the sign-in page itself.

    Examples
    --------
    >>> safe_next("/trends?la=E07000123"), safe_next("//evil.example"), safe_next("/\\evil")
    ('/trends?la=E07000123', '/', '/')
    """
    if not target or len(target) > MAX_NEXT or not target.startswith("/"):
        return "/"
    if target.startswith("//") or "\\" in target:
        return "/"
    if any(not 33 <= ord(c) <= 126 for c in target):
        return "/"
    if target == "/sign-in" or target.startswith(("/sign-in?", "/sign-in/", "/sign-out")):
        return "/"
    return target


def audit(action: str, *, who: str | None, role: str | None = None, via: str | None = None,
          status: int | None = None, what: dict[str, Any] | None = None) -> None:
    """Record ``action`` in the audit log, if the app has one."""
    log = current_app.extensions.get(AUDIT_EXTENSION)
    if log is not None:
        log.record(action, who=who, role=role, via=via, ip=peer_address(request),
                   status=status, what=what)


def _form_token() -> str:
    """Return the sign-in cookie's token if it is one of ours, else a new one."""
    current = request.cookies.get(SIGNIN_COOKIE) or ""
    return current if _TOKEN.fullmatch(current) else secrets.token_urlsafe(32)


def _page(status: int, message: str = "", user: str = "", nxt: str = "/") -> Response:
    """Render the sign-in form with a fresh anti-forgery cookie."""
    token = _form_token()
    action = url_for("hotspot_signin.sign_in")
    html = _PAGE.render(action=action, csrf=token, next=nxt, user=user, message=message)
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.set_cookie(SIGNIN_COOKIE, token, max_age=SIGNIN_FORM_S, path=action,
                        secure=_secure(), httponly=True, samesite="Strict")
    return response


@bp.get("/sign-in")
def sign_in_form() -> Response:
    """Show the sign-in form."""
    return _page(200, nxt=safe_next(request.args.get("next")))


@bp.post("/sign-in")
def sign_in() -> BaseResponse:
    """Check the user name and password; start a session and go on to ``next``.

    A wrong password answers 401. A locked account answers 429 with ``Retry-After``: the
    client is told to wait (and for how long), which a retrying script understands, and
    the page says the same in words.
    """
    state, form = _state(), request.form
    nxt = safe_next(form.get("next"))
    name = form.get("user", "").strip()
    if not _same(request.cookies.get(SIGNIN_COOKIE), form.get("csrf")):
        audit("sign-in-failed", who=None, status=400, what={"reason": "form"})
        return _page(400, "The sign-in form had expired or did not come from this site. "
                     "Please sign in again.", name[:64], nxt)
    try:
        user = state.accounts.check_password(name, form.get("password", "")[:MAX_PASSWORD + 1])
    except SignInFailed as failed:
        status = 429 if failed.reason == "locked" else 401
        # only a user's real name is kept: what was typed for an unknown one may be a password
        # typed into the wrong box
        audit("sign-in-failed", who=name if failed.reason != "unknown" else None,
              status=status, what={"reason": failed.reason})
        refused = _page(status, failed.message, name[:64], nxt)
        if failed.retry_after_s:
            refused.headers["Retry-After"] = str(failed.retry_after_s)
        return refused
    old = request.cookies.get(SESSION_COOKIE)
    if old:  # someone else's session in this browser ends; never reuse an id (fixation)
        state.accounts.end_session(old)
    # recorded before the session exists: if the record cannot be written, nobody signs in
    audit("sign-in", who=user.name, role=user.role, via="session", status=303)
    session_id, _ = state.accounts.start_session(user)
    landing = current_app.extensions.get(LANDING_EXTENSION)
    if nxt == "/" and landing is not None:
        # no page was asked for: the role's own start page (officers: tonight's plan)
        nxt = landing(state.accounts.principal(user, "session"))
    response = redirect(nxt, 303)
    response.set_cookie(SESSION_COOKIE, session_id, path="/", secure=_secure(), httponly=True,
                        samesite="Strict")
    response.delete_cookie(SIGNIN_COOKIE, path=url_for("hotspot_signin.sign_in"),
                           secure=_secure(), httponly=True, samesite="Strict")
    return response


@bp.post("/sign-out")
def sign_out() -> BaseResponse:
    """End the session (the form must carry its CSRF token), clear the cookie, show sign-in."""
    state = _state()
    session_id = request.cookies.get(SESSION_COOKIE) or ""
    found = state.accounts.session_user(session_id) if session_id else None
    if found is not None:
        user, csrf = found
        if not _same(csrf, request.form.get("csrf")):
            return Response("Sign-out was refused: the request did not come from a Hotspot "
                            "page. Use the Sign out button.", status=400, mimetype="text/plain")
        state.accounts.end_session(session_id)
        audit("sign-out", who=user.name, role=user.role, via="session", status=303)
    response = redirect(url_for("hotspot_signin.sign_in_form"), 303)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=_secure(), httponly=True,
                           samesite="Strict")
    return response
