"""Who is asking: a request becomes a :class:`geo.access.Principal`, or None for nobody.

Three ways in, tried in this order:

1. ``Authorization: Bearer hst_...``: an API token.
2. In ``header`` mode, a user name in a header set by a trusted single sign-on proxy.
3. The ``hotspot_session`` cookie of a sign-in session.

This module only identifies. Which paths need a principal, and what a role may do there, is
the request gate's business.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request

from dashboard.access.accounts import (
    AccountError,
    Accounts,
    TokenRecord,
    UserRecord,
    token_shaped,
    valid_name,
)
from geo.access import Principal, RoleFileError, Roles

#: The sign-in session cookie.
SESSION_COOKIE = "hotspot_session"
#: ``app.extensions`` key of the :class:`AccessState`.
ACCESS_EXTENSION = "hotspot_access"
#: ``app.extensions`` key of the audit log, when there is one.
AUDIT_EXTENSION = "hotspot_audit"
MODES = ("local", "header")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_HEADER_NAME = re.compile(r"[A-Za-z0-9-]{1,64}")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


class Unauthenticated(Exception):
    """Credentials were presented but identify nobody; ``message`` says so plainly.

    The gate answers 401 with the message, rather than treating the request as anonymous:
    a client that sent a token wants to know it no longer works.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class AuthSettings:
    """How people are identified.

    Parameters
    ----------
    mode : str
        ``local``: Hotspot's own sign-in page. ``header``: also accept the user named in
        ``header`` when the request comes from one of ``trusted_proxies``.
    trusted_proxies : tuple of ip_network
        Addresses of the single sign-on proxies whose header is believed.
    header : str
        The header naming the signed-in user (default ``X-Remote-User``).
    secure_cookies : bool
        Mark cookies Secure even when the request did not arrive over HTTPS (a proxy ends
        TLS in front of Hotspot).
    """

    mode: str = "local"
    trusted_proxies: tuple[Network, ...] = ()
    header: str = "X-Remote-User"
    secure_cookies: bool = False

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"the sign-in mode must be one of {', '.join(MODES)}, "
                             f"not '{self.mode}'")
        if _HEADER_NAME.fullmatch(self.header) is None:
            raise ValueError(f"'{self.header}' is not a usable header name")
        if self.mode == "header" and not self.trusted_proxies:
            raise ValueError("header sign-in needs the addresses of the trusted proxies "
                             "(HOTSPOT_TRUSTED_PROXIES): without them no header is believed")

    @classmethod
    def build(cls, mode: str = "local", trusted_proxies: Iterable[str] = (),
              header: str = "X-Remote-User", secure_cookies: bool = False) -> AuthSettings:
        """Make settings from text: proxies as IP addresses or networks (CIDR)."""
        return cls(mode=mode.strip().lower(), trusted_proxies=parse_networks(trusted_proxies),
                   header=header.strip(), secure_cookies=secure_cookies)

    @classmethod
    def from_env(cls) -> AuthSettings:
        """Read the settings from the environment.

        ``HOTSPOT_AUTH_MODE`` (``local`` or ``header``), ``HOTSPOT_TRUSTED_PROXIES``
        (comma-separated addresses or networks), ``HOTSPOT_AUTH_HEADER`` and
        ``HOTSPOT_SECURE_COOKIES`` (true or false).
        """
        env = os.environ
        secure = env.get("HOTSPOT_SECURE_COOKIES", "").strip().lower()
        if secure not in _TRUE | _FALSE:
            raise ValueError(f"the setting HOTSPOT_SECURE_COOKIES must be true or false, "
                             f"not '{secure}'")
        return cls.build(mode=env.get("HOTSPOT_AUTH_MODE", "local") or "local",
                         trusted_proxies=env.get("HOTSPOT_TRUSTED_PROXIES", "").split(","),
                         header=env.get("HOTSPOT_AUTH_HEADER", "") or "X-Remote-User",
                         secure_cookies=secure in _TRUE)

    def trusts(self, address: str | None) -> bool:
        """Say whether ``address`` is one of the trusted proxies."""
        ip = _ip(address)
        return ip is not None and any(ip in net for net in self.trusted_proxies)


@dataclass(frozen=True)
class AccessState:
    """What the sign-in pages and the gate share: ``app.extensions["hotspot_access"]``."""

    accounts: Accounts
    settings: AuthSettings
    roles: Roles


def parse_networks(items: Iterable[str]) -> tuple[Network, ...]:
    """Parse IP addresses and networks; a bare address is a network of one.

    Examples
    --------
    >>> [str(n) for n in parse_networks(["10.0.0.0/8", " 192.168.1.5 ", ""])]
    ['10.0.0.0/8', '192.168.1.5/32']
    """
    networks = []
    for item in items:
        text = item.strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ValueError(f"'{text}' is not an IP address or network (e.g. 10.0.0.5 or "
                             "10.0.0.0/24)") from None
    return tuple(networks)


def _ip(address: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return None
    # a dual-stack server reports IPv4 peers as ::ffff:a.b.c.d
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def peer_address(request: Request) -> str | None:
    """Return the address of the machine that opened the connection.

    If werkzeug's ProxyFix has replaced ``REMOTE_ADDR`` with a forwarded client address, the
    original (the proxy's own address) is used: only that one cannot be claimed in a header.
    """
    original: Any = request.environ.get("werkzeug.proxy_fix.orig")
    if isinstance(original, dict) and original.get("REMOTE_ADDR"):
        return str(original["REMOTE_ADDR"])
    return request.remote_addr


def identify(request: Request, accounts: Accounts, settings: AuthSettings) -> Principal | None:
    """Return who is asking, or None if the request carries no credentials.

    Raises
    ------
    Unauthenticated
        If a bearer token is malformed, unknown or revoked, if a trusted proxy names someone
        who is not a Hotspot user, or if a user's or token's role is no longer defined.
    """
    token = bearer_token(request)
    if token is not None:
        return _token_principal(token, accounts)
    if settings.mode == "header":
        who = header_principal(request, accounts, settings)
        if who is not None:
            return who
    found = session_of(request, accounts)
    return _principal(accounts, found[0], "session") if found else None


def bearer_token(request: Request) -> str | None:
    """Return the token of an ``Authorization: Bearer`` header, or None if there is none.

    Other schemes (Basic, for one) are ignored rather than refused: a proxy that asks for a
    password of its own may pass its Authorization header on to Hotspot.
    """
    scheme, _, value = (request.headers.get("Authorization") or "").strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _token_principal(token: str, accounts: Accounts) -> Principal:
    if not token_shaped(token):
        raise Unauthenticated("The API token is malformed: Hotspot tokens start with 'hst_' "
                              "and are sent as 'Authorization: Bearer hst_...'.")
    record = accounts.token_owner(token)
    if record is None:
        raise Unauthenticated("The API token is not valid: it is unknown or has been revoked.")
    return _principal(accounts, record, "token")


def header_principal(request: Request, accounts: Accounts,
                     settings: AuthSettings) -> Principal | None:
    """Return the user a trusted proxy names in ``settings.header``, or None.

    The header is believed only when the connection comes from a trusted proxy address.
    Anyone who can reach Hotspot directly can send any header they like, so from any other
    address the header is ignored (not refused: the request is then identified as if it had
    no header). The proxy must set the header itself, replacing any the browser sent. The
    user must be in Hotspot's user file, which also gives their role and areas: the proxy
    says who someone is, never what they may see.
    """
    name = (request.headers.get(settings.header) or "").strip()
    if not name or not settings.trusts(peer_address(request)):
        return None
    if valid_name(name):
        try:
            return _principal(accounts, accounts.user(name), "header")
        except AccountError:
            pass
    raise Unauthenticated(f"'{name[:64]}' is not a Hotspot user. Ask an administrator to add "
                          "you with 'hotspot users add'.")


def session_of(request: Request, accounts: Accounts) -> tuple[UserRecord, str] | None:
    """Return the user and CSRF token of the request's sign-in session, or None."""
    session_id = request.cookies.get(SESSION_COOKIE)
    return accounts.session_user(session_id) if session_id else None


def _principal(accounts: Accounts, record: UserRecord | TokenRecord, via: str) -> Principal:
    try:
        return accounts.principal(record, via)
    except RoleFileError:
        kind = "token" if isinstance(record, TokenRecord) else "user"
        raise Unauthenticated(f"The {kind} '{record.name}' has the role '{record.role}', which "
                              "the role file no longer defines. Ask an administrator.") from None
