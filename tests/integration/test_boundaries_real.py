"""Import the real ONS local authority districts (all UK) and assign points to them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pyproj import Transformer

from geo.boundaries import assign_areas, import_boundaries

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
LAD_FILE = SHARED / "boundaries" / "Local_Authority_Districts_(December_2021)_UK_BUC.geojson"

pytestmark = pytest.mark.skipif(
    not LAD_FILE.exists(), reason=f"shared real data not found at {LAD_FILE}"
)

TO_BNG = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)


@pytest.fixture(scope="module")
def districts(tmp_path_factory: pytest.TempPathFactory):
    dest = tmp_path_factory.mktemp("data") / "boundaries"
    return import_boundaries(LAD_FILE, "LAD21CD", "LAD21NM", dest)


def test_all_374_districts_are_imported(districts) -> None:
    assert len(districts.areas) == 374
    assert districts.names()["E07000123"] == "Preston"
    assert districts.areas["code"].is_unique
    assert districts.areas.crs.to_epsg() == 4326
    assert districts.areas.geometry.is_valid.all()


@pytest.mark.parametrize(
    ("lon", "lat", "code"),
    [
        (-2.983, 53.405, "E08000012"),  # central Liverpool
        (-2.7030, 53.7590, "E07000123"),  # Preston, Fishergate
        (-0.1276, 51.5072, "E09000033"),  # Westminster, Trafalgar Square
        (-3.1791, 51.4816, "W06000015"),  # Cardiff city centre
    ],
    ids=["liverpool", "preston", "westminster", "cardiff"],
)
def test_points_are_assigned_to_their_district(districts, lon, lat, code) -> None:
    x, y = TO_BNG.transform(np.array([lon]), np.array([lat]))
    a = assign_areas(np.asarray(x), np.asarray(y), districts)
    assert a.code.tolist() == [code]
    assert a.distance_m[0] == 0.0


def test_point_in_the_north_sea_is_outside(districts) -> None:
    x, y = TO_BNG.transform(np.array([3.0]), np.array([55.0]))
    a = assign_areas(np.asarray(x), np.asarray(y), districts)
    assert a.code.tolist() == [None]
    assert a.nearest_distance_m[0] > 100_000
    assert a.outside_reasons(districts.names())[0].startswith("outside the study area: ")
