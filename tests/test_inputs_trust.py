"""Issue 13, input side: every boundary feature and table row accounted for with its true
reason; damaged, mislabelled and locked files stop with an InputError naming them."""

from __future__ import annotations

import builtins
import shutil
import struct
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from geo.errors import InputError, InputWarning
from geo.join import join_towns
from geo.read import read_boundaries
from geo.tables import read_table
from tests.inputs_fixtures import LIANZHOU, lianzhou_cells, write_shapefile


def _table(path, rows, *, header=("统计代码", "乡镇", "地区生产总值（万元）")):
    pd.DataFrame(rows, columns=list(header)).to_csv(path, index=False,
                                                     encoding="utf-8-sig")
    return path


def _lianzhou_table(tmp_path, n=6, *, blank_code_at=None):
    rows = [[c, name, 1000 * (i + 1)] for i, (c, name) in enumerate(LIANZHOU[:n])]
    if blank_code_at is not None:
        rows[blank_code_at][0] = ""
    return read_table(_table(tmp_path / "t.csv", rows))


def _geojson(tmp_path, gdf, name="b.geojson"):
    path = tmp_path / name
    gdf.to_file(path, driver="GeoJSON")
    return path


def _report_row(report, source, source_row):
    part = report[(report["source"] == source) & (report["source_row"] == source_row)]
    assert len(part) == 1, part
    return part.iloc[0]


# ------------------------------------------------------------ 1. every row accounted for

def test_null_geometry_feature_is_in_the_report_and_its_table_row_says_why(tmp_path):
    gdf = lianzhou_cells(with_rare=False).iloc[:6].copy()
    gdf.loc[1, "geometry"] = None                                   # 星子镇
    boundaries, breport = read_boundaries(_geojson(tmp_path, gdf))
    assert len(boundaries) == 5
    assert [a["boundary_feature"] for a in breport.set_aside] == [1]
    joined, report = join_towns(boundaries, _lianzhou_table(tmp_path))
    lost = _report_row(report, "boundaries", 1)
    assert lost["status"] == "excluded" and lost["town"] == "星子镇"
    assert "no geometry" in lost["reason"]
    row = _report_row(report, "table", 3)                            # 星子镇's table row
    assert row["status"] == "unmatched"
    assert "boundary feature has no geometry" in row["reason"]
    assert "feature 1" in row["reason"] and "spelling" not in row["reason"]
    assert report.attrs["counts"]["boundaries"]["total"] == 6      # every feature read
    assert sorted(joined["boundary_feature"]) == [0, 2, 3, 4, 5]


def test_blank_and_invalid_boundary_codes_are_reported_and_join_by_name(tmp_path):
    gdf = lianzhou_cells(with_rare=False).iloc[:6].copy()
    gdf["town_code"] = gdf["town_code"].astype(object)
    gdf.loc[2, "town_code"] = ""
    gdf.loc[3, "town_code"] = "44188A103"
    boundaries, breport = read_boundaries(_geojson(tmp_path, gdf))
    assert boundaries["town_code"].isna().sum() == 2
    joined, report = join_towns(boundaries, _lianzhou_table(tmp_path))
    blank, bad = _report_row(report, "boundaries", 2), _report_row(report, "boundaries", 3)
    assert "feature has no code" in blank["reason"]
    assert "invalid code" in bad["reason"] and "44188A103" in bad["reason"]
    assert blank["status"] == bad["status"] == "matched"
    assert blank["how"] in ("county+name", "name")
    # the joined towns take the table's code
    assert set(joined["town_code"]) == {c for c, _ in LIANZHOU[:6]}


def test_blank_code_in_a_table_row_joins_by_name(tmp_path):
    boundaries = lianzhou_cells(with_rare=False).iloc[:6]
    table = _lianzhou_table(tmp_path, blank_code_at=2)
    assert table.data["统计代码"].iloc[2] is None                    # not NaN, not "nan"
    joined, report = join_towns(boundaries, table)
    row = _report_row(report, "table", 4)
    assert row["status"] == "matched"
    assert "no code in this row" in row["reason"]
    assert joined.loc[joined["table_row"] == 4, "town_code"].item() == LIANZHOU[2][0]


# ------------------------------------------------------------ 2. one code, two names

def _dup_code(tmp_path, second_name):
    gdf = lianzhou_cells(with_rare=False).iloc[:4].copy()
    gdf.loc[1, "town_code"] = gdf.loc[0, "town_code"]
    gdf.loc[1, "town"] = second_name
    return _geojson(tmp_path, gdf)


def test_one_code_two_names_stops_naming_both_features(tmp_path):
    path = _dup_code(tmp_path, "星子镇")
    with pytest.raises(InputError, match=r"code 441882100: feature 0 连州镇, feature 1 星子镇"
                                         r".*--duplicate-codes apart") as err:
        read_boundaries(path)
    assert str(path) in str(err.value)


def test_one_code_two_names_kept_apart_join_by_name(tmp_path):
    boundaries, breport = read_boundaries(_dup_code(tmp_path, "星子镇"),
                                          duplicate_codes="apart")
    assert len(boundaries) == 4
    areas = boundaries.set_index("town")["area_km2"]
    assert areas["连州镇"] == pytest.approx(areas["西岸镇" if "西岸镇" in areas else "龙坪镇"],
                                         rel=0.05)                  # not dissolved: one cell
    joined, report = join_towns(boundaries, _lianzhou_table(tmp_path, 4))
    for feature in (0, 1):
        row = _report_row(report, "boundaries", feature)
        assert row["status"] == "matched" and "also on feature" in row["reason"]
    assert joined.set_index("town").loc["星子镇", "town_code"] == "441882101"  # table's code


def test_one_code_one_name_in_two_parts_is_dissolved_and_both_parts_reported(tmp_path):
    boundaries, _ = read_boundaries(_dup_code(tmp_path, "连州镇"))
    assert len(boundaries) == 3
    joined, report = join_towns(boundaries, _lianzhou_table(tmp_path, 4))
    part = _report_row(report, "boundaries", 1)
    assert part["how"] == "dissolved" and part["status"] == "matched"
    assert "dissolved into feature 0" in part["reason"]
    assert report.attrs["counts"]["boundaries"]["total"] == 4


# ------------------------------------------------------------ 3. damaged shapefiles

@pytest.fixture
def shapefile(tmp_path):
    return write_shapefile(tmp_path / "shp", lianzhou_cells(with_rare=False), cpg="GBK")


def test_truncated_shp_stops_with_the_file_and_what_is_missing(shapefile):
    data = shapefile.read_bytes()
    shapefile.write_bytes(data[:int(len(data) * 0.8)])
    with pytest.raises(InputError, match=r"\.shp file is cut short.*20% missing") as err:
        read_boundaries(shapefile)
    assert str(shapefile) in str(err.value)


def test_truncated_dbf_stops(shapefile):
    dbf = shapefile.with_suffix(".dbf")
    dbf.write_bytes(dbf.read_bytes()[:-100])
    with pytest.raises(InputError, match=r"\.dbf file is cut short"):
        read_boundaries(shapefile)


def test_shx_and_dbf_record_counts_that_disagree_stop(shapefile, tmp_path):
    other = write_shapefile(tmp_path / "other", lianzhou_cells(with_rare=False).iloc[:5])
    shutil.copy(other.with_suffix(".dbf"), shapefile.with_suffix(".dbf"))
    with pytest.raises(InputError, match=r"record counts disagree.*12 shapes.*5 records"):
        read_boundaries(shapefile)


def test_unreadable_geometry_stops(shapefile):
    shx = shapefile.with_suffix(".shx").read_bytes()
    offset = struct.unpack(">i", shx[100 + 8 * 3:104 + 8 * 3])[0] * 2
    data = bytearray(shapefile.read_bytes())
    data[offset + 8 + 36:offset + 8 + 40] = struct.pack("<i", 10 ** 8)  # numParts
    shapefile.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"unreadable geometry.*feature\(s\) 3 "):
        read_boundaries(shapefile)


# ------------------------------------------------------------ 5. wrong file types

def test_csv_named_xlsx_or_xls_is_read_as_csv_with_a_note(tmp_path):
    csv = _table(tmp_path / "t.csv", [[c, n, 1] for c, n in LIANZHOU[:3]])
    for suffix in (".xlsx", ".xls"):
        renamed = tmp_path / f"t{suffix}"
        shutil.copy(csv, renamed)
        table = read_table(renamed)
        assert table.data["乡镇"].tolist() == [n for _, n in LIANZHOU[:3]]
        assert any("plain text (CSV)" in m and "content does not match" in m
                   for m in table.messages)


def test_xlsx_named_xls_is_read(tmp_path):
    path = tmp_path / "t.xlsx"
    pd.DataFrame([[c, n, 1] for c, n in LIANZHOU[:3]],
                 columns=["统计代码", "乡镇", "地区生产总值（万元）"]).to_excel(path, index=False)
    renamed = tmp_path / "t.xls"
    shutil.copy(path, renamed)
    assert len(read_table(renamed).data) == 3


@pytest.mark.parametrize("content, kind", [
    (b"<html><body><table><tr><td>1</td></tr></table></body></html>", "web page"),
    (b"%PDF-1.4 ...", "PDF"),
])
def test_other_content_under_a_table_name_stops(tmp_path, content, kind):
    path = tmp_path / "t.xls"
    path.write_bytes(content)
    with pytest.raises(InputError, match=f"the file is .*{kind}.*save it as .xlsx"):
        read_table(path)


def test_empty_file_folder_and_locked_file(tmp_path, monkeypatch):
    empty = tmp_path / "e.csv"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty file"):
        read_table(empty)
    with pytest.raises(InputError, match="a folder, not a file.*--indicators"):
        read_table(tmp_path)
    folder = tmp_path / "b.shp"
    folder.mkdir()
    with pytest.raises(InputError, match="a folder, not a boundary file"):
        read_boundaries(folder)
    locked = _table(tmp_path / "l.xlsx", [["441882100", "连州镇", 1]])
    real_open = builtins.open

    def deny(file, *args, **kwargs):
        if str(file) == str(locked):
            raise PermissionError(13, "Permission denied")
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", deny)
    with pytest.raises(InputError, match="permission denied.*close it in Excel"):
        read_table(locked)


def test_damaged_xlsx_stops(tmp_path):
    path = tmp_path / "t.xlsx"
    pd.DataFrame({"乡镇": ["连州镇"]}).to_excel(path, index=False)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(InputError, match="(workbook cannot be read|zip archive|binary)"):
        read_table(path)


# ------------------------------------------------------------ 6. boundary encoding and .cpg

def _survey_fields():
    """Land-survey field names (ASCII, so DBF field-name cuts do not interfere)."""
    return lianzhou_cells(with_rare=False)[["town_code", "town", "geometry"]].rename(
        columns={"town_code": "XZQDM", "town": "XZQMC"})


def test_given_boundary_encoding_against_cpg_and_bytes_stops(tmp_path):
    shp = write_shapefile(tmp_path, _survey_fields(), encoding="utf-8", cpg="UTF-8")
    with pytest.raises(InputError, match=r"contradicts the \.cpg.*says UTF-8.*--boundary-enc"):
        read_boundaries(shp, encoding="gb18030")


def test_given_boundary_encoding_overrides_a_wrong_cpg_with_a_warning(tmp_path):
    shp = write_shapefile(tmp_path, lianzhou_cells(with_rare=False), encoding="gb18030",
                          cpg="UTF-8")
    with pytest.warns(InputWarning, match=r"differs from the \.cpg.*gb18030.*UTF-8"):
        gdf, report = read_boundaries(shp, encoding="gbk")
    assert gdf["town"].iloc[0] == "连州镇"
    assert any(".cpg" in p for p in report.problems)


# ------------------------------------------------------------ 4. missing keys

def _one_town_per_province():
    from geo.divisions import divisions

    towns = divisions().townships
    picked = towns.groupby("province_code", sort=True).head(1)
    return [(code, row["name"], row["county_code"]) for code, row in picked.iterrows()]


def test_national_input_without_county_column_reads_and_joins(tmp_path):
    from geo.divisions import divisions

    towns = _one_town_per_province()
    assert len(towns) >= 31
    gdf = gpd.GeoDataFrame({"town_code": [c for c, _, _ in towns],
                            "town": [n for _, n, _ in towns]},
                           geometry=[box(100 + i * .1, 30, 100.1 + i * .1, 30.1)
                                     for i in range(len(towns))], crs=4326)
    boundaries, _ = read_boundaries(_geojson(tmp_path, gdf))
    table = read_table(_table(tmp_path / "t.csv", [[c, n, i + 1] for i, (c, n, _)
                                                   in enumerate(towns)]))
    joined, report = join_towns(boundaries, table)
    assert len(joined) == len(towns)
    div = divisions()
    for code, county, city in zip(joined["town_code"], joined["county"], joined["city"]):
        assert county == div.county(code) and county
        assert city == div.city(code) and city
    assert joined["county_code"].tolist() == [c[:6] for c in joined["town_code"]]
    assert joined["city_code"].tolist() == [c[:4] for c in joined["town_code"]]


def test_name_only_inputs_join_with_keys_none_not_nan(tmp_path):
    gdf = lianzhou_cells(with_rare=False).iloc[:4].drop(columns=["town_code", "county_code",
                                                                 "county"])
    boundaries, _ = read_boundaries(_geojson(tmp_path, gdf), crs="EPSG:4326")
    table = read_table(_table(tmp_path / "t.csv", [[n, i] for i, (_, n) in
                                                   enumerate(LIANZHOU[:4])],
                              header=("乡镇", "地区生产总值（万元）")))
    joined, report = join_towns(boundaries, table, on="name")
    assert len(joined) == 4
    for col in ("town_code", "county_code", "county", "city_code", "city"):
        assert joined[col].dtype == object
        assert joined[col].tolist() == [None] * 4, col
    assert joined["table_row"].tolist() == [2, 3, 4, 5]
    assert joined["boundary_feature"].tolist() == [0, 1, 2, 3]
    assert not report.isin(["nan", "None"]).any().any()


# ------------------------------------------------------------ 7. 万 in a 万元 column

def _wan_table(tmp_path, cell):
    return _table(tmp_path / "w.csv", [["441882100", "连州镇", "12.5"],
                                       ["441882101", "星子镇", cell]])


def test_wan_in_a_wan_yuan_column_stops_naming_the_cell(tmp_path):
    path = _wan_table(tmp_path, "7.0万")
    with pytest.raises(InputError, match=r"row 3, column '地区生产总值'.*ambiguous value"
                                         r".*'7.0万'.*7 万元.*70000 万元.*wan_suffix") as err:
        read_table(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("how, value", [("literal", 7.0), ("multiply", 70000.0)])
def test_wan_suffix_says_which_reading(tmp_path, how, value):
    table = read_table(_wan_table(tmp_path, "7.0万"), wan_suffix=how)
    assert table.data["地区生产总值"].tolist() == [12.5, value]
    assert any("wan_suffix " + how in m and "row 3" in m for m in table.messages)


def test_wan_in_a_column_without_unit_is_multiplied_with_a_note(tmp_path):
    path = _table(tmp_path / "w.csv", [["441882100", "连州镇", "120"],
                                       ["441882101", "星子镇", "1.2万"]],
                  header=("统计代码", "乡镇", "地区生产总值"))
    table = read_table(path)
    assert table.data["地区生产总值"].tolist() == [120.0, 12000.0]
    assert any("'1.2万' scaled by 10000" in m for m in table.messages)


# ------------------------------------------------------------ 8. malformed crosswalks

@pytest.mark.parametrize("text, encoding, message", [
    ("old,new\n旧甲乡,连州镇\n", "utf-8", r"needs a from_code or from_name column.*\['old', "
                                          r"'new'\].*--crosswalk"),
    ("原名称,新名称\n旧甲乡,连州镇\n旧乙乡,\n", "utf-8",
     r"row 3, column '新名称'.*blank cell in the crosswalk.*new town is missing"),
    ("原代码,新代码\n441882100,4418821XX\n", "utf-8",
     r"column '新代码'.*invalid code in the crosswalk.*row 2: '4418821XX'"),
    ("原代码,新代码\n441882100,4418821\n", "utf-8", r"row 2: '4418821' has 7 digits"),
    # the parser's own message on one line (pandas ends it with a newline)
    ("a,b\n1\n,,,\n", "utf-8", r"cannot be read: Error tokenizing data\. C error: Expected 2 "
                                 r"fields in line 3, saw 4）; check its columns \(--crosswalk\)"),
])
def test_malformed_crosswalk_names_file_row_and_column(tmp_path, text, encoding, message):
    cw = tmp_path / "cw.csv"
    cw.write_text(text, encoding=encoding)
    with pytest.raises(InputError, match=message) as err:
        join_towns(lianzhou_cells().iloc[:2], _lianzhou_table(tmp_path, 2), crosswalk=cw)
    assert str(cw) in str(err.value)


def test_crosswalk_in_an_unknown_encoding_or_type_stops(tmp_path):
    cw = tmp_path / "cw.csv"
    cw.write_bytes("原名称,新名称\n旧甲乡,连州镇\n".encode("gb18030")[:-3] + b"\xff\xfe\x81\n")
    with pytest.raises(InputError, match="neither UTF-8 nor GB18030.*save the crosswalk as "
                                         "UTF-8"):
        join_towns(lianzhou_cells().iloc[:2], _lianzhou_table(tmp_path, 2), crosswalk=cw)
    cw.write_bytes(b"%PDF-1.4")
    with pytest.raises(InputError, match="the crosswalk is a PDF"):
        join_towns(lianzhou_cells().iloc[:2], _lianzhou_table(tmp_path, 2), crosswalk=cw)


def test_crosswalk_blank_lines_are_skipped_and_utf16_is_read(tmp_path):
    cw = tmp_path / "cw.csv"
    cw.write_text("原名称,新名称\n旧甲乡,连州镇\n,\n", encoding="utf-16")
    b = lianzhou_cells().iloc[:1]
    t = read_table(_table(tmp_path / "t.csv", [["", "旧甲乡", 10]]))
    joined, report = join_towns(b, t, crosswalk=cw)
    assert joined["town"].tolist() == ["连州镇"]


def test_utf16_table_is_read(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("统计代码\t乡镇\t地区生产总值（万元）\n441882100\t连州镇\t12\n",
                    encoding="utf-16")
    assert read_table(path).data["乡镇"].tolist() == ["连州镇"]


def test_a_town_whose_name_starts_with_qizhong_is_a_town(tmp_path):
    # 其中口乡 (涞水县, 130623205): "其中" usually opens a sub-item row ("其中：工业")
    path = _table(tmp_path / "t.csv", [["130623205", "其中口乡", 5], ["", "其中：工业", 3]])
    table = read_table(path)
    assert table.data["乡镇"].tolist() == ["其中口乡"]
    assert table.excluded["kind"].tolist() == ["sub_item"]


def test_report_text_columns_hold_none_not_nan(tmp_path):
    path = _table(tmp_path / "t.csv", [["441882100", "连州镇", 5], ["", "合计", 5]])
    _, report = join_towns(lianzhou_cells().iloc[:2], read_table(path))
    for col in ("town_code", "town", "county", "reason"):
        assert report[col].dtype == object
        assert not any(isinstance(v, float) for v in report[col]), col


def test_init_reads_a_csv_named_xls(tmp_path):
    from classify.pipeline import init_config

    csv = _table(tmp_path / "t.csv", [[c, n, 1] for c, n in LIANZHOU[:3]])
    renamed = tmp_path / "t.xls"
    shutil.copy(csv, renamed)
    out, lines = init_config(renamed, tmp_path / "c.toml")
    assert out.exists() and any("地区生产总值" in line for line in lines)


def test_auto_encoding_contradicting_the_cpg_warns(tmp_path):
    shp = write_shapefile(tmp_path, _survey_fields(), encoding="gb18030", cpg="UTF-8")
    with pytest.warns(InputWarning, match=r"contradicted by the bytes.*says UTF-8.*gb18030"):
        gdf, _ = read_boundaries(shp)
    assert gdf["town"].iloc[0] == "连州镇"


@pytest.mark.parametrize("name", ["b.geojson", "b.gpkg"])
def test_cut_geojson_or_geopackage_stops(tmp_path, name):
    path = tmp_path / name
    lianzhou_cells().to_file(path)
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * 0.8)])
    with pytest.raises(InputError, match=r"cannot (open as a|read the) boundary file.*"
                                         r"damaged or cut short"):
        read_boundaries(path)


def test_utf8_shapefile_with_cut_chinese_field_names(tmp_path):
    # 统计代码 and 所属县区 are 12 bytes in UTF-8: a DBF keeps 10 (统计代, 所属县)
    shp = write_shapefile(tmp_path, lianzhou_cells(with_rare=False), encoding="utf-8",
                          cpg="UTF-8")
    gdf, report = read_boundaries(shp)
    assert report.keys["code"] == "统计代" and report.keys["county"] == "所属县"
    assert gdf["town_code"].tolist() == [c for c, _ in LIANZHOU]


def test_a_row_of_markers_below_the_header_is_a_data_row(tmp_path):
    path = _table(tmp_path / "t.csv", [["", "", "—"], ["441882109", "西江镇", "5"]])
    table = read_table(path)
    assert table.header_rows == [1]
    assert list(table.data.columns) == ["统计代码", "乡镇", "地区生产总值"]
    assert table.source_rows == [2, 3]


def test_empty_boundary_file_stops(tmp_path):
    path = tmp_path / "b.geojson"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="empty file"):
        read_boundaries(path)


def test_check_shapefile_returns_the_shape_types(shapefile):
    from geo.shapefile import check_shapefile

    types = check_shapefile(shapefile)
    np.testing.assert_array_equal(types, [5] * 12)                 # 5 = polygon


def test_not_a_shapefile_under_a_shp_name(tmp_path):
    path = tmp_path / "b.shp"
    path.write_text("统计代码,乡镇\n441882100,连州镇\n", encoding="utf-8")
    for s in (".shx", ".dbf"):
        path.with_suffix(s).write_bytes(b"x" * 200)
    with pytest.raises(InputError, match=r"not a valid \.shp file"):
        read_boundaries(path)


def test_a_row_without_code_and_name_says_so(tmp_path):
    path = _table(tmp_path / "t.csv", [["441882100", "连州镇", 5], ["", "", 7]])
    _, report = join_towns(lianzhou_cells().iloc[:2], read_table(path))
    row = _report_row(report, "table", 3)
    assert row["status"] == "unmatched" and "neither a town code nor a town name" in row["reason"]
