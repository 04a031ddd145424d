"""The unit level as data (issue 19): registry, codes, keys, county runs, the county demo,
the typical counties as designations, and the village level end to end on synthetic data."""

import re
import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import MultiPoint, Point, box

from classify.levels import add_group_ranks, infer_level, level, levels, rekey_table
from classify.pipeline import RunOptions, run_pipeline, summary_lines
from geo.codes import (UnitKeys, check_code_type, code_digits, code_type, normalise_code,
                       parse_codes)
from geo.errors import InputError
from geo.published import PublishedNames, load_county_aliases
from geo.read import read_boundaries
from geo.tables import read_table

ROOT = Path(__file__).parent.parent


# ----------------------------------------------------------------------------- registry
def test_registry_has_the_three_levels_with_their_codes_and_defaults():
    reg = levels()
    assert set(reg) == {"town", "county", "village"}
    assert (reg["town"].code_digits, reg["county"].code_digits, reg["village"].code_digits) == (9, 6, 12)
    assert reg["county"].zh == "县（市、区）" and reg["town"].zh == "镇街"
    assert (reg["town"].taxonomy, reg["county"].taxonomy, reg["village"].taxonomy) == (
        "guangdong", "county", "village")
    assert reg["town"].indicator_config() is None          # the built-in town default
    assert reg["county"].indicator_config().name == "indicators_county.toml"


def test_the_four_regions_hold_guangdongs_21_cities_once_each():
    region = level("county").groups[0]
    assert region.id == "region" and region.source
    members = region.members
    assert {k: len(v) for k, v in members.items()} == {"珠三角": 9, "粤东": 4, "粤西": 3, "粤北": 5}
    cities = [c for v in members.values() for c in v]
    assert len(set(cities)) == 21
    assert region.of("441882") == "粤北"      # 连州 (清远)
    assert region.of("440306") == "珠三角"    # 宝安 (深圳)
    assert region.of("445281") == "粤东"      # 普宁 (揭阳)
    assert region.of("440882") == "粤西"      # 雷州 (湛江)
    assert region.of("450102") is None        # not Guangdong


def test_unknown_level_names_the_choices():
    with pytest.raises(InputError, match="unknown level 'province'.*town, county, village"):
        level("province")
    with pytest.raises(InputError, match="unknown level"):
        RunOptions(boundaries=Path("b"), indicators=Path("t"), level="province")


# ----------------------------------------------------------------------------- codes
def test_county_codes_are_read_at_six_digits():
    assert normalise_code("441882", 6) == "441882"
    assert normalise_code(441882.0, 6) == "441882"
    assert normalise_code("441882000000", 6) == "441882"
    with pytest.raises(ValueError, match="9 digits: a town code, not a county-level code"):
        normalise_code("441882100", 6)
    # towns unchanged: a 6-digit code is still refused as a town code
    with pytest.raises(ValueError, match="a county code, not a town code"):
        normalise_code("441882")
    with pytest.raises(InputError, match=r"1 county-level code\(s\) cannot be read — row 3"):
        parse_codes(["441882", "4418"], digits=6, rows=[2, 3])


def test_code_lengths_of_a_column():
    assert code_digits(["441882", "440103", None, ""]) == 6
    assert code_digits(["441882100", "441882100000"]) == 9
    assert code_digits(["441882100201", "441882100202"]) == 12
    assert code_digits(["441882", "441882100"]) is None
    assert code_digits(["abc"]) is None


def test_county_type_digits_against_the_name_suffix():
    assert code_type("440103") == "市辖区"      # 荔湾区
    assert code_type("441823") == "县"          # 阳山县
    assert code_type("441882") == "县级市"      # 连州市
    assert code_type("441900") is None          # 东莞: a city's own code, not checked
    assert check_code_type("441882", "连州市") is None
    assert check_code_type("441826", "连南瑶族自治县") is None
    assert check_code_type("441403", "梅县区") is None
    msg = check_code_type("441803", "连州市")
    assert "type digits 03 (市辖区)" in msg and "县级市" in msg
    # town codes keep their own check
    assert check_code_type("441882201", "连州镇") is not None
    assert check_code_type("441882100", "某某区") is None


def test_counties_resolve_by_name_with_renames():
    names = PublishedNames(aliases=load_county_aliases(ROOT / "data/designations/county_aliases.csv"),
                           prefer={"44"})
    r = names.resolve_county("连州市", city="清远市")
    assert (r.status, r.town_code, r.town, r.county_code, r.county) == (
        "town", "441882", "连州市", "4418", "清远市")
    assert names.resolve_county("梅县").town_code == "441403"        # 撤县设区, alias list
    assert names.resolve_county("台山县").town_code == "440781"      # 县 → 市 rule
    assert names.resolve_county("清远市连州市").town_code == "441882"
    assert names.resolve_county("441882").town == "连州市"
    assert names.resolve_county("不存在县").status == "unresolved"


# ----------------------------------------------------------------------------- tables
def _csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_level_inferred_from_the_codes_of_the_table(tmp_path):
    county = read_table(_csv(tmp_path / "c.csv", "县区代码,县区,地区生产总值（亿元）\n"
                                                  "441882,连州市,180\n441823,阳山县,120\n"))
    assert infer_level(county)[0].id == "county"
    coded = read_table(_csv(tmp_path / "c2.csv", "区划代码,名称,地区生产总值（亿元）\n"
                                                 "441882,连州市,180\n441823,阳山县,120\n"))
    assert infer_level(coded)[0].id == "county"
    names_only = read_table(_csv(tmp_path / "c3.csv", "县（市、区）,地区生产总值（亿元）\n"
                                                      "连州市,180\n阳山县,120\n"))
    assert infer_level(names_only)[0].id == "county"
    town = read_table(_csv(tmp_path / "t.csv", "统计代码,乡镇,县区代码,地区生产总值（万元）\n"
                                               "441882100,连州镇,441882,1\n"))
    assert infer_level(town)[0].id == "town"
    village = read_table(_csv(tmp_path / "v.csv", "统计代码,名称,常住人口（人）\n"
                                                  "441882100201,甲村,900\n441882100202,乙村,800\n"))
    lv, why = infer_level(village)
    assert lv.id == "village" and "12" in why


def test_town_table_with_its_counties_codes_in_the_code_column_is_a_town_table(tmp_path):
    # a town table whose 统计代码 holds the county's 6 digits by mistake: one code, many towns
    towns = read_table(_csv(tmp_path / "t.csv", "统计代码,乡镇,地区生产总值（万元）\n"
                                                "441882,连州镇,5\n441882,星子镇,3\n"
                                                "441823,阳城镇,4\n"))
    lv, why = infer_level(towns)
    assert lv.id == "town"
    assert "6-digit codes shared by different names in '乡镇': parent codes" in why
    repeated = read_table(_csv(tmp_path / "c.csv", "区划代码,名称,地区生产总值（亿元）\n"
                                                   "441882,连州市,180\n441882,连州市,181\n"))
    assert infer_level(repeated)[0].id == "county"     # the same county twice: still counties


def test_a_county_table_is_rekeyed_unit_and_parent(tmp_path):
    table = read_table(_csv(tmp_path / "c.csv", "县区代码,县区,地市,地区生产总值（亿元）\n"
                                                "441882,连州市,清远市,180\n"))
    keyed = rekey_table(table, level("county"))
    assert keyed.keys["code"] == "县区代码" and keyed.keys["name"] == "县区"
    assert keyed.keys["county"] == "地市"        # the parent sits in the county slot
    assert keyed.data["县区代码"].tolist() == ["441882"]


def test_town_codes_in_a_county_code_column_name_the_row(tmp_path):
    table = read_table(_csv(tmp_path / "c.csv", "县区代码,县区,地区生产总值（亿元）\n"
                                                "441882,连州市,180\n441882100,连州镇,5\n"))
    with pytest.raises(InputError, match=r"row 3: '441882100' has 9 digits: a town code"):
        rekey_table(table, level("county"))


def test_county_boundaries_are_keyed_by_county_and_city(tmp_path):
    gdf = gpd.GeoDataFrame({"county_code": ["441882", "441823"], "city": ["清远市", "清远市"],
                            "county": ["连州市", "阳山县"]},
                           geometry=[box(112.3, 24.7, 112.5, 24.9), box(112.5, 24.3, 112.8, 24.6)],
                           crs=4326)
    path = tmp_path / "c.geojson"
    gdf.to_file(path, driver="GeoJSON")
    with pytest.raises(InputError, match="a county-level file\\? run with --level county"):
        read_boundaries(path)
    out, _ = read_boundaries(path, unit=level("county").keys)
    assert out["town_code"].tolist() == ["441882", "441823"]
    assert out["town"].tolist() == ["连州市", "阳山县"]
    assert out["county"].tolist() == ["清远市", "清远市"]
    assert out["county_code"].tolist() == ["4418", "4418"]


def test_group_ranks_rank_within_each_region():
    frame = pd.DataFrame({"town_code": ["441882", "441823", "440103", "440104", "445281"],
                          "composite": [30.0, 40.0, 90.0, 80.0, 10.0]})
    out = add_group_ranks(frame, level("county"))
    assert out["region"].tolist() == ["粤北", "粤北", "珠三角", "珠三角", "粤东"]
    assert out["rank_region"].tolist() == [2, 1, 1, 2, 1]
    assert add_group_ranks(frame, level("town")) is frame       # towns: no groups


def test_reword_keeps_placeholders_and_replaces_at_once():
    c = level("county")
    assert c.reword("{town}（{county}）领先于本镇（优先同县、同市）") == \
        "{town}（{county}）领先于本县（优先同市、同省）"
    assert c.reword("same county, then same city: {county}", "en") == \
        "same city, then same province: {county}"
    assert level("town").reword("本镇（优先同县、同市）") == "本镇（优先同县、同市）"


# ----------------------------------------------------------------------------- county run
def _county_inputs(tmp_path: Path):
    """Six real counties as squares, in two regions; 连州 leads every indicator of 粤北."""
    counties = [("441882", "连州市", "清远市"), ("441823", "阳山县", "清远市"),
                ("441825", "连山壮族瑶族自治县", "清远市"), ("440103", "荔湾区", "广州市"),
                ("440104", "越秀区", "广州市"), ("440105", "海珠区", "广州市")]
    seats = [(112.38, 24.78), (112.64, 24.46), (112.08, 24.57), (113.24, 23.12),
             (113.27, 23.13), (113.32, 23.08)]            # near each county's seat
    geoms = [box(x - 0.01, y - 0.01, x + 0.01, y + 0.01) for x, y in seats]
    gpd.GeoDataFrame({"county_code": [c[0] for c in counties], "city": [c[2] for c in counties],
                      "county": [c[1] for c in counties]}, geometry=geoms, crs=4326
                     ).to_file(tmp_path / "counties.geojson", driver="GeoJSON")
    gdp = [300, 100, 50, 2000, 2200, 1800]          # 亿元
    rows = ["县区代码,县区,地市,地区生产总值（亿元）,一般公共预算收入（亿元）,常住人口（万人）,"
            "城镇化率（%）,城乡居民收入比（倍）"]
    for (code, name, city), g in zip(counties, gdp):
        rows.append(f"{code},{name},{city},{g},{g / 15:.2f},{40 + g / 100:.1f},"
                    f"{50 + g / 50:.1f},{2.5 - g / 2000:.2f}")
    (tmp_path / "counties.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return tmp_path / "counties.geojson", tmp_path / "counties.csv"


def test_county_run_with_no_flags_uses_the_county_defaults(tmp_path):
    b, t = _county_inputs(tmp_path)
    result = run_pipeline(RunOptions(boundaries=b, indicators=t, out=tmp_path / "out", draws=20,
                                     static_formats=()))
    said = summary_lines(result)
    # the lines that need action (what was not measured) lead; the level line follows them
    level_line = next(line for line in said if line.startswith("单元级别（unit level）"))
    assert level_line.startswith("单元级别（unit level）：县（市、区）") and "6 位代码" in level_line
    towns = pd.read_csv(tmp_path / "out/towns.csv", dtype=str, encoding="utf-8-sig")
    assert sorted(towns["town_code"]) == ["440103", "440104", "440105", "441823", "441825", "441882"]
    by = towns.set_index("town_code")
    assert by.at["441882", "county"] == "清远市" and by.at["441882", "city"] == "广东省"
    assert by.at["441882", "region"] == "粤北" and by.at["441882", "rank_region"] == "1"
    assert by.at["441825", "rank_region"] == "3"
    assert by.at["441882", "rank_county"] == "1"          # first within 清远市
    assert set(towns["category"]) <= {"leading", "advancing", "weak_base"}
    manifest = json.loads((tmp_path / "out/run.json").read_text(encoding="utf-8"))
    assert manifest["level"]["id"] == "county"
    assert manifest["options"]["taxonomy"] == "county"
    assert manifest["options"]["config"].endswith("indicators_county.toml")
    ids = set(manifest["config"]["indicator_system"]["indicators"])
    assert {"gdp", "fiscal_revenue", "urbanisation", "income_ratio"} <= ids
    sheet = next((tmp_path / "out/suggestions").glob("441882*.md")).read_text(encoding="utf-8")
    assert "本县" in sheet and "本镇" not in sheet


def test_explicit_town_level_on_a_county_table_says_what_to_do(tmp_path):
    b, t = _county_inputs(tmp_path)
    with pytest.raises(InputError, match="a county-level file\\? run with --level county"):
        run_pipeline(RunOptions(boundaries=b, indicators=t, out=tmp_path / "out", level="town",
                                draws=0, static_formats=()))


def test_no_village_demo():
    from classify.pipeline import demo_options

    with pytest.raises(InputError, match="no demo at the village level"):
        demo_options(level="village")


# ----------------------------------------------------------------------------- the demo
@pytest.fixture(scope="module")
def county_demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("county") / "out"
    proc = subprocess.run([sys.executable, "-m", "classify.cli", "demo", "--level", "county",
                           "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return out, proc.stdout + proc.stderr


@pytest.mark.slow
def test_county_demo_writes_the_output_contract_for_122_counties(county_demo):
    out, said = county_demo
    for name in ("towns.gpkg", "towns.csv", "towns.xlsx", "map.html", "map.png", "run.json",
                 "join_report.csv", "designations.csv", "designations_report.csv",
                 "suggestions/suggestions.xlsx"):
        assert (out / name).is_file(), name
    towns = pd.read_csv(out / "towns.csv", dtype=str, encoding="utf-8-sig")
    assert len(towns) == 122 and towns["town_code"].str.len().eq(6).all()
    assert "441900" not in set(towns["town_code"])          # 东莞: not a county-level unit
    assert set(towns["category"]) == {"leading", "advancing", "weak_base"}
    assert towns["region"].value_counts().to_dict().keys() == {"珠三角", "粤东", "粤西", "粤北"}
    assert "示例数据" in said and "Illustrative data" in said
    assert "单元级别（unit level）：县（市、区）（county），--level county" in said
    html = (out / "map.html").read_text(encoding="utf-8")
    for word in ("创先类", "进位类", "消薄类", "县（市、区）名称", "示例数据"):
        assert word in html
    assert len(list((out / "suggestions").glob("4*.html"))) == 122


@pytest.mark.slow
def test_the_22_typical_counties_are_joined_and_checked(county_demo):
    out, said = county_demo
    report = pd.read_csv(out / "designations_report.csv", dtype=str, encoding="utf-8-sig")
    assert (report["status"] == "matched").sum() == 22
    lianzhou = report[report["town"] == "连州市"].iloc[0]
    assert lianzhou["town_code"] == "441882"
    assert lianzhou["designation_id"] == "typical_county_weak_base"
    assert lianzhou["evidence_zh"].startswith("消薄类典型县（2023）：")
    table = pd.read_csv(out / "designations.csv", encoding="utf-8-sig").set_index("designation_id")
    assert table["designated_towns"].to_dict() == {"typical_county_advancing": 10,
                                                   "typical_county_leading": 9,
                                                   "typical_county_weak_base": 3}
    towns = pd.read_csv(out / "towns.csv", dtype=str, encoding="utf-8-sig").set_index("town_code")
    assert towns.at["441882", "designations"].startswith("消薄类典型县（2023）")
    assert "个县" in said


#: the project's byte-for-byte copy of the shared GCJ-02 county file (data/raw/SOURCES.md)
SHARED_COUNTIES = ROOT / "data/raw/guangdong_counties_gcj02.geojson"


def test_bundled_county_boundaries_are_wgs84_of_the_shared_gcj02_file():
    """Provenance check: the bundled file is the GCJ-02 source converted to WGS84 (a few
    hundred metres away from the source), minus 东莞 and 中山."""
    from geo.datum import to_wgs84

    b = gpd.read_file(ROOT / "data/boundaries/guangdong_counties.geojson").set_index("county_code")
    src = gpd.read_file(SHARED_COUNTIES).set_index("county_code")
    assert len(b) == 122 and set(src.index) - set(b.index) == {"441900", "442000"}
    metres = 3857
    for code in ("441882", "440103", "440882"):
        mine = gpd.GeoSeries([b.geometry[code].centroid], crs=4326).to_crs(metres).iloc[0]
        raw = gpd.GeoSeries([src.geometry[code].centroid], crs=4326)
        conv = to_wgs84(raw, "gcj02").to_crs(metres).iloc[0]
        assert mine.distance(conv) < 60                     # simplified, same place
        assert mine.distance(raw.to_crs(metres).iloc[0]) > 300      # shifted off GCJ-02


# ----------------------------------------------------------------------------- villages
def _village_inputs(tmp_path: Path, seed: int = 7):
    """40 generated villages of two real towns of 连州: points → Voronoi polygons; the
    village type of each follows from how it was made."""
    rng = np.random.default_rng(seed)
    n = 40
    pts = [Point(112.30 + rng.uniform(0, 0.3), 24.70 + rng.uniform(0, 0.3)) for _ in range(n)]
    frame = box(112.25, 24.65, 112.65, 25.05)
    cells = shapely.voronoi_polygons(MultiPoint(pts), extend_to=frame)
    polys = [next(c.intersection(frame) for c in cells.geoms if c.contains(p)) for p in pts]
    codes = [f"4418821{0 if i < 20 else 1:02d}{201 + i:03d}" for i in range(n)]
    names = [f"第{i + 1}村" for i in range(n)]
    expected = {}
    rows = ["村代码,村,常住人口（人）,村集体经济收入（万元）,距县城距离（公里）,传统村落,"
            "少数民族特色村寨,常住人口变化率（%）,地质灾害易发区"]
    for i, code in enumerate(codes):
        trad, ethnic, hazard, dist, change = "否", "否", "否", 15.0 + i, -5.0
        if i % 10 == 0:
            trad, expected[code] = "是", "protection"
        elif i % 10 == 1:
            ethnic, expected[code] = "是", "protection"
        elif i % 10 == 2:
            hazard, expected[code] = "是", "relocation"
        elif i % 10 == 3:
            change, expected[code] = -35.0, "relocation"
        elif i % 10 == 4:
            dist, expected[code] = 2.0, "suburban"
        else:
            expected[code] = "agglomeration"
        rows.append(f"{code},{names[i]},{800 + 10 * i},{5 + i},{dist},{trad},{ethnic},"
                    f"{change},{hazard}")
    (tmp_path / "villages.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    gpd.GeoDataFrame({"村代码": codes, "村": names}, geometry=polys, crs=4326).to_file(
        tmp_path / "villages.geojson", driver="GeoJSON")
    return tmp_path / "villages.geojson", tmp_path / "villages.csv", expected


def test_village_level_end_to_end_on_generated_villages(tmp_path):
    b, t, expected = _village_inputs(tmp_path)
    result = run_pipeline(RunOptions(boundaries=b, indicators=t, out=tmp_path / "out", draws=20,
                                     static_formats=()))
    assert summary_lines(result)[0].startswith("单元级别（unit level）：村（village）")
    towns = pd.read_csv(tmp_path / "out/towns.csv", dtype=str, encoding="utf-8-sig")
    assert len(towns) == 40 and towns["town_code"].str.len().eq(12).all()
    got = dict(zip(towns["town_code"], towns["category"]))
    assert got == expected
    # the parent of a village is its town, named from the national table
    by = towns.set_index("town_code")
    assert by.at["441882100201", "county_code"] == "441882100"
    assert by.at["441882100201", "county"] == "连州镇"
    assert by.at["441882100201", "city"] == "连州市"
    manifest = json.loads((tmp_path / "out/run.json").read_text(encoding="utf-8"))
    assert manifest["level"]["id"] == "village" and manifest["options"]["taxonomy"] == "village"


def test_county_names_from_before_a_rename_join_by_name(tmp_path):
    """撤市设区 / 撤县设区: a table still saying 从化市 and 梅县 joins 从化区 and 梅县区;
    a different county of the same stem length does not."""
    from geo.join import join_towns

    gdf = gpd.GeoDataFrame({"county_code": ["440117", "441403", "441402"],
                            "city": ["广州市", "梅州市", "梅州市"],
                            "county": ["从化区", "梅县区", "梅江区"]},
                           geometry=[box(113.5, 23.5, 113.6, 23.6), box(116.0, 24.2, 116.1, 24.3),
                                     box(116.1, 24.3, 116.2, 24.4)], crs=4326)
    gdf.to_file(tmp_path / "c.geojson", driver="GeoJSON")
    keys = level("county").keys
    b, _ = read_boundaries(tmp_path / "c.geojson", unit=keys)
    table = rekey_table(read_table(_csv(tmp_path / "t.csv", "县区,地市,地区生产总值（亿元）\n"
                                                          "从化市,广州市,400\n梅县,梅州市,200\n")),
                        level("county"))
    joined, report = join_towns(b, table, unit=keys)
    assert dict(zip(joined["town"], joined["地区生产总值"])) == {"从化区": 400.0, "梅县区": 200.0}
    assert report.attrs["counts"]["table"]["matched"] == 2


def test_init_on_a_county_table_starts_from_the_county_preset(tmp_path):
    from classify.config import load_system
    from classify.pipeline import init_config

    t = _csv(tmp_path / "c.csv", "县区代码,县区,城乡居民收入比（倍）,规上工业增加值（亿元）\n"
                                 "441882,连州市,2.1,30\n441823,阳山县,2.4,20\n")
    out, lines = init_config(t, tmp_path / "towntype.toml")
    assert lines[0].startswith("单元级别（unit level）：县（市、区）")
    assert "  城乡居民收入比 → income_ratio" in lines
    system = load_system(out)
    assert {"income_ratio", "industrial_value_added"} <= {i.id for i in system.indicators}


def test_demo_years_is_a_town_demo(tmp_path, capsys):
    from classify.cli import main

    assert main(["demo", "--years", "--level", "county", "--out", str(tmp_path / "o")]) == 2
    assert "demo --years is a town demo" in capsys.readouterr().err


# ------------------------------------------- region ranks and the wording of a county run
def test_console_lines_follow_the_level_but_never_inside_names():
    c = level("county")
    assert c.say("1 gap(s) between towns, 1.047 km² in all; not changed") == \
        "1 gap(s) between counties, 1.047 km² in all; not changed"
    assert c.say("样本少于 20 个镇街，未做离群值处理（outlier treatment skipped）") == \
        "样本少于 20 个县（市、区），未做离群值处理（outlier treatment skipped）"
    # a column name, a file name, a path and a flag keep their words
    assert c.say("town code field '县区代码' in towns.csv, /tmp/towns/x or --towns") == \
        "county code field '县区代码' in towns.csv, /tmp/towns/x or --towns"
    assert level("town").say("1 gap(s) between towns") == "1 gap(s) between towns"


@pytest.fixture(scope="module")
def county_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("countyrun")
    b, t = _county_inputs(tmp)
    said: list[str] = []
    result = run_pipeline(RunOptions(boundaries=b, indicators=t, out=tmp / "out", draws=20,
                                     static_formats=()), log=said.append)
    return tmp / "out", result, said


def test_region_rank_is_in_the_county_sheet_and_the_map_popup(county_run):
    from tests.test_maps import payload, popup_cols

    out, _, _ = county_run
    for ext in ("md", "html"):
        sheet = next((out / "suggestions").glob(f"441825*.{ext}")).read_text(encoding="utf-8")
        assert "区域排名" in sheet and "粤北 第3/3" in sheet     # 连山: third of three in 粤北
    cols = popup_cols(payload((out / "map.html").read_text(encoding="utf-8")))
    col = cols["区域排名"]
    towns = pd.read_csv(out / "towns.csv", dtype=str, encoding="utf-8-sig")
    row = towns.index[towns["town_code"] == "440104"][0]
    assert col["dict"][col["v"][row]] == f"珠三角 第{towns.at[row, 'rank_region']}/3"


def test_county_wording_of_workbook_index_and_console(county_run):
    from openpyxl import load_workbook

    out, result, said = county_run
    heads = [c.value for c in load_workbook(out / "towns.xlsx", read_only=True)
             [level("county").zh][1]]
    assert {"县（市、区）", "地市", "地市代码", "省", "市内排名", "区域", "区域内排名"} <= set(heads)
    assert not any(w in str(h) for h in heads for w in ("镇街", "乡镇", "县内", "县区"))
    index = (out / "suggestions/index.html").read_text(encoding="utf-8")
    assert "共 6 个县（市、区）" in index and "搜索县（市、区）、代码、地市或类别" in index
    assert "镇街" not in index
    notes = [n["zh"] for n in result.manifest["scoring"]["not_measured"]]
    assert any(n.startswith("样本少于 20 个县（市、区）") for n in notes)
    assert not any("镇街" in line for line in said + notes)


def test_towntype_sheets_on_a_county_run_speaks_of_counties_and_cities(county_run, tmp_path,
                                                                       capsys):
    import shutil

    from classify.cli import main

    run = tmp_path / "run"
    shutil.copytree(county_run[0], run)
    assert main(["sheets", str(run), "--county", "清远市"]) == 0
    said = capsys.readouterr()
    assert "自评表（sheets）：3 个县（市、区） →" in said.out + said.err
    assert main(["sheets", str(run), "--county", "连州市"]) == 2     # a county, not a city
    said = capsys.readouterr()
    text = said.out + said.err
    assert "此地市没有县（市、区）（no counties in this city）；运行中的地市（cities in the run, 2）" \
        in text and "镇街" not in text and "Traceback" not in text


# ------------------------------------------------------------- the datum of county files
BUNDLED_COUNTIES = ROOT / "data/boundaries/guangdong_counties.geojson"


def test_infer_datum_recognises_shifted_counties_and_leaves_wgs84_alone():
    from geo.datum import from_wgs84, infer_datum

    ref = gpd.read_file(BUNDLED_COUNTIES)
    gcj = infer_datum(from_wgs84(ref, "gcj02"), ref, key="county_code")
    assert gcj.datum == "gcj02" and gcj.n == 122
    assert 300 < gcj.metres_as_read < 900 and gcj.metres_converted < 30   # centroids shifted, not shapes
    assert infer_datum(from_wgs84(ref, "bd09"), ref, key="county_code").datum == "bd09"
    assert infer_datum(ref, ref, key="county_code") is None
    two = from_wgs84(ref.head(2), "gcj02")             # too few in common: no guess
    assert infer_datum(two, ref, key="county_code") is None


def _gcj02_counties(tmp_path: Path) -> tuple[Path, Path]:
    """The shared file's situation: real county boundaries in GCJ-02 (made from the
    project's WGS84 counties) and a county table with ordinary headers."""
    from geo.datum import from_wgs84

    ref = gpd.read_file(BUNDLED_COUNTIES)
    ref = ref[ref["county_code"].str.startswith(("4418", "4401"))]
    from_wgs84(ref, "gcj02").to_file(tmp_path / "guangdong_counties.geojson", driver="GeoJSON")
    rng = np.random.default_rng(3)
    pd.DataFrame({"县区代码": ref["county_code"], "县区": ref["county"],
                  "地区生产总值": rng.uniform(50, 3000, len(ref)).round(1),
                  "一般公共预算收入": rng.uniform(5, 200, len(ref)).round(1),
                  "常住人口": rng.uniform(20, 200, len(ref)).round(1),
                  "城镇化率": rng.uniform(30, 95, len(ref)).round(1)}
                 ).to_csv(tmp_path / "table.csv", index=False)
    return tmp_path / "guangdong_counties.geojson", tmp_path / "table.csv"


def test_gcj02_county_boundaries_are_recognised_and_said(tmp_path):
    b, t = _gcj02_counties(tmp_path)
    result = run_pipeline(RunOptions(boundaries=b, indicators=t, out=tmp_path / "auto",
                                     draws=0, static_formats=()))
    said = summary_lines(result)
    line = next(x for x in said if x.startswith("坐标系推断为 GCJ-02"))
    assert "datum inferred: gcj02" in line and "--datum wgs84" in line
    assert result.manifest["datum"]["inferred"] == "gcj02"
    assert result.manifest["reading"]["boundaries"]["datum"] == "gcj02"
    ref = gpd.read_file(BUNDLED_COUNTIES).set_index("county_code")
    got = gpd.read_file(tmp_path / "auto/towns.gpkg").set_index("town_code")
    metres = 3857
    for code in ("441882", "440103"):
        a = gpd.GeoSeries([got.geometry[code].centroid], crs=4326).to_crs(metres).iloc[0]
        r = gpd.GeoSeries([ref.geometry[code].centroid], crs=4326).to_crs(metres).iloc[0]
        assert a.distance(r) < 5                         # back where the counties are

    # an explicit --datum wins: no inference, the coordinates are taken as they are
    result = run_pipeline(RunOptions(boundaries=b, indicators=t, out=tmp_path / "wgs",
                                     datum="wgs84", draws=0, static_formats=()))
    assert "datum" not in result.manifest
    assert not any("datum inferred" in x for x in summary_lines(result))
    got = gpd.read_file(tmp_path / "wgs/towns.gpkg").set_index("town_code")
    a = gpd.GeoSeries([got.geometry["441882"].centroid], crs=4326).to_crs(metres).iloc[0]
    r = gpd.GeoSeries([ref.geometry["441882"].centroid], crs=4326).to_crs(metres).iloc[0]
    assert a.distance(r) > 300


@pytest.mark.parametrize("city", ["as_given", "short", "none"])
def test_gcj02_county_boundaries_without_codes_are_recognised_by_name(tmp_path, city):
    """A county file with names only (no code column): the datum is inferred by matching
    the names (within the city when the file names cities the same way), and said so."""
    b, t = _gcj02_counties(tmp_path)
    gdf = gpd.read_file(b).drop(columns=["county_code"])
    if city == "short":                     # "广州" for "广州市": matched by county name alone
        gdf["city"] = gdf["city"].str.removesuffix("市")
    elif city == "none":
        gdf = gdf.drop(columns=["city"])
    gdf.to_file(tmp_path / "names.geojson", driver="GeoJSON")
    result = run_pipeline(RunOptions(boundaries=tmp_path / "names.geojson", indicators=t,
                                     out=tmp_path / "out", draws=0, static_formats=()))
    line = next(x for x in summary_lines(result) if x.startswith("坐标系推断为 GCJ-02"))
    assert "按名称（name）比对 19 个" in line and "--datum wgs84" in line
    assert result.manifest["datum"]["inferred"] == "gcj02"
    ref = gpd.read_file(BUNDLED_COUNTIES).set_index("county_code")
    got = gpd.read_file(tmp_path / "out/towns.gpkg").set_index("town_code")
    a = gpd.GeoSeries([got.geometry["441882"].centroid], crs=4326).to_crs(3857).iloc[0]
    r = gpd.GeoSeries([ref.geometry["441882"].centroid], crs=4326).to_crs(3857).iloc[0]
    assert a.distance(r) < 5


def test_wgs84_county_boundaries_without_codes_get_no_datum_guess(tmp_path):
    ref = gpd.read_file(BUNDLED_COUNTIES)
    ref = ref[ref["county_code"].str.startswith(("4418", "4401"))]
    ref.drop(columns=["county_code"]).to_file(tmp_path / "names.geojson", driver="GeoJSON")
    _, t = _gcj02_counties(tmp_path)
    result = run_pipeline(RunOptions(boundaries=tmp_path / "names.geojson", indicators=t,
                                     out=tmp_path / "out", draws=0, static_formats=()))
    assert "datum" not in result.manifest
    assert result.manifest["reading"]["boundaries"]["datum"] == "wgs84"
    assert not any("坐标系推断为" in x for x in summary_lines(result))


def test_unshifted_or_unrelated_county_boundaries_get_no_datum_guess(county_run):
    _, result, said = county_run          # squares at the seats: far from every county shape
    assert "datum" not in result.manifest and result.manifest["reading"]["boundaries"]["datum"] == "wgs84"
    assert not any("datum inferred" in x for x in said + summary_lines(result))


# ------------------------------------------------- a county's towns in a finished town run
def _town_run(folder: Path) -> Path:
    """A finished town run as a county run finds it: towns.csv, run.json (level town), two
    sheets and the index (one town of 连州 has no sheet: it links to the index)."""
    (folder / "suggestions").mkdir(parents=True)
    pd.DataFrame({"town_code": ["441882100", "441882101", "441823101"],
                  "town": ["连州镇", "星子镇", "阳城镇"],
                  "county_code": ["441882", "441882", "441823"],
                  "county": ["连州市", "连州市", "阳山县"],
                  "category_zh": ["综合实力强镇", "特色镇", "专业镇"],
                  "subtype_zh": ["", "生态", "农业"],
                  "category_en": ["strong", "distinctive", "specialised"],
                  "subtype_en": ["", "ecology", "agriculture"],
                  "stability": ["0.9", "0.55", ""]}
                 ).to_csv(folder / "towns.csv", index=False, encoding="utf-8-sig")
    (folder / "run.json").write_text(json.dumps({"level": {"id": "town"}}), encoding="utf-8")
    for name in ("441882100_连州镇", "441823101_阳城镇", "index"):
        (folder / "suggestions" / f"{name}.html").write_text("<p>sheet</p>", encoding="utf-8")
    return folder


def test_county_sheets_list_their_towns_with_working_relative_links(tmp_path):
    import re

    b, t = _county_inputs(tmp_path)
    towns_run = _town_run(tmp_path / "runs" / "towns-2024")
    out = tmp_path / "elsewhere" / "county-2024"
    run_pipeline(RunOptions(boundaries=b, indicators=t, out=out, towns=towns_run, draws=0,
                            static_formats=()))
    folder = out / "suggestions"
    html = next(folder.glob("441882*.html")).read_text(encoding="utf-8")
    assert "七、下辖镇街" in html
    rows = re.findall(r'<tr data-code="(\d+)"><td><a href="([^"]+)">([^<]+)</a></td>'
                      r'<td>\d+</td><td>([^<]+)</td><td class="n">(?:<span[^>]*>)?([^<]+)', html)
    assert [(c, n, cat, conf) for c, _, n, cat, conf in rows] == [
        ("441882100", "连州镇", "综合实力强镇", "90%"), ("441882101", "星子镇", "特色镇·生态", "55%")]
    hrefs = {c: h for c, h, *_ in rows}
    assert hrefs["441882100"] == "../../../runs/towns-2024/suggestions/441882100_连州镇.html"
    assert hrefs["441882101"].endswith("suggestions/index.html")     # no sheet: the index
    for h in list(hrefs.values()) + re.findall(r'<a href="([^"]+index\.html)">全部镇街索引', html):
        assert not h.startswith("/") and (folder / h).resolve().is_file(), h
    md = next(folder.glob("441823*.md")).read_text(encoding="utf-8")
    assert "[阳城镇](../../../runs/towns-2024/suggestions/441823101_阳城镇.html)" in md
    assert "专业镇·农业" in md
    # a county with no town in that run says so
    lw = next(folder.glob("440103*.html")).read_text(encoding="utf-8")
    assert "该镇街分类运行中没有本县的镇街" in lw and 'class="children"' not in lw


def test_the_word_report_of_counties_has_the_region_rank_and_the_towns(tmp_path):
    import docx

    b, t = _county_inputs(tmp_path)
    towns_run = _town_run(tmp_path / "runs" / "towns-2024")
    out = tmp_path / "county-2024"
    run_pipeline(RunOptions(boundaries=b, indicators=t, out=out, towns=towns_run, draws=0,
                            static_formats=(), docx=True))
    doc = docx.Document(str(out / "suggestions" / "suggestions.docx"))
    text = "\n".join(p.text for p in doc.paragraphs)
    cells = {c.text for tb in doc.tables for row in tb.rows for c in row.cells}
    assert "区域排名：粤北" in text and "七、下辖镇街" in text
    assert {"连州镇", "441882100", "综合实力强镇"} <= cells
    assert "该镇街分类运行中没有本县的镇街" in text      # a county with no town in that run


def test_county_sheets_say_how_to_link_a_town_run(county_run):
    out, _, _ = county_run
    md = next((out / "suggestions").glob("441882*.md")).read_text(encoding="utf-8")
    assert "未关联镇街分类运行：运行时加 --towns 指定镇街分类运行的输出目录" in md


def test_towns_flag_names_what_is_wrong(tmp_path):
    b, t = _county_inputs(tmp_path)
    with pytest.raises(InputError, match="not a finished town run: no towns.csv"):
        run_pipeline(RunOptions(boundaries=b, indicators=t, out=tmp_path / "o1", draws=0,
                                towns=tmp_path, static_formats=()))
    county = tmp_path / "county-run"
    county.mkdir()
    (county / "towns.csv").write_text("town_code,town,county_code\n", encoding="utf-8")
    (county / "run.json").write_text(json.dumps({"level": {"id": "county"}}), encoding="utf-8")
    with pytest.raises(InputError, match="this is a county run"):
        run_pipeline(RunOptions(boundaries=b, indicators=t, out=tmp_path / "o2", draws=0,
                                towns=county, static_formats=()))
    demo = ROOT / "data"
    with pytest.raises(InputError, match="this run is at the town level: leave --towns out"):
        run_pipeline(RunOptions(boundaries=demo / "boundaries/qingyuan_towns.geojson",
                                indicators=demo / "indicators/qingyuan_towns_demo.csv",
                                out=tmp_path / "o3", draws=0, towns=_town_run(tmp_path / "t"),
                                static_formats=()))


def test_towns_flag_that_links_nothing_says_so(tmp_path):
    import shutil

    from geo.errors import InputWarning

    b, t = _county_inputs(tmp_path)
    gone = _town_run(tmp_path / "no-sheets")
    shutil.rmtree(gone / "suggestions")               # a town run whose sheets were deleted
    with pytest.warns(InputWarning, match=r"没有自评表可链接（no sheets to link to: .*no-sheets"):
        run_pipeline(RunOptions(boundaries=b, indicators=t, out=tmp_path / "o1", draws=0,
                                towns=gone, static_formats=()))
    html = next((tmp_path / "o1/suggestions").glob("441882*.html")).read_text(encoding="utf-8")
    assert "连州镇" in html                             # still listed, without a link
    other = _town_run(tmp_path / "elsewhere")          # towns of a county not in this run
    frame = pd.read_csv(other / "towns.csv", dtype=str, encoding="utf-8-sig")
    frame["county_code"] = "445102"
    frame.to_csv(other / "towns.csv", index=False, encoding="utf-8-sig")
    with pytest.warns(InputWarning, match=r"其中没有本次任何县（市、区）的镇街（no town"):
        run_pipeline(RunOptions(boundaries=b, indicators=t, out=tmp_path / "o2", draws=0,
                                towns=other, static_formats=()))


def test_towns_flag_on_run_and_demo():
    from classify.cli import build_parser

    p = build_parser()
    assert p.parse_args(["demo", "--level", "county", "--towns", "t"]).towns == Path("t")
    args = p.parse_args(["run", "--boundaries", str(BUNDLED_COUNTIES), "--indicators",
                         str(ROOT / "data/indicators/guangdong_counties_demo.csv"),
                         "--towns", "t"])
    assert args.towns == Path("t") and args.datum == "auto"


def test_dongguan_and_zhongshan_features_are_set_aside_with_the_reason(tmp_path):
    b, t = _county_inputs(tmp_path)
    gdf = gpd.read_file(b)
    extra = gpd.GeoDataFrame({"county_code": ["441900", "442000"], "city": ["东莞市", "中山市"],
                              "county": ["东莞市", "中山市"]},
                             geometry=[box(113.7, 22.9, 113.8, 23.0), box(113.3, 22.4, 113.4, 22.5)],
                             crs=4326)
    pd.concat([gdf, extra]).to_file(b, driver="GeoJSON")
    said: list[str] = []
    result = run_pipeline(RunOptions(boundaries=b, indicators=t, out=tmp_path / "out", draws=0,
                                     static_formats=()), log=said.append)
    report = pd.read_csv(tmp_path / "out/join_report.csv", dtype=str, encoding="utf-8-sig")
    dg = report[report["town_code"] == "441900"].iloc[0]
    assert dg["status"] == "excluded" and dg["reason"].startswith("东莞市为不设区的地级市")
    assert result.manifest["counts"]["join"]["boundaries"]["excluded"] == 2
    assert result.manifest["counts"]["join"]["boundaries"]["unmatched"] == 0
    lines = summary_lines(result)
    assert not any(x.startswith("需要核对") for x in lines)
    assert any("不是县（市、区），已剔除" in x and "东莞市、中山市" in x for x in said)


def test_total_and_city_subtotal_rows_of_a_county_table_are_set_aside(tmp_path):
    path = _csv(tmp_path / "t.csv",
                "县区代码,县区,地区生产总值\n"
                "440000,全省合计,9000\n"
                "440100,广州市,4000\n"
                "440103,荔湾区,1900\n"
                "440104,越秀区,2100\n"
                "441900,东莞市,1100\n"           # a city without counties: a unit row
                "441882,连州市,300\n"
                ",合计,9000\n")
    lv = level("county")
    t = rekey_table(read_table(path), lv)
    assert t.data["县区代码"].tolist() == ["440103", "440104", "441900", "441882"]
    assert t.source_rows == [4, 5, 6, 7]
    ex = t.excluded.set_index("source_row")
    assert ex.loc[2, "kind"] == "total" and ex.loc[3, "kind"] == "subtotal"
    assert "2 units under it" in ex.loc[3, "reason"]
    assert ex.loc[8, "kind"] == "total"
    assert len(t.status) == 4 and any("total/subtotal rows set aside" in m for m in t.messages)


def test_join_report_reasons_use_the_county_wording(tmp_path):
    """The join's reasons are written by geo/join.py for towns; a county run's
    join_report.csv says "county", never "town"."""
    b, t = _county_inputs(tmp_path)
    with open(t, "a", encoding="utf-8") as f:     # a county that is not in the boundaries
        f.write("441826,连南瑶族自治县,清远市,60,4.00,30.6,51.2,2.47\n")
    run_pipeline(RunOptions(boundaries=b, indicators=t, out=tmp_path / "out", draws=0,
                            static_formats=()))
    report = pd.read_csv(tmp_path / "out/join_report.csv", dtype=str, encoding="utf-8-sig")
    row = report[report["town_code"] == "441826"].iloc[0]
    assert row["status"] == "unmatched"
    assert "county" in row["reason"] and not re.search(r"\btowns?\b", row["reason"]), row["reason"]


def test_towns_run_json_that_is_no_object_counts_as_a_town_run(tmp_path):
    """A run.json holding a list (not an object) says no level: the run is taken as a town
    run, as when it has no run.json (it raised AttributeError before)."""
    from classify.levels import read_child_run

    run = tmp_path / "town-run"
    run.mkdir()
    (run / "towns.csv").write_text("town_code,town,county_code\n441802100,甲镇,441802\n",
                                   encoding="utf-8")
    (run / "run.json").write_text("[]", encoding="utf-8")
    towns = read_child_run(run, level("county"))
    assert towns["town_code"].tolist() == ["441802100"]
