"""Who is asking, and what their role lets them see: the permissions the query layer enforces.

A :class:`Principal` is a signed-in user, an API token, a user named by a trusted single
sign-on proxy, or the local analyst of a single-user install. Its :class:`RolePolicy` comes
from the site's role file (defaults in ``geo/roles.toml``). The query layer
turns the two into a :class:`Scope`: which rows the principal may read at all, and how the
aggregates it may see are disclosed. Nothing here knows about HTTP.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Everything a role may be allowed to see (pages, layers, analyses, API answers).
VIEWS = frozenset({
    "explorer",  # the Explorer page: hexagon and authority maps, day-hour grid, hotspot table
    "points",  # point-level layers: incident points, selection outlines, NTE zone detail points
    "density",  # the kernel density layer
    "clusters",  # DBSCAN cluster footprints
    "patrol",  # patrol plans (page, API, CSV and GeoJSON downloads) and backtests
    "briefing",  # printable shift briefings (they map each hotspot's incidents)
    "nte",  # night-time economy zones: page, zone figures and nights
    "sheet",  # NTE deployment sheets
    "trends",  # the Trends page and API: series, league table, seasonal profile
    "emerging",  # emerging hotspot analysis
    "evaluate",  # intervention evaluation
    "hotspots",  # ranked hotspot cells (API)
    "aggregate",  # counts by authority or H3 cell (API)
    "h3",  # any answer by H3 cell (subject to max_h3_res)
    "board",  # the partnership board view
    "health",  # hospital and ambulance figures: navigator hours, beside police, profiles
    "audit",  # reading the audit log over HTTP
})

#: Everything a role may be allowed to change.
CHANGES = frozenset({
    "users", "tokens", "boundaries", "settings",  # administration
    "zones", "weights", "events", "venues", "uploads",  # shared analytical state
    "patrol-log",  # patrol hours delivered
    "ingest",  # add incident files to the store (POST /api/v1/ingest: feeds)
})


class AccessDenied(PermissionError):
    """The principal's role does not allow this; ``message`` says what the role allows."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RoleFileError(ValueError):
    """The role file is not valid; the message names the role and the setting."""


@dataclass(frozen=True)
class RolePolicy:
    """What one role may see and change, and how its answers are disclosed.

    ``max_h3_res`` is the finest H3 resolution the role may see (None: any). ``suppress_below``
    hides counts from 1 to ``suppress_below - 1`` (0: nothing hidden). ``rows`` says whether
    the role may have individual incidents read on its behalf at all: a role without it gets
    aggregates only, disclosed through the query layer. ``domestic_below_authority`` False
    means domestic incidents count only in figures by whole local authority.
    """

    name: str
    summary: str
    see: frozenset[str]
    change: frozenset[str] = frozenset()
    rows: bool = True
    public_only: bool = False
    max_h3_res: int | None = None
    suppress_below: int = 0
    domestic_below_authority: bool = True

    def may_see(self, view: str) -> bool:
        """Say whether the role may see ``view`` (one of :data:`VIEWS`)."""
        return view in self.see

    def may_change(self, thing: str) -> bool:
        """Say whether the role may change ``thing`` (one of :data:`CHANGES`)."""
        return thing in self.change


@dataclass(frozen=True)
class Principal:
    """Someone asking: a user, an API token, or the local analyst of a single-user install.

    ``areas`` are the local-authority codes the principal is limited to (None: every area).
    ``via`` says how they were identified: ``session``, ``token``, ``header`` or ``local``.
    """

    name: str
    policy: RolePolicy
    areas: tuple[str, ...] | None = None
    via: str = "session"

    @property
    def role(self) -> str:
        """The role's name."""
        return self.policy.name

    def may_see(self, view: str) -> bool:
        """Say whether the principal's role may see ``view``."""
        return self.policy.may_see(view)

    def may_change(self, thing: str) -> bool:
        """Say whether the principal's role may change ``thing``."""
        return self.policy.may_change(thing)

    def require_see(self, view: str, what: str) -> None:
        """Raise :class:`AccessDenied` naming ``what`` unless the role may see ``view``."""
        if not self.may_see(view):
            raise AccessDenied(f"The {self.role} role cannot see {what}. "
                               f"{self.policy.summary}")

    def require_change(self, thing: str, what: str) -> None:
        """Raise :class:`AccessDenied` naming ``what`` unless the role may change ``thing``."""
        if not self.may_change(thing):
            raise AccessDenied(f"The {self.role} role cannot {what}. {self.policy.summary}")

    def as_json(self) -> dict[str, Any]:
        """Return the principal as ``/api/v1/whoami`` reports it."""
        return {"user": self.name, "role": self.role,
                "areas": list(self.areas) if self.areas is not None else None,
                "via": self.via}


@dataclass(frozen=True)
class Scope:
    """The rows a principal may have read on its behalf, and how its figures are disclosed.

    The query layer keys its masked frames by this, so two principals with the same scope
    share them.
    """

    areas: frozenset[str] | None
    public_only: bool
    rows: bool
    domestic_below_authority: bool
    max_h3_res: int | None
    suppress_below: int
    #: Whether hospital and ambulance records count for the principal at all: only for a
    #: role that may see health figures (``health`` in its ``see``). Officers plan patrols
    #: on police data; an ED record's place is a patient's, so it is never in their figures.
    health: bool = True

    @classmethod
    def of(cls, who: Principal) -> Scope:
        """Return the scope of ``who``."""
        p = who.policy
        return cls(areas=frozenset(who.areas) if who.areas is not None else None,
                   public_only=p.public_only, rows=p.rows,
                   domestic_below_authority=p.domestic_below_authority,
                   max_h3_res=p.max_h3_res, suppress_below=p.suppress_below,
                   health=p.may_see("health"))

    @property
    def unrestricted(self) -> bool:
        """True if the scope restricts and hides nothing."""
        return (self.areas is None and not self.public_only and self.rows
                and self.domestic_below_authority and self.max_h3_res is None
                and self.suppress_below == 0 and self.health)


@dataclass(frozen=True)
class Roles:
    """The site's roles by name."""

    policies: Mapping[str, RolePolicy] = field(default_factory=dict)
    source: str = ""

    def __getitem__(self, name: str) -> RolePolicy:
        try:
            return self.policies[name]
        except KeyError:
            raise RoleFileError(f"'{name}' is not a role; the roles are "
                                f"{', '.join(self.policies)}") from None

    def names(self) -> list[str]:
        """Return the role names, in the file's order."""
        return list(self.policies)


def _names(value: Any, allowed: frozenset[str], role: str, key: str) -> frozenset[str]:
    if value == "*":
        return allowed
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RoleFileError(f"role '{role}': '{key}' must be a list of names or \"*\"")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise RoleFileError(f"role '{role}': '{key}' names '{unknown[0]}', which is not one of "
                            f"{', '.join(sorted(allowed))}")
    return frozenset(value)


def parse_roles(data: Mapping[str, Any], source: str) -> Roles:
    """Build :class:`Roles` from a parsed role file (one TOML table per role).

    Examples
    --------
    >>> roles = parse_roles({"viewer": {"summary": "Sees trends.", "see": ["trends"],
    ...                                 "rows": False, "suppress_below": 5}}, "example")
    >>> roles["viewer"].may_see("trends"), roles["viewer"].may_see("points")
    (True, False)
    """
    policies: dict[str, RolePolicy] = {}
    known = {"summary", "see", "change", "rows", "public_only", "max_h3_res", "suppress_below",
             "domestic_below_authority"}
    for name, spec in data.items():
        if not isinstance(spec, Mapping):
            raise RoleFileError(f"role '{name}' must be a table of settings")
        extra = sorted(set(spec) - known)
        if extra:
            raise RoleFileError(f"role '{name}': '{extra[0]}' is not a setting; the settings are "
                                f"{', '.join(sorted(known))}")
        max_res = spec.get("max_h3_res")
        if max_res is not None and (not isinstance(max_res, int) or not 0 <= max_res <= 15):
            raise RoleFileError(f"role '{name}': max_h3_res must be a whole number 0-15")
        suppress = spec.get("suppress_below", 0)
        if not isinstance(suppress, int) or not 0 <= suppress <= 100:
            raise RoleFileError(f"role '{name}': suppress_below must be a whole number 0-100")
        flags = {}
        for key, default in (("rows", True), ("public_only", False),
                             ("domestic_below_authority", True)):
            value = spec.get(key, default)
            if not isinstance(value, bool):
                raise RoleFileError(f"role '{name}': {key} must be true or false")
            flags[key] = value
        policies[name] = RolePolicy(
            name=name, summary=str(spec.get("summary", "")).strip(),
            see=_names(spec.get("see", []), VIEWS, name, "see"),
            change=_names(spec.get("change", []), CHANGES, name, "change"),
            max_h3_res=max_res, suppress_below=suppress, **flags)
    if not policies:
        raise RoleFileError(f"{source} defines no roles")
    return Roles(policies, source)


DEFAULT_ROLES_FILE = Path(__file__).resolve().parent / "roles.toml"


def load_roles(site_file: Path | None = None) -> Roles:
    """Load the site's role file if it exists, else the defaults shipped with Hotspot."""
    path = site_file if site_file is not None and site_file.is_file() else DEFAULT_ROLES_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise RoleFileError(f"{path} is not valid TOML: {err}") from None
    return parse_roles(data, str(path))


def area_codes(text: str | Iterable[str] | None) -> tuple[str, ...] | None:
    """Parse a comma-separated list of area codes (None or empty: every area).

    Examples
    --------
    >>> area_codes("E06000009, E06000008")
    ('E06000008', 'E06000009')
    >>> area_codes("") is None
    True
    """
    if text is None:
        return None
    items = text.split(",") if isinstance(text, str) else list(text)
    codes = sorted({c.strip() for c in items if c.strip()})
    return tuple(codes) or None
