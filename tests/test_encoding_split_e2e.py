"""``--encoding`` is the table's; the boundaries keep their own (``--boundary-encoding``,
``auto``: the ``.cpg``): a GB18030 table beside a UTF-8 shapefile gives clean names."""

import pandas as pd
import pytest

from classify.cli import main
from tests.inputs_fixtures import LIANZHOU, RARE, lianzhou_cells

pytestmark = pytest.mark.slow


def test_a_gb18030_table_does_not_garble_utf8_boundaries(tmp_path):
    cells = lianzhou_cells().rename(columns={"town_code": "代码", "town": "乡镇",
                                             "county": "县区"}).drop(columns="county_code")
    (tmp_path / "shp").mkdir()
    shp = tmp_path / "shp" / "镇界.shp"
    cells.to_file(shp, engine="pyogrio", encoding="UTF-8")       # writes a .cpg: UTF-8
    assert shp.with_suffix(".cpg").read_text().upper().startswith("UTF")
    towns = LIANZHOU + [RARE]
    table = pd.DataFrame({
        "统计代码": [c for c, _ in towns], "乡镇": [n for _, n in towns],
        "地区生产总值（万元）": [1000.0 * (i + 1) for i in range(len(towns))],
        "常住人口（人）": [20000 + 1000 * i for i in range(len(towns))],
        "规上工业总产值（万元）": [300.0 * ((i * 7) % 13 + 1) for i in range(len(towns))],
        "农林牧渔业总产值（万元）": [200.0 * ((i * 5) % 13 + 1) for i in range(len(towns))],
    })
    csv = tmp_path / "指标.csv"
    table.to_csv(csv, index=False, encoding="gb18030")
    out = tmp_path / "out"
    assert main(["run", "--boundaries", str(shp), "--indicators", str(csv), "--out", str(out),
                 "--encoding", "gb18030", "--draws", "0", "--static", "none"]) == 0
    result = pd.read_csv(out / "towns.csv", dtype={"town_code": str}, encoding="utf-8-sig")
    assert dict(zip(result["town_code"], result["town"])) == dict(towns)
