"""Plain baselines the benchmark measures our stages against, in the same run.

Written the way an analyst would in a notebook — plain pandas / numpy, no estimators, no
outlier treatment, no missing-data reweighting beyond ``skipna`` — so the ratio
"ours ÷ plain" shows what our extra machinery (JRC outlier rule, registries, traces,
checks) costs, and the agreement shows how far the results move because of it.

Examples
--------
>>> import pandas as pd
>>> ind = pd.DataFrame({"gdp": [1.0, 2.0, 3.0], "dist": [10.0, 0.0, 5.0]})
>>> plain_scores(ind, {"strength": [("gdp", "+")], "centrality": [("dist", "-")]})
   score_strength  score_centrality  composite  rank
0             0.0               0.0        0.0   3.0
1            50.0             100.0       75.0   1.0
2           100.0              50.0       75.0   1.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["dimensions_of", "plain_scores", "plain_monte_carlo"]

Dimensions = Mapping[str, Sequence[tuple[str, str]]]


def dimensions_of(system, columns) -> dict[str, list[tuple[str, str]]]:
    """``{dimension: [(indicator id, direction), …]}`` for the ``columns`` present.

    ``system`` is a :class:`classify.config.IndicatorSystem` (its ``scored`` indicators,
    derived ones included).
    """
    present = set(columns)
    out: dict[str, list[tuple[str, str]]] = {d.id: [] for d in system.dimensions}
    for ind in system.scored:
        if ind.id in present:
            out[ind.dimension].append((ind.id, ind.direction))
    return {d: v for d, v in out.items() if v}


def plain_scores(indicators: pd.DataFrame, dimensions: Dimensions) -> pd.DataFrame:
    """Min–max to 0–100, equal weights, mean per dimension, mean of dimensions.

    Parameters
    ----------
    indicators : DataFrame
        One float column per indicator id.
    dimensions : mapping
        ``{dimension: [(indicator id, "+" or "-"), …]}``; ``"-"`` flips the scale.

    Returns
    -------
    DataFrame
        ``score_<dim>`` (0–100), ``composite``, ``rank`` (1 = best, ties share the best).
    """
    out = pd.DataFrame(index=indicators.index)
    for dim, members in dimensions.items():
        scaled = []
        for col, direction in members:
            x = indicators[col].astype("float64")
            span = x.max() - x.min()
            s = (x - x.min()) / span if span > 0 else x * 0.0
            if direction == "-":
                s = 1.0 - s
            scaled.append(s * 100.0)
        out[f"score_{dim}"] = pd.concat(scaled, axis=1).mean(axis=1, skipna=True)
    out["composite"] = out.mean(axis=1, skipna=True)
    out["rank"] = out["composite"].rank(ascending=False, method="min")
    return out


def plain_monte_carlo(indicators: pd.DataFrame, dimensions: Dimensions, *, draws: int = 1000,
                      seed: int = 0, spread: float = 0.5) -> pd.DataFrame:
    """Rank bands under random weights, one draw at a time, holding only one draw in memory.

    Each draw scales every indicator weight by ``U(1 − spread, 1 + spread)``, recomputes
    the weighted dimension means and the composite, and ranks the towns.  Only the ranks
    are kept (``draws × n`` int32), the way a plain script would.

    Returns
    -------
    DataFrame
        ``rank_p05``, ``rank_median``, ``rank_p95`` per town.
    """
    rng = np.random.default_rng(seed)
    cols = [c for members in dimensions.values() for c, _ in members]
    dim_of = np.concatenate([[k] * len(m) for k, m in enumerate(dimensions.values())])
    sign = np.array([d for members in dimensions.values() for _, d in members])
    x = indicators[cols].to_numpy(dtype="float64")
    lo, hi = np.nanmin(x, axis=0), np.nanmax(x, axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    s = (x - lo) / span
    s[:, sign == "-"] = 1.0 - s[:, sign == "-"]
    present = (~np.isnan(s)).astype("float64")   # float: bool @ float skips BLAS
    s = np.nan_to_num(s)
    n_dims = len(dimensions)
    onehot = np.zeros((len(cols), n_dims))
    onehot[np.arange(len(cols)), dim_of] = 1.0
    ranks = np.empty((draws, len(x)), dtype=np.int32)
    for d in range(draws):
        w = rng.uniform(1 - spread, 1 + spread, len(cols))
        num = s @ (w[:, None] * onehot)
        den = present @ (w[:, None] * onehot)
        with np.errstate(invalid="ignore", divide="ignore"):
            dims = num / den
        composite = np.nanmean(dims, axis=1)
        order = np.argsort(-composite, kind="stable")
        ranks[d, order] = np.arange(1, len(x) + 1)
    p05, p50, p95 = np.percentile(ranks, [5, 50, 95], axis=0)
    return pd.DataFrame({"rank_p05": p05, "rank_median": p50, "rank_p95": p95},
                        index=indicators.index)
