"""Issue 13, analytics side, end to end on small cuts of the demo region: missing keys,
small samples, huge and impossible values, empty indicators — each run ends with exit 0,
says what it did not measure, and writes every output."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from classify.bundled import DEMO, data_dir
from classify.pipeline import RunOptions, run_pipeline

pytestmark = pytest.mark.slow

GDP = "地区生产总值（万元）"


def _demo():
    root = data_dir()
    geo = json.loads((root / DEMO["boundaries"]).read_text(encoding="utf-8"))
    table = pd.read_csv(root / DEMO["indicators"], dtype=str, encoding="utf-8-sig")
    return geo, table


def _cut(tmp: Path, codes: list[str], *, edit_geo=None, edit_table=None, name="x"):
    geo, table = _demo()
    geo["features"] = [f for f in geo["features"] if f["properties"]["town_code"] in codes]
    table = table[table["统计代码"].isin(codes)].reset_index(drop=True)
    if edit_geo:
        edit_geo(geo["features"])
    if edit_table is not None:
        table = edit_table(table)
    b, t = tmp / f"{name}.geojson", tmp / f"{name}.csv"
    b.write_text(json.dumps(geo, ensure_ascii=False), encoding="utf-8")
    table.to_csv(t, index=False, encoding="utf-8-sig")
    return b, t


def _run(tmp: Path, b: Path, t: Path, **kw):
    lines: list[str] = []
    res = run_pipeline(RunOptions(boundaries=b, indicators=t, out=tmp / "out", draws=10,
                                  static_formats=(), **kw), log=lines.append)
    return res, lines


def _codes(n, prefix="441881"):
    _, table = _demo()
    return table.loc[table["统计代码"].str.startswith(prefix), "统计代码"].head(n).tolist()


def test_towns_without_county_or_code(tmp_path):
    codes = _codes(8)

    def no_county(features):
        for f in features[:3]:
            for k in ("county", "county_code"):
                f["properties"].pop(k, None)

    def blank(table):
        table.loc[:2, "所属县区"] = ""
        return table

    b, t = _cut(tmp_path, codes, edit_geo=no_county, edit_table=blank)
    res, _ = _run(tmp_path, b, t)
    towns = res.towns.set_index("town_code")
    lost = [c for c in codes[:3] if pd.isna(towns.loc[c, "county"])]
    if lost:      # the join may fill the county from the code; when not, no county rank
        assert towns.loc[lost, "rank_county"].isna().all()
        sheet = next((tmp_path / "out" / "suggestions").glob(f"{lost[0]}_*.md")).read_text(
            "utf-8")
        assert "未知县区（unknown county）" in sheet


def test_names_only_join(tmp_path):
    codes = _codes(8)

    def names_only(features):
        for f in features:
            for k in ("town_code", "county_code", "city_code"):
                f["properties"].pop(k, None)

    b, t = _cut(tmp_path, codes, edit_geo=names_only,
                edit_table=lambda d: d.drop(columns=["统计代码"]))
    res, _ = _run(tmp_path, b, t, join_on="name")
    assert len(res.towns) == 8
    sheets = sorted(p.name for p in (tmp_path / "out" / "suggestions").glob("*.md"))
    # <code>_<town>: no code, so unknown_<k>_<town> (sheet file names, issue 14)
    assert sheets == sorted(f"unknown_{k}_{t}.md" for k, t in enumerate(res.towns["town"], 1))
    html = (tmp_path / "out" / "map.html").read_text("utf-8")
    assert "unknown_1" in html and "未知代码（unknown code）" in html


@pytest.mark.parametrize("n", [1, 2, 3, 5, 6])
def test_few_towns(tmp_path, n):
    b, t = _cut(tmp_path, _codes(n))
    res, lines = _run(tmp_path, b, t, seed=0)
    assert len(res.towns) == n
    text = "\n".join(lines)
    assert "categories are relative to these towns only" in text
    if n < 4:
        assert "未做聚类" in text and res.extra["clusters"].k == 1
    notes = res.manifest["scoring"]["not_measured"]
    assert any("relative to these towns only" in x["zh"] for x in notes)


def test_ten_towns_not_winsorised(tmp_path):
    b, t = _cut(tmp_path, _codes(10))
    res, lines = _run(tmp_path, b, t)
    towns = res.towns.sort_values("gdp", ascending=False)
    top, second = towns.iloc[0], towns.iloc[1]
    assert top["gdp"] > 3 * second["gdp"]
    assert any("未做离群值处理" in x for x in lines)
    assert (res.extra["scores"].treatment["action"] != "winsorised").all()


def test_huge_negative_and_empty_values(tmp_path):
    codes = _codes(12)

    def hostile(table):
        table.loc[0, GDP] = "1e300"
        table.loc[1, GDP] = "-5000"
        table.loc[2, "第二产业占比（%）"] = "130"
        table["规上工业总产值（万元）"] = ""
        return table

    b, t = _cut(tmp_path, codes, edit_table=hostile)
    res, lines = _run(tmp_path, b, t)
    text = "\n".join(lines)
    assert "无 规上工业总产值（industrial_output）" in text and "专业镇·工业 无法评估" in text
    assert "指标未参与评价（indicator dropped）：规上工业总产值" in text
    assert (res.towns["n_missing"] >= 1).all()
    checks = pd.read_csv(tmp_path / "out" / "value_checks.csv", encoding="utf-8-sig")
    got = dict(zip(checks["check"], checks["action"]))
    assert got["negative"] == "treated as missing" and got["share_range"] == "treated as missing"
    assert got["above_1000x_median"] == "kept, flagged"
    manifest = json.loads((tmp_path / "out" / "run.json").read_text("utf-8"))
    assert manifest["scoring"]["value_checks"] == len(checks)
    assert any("industrial_output" in x["en"] for x in manifest["scoring"]["not_measured"])
