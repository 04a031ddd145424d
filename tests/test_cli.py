"""The command line: user errors are one clear message with exit status 2, no traceback,
and no outputs that look complete."""

import pytest

from classify.bundled import DEMO, data_dir
from classify.cli import build_parser, main


def test_missing_boundaries_file_names_the_file(tmp_path, capsys):
    missing = tmp_path / "镇界.shp"
    status = main(["run", "--boundaries", str(missing),
                   "--indicators", str(data_dir() / DEMO["indicators"]),
                   "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2
    assert "镇界.shp" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_unreadable_table_leaves_no_outputs(tmp_path, capsys):
    table = tmp_path / "指标.csv"
    table.write_bytes(b"")
    status = main(["run", "--boundaries", str(data_dir() / DEMO["boundaries"]),
                   "--indicators", str(table), "--out", str(tmp_path / "out")])
    assert status == 2
    assert "指标.csv" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_unknown_datum_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["run", "--boundaries", "a", "--indicators", "b",
                                   "--datum", "mars"])
    assert exc.value.code == 2
    assert "wgs84" in capsys.readouterr().err


def test_negative_draws_is_an_input_error(tmp_path, capsys):
    status = main(["demo", "--out", str(tmp_path / "o"), "--draws", "-1"])
    assert status == 2
    assert "--draws" in capsys.readouterr().err


def test_init_writes_a_config_listing_recognised_columns(tmp_path, capsys):
    out = tmp_path / "towntype.toml"
    assert main(["init", "--indicators", str(data_dir() / DEMO["indicators"]),
                 "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "地区生产总值" in text and "[indicators.gdp]" in text
    printed = capsys.readouterr().out
    assert "gdp" in printed and str(out) in printed


def test_no_draws_leaves_stability_empty_and_says_so(tmp_path):
    import pandas as pd

    out = tmp_path / "o"
    assert main(["demo", "--out", str(out), "--draws", "0", "--static", "none"]) == 0
    towns = pd.read_csv(out / "towns.csv", encoding="utf-8-sig", dtype={"town_code": str})
    assert towns["stability"].isna().all()
    assert "rank_p05" not in towns.columns
    first = towns.iloc[0]
    sheet = (out / "suggestions" / f"{first['town_code']}_{first['town']}.md").read_text(
        encoding="utf-8")
    assert "nan" not in sheet


def test_k_must_be_auto_or_a_number(tmp_path, capsys):
    status = main(["demo", "--out", str(tmp_path / "o"), "--k", "abc"])
    assert status == 2
    err = capsys.readouterr().err
    assert "--k" in err and "'abc'" in err and "Traceback" not in err


def test_run_on_the_bundled_demo_table_keeps_the_illustrative_notice_and_config(tmp_path):
    import json

    config = tmp_path / "towntype.toml"
    assert main(["init", "--indicators", str(data_dir() / DEMO["indicators"]),
                 "--out", str(config)]) == 0
    out = tmp_path / "o"
    assert main(["run", "--boundaries", str(data_dir() / DEMO["boundaries"]),
                 "--indicators", str(data_dir() / DEMO["indicators"]), "--config", str(config),
                 "--out", str(out), "--draws", "20", "--static", "none", "--lang", "en"]) == 0
    manifest = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert "Illustrative data" in manifest["notice"]
    assert "Illustrative data" in (out / "map.html").read_text(encoding="utf-8")
    assert manifest["inputs"]["config"]["sha256"] and "[categories" in \
        manifest["config"]["taxonomy"]["toml"]


def test_called_with_arguments_it_leaves_the_process_as_it_found_it(tmp_path, capsys):
    import gc

    gc.unfreeze()
    assert main(["demo", "--out", str(tmp_path / "o"), "--draws", "10", "--static",
                 "none"]) == 0
    # only the console command (no argv: the process exits next) keeps the run's objects
    # out of the last garbage collection
    assert gc.get_freeze_count() == 0
    assert (tmp_path / "o" / "towns.csv").is_file()


def test_an_empty_title_is_no_title_and_flags_reach_the_options_by_field_name(monkeypatch):
    """``--title ""`` leaves the demo's own title; every run flag named like a RunOptions
    field reaches it (the CLI has no second list of them)."""
    import classify.pipeline as pipeline

    seen = {}

    def fake_run(opts, log):
        seen["opts"] = opts
        raise KeyboardInterrupt        # stop before any work

    monkeypatch.setattr(pipeline, "run_pipeline", fake_run)
    assert main(["demo", "--title", "", "--subtitle", "S", "--seed", "7", "--k", " 3 ",
                 "--static", "pdf", "--out", "/nonexistent-towntype/x"]) == 130
    opts = seen["opts"]
    assert opts.title.startswith("清远市镇街分类（示例数据）")
    assert (opts.subtitle, opts.seed, opts.k, opts.static_formats) == ("S", 7, 3, ("pdf",))
    assert build_parser().parse_args(["demo", "--title", ""]).title is None
