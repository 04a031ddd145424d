"""classify.compare: exact decomposition, transitions, pairing and the files it writes."""

import json

import numpy as np
import pandas as pd
import pytest

from classify.cli import main
from classify.compare import compare_runs, decompose
from classify.config import parse_system
from classify.model_io import load_model, model_from_dict, model_to_dict, save_run_model
from classify.scoring import score
from geo.errors import InputError


def _system():
    return parse_system({
        "methods": {"outliers": "none"},
        "dimensions": {"d1": {"label_zh": "一"}, "d2": {"label_zh": "二"}},
        "indicators": {
            "a": {"label_zh": "规上工业总产值", "unit": "万元", "dimension": "d1"},
            "b": {"label_zh": "乙", "unit": "km", "dimension": "d1", "direction": "-"},
            "c": {"label_zh": "丙", "unit": "个", "dimension": "d2"},
        }})


def _model(table, **methods):
    system = _system()
    res = score(table, system, **methods)
    return model_from_dict(json.loads(json.dumps(model_to_dict(res.model, system, table)))), res


def test_hand_computed_contribution():
    # equal weights: a, b half each of d1; d1, d2 half each of the composite
    old = pd.DataFrame({"a": [0.0, 100.0], "b": [10.0, 0.0], "c": [0.0, 10.0]})
    model, _ = _model(old)
    z_old = model.normalised(old)[0]
    new = old.assign(a=[50.0, 100.0])                 # town 0: a from 0 to 50 → z +50
    dec = decompose(model, z_old, model.normalised(new)[0])
    # d1 score change = 0.5 · 50 = 25, all from a; composite change = 0.5 · 25 = 12.5
    np.testing.assert_allclose(dec["dim"][0], [25.0, 0.0, 0.0])
    np.testing.assert_allclose(dec["comp"][0], [12.5, 0.0, 0.0])
    np.testing.assert_allclose(dec["S_new"][0] - dec["S_old"][0], [25.0, 0.0])
    np.testing.assert_array_equal(dec["comp"][1], [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(dec["reweighting"], [0.0, 0.0])


@pytest.mark.parametrize("methods", [{}, {"normalisation": "zscore"},
                                     {"weighting": "entropy"},
                                     {"aggregation": "geometric"}])
def test_decomposition_sums_exactly_to_each_score_change(methods):
    rng = np.random.default_rng(3)
    old = pd.DataFrame(rng.lognormal(2, 1, (60, 3)), columns=list("abc"))
    new = old * rng.lognormal(0.05, 0.3, old.shape)
    old.iloc[5, 1] = np.nan                          # b missing in year one only
    new.iloc[9, 0] = np.nan                          # a missing in year two only
    new.iloc[11, 2] = np.nan                         # d2 not scored in year two
    model, _ = _model(old, **methods)
    dec = decompose(model, model.normalised(old)[0], model.normalised(new)[0])
    dS = dec["S_new"] - dec["S_old"]
    for d in range(2):
        idx = np.flatnonzero(model.dim_index == d)
        ok = ~np.isnan(dS[:, d])
        np.testing.assert_allclose(dec["dim"][ok][:, idx].sum(axis=1), dS[ok, d],
                                   rtol=0, atol=1e-9)
    dC = dec["C_new"] - dec["C_old"]
    np.testing.assert_allclose(dec["comp"].sum(axis=1) + dec["reweighting"], dC,
                               rtol=0, atol=1e-9)
    # the scores decomposed are the model's own scores of each year
    np.testing.assert_allclose(dec["C_new"], model.transform(new)["composite"], atol=1e-12)
    if not methods:      # arithmetic: re-weighting only where d2 went missing
        assert np.flatnonzero(np.abs(dec["reweighting"]) > 1e-12).tolist() == [11]


# --------------------------------------------------------------------- run folders
def _run(path, table, model_source=None, *, category=None, stability=0.9, codes=None,
         p05=None, p95=None):
    """A run folder as `towntype run` writes it (towns.csv, model.json, run.json)."""
    path.mkdir(parents=True)
    system = _system()
    if model_source is None:
        res = score(table, system)
        save_run_model(path / "model.json", res, system, table)
        scores, ref = res.scores, None
    else:
        model, _, digest = load_model(model_source)
        scores = model.transform(table)
        (path / "model.json").write_bytes((model_source / "model.json").read_bytes())
        ref = {"path": str(model_source / "model.json"), "sha256": digest}
    n = len(table)
    codes = codes or [f"4418020{i:02d}" for i in range(n)]
    towns = pd.DataFrame({"town_code": codes, "town": [f"镇{c[-2:]}" for c in codes],
                          "county": "清城区"})
    towns = pd.concat([towns, table.reset_index(drop=True), scores.reset_index(drop=True)],
                      axis=1)
    towns["category"] = category or ["developing"] * n
    towns["subtype"] = ""
    towns["category_zh"] = towns["category"].map({"developing": "培育类", "strong": "综合实力强镇",
                                                  "specialised": "专业镇"})
    towns["stability"] = stability
    towns["rank_p05"] = p05 if p05 is not None else towns["rank"]
    towns["rank_p95"] = p95 if p95 is not None else towns["rank"]
    towns.to_csv(path / "towns.csv", index=False, encoding="utf-8-sig")
    (path / "run.json").write_text(json.dumps({"model": {"reference": ref}}), encoding="utf-8")
    return path


@pytest.fixture
def year1():
    rng = np.random.default_rng(8)
    return pd.DataFrame({"a": rng.uniform(0, 100, 6), "b": rng.uniform(1, 20, 6),
                         "c": rng.integers(0, 9, 6).astype(float)})


def test_unchanged_input_gives_zero_transitions_and_contributions(tmp_path, year1):
    old = _run(tmp_path / "y1", year1)
    new = _run(tmp_path / "y2", year1, old)
    res = compare_runs(old, new, tmp_path / "cmp", map_html=False)
    t = res.transitions
    assert res.same_model
    assert t["change"].tolist() == ["same"] * 6
    assert not t["changed"].any()
    np.testing.assert_array_equal(t["d_composite"], 0.0)
    np.testing.assert_array_equal(res.contributions["contribution_dimension"], 0.0)
    np.testing.assert_array_equal(res.contributions["contribution_composite"], 0.0)
    assert res.matrix.to_numpy().trace() == 6
    assert (tmp_path / "cmp" / "transitions.csv").is_file()


def test_transitions_causes_noise_and_accounting(tmp_path, year1):
    cats1 = ["developing"] * 6
    old = _run(tmp_path / "y1", year1, category=cats1, p05=[1, 2, 3, 4, 5, 6],
               p95=[2, 3, 4, 5, 6, 6])
    year2 = year1.copy()
    year2.loc[0, "a"] = year1["a"].iloc[0] * 1.38            # 规上工业总产值 +38%
    cats2 = ["specialised"] + ["developing"] * 5
    # town 5 merged into town 4 (crosswalk); town 3 renamed; a new town 441802099
    codes2 = ["441802000", "441802001", "441802002", "441802033", "441802004", "441802099"]
    year2.loc[4, "a"] += year1["a"].iloc[5]
    new = _run(tmp_path / "y2", year2, old, category=cats2, codes=codes2,
               stability=[0.95, 0.9, 0.9, 0.9, 0.5, 0.9])
    cw = tmp_path / "cw.csv"
    cw.write_text("old_code,new_code\n441802003,441802033\n441802005,441802004\n",
                  encoding="utf-8")
    res = compare_runs(old, new, tmp_path / "cmp", crosswalk=cw, map_html=False)
    t = res.transitions.set_index("town_code")
    assert t.loc["441802000", "change"] == "up"
    assert bool(t.loc["441802000", "category_change_beyond_noise"]) is True
    assert t.loc["441802000", "drivers"].startswith("规上工业总产值 +38%")
    assert t.loc["441802033", "link"] == "crosswalk"
    assert t.loc["441802033", "old_code"] == "441802003"
    # a merger into an existing town: the absorbed town is gone, the absorber compared
    assert t.loc["441802005", "change"] == "gone" and t.loc["441802005", "link"] == "merged"
    assert t.loc["441802099", "change"] == "new"
    rep = res.report
    assert len(rep) == 12                                       # every row of both files
    assert rep.groupby(["source", "status"]).size().to_dict() == {
        ("new", "matched"): 5, ("new", "new"): 1, ("old", "matched"): 5, ("old", "merged"): 1}
    absorbed = rep[(rep.source == "new") & (rep.town_code == "441802004")]["reason"].iloc[0]
    assert "并入了 441802005" in absorbed
    assert res.matrix.loc["（新设 new）"].sum() == 1
    assert res.matrix["（撤并/撤销 gone）"].sum() == 1
    out = pd.read_csv(tmp_path / "cmp" / "transitions.csv", dtype={"town_code": str})
    assert len(out) == 7


def test_rank_change_beyond_noise_needs_disjoint_intervals(tmp_path, year1):
    old = _run(tmp_path / "y1", year1, p05=[1] * 6, p95=[3] * 6)
    new = _run(tmp_path / "y2", year1, old, p05=[2, 4, 1, 1, 1, 1], p95=[5, 6, 3, 3, 3, 3])
    t = compare_runs(old, new, map_html=False).transitions
    assert t["rank_change_beyond_noise"].tolist() == [False, True, False, False, False, False]


def test_without_reference_the_old_model_scores_both_years(tmp_path, year1):
    old = _run(tmp_path / "y1", year1)
    year2 = year1 * 1.1
    new = _run(tmp_path / "y2", year2)                          # its own model
    res = compare_runs(old, new, map_html=False)
    assert not res.same_model
    model = load_model(old)[0]
    np.testing.assert_allclose(res.transitions["composite_new"],
                               model.transform(year2)["composite"], atol=1e-6)
    assert "未用 --reference" in res.summary[1]


def test_not_a_run_folder(tmp_path, year1):
    old = _run(tmp_path / "y1", year1)
    with pytest.raises(InputError, match="no towns.csv in this folder"):
        compare_runs(old, tmp_path)
    (tmp_path / "y3").mkdir()
    (tmp_path / "y3" / "towns.csv").write_text("town_code\n1\n", encoding="utf-8")
    with pytest.raises(InputError, match="no model.json in this run folder"):
        compare_runs(old, tmp_path / "y3")


@pytest.mark.parametrize("manifest, said", [("[1, 2]", "not a run manifest"),
                                             ("{oops", "cannot be read")])
def test_a_run_json_that_is_not_a_manifest_is_an_input_error(tmp_path, year1, manifest,
                                                             said):
    """A damaged run.json (a list, or not JSON): an error naming it (a defect before)."""
    old = _run(tmp_path / "y1", year1)
    new = _run(tmp_path / "y2", year1, old)
    (new / "run.json").write_text(manifest, encoding="utf-8")
    with pytest.raises(InputError, match=said) as err:
        compare_runs(old, new)
    assert err.value.path == str(new / "run.json")


def test_cli_compare(tmp_path, year1, capsys):
    old = _run(tmp_path / "y1", year1)
    new = _run(tmp_path / "y2", year1, old)
    assert main(["compare", str(old), str(new), "--out", str(tmp_path / "c"),
                 "--no-map"]) == 0
    out = capsys.readouterr().out
    assert "不变（same）6" in out
    assert (tmp_path / "c" / "transition_matrix.png").stat().st_size > 1000
    html = (tmp_path / "c" / "transition_matrix.html").read_text(encoding="utf-8")
    assert "培育类" in html
    assert main(["compare", str(old), str(tmp_path / "nope")]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_no_geometry_no_map_and_an_error_writes_nothing(tmp_path, year1):
    old = _run(tmp_path / "y1", year1)
    new = _run(tmp_path / "y2", year1, old)
    res = compare_runs(old, new, tmp_path / "cmp")            # no towns.gpkg in these runs
    assert any("未绘制变化地图" in line for line in res.summary)
    assert not (tmp_path / "cmp" / "compare_map.html").exists()
    bad = tmp_path / "cw.csv"
    bad.write_text("old,new\n1,2\n", encoding="utf-8")
    with pytest.raises(InputError, match="the crosswalk needs columns old_code,new_code"):
        compare_runs(old, new, tmp_path / "cmp2", crosswalk=bad)
    assert not (tmp_path / "cmp2").exists()
