"""The report folder (classify.report): sheets by scope, the stored evidence and
`towntype sheets`, the index page, and the demo saying what it said before the rebuild."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd
import pytest

from classify.report import (AUTO_SHEETS_MAX, load_evidence, parse_scope, read_codes,
                             save_evidence, select, sheets_from_run, write_report)
from classify.report.workers import SliceJob
from classify.sheets import render_html, render_markdown, set_sheet_names
from geo.errors import InputError
from tests.test_sheets import NOTICE, frame, suggestions  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[1]
BEFORE = ROOT / "tests" / "data" / "demo_before"


# -- scope --------------------------------------------------------------------------------
def _towns(n, county="连州市"):
    return pd.DataFrame({"town_code": [f"4418821{k:02d}" for k in range(n)],
                         "county": [county] * (n - 1) + ["阳山县"]})


def test_auto_scope_is_every_town_up_to_a_province_and_none_above():
    assert len(select(_towns(12), kind="auto")) == 12
    assert len(select(_towns(AUTO_SHEETS_MAX), kind="auto")) == AUTO_SHEETS_MAX
    assert len(select(_towns(AUTO_SHEETS_MAX + 1), kind="auto")) == 0
    assert len(select(_towns(AUTO_SHEETS_MAX + 1), kind="all")) == AUTO_SHEETS_MAX + 1
    assert len(select(_towns(12), kind="none")) == 0


def test_scope_by_county_and_codes(tmp_path):
    towns = _towns(5)
    np.testing.assert_array_equal(select(towns, kind="pick", counties=["阳山县"]), [4])
    said = []
    codes = tmp_path / "codes.txt"
    codes.write_text("town_code\n441882100\n\n441882199\n", encoding="utf-8")
    got = select(towns, kind="pick", codes=read_codes(codes), log=said.append)
    np.testing.assert_array_equal(got, [0])
    assert "441882199" in said[0] and "codes not in the run" in said[0]
    with pytest.raises(InputError, match="no towns in this county.*连州市"):
        select(towns, kind="pick", counties=["清城区"])


def test_codes_files_as_people_make_them(tmp_path):
    # GB18030 with a Chinese header, cells copied from Excel (tab), numbers saved as 1.0
    files = {"gbk.txt": ("代码\n441882100\n".encode("gb18030"), ["441882100"]),
             "excel.txt": ("441882100\t连州镇\r\n441882101\t星子镇\r\n".encode("utf-8"),
                           ["441882100", "441882101"]),
             "numbers.csv": ("\ufeff441882100.0,连州镇\n".encode("utf-8"), ["441882100"])}
    for name, (data, want) in files.items():
        (tmp_path / name).write_bytes(data)
        assert read_codes(tmp_path / name) == want, name
    (tmp_path / "binary.txt").write_bytes(b"\xff\xfe\x00\xd8\x81")
    with pytest.raises(InputError, match=r"--codes .*binary\.txt: .*save it as UTF-8 text"):
        read_codes(tmp_path / "binary.txt")


def test_codes_kept_in_a_workbook_are_read_from_its_first_column(tmp_path):
    # a list made in Excel and given as it is: a notes sheet first, codes typed as numbers
    from openpyxl import Workbook
    book = Workbook()
    book.active.title = "说明"
    book.active.append(["各镇自评名单"])
    sheet = book.create_sheet("名单")
    for row in (["统计代码", "镇街"], [441882100, "连州镇"], [None, None], ["441882101", "星子镇"]):
        sheet.append(row)
    book.save(tmp_path / "codes.xlsx")
    assert read_codes(tmp_path / "codes.xlsx") == ["441882100", "441882101"]
    (tmp_path / "named.txt").write_bytes((tmp_path / "codes.xlsx").read_bytes())
    assert read_codes(tmp_path / "named.txt") == ["441882100", "441882101"]
    book = Workbook()           # codes in the second column, the first left empty
    book.active.append([None, "441882102"])
    book.save(tmp_path / "column_b.xlsx")
    assert read_codes(tmp_path / "column_b.xlsx") == ["441882102"]
    # a damaged workbook (or any file that is no text) is no list of codes
    (tmp_path / "cut.xlsx").write_bytes((tmp_path / "codes.xlsx").read_bytes()[:200])
    with pytest.raises(InputError, match=r"cut\.xlsx: 不是文本文件或工作簿.*binary file"):
        read_codes(tmp_path / "cut.xlsx")


@pytest.mark.parametrize("text", ["some", "county=", "codes", "town=x"])
def test_a_bad_sheets_value_says_what_is_allowed(text):
    with pytest.raises(InputError, match="county=NAME.*codes=FILE"):
        parse_scope(text)


def test_parse_scope_values():
    assert parse_scope("auto") == ("auto", None)
    assert parse_scope("county=连州市") == ("county", "连州市")
    assert parse_scope("codes=my list.txt") == ("codes", "my list.txt")


# -- evidence and sheets from it ----------------------------------------------------------
def test_sheets_from_the_stored_evidence_are_the_run_s_sheets(tmp_path, suggestions):
    names = set_sheet_names(suggestions)
    save_evidence(suggestions, tmp_path, names)
    back, back_names = load_evidence(tmp_path, [1, 3])
    assert back_names == [names[1], names[3]]
    for s, b in zip([suggestions[1], suggestions[3]], back):
        assert render_markdown(b, notice=NOTICE) == render_markdown(s, notice=NOTICE)
        assert render_html(b, notice=NOTICE) == render_html(s, notice=NOTICE)
    every, _ = load_evidence(tmp_path)
    assert [s.town_code for s in every] == [s.town_code for s in suggestions]


def test_evidence_keeps_mixed_values_lists_and_missing_ones(tmp_path, suggestions):
    names = set_sheet_names(suggestions)
    cols = list(suggestions[1].missing.columns)
    table = pd.DataFrame({c: ["x", "y", "z"] for c in cols})
    table["detail"] = [80, "P70", None]            # text and numbers: stored as JSON text
    table["affects"] = [["composite"], [], None]   # lists too
    table["unit"] = [None, "万元", float("nan")]    # missing text stays missing
    suggestions[1].missing = table
    save_evidence(suggestions, tmp_path, names)
    (back,), _ = load_evidence(tmp_path, [1])
    got = back.missing
    assert list(got.columns) == cols
    assert got["detail"].tolist() == [80, "P70", None]
    assert got["affects"].tolist() == [["composite"], [], None]
    assert got["unit"].iloc[1] == "万元" and pd.isna(got["unit"].iloc[0])
    assert pd.isna(got["unit"].iloc[2])
    assert load_evidence(tmp_path, [2])[0][0].missing.equals(suggestions[2].missing)


def test_no_evidence_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="no per-town evidence.*towntype run"):
        load_evidence(tmp_path)


# -- the index page -----------------------------------------------------------------------
def test_index_lists_every_town_and_links_only_the_sheets_made(tmp_path, suggestions):
    hostile = suggestions[2]
    hostile.town = '<img src=x onerror="alert(1)">'
    names = set_sheet_names(suggestions)
    files = write_report(suggestions, tmp_path, scope=np.array([0, 1]), names=names,
                         xlsx=False, notice=NOTICE)
    folder = tmp_path / "suggestions"
    assert sorted(p.name for p in files) == sorted(
        [f"{names[k]}.{e}" for k in (0, 1) for e in ("md", "html")] +
        ["index.html", "sheets.js"])
    html = (folder / "index.html").read_text(encoding="utf-8")
    rows = re.findall(r"<tr id=", html)
    assert len(rows) == len(suggestions)
    links = re.findall(r'<a href="([^"]+)"', html)
    assert sorted(links) == sorted(f"{names[k]}.html" for k in (0, 1))
    assert all((folder / link).is_file() for link in links)
    assert html.count("未生成自评表") == len(suggestions) - 2
    assert "<img" not in html and "&lt;img" in html            # autoescaped
    assert not re.search(r"(src|href)=\"https?://", html)        # offline


def test_a_benchmark_without_a_sheet_links_to_its_index_row(tmp_path, suggestions):
    names = set_sheet_names(suggestions)
    k = next(i for i, s in enumerate(suggestions) if s.benchmarks)
    target = suggestions[k].benchmarks[0]
    write_report(suggestions, tmp_path, scope=np.array([k]), names=names, xlsx=False)
    html = (tmp_path / "suggestions" / f"{names[k]}.html").read_text(encoding="utf-8")
    assert f'href="index.html#{target.sheet}"' in html
    index = (tmp_path / "suggestions" / "index.html").read_text(encoding="utf-8")
    assert f'id="{target.sheet}"' in index


def _sheet_list(folder: Path) -> list[str]:
    text = (folder / "sheets.js").read_text(encoding="utf-8")
    return json.loads(re.search(r"window\.towntypeSheets = (\[.*\]);", text).group(1))


def test_sheets_made_later_are_listed_for_the_index_which_is_not_rewritten(
        tmp_path, suggestions):
    names = set_sheet_names(suggestions)
    save_evidence(suggestions, tmp_path, names)
    write_report(suggestions, tmp_path, scope=np.array([0]), names=names, xlsx=False,
                 notice=NOTICE)
    folder = tmp_path / "suggestions"
    index = (folder / "index.html").read_bytes()
    assert _sheet_list(folder) == [names[0]]
    assert b'<script src="sheets.js"></script>' in index
    files = sheets_from_run(tmp_path, codes=[suggestions[3].town_code])
    assert sorted(p.name for p in files) == sorted([f"{names[3]}.md", f"{names[3]}.html",
                                                    "sheets.js"])
    assert (folder / "index.html").read_bytes() == index          # not rewritten
    assert _sheet_list(folder) == sorted([names[0], names[3]])
    # an index from before sheets.js (or none) is written whole, linking what is there
    (folder / "index.html").unlink()
    files = sheets_from_run(tmp_path, codes=[suggestions[4].town_code])
    html = (folder / "index.html").read_text(encoding="utf-8")
    assert sorted(re.findall(r'<a href="([^"]+)"', html)) == sorted(
        f"{names[k]}.html" for k in (0, 3, 4))


@pytest.mark.parametrize("manifest", ["[1, 2]", "not json", '{"notice": "旧说明"}'])
def test_towntype_sheets_reads_a_run_json_it_cannot_use_as_saying_nothing(
        tmp_path, suggestions, manifest):
    """A run.json that is not an object (a list: an AttributeError before) or not JSON:
    the sheets are made without a notice; a readable one gives its notice."""
    names = set_sheet_names(suggestions)
    save_evidence(suggestions, tmp_path, names)
    (tmp_path / "run.json").write_text(manifest, encoding="utf-8")
    sheets_from_run(tmp_path, codes=[suggestions[0].town_code])
    md = (tmp_path / "suggestions" / f"{names[0]}.md").read_text(encoding="utf-8")
    assert ("旧说明" in md) == manifest.startswith("{")


@pytest.mark.parametrize("damage", ["towns.parquet gone", "meta.json a list",
                                    "meta.json not JSON", "benchmarks.parquet cut"])
def test_towntype_sheets_on_damaged_evidence_is_an_input_error(tmp_path, suggestions,
                                                               damage):
    """A damaged evidence/ folder: an error naming it and saying to run again (each of
    these was a defect: FileNotFoundError, TypeError, JSONDecodeError, ArrowInvalid)."""
    names = set_sheet_names(suggestions)
    save_evidence(suggestions, tmp_path, names)
    ev = tmp_path / "evidence"
    if damage == "towns.parquet gone":
        (ev / "towns.parquet").unlink()
    elif damage == "meta.json a list":
        (ev / "meta.json").write_text("[]", encoding="utf-8")
    elif damage == "meta.json not JSON":
        (ev / "meta.json").write_text("{bad", encoding="utf-8")
    else:
        path = ev / "benchmarks.parquet"
        path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(InputError, match=r"逐镇证据表已损坏或不完整.*towntype run") as err:
        sheets_from_run(tmp_path, codes=[suggestions[0].town_code])
    # a meta.json of the wrong shape is named itself (and its key)
    assert err.value.path == str(ev / "meta.json" if damage == "meta.json a list" else ev)


@pytest.mark.browser
def test_the_index_links_a_sheet_made_after_the_run(tmp_path, suggestions):
    from tests.browser import chromium, external, page_log

    names = set_sheet_names(suggestions)
    save_evidence(suggestions, tmp_path, names)
    write_report(suggestions, tmp_path, scope=np.array([0]), names=names, xlsx=False,
                 notice=NOTICE)
    sheets_from_run(tmp_path, codes=[suggestions[3].town_code])
    with chromium() as driver:
        driver.get((tmp_path / "suggestions" / "index.html").as_uri())
        errors, urls = page_log(driver)
        assert errors == [] and external(urls) == []
        links = driver.execute_script(
            "return [...document.querySelectorAll('tbody a')].map(a => a.href)")
        assert sorted(u.rsplit("/", 1)[-1] for u in links) == sorted(
            quote(f"{names[k]}.html") for k in (0, 3))
        row = driver.find_element("id", names[3])
        assert row.text.startswith(suggestions[3].town) and "未生成自评表" not in row.text
        assert driver.find_element("id", "n-sheets").text == "2"
        assert driver.find_element("id", "how").is_displayed()      # 2 of 8 towns
        assert NOTICE in driver.find_element("css selector", "p.notice").text


def test_sheets_written_by_workers_are_the_sheets_written_in_process(tmp_path, suggestions):
    names = set_sheet_names(suggestions)
    scope = np.array([0, 2, 3, 5, 6, 7])         # benchmarks outside it link to the index
    one, two = (write_report(suggestions, tmp_path / k, scope=scope, names=names,
                             xlsx=False, notice=NOTICE, run_dir=Path("RUN"), workers=w)
                for k, w in (("one", 1), ("two", 2)))
    assert [p.name for p in one] == [p.name for p in two]
    assert len(one) == 2 * len(scope) + 2
    for a, b in zip(one, two):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_sheets_on_request_above_a_province_are_written_in_process(tmp_path, suggestions,
                                                                  monkeypatch):
    import classify.report as report
    import classify.report.workers as workers

    seen = []

    class Spy(SliceJob):
        def __init__(self, job, n, **kw):
            super().__init__(job, n, **kw)
            seen.append(self.workers)

    monkeypatch.setattr(report, "SliceJob", Spy)
    monkeypatch.setattr(workers, "MIN_PER_WORKER", 1)   # 8 towns would be forked
    names = set_sheet_names(suggestions)
    for most in (100, 4):                                # a province; 8 > 4: on request
        monkeypatch.setattr(report, "AUTO_SHEETS_MAX", most)
        write_report(suggestions, tmp_path / str(most), scope=np.arange(8), names=names,
                     xlsx=False)
    assert seen == [min(2, workers.cores()), 1]


def test_slice_job_runs_the_slices_in_other_processes_in_order():
    import os

    def job(start, stop):
        return [(k, os.getpid()) for k in range(start, stop)]

    with SliceJob(job, 10, workers=2) as work:
        pass
    got = work.results()
    assert [k for k, _ in got] == list(range(10))
    assert os.getpid() not in {pid for _, pid in got}
    with SliceJob(job, 10, workers=1) as work:
        pass
    assert {pid for _, pid in work.results()} == {os.getpid()}


def test_the_caller_takes_the_slices_no_worker_has_begun_the_last_first():
    import os
    import time

    def job(start, stop):
        time.sleep(0.2)     # the worker is busy with the first tasks meanwhile
        return [(k, os.getpid()) for k in range(start, stop)]

    with SliceJob(job, 400, workers=2, first=lambda: [("first", os.getpid())]) as work:
        assert work.workers == 2 and len(work.tasks) == 9      # first, 8 slices of 50
        slices = work.results()
        got = work.first_result + slices
    assert [k for k, _ in got] == ["first"] + list(range(400))
    pids = [pid for _, pid in got]
    assert pids[-1] == os.getpid()                  # the last slice: taken first
    assert pids[0] != os.getpid()                   # the first task: a worker's
    with SliceJob(job, 3, workers=1, first=lambda: ["first"]) as work:
        pass
    assert [x[1] for x in work.results()] == [os.getpid()] * 3
    assert work.first_result == ["first"]


def test_an_error_in_a_worker_reaches_the_caller():
    def job(start, stop):
        if start <= 7 < stop:
            raise ValueError("town 7 failed")
        return list(range(start, stop))

    with pytest.raises(ValueError, match="town 7 failed"):
        with SliceJob(job, 10, workers=2) as work:
            work.results()


def test_a_worker_that_dies_is_an_error_not_a_hang():
    import os
    import time
    from concurrent.futures.process import BrokenProcessPool

    caller = os.getpid()

    def job(start, stop):
        if start == 0 and os.getpid() != caller:
            os._exit(1)                 # killed (out of memory …) in its first slice
        return list(range(start, stop))

    with pytest.raises(BrokenProcessPool):
        with SliceJob(job, 400, workers=2) as work:
            time.sleep(0.5)             # the worker has begun the first slice
            work.results()


def test_an_error_in_the_callers_block_stops_the_workers_and_writes_no_more(
        tmp_path, suggestions, monkeypatch):
    """Ctrl-C (or an error) while the run writes its tables: the workers stop after the
    slice they are in (none is begun after), and the error reaches the caller."""
    import multiprocessing

    import classify.report.workers as workers
    from classify.report import writing_report

    monkeypatch.setattr(workers, "MIN_PER_WORKER", 1)
    monkeypatch.setattr(workers, "SLICE", 1)
    names = set_sheet_names(suggestions)
    with pytest.raises(KeyboardInterrupt):
        with writing_report(suggestions, tmp_path, scope=np.arange(8), names=names,
                            workers=2) as (files, _):
            assert (tmp_path / "suggestions" / "index.html").is_file()
            raise KeyboardInterrupt
    assert files == [tmp_path / "suggestions" / n for n in ("index.html", "sheets.js")]
    assert not multiprocessing.active_children()
    assert len(files) == 2                          # nothing joined after the error


def test_the_run_writes_its_tables_and_maps_while_the_sheets_render(tmp_path, suggestions):
    """write_report_files hands the scope to the caller's other writing after the index
    (and before it joins the sheets), and lists its files with the report's."""
    from classify.pipeline import demo_options, write_report_files

    county = suggestions[0].county
    opts = demo_options(out=tmp_path / "run", sheets=f"county={county}")
    names = set_sheet_names(suggestions)
    seen = []

    def meanwhile(scope):
        seen.append((list(scope), (tmp_path / "suggestions" / "index.html").is_file()))
        return [tmp_path / "other.csv"]

    files, scope = write_report_files(opts, suggestions, names, tmp_path, meanwhile=meanwhile)
    assert seen == [(list(scope), True)]
    assert list(scope) == [k for k, s in enumerate(suggestions) if s.county == county]
    assert 0 < len(scope) < len(suggestions)
    assert files[-1] == tmp_path / "other.csv"
    assert {f"{names[k]}.html" for k in scope} <= {p.name for p in files}


def test_a_long_detail_table_goes_to_csv_with_a_note_and_a_main_table_stays(tmp_path):
    import openpyxl

    from classify.report.workbook import DETAIL_ROWS, write_workbook

    n = DETAIL_ROWS + 1
    table = pd.DataFrame({"统计代码": [f"{k:09d}" for k in range(n)], "差距": np.arange(n) / 4})
    written = write_workbook(tmp_path / "book.xlsx", {"汇总": table, "对标差距": table},
                             detail=["对标差距"],
                             long_note="此表 {rows} 行，已写入 {csv}。")
    csv = tmp_path / "book_对标差距.csv"
    assert written == [tmp_path / "book.xlsx", csv]
    book = openpyxl.load_workbook(tmp_path / "book.xlsx", read_only=True)
    assert book["对标差距"]["A1"].value == f"此表 {n:,} 行，已写入 book_对标差距.csv。"
    assert book["汇总"].max_row == n + 1                      # the main table stays
    back = pd.read_csv(csv, dtype={"统计代码": str}, encoding="utf-8-sig")
    pd.testing.assert_frame_equal(back, table)
    # a short detail table stays in the workbook
    write_workbook(tmp_path / "short.xlsx", {"对标差距": table.head(5)}, detail=["对标差距"])
    assert openpyxl.load_workbook(tmp_path / "short.xlsx")["对标差距"]["A2"].value == \
        "000000000"


# -- end to end: the demo, and towntype sheets on it ---------------------------------------
def _sheet(path: Path, name: str) -> pd.DataFrame:
    return pd.read_excel(path, sheet_name=name, dtype={"统计代码": str})


def test_demo_says_what_it_said_before_the_rebuild(demo_run):
    """Categories, benchmark gaps and rule gaps of the demo, against the outputs of the
    code before issue 14 (tests/data/demo_before)."""
    out, _ = demo_run
    towns = pd.read_csv(out / "towns.csv", dtype={"town_code": str}, encoding="utf-8-sig")
    before = pd.read_csv(BEFORE / "categories.csv", dtype={"town_code": str})
    pd.testing.assert_frame_equal(towns[before.columns.tolist()], before)
    book = out / "suggestions" / "suggestions.xlsx"
    gaps = _sheet(book, "对标差距").iloc[:, [0, 2, 3, 5, 6, 7]]
    gaps.columns = ["town_code", "benchmark", "indicator", "this", "other", "diff"]
    pd.testing.assert_frame_equal(gaps, pd.read_csv(BEFORE / "benchmark_gaps.csv",
                                                    dtype={"town_code": str}),
                                  check_dtype=False)
    rules = _sheet(book, "类别差距").iloc[:, [0, 2, 3, 4, 5, 7, 8, 9]]
    rules.columns = ["town_code", "target", "relation", "rule", "indicator", "current",
                     "needed", "change"]
    pd.testing.assert_frame_equal(rules, pd.read_csv(BEFORE / "rule_gaps.csv",
                                                     dtype={"town_code": str}),
                                  check_dtype=False)


def test_demo_report_folder_is_complete(demo_run):
    out, _ = demo_run
    folder = out / "suggestions"
    towns = pd.read_csv(out / "towns.csv", dtype={"town_code": str}, encoding="utf-8-sig")
    sheets = sorted(p.stem for p in folder.glob("4*.html"))
    assert len(sheets) == len(towns)
    assert all(re.fullmatch(r"\d{9,12}_\w+", s) for s in sheets), sheets[:3]
    assert (folder / "index.html").is_file() and (folder / "suggestions.xlsx").is_file()
    assert (out / "towns.xlsx").is_file() and (out / "evidence" / "meta.json").is_file()


def test_towntype_sheets_makes_one_county_from_the_run_alone(demo_run, tmp_path):
    import shutil

    out, _ = demo_run
    run = tmp_path / "run"
    shutil.copytree(out, run)
    for p in (run / "suggestions").glob("4*"):
        p.unlink()
    towns = pd.read_csv(run / "towns.csv", dtype={"town_code": str}, encoding="utf-8-sig")
    county = towns["county"].iloc[0]
    proc = subprocess.run([sys.executable, "-m", "classify.cli", "sheets", str(run),
                           "--county", county], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    made = sorted(p.name for p in (run / "suggestions").glob("4*.html"))
    assert len(made) == int((towns["county"] == county).sum())
    index = (run / "suggestions" / "index.html").read_text(encoding="utf-8")
    for name in made:       # the sheet the run wrote; benchmarks without a sheet: index rows
        html = (run / "suggestions" / name).read_text(encoding="utf-8")
        for anchor in re.findall(r'href="index\.html#([^"]+)"', html):
            assert f'id="{anchor}"' in index
        assert re.sub(r'href="index\.html#([^"]+)"', r'href="\1.html"', html) == \
            (out / "suggestions" / name).read_text(encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "classify.cli", "sheets", str(run),
                           "--county", "没有这个县"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and "no towns in this county" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_run_json_records_the_timings_of_the_output_stages(demo_run):
    out, _ = demo_run
    timings = json.loads((out / "run.json").read_text(encoding="utf-8"))["timings"]
    assert {"suggestions", "sheets", "outputs", "map"} <= set(timings)


def test_sheets_flag_is_checked_before_any_input_is_read(tmp_path, capsys):
    from classify.cli import main

    assert main(["demo", "--out", str(tmp_path / "o"), "--sheets", "province"]) == 2
    err = capsys.readouterr().err
    assert "--sheets" in err and "county=NAME" in err
    assert not (tmp_path / "o").exists()


def test_towntype_sheets_into_a_folder_it_cannot_write_names_it(demo_run, tmp_path, capsys):
    import shutil

    from classify.cli import main

    run = tmp_path / "run"
    shutil.copytree(demo_run[0], run, ignore=shutil.ignore_patterns("suggestions"))
    (run / "suggestions").write_text("a file where the sheets go")
    assert main(["sheets", str(run), "--county", "连州市"]) == 2
    err = capsys.readouterr().err
    assert "无法写入（cannot write）" in err and "suggestions" in err
    assert "缺陷" not in err and "Traceback" not in err


def test_a_run_with_one_county_in_scope(tmp_path, capsys):
    from classify.cli import main

    out = tmp_path / "o"
    assert main(["demo", "--out", str(out), "--sheets", "county=连州市", "--draws", "0",
                 "--static", "none"]) == 0
    towns = pd.read_csv(out / "towns.csv", dtype={"town_code": str}, encoding="utf-8-sig")
    made = sorted(p.stem for p in (out / "suggestions").glob("4*.html"))
    want = sorted(f"{c}_{t}" for c, t in towns.loc[towns["county"] == "连州市",
                                                    ["town_code", "town"]].to_numpy())
    assert made == want and len(made) < len(towns)
    said = json.loads((out / "run.json").read_text(encoding="utf-8"))["log"]
    assert any("towntype sheets" in line and "--county" in line for line in said)
    # the rest later: a run with --draws 0 stores no confidence (null), and its sheets say
    # 未评估 as the run's own do (float(None) stopped towntype sheets with a defect)
    capsys.readouterr()
    assert main(["sheets", str(out), "--county", "阳山县"]) == 0, capsys.readouterr().err
    later = sorted((out / "suggestions").glob("441823*.html"))
    assert len(later) == int((towns["county"] == "阳山县").sum())
    for sheet in (later[0], next((out / "suggestions").glob("441882*.html"))):
        assert re.search(r"置信度（稳定性）</[^>]+>\s*<[^>]+>未评估", sheet.read_text(encoding="utf-8"))
    # the summary names the file it rewrote: sheets.js, not the index
    assert "sheets.js 已更新" in capsys.readouterr().out
    # codes none of which is a town of the run: an error (exit 2) naming them, no sheets
    codes = tmp_path / "codes.txt"
    codes.write_text("999999999\n888888888\n", encoding="utf-8")
    assert main(["sheets", str(out), "--codes", str(codes)]) == 2
    err = capsys.readouterr().err
    assert "都不是此运行的镇街" in err and "999999999" in err and "Traceback" not in err


def test_a_missing_codes_file_of_the_run_is_named_by_its_flag(tmp_path):
    with pytest.raises(InputError, match=r"--sheets codes=.*nope\.txt: 文件不存在"):
        read_codes(tmp_path / "nope.txt", flag="--sheets codes=")
    with pytest.raises(InputError, match=r"--codes .*nope\.txt: 文件不存在"):
        read_codes(tmp_path / "nope.txt")


def test_an_aside_task_gets_a_process_of_its_own_and_its_warnings_are_said_here():
    """A national run writes no sheets: its maps (an ``aside``) take the second core, and
    what the worker warns reaches the caller's warnings (the run's console and run.json)."""
    import os
    import time
    import warnings

    from classify.report.workers import cores
    from geo.errors import InputWarning

    def maps():
        warnings.warn("镇街多边形不是干净的覆盖（not a clean coverage）", InputWarning)
        return ["map.html", os.getpid()]

    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        with SliceJob(lambda a, b: [], 0, aside=maps) as work:
            time.sleep(0.5)         # the caller writes its tables; a worker begins the maps
        assert work.results() == []
    assert work.aside_result[0] == "map.html"
    if cores() > 1:
        assert work.aside_result[1] != os.getpid()      # in another process
    assert [(w.category, str(w.message)) for w in said] == [
        (InputWarning, "镇街多边形不是干净的覆盖（not a clean coverage）")]


def test_a_national_run_draws_its_maps_in_another_process_with_the_same_files(
        tmp_path, monkeypatch):
    """Above a province (no sheets by default) the maps are drawn by a worker while the
    run writes its tables and evidence: the same map files, and their stage times kept."""
    import classify.pipeline as pipeline

    opts = dict(draws=20, static_formats=("png",), sheets="none")
    pipeline.run_pipeline(pipeline.demo_options(tmp_path / "here", **opts))
    monkeypatch.setattr(pipeline, "AUTO_SHEETS_MAX", 10)     # the demo as a national run
    result = pipeline.run_pipeline(pipeline.demo_options(tmp_path / "aside", **opts))
    mc = result.extra["monte_carlo"]        # summarised; the per-draw arrays are let go
    assert mc.ranks is None and mc.composite is None
    assert len(mc.rank_summary) == len(result.towns) and len(mc.sensitivity) == 3
    for name in ("map.html", "map.png"):
        assert (tmp_path / "aside" / name).read_bytes() == (tmp_path / "here" / name).read_bytes()
    timings = json.loads((tmp_path / "aside" / "run.json").read_text(encoding="utf-8"))["timings"]
    assert timings["map"] > 0 and timings["static_maps"] > 0
