"""Clustering: profiles and names by hand, determinism, k sweep, spatial contiguity."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.sparse.csgraph import connected_components
from shapely.geometry import box

from classify.clusters import (ClusterResult, agreement, cluster_towns, features,
                               name_clusters, refine_contiguous, within_ss)
from classify.errors import ConfigError
from classify.taxonomy import load_taxonomy
from geo.contiguity import contiguity_weights

DIMS = ["strength", "industry", "agriculture", "commerce", "tourism", "ecology", "centrality"]


@pytest.fixture
def two_groups():
    return pd.DataFrame({"score_industry": [90.0, 90, 90, 10, 10, 10],
                         "score_tourism": [10.0, 10, 10, 80, 80, 80]})


@pytest.fixture
def grid():
    """A 10x10 grid of towns whose scores vary smoothly in space, plus noise."""
    rng = np.random.default_rng(3)
    side = 10
    xy = np.array([(x, y) for y in range(side) for x in range(side)], dtype=float)
    frame = pd.DataFrame({f"score_{d}": 50 + 30 * np.sin(xy[:, 0] / 3 + j)
                          + 20 * np.cos(xy[:, 1] / 4 + 2 * j) + rng.normal(0, 5, len(xy))
                          for j, d in enumerate(DIMS)})
    frame["county_code"] = [f"4418{int(x) // 5}{int(y) // 5}" for x, y in xy]
    geoms = [box(x, y, x + 1, y + 1) for x, y in xy]
    return gpd.GeoDataFrame(frame, geometry=geoms)


def _contiguous(labels, w) -> bool:
    A = w.sparse.tocsr()
    for c in np.unique(labels):
        idx = np.flatnonzero(np.asarray(labels) == c)
        if connected_components(A[idx][:, idx], directed=False)[0] != 1:
            return False
    return True


def test_profiles_and_names_by_hand(two_groups):
    res = cluster_towns(two_groups, k=2, n_boot=0, k_range=[2])
    assert res.labels.tolist() == [1, 1, 1, 2, 2, 2]
    prof = res.profiles.set_index("cluster")
    # overall means: industry 50, tourism 45
    assert_allclose(prof["index_score_industry"], [180.0, 20.0])
    assert_allclose(prof["index_score_tourism"], [100 * 10 / 45, 100 * 80 / 45])
    assert prof["n"].tolist() == [3, 3]
    assert prof["name_zh"].tolist() == ["工业主导型", "文旅主导型"]
    assert prof["name_en"].tolist() == ["Industry-led", "Tourism-led"]
    frame = res.frame()
    assert frame["cluster_name"].tolist() == ["工业主导型"] * 3 + ["文旅主导型"] * 3


def test_name_rules():
    index = pd.DataFrame({"score_tourism": [150.0, 100, 80, 120],
                          "score_ecology": [130.0, 105, 85, 60],
                          "score_industry": [50.0, 95, 70, 60]}, index=[1, 2, 3, 4])
    names = name_clusters(index)
    assert names[1] == ("文旅生态型", "Tourism–ecology")
    assert names[2] == ("均衡型", "Balanced")
    assert names[3] == ("综合偏弱型", "Lagging")
    assert names[4] == ("文旅主导型", "Tourism-led")
    dup = name_clusters(pd.DataFrame({"score_industry": [150.0, 130.0]}, index=[1, 2]))
    assert dup[2] == ("工业主导型Ⅱ", "Industry-led II")


@pytest.mark.parametrize("method", ["kmeans", "ward", "gmm", "ward_spatial"])
def test_deterministic_under_seed(grid, method):
    a = cluster_towns(grid, method=method, k=4, seed=7, n_boot=3, k_range=[4])
    b = cluster_towns(grid, method=method, k=4, seed=7, n_boot=3, k_range=[4])
    assert_array_equal(a.labels, b.labels)
    assert_allclose(a.membership_stability, b.membership_stability)
    assert a.profiles.equals(b.profiles)
    assert sorted(a.labels.unique()) == [1, 2, 3, 4]


def test_auto_k_finds_three_blobs():
    rng = np.random.default_rng(0)
    centres = np.array([[10, 10], [90, 10], [50, 90]])
    pts = np.vstack([c + rng.normal(0, 3, (20, 2)) for c in centres])
    frame = pd.DataFrame(pts, columns=["score_industry", "score_tourism"])
    res = cluster_towns(frame, k="auto", k_range=range(2, 6), n_boot=5)
    assert res.k == 3
    assert res.sweep["k"].tolist() == [2, 3, 4, 5]
    assert res.sweep["chosen"].tolist() == [False, True, False, False]
    assert list(res.sweep.columns) == ["k", "silhouette", "calinski_harabasz",
                                       "davies_bouldin", "within_ss", "chosen"]
    assert res.sweep.loc[1, "silhouette"] == res.sweep["silhouette"].max()
    # well-separated blobs: every bootstrap refit keeps every town in its cluster
    assert_allclose(res.membership_stability, 1.0)


def test_spatial_clusters_are_contiguous_and_refinement_helps(grid):
    w = contiguity_weights(grid)
    res = cluster_towns(grid, method="ward_spatial", k=5, n_boot=0, k_range=[5])
    assert _contiguous(res.labels, w)
    X, _ = features(grid)
    from sklearn.cluster import AgglomerativeClustering
    raw = AgglomerativeClustering(5, linkage="ward", connectivity=w.sparse).fit_predict(X)
    refined = refine_contiguous(X, raw, w)
    assert within_ss(X, refined) <= within_ss(X, raw)
    assert _contiguous(refined, w)


def test_constraint_changes_the_answer_on_a_strip():
    # values 0 0 10 10 0 0 along a strip: k-means pairs the two ends, a contiguous
    # clustering cannot, so it must cut the strip into intervals
    strip = gpd.GeoDataFrame({"score_industry": [0.0, 0, 10, 10, 0, 0],
                              "score_tourism": [5.0, 5, 5, 5, 5, 5]},
                             geometry=[box(x, 0, x + 1, 1) for x in range(6)])
    plain = cluster_towns(strip, k=2, n_boot=0, k_range=[2])
    assert plain.labels.tolist() == [1, 1, 2, 2, 1, 1]
    spatial = cluster_towns(strip, method="ward_spatial", k=2, n_boot=0, k_range=[2])
    assert _contiguous(spatial.labels, contiguity_weights(strip))
    assert spatial.labels.tolist() in ([1, 1, 1, 1, 2, 2], [2, 2, 1, 1, 1, 1],
                                       [1, 1, 2, 2, 2, 2], [2, 2, 2, 2, 1, 1])


@pytest.mark.parametrize("method", ["skater", "skater_geoda", "redcap"])
def test_other_spatial_methods_contiguous(grid, method):
    pytest.importorskip("pygeoda")
    res = cluster_towns(grid, method=method, k=4, n_boot=2, k_range=[4])
    assert res.labels.nunique() == 4
    assert _contiguous(res.labels, contiguity_weights(grid))


def test_islands_do_not_break_spatial_clustering(grid):
    far = gpd.GeoDataFrame(grid.iloc[:2].drop(columns="geometry"),
                           geometry=[box(40, 40, 41, 41), box(60, 0, 61, 1)])
    both = pd.concat([grid, far], ignore_index=True)
    res = cluster_towns(both, method="ward_spatial", k=4, n_boot=2, k_range=[4])
    assert len(res.links) == 2
    assert set(res.links["reason"]) == {"island"}
    assert res.labels.nunique() == 4


def test_errors_name_the_fix(grid):
    with pytest.raises(ConfigError, match="unknown clustering method 'dbscan'; use one of kmeans"):
        cluster_towns(grid, method="dbscan")
    with pytest.raises(ConfigError, match="needs town boundaries"):
        cluster_towns(pd.DataFrame(grid.drop(columns="geometry")), method="ward_spatial")
    with pytest.raises(ConfigError, match=r"columns \['score_nope'\] are not in the table"):
        cluster_towns(grid, columns=["score_nope"])
    with pytest.raises(ConfigError, match="k must be 'auto' or an integer"):
        cluster_towns(grid, k="three")


def test_agreement_flags_the_odd_town():
    cats = pd.DataFrame({"target": ["specialised/industrial"] * 4 + ["characteristic/tourism"]
                         + ["characteristic/tourism"] * 5})
    labels = pd.Series([1] * 5 + [2] * 5)
    table, review, reason = agreement(cats, labels, taxonomy=load_taxonomy())
    assert table.loc["specialised/industrial", 1] == 4
    assert table.loc["characteristic/tourism", 1] == 1
    assert table.loc["characteristic/tourism", 2] == 5
    assert review.tolist() == [False] * 10  # 1 of 5 = 20% is not below min_share
    table, review, reason = agreement(cats, labels, taxonomy=load_taxonomy(), min_share=0.25)
    assert review.tolist() == [False] * 4 + [True] + [False] * 5
    assert reason[4] == ("规则类别“特色镇·文旅”与所在聚类“1”的画像不符（该类仅占 20%，"
                         "多数为“专业镇·工业” 80%）")


def test_agreement_respects_a_dominant_profile(two_groups):
    res = cluster_towns(two_groups, k=2, n_boot=0, k_range=[2])
    frame = two_groups.copy()
    cats = pd.DataFrame({"target": ["specialised/industrial", "specialised/industrial",
                                    "specialised/industrial", "characteristic/tourism",
                                    "characteristic/tourism", "specialised/industrial"]})
    _, review, reason = agreement(cats, res, taxonomy=load_taxonomy(), min_share=0.4)
    # town 5: industrial in the tourism-led cluster (industry index 20) -> review
    assert review.tolist() == [False] * 5 + [True]
    assert "文旅主导型" in reason[5]
    assert isinstance(res, ClusterResult) and frame.shape == (6, 2)


def test_non_numeric_column_named():
    frame = pd.DataFrame({"score_industry": [1.0, 2, 3, 4], "score_tourism": ["1", "x", "3", "4"]})
    with pytest.raises(ConfigError, match=r"column 'score_tourism' is not numeric \(row 2: 'x'\)"):
        cluster_towns(frame, k=2, k_range=[2], n_boot=0)


def test_missing_values_filled_with_warning_and_index_kept():
    frame = pd.DataFrame({"score_industry": [90.0, np.nan, 90, 10, 10, 10],
                          "score_tourism": [10.0, 10, 10, 80, 80, 80]},
                         index=[10, 11, 12, 13, 14, 15])
    from geo.errors import InputWarning
    with pytest.warns(InputWarning, match="score_industry: 1 towns"):
        res = cluster_towns(frame, k=2, n_boot=2, k_range=[2])
    assert res.labels.index.tolist() == [10, 11, 12, 13, 14, 15]
    # the missing industry value takes the median (10): standardised, town 11 sits at
    # (-0.71, -1), 2.0 from the tourism towns' centre (-0.71, 1) and 2.12 from the
    # industry towns' (1.41, -1), so it joins the tourism towns (the larger cluster, 1)
    assert res.labels.tolist() == [2, 1, 2, 1, 1, 1]
    assert res.membership_stability.index.tolist() == res.labels.index.tolist()


def test_bootstrap_subgraph_stays_connected(grid):
    from classify.clusters import _sub_weights
    w = contiguity_weights(grid)
    keep = np.unique(np.random.default_rng(1).integers(0, w.n, w.n))
    sub = _sub_weights(w, keep)
    assert sub.n == len(keep)
    assert sub.n_components == 1
    assert max(sub.cardinalities.values()) < 40  # chains, not cliques, around dropped patches



def test_agreement_reason_in_english():
    cats = pd.DataFrame({"target": ["specialised/industrial"] * 4 + ["characteristic/tourism"]
                         + ["characteristic/tourism"] * 5})
    labels = pd.Series([1] * 5 + [2] * 5)
    _, review, reason = agreement(cats, labels, taxonomy=load_taxonomy(), min_share=0.25,
                                  lang="en")
    assert review.tolist() == [False] * 4 + [True] + [False] * 5
    en = load_taxonomy().labels("characteristic/tourism")[1]
    assert reason[4].startswith(f"rule category '{en}' does not fit")
    assert "20%" in reason[4] and "80%" in reason[4]
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in reason[4])


def _tiny(n, seed):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({f"score_{d}": rng.uniform(0, 100, n)
                         for d in ("strength", "industry", "agriculture")})


@pytest.mark.parametrize("n,seed", [(5, 0), (6, 5)])
def test_bootstrap_never_draws_fewer_towns_than_k(n, seed):
    """Issue 13: with 5–6 towns a bootstrap sample held 2 distinct towns for k = 3
    (ValueError: n_samples=2 should be >= n_clusters=3) — these seeds did."""
    res = cluster_towns(_tiny(n, seed), seed=seed, k=3)
    assert res.k == 3 and res.membership_stability.between(0, 1).all()


def test_resample_keeps_at_least_k_distinct_towns():
    from classify.clusters import _resample
    rng = np.random.default_rng(0)
    for n in range(1, 9):
        for k in range(1, n + 1):
            for _ in range(50):
                keep = _resample(rng, n, k)
                assert keep.size >= k and len(set(keep)) == keep.size
                assert keep.min() >= 0 and keep.max() < n


@pytest.mark.parametrize("n", [1, 2, 3])
def test_too_few_towns_make_one_group_and_say_so(n):
    res = cluster_towns(_tiny(n, 1), seed=0)
    assert res.k == 1 and res.labels.tolist() == [1] * n
    assert res.membership_stability.isna().all() and res.sweep.empty
    zh, en = res.messages[0]
    assert "未做聚类" in zh and f"{n} < 4" in en
    assert res.profiles["n"].tolist() == [n]


@pytest.mark.parametrize("n,k", [(2, 2), (3, 3), (4, 4)])
def test_as_many_clusters_as_towns(n, k):
    """--k equal to the number of towns: the sweep's scores are undefined (NaN), not a
    ValueError from silhouette_score."""
    res = cluster_towns(_tiny(n, 2), seed=0, k=k)
    assert res.k == k and sorted(res.labels) == list(range(1, k + 1))
    assert res.sweep.set_index("k").loc[k, "silhouette"] != res.sweep.set_index("k").loc[
        k, "silhouette"]       # NaN


def test_k_above_the_number_of_towns_names_the_flag():
    with pytest.raises(ConfigError, match=r"integer in 1\.\.3 \(there are 3 towns\).*--k"):
        cluster_towns(_tiny(3, 0), seed=0, k=5)


def test_cluster_names_take_the_indicator_systems_short_labels():
    """The short labels that name clusters live in the indicator system (one place): a
    system that calls its industry dimension 制造 names the cluster 制造主导型."""
    from classify.clusters import dimension_labels
    from classify.config import load_system

    index = pd.DataFrame({"score_industry": [150.0, 80.0], "score_tourism": [90.0, 140.0]},
                         index=[1, 2])
    assert name_clusters(index) == {1: ("工业主导型", "Industry-led"),
                                    2: ("文旅主导型", "Tourism-led")}
    labels = dict(dimension_labels(load_system()), industry=("制造", "Manufacturing"))
    assert name_clusters(index, labels=labels)[1] == ("制造主导型", "Manufacturing-led")
    # a dimension without short labels is named by its label
    assert name_clusters(pd.DataFrame({"score_x": [150.0]}, index=[1]),
                         labels={"x": ("新维度", "New")}) == {1: ("新维度主导型", "New-led")}
