"""classify.normalise: normalisers (fit once, transform new data) and JRC treatment."""

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from classify.errors import ConfigError
from classify.normalise import (NORMALISERS, MinMaxNormaliser, OutlierTreatment,
                                RankNormaliser, TargetNormaliser, ZScoreNormaliser,
                                get_normaliser)

X = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, np.nan], [5.0, 40.0]])


@parametrize_with_checks([MinMaxNormaliser(), ZScoreNormaliser(), RankNormaliser(),
                          TargetNormaliser(), OutlierTreatment()])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_minmax_hand_values_directions_and_reuse():
    n = MinMaxNormaliser(directions=["+", "-"]).fit(X)
    np.testing.assert_allclose(n.transform(X), [[0, 100], [25, 200 / 3], [50, np.nan],
                                                [100, 0]])
    # next year's table uses this year's min and max
    np.testing.assert_allclose(n.transform([[3.0, 25.0], [7.0, 5.0]]), [[50, 50], [150, 350 / 3]])
    np.testing.assert_allclose(MinMaxNormaliser(clip=True).fit(X).transform([[7.0, 5.0]]),
                               [[100, 0]])


def test_zscore_hand_values():
    z = ZScoreNormaliser(directions=["+", "-"]).fit(X).transform(X)
    # column 1: mean 2.75, population std sqrt(((1.75²+.75²+.25²+2.25²)/4)) = sqrt(2.1875)
    np.testing.assert_allclose(z[:, 0], (X[:, 0] - 2.75) / np.sqrt(2.1875))
    # column 2 (less is better): mean 70/3, std sqrt(((40/3)²+(10/3)²+(50/3)²)/3)
    sd = np.sqrt(((40 / 3) ** 2 + (10 / 3) ** 2 + (50 / 3) ** 2) / 3)
    np.testing.assert_allclose(z[[0, 1, 3], 1], -(np.array([10, 20, 40]) - 70 / 3) / sd)


def test_rank_percentiles_with_ties_and_new_values():
    r = RankNormaliser().fit([[1.0], [2.0], [2.0], [4.0], [5.0]])
    # average ranks 1, 2.5, 2.5, 4, 5 → 100 (r-1)/4
    np.testing.assert_allclose(r.transform([[1.0], [2.0], [4.0], [5.0]]).ravel(),
                               [0, 37.5, 75, 100])
    # 3 sits between the 3rd and 4th reference values: rank 3.5 → 62.5; beyond → clipped
    np.testing.assert_allclose(r.transform([[3.0], [0.0], [9.0]]).ravel(), [62.5, 0, 100])
    down = RankNormaliser(directions=["-"]).fit([[1.0], [2.0], [2.0], [4.0], [5.0]])
    np.testing.assert_allclose(down.transform([[1.0], [5.0]]).ravel(), [100, 0])


def test_target_distance():
    t = TargetNormaliser(directions=["+", "-"], targets=[3.0, None]).fit(X)
    # + : 100 (x - 1) / (3 - 1), clipped; - : worst 40, target = best 10
    np.testing.assert_allclose(t.transform(X), [[0, 100], [50, 200 / 3], [100, np.nan],
                                                [100, 0]])


@pytest.mark.parametrize("name", list(NORMALISERS))
def test_constant_column_is_neutral_and_names_pass_through(name):
    df = pd.DataFrame({"gdp": [1.0, 2.0, 3.0], "flag": [1.0, 1.0, 1.0]})
    n = get_normaliser(name).set_output(transform="pandas").fit(df)
    out = n.transform(df)
    assert list(n.get_feature_names_out()) == ["gdp", "flag"]
    assert list(out.columns) == ["gdp", "flag"]
    expected = 0.0 if name == "zscore" else 50.0
    np.testing.assert_allclose(out["flag"], expected)


def test_bad_directions_and_names():
    with pytest.raises(ConfigError, match="direction 'up' is not"):
        MinMaxNormaliser(directions=["up", "+"]).fit(X)
    with pytest.raises(ConfigError, match="1 directions given for 2 indicators"):
        MinMaxNormaliser(directions=["+"]).fit(X)
    with pytest.raises(ConfigError, match="unknown normalisation 'l2'; choose one of minmax"):
        get_normaliser("l2")


def _skewed():
    # 40 ordinary values and two extreme ones: |skew| > 2 and kurtosis > 3.5
    return np.r_[np.linspace(10, 20, 40), 200.0, 400.0]


def test_jrc_winsorises_the_extremes_and_records_it():
    x = _skewed()[:, None]
    t = OutlierTreatment().fit(x)
    rec = t.record_[0]
    assert rec["skew_before"] > 2 and rec["kurt_before"] > 3.5
    assert t.actions_ == ["winsorised"] and rec["n_winsorised"] == 2
    assert rec["cap_high"] == 20.0                       # set to the next value
    assert not (abs(rec["skew_after"]) > 2 and rec["kurt_after"] > 3.5)
    np.testing.assert_allclose(t.transform(x)[-2:, 0], [20.0, 20.0])


def test_jrc_logs_when_winsorising_five_is_not_enough():
    x = np.r_[np.ones(60), np.geomspace(10, 1e8, 20)][:, None]   # tail over 7 decades
    t = OutlierTreatment().fit(x)
    assert t.actions_ == ["log"]
    np.testing.assert_allclose(t.transform(x)[:, 0], np.log(x[:, 0]))


def test_none_rule_and_explicit_transforms():
    x = np.c_[_skewed(), _skewed() - 10, _skewed()]
    t = OutlierTreatment(transforms=["none", "log", "asinh"]).fit(x)
    assert t.actions_ == ["none", "log", "asinh"]
    np.testing.assert_allclose(t.transform(x)[:, 0], x[:, 0])
    # log(x - min + m): min 0, smallest positive step m = 10/39
    np.testing.assert_allclose(t.transform(x)[:, 1], np.log(x[:, 1] + 10 / 39))
    assert OutlierTreatment(rule="none").fit(x[:, :1]).actions_ == ["none"]


@pytest.mark.parametrize("transform", ["auto", "log", "asinh"])
def test_treatment_then_minmax_is_unit_free(transform):
    x = np.r_[0.0, _skewed()][:, None]
    out = []
    for scale in (1.0, 1e4):                              # 万元 → 元
        t = OutlierTreatment(transforms=[transform]).fit(scale * x)
        out.append(MinMaxNormaliser().fit_transform(t.transform(scale * x)))
    np.testing.assert_allclose(out[0], out[1], atol=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_skewness_and_kurtosis_match_scipy(seed):
    from scipy import stats

    from classify.normalise import _skew_kurt
    x = np.random.default_rng(seed).lognormal(0, 1.5, 30) * 1e8
    s, k = _skew_kurt(x)
    assert s == pytest.approx(stats.skew(x, bias=False), rel=1e-9)
    assert k == pytest.approx(stats.kurtosis(x, fisher=True, bias=False), rel=1e-9)
