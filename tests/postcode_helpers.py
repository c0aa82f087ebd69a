"""Writing postcode directory files in their published layouts, for the postcode tests.

Every postcode, coordinate and area code these helpers are given by a test is MADE UP (shaped
like the real thing, placed plausibly); none is copied from the ONS Postcode Directory or
Code-Point Open.

The ONSPD layout is the one of the 2024 releases: a header row of 52 lower-case column names,
text values in double quotes, numbers bare, ``osnrth1m`` zero-padded to 7 digits, and for a
postcode with no grid reference blank ``oseast1m``/``osnrth1m``, ``osgrdind`` 9 and
``lat``/``long`` 99.999999/0.000000. ``pcd`` is the 7-character form (``"M1  5JG"``), ``pcd2``
the 8-character form (``"M1   5JG"``), ``pcds`` the form with one space. (Releases before
2024 had ``bua11,buasd11`` where this has ``bua24``; the reader takes columns by name.)
"""

from __future__ import annotations

from pathlib import Path

from geo.projection import to_wgs84

ONSPD_HEADER = (
    "pcd,pcd2,pcds,dointr,doterm,oscty,ced,oslaua,osward,parish,usertype,oseast1m,osnrth1m,"
    "osgrdind,oshlthau,nhser,ctry,rgn,streg,pcon,eer,teclec,ttwa,pct,itl,statsward,oa01,"
    "casward,npark,lsoa01,msoa01,ur01ind,oac01,oa11,lsoa11,msoa11,wz11,sicbl,bua24,ru11ind,"
    "oac11,lat,long,lep1,lep2,pfa,imd,calncv,icb,oa21,lsoa21,msoa21"
)
ONSPD_COLUMNS = tuple(ONSPD_HEADER.split(","))
#: Columns written without quotes, as the published file does.
_BARE = frozenset({"oseast1m", "osnrth1m", "osgrdind", "lat", "long", "imd"})


def pcd7(pcds: str) -> str:
    """The 7-character ``pcd`` form: 'M1 5JG' -> 'M1  5JG', 'SW1A 1AA' -> 'SW1A1AA'."""
    out, inward = pcds.split(" ")
    return f"{out:<4}{inward}"


def pcd8(pcds: str) -> str:
    """The 8-character ``pcd2`` form: 'M1 5JG' -> 'M1   5JG'."""
    out, inward = pcds.split(" ")
    return f"{out:<4} {inward}"


def onspd_row(pcds: str, east: int | None, north: int | None, *, lsoa21: str = "",
              lsoa11: str = "", doterm: str = "", dointr: str = "198001",
              grid: int | None = None, lad: str = "E08000003") -> str:
    """One data line of the ONSPD CSV (made-up values; see the module docstring)."""
    if east is None or north is None:
        lat, lon, grid_ind = "99.999999", "0.000000", 9 if grid is None else grid
    else:
        lon_v, lat_v = to_wgs84([float(east)], [float(north)])
        lat, lon = f"{lat_v[0]:.6f}", f"{lon_v[0]:.6f}"
        grid_ind = 1 if grid is None else grid
    values = dict.fromkeys(ONSPD_COLUMNS, "")
    country = "N92000002" if pcds.startswith("BT") else (
        "W92000004" if lsoa21.startswith("W") else "E92000001")
    values.update({
        "pcd": pcd7(pcds), "pcd2": pcd8(pcds), "pcds": pcds, "dointr": dointr,
        "doterm": doterm, "oscty": "E99999999", "ced": "E99999999", "oslaua": lad,
        "osward": "E05011362", "parish": "E43000157", "usertype": "0",
        "oseast1m": "" if east is None else str(east),
        "osnrth1m": "" if north is None else f"{north:07d}",
        "osgrdind": str(grid_ind), "oshlthau": "E18000002", "nhser": "E40000010",
        "ctry": country, "rgn": "E12000002", "streg": "0", "pcon": "E14000807",
        "eer": "E15000002", "teclec": "E24000035", "ttwa": "E30000239", "pct": "E16000120",
        "itl": "E06000068", "statsward": "00BNGD", "oa01": "E00025976",
        "casward": "00BNGD", "npark": "E65000001", "lsoa01": lsoa11, "msoa01": "E02001067",
        "ur01ind": "A", "oac01": "3C2", "oa11": "E00025976", "lsoa11": lsoa11,
        "msoa11": "E02001067", "wz11": "E33002716", "sicbl": "E38000217",
        "bua24": "E63008401", "ru11ind": "A1", "oac11": "2B1", "lat": lat, "long": lon,
        "lep1": "E37000015", "lep2": "", "pfa": "E23000005", "imd": "1234",
        "calncv": "E56000011", "icb": "E54000057", "oa21": "E00025976", "lsoa21": lsoa21,
        "msoa21": "E02001067",
    })
    return ",".join(v if k in _BARE else f'"{v}"' for k, v in values.items())


def onspd_text(rows: list[str], *, header: str = ONSPD_HEADER) -> str:
    """A whole ONSPD CSV: the header line then the rows, each line ending CRLF as published."""
    return "\r\n".join([header, *rows]) + "\r\n"


def write_onspd(path: Path, rows: list[str], *, header: str = ONSPD_HEADER) -> Path:
    path.write_bytes(onspd_text(rows, header=header).encode("ascii"))
    return path


def code_point_row(postcode: str, quality: int, east: int, north: int,
                   district: str = "E06000009") -> str:
    """One line of an OS Code-Point Open CSV (no header; 10 columns; made-up values)."""
    return (f'"{postcode}",{quality},{east},{north},"E92000001","E19000001","E18000002",'
            f'"","{district}","E05001633"')
