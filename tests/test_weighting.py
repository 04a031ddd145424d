"""classify.weighting: hand-computed entropy and CRITIC weights, registry behaviour."""

import math

import numpy as np
import pytest

from classify.errors import ConfigError
from classify.weighting import (WEIGHTINGS, CriticWeights, EntropyWeights, EqualWeights,
                                ExpertWeights, PCAWeights, get_weighter)

# Three towns, two indicators, already min–max normalised (0–1, higher is better):
#   A = [0, 0.5, 1],  B = [1, 1, 0]
X = np.array([[0.0, 1.0], [0.5, 1.0], [1.0, 0.0]])


def test_entropy_hand_computed():
    # A: p = [0, 1/3, 2/3]; 0·ln0 := 0
    #    e_A = -(1/3 ln 1/3 + 2/3 ln 2/3) / ln 3 = (ln 3 - 2/3 ln 2) / ln 3 = 0.579380
    # B: p = [1/2, 1/2, 0];  e_B = -(ln 1/2) / ln 3 = ln 2 / ln 3 = 0.630930
    # d = 1 - e: d_A = 0.420620, d_B = 0.369070;  w = d / (d_A + d_B)
    e_a = (math.log(3) - 2 / 3 * math.log(2)) / math.log(3)
    e_b = math.log(2) / math.log(3)
    d_a, d_b = 1 - e_a, 1 - e_b
    w = EntropyWeights().fit(X)
    np.testing.assert_allclose(w.entropy_, [0.579380, 0.630930], atol=1e-6)
    np.testing.assert_allclose(w.weights_, [d_a / (d_a + d_b), d_b / (d_a + d_b)], rtol=1e-12)
    np.testing.assert_allclose(w.weights_, [0.532639, 0.467361], atol=1e-6)


def test_entropy_scale_free_and_constant_column():
    np.testing.assert_allclose(EntropyWeights().fit(100 * X).weights_,
                               EntropyWeights().fit(X).weights_)
    # a constant column is evenly spread: e = 1, d = 0, weight 0
    Y = np.c_[X, np.full(3, 0.7)]
    w = EntropyWeights().fit(Y).weights_
    assert w[2] == pytest.approx(0.0, abs=1e-12)
    # a column of zeros carries nothing either; all-nothing → equal
    np.testing.assert_allclose(EntropyWeights().fit(np.zeros((3, 2))).weights_, [0.5, 0.5])


def test_entropy_ignores_missing_values():
    Y = np.array([[0.0, 1.0], [0.5, 1.0], [1.0, 0.0], [np.nan, 0.2]])
    w_full = EntropyWeights().fit(Y).weights_
    # column A over its three values is as above; column B over four values
    p = np.array([1, 1, 0, 0.2]) / 2.2
    e_b = -sum(x * math.log(x) for x in p if x > 0) / math.log(4)
    e_a = (math.log(3) - 2 / 3 * math.log(2)) / math.log(3)
    d = np.array([1 - e_a, 1 - e_b])
    np.testing.assert_allclose(w_full, d / d.sum(), rtol=1e-12)


def test_entropy_rejects_negative_values():
    with pytest.raises(ConfigError, match="non-negative"):
        EntropyWeights().fit(X - 0.5)


def test_critic_hand_computed():
    # σ (ddof=1): σ_A = sqrt((0.25 + 0 + 0.25) / 2) = 0.5
    #             mean_B = 2/3, σ_B = sqrt((1/9 + 1/9 + 4/9) / 2) = sqrt(1/3) = 0.577350
    # cov_AB = ((-.5)(1/3) + 0 + (.5)(-2/3)) / 2 = -0.25;  r = -0.25 / (0.5 · 0.577350) = -√3/2
    # C_A = 0.5 · (1 - r) = 0.933013;  C_B = 0.577350 · (1 - r) = 1.077350
    r = -math.sqrt(3) / 2
    c_a, c_b = 0.5 * (1 - r), math.sqrt(1 / 3) * (1 - r)
    w = CriticWeights().fit(X)
    np.testing.assert_allclose(w.std_, [0.5, math.sqrt(1 / 3)], rtol=1e-12)
    np.testing.assert_allclose(w.corr_[0, 1], r, rtol=1e-12)
    np.testing.assert_allclose(w.information_, [c_a, c_b], rtol=1e-12)
    np.testing.assert_allclose(w.weights_, [0.464102, 0.535898], atol=1e-6)


def test_equal_and_expert():
    np.testing.assert_allclose(EqualWeights().fit(X).weights_, [0.5, 0.5])
    np.testing.assert_allclose(ExpertWeights([3, 1]).fit(X).weights_, [0.75, 0.25])
    with pytest.raises(ConfigError, match="all expert weights are 0"):
        ExpertWeights([0, 0]).fit(X)
    with pytest.raises(ConfigError, match="finite and >= 0"):
        ExpertWeights([1, -1]).fit(X)


def test_pca_weights_follow_the_first_component():
    rng = np.random.default_rng(0)
    f = rng.normal(size=200)
    # two indicators load on one factor, a third is noise; eigenvalue > 1 keeps component 1
    Y = np.c_[f + 0.1 * rng.normal(size=200), f + 0.1 * rng.normal(size=200),
              rng.normal(size=200)]
    w = PCAWeights().fit(Y)
    assert w.weights_.sum() == pytest.approx(1.0)
    assert w.weights_[0] == pytest.approx(w.weights_[1], rel=0.05)
    assert (w.weights_ >= 0).all()


@pytest.mark.parametrize("name", list(WEIGHTINGS))
def test_every_weighting_sums_to_one_and_single_column_is_one(name):
    rng = np.random.default_rng(1)
    Y = rng.uniform(0, 100, (20, 4))
    w = get_weighter(name).fit(Y).weights_
    assert w.sum() == pytest.approx(1.0) and (w >= 0).all()
    np.testing.assert_allclose(get_weighter(name).fit(Y[:, :1]).weights_, [1.0])


def test_unknown_weighting_lists_choices():
    with pytest.raises(ConfigError, match="unknown weighting 'ahp'; choose one of equal, "
                                          "expert, entropy, critic, pca"):
        get_weighter("ahp")
