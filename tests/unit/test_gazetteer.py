"""Importing a gazetteer: OS Open Names files and plain CSVs, every row accounted for."""

from __future__ import annotations

import gzip
import zipfile

import numpy as np
import pytest

from geo.boundaries import load_boundaries
from geo.gazetteer import (
    GAZETTEER_FILE,
    OS_OPEN_NAMES_COLUMNS,
    GazetteerColumns,
    GazetteerError,
    import_gazetteer,
    load_gazetteer,
    remove_gazetteer,
)

#: Blackpool town centre, British National Grid metres (EPSG:27700).
E0, N0 = 330_950, 436_350


def os_row(n: int, name: str, kind: str, local: str, x: float, y: float,
           place: str = "Blackpool") -> str:
    """One line of an OS Open Names CSV (no header; 34 columns; BNG metres)."""
    fields = dict.fromkeys(OS_OPEN_NAMES_COLUMNS, "")
    fields.update({"ID": f"osgb40000000{n:08d}",
                   "NAMES_URI": f"http://data.ordnancesurvey.co.uk/id/40000000{n:08d}",
                   "NAME1": name, "TYPE": kind, "LOCAL_TYPE": local,
                   "GEOMETRY_X": f"{x:.0f}", "GEOMETRY_Y": f"{y:.0f}",
                   "MOST_DETAIL_VIEW_RES": "1000", "LEAST_DETAIL_VIEW_RES": "25000",
                   "POSTCODE_DISTRICT": "FY1", "POPULATED_PLACE": place,
                   "DISTRICT_BOROUGH": "Blackpool", "COUNTY_UNITARY": "Blackpool",
                   "REGION": "North West", "COUNTRY": "England"})
    return ",".join(f'"{v}"' if "," in v else v for v in fields.values())


def os_file(path, extra: list[str] = ()) -> None:
    lines = [
        os_row(1, "Talbot Road", "transportNetwork", "Named Road", E0 - 60, N0 + 20),
        os_row(2, "Topping Street", "transportNetwork", "Named Road", E0 + 400, N0),
        os_row(3, "A584", "transportNetwork", "Numbered Road", E0 - 500, N0 + 100),
        os_row(4, "Promenade", "transportNetwork", "Section Of Named Road", E0 - 700, N0),
        os_row(5, "Blackpool", "populatedPlace", "Town", E0 + 500, N0 - 300, ""),
        os_row(6, "Layton", "populatedPlace", "Suburban Area", E0 + 2500, N0 + 1200),
        os_row(7, "Blackpool North", "transportNetwork", "Railway Station", E0 + 300, N0 + 400),
        os_row(8, "River Wyre", "hydrography", "River", E0 + 6000, N0 + 6000),
        os_row(9, "Preston Road", "transportNetwork", "Named Road", 353_700, 429_500, "Preston"),
        # London: far beyond the Lancashire boundaries in use
        os_row(10, "Whitehall", "transportNetwork", "Named Road", 530_100, 179_900, "London"),
        os_row(1, "Talbot Road", "transportNetwork", "Named Road", E0 - 60, N0 + 20),
        *extra,
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def lancashire():
    return load_boundaries(None)


def test_os_open_names_layout_is_read_without_a_header(tmp_path, lancashire):
    src = tmp_path / "SD33.csv"
    os_file(src, [os_row(11, "", "transportNetwork", "Named Road", E0, N0),
                  "osgb1,uri,Bad Row,,,,transportNetwork,Named Road,1,2",
                  os_row(12, "Nowhere Lane", "transportNetwork", "Named Road", 0, 0)
                  .replace(",0,0,", ",east,0,", 1)])
    folder = tmp_path / "gazetteer"
    summary = import_gazetteer([src], folder, boundaries=lancashire)
    assert summary.layouts == ["OS Open Names"] and summary.crs == "EPSG:27700"
    assert summary.read == 14
    assert (summary.streets, summary.localities) == (5, 2)
    assert summary.read == summary.streets + summary.localities + summary.rejected
    assert summary.rejected_by_reason == {
        "neither a street nor a locality": 2,
        "more than 5 km beyond the boundaries in use": 1,
        "the same name, type and point as an earlier row": 1,
        "no name": 1,
        "the wrong number of fields": 1,
        "coordinates are not numbers": 1,
    }
    rejects = (folder / "rejects.csv").read_text(encoding="utf-8")
    assert "neither a street nor a locality: hydrography, River" in rejects
    assert "neither a street nor a locality: transportNetwork, Railway Station" in rejects
    assert ",10,more than 5 km beyond" in rejects  # the file and its line number
    gaz = load_gazetteer(folder)
    assert sorted(gaz.streets["name"]) == ["A584", "Preston Road", "Promenade", "Talbot Road",
                                           "Topping Street"]
    assert sorted(gaz.localities["name"]) == ["Blackpool", "Layton"]
    streets, places = gaz.nearest(np.array([E0 - 20.0, E0 + 2400, 360_000]),
                                  np.array([N0, N0 + 1200, 420_000]))
    assert streets == ["Talbot Road", "", ""]
    assert places == ["Blackpool", "Layton", ""]
    assert "SD33.csv" in gaz.describe()
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == [".lock"]


def test_a_street_without_a_locality_in_reach_takes_its_own(tmp_path):
    src = tmp_path / "roads.csv"
    src.write_text(os_row(1, "Preston Road", "transportNetwork", "Named Road", 353_700,
                          429_500, "Preston") + "\n", encoding="utf-8")
    import_gazetteer([src], tmp_path / "g")
    assert load_gazetteer(tmp_path / "g").nearest(np.array([353_750.0]),
                                                  np.array([429_450.0])) == (
        ["Preston Road"], ["Preston"])


def test_the_os_header_row_zip_and_gzip_are_read(tmp_path):
    header = ",".join(OS_OPEN_NAMES_COLUMNS)
    plain = tmp_path / "SD33.csv"
    os_file(plain)
    archive = tmp_path / "opname_csv_gb.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("Doc/OS_Open_Names_Header.csv", header + "\n")
        zf.writestr("Data/SD33.csv", plain.read_text(encoding="utf-8"))
        zf.writestr("Data/SD34.csv", header + "\n" + os_row(
            20, "Dickson Road", "transportNetwork", "Named Road", E0 + 100, N0 + 900) + "\n")
    summary = import_gazetteer([archive], tmp_path / "g")
    assert summary.layouts == ["OS Open Names", "OS Open Names"]
    assert summary.streets == 7  # no boundaries given: London and Preston kept
    packed = tmp_path / "SD33.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    again = import_gazetteer([packed], tmp_path / "g")
    assert (again.streets, again.kept_streets) == (6, 6)  # replaced, not added


def test_add_keeps_what_was_imported_and_skips_repeats(tmp_path, lancashire):
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    os_file(first)
    second.write_text(os_row(30, "Dickson Road", "transportNetwork", "Named Road", E0 + 100,
                             N0 + 900) + "\n" + os_row(1, "Talbot Road", "transportNetwork",
                                                       "Named Road", E0 - 60, N0 + 20) + "\n",
                      encoding="utf-8")
    folder = tmp_path / "g"
    import_gazetteer([first], folder, boundaries=lancashire)
    summary = import_gazetteer([second], folder, boundaries=lancashire, add=True)
    assert summary.streets == 1
    assert summary.rejected_by_reason == {"the same name, type and point as an earlier row": 1}
    assert (summary.kept_streets, summary.kept_localities) == (6, 2)
    assert len(load_gazetteer(folder).sources) == 2


def test_a_plain_csv_with_longitude_and_latitude(tmp_path):
    src = tmp_path / "places.csv"
    src.write_text("name,type,longitude,latitude\n"
                   "Talbot Road,Street,-3.0516,53.8195\n"
                   "Blackpool,Town,-3.0500,53.8170\n"
                   "Blackpool Tower,Landmark,-3.0553,53.8159\n"
                   "Nowhere,Street,-200,53.8\n", encoding="utf-8")
    summary = import_gazetteer([src], tmp_path / "g")
    assert summary.layouts == ["CSV"] and summary.crs == "EPSG:4326"
    assert (summary.streets, summary.localities, summary.rejected) == (1, 1, 2)
    assert set(summary.rejected_by_reason) == {
        "neither a street nor a locality",
        "coordinates are not in Great Britain (read as EPSG:4326)"}
    gaz = load_gazetteer(tmp_path / "g")
    from pyproj import Transformer

    expected = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True).transform(
        -3.0516, 53.8195)
    np.testing.assert_allclose(gaz.streets.loc[0, ["easting", "northing"]].to_numpy(float),
                               expected, atol=0.01)


def test_named_columns_and_a_crs(tmp_path):
    src = tmp_path / "streets.csv"
    src.write_text("STREET_NAME;ROAD_CLASS;E;N\n", encoding="utf-8")
    with pytest.raises(GazetteerError, match="no column for the name"):
        import_gazetteer([src], tmp_path / "g")
    src.write_text("nom,genre,x_m,y_m\nRue A,road,330900,436400\n", encoding="utf-8")
    cols = GazetteerColumns(name="nom", type="genre", x="x_m", y="y_m", crs="EPSG:27700")
    assert import_gazetteer([src], tmp_path / "g", columns=cols).streets == 1
    with pytest.raises(GazetteerError, match="no column 'street' for the name"):
        import_gazetteer([src], tmp_path / "g", columns=GazetteerColumns(name="street"))


def test_the_size_limit_rejects_rows_beyond_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HOTSPOT_MAX_GAZETTEER_ROWS", "3")
    src = tmp_path / "SD33.csv"
    os_file(src)
    summary = import_gazetteer([src], tmp_path / "g")
    assert summary.kept_streets + summary.kept_localities == 3
    assert summary.rejected_by_reason[
        "beyond the gazetteer's size limit (HOTSPOT_MAX_GAZETTEER_ROWS)"] == 5


def test_a_file_with_nothing_usable_leaves_the_gazetteer_as_it_was(tmp_path):
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    os_file(good)
    folder = tmp_path / "g"
    import_gazetteer([good], folder)
    before = (folder / GAZETTEER_FILE).read_bytes()
    bad.write_text(os_row(1, "River Wyre", "hydrography", "River", E0, N0) + "\n",
                   encoding="utf-8")
    with pytest.raises(GazetteerError, match="no street or locality could be used.*1 neither"):
        import_gazetteer([bad], folder)
    assert (folder / GAZETTEER_FILE).read_bytes() == before
    with pytest.raises(GazetteerError, match="no such file"):
        import_gazetteer([tmp_path / "missing.csv"], folder)
    assert remove_gazetteer(folder) and load_gazetteer(folder) is None
    assert not remove_gazetteer(folder)
