"""End to end on the files planners really have: a GBK shapefile in a Gauss–Krüger zone
(no .cpg, no .prj) and a yearbook-style workbook, through ``towntype run`` with no flags."""

import json

import geopandas as gpd
import numpy.testing as npt
import pandas as pd
import pytest

from classify.cli import main
from tests.inputs_fixtures import LIANZHOU, RARE, gk_shapefile, lianzhou_cells, yearbook_workbook

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run_out(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    shp = gk_shapefile(root / "shp")
    book = yearbook_workbook(root / "乡镇指标.xlsx")
    out = root / "结果"
    status = main(["run", "--boundaries", str(shp), "--indicators", str(book),
                   "--out", str(out), "--draws", "50"])
    assert status == 0
    return out


def test_names_codes_and_values_come_through(run_out):
    towns = pd.read_csv(run_out / "towns.csv", dtype={"town_code": str}, encoding="utf-8-sig")
    expected = dict(LIANZHOU + [RARE])
    assert dict(zip(towns["town_code"], towns["town"])) == expected      # 㮾 survived
    # yearbook: GDP (万元) of the i-th town is 1000 × (i + 1), written "1,000" etc.
    order = [code for code, _ in LIANZHOU + [RARE]]
    gdp = towns.set_index("town_code").loc[order, "gdp"].to_numpy()
    npt.assert_allclose(gdp, [1000.0 * (i + 1) for i in range(len(order))])


def test_positions_survive_the_gauss_krueger_round_trip(run_out):
    back = gpd.read_file(run_out / "towns.gpkg", layer="towns").set_index("town_code")
    ref = lianzhou_cells().set_index("town_code")
    assert back.crs.to_epsg() == 4326
    for code in ref.index:
        npt.assert_allclose(back.geometry[code].bounds, ref.geometry[code].bounds, atol=1e-7)


def test_every_row_of_both_inputs_is_accounted_for(run_out):
    report = pd.read_csv(run_out / "join_report.csv", dtype=str, encoding="utf-8-sig")
    counts = report.groupby(["source", "status"]).size()
    assert counts[("boundaries", "matched")] == len(LIANZHOU) + 1
    assert counts[("table", "matched")] == len(LIANZHOU) + 1
    # the 合计 total, the 其中 sub-item and the 注 footnote are excluded with a reason
    excluded = report[report["status"] == "excluded"]
    assert len(excluded) == 3 and excluded["reason"].notna().all()
    manifest = json.loads((run_out / "run.json").read_text(encoding="utf-8"))
    assert manifest["reading"]["boundaries"]["encoding"] == "gb18030"
    assert manifest["reading"]["boundaries"]["crs"] == "EPSG:4547"
