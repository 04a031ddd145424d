"""Tests of classify.demo_data: the seeded illustrative demo indicator table."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from classify.demo_data import (HEADERS, demo_towns, generate_demo_indicators, main,
                                write_demo_indicators)
from geo.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
BOUNDARIES = ROOT / "data" / "boundaries" / "qingyuan_towns.geojson"
BUNDLED_CSV = ROOT / "data" / "indicators" / "qingyuan_towns_demo.csv"
DECLARED = {"综合实力强镇", "工业专业镇", "农业专业镇", "商贸专业镇", "文旅特色镇", "生态特色镇"}


def _design_headers() -> list[str]:
    """Headers as docs/DESIGN.md's indicator table prescribes: name（unit）, flag bare."""
    text = (ROOT / "docs" / "DESIGN.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| [a-z_]+ \| (\S+) \| ([^|]+?) \| \w+ \| [+−-] \|$", text, re.M)
    assert len(rows) == 28
    return [name if "flag" in unit else f"{name}（{unit}）" for name, unit in rows]


@pytest.fixture(scope="module")
def towns():
    return demo_towns(BOUNDARIES)


@pytest.fixture(scope="module")
def table(towns):
    return generate_demo_indicators(towns, seed=2023)


@pytest.fixture
def five_towns():
    return pd.DataFrame({
        "town_code": ["990101001", "990101100", "990101101", "990201100", "990201200"],
        "town": ["中心街道", "甲镇", "乙镇", "丙镇", "丁瑶族乡"],
        "county_code": ["990101", "990101", "990101", "990201", "990201"],
        "county": ["甲区", "甲区", "甲区", "乙县", "乙县"],
        "lon": [113.1, 113.2, 113.0, 112.4, 112.3],
        "lat": [23.7, 23.8, 23.9, 24.8, 24.9],
    })


def test_same_seed_same_table_and_other_seeds_differ(five_towns):
    a = generate_demo_indicators(five_towns, seed=7)
    b = generate_demo_indicators(five_towns.iloc[::-1], seed=7)  # input order irrelevant
    pd.testing.assert_frame_equal(a, b)
    c = generate_demo_indicators(five_towns, seed=8)
    assert not a[HEADERS["gdp"]].equals(c[HEADERS["gdp"]])
    assert list(a["统计代码"]) == sorted(five_towns["town_code"])


def test_no_global_random_state_is_touched(five_towns):
    np.random.seed(0)
    before = np.random.random()
    np.random.seed(0)
    generate_demo_indicators(five_towns, seed=1)
    assert np.random.random() == before


def test_every_design_header_is_present_in_order(table):
    expected = _design_headers()
    assert list(table.columns) == ["统计代码", "乡镇", "所属县区", *expected, "自评类别"]
    assert set(table["省级以上园区"]) == {"是", "否"}


def test_all_85_units_including_daping(table):
    assert len(table) == 85
    assert table["统计代码"].str.fullmatch(r"\d{9}").all() and table["统计代码"].is_unique
    assert "大坪镇" in set(table["乡镇"])
    assert table.loc[table["乡镇"] == "大坪镇", "所属县区"].item() == "连南瑶族自治县"
    assert not table.drop(columns="自评类别").isna().any().any()


def test_declared_only_for_lianzhou(table):
    lz = table["所属县区"] == "连州市"
    assert lz.sum() == 12
    assert set(table.loc[lz, "自评类别"]) <= DECLARED
    assert len(set(table.loc[lz, "自评类别"])) >= 5
    assert (table.loc[~lz, "自评类别"] == "").all()


def test_shares_in_range_and_consistent(table):
    pri, sec = table[HEADERS["primary_share"]], table[HEADERS["secondary_share"]]
    assert pri.between(0, 100).all() and sec.between(0, 100).all()
    assert (pri + sec <= 100).all()
    for key in ("forest_cover", "protected_share"):
        assert table[HEADERS[key]].between(0, 100).all(), key
    # gross industrial output = GDP × secondary share × 2.6–3.4 × 0.5–0.85
    ratio = table[HEADERS["industrial_output"]] / (table[HEADERS["gdp"]] * sec / 100)
    assert ratio.between(2.6 * 0.5 * 0.99, 3.4 * 0.85 * 1.01).all()
    # tourism revenue (万元) = visitors (万人次) × spend per visit (元)
    spend = table[HEADERS["tourism_revenue"]] / table[HEADERS["tourists"]]
    assert spend.between(270, 720).all()
    counts = ["industrial_firms", "markets", "a_scenic_spots", "schools", "health_beds"]
    for key in counts:
        v = table[HEADERS[key]]
        assert (v >= 0).all() and (v == np.round(v)).all(), key


def test_lianzhou_gdp_sums_to_the_reported_total(table):
    lz = table.loc[table["所属县区"] == "连州市", HEADERS["gdp"]]
    assert lz.sum() == pytest.approx(1_803_900.0, abs=12 * 0.05)


@pytest.fixture(scope="module")
def many(towns):
    # averages over a few seeds so the cue checks test structure, not one draw
    return pd.concat([generate_demo_indicators(towns, seed=s) for s in range(5)])


def test_streets_have_lower_primary_share_than_towns(many):
    street = many["乡镇"].str.endswith("街道")
    assert many.loc[street, HEADERS["primary_share"]].mean() < \
        many.loc[~street, HEADERS["primary_share"]].mean() - 10


def test_mountain_counties_have_more_forest(many):
    mountain = many["所属县区"].isin(["连州市", "连南瑶族自治县", "连山壮族瑶族自治县", "阳山县"])
    assert many.loc[mountain, HEADERS["forest_cover"]].mean() > \
        many.loc[~mountain, HEADERS["forest_cover"]].mean() + 10


def test_nearness_to_the_delta_raises_industry(many):
    south = many["所属县区"].isin(["清城区", "清新区", "佛冈县"])
    north = many["所属县区"].isin(["连州市", "连南瑶族自治县", "连山壮族瑶族自治县"])
    assert many.loc[south, HEADERS["secondary_share"]].mean() > \
        many.loc[north, HEADERS["secondary_share"]].mean() + 10


def test_ethnic_units_draw_more_visitors_per_resident(many):
    ethnic = many["乡镇"].str.contains("族乡") | many["所属县区"].str.contains("族")
    per_head = many[HEADERS["tourists"]] * 1e4 / many[HEADERS["population"]]
    assert per_head[ethnic].mean() > 1.5 * per_head[~ethnic].mean()


def test_lianzhou_profiles_show(many):
    lz = many[many["所属县区"] == "连州市"].groupby("乡镇").mean(numeric_only=True)
    assert lz[HEADERS["secondary_share"]].idxmax() == "九陂镇"
    assert lz[HEADERS["gdp"]].idxmax() == "连州镇"
    assert lz[HEADERS["primary_share"]].idxmax() == "保安镇"
    assert lz[HEADERS["heritage_items"]].idxmax() == "丰阳镇"
    assert lz[HEADERS["retail_sales"]].idxmax() == "连州镇"


def test_missing_columns_and_positions_are_errors(five_towns):
    with pytest.raises(InputError, match=r"lacks the column\(s\) lat.*demo_towns\(\)"):
        generate_demo_indicators(five_towns.drop(columns="lat"))
    bad = five_towns.assign(lon=[113.1, np.nan, 113.0, 112.4, 112.3])
    with pytest.raises(InputError, match=r"town 甲镇 \(990101100\) has no position"):
        generate_demo_indicators(bad)


def test_write_is_byte_identical_with_bom_and_provenance(tmp_path):
    s1 = write_demo_indicators(BOUNDARIES, tmp_path / "a" / "demo.csv")
    write_demo_indicators(BOUNDARIES, tmp_path / "b" / "demo.csv")
    one, two = (tmp_path / "a" / "demo.csv").read_bytes(), (tmp_path / "b" / "demo.csv").read_bytes()
    assert one == two and one.startswith(b"\xef\xbb\xbf")
    assert s1["rows"] == 85 and s1["with_boundary"] == 84 and s1["without_boundary"] == "大坪镇"
    back = pd.read_csv(tmp_path / "a" / "demo.csv", dtype={"统计代码": str}, encoding="utf-8-sig",
                       keep_default_na=False)
    assert back.columns[3] == "地区生产总值（万元）" and len(back) == 85
    prov = (tmp_path / "a" / "PROVENANCE.md").read_text(encoding="utf-8")
    assert "ILLUSTRATIVE, NOT OFFICIAL STATISTICS" in prov and "seed **2023**" in prov


def test_bundled_table_matches_a_fresh_generation(tmp_path, capsys):
    assert main(["--boundaries", str(BOUNDARIES), "--out", str(tmp_path / "t.csv")]) == 0
    assert "rows: 85" in capsys.readouterr().out
    assert (tmp_path / "t.csv").read_bytes() == BUNDLED_CSV.read_bytes(), (
        "data/indicators/qingyuan_towns_demo.csv is stale: rerun python -m classify.demo_data")


def test_cli_names_a_missing_town_list(tmp_path, capsys):
    code = main(["--boundaries", str(BOUNDARIES), "--out", str(tmp_path / "t.csv"),
                 "--towns", str(tmp_path / "nope.csv")])
    assert code == 2
    assert "official town list was not found; pass it with --towns" in capsys.readouterr().err


def test_bundled_county_demo_files_match_a_fresh_generation(tmp_path, capsys):
    """python -m classify.demo_county rebuilds the county demo's bundled files byte for byte."""
    from classify.demo_county import COUNTY_DEMO, main as county_main

    raw = ROOT / "data" / "raw"
    for key in COUNTY_DEMO:
        (tmp_path / COUNTY_DEMO[key]).parent.mkdir(parents=True, exist_ok=True)
    assert county_main(["--counties", str(raw / "guangdong_counties_gcj02.geojson"),
                        "--typical", str(raw / "guangdong_typical_counties_2023.csv"),
                        "--data", str(tmp_path)]) == 0
    assert "122 county-level units; table 122 rows" in capsys.readouterr().out
    for key, name in COUNTY_DEMO.items():
        assert (tmp_path / name).read_bytes() == (ROOT / "data" / name).read_bytes(), name
