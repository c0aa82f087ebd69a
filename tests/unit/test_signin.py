"""Sign-in, sign-out and identification through a minimal Flask app, as a browser uses them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from flask import Flask, request

from dashboard.access.accounts import Accounts
from dashboard.access.identity import (
    ACCESS_EXTENSION,
    AUDIT_EXTENSION,
    SESSION_COOKIE,
    AccessState,
    AuthSettings,
    Unauthenticated,
    identify,
)
from dashboard.access.signin import SIGNIN_COOKIE, bp, safe_next
from geo.access import load_roles

PASSWORD = "correct horse battery"


class FakeAudit:
    def __init__(self) -> None:
        self.records: list[tuple[str, dict]] = []

    def record(self, action, *, who, role, via, ip, status=None, what=None):
        self.records.append((action, {"who": who, "role": role, "via": via, "ip": ip,
                                      "status": status, "what": what}))


def make_app(folder, settings: AuthSettings | None = None, audit: FakeAudit | None = None):
    roles = load_roles(None)
    accounts = Accounts(folder, roles,
                        hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    accounts.add_user("alice", "officer", PASSWORD, "E07000123")
    app = Flask(__name__)
    app.extensions[ACCESS_EXTENSION] = AccessState(accounts, settings or AuthSettings(), roles)
    if audit is not None:
        app.extensions[AUDIT_EXTENSION] = audit
    app.register_blueprint(bp)

    @app.get("/whoami")
    def whoami():
        state = app.extensions[ACCESS_EXTENSION]
        try:
            who = identify(request, state.accounts, state.settings)
        except Unauthenticated as exc:
            return {"error": exc.message}, 401
        return {"who": who.as_json() if who else None}

    return app


@pytest.fixture
def app(tmp_path):
    return make_app(tmp_path)


@pytest.fixture
def accounts(app):
    return app.extensions[ACCESS_EXTENSION].accounts


def form_token(page) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def sign_in(client, user="alice", password=PASSWORD, next_path=None):
    page = client.get("/sign-in" + (f"?next={next_path}" if next_path else ""))
    data = {"csrf": form_token(page), "user": user, "password": password}
    if next_path is not None:
        data["next"] = next_path
    return client.post("/sign-in", data=data)


def set_cookie_header(response, name) -> str:
    [header] = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(name + "=")]
    return header


def whoami(client, **kwargs):
    return client.get("/whoami", **kwargs)


def test_form_is_plain_html_with_no_script(app):
    page = app.test_client().get("/sign-in")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<title>Hotspot · Sign in</title>" in html
    assert "<script" not in html and not re.search(r"\son[a-z]+=", html)
    assert 'type="password"' in html and 'name="user"' in html and "<button" in html
    cookie = set_cookie_header(page, SIGNIN_COOKIE)
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie


def test_good_sign_in_starts_a_session_and_identifies(app):
    client = app.test_client()
    done = sign_in(client)
    assert done.status_code == 303 and done.headers["Location"] == "/"
    cookie = set_cookie_header(done, SESSION_COOKIE)
    assert all(flag in cookie for flag in ("HttpOnly", "SameSite=Strict", "Path=/"))
    assert "Secure" not in cookie  # plain http on localhost: a Secure cookie would be dropped
    assert whoami(client).json["who"] == {"user": "alice", "role": "officer",
                                          "areas": ["E07000123"], "via": "session"}


def test_cookies_are_secure_under_https(app):
    client = app.test_client()
    page = client.get("/sign-in", base_url="https://localhost")
    done = client.post("/sign-in", base_url="https://localhost", data={
        "csrf": form_token(page), "user": "alice", "password": PASSWORD})
    assert "Secure" in set_cookie_header(page, SIGNIN_COOKIE)
    cookie = set_cookie_header(done, SESSION_COOKIE)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_cookies_are_secure_when_a_proxy_ends_tls(tmp_path):
    app = make_app(tmp_path, AuthSettings(secure_cookies=True))
    assert "Secure" in set_cookie_header(sign_in(app.test_client()), SESSION_COOKIE)


@pytest.mark.parametrize("user", ["alice", "nobody"], ids=["wrong-password", "unknown-user"])
def test_failed_sign_in_shows_the_same_plain_message(app, user):
    client = app.test_client()
    refused = sign_in(client, user=user, password="not the password")
    assert refused.status_code == 401
    assert "Wrong user name or password." in refused.get_data(as_text=True)
    assert SESSION_COOKIE not in refused.headers.get("Set-Cookie", "")
    assert whoami(client).json["who"] is None


def test_locked_account_answers_429_saying_how_long(app):
    client = app.test_client()
    for _ in range(4):
        assert sign_in(client, password="not the password").status_code == 401
    locked = sign_in(client, password="not the password")
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) == 15 * 60
    assert "locked" in locked.get_data(as_text=True)
    assert sign_in(client).status_code == 429  # even the right password waits


def test_failed_form_escapes_what_was_typed(app):
    refused = sign_in(app.test_client(), user='<script>alert("x")</script>')
    html = refused.get_data(as_text=True)
    assert "<script>" not in html and "&lt;script&gt;" in html


@pytest.mark.parametrize("case", ["no-cookie", "no-field", "different"])
def test_sign_in_without_matching_form_token_is_refused(app, case):
    client = app.test_client()
    page = client.get("/sign-in")
    token = form_token(page)
    data = {"user": "alice", "password": PASSWORD, "csrf": token}
    if case == "no-cookie":
        client.delete_cookie(SIGNIN_COOKIE, path="/sign-in")
    elif case == "no-field":
        del data["csrf"]
    else:
        data["csrf"] = token[::-1]
    refused = client.post("/sign-in", data=data)
    assert refused.status_code == 400 and "did not come from this site" in refused.get_data(
        as_text=True)
    assert whoami(client).json["who"] is None


@pytest.mark.parametrize("target", [
    "//evil.example", "https://evil.example", "/\\evil", "/\t/evil.example",
    "javascript:alert(1)", "evil.example", "/sign-in",
], ids=["protocol-relative", "absolute", "backslash", "tab", "javascript", "relative",
        "sign-in-loop"])
def test_open_redirect_attempts_go_home(app, target):
    done = sign_in(app.test_client(), next_path=target)
    assert done.status_code == 303 and done.headers["Location"] == "/"


def test_local_next_path_is_kept(app):
    done = sign_in(app.test_client(), next_path="/patrol?la=E07000123")
    assert done.headers["Location"] == "/patrol?la=E07000123"
    assert safe_next("/patrol?la=E07000123&res=9") == "/patrol?la=E07000123&res=9"


def test_next_is_carried_from_the_form_page(app):
    html = app.test_client().get("/sign-in?next=/trends").get_data(as_text=True)
    assert 'name="next" value="/trends"' in html


def test_sign_out_needs_the_session_token_and_ends_it_server_side(app, accounts):
    client = app.test_client()
    sign_in(client)
    session_id = client.get_cookie(SESSION_COOKIE).value
    refused = client.post("/sign-out", data={})
    assert refused.status_code == 400 and whoami(client).json["who"]["user"] == "alice"
    csrf = accounts.session_user(session_id)[1]
    done = client.post("/sign-out", data={"csrf": csrf})
    assert done.status_code == 303 and done.headers["Location"] == "/sign-in"
    assert "Max-Age=0" in set_cookie_header(done, SESSION_COOKIE)
    assert client.get_cookie(SESSION_COOKIE) is None
    # the old cookie, replayed by another browser, identifies nobody
    other = app.test_client()
    other.set_cookie(SESSION_COOKIE, session_id)
    assert whoami(other).json["who"] is None


def test_signing_in_again_ends_the_previous_session(app, accounts):
    client = app.test_client()
    sign_in(client)
    first = client.get_cookie(SESSION_COOKIE).value
    sign_in(client)
    assert accounts.session_user(first) is None
    assert client.get_cookie(SESSION_COOKIE).value != first


def test_expired_session_identifies_nobody(app, accounts):
    client = app.test_client()
    session_id, _ = accounts.start_session("alice", now=datetime.now(UTC) - timedelta(hours=13))
    client.set_cookie(SESSION_COOKIE, session_id)
    assert whoami(client).json["who"] is None


def test_audit_log_gets_sign_in_failure_and_sign_out(tmp_path):
    audit = FakeAudit()
    app = make_app(tmp_path, audit=audit)
    client = app.test_client()
    sign_in(client, password="not the password")
    sign_in(client)
    csrf = app.extensions[ACCESS_EXTENSION].accounts.session_user(
        client.get_cookie(SESSION_COOKIE).value)[1]
    client.post("/sign-out", data={"csrf": csrf})
    assert [a for a, _ in audit.records] == ["sign-in-failed", "sign-in", "sign-out"]
    failed, signed_in, _ = (r for _, r in audit.records)
    assert failed == {"who": "alice", "role": None, "via": None, "ip": "127.0.0.1",
                      "status": 401, "what": {"reason": "wrong"}}
    assert signed_in["role"] == "officer" and signed_in["via"] == "session"


@pytest.fixture
def proxied(tmp_path):
    return make_app(tmp_path, AuthSettings.build("header", ["10.0.0.0/30", "192.168.7.7"]))


@pytest.mark.parametrize("peer", ["10.0.0.1", "192.168.7.7", "::ffff:10.0.0.2"],
                         ids=["in-network", "single-address", "ipv4-mapped"])
def test_header_from_a_trusted_proxy_identifies(proxied, peer):
    got = whoami(proxied.test_client(), headers={"X-Remote-User": "alice"},
                 environ_base={"REMOTE_ADDR": peer})
    assert got.json["who"] == {"user": "alice", "role": "officer", "areas": ["E07000123"],
                               "via": "header"}


@pytest.mark.parametrize("peer", ["10.0.0.9", "127.0.0.1", "192.168.7.8"])
def test_header_from_anyone_else_is_ignored(proxied, peer):
    got = whoami(proxied.test_client(), headers={"X-Remote-User": "alice"},
                 environ_base={"REMOTE_ADDR": peer})
    assert got.status_code == 200 and got.json["who"] is None


def test_header_ignored_in_local_mode_even_from_the_proxy(tmp_path):
    app = make_app(tmp_path, AuthSettings.build("local", ["10.0.0.1"]))
    got = whoami(app.test_client(), headers={"X-Remote-User": "alice"},
                 environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert got.json["who"] is None


def test_header_naming_an_unknown_user_is_401(proxied):
    got = whoami(proxied.test_client(), headers={"X-Remote-User": "mallory"},
                 environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert got.status_code == 401 and "'mallory' is not a Hotspot user" in got.json["error"]


def test_proxyfix_cannot_make_a_client_look_like_the_proxy(proxied):
    from werkzeug.middleware.proxy_fix import ProxyFix

    proxied.wsgi_app = ProxyFix(proxied.wsgi_app, x_for=1)
    client = proxied.test_client()
    # a client connecting directly claims to be forwarded by the proxy
    got = whoami(client, headers={"X-Remote-User": "alice", "X-Forwarded-For": "10.0.0.1"},
                 environ_base={"REMOTE_ADDR": "203.0.113.5"})
    assert got.json["who"] is None
    # the real proxy forwarding a client is still believed
    got = whoami(client, headers={"X-Remote-User": "alice", "X-Forwarded-For": "203.0.113.5"},
                 environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert got.json["who"]["via"] == "header"


def test_bearer_token_identifies_and_bad_tokens_are_401(app, accounts):
    client = app.test_client()
    token = accounts.create_token("export", "partner")
    got = whoami(client, headers={"Authorization": f"Bearer {token}"})
    assert got.json["who"] == {"user": "export", "role": "partner", "areas": None,
                               "via": "token"}
    malformed = whoami(client, headers={"Authorization": "Bearer abc"})
    assert malformed.status_code == 401 and "malformed" in malformed.json["error"]
    accounts.revoke_token("export")
    revoked = whoami(client, headers={"Authorization": f"Bearer {token}"})
    assert revoked.status_code == 401 and "revoked" in revoked.json["error"]


def test_other_authorization_schemes_are_ignored(app):
    got = whoami(app.test_client(), headers={"Authorization": "Basic YWxpY2U6cHc="})
    assert got.status_code == 200 and got.json["who"] is None


@pytest.mark.parametrize(("kwargs", "says"), [
    ({"mode": "header"}, "trusted proxies"),
    ({"mode": "header", "trusted_proxies": ["10.0.0.300"]}, "not an IP address"),
    ({"mode": "oauth"}, "must be one of local, header"),
], ids=["header-without-proxies", "bad-address", "unknown-mode"])
def test_bad_settings_are_refused_with_a_reason(kwargs, says):
    with pytest.raises(ValueError, match=says):
        AuthSettings.build(**kwargs)


def test_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("HOTSPOT_AUTH_MODE", "header")
    monkeypatch.setenv("HOTSPOT_TRUSTED_PROXIES", "10.1.0.0/16, 10.2.0.4")
    monkeypatch.setenv("HOTSPOT_AUTH_HEADER", "X-Forwarded-User")
    monkeypatch.setenv("HOTSPOT_SECURE_COOKIES", "true")
    settings = AuthSettings.from_env()
    assert (settings.mode, settings.header, settings.secure_cookies) == (
        "header", "X-Forwarded-User", True)
    assert settings.trusts("10.1.200.3") and settings.trusts("10.2.0.4")
    assert not settings.trusts("10.2.0.5") and not settings.trusts("not an address")
