"""The clusterers and weighting methods as scikit-learn estimators."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from shapely.geometry import box
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from classify.clusters import (CLUSTERERS, METHODS, SPATIAL, GMMClusters, KMeansClusters,
                               SkaterClusters, WardClusters, WardSpatialClusters,
                               cluster_towns, features)
from classify.errors import ConfigError
from classify.weighting import (CriticWeights, EntropyWeights, EqualWeights, ExpertWeights,
                                PCAWeights)

# The spatial clusterers are not run through the checks: their weights fix the number
# and order of the towns, and the checks fit on matrices of their own sizes (they are
# tested on a grid of squares below).
NON_SPATIAL = [KMeansClusters(3, random_state=0, n_init=2), WardClusters(3),
               GMMClusters(3, random_state=0, n_init=2)]
WEIGHTERS = [EqualWeights(), ExpertWeights(), EntropyWeights(), CriticWeights(), PCAWeights()]


@parametrize_with_checks(NON_SPATIAL + WEIGHTERS)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_every_method_has_an_estimator():
    assert set(CLUSTERERS) == set(METHODS)
    assert {m for m, c in CLUSTERERS.items() if "w" in c().get_params()} == SPATIAL


def _grid(n=6):
    """n × n unit squares; the left half high on industry, the right half low."""
    cells = [(i, j) for j in range(n) for i in range(n)]
    a = [10.0 if i < n // 2 else 0.0 for i, j in cells]
    rng = np.random.default_rng(1)
    return gpd.GeoDataFrame({"score_industry": np.add(a, rng.normal(0, 0.1, len(a))),
                             "score_tourism": rng.normal(0, 0.1, len(a))},
                            geometry=[box(i, j, i + 1, j + 1) for i, j in cells], crs=3857)


def test_estimator_labels_equal_cluster_towns():
    grid = _grid()
    X, _ = features(grid)
    for method in ("kmeans", "ward", "gmm", "ward_spatial"):
        res = cluster_towns(grid, method=method, k=2, seed=5, n_boot=0)
        est = CLUSTERERS[method](n_clusters=2, random_state=5)
        if method in SPATIAL:
            est.set_params(w=grid)
        labels = est.fit(X).labels_
        # the same partition (cluster_towns numbers clusters by size)
        assert pd.crosstab(labels, res.labels.to_numpy()).gt(0).sum().eq(1).all(), method


@pytest.mark.parametrize("cls", [WardSpatialClusters, SkaterClusters])
def test_spatial_estimator_takes_weights_or_the_geodataframe(cls):
    grid = _grid()
    by_frame = cls(n_clusters=2, random_state=0).fit(grid)
    assert by_frame.w_.n == 36 and sorted(np.unique(by_frame.labels_)) == [0, 1]
    # the left half and the right half
    left = np.array([i < 3 for j in range(6) for i in range(6)])
    assert len(set(by_frame.labels_[left])) == 1 and len(set(by_frame.labels_[~left])) == 1
    by_w = cls(by_frame.w_, 2, random_state=0).fit(grid[["score_industry", "score_tourism"]].to_numpy())
    assert_array_equal(by_w.labels_, by_frame.labels_)


def test_spatial_estimator_in_a_pipeline_and_its_errors():
    grid = _grid()
    pipe = make_pipeline(StandardScaler(), WardSpatialClusters(grid, 2))
    assert len(np.unique(pipe.fit(grid[["score_industry", "score_tourism"]]).steps[-1][1].labels_)) == 2
    with pytest.raises(ConfigError, match="needs the towns' contiguity: give w="):
        WardSpatialClusters(n_clusters=2).fit(np.zeros((4, 2)))
    with pytest.raises(ConfigError, match="weights are for 36 towns but X has 4 rows"):
        WardSpatialClusters(grid, 2).fit(np.zeros((4, 2)))


def test_too_many_clusters_names_both_numbers():
    with pytest.raises(ValueError, match="n_samples=2 should be >= n_clusters=3"):
        WardClusters(3).fit(np.zeros((2, 2)))


def test_random_state_is_the_seed_and_nothing_global():
    X = np.random.default_rng(0).normal(size=(40, 3))
    state = np.random.get_state()[1].copy()
    a = KMeansClusters(4, random_state=3).fit(X).labels_
    b = KMeansClusters(4, random_state=3).fit(X).labels_
    assert_array_equal(a, b)
    assert_array_equal(np.random.get_state()[1], state)
