"""Tests of the synthetic benchmark inputs (bench/synth.py): small n, fast."""

import numpy as np
import numpy.testing as npt
import pandas as pd
import pytest
import shapely

from bench.synth import HEADERS, _clip_cells, load_outline, make_indicators, make_towns, \
    write_inputs

# An L-shaped outline of three unit squares: area 3 by hand.
L_SHAPE = shapely.Polygon([(0, 0), (2, 0), (2, 1), (1, 1), (1, 2), (0, 2)])


def _area(towns):
    return shapely.area(towns.geometry.to_numpy())   # degrees², fine for ratios


@pytest.fixture(scope="module")
def province():
    return load_outline(region="guangdong")


@pytest.fixture(scope="module")
def towns(province):
    return make_towns(120, seed=3, outline=province)


def test_clip_keeps_inside_cells_and_clips_crossing_ones():
    inside = shapely.box(0.2, 0.2, 0.8, 0.8)
    crossing = shapely.box(0.5, 0.5, 1.5, 1.5)       # its top-right quarter is outside the L
    cells = np.array([inside, crossing], dtype=object)
    outline = shapely.Polygon(L_SHAPE)
    shapely.prepare(outline)
    out = _clip_cells(cells, outline)
    assert out[0] is inside                           # untouched, not re-intersected
    npt.assert_allclose(shapely.area(out), [0.36, 0.75])


def test_towns_tile_a_hand_made_outline():
    towns = make_towns(60, seed=0, outline=L_SHAPE)
    assert len(towns) == 60
    assert towns.geometry.is_valid.all()
    npt.assert_allclose(_area(towns).sum(), 3.0, rtol=1e-9)
    npt.assert_allclose(towns.geometry.union_all().area, 3.0, rtol=1e-9)


def test_towns_valid_no_overlaps_and_cover_the_outline(towns, province):
    assert len(towns) == 120
    assert towns.crs.to_epsg() == 4326
    assert towns.geometry.is_valid.all()
    assert set(towns.geom_type) <= {"Polygon", "MultiPolygon"}
    union = towns.geometry.union_all().area
    # no overlaps: the areas add up to the area of the union
    npt.assert_allclose(_area(towns).sum(), union, rtol=1e-6)
    npt.assert_allclose(union, province.area, rtol=0.01)


def test_codes_names_and_counties(towns):
    codes = towns["town_code"]
    assert codes.str.fullmatch(r"\d{9}").all()
    assert codes.is_unique
    assert (codes.str[6] == "1").all()                # 1xx: 镇
    assert (codes.str[:6] == towns["county_code"]).all()
    assert (codes.str[:4] == towns["city_code"]).all()
    assert towns["town"].str.endswith("镇").all()
    assert not towns.duplicated(["county", "town"]).any()
    per_county = towns.groupby("county_code").size()
    assert per_county.max() <= 55
    assert 2 <= len(per_county) <= 5                  # 120 towns, runs of 25–55


def test_deterministic_under_a_seed(province):
    a = make_towns(80, seed=7, outline=province)
    b = make_towns(80, seed=7, outline=province)
    c = make_towns(80, seed=8, outline=province)
    pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"))
    assert a.geom_equals_exact(b, tolerance=0).all()
    assert not a.geom_equals_exact(c, tolerance=1e-9).all()
    pd.testing.assert_frame_equal(make_indicators(a, seed=7), make_indicators(b, seed=7))


def test_east_is_denser_than_west():
    towns = make_towns(400, seed=0, region="china")
    lon = towns.geometry.representative_point().x
    assert (lon > 110).sum() > 3 * (lon < 100).sum()


def test_indicator_headers_units_and_ranges(towns):
    table = make_indicators(towns, seed=3, missing=0.0)
    assert list(table.columns[:3]) == ["统计代码", "乡镇", "所属县区"]
    assert list(table.columns[3:]) == list(HEADERS.values())
    assert "地区生产总值（万元）" in table.columns
    assert "森林覆盖率（%）" in table.columns
    for share in ("第二产业占比（%）", "第一产业占比（%）", "森林覆盖率（%）", "自然保护地面积占比（%）"):
        assert table[share].between(0, 100).all(), share
    assert (table["第二产业占比（%）"] + table["第一产业占比（%）"] <= 100.05).all()
    assert set(table["省级以上园区"]) <= {"是", "否"}
    gdp = table["地区生产总值（万元）"]
    assert gdp.mean() > 1.2 * gdp.median()             # right-skewed totals
    # correlated like real tables: bigger towns, more GDP
    assert np.corrcoef(np.log(table["常住人口（人）"]), np.log(gdp))[0, 1] > 0.5
    assert table.notna().all().all()


def test_write_inputs(tmp_path):
    paths = write_inputs(tmp_path, 50, seed=1)
    raw = paths["indicators"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert "统计代码,乡镇,所属县区,地区生产总值（万元）" in raw.decode("utf-8-sig").splitlines()[0]
    import geopandas as gpd
    towns = gpd.read_file(paths["boundaries"], layer="towns")
    table = pd.read_csv(paths["indicators"], dtype={"统计代码": str}, encoding="utf-8-sig")
    assert len(towns) == 50
    assert set(towns["town_code"]) == set(table["统计代码"])


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="unknown region 'mars'"):
        load_outline(region="mars")
    with pytest.raises(ValueError, match="n must be at least 2"):
        make_towns(1)


# -- the plain baselines and the report (bench/baselines.py, bench/__main__.py) -------------
def test_plain_scores_hand_computed():
    from bench.baselines import plain_scores

    ind = pd.DataFrame({"a": [0.0, 5.0, 10.0], "b": [2.0, 4.0, np.nan], "d": [30.0, 10.0, 20.0]})
    out = plain_scores(ind, {"x": [("a", "+"), ("b", "+")], "y": [("d", "-")]})
    # x: a → 0, 50, 100; b → 0, 100, missing → means 0, 75, 100.  y: d reversed → 0, 100, 50
    npt.assert_allclose(out["score_x"], [0.0, 75.0, 100.0])
    npt.assert_allclose(out["score_y"], [0.0, 100.0, 50.0])
    npt.assert_allclose(out["composite"], [0.0, 87.5, 75.0])
    npt.assert_array_equal(out["rank"], [3, 1, 2])


def test_plain_monte_carlo_keeps_a_dominant_town_first():
    from bench.baselines import plain_monte_carlo

    ind = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [1.0, 2.0, 3.0, 4.0]})
    out = plain_monte_carlo(ind, {"x": [("a", "+")], "y": [("b", "+")]}, draws=20, seed=0)
    npt.assert_array_equal(out["rank_median"], [4, 3, 2, 1])   # every draw agrees
    npt.assert_array_equal(out["rank_p05"], out["rank_p95"])


def test_headers_are_the_indicator_systems_standard_headers():
    from classify.config import load_system

    assert HEADERS == dict(load_system().headers())
