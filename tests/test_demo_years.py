"""classify.demo_years: the second illustrative year, and `towntype demo --years` end to end."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from classify.bundled import DEMO, data_dir
from classify.demo_years import YEAR2_TABLE, next_year, write_next_year

ROOT = data_dir()


@pytest.fixture(scope="module")
def year1():
    return pd.read_csv(ROOT / DEMO["indicators"], dtype=str, encoding="utf-8-sig",
                       keep_default_na=False)


@pytest.fixture(scope="module")
def made(year1):
    return next_year(year1, seed=2024, boundaries=ROOT / DEMO["boundaries"])


def _num(table, header):
    return pd.to_numeric(table[header]).to_numpy(dtype=float)


def test_growth_park_and_merger(year1, made):
    y2 = made.table
    assert list(y2.columns) == list(year1.columns)            # same headers, same order
    assert len(y2) == len(year1) - 1                           # one town merged
    gone, into = made.merged
    assert gone not in set(y2["乡镇"]) and into in set(y2["乡镇"])
    cw = made.crosswalk.iloc[0]
    old = year1.set_index("乡镇")
    assert (cw["old_code"], cw["new_code"]) == (old.loc[gone, "统计代码"], old.loc[into, "统计代码"])
    # the absorber's population is the two towns' together, grown
    pop = "常住人口（人）"
    both = float(old.loc[gone, pop]) + float(old.loc[into, pop])
    got = float(y2.set_index("乡镇").loc[into, pop])
    assert both < got < both * 1.05
    # the park opened where there was none
    park = made.park_town
    assert old.loc[park, "省级以上园区"] == "否"
    assert y2.set_index("乡镇").loc[park, "省级以上园区"] == "是"
    # growth: GDP of the towns present both years grows by about 5 % (median)
    keep = year1["统计代码"].isin(y2["统计代码"]) & ~year1["乡镇"].isin([into, park])
    g1 = _num(year1[keep], "地区生产总值（万元）")
    g2 = _num(y2.set_index("统计代码").loc[year1.loc[keep, "统计代码"]].reset_index(),
              "地区生产总值（万元）")
    assert 1.03 < np.median(g2 / g1) < 1.07


def test_same_seed_same_year_and_bundled_file_is_current(year1, made, tmp_path):
    again = next_year(year1, seed=2024, boundaries=ROOT / DEMO["boundaries"])
    pd.testing.assert_frame_equal(again.table, made.table)
    other = next_year(year1, seed=7, boundaries=ROOT / DEMO["boundaries"])
    assert not other.table.equals(made.table)
    out = write_next_year(tmp_path / "y2.csv", note=False)
    assert out["table"].read_bytes() == (ROOT / YEAR2_TABLE).read_bytes(), (
        "data/indicators/qingyuan_towns_demo_year2.csv is stale: regenerate it with "
        "python -m classify.demo_years --out data/indicators/qingyuan_towns_demo_year2.csv")


@pytest.mark.slow
def test_demo_years_end_to_end(tmp_path):
    out = tmp_path / "years"
    proc = subprocess.run([sys.executable, "-m", "classify.cli", "demo", "--years", "--out",
                           str(out), "--draws", "100", "--static", "none"],
                          capture_output=True, text=True, cwd=ROOT.parent)
    assert proc.returncode == 0, proc.stderr
    run2 = json.loads((out / "year2" / "run.json").read_text(encoding="utf-8"))
    # the console is capped at what needs action; everything said is in run.json's log
    assert any("参照模型（reference model）" in line for line in run2["log"])
    run1 = json.loads((out / "year1" / "run.json").read_text(encoding="utf-8"))
    assert run2["model"]["reference"]["sha256"] == run1["model"]["sha256"]
    assert run2["model"]["reference"]["path"].endswith("year1/model.json")
    assert "beyond_range" in run2["model"]["reference"]
    assert run2["notice"].startswith("示例数据")
    t = pd.read_csv(out / "compare" / "transitions.csv", dtype={"town_code": str})
    made = json.loads((out / "compare" / "compare.json").read_text(encoding="utf-8"))
    assert made["same_model"] is True
    cw = pd.read_csv(out / "year2_input" / "qingyuan_towns_demo_year2_crosswalk.csv", dtype=str)
    gone = t.set_index("town_code").loc[cw["old_code"].iloc[0]]
    assert gone["change"] == "gone"
    # the park town: its composite rose, and the park is the first cause named
    park = proc.stdout.split("园区新设：")[1].split("；")[0]
    row = t[t["town"] == park].iloc[0]
    assert row["d_composite"] > 2
    assert row["drivers"].startswith("省级以上园区 否→是")
    # every composite change is the sum of its contributions plus the re-weighting
    c = pd.read_csv(out / "compare" / "contributions.csv", dtype={"town_code": str})
    sums = c.groupby("town_code")["contribution_composite"].sum()
    paired = t[t["change"].isin(["same", "up", "down", "lateral"])].set_index("town_code")
    np.testing.assert_allclose(sums.reindex(paired.index) + paired["composite_reweighting"],
                               paired["d_composite"], atol=1e-6)
    sheet = next((out / "year2" / "suggestions").glob(f"{row['town_code']}_*.md")).read_text(
        encoding="utf-8")
    assert "上年类别：" in sheet and "主要因省级以上园区 否→是" in sheet
    assert (out / "compare" / "compare_map.html").stat().st_size > 10_000


def test_command_line_error_names_the_module(tmp_path, monkeypatch, capsys):
    """A TowntypeError ends the module's command line with status 2 and one line naming
    the module (geo.errors.command_status, shared with demo_data and geo.approximate)."""
    import classify.demo_years as demo_years
    from geo.errors import InputError

    def fails(*args, **kwargs):
        raise InputError("the first-year table has no 统计代码 column", path="x.csv")

    monkeypatch.setattr(demo_years, "write_next_year", fails)
    assert demo_years.main(["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("classify.demo_years: error: ") and "统计代码" in err
    monkeypatch.setattr(demo_years, "write_next_year", lambda *a, **k: {"rows": 3})
    assert demo_years.main(["--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out == "rows: 3\n"


def test_a_missing_source_table_is_one_error_line_not_a_traceback(tmp_path, capsys):
    import classify.demo_years as demo_years

    missing = tmp_path / "missing.csv"
    assert demo_years.main(["--out", str(tmp_path / "out"), "--source", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("classify.demo_years: error: ") and "missing.csv" in err
    assert "Traceback" not in err
