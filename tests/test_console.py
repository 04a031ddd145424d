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
