"""Output writing: staged folders, encodings, column order, round trip of the towns table."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from classify.report.workbook import write_workbook
from classify.outputs import (OutputWarning, check_output_folder, neutralise, order_columns,
                              staged_output, write_csv, write_towns)
from geo.errors import InputError


@pytest.fixture
def three_towns():
    return gpd.GeoDataFrame(
        {
            "category": ["strong", "specialised", "developing"],
            "town": ["连州镇", "㮾梨镇", "三水瑶族乡"],
            "town_code": ["441882100", "441882101", "441882201"],
            "score_strength": [90.0, 40.5, 10.25],
        },
        geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1)],
        crs=4326,
    )


def test_order_puts_keys_first_results_last(three_towns):
    assert order_columns(three_towns) == ["town_code", "town", "score_strength", "category", "geometry"]


def test_staged_output_moves_files_only_on_success(tmp_path):
    out = tmp_path / "out"
    with staged_output(out) as stage:
        (stage / "a.txt").write_text("x")
        assert not (out / "a.txt").exists()
    assert (out / "a.txt").read_text() == "x"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def _previous_run(out, *names):
    """A folder as an earlier run left it (its run.json marks it as towntype's)."""
    out.mkdir(parents=True)
    (out / "run.json").write_text('{"tool": "towntype 0.1"}', encoding="utf-8")
    for name in names:
        (out / name).write_text("old", encoding="utf-8")
    return out


def test_staged_output_leaves_previous_outputs_on_failure(tmp_path):
    out = _previous_run(tmp_path / "out")
    (out / "towns.csv").write_text("old")
    with pytest.raises(RuntimeError):
        with staged_output(out) as stage:
            (stage / "towns.csv").write_text("half")
            raise RuntimeError("boom")
    assert (out / "towns.csv").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_csv_has_bom_and_chinese(tmp_path):
    path = write_csv(pd.DataFrame({"town": ["㮾梨镇"]}), tmp_path / "t.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert "㮾梨镇".encode("utf-8") in raw


def test_towns_round_trip_keeps_text_codes_and_count(tmp_path, three_towns):
    write_towns(three_towns, tmp_path, notice="示例数据")
    back = gpd.read_file(tmp_path / "towns.gpkg", layer="towns")
    assert back.crs.to_epsg() == 4326
    assert list(back["town"]) == list(three_towns["town"])
    assert list(back["town_code"]) == ["441882100", "441882101", "441882201"]
    csv = pd.read_csv(tmp_path / "towns.csv", dtype={"town_code": str}, encoding="utf-8-sig")
    assert list(csv["town_code"]) == ["441882100", "441882101", "441882201"]
    sheets = pd.read_excel(tmp_path / "towns.xlsx", sheet_name=None, dtype={"统计代码": str})
    assert list(sheets) == ["说明", "镇街"]          # the notice first, then the table
    assert list(sheets["镇街"]["统计代码"]) == ["441882100", "441882101", "441882201"]


def test_workbook_keeps_numbers_text_and_empty_cells(tmp_path):
    table = pd.DataFrame({"town_code": ["441882100", "441882101"], "gdp": [1234.5, float("nan")],
                          "review": [True, False], "n": [3, 4]})
    write_workbook(tmp_path / "t.xlsx", {"towns": table})
    back = pd.read_excel(tmp_path / "t.xlsx", sheet_name="towns", dtype={"town_code": str})
    assert list(back["town_code"]) == ["441882100", "441882101"]
    assert back["gdp"].iloc[0] == 1234.5 and pd.isna(back["gdp"].iloc[1])
    assert list(back["review"]) == [True, False] and list(back["n"]) == [3, 4]


def _awkward_table(n=7):
    """Columns of every type the pipeline writes, with the values that need care."""
    base = pd.DataFrame({
        "text": pd.Series(["a,b", 'say "hi"', None, "", "two\nlines", "㮾梨镇", "cr\rhere"],
                          dtype="str"),
        "mixed": pd.Series([80, 0.5, "P70", None, float("nan"), True, 1 / 3], dtype=object),
        "float": [float("nan"), float("inf"), -0.0, 1e20, 1 / 3, 2.0, 123456789012.5],
        "float32": np.array([0.1, 1, np.nan, 3, 4.25, 5, 6], dtype=np.float32),
        "int": np.arange(7),
        "flag": [True, False, True, False, True, False, True],
        "rank": pd.array([1, None, 3, 4, 5, 6, 7], dtype="Int64"),
        "share": pd.array([1.5, None, 3, 4, 5, 6, 1 / 3], dtype="Float64"),
    })
    return pd.concat([base] * (n // 7), ignore_index=True) if n > 7 else base


def test_csv_of_types_left_to_pandas_and_of_one_column(tmp_path):
    table = pd.DataFrame({"cat": pd.Categorical(["x", "y"]), "n": [1.25, 2.0]})
    assert write_csv(table, tmp_path / "a.csv").read_bytes() == \
        b"\xef\xbb\xbfcat,n\nx,1.25\ny,2\n"
    assert write_csv(pd.DataFrame({"t": ["", "a"]}), tmp_path / "b.csv").read_bytes() == \
        b'\xef\xbb\xbft\n""\na\n'


def test_csv_is_what_pandas_writes_for_every_column_type(tmp_path, monkeypatch):
    """The writer is built on pyarrow compute for speed; its bytes are pandas' ``to_csv``
    with the same float format (minimal quoting, NaN empty, BOM), chunk joins included."""
    import classify.outputs as outputs

    monkeypatch.setattr(outputs, "_CSV_ROWS", 5)         # rows cross several chunks
    table = _awkward_table(21).assign(
        text=lambda t: t["text"].str.replace("\r", "", regex=False),  # see the next test
        cat=pd.Categorical(["a", None, "b,c", "a", "d", "a", "a"] * 3),
        boolean=pd.array([True, None, False] * 7, dtype="boolean"),
        big=pd.Series([2**53 + 1, -3, 0] * 7, dtype="int64"))
    path = write_csv(table, tmp_path / "a.csv")
    expected = table.to_csv(index=False, lineterminator="\n", float_format="%.10g")
    assert path.read_bytes() == b"\xef\xbb\xbf" + expected.encode("utf-8")
    assert write_csv(table.iloc[:0], tmp_path / "b.csv").read_bytes() == \
        b"\xef\xbb\xbf" + table.iloc[:0].to_csv(index=False, lineterminator="\n").encode()


def test_csv_of_object_text_columns_read_whole_by_arrow(tmp_path):
    """Object columns of text with None/NaN (join_report.csv, towns.csv) are read whole
    through Arrow: missing cells empty, formulas neutralised, quotes where needed; an
    all-missing column and a mixed one (cell by cell) alike."""
    table = pd.DataFrame({
        "t": pd.Series(["a,b", None, '=say "hi"', float("nan"), "连州镇"], dtype=object),
        "none": pd.Series([None] * 5, dtype=object),
        "mixed": pd.Series([80, 1.2, "街道", None, "-3"], dtype=object)})
    assert write_csv(table, tmp_path / "a.csv").read_bytes() == (
        '\ufefft,none,mixed\n"a,b",,80\n,,1.2\n"\'=say ""hi""",,街道\n,,\n连州镇,,-3\n'
        .encode("utf-8"))


def test_csv_quotes_a_bare_carriage_return(tmp_path):
    """A CR inside a cell is quoted (RFC 4180; Excel would break the row otherwise),
    where pandas on Python 3.11 left it bare."""
    import csv as pycsv

    path = write_csv(pd.DataFrame({"t": ["cr\rhere", "x"], "n": [1, 2]}), tmp_path / "a.csv")
    assert path.read_bytes() == b'\xef\xbb\xbft,n\n"cr\rhere",1\nx,2\n'
    with open(path, encoding="utf-8-sig", newline="") as fh:
        assert list(pycsv.reader(fh)) == [["t", "n"], ["cr\rhere", "1"], ["x", "2"]]


def test_workbook_cells_keep_their_types_and_text(tmp_path):
    import openpyxl

    table = _awkward_table().assign(formula=["=1+1", "<b>&amp;", "x", "x", "bell", "y",
                                             "  spaced  "])
    write_workbook(tmp_path / "t.xlsx", {"towns": table}, notice='示例 "数据" <&>')
    book = openpyxl.load_workbook(tmp_path / "t.xlsx")
    assert book.sheetnames == ["说明", "towns"]
    assert book["towns"].freeze_panes == "C2" and book["towns"].auto_filter.ref == "A1:I8"
    rows = list(book["towns"].iter_rows(values_only=True))
    assert rows[0] == tuple(table.columns)
    assert len(rows) == 8
    col = {name: [r[k] for r in rows[1:]] for k, name in enumerate(rows[0])}
    # a CR is stored as the OOXML escape _x000D_ (Excel shows the CR; openpyxl does not decode)
    assert col["text"] == ["a,b", 'say "hi"', None, None, "two\nlines", "㮾梨镇", "cr_x000D_here"]
    assert col["mixed"] == [80, 0.5, "P70", None, None, True, pytest.approx(1 / 3, rel=1e-15)]
    assert col["float"][0] is None and col["float"][1] is None     # NaN and inf: empty
    assert col["float"][3] == 1e20 and col["float"][6] == 123456789012.5
    assert col["float32"][:2] == [pytest.approx(float(np.float32(0.1)), rel=1e-15), 1]
    assert col["float32"][2] is None
    assert col["int"] == list(range(7)) and col["flag"] == [True, False] * 3 + [True]
    assert col["rank"] == [1, None, 3, 4, 5, 6, 7] and col["share"][1] is None
    # text stays text (never a formula); markup and control characters cannot break the XML
    assert col["formula"] == ["=1+1", "<b>&amp;", "x", "x", "bell", "y", "  spaced  "]
    assert book["towns"]["I2"].data_type == "s"
    assert book["说明"]["A2"].value == '示例 "数据" <&>'


def test_workbook_reads_back_like_the_table(tmp_path):
    table = _awkward_table(70).drop(columns=["text", "mixed", "float"])
    write_workbook(tmp_path / "t.xlsx", {"towns": table})
    back = pd.read_excel(tmp_path / "t.xlsx", sheet_name="towns")
    assert back.shape == table.shape
    np.testing.assert_allclose(back["float32"], table["float32"].astype(float))
    np.testing.assert_array_equal(back["int"], table["int"])
    assert back["flag"].tolist() == table["flag"].tolist()
    np.testing.assert_allclose(back["share"], table["share"].astype(float))


# -- publishing: the output folder is replaced whole, or not at all ----------------------

def test_a_new_run_leaves_no_file_of_the_earlier_one(tmp_path):
    out = _previous_run(tmp_path / "out", "map.png", "towns.csv")
    with staged_output(out) as stage:
        (stage / "towns.csv").write_text("new")
        (stage / "run.json").write_text('{"tool": "towntype 0.2"}')
    assert sorted(p.name for p in out.iterdir()) == ["run.json", "towns.csv"]
    assert (out / "towns.csv").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]      # no staging, no old copy


def test_a_failed_rename_into_place_restores_the_old_folder(tmp_path, monkeypatch):
    import os

    out = _previous_run(tmp_path / "out", "towns.csv")
    real = os.rename
    calls = []

    def rename(src, dst):
        calls.append((str(src), str(dst)))
        if ".partial-" in str(src):          # the staging folder cannot be moved in
            raise PermissionError(13, "Permission denied", str(dst))
        return real(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(PermissionError):
        with staged_output(out) as stage:
            (stage / "towns.csv").write_text("new")
            (stage / "map.png").write_text("new")
    assert len(calls) == 3                    # old away, new in (failed), old back
    assert sorted(p.name for p in out.iterdir()) == ["run.json", "towns.csv"]
    assert (out / "towns.csv").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_locked_old_folder_is_left_whole_and_the_staging_folder_removed(tmp_path,
                                                                             monkeypatch):
    import os

    out = _previous_run(tmp_path / "out", "towns.csv")
    real = os.rename

    def rename(src, dst):                     # Windows: a file of the old run is open
        if str(src) == str(out):
            raise PermissionError(13, "The process cannot access the file", str(src))
        return real(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(PermissionError):
        with staged_output(out) as stage:
            (stage / "towns.csv").write_text("new")
    assert (out / "towns.csv").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_an_old_folder_that_cannot_be_removed_is_reported(tmp_path, monkeypatch):
    import shutil

    out = _previous_run(tmp_path / "out", "towns.csv")
    real = shutil.rmtree

    def rmtree(path, *args, **kwargs):        # a file of the old run is in use
        if ".out.old-" not in str(path):
            real(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", rmtree)
    with pytest.warns(OutputWarning, match="could not all be removed"):
        with staged_output(out) as stage:
            (stage / "towns.csv").write_text("new")
    assert (out / "towns.csv").read_text() == "new"
    assert not (out / "run.json").exists()              # nothing of the old run in out
    assert not list(tmp_path.glob(".out.partial-*"))


def test_an_interrupt_leaves_the_previous_results_and_no_staging_folder(tmp_path):
    out = _previous_run(tmp_path / "out", "towns.csv")
    with pytest.raises(KeyboardInterrupt):
        with staged_output(out) as stage:
            (stage / "towns.csv").write_text("half")
            raise KeyboardInterrupt
    assert (out / "towns.csv").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_out_naming_a_file_is_refused_before_any_work(tmp_path):
    target = tmp_path / "results"
    target.write_text("not a folder")
    with pytest.raises(InputError, match="--out names an existing file"):
        with staged_output(target):
            pytest.fail("the block must not run")
    assert [p.name for p in tmp_path.iterdir()] == ["results"]


def test_a_folder_that_is_not_a_towntype_output_needs_force(tmp_path):
    mine = tmp_path / "文档"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="no run.json.*--force"):
        check_output_folder(mine)
    assert check_output_folder(mine, force=True) == mine
    assert check_output_folder(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    (tmp_path / "empty").mkdir()
    assert check_output_folder(tmp_path / "empty") == tmp_path / "empty"


def test_an_input_inside_out_is_refused_even_with_force(tmp_path):
    (tmp_path / "data").mkdir()
    table = tmp_path / "data" / "指标.csv"
    table.write_text("x")
    with pytest.raises(InputError, match="inside --out"):
        check_output_folder(tmp_path / "data", force=True, inputs=[None, table])


def test_an_unwritable_parent_is_refused(tmp_path, monkeypatch):
    import os

    locked = tmp_path / "locked"
    locked.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(locked)
                        else real(p, mode))
    with pytest.raises(InputError, match="无法写入（cannot write in .*locked, no permission"):
        check_output_folder(locked / "out" / "x")


def test_a_file_on_the_way_to_out_is_named_as_a_file(tmp_path):
    (tmp_path / "results").write_text("not a folder")
    with pytest.raises(InputError, match=r"results 是文件，不是文件夹（is a file, not a folder）"):
        check_output_folder(tmp_path / "results" / "2024")


# -- no formula injection in CSV -----------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("=HYPERLINK(\"http://x\",\"点\")", "'=HYPERLINK(\"http://x\",\"点\")"),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("==", "'=="), ("-1.5", "-1.5"), ("+3", "+3"), ("-1e-05", "-1e-05"),
    ("连州镇", "连州镇"), ("a=b", "a=b"), ("", ""),
])
def test_neutralise_follows_the_owasp_rule(text, expected):
    assert neutralise(text) == expected


def test_csv_text_cells_are_neutralised_and_numbers_kept(tmp_path):
    import csv as pycsv

    table = pd.DataFrame({
        "town": pd.Series(["=HYPERLINK(\"http://evil\")", "@x", "连州镇"], dtype="str"),
        "mixed": pd.Series(["-1+1", -2.5, None], dtype=object),
        "score": [-1.5, 2.0, float("nan")],
        "rank": pd.array([-1, None, 3], dtype="Int64"),
        "=head": [1, 2, 3],
    })
    for name, frame in (("fast", table), ("pandas", table.assign(
            cat=pd.Categorical(["+1+1", "ok", "ok"])))):
        path = write_csv(frame, tmp_path / f"{name}.csv")
        with open(path, encoding="utf-8-sig", newline="") as fh:
            rows = list(pycsv.reader(fh))
        assert rows[0][:5] == ["town", "mixed", "score", "rank", "'=head"]
        assert [r[0] for r in rows[1:]] == ["'=HYPERLINK(\"http://evil\")", "'@x", "连州镇"]
        assert [r[1] for r in rows[1:]] == ["'-1+1", "-2.5", ""]
        assert [r[2] for r in rows[1:]] == ["-1.5", "2", ""]
        assert [r[3] for r in rows[1:]] == ["-1", "", "3"]
        if name == "pandas":
            assert [r[5] for r in rows[1:]] == ["'+1+1", "ok", "ok"]
    one = write_csv(pd.DataFrame({"t": ["=1+1"]}), tmp_path / "one.csv")
    assert one.read_bytes() == b"\xef\xbb\xbft\n'=1+1\n"


def test_workbook_never_writes_text_as_a_formula(tmp_path):
    import zipfile

    import openpyxl

    table = pd.DataFrame({"town": ["=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@A1"],
                          "mixed": pd.Series(["=1", 2.0, "-x", None], dtype=object),
                          "score": [-1.5, 2.0, 3.0, 4.0]})
    path = write_workbook(tmp_path / "t.xlsx", {"towns": table})[0]
    with zipfile.ZipFile(path) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and "<f " not in sheet
    ws = openpyxl.load_workbook(path)["towns"]
    assert [ws.cell(r, 1).value for r in range(2, 6)] == list(table["town"])
    assert {ws.cell(r, 1).data_type for r in range(2, 6)} == {"s"}
    assert ws["B2"].data_type == "s" and ws["B4"].data_type == "s" and ws["C2"].value == -1.5


def test_out_containing_the_current_folder_is_refused(tmp_path, monkeypatch):
    here = _previous_run(tmp_path / "out")
    monkeypatch.chdir(here)
    with pytest.raises(InputError, match="current folder"):
        check_output_folder(here)


def test_a_symlinked_out_keeps_its_link_and_gets_the_new_results(tmp_path):
    real = _previous_run(tmp_path / "real", "map.png")
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    with staged_output(link) as stage:
        (stage / "towns.csv").write_text("new")
    assert link.is_symlink() and (link / "towns.csv").read_text() == "new"
    assert not (real / "map.png").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"]


def test_what_a_killed_run_left_beside_out_is_swept(tmp_path):
    import os
    import subprocess
    import sys

    out = _previous_run(tmp_path / "out", "towns.csv")
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    dead = tmp_path / f".out.partial-{gone}-abc"
    dead.mkdir()
    (dead / "towns.csv").write_text("half")
    (tmp_path / f".out.old-{gone}-def").mkdir()
    live = tmp_path / f".out.partial-{os.getppid()}-ghi"       # a process still running
    live.mkdir()
    other = tmp_path / ".other.partial-1-x"
    other.mkdir()
    with staged_output(out) as stage:
        (stage / "towns.csv").write_text("new")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["out", live.name, other.name])


def test_a_table_too_long_to_read_goes_to_csv_with_a_note(tmp_path, monkeypatch):
    import openpyxl

    import classify.report.workbook as wbmod

    monkeypatch.setattr(wbmod, "LONG_ROWS", 5)
    table = pd.DataFrame({"code": [f"44{k:07d}" for k in range(6)], "v": range(6)})
    paths = write_workbook(tmp_path / "s.xlsx", {"short": table.head(3), "gaps": table},
                           long_note="{rows} 行，见 {csv}")
    assert [p.name for p in paths] == ["s.xlsx", "s_gaps.csv"]
    book = openpyxl.load_workbook(paths[0])
    assert book["gaps"]["A1"].value == "6 行，见 s_gaps.csv"
    assert book["short"]["A2"].value == "440000000" and book["short"].max_row == 4
    back = pd.read_csv(paths[1], dtype={"code": str}, encoding="utf-8-sig")
    assert list(back["code"]) == list(table["code"])


def test_towns_workbook_headers_are_for_people(tmp_path):
    import openpyxl
    from classify.config import load_system
    from classify.outputs import towns_workbook

    system = load_system()
    ind = system.indicators[0]
    dim = system.dimensions[0]
    table = pd.DataFrame({"town_code": ["441882100"], "town": ["连州镇"], ind.id: [12.345],
                          f"score_{dim.id}": [55.55], "stability": [0.8], "unknown_col": [1]})
    towns_workbook(table, tmp_path / "zh.xlsx", system=system, lang="zh")
    towns_workbook(table, tmp_path / "en.xlsx", system=system, lang="en")
    zh = openpyxl.load_workbook(tmp_path / "zh.xlsx")["镇街"]
    en = openpyxl.load_workbook(tmp_path / "en.xlsx")["towns"]
    head = [c.value for c in zh[1]]
    assert head[:2] == ["统计代码", "乡镇"] and head[-1] == "unknown_col"
    assert head[2].startswith(ind.label_zh + "（") and head[3] == f"{dim.label_zh}得分"
    assert [c.value for c in en[1]][:2] == ["town code", "town"]
    assert zh["D2"].number_format == "0.0" and zh["E2"].number_format == "0%"
    assert zh["A2"].data_type == "s"
