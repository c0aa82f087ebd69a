"""The app factory: one Dash app over one data directory, with the API on the same server."""

from __future__ import annotations

import logging
import os
from typing import Any

import dash
from dash import Dash, dcc, html

import dashboard.layouts  # noqa: F401  (pages register themselves on import)
from dashboard import basemap, ids, security, services
from dashboard.access import gate
from dashboard.access.accounts import Accounts
from dashboard.access.audit import AuditLog
from dashboard.access.identity import AccessState, AuthSettings
from dashboard.access.signin import bp as signin_blueprint
from dashboard.api import bp as api_blueprint
from dashboard.exports import board_bp, nte_bp
from dashboard.exports import bp as exports_blueprint
from dashboard.map_geometry import bp as map_geometry_bp
from geo.access import AccessDenied, Principal, load_roles
from geo.settings import DataPaths
from geo.store import Store


def ensure_data(data: DataPaths) -> str | None:
    """Load the bundled synthetic sample into an empty data directory; say so if it did."""
    if Store(data.store).manifest().batches:
        return None
    from geo.ingest import load_sample

    load_sample(data)
    return (f"{data.root} held no incidents, so the bundled SYNTHETIC sample was loaded. "
            "It is labelled as synthetic on every page. Use `hotspot ingest` to add your own "
            "data; the sample is then removed, never mixed with it.")


def create_app(data: DataPaths, *, hosts: frozenset[str] | None = None,
               auth: AuthSettings | None = None) -> Dash:
    """Build the Dash app serving ``data``.

    ``hosts`` are the host names the server answers to; by default this machine's own names
    plus ``HOTSPOT_ALLOWED_HOSTS`` (comma-separated). ``auth`` says how users are identified
    (by default: sign-in and API tokens, :meth:`AuthSettings.from_env`).
    """
    svc = services.configure(data)
    app = Dash(
        __package__,
        pages_folder="layouts",
        use_pages=True,
        title="Hotspot",
        suppress_callback_exceptions=True,
        # Everything is served from this machine: locked-down networks have no CDN access.
        serve_locally=True,
        update_title="",
        on_error=_callback_error,
    )
    app.layout = _shell
    _register_notice(app)
    _register_live(app)
    app.server.extensions[services.EXTENSION] = svc
    app.server.register_blueprint(signin_blueprint)
    app.server.register_blueprint(api_blueprint)
    app.server.register_blueprint(exports_blueprint)
    app.server.register_blueprint(nte_bp)
    app.server.register_blueprint(board_bp)
    app.server.register_blueprint(map_geometry_bp)
    app.server.register_blueprint(basemap.bp)
    if hosts is None:
        hosts = security.allowed_hosts("", os.environ.get("HOTSPOT_ALLOWED_HOSTS", "").split(","))
    roles = load_roles(data.access / "roles.toml")
    state = AccessState(accounts=Accounts(data.access, roles),
                        settings=auth if auth is not None else AuthSettings.from_env(),
                        roles=roles)
    # every request is identified, decided and pinned to what its principal may see; the
    # pin also fixes one store version and one set of zones for the whole answer
    gate.install(app, state, AuditLog(data.audit))
    # after the gate: an anonymous request is told to sign in before anything else is checked
    # the site tile server is let through only when it is the basemap in use
    security.install(app, hosts, tile_url=None if svc.basemap is not None else svc.tile_url)
    return app


#: The page-wide notice where a callback's refusal or failure is shown to the user.
NOTICE, NOTICE_DISMISS = "app-notice", "app-notice-dismiss"
CALLBACK_LOG = logging.getLogger("hotspot.callbacks")


def _callback_error(err: Exception) -> None:
    """Show a callback's failure on the page in words instead of leaving it silent.

    A refused value (a bad setting, a busy server) is the user's to fix or wait for; anything
    else is a fault of ours, logged in full for a bug report. Either way the outputs keep their
    current values and the page says what happened.
    """
    from dashboard.security import BadRequestParameter
    from geo.query import FilterError

    if isinstance(err, FilterError) and err.param == "engine":
        text = err.message  # a view the engine in use does not serve yet (geo.door)
    elif isinstance(err, FilterError | BadRequestParameter):
        text = f"That setting could not be used ({err.param}): {err.message}"
    elif isinstance(err, AccessDenied):
        gate.mark_refused()
        text = err.message
    elif isinstance(err, services.Busy):
        text = str(err)
    else:
        CALLBACK_LOG.exception("callback failed", exc_info=err)
        text = ("Something went wrong inside Hotspot, and this view was not updated. The details "
                "are in the server log.")
    dash.set_props(NOTICE, {"children": [html.Span(text),
                                         html.Button("Dismiss", id=NOTICE_DISMISS,
                                                     className="link")]})


def _dismiss_notice(_clicks: int | None) -> None:
    """Clear the page-wide notice."""
    return None


#: Seconds between a page's checks for newly landed data.
LIVE_SECONDS = 5


def _live_version(_ticks: int | None, known: Any) -> tuple[Any, str]:
    """Tell the page the store version now, when it changed, and how old the data are.

    The pages' own callbacks listen to the version, so a new batch (an ingest, a file in the
    inbox) redraws every page within seconds, with its filters kept and no reload.
    """
    svc = services.current()
    version = svc.version()
    return (version if version != known else dash.no_update), _updated_text()


def _version_now() -> int | None:
    try:
        return services.current().version()
    except OSError:  # the store cannot be read now: the first check will say
        return None


def _updated_text() -> str:
    from datetime import UTC, datetime

    when = services.current().query.labels().manifest.last_ingested
    if not when:
        return ""
    try:
        then = datetime.fromisoformat(when)
    except ValueError:
        return ""
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    minutes = int((datetime.now(UTC) - then).total_seconds() // 60)
    if minutes < 1:
        return "data updated just now"
    if minutes < 120:
        return f"data updated {minutes} minute{'s' if minutes != 1 else ''} ago"
    hours = minutes // 60
    if hours < 48:
        return f"data updated {hours} hours ago"
    return f"data updated {then:%d %b %Y}"


def _register_live(app: Dash) -> None:
    """Give ``app`` its check for new data (per app, as for the notice)."""
    app.callback(dash.Output(ids.LIVE_VERSION, "data"), dash.Output(ids.LIVE_TEXT, "children"),
                 dash.Input(ids.LIVE_TICK, "n_intervals"),
                 dash.State(ids.LIVE_VERSION, "data"))(_live_version)


def _register_notice(app: Dash) -> None:
    """Give ``app`` the notice's dismiss button.

    It is registered on the app itself: Dash hands a callback declared at import to the first
    app only.
    """
    app.callback(dash.Output(NOTICE, "children", allow_duplicate=True),
                 dash.Input(NOTICE_DISMISS, "n_clicks"),
                 prevent_initial_call=True)(_dismiss_notice)


def _shell() -> html.Div:
    """Build the frame around every page (a function, so the sample badge is current)."""
    who = gate.principal_or_none()
    return html.Div(
        [
            # the first thing a keyboard reaches: past the menu to the page itself
            html.A("Skip to the page", href="#_pages_content", className="skip-link"),
            html.Header(
                [
                    html.Span("Hotspot", className="brand"),
                    html.Nav([
                        dcc.Link(page["name"], href=page["relative_path"], className="nav-link")
                        for page in gate.visible_pages(who)
                    ]),
                    html.Span(id="sample-badge", className="sample-badge",
                              children=_sample_badge()),
                    html.Span(id=ids.LIVE_TEXT, className="live-updated", role="status"),
                    _account(who),
                ],
                className="topbar",
            ),
            html.Div(id=NOTICE, className="app-notice", role="alert"),
            dcc.Interval(id=ids.LIVE_TICK, interval=LIVE_SECONDS * 1000),
            # the version the page is built from: only a newer one redraws the page
            dcc.Store(id=ids.LIVE_VERSION, data=_version_now()),
            dash.page_container,
        ]
    )


def _account(who: Principal | None) -> html.Span:
    """Say who is signed in, with their role, and offer to sign out."""
    if who is None:
        return html.Span()
    label = f"{who.name} · {who.role}"
    if who.areas:
        label += f" · {', '.join(who.areas)}"
    parts: list[Any] = [html.Span(label, id="account-name")]
    if who.via == "session":
        from flask import current_app, request

        from dashboard.access.identity import ACCESS_EXTENSION, session_of

        found = session_of(request, current_app.extensions[ACCESS_EXTENSION].accounts)
        if found is not None:
            # signing out changes state, so it is a form POST carrying the session's token;
            # the submit button carries it (a form sends its button's name and value), since
            # dash.html has no <input>
            parts.append(html.Form([html.Button("Sign out", type="submit", id="sign-out",
                                                name="csrf", value=found[1], className="link")],
                                   method="POST", action="/sign-out", className="sign-out"))
    return html.Span(parts, className="account")


def _sample_badge() -> list[Any]:
    """Return the synthetic-sample warning: a sentence, or two words where space is short."""
    if not services.current().query.synthetic_sample():
        return []
    return [html.Span("SYNTHETIC SAMPLE DATA — not real incidents", className="sample-long"),
            html.Span("SYNTHETIC SAMPLE", className="sample-short")]
