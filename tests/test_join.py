"""Join: code / county+name / name, ambiguity, crosswalk, every row in one bucket."""

import numpy as np
import numpy.testing as npt
import pandas as pd
import pytest

from geo.errors import InputError
from geo.join import REPORT_COLUMNS, join_towns, summarise_join
from geo.tables import read_table
from tests.inputs_fixtures import (QINGYUAN_TWINS, lianzhou_cells, twins_boundaries,
                                   twins_table, yearbook_workbook)


def _check_accounting(report, n_boundaries, n_table_rows):
    """Every input row in exactly one bucket; counts add up to the inputs."""
    counts = summarise_join(report)
    assert counts["boundaries"]["total"] == n_boundaries
    assert counts["table"]["total"] == n_table_rows
    for side in counts.values():
        assert sum(v for k, v in side.items() if k != "total") == side["total"]
    assert not report.duplicated(["source", "source_row"]).any()


def test_yearbook_join_by_code(tmp_path):
    t = read_table(yearbook_workbook(tmp_path / "yb.xlsx"))
    b = lianzhou_cells()
    joined, report = join_towns(b, t)
    assert list(report.columns) == REPORT_COLUMNS
    assert report.attrs["method"] == "code"
    assert len(joined) == 13 and list(joined.index) == list(range(13))
    assert joined["town"].iloc[0] == "连州镇"          # boundary name, not the 連州鎮 cell
    assert joined["town_code"].tolist() == b["town_code"].tolist()
    npt.assert_array_equal(joined["地区生产总值"], 1000.0 * np.arange(1, 14))
    assert joined.crs.to_epsg() == 4326
    _check_accounting(report, 13, 13 + 3)
    assert report.attrs["counts"]["table"] == {"matched": 13, "ambiguous": 0,
                                               "unmatched": 0, "excluded": 3, "total": 16}


def test_twins_ambiguous_without_county(tmp_path):
    t = read_table(twins_table(tmp_path / "t.csv", with_county=False))
    joined, report = join_towns(twins_boundaries(), t)
    assert report.attrs["method"] == "name"
    assert len(joined) == 0
    rows = report[report["source"] == "table"]
    assert rows["status"].tolist() == ["ambiguous"] * 4
    assert "441802106 石角镇 (清城区); 441821100 石角镇 (佛冈县)" in rows["candidates"].iloc[0]
    assert "county column" in rows["reason"].iloc[0]
    _check_accounting(report, 4, 4)


def test_twins_resolved_by_county(tmp_path):
    t = read_table(twins_table(tmp_path / "t.csv", with_county=True))
    joined, report = join_towns(twins_boundaries(), t)
    assert report.attrs["method"] == "county+name"
    assert joined["town_code"].tolist() == [c for c, *_ in QINGYUAN_TWINS]
    npt.assert_array_equal(joined["地区生产总值"], [100, 200, 300, 400])
    assert (report["status"] == "matched").all()


def test_taiping_town_is_not_taiping_township():
    b = twins_boundaries().iloc[2:3]                   # 太平镇 of 清新区
    table = pd.DataFrame({"乡镇": ["太平乡"], "GDP": [1.0]})
    joined, report = join_towns(b, table)
    assert len(joined) == 0
    assert report.set_index("source")["status"].to_dict() == {"boundaries": "unmatched",
                                                              "table": "unmatched"}


def test_names_in_traditional_and_with_long_suffix():
    b = lianzhou_cells(with_rare=False).iloc[:3].drop(columns=["town_code", "county_code"])
    table = pd.DataFrame({"乡镇": ["連州鎮", "星子镇人民政府", "大路边"], "x": [1, 2, 3]})
    joined, report = join_towns(b, table)
    assert joined["town"].tolist() == ["连州镇", "星子镇", "大路边镇"]
    npt.assert_array_equal(joined["x"], [1, 2, 3])


def test_duplicate_table_rows_are_not_joined():
    b = lianzhou_cells().iloc[:2]
    table = pd.DataFrame({"统计代码": ["441882100", "441882100", "441882101"], "x": [1, 2, 3]})
    joined, report = join_towns(b, table)
    assert joined["town_code"].tolist() == ["441882101"]
    amb = report[report["status"] == "ambiguous"]
    assert amb["source"].tolist() == ["boundaries", "table", "table"]
    assert "rows 2, 3" in amb["reason"].iloc[1]
    _check_accounting(report, 2, 3)


def test_crosswalk_merged_towns_are_summed():
    # 撤乡并镇: two old townships merged into 连州镇; the table still has the old rows
    b = lianzhou_cells().iloc[:2]
    t = read_table_frame = pd.DataFrame({
        "乡镇": ["旧甲乡", "旧乙乡", "星子镇"], "GDP（万元）": [10.0, 5.0, 7.0]})
    cw = pd.DataFrame({"原名称": ["旧甲乡", "旧乙乡"], "新代码": ["441882100", "441882100"]})
    joined, report = join_towns(b, read_table_frame, crosswalk=cw)
    assert joined["town"].tolist() == ["连州镇", "星子镇"]
    tab = report[report["source"] == "table"]
    assert tab["how"].tolist() == ["crosswalk", "crosswalk", "name"]
    assert "merged with rows 2, 3" in tab["reason"].iloc[0]


def test_crosswalk_from_file(tmp_path):
    b = lianzhou_cells().iloc[:1]
    p = tmp_path / "t.csv"
    p.write_text("乡镇,GDP（万元）\n旧甲乡,10\n旧乙乡,5\n", "utf-8")
    cw = tmp_path / "cw.csv"
    cw.write_text("原名称,新名称\n旧甲乡,连州镇\n旧乙乡,连州镇\n", encoding="gb18030")
    joined, report = join_towns(b, read_table(p), crosswalk=cw)
    npt.assert_array_equal(joined["GDP"], [15.0])      # additive unit: summed
    _check_accounting(report, 1, 2)


def test_unknown_code_falls_back_to_name_and_says_so():
    b = lianzhou_cells().iloc[:1]
    table = pd.DataFrame({"统计代码": ["441882999"], "乡镇": ["连州镇"], "x": [1]})
    joined, report = join_towns(b, table)
    row = report[report["source"] == "table"].iloc[0]
    assert row["status"] == "matched" and row["how"] == "county+name"  # county from the code
    assert "441882999 is not in the boundaries" in row["reason"]


def test_join_on_errors():
    b = lianzhou_cells().iloc[:1]
    with pytest.raises(InputError, match="unknown join method 'x'.*--join-on"):
        join_towns(b, pd.DataFrame({"乡镇": ["连州镇"]}), on="x")
    with pytest.raises(InputError, match="--join-on code: the table has no town_code"):
        join_towns(b, pd.DataFrame({"乡镇": ["连州镇"]}), on="code")
    with pytest.raises(InputError, match="share neither"):
        join_towns(b, pd.DataFrame({"foo": ["连州镇"]}))


def test_indicator_totals_add_up_over_buckets(tmp_path):
    from geo.join import indicator_totals

    t = read_table(yearbook_workbook(tmp_path / "yb.xlsx"))
    b = lianzhou_cells().iloc[:10]                      # 3 table towns have no boundary
    joined, report = join_towns(b, t)
    tot = indicator_totals(report, t)
    gdp = tot["地区生产总值"]
    assert gdp["matched"] == sum(1000 * i for i in range(1, 11))
    assert gdp["unmatched"] == 1000 * (11 + 12 + 13)
    assert gdp["all rows"] == gdp["total row"] == sum(1000 * i for i in range(1, 14))
    assert "森林覆盖率" not in tot.columns                # a share is not additive


def test_county_name_from_code_resolves_twins(tmp_path):
    # boundaries carry only codes and names; the table only county names
    b = twins_boundaries().drop(columns=["county", "county_code"])
    t = read_table(twins_table(tmp_path / "t.csv", with_county=True))
    joined, report = join_towns(b, t)
    assert joined["town_code"].tolist() == [c for c, *_ in QINGYUAN_TWINS]
    assert joined["county"].tolist() == [c for *_, c in QINGYUAN_TWINS]


def test_joined_status_aligns_with_towns(tmp_path):
    from geo.join import joined_status

    t = read_table(yearbook_workbook(tmp_path / "yb.xlsx"))
    b = lianzhou_cells().iloc[::-1].reset_index(drop=True)   # other order than the table
    joined, _ = join_towns(b, t)
    st = joined_status(joined, t)
    assert joined["table_row"].tolist() == list(range(17, 4, -1))
    assert st.loc[joined["town"] == "龙坪镇", "一般公共预算收入"].tolist() == ["no_data"]
    assert (st.loc[joined["town"] != "龙坪镇", "一般公共预算收入"] == "ok").all()


def test_code_match_with_a_different_name_is_pointed_out():
    b = lianzhou_cells().iloc[:2]
    table = pd.DataFrame({"统计代码": ["441882101", "441882100"], "乡镇": ["连州镇", "连州镇"]})
    _, report = join_towns(b, table)
    tab = report[report["source"] == "table"]
    assert tab["status"].tolist() == ["matched", "matched"]
    assert tab["reason"].iloc[0] == ("按代码匹配，但名称不同：表格 连州镇，边界 星子镇；请核对本行代码"
                                     "（matched by code, but the names differ (table 连州镇, "
                                     "boundaries 星子镇): check this row's code）")
    assert tab["reason"].iloc[1] == ""


def test_unmatched_rows_get_close_names_as_a_hint():
    b = lianzhou_cells().iloc[:3]
    _, report = join_towns(b, pd.DataFrame({"乡镇": ["大路辺镇", "火星镇"], "x": [1, 2]}))
    tab = report[report["source"] == "table"]
    assert "最接近的名称（closest names）：大路边镇" in tab["reason"].iloc[0]
    assert "closest" not in tab["reason"].iloc[1]


def test_bundled_demo_joins_with_no_flags():
    from pathlib import Path

    from geo.read import read_boundaries

    root = Path(__file__).resolve().parents[1] / "data"
    boundaries, breport = read_boundaries(root / "boundaries" / "qingyuan_towns.geojson")
    table = read_table(root / "indicators" / "qingyuan_towns_demo.csv")
    no_polygon = pd.read_csv(root / "boundaries" / "unmatched_towns.csv", dtype=str)
    joined, report = join_towns(boundaries, table)
    counts = report.attrs["counts"]
    assert counts["boundaries"] == {"matched": len(boundaries), "ambiguous": 0,
                                    "unmatched": 0, "excluded": 0, "total": len(boundaries)}
    unmatched = report[(report["source"] == "table") & (report["status"] != "matched")]
    assert unmatched["town_code"].tolist() == no_polygon["town_code"].tolist()
    assert len(joined) == len(table.data) - len(no_polygon)
    assert table.units["地区生产总值"] == "万元" and table.units["省级以上园区"] == "是/否"


def test_join_on_name_still_uses_the_county_column(tmp_path):
    """--join-on name means 'not by code': Qingyuan's twin 石角镇/太平镇 are told apart by
    the county column, not reported ambiguous."""
    t = read_table(twins_table(tmp_path / "t.csv", with_county=True))
    joined, report = join_towns(twins_boundaries(), t, on="name")
    assert len(joined) == len(QINGYUAN_TWINS)
    assert (report["status"] == "matched").all()
    got = dict(zip(zip(joined["town"], joined["county"]), joined["地区生产总值"]))
    want = {(n, c): 100.0 * (i + 1) for i, (_, n, _, c) in enumerate(QINGYUAN_TWINS)}
    assert got == want
