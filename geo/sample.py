"""A SYNTHETIC incident set for Lancashire that behaves like the real thing.

Nothing generated here is a real incident. The generator plants the patterns analysts look for,
so the dashboard has something true to find on a fresh install and the tests have a known
answer:

* **population** – incidents are drawn around LSOA centroids, LSOAs drawn uniformly (each holds
  about 1,500 residents, so incidents follow where people live), with an uneven (gamma) rate
  per LSOA as real neighbourhoods have;
* **micro-hotspots** – a few dozen fixed points across the towns take a steady share, each
  with a tight spread of 30–80 m;
* **night-time economy** – Friday and Saturday nights in the town centres of Blackpool,
  Preston, Lancaster, Blackburn and Burnley, peaking 23:00–02:00 (an incident at 01:00 on a
  Sunday belongs to Saturday night), skewed to violence with injury and public order;
* **after school** – weekdays 15:00–19:00 in term time;
* **season and week** – a summer rise peaking in July/August and a weekend uplift;
* **domestic abuse** – 15–20 % of violence, at homes (never in the night-time economy
  centres), evenings and weekends;
* **sources** – police records, hospital emergency department (``ed``) records that are mostly
  violence with injury and have no domestic flag, and a few ambulance call-outs;
* **under-reporting** – in the files of :func:`generate_sample_files` only: a few hundred ED
  attendances late on Friday and Saturday nights at one spot in Blackburn town centre that
  no police record matches.

:func:`generate_sample` returns every incident in one table with a ``source`` column.
:func:`generate_sample_files` and :func:`write_sample` split them as the services that recorded
them share them: police records in one file, ED attendances in the ISTV layout and ambulance
call-outs in theirs (:mod:`geo.sample_health` draws their ISTV fields and places them by
coordinates, postcode or LSOA), with the made-up postcode directory and the LSOA centroids that
place them.

Every random step draws from one :class:`numpy.random.Generator` seeded by the caller.
"""

from __future__ import annotations

import gzip
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from geo.boundaries import Boundaries, assign_areas, load_boundaries
from geo.projection import to_bng, to_wgs84
from geo.sample_health import HealthRecords, health_files
from geo.settings import bundled_boundaries_dir

__all__ = [
    "CATEGORIES",
    "DEFAULT_N",
    "DEFAULT_SEED",
    "NTE_CENTRES",
    "SAMPLE_COLUMNS",
    "SAMPLE_FILES",
    "UNDER_REPORTED",
    "SampleFiles",
    "generate_sample",
    "generate_sample_files",
    "write_sample",
]

#: Size of the bundled sample: about 55 incidents a day over three years.
DEFAULT_N = 60_000
DEFAULT_SEED = 20240401
DEFAULT_START = "2022-04-01"
DEFAULT_END = "2025-03-31"

SAMPLE_COLUMNS = (
    "incident_id",
    "occurred_at",
    "longitude",
    "latitude",
    "category",
    "source",
    "domestic",
)

CATEGORIES = (
    "Violence with injury",
    "Violence without injury",
    "Robbery",
    "Possession of weapons",
    "Public order",
    "Sexual offences",
)

#: The bundled sample's files (:func:`write_sample`), by key. All are SYNTHETIC.
SAMPLE_FILES = {
    "incidents": "lancashire_synthetic_incidents.csv.gz",
    "ed": "lancashire_synthetic_ed_attendances.csv.gz",
    "ambulance": "lancashire_synthetic_ambulance_callouts.csv.gz",
    "postcodes": "lancashire_synthetic_postcodes.csv.gz",
    "lsoa_centroids": "lancashire_synthetic_lsoa_centroids.csv.gz",
}

#: The planted under-reporting: ED attendances late on Friday and Saturday nights around one
#: spot on the eastern edge of Blackburn town centre (lon, lat), about 650 m east of its
#: night-time economy centre and 500 m from its busy venues, that no police record matches.
UNDER_REPORTED: dict[str, tuple[float, float]] = {"Blackburn": (-2.4730, 53.7490)}
#: How many: this share of ``n`` (330 in the bundled sample).
_UNDER_REPORTED_SHARE = 330 / 60_000
_UNDER_REPORTED_SD_M = 60.0
# 23:00 to 03:59, the night running into the next morning.
_HOURS_UNDER_REPORTED = {23: 0.8, 0: 1.2, 1: 1.3, 2: 1.1, 3: 0.6}
#: Friday and Saturday nights (0 = Monday night).
_UNDER_REPORTED_NIGHTS = (4, 5)

#: Night-time economy centres (lon, lat) and each one's share of night-time incidents.
NTE_CENTRES: dict[str, tuple[float, float, float]] = {
    "Blackpool": (-3.0535, 53.8190, 0.30),  # Talbot Square
    "Preston": (-2.7030, 53.7590, 0.24),  # Fishergate / Friargate
    "Blackburn": (-2.4830, 53.7480, 0.16),
    "Lancaster": (-2.8010, 54.0490, 0.15),
    "Burnley": (-2.2420, 53.7890, 0.15),
}

# Shares of the components (sum to 1). Domestic is about 0.15 of all rows, which with
# violence about 75 % of rows makes it roughly a fifth of violence.
_SHARES = {
    "background": 0.48,
    "after_school": 0.07,
    "hotspot": 0.10,
    "nte": 0.20,
    "domestic": 0.15,
}

# Category mix of each component, in CATEGORIES order.
_CATEGORY_MIX = {
    "background": (0.30, 0.42, 0.035, 0.025, 0.18, 0.04),
    "after_school": (0.22, 0.42, 0.14, 0.06, 0.14, 0.02),
    "hotspot": (0.30, 0.38, 0.06, 0.04, 0.20, 0.02),
    "nte": (0.46, 0.20, 0.03, 0.03, 0.25, 0.03),
    "domestic": (0.38, 0.57, 0.0, 0.0, 0.0, 0.05),
}

# Chance that an incident of each category reaches us as an emergency department record, or
# as an ambulance call-out, instead of a police record (CATEGORIES order).
_P_ED = (0.38, 0.02, 0.04, 0.0, 0.0, 0.10)
_P_AMBULANCE = (0.06, 0.0, 0.0, 0.0, 0.0, 0.0)

# Relative hourly rates (00:00 ... 23:00).
_HOURS_BACKGROUND = (
    3.0, 2.4, 2.0, 1.5, 1.0, 0.8, 1.0, 1.5, 2.2, 2.5, 2.8, 3.0,
    3.4, 3.5, 3.7, 4.3, 4.6, 4.8, 4.9, 4.8, 4.6, 4.4, 4.0, 3.6,
)  # fmt: skip
_HOURS_DOMESTIC = (
    2.6, 2.0, 1.6, 1.1, 0.7, 0.5, 0.6, 1.0, 1.5, 1.8, 2.0, 2.2,
    2.4, 2.5, 2.7, 3.0, 3.4, 4.0, 4.6, 5.0, 5.2, 5.0, 4.4, 3.4,
)  # fmt: skip
_HOURS_AFTER_SCHOOL = {15: 1.0, 16: 1.2, 17: 1.0, 18: 0.7, 19: 0.3}
# The night runs from 20:00 on the night's date to 04:59 the next morning.
_HOURS_NTE = {20: 0.3, 21: 0.5, 22: 0.8, 23: 1.0, 0: 1.2, 1: 1.3, 2: 1.1, 3: 0.6, 4: 0.25}

# Day-of-week rates, Monday first.
_DOW_BACKGROUND = (0.92, 0.90, 0.92, 0.95, 1.08, 1.25, 1.15)
_DOW_DOMESTIC = (0.95, 0.90, 0.90, 0.92, 1.02, 1.25, 1.30)
# Nights of the week (0 = Monday night) in the town centres: Friday and Saturday dominate;
# Thursday is a student night in Preston and Lancaster.
_NTE_NIGHTS = {0: 0.03, 1: 0.03, 2: 0.04, 3: 0.08, 4: 0.36, 5: 0.42, 6: 0.04}

#: Summer rise: the rate peaks this many percent above the yearly mean, in late July.
_SEASON_AMPLITUDE = 0.22
_SEASON_PEAK_DOY = 205

# Spread of points (metres).
_LSOA_SD_FACTOR = 0.35  # times the square root of the LSOA's area
_LSOA_SD_MAX_M = 1_200.0
_HOTSPOT_COUNT = 36
_HOTSPOT_SD_M = (30.0, 80.0)
_NTE_VENUES = 6  # busy venues per centre
_NTE_VENUE_SPREAD_M = 150.0  # how far venues sit from the centre point
_NTE_VENUE_SD_M = 35.0
_NTE_DIFFUSE_SD_M = 180.0
_NTE_AT_VENUE = 0.7
#: Domestic incidents are at homes: never this close to a night-time economy centre.
_DOMESTIC_CLEARANCE_M = 500.0
_MAX_REDRAWS = 30


def generate_sample(
    n: int = DEFAULT_N,
    seed: int = DEFAULT_SEED,
    start: str = DEFAULT_START,
    end: str = DEFAULT_END,
    lsoas_csv: Path | None = None,
    boundaries: Boundaries | None = None,
) -> pd.DataFrame:
    """Generate a SYNTHETIC incident set for Lancashire with minute timestamps.

    Parameters
    ----------
    n : int
        Number of incidents.
    seed : int
        Seed of the one random generator every step draws from; the same seed gives the same
        rows.
    start, end : str
        First and last date (``YYYY-MM-DD``, inclusive) of the period.
    lsoas_csv : Path, optional
        LSOA table (``lsoa_code, la_code, centroid_lon, centroid_lat, area_km2``); by default
        the bundled ``lancashire_lsoas.csv``.
    boundaries : Boundaries, optional
        The study area points must fall in; by default the bundled Lancashire authorities.

    Returns
    -------
    pandas.DataFrame
        Rows sorted by time with :data:`SAMPLE_COLUMNS`, all text or float:
        ``incident_id`` ("SYN-000001"), ``occurred_at`` ("YYYY-MM-DD HH:MM", UK local clock
        time), ``longitude``/``latitude`` (WGS84, 6 decimals), ``category`` (one of
        :data:`CATEGORIES`), ``source`` (``police``, ``ed`` or ``ambulance``) and ``domestic``
        (``"true"``/``"false"`` for police rows, ``""`` (unknown) for the others).

    Examples
    --------
    >>> df = generate_sample(n=200, seed=1)
    >>> list(df.columns)
    ['incident_id', 'occurred_at', 'longitude', 'latitude', 'category', 'source', 'domestic']
    >>> df["incident_id"].iloc[0], len(df)
    ('SYN-000001', 200)
    >>> df.equals(generate_sample(n=200, seed=1))
    True
    """
    return _draw(n, seed, start, end, lsoas_csv, boundaries).table


def _draw(
    n: int,
    seed: int,
    start: str,
    end: str,
    lsoas_csv: Path | None,
    boundaries: Boundaries | None,
) -> _Drawn:
    """Draw the incidents of :func:`generate_sample`, keeping what the health files need."""
    if n < 1:
        raise ValueError(f"n must be at least 1, not {n}")
    rng = np.random.default_rng(seed)
    days = pd.date_range(start, end, freq="D")
    if len(days) < 14:
        raise ValueError("the period must span at least two weeks")
    area = boundaries if boundaries is not None else load_boundaries(None)
    lsoas = _read_lsoas(lsoas_csv)
    world = _World.build(lsoas, area, rng)

    counts = rng.multinomial(n, list(_SHARES.values()))
    parts = []
    for kind, k in zip(_SHARES, counts, strict=True):
        if k == 0:
            continue
        day, minute = _draw_times(kind, int(k), days, rng)
        x, y = _draw_places(kind, int(k), world, rng)
        mix = np.asarray(_CATEGORY_MIX[kind])
        category = rng.choice(len(CATEGORIES), size=int(k), p=mix / mix.sum())
        parts.append(
            pd.DataFrame(
                {
                    "day": day,
                    "minute": minute,
                    "x": x,
                    "y": y,
                    "category": category,
                    "domestic": kind == "domestic",
                    "kind": kind,
                }
            )
        )
    events = pd.concat(parts, ignore_index=True)
    table, order = _finish(events, days, rng)
    return _Drawn(table, events["kind"].to_numpy()[order], world, days, lsoas, rng)


@dataclass(frozen=True)
class SampleFiles:
    """The SYNTHETIC sample as the files :func:`write_sample` writes, every cell text.

    Attributes
    ----------
    incidents : pandas.DataFrame
        The police records (:data:`SAMPLE_COLUMNS`, ``source`` always ``police``): exactly the
        police rows of :func:`generate_sample` with the same seed.
    ed : pandas.DataFrame
        Emergency department assault attendances in the ISTV layout
        (:data:`geo.sample_health.ED_COLUMNS`), with fake patient names and NHS numbers.
    ambulance : pandas.DataFrame
        Ambulance assault call-outs (:data:`geo.sample_health.AMBULANCE_COLUMNS`).
    postcodes : pandas.DataFrame
        The made-up postcode directory that places the postcode-only records, in the ONS
        Postcode Directory layout (:data:`geo.sample_health.ONSPD_COLUMNS`).
    lsoa_centroids : pandas.DataFrame
        The centroids that place the LSOA-only records, in the ONS population-weighted
        centroid layout (:data:`geo.sample_health.LSOA_CENTROID_COLUMNS`).
    """

    incidents: pd.DataFrame
    ed: pd.DataFrame
    ambulance: pd.DataFrame
    postcodes: pd.DataFrame
    lsoa_centroids: pd.DataFrame

    def frames(self) -> dict[str, pd.DataFrame]:
        """Return the files by their key in :data:`SAMPLE_FILES`."""
        return {key: getattr(self, key) for key in SAMPLE_FILES}


def generate_sample_files(
    n: int = DEFAULT_N,
    seed: int = DEFAULT_SEED,
    start: str = DEFAULT_START,
    end: str = DEFAULT_END,
    lsoas_csv: Path | None = None,
    boundaries: Boundaries | None = None,
) -> SampleFiles:
    """Generate the SYNTHETIC sample split by who recorded each incident, as files.

    The incidents of :func:`generate_sample` (same ``n``, ``seed``) are split: police rows
    make the incidents file unchanged; ED and ambulance rows keep their ids as attendance and
    incident references and their times as arrival and call times, and gain the ISTV fields
    (:mod:`geo.sample_health`). On top, a few hundred ED attendances that no police record
    matches are planted late on Friday and Saturday nights at one spot in Blackburn town
    centre (:data:`UNDER_REPORTED`; about 0.55 % of ``n``), with ids after ``n``.

    Parameters are those of :func:`generate_sample`; the LSOA table must also give
    ``lsoa_code``, ``lsoa_name`` and ``la_code``.

    Returns
    -------
    SampleFiles

    Examples
    --------
    >>> files = generate_sample_files(n=2_000, seed=1)
    >>> police = generate_sample(n=2_000, seed=1).query("source == 'police'")
    >>> files.incidents.equals(police.reset_index(drop=True))
    True
    >>> list(files.ed.columns[:3]), bool(files.ed["NHS Number"].str.startswith("999").all())
    (['Attendance ID', 'Arrival Date', 'Arrival Time'], True)
    """
    drawn = _draw(n, seed, start, end, lsoas_csv, boundaries)
    missing = {"lsoa_code", "lsoa_name", "la_code"} - set(drawn.lsoas.columns)
    if missing:
        raise ValueError(f"the LSOA table lacks the column(s) {', '.join(sorted(missing))}")
    table = drawn.table
    police = (table["source"] == "police").to_numpy()
    incidents = table[police].reset_index(drop=True)

    k = round(n * _UNDER_REPORTED_SHARE)
    when_u, x_u, y_u = _draw_under_reported(k, drawn.days, drawn.world, drawn.rng)
    health = table[~police]
    when_h = pd.to_datetime(health["occurred_at"], format="%Y-%m-%d %H:%M").to_numpy(
        dtype="datetime64[m]")
    lon_u, lat_u = to_wgs84(x_u, y_u)
    lon = np.concatenate([health["longitude"].to_numpy(dtype="float64"), np.round(lon_u, 6)])
    lat = np.concatenate([health["latitude"].to_numpy(dtype="float64"), np.round(lat_u, 6)])
    x, y = to_bng(lon, lat)  # the points as a record with coordinates gives them
    when = np.concatenate([when_h, when_u])
    planted = np.r_[np.zeros(len(health), dtype=bool), np.ones(k, dtype=bool)]
    order = np.lexsort((planted, when))
    rec = HealthRecords(
        ids=np.concatenate([health["incident_id"].to_numpy(dtype=object),
                            np.asarray([f"SYN-{i:06d}" for i in range(n + 1, n + k + 1)],
                                       dtype=object)])[order],
        source=np.concatenate([health["source"].to_numpy(dtype=object),
                               np.full(k, "ed", dtype=object)])[order],
        kind=np.concatenate([drawn.kind[~police].astype(object),
                             np.full(k, "under_reported", dtype=object)])[order],
        when=when[order], x=x[order], y=y[order], lon=lon[order], lat=lat[order],
    )
    files = health_files(rec, drawn.lsoas, drawn.world.boundaries, drawn.rng)
    return SampleFiles(incidents=incidents, **files)


def write_sample(
    folder: Path | str,
    n: int = DEFAULT_N,
    seed: int = DEFAULT_SEED,
    *,
    compresslevel: int = 9,
) -> dict[str, Path]:
    """Generate the sample's files and write them into ``folder`` as gzipped CSV.

    Each file is written atomically and byte-for-byte reproducible: the same ``n``, ``seed``
    and ``compresslevel`` give the same files (the gzip header carries no timestamp).

    Parameters
    ----------
    folder : Path or str
        An existing folder; the files take the names in :data:`SAMPLE_FILES`.
    n : int
        Number of incidents drawn (police, ED and ambulance, before the planted ones).
    seed : int
        Seed of the generator.
    compresslevel : int
        gzip level: 9 for the bundled files, 1 for a quick throw-away sample.

    Returns
    -------
    dict of Path
        Each file's path by its key in :data:`SAMPLE_FILES`.

    Examples
    --------
    >>> import tempfile
    >>> paths = write_sample(Path(tempfile.mkdtemp()), n=500, seed=3)
    >>> sorted(paths) == sorted(SAMPLE_FILES)
    True
    >>> pd.read_csv(paths["incidents"]).shape[1]
    7
    """
    folder = Path(folder)
    files = generate_sample_files(n=n, seed=seed)
    out = {}
    for key, frame in files.frames().items():
        out[key] = _write_gzip_csv(frame, folder / SAMPLE_FILES[key], compresslevel)
    return out


def _write_gzip_csv(frame: pd.DataFrame, path: Path, compresslevel: int) -> Path:
    text = frame.to_csv(index=False, lineterminator="\n")
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0,
                       compresslevel=compresslevel) as gz:
        gz.write(text.encode("utf-8"))
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(buf.getvalue())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


# --------------------------------------------------------------------------------------------
# Places


@dataclass
class _World:
    """Everything fixed for one sample: LSOA anchors, hotspots, night-time venues (BNG)."""

    boundaries: Boundaries
    lsoa_x: np.ndarray
    lsoa_y: np.ndarray
    lsoa_sd: np.ndarray
    lsoa_p: np.ndarray
    hotspot_x: np.ndarray
    hotspot_y: np.ndarray
    hotspot_sd: np.ndarray
    hotspot_p: np.ndarray
    centre_x: np.ndarray
    centre_y: np.ndarray
    centre_p: np.ndarray
    venue_x: np.ndarray  # (centre, venue)
    venue_y: np.ndarray

    @classmethod
    def build(cls, lsoas: pd.DataFrame, boundaries: Boundaries, rng: np.random.Generator) -> _World:
        lx, ly = to_bng(lsoas["centroid_lon"].to_numpy(), lsoas["centroid_lat"].to_numpy())
        sd = np.minimum(
            _LSOA_SD_FACTOR * np.sqrt(lsoas["area_km2"].to_numpy()) * 1_000.0, _LSOA_SD_MAX_M
        )
        # LSOAs hold similar numbers of residents, so a uniform draw follows population; the
        # gamma factor gives the uneven rates real neighbourhoods have (mean 1).
        rate = rng.gamma(2.0, 0.5, len(lsoas))
        lsoa_p = rate / rate.sum()

        # Hotspots sit in the towns: draw their LSOAs favouring small (dense) ones.
        density = 1.0 / np.maximum(lsoas["area_km2"].to_numpy(), 0.05)
        pick = rng.choice(len(lsoas), size=_HOTSPOT_COUNT, replace=False, p=density / density.sum())
        hx, hy = _inside(
            boundaries, lx[pick], ly[pick], sd[pick] * 0.5, rng, fallback=(lx[pick], ly[pick])
        )
        hotspot_sd = rng.uniform(*_HOTSPOT_SD_M, _HOTSPOT_COUNT)
        weight = rng.gamma(3.0, 1.0, _HOTSPOT_COUNT)

        lon = np.array([c[0] for c in NTE_CENTRES.values()])
        lat = np.array([c[1] for c in NTE_CENTRES.values()])
        share = np.array([c[2] for c in NTE_CENTRES.values()])
        cx, cy = to_bng(lon, lat)
        vx, vy = _inside(
            boundaries,
            np.repeat(cx, _NTE_VENUES),
            np.repeat(cy, _NTE_VENUES),
            np.full(len(cx) * _NTE_VENUES, _NTE_VENUE_SPREAD_M),
            rng,
            fallback=(np.repeat(cx, _NTE_VENUES), np.repeat(cy, _NTE_VENUES)),
        )
        return cls(
            boundaries=boundaries,
            lsoa_x=lx,
            lsoa_y=ly,
            lsoa_sd=sd,
            lsoa_p=lsoa_p,
            hotspot_x=hx,
            hotspot_y=hy,
            hotspot_sd=hotspot_sd,
            hotspot_p=weight / weight.sum(),
            centre_x=cx,
            centre_y=cy,
            centre_p=share / share.sum(),
            venue_x=vx.reshape(len(cx), _NTE_VENUES),
            venue_y=vy.reshape(len(cx), _NTE_VENUES),
        )


@dataclass
class _Drawn:
    """The drawn incidents and what the health files are made from."""

    table: pd.DataFrame  # the rows of :func:`generate_sample`
    kind: np.ndarray  # the component each row was drawn from ("nte", "domestic", ...)
    world: _World
    days: pd.DatetimeIndex
    lsoas: pd.DataFrame
    rng: np.random.Generator  # where the draws continue

def _read_lsoas(lsoas_csv: Path | None) -> pd.DataFrame:
    path = lsoas_csv if lsoas_csv is not None else bundled_boundaries_dir() / "lancashire_lsoas.csv"
    table = pd.read_csv(path)
    needed = {"centroid_lon", "centroid_lat", "area_km2"}
    missing = needed - set(table.columns)
    if missing:
        raise ValueError(f"{path} lacks the column(s) {', '.join(sorted(missing))}")
    return table


def _inside(
    boundaries: Boundaries,
    x0: np.ndarray,
    y0: np.ndarray,
    sd: np.ndarray,
    rng: np.random.Generator,
    fallback: tuple[np.ndarray, np.ndarray],
    avoid: tuple[np.ndarray, np.ndarray, float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian points around (x0, y0), re-drawn until inside the study area.

    ``avoid`` = (xs, ys, radius_m) also re-draws points within radius_m of any of those
    points. After ``_MAX_REDRAWS`` rounds the few stubborn points take their ``fallback``.
    """
    x = np.empty(len(x0))
    y = np.empty(len(x0))
    todo = np.arange(len(x0))
    for _ in range(_MAX_REDRAWS):
        if todo.size == 0:
            break
        tx = x0[todo] + rng.normal(0.0, 1.0, todo.size) * sd[todo]
        ty = y0[todo] + rng.normal(0.0, 1.0, todo.size) * sd[todo]
        ok = ~pd.isna(assign_areas(tx, ty, boundaries, tolerance_m=0.0).code)
        if avoid is not None:
            ok &= _far_from(tx, ty, *avoid)
        x[todo[ok]] = tx[ok]
        y[todo[ok]] = ty[ok]
        todo = todo[~ok]
    x[todo] = fallback[0][todo]
    y[todo] = fallback[1][todo]
    return x, y


def _far_from(x: np.ndarray, y: np.ndarray, px: np.ndarray, py: np.ndarray, r: float) -> np.ndarray:
    d2 = (x[:, None] - px[None, :]) ** 2 + (y[:, None] - py[None, :]) ** 2
    return (d2 > r * r).all(axis=1)


def _draw_places(
    kind: str, k: int, world: _World, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    if kind == "hotspot":
        h = rng.choice(len(world.hotspot_x), size=k, p=world.hotspot_p)
        return _inside(
            world.boundaries,
            world.hotspot_x[h],
            world.hotspot_y[h],
            world.hotspot_sd[h],
            rng,
            fallback=(world.hotspot_x[h], world.hotspot_y[h]),
        )
    if kind == "nte":
        c = rng.choice(len(world.centre_x), size=k, p=world.centre_p)
        at_venue = rng.random(k) < _NTE_AT_VENUE
        v = rng.integers(0, _NTE_VENUES, k)
        x0 = np.where(at_venue, world.venue_x[c, v], world.centre_x[c])
        y0 = np.where(at_venue, world.venue_y[c, v], world.centre_y[c])
        sd = np.where(at_venue, _NTE_VENUE_SD_M, _NTE_DIFFUSE_SD_M)
        return _inside(world.boundaries, x0, y0, sd, rng, fallback=(x0, y0))

    # Residential and street incidents around LSOA centroids.
    lsoa = rng.choice(len(world.lsoa_x), size=k, p=world.lsoa_p)
    if kind != "domestic":
        x0, y0 = world.lsoa_x[lsoa], world.lsoa_y[lsoa]
        return _inside(world.boundaries, x0, y0, world.lsoa_sd[lsoa], rng, fallback=(x0, y0))

    # Homes are never in the night-time economy centres: town-centre LSOAs are left out, and
    # points that still land near a centre are re-drawn.
    clear = _far_from(
        world.lsoa_x, world.lsoa_y, world.centre_x, world.centre_y, _DOMESTIC_CLEARANCE_M
    )
    p = np.where(clear, world.lsoa_p, 0.0)
    lsoa = rng.choice(len(world.lsoa_x), size=k, p=p / p.sum())
    x0, y0 = world.lsoa_x[lsoa], world.lsoa_y[lsoa]
    return _inside(
        world.boundaries,
        x0,
        y0,
        world.lsoa_sd[lsoa],
        rng,
        fallback=(x0, y0),
        avoid=(world.centre_x, world.centre_y, _DOMESTIC_CLEARANCE_M),
    )


# --------------------------------------------------------------------------------------------
# Times


def _season(days: pd.DatetimeIndex) -> np.ndarray:
    doy = days.day_of_year.to_numpy()
    return 1.0 + _SEASON_AMPLITUDE * np.cos(2 * np.pi * (doy - _SEASON_PEAK_DOY) / 365.25)


def _term_time(days: pd.DatetimeIndex) -> np.ndarray:
    """Roughly English school terms: out for summer, Christmas, Easter and half-terms."""
    month, day = days.month.to_numpy(), days.day.to_numpy()
    holiday = (
        ((month == 7) & (day >= 22))
        | (month == 8)
        | ((month == 12) & (day >= 20))
        | ((month == 1) & (day <= 3))
        | ((month == 4) & (day <= 14))  # Easter, near enough
        | ((month == 10) & (day >= 24))
        | ((month == 2) & (day >= 13) & (day <= 19))
        | ((month == 5) & (day >= 27))
    )
    return ~holiday


def _hour_table(rates: dict[int, float] | tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    table = rates if isinstance(rates, dict) else dict(enumerate(rates))
    hours = np.fromiter(table.keys(), dtype=np.int64)
    weights = np.fromiter(table.values(), dtype=np.float64)
    return hours, weights / weights.sum()


def _draw_times(
    kind: str, k: int, days: pd.DatetimeIndex, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Day index (into ``days``) and minute of the day, UK local clock time."""
    dow = days.day_of_week.to_numpy()
    season = _season(days)
    if kind == "nte":
        night = np.array([_NTE_NIGHTS.get(int(d), 0.0) for d in dow])
        night[-1] = 0.0  # its small hours would fall after the period
        # Nights out rise in summer less sharply than street violence does.
        w = night * (1.0 + 0.5 * (season - 1.0))
        hours, hw = _hour_table(_HOURS_NTE)
    elif kind == "after_school":
        w = ((dow < 5) & _term_time(days)).astype(float) * season
        hours, hw = _hour_table(_HOURS_AFTER_SCHOOL)
    elif kind == "domestic":
        w = np.asarray(_DOW_DOMESTIC)[dow] * (1.0 + 0.5 * (season - 1.0))
        hours, hw = _hour_table(_HOURS_DOMESTIC)
    else:
        w = np.asarray(_DOW_BACKGROUND)[dow] * season
        hours, hw = _hour_table(_HOURS_BACKGROUND)
    day = rng.choice(len(days), size=k, p=w / w.sum())
    hour = hours[rng.choice(len(hours), size=k, p=hw)]
    if kind == "nte":
        # Hours after midnight belong to the night before: they happen the next morning.
        day = day + (hour < 12)
    minute = hour * 60 + rng.integers(0, 60, k)
    return day, minute


def _draw_under_reported(
    k: int, days: pd.DatetimeIndex, world: _World, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arrival times (``datetime64[m]``) and points (BNG) of the planted attendances."""
    dow = days.day_of_week.to_numpy()
    w = np.isin(dow, _UNDER_REPORTED_NIGHTS).astype(float)
    w[-1] = 0.0  # its small hours would fall after the period
    hours, hw = _hour_table(_HOURS_UNDER_REPORTED)
    day = rng.choice(len(days), size=k, p=w / w.sum())
    hour = hours[rng.choice(len(hours), size=k, p=hw)]
    day = day + (hour < 12)
    minute = _skip_spring_forward(days[day], hour * 60 + rng.integers(0, 60, k))
    when = (days[day] + pd.to_timedelta(minute, unit="min")).to_numpy(dtype="datetime64[m]")
    lon, lat = next(iter(UNDER_REPORTED.values()))
    cx, cy = to_bng(np.full(k, lon), np.full(k, lat))
    x, y = _inside(world.boundaries, cx, cy, np.full(k, _UNDER_REPORTED_SD_M), rng,
                   fallback=(cx, cy))
    return when, x, y


# --------------------------------------------------------------------------------------------
# Assembly


def _finish(
    events: pd.DataFrame, days: pd.DatetimeIndex, rng: np.random.Generator
) -> tuple[pd.DataFrame, np.ndarray]:
    """Return the rows sorted by time, and the order that sorted them."""
    k = len(events)
    cat = events["category"].to_numpy()
    u = rng.random(k)
    p_ed = np.asarray(_P_ED)[cat]
    p_amb = np.asarray(_P_AMBULANCE)[cat]
    source = np.where(u < p_ed, "ed", np.where(u < p_ed + p_amb, "ambulance", "police"))
    domestic = np.where(
        source == "police", np.where(events["domestic"].to_numpy(), "true", "false"), ""
    )

    date = days[events["day"].to_numpy()]
    minute = events["minute"].to_numpy()
    minute = _skip_spring_forward(date, minute)
    stamp = date + pd.to_timedelta(minute, unit="min")
    lon, lat = to_wgs84(events["x"].to_numpy(), events["y"].to_numpy())

    order = np.argsort(stamp.to_numpy(), kind="stable")
    out = pd.DataFrame(
        {
            "incident_id": [f"SYN-{i:06d}" for i in range(1, k + 1)],
            "occurred_at": stamp[order].strftime("%Y-%m-%d %H:%M"),
            "longitude": np.round(lon[order], 6),
            "latitude": np.round(lat[order], 6),
            "category": np.asarray(CATEGORIES, dtype=object)[cat[order]],
            "source": source[order],
            "domestic": domestic[order],
        }
    )
    text = [c for c in SAMPLE_COLUMNS if c not in ("longitude", "latitude")]
    return out.astype(dict.fromkeys(text, "str")), order


def _skip_spring_forward(date: pd.DatetimeIndex, minute: np.ndarray) -> np.ndarray:
    """Move times in the hour the clocks skip (01:00–01:59 on the last Sunday of March)."""
    last_sunday_march = np.asarray(
        (date.month == 3) & (date.day_of_week == 6) & (date.day > 31 - 7)
    )
    skipped = last_sunday_march & (minute >= 60) & (minute < 120)
    return np.where(skipped, minute + 60, minute)
