"""Indicator tables: yearbook layouts, units, merged cells, totals, statuses."""

import numpy as np
import numpy.testing as npt
import pandas as pd
import pytest

from geo.errors import InputError, InputWarning
from geo.tables import find_key_columns, read_table, split_unit
from tests.inputs_fixtures import LIANZHOU, RARE, yearbook_workbook, yearbook_xls


@pytest.mark.parametrize("header, expected", [
    ("地区生产总值（万元）", ("地区生产总值", "万元")),
    ("森林覆盖率(%)", ("森林覆盖率", "%")),
    ("接待游客（万人次）", ("接待游客", "万人次")),
    ("耕地面积(亩)", ("耕地面积", "亩")),
    ("GDP（单位：亿元）", ("GDP", "亿元")),
    ("农村居民人均可支配收入（元/人）", ("农村居民人均可支配收入", "元/人")),
    ("县（市、区）", ("县(市、区)", None)),     # brackets that are not a unit stay
    ("地区生产总值（现价）", ("地区生产总值(现价)", None)),
])
def test_split_unit(header, expected):
    assert split_unit(header) == expected


def test_find_key_columns():
    keys = find_key_columns(pd.DataFrame(columns=["统计代码", "乡镇名称", "县（市、区）",
                                                  "地区生产总值（万元）", "自评类别"]))
    assert keys == {"code": "统计代码", "name": "乡镇名称", "county": "县（市、区）",
                    "county_code": None, "declared": "自评类别"}


def test_yearbook_workbook(tmp_path):
    t = read_table(yearbook_workbook(tmp_path / "yb.xlsx"))
    n = len(LIANZHOU) + 1
    assert list(t.data.columns) == ["统计代码", "乡镇", "所属县区", "地区生产总值",
                                    "一般公共预算收入", "森林覆盖率", "省级以上园区"]
    assert t.header_rows == [3, 4]
    assert t.source_rows == list(range(5, 5 + n))
    assert t.units["地区生产总值"] == "万元" and t.units["森林覆盖率"] == "%"
    assert t.units["省级以上园区"] == "是/否"
    assert t.data["统计代码"].tolist() == [c for c, _ in LIANZHOU] + [RARE[0]]
    assert t.data["乡镇"].iloc[-1] == "㮾下镇"
    assert (t.data["所属县区"] == "连州市").all()          # filled from the merge range
    npt.assert_array_equal(t.data["地区生产总值"], 1000.0 * np.arange(1, n + 1))
    npt.assert_array_equal(t.data["森林覆盖率"], 60.0 + np.arange(n))
    npt.assert_array_equal(t.data["省级以上园区"], [1.0 - i % 2 for i in range(n)])
    assert np.isnan(t.data["一般公共预算收入"][3])
    assert t.status["一般公共预算收入"][3] == "no_data"
    assert t.raw["地区生产总值"][0] == "1,000"
    ex = t.excluded.set_index("source_row")
    assert ex.loc[5 + n, "kind"] == "total" and ex.loc[6 + n, "kind"] == "sub_item"
    assert ex.loc[7 + n, "kind"] == "footnote"
    assert any("agree with the sum" in m for m in t.messages)


def test_total_row_that_disagrees_is_reported(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("乡镇,地区生产总值（万元）\n连州镇,100\n星子镇,200\n合计,400\n", "utf-8")
    t = read_table(p)
    assert len(t.data) == 2
    assert any("total 400 vs sum of town rows 300" in m for m in t.messages)


def test_gb18030_csv_with_units_row_and_markers(tmp_path):
    p = tmp_path / "t.csv"
    text = ("乡镇,所属县区,地区生产总值,森林覆盖率,接待游客\n"
            "单位,,万元,%,万人次\n"
            "㮾下镇,连州市,\"1,234.5\",65.2%,…\n"
            "星子镇,连州市,—,/,12\n"
            "龙坪镇,连州市,,70,暂缺\n")
    p.write_bytes(text.encode("gb18030"))
    t = read_table(p)
    assert t.encoding == "gb18030"
    assert t.units == {"乡镇": None, "所属县区": None, "地区生产总值": "万元",
                       "森林覆盖率": "%", "接待游客": "万人次"}
    assert t.data["乡镇"].tolist() == ["㮾下镇", "星子镇", "龙坪镇"]
    assert t.status["地区生产总值"].tolist() == ["ok", "no_data", "unknown"]
    assert t.status["森林覆盖率"].tolist() == ["ok", "not_applicable", "ok"]
    assert t.status["接待游客"].tolist() == ["below_unit", "ok", "invalid"]
    assert any("'接待游客': text that is not a number in row(s) 5" in m for m in t.messages)
    npt.assert_allclose(t.data["地区生产总值"][:1], [1234.5])


def test_two_row_header_in_csv(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("乡镇,地区生产总值,,常住人口（人）\n,总量（万元）,增速（%）,\n"
                 "连州镇,100,5.5,20000\n", "utf-8")
    t = read_table(p)
    assert list(t.data.columns) == ["乡镇", "地区生产总值总量", "地区生产总值增速", "常住人口"]
    assert t.units["地区生产总值总量"] == "万元" and t.units["地区生产总值增速"] == "%"


def test_lost_code_digits_name_the_rows(tmp_path):
    """Issue 13: one unreadable code no longer stops the run — the row loses its code
    (joins by name; join_report.csv says why) and the console names the row."""
    p = tmp_path / "t.csv"
    p.write_text("统计代码,乡镇\n441882100,连州镇\n4.41882E+08,星子镇\n", "utf-8")
    with pytest.warns(InputWarning, match=r"t\.csv, column '统计代码': 1 行统计代码无效.*row 3: "
                      r"'4\.41882E\+08' is in scientific notation"):
        t = read_table(p)
    assert t.data["统计代码"].tolist() == ["441882100", None]
    assert t.status["统计代码"].tolist() == ["ok", "invalid"]
    assert t.code_notes == {1: "统计代码无效（invalid code）: '4.41882E+08' is in scientific "
                            "notation with 6 of 9 digits shown: the code's last digits are "
                            "lost — format the column as text in the spreadsheet and re-export;"
                            " the code was not used"}


def test_a_column_of_unreadable_codes_stops_naming_the_rows(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("统计代码,乡镇\n4.41882E+08,连州镇\n4418A2006,星子镇\n,东陂镇\n", "utf-8")
    with pytest.raises(InputError, match=r"t\.csv, column '统计代码': 2 town code.*row 2.*"
                                         r"row 3: '4418A2006' contains characters"):
        read_table(p)


def test_county_subtotal_rows(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("乡镇,所属县区,GDP（万元）\n连州市,连州市,300\n连州镇,连州市,100\n"
                 "星子镇,连州市,200\n小计,,300\n", "utf-8")
    t = read_table(p)
    assert t.data["乡镇"].tolist() == ["连州镇", "星子镇"]
    assert t.excluded["kind"].tolist() == ["county_total", "subtotal"]


def test_xls_with_units_row(tmp_path):
    pytest.importorskip("xlwt")
    t = read_table(yearbook_xls(tmp_path / "yb.xls"))
    assert t.sheet == "2023"                   # the cover sheet is skipped
    assert t.units == {"统计代码": None, "乡镇": None, "地区生产总值": "亿元",
                       "常住人口": "人", "接待游客": "万人次"}
    npt.assert_allclose(t.data["常住人口"], [12000, 20000, 30000])
    assert t.status["接待游客"].tolist() == ["ok", "ok", "below_unit"]
    assert t.data["统计代码"].tolist() == [c for c, _ in LIANZHOU[:3]]


def test_sheet_choice_errors(tmp_path):
    p = yearbook_workbook(tmp_path / "yb.xlsx")
    assert read_table(p, sheet="乡镇指标").sheet == "乡镇指标"
    with pytest.raises(InputError, match=r"no sheet named 'x'; sheets are \['乡镇指标'\] \(--sheet\)"):
        read_table(p, sheet="x")


def test_missing_and_unsupported_files(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "t.ods").write_text("x")
    with pytest.raises(InputError, match="unsupported table format"):
        read_table(tmp_path / "t.ods")


def test_wrong_encoding_flag_is_an_error_naming_the_cell(tmp_path):
    p = tmp_path / "t.csv"
    p.write_bytes("乡镇,GDP（万元）\n连州镇,1\n".encode("gb18030"))
    with pytest.raises(InputError, match=r"t\.csv, row 2, column .*looks garbled.*--encoding"):
        read_table(p, encoding="latin-1")


def test_number_merged_over_several_towns_is_not_copied(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["乡镇", "所属县区", "A级景区数（个）"])
    ws.append(["连州镇", "连州市", 3])
    ws.append(["星子镇", None, 2])
    ws.append(["大路边镇", None, None])
    ws.merge_cells("B2:B4")       # a county merged over its towns: fill it
    ws.merge_cells("C3:C4")       # one number for two towns: do not copy it
    wb.save(tmp_path / "m.xlsx")
    t = read_table(tmp_path / "m.xlsx")
    assert t.data["所属县区"].tolist() == ["连州市"] * 3
    assert t.status["A级景区数"].tolist() == ["ok", "merged", "merged"]
    npt.assert_array_equal(t.data["A级景区数"], [3.0, np.nan, np.nan])
    assert t.raw["A级景区数"].tolist() == ["3", "2", "2"]
    assert any("rows 3, 4 share one merged cell" in m for m in t.messages)


def test_percent_column_of_fractions_is_flagged(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("乡镇,森林覆盖率（%）\n连州镇*,0.65\n星子镇①,0.7\n龙坪镇,0.81\n", "utf-8")
    t = read_table(p)
    npt.assert_allclose(t.data["森林覆盖率"], [0.65, 0.7, 0.81])    # not changed silently
    assert any("between 0 and 1" in m for m in t.messages)


def test_code_type_digits_checked_against_names(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("统计代码,乡镇\n441882201,三水瑶族乡\n441882200,瑶安镇\n", "utf-8")
    t = read_table(p)
    assert [m for m in t.messages if "type digits" in m] == [
        "row 3: code 441882200 has type digits 200 (乡) but the name '瑶安镇' is a 镇"]


def test_formulas_without_saved_results_are_refused(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["乡镇", "GDP（万元）", "人均（元）"])
    ws.append(["连州镇", 100, "=B2*2"])
    wb.save(tmp_path / "f.xlsx")
    with pytest.raises(InputError, match=r"f\.xlsx, row 2: cell C2 holds the formula '=B2\*2'"
                                         r" but no saved result"):
        read_table(tmp_path / "f.xlsx")


def test_scaled_and_approximate_cells_are_reported(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("乡镇,地区生产总值（万元）,常住人口（人）\n连州镇,3亿,1.2万\n星子镇,约900,800\n",
                 "utf-8")
    t = read_table(p)
    npt.assert_allclose(t.data["地区生产总值"], [30000, 900])
    npt.assert_allclose(t.data["常住人口"], [12000, 800])
    gdp = next(m for m in t.messages if m.startswith("column '地区生产总值'"))
    assert "row 2: '3亿' scaled by 10000 to the column unit 万元" in gdp
    assert "row 3: '约900' is approximate" in gdp


def test_cover_sheet_with_text_is_skipped(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    cover = wb.active
    cover.title = "说明"
    for line in ("连州市乡镇指标", "编制单位：统计局", "说明：数据为初步核算数"):
        cover.append([line])
    ws = wb.create_sheet("数据")
    ws.append(["乡镇", "GDP（万元）"])
    ws.append(["连州镇", 100])
    wb.save(tmp_path / "c.xlsx")
    t = read_table(tmp_path / "c.xlsx")
    assert t.sheet == "数据" and t.data["乡镇"].tolist() == ["连州镇"]


def test_a_bare_carriage_return_in_an_unquoted_cell_names_the_row(tmp_path):
    # pandas' to_csv leaves a cell with a lone CR unquoted; the csv module refuses it
    path = tmp_path / "指标.csv"
    path.write_bytes("统计代码,乡镇,常住人口（人）\n441882100,连州镇,1\n441882101,星\r子镇,2\n"
                     .encode("utf-8"))
    with pytest.raises(InputError, match=r"指标\.csv, row 3: 无法读取 CSV（cannot parse the "
                                         r"CSV）.*put the cell in double quotes"):
        read_table(path)
    quoted = tmp_path / "quoted.csv"
    quoted.write_bytes('统计代码,乡镇,常住人口（人）\n441882101,"星\r子镇",2\n'.encode("utf-8"))
    assert read_table(quoted).data.iloc[0].tolist()[1] == "星\r子镇"
