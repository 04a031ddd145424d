"""classify.indicators: recognising columns, units, derived indicators, starter config."""

import numpy as np
import pandas as pd
import pytest

from classify.config import load_system
from classify.errors import ConfigError
from classify.indicators import build_indicators, derive, recognise, write_starter_config
from geo.errors import InputError, InputWarning

# tables here often give no unit on purpose; that warning has its own test below
pytestmark = pytest.mark.filterwarnings("ignore:column .* gives no unit:geo.errors.InputWarning")


@pytest.fixture
def table():
    return pd.DataFrame({
        "统计代码": ["441882100", "441882101", "441882102", "441882103"],
        "乡镇": ["连州镇", "星子镇", "保安镇", "九陂镇"],
        "county_code": ["441882", "441882", "441881", "441881"],
        "地区生产总值（亿元）": [40.0, 10.0, 20.0, 30.0],
        "规上工业总产值": [100_000.0, 10_000.0, np.nan, 200_000.0],
        "常住人口": [8.0, 2.0, 4.0, 5.0],
        "省级以上园区": [1.0, 0.0, 0.0, 1.0],
        "森林覆盖率(%)": [50.0, 70.0, 60.0, 65.0],
        "备用列": [1, 2, 3, 4],
    })


UNITS = {"常住人口": "万人"}


def test_recognise_maps_headers_units_and_lists_the_rest(table):
    rec = recognise(table, UNITS, load_system())
    assert rec.columns == {"gdp": "地区生产总值（亿元）", "population": "常住人口",
                           "industrial_output": "规上工业总产值",
                           "industrial_park": "省级以上园区", "forest_cover": "森林覆盖率(%)"}
    assert rec.factors == {"gdp": 10_000.0, "population": 10_000.0, "industrial_output": 1.0,
                           "industrial_park": 1.0, "forest_cover": 1.0}
    assert rec.source_units["industrial_output"] is None     # none given: declared assumed
    assert rec.unrecognised == ("备用列",)
    assert set(rec.keys) == {"统计代码", "乡镇", "county_code"}
    assert "fiscal_revenue" in rec.absent and "gdp" not in rec.absent
    frame = rec.to_frame()
    assert frame.loc[frame.column == "规上工业总产值", "status"].item() == \
        "recognised, unit assumed"


def test_recognise_accepts_aliases_and_plain_column_lists():
    rec = recognise(["规模以上工业总产值", "GDP", "社零总额"], {"GDP": "亿元"})
    assert rec.columns == {"gdp": "GDP", "industrial_output": "规模以上工业总产值",
                           "retail_sales": "社零总额"}
    assert rec.factors["gdp"] == 10_000.0


def test_incompatible_unit_names_column_and_key():
    with pytest.raises(InputError, match=r"column '常住人口'.*declared in '人'"):
        recognise(["常住人口"], {"常住人口": "万元"})


def test_two_columns_for_one_indicator_is_an_error():
    with pytest.raises(InputError, match=r"both '地区生产总值' and 'GDP'.*set `column`"):
        recognise(["地区生产总值", "GDP"], {})


def test_configured_column_missing_names_the_key(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text('[dimensions.strength]\nlabel_zh = "综合实力"\n\n[indicators.gdp]\n'
                 'label_zh = "地区生产总值"\nunit = "万元"\ndimension = "strength"\n'
                 'column = "GDP合计"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="column 'GDP合计' is not in the table") as info:
        recognise(["地区生产总值"], {}, load_system(p))
    assert info.value.key == "indicators.gdp.column"


def test_build_indicators_converts_and_logs_missing(table):
    system = load_system()
    rec = recognise(table, UNITS, system)
    ind, log = build_indicators(table, rec, system)
    np.testing.assert_allclose(ind["gdp"], [400_000, 100_000, 200_000, 300_000])
    np.testing.assert_allclose(ind["population"], [80_000, 20_000, 40_000, 50_000])
    # gdp 万元 / population 人 → 元/人: 400000e4 / 80000 = 50000
    np.testing.assert_allclose(ind["gdp_per_capita"], [50_000, 50_000, 50_000, 60_000])
    # LQ against the whole input (town 3 has no industrial output: left out of the sums):
    # region share = (100000+10000+200000) / (400000+100000+300000) = 0.3875
    np.testing.assert_allclose(ind["lq_industry"],
                               [0.25 / 0.3875, 0.1 / 0.3875, np.nan, (2 / 3) / 0.3875])
    assert list(ind.index) == list(table.index)
    miss = log[log.status == "missing"]
    assert miss[["row", "indicator", "column"]].values.tolist() == [
        [2, "industrial_output", "规上工业总产值"]]
    assert log.loc[log.status == "not derivable", "indicator"].tolist() == ["lq_industry"]
    skipped = set(log.loc[log.status == "skipped", "indicator"])
    assert skipped == {"lq_agriculture", "lq_commerce", "lq_tourism"}


def test_location_quotient_per_county(table):
    system = load_system()
    ind, _ = build_indicators(table, recognise(table, UNITS, system), system)
    lq = next(d for d in system.derived if d.id == "lq_industry")
    from dataclasses import replace
    by_county, why = derive(replace(lq, reference="county"), ind, table, system)
    # county 441882: (100000+10000)/(400000+100000) = 0.22; county 441881: 200000/300000
    np.testing.assert_allclose(by_county, [0.25 / 0.22, 0.1 / 0.22, np.nan, 1.0])
    assert why[2] == "industrial_output missing"


def test_share_and_zero_denominator():
    from classify.config import Derived
    ind = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [4.0, 0.0, 6.0]})
    share, why = derive(Derived("s", "share", "a", "b", numerator_unit="万元",
                                denominator_unit="亿元"), ind)
    np.testing.assert_allclose(share, [100 * 1 / 4e4, np.nan, 100 * 3 / 6e4])
    assert why[1] == "b is 0"


def test_flags_text_and_bad_cells():
    system = load_system()
    t = pd.DataFrame({"省级以上园区": ["是", "否", ""], "地区生产总值": ["1,200", "n/a", "3"]})
    rec = recognise(t, {}, system)
    with pytest.raises(InputError, match=r"row 1, column '地区生产总值': value 'n/a' is not a"):
        build_indicators(t, rec, system)
    t.loc[1, "地区生产总值"] = "—"
    ind, log = build_indicators(t, rec, system)
    np.testing.assert_array_equal(ind["industrial_park"], [1.0, 0.0, np.nan])
    np.testing.assert_array_equal(ind["gdp"], [1200.0, np.nan, 3.0])


def test_starter_config_lists_recognised_and_unrecognised(table, tmp_path):
    path = tmp_path / "indicators.toml"
    text = write_starter_config(table, UNITS, path)
    assert 'column = "地区生产总值（亿元）"' in text
    assert "# NOT RECOGNISED: column '备用列'" in text
    assert "fiscal_revenue (一般公共预算收入)" in text        # declared but not found
    s = load_system(path)
    assert [i.id for i in s.indicators] == ["gdp", "population", "industrial_output",
                                            "industrial_park", "forest_cover"]
    assert [d.id for d in s.derived] == ["lq_industry", "gdp_per_capita"]
    # the written config recognises the same table the same way
    assert recognise(table, UNITS, s).columns == recognise(table, UNITS).columns
    with pytest.raises(ConfigError, match="file exists"):
        write_starter_config(table, UNITS, path)


def test_per_area_from_a_boundary_column():
    from classify.config import Derived
    ind = pd.DataFrame({"population": [20_000.0, 5_000.0]})
    frame = pd.DataFrame({"area_km2": [100.0, 0.0]})
    der = Derived("density", "per_area", "population", "area_km2", unit="人/平方公里",
                  denominator_unit="km2")
    vals, why = derive(der, ind, frame, load_system())
    np.testing.assert_allclose(vals, [200.0, np.nan])
    assert why[1] == "area_km2 is 0"
    # the same in 万人 per hectare: 20000 / 1e4 / (100 · 100)
    der2 = Derived("d2", "per_area", "population", "area_km2", unit="万人/公顷",
                   denominator_unit="km2")
    np.testing.assert_allclose(derive(der2, ind, frame, load_system())[0], [2.0 / 10_000, np.nan])


def test_per_person_header_unit_matches_a_plain_declared_unit():
    rec = recognise(["农村居民人均可支配收入（元/人）", "常住人口（万人）"], {})
    assert rec.columns["rural_income"] == "农村居民人均可支配收入（元/人）"
    assert rec.factors == {"rural_income": 1.0, "population": 10_000.0}


def test_user_config_derived_with_absent_input_names_the_key(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text('[dimensions.strength]\nlabel_zh = "综合实力"\n\n[indicators.gdp]\n'
                 'label_zh = "地区生产总值"\nunit = "万元"\ndimension = "strength"\n\n'
                 '[derived.gdp_pc]\nkind = "per_capita"\nnumerator = "gdp"\n'
                 'denominator = "population"\nunit = "元/人"\n', encoding="utf-8")
    system = load_system(p)
    t = pd.DataFrame({"地区生产总值": [1.0, 2.0]})
    with pytest.raises(ConfigError, match="needs 'population'") as info:
        build_indicators(t, recognise(t, {}, system), system)
    assert info.value.key == "derived.gdp_pc.denominator"


@pytest.mark.filterwarnings("error")
def test_assumed_units_and_odd_shares_warn():
    with pytest.warns(InputWarning, match=r"column '常住人口' gives no unit; taken to be in 人"):
        recognise(["常住人口"], {})
    t = pd.DataFrame({"森林覆盖率": [0.5, 0.72, 0.66], "第二产业占比": [30.0, 140.0, 20.0]})
    rec = recognise(t, {"森林覆盖率": "%", "第二产业占比": "%"})
    with pytest.warns(InputWarning) as record:
        ind, log, checks = build_indicators(t, rec, load_system(), return_checks=True)
    messages = {str(w.message).split("'")[1]: str(w.message) for w in record}
    # a share above 100 is no longer a column warning but a cell check (issue 13)
    assert set(messages) == {"森林覆盖率"}
    assert "look like fractions" in messages["森林覆盖率"]
    assert checks[["column", "value", "check"]].values.tolist() == [
        ["第二产业占比", 140.0, "share_range"]]
    np.testing.assert_allclose(ind["forest_cover"], [0.5, 0.72, 0.66])   # nothing rescaled


def test_value_checks_per_cell_impossible_missing_implausible_kept():
    """Issue 13: negative GDP, a share above 100, a value 1,000 × the median and a sector
    output below 1/1,000 of the next town's are reported per row and cell; impossible ones
    are treated as missing (and logged as invalid), implausible ones kept."""
    t = pd.DataFrame({
        "source_row": [3, 4, 5, 6, 7, 8],
        "town_code": ["441802001", "441802002", None, "441802004", "441802005", "441802006"],
        "town": ["甲镇", "乙镇", "丙镇", "丁镇", "戊镇", "己镇"],
        "地区生产总值（万元）": [-5000.0, 120000, 90000, 80000, 150000000, 70000],
        "第二产业占比（%）": [40.0, 130.0, 50.0, 45.0, 60.0, 55.0],
        "规上工业总产值（亿元）": [3.0, 0.002, 4.0, 5.0, 6.0, 2.5],
    })
    units = {c: None for c in t.columns}
    rec = recognise(t.drop(columns=["source_row"]), units, load_system())
    ind, log, checks = build_indicators(t, rec, load_system(), return_checks=True)
    got = {(r.row, r.column, r.check, r.action) for r in checks.itertuples()}
    assert got == {
        (3, "地区生产总值（万元）", "negative", "treated as missing"),
        (4, "第二产业占比（%）", "share_range", "treated as missing"),
        (7, "地区生产总值（万元）", "above_1000x_median", "kept, flagged"),
        (4, "规上工业总产值（亿元）", "below_1000x_next", "kept, flagged"),
    }
    row = checks.set_index("check").loc["negative"]
    assert row["town"] == "甲镇" and row["value"] == -5000 and "不能为负" in row["problem_zh"]
    low = checks.set_index("check").loc["below_1000x_next"]
    assert low["value"] == 0.002 and low["unit"] == "亿元"     # as written in the table
    assert np.isnan(ind.loc[0, "gdp"]) and np.isnan(ind.loc[1, "secondary_share"])
    assert ind.loc[4, "gdp"] == 150000000                     # implausible: kept
    assert ind.loc[1, "industrial_output"] == 20.0            # 0.002 亿元 = 20 万元, kept
    inv = log[log["status"] == "invalid"]
    assert sorted(inv["indicator"]) == ["gdp", "secondary_share"]
    assert set(checks.columns) >= {"row", "column", "town_code", "town", "value",
                                   "problem_zh", "problem_en", "action"}


def test_signed_indicator_may_be_negative(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text('[dimensions.strength]\nlabel_zh = "综合实力"\n\n[indicators.balance]\n'
                 'label_zh = "财政收支差额"\nunit = "万元"\ndimension = "strength"\n'
                 'signed = true\n', encoding="utf-8")
    system = load_system(p)
    t = pd.DataFrame({"财政收支差额（万元）": [-10.0, 5.0, 7.0]})
    ind, _, checks = build_indicators(t, recognise(t, {}, system), system, return_checks=True)
    assert checks.empty and ind["balance"].tolist() == [-10.0, 5.0, 7.0]


def test_county_lq_of_a_town_of_unknown_county_is_missing_with_the_reason():
    from classify.config import Derived
    frame = pd.DataFrame({"county": ["甲", "甲", None, ""], "out": [1.0, 3.0, 2.0, 5.0],
                          "gdp": [2.0, 2.0, 2.0, 5.0]})
    der = Derived(id="lq", kind="lq", numerator="out", denominator="gdp", reference="county")
    vals, why = derive(der, frame[["out", "gdp"]], frame)
    # 甲: reference 4/4 = 1 → LQ = ratio
    np.testing.assert_allclose(vals[:2], [0.5, 1.5])
    assert vals[2:].isna().all() and (why[2:] == "county unknown: no reference region").all()
