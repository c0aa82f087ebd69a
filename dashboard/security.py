"""The web server's guard rails: who may ask, how much, what comes back, and how errors look.

Installed once by the app factory, before any page or API route runs:

* **Host allow-list.** A request naming a host this server does not answer to is refused, which
  stops DNS rebinding against a server on ``localhost``.
* **Bounded requests.** Bodies over :attr:`geo.settings.Limits.request_bytes` are refused with
  a message stating the limit.
* **Callbacks checked at the door.** A Dash callback request is checked against the callback's
  own declaration (the components and properties it listens to) and its Python type hints
  before the callback runs, so a hand-made request with a number where a list belongs gets a
  400 naming the component, never a 500.
* **Security headers** on every response: a Content-Security-Policy that allows only this
  server (plus a site tile server when one is configured), no framing, ``nosniff``, no referrer,
  and ``Cache-Control: no-store`` on everything except fingerprinted static files.
* **Errors in one shape.** A bad parameter anywhere is a JSON 400 naming it; an unknown path
  under ``/api/`` is a JSON 404; an unexpected failure is logged and answered in JSON without
  its details.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Iterable
from typing import Any, Union
from urllib.parse import urlsplit

from dash import Dash
from dash._utils import split_callback_id
from flask import Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from dashboard.services import Busy
from geo.query import FilterError
from geo.settings import limits

#: Names a server on this machine always answers to.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")

#: Paths whose answers may be cached by the browser: fingerprinted or static files only.
_CACHEABLE = ("/_dash-component-suites/", "/assets/", "/_favicon.ico", "/tiles/")

#: JSON errors for these paths; page paths get Dash's own pages.
_JSON_PATHS = ("/api", "/_dash-", "/patrol/", "/nte/")


class BadRequestParameter(ValueError):
    """A request part is malformed; ``param`` names it (a query parameter or component)."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


def allowed_hosts(host: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """Return the host names to answer to: this machine's names, the bound host, ``extra``.

    Binding to every interface (``0.0.0.0`` or ``::``) adds no name: whoever deploys on a
    network lists the names users type (``HOTSPOT_ALLOWED_HOSTS`` or ``--allowed-host``).

    Examples
    --------
    >>> sorted(allowed_hosts("0.0.0.0", ["hotspot.force.police.uk"]))
    ['127.0.0.1', '::1', 'hotspot.force.police.uk', 'localhost']
    """
    names = {h.lower() for h in LOCAL_HOSTS}
    if host and host not in {"0.0.0.0", "::", ""}:
        names.add(host.strip("[]").lower())
    names.update(h.strip().strip("[]").lower() for h in extra if h.strip())
    return frozenset(names)


def _host_name(header: str) -> str:
    """Return the host name of a Host header, without its port (IPv6 in brackets allowed)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    if header.count(":") > 1:  # a bare IPv6 address
        return header
    return header.rsplit(":", 1)[0] if ":" in header else header


def _error(status: int, message: str, param: str | None = None) -> tuple[Response, int]:
    return jsonify({"error": message, "parameter": param}), status


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):,.0f} MB"


# ---------------------------------------------------------------------------------------------
# Content-Security-Policy
# ---------------------------------------------------------------------------------------------
def content_security_policy(script_hashes: Iterable[str], tile_url: str | None = None) -> str:
    """Return the CSP header value: this server only, plus the site tile server if any.

    Plotly and the dropdowns insert ``<style>`` elements at run time, hence ``'unsafe-inline'``
    for styles only; scripts are limited to this server and Dash's one inline bootstrap script
    by hash. MapLibre (the map) runs its workers from ``blob:`` URLs.

    Examples
    --------
    >>> csp = content_security_policy(["'sha256-abc'"], "https://tiles.example/{z}/{x}/{y}.png")
    >>> "frame-ancestors 'none'" in csp, "https://tiles.example" in csp
    (True, True)
    """
    tiles = ""
    if tile_url:
        parts = urlsplit(tile_url)
        if parts.scheme in {"http", "https"} and parts.netloc:
            tiles = f" {parts.scheme}://{parts.netloc}"
    directives = {
        "default-src": "'self'",
        "script-src": " ".join(["'self'", *script_hashes]),
        "style-src": "'self' 'unsafe-inline'",
        "img-src": f"'self' data: blob:{tiles}",
        # the density layer is a PNG in a data: URL that the map fetches
        "connect-src": f"'self' data: blob:{tiles}",
        "worker-src": "'self' blob:",
        "child-src": "'self' blob:",
        "font-src": "'self' data:",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{k} {v}" for k, v in directives.items())


# ---------------------------------------------------------------------------------------------
# Callback requests
# ---------------------------------------------------------------------------------------------
def _describe(tp: Any) -> str:
    """Say in words what a type hint accepts ("a list of text or nothing")."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "nothing"
    if origin is list or tp is list:
        args = typing.get_args(tp)
        return f"a list of {_describe(args[0])}" if args else "a list"
    if origin is dict or tp is dict:
        return "an object"
    return {str: "text", int: "a whole number", float: "a number", bool: "true or false"}.get(
        tp, getattr(tp, "__name__", str(tp)))


def conforms(value: Any, tp: Any) -> bool:
    """Return True if a JSON value fits a type hint (``Any`` fits everything).

    Examples
    --------
    >>> conforms(["fri", "sat"], list[str] | None), conforms("fri", list[str] | None)
    (True, False)
    >>> conforms(3, float | None), conforms(True, int), conforms(None, int | None)
    (True, False, True)
    """
    if tp is Any:
        return True
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return any(conforms(value, a) for a in typing.get_args(tp))
    if tp is type(None) or tp is None:
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if tp is list or origin is list:
        args = typing.get_args(tp)
        return isinstance(value, list) and (not args or all(conforms(v, args[0])
                                                            for v in value))
    if tp is dict or origin is dict:
        args = typing.get_args(tp)
        return isinstance(value, dict) and (not args or all(
            conforms(k, args[0]) and conforms(v, args[1]) for k, v in value.items()))
    return False  # a hint this checker does not know: refuse rather than let it through


#: Types of the properties Dash's own page router listens to (its callback has no hints).
_DASH_OWN: dict[tuple[str, str], Any] = {
    ("_pages_location", "pathname"): str,
    ("_pages_location", "search"): str | None,
    ("_pages_location", "hash"): str | None,
    ("_pages_location", "href"): str | None,
    ("_pages_store", "data"): dict[str, Any] | None,
}


def _same_ids(sent: Any, declared: list[dict[str, Any]], where: str) -> list[Any]:
    """Check ``sent`` lists exactly the declared (id, property) pairs; return their values."""
    if not isinstance(sent, list) or len(sent) != len(declared):
        raise BadRequestParameter(where, f"expected {len(declared)} entries")
    values = []
    for item, want in zip(sent, declared, strict=True):
        if not isinstance(item, dict) or item.get("id") != want["id"] or \
                item.get("property") != want["property"]:
            raise BadRequestParameter(where, "the components do not match this callback")
        values.append(item.get("value"))
    return values


def check_callback_request(app: Dash, body: Any) -> None:
    """Refuse a callback request that does not match its callback's declaration and types.

    Raises
    ------
    BadRequestParameter
        Naming the component and property (``explorer-days.value``) or the request part.
    """
    if not isinstance(body, dict):
        raise BadRequestParameter("body", "a callback request is a JSON object")
    output = body.get("output")
    if not isinstance(output, str) or output not in app.callback_map:
        raise BadRequestParameter("output", "no callback updates this output")
    cb = app.callback_map[output]
    if "callback" not in cb:
        raise BadRequestParameter("output", "this output is updated in the browser, not here")
    inputs = _same_ids(body.get("inputs", []), cb["inputs"], "inputs")
    states = _same_ids(body.get("state", []), cb["state"], "state")
    declared_outputs = split_callback_id(output)
    sent_outputs = body.get("outputs")
    n_declared = len(declared_outputs) if isinstance(declared_outputs, list) else 1
    n_sent = len(sent_outputs) if isinstance(sent_outputs, list) else (
        1 if isinstance(sent_outputs, dict) else -1)
    if n_sent != n_declared:
        raise BadRequestParameter("outputs", "the outputs do not match this callback")
    for item in sent_outputs if isinstance(sent_outputs, list) else [sent_outputs]:
        if not isinstance(item, dict) or not isinstance(item.get("property"), str):
            raise BadRequestParameter("outputs", "the outputs do not match this callback")
    changed = body.get("changedPropIds", [])
    known = {f"{i['id']}.{i['property']}" for i in cb["inputs"]}
    if not isinstance(changed, list) or any(c not in known for c in changed):
        raise BadRequestParameter("changedPropIds", "names a property this callback does "
                                  "not listen to")
    func = getattr(cb["callback"], "__wrapped__", cb["callback"])
    params = list(inspect.signature(func).parameters.values())
    hints = typing.get_type_hints(func)
    declared = [*cb["inputs"], *cb["state"]]
    for param, spec, value in zip(params, declared, [*inputs, *states], strict=False):
        tp = _DASH_OWN.get((str(spec["id"]), spec["property"]), hints.get(param.name, Any))
        if spec["property"] == "pathname" and not (isinstance(value, str) and
                                                   value.startswith("/")):
            raise BadRequestParameter(f"{spec['id']}.pathname", "should be a path starting "
                                      "with /")
        # Dash sends null for a property that has no value yet (a button never clicked, a
        # dialog never confirmed): callbacks take None everywhere, whatever their hints say.
        if value is not None and not conforms(value, tp):
            raise BadRequestParameter(f"{spec['id']}.{spec['property']}",
                                      f"should be {_describe(tp)}, not "
                                      f"{type(value).__name__ if value is not None else 'empty'}")


# ---------------------------------------------------------------------------------------------
# Installation
# ---------------------------------------------------------------------------------------------
def install(app: Dash, hosts: frozenset[str], tile_url: str | None = None) -> None:
    """Put every guard rail on ``app``'s server."""
    server = app.server
    request_limit = limits().request_bytes
    server.config["MAX_CONTENT_LENGTH"] = request_limit
    csp: dict[str, str] = {}

    def _policy() -> str:
        # Dash's inline bootstrap script is known only once every callback is registered.
        if "value" not in csp:
            csp["value"] = content_security_policy(app.csp_hashes(), tile_url)
        return csp["value"]

    @server.before_request
    def _check_host() -> Any:
        names = [_host_name(request.host or "")]
        # An absolute-form request line ("GET http://other.example/...") names the host the
        # client meant; HTTP says it wins over the Host header, so it is checked too.
        uri = str(request.environ.get("REQUEST_URI") or "")
        if "://" in uri.split("?", 1)[0]:
            names.append(_host_name(urlsplit(uri).netloc.rsplit("@", 1)[-1]))
        bad = [n for n in names if n not in hosts]
        if bad:
            name = bad[0]
            return _error(400, f"This server does not answer to the name '{name[:80]}'. If it "
                          "is a name of this server, add it to HOTSPOT_ALLOWED_HOSTS (or "
                          "`hotspot serve --allowed-host`).", "Host")
        return None

    @server.before_request
    def _check_query() -> Any:
        # the page router answers every path it does not know with the app; under /api/ that
        # must be a JSON 404 (e.g. /api//x, which no /api/ rule matches)
        rule = request.url_rule.rule if request.url_rule is not None else ""
        if request.path.startswith("/api") and rule in ("/<path:path>", "/"):
            return _error(404, f"There is no API endpoint {request.path[:200]}; see docs/API.md "
                          "for the list.", "path")
        return None

    @server.before_request
    def _check_callback() -> Any:
        if request.path != "/_dash-update-component" or request.method != "POST":
            return None
        try:
            body = request.get_json(silent=True)
        except RecursionError:  # JSON nested deeper than Python's parser goes
            body = None
        if body is None:
            return _error(400, "a callback request must be JSON", "body")
        check_callback_request(app, body)
        return None

    @server.after_request
    def _headers(response: Response) -> Response:
        h = response.headers
        h["Content-Security-Policy"] = _policy()
        h["X-Content-Type-Options"] = "nosniff"
        h["X-Frame-Options"] = "DENY"
        h["Referrer-Policy"] = "no-referrer"
        h["Cross-Origin-Opener-Policy"] = "same-origin"
        h["Cross-Origin-Resource-Policy"] = "same-origin"
        # geolocation for this site's own pages only: the shift view's "you are here", asked
        # for when the officer taps, drawn in the page and never sent back
        h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(self), payment=()"
        if not request.path.startswith(_CACHEABLE):
            h["Cache-Control"] = "no-store"
            h.pop("ETag", None)
        return response

    @server.errorhandler(FilterError)
    def _filter_error(exc: FilterError) -> Any:
        return _error(400, exc.message, exc.param)

    @server.errorhandler(BadRequestParameter)
    def _bad_request(exc: BadRequestParameter) -> Any:
        return _error(400, exc.message, exc.param)

    @server.errorhandler(Busy)
    def _busy(exc: Busy) -> Any:
        response, status = _error(503, str(exc))
        response.headers["Retry-After"] = "30"
        return response, status

    @server.errorhandler(RequestEntityTooLarge)
    def _too_large(_exc: RequestEntityTooLarge) -> Any:
        return _error(413, f"The request is larger than this server accepts: the limit is "
                      f"{_megabytes(request_limit)} (setting HOTSPOT_MAX_REQUEST_MB).", "body")

    @server.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        if request.path.startswith(_JSON_PATHS):
            return _error(exc.code or 500, exc.description or exc.name)
        return exc

    @server.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        current_app.logger.exception("request failed: %s %s", request.method,
                                     request.full_path)
        return _error(500, "Something went wrong inside Hotspot; the details are in the "
                      "server log.")

    def _unknown_api(rest: str = "") -> Any:
        return _error(404, f"There is no API endpoint /api/{rest[:200]}; see docs/API.md for "
                      "the list.", "path")

    # The page router answers every other path with the app; under /api/ a typo must not get
    # a page and a 200.
    # (GET only: another method on a real endpoint is a 405, on an unknown one a 405 too.)
    server.add_url_rule("/api", "unknown_api_root", _unknown_api)
    server.add_url_rule("/api/<path:rest>", "unknown_api", _unknown_api)

