"""Warnings as records and console lines (classify/console.py)."""

import warnings

from classify.console import Console, warning_line, warning_records
from geo.errors import DatumWarning, InputWarning


def _caught(*items):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for message, category in items:
            warnings.warn(message, category)
    return caught


def test_records_are_one_per_category_and_text_with_counts():
    caught = _caught(("a", InputWarning), ("a", InputWarning), ("a", RuntimeWarning),
                     ("b\n   more", UserWarning))
    records = warning_records(caught)
    assert [(r["category"], r["message"], r["count"]) for r in records] == [
        ("InputWarning", "a", 2), ("RuntimeWarning", "a", 1), ("UserWarning", "b more", 1)]
    assert records[0]["source"] == "tests/test_console.py"


def test_lines_carry_the_category_in_both_languages_and_no_package_paths():
    message = ("/usr/lib/python3/site-packages/pyogrio/raw.py:198: field 名称 truncated; "
               "see C:\\Python\\Lib\\site-packages\\shapely\\set_operations.py")
    record = warning_records(_caught((message, DatumWarning)))[0]
    line = warning_line(record, "zh")
    assert line.startswith("坐标提示（datum warning）：raw.py:198: field 名称 truncated")
    assert "site-packages" not in line and "/usr/lib" not in line
    assert "set_operations.py" in line
    assert warning_line(record, "en").startswith("datum warning: raw.py")
    user = warning_records(_caught(("/data/镇界.shp: 3 features without geometry",
                                    InputWarning)))[0]
    assert "/data/镇界.shp" in warning_line(user)       # the user's own file stays named


def test_the_console_prints_warnings_first_and_caps_them(capsys):
    console = Console("zh")
    console.summary = ["summary"]
    for k in range(7):
        console.log(f"detail {k}")
    console.error = "towntype: 错误（error）：x"
    console.print(_caught(*[(f"w{k}", InputWarning) for k in range(10)]))
    captured = capsys.readouterr()
    err = captured.err.splitlines()
    assert err[:8] == [f"输入提示（input warning）：w{k}" for k in range(8)]
    assert err[8] == "另有 2 条提示（more warnings），见 run.json 的 warnings"
    assert err[9:14] == [f"detail {k}" for k in range(5)]
    assert err[14].startswith("另有 2 条说明（more details）")
    assert err[-1] == "towntype: 错误（error）：x"
    assert captured.out == "summary\n"


def test_a_line_the_summary_carries_is_not_repeated_in_the_details(capsys):
    console = Console("zh")
    console.summary = ["维度无数据，未评价（dimension not assessed, no data）：生态（ecology）", "s"]
    for line in ("encoding", "维度无数据，未评价（dimension not assessed, no data）：生态（ecology）",
                 "header"):
        console.log(line)
    console.print(())
    assert capsys.readouterr().err.splitlines() == ["encoding", "header"]


def _manifest(not_measured, missing):
    join = {side: {"matched": 3, "ambiguous": 0, "unmatched": 1 if side == "table" else 0,
                   "excluded": 0} for side in ("boundaries", "table")}
    return {"counts": {"boundary_features": 3, "table_rows": 4, "towns": 3, "join": join,
                       "categories": {"developing": 3},
                       "category_labels": {"developing": "培育类"}},
            "out": "/x", "scoring": {"not_measured": not_measured, "missing_values": missing}}


def test_the_summary_says_what_was_not_measured_after_the_action_line_in_chinese_first():
    """Issue 13: 'missing or imputed values: N' was English only and came after the
    reading details; what was not measured was cut off behind 'more details'."""
    from types import SimpleNamespace

    from classify.pipeline import MEASURE_LINES, summary_lines

    notes = [{"zh": f"维度无数据，未评价（dimension not assessed, no data）：d{i}",
              "en": f"dimension not assessed (no data): d{i}"} for i in range(8)]
    lines = summary_lines(SimpleNamespace(manifest=_manifest(notes, 48)))
    assert lines[0].startswith("需要核对（needs checking）：指标表 1 行未匹配")
    assert lines[1:MEASURE_LINES] == [n["zh"] for n in notes[:MEASURE_LINES - 1]]
    assert lines[MEASURE_LINES] == ("另有 3 条未评价说明（not measured），见 run.json 的 "
                                    "scoring.not_measured")
    assert lines[MEASURE_LINES + 1] == ("缺失或插补的数值（missing or imputed values）：48 个；"
                                        "逐镇见 towns.csv 的 n_missing、n_imputed")
    assert lines[MEASURE_LINES + 2].startswith("读取边界要素 3 个")
    en = summary_lines(SimpleNamespace(manifest=_manifest(notes[:1], 0)), lang="en")
    assert en[1] == "dimension not assessed (no data): d0" and en[2].startswith("read 3")
