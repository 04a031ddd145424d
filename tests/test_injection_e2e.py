"""Hostile town names through a whole run: no CSV output carries a live formula, and the
workbooks hold them as text (never as a formula)."""

import csv
import json
import zipfile

import openpyxl
import pytest

from classify.bundled import DEMO, data_dir
from classify.cli import main

pytestmark = pytest.mark.slow

HOSTILE = {"441802006": '=HYPERLINK("http://evil.example","点我")',
           "441802007": "@SUM(1+1)", "441802008": "-2+3镇"}


@pytest.fixture(scope="module")
def run_out(tmp_path_factory):
    root = tmp_path_factory.mktemp("inj")
    geo = json.loads((data_dir() / DEMO["boundaries"]).read_text(encoding="utf-8"))
    for f in geo["features"]:
        code = f["properties"]["town_code"]
        if code in HOSTILE:
            f["properties"]["town"] = HOSTILE[code]
    (root / "b.geojson").write_text(json.dumps(geo, ensure_ascii=False), encoding="utf-8")
    text = (data_dir() / DEMO["indicators"]).read_text(encoding="utf-8-sig").splitlines()
    rows = list(csv.reader(text))
    for r in rows[1:]:
        if r and r[0] in HOSTILE:
            r[1] = HOSTILE[r[0]]
    with open(root / "t.csv", "w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(rows)
    out = root / "out"
    assert main(["run", "--boundaries", str(root / "b.geojson"), "--indicators",
                 str(root / "t.csv"), "--out", str(out), "--draws", "0",
                 "--static", "none"]) == 0
    return out


def _cells(path):
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return [cell for row in csv.reader(fh) for cell in row]


def test_no_csv_output_has_a_cell_a_spreadsheet_would_run(run_out):
    names = sorted(p.name for p in run_out.glob("*.csv"))
    assert {"towns.csv", "join_report.csv", "rules.csv", "weights.csv", "clusters.csv",
            "clusters_k.csv"} <= set(names)
    for path in run_out.glob("*.csv"):
        for cell in _cells(path):
            if cell[:1] in ("=", "+", "@", "\t", "\r"):
                pytest.fail(f"{path.name}: live cell {cell!r}")
            if cell[:1] == "-":        # only plain negative numbers may start with '-'
                float(cell)


def test_the_names_are_kept_with_the_apostrophe(run_out):
    towns = {row[0]: row[1] for row in csv.reader(
        open(run_out / "towns.csv", encoding="utf-8-sig", newline=""))}
    for code, name in HOSTILE.items():
        assert towns[code] == "'" + name
    report = _cells(run_out / "join_report.csv")
    assert "'" + HOSTILE["441802006"] in report


def test_the_workbooks_hold_the_names_as_text(run_out):
    for path in (run_out / "towns.xlsx", run_out / "suggestions" / "suggestions.xlsx"):
        with zipfile.ZipFile(path) as z:
            for member in z.namelist():
                if member.startswith("xl/worksheets/"):
                    xml = z.read(member).decode("utf-8")
                    assert "<f>" not in xml and "<f " not in xml, (path.name, member)
        book = openpyxl.load_workbook(path)
        texts = {c.value for ws in book.worksheets for row in ws.iter_rows() for c in row
                 if c.data_type == "s"}
        assert HOSTILE["441802006"] in texts, path.name
        assert not any(c.data_type == "f" for ws in book.worksheets
                       for row in ws.iter_rows() for c in row), path.name
