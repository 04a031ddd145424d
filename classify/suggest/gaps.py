"""Gaps to a category: the rules a town fails or nearly passes, and what indicator values
would pass them — found with the scoring model's own transform (a grid search over all
towns at once), else by the empirical percentile; the declared category's check and the
town's missing data."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from pandas.api import types as ptypes

from classify.numfmt import FLAG_UNITS
from classify.scoring import aggregate
from classify.suggest.record import (COUNT_UNITS, DERIVED_NUMERATOR, IndicatorInfo, Stack,
                                     _META, _get, _system_attr)
from classify.suggest.peers import _Cols, _Peers


# ---------------------------------------------------------------------------------------
# gap to a category
def derived_numerators(indicators) -> dict[str, str]:
    """``{derived id: numerator id}`` for derived indicators linear in their numerator
    (location quotients, ratios, shares, per-capita values) — from an ``IndicatorSystem``'s
    ``derived`` entries, else the defaults in :data:`DERIVED_NUMERATOR`."""
    out = dict(DERIVED_NUMERATOR)
    for d in _system_attr(indicators, "derived"):
        if _get(d, "kind") in ("lq", "ratio", "share", "per_capita", "per_area"):
            out[str(_get(d, "id"))] = str(_get(d, "numerator"))
    return out


def _rule_scales(trace: pd.DataFrame, taxonomy) -> dict[tuple[str, str], str]:
    scales: dict[tuple[str, str], str] = {}
    if taxonomy is not None and hasattr(taxonomy, "target_rules"):
        for target in trace["target"].astype(str).unique():
            try:
                rules = taxonomy.target_rules(target)
            except Exception:  # roles and unknown targets: no scale known, use "value"
                continue
            for r in rules:
                scales[(target, r.id)] = r.scale
    return scales


def _needed_field(nc: _Cols, i, fld, scale, op, threshold):
    """The value of ``fld`` the town needs for the rule to pass, with the other towns
    held at their values; ``None`` when the rule cannot be met by raising the field."""
    if op not in (">=", ">", "<=") or fld not in nc.frame.columns:
        return None
    if scale == "value":
        return float(threshold) if op in (">=", ">") else None
    s, p = nc.around(fld, i, county=scale in ("percentile_county", "rank_county"))
    n_others = len(s) - (p is not None)

    def other(k):  # the k-th smallest value of the other towns
        return float(s[k if p is None or k < p else k + 1])

    n = n_others + 1
    if scale.startswith("percentile") and op in (">=", ">"):
        # P = (k + 1) / n × 100 when the town is strictly above k others (no ties)
        k = max(0, math.ceil(float(threshold) * n / 100 - 1 - 1e-9))
        return other(k - 1) if k else None
    if scale == "rank_county" and op == "<=":
        r = int(threshold)
        return other(n_others - r if r >= 1 else -r) if r <= n_others else None
    return None


def _empirical_lever(nc: _Cols, i, fld, needed_field, ind, info):
    """Indicator value at the same position among the other towns as ``needed_field``
    holds on ``fld`` (the empirical percentile of the indicator itself)."""
    f = nc.others(fld, i)
    if not len(f):
        return None
    q = float((f <= needed_field).mean())
    others = np.sort(nc.others(ind, i) * info.direction)
    if not len(others):
        return None
    k = min(len(others), max(1, math.ceil(q * len(others) - 1e-9)))
    return float(others[k - 1]) * info.direction


@dataclass
class _Ask:
    """"Town ``i`` needs ``needed_field`` on ``fld``": which change of each candidate
    indicator gets it there (answered for all towns at once by :func:`_solve_asks`)."""

    i: int
    fld: str
    needed_field: float
    cands: list[str]
    needs: dict = field(default_factory=dict)
    method: str = "empirical"
    jumps: dict = field(default_factory=dict)  # see _jumps


def _direct_levers(nc: _Cols, i, fld, needed_field, info, numer):
    """A field that is an indicator (or moves with one): its needed value; ``None`` for a
    score, whose indicators are searched."""
    cur_field = float(nc(fld)[i])
    if fld in numer and numer[fld] in nc.frame.columns:
        ind = numer[fld]
        cur = float(nc(ind)[i])
        ok = cur_field > 0 and not math.isnan(cur)
        return [(ind, cur, cur * needed_field / cur_field if ok else math.nan, "structure")]
    if fld in info and not fld.startswith("score_"):
        return [(fld, cur_field, needed_field, "direct")]
    if not (fld.startswith("score_") or fld == "composite"):
        return []
    return None


def _movers(fields, info, numer, cols) -> dict[str, list[str]]:
    """``{field: indicators}`` whose change moves the field: those of its dimension (every
    one for ``composite``), base indicators only — a derived one (LQ, per capita) is not
    something to raise itself — and no flags."""
    base = [c for c in cols if c not in numer and info[c].unit not in FLAG_UNITS]
    return {f: [c for c in base
                if f == "composite" or info[c].dimension == f.removeprefix("score_")]
            for f in fields}


def _jumps(nc: _Cols, asks: list[_Ask], info) -> None:
    """``ask.jumps[ind] = (needed value, jump)`` of every lever that moves the right way (a
    count: whole): the share of towns the needed value passes beyond the current one's."""
    by_ind: dict[str, list] = {}
    for a in asks:
        for ind in a.cands:
            cur, need = float(nc(ind)[a.i]), a.needs.get(ind)
            if need is not None and not (need - cur) * info[ind].direction <= 0:
                by_ind.setdefault(ind, []).append((a, cur, need))
    for ind, items in by_ind.items():
        d, s = info[ind].direction, nc.sorted(ind)
        cur = np.array([c for _, c, _ in items])
        need = np.array([n for _, _, n in items])
        if info[ind].unit in COUNT_UNITS:  # 0.37 of a scenic spot is not a target
            need = np.ceil(need - 1e-9) if d > 0 else np.floor(need + 1e-9)

        def below(x):
            return np.searchsorted(s, x, side="left") if d > 0 else \
                len(s) - np.searchsorted(s, -x, side="right")

        jump = below(need * d) / len(s) - below(cur * d) / len(s)
        for (a, _, _), n, j in zip(items, need.tolist(), jump.tolist()):
            a.jumps[ind] = (n, j)


def _solve_asks(model, nc: _Cols, asks: list[_Ask], info, peers: _Peers, numer, *,
                chunk: int = 65536) -> None:
    """Fill ``ask.needs``: per candidate indicator, the smallest change (others fixed,
    derived indicators moving with their numerator) whose model score exceeds
    ``needed_field``; ``None`` when even 10× the regional best does not.

    Nested 33-point grids (4 rounds), all towns' pairs in one ``transform`` per step and
    ``chunk`` rows; a monotone model (:func:`_monotone`) whose grids do not fit one call
    is bisected to the same grid point.  Without a model, or for a field it does not
    produce: the empirical percentile of the indicator itself.
    """
    values, cols = peers.values, peers.cols
    where = {c: k for k, c in enumerate(cols)}
    fields = [] if model is None else [f for f in dict.fromkeys(a.fld for a in asks)
                                       if _produces(model, values[:1], cols, f)]
    for a in asks:
        if a.fld not in fields:  # no model, or one that does not produce this field
            a.needs = {ind: _empirical_lever(nc, a.i, a.fld, a.needed_field, ind, info[ind])
                       for ind in a.cands}
    pairs = [(a, ind) for a in asks if a.fld in fields for ind in a.cands]
    if not pairs:
        return
    grid = _Grid(model, values, where, numer, fields, chunk, pairs)
    for (a, ind), need in zip(pairs, _search(grid, info, pairs, _monotone(model, info,
                                                                          numer))):
        a.needs[ind], a.method = need, "model"


def _produces(model, row: np.ndarray, cols, fld: str) -> bool:
    try:
        _model_fields(model, pd.DataFrame(row, columns=cols), [fld])
    except (KeyError, ValueError):
        return False
    return True


def _model_fields(model, rows: pd.DataFrame, fields: list[str]) -> np.ndarray:
    """``model.transform(rows)`` restricted to ``fields`` (rows × fields)."""
    with np.errstate(all="ignore"):
        out = model.transform(rows)
    if isinstance(out, pd.DataFrame):
        return out[fields].to_numpy(dtype=float)
    names = list(model.get_feature_names_out())
    return np.asarray(out, dtype=float)[:, [names.index(f) for f in fields]]


def _search(grid: "_Grid", info, pairs, monotone: bool) -> list:
    values, col = grid.values, grid.col
    cur = values[grid.town, col]
    lo = cur.copy()
    # np.nanmax without its warning on an all-missing column (which is no pair's)
    best, least = np.fmax.reduce(values, axis=0)[col], np.fmin.reduce(values, axis=0)[col]
    meta = [info[ind] for _, ind in pairs]
    up = np.array([m.direction > 0 for m in meta], dtype=bool)
    share = np.array([m.unit == "%" for m in meta], dtype=bool)
    # a share cannot pass 100 %; other totals are searched up to 10× the best
    top = np.where(share, 100.0, np.maximum(cur, best) * 10 + 1)
    hi = np.where(up, np.maximum(cur, top), np.minimum(np.minimum(cur, least), 0.0))
    result: list = [None] * len(pairs)
    done = np.zeros(len(pairs), dtype=bool)
    for rnd in range(4):
        act = np.flatnonzero(~done)
        if not len(act):
            break
        xs = _grids(lo[act], hi[act], 33)
        for a, k, jk in zip(act.tolist(), range(len(act)),
                            grid.first_above(act, xs, monotone).tolist()):
            hit = jk < xs.shape[1]
            if not hit or jk == 0:
                result[a] = float(xs[k, 0]) if hit and rnd else None
                done[a] = True
            else:
                lo[a], hi[a] = xs[k, jk - 1], xs[k, jk]
    return [r if done[k] else float(hi[k]) for k, r in enumerate(result)]


def _monotone(model, info, numer) -> bool:
    """Whether the model's scores can only rise as an indicator improves (a fitted
    :class:`~classify.scoring.ScoreModel` with monotone normalisation, non-negative
    weights, and derived indicators pointing the way of their numerators)."""
    try:
        weights_ok = bool(np.all(np.asarray(model.w_in) >= 0)) and \
            bool(np.all(np.asarray(model.w_dim) >= 0))
    except (AttributeError, TypeError):
        return False
    return weights_ok and getattr(model, "normalisation", None) in ("minmax", "zscore", "rank") \
        and getattr(model, "aggregation", None) in ("arithmetic", "geometric") \
        and all(info[d].direction == info[n].direction for d, n in numer.items()
                if d in info and n in info)


class _Grid:
    """Scores of towns' rows with one indicator set to grid values, for many
    (town, indicator, field) pairs at once."""

    def __init__(self, model, values, where, numer, fields, chunk, pairs):
        self.model, self.values, self.where, self.chunk = model, values, where, chunk
        self.fields = fields
        self.numer = [(where[d], where[n]) for d, n in numer.items()
                      if d in where and n in where]
        self.town = np.array([a.i for a, _ in pairs], dtype=np.int64)
        self.col = np.array([where[ind] for _, ind in pairs], dtype=np.int64)
        self.fld = np.array([fields.index(a.fld) for a, _ in pairs], dtype=np.int64)
        self.need = np.array([a.needed_field for a, _ in pairs], dtype=float)
        # rows of different towns are never mixed in one call when the model imputes
        # missing values from the rows it is given
        self.per_town = getattr(model, "missing", None) == "impute_county_median"
        # a ScoreModel that leaves missing values out, with transforms that work column
        # by column, scores the bare matrix as its score_array does (no table, ranks or
        # counts made for each block of grid rows), and transforms only the changed
        # cells: the towns' rows are transformed once
        self.base = None
        if hasattr(model, "score_array") and not self.per_town and \
                all(c in where for c in model.indicators) and \
                all(hasattr(getattr(model, a, None), "transform_columns")
                    for a in ("treatment", "normaliser")):
            names, cols = list(model.get_feature_names_out()), [where[c] for c in
                                                                  model.indicators]
            self.outs = [names.index(f) for f in fields]
            self.model_col = np.full(values.shape[1], -1, dtype=np.int64)
            self.model_col[cols] = np.arange(len(cols))
            self.base = self._transformed(values[:, cols], np.arange(len(cols)))

    def first_above(self, act: np.ndarray, xs: np.ndarray, monotone: bool) -> np.ndarray:
        """Index of each pair's first grid point whose score exceeds its need
        (``xs.shape[1]``: none); bisected for a monotone model whose grids do not fit one call."""
        n_grid = xs.shape[1]
        if not monotone or len(act) * n_grid <= self.chunk:
            ok = self.scores(act, xs) > self.need[act][:, None]
            return np.where(ok.any(axis=1), np.argmax(ok, axis=1), n_grid)
        left, right = np.zeros(len(act), dtype=np.int64), np.full(len(act), n_grid)
        while True:
            go = np.flatnonzero(left < right)
            if not len(go):
                return left
            mid = (left[go] + right[go]) // 2
            ok = self.scores(act[go], xs[go, mid][:, None])[:, 0] > self.need[act[go]]
            right[go[ok]] = mid[ok]
            left[go[~ok]] = mid[~ok] + 1

    def scores(self, act: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """Scores (pairs × grid points) of pairs ``act`` at grid values ``xs``."""
        n_grid = xs.shape[1]
        out = np.empty(xs.shape)
        town = self.town[act]
        step = max(1, self.chunk // n_grid)
        bounds = np.flatnonzero(np.diff(town)) + 1 if self.per_town else \
            np.arange(step, len(act), step)
        for part in np.split(np.arange(len(act)), bounds):
            if len(part):
                out[part] = self._block(act[part], xs[part])
        return out

    def _transformed(self, X: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """The model's treatment and normalisation of ``X`` (the model's columns ``cols``)."""
        with np.errstate(all="ignore"):
            return self.model.normaliser.transform_columns(
                self.model.treatment.transform_columns(_finite(X), cols), cols)

    def _changed(self, act: np.ndarray, x: np.ndarray):
        """``(rows, columns, values)`` of the cells that differ from the towns' rows at grid
        values ``x`` of pairs ``act``: the indicator's, then its derived indicators'."""
        n_grid = x.shape[1]
        t, c = self.town[act], self.col[act]
        base = self.values[t, c]
        rows = np.arange(len(act) * n_grid).reshape(len(act), n_grid)
        out = [(rows.ravel(), np.repeat(c, n_grid), x.ravel())]
        for d, num in self.numer:  # derived indicators move with their numerator
            hit = np.flatnonzero((c == num) & (base != 0))
            if len(hit):
                out.append((rows[hit].ravel(), np.full(len(hit) * n_grid, d),
                            (self.values[t[hit], d][:, None] * x[hit] /
                             base[hit][:, None]).ravel()))
        return out

    def _block(self, act: np.ndarray, x: np.ndarray) -> np.ndarray:
        n_grid = x.shape[1]
        t = self.town[act]
        if self.base is not None:
            got = self._rescored(t, n_grid, self._changed(act, x))
        else:
            mat = np.repeat(self.values[t], n_grid, axis=0)
            for r, c, v in self._changed(act, x):
                mat[r, c] = v
            got = _model_fields(self.model, pd.DataFrame(_finite(mat), columns=list(self.where)),
                                self.fields)
        return got[np.arange(len(got)), np.repeat(self.fld[act], n_grid)] \
            .reshape(len(act), n_grid)

    def _rescored(self, t: np.ndarray, n_grid: int, changed) -> np.ndarray:
        """:meth:`ScoreModel.score_array` of the towns' rows ``t`` (each ``n_grid`` times)
        with the ``changed`` cells, transforming only those cells (the same numbers)."""
        Z = np.repeat(self.base[t], n_grid, axis=0)
        rows = np.concatenate([r for r, _, _ in changed])
        cols = self.model_col[np.concatenate([c for _, c, _ in changed])]
        vals = np.concatenate([v for _, _, v in changed])
        keep = cols >= 0  # a column the model does not score changes no score
        rows, cols, vals = rows[keep], cols[keep], vals[keep]
        for j in np.unique(cols).tolist():
            at = cols == j
            Z[rows[at], j] = self._transformed(vals[at][:, None], np.array([j]))[:, 0]
        m = self.model
        with np.errstate(all="ignore"):
            S = m.dim_scores(Z)     # ScoreModel.score_array's aggregation
            return np.column_stack([S, aggregate(S, m.w_dim[:, None], m.aggregation)[:, 0]]
                                   )[:, self.outs]


def _finite(X: np.ndarray) -> np.ndarray:
    """A search point beyond float range (10x a 1e300 cell, a derived share of it) as the
    largest float: the model's outlier caps treat it as the cap, as any huge value."""
    return np.nan_to_num(X, nan=np.nan)


def _grids(lo: np.ndarray, hi: np.ndarray, n: int) -> np.ndarray:
    """``np.linspace(lo[k], hi[k], n)`` for every k (rows), the same numbers as one call
    per pair: an array call changes its arithmetic for all rows when one step is 0."""
    out = np.repeat(lo[:, None], n, axis=1)
    move = lo != hi
    if move.any():
        out[move] = np.linspace(lo[move], hi[move], n, axis=1)
    return out


_GAP_COLS = ["target", "relation", "rule_id", "field", "scale", "op", "threshold", "value",
             "margin", "norm_margin", "needed_field", "indicator", "current", "needed",
             "change", "change_pct", "method", "text_zh", "text_en"]
_GAP_NUM = ("threshold", "value", "margin", "norm_margin", "needed_field", "current",
            "needed", "change", "change_pct")
_RULE_KEYS = ("rule_id", "field", "op", "threshold", "value", "margin", "norm_margin",
              "text_zh", "text_en")


def _gap_plan(nc: _Cols, i, tr: _Trace, ks, relations: dict[str, str], scales, info, numer,
              movers: dict[str, list[str]]) -> list[tuple[dict, Any]]:
    """``(row, levers)`` per failing rule of the explained targets; ``levers`` is a list,
    or an :class:`_Ask` that :func:`_solve_asks` answers for all towns at once."""
    plan = []

    def cell(k, key):  # a trace column the trace does not have reads as None
        return tr.cols[key][k] if key in tr.cols else None

    for target, relation in relations.items():
        for k in sorted(tr.failing(ks, target), key=lambda k: str(tr.cols["rule_id"][k])):
            base = {key: cell(k, key) for key in _RULE_KEYS}
            scale = cell(k, "scale")
            base.update(target=target, relation=relation, scale=scale if isinstance(
                scale, str) else scales.get((target, base["rule_id"]), "value"))
            fld = base["field"]
            try:
                thr = float(base["threshold"])
            except (TypeError, ValueError):
                thr = None
            need_f = None if thr is None else _needed_field(nc, i, fld, base["scale"],
                                                            base["op"], thr)
            base["needed_field"] = np.nan if need_f is None else need_f
            levers = [] if need_f is None else _direct_levers(nc, i, fld, need_f, info,
                                                              numer)
            if levers is None:
                levers = _Ask(i, fld, need_f, [c for c in movers[fld]
                                               if not math.isnan(nc(c)[i])])
            plan.append((base, levers))
    return plan


def _to_float(v) -> float:
    try:
        return float(v) if v is not None else math.nan
    except (TypeError, ValueError):
        return math.nan


def _gap_rows(nc: _Cols, plan, info, n_levers: int) -> list[dict]:
    """The category-gap records of one town from its answered plan."""
    recs = []
    for base, levers in plan:
        if isinstance(levers, _Ask):  # the n_levers smallest jumps in position
            ask = levers
            best = sorted((jump, ind, need) for ind, (need, jump) in ask.jumps.items())
            levers = [(ind, float(nc(ind)[ask.i]), need, ask.method)
                      for _, ind, need in best[:n_levers]]
        rows = [dict(base, indicator=ind, current=cur, needed=need, change=need - cur,
                     change_pct=(need - cur) / abs(cur) * 100 if cur else np.nan,
                     method=method) for ind, cur, need, method in levers] or [base]
        recs.extend({c: r.get(c, np.nan) for c in _GAP_COLS} for r in rows)
    for rec in recs:
        rec.update({c: _to_float(rec[c]) for c in _GAP_NUM})
        ind = rec["indicator"]
        m = info.get(ind) or IndicatorInfo(ind, ind, ind)
        rec.update({a: getattr(m, a) for a in _META})
    return recs


def _gap_stack(tables: list[list[dict]]) -> Stack:
    """The category-gap tables of all towns (an empty one: numbers and the indicator's
    labels typed float, as pandas types them when a table has no row)."""
    return Stack.of_records(tables, _GAP_COLS + list(_META),
                            dtypes={c: float for c in (*_GAP_NUM, *_META)})


# ---------------------------------------------------------------------------------------
# declared category and data notes
def _resolve_declared(text: str | None, taxonomy, labels) -> str | None:
    text = (text or "").strip()
    if not text:
        return None
    if taxonomy is not None and hasattr(taxonomy, "resolve_declared"):
        hit = taxonomy.resolve_declared(text)
        if hit:
            return hit
    if text in labels:
        return text
    for tid, lab in labels.items():
        if text in (lab.get("zh"), lab.get("en")):
            return tid
    return None


class _Trace:
    """The rule trace as :class:`_Column` columns with each town's rows; ``owner``: the
    frame position of each trace row (-1: no town of the frame)."""

    def __init__(self, trace: pd.DataFrame, owner: np.ndarray):
        self.frame = trace
        self.columns = list(trace.columns)
        self.cols = {c: _Column(trace[c]) for c in self.columns}
        self.target = _Column(trace["target"].astype(str)).tolist()
        self.field = _Column(trace["field"].astype(str)).tolist()
        self.passed = trace["passed"].astype(bool).tolist()
        nm = pd.to_numeric(trace["norm_margin"], errors="coerce") if "norm_margin" in \
            trace.columns else pd.Series(np.nan, index=trace.index)
        self.nm = nm.astype(float).tolist()
        self.by_town = {int(k): v.tolist() for k, v in
                        pd.Series(owner).groupby(owner, sort=False).indices.items() if k >= 0}

    def rows(self, town: int) -> list[int]:
        """Trace rows of the town at frame position ``town``."""
        return self.by_town.get(town, [])

    def failing(self, ks: list[int], target: str) -> list[int]:
        return [k for k in ks if self.target[k] == target and not self.passed[k]]


class _Column:
    """One trace column, indexed by row: the values ``Series.tolist()`` gives.  Text of few
    distinct values is kept as references to them (a Python string per town and rule
    would take much memory), mostly distinct text (the rule texts) as Arrow."""

    __slots__ = ("values", "arrow", "na")

    def __init__(self, col: pd.Series):
        self.values, self.arrow = None, None
        self.na = getattr(col.dtype, "na_value", None)
        if not ptypes.is_string_dtype(col.dtype) or ptypes.is_object_dtype(col.dtype):
            self.values = col.tolist()
            return
        codes, uniques = pd.factorize(col)
        if len(uniques) * 4 > len(col):       # mostly distinct: read from Arrow
            self.arrow = pa.array(col, from_pandas=True)
            return
        # a list of references to the few distinct values (-1, missing, picks the last
        # entry: what tolist() gives for a missing cell)
        self.values = np.array(uniques.tolist() + [self.na], dtype=object)[codes].tolist()

    def __getitem__(self, k: int):
        if self.arrow is not None:
            v = self.arrow[k].as_py()
            return v if v is not None else self.na
        return self.values[k]

    def tolist(self) -> list:
        return self.values if self.values is not None else \
            [self[k] for k in range(len(self.arrow))]


def _relations(tr: _Trace, ks, target, declared_target, runner_up, near_margin,
               allowed=None) -> dict[str, str]:
    """Targets whose failing rules a sheet explains, in order: suggested, declared,
    runner-up, then nearly reached (every failing rule within ``near_margin``)."""
    rel: dict[str, str] = {}
    if target:
        rel[target] = "suggested"
    if declared_target and declared_target not in rel:
        rel[declared_target] = "declared"
    if runner_up and runner_up not in rel:
        rel[runner_up] = "runner_up"
    near: dict[str, bool] = {}
    for k in ks:
        t = tr.cols["target"][k]
        if not tr.passed[k] and isinstance(t, str):
            near[t] = near.get(t, True) and tr.nm[k] >= -near_margin
    for t in sorted(near):
        if near[t] and t not in rel and (allowed is None or t in allowed):
            rel[t] = "near"
    return rel


def _declared_status(tr: _Trace, ks, declared_target, target) -> str:
    if declared_target is None:
        return ""
    passed = [tr.passed[k] for k in ks if tr.target[k] == declared_target]
    if declared_target == target or (passed and all(passed)):
        return "supported"
    if not passed:  # no rule of the declared target was evaluated: no verdict
        return ""
    same_family = target and declared_target.split("/")[0] == target.split("/")[0]
    return "partly supported" if same_family or any(passed) else "not supported"


def _declared_stack(tr: _Trace, fails: list[list[int]]) -> Stack:
    """The failing rules of the declared category of every town (``fails``: their trace
    rows): the trace's rows (a DataFrame: with its columns' types)."""
    rows = [k for f in fails for k in f]
    frame = tr.frame            # not tr: the suggestions outlive the trace's columns
    return Stack.of_lists({c: [tr.cols[c][k] for k in rows] for c in tr.columns},
                          [len(f) for f in fails], source=np.array(rows, dtype=np.int64),
                          frame=lambda part: frame.iloc[part].reset_index(drop=True))


_MISSING_COLS = ["indicator", "status", "detail", "dimension", "affects", "label_zh",
                 "label_en", "unit"]


def _missing_table(peers: "_Peers", i, info, log: list[dict], tr: _Trace, ks,
                   n_imputed: float) -> list[tuple]:
    """Indicators this town lacks, ``missing`` (left out of its scores) or ``imputed`` (when
    scoring imputed as many as it lacks), with the targets whose rules read a field they
    feed."""
    lacking = [peers.cols[k] for k in np.flatnonzero(peers.lacking[i]).tolist()]
    imputed = n_imputed > 0 and n_imputed >= sum(1 for x in lacking if info[x].dimension)
    notes = {ind: ("imputed" if imputed and info[ind].dimension else "missing", "")
             for ind in lacking}
    for rec in log:
        ind = str(rec.get("indicator", "") or "")
        st = str(rec.get("status", rec.get("action", "")) or "")
        detail = str(rec.get("detail", "") or "")
        if ind and ("imput" in st.lower() or "插补" in st):
            notes[ind] = ("imputed", detail)
        elif ind and ind not in notes and ind in info:
            notes[ind] = ("missing", detail)
        elif ind in notes and not notes[ind][1]:
            notes[ind] = (notes[ind][0], detail)
    used: dict[str, set] = {}
    for k in ks if notes else ():
        used.setdefault(tr.field[k], set()).add(tr.target[k])
    recs = []
    for ind, (status, detail) in sorted(notes.items()):
        m = info.get(ind) or IndicatorInfo(ind, ind, ind)
        aff = used.get(f"score_{m.dimension}", set()) | used.get(ind, set()) | (
            used.get("composite", set()) if m.dimension else set())
        recs.append((ind, status, detail, m.dimension, ";".join(sorted(aff)), m.label_zh,
                     m.label_en, m.unit))
    return recs


def _missing_stack(tables: list[list[tuple]]) -> Stack:
    """The missing-data tables of all towns."""
    rows = [r for t in tables for r in t]
    return Stack.of_lists({c: [r[k] for r in rows] for k, c in enumerate(_MISSING_COLS)},
                          [len(t) for t in tables])
