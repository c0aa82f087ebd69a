"""The SYNTHETIC sample's hospital and ambulance files, and the made-up lookups that place them.

Nothing here is real. :mod:`geo.sample` draws the incidents; those an emergency department (ED)
or an ambulance service recorded are written here as the files those services share: an ED
file in the ISTV (Information Sharing to Tackle Violence, "Cardiff Model") layout and an
ambulance call-out file. Each record is given the ISTV fields an ED collects (when and where
the assault happened, the kind of place, the weapon, the assailants, age and sex) and the
identifier columns a real export carries (a patient name and an NHS number, both obviously
fake) so that ingesting the sample shows them being dropped.

Records are placed three ways, as real ones are: by coordinates, by postcode only, or by LSOA
code only. Postcode-only records need a postcode directory and LSOA-only ones LSOA centroids;
both are made up here from the records' own points and the bundled LSOA table, and written in
the layouts Hotspot imports (the ONS Postcode Directory CSV and the ONS LSOA population-weighted
centroid CSV). **The postcodes are not real postcodes and their centroids are not the real
ones**: the outward codes (FY1, PR1, BB1...) are real Lancashire districts, the inward codes are
drawn at random, and each sits at the centre of a 100 m grid square around the records it
places. A record is placed by postcode or LSOA only when that centroid lies in the same local
authority as the record's own point, so per-authority counts do not move.

Every random step draws from the generator :func:`geo.sample.generate_sample_files` seeded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from geo.boundaries import Boundaries, assign_areas
from geo.projection import to_bng, to_wgs84
from geo.settings import AREA_TOLERANCE_M

__all__ = [
    "AMBULANCE_COLUMNS",
    "ED_COLUMNS",
    "LSOA_CENTROID_COLUMNS",
    "NIGHT_HOURS",
    "ONSPD_COLUMNS",
    "PRECISION_SHARES",
    "HealthRecords",
    "health_files",
]

#: The ED file's columns: the ISTV minimum data set as an ED exports it, with the identifier
#: columns a real export carries (``Patient Name``, ``NHS Number``, ``Date of Birth``).
ED_COLUMNS = (
    "Attendance ID", "Arrival Date", "Arrival Time", "Patient Name", "NHS Number",
    "Date of Birth", "Age", "Sex", "Date of Assault", "Time of Assault", "Assault Location",
    "Location Type", "Weapon", "Number of Assailants", "Relationship to Assailant", "Postcode",
    "LSOA", "Latitude", "Longitude",
)  # fmt: skip
#: The ambulance file's columns.
AMBULANCE_COLUMNS = (
    "Incident ID", "Call Date", "Call Time", "Call Category", "Nature", "Location",
    "Patient Name", "Age", "Sex", "Postcode", "LSOA", "Latitude", "Longitude",
)  # fmt: skip
#: The ONS Postcode Directory (ONSPD) CSV header of the 2024 releases.
ONSPD_COLUMNS = (
    "pcd", "pcd2", "pcds", "dointr", "doterm", "oscty", "ced", "oslaua", "osward", "parish",
    "usertype", "oseast1m", "osnrth1m", "osgrdind", "oshlthau", "nhser", "ctry", "rgn",
    "streg", "pcon", "eer", "teclec", "ttwa", "pct", "itl", "statsward", "oa01", "casward",
    "npark", "lsoa01", "msoa01", "ur01ind", "oac01", "oa11", "lsoa11", "msoa11", "wz11",
    "sicbl", "bua24", "ru11ind", "oac11", "lat", "long", "lep1", "lep2", "pfa", "imd",
    "calncv", "icb", "oa21", "lsoa21", "msoa21",
)  # fmt: skip
#: The ONS LSOA (2011) population-weighted centroid CSV layout (``x``, ``y``: BNG metres).
LSOA_CENTROID_COLUMNS = ("FID", "LSOA11CD", "LSOA11NM", "x", "y")

#: Arrival (or call) hours counted as "at night": 22:00 to 05:59. With this definition about
#: 40 % of the sample's ED attendances are at night, as in the Lancashire ED snapshot (40.6 %).
NIGHT_HOURS = (22, 23, 0, 1, 2, 3, 4, 5)

#: How each record is placed: its own coordinates, its postcode only, its LSOA code only.
PRECISION_SHARES = {"point": 0.45, "postcode": 0.40, "lsoa": 0.15}
#: The planted under-reported attendances come from late bars that give a postcode or a
#: point, never only an LSOA (which would move them up to a kilometre).
_PLANTED_PRECISION = {"point": 0.55, "postcode": 0.45, "lsoa": 0.0}

_SQUARE_M = 100.0  # a postcode's centroid: the centre of this grid square around its records
#: Rows whose postcode is terminated, and rows whose postcode is not in the directory: at most
#: this many of each, about one in this many postcode-only ED rows.
_BAD_POSTCODES_MAX = 8
_BAD_POSTCODES_EVERY = 50

# --- the ISTV fields, as an ED writes them ----------------------------------------------------

_LOCATION_TYPES = ("Street/public place", "Pub/club", "Home", "School/college", "Workplace",
                   "Shop", "Public transport", "Other", "Not known")
_WEAPONS = ("Fists/feet", "Knife", "Glass/bottle", "Blunt object", "Firearm", "Other",
            "Not known")
_RELATIONSHIPS = ("Stranger", "Acquaintance", "Partner/ex-partner", "Family member", "Other",
                  "Not known")
_ASSAILANTS = ("1", "2", "3", "4", "Multiple", "Not known")
_AGE_EDGES = (0, 10, 15, 18, 25, 35, 45, 55, 65, 90)

# Each component's mix, in the orders above. "under_reported" is the planted late-night
# pattern in one town centre.
_LOCATION_MIX = {
    "background": (0.50, 0.05, 0.16, 0.02, 0.07, 0.07, 0.05, 0.05, 0.03),
    "hotspot": (0.58, 0.08, 0.06, 0.01, 0.06, 0.10, 0.06, 0.03, 0.02),
    "after_school": (0.48, 0.0, 0.06, 0.25, 0.0, 0.08, 0.10, 0.02, 0.01),
    "nte": (0.50, 0.40, 0.0, 0.0, 0.0, 0.02, 0.05, 0.02, 0.01),
    "domestic": (0.04, 0.0, 0.92, 0.0, 0.0, 0.0, 0.0, 0.02, 0.02),
    "under_reported": (0.40, 0.58, 0.0, 0.0, 0.0, 0.0, 0.02, 0.0, 0.0),
}
# Fists and feet most; a knife or sharp object 5-10 %; glass in the night-time economy.
_WEAPON_MIX = {
    "background": (0.70, 0.07, 0.03, 0.07, 0.003, 0.05, 0.077),
    "hotspot": (0.70, 0.08, 0.03, 0.06, 0.003, 0.05, 0.077),
    "after_school": (0.72, 0.09, 0.01, 0.06, 0.0, 0.05, 0.07),
    "nte": (0.66, 0.05, 0.15, 0.03, 0.0, 0.04, 0.07),
    "domestic": (0.72, 0.06, 0.02, 0.08, 0.0, 0.06, 0.06),
    "under_reported": (0.60, 0.04, 0.22, 0.04, 0.0, 0.04, 0.06),
}
_RELATIONSHIP_MIX = {
    "background": (0.50, 0.30, 0.0, 0.0, 0.06, 0.14),
    "hotspot": (0.55, 0.27, 0.0, 0.0, 0.06, 0.12),
    "after_school": (0.35, 0.52, 0.0, 0.0, 0.03, 0.10),
    "nte": (0.66, 0.18, 0.0, 0.0, 0.06, 0.10),
    "domestic": (0.0, 0.0, 0.68, 0.30, 0.0, 0.02),
    "under_reported": (0.70, 0.18, 0.0, 0.0, 0.04, 0.08),
}
_ASSAILANT_MIX = {
    "background": (0.62, 0.16, 0.05, 0.02, 0.05, 0.10),
    "hotspot": (0.58, 0.18, 0.06, 0.02, 0.06, 0.10),
    "after_school": (0.45, 0.22, 0.10, 0.04, 0.11, 0.08),
    "nte": (0.50, 0.20, 0.08, 0.03, 0.09, 0.10),
    "domestic": (0.92, 0.04, 0.0, 0.0, 0.0, 0.04),
    "under_reported": (0.50, 0.20, 0.08, 0.03, 0.09, 0.10),
}
# Age bands (_AGE_EDGES): skewed young, most 15-34.
_AGE_MIX = {
    "background": (0.005, 0.03, 0.08, 0.28, 0.27, 0.17, 0.10, 0.04, 0.025),
    "hotspot": (0.005, 0.04, 0.10, 0.30, 0.26, 0.15, 0.09, 0.035, 0.02),
    "after_school": (0.01, 0.30, 0.40, 0.17, 0.06, 0.03, 0.02, 0.01, 0.0),
    "nte": (0.0, 0.0, 0.04, 0.46, 0.30, 0.12, 0.06, 0.02, 0.0),
    "domestic": (0.0, 0.01, 0.04, 0.20, 0.33, 0.23, 0.12, 0.05, 0.02),
    "under_reported": (0.0, 0.0, 0.05, 0.55, 0.28, 0.09, 0.03, 0.0, 0.0),
}
_MALE_SHARE = {"background": 0.72, "hotspot": 0.74, "after_school": 0.68, "nte": 0.80,
               "domestic": 0.22, "under_reported": 0.82}
_SEX_UNKNOWN = 0.015
#: How an ED gives age: age in years only, both, date of birth only, neither.
_AGE_GIVEN = (0.55, 0.25, 0.15, 0.05)
_ASSAULT_TIME_BLANK = 0.20
#: Minutes from the assault to arrival: log-normal, median 40, clipped to 5 min - 3 h.
_DELAY_MEDIAN_MIN = 40.0
_DELAY_SIGMA = 0.7
_DELAY_RANGE_MIN = (5, 180)
_LOCATION_TEXT_BLANK = 0.08

_CALL_CATEGORIES = ("Category 1", "Category 2", "Category 3", "Category 4")
_CALL_MIX = (0.06, 0.56, 0.30, 0.08)
_STAB_CALL_MIX = (0.70, 0.30, 0.0, 0.0)
_NATURES = ("Assault", "Stab/gunshot", "Sexual assault", "Assault - head injury")
_NATURE_MIX = (0.76, 0.07, 0.03, 0.14)

_PLACE_PHRASES = {
    "Street/public place": ("Street", "Outside a takeaway", "Town centre street", "Park",
                            "Car park", "Alleyway", "Bus stop"),
    "Pub/club": ("Outside a bar", "Inside a pub", "Nightclub", "Smoking area of a club",
                 "Beer garden", "Queue outside a club"),
    "School/college": ("School grounds", "Outside the school gates", "College entrance"),
    "Workplace": ("At work", "Warehouse", "Office"),
    "Shop": ("Inside a shop", "Supermarket", "Takeaway", "Petrol station"),
    "Public transport": ("Taxi rank", "Train station", "Bus station", "On a bus"),
    "Other": ("Hospital grounds", "Leisure centre", "Other"),
}
#: Street names common to most English towns, one per 250 m square: not the street there.
_STREETS = ("High Street", "Market Street", "Church Street", "Station Road", "King Street",
            "Victoria Road", "Queen Street", "Bridge Street", "Park Road", "Chapel Street",
            "Mill Lane", "New Road", "Water Street", "Albert Road", "North Road", "Union Street")
_STREET_SQUARE_M = 250.0
#: The main town of each authority, for the location text.
_TOWNS = {
    "E06000008": "Blackburn", "E06000009": "Blackpool", "E07000117": "Burnley",
    "E07000118": "Chorley", "E07000119": "Lytham St Annes", "E07000120": "Accrington",
    "E07000121": "Lancaster", "E07000122": "Nelson", "E07000123": "Preston",
    "E07000124": "Clitheroe", "E07000125": "Rawtenstall", "E07000126": "Leyland",
    "E07000127": "Ormskirk", "E07000128": "Fleetwood",
}
#: Real postcode districts (outward codes) of each authority with a rough middle (lon, lat);
#: a made-up postcode takes the nearest district of its authority. Inward codes are made up.
_OUTWARD = {
    "E06000008": (("BB1", -2.470, 53.755), ("BB2", -2.505, 53.735), ("BB3", -2.465, 53.695)),
    "E06000009": (("FY1", -3.050, 53.815), ("FY2", -3.040, 53.845), ("FY3", -3.020, 53.820),
                  ("FY4", -3.030, 53.785)),
    "E07000117": (("BB10", -2.220, 53.800), ("BB11", -2.250, 53.780),
                  ("BB12", -2.280, 53.800)),
    "E07000118": (("PR6", -2.610, 53.665), ("PR7", -2.640, 53.640)),
    "E07000119": (("FY8", -3.010, 53.750), ("PR4", -2.870, 53.775)),
    "E07000120": (("BB5", -2.370, 53.755),),
    "E07000121": (("LA1", -2.800, 54.045), ("LA2", -2.650, 54.060), ("LA3", -2.880, 54.065),
                  ("LA4", -2.850, 54.075), ("LA5", -2.770, 54.170)),
    "E07000122": (("BB8", -2.170, 53.855), ("BB9", -2.215, 53.835), ("BB18", -2.155, 53.910)),
    "E07000123": (("PR1", -2.700, 53.760), ("PR2", -2.710, 53.785), ("PR3", -2.680, 53.840)),
    "E07000124": (("BB7", -2.390, 53.870), ("BB6", -2.450, 53.800), ("PR3", -2.590, 53.840)),
    "E07000125": (("BB4", -2.280, 53.700), ("OL13", -2.200, 53.700)),
    "E07000126": (("PR5", -2.660, 53.730), ("PR25", -2.700, 53.690),
                  ("PR26", -2.760, 53.700)),
    "E07000127": (("L39", -2.890, 53.565), ("L40", -2.840, 53.620), ("WN8", -2.780, 53.550)),
    "E07000128": (("FY5", -3.020, 53.875), ("FY6", -2.970, 53.855), ("FY7", -3.010, 53.920),
                  ("PR3", -2.780, 53.900)),
}
#: Letters of a real inward code (never C, I, K, M, O or V); 10 digits x 20 x 20 = 4,000
#: inward codes per district.
_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
_POSTCODE_NO_SPACE = 0.03  # share of postcodes an ED types without the space


@dataclass(frozen=True)
class HealthRecords:
    """The incidents an ED or an ambulance service recorded, one per row, sorted by time.

    ``when`` is the arrival (call) time, UK local clock, as ``datetime64[m]``; ``x``/``y`` the
    true point in British National Grid metres and ``lon``/``lat`` the same in WGS84 (6
    decimals, as a record with coordinates gives it); ``kind`` the component it was drawn from
    (``"nte"``, ``"domestic"``, ... or ``"under_reported"`` for the planted pattern).
    """

    ids: np.ndarray
    source: np.ndarray
    kind: np.ndarray
    when: np.ndarray
    x: np.ndarray
    y: np.ndarray
    lon: np.ndarray
    lat: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


def _choose(rng: np.random.Generator, labels: tuple[str, ...], probs: tuple[float, ...],
            k: int) -> np.ndarray:
    p = np.asarray(probs, dtype="float64")
    return np.asarray(labels, dtype=object)[rng.choice(len(labels), size=k, p=p / p.sum())]


def _by_kind(rng: np.random.Generator, kind: np.ndarray, labels: tuple[str, ...],
             mix: Mapping[str, tuple[float, ...]]) -> np.ndarray:
    """One label per row from its component's mix (components in a fixed order)."""
    out = np.full(len(kind), "", dtype=object)
    for name, probs in mix.items():
        rows = np.flatnonzero(kind == name)
        if rows.size:
            out[rows] = _choose(rng, labels, probs, rows.size)
    return out


def _ddmmyyyy(days: np.ndarray) -> np.ndarray:
    return pd.DatetimeIndex(days).strftime("%d/%m/%Y").to_numpy(dtype=object)


def _hhmm(when: np.ndarray) -> np.ndarray:
    return pd.DatetimeIndex(when).strftime("%H:%M").to_numpy(dtype=object)


def _skip_spring_forward(when: np.ndarray) -> np.ndarray:
    """Move clock times in the hour the clocks skip back by an hour (they never happened)."""
    t = pd.DatetimeIndex(when)
    skipped = np.asarray((t.month == 3) & (t.day_of_week == 6) & (t.day > 24) & (t.hour == 1))
    return np.where(skipped, when - np.timedelta64(60, "m"), when)


def _ages(rng: np.random.Generator, kind: np.ndarray) -> np.ndarray:
    bands = np.zeros(len(kind), dtype=np.int64)
    for name, probs in _AGE_MIX.items():
        rows = np.flatnonzero(kind == name)
        if rows.size:
            p = np.asarray(probs)
            bands[rows] = rng.choice(len(probs), size=rows.size, p=p / p.sum())
    lo = np.asarray(_AGE_EDGES[:-1])[bands]
    hi = np.asarray(_AGE_EDGES[1:])[bands]
    return rng.integers(lo, hi)


def _birth_dates(rng: np.random.Generator, arrival: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Return a date of birth making each patient ``age`` whole years old on arrival."""
    day = pd.DatetimeIndex(arrival.astype("datetime64[D]"))
    year = day.year.to_numpy() - age
    month, dom = day.month.to_numpy(), day.day.to_numpy()
    dom = np.where((month == 2) & (dom == 29), 28, dom)  # 29 February in a common year
    birthday = pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": dom}))
    # 1-364 days before the birthday that made them ``age``: not yet age + 1 on arrival.
    back = rng.integers(1, 365, len(age)).astype("timedelta64[D]")
    return birthday.to_numpy(dtype="datetime64[D]") - back


def _sexes(rng: np.random.Generator, kind: np.ndarray) -> np.ndarray:
    male = np.asarray([_MALE_SHARE.get(k, 0.72) for k in kind.tolist()])
    u = rng.random(len(kind))
    sex = np.where(u < male, "Male", "Female").astype(object)
    sex[rng.random(len(kind)) < _SEX_UNKNOWN] = ""
    return sex


def _location_text(rng: np.random.Generator, loc_type: np.ndarray, la: np.ndarray,
                   x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """'King Street, outside a bar, Blackburn'; 'Home address' at a home; some left blank.

    The street is made up but fixed for each 250 m grid square, so records at one place name
    the same street, as real ones do. It comes first because Hotspot names a place from the
    first part of its incidents' location text (:func:`geo.names.clean_location`).
    """
    n = len(loc_type)
    square = (np.floor(x / _STREET_SQUARE_M).astype(np.int64) * 73_856_093
              ^ np.floor(y / _STREET_SQUARE_M).astype(np.int64) * 19_349_663)
    street = np.asarray(_STREETS, dtype=object)[square % len(_STREETS)]
    town = np.asarray([_TOWNS.get(str(c), "") for c in la.tolist()], dtype=object)
    phrase = np.full(n, "", dtype=object)
    for label, options in _PLACE_PHRASES.items():
        rows = np.flatnonzero(loc_type == label)
        if rows.size:
            phrase[rows] = np.asarray(options, dtype=object)[
                rng.integers(0, len(options), rows.size)]
    detail = np.asarray([p[:1].lower() + p[1:] for p in phrase.tolist()], dtype=object)
    text = np.where(phrase == "Street", street + ", " + town,
                    street + ", " + detail + ", " + town)
    text = np.where(loc_type == "Home", "Home address", text)
    text = np.where((loc_type == "Not known") | (loc_type == "")
                    | (rng.random(n) < _LOCATION_TEXT_BLANK), "", text)
    return text.astype(object)


def _ed_fields(rng: np.random.Generator, rec: HealthRecords, la: np.ndarray
               ) -> dict[str, np.ndarray]:
    """Draw the ISTV fields and the fake identifiers of the ED rows."""
    n = len(rec)
    kind = rec.kind
    loc_type = _by_kind(rng, kind, _LOCATION_TYPES, _LOCATION_MIX)
    weapon = _by_kind(rng, kind, _WEAPONS, _WEAPON_MIX)
    relationship = _by_kind(rng, kind, _RELATIONSHIPS, _RELATIONSHIP_MIX)
    assailants = _by_kind(rng, kind, _ASSAILANTS, _ASSAILANT_MIX)
    age = _ages(rng, kind)
    dob = _ddmmyyyy(_birth_dates(rng, rec.when, age))
    given = rng.choice(4, size=n, p=np.asarray(_AGE_GIVEN))
    age_text = np.where((given == 0) | (given == 1), age.astype(str), "").astype(object)
    dob_text = np.where((given == 1) | (given == 2), dob, "").astype(object)
    sex = _sexes(rng, kind)
    delay = np.clip(np.round(rng.lognormal(np.log(_DELAY_MEDIAN_MIN), _DELAY_SIGMA, n)),
                    *_DELAY_RANGE_MIN).astype("int64")
    assault = _skip_spring_forward(rec.when - delay.astype("timedelta64[m]"))
    blank = rng.random(n) < _ASSAULT_TIME_BLANK
    location = _location_text(rng, loc_type, la, rec.x, rec.y)
    number = np.arange(1, n + 1)
    return {
        "Patient Name": np.asarray([f"SYNTHETIC PATIENT {i:06d}" for i in number], dtype=object),
        # NHS numbers starting 999 are never issued (they are kept for testing).
        "NHS Number": np.asarray([f"999 {i // 10_000:03d} {i % 10_000:04d}" for i in number],
                                 dtype=object),
        "Date of Birth": dob_text,
        "Age": age_text,
        "Sex": sex,
        "Date of Assault": np.where(blank, "", _ddmmyyyy(assault)).astype(object),
        "Time of Assault": np.where(blank, "", _hhmm(assault)).astype(object),
        "Assault Location": location,
        "Location Type": np.where(loc_type == "Not known", "", loc_type).astype(object),
        "Weapon": weapon,
        "Number of Assailants": assailants,
        "Relationship to Assailant": relationship,
    }


def _ambulance_fields(rng: np.random.Generator, rec: HealthRecords, la: np.ndarray
                      ) -> dict[str, np.ndarray]:
    n = len(rec)
    nature = _choose(rng, _NATURES, _NATURE_MIX, n)
    category = _choose(rng, _CALL_CATEGORIES, _CALL_MIX, n)
    stab = np.flatnonzero(nature == "Stab/gunshot")
    if stab.size:
        category[stab] = _choose(rng, _CALL_CATEGORIES, _STAB_CALL_MIX, stab.size)
    loc_type = _by_kind(rng, rec.kind, _LOCATION_TYPES, _LOCATION_MIX)
    age = _ages(rng, rec.kind)
    age_text = np.where(rng.random(n) < 0.9, age.astype(str), "").astype(object)
    sex = _sexes(rng, rec.kind)
    return {
        "Call Category": category,
        "Nature": nature,
        "Location": _location_text(rng, loc_type, la, rec.x, rec.y),
        "Patient Name": np.asarray([f"SYNTHETIC PATIENT A{i:06d}" for i in range(1, n + 1)],
                                   dtype=object),
        "Age": age_text,
        "Sex": sex,
    }


# --- placing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Lsoas:
    """The bundled LSOAs' centroids (BNG metres, 3 decimals), those usable for placing."""

    code: np.ndarray
    name: np.ndarray
    la: np.ndarray
    x: np.ndarray
    y: np.ndarray
    usable: np.ndarray  # the centroid lies in the LSOA's own authority

    @classmethod
    def from_table(cls, lsoas: pd.DataFrame, boundaries: Boundaries) -> _Lsoas:
        x, y = to_bng(lsoas["centroid_lon"].to_numpy(), lsoas["centroid_lat"].to_numpy())
        x, y = np.round(x, 3), np.round(y, 3)
        la = lsoas["la_code"].to_numpy(dtype=object)
        found = assign_areas(x, y, boundaries, tolerance_m=AREA_TOLERANCE_M).code
        return cls(lsoas["lsoa_code"].to_numpy(dtype=object),
                   lsoas["lsoa_name"].to_numpy(dtype=object), la, x, y,
                   np.asarray(found == la, dtype=bool))

    def nearest(self, x: np.ndarray, y: np.ndarray, la: np.ndarray) -> np.ndarray:
        """Index of the nearest usable centroid in each point's own authority (-1: none)."""
        out = np.full(len(x), -1, dtype=np.int64)
        for code in sorted({str(c) for c in la.tolist() if c is not None}):
            mine = np.flatnonzero(self.usable & (self.la == code))
            rows = np.flatnonzero(la == code)
            if mine.size and rows.size:
                _, at = cKDTree(np.c_[self.x[mine], self.y[mine]]).query(np.c_[x[rows], y[rows]])
                out[rows] = mine[at]
        return out

    def table(self) -> pd.DataFrame:
        """Return the ONS population-weighted centroid CSV layout (of these centroids)."""
        return pd.DataFrame({
            "FID": np.arange(1, len(self.code) + 1).astype(str),
            "LSOA11CD": self.code, "LSOA11NM": self.name,
            "x": [f"{v:.3f}" for v in self.x], "y": [f"{v:.3f}" for v in self.y],
        })


def _area_codes(x: np.ndarray, y: np.ndarray, boundaries: Boundaries) -> np.ndarray:
    code = assign_areas(x, y, boundaries, tolerance_m=AREA_TOLERANCE_M).code
    return np.asarray([None if pd.isna(c) else str(c) for c in code], dtype=object)


def _inward_codes(rng: np.random.Generator) -> np.ndarray:
    letters = np.asarray(list(_INWARD_LETTERS), dtype=object)
    every = (np.repeat(np.arange(10).astype(str).astype(object), 400)
             + np.tile(np.repeat(letters, 20), 10) + np.tile(letters, 200))
    return every[rng.permutation(len(every))]


@dataclass
class _Directory:
    """The made-up postcodes, each at a grid square's centre."""

    postcode: list[str]
    x: list[float]
    y: list[float]
    la: list[str]
    lsoa: list[str]
    doterm: list[str]

    def table(self, rng: np.random.Generator) -> pd.DataFrame:
        n = len(self.postcode)
        x, y = np.asarray(self.x), np.asarray(self.y)
        lon, lat = to_wgs84(x, y)
        order = np.argsort(np.asarray(self.postcode, dtype=str), kind="stable")
        cols: dict[str, object] = dict.fromkeys(ONSPD_COLUMNS, "")
        pcds = np.asarray(self.postcode, dtype=object)
        outward = [p.split(" ")[0] for p in self.postcode]
        inward = [p.split(" ")[1] for p in self.postcode]
        intro = rng.integers(1980, 2016, n) * 100 + rng.integers(1, 13, n)
        cols.update({
            "pcd": [f"{o:<4}{i}" for o, i in zip(outward, inward, strict=True)],
            "pcd2": [f"{o:<4} {i}" for o, i in zip(outward, inward, strict=True)],
            "pcds": pcds, "dointr": intro.astype(str), "doterm": self.doterm,
            "oslaua": self.la, "usertype": "0",
            "oseast1m": [f"{v:.0f}" for v in x], "osnrth1m": [f"{v:07.0f}" for v in y],
            "osgrdind": "1", "ctry": "E92000001", "rgn": "E12000002",
            "lat": [f"{v:.6f}" for v in lat], "long": [f"{v:.6f}" for v in lon],
            # The bundled LSOAs are 2011 ones; most kept their codes in 2021.
            "lsoa11": self.lsoa, "lsoa21": self.lsoa,
        })
        return pd.DataFrame(cols, index=np.arange(n)).iloc[order].reset_index(drop=True)


def _postcode_text(rng: np.random.Generator, postcodes: np.ndarray) -> np.ndarray:
    squeeze = rng.random(len(postcodes)) < _POSTCODE_NO_SPACE
    return np.where(squeeze, [p.replace(" ", "") for p in postcodes.tolist()], postcodes
                    ).astype(object)


def health_files(rec: HealthRecords, lsoas: pd.DataFrame, boundaries: Boundaries,
                 rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    """Write the health records as files, with the lookups that place them.

    Parameters
    ----------
    rec : HealthRecords
        The ED attendances and ambulance call-outs, sorted by time.
    lsoas : pandas.DataFrame
        The bundled LSOA table (``lsoa_code, lsoa_name, la_code, centroid_lon, centroid_lat``).
    boundaries : Boundaries
        The local authorities records must stay in when placed by postcode or LSOA.
    rng : numpy.random.Generator
        Every draw comes from it.

    Returns
    -------
    dict of pandas.DataFrame
        ``ed`` (:data:`ED_COLUMNS`), ``ambulance`` (:data:`AMBULANCE_COLUMNS`), ``postcodes``
        (:data:`ONSPD_COLUMNS`) and ``lsoa_centroids`` (:data:`LSOA_CENTROID_COLUMNS`), every
        cell text ("" when blank).

    Examples
    --------
    >>> from geo.boundaries import load_boundaries
    >>> from geo.settings import bundled_boundaries_dir
    >>> lon, lat = np.array([-2.7030, -3.0535]), np.array([53.7590, 53.8190])
    >>> x, y = to_bng(lon, lat)
    >>> rec = HealthRecords(ids=np.array(["SYN-1", "SYN-2"], dtype=object),
    ...     source=np.array(["ed", "ambulance"], dtype=object),
    ...     kind=np.array(["nte", "nte"], dtype=object),
    ...     when=np.array(["2024-06-01T23:40", "2024-06-02T01:05"], dtype="datetime64[m]"),
    ...     x=x, y=y, lon=lon, lat=lat)
    >>> files = health_files(rec, pd.read_csv(bundled_boundaries_dir() / "lancashire_lsoas.csv"),
    ...                      load_boundaries(None), np.random.default_rng(1))
    >>> files["ed"][["Attendance ID", "Arrival Date", "Arrival Time"]].values.tolist()
    [['SYN-1', '01/06/2024', '23:40']]
    >>> files["ambulance"]["Call Time"].tolist(), len(files["lsoa_centroids"])
    (['01:05'], 941)
    """
    n = len(rec)
    la = _area_codes(rec.x, rec.y, boundaries)
    is_ed = rec.source == "ed"
    ed = _subset(rec, is_ed)
    amb = _subset(rec, ~is_ed)
    ed_fields = _ed_fields(rng, ed, la[is_ed])
    amb_fields = _ambulance_fields(rng, amb, la[~is_ed])

    # How each record is placed: drawn, then kept only where the centroid stays in the
    # record's own authority (else the record gives its coordinates).
    planted = rec.kind == "under_reported"
    p_point = np.where(planted, _PLANTED_PRECISION["point"], PRECISION_SHARES["point"])
    p_pc = np.where(planted, _PLANTED_PRECISION["postcode"], PRECISION_SHARES["postcode"])
    u = rng.random(n)
    precision = np.where(u < p_point, "point", np.where(u < p_point + p_pc, "postcode", "lsoa"))
    sq_x = np.floor(rec.x / _SQUARE_M) * _SQUARE_M + _SQUARE_M / 2
    sq_y = np.floor(rec.y / _SQUARE_M) * _SQUARE_M + _SQUARE_M / 2
    cent = _Lsoas.from_table(lsoas, boundaries)
    want_pc = precision == "postcode"
    sq_la = np.full(n, None, dtype=object)
    if want_pc.any():
        sq_la[want_pc] = _area_codes(sq_x[want_pc], sq_y[want_pc], boundaries)
    precision[want_pc & ((sq_la != la) | (la == None))] = "point"  # noqa: E711
    lsoa_at = np.full(n, -1, dtype=np.int64)
    want_lsoa = precision == "lsoa"
    if want_lsoa.any():
        lsoa_at[want_lsoa] = cent.nearest(rec.x[want_lsoa], rec.y[want_lsoa], la[want_lsoa])
    precision[want_lsoa & (lsoa_at < 0)] = "point"

    # One made-up postcode per grid square used.
    pc_rows = np.flatnonzero(precision == "postcode")
    key = np.c_[sq_x[pc_rows], sq_y[pc_rows]]
    squares, square_of = (np.unique(key, axis=0, return_inverse=True) if pc_rows.size
                          else (np.empty((0, 2)), np.empty(0, dtype=np.int64)))
    square_of = np.asarray(square_of).reshape(-1)
    square_la = _area_codes(squares[:, 0], squares[:, 1], boundaries) if len(squares) else \
        np.empty(0, dtype=object)
    square_lsoa = cent.nearest(squares[:, 0], squares[:, 1], square_la) if len(squares) else \
        np.empty(0, dtype=np.int64)
    outward = _nearest_outward(squares, square_la)
    pools = {o: list(_inward_codes(rng)) for o in sorted(set(outward.tolist())) if o}
    square_pc = np.full(len(squares), None, dtype=object)
    for i, o in enumerate(outward.tolist()):
        # None: an authority with no district listed, or a district out of inward codes
        square_pc[i] = f"{o} {pools[o].pop()}" if o and pools[o] else None
    directory = _Directory(
        postcode=[p for p in square_pc.tolist() if p is not None],
        x=[float(v) for v, p in zip(squares[:, 0], square_pc, strict=True) if p is not None],
        y=[float(v) for v, p in zip(squares[:, 1], square_pc, strict=True) if p is not None],
        la=[str(c) for c, p in zip(square_la, square_pc, strict=True) if p is not None],
        lsoa=[str(cent.code[i]) if i >= 0 else "" for i, p in
              zip(square_lsoa, square_pc, strict=True) if p is not None],
        doterm=["" for p in square_pc.tolist() if p is not None],
    )
    postcode = np.full(n, "", dtype=object)
    postcode[pc_rows] = square_pc[square_of]
    full = pc_rows[postcode[pc_rows] == None]  # noqa: E711 (an object array)
    precision[full] = "point"
    postcode[full] = ""

    # A few ED rows the sample ingest rejects, with reasons: their postcode was terminated
    # before the period, or is not in the directory at all.
    candidates = np.flatnonzero((precision == "postcode") & is_ed & ~planted)
    k = min(_BAD_POSTCODES_MAX, candidates.size // _BAD_POSTCODES_EVERY)
    bad = np.sort(rng.choice(candidates, size=2 * k, replace=False)) if k else \
        np.empty(0, dtype=np.int64)
    order = rng.permutation(bad.size)
    for j, row in enumerate(bad[order].tolist()):
        district = str(postcode[row]).split(" ")[0]
        if not pools[district]:
            continue
        fresh = f"{district} {pools[district].pop()}"
        if j < k:  # terminated: in the directory, with its end date
            directory.postcode.append(fresh)
            directory.x.append(float(sq_x[row]))
            directory.y.append(float(sq_y[row]))
            directory.la.append(str(la[row]))
            directory.lsoa.append("")
            directory.doterm.append(f"{rng.integers(2015, 2022)}{rng.integers(1, 13):02d}")
        postcode[row] = fresh

    lsoa_code = np.full(n, "", dtype=object)
    lsoa_rows = np.flatnonzero(precision == "lsoa")
    lsoa_code[lsoa_rows] = cent.code[lsoa_at[lsoa_rows]]
    point = precision == "point"
    lon_text = np.where(point, [f"{v:.6f}" for v in rec.lon], "").astype(object)
    lat_text = np.where(point, [f"{v:.6f}" for v in rec.lat], "").astype(object)
    pc_text = np.where(precision == "postcode", _postcode_text(rng, postcode), "").astype(object)
    day = rec.when.astype("datetime64[D]")
    ed_out = pd.DataFrame({
        "Attendance ID": ed.ids, "Arrival Date": _ddmmyyyy(day[is_ed]),
        "Arrival Time": _hhmm(rec.when[is_ed]), **ed_fields,
        "Postcode": pc_text[is_ed], "LSOA": lsoa_code[is_ed],
        "Latitude": lat_text[is_ed], "Longitude": lon_text[is_ed],
    })[list(ED_COLUMNS)]
    amb_out = pd.DataFrame({
        "Incident ID": amb.ids, "Call Date": _ddmmyyyy(day[~is_ed]),
        "Call Time": _hhmm(rec.when[~is_ed]), **amb_fields,
        "Postcode": pc_text[~is_ed], "LSOA": lsoa_code[~is_ed],
        "Latitude": lat_text[~is_ed], "Longitude": lon_text[~is_ed],
    })[list(AMBULANCE_COLUMNS)]
    return {
        "ed": ed_out.astype(str).reset_index(drop=True),
        "ambulance": amb_out.astype(str).reset_index(drop=True),
        "postcodes": directory.table(rng).astype(str),
        "lsoa_centroids": cent.table(),
    }


def _subset(rec: HealthRecords, mask: np.ndarray) -> HealthRecords:
    return HealthRecords(rec.ids[mask], rec.source[mask], rec.kind[mask], rec.when[mask],
                         rec.x[mask], rec.y[mask], rec.lon[mask], rec.lat[mask])


def _nearest_outward(squares: np.ndarray, la: np.ndarray) -> np.ndarray:
    out = np.full(len(squares), "", dtype=object)
    for code, districts in _OUTWARD.items():
        rows = np.flatnonzero(la == code)
        if not rows.size:
            continue
        ax, ay = to_bng(np.asarray([d[1] for d in districts]),
                        np.asarray([d[2] for d in districts]))
        d2 = (squares[rows, 0, None] - ax) ** 2 + (squares[rows, 1, None] - ay) ** 2
        out[rows] = np.asarray([d[0] for d in districts], dtype=object)[d2.argmin(axis=1)]
    return out
