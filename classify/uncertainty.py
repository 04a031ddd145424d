"""Uncertainty and sensitivity analysis: Monte Carlo over weights, normalisation and
aggregation (OECD/JRC handbook, step 7).

Each draw picks indicator weights within each dimension and dimension weights around the
base weights (:func:`sample_weights`), a normalisation from ``normalisations`` and an
aggregation from ``aggregations`` (uniformly among the valid pairs; geometric needs a
bounded normalisation).  Everything is arrays: one matrix product per chunk of draws per
(normalisation, aggregation) pair, no Python loop over towns.  Randomness comes from a
local ``numpy.random.default_rng(seed)``; the same seed gives the same result.

Example
-------
>>> mc = monte_carlo(ind, system, draws=1000, seed=0)       # doctest: +SKIP
>>> mc.rank_summary[["rank_p05", "rank_median", "rank_p95"]]  # doctest: +SKIP
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from classify.config import AGGREGATIONS, NORMALISATIONS, IndicatorSystem, _choice, load_system
from classify.errors import ConfigError
from classify.normalise import BOUNDED, get_normaliser
from classify.scoring import ScoreResult, block_matrix, known, score

__all__ = ["monte_carlo", "MCResult", "sample_weights", "WEIGHT_SAMPLERS"]

WEIGHT_SAMPLERS = ("dirichlet", "noise", "none")


@dataclass
class MCResult:
    """Output of :func:`monte_carlo`.

    Attributes
    ----------
    dim_scores : ndarray (draws, n_towns, n_dims), float32, or None
        Dimension scores (0–100) per draw; column ``j`` is ``score_<dims[j]>``.  None when
        :func:`monte_carlo` was called with ``keep_dim_scores=False``.
    dims : list of str
    composite : ndarray (draws, n_towns), float32
    ranks : ndarray (draws, n_towns), float (1 = best; NaN where no composite)
    rank_summary : DataFrame
        Indexed like the indicators: ``rank_median``, ``rank_p05``, ``rank_p95`` (ranks
        that occurred: percentiles by the inverted empirical CDF), ``composite_p05``,
        ``composite_p95``; with ``county_ranks`` also ``rank_county_median``,
        ``rank_county_p05``, ``rank_county_p95``.
    draws : DataFrame
        Per draw: ``normalisation``, ``aggregation``.
    weights : ndarray (draws, n_indicators)
        Overall weight of each indicator per draw (``indicators`` gives the order).
    sensitivity : DataFrame
        What drives the rank uncertainty: per factor (``normalisation``, ``aggregation``,
        ``weights and interactions``) its first-order share of the rank variance,
        ``Σ_towns Var(E[rank | factor]) / Σ_towns Var(rank)``; the weights' share is the
        remainder (it includes interactions).  Empty shares are 0.
    """

    dim_scores: np.ndarray
    dims: list[str]
    composite: np.ndarray
    ranks: np.ndarray
    rank_summary: pd.DataFrame
    draws: pd.DataFrame
    weights: np.ndarray
    indicators: list[str] = field(default_factory=list)
    base: ScoreResult | None = None
    sensitivity: pd.DataFrame = field(default_factory=pd.DataFrame)


def sample_weights(base: np.ndarray, blocks: np.ndarray, draws: int, rng: np.random.Generator,
                   *, how: str = "dirichlet", concentration: float = 20.0,
                   noise: float = 0.25) -> np.ndarray:
    """Random weights around ``base``, each block summing to 1 (draws, k).

    Parameters
    ----------
    base : ndarray (k,)
        Base weights (summing to 1 within each block).
    blocks : ndarray (k,) of int
        Block of each weight (the dimension, or all 0 for dimension weights).
    how : {"dirichlet", "noise", "none"}
        ``Dirichlet(c · k · w)`` for a block of ``k`` weights ``w`` (mean ``w``; a larger
        ``concentration`` ``c`` is tighter), ``w · (1 + U(−noise, noise))`` renormalised,
        or the base weights unchanged.
    concentration : float
        Dirichlet ``c``.
    noise : float
        Relative half-width of the uniform noise.
    """
    base = np.asarray(base, dtype=float)
    blocks = np.asarray(blocks)
    if how not in WEIGHT_SAMPLERS:
        raise ConfigError(f"unknown weight sampler {how!r}; choose {', '.join(WEIGHT_SAMPLERS)}",
                          key="uncertainty.weights")
    if how == "none" or draws == 0:
        return np.broadcast_to(base, (draws, base.size)).copy()
    n_blocks = int(blocks.max()) + 1 if blocks.size else 0
    sizes = np.bincount(blocks, minlength=n_blocks)[blocks]
    if how == "dirichlet":
        if concentration <= 0:
            raise ConfigError("concentration must be > 0", key="uncertainty.concentration")
        alpha = concentration * sizes * base
        G = np.where(alpha > 0, rng.gamma(np.where(alpha > 0, alpha, 1.0),
                                          size=(draws, base.size)), 0.0)
    else:
        if not 0 <= noise < 1:
            raise ConfigError(f"noise must be in [0, 1), found {noise}", key="uncertainty.noise")
        G = base * (1.0 + rng.uniform(-noise, noise, size=(draws, base.size)))
    # a single weight in its block carries no uncertainty: keep it exactly
    sums = G @ block_matrix(np.ones(base.size), blocks, n_blocks)
    return G / np.where(sums > 0, sums, 1.0)[:, blocks]


def _combos(normalisations, aggregations):
    for key, names, choices in (("normalisations", normalisations, NORMALISATIONS),
                                ("aggregations", aggregations, AGGREGATIONS)):
        for name in names:      # the config checked its own; these may come from a caller
            _choice(name, choices, f"uncertainty.{key}", None)
    out = [(nm, ag) for nm in normalisations for ag in aggregations
           if not (ag == "geometric" and not BOUNDED[nm])]
    if not out:
        raise ConfigError("no valid (normalisation, aggregation) pair: geometric aggregation "
                          "needs minmax, rank or target", key="uncertainty.aggregations")
    return out


def _chunk(blocks, w_in, v, geometric, rescale, out_dims, out_comp):
    """Dimension scores and composite of a chunk of draws, written in place: per dimension one
    product (B, k_d) @ (k_d, n) of the weights and its ``(Z_d, gaps_d, idx_d)`` block."""
    B = w_in.shape[0]
    n = out_dims.shape[1]
    num_c = np.zeros((B, n), dtype=np.float32)
    den_c = np.zeros((B, n), dtype=np.float32)
    vv = v.astype(np.float32)[:, :, None]
    # in place where nothing is missing: the same operations on the same values, without
    # the masks and copies (the (B, n) passes are most of the time here)
    for d, blk in enumerate(blocks):
        if blk is None:
            out_dims[:, :, d] = np.nan
            continue
        Zd, okd, idx = blk
        w = np.ascontiguousarray(w_in[:, idx], dtype=np.float32)          # (B, k_d)
        s = w @ Zd                                                         # (B, n)
        tot = w.sum(axis=1)[:, None]
        if (tot > 0).all():
            s /= tot
        else:
            s = np.divide(s, tot, out=np.full_like(s, np.nan), where=tot > 0)
        if okd is not None:                 # re-weight only the towns with a gap here
            rows, okm = okd
            den = w @ okm
            s[:, rows] = np.divide(s[:, rows] * tot, den, out=np.full_like(den, np.nan),
                                   where=den > 0)
        if geometric:
            np.expm1(s, out=s)
        if rescale:
            with np.errstate(all="ignore"):
                lo = np.nanmin(s, axis=1, keepdims=True)
                hi = np.nanmax(s, axis=1, keepdims=True)
            s = 100.0 * (s - lo) / np.where(hi > lo, hi - lo, 1.0).astype(np.float32)
        out_dims[:, :, d] = s
        nan = np.isnan(s)
        if nan.any():
            s[nan] = 0
            den_c += ~nan * vv[:, d]
        else:
            den_c += vv[:, d]
        if geometric:
            np.log1p(np.maximum(s, 0, out=s), out=s)
        num_c += np.multiply(s, vv[:, d], out=s)
    if (den_c > 0).all():
        c = np.divide(num_c, den_c, out=num_c)
    else:
        c = np.divide(num_c, den_c, out=np.full_like(num_c, np.nan), where=den_c > 0)
    if geometric:
        np.expm1(c, out=c)
    out_comp[:] = c


def _gaps(ok_d: np.ndarray):
    """Towns with a missing value in a dimension and their presence mask (k_d, m)."""
    rows = np.flatnonzero(~ok_d.all(axis=1))
    if rows.size == 0:
        return None
    return rows, np.ascontiguousarray(ok_d[rows].T, dtype=np.float32)


def _ranks(comp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rank per draw (row), 1 = highest, ties share the best rank, NaN stays NaN; and the
    order (argsort, best first) they came from."""
    nan = np.isnan(comp)
    key = np.where(nan, np.inf, -comp)
    order = np.argsort(key, axis=1)
    srt = np.take_along_axis(key, order, axis=1)
    tied = srt[:, 1:] == srt[:, :-1]
    pos = np.broadcast_to(np.arange(1, comp.shape[1] + 1, dtype=np.float32), comp.shape)
    if tied.any():
        new = np.ones(comp.shape, dtype=bool)
        new[:, 1:] = ~tied
        pos = _tie_heads(new, pos.copy())                               # rank of the tie's first
    r = np.empty(comp.shape, dtype=np.float32)
    np.put_along_axis(r, order, pos, axis=1)
    if nan.any():
        r[nan] = np.nan
    return r, order


def _tie_heads(new: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """``pos`` (written in place) with each cell where ``new`` is False given the value of
    the cell that opened its run: ``np.maximum.accumulate(np.where(new, pos, 0), axis=1)``
    for increasing ``pos``, touching only the few tied cells."""
    tied = np.flatnonzero(~new)
    if tied.size:
        opens = np.ones(tied.size, dtype=bool)       # a tied cell right after its head
        opens[1:] = np.diff(tied) != 1
        runs = np.diff(np.append(np.flatnonzero(opens), tied.size))
        flat = pos.reshape(-1)
        flat[tied] = flat[np.repeat(tied[opens] - 1, runs)]
    return pos


def _county_index(county) -> tuple[np.ndarray, int, np.ndarray]:
    """County of each town as small integers (for a radix sort; unknown counties one
    more group), the number of groups, and the towns of unknown county."""
    cidx, codes = pd.factorize(known(np.asarray(county, dtype=object)), sort=True)
    unknown = cidx < 0
    n = codes.size + int(unknown.any())
    cidx = np.where(unknown, codes.size, cidx)
    return cidx.astype(np.int16 if n < 2**15 else np.int32), n, unknown


def _county_ranks(ranks: np.ndarray, order: np.ndarray, cidx: np.ndarray,
                  ncounty: int) -> np.ndarray:
    """Rank within the county per draw: a stable sort of the counties in rank order groups
    the towns; the groups' sizes are the same in every draw, so one vector of positions."""
    n = ranks.shape[1]
    c_sorted = cidx[order]                                          # counties in rank order
    o2 = np.argsort(c_sorted, axis=1, kind="stable")
    towns = np.take_along_axis(order, o2, axis=1)                   # by county, best first
    counts = np.bincount(cidx, minlength=ncounty)
    start = np.repeat(np.cumsum(counts) - counts, counts)           # group start per slot
    rr = np.take_along_axis(ranks, towns, axis=1)
    new = np.ones(rr.shape, dtype=bool)
    new[:, 1:] = (rr[:, 1:] != rr[:, :-1]) | (start[1:] != start[:-1])
    pos = np.tile((np.arange(n) - start + 1).astype(np.float32), (ranks.shape[0], 1))
    out = np.empty(ranks.shape, dtype=np.float32)
    np.put_along_axis(out, towns, _tie_heads(new, pos), axis=1)     # ties share the best
    out[np.isnan(ranks)] = np.nan
    return out


def monte_carlo(indicators: pd.DataFrame, system: IndicatorSystem | None = None, *,
                draws: int = 200, seed: int | None = 0, weighting: str | None = None,
                weights: str | None = None, concentration: float | None = None,
                noise: float | None = None,
                normalisations: tuple[str, ...] | None | str = "config",
                aggregations: tuple[str, ...] | None | str = "config",
                county: pd.Series | None = None, base: ScoreResult | None = None,
                county_ranks: bool = False, chunk_bytes: float = 2.0e8,
                on_chunk: Callable[[slice, np.ndarray, np.ndarray], None] | None = None,
                keep_dim_scores: bool = True, threads: int | None = None,
                chunk_ranks: bool = False) -> MCResult:
    """Monte Carlo uncertainty analysis of dimension scores, composite and ranks.

    Parameters
    ----------
    indicators : DataFrame
        As for :func:`classify.scoring.score`.
    system : IndicatorSystem, optional
    draws : int
    seed : int or None
        Seeds a local ``numpy.random.default_rng``.
    weighting : str, optional
        Base weighting method (default: the system's); ignored when ``base`` is given.
    weights : {"dirichlet", "noise", "none"}, optional
        How weights vary around the base weights (:func:`sample_weights`).
    concentration, noise : float, optional
        Parameters of the Dirichlet and uniform samplers.
    normalisations, aggregations : tuple of str or None
        Methods drawn from; ``None`` = only the system's (or ``base``'s) method.
        Options left at their default come from the system's ``[uncertainty]`` table
        (:class:`classify.config.Uncertainty`).
    county : Series, optional
        Peer groups for ``missing="impute_county_median"``, and for ``county_ranks``.
    county_ranks : bool, default False
        Also summarise the rank within the county (needs ``county``): adds
        ``rank_county_median``, ``rank_county_p05``, ``rank_county_p95``.
    base : ScoreResult, optional
        Reuse the fitted transforms and base weights of an earlier :func:`score`.
    chunk_bytes : float
        Memory budget of one chunk of draws (one per thread).  Results are reproducible
        for a given ``chunk_bytes`` and number of towns.
    on_chunk : callable, optional
        Called as ``on_chunk(draws, dim_scores, composite)`` for each chunk of draws as it
        is made (``draws`` a slice; arrays (B, n, dims) and (B, n)), e.g.
        :meth:`classify.rules.CategoryDrawer.add`.  With ``keep_dim_scores=False`` the
        dimension scores are valid during the call only (their memory is reused).
    keep_dim_scores : bool, default True
        Keep every draw's dimension scores in ``MCResult.dim_scores``.  With ``False`` it
        is None and only one chunk is held at a time.
    chunk_ranks : bool, default False
        Also pass ``ranks=`` (the chunk's region ranks, (B, n)) to ``on_chunk``, e.g. for
        :meth:`~classify.rules.CategoryDrawer.add` to reuse for percentiles of the composite.
    threads : int, optional
        Chunks of draws computed at once (default: the usable cores, at most 2).  Results
        do not depend on it; ``on_chunk`` must then accept calls from several threads for
        disjoint draws.

    Returns
    -------
    MCResult
    """
    if draws < 1:
        raise ConfigError(f"draws must be >= 1, found {draws}; use --draws", key="draws")
    system = system or load_system()
    u = system.uncertainty
    sampling = {"how": u.weights if weights is None else weights,
                "concentration": u.concentration if concentration is None else concentration,
                "noise": u.noise if noise is None else noise}
    normalisations = u.normalisations if normalisations == "config" else normalisations
    aggregations = u.aggregations if aggregations == "config" else aggregations
    base = base or score(indicators, system, weighting=weighting, county=county)
    mod = base.model
    rng = np.random.default_rng(seed)
    normalisations = tuple(normalisations or (mod.normalisation,))
    aggregations = tuple(aggregations or (mod.aggregation,))
    combos = _combos(normalisations, aggregations)
    T = mod.treated(indicators, county)[0]
    n = T.shape[0]
    D = len(mod.dims)
    ok = ~np.isnan(T)
    # draws are i.i.d., so sorting them by method pair changes nothing but memory access
    pick = np.sort(rng.integers(len(combos), size=draws))
    w_in = sample_weights(mod.w_in, mod.dim_index, draws, rng, **sampling)
    present = np.flatnonzero(mod.w_dim > 0)
    v = np.zeros((draws, D))
    v[:, present] = sample_weights(mod.w_dim[present] / mod.w_dim[present].sum(),
                                   np.zeros(present.size, int), draws, rng, **sampling)
    dim_scores = np.empty((draws, n, D), dtype=np.float32) if keep_dim_scores else None
    composite = np.empty((draws, n), dtype=np.float32)
    ranks = np.empty((draws, n), dtype=np.float32)
    want_county = county is not None and county_ranks
    if want_county:
        cidx, ncounty, cunknown = _county_index(
            pd.Series(county).reindex(indicators.index).to_numpy(object))
        cranks = np.empty((draws, n), dtype=np.float32)
    # the chunk size must not depend on the threads: float32 products can round
    # differently with another number of rows, and results must not depend on the machine
    B = max(1, int(chunk_bytes // (4 * n * 8)))
    nthreads = min(2, _cores()) if threads is None else max(1, int(threads))
    Zcache: dict[str, np.ndarray] = {}
    tasks = []
    for c, (nm, ag) in enumerate(combos):
        idx_c = np.flatnonzero(pick == c)
        if idx_c.size == 0:
            continue
        if nm not in Zcache:
            Zcache[nm] = get_normaliser(nm, directions=mod.directions).fit(T).transform(T)
        Z = np.where(ok, Zcache[nm], 0.0)
        Zt = np.log1p(np.maximum(Z, 0.0)) if ag == "geometric" else Z
        blocks = []
        for d in range(D):
            idx = np.flatnonzero(mod.dim_index == d)
            blocks.append(None if idx.size == 0 else (
                np.ascontiguousarray(Zt[:, idx].T, dtype=np.float32),
                _gaps(ok[:, idx]),
                idx))
        for s in range(idx_c[0], idx_c[-1] + 1, B):          # draws of a pair are contiguous
            tasks.append((s, min(s + B, idx_c[-1] + 1), blocks, ag == "geometric",
                          not BOUNDED[nm]))

    local = threading.local()
    widest = max(t[1] - t[0] for t in tasks)

    def run(task):
        s, e, blocks, geometric, rescale = task
        if keep_dim_scores:
            dims_out = dim_scores[s:e]
        else:
            # one buffer per thread (a fresh array would cost its page faults each time),
            # dimension-major, so each dimension's (B, n) scores are contiguous
            if getattr(local, "dims", None) is None:
                local.dims = np.empty((D, widest, n), dtype=np.float32)
            dims_out = local.dims[:, :e - s].transpose(1, 2, 0)
        _chunk(blocks, w_in[s:e], v[s:e], geometric, rescale, dims_out, composite[s:e])
        # ranks per draw need only that draw: ranked chunk by chunk, the argsort orders
        # (8 bytes per cell) are never held for all draws at once
        ranks[s:e], order = _ranks(composite[s:e])
        if want_county:
            cranks[s:e] = _county_ranks(ranks[s:e], order, cidx, ncounty)
            cranks[s:e, cunknown] = np.nan       # no county: no rank within it
        del order
        if on_chunk is not None:
            on_chunk(slice(s, e), dims_out, composite[s:e],
                     **({"ranks": ranks[s:e]} if chunk_ranks else {}))

    # chunks are independent and write disjoint rows; numpy releases the GIL in the
    # sorts, products and ufuncs, so threads share the work across cores.  The threads
    # (and their chunk buffers) end with this pool, before the summaries
    with ThreadPoolExecutor(max_workers=nthreads) as pool:
        list(pool.map(run, tasks))
    info = pd.DataFrame([combos[c] for c in pick], columns=["normalisation", "aggregation"])
    # the summaries are independent: on the threads too, the longest first
    with ThreadPoolExecutor(max_workers=nthreads) as pool:
        composite_q = pool.submit(_quantiles, composite, [5, 95], "linear")
        rank_q = pool.submit(_quantiles, ranks, [5, 50, 95], "inverted_cdf")
        if want_county:
            county_q = pool.submit(_quantiles, cranks, [5, 50, 95], "inverted_cdf")
        sensitivity = pool.submit(_sensitivity, ranks, info)
    (p05, p50, p95), (c05, c95) = rank_q.result(), composite_q.result()
    cols = {"rank_median": p50, "rank_p05": p05, "rank_p95": p95,
            "composite_p05": c05, "composite_p95": c95}
    if want_county:
        p05, p50, p95 = county_q.result()
        cols.update(rank_county_median=p50, rank_county_p05=p05, rank_county_p95=p95)
        del cranks
    summary = pd.DataFrame(cols, index=indicators.index)
    overall = w_in * v[:, mod.dim_index]
    return MCResult(dim_scores, list(mod.dims), composite, ranks, summary, info, overall,
                    list(mod.indicators), base, sensitivity.result())


def _cores() -> int:
    # not classify.report.workers.cores: the analytics do not import the report writers
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:            # not Linux
        return os.cpu_count() or 1


def _sensitivity(ranks: np.ndarray, info: pd.DataFrame) -> pd.DataFrame:
    """First-order variance shares of the discrete method choices (see MCResult)."""
    r = ranks
    if np.isnan(r).any():                   # towns with no composite: a constant last rank
        r = np.where(np.isnan(r), np.float32(r.shape[1]), r)
    mean = r.mean(axis=0, dtype=np.float64)
    total = float((r.var(axis=0, dtype=np.float64)).sum())
    rows = []
    for factor in ("normalisation", "aggregation"):
        share = 0.0
        if total > 0 and info[factor].nunique() > 1:
            between = np.zeros(r.shape[1])
            for _, idx in info.groupby(factor).indices.items():
                m = r[idx].mean(axis=0, dtype=np.float64)
                between += len(idx) / len(info) * (m - mean) ** 2
            share = float(between.sum() / total)
        rows.append({"factor": factor, "share": share})
    rest = max(0.0, 1.0 - sum(x["share"] for x in rows)) if total > 0 else 0.0
    rows.append({"factor": "weights and interactions", "share": rest})
    return pd.DataFrame(rows)


def _quantiles(a: np.ndarray, q: list, method: str) -> np.ndarray:
    """Percentiles ``q`` of each town's draws (len(q), n), NaN draws left out; NaN for a
    town with no value in any draw."""
    out = np.full((len(q), a.shape[1]), np.nan)
    # towns with no value in any draw are left out (numpy would warn: all-NaN slice)
    some = ~np.isnan(a).all(axis=0)
    if not some.all():
        a = a[:, some]
    aT = np.ascontiguousarray(a.T)        # towns as rows: contiguous for the sort
    if np.isnan(aT).any():                # a town without a value in some draws only
        out[:, some] = np.nanpercentile(aT, q, axis=1, method=method)
        return out
    aT.sort(axis=1)       # one vectorised sort per town: faster than numpy's partitions
    if method == "inverted_cdf":
        # an observed value at a fixed position of the sorted draws: the positions numpy
        # uses (the same percentiles of 0 … draws − 1)
        at = np.percentile(np.arange(aT.shape[1]), q, method=method).astype(np.intp)
        out[:, some] = aT[:, at].T
    else:                 # interpolated by numpy, whose partition is quick on sorted rows
        out[:, some] = np.percentile(aT, q, axis=1, method=method)
    return out
