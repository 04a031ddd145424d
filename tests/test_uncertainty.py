"""classify.uncertainty: rank intervals, reproducibility, vectorised weight sampling."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from classify.config import parse_system
from classify.errors import ConfigError
from classify.scoring import score
from classify.uncertainty import monte_carlo, sample_weights


def _system(indicators):
    dims = sorted({d for _, d in indicators.values()})
    return parse_system({
        "methods": {"outliers": "none"},
        "dimensions": {d: {"label_zh": d} for d in dims},
        "indicators": {i: {"label_zh": i, "unit": "个", "dimension": d, "direction": s}
                       for i, (s, d) in indicators.items()}})


def test_zero_width_when_nothing_can_vary():
    # one indicator per dimension, one dimension: every weight draw is 1, and minmax vs
    # rank, arithmetic vs geometric are all monotone in it — no rank can move
    ind = pd.DataFrame({"x": [3.0, 1.0, 4.0, 1.5, 9.0, 2.6]})
    mc = monte_carlo(ind, _system({"x": ("+", "d")}), draws=300, seed=3)
    r = mc.rank_summary
    np.testing.assert_array_equal(r["rank_p05"], r["rank_p95"])
    np.testing.assert_array_equal(r["rank_median"], [3, 6, 2, 5, 1, 4])
    assert set(mc.draws["normalisation"]) == {"minmax", "rank"}      # it did sample methods


def test_zero_width_with_fixed_weights_and_methods():
    rng = np.random.default_rng(0)
    ind = pd.DataFrame(rng.uniform(0, 10, (30, 3)), columns=["a", "b", "c"])
    system = _system({"a": ("+", "d1"), "b": ("-", "d1"), "c": ("+", "d2")})
    mc = monte_carlo(ind, system, draws=50, seed=1, weights="none", normalisations=None,
                     aggregations=None)
    r = mc.rank_summary
    np.testing.assert_array_equal(r["rank_p05"], r["rank_p95"])
    base = score(ind, system)
    np.testing.assert_array_equal(r["rank_median"], base.scores["rank"].astype(float))
    np.testing.assert_allclose(mc.dim_scores[7], base.scores[["score_d1", "score_d2"]],
                               rtol=1e-5, atol=1e-4)


def test_wide_interval_for_a_town_that_hinges_on_one_weight():
    # town 0 is best on a and worst on b; its rank flips with the weight of a.
    # towns 2–6 are balanced; their order barely depends on the weights
    ind = pd.DataFrame({"a": [10.0, 0.0, 5.0, 5.2, 4.8, 6.0, 4.0],
                        "b": [0.0, 10.0, 5.0, 4.8, 5.2, 4.0, 6.0]})
    system = _system({"a": ("+", "d"), "b": ("+", "d")})
    mc = monte_carlo(ind, system, draws=400, seed=0, concentration=1.0,
                     normalisations=None, aggregations=None)
    r = mc.rank_summary
    assert r.loc[0, "rank_p05"] == 1 and r.loc[0, "rank_p95"] == 7
    width = r["rank_p95"] - r["rank_p05"]
    assert width[0] == 6 and (width[2:] < 6).all()
    # only the weights varied, so they carry all of the rank variance
    np.testing.assert_allclose(mc.sensitivity["share"], [0.0, 0.0, 1.0])


def test_sensitivity_attributes_rank_changes_to_the_aggregation():
    # arithmetic vs geometric reorders a balanced town (1) and a lopsided one (0);
    # weights are fixed and minmax is the only normalisation
    ind = pd.DataFrame({"a": [100.0, 50.0, 0.0, 20.0], "b": [0.0, 45.0, 10.0, 30.0]})
    system = _system({"a": ("+", "d"), "b": ("+", "d")})
    mc = monte_carlo(ind, system, draws=200, seed=0, weights="none",
                     normalisations=("minmax",), aggregations=("arithmetic", "geometric"))
    sens = mc.sensitivity.set_index("factor")["share"]
    assert sens["aggregation"] == pytest.approx(1.0) and sens["normalisation"] == 0.0
    # minmax: a = [100, 50, 0, 20], b = [0, 100, 22.2, 66.7]
    # arithmetic: [50, 75, 11.1, 43.3] → town 0 ranks 2nd
    # geometric sqrt((a+1)(b+1)) - 1: [9.05, 70.8, 3.82, 36.7] → town 0 ranks 3rd
    ranks = mc.draws.assign(r0=mc.ranks[:, 0]).groupby("aggregation")["r0"].unique()
    assert list(ranks["arithmetic"]) == [2] and list(ranks["geometric"]) == [3]


def test_seeded_and_reproducible():
    rng = np.random.default_rng(5)
    ind = pd.DataFrame(rng.lognormal(0, 1, (40, 3)), columns=["a", "b", "c"])
    system = _system({"a": ("+", "d1"), "b": ("+", "d1"), "c": ("-", "d2")})
    one = monte_carlo(ind, system, draws=60, seed=11)
    two = monte_carlo(ind, system, draws=60, seed=11)
    other = monte_carlo(ind, system, draws=60, seed=12)
    np.testing.assert_array_equal(one.dim_scores, two.dim_scores)
    pd.testing.assert_frame_equal(one.rank_summary, two.rank_summary)
    assert not np.array_equal(one.composite, other.composite)
    assert one.dim_scores.shape == (60, 40, 2) and one.dims == ["d1", "d2"]
    assert one.composite.shape == (60, 40) and one.weights.shape == (60, 3)
    np.testing.assert_allclose(one.weights.sum(axis=1), 1.0, rtol=1e-6)
    assert np.nanmin(one.dim_scores) >= -1e-4 and np.nanmax(one.dim_scores) <= 100 + 1e-4


def test_draws_match_a_direct_score_with_the_same_weights():
    rng = np.random.default_rng(2)
    ind = pd.DataFrame(rng.uniform(1, 9, (25, 3)), columns=["a", "b", "c"])
    ind.iloc[4, 1] = np.nan                                   # re-weighting path
    system = _system({"a": ("+", "d1"), "b": ("+", "d1"), "c": ("+", "d2")})
    mc = monte_carlo(ind, system, draws=5, seed=0, normalisations=("zscore",),
                     aggregations=("arithmetic",))
    base = mc.base
    for d in range(5):
        w = mc.weights[d]
        # d1 = (w_a z_a + w_b z_b) / (w_a + w_b) over present values, then rescaled
        z = (ind - ind.mean()) / ind.std(ddof=0)
        d1 = (z["a"] * w[0] + z["b"].fillna(0) * w[1]) / (w[0] + w[1] * z["b"].notna())
        d1 = 100 * (d1 - d1.min()) / (d1.max() - d1.min())
        np.testing.assert_allclose(mc.dim_scores[d, :, 0], d1, rtol=1e-5, atol=1e-3)
    assert base.scores.shape[0] == 25


def test_sample_weights_blocks_and_errors():
    rng = np.random.default_rng(0)
    base = np.array([0.5, 0.5, 1.0, 0.2, 0.8])
    blocks = np.array([0, 0, 1, 2, 2])
    for how in ("dirichlet", "noise"):
        w = sample_weights(base, blocks, 2000, rng, how=how)
        sums = np.stack([w[:, blocks == b].sum(axis=1) for b in range(3)], axis=1)
        np.testing.assert_allclose(sums, 1.0)
        np.testing.assert_allclose(w[:, 2], 1.0)           # alone in its block: fixed
        np.testing.assert_allclose(w.mean(axis=0), base, atol=0.02)
    with pytest.raises(ConfigError, match="unknown weight sampler 'beta'"):
        sample_weights(base, blocks, 3, rng, how="beta")
    with pytest.raises(ConfigError, match="draws must be >= 1"):
        monte_carlo(pd.DataFrame({"x": [1.0, 2.0]}), _system({"x": ("+", "d")}), draws=0)


def test_settings_come_from_the_config():
    system = parse_system({
        "methods": {"outliers": "none"},
        "uncertainty": {"weights": "none", "normalisations": ["minmax"],
                        "aggregations": ["arithmetic"]},
        "dimensions": {"d": {"label_zh": "d"}},
        "indicators": {"a": {"label_zh": "a", "unit": "个", "dimension": "d"},
                       "b": {"label_zh": "b", "unit": "个", "dimension": "d"}}})
    ind = pd.DataFrame({"a": [10.0, 0.0, 5.0, 6.0], "b": [0.0, 10.0, 5.0, 3.0]})
    mc = monte_carlo(ind, system, draws=30, seed=0)
    r = mc.rank_summary
    np.testing.assert_array_equal(r["rank_p05"], r["rank_p95"])         # nothing varied
    assert set(mc.draws["aggregation"]) == {"arithmetic"}
    # an argument still overrides the config
    wide = monte_carlo(ind, system, draws=200, seed=0, weights="dirichlet", concentration=1.0)
    assert (wide.rank_summary["rank_p95"] - wide.rank_summary["rank_p05"]).max() > 0


def test_county_rank_intervals_equal_a_groupby_rank_per_draw():
    from classify.uncertainty import _county_index, _county_ranks, _ranks
    rng = np.random.default_rng(4)
    comp = rng.integers(0, 6, (40, 30)).astype(np.float32)     # many ties
    comp[3, 5] = np.nan
    county = rng.choice(["甲", "乙", "丙"], 30)
    ranks, order = _ranks(comp)
    got = _county_ranks(ranks, order, *_county_index(county)[:2])
    for d in range(comp.shape[0]):
        want = pd.Series(comp[d]).groupby(county).rank(ascending=False, method="min")
        np.testing.assert_array_equal(got[d], want.to_numpy(dtype=np.float32))


def test_county_rank_summary_columns():
    ind = pd.DataFrame({"x": [3.0, 1.0, 4.0, 1.5, 9.0, 2.6]})
    county = pd.Series(["a", "a", "a", "b", "b", "b"])
    system = _system({"x": ("+", "d")})
    mc = monte_carlo(ind, system, draws=20, seed=0, county=county, county_ranks=True)
    r = mc.rank_summary
    np.testing.assert_array_equal(r["rank_county_median"], [2, 3, 1, 3, 1, 2])
    np.testing.assert_array_equal(r["rank_county_p05"], r["rank_county_p95"])
    assert "rank_county_median" not in monte_carlo(ind, system, draws=5, county=county
                                                   ).rank_summary


def test_towns_of_unknown_county_get_no_county_rank():
    """Issue 13: a blank county (None, NaN, '') crashed _county_index (TypeError '<'
    between float and str); such towns are in no county group."""
    ind = pd.DataFrame({"x": [3.0, 1.0, 4.0, 1.5, 9.0, 2.6, 5.0]})
    county = pd.Series(["a", None, "a", np.nan, "b", "b", ""], dtype=object)
    system = _system({"x": ("+", "d")})
    mc = monte_carlo(ind, system, draws=20, seed=0, county=county, county_ranks=True)
    r = mc.rank_summary
    assert r.loc[[1, 3, 6], "rank_county_median"].isna().all()
    np.testing.assert_array_equal(r.loc[[0, 2, 4, 5], "rank_county_median"], [2, 1, 1, 2])
    base = score(ind, system, county=county).scores
    assert base.loc[[1, 3, 6], "rank_county"].isna().all()
    assert base.loc[[0, 2, 4, 5], "rank_county"].tolist() == [2, 1, 1, 2]


@settings(max_examples=25, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(3, 15), st.just(3)),
              elements=st.floats(0, 1e5, allow_nan=False, allow_subnormal=False)),
       st.sampled_from(["arithmetic", "geometric"]))
def test_fixed_draws_reproduce_the_scores(arr, aggregation):
    ind = pd.DataFrame(arr, columns=["a", "b", "c"])
    system = _system({"a": ("+", "d1"), "b": ("-", "d1"), "c": ("+", "d2")})
    try:
        base = score(ind, system, aggregation=aggregation)
    except ConfigError:                      # every column constant: nothing to score
        return
    mc = monte_carlo(ind, system, draws=3, weights="none", normalisations=None,
                     aggregations=None, base=base)
    r = mc.rank_summary
    np.testing.assert_array_equal(r["rank_p05"], r["rank_p95"])
    # float32 draws may split a float64 near-tie differently: compare the composites
    np.testing.assert_allclose(mc.composite[0], base.scores["composite"], rtol=1e-4,
                               atol=1e-3)


def test_chunks_streamed_to_a_consumer_equal_the_kept_arrays():
    """keep_dim_scores=False + on_chunk sees every draw once, with the same numbers."""
    rng = np.random.default_rng(8)
    ind = pd.DataFrame({"a": rng.lognormal(size=50), "b": rng.uniform(size=50),
                        "c": rng.normal(size=50)})
    ind.loc[3, "b"] = np.nan
    county = pd.Series(rng.choice(["甲", "乙", "丙"], 50))
    system = _system({"a": ("+", "d1"), "b": ("+", "d1"), "c": ("-", "d2")})
    kept = monte_carlo(ind, system, draws=37, seed=3, county=county, county_ranks=True)
    seen = np.full((37, 50, 2), np.nan, dtype=np.float32)
    comp = np.full((37, 50), np.nan, dtype=np.float32)
    calls = []

    def take(rows, dims, composite):
        calls.append(rows)
        seen[rows], comp[rows] = dims, composite

    # a small budget: several chunks per (normalisation, aggregation) pair
    lean = monte_carlo(ind, system, draws=37, seed=3, county=county, county_ranks=True,
                       on_chunk=take, keep_dim_scores=False, chunk_bytes=4 * 50 * 8 * 5)
    assert lean.dim_scores is None and len(calls) > 4
    assert sum(r.stop - r.start for r in calls) == 37
    np.testing.assert_array_equal(seen, kept.dim_scores)
    np.testing.assert_array_equal(comp, kept.composite)
    np.testing.assert_array_equal(lean.ranks, kept.ranks)
    pd.testing.assert_frame_equal(lean.rank_summary, kept.rank_summary)


def test_threads_do_not_change_results():
    rng = np.random.default_rng(9)
    ind = pd.DataFrame({"a": rng.lognormal(size=80), "b": rng.uniform(size=80),
                        "c": rng.normal(size=80)})
    county = pd.Series(rng.choice(["甲", "乙", "丙", "丁"], 80))
    system = _system({"a": ("+", "d1"), "b": ("+", "d1"), "c": ("-", "d2")})
    kw = dict(draws=61, seed=5, county=county, county_ranks=True, chunk_bytes=4 * 80 * 8 * 6)
    one = monte_carlo(ind, system, threads=1, **kw)
    two = monte_carlo(ind, system, threads=2, **kw)
    np.testing.assert_array_equal(one.dim_scores, two.dim_scores)
    np.testing.assert_array_equal(one.ranks, two.ranks)
    pd.testing.assert_frame_equal(one.rank_summary, two.rank_summary)


@given(arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(1, 30)),
              elements=st.one_of(st.sampled_from([0.0, 1.0, 2.5, 100.0]),
                                 st.floats(0, 100, width=32), st.just(np.nan))))
@settings(max_examples=150, deadline=None)
def test_ranks_equal_a_pandas_min_rank_per_draw(comp):
    """Region ranks per draw: 1 = highest, ties share the best rank, NaN stays NaN."""
    from classify.uncertainty import _ranks
    got, _ = _ranks(comp)
    want = pd.DataFrame(comp).rank(axis=1, ascending=False, method="min")
    np.testing.assert_array_equal(got, want.to_numpy(dtype=np.float32))


@pytest.mark.parametrize("draws", [1, 7, 37, 200])
def test_rank_summary_is_numpys_inverted_cdf(draws):
    """The rank percentiles are the observed ranks numpy's inverted_cdf picks, also for a
    town without a rank in some draws, and nothing for a town with none."""
    from classify.uncertainty import _quantiles
    rng = np.random.default_rng(draws)
    ranks = rng.integers(1, 50, (draws, 6)).astype(np.float32)
    want = np.percentile(ranks, [5, 50, 95], axis=0, method="inverted_cdf")
    np.testing.assert_array_equal(_quantiles(ranks, [5, 50, 95], "inverted_cdf"), want)
    comp = rng.random((draws, 6)).astype(np.float32) * 100
    np.testing.assert_array_equal(_quantiles(comp, [5, 95], "linear"),
                                  np.percentile(comp, [5, 95], axis=0))
    ranks[:, 4] = np.nan
    if draws > 1:
        ranks[0, 1] = np.nan
    got = _quantiles(ranks, [5, 50, 95], "inverted_cdf")
    assert np.isnan(got[:, 4]).all()
    some = np.nanpercentile(ranks[:, 1], [5, 50, 95], method="inverted_cdf")
    np.testing.assert_array_equal(got[:, 1], some)


@pytest.mark.parametrize("norms, aggs, key, name", [
    (("bogus",), ("geometric",), "uncertainty.normalisations", "'bogus'"),
    (("bogus",), ("arithmetic",), "uncertainty.normalisations", "'bogus'"),
    (("minmax",), ("harmonic",), "uncertainty.aggregations", "'harmonic'"),
])
def test_method_names_given_by_a_caller_are_checked_like_the_configs(norms, aggs, key, name):
    # the config checks its own lists; names passed to monte_carlo directly were not checked
    # before the geometric filter, which raised a bare KeyError on an unknown normalisation
    ind = pd.DataFrame({"x": [3.0, 1.0, 4.0, 1.5], "y": [1.0, 2.0, 0.5, 3.0]})
    with pytest.raises(ConfigError, match=f"{name} is not one of") as err:
        monte_carlo(ind, _system({"x": ("+", "d"), "y": ("+", "d")}), draws=5,
                    normalisations=norms, aggregations=aggs)
    assert err.value.key == key
