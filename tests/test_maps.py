"""Unit tests of geo.maps / geo.mapelements (no browser: see test_map_browser.py)."""

from __future__ import annotations

import base64
import gzip
import json
import re

import folium
import folium.plugins
import geopandas as gpd
import numpy as np
import pytest
import shapely
from numpy.testing import assert_allclose, assert_array_equal
from shapely.geometry import Polygon, box

from geo.errors import InputError, TowntypeError
from geo.maps import (available_layers, classify_values, drop_specks, encode_geometries,
                      save_map, simplify_coverage, town_map)

PALETTE = {
    "strong": {"zh": "强镇", "en": "Strong", "color": "#d62728"},
    "specialised": {"zh": "专业镇", "en": "Specialised", "color": "#1f77b4"},
    "characteristic": {"zh": "特色镇", "en": "Characteristic", "color": "#2ca02c"},
    "developing": {"zh": "发展中", "en": "Developing", "color": "#999999"},
    "specialised/industrial": {"zh": "专业镇·工业", "en": "Sp · ind", "color": "#08519c"},
    "specialised/agricultural": {"zh": "专业镇·农业", "en": "Sp · agri", "color": "#6baed6"},
    "characteristic/tourism": {"zh": "特色镇·文旅", "en": "Ch · tour", "color": "#74c476"},
    "characteristic/ecological": {"zh": "特色镇·生态", "en": "Ch · eco", "color": "#006d2c"},
}


def six_towns() -> gpd.GeoDataFrame:
    """Six 0.1° squares in a 3 × 2 grid near Lianzhou (shared edges)."""
    geoms = [box(112.3 + 0.1 * (i % 3), 24.7 + 0.1 * (i // 3),
                 112.4 + 0.1 * (i % 3), 24.8 + 0.1 * (i // 3)) for i in range(6)]
    return gpd.GeoDataFrame({
        "town_code": [f"4418820{i:02d}" for i in range(6)],
        "town": ["连州镇", "西岸镇", "保安镇", "丰阳镇", "东陂镇", "星子镇"],
        "county": ["连州市"] * 6,
        "category": ["strong", "specialised", "specialised", "characteristic",
                     "characteristic", "developing"],
        "subtype": ["", "industrial", "agricultural", "tourism", "ecological", ""],
        "composite": [80.0, 60.0, 50.0, 40.0, 30.0, 20.0],
        "rank": [1, 2, 3, 4, 5, 6],
        "score_industry": [70.0, 90.0, 20.0, 10.0, 15.0, np.nan],
        "stability": [0.9, 0.7, 0.5, 0.95, 0.85, 0.3],
        "cluster": [0, 1, 1, 2, 2, 0],
        "cluster_name": ["城镇型", "工业型", "工业型", "生态型", "生态型", "城镇型"],
        "declared": ["强镇", "专业镇", "", "", "特色镇", ""],
        "declared_status": ["supported", "not supported", "", "", "partly supported", ""],
        "benchmarks": ["", "保安镇;丰阳镇", "", "", "", ""],
    }, geometry=geoms, crs=4326)


def payload(m) -> dict:
    """The map's data as the page carries it: JSON, or gzip in base64 (large maps)."""
    html = m if isinstance(m, str) else m.get_root().render()
    found = re.search(r'<script type="([^"]+)" id="[^"]+_data">(.*?)</script>', html, re.S)
    assert found, "no map payload in the page"
    if found.group(1) == "application/json":
        return json.loads(found.group(2))
    assert found.group(1) == "application/x-towntype+gzip;base64"
    return json.loads(gzip.decompress(base64.b64decode(found.group(2))).decode("utf-8"))


def popup_cols(data: dict) -> dict:
    return {c["label"]: c for c in data["popup"]["cols"]}


def layer(data: dict, lid: str) -> dict:
    return next(d for d in data["layers"] if d["id"] == lid)


# ------------------------------------------------------------------ classification
def test_quantiles_hand_computed():
    bins, cls = classify_values([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, np.nan], "quantiles", 5)
    assert_allclose(bins, [2.8, 4.6, 6.4, 8.2, 10.0])
    assert_array_equal(cls, [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, -1])


def test_fisher_jenks_finds_the_gaps():
    bins, cls = classify_values([1, 2, 3, 10, 11, 12, 30], "fisher_jenks", 3)
    assert_allclose(bins, [3, 12, 30])
    assert_array_equal(cls, [0, 0, 0, 1, 1, 1, 2])


def test_user_breaks_add_the_maximum():
    bins, cls = classify_values([5, 25, 45, 99], "user", breaks=[20, 40, 60])
    assert_allclose(bins, [20, 40, 60, 99])
    assert_array_equal(cls, [0, 1, 2, 3])


def test_unknown_scheme_lists_the_valid_ones():
    with pytest.raises(InputError, match="fisher_jenks"):
        classify_values([1, 2], "jenks")


def test_user_scheme_without_breaks_says_how():
    with pytest.raises(InputError, match="needs breaks"):
        classify_values([1, 2], "user")


# ------------------------------------------------------------------------ geometry
def test_encode_is_quantised_delta_and_drops_closing_point():
    enc = encode_geometries([box(0, 0, 0.001, 0.002)], precision=3)
    # box ring starts at (1, 0) going counter-clockwise; closing point dropped
    assert enc == [[[[1, 0, 0, 2, -1, 0, 0, -2]]]]


def test_encode_keeps_holes_and_multipolygons():
    donut = box(0, 0, 4, 4).difference(box(1, 1, 2, 2))
    multi = shapely.MultiPolygon([box(10, 0, 11, 1), box(12, 0, 13, 1)])
    enc = encode_geometries([donut, multi], precision=0)
    assert [len(p) for p in enc[0]] == [2]     # one polygon, exterior + hole
    assert len(enc[1]) == 2                     # two polygons
    # deltas run through the feature: absolute start of 2nd polygon = sum of all before
    flat = [v for poly in enc[1] for ring in poly for v in ring]
    xs = np.cumsum(flat[0::2])
    assert xs[4] in (12, 13)


def test_encode_drops_parts_that_collapse_when_rounded():
    tiny = box(5, 5, 5.000001, 5.000001)            # smaller than 1e-5 degree
    multi = shapely.MultiPolygon([tiny, box(0, 0, 0.00002, 0.00001)])
    enc = encode_geometries([multi, box(1, 1, 1.00001, 1.00001)], precision=5)
    assert enc == [[[[2, 0, 0, 1, -2, 0, 0, -1]]], [[[100001, 100000, 0, 1, -1, 0, 0, -1]]]]


def test_specks_are_dropped_but_a_town_keeps_its_largest_part():
    speck = box(2, 2, 2.0001, 2.0001)                  # 1e-8 square degrees
    town = shapely.MultiPolygon([speck, box(0, 0, 1, 1)])
    tiny_town = box(5, 5, 5.0001, 5.0001)
    out = drop_specks([town, tiny_town], 1e-6)
    assert out[0].equals(box(0, 0, 1, 1))
    assert out[1].equals(tiny_town)


def test_coverage_simplify_keeps_shared_edges():
    # two cells sharing a wiggly edge: simplification must keep it shared
    wiggle = [(1 + 0.001 * ((i % 2) * 2 - 1), i / 50) for i in range(51)]
    left = Polygon([(0, 0)] + wiggle + [(0, 1)])
    right = Polygon([(2, 0), (2, 1)] + wiggle[::-1])
    out = simplify_coverage([left, right], 0.01)
    assert shapely.get_num_coordinates(out[0]) < shapely.get_num_coordinates(left)
    assert shapely.area(shapely.intersection(out[0], out[1])) == pytest.approx(0, abs=1e-12)
    assert shapely.union(out[0], out[1]).area == pytest.approx(2.0, abs=1e-9)
    assert bool(shapely.coverage_is_valid(out))


def test_coverage_simplify_cleans_a_near_coverage_first():
    # the right cell's shared edge lacks the left cell's wiggle vertices and overlaps it by
    # a hair: not a valid coverage, yet the simplified cells must not overlap
    wiggle = [(1 + 0.001 * ((i % 2) * 2 - 1), i / 50) for i in range(51)]
    left = Polygon([(0, 0)] + wiggle + [(0, 1)])
    right = Polygon([(2, 0), (2, 1), (0.9995, 1), (0.9995, 0)])
    assert not bool(shapely.coverage_is_valid([left, right]))
    out = simplify_coverage([left, right], 0.01)
    assert bool(shapely.coverage_is_valid(out))
    assert shapely.area(shapely.intersection(out[0], out[1])) == pytest.approx(0, abs=1e-9)


# ----------------------------------------------------------------------------- map
def test_page_is_self_contained():
    html = town_map(six_towns(), palette=PALETTE, title="测试").get_root().render()
    assert "Leaflet 1.9.4" in html
    assert not re.search(r"<(script|link)[^>]+(src|href)=", html)
    for cdn in ("cdn.", "jsdelivr", "cloudflare", "bootstrapcdn", "jquery", "unpkg"):
        assert cdn not in html.lower()
    assert "url(images/" not in html      # Leaflet's CSS images are data URIs


def test_geometry_stored_once_and_all_layers_present():
    towns = six_towns()
    data = payload(town_map(towns, palette=PALETTE, title="t"))
    assert data["n"] == 6 and len(data["geom"]) == 6
    ids = [d["id"] for d in data["layers"]]
    assert ids == ["category", "subtype", "composite", "score_industry", "cluster",
                   "stability", "declared"]
    assert ids == available_layers(towns)
    for d in data["layers"]:
        assert len(d["classes"]) == 6 and "geom" not in d


def test_category_legend_counts():
    data = payload(town_map(six_towns(), palette=PALETTE, title="t"))
    legend = {e["label"]: e["count"] for e in layer(data, "category")["legend"]}
    assert legend == {"强镇": 1, "专业镇": 2, "特色镇": 2, "发展中": 1}
    assert layer(data, "category")["classes"] == [0, 1, 1, 2, 2, 3]


def test_subtype_layer_uses_category_slash_subtype_colours():
    data = payload(town_map(six_towns(), palette=PALETTE, title="t", lang="en"))
    sub = layer(data, "subtype")
    colours = [sub["legend"][c]["color"] for c in sub["classes"]]
    assert colours == ["#d62728", "#08519c", "#6baed6", "#74c476", "#006d2c", "#999999"]


def test_stability_marks_uncertain_towns():
    data = payload(town_map(six_towns(), palette=PALETTE, title="t"))
    st = layer(data, "stability")
    keys = [st["legend"][c]["key"] for c in st["classes"]]
    assert keys == ["stable", "moderate", "uncertain", "stable", "stable", "uncertain"]
    uncertain = next(e for e in st["legend"] if e["key"] == "uncertain")
    assert uncertain["count"] == 2 and uncertain["dash"]


def test_declared_not_supported_layer():
    data = payload(town_map(six_towns(), palette=PALETTE, title="t"))
    dec = layer(data, "declared")
    counts = {e["key"]: e["count"] for e in dec["legend"]}
    assert counts == {"supported": 1, "partly supported": 1, "not supported": 1, "": 3}


def test_user_breaks_and_missing_scores():
    data = payload(town_map(six_towns(), palette=PALETTE, title="t",
                            layers=["category", {"id": "score_industry", "scheme": "user",
                                                 "breaks": [50]}]))
    ind = layer(data, "score_industry")
    assert ind["breaks"] == [50.0, 90.0]
    assert ind["classes"] == [1, 1, 0, 0, 0, -1]
    assert ind["missing"] == 1
    assert [e["count"] for e in ind["legend"]] == [3, 2]


def test_cluster_names_in_legend():
    data = payload(town_map(six_towns(), palette=PALETTE, title="t"))
    labels = [e["label"] for e in layer(data, "cluster")["legend"]]
    assert labels == ["0 · 城镇型", "1 · 工业型", "2 · 生态型"]


def test_search_keys_popup_evidence_and_links():
    data = payload(town_map(six_towns(), palette=PALETTE, title="t", suggestion_links=True))
    assert data["props"]["pinyin"][0] == "lianzhouzhen"
    assert data["props"]["initials"][1] == "xaz"
    assert data["links"] == "suggestions/{town_code}.html"
    # the evidence is columnar: numbers as numbers, repeated text once (formatted by
    # towntype.js: see test_map_browser.py)
    info = popup_cols(data)
    assert info["综合排名"]["kind"] == "rank" and info["综合排名"]["v"][1] == 2
    assert info["综合排名"]["n"] == 6
    assert info["工业得分"]["v"][0] == 70 and info["工业得分"]["v"][5] is None
    assert info["类别置信度"]["v"][2] == 0.5
    bench = info["对标镇街"]
    assert [bench["dict"][i] for i in bench["v"][1]] == ["保安镇", "丰阳镇"]
    assert bench["v"][0] == []
    clusters = info["聚类"]
    assert clusters["dict"] == ["城镇型", "工业型", "生态型"]
    assert clusters["v"] == [0, 1, 1, 2, 2, 0]


def test_title_notice_attribution_and_basemap_recorded():
    m = town_map(six_towns(), palette=PALETTE, title="清远市镇街分类", notice="示意数据",
                 attribution=["Town seats © GeoNames (CC BY 4.0)"], date="2026-01-02")
    html = m.get_root().render()
    for text in ("清远市镇街分类", "示意数据", "GeoNames (CC BY 4.0)", "2026-01-02",
                 "无（离线）", "WGS84"):
        assert text in html
    assert payload(m)["meta"] == {"basemap": "none", "display_datum": "wgs84",
                                  "data_datum": "wgs84"}


def test_gaode_shifts_display_geometry_to_gcj02():
    from geo.datum import wgs84_to_gcj02

    towns = six_towns()
    plain = payload(town_map(towns, palette=PALETTE, title="t", tolerance=0))
    gaode = payload(town_map(towns, palette=PALETTE, title="t", basemap="gaode", tolerance=0))
    assert gaode["meta"]["display_datum"] == "gcj02"
    # first vertex of the first town: (112.4, 24.7), stored as absolute integers
    x0, y0 = np.array(plain["geom"][0][0][0][:2]) / 1e5
    x1, y1 = np.array(gaode["geom"][0][0][0][:2]) / 1e5
    assert_allclose([x0, y0], [112.4, 24.7])
    ex, ey = wgs84_to_gcj02(112.4, 24.7)
    assert_allclose([x1, y1], [ex, ey], atol=1e-5)
    assert abs(x1 - x0) > 1e-3             # a shift of hundreds of metres, not noise
    assert "autonavi" in town_map(towns, palette=PALETTE, title="t",
                                  basemap="gaode").get_root().render()
    assert gaode["fillOpacity"] < plain["fillOpacity"]     # tiles show through


def test_tianditu_needs_a_key():
    with pytest.raises(InputError, match="--tianditu-key"):
        town_map(six_towns(), palette=PALETTE, title="t", basemap="tianditu")
    html = town_map(six_towns(), palette=PALETTE, title="t", basemap="tianditu",
                    basemap_key="abc123").get_root().render()
    assert "tk=abc123" in html


def test_unknown_basemap_names_the_flag():
    with pytest.raises(InputError, match=r"--basemap.*|osm, gaode"):
        town_map(six_towns(), palette=PALETTE, title="t", basemap="google")


def test_missing_palette_colour_is_named():
    pal = {k: v for k, v in PALETTE.items() if k != "developing"}
    with pytest.raises(InputError, match="'developing'.*no colour in the palette"):
        town_map(six_towns(), palette=pal, title="t")


def test_projected_crs_is_refused_with_the_fix():
    with pytest.raises(InputError, match=r"to_crs\(4326\)"):
        town_map(six_towns().to_crs(3857), palette=PALETTE, title="t")


def test_missing_columns_are_named():
    with pytest.raises(InputError, match="column 'category'"):
        town_map(six_towns().drop(columns="category"), palette=PALETTE, title="t")
    with pytest.raises(InputError, match="needs column 'cluster'"):
        town_map(six_towns().drop(columns="cluster"), palette=PALETTE, title="t",
                 layers=["category", "cluster"])
    with pytest.raises(InputError, match="unknown map layer 'score_magic'"):
        town_map(six_towns(), palette=PALETTE, title="t", layers=["score_magic"])


def test_point_towns_are_refused_with_the_way_out():
    towns = six_towns()
    towns.loc[2, "geometry"] = shapely.Point(112.5, 24.75)
    with pytest.raises(InputError, match=r"feature 2.*'保安镇'.*Point, not a polygon"):
        town_map(towns, palette=PALETTE, title="t")


def test_counties_are_encoded_once():
    counties = gpd.GeoDataFrame({"county": ["连州市"]}, geometry=[box(112.3, 24.7, 112.6, 24.9)],
                                crs=4326)
    data = payload(town_map(six_towns(), palette=PALETTE, title="t", counties=counties))
    assert len(data["counties"]["geom"]) == 1


def test_save_map_writes_utf8_and_refuses_cdn_links(tmp_path):
    m = town_map(six_towns(), palette=PALETTE, title="清远")
    path = save_map(m, tmp_path / "out" / "map.html")
    assert "清远" in path.read_text(encoding="utf-8")
    bad = town_map(six_towns(), palette=PALETTE, title="t")
    folium.plugins.Fullscreen().add_to(bad)   # links its JS from a CDN
    with pytest.raises(TowntypeError, match="from the network"):
        save_map(bad, tmp_path / "bad.html")


def test_element_names_are_deterministic():
    a = town_map(six_towns(), palette=PALETTE, title="t", date="2026-01-01")
    b = town_map(six_towns(), palette=PALETTE, title="t", date="2026-01-01")
    assert a.get_root().render() == b.get_root().render()


def test_key_indicators_in_popup_with_rank():
    towns = six_towns().assign(gdp=[500000.0, 120000.0, 80000.0, 3000.0, 2.5, np.nan])
    data = payload(town_map(towns, palette=PALETTE, title="t",
                            indicators={"gdp": "地区生产总值（万元）"}))
    gdp = popup_cols(data)["地区生产总值（万元）"]
    assert gdp["kind"] == "value"
    assert gdp["v"] == [500000, 120000, 80000, 3000, 2.5, None]
    with pytest.raises(InputError, match="popup indicator 'gpd'"):
        town_map(towns, palette=PALETTE, title="t", indicators=["gpd"])


def test_category_legend_leaves_out_role_colours_and_empty_categories():
    pal = {**PALETTE, "central": {"zh": "中心镇", "en": "Central", "color": "#8c564b"}}
    towns = six_towns()
    towns.loc[5, "category"] = "strong"
    data = payload(town_map(towns, palette=pal, title="t"))
    labels = [e["label"] for e in layer(data, "category")["legend"]]
    assert labels == ["强镇", "专业镇", "特色镇"]


def _decode(geom: list, scale: float) -> shapely.Geometry:
    """Python mirror of towntype.decode (the payload format is documented)."""
    x = y = 0
    polys = []
    for poly in geom:
        rings = []
        for ring in poly:
            pts = []
            for dx, dy in zip(ring[0::2], ring[1::2]):
                x, y = x + dx, y + dy
                pts.append((x / scale, y / scale))
            rings.append(pts)
        polys.append(Polygon(rings[0], rings[1:]))
    return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)


def test_displayed_towns_still_tile_without_gaps_or_overlaps():
    # staircase towns: 0.01° grid squares given to the nearest of 40 seeds and merged,
    # so every shared edge is a long zigzag that simplification must treat alike on
    # both sides (simplifying each town on its own would leave gaps and overlaps)
    rng = np.random.default_rng(3)
    seeds = rng.uniform(0, 1, (40, 2)) * [0.8, 0.6]
    ix, iy = (a.ravel() for a in np.meshgrid(np.arange(80), np.arange(60)))
    owner = np.argmin(((ix[:, None] / 100 - seeds[:, 0]) ** 2
                       + (iy[:, None] / 100 - seeds[:, 1]) ** 2), axis=1)
    # corners from integers, so neighbours share bit-identical coordinates
    squares = shapely.box(11300 + ix, 2300 + iy, 11301 + ix, 2301 + iy)
    squares = shapely.transform(squares, lambda c: c / 100)
    cells = np.array([shapely.coverage_union_all(squares[owner == k]) for k in range(40)],
                     dtype=object)
    assert bool(shapely.coverage_is_valid(cells))
    n = len(cells)
    towns = gpd.GeoDataFrame({"town_code": [f"{i:09d}" for i in range(n)],
                              "town": [f"镇{i}" for i in range(n)],
                              "category": ["developing"] * n}, geometry=cells, crs=4326)
    data = payload(town_map(towns, palette=PALETTE, title="t", tolerance=0.02))
    shown = np.array([_decode(g, data["scale"]) for g in data["geom"]], dtype=object)
    assert shapely.get_num_coordinates(shown).sum() < shapely.get_num_coordinates(cells).sum() / 2
    assert bool(shapely.coverage_is_valid(shown))
    assert shapely.union_all(shown).area == pytest.approx(0.8 * 0.6, rel=0.02)


def test_a_shared_coverage_gives_the_same_map_and_keeps_its_simplification():
    from geo.coverage import DisplayCoverage

    towns = six_towns()
    coverage = DisplayCoverage(towns.geometry)
    shared = payload(town_map(towns, palette=PALETTE, title="t", coverage=coverage,
                              tolerance=0.01))
    alone = payload(town_map(towns, palette=PALETTE, title="t", tolerance=0.01))
    assert shared["geom"] == alone["geom"] and shared["labels"] == alone["labels"]
    assert coverage.finest(0.02) is coverage.simplified(0.01)   # there for the static map
    with pytest.raises(InputError, match="coverage has 5 polygons for 6 towns"):
        town_map(towns, palette=PALETTE, title="t",
                 coverage=DisplayCoverage(towns.geometry[:5]))


def test_template_syntax_in_names_and_titles_is_shown_as_written():
    towns = six_towns()
    towns.loc[0, "town"] = "{{ 6 * 7 }}镇"
    html = town_map(towns, palette=PALETTE, title="{% raw %}标题{{ 1 + 1 }}",
                    notice="{# 注 #}").get_root().render()
    assert "{{ 6 * 7 }}镇" in html and "42镇" not in html
    assert "{{ 1 + 1 }}" in html and "{% raw %}" in html and "{# 注 #}" in html


def test_no_layer_for_a_dimension_without_data():
    """Issue 13: a dimension no town has data for was offered as an all-grey layer; one
    some towns lack keeps its layer, those towns shown as no data."""
    towns = six_towns().assign(score_tourism=np.nan)
    data = payload(town_map(towns, palette=PALETTE, title="t"))
    ids = [d["id"] for d in data["layers"]]
    assert "score_tourism" not in ids and "score_tourism" not in available_layers(towns)
    ind = layer(data, "score_industry")
    assert ind["classes"][5] == -1 and data["i18n"]["no_data"] == "无数据"


def test_unknown_keys_are_shown_as_unknown_and_linked_by_sheet_name():
    towns = six_towns()
    towns["town_code"] = towns["town_code"].astype(object)
    towns.loc[1, "town_code"] = None
    towns.loc[2, "county"] = np.nan
    towns["sheet"] = ["441882000", "unknown_2", "441882002", "441882003", "441882004",
                      "441882005"]
    data = payload(town_map(towns, palette=PALETTE, title="t", suggestion_links=True))
    props = data["props"]
    assert props["code"][1] == "未知代码（unknown code）"
    county = props["county"]           # county names once, an index per town
    assert county["dict"][county["v"][2]] == "未知县区（unknown county）"
    assert props["sheet"][1] == "unknown_2"
    assert "nan" not in props["code"] + county["dict"]


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("scheme", ["quantiles", "fisher_jenks", "equal_interval"])
def test_fewer_distinct_values_than_classes_is_quiet(scheme):
    """One or two towns: no mapclassify warning on the console."""
    for values in ([5.0], [5.0, 5.0], [1.0, 2.0], [1.0, np.nan, 1.0]):
        bins, cls = classify_values(values, scheme, k=5)
        assert bins.size <= 2 and (cls[~np.isnan(values)] >= 0).all()


# ------------------------------------------------------------------ issue 15: no holes
def _two_unjoined() -> gpd.GeoDataFrame:
    """Two boundary features east of the six towns, with no table row."""
    return gpd.GeoDataFrame({
        "town_code": ["441882100", "441882101"], "town": ["龙坪镇", "大路边镇"],
        "county": ["连州市", "连州市"],
        "reason": ["无指标数据：未在指标表中找到", ""],
    }, geometry=[box(112.6, 24.7, 112.7, 24.8), box(112.6, 24.8, 112.7, 24.9)], crs=4326)


def test_unjoined_features_are_drawn_grey_with_their_reason_and_counted():
    data = payload(town_map(six_towns(), palette=PALETTE, title="t",
                            unjoined=_two_unjoined()))
    assert data["n"] == 8 and data["unjoined"] == 2
    # drawn (they have geometry) but in no class of any layer: the no-data grey
    assert all(len(g) for g in data["geom"][6:])
    for lay in data["layers"]:
        assert lay["classes"][6:] == [-1, -1], lay["id"]
        # the six towns are still all in the legend; the two are not "no data" towns
        assert sum(e["count"] for e in lay["legend"]) + lay["missing"] == 6, lay["id"]
    assert layer(data, "category")["missing"] == 0
    # the declared layer has an entry for "" (未自评): the unjoined are not counted there
    assert next(e for e in layer(data, "declared")["legend"] if e["key"] == "")["count"] == 3
    reason = data["props"]["reason"]
    texts = [reason["dict"][i] if i >= 0 else "" for i in reason["v"]]
    assert texts[:6] == [""] * 6
    assert texts[6] == "无指标数据：未在指标表中找到"
    assert texts[7].startswith("无指标数据：未在指标表中找到")   # the default reason
    assert data["i18n"]["no_row"].startswith("无指标数据")
    assert data["props"]["name"][6:] == ["龙坪镇", "大路边镇"]


def test_a_coverage_must_include_the_unjoined_features():
    from geo.coverage import DisplayCoverage

    towns = six_towns()
    with pytest.raises(InputError, match="unjoined"):
        town_map(towns, palette=PALETTE, title="t", unjoined=_two_unjoined(),
                 coverage=DisplayCoverage(towns.geometry))


# ------------------------------------------------------- layers that mean something
def test_a_dimension_without_data_is_no_layer_and_no_popup_row():
    towns = six_towns().assign(score_tourism=np.nan,
                               score_ecology=[50.0, np.nan, np.nan, 20.0, 10.0, np.nan])
    data = payload(town_map(towns, palette=PALETTE, title="t"))
    ids = [d["id"] for d in data["layers"]]
    assert "score_tourism" not in ids and "score_ecology" in ids
    assert layer(data, "score_ecology")["missing"] == 3
    labels = popup_cols(data)
    assert "文旅得分" not in labels and "生态得分" in labels


def test_popup_indicators_carry_unit_and_dimension_group():
    towns = six_towns().assign(gdp=[5e5, 1.2e5, 8e4, 3e3, 2.5, np.nan],
                               forest=[60.1, 70.25, np.nan, 80.0, 75.5, 66.0])
    data = payload(town_map(towns, palette=PALETTE, title="t", indicators={
        "gdp": {"label": "地区生产总值（万元）", "unit": "万元", "group": "综合实力"},
        "forest": {"label": "森林覆盖率（%）", "unit": "%", "group": "生态"}}))
    cols = popup_cols(data)
    assert cols["地区生产总值（万元）"]["unit"] == "万元"
    assert cols["地区生产总值（万元）"]["group"] == "综合实力"
    assert cols["森林覆盖率（%）"]["v"] == [60.1, 70.25, None, 80, 75.5, 66]
    # in the order given, after the scores
    order = [c["label"] for c in data["popup"]["cols"]]
    assert order.index("地区生产总值（万元）") < order.index("森林覆盖率（%）")
    assert order.index("综合得分") < order.index("地区生产总值（万元）")


# -------------------------------------------------------------------- compact payload
def test_large_payloads_are_gzip_and_read_back_the_same():
    towns = six_towns()
    plain = town_map(towns, palette=PALETTE, title="t", compress=False)
    packed = town_map(towns, palette=PALETTE, title="t", compress=True)
    html = packed.get_root().render()
    assert 'type="application/x-towntype+gzip;base64"' in html
    assert payload(packed) == payload(plain)
    # the same towns give the same bytes (no time stamp in the gzip header)
    assert html == town_map(towns, palette=PALETTE, title="t", compress=True) \
        .get_root().render()
    # small maps stay plain JSON by default
    assert 'type="application/json"' in plain.get_root().render()


def test_county_names_and_label_points_are_in_the_payload():
    counties = six_towns().dissolve("county").reset_index()[["county", "geometry"]]
    data = payload(town_map(six_towns(), palette=PALETTE, title="t", counties=counties))
    assert data["counties"]["names"] == ["连州市"]
    x, y = data["counties"]["labels"][0]
    assert 112.3 < x / data["scale"] < 112.6 and 24.7 < y / data["scale"] < 24.9


def test_sheet_names_are_stored_only_when_they_are_not_the_codes():
    towns = six_towns()
    same = payload(town_map(towns.assign(sheet=towns["town_code"]), palette=PALETTE,
                            title="t", suggestion_links=True))
    assert "sheet" not in same["props"]            # the link uses the code
    other = towns.assign(sheet=list(towns["town_code"][:5]) + ["unknown_1"])
    data = payload(town_map(other, palette=PALETTE, title="t", suggestion_links=True))
    assert data["props"]["sheet"][5] == "unknown_1"


def test_a_town_without_a_written_sheet_gets_no_link_but_the_command_that_makes_it():
    # --sheets county=… (or a national run): only some sheets exist; no dead links
    towns = six_towns()
    names = [f"{c}_{n}" for c, n in zip(towns["town_code"], towns["town"])]
    made = [True, True, False, True, False, True]
    m = town_map(towns.assign(sheet=names, has_sheet=made), palette=PALETTE, title="t",
                 suggestion_links=True)
    data = payload(m)
    assert data["props"]["sheet"] == [n if ok else "" for n, ok in zip(names, made)]
    assert "towntype sheets" in data["i18n"]["no_sheet"]
    assert "{county}" in data["i18n"]["no_sheet"]


def test_a_warning_of_the_geometry_thread_is_not_lost_under_fisher_jenks(monkeypatch):
    """Fisher-Jenks silences mapclassify's "Numba not installed" with a process-wide
    filter; a warning the geometry thread gives meanwhile ("not a clean coverage") must
    still reach the user.  The two threads are made to meet inside Fisher-Jenks."""
    import threading
    import warnings

    import geo.maps as maps

    inside, said = threading.Event(), threading.Event()
    geometry, mapclassify_bins = maps._geometry_payload, maps._mapclassify_bins

    def slow_geometry(*args):
        inside.wait(2)          # until the other thread is inside Fisher-Jenks, if it can be
        warnings.warn("town polygons are not a clean coverage (test)", UserWarning)
        said.set()
        return geometry(*args)

    def meeting(name):
        def bins(*args):
            inside.set()
            said.wait(2)
            return mapclassify_bins(name)(*args)
        return bins

    monkeypatch.setattr(maps, "_geometry_payload", slow_geometry)
    monkeypatch.setattr(maps, "_mapclassify_bins", meeting)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        town_map(six_towns(), palette=PALETTE, title="t", scheme="fisher_jenks",
                 layers=["composite"])
    assert said.is_set()
    assert any("not a clean coverage (test)" in str(w.message) for w in caught)
