"""classify.model_io: model.json round trip, validation errors, applying a reference model."""

import json

import numpy as np
import pandas as pd
import pytest

from classify.config import parse_system
from classify.errors import ConfigError
from classify.model_io import (apply_model, load_model, model_from_dict, model_to_dict,
                               save_run_model, write_model)
from classify.scoring import score
from geo.errors import InputError


def _system(outliers="jrc"):
    return parse_system({
        "methods": {"outliers": outliers},
        "dimensions": {"d1": {"label_zh": "一"}, "d2": {"label_zh": "二"}},
        "indicators": {
            "a": {"label_zh": "甲", "unit": "万元", "dimension": "d1"},
            "b": {"label_zh": "乙", "unit": "km", "dimension": "d1", "direction": "-"},
            "c": {"label_zh": "丙", "unit": "个", "dimension": "d2"},
        }})


@pytest.fixture
def table():
    rng = np.random.default_rng(5)
    a = rng.lognormal(3, 1.2, 40)
    a[3] = 4000.0                       # a far outlier: the JRC rule winsorises or logs it
    b = rng.uniform(1, 50, 40)
    c = rng.integers(0, 9, 40).astype(float)
    b[7] = np.nan                       # a missing value: re-weighted within d1
    return pd.DataFrame({"a": a, "b": b, "c": c})


@pytest.mark.parametrize("normalisation,aggregation", [
    ("minmax", "arithmetic"), ("minmax", "geometric"), ("zscore", "arithmetic"),
    ("rank", "arithmetic"), ("target", "geometric")])
def test_round_trip_gives_identical_scores(table, normalisation, aggregation):
    system = _system()
    res = score(table, system, normalisation=normalisation, aggregation=aggregation,
                weighting="entropy")
    assert res.model.treatment.actions_[0] != "none"     # the outlier was treated
    data = json.loads(json.dumps(model_to_dict(res.model, system, table)))
    back = model_from_dict(data)
    cols = ["score_d1", "score_d2", "composite"]
    np.testing.assert_array_equal(back.transform(table)[cols].to_numpy(),
                                  res.scores[cols].to_numpy())
    # another year's values go through the same fitted parameters
    later = table * 1.3
    np.testing.assert_array_equal(back.transform(later)[cols].to_numpy(),
                                  res.model.transform(later)[cols].to_numpy())


def test_layout_is_documented_and_versioned(table):
    system = _system()
    data = model_to_dict(score(table, system).model, system, table, weighting="equal")
    assert (data["format"], data["version"]) == ("towntype-model", 1)
    a = data["indicators"][0]
    assert (a["id"], a["unit"], a["dimension"], a["direction"]) == ("a", "万元", "d1", "+")
    assert a["reference_range"] == [table["a"].min(), table["a"].max()]
    assert set(a["normaliser"]) == {"min", "max"}
    assert [d["id"] for d in data["dimensions"]] == ["d1", "d2"]
    # equal weights: a and b share d1, c alone in d2; dimensions half each
    assert [i["weight"] for i in data["indicators"]] == [0.25, 0.25, 0.5]


def _written(tmp_path, table, **methods):
    system = _system()
    res = score(table, system, **methods)
    run = tmp_path / "run2023"
    run.mkdir()
    save_run_model(run / "model.json", res, system, table)
    return run, res, system


def test_reference_on_same_table_reproduces_scores(tmp_path, table):
    run, res, system = _written(tmp_path, table)
    applied = apply_model(run, table, system=system)
    pd.testing.assert_frame_equal(applied.scores, res.scores)
    assert applied.reference["path"].endswith("model.json")
    assert len(applied.reference["sha256"]) == 64
    assert applied.reference["beyond_range"]["values"] == {}


def test_values_beyond_reference_range_kept_and_counted(tmp_path, table):
    run, res, system = _written(tmp_path, table, normalisation="minmax")
    later = table.copy()
    later.loc[0, "c"] = table["c"].max() + 10          # above last year's best
    later.loc[1, "c"] = table["c"].min() - 5           # below last year's worst
    lines = []
    applied = apply_model(run, later, system=system, log=lines.append)
    assert applied.scores.loc[0, "score_d2"] > 100     # kept beyond 0–100, not clipped
    assert applied.scores.loc[1, "score_d2"] < 0
    beyond = applied.reference["beyond_range"]
    assert beyond["values"] == {"c": {"below": 1, "above": 1}}
    assert beyond["scores"]["score_d2"] == {"below_0": 1, "above_100": 1}
    assert any("超出参照年范围" in line and "c" in line for line in lines)
    assert any("score_d2" in line for line in lines)


def test_reference_needs_every_model_indicator(tmp_path, table):
    run, _, system = _written(tmp_path, table)
    with pytest.raises(InputError, match=r"指标缺失.*scores b, which this year's table lacks"):
        apply_model(run, table.drop(columns="b"), system=system)


def test_new_indicator_not_in_model_is_reported(tmp_path, table):
    run, _, _ = _written(tmp_path, table)
    system = parse_system({
        "dimensions": {"d1": {"label_zh": "一"}, "d2": {"label_zh": "二"}},
        "indicators": {i: {"label_zh": i, "unit": "个", "dimension": "d1"}
                       for i in ("a", "b", "c", "e")}})
    applied = apply_model(run, table.assign(e=1.0), system=system)
    assert applied.excluded.to_dict("records") == [
        {"indicator": "e", "reason": "not in the reference model (--reference)"}]


@pytest.mark.parametrize("edit,match", [
    (lambda d: d.pop("format"), r"key 'format'.*expected 'towntype-model'"),
    (lambda d: d.update(version=2), r"key 'version'.*reads model version 1, found 2"),
    (lambda d: d["indicators"][0]["normaliser"].pop("min"),
     r"key 'indicators\[0\]\.normaliser\.min'.*missing"),
    (lambda d: d["indicators"][1].update(direction="up"),
     r"key 'indicators\[1\]\.direction'.*'up' is not one of \+, -"),
    (lambda d: d["indicators"][2].update(weight_in_dimension="0.5"),
     r"key 'indicators\[2\]\.weight_in_dimension'.*finite number, found '0.5'"),
    (lambda d: d["methods"].update(normalisation="softmax"),
     r"key 'methods\.normalisation'.*'softmax' is not one of"),
    (lambda d: d["indicators"][0].update(dimension="d9"),
     r"key 'indicators\[0\]\.dimension'.*'d9' is not one of the dimensions"),
    (lambda d: d.update(indicators=[]), r"key 'indicators'.*empty"),
])
def test_bad_model_json_names_the_key(tmp_path, table, edit, match):
    system = _system()
    data = model_to_dict(score(table, system).model, system, table)
    edit(data)
    path = write_model(tmp_path / "model.json", data)
    with pytest.raises(ConfigError, match=match):
        load_model(path)


def test_unreadable_or_absent_model(tmp_path):
    with pytest.raises(ConfigError, match="no model file at .*--reference needs the folder"):
        load_model(tmp_path)
    (tmp_path / "model.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="not readable as UTF-8 JSON"):
        load_model(tmp_path)


def test_cli_run_with_a_folder_without_model(tmp_path, capsys):
    from classify.bundled import DEMO, data_dir
    from classify.cli import main

    root = data_dir()
    code = main(["run", "--boundaries", str(root / DEMO["boundaries"]), "--indicators",
                 str(root / DEMO["indicators"]), "--reference", str(tmp_path),
                 "--out", str(tmp_path / "out"), "--draws", "0", "--static", "none"])
    assert code == 2
    err = capsys.readouterr().err
    assert "no model file at" in err and "--reference needs the folder of an earlier run" in err
    assert not (tmp_path / "out").exists()          # nothing half-written


def test_weighting_with_reference_is_refused(tmp_path):
    from classify.pipeline import RunOptions

    with pytest.raises(InputError, match="--weighting and --reference both given"):
        RunOptions(boundaries=tmp_path, indicators=tmp_path, reference=tmp_path,
                   weighting="entropy")
