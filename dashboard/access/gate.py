"""The gate: every request is identified, decided, pinned to what its principal may see, and logged.

Installed by the app factory after :mod:`dashboard.security`. For each request it

1. finds the decision for the route (and, for a Dash callback, for the callback) in
   :mod:`dashboard.access.policy`; a route or callback with no decision is refused;
2. identifies who is asking (API token, trusted single sign-on header, or sign-in session);
   with no users or tokens configured at all, a request from this machine is the local
   analyst, so a single-user install needs no sign-in; anyone else gets 401 (the API and
   callbacks) or the sign-in page (pages);
3. refuses with 403 and a sentence saying what the role allows when the role lacks the view or
   the change the decision names; a state-changing request from a browser must come from
   this site's own pages (``Origin``), which with ``SameSite=Strict`` cookies stops
   cross-site request forgery;
4. pins the query layer to the principal, so every row read while answering is one the
   principal may see, and aggregate-only roles can read no rows at all;
5. writes an audit log entry: who, when, from where, what was asked (filters, never rows), and
   the answer's status.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any
from urllib.parse import urlencode, urlsplit

import dash
from dash import Dash, html
from flask import Response, current_app, g, jsonify, redirect, request

from dashboard.access.audit import AuditError
from dashboard.access.policy import CALLBACKS, LANDING, PAGES, ROUTES, SIGNED_IN, Need
from geo.access import AccessDenied, Principal

LOG = logging.getLogger("hotspot.access")

#: Endpoints not written to the audit log: static files and the shell's own plumbing.
_QUIET = {"static", "_dash_assets.static", "/_favicon.ico", "/_reload-hash",
          "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>",
          "/_dash-layout", "/_dash-dependencies", "hotspot_signin.sign_in_form",
          "hotspot_signin.sign_in", "hotspot_signin.sign_out",
          # a map view fetches dozens of basemap tiles; they hold no incident data
          "tiles.style", "tiles.tile", "tiles.glyphs", "tiles.unknown"}
_PAGE_ENDPOINTS = {"/", "/<path:path>"}
#: Callbacks not written to the audit log: the page's check for new data, every few seconds,
#: which reads nothing but the store version.
_QUIET_CALLBACKS = {"dashboard.app._live_version"}
_EXPORTS = ("patrol_exports.", "nte_exports.", "board_exports.")
_ROUTER = "dash.dash.Dash.enable_pages.<locals>.router_sync.<locals>.update"


class Unauthorised(Exception):
    """Nobody (valid) is signed in; ``message`` says what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def current() -> Principal:
    """Return the principal of the request being answered.

    Raises
    ------
    AccessDenied
        Outside a request the gate has identified.
    """
    who = g.get("hotspot_principal") if _in_request() else None
    if who is None:
        raise AccessDenied("Nobody is signed in for this request.")
    return who


def _json_body() -> Any:
    try:
        return request.get_json(silent=True)
    except RecursionError:  # nested deeper than the parser goes: refused as malformed later
        return None


def _in_request() -> bool:
    from flask import has_request_context

    return has_request_context()


def callback_name(app: Dash, output: str) -> str | None:
    """Return ``module.qualname`` of the server function behind a callback output key."""
    entry = app.callback_map.get(output)
    if entry is None or "callback" not in entry:
        return None
    fn = entry["callback"]
    fn = getattr(fn, "__wrapped__", fn)
    return f"{fn.__module__}.{fn.__qualname__}"


def decide(who: Principal, need: Need) -> None:
    """Raise :class:`AccessDenied` unless ``who`` meets ``need``."""
    what = need.what or "this"
    if need.see is not None:
        who.require_see(need.see, what)
    if need.change is not None:
        who.require_change(need.change, what if need.what else "change this")


def _is_loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address(address or "").is_loopback
    except ValueError:
        return False


def _same_origin() -> bool:
    """Say whether a state-changing request may come from this site's own pages.

    Browsers name the page a request comes from (``Origin``, ``Sec-Fetch-Site``) on every
    POST; a request naming another site is forged. A request naming none is not from a
    browser's page, so cannot ride a signed-in user's cookie (which ``SameSite=Strict`` keeps
    from other sites anyway).
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site == "same-origin":
        # set by the browser, never by a page, so it settles it: and our own form POSTs send
        # "Origin: null", because every answer carries "Referrer-Policy: no-referrer"
        return True
    if site is not None and site != "none":
        return False
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source:
        return True
    if source == "null":
        return False
    return urlsplit(source).netloc.lower() == (request.host or "").lower()


def install(app: Dash, state: Any, audit: Any | None) -> None:
    """Put the gate on ``app``'s server (``state``: the access state; ``audit``: the log)."""
    server = app.server
    server.extensions["hotspot_access"] = state
    server.extensions["hotspot_landing"] = landing_page  # signin.LANDING_EXTENSION
    if audit is not None:
        server.extensions["hotspot_audit"] = audit
    from dashboard import services as services_module

    def _identify() -> Principal:
        from dashboard.access.identity import Unauthenticated, identify, peer_address

        try:
            who = identify(request, state.accounts, state.settings)
        except Unauthenticated as err:
            raise Unauthorised(err.message) from None
        if who is not None:
            return who
        if state.settings.mode == "local" and not state.accounts.configured() \
                and _is_loopback(peer_address(request)):
            return Principal("local analyst", state.roles["analyst"], None, via="local")
        raise Unauthorised("Sign in to use Hotspot, or send an API token "
                           "(Authorization: Bearer ...).")

    def _callback_need(body: Any) -> tuple[str | None, Need | None]:
        output = body.get("output") if isinstance(body, dict) else None
        name = callback_name(app, output) if isinstance(output, str) else None
        if name is None:
            return None, None
        return name, CALLBACKS.get(name)

    @server.before_request
    def _gate() -> Any:
        rule = request.url_rule
        if rule is None:
            return None  # a 404 or 405 follows; nothing is answered
        endpoint = rule.endpoint
        need = ROUTES.get(endpoint)
        g.hotspot_endpoint = endpoint
        if need is None:
            LOG.error("no access decision for endpoint %s: refused", endpoint)
            return _deny(403, f"No access decision is recorded for {request.path[:100]}, so it "
                         "is refused.")
        if need.public:
            return None
        try:
            who = _identify()
        except Unauthorised as err:
            return _unauthorised(err.message)
        g.hotspot_principal = who
        try:
            decide(who, need)
            if endpoint == "/_dash-update-component":
                g.hotspot_body = _json_body()
                name, cb_need = _callback_need(g.hotspot_body)
                g.hotspot_callback = name
                # a body naming no server callback is malformed: the request checks that
                # follow refuse it (400), and Dash runs nothing
                if name is not None and cb_need is None:
                    LOG.error("no access decision for callback %s: refused", name)
                    raise AccessDenied("No access decision is recorded for this callback, so "
                                       "it is refused.")
                if cb_need is not None:
                    decide(who, cb_need)
            elif endpoint in _PAGE_ENDPOINTS:
                path = _page_path(request.path)
                page = PAGES.get(path)
                if page is not None:
                    try:
                        decide(who, page)
                    except AccessDenied:
                        if path == "/" and visible_pages(who):
                            # the front door: a role without the Explorer starts on its own
                            # page
                            return redirect(landing_page(who), code=303)
                        # the app's frame is served, so the user keeps the header (who they
                        # are, the pages they may open, sign-out) while the page's guarded
                        # layout says why it is not theirs; the answer is still a 403
                        g.hotspot_page_refused = True
        except AccessDenied as err:
            return _deny(403, err.message)
        if request.method not in ("GET", "HEAD") and who.via in ("session", "local", "header") \
                and not _same_origin():
            return _deny(403, "This change was not sent from Hotspot's own pages, so it is "
                         "refused (cross-site request protection).")
        if endpoint == "/_dash-update-component" and g.get("hotspot_callback") and \
                (CALLBACKS.get(g.hotspot_callback) or SIGNED_IN).change:
            # a change is recorded before it runs: with no record, nothing is changed
            log = server.extensions.get("hotspot_audit")
            if log is not None:
                log.record("change", who=who.name, role=who.role, via=who.via, ip=_peer(),
                           status=None, what={"stage": "before",
                                              "callback": g.hotspot_callback})
        svc = services_module.current()
        g.hotspot_pin = svc.pin(who)
        return None

    @server.teardown_request
    def _unpin(_exc: BaseException | None) -> None:
        tokens = g.pop("hotspot_pin", None)
        if tokens is not None:
            services_module.current().unpin(tokens)

    @server.after_request
    def _log(response: Response) -> Response:
        endpoint = g.get("hotspot_endpoint")
        log = server.extensions.get("hotspot_audit")
        if log is None or endpoint is None or endpoint in _QUIET \
                or g.get("hotspot_callback") in _QUIET_CALLBACKS:
            return response
        who = g.get("hotspot_principal")
        action, what = _describe(endpoint, response.status_code)
        try:
            log.record(action, who=who.name if who else None, role=who.role if who else None,
                       via=who.via if who else None, ip=_peer(),
                       status=response.status_code, what=what)
        except AuditError:
            # the law requires the record: with none written, nothing is disclosed either
            LOG.exception("the audit log could not be written; the answer is withheld")
            denied = jsonify({"error": "Hotspot cannot write its audit log, so it cannot "
                              "answer. Tell the administrator (the details are in the server "
                              "log).", "parameter": None})
            denied.status_code = 503
            return denied
        return response

    @server.after_request
    def _refused_page(response: Response) -> Response:
        # registered after _log, so it runs before it: the audit log records the 403
        if g.get("hotspot_page_refused") and response.status_code == 200:
            response.status_code = 403
        return response

    @server.errorhandler(AccessDenied)
    def _denied(err: AccessDenied) -> Any:
        return _deny(403, err.message)

    @server.errorhandler(AuditError)
    def _unaudited(_err: AuditError) -> Any:
        LOG.exception("the audit log could not be written; the request was refused")
        return _deny(503, "Hotspot cannot write its audit log, so it cannot answer. Tell the "
                     "administrator (the details are in the server log).")

    _guard_pages()


def _describe(endpoint: str, status: int) -> tuple[str, dict[str, Any]]:
    """Return the audit action and what was asked, for the request being answered."""
    what: dict[str, Any] = {"path": request.path[:200]}
    if request.args:
        # every value of a repeated name (``la=A&la=B`` is answered as ``la=A,B``), so a run
        # of near-identical questions can be seen in the log; long values say how long
        from dashboard.inputs import query_params

        given = list(query_params(request.args).items())[:30]
        what["params"] = {k: v if len(v) <= 1000 else f"{v[:1000]}… ({len(v):,} characters)"
                          for k, v in given}
    if endpoint == "/_dash-update-component":
        body = g.get("hotspot_body")  # parsed by the gate; never read again here
        body = body if isinstance(body, dict) else {}
        name = g.get("hotspot_callback") or ""
        what["callback"] = name
        inputs = {}
        items = [x for key in ("inputs", "state")
                 for x in (body.get(key) if isinstance(body.get(key), list) else [])]
        for item in items:
            if isinstance(item, dict) and "id" in item and "property" in item:
                inputs[f"{item['id']}.{item['property']}"[:100]] = item.get("value")
        what["inputs"] = inputs
        need = CALLBACKS.get(name)
        action = "change" if need is not None and need.change else "callback"
        if name == _ROUTER:
            action = "page"
    elif endpoint.startswith(_EXPORTS):
        action = "export"
    elif endpoint == "api_v1.ingest":
        action = "upload"
    elif endpoint in _PAGE_ENDPOINTS:
        action = "page"
    else:
        action = "api"
    what.update(g.get("hotspot_audit_what") or {})  # what a route adds (an upload's counts)
    if status in (401, 403) or g.get("hotspot_refused"):
        action = "denied"
    return action, what


def _peer() -> str | None:
    from dashboard.access.identity import peer_address

    return peer_address(request)


def _page_path(path: str) -> str:
    return "/" + path.strip("/") if path.strip("/") else "/"


def _wants_json() -> bool:
    return request.path.startswith(("/api", "/_dash-", "/patrol/", "/nte/"))


def _deny(status: int, message: str) -> Any:
    if _wants_json():
        return jsonify({"error": message, "parameter": None}), status
    return Response(_plain_page("Not available", message), status=status,
                    mimetype="text/html")


def _unauthorised(message: str) -> Any:
    if _wants_json() or request.headers.get("Authorization"):
        response = jsonify({"error": message, "parameter": None})
        response.headers["WWW-Authenticate"] = 'Bearer realm="hotspot"'
        return response, 401
    target = request.full_path if request.query_string else request.path
    return redirect("/sign-in?" + urlencode({"next": target}), code=303)


def _plain_page(title: str, message: str) -> str:
    from markupsafe import escape

    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Hotspot · "
            f"{escape(title)}</title><link rel='stylesheet' href='/assets/style.css'></head>"
            f"<body><main class='plain-page'><h1>{escape(title)}</h1><p>{escape(message)}</p>"
            "<p><a href='/'>Back to Hotspot</a></p></main></body></html>")


def _guard_pages() -> None:
    """Make every registered page check the principal's view before building its layout."""
    for page in dash.page_registry.values():
        layout = page["layout"]
        if getattr(layout, "_hotspot_guarded", False):
            continue
        need = PAGES.get(page["path"])
        page["layout"] = _guarded(layout, need, page["path"])


def _guarded(layout: Any, need: Need | None, path: str) -> Any:
    def build(*args: Any, **kwargs: Any) -> Any:
        if need is None:
            LOG.error("no access decision for page %s: refused", path)
            return _refused_panel("No access decision is recorded for this page.")
        try:
            decide(current(), need)
            return layout(*args, **kwargs) if callable(layout) else layout
        except AccessDenied as err:  # the role, or what the link asks for (another area)
            return _refused_panel(err.message)

    build._hotspot_guarded = True  # type: ignore[attr-defined]
    return build


def mark_refused() -> None:
    """Record that this request was refused inside a page or callback (audited as denied)."""
    if _in_request():
        g.hotspot_refused = True


def _refused_panel(message: str) -> html.Div:
    mark_refused()
    return html.Div([html.H2("Not available to your role"), html.P(message)],
                    className="refused-panel")


def visible_pages(who: Principal | None) -> list[dict[str, Any]]:
    """Return the registered pages ``who`` may open, for the menu."""
    out = []
    for page in dash.page_registry.values():
        need = PAGES.get(page["path"])
        if need is None or who is None:
            continue
        try:
            decide(who, need)
        except AccessDenied:
            continue
        out.append(page)
    return out


def landing_page(who: Principal) -> str:
    """Return where ``who`` starts when no page was asked for.

    Their role's own page (:data:`~dashboard.access.policy.LANDING`) if they may open it,
    else the Explorer, else the first page they may open ("/" if none: it then says why).
    """
    pages = {p["path"]: p["relative_path"] for p in visible_pages(who)}
    own = LANDING.get(who.role)
    if own is not None and own in pages:
        return str(pages[own])
    if "/" in pages or not pages:
        return str(pages.get("/", "/"))
    return str(next(iter(pages.values())))


def principal_or_none() -> Principal | None:
    """Return the request's principal, or None outside one (e.g. building the layout list)."""
    try:
        return current()
    except AccessDenied:
        return None


__all__ = ["current", "decide", "install", "visible_pages", "landing_page",
           "principal_or_none", "callback_name", "current_app"]
