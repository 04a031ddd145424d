"""A finished run folder read back damaged (``towntype sheets``, ``compare``, ``run
--reference``, ``run --level county --towns``): a user's mistake ends in exit 2 with a
message naming the file (and key or column), never in a defect (exit 3)."""

import json
import shutil

import geopandas as gpd
import pandas as pd
import pyarrow.parquet as pq
import pytest

from classify.cli import main


@pytest.fixture
def run(demo_run, tmp_path):
    """A copy of the session's demo run (without its sheets), to damage."""
    out = tmp_path / "run"
    shutil.copytree(demo_run[0], out, ignore=shutil.ignore_patterns("*.html", "*.md", "*.png",
                                                                    "*.svg", "*.xlsx"))
    return out


def _fails(argv, capsys, *expected):
    """``argv`` exits 2 (a user error), its message naming each of ``expected``."""
    status = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err
    for text in expected:
        assert text in err, err
    return err


def _edit(path, change):
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


# --------------------------------------- towns.csv: classify.report.read_run_csv
@pytest.mark.parametrize("damage", ["empty", "gbk", "binary"])
def test_unreadable_towns_csv_is_named(run, demo_run, tmp_path, capsys, damage):
    csv = run / "towns.csv"
    if damage == "empty":
        csv.write_bytes(b"")
    elif damage == "gbk":
        csv.write_bytes(csv.read_text(encoding="utf-8-sig").encode("gb18030"))
    else:
        csv.write_bytes(bytes(range(256)) * 4)
    _fails(["compare", demo_run[0], run, "--out", tmp_path / "cmp", "--no-map"], capsys,
           str(csv), "run table cannot be read")
    _fails(["demo", "--level", "county", "--towns", run, "--out", tmp_path / "county",
            "--draws", "0", "--sheets", "none", "--static", "none"], capsys, str(csv))


def test_towns_csv_without_rows_is_named(run, demo_run, tmp_path, capsys):
    csv = run / "towns.csv"
    pd.read_csv(csv, dtype=str).iloc[:0].to_csv(csv, index=False)
    _fails(["compare", run, demo_run[0], "--out", tmp_path / "cmp", "--no-map"], capsys,
           str(csv), "no rows")


# ------------------------------------------- towns.gpkg: classify.compare._read_gpkg
@pytest.mark.parametrize("damage", ["empty", "other layer", "no town_code"])
def test_damaged_towns_gpkg_is_named(run, demo_run, tmp_path, capsys, damage):
    gpkg = run / "towns.gpkg"
    geo = gpd.read_file(gpkg, layer="towns")
    if damage == "empty":
        gpkg.write_bytes(b"")
    elif damage == "other layer":
        gpkg.unlink()
        geo.to_file(gpkg, layer="boundaries", driver="GPKG")
    else:
        geo.drop(columns="town_code").to_file(gpkg, layer="towns", driver="GPKG")
    _fails(["compare", demo_run[0], run, "--out", tmp_path / "cmp"], capsys, str(gpkg),
           "--no-map")


# --------------------------- evidence/meta.json: classify.report.evidence._meta
@pytest.mark.parametrize("key, value", [("json", "x"), ("labels", "x"), ("columns", []),
                                        ("labels.strong", "x"), ("columns.strengths", 1)])
def test_meta_json_key_of_wrong_type_is_named(run, capsys, key, value):
    meta = run / "evidence" / "meta.json"

    def change(data):
        *outer, last = key.split(".")
        for k in outer:
            data = data[k]
        data[last] = value
    _edit(meta, change)
    _fails(["sheets", run], capsys, str(meta), repr(key))


# ------------------------- an evidence table swapped: classify.report.evidence._rows_of
@pytest.mark.parametrize("table, column", [("strengths", "indicator"),
                                           ("benchmark_gaps", "indicator"),
                                           ("benchmarks", "focus_this"),
                                           ("missing", "affects")])
def test_evidence_table_swapped_for_another_is_named(run, capsys, table, column):
    path = run / "evidence" / f"{table}.parquet"
    pq.write_table(pq.read_table(run / "evidence" / "towns.parquet"), path)
    _fails(["sheets", run], capsys, str(path), column)


# ------------------------------------------ run.json level: classify.report.run_level
@pytest.mark.parametrize("value", [["town"], 9, "province"])
def test_unknown_level_in_run_json_is_named(run, capsys, value):
    _edit(run / "run.json", lambda data: data["level"].update(id=value))
    _fails(["sheets", run], capsys, str(run / "run.json"), "level.id")


# ------------------------- compare of two levels: classify.compare.compare_runs
def test_compare_of_runs_of_two_levels_says_so(run, demo_run, tmp_path, capsys):
    _edit(run / "run.json", lambda data: data["level"].update(id="county"))
    _fails(["compare", demo_run[0], run, "--out", tmp_path / "cmp"], capsys,
           "runs of different unit levels: town → county")
    assert not (tmp_path / "cmp").exists()


# ------------------------------------------ towns.csv content: classify.compare.read_run
def test_old_run_without_an_indicator_of_its_model_is_named(run, demo_run, tmp_path, capsys):
    """Its composite would be recomputed without the indicator, silently."""
    csv = run / "towns.csv"
    indicator = json.loads((run / "model.json").read_text(encoding="utf-8"))["indicators"][0]["id"]
    pd.read_csv(csv, dtype=str).drop(columns=indicator).to_csv(csv, index=False)
    _fails(["compare", run, demo_run[0], "--out", tmp_path / "cmp", "--no-map"], capsys,
           str(csv), f"column {indicator!r}", "old run")


def test_blank_category_in_towns_csv_is_named(run, demo_run, tmp_path, capsys):
    csv = run / "towns.csv"
    pd.read_csv(csv, dtype=str).assign(category="").to_csv(csv, index=False)
    _fails(["compare", run, demo_run[0], "--out", tmp_path / "cmp"], capsys,
           f"{csv}, row 2, column 'category'")


# ------------------------------ --towns: classify.levels.read_child_run
def test_town_run_with_a_code_twice_is_named(run, tmp_path, capsys):
    csv = run / "towns.csv"
    towns = pd.read_csv(csv, dtype=str)
    pd.concat([towns, towns.iloc[:1]]).to_csv(csv, index=False)
    _fails(["demo", "--level", "county", "--towns", run, "--out", tmp_path / "county",
            "--draws", "0", "--sheets", "none", "--static", "none"], capsys, str(csv),
           f"town_code {towns['town_code'].iloc[0]}")


# ------------------------------------------ run.json model record: classify.compare.read_run
@pytest.mark.parametrize("record", ["x", {"reference": "x"}, []])
def test_model_record_of_wrong_type_in_run_json_is_named(run, demo_run, tmp_path, capsys,
                                                         record):
    _edit(run / "run.json", lambda data: data.update(model=record))
    (run / "model.json").write_text(json.dumps(dict(json.loads(
        (run / "model.json").read_text(encoding="utf-8")), tool="edited")), encoding="utf-8")
    _fails(["compare", demo_run[0], run, "--out", tmp_path / "cmp", "--no-map"], capsys,
           str(run / "run.json"), "model.reference")


def test_model_json_of_another_run_is_said(run, demo_run, tmp_path, capsys):
    """A model.json copied from another run: the scores use it, and the console says so."""
    model = run / "model.json"
    model.write_text(json.dumps(dict(json.loads(model.read_text(encoding="utf-8")),
                                     tool="another run")), encoding="utf-8")
    assert main([str(a) for a in ("compare", run, demo_run[0], "--out", tmp_path / "cmp",
                                  "--no-map")]) == 0
    assert f"model.json is not the one {run / 'run.json'} records: sha256 differs" in \
        capsys.readouterr().out


# ------------------------------- --reference of another level: classify.levels.check_reference_run
def test_reference_run_of_another_level_is_named(run, tmp_path, capsys):
    """A county run's model for a town table (here: a run whose run.json says county)."""
    _edit(run / "run.json", lambda data: data["level"].update(id="county"))
    _fails(["demo", "--reference", run, "--out", tmp_path / "next", "--draws", "0",
            "--sheets", "none", "--static", "none"], capsys, str(run),
           "this is a county run")


def test_reference_folder_without_run_json_is_not_taken_for_a_town_run(tmp_path, capsys):
    """A folder holding only a county run's model.json records no level: the county run
    that references it is not refused as given "a town run"."""
    quick = ["--draws", "0", "--sheets", "none", "--static", "none"]
    assert main(["demo", "--level", "county", "--out", str(tmp_path / "y1"), *quick]) == 0
    alone = tmp_path / "model-only"
    alone.mkdir()
    shutil.copy(tmp_path / "y1" / "model.json", alone / "model.json")
    capsys.readouterr()
    status = main(["demo", "--level", "county", "--reference", str(alone),
                   "--out", str(tmp_path / "y2"), *quick])
    assert status == 0, capsys.readouterr().err
