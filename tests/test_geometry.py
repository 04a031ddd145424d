"""Geometry: repair with area log, dissolve, gaps/overlaps, equal-area areas, labels."""

import geopandas as gpd
import numpy as np
import numpy.testing as npt
import shapely
from pyproj import Geod
from shapely.geometry import Polygon, box

from geo.geometry import (areas_km2, dissolve_by_code, drop_zm, gaps_and_overlaps,
                          label_points, repair)
from tests.inputs_fixtures import bowtie


def _gdf(geoms, **cols):
    return gpd.GeoDataFrame(cols, geometry=list(geoms), crs=4326)


def test_area_is_equal_area_not_degrees():
    cell = box(113.0, 23.0, 113.1, 23.1)
    geodesic = abs(Geod(ellps="WGS84").geometry_area_perimeter(cell)[0]) / 1e6
    npt.assert_allclose(areas_km2(_gdf([cell])).to_numpy(), [geodesic], rtol=1e-4)
    assert 110 < geodesic < 116  # 0.1° × 0.1° at 23°N ≈ 11.1 km × 10.2 km


def test_bowtie_repair_keeps_polygons_and_reports_area_change():
    bt = shapely.affinity.translate(shapely.affinity.scale(bowtie(), 0.1, 0.1, origin=(0, 0)),
                                    113, 23)
    # a tiny spike: invalid, but repair changes the area by far less than 1 %
    spike = Polygon([(113.2, 23), (113.3, 23), (113.3, 23.1), (113.25, 23.1),
                     (113.25, 23.15), (113.25, 23.1), (113.2, 23.1)])
    gdf = _gdf([bt, box(113.1, 23, 113.2, 23.1), spike])
    fixed, log = repair(gdf, labels=["bow", "ok", "spike"])
    assert list(log["valid_before"]) == [False, True, False]
    assert set(fixed.geom_type) <= {"Polygon", "MultiPolygon"}
    assert fixed.is_valid.all()
    # the bow-tie's two triangles each cover a quarter of the 0.1° square
    npt.assert_allclose(log["area_after_km2"][0] / log["area_after_km2"][1], 0.5, rtol=1e-3)
    assert list(log["problem"]) == [True, False, False]
    assert abs(log["area_change"][2]) < 0.01
    assert "Self-intersection" in log["reason"][0] or "Ring" in log["reason"][0]


def test_drop_zm():
    geoms, n = drop_zm(np.array([Polygon([(0, 0, 5), (1, 0, 5), (1, 1, 5)]), box(0, 0, 1, 1)]))
    assert n == 1 and not shapely.has_z(geoms).any()


def test_dissolve_duplicates_and_split_towns():
    a, b = box(113, 23, 113.1, 23.1), box(113.1, 23, 113.2, 23.1)
    gdf = _gdf([a, a, b, box(113.2, 23, 113.3, 23.1)],
               town_code=["441882100", "441882100", "441882101", "441882101"],
               town=["连州镇", "连州镇", "星子镇", "星子镇"])
    out, msgs = dissolve_by_code(gdf)
    assert list(out["town_code"]) == ["441882100", "441882101"]
    npt.assert_allclose(out.geometry.iloc[1].bounds, (113.1, 23, 113.3, 23.1))
    assert any("identical" in m and "连州镇" in m for m in msgs)
    assert any("split over 2 features" in m and "星子镇" in m for m in msgs)


def test_gaps_and_overlaps_measured_not_fixed():
    # 3 × 0.1° strip on the equator; towns 0 and 1 overlap by 0.001°, a 0.01° hole below
    geoms = [box(0, 0, 0.1, 0.1), box(0.099, 0, 0.2, 0.1), box(0, 0.1, 0.2, 0.2),
             box(0, -0.1, 0.05, 0), box(0.06, -0.1, 0.2, 0), box(0, -0.2, 0.2, -0.1)]
    gdf = _gdf(geoms)
    go = gaps_and_overlaps(gdf, labels=list("ABCDEF"))
    km_per_deg = 111.32  # at the equator, WGS84: 1° of longitude ≈ 111.32 km
    ov = go[go["kind"] == "overlap"]
    assert list(ov["features"]) == ["A;B"]
    npt.assert_allclose(ov["area_km2"], [0.001 * 0.1 * km_per_deg * 110.57], rtol=0.01)
    gap = go[go["kind"] == "gap"]
    assert len(gap) == 1
    npt.assert_allclose(gap["area_km2"], [0.01 * 0.1 * km_per_deg * 110.57], rtol=0.01)
    assert set(gap["features"].iloc[0].split(";")) == {"A", "D", "E", "F"}
    assert gdf.geometry.equals(gpd.GeoSeries(geoms, crs=4326))  # input untouched


def test_label_point_is_inside_a_u_shaped_town():
    u = Polygon([(0, 0), (3, 0), (3, 3), (2, 3), (2, 1), (1, 1), (1, 3), (0, 3)])
    gdf = _gdf([shapely.affinity.translate(shapely.affinity.scale(u, .01, .01, origin=(0, 0)),
                                           113, 23)])
    assert not gdf.geometry.iloc[0].contains(gdf.to_crs(3857).centroid.to_crs(4326).iloc[0])
    lab = label_points(gdf)
    assert gdf.geometry.iloc[0].contains(shapely.Point(lab["label_lon"][0], lab["label_lat"][0]))


def test_overlap_of_a_town_inside_another_and_touching_towns_are_not_overlaps():
    # B lies inside A (interiors meet, but not an "overlaps" relation); C only touches A
    geoms = [box(0, 0, 0.2, 0.2), box(0.05, 0.05, 0.1, 0.1), box(0.2, 0, 0.3, 0.2),
             box(0.3, 0.2, 0.4, 0.3)]  # D touches C at one corner
    go = gaps_and_overlaps(_gdf(geoms), labels=list("ABCD"))
    assert list(go["kind"]) == ["overlap"]
    assert list(go["features"]) == ["A;B"]
    npt.assert_allclose(go["area_km2"], [0.05 * 0.05 * 111.32 * 110.57], rtol=0.01)


def test_gaps_and_overlaps_in_a_coverage_whose_towns_mostly_fit():
    # a 3 × 3 grid of 0.1° cells sharing their edges exactly, the centre missing (a gap
    # enclosed by towns that all fit their neighbours); then a duplicate of the first
    # cell and a town inside the last: each an overlap, found among 40 fitting towns
    cells = [box(x / 10, y / 10, (x + 1) / 10, (y + 1) / 10)
             for y in range(3) for x in range(3) if (x, y) != (1, 1)]
    far = [box(1 + x / 10, 0, 1 + (x + 1) / 10, 0.1) for x in range(32)]   # a fitting row
    geoms = cells + far + [box(0, 0, 0.1, 0.1), box(0.22, 0.22, 0.28, 0.28)]
    labels = [f"c{i}" for i in range(len(cells))] + [f"r{i}" for i in range(len(far))] \
        + ["dup", "inner"]
    go = gaps_and_overlaps(_gdf(geoms), labels=labels)
    ov = go[go["kind"] == "overlap"]
    assert sorted(ov["features"]) == ["c0;dup", "c7;inner"]
    npt.assert_allclose(sorted(ov["area_km2"]), sorted([0.06 * 0.06 * 111.32 * 110.57,
                                                        0.1 * 0.1 * 111.32 * 110.57]),
                        rtol=0.01)
    gap = go[go["kind"] == "gap"]
    assert len(gap) == 1
    npt.assert_allclose(gap["area_km2"], [0.01 * 111.32 * 110.57], rtol=0.01)
    # every town touching the hole, the duplicate too (at the corner)
    assert set(gap["features"].iloc[0].split(";")) == {f"c{i}" for i in range(8)} | {"dup"}
    npt.assert_allclose(gap[["lon", "lat"]].to_numpy()[0], [0.15, 0.15], atol=0.05)
