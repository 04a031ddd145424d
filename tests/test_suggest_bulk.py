"""classify.suggest's steps done for all towns at once give what the one-town steps give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from classify.suggest import indicator_table
from classify.suggest.peers import (_choose, _Cols, _Peers, _pick_ahead, _Positions,
                                    _screen_ahead)


def scan(frame: pd.DataFrame, cols: list[str], i: int, *, n: int = 3, county_weight=0.8,
         city_weight=0.9) -> tuple[list[str], list[float], bool]:
    """Town ``i``'s benchmarks by their definition, scanning every town: the ``n`` towns of
    its category ahead on its score nearest by percentile profile (RMS over shared
    indicators; same county × ``county_weight``, else same city × ``city_weight``; ties by
    code); nobody ahead: the ``n`` nearest by score (ties by code), as challengers."""
    prof = np.column_stack([frame[c].rank(pct=True) * 100 / 100 for c in cols])
    score = frame["score_industry"].to_numpy()
    same = np.flatnonzero((frame["_target"] == frame["_target"][i]).to_numpy()
                          & (np.arange(len(frame)) != i) & ~np.isnan(score))

    def dist(j):
        d = (prof[j] - prof[i]) ** 2
        k = np.sum(~np.isnan(d))
        return float(np.sqrt(np.nansum(d) / k)) if k else np.inf

    def weight(j):
        for key, w in (("county", county_weight), ("city", city_weight)):
            if frame[key][i] and frame[key][j] == frame[key][i]:
                return w
        return 1.0

    code = frame["town_code"]
    ahead = [j for j in same if score[j] > score[i]]
    if ahead:
        picked = sorted(ahead, key=lambda j: (dist(j) * weight(j), code[j]))[:n]
    else:
        picked = sorted(same, key=lambda j: (score[i] - score[j], code[j]))[:n]
    return [code[j] for j in picked], [dist(j) for j in picked], not ahead


@pytest.mark.parametrize("seed", [3, 11])
def test_benchmarks_picked_for_all_towns_are_those_of_a_scan_of_every_town(seed):
    """The matrix-product screen and the one sort for all towns pick the towns (and
    distances) a scan of every town picks: missing values, tied profiles and scores,
    same-county / same-city weights, leaders with challengers."""
    rng = np.random.default_rng(seed)
    n = 300
    vals = rng.lognormal(2, 1, (n, 5))
    vals[rng.random((n, 5)) < 0.15] = np.nan
    vals[1] = vals[0]   # identical profiles: a tie broken by code
    vals[7] = np.nan    # a town with no value shares nothing: infinitely far
    info = indicator_table({f"x{k}": {"dimension": "industry"} for k in range(5)})
    frame = pd.DataFrame(vals, columns=list(info))
    frame["town_code"] = [f"{k:04d}" for k in range(n)]
    frame["town"] = frame["town_code"]
    frame["county"] = rng.choice(["A", "B", "C", ""], n)
    frame["city"] = rng.choice(["P", "Q", ""], n)
    frame["score_industry"] = np.round(rng.uniform(0, 100, n), 0)   # many tied scores
    frame["composite"] = frame["score_industry"]
    frame["_target"] = np.where(np.arange(n) % 4 == 0, "strong", "specialised/industrial")
    nc = _Cols(frame)
    peers = _Peers(nc, _Positions(frame, info, top=80, bottom=20))
    focus = {"strong": "score_industry", "specialised/industrial": "score_industry"}
    kw = dict(n=3, county_weight=0.8, city_weight=0.9)
    peers.picked = _pick_ahead(peers, _screen_ahead(nc, peers, focus, **kw), **kw)
    assert len(peers.picked) > n // 2
    leaders = 0
    for i in range(n):
        js, dist, leader = _choose(nc, peers, i, "score_industry", n=3)
        codes, want, lead = scan(frame, list(info), i)
        assert ([frame["town_code"][j] for j in js], leader) == (codes, lead), i
        np.testing.assert_allclose(dist, want, rtol=1e-12)
        leaders += leader
    assert leaders >= 2


@pytest.mark.filterwarnings("ignore:All-NaN slice")  # dimensions without indicators here
@pytest.mark.parametrize("normalisation,aggregation", [
    ("minmax", "arithmetic"), ("minmax", "geometric"), ("zscore", "arithmetic"),
    ("rank", "arithmetic"), ("rank", "geometric"), ("target", "arithmetic")])
def test_gap_search_rescoring_only_the_changed_cells_gives_the_model_s_numbers(
        normalisation, aggregation):
    """The search transforms each town's row once and then only the cells a grid point
    changes (the indicator, and a location quotient moving with its numerator): its
    scores are the model's transform's, to the last bit — skewed columns (log / winsorised),
    missing values, points beyond float range."""
    from classify.config import load_system
    from classify.scoring import score
    from classify.suggest.gaps import _Ask, _Grid

    rng = np.random.default_rng(5)
    n = 120
    ids = ["gdp", "industrial_output", "lq_industry", "tourists", "dist_county_seat"]
    vals = rng.lognormal(3, 1.5, (n, len(ids)))
    vals[rng.random(vals.shape) < 0.1] = np.nan
    vals[3, 0] = 1e300      # 10x of it is beyond float range
    frame = pd.DataFrame(vals, columns=ids)
    res = score(frame, load_system(), normalisation=normalisation, aggregation=aggregation)
    assert {"log", "winsorised"} & set(res.model.treatment.actions_)
    where = {c: k for k, c in enumerate(ids)}
    fields = ["score_industry", "composite"]
    towns = np.flatnonzero(~np.isnan(vals).any(axis=1))[:20].tolist() + [3]
    pairs = [(_Ask(i, f, 50.0, []), ind) for i in towns for f in fields
             for ind in ("gdp", "industrial_output", "tourists", "dist_county_seat")]
    fast = _Grid(res.model, vals, where, {"lq_industry": "industrial_output"}, fields,
                 64, pairs)
    plain = _Grid(res.model, vals, where, {"lq_industry": "industrial_output"}, fields,
                  64, pairs)
    plain.base = None
    assert fast.base is not None
    act = np.arange(len(pairs))
    xs = np.column_stack([np.full(len(pairs), -5.0), np.linspace(0, 1e3, len(pairs)),
                          vals[fast.town, fast.col] * 10, np.full(len(pairs), 1e301 * 10)])
    got, want = fast.scores(act, xs), plain.scores(act, xs)
    assert np.isfinite(want).any()
    np.testing.assert_array_equal(got, want)


def test_peer_positions_when_no_town_has_a_known_county():
    """All indicators are ranked at once; a county column with no known value (the fuzz
    case name-only-no-county) gives region ranks and no county ranks, not a crash."""
    from classify.suggest import peer_positions

    info = indicator_table({"x": {"dimension": "d"},
                            "y": {"dimension": "d", "direction": "-"}})
    frame = pd.DataFrame({"town_code": ["a", "b", "c"], "county": [None, None, None],
                          "x": [3.0, 1.0, np.nan], "y": [3.0, 1.0, 2.0]})
    pos = peer_positions(frame, info).set_index(["indicator", "town_code"])
    assert pos.loc[("x", "a"), "rank"] == 1 and pos.loc[("x", "b"), "rank"] == 2
    assert np.isnan(pos.loc[("x", "c"), "rank"]) and pos.loc[("x", "c"), "n"] == 2
    assert pos.loc[("y", "b"), "rank"] == 1 and pos.loc[("y", "b"), "pct"] == 100
    assert pos["rank_county"].isna().all() and (pos["n_county"] == 0).all()
