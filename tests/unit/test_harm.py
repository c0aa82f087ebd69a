"""Harm weight tables: reading an analyst's CSV, rejects with line numbers, storing, lookup."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from geo.harm import (
    EQUAL,
    STORE_NAME,
    HarmWeights,
    load_harm_weights,
    load_stored_harm_weights,
    store_harm_weights,
)
from geo.schema import ReadError


def write(tmp_path: Path, text: str, name: str = "weights.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_good_file_keeps_file_spelling_and_order(tmp_path):
    path = write(tmp_path, "category,weight\nViolence with injury,200\nBurglary - Residential,"
                           "365.5\nShoplifting,0\n")
    hw, rejects = load_harm_weights(path)
    assert rejects.empty and list(rejects.columns) == ["line", "reason", "raw"]
    assert hw.weights == {"Violence with injury": 200.0, "Burglary - Residential": 365.5,
                          "Shoplifting": 0.0}
    assert hw.as_rows()[0] == {"category": "Violence with injury", "weight": 200.0}
    assert hw.source.startswith("weights.csv, loaded ")
    assert hw.default == 1.0 and not hw.is_equal


def test_every_bad_row_kind_is_rejected_with_its_line(tmp_path):
    text = (
        "category,weight,notes\n"      # 1
        "Robbery,400,\n"               # 2 ok
        ",50,no category\n"            # 3 blank category
        "Arson,high,\n"                # 4 not a number
        "Theft,-5,\n"                  # 5 negative
        "\n"                           # 6 blank line: not a row
        "  robbery ,300,\n"            # 7 duplicate of line 2
        "Criminal damage,,\n"          # 8 blank weight
        "Drugs,nan,\n"                 # 9 nan is not a number
        "Stalking\n"                   # 10 cut short
        "Public order,\"1,825\",\n"    # 11 ok: thousands separator
    )
    hw, rejects = load_harm_weights(write(tmp_path, text))
    assert hw.weights == {"Robbery": 400.0, "Public order": 1825.0}
    assert rejects[["line", "reason"]].values.tolist() == [
        [3, "category is blank"],
        [4, "weight 'high' is not a number"],
        [5, "weight -5 is negative; harm weights must be zero or more"],
        [7, "category 'robbery' is already given on line 2"],
        [8, "weight is blank"],
        [9, "weight 'nan' is not a number"],
        [10, "row has 1 field but the header has 3 (a row cut short?)"],
    ]
    assert rejects.loc[rejects["line"] == 4, "raw"].item() == "Arson,high,"
    # every data row is accounted for: 9 rows read (the blank line is not one)
    assert len(hw.weights) + len(rejects) == 9


def test_a_rejected_first_row_does_not_block_a_later_good_one(tmp_path):
    hw, rejects = load_harm_weights(write(tmp_path, "category,weight\nArson,x\nARSON,7\n"))
    assert hw.weights == {"ARSON": 7.0}
    assert rejects["line"].tolist() == [2]


@pytest.mark.parametrize(
    ("header", "cat", "weight"),
    [
        ("Category,Weight", 0, 1),
        ("OFFENCE,CHI", 0, 1),
        ("Crime type,Harm", 0, 1),
        ("code,crime  type,score", 1, 2),
        ("weight,category", 1, 0),
        (" Offence , Score ,category", 2, 1),  # 'category' wins over 'offence'
    ],
    ids=["category-weight", "offence-chi", "crime-type-harm", "score-extra-col", "reversed",
         "preference"],
)
def test_header_variants(tmp_path, header, cat, weight):
    ncols = header.count(",") + 1
    row = ["x"] * ncols
    row[cat] = "Robbery"
    row[weight] = "12"
    hw, rejects = load_harm_weights(write(tmp_path, f"{header}\n{','.join(row)}\n"))
    assert hw.weights == {"Robbery": 12.0} and rejects.empty


def test_byte_order_mark_and_crlf(tmp_path):
    path = write(tmp_path, "\ufeffCategory,Weight\r\nRobbery,3\r\nArson,x\r\n")
    hw, rejects = load_harm_weights(path)
    assert hw.weights == {"Robbery": 3.0}
    assert rejects["line"].tolist() == [3]


def test_not_utf8_says_how_to_fix_it(tmp_path):
    path = write(tmp_path, "category,weight\nRobbery,3\nCaf\u00e9 theft,2\n", encoding="cp1252")
    with pytest.raises(ReadError) as exc:
        load_harm_weights(path)
    message = str(exc.value)
    assert "not UTF-8" in message and "line 3" in message and "CSV UTF-8" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("offence,notes\nRobbery,x\n", "needs a weight column"),
        ("name,value\nRobbery,3\n", "needs a category column (category / offence / crime type) "
                                    "and a weight column"),
        ("category,weight\n", "header but no rows"),
        ("", "empty (0 bytes)"),
        ("\n \n", "holds no text"),
        ("category,weight\nRobbery,x\n,2\n", "none of the 2 rows"),
    ],
    ids=["no-weight-column", "no-columns", "header-only", "empty", "whitespace", "all-bad"],
)
def test_whole_file_problems_raise_one_clear_error(tmp_path, text, expected):
    with pytest.raises(ReadError) as exc:
        load_harm_weights(write(tmp_path, text))
    assert expected in str(exc.value)


def test_missing_columns_are_listed(tmp_path):
    with pytest.raises(ReadError) as exc:
        load_harm_weights(write(tmp_path, "Offence code,Value\nA1,3\n"))
    assert "Columns found: 'Offence code', 'Value'." in str(exc.value)


def test_missing_file(tmp_path):
    with pytest.raises(ReadError, match="file not found"):
        load_harm_weights(tmp_path / "nope.csv")


def test_weight_for_ignores_case_and_spacing_and_uses_the_default():
    hw = HarmWeights({"Violence with injury": 200.0}, "t", default=2.5)
    assert hw.weight_for("VIOLENCE  with Injury ") == 200.0
    assert hw.weight_for("Shoplifting") == 2.5
    assert hw.weights_for(["violence with injury", "x"]).tolist() == [200.0, 2.5]
    assert hw.for_categories(["Violence With Injury"]) == {"Violence With Injury": 200.0}
    assert EQUAL.weight_for("anything") == 1.0 and EQUAL.is_equal
    assert HarmWeights({"a": 2.0}, "t", default=2.0).is_equal


def test_loaded_default_is_explicit(tmp_path):
    hw, _ = load_harm_weights(write(tmp_path, "category,weight\nRobbery,3\n"), default=0.0)
    assert hw.weight_for("Arson") == 0.0


@pytest.mark.parametrize(
    ("weights", "default"),
    [({"a": -1.0}, 1.0), ({"a": float("nan")}, 1.0), ({"a": 1.0, " A ": 2.0}, 1.0),
     ({"a": 1.0}, -1.0), ({"": 1.0}, 1.0)],
    ids=["negative", "nan", "same-key", "negative-default", "blank"],
)
def test_invalid_tables_cannot_be_built(weights, default):
    with pytest.raises(ValueError):
        HarmWeights(weights, "t", default=default)


def test_store_and_load_round_trip(tmp_path):
    hw, _ = load_harm_weights(write(tmp_path, "category,weight\nCaf\u00e9 theft,3\nRobbery,400\n"),
                              default=0.5)
    data_dir = tmp_path / "data"
    assert load_stored_harm_weights(data_dir) is EQUAL
    path = store_harm_weights(hw, data_dir)
    assert path == data_dir / STORE_NAME
    back = load_stored_harm_weights(data_dir)
    assert back == hw
    assert list(back.weights) == ["Caf\u00e9 theft", "Robbery"]
    assert back.weight_for("café THEFT") == 3.0 and back.default == 0.5
    # replacing leaves exactly one file and no temporaries
    store_harm_weights(EQUAL, data_dir)
    assert [p.name for p in data_dir.iterdir()] == [STORE_NAME]
    assert load_stored_harm_weights(data_dir) == EQUAL


def test_failed_write_keeps_the_old_table(tmp_path, monkeypatch):
    hw = HarmWeights({"Robbery": 4.0}, "old")
    store_harm_weights(hw, tmp_path)

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("geo.atomic.os.replace", boom)
    with pytest.raises(OSError, match="disk full"):
        store_harm_weights(HarmWeights({"Robbery": 9.0}, "new"), tmp_path)
    assert load_stored_harm_weights(tmp_path) == hw
    assert [p.name for p in tmp_path.iterdir()] == [STORE_NAME]


def test_corrupt_store_raises_read_error(tmp_path):
    (tmp_path / STORE_NAME).write_text(json.dumps({"version": 1, "weights": "oops"}))
    with pytest.raises(ReadError, match="load the table again"):
        load_stored_harm_weights(tmp_path)


def test_weights_for_returns_float_array():
    out = HarmWeights({"a": 2.0}, "t").weights_for(iter(["a", "b"]))
    assert out.dtype == np.float64 and out.tolist() == [2.0, 1.0]


def test_rejected_rows_are_kept_as_text_a_spreadsheet_cannot_run(tmp_path):
    _, rejects = load_harm_weights(write(
        tmp_path, "category,weight\nRobbery,3\n=HYPERLINK(\"http://evil\"),x\n@SUM(A1),-1\n"))
    assert rejects["raw"].tolist() == ['"\'=HYPERLINK(""http://evil"")",x', "'@SUM(A1),-1"]
