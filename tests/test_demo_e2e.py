"""End to end: ``towntype demo`` as a user runs it, every contract output checked."""

import json
import geopandas as gpd
import pandas as pd
import pytest

from classify.bundled import DEMO, data_dir
from classify.cli import main

pytestmark = pytest.mark.slow

CONTRACT_FILES = ["map.html", "towns.gpkg", "towns.csv", "towns.xlsx", "join_report.csv",
                  "weights.csv", "rules.csv", "clusters.csv", "clusters_k.csv", "run.json",
                  "map.png", "map.svg"]
DIMS = ["strength", "industry", "agriculture", "commerce", "tourism", "ecology", "centrality"]


@pytest.fixture(scope="module")
def demo_out(demo_run):
    return demo_run


@pytest.fixture(scope="module")
def inputs():
    root = data_dir()
    boundaries = gpd.read_file(root / DEMO["boundaries"])
    table = pd.read_csv(root / DEMO["indicators"], dtype=str, encoding="utf-8-sig")
    return boundaries, table


def test_every_contract_file_is_written(demo_out):
    out, _ = demo_out
    missing = [name for name in CONTRACT_FILES if not (out / name).is_file()]
    assert missing == []
    assert (out / "suggestions" / "suggestions.xlsx").is_file()


def test_towns_table_has_contract_columns_and_one_row_per_matched_town(demo_out, inputs):
    out, _ = demo_out
    boundaries, table = inputs
    assert (out / "towns.csv").read_bytes().startswith(b"\xef\xbb\xbf")   # Excel needs the BOM
    towns = pd.read_csv(out / "towns.csv", dtype={"town_code": str, "county_code": str},
                        encoding="utf-8-sig")
    required = ["town_code", "town", "county_code", "county", "composite", "category",
                "subtype", "category_zh", "cluster", "cluster_name", "stability", "gdp"]
    required += [f"score_{d}" for d in DIMS]
    assert [c for c in required if c not in towns.columns] == []
    assert towns["town_code"].str.fullmatch(r"\d{9}").all()
    assert towns["town_code"].is_unique
    # every boundary feature of the demo has a table row, so all of them are in towns.*
    assert sorted(towns["town_code"]) == sorted(boundaries["town_code"])
    for d in DIMS:
        assert towns[f"score_{d}"].between(0, 100).all(), d
    assert towns["stability"].between(0, 1).all()
    assert towns["composite"].between(0, 100).all()
    assert set(towns["category"]) <= {"strong", "specialised", "characteristic", "developing"}
    assert set(towns["subtype"].dropna()) <= {"industrial", "agricultural", "commercial",
                                              "tourism", "ecological"}
    gpkg = gpd.read_file(out / "towns.gpkg", layer="towns")
    assert len(gpkg) == len(towns) and gpkg.crs.to_epsg() == 4326


def test_join_report_accounts_for_every_input_row(demo_out, inputs):
    out, _ = demo_out
    boundaries, table = inputs
    report = pd.read_csv(out / "join_report.csv", dtype=str, encoding="utf-8-sig")
    by_source = report["source"].value_counts()
    assert by_source["boundaries"] == len(boundaries)
    assert by_source["table"] == len(table)
    unmatched = report[(report["source"] == "table") & (report["status"] == "unmatched")]
    # 大坪镇 (连南) has no seat, so no approximate boundary: it must be reported, not lost
    assert "大坪镇" in set(unmatched["town"])


def test_manifest_records_inputs_seed_counts_and_notice(demo_out):
    out, _ = demo_out
    manifest = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == 2023
    hashes = [i["sha256"] for i in manifest["inputs"].values() if i]
    assert all(len(h) == 64 for h in hashes) and len(hashes) >= 2
    assert manifest["counts"]["towns"] > 80
    assert "Illustrative" in manifest["notice"]
    assert set(manifest["timings"]) >= {"read", "join", "scoring", "rules", "map"}


def test_summary_names_counts_and_output_folder(demo_out, inputs):
    out, stdout = demo_out
    boundaries, table = inputs
    assert str(out) in stdout
    assert f"读取边界要素 {len(boundaries)} 个、指标表 {len(table)} 行" in stdout
    towns = pd.read_csv(out / "towns.csv", encoding="utf-8-sig")
    for category, n in towns["category"].value_counts().items():
        assert f"（{category}）：{n}" in stdout


def test_map_carries_the_illustrative_notice(demo_out):
    out, _ = demo_out
    html = (out / "map.html").read_text(encoding="utf-8")
    assert "示例数据" in html and "not official statistics" in html


def test_two_runs_give_byte_identical_towns_csv(demo_out, tmp_path):
    out, _ = demo_out
    again = tmp_path / "again"
    assert main(["demo", "--out", str(again), "--draws", "100"]) == 0
    assert (again / "towns.csv").read_bytes() == (out / "towns.csv").read_bytes()
