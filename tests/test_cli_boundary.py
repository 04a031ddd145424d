"""The command line as the one error boundary: bad flags refused by the parser (with the
valid range, before any input is read), user errors exit 2, defects exit 3 with the
traceback in a file, Ctrl-C exits 130; warnings one line each; outputs published whole."""

import json
import warnings

import pytest

import classify.pipeline as pipeline
from classify.bundled import DEMO, data_dir
from classify.cli import CLUSTER_METHODS, main
from geo.errors import InputWarning


@pytest.fixture
def no_run(monkeypatch):
    """Fail the test if any input is read (the flags must be refused before)."""
    def read(*args, **kwargs):
        pytest.fail("an input was read")

    monkeypatch.setattr("geo.read.read_boundaries", read)
    monkeypatch.setattr("geo.tables.read_table", read)
    monkeypatch.setattr(pipeline, "read_boundaries", read)
    monkeypatch.setattr(pipeline, "read_table", read)
    monkeypatch.setattr(pipeline, "run_pipeline", read)


def _run_args(tmp_path, *extra):
    return ["run", "--boundaries", str(data_dir() / DEMO["boundaries"]),
            "--indicators", str(data_dir() / DEMO["indicators"]),
            "--out", str(tmp_path / "out"), *extra]


@pytest.mark.parametrize("flags, expected", [
    (["--seed", "-1"], r"--seed: .*from 0 to 2147483646.*'-1'"),
    (["--seed", "99999999999999999999"], r"--seed: .*from 0 to 2147483646"),
    (["--seed", "1.5"], r"--seed: .*from 0 to 2147483646"),
    (["--draws", "-1"], r"--draws: .*from 0 to 100000"),
    (["--k", "1"], r"--k: .*'auto'.*from 2"),
    (["--k", "abc"], r"--k: .*'abc'"),
    (["--cluster-method", "dbscan"], r"--cluster-method: invalid choice.*kmeans.*redcap"),
    (["--basemap", "mars"], r"--basemap: invalid choice.*tianditu"),
    (["--basemap", "tianditu"], r"--basemap: tianditu.*--tianditu-key"),
    (["--static", "gif"], r"--static: .*'gif'.*png"),
    (["--taxonomy", "nowhere"], r"--taxonomy: .*'nowhere'.*guangdong, county"),
    (["--counties", "missing.geojson"], r"--counties: .*file not found.*missing.geojson"),
    (["--crosswalk", "missing.csv"], r"--crosswalk: .*file not found"),
    (["--config", "missing.toml"], r"--config: .*file not found"),
    (["--crosswalk", "/etc/hostname"], r"--crosswalk: .*not a table.*\.csv"),
    (["--sheet", "2023"], r"--sheet: .*workbooks only"),
    (["--encoding", "klingon"], r"--encoding: .*unknown encoding.*'klingon'"),
    (["--boundary-encoding", "klingon"], r"--boundary-encoding: .*unknown encoding"),
])
def test_bad_flag_values_are_refused_with_their_range(tmp_path, capsys, no_run, flags,
                                                      expected):
    import re

    assert main(_run_args(tmp_path, *flags)) == 2
    err = capsys.readouterr().err
    assert re.search(expected, err), err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_more_clusters_than_towns_names_the_flag(tmp_path, capsys):
    assert main(_run_args(tmp_path, "--k", "200", "--draws", "0", "--static", "none")) == 2
    assert "--k 200 asks for more clusters than the 84 matched towns" in \
        capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_counties_that_is_not_a_geo_file_is_refused(tmp_path, capsys, no_run):
    notes = tmp_path / "县界.txt"
    notes.write_text("not a map", encoding="utf-8")
    assert main(_run_args(tmp_path, "--counties", str(notes))) == 2
    assert "not a geo file" in capsys.readouterr().err


@pytest.mark.parametrize("which", ["--boundaries", "--indicators"])
def test_missing_inputs_are_refused_by_the_parser(tmp_path, capsys, no_run, which):
    args = _run_args(tmp_path)
    args[args.index(which) + 1] = str(tmp_path / "镇界.shp")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"{which}: " in err and "镇界.shp" in err and "file not found" in err


def test_out_naming_a_file_is_refused_before_the_run(tmp_path, capsys, no_run):
    (tmp_path / "out").write_text("a file")
    assert main(_run_args(tmp_path)) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "existing file" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_folder_that_is_not_a_towntype_output_needs_force(tmp_path, capsys, no_run):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "论文.docx").write_text("mine")
    assert main(_run_args(tmp_path)) == 2
    err = capsys.readouterr().err
    assert "no run.json" in err and "--force" in err
    assert (tmp_path / "out" / "论文.docx").read_text() == "mine"


def test_cluster_methods_are_those_of_the_clustering_module():
    from classify.clusters import METHODS

    assert set(CLUSTER_METHODS) == set(METHODS)


def test_the_largest_seed_runs_with_every_library(tmp_path):
    from classify.pipeline import SEED_MAX

    assert main(["demo", "--out", str(tmp_path / "o"), "--seed", str(SEED_MAX),
                 "--cluster-method", "redcap", "--draws", "5", "--static", "none"]) == 0
    manifest = json.loads((tmp_path / "o" / "run.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == SEED_MAX


def test_unreadable_counties_is_an_input_error_naming_the_file(tmp_path, capsys):
    bad = tmp_path / "县界.geojson"
    bad.write_text("统计代码,名称\n1,2\n", encoding="utf-8")
    assert main(_run_args(tmp_path, "--counties", str(bad), "--draws", "0",
                          "--static", "none")) == 2
    err = capsys.readouterr().err
    assert "县界.geojson" in err and "--counties" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


# -- defects, interrupts -----------------------------------------------------------------

def test_a_defect_is_one_line_and_its_traceback_a_file(tmp_path, capsys, monkeypatch):
    def broken(*args, **kwargs):
        return None < 1                       # a TypeError: a bug, not the user's input

    monkeypatch.setattr(pipeline, "cluster", broken)
    assert main(_run_args(tmp_path, "--draws", "0", "--static", "none")) == 3
    err = capsys.readouterr().err
    assert "Traceback" not in err and 'File "' not in err
    defect = [line for line in err.splitlines() if "defect in towntype" in line]
    assert len(defect) == 1 and defect[0].startswith("towntype: 程序缺陷")
    assert "TypeError" in defect[0]
    reports = list(tmp_path.glob("towntype-error-*.txt"))
    assert len(reports) == 1 and str(reports[0]) in defect[0]
    text = reports[0].read_text(encoding="utf-8")
    assert "Traceback" in text and "TypeError" in text and "pipeline.py" not in err
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out.*"))


def test_a_defect_report_goes_to_the_temp_folder_when_out_cannot_hold_it(tmp_path,
                                                                         monkeypatch):
    import tempfile

    from classify.cli import _defect

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    line = _defect(ValueError("boom"), tmp_path / "missing")
    assert "ValueError: boom" in line
    reports = list(tmp_path.glob("towntype-error-*.txt"))
    assert len(reports) == 1 and str(reports[0]) in line


def test_init_has_the_same_boundary(tmp_path, capsys, monkeypatch):
    import tempfile

    def broken(*args, **kwargs):
        raise KeyError("nan")

    monkeypatch.setattr(pipeline, "init_config", broken)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    out = tmp_path / "cfg" / "towntype.toml"      # its folder does not exist: temp folder
    assert main(["init", "--indicators", str(data_dir() / DEMO["indicators"]),
                 "--out", str(out)]) == 3
    err = capsys.readouterr().err
    assert "Traceback" not in err and "defect in towntype" in err and "KeyError" in err
    reports = list((tmp_path / "tmp").glob("towntype-error-*.txt"))
    assert len(reports) == 1 and str(reports[0]) in err
    assert main(["init", "--indicators", str(tmp_path / "无.xlsx")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_init_of_a_csv_named_xlsx_reads_it_as_csv(tmp_path, capsys, monkeypatch):
    # the table reader looks at the bytes, not the name: a CSV named .xlsx is read as CSV
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    fake = tmp_path / "指标.xlsx"
    fake.write_text("统计代码,地区生产总值\n441802100,1\n", encoding="utf-8")
    status = main(["init", "--indicators", str(fake), "--out", str(tmp_path / "t.toml")])
    captured = capsys.readouterr()
    assert status == 0 and "Traceback" not in captured.err
    assert "gdp" in (tmp_path / "t.toml").read_text(encoding="utf-8")
    assert not list(tmp_path.glob("towntype-error-*.txt"))


def test_an_interrupt_keeps_the_previous_results_and_leaves_nothing_behind(tmp_path, capsys,
                                                                           monkeypatch):
    out = tmp_path / "out"
    assert main(_run_args(tmp_path, "--draws", "0", "--static", "none")) == 0
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    towns = (out / "towns.csv").read_bytes()
    capsys.readouterr()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "write_maps", interrupted)
    assert main(_run_args(tmp_path, "--draws", "0", "--static", "none", "--seed", "7")) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("towntype: 已中断（interrupted）")
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert (out / "towns.csv").read_bytes() == towns
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


# -- publishing through the command --------------------------------------------------------

def test_a_rerun_leaves_no_stale_file_and_force_replaces_a_foreign_folder(tmp_path):
    out = tmp_path / "out"
    assert main(_run_args(tmp_path, "--draws", "0", "--static", "png")) == 0
    assert (out / "map.png").is_file()
    assert main(_run_args(tmp_path, "--draws", "0", "--static", "none")) == 0
    assert not (out / "map.png").exists() and (out / "towns.csv").is_file()
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("x")
    args = _run_args(tmp_path, "--draws", "0", "--static", "none", "--force")
    args[args.index("--out") + 1] = str(other)
    assert main(args) == 0
    assert not (other / "notes.txt").exists() and (other / "run.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "out"]


def test_boundary_encoding_is_apart_from_the_table_encoding(tmp_path, monkeypatch):
    import geo.read
    import geo.tables

    seen = {}
    real_b, real_t = geo.read.read_boundaries, geo.tables.read_table

    def boundaries(path, **kwargs):
        seen["boundaries"] = kwargs["encoding"]
        return real_b(path, **kwargs)

    def table(path, **kwargs):
        seen["table"] = kwargs["encoding"]
        return real_t(path, **kwargs)

    # the pipeline imports the readers at its top: patched where it looks them up
    monkeypatch.setattr(pipeline, "read_boundaries", boundaries)
    monkeypatch.setattr(pipeline, "read_table", table)
    assert main(_run_args(tmp_path, "--encoding", "utf-8-sig", "--draws", "0",
                          "--static", "none")) == 0
    assert seen == {"boundaries": "auto", "table": "utf-8-sig"}
    assert main(_run_args(tmp_path, "--boundary-encoding", "UTF8", "--draws", "0",
                          "--static", "none")) == 0
    assert seen == {"boundaries": "utf-8", "table": "auto"}
    manifest = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    assert manifest["options"]["boundary_encoding"] == "utf-8"


# -- the console -------------------------------------------------------------------------

def test_warnings_are_one_line_each_first_and_in_run_json(tmp_path, capsys, monkeypatch):
    real = pipeline.cluster

    def noisy(*args, **kwargs):
        for _ in range(3):
            warnings.warn("县区为空的镇街 2 个（county missing）", InputWarning)
        warnings.warn("invalid value encountered in divide\n  second line", RuntimeWarning)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "cluster", noisy)
    assert main(_run_args(tmp_path, "--draws", "0", "--static", "none")) == 0
    captured = capsys.readouterr()
    err = captured.err.splitlines()
    # the same warning from the same line is shown once (Python's default filter)
    assert err[0] == "输入提示（input warning）：县区为空的镇街 2 个（county missing）"
    assert err[1] == ("计算提示（computation warning）：invalid value encountered in divide "
                      "second line")
    assert not any(".py" in line or "warnings.warn" in line for line in err)
    manifest = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    assert {(w["category"], w["count"]) for w in manifest["warnings"]} == \
        {("InputWarning", 1), ("RuntimeWarning", 1)}
    assert all(w["source"] == "tests/test_cli_boundary.py" for w in manifest["warnings"])


def test_warnings_in_english_runs_are_in_english(tmp_path, capsys, monkeypatch):
    real = pipeline.cluster

    def noisy(*args, **kwargs):
        warnings.warn("something odd", UserWarning)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "cluster", noisy)
    assert main(_run_args(tmp_path, "--draws", "0", "--static", "none", "--lang", "en")) == 0
    assert capsys.readouterr().err.splitlines()[0] == "warning: something odd"


def test_an_ordinary_demo_prints_at_most_twenty_lines(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "o"), "--draws", "20",
                 "--static", "none"]) == 0
    captured = capsys.readouterr()
    lines = (captured.out + captured.err).splitlines()
    assert len(lines) <= 20, lines
    assert not any("Warning" in line or ".py:" in line for line in lines)
    manifest = json.loads((tmp_path / "o" / "run.json").read_text(encoding="utf-8"))
    assert manifest["warnings"] == []
    details = captured.err.splitlines()
    assert details and all(line in manifest["log"] for line in details)


def test_many_warnings_are_capped_on_the_console_and_all_kept(tmp_path, capsys, monkeypatch):
    real = pipeline.cluster

    def noisy(*args, **kwargs):
        for k in range(30):
            warnings.warn(f"列 {k} 有问题", InputWarning)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "cluster", noisy)
    assert main(_run_args(tmp_path, "--draws", "0", "--static", "none")) == 0
    captured = capsys.readouterr()
    assert len((captured.out + captured.err).splitlines()) <= 25
    assert "另有 22 条提示（more warnings）" in captured.err
    manifest = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    assert len(manifest["warnings"]) == 30


def test_the_pipeline_gives_its_warnings_back_to_a_notebook(tmp_path, monkeypatch):
    real = pipeline.cluster

    def noisy(*args, **kwargs):
        warnings.warn("twice", InputWarning)
        warnings.warn("twice", InputWarning)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "cluster", noisy)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = pipeline.run_pipeline(pipeline.demo_options(tmp_path / "o", draws=0,
                                                             static_formats=()))
    assert [str(w.message) for w in caught if w.category is InputWarning] == ["twice"]
    assert result.manifest["warnings"][0]["count"] == 2


def _interrupt_self_then(value):
    import os
    import signal
    import time

    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.1)
    return value


def test_ctrl_c_interrupts_this_process_and_not_its_forked_helpers():
    import os
    import signal
    import time

    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from classify.cli import _interrupts_here_only

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    before = signal.getsignal(signal.SIGINT)
    with _interrupts_here_only():
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
            assert pool.submit(_interrupt_self_then, "done").result() == "done"
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(2)
    assert signal.getsignal(signal.SIGINT) is before


def test_unmatched_rows_lead_the_summary(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "o"), "--draws", "0",
                 "--static", "none"]) == 0
    out = capsys.readouterr().out.splitlines()
    # the demo table has one town (大坪镇, 441826108) with no boundary feature
    assert out[0] == "需要核对（needs checking）：指标表 1 行未匹配（ambiguous or unmatched），" \
                     "见 join_report.csv"


def test_a_closed_standard_output_is_not_a_traceback(tmp_path, monkeypatch):
    import io
    import sys

    class Closed(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def fileno(self):
            raise io.UnsupportedOperation("no file")

    monkeypatch.setattr(sys, "stdout", Closed())
    assert main(["demo", "--out", str(tmp_path / "o"), "--draws", "0",
                 "--static", "none"]) == 0
    assert (tmp_path / "o" / "run.json").is_file()


def test_init_refuses_to_overwrite_a_config_before_reading(tmp_path, capsys, no_run):
    cfg = tmp_path / "towntype.toml"
    cfg.write_text("# my edits\n", encoding="utf-8")
    assert main(["init", "--indicators", str(data_dir() / DEMO["indicators"]),
                 "--out", str(cfg)]) == 2
    assert "--out" in capsys.readouterr().err
    assert cfg.read_text(encoding="utf-8") == "# my edits\n"


def test_boundaries_approximate_checks_its_files_first(tmp_path, capsys):
    assert main(["boundaries", "approximate", "--counties", str(tmp_path / "c.geojson"),
                 "--towns", str(tmp_path / "t.csv"), "--places", str(tmp_path / "p.csv"),
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "--counties: " in err and "file not found" in err and "Traceback" not in err


def test_library_log_messages_become_warning_lines(tmp_path, capsys, monkeypatch):
    import logging

    real = pipeline.cluster

    def logs(*args, **kwargs):
        logging.getLogger("pyogrio._io").warning("Field 名称 truncated to 10 bytes")
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "cluster", logs)
    assert main(_run_args(tmp_path, "--draws", "0", "--static", "none")) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "提示（warning）：pyogrio._io: Field 名称 truncated to 10 bytes"
    manifest = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    assert manifest["warnings"][0]["message"] == "pyogrio._io: Field 名称 truncated to 10 bytes"
    assert not any(isinstance(h, logging.Handler) and type(h).__name__ == "_LogWarning"
                   for h in logging.getLogger().handlers)


def test_a_bad_sheets_scope_in_run_options_stops_before_any_input_is_read(tmp_path):
    """RunOptions (the Python API) checks --sheets like the command line: the files named
    do not exist, and the error is about the scope, not about them."""
    from classify.pipeline import RunOptions
    from geo.errors import TowntypeError

    with pytest.raises(TowntypeError, match="sheets"):
        RunOptions(boundaries=tmp_path / "none.geojson", indicators=tmp_path / "none.csv",
                   out=tmp_path / "out", sheets="towns=abc")
