"""read_boundaries on the files planners have: encodings, CRSs, datums, layers, geometry."""

import warnings

import geopandas as gpd
import numpy as np
import numpy.testing as npt
import pandas as pd
import pytest
import shapely

from geo.errors import DatumWarning, InputError, InputWarning
from geo.join import join_towns
from geo.read import read_boundaries
from geo.tables import read_table
from tests.inputs_fixtures import (LIANZHOU, RARE, gk_shapefile, lianzhou_cells,
                                   write_shapefile, yearbook_workbook)

NAMES = [n for _, n in LIANZHOU] + [RARE[1]]
CODES = [c for c, _ in LIANZHOU] + [RARE[0]]


def _same_positions(gdf, tol=1e-7):
    ref = lianzhou_cells()
    for a, b in zip(gdf.geometry, ref.geometry):
        npt.assert_allclose(a.bounds, b.bounds, atol=tol)


def test_gbk_gauss_krueger_shapefile_and_yearbook_with_no_flags(tmp_path):
    shp = gk_shapefile(tmp_path / "shp")                     # no .cpg, no .prj, CM 114E
    gdf, report = read_boundaries(shp)
    assert gdf.crs.to_epsg() == 4326
    assert gdf["town"].tolist() == NAMES                     # 㮾 survived (GB18030)
    assert gdf["town_code"].tolist() == CODES
    _same_positions(gdf)
    assert report.encoding == "gb18030" and "no .cpg" in report.encoding_reason
    assert report.crs_source == "inferred" and report.crs == "EPSG:4547"
    assert report.problems == []
    table = read_table(yearbook_workbook(tmp_path / "yb.xlsx"))
    joined, jr = join_towns(gdf, table)
    assert jr.attrs["counts"]["boundaries"]["matched"] == 13
    assert joined.set_index("town")["地区生产总值"]["㮾下镇"] == 13000.0
    npt.assert_allclose(joined["area_km2"], lianzhou_cells().to_crs(6933).area / 1e6,
                        rtol=1e-3)                           # EASE-Grid 2 equal-area check


@pytest.mark.parametrize("kwargs, message", [
    ({"zone_prefix": 38}, "zone 38"),
    ({"swap": True}, "swapped"),
    ({"cpg": "UTF-8"}, None),
    ({"cpg": "1252"}, None),
])
def test_odd_shapefiles_read_correctly(tmp_path, kwargs, message):
    if "cpg" in kwargs:  # a wrong .cpg is followed by no one, and never silently
        with pytest.warns(InputWarning, match=r"\.cpg is contradicted by the bytes"):
            gdf, report = read_boundaries(gk_shapefile(tmp_path, **kwargs))
    else:
        gdf, report = read_boundaries(gk_shapefile(tmp_path, **kwargs))
    assert gdf["town"].tolist() == NAMES
    _same_positions(gdf)
    if message:
        assert any(message in m for m in report.messages)
    if "cpg" in kwargs:
        assert f"the .cpg says '{kwargs['cpg']}' but" in report.encoding_reason


def test_prj_kept_and_old_datum_recorded(tmp_path):
    gdf = lianzhou_cells().to_crs(2383)                      # Xian 1980 3° GK CM 114E
    gdf, report = read_boundaries(write_shapefile(tmp_path, gdf, prj=True))
    assert report.crs_source == "file" and report.crs == "EPSG:2383"
    assert "Xian 1980" in report.accuracy and "100–150 m" in report.accuracy
    _same_positions(gdf, tol=1e-6)   # ballpark: numbers unchanged by a zero datum shift


def test_wrong_encoding_flag_gives_an_error_not_mojibake(tmp_path):
    shp = gk_shapefile(tmp_path)
    with pytest.raises(InputError, match="looks garbled.*--boundary-encoding"):
        read_boundaries(shp, encoding="latin-1")


def test_ambiguous_crs_without_codes_stops_with_candidates(tmp_path):
    gdf = lianzhou_cells().to_crs(4547).drop(columns=["town_code", "county_code"])
    shp = write_shapefile(tmp_path, gdf, prj=False)
    with pytest.raises(InputError, match=r"towns\.shp: .*fit \d+ CRSs inside China.*"
                                         r"EPSG:4547.*--crs"):
        read_boundaries(shp)
    out, report = read_boundaries(shp, crs="EPSG:4547")
    assert report.crs_source == "flag"
    _same_positions(out)


def _shifted(gdf, fn):
    return gdf.set_geometry(shapely.transform(
        np.asarray(gdf.geometry.values), lambda c: np.column_stack(fn(c[:, 0], c[:, 1]))))


def test_datav_properties_warn_and_gcj02_converts(tmp_path):
    from geo.datum import wgs84_to_gcj02

    gcj = _shifted(lianzhou_cells(), wgs84_to_gcj02)
    gcj = gcj.rename(columns={"town_code": "adcode", "town": "name"})
    gcj["childrenNum"] = 0
    path = tmp_path / "datav.geojson"
    gcj.to_file(path)
    with pytest.warns(DatumWarning, match="DataV.*--datum gcj02"):
        _, report = read_boundaries(path)
    assert any("DataV" in p for p in report.problems)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DatumWarning)
        out, report = read_boundaries(path, datum="gcj02")
    _same_positions(out, tol=1e-8)                           # < 1 mm
    said = [m for m in report.messages if "may be restricted in mainland China" in m]
    assert said and said[0].startswith("坐标已由 GCJ02 转换为 WGS84（")     # Chinese first


def test_provider_name_in_file_name_warns(tmp_path):
    path = tmp_path / "高德_乡镇.geojson"
    lianzhou_cells().to_file(path)
    with pytest.warns(DatumWarning, match="file name"):
        read_boundaries(path)


def test_kml(tmp_path):
    gdf = lianzhou_cells().iloc[:3][["town", "geometry"]].rename(columns={"town": "Name"})
    path = tmp_path / "t.kml"
    gdf.to_file(path, driver="KML")
    out, report = read_boundaries(path)
    assert out["town"].tolist() == NAMES[:3]
    assert report.keys["name"] == "Name"


def test_multi_layer_geopackage(tmp_path):
    path = tmp_path / "t.gpkg"
    cells = lianzhou_cells()
    cells.iloc[:5].to_file(path, layer="towns_2022")
    cells.iloc[5:].to_file(path, layer="towns_2023")
    with pytest.raises(InputError, match=r"2 layers \(towns_2022, towns_2023\).*--layer"):
        read_boundaries(path)
    out, report = read_boundaries(path, layer="towns_2023")
    assert out["town"].tolist() == NAMES[5:]
    with pytest.raises(InputError, match="no layer named 'x'"):
        read_boundaries(path, layer="x")
    seats = gpd.GeoDataFrame({"name": ["a"]}, geometry=[shapely.Point(112.3, 24.8)], crs=4326)
    path2 = tmp_path / "t2.gpkg"
    cells.to_file(path2, layer="towns")
    seats.to_file(path2, layer="seats")
    out, report = read_boundaries(path2)
    assert report.layer == "towns" and "only polygon layer" in report.messages[0]


def test_geometry_problems_are_repaired_dissolved_and_reported(tmp_path):
    cells = lianzhou_cells().iloc[:4].copy()
    # town 1 becomes a bow-tie; town 3 is split in two rows; Z values on town 0
    x0, y0, x1, y1 = cells.geometry.iloc[1].bounds
    cells.loc[1, "geometry"] = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])
    cells.loc[0, "geometry"] = shapely.force_3d(cells.geometry.iloc[0], 5.0)
    x0, y0, x1, y1 = cells.geometry.iloc[3].bounds
    cells.loc[3, "geometry"] = shapely.box(x0, y0, (x0 + x1) / 2, y1)
    extra = cells.iloc[[3]].copy()
    extra["geometry"] = [shapely.box((x0 + x1) / 2, y0, x1, y1)]
    path = tmp_path / "t.geojson"
    pd.concat([cells, extra]).to_file(path)
    out, report = read_boundaries(path)
    assert len(out) == 4 and report.n_read == 5
    assert not shapely.has_z(np.asarray(out.geometry.values)).any()
    npt.assert_allclose(out.geometry.iloc[3].bounds, lianzhou_cells().geometry.iloc[3].bounds)
    assert any("Z/M values dropped from 1" in m for m in report.messages)
    assert any("feature 1" in p and "repair changed the area" in p for p in report.problems)
    assert any("split over 2 features" in p for p in report.problems)
    d = report.to_dict()
    # the bow-tie's missing triangles open to the outside of the region: not gaps
    assert d["repaired"] == 1 and d["repair_problems"] == 1 and d["gaps"] == 0


def test_round_trip_of_written_outputs(tmp_path):
    gdf, _ = read_boundaries(gk_shapefile(tmp_path / "shp"))
    gdf.to_file(tmp_path / "towns.gpkg", layer="towns")
    gdf.drop(columns="geometry").to_csv(tmp_path / "towns.csv", index=False,
                                        encoding="utf-8-sig")
    back, _ = read_boundaries(tmp_path / "towns.gpkg")
    assert back["town"].tolist() == NAMES and back["town_code"].tolist() == CODES
    table = read_table(tmp_path / "towns.csv")
    assert table.data["town"].tolist() == NAMES
    assert table.data["town_code"].tolist() == CODES
    assert len(table.data) == len(gdf)


def test_missing_file_and_no_keys(tmp_path):
    with pytest.raises(InputError, match="file not found.*--boundaries"):
        read_boundaries(tmp_path / "nope.shp")
    path = tmp_path / "t.geojson"
    gpd.GeoDataFrame({"foo": [1]}, geometry=[shapely.box(112.3, 24.7, 112.4, 24.8)],
                     crs=4326).to_file(path)
    with pytest.raises(InputError, match="no town code or town name field among \\['foo'\\]"):
        read_boundaries(path)


def test_zipped_shapefile_with_gbk_member_names(tmp_path):
    from tests.inputs_fixtures import zip_like_windows

    shp = gk_shapefile(tmp_path / "shp")
    zpath = zip_like_windows(tmp_path / "towns.zip", {
        "乡镇/" + p.name.replace("towns", "连州乡镇"): p.read_bytes()
        for p in shp.parent.iterdir()})
    gdf, report = read_boundaries(zpath)
    assert gdf["town"].tolist() == NAMES
    assert report.path.endswith("!乡镇/连州乡镇.shp")
    assert report.messages[0] == "read 乡镇/连州乡镇.shp from the zip archive"


@pytest.mark.parametrize("datum", ["gcj02", "bd09"])
def test_shifted_datums_convert_back_within_a_millimetre(tmp_path, datum):
    from geo.datum import convert

    shifted = _shifted(lianzhou_cells(), lambda x, y: convert(x, y, "wgs84", datum))
    path = tmp_path / "t.geojson"
    shifted.to_file(path)
    out, report = read_boundaries(path, datum=datum)
    assert report.datum == datum
    _same_positions(out, tol=1e-8)          # 1e-8° ≈ 1 mm
    with pytest.raises(InputError, match="unknown datum 'x'.*--datum"):
        read_boundaries(path, datum="x")


def test_reports_are_json_ready(tmp_path):
    import json

    _, report = read_boundaries(gk_shapefile(tmp_path / "shp"))
    table = read_table(yearbook_workbook(tmp_path / "yb.xlsx"))
    d = json.loads(json.dumps({"b": report.to_dict(), "t": table.to_dict()}, ensure_ascii=False))
    assert d["b"]["crs"] == "EPSG:4547" and d["b"]["n_features"] == 13
    assert d["t"]["rows"] == 13 and d["t"]["excluded"] == 3
    assert d["t"]["cell_status"]["no_data"] == 1


def test_shapefile_missing_its_dbf(tmp_path):
    shp = gk_shapefile(tmp_path)
    shp.with_suffix(".dbf").unlink()
    with pytest.raises(InputError, match=r"towns\.shp: the shapefile's \.dbf file is missing"):
        read_boundaries(shp)


def test_field_name_cut_in_half_a_character(tmp_path):
    gdf = lianzhou_cells().iloc[:2][["town", "geometry"]]
    gdf.insert(1, "A乡镇名称字", gdf["town"])
    shp = write_shapefile(tmp_path, gdf)        # "A乡镇名称字" is 11 GBK bytes: cut to 10
    assert open(shp.with_suffix(".dbf"), "rb").read()[64:75].endswith(b"\xd7\0")  # half 字
    out, report = read_boundaries(shp, crs="EPSG:4326", encoding="auto")
    assert "A乡镇名称" in out.columns
    assert out["A乡镇名称"].tolist() == NAMES[:2]


def test_value_cut_by_the_field_width(tmp_path):
    from tests.inputs_fixtures import write_dbf

    shp = write_shapefile(tmp_path, lianzhou_cells().iloc[:2])
    # "大路边镇" (8 GBK bytes) cut by a 7-byte field: 大路边 + half of 镇
    records = [["441882100", "连州镇"], ["441882101", "大路边镇".encode("gbk")[:7]]]
    write_dbf(shp.with_suffix(".dbf"), [("统计代码", 9), ("乡镇", 7)], records, "gb18030")
    out, report = read_boundaries(shp)
    assert out["town"].tolist() == ["连州镇", "大路边"]
    assert any("cut by the DBF field width" in p and "'大路边'" in p for p in report.problems)


@pytest.mark.parametrize("n", [1, 2])
def test_a_file_whose_every_feature_lacks_geometry_says_so(tmp_path, n):
    """Issue 13: the only feature with a null geometry was reported as coordinates
    'x nan…nan' outside China under the file's CRS."""
    import json

    path = tmp_path / "t.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": None,
         "properties": {"town_code": f"44188210{i}", "town": f"镇{i}"}} for i in range(n)]}),
        encoding="utf-8")
    with pytest.raises(InputError, match=r"t\.geojson: no feature has a geometry \(all are "
                                         r"null or empty\); check the file in a GIS") as err:
        read_boundaries(path)
    assert "CRS" not in str(err.value) and "nan" not in str(err.value)


def test_a_gap_between_towns_is_said_chinese_first(tmp_path):
    from shapely.geometry import box

    # four towns around a 0.01° square that none of them covers (about 1 km²)
    d = 0.01
    geoms = [box(113, 23, 113 + 3 * d, 23 + d), box(113, 23 + 2 * d, 113 + 3 * d, 23 + 3 * d),
             box(113, 23 + d, 113 + d, 23 + 2 * d), box(113 + 2 * d, 23 + d, 113 + 3 * d, 23 + 2 * d)]
    gpd.GeoDataFrame({"town_code": ["441882100", "441882101", "441882102", "441882103"],
                      "town": ["甲镇", "乙镇", "丙镇", "丁镇"]}, geometry=geoms, crs=4326
                     ).to_file(tmp_path / "b.geojson", driver="GeoJSON")
    _, report = read_boundaries(tmp_path / "b.geojson")
    gap = [p for p in report.problems if "gap" in p]
    assert len(gap) == 1
    assert gap[0].startswith("镇街之间有 1 处空隙，共 1.") and "（1 gap(s) between towns" in gap[0]
    assert gap[0].endswith("；未修改（not changed）")
