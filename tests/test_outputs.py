"""Output writing: staged folders, encodings, column order, round trip of the towns table."""

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from classify.outputs import order_columns, staged_output, write_csv, write_towns


@pytest.fixture
def three_towns():
    return gpd.GeoDataFrame(
        {
            "category": ["strong", "specialised", "developing"],
            "town": ["连州镇", "㮾梨镇", "三水瑶族乡"],
            "town_code": ["441882100", "441882101", "441882201"],
            "score_strength": [90.0, 40.5, 10.25],
        },
        geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1)],
        crs=4326,
    )


def test_order_puts_keys_first_results_last(three_towns):
    assert order_columns(three_towns) == ["town_code", "town", "score_strength", "category", "geometry"]


def test_staged_output_moves_files_only_on_success(tmp_path):
    out = tmp_path / "out"
    with staged_output(out) as stage:
        (stage / "a.txt").write_text("x")
        assert not (out / "a.txt").exists()
    assert (out / "a.txt").read_text() == "x"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_staged_output_leaves_previous_outputs_on_failure(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "towns.csv").write_text("old")
    with pytest.raises(RuntimeError):
        with staged_output(out) as stage:
            (stage / "towns.csv").write_text("half")
            raise RuntimeError("boom")
    assert (out / "towns.csv").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_csv_has_bom_and_chinese(tmp_path):
    path = write_csv(pd.DataFrame({"town": ["㮾梨镇"]}), tmp_path / "t.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert "㮾梨镇".encode("utf-8") in raw


def test_towns_round_trip_keeps_text_codes_and_count(tmp_path, three_towns):
    write_towns(three_towns, tmp_path, notice="示例数据")
    back = gpd.read_file(tmp_path / "towns.gpkg", layer="towns")
    assert back.crs.to_epsg() == 4326
    assert list(back["town"]) == list(three_towns["town"])
    assert list(back["town_code"]) == ["441882100", "441882101", "441882201"]
    csv = pd.read_csv(tmp_path / "towns.csv", dtype={"town_code": str}, encoding="utf-8-sig")
    assert list(csv["town_code"]) == ["441882100", "441882101", "441882201"]
    sheets = pd.read_excel(tmp_path / "towns.xlsx", sheet_name=None, dtype={"town_code": str})
    assert len(sheets["towns"]) == 3 and "说明" in sheets


def test_workbook_keeps_numbers_text_and_empty_cells(tmp_path):
    from classify.outputs import write_xlsx

    table = pd.DataFrame({"town_code": ["441882100", "441882101"], "gdp": [1234.5, float("nan")],
                          "review": [True, False], "n": [3, 4]})
    write_xlsx({"towns": table}, tmp_path / "t.xlsx")
    back = pd.read_excel(tmp_path / "t.xlsx", sheet_name="towns", dtype={"town_code": str})
    assert list(back["town_code"]) == ["441882100", "441882101"]
    assert back["gdp"].iloc[0] == 1234.5 and pd.isna(back["gdp"].iloc[1])
    assert list(back["review"]) == [True, False] and list(back["n"]) == [3, 4]
