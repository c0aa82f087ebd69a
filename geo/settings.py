"""Every path and default the project uses, each overridable by an environment variable.

Nothing here is relative to the current working directory and nothing is read at import time
beyond the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from pathlib import Path

#: Root of the source checkout when running from one (``geo/`` sits directly beneath it). In an
#: installed package this is ``site-packages`` and holds no project files.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: Where the wheel carries ``data/`` of the repository: package data of ``geo``, so an install
#: never adds a top-level package named ``data`` to site-packages (see pyproject.toml).
BUNDLED_PACKAGE_DIR = "_bundled"

#: British National Grid: every distance, bandwidth, buffer and area is measured in it (metres).
CRS_METRIC = "EPSG:27700"
#: Storage and display.
CRS_STORAGE = "EPSG:4326"
#: Local clock time of every timestamp.
TIMEZONE = "Europe/London"

#: H3 resolutions the engine precomputes at ingest and the views may choose from.
H3_RESOLUTIONS = (7, 8, 9, 10)
H3_DEFAULT_RESOLUTION = 9

#: Points up to this distance outside every boundary polygon are given the nearest area.
#: The bundled boundaries are "super generalised" (about 200 m generalisation) and clipped to
#: the coastline, so genuine incidents on promenades and at edges fall just outside them.
AREA_TOLERANCE_M = 500.0

#: Counts below this are flagged as too small to compare or to publish safely.
SMALL_NUMBER_THRESHOLD = 10


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else default


def default_data_dir() -> Path:
    """Return the per-user data directory (``$HOTSPOT_DATA_DIR`` overrides it)."""
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return _env_path("HOTSPOT_DATA_DIR", base / "hotspot")


def bundled_data_dir() -> Path:
    """Return the folder holding the bundled data (``boundaries/`` and ``sample/``).

    In a source checkout (run with ``PYTHONPATH`` or an editable install) this is the
    repository's ``data/``, where ``scripts/build_boundaries.py`` and ``geo/sample.py`` write.
    In an installed wheel it is the package data ``geo/_bundled/``, found with
    :mod:`importlib.resources` so it does not depend on the current working directory.

    Raises
    ------
    FileNotFoundError
        If neither holds the bundled data: a broken install, named so it can be fixed.

    Examples
    --------
    >>> (bundled_data_dir() / "sample" / "mapping.toml").is_file()
    True
    """
    checkout = PROJECT_ROOT / "data"
    # The checkout is recognised by its pyproject.toml beside geo/, so a stray folder called
    # "data" in site-packages (from another package) is never mistaken for ours.
    if (PROJECT_ROOT / "pyproject.toml").is_file() and (checkout / "boundaries").is_dir():
        return checkout
    shipped = resources.files("geo") / BUNDLED_PACKAGE_DIR
    # Wheels install unpacked, so the resource is a real folder; a zipped install is not
    # supported because pandas, pyogrio and the ingest read these files by path.
    if isinstance(shipped, Path) and (shipped / "boundaries").is_dir():
        return shipped
    raise FileNotFoundError(
        f"the bundled boundaries and sample are missing: looked in {checkout} and {shipped}. "
        "Reinstall Hotspot from its wheel or run it from a complete source checkout."
    )


def bundled_boundaries_dir() -> Path:
    """Return the folder holding the bundled Lancashire boundaries and populations."""
    override = os.environ.get("HOTSPOT_BUNDLED_BOUNDARIES")
    return Path(override).expanduser() if override else bundled_data_dir() / "boundaries"


def bundled_sample_dir() -> Path:
    """Return the folder holding the bundled synthetic sample."""
    override = os.environ.get("HOTSPOT_BUNDLED_SAMPLE")
    return Path(override).expanduser() if override else bundled_data_dir() / "sample"


class RecordKeyError(ValueError):
    """The site's record-key secret is there but damaged (see :meth:`DataPaths.record_key`)."""


@dataclass(frozen=True)
class DataPaths:
    """The layout of one data directory.

    Parameters
    ----------
    root : Path
        The data directory itself.
    """

    root: Path

    @property
    def store(self) -> Path:
        """Folder of the incident store (Parquet files and manifest)."""
        return self.root / "store"

    @property
    def boundaries(self) -> Path:
        """Folder of boundaries the user imported (empty means: use the bundled ones)."""
        return self.root / "boundaries"

    @property
    def zones(self) -> Path:
        """Folder of the saved night-time economy zones."""
        return self.root / "zones"

    @property
    def venues(self) -> Path:
        """Folder of the saved venues and taxi ranks."""
        return self.root / "venues"

    @property
    def harm(self) -> Path:
        """Folder of the harm weight table in use."""
        return self.root / "harm"

    @property
    def groups(self) -> Path:
        """Folder of the crime-type groups and the default group."""
        return self.root / "groups"

    @property
    def events(self) -> Path:
        """Folder of the events calendar (lockdowns, weeks of action, operations)."""
        return self.root / "events"

    @property
    def gazetteer(self) -> Path:
        """Folder of the imported gazetteer (streets and localities that name places)."""
        return self.root / "gazetteer"

    @property
    def postcodes(self) -> Path:
        """Folder of the imported postcode directory and LSOA centroids (placing records)."""
        return self.root / "postcodes"

    @property
    def access(self) -> Path:
        """Folder of users, API tokens and sign-in sessions, and the site's role file."""
        return self.root / "access"

    def record_key(self) -> str:
        """Return the site's secret for record keys (16 characters), made on first use.

        It keys the hash that gives each incident its record key, from which the small fixed
        noise on counts shown to partners and boards comes (:mod:`geo.disclosure`); kept
        secret, nobody who knows incident ids (police.uk's are public) can tell which incidents
        share a noise. Each record's key is worked out once, when it is stored, so every
        engine adds up the same keys. Lose the secret and records stored afterwards get keys
        from a new one: restore it from a backup with the users (it is in the access folder).

        Raises
        ------
        RecordKeyError
            If the file is there but does not hold 16 characters.
        """
        import secrets
        import string

        path = self.access / "record.key"
        for _ in range(2):
            if path.exists():
                text = path.read_text(encoding="ascii").strip()
                if len(text) == 16:
                    return text
                raise RecordKeyError(
                    f"The site's secret for record keys, {path}, is damaged (it must hold 16 "
                    "characters). Restore it from a backup of the access folder; a new one "
                    "would change the small adjustment on figures already shared.")
            self.access.mkdir(parents=True, exist_ok=True, mode=0o700)
            alphabet = string.ascii_letters + string.digits
            text = "".join(secrets.choice(alphabet) for _ in range(16))
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue  # another process made it first: read theirs
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(text + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            return text
        raise AssertionError("unreachable")

    @property
    def inbox(self) -> Path:
        """Folder the running server ingests new files from (``processed/``, ``failed/``)."""
        return self.root / "inbox"

    @property
    def audit(self) -> Path:
        """Folder of the append-only audit log (JSON lines, one file per month)."""
        return self.root / "audit"

    @property
    def rejects(self) -> Path:
        """Folder of rejects files, one per ingest batch."""
        return self.store / "rejects"


def tile_url() -> str | None:
    """Return a raster tile URL template (``{z}/{x}/{y}``) if the site has a tile server."""
    return os.environ.get("HOTSPOT_TILE_URL") or None


def basemap_path() -> Path | None:
    """Return the MBTiles file the app serves its basemap from (``HOTSPOT_BASEMAP``), if any.

    Raster or vector tiles (OS Open Zoomstack, for example); the app serves them at its own
    ``/tiles/`` URLs, so maps need nothing from outside the machine. It takes precedence over
    ``HOTSPOT_TILE_URL``.
    """
    value = os.environ.get("HOTSPOT_BASEMAP", "").strip()
    return Path(value).expanduser() if value else None


#: The engines ``hotspot serve --engine`` offers (HOTSPOT_ENGINE): numpy is in memory; auto,
#: the default, is numpy for a store of up to HOTSPOT_IN_MEMORY_MAX_ROWS incidents, else
#: duckdb (:func:`dashboard.services.chosen_engine`).
ENGINES = ("auto", "numpy", "duckdb", "dask")


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"the setting {name} must be a whole number, not '{value}'") from None
    if number <= 0 and name != "HOTSPOT_DAYS_AHEAD":
        raise ValueError(f"the setting {name} must be above zero, not {number}")
    return number


_MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Bounds on everything a user (or an attacker) can send; each is a setting.

    A request, upload or file beyond a limit is refused with a message that states the limit,
    never half-read. Environment variables override the defaults (sizes in MB).
    """

    #: Largest HTTP request body (``HOTSPOT_MAX_REQUEST_MB``); uploads arrive base64-encoded
    #: inside the request, so a file may be about three quarters of this.
    request_bytes: int = 50 * _MB
    #: Largest decompressed size of an uploaded gzip or zip (``HOTSPOT_MAX_DECOMPRESSED_MB``).
    upload_decompressed_bytes: int = 100 * _MB
    #: Most data rows in an uploaded table: venues, weights, patrol logs
    #: (``HOTSPOT_MAX_UPLOAD_ROWS``).
    upload_rows: int = 500_000
    #: Most features in a polygon file: zones or boundaries (``HOTSPOT_MAX_POLYGONS``).
    polygon_features: int = 50_000
    #: Most NTE zones kept at once (``HOTSPOT_MAX_ZONES``): each is counted night by night.
    zones: int = 200
    #: Largest decompressed size of a file given to ``hotspot ingest``
    #: (``HOTSPOT_MAX_INGEST_DECOMPRESSED_MB``): far above any real extract, below a bomb.
    ingest_decompressed_bytes: int = 20_000 * _MB
    #: Most streets and localities kept in the gazetteer (``HOTSPOT_MAX_GAZETTEER_ROWS``):
    #: every road and settlement of Great Britain in OS Open Names is about 1.7 million.
    gazetteer_rows: int = 2_000_000
    #: Most incidents a view that needs them one by one (the patrol plan, NTE zones,
    #: density, clusters, hospital and ambulance) reads into the web server from a DuckDB or
    #: Dask engine (``HOTSPOT_MAX_SELECTION_ROWS``): a large force's year, kept as about
    #: 100 MB, read with a peak of about 600 MB (docs/ENGINES.md).
    selection_rows: int = 1_000_000
    #: Most incidents ``hotspot serve`` holds in memory when it chooses its engine itself
    #: (``HOTSPOT_IN_MEMORY_MAX_ROWS``; ``--engine auto``, the default): a larger store is
    #: counted by DuckDB over its files. In memory a million incidents take about 0.7 GB.
    in_memory_rows: int = 2_000_000
    #: Memory the server's DuckDB may hold, in MB (``HOTSPOT_DUCKDB_MEMORY_MB``): above it,
    #: it drops the query index's blocks it read last (they are read again from the disk
    #: cache) and writes what a large query groups or sorts to the store's spill folder. At
    #: 50 million incidents the server then peaks under 1 GB (docs/ENGINES.md).
    duckdb_memory_mb: int = 128
    #: Earliest incident date accepted (``HOTSPOT_EARLIEST_DATE``, YYYY-MM-DD).
    earliest_date: date = date(1990, 1, 1)
    #: Days after today an incident may be dated (``HOTSPOT_DAYS_AHEAD``): clocks and time
    #: zones differ a little, a future year is a typing error.
    days_ahead: int = 1

    @property
    def latest_date(self) -> date:
        """Latest incident date accepted: today plus :attr:`days_ahead`."""
        return date.today() + timedelta(days=self.days_ahead)


def limits() -> Limits:
    """Return the limits in force (defaults, overridden by the environment)."""
    base = Limits()
    earliest = base.earliest_date
    text = os.environ.get("HOTSPOT_EARLIEST_DATE", "").strip()
    if text:
        try:
            earliest = date.fromisoformat(text)
        except ValueError:
            raise ValueError("the setting HOTSPOT_EARLIEST_DATE must be a date, YYYY-MM-DD, "
                             f"not '{text}'") from None
    return Limits(
        request_bytes=_env_int("HOTSPOT_MAX_REQUEST_MB", base.request_bytes // _MB) * _MB,
        upload_decompressed_bytes=_env_int(
            "HOTSPOT_MAX_DECOMPRESSED_MB", base.upload_decompressed_bytes // _MB) * _MB,
        upload_rows=_env_int("HOTSPOT_MAX_UPLOAD_ROWS", base.upload_rows),
        polygon_features=_env_int("HOTSPOT_MAX_POLYGONS", base.polygon_features),
        zones=_env_int("HOTSPOT_MAX_ZONES", base.zones),
        ingest_decompressed_bytes=_env_int(
            "HOTSPOT_MAX_INGEST_DECOMPRESSED_MB", base.ingest_decompressed_bytes // _MB) * _MB,
        gazetteer_rows=_env_int("HOTSPOT_MAX_GAZETTEER_ROWS", base.gazetteer_rows),
        selection_rows=_env_int("HOTSPOT_MAX_SELECTION_ROWS", base.selection_rows),
        in_memory_rows=_env_int("HOTSPOT_IN_MEMORY_MAX_ROWS", base.in_memory_rows),
        duckdb_memory_mb=_env_int("HOTSPOT_DUCKDB_MEMORY_MB", base.duckdb_memory_mb),
        earliest_date=earliest,
        days_ahead=_env_int("HOTSPOT_DAYS_AHEAD", base.days_ahead),
    )


@dataclass(frozen=True)
class SignInLimits:
    """How many wrong passwords lock an account, and how long sign-in sessions last.

    Environment variables override the defaults; each must be a whole number above zero.
    """

    #: Consecutive wrong passwords that lock an account (``HOTSPOT_SIGNIN_ATTEMPTS``).
    attempts: int = 5
    #: Minutes a locked account stays locked (``HOTSPOT_SIGNIN_LOCK_MINUTES``).
    lock_minutes: int = 15
    #: Minutes without a request after which a session ends
    #: (``HOTSPOT_SESSION_IDLE_MINUTES``).
    session_idle_minutes: int = 480
    #: Hours after sign-in at which a session ends however busy it is
    #: (``HOTSPOT_SESSION_MAX_HOURS``): one long shift, then sign in again.
    session_max_hours: int = 12


def sign_in_limits() -> SignInLimits:
    """Return the sign-in limits in force (defaults, overridden by the environment)."""
    base = SignInLimits()
    return SignInLimits(
        attempts=_env_int("HOTSPOT_SIGNIN_ATTEMPTS", base.attempts),
        lock_minutes=_env_int("HOTSPOT_SIGNIN_LOCK_MINUTES", base.lock_minutes),
        session_idle_minutes=_env_int("HOTSPOT_SESSION_IDLE_MINUTES",
                                      base.session_idle_minutes),
        session_max_hours=_env_int("HOTSPOT_SESSION_MAX_HOURS", base.session_max_hours),
    )
