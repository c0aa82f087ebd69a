"""A request sees exactly one store version, even while an ingest commits beside it."""

from __future__ import annotations

import numpy as np
import pytest

from geo.query import Filters, QueryLayer
from geo.schema import empty_rejects
from geo.settings import DataPaths
from geo.store import Store
from tests.conftest import PRESTON_BNG, stored_table


def _table(n: int):
    e = np.full(n, PRESTON_BNG[0]) + np.arange(n)
    return stored_table(e, np.full(n, PRESTON_BNG[1]), [f"2024-06-07 2{i % 4}:00"
                                                       for i in range(n)])


class FlippingStore(Store):
    """A store whose committed version changes on every look, as during a busy ingest."""

    def __init__(self, root, tables):
        super().__init__(root)
        self.tables = tables
        self.looks = 0
        self.reads = 0

    def stamp(self):
        self.looks += 1
        return ("flip", self.looks)

    def read(self, columns=None):
        manifest, _ = super().read(columns)
        self.reads += 1
        manifest.version = self.reads
        return manifest, self.tables[self.reads % 2]


@pytest.fixture
def flipping(tmp_path):
    data = DataPaths(tmp_path)
    store = Store(data.store)
    store.commit(_table(11), source_file="a", rejects=empty_rejects(), summary={}, kind="user")
    return data, FlippingStore(data.store, [_table(11), _table(6)])


def test_area_table_takes_one_frame(flipping):
    data, store = flipping
    from geo.boundaries import load_boundaries

    query = QueryLayer(store, load_boundaries(None))
    for _ in range(4):
        table = query.area_table(Filters())
        assert int(table["count"].sum()) in {11, 6}


def test_every_request_sees_one_version(flipping):
    from dashboard import services
    from dashboard.app import create_app

    data, store = flipping
    app = create_app(data)
    services.current().query.store = store
    client = app.server.test_client()
    for path in ("/api/v1/aggregate?level=la", "/api/v1/aggregate?level=h3&res=9",
                 "/api/v1/hotspots?n=3"):
        for _ in range(3):
            resp = client.get(path)
            assert resp.status_code == 200, resp.get_json()


def test_pinned_frame_survives_a_commit(tmp_path):
    from geo.boundaries import load_boundaries

    from .access_helpers import principal

    store = Store(tmp_path / "store")
    store.commit(_table(5), source_file="a", rejects=empty_rejects(), summary={}, kind="user")
    query = QueryLayer(store, load_boundaries(None))
    with query.pinned(principal()):
        fr = query.frame()
        more = _table(3).set_column(0, "incident_id", [["X1", "X2", "X3"]])
        store.commit(more, source_file="b", rejects=empty_rejects(), summary={}, kind="user")
        assert query.frame() is fr and query.select(Filters()).count == 5
    assert query.select(Filters()).count == 8


def test_zones_saved_during_a_request_do_not_tear_it(tmp_path, monkeypatch):
    """The zone file changing between two reads of one request (a colleague saving a zone)
    must not mix two sets of zones in one answer."""
    import shapely

    from dashboard import services
    from dashboard.app import create_app
    from geo.ingest import load_sample
    from geo.zones import add_zone, load_zones

    data = DataPaths(tmp_path)
    load_sample(data, n=2000, seed=5)
    box = shapely.geometry.mapping(shapely.box(-2.708, 53.755, -2.69, 53.765))
    add_zone(data.zones, box, "First")
    one = load_zones(data.zones)
    add_zone(data.zones, shapely.geometry.mapping(shapely.box(-3.06, 53.81, -3.04, 53.83)),
             "Second")
    two = load_zones(data.zones)
    app = create_app(data)
    svc = services.current()
    looks = iter(range(10_000))

    def flipping_zones():
        i = next(looks)
        return (("flip", i), one if i % 2 else two)

    monkeypatch.setattr(svc, "_zones_now", flipping_zones)
    client = app.server.test_client()
    for path in ("/api/v1/nte/zones", "/api/v1/nte/nights", "/api/v1/nte/zones?night=20-4"):
        resp = client.get(path)
        assert resp.status_code == 200, resp.get_json()


def test_a_population_table_imported_while_serving_is_used_at_once(tmp_path):
    import geopandas as gpd
    import shapely

    from dashboard.app import create_app
    from geo.boundaries import import_boundaries, import_population
    from geo.ingest import ingest_file

    data = DataPaths(tmp_path)
    src = tmp_path / "areas.geojson"
    gpd.GeoDataFrame({"code": ["E07000123"], "name": ["Preston"]},
                     geometry=[shapely.box(-2.9, 53.6, -2.5, 53.9)], crs="EPSG:4326").to_file(src)
    import_boundaries(src, "code", "name", data.boundaries)
    csv = tmp_path / "incidents.csv"
    csv.write_text("id,dt,lon,lat,cat\n1,2024-06-07 22:00,-2.70,53.76,Robbery\n")
    from geo.readers import mapping_from_options

    ingest_file(csv, data, mapping=mapping_from_options(id="id", datetime="dt", lon="lon",
                                                        lat="lat", category="cat"))
    client = create_app(data).server.test_client()
    row = client.get("/api/v1/aggregate?level=la&group=all").get_json()["rows"][0]
    assert row["population"] is None
    pops = tmp_path / "pop.csv"
    pops.write_text("code,population,year\nE07000123,144147,2020\n")
    import_population(pops, data.boundaries)
    row = client.get("/api/v1/aggregate?level=la&group=all").get_json()["rows"][0]
    assert row["population"] == 144147 and row["rate_per_1000"] > 0
