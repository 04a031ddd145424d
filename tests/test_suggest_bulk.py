"""classify.suggest's steps done for all towns at once give what the one-town steps give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from classify.suggest import indicator_table
from classify.suggest.peers import (_benchmarks, _Cols, _Peers, _pick_ahead, _profile_matrix,
                                    _screen_ahead)


def test_benchmarks_picked_for_all_towns_are_those_of_one_town_at_a_time():
    """Missing values, tied profiles and scores, same-county / same-city weights."""
    rng = np.random.default_rng(11)
    n = 400
    vals = rng.lognormal(2, 1, (n, 5))
    vals[rng.random((n, 5)) < 0.15] = np.nan
    vals[1] = vals[0]
    vals[7] = np.nan  # a town with no value shares nothing: infinitely far
    info = indicator_table({f"x{k}": {"dimension": "industry"} for k in range(5)})
    frame = pd.DataFrame(vals, columns=list(info))
    frame["town_code"] = [f"{k:04d}" for k in range(n)]
    frame["town"] = frame["town_code"]
    frame["county"] = rng.choice(["A", "B", "C", ""], n)
    frame["city"] = rng.choice(["P", "Q", ""], n)
    frame["score_industry"] = np.round(rng.uniform(0, 100, n), 0)
    frame["composite"] = frame["score_industry"]
    frame["_target"] = np.where(np.arange(n) % 4 == 0, "strong", "specialised/industrial")
    nc = _Cols(frame)
    peers = _Peers(nc, info, _profile_matrix(frame, info))
    focus = {"strong": "industry", "specialised/industrial": "industry"}
    kw = dict(n=3, county_weight=0.8, city_weight=0.9)
    peers.ahead = _screen_ahead(nc, peers, focus, **kw)
    one = [_benchmarks(nc, peers, i, nc.targets[i], "score_industry", n_rows=4, **kw)
           for i in range(n)]
    peers.picked = _pick_ahead(peers, **kw)
    assert len(peers.picked) > n // 2
    for i in range(n):
        got = _benchmarks(nc, peers, i, nc.targets[i], "score_industry", n_rows=4, **kw)
        assert [(b.town_code, b.distance, b.same_county, b.same_city) for b in got[0]] == \
            [(b.town_code, b.distance, b.same_county, b.same_city) for b in one[i][0]]
        assert [b.town_code for b in got[1]] == [b.town_code for b in one[i][1]]
        assert got[2] == one[i][2]


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
