"""classify.scoring: hand-computed scores, missing data, ranks and score invariants."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from classify.config import parse_system
from classify.errors import ConfigError
from classify.scoring import score

WEIGHTS_COLUMNS = ["indicator", "dimension", "weight", "weight_in_dimension",
                   "dimension_weight", "method"]


def _system(outliers="none", **weights):
    w = {"a": 1.0, "b": 1.0, "c": 1.0, **weights}
    return parse_system({
        "methods": {"outliers": outliers},
        "dimensions": {"d1": {"label_zh": "一", "weight": w.get("d1", 1.0)},
                       "d2": {"label_zh": "二", "weight": w.get("d2", 1.0)}},
        "indicators": {
            "a": {"label_zh": "甲", "unit": "万元", "dimension": "d1", "weight": w["a"]},
            "b": {"label_zh": "乙", "unit": "km", "dimension": "d1", "direction": "-",
                  "weight": w["b"]},
            "c": {"label_zh": "丙", "unit": "个", "dimension": "d2", "weight": w["c"]},
        }})


@pytest.fixture
def three():
    # a: [10,20,30] → 0,50,100;  b (less is better): [5,3,1] → 0,50,100;  c: [1,3,2] → 0,100,50
    return pd.DataFrame({"a": [10.0, 20.0, 30.0], "b": [5.0, 3.0, 1.0], "c": [1.0, 3.0, 2.0]},
                        index=[7, 8, 9])


def test_hand_computed_arithmetic(three):
    res = score(three, _system(), county=pd.Series(["x", "x", "y"], index=[7, 8, 9]))
    s = res.scores
    np.testing.assert_allclose(s["score_d1"], [0, 50, 100])
    np.testing.assert_allclose(s["score_d2"], [0, 100, 50])
    np.testing.assert_allclose(s["composite"], [0, 75, 75])
    assert s["rank"].tolist() == [3, 1, 1]
    assert s["rank_county"].tolist() == [2, 1, 1]
    assert list(s.index) == [7, 8, 9]
    assert s["n_missing"].tolist() == [0, 0, 0]
    assert list(res.weights.columns) == WEIGHTS_COLUMNS
    np.testing.assert_allclose(res.weights["weight"], [0.25, 0.25, 0.5])
    np.testing.assert_allclose(res.weights["weight_in_dimension"], [0.5, 0.5, 1.0])
    assert set(res.weights["method"]) == {"equal"}


def test_hand_computed_geometric(three):
    s = score(three, _system(), aggregation="geometric").scores
    # d1 town 1: exp((ln 51 + ln 51)/2) - 1 = 50; composite town 1: sqrt(51·101) - 1
    np.testing.assert_allclose(s["score_d1"], [0, 50, 100])
    np.testing.assert_allclose(s["composite"],
                               [0, np.sqrt(51 * 101) - 1, np.sqrt(101 * 51) - 1])


def test_expert_weights_from_config(three):
    res = score(three, _system(a=3.0, b=1.0, d1=1.0, d2=3.0), weighting="expert")
    np.testing.assert_allclose(res.scores["score_d1"], [0, 50, 100])
    np.testing.assert_allclose(res.weights["weight_in_dimension"], [0.75, 0.25, 1.0])
    np.testing.assert_allclose(res.weights["dimension_weight"], [0.25, 0.25, 0.75])
    # composite = 0.25 d1 + 0.75 d2
    np.testing.assert_allclose(res.scores["composite"], [0, 87.5, 62.5])


def test_different_weighting_across_dimensions(three):
    res = score(three, _system(d1=1.0, d2=3.0), weighting="entropy",
                dimension_weighting="expert")
    # within d1, a and b are both [0, 50, 100] after min–max: equal entropy, equal weights
    np.testing.assert_allclose(res.weights["weight_in_dimension"], [0.5, 0.5, 1.0])
    np.testing.assert_allclose(res.weights["dimension_weight"], [0.25, 0.25, 0.75])
    assert set(res.weights["method"]) == {"entropy within, expert across dimensions"}


def test_missing_left_out_and_reweighted(three):
    ind = three.copy()
    ind.loc[8, "b"] = np.nan
    s = score(ind, _system()).scores
    # b: [5, -, 1] → 0, -, 100; town 8's d1 is its a alone = 50
    np.testing.assert_allclose(s["score_d1"], [0, 50, 100])
    assert s["n_missing"].tolist() == [0, 1, 0] and s["n_imputed"].tolist() == [0, 0, 0]


def test_unknown_county_imputes_from_the_region_median():
    """A town of unknown county is not grouped with the other unknown ones: its gap is
    filled from the region median."""
    ind = pd.DataFrame({"a": [10.0, 20.0, 30.0, 40.0, 50.0], "b": [5.0, np.nan, 1.0, 2.0, 9.0],
                        "c": [1.0, 3.0, 2.0, 4.0, 5.0]})
    county = pd.Series(["x", None, "x", "y", ""], dtype=object)
    res = score(ind, _system(), missing="impute_county_median", county=county)
    from classify.scoring import impute_county_median
    filled, n = impute_county_median(ind, county)
    assert filled.loc[1, "b"] == 3.5           # median of 5, 1, 2, 9 (the region)
    assert n.tolist() == [0, 1, 0, 0, 0]
    assert res.scores["rank_county"].isna().tolist() == [False, True, False, False, True]


def test_county_key_prefers_code_then_name():
    from classify.scoring import county_key
    f = pd.DataFrame({"county_code": ["441802", None, "", np.nan],
                      "county": ["清城区", "清新区", None, "nan"]})
    k = county_key(f)
    assert k.tolist()[:3] == ["code:441802", "name:清新区", pd.NA] or \
        (k.iloc[0] == "code:441802" and k.iloc[1] == "name:清新区" and pd.isna(k.iloc[2]))
    assert pd.isna(k.iloc[3])


def test_county_key_of_another_level_reads_its_columns():
    """``level="city"`` groups by city_code, else the city name (the LQ reference regions);
    the county columns are not read, and a frame without the level's columns has no key."""
    from classify.scoring import county_key
    f = pd.DataFrame({"city_code": ["4418", None, None], "city": ["清远市", "韶关市", ""],
                      "county": ["清城区", "乐昌市", "英德市"]})
    k = county_key(f, "city")
    assert k.iloc[:2].tolist() == ["code:4418", "name:韶关市"] and pd.isna(k.iloc[2])
    assert county_key(f.drop(columns=["city_code", "city"]), "city") is None


def test_missing_imputed_from_county_median():
    ind = pd.DataFrame({"a": [10.0, 20.0, 30.0, 40.0], "b": [5.0, np.nan, 1.0, 2.0],
                        "c": [1.0, 3.0, 2.0, 4.0]})
    county = pd.Series(["x", "x", "y", "y"])
    s = score(ind, _system(), missing="impute_county_median", county=county).scores
    # town 1 gets county x's median of b = 5 → b normalised (5 - 5)/(5 - 1) flipped = 0
    # a: 0, 33.3, 66.7, 100; d1 of town 1 = (33.33 + 0) / 2
    np.testing.assert_allclose(s.loc[1, "score_d1"], 100 / 6)
    assert s["n_missing"].tolist() == [0, 1, 0, 0] and s["n_imputed"].tolist() == [0, 1, 0, 0]


def test_errors_name_the_key(three):
    with pytest.raises(ConfigError, match="geometric aggregation needs") as info:
        score(three, _system(), normalisation="zscore", aggregation="geometric")
    assert info.value.key == "methods.aggregation"
    with pytest.raises(ConfigError, match="no indicator of the system can be scored"):
        score(pd.DataFrame({"x": [1.0, 2.0]}), _system())


def test_constant_and_switched_off_indicators_are_excluded(three):
    ind = three.assign(c=[2.0, 2.0, 2.0])
    res = score(ind, _system(b=0.0))
    assert res.excluded.set_index("indicator")["reason"].to_dict() == {
        "b": "weight 0 in the config",
        "c": "no variation (fewer than two distinct values)"}
    assert res.scores["score_d2"].isna().all()
    np.testing.assert_allclose(res.scores["composite"], [0, 50, 100])   # d1 alone


def test_model_transforms_new_data_comparably(three):
    res = score(three, _system())
    pd.testing.assert_frame_equal(res.model.transform(three), res.scores.drop(
        columns=[]), check_dtype=False)
    new = pd.DataFrame({"a": [20.0], "b": [3.0], "c": [2.0]})
    np.testing.assert_allclose(res.model.transform(new)[["score_d1", "score_d2"]],
                               [[50, 50]])


def test_scorer_estimator_matches_score(three):
    from classify.scoring import Scorer
    sc = Scorer(system=_system(), weighting="critic").fit(three)
    pd.testing.assert_frame_equal(sc.transform(three),
                                  score(three, _system(), weighting="critic").scores)
    assert list(sc.get_feature_names_out()) == ["score_d1", "score_d2", "composite"]
    assert list(sc.feature_names_in_) == ["a", "b", "c"]


def test_treatment_is_recorded():
    x = np.r_[np.linspace(10, 20, 40), 200.0, 400.0]
    ind = pd.DataFrame({"a": x, "b": np.linspace(1, 5, 42), "c": np.arange(42.0)})
    t = score(ind, _system(outliers="jrc")).treatment.set_index("indicator")
    assert t.loc["a", "action"] == "winsorised" and t.loc["a", "n_winsorised"] == 2
    assert t.loc["b", "action"] == "none"


# ---- properties ------------------------------------------------------------------

def _tables(min_towns=3, max_towns=12):
    n = st.integers(min_towns, max_towns)
    values = st.floats(0, 1e6, allow_nan=False, allow_subnormal=False)
    return n.flatmap(lambda k: arrays(np.float64, (k, 3), elements=values,
                                      unique=False).filter(
        lambda a: all(len(np.unique(a[:, j])) > 1 for j in range(3))))


def _frame(arr):
    return pd.DataFrame(arr, columns=["a", "b", "c"])


@settings(max_examples=30, deadline=None)
@given(_tables(), st.sampled_from(["arithmetic", "geometric"]),
       st.sampled_from(["minmax", "rank", "zscore", "target"]), st.data())
def test_scores_stay_within_0_100(arr, aggregation, normalisation, data):
    if aggregation == "geometric" and normalisation == "zscore":
        return
    ind = _frame(arr)
    hole = data.draw(st.integers(0, len(ind) - 1))
    ind.iloc[hole, 1] = np.nan
    s = score(ind, _system("jrc"), aggregation=aggregation, normalisation=normalisation).scores
    vals = s[["score_d1", "score_d2", "composite"]].to_numpy()
    assert np.nanmin(vals) >= -1e-9 and np.nanmax(vals) <= 100 + 1e-9


@settings(max_examples=30, deadline=None)
@given(_tables(), st.integers(0, 11), st.floats(1.0, 1e6), st.sampled_from(["a", "b"]),
       st.sampled_from(["jrc", "none"]))
def test_monotonic_in_plus_and_minus_indicators(arr, i, step, col, outliers):
    ind = _frame(arr)
    i = i % len(ind)
    res = score(ind, _system(outliers))
    before = res.scores["composite"].iloc[i]
    ind.iloc[i, ind.columns.get_loc(col)] += step
    res2 = score(ind, _system(outliers))
    after = res2.scores["composite"].iloc[i]
    # The JRC rule decides per column from the data whether to winsorise or log; a change
    # that flips that decision rescales the whole column (e.g. a town leaving the tail
    # un-caps the extreme one), so monotonicity is a property of a fixed treatment.
    assume(res.treatment["action"].tolist() == res2.treatment["action"].tolist())
    if col == "a":          # + : more never lowers the town's score
        assert after >= before - 1e-9
    else:                   # - : more never raises it
        assert after <= before + 1e-9


WEIGHTINGS = ["equal", "expert", "entropy", "critic", "pca"]
NORMALISATIONS = ["minmax", "rank", "zscore", "target"]


# derandomize: the same examples on every run and machine, none replayed from a stored
# example database (the test used to fail only when hypothesis replayed a stored case)
@settings(max_examples=150, deadline=None, database=None, derandomize=True)
@given(_tables(), st.randoms(use_true_random=False), st.sampled_from(WEIGHTINGS),
       st.sampled_from(NORMALISATIONS), st.sampled_from(["jrc", "none"]))
def test_row_order_does_not_matter(arr, rnd, weighting, normalisation, outliers):
    ind = _frame(arr)
    order = list(ind.index)
    rnd.shuffle(order)
    kw = dict(weighting=weighting, normalisation=normalisation)
    system = _system(outliers, a=2.0, d2=3.0)      # expert: weights that are not all equal
    a = score(ind, system, **kw)
    b = score(ind.loc[order], system, **kw)
    pd.testing.assert_frame_equal(a.scores, b.scores.loc[ind.index], rtol=1e-9, atol=1e-7)
    pd.testing.assert_frame_equal(a.weights, b.weights, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("weighting", WEIGHTINGS)
@pytest.mark.parametrize("normalisation", NORMALISATIONS)
def test_row_order_on_tied_eigenvalues(weighting, normalisation):
    """Issue 13: a table whose dimension scores are uncorrelated (eigenvalues tied at 1)
    gave PCA weights [0.5, 0.5, 0] in one row order and [0, 0, 1] in another."""
    ind = _frame(np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0],
                           [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))
    order = [1, 2, 3, 4, 5, 0]
    kw = dict(weighting=weighting, normalisation=normalisation)
    a = score(ind, _system("none", a=2.0), **kw)
    b = score(ind.loc[order], _system("none", a=2.0), **kw)
    pd.testing.assert_frame_equal(a.weights, b.weights, rtol=1e-9, atol=1e-9)
    pd.testing.assert_frame_equal(a.scores, b.scores.loc[ind.index], rtol=1e-9, atol=1e-7)


def test_pca_components_signed_and_ordered_as_svd_flip():
    from classify.weighting import PCAWeights
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4))
    X[:, 1] += X[:, 0]
    w = PCAWeights().fit(X)
    comp = w.components_
    ev = w.explained_variance_
    assert (np.diff(ev) <= 0).all()                     # largest first
    big = np.abs(comp).argmax(axis=1)
    assert (comp[np.arange(4), big] > 0).all()         # largest loading positive
    w2 = PCAWeights().fit(X[::-1])
    np.testing.assert_allclose(w.weights_, w2.weights_, rtol=1e-12)
    np.testing.assert_allclose(w.components_, w2.components_, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(_tables(), st.sampled_from(["equal", "entropy", "critic", "pca"]),
       st.sampled_from(["minmax", "rank", "zscore"]))
def test_unit_rescaling_changes_nothing(arr, weighting, normalisation):
    ind = _frame(arr)
    in_yuan = ind.assign(a=ind["a"] * 1e4)              # the same values, 万元 → 元
    a = score(ind, _system("jrc"), weighting=weighting, normalisation=normalisation)
    b = score(in_yuan, _system("jrc"), weighting=weighting, normalisation=normalisation)
    pd.testing.assert_frame_equal(a.scores, b.scores, rtol=1e-7, atol=1e-7)
    pd.testing.assert_frame_equal(a.weights, b.weights, rtol=1e-7, atol=1e-9)


def test_expert_weighting_without_weights_warns_that_it_is_equal():
    import warnings as _w

    import numpy as np
    import pandas as pd

    from classify.config import load_system
    from classify.scoring import score
    from geo.errors import InputWarning

    system = load_system()
    rng = np.random.default_rng(0)
    ids = [i.id for i in system.indicators if i.unit != "是/否"]
    table = pd.DataFrame(rng.lognormal(3, 1, (30, len(ids))), columns=ids)
    with pytest.warns(InputWarning, match="this is equal weighting"):
        score(table, system, weighting="expert")
    with _w.catch_warnings():
        _w.simplefilter("error", InputWarning)
        score(table, system, weighting="entropy")


def test_no_winsorisation_below_the_minimum_sample():
    """Issue 13: with 10 towns winsorising capped the largest GDP (152亿) at the next
    (41亿): both scored 100.  Below 20 values the treatment is skipped and said so."""
    gdp = [1520000.0, 410000, 120000, 90000, 80000, 70000, 60000, 50000, 40000, 30000]
    ind = pd.DataFrame({"a": gdp, "b": np.linspace(1, 10, 10), "c": np.arange(10.0)})
    res = score(ind, _system(outliers="jrc"))
    t = res.treatment.set_index("indicator")
    assert t.loc["a", "action"] == "none" and t.loc["a", "skipped"].startswith("too few")
    m = res.model.treatment
    assert m.transform(ind.to_numpy())[0, 0] == 1520000.0      # not capped
    z = res.model.normaliser.transform(m.transform(ind.to_numpy()))[:, 0]
    assert z[0] == 100 and z[1] < 30                            # (41 − 3) / (152 − 3)
    zh = [x[0] for x in res.messages]
    assert any("未做离群值处理" in x for x in zh)
    assert any("仅 10 个镇街" in x and "relative to these towns only" in x for x in zh)
    # with 20 or more values the JRC rule applies as before
    big = pd.DataFrame({"a": gdp + [25000.0] * 10 + [20000.0] * 5, "b": np.arange(25.0),
                        "c": np.arange(25.0)})
    res = score(big, _system(outliers="jrc"))
    assert res.treatment.set_index("indicator").loc["a", "action"] != "none"
    assert not any("离群值" in x[0] or "relative" in x[1] for x in res.messages)


def test_empty_and_constant_indicators_are_named_and_counted():
    """Issue 13: an all-empty column was dropped silently with n_missing 0."""
    ind = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [np.nan] * 3, "c": [5.0, 5.0, 5.0]})
    res = score(ind, _system())
    assert res.reference is None        # fitted here: no reference model (a merge once shifted it)
    ex = res.excluded.set_index("indicator")
    assert ex.loc["b", "kind"] == "empty" and ex.loc["c", "kind"] == "constant"
    assert res.scores["n_missing"].tolist() == [1, 1, 1]        # b counted for every town
    dims = res.dimensions.set_index("dimension")
    assert dims.loc["d1", "status"] == "assessed" and dims.loc["d2", "status"] == "no data"
    assert dims.loc["d2", "not_scored"] == "c"
    zh = "\n".join(x[0] for x in res.messages)
    assert "指标未参与评价（indicator dropped）：乙（b）——全部缺失" in zh
    assert "丙（c）——各镇数值相同（5）" in zh
    assert "维度无数据，未评价（dimension not assessed, no data）：二（d2）" in zh


def test_dimension_without_data_for_some_towns_is_named():
    ind = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [1.0, 3.0, 2.0, 4.0],
                        "c": [1.0, np.nan, np.nan, 2.0]})
    res = score(ind, _system())
    d2 = res.dimensions.set_index("dimension").loc["d2"]
    assert d2["status"] == "partly" and d2["n_towns_with_data"] == 2
    assert any("有 2 个镇街无数据" in zh for zh, _ in res.messages)


def test_one_town_scores_50_and_says_there_is_nothing_to_compare():
    """Issue 13: a region of one town (or towns all alike) raised 'no indicator of the
    system can be scored'."""
    one = pd.DataFrame({"a": [10.0], "b": [3.0], "c": [np.nan]})
    res = score(one, _system())
    assert res.scores["score_d1"].tolist() == [50.0]
    assert np.isnan(res.scores.loc[0, "score_d2"])            # c: empty, still excluded
    assert res.scores["rank"].tolist() == [1]
    assert "nothing to compare" in res.messages[0][0]
    assert res.excluded.set_index("indicator").loc["c", "kind"] == "empty"


def test_score_array_gives_the_hand_computed_scores_of_new_rows(three):
    """score_array (the gap search's bare-matrix scoring) scores rows outside the fitted
    table, missing values left out, with no table around them."""
    model = score(three, _system()).model
    rows = np.array([[20.0, 3.0, 3.0],      # the middle town again: 50, 100 → 75
                     [30.0, np.nan, 1.0],   # b missing: d1 from a alone (100); c=1 → 0
                     [np.nan, np.nan, 2.0]])  # no d1 value: NaN; composite from d2 (50)
    got = model.score_array(rows)
    assert list(model.get_feature_names_out()) == ["score_d1", "score_d2", "composite"]
    np.testing.assert_allclose(got, [[50, 100, 75], [100, 0, 50], [np.nan, 50, 50]])


def test_score_array_refuses_a_model_that_imputes_county_medians(three):
    model = score(three, _system()).model
    model.missing = "impute_county_median"
    with pytest.raises(ValueError, match="cannot impute county medians"):
        model.score_array(three.to_numpy())
