"""Peers and benchmarks: where a town stands among all towns and in its county
(strengths, weaknesses), which towns ahead of it in its category it should look to, and the
gaps to them."""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import pandas as pd

from classify.numfmt import FLAG_UNITS
from classify.scoring import county_key
from classify.suggest.record import _META, Benchmark, IndicatorInfo, Part, Stack, _text


class _Cols:
    """Float arrays of frame columns, converted once, and sorted copies of them (the
    per-town steps read them often)."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame
        self._cache: dict[str, np.ndarray] = {}
        self.n = len(frame)
        # unknown county / city: '' (never a group of its own); city: its code, else name
        unknown = np.full(self.n, "", dtype=object)
        county = county_key(frame)
        self.county = unknown if county is None else _text(county)
        city = [c for c in ("city_code", "city") if c in frame.columns]
        self.city = _text(frame[city[0]]) if city else unknown
        self.codes = _text(frame["town_code"])
        self.targets = frame["_target"].to_numpy(dtype=object)
        self._sorted: dict[tuple, np.ndarray] = {}
        self._groups = pd.Series(self.county).groupby(self.county).indices

    def __call__(self, col: str) -> np.ndarray:
        if col not in self._cache:
            self._cache[col] = pd.to_numeric(self.frame[col], errors="coerce") \
                .to_numpy(dtype=float, na_value=np.nan)
        return self._cache[col]

    def sorted(self, col: str, county: str | None = None) -> np.ndarray:
        """Sorted non-missing values of ``col`` over all towns (or those of ``county``)."""
        key = (col, county)
        if key not in self._sorted:
            v = self(col)
            if county is not None:
                v = v[self._groups.get(county, [])] if county else v[:0]
            self._sorted[key] = np.sort(v[~np.isnan(v)])
        return self._sorted[key]

    def around(self, col: str, i: int, county: bool = False) -> tuple[np.ndarray, int | None]:
        """``sorted(col)`` of town ``i``'s group and the position of its own value in it
        (``None`` when missing): the other towns are that array without that position."""
        s = self.sorted(col, self.county[i] if county else None)
        v = self(col)[i]
        if math.isnan(v) or (county and not self.county[i]):
            return s, None
        return s, int(np.searchsorted(s, v, side="left"))

    def others(self, col: str, i: int) -> np.ndarray:
        """Sorted non-missing values of ``col`` over the other towns."""
        s, p = self.around(col, i)
        return s if p is None else np.delete(s, p)


# ---------------------------------------------------------------------------------------
# peer positions
def _percentile(values: pd.Series) -> pd.Series:
    return values.rank(pct=True, method="average") * 100


def peer_positions(frame: pd.DataFrame, indicators: Mapping[str, IndicatorInfo]
                   ) -> pd.DataFrame:
    """Rank and percentile of every town on every indicator, region-wide and in its county.

    Returns a long frame ``town_code, indicator, value, rank, n, pct, rank_county,
    n_county, pct_county`` (rank 1 = best after the indicator's direction; pct 100 = best).
    Towns with a missing value get no rank and are not counted in ``n``.
    """
    ids, mats = _position_matrices(frame, indicators)
    if not ids:
        return pd.DataFrame(columns=["town_code", "indicator", "value", "rank", "n", "pct",
                                     "rank_county", "n_county", "pct_county"])
    out = pd.DataFrame({"town_code": np.tile(_text(frame["town_code"]), len(ids)),
                        "indicator": np.repeat(np.array(ids, dtype=object), len(frame))})
    for c, m in mats.items():  # indicator-major
        out[c] = m.T.ravel()
    return out


def _position_matrices(frame: pd.DataFrame, indicators: Mapping[str, IndicatorInfo]
                       ) -> tuple[list[str], dict[str, np.ndarray]]:
    """:func:`peer_positions` as towns × indicators matrices: the indicators and ``value,
    rank, n, pct, rank_county, n_county, pct_county``."""
    ids, n = [i for i in indicators if i in frame.columns], len(frame)
    if not ids:
        return ids, {c: np.zeros((n, 0)) for c in ("value", "rank", "n", "pct",
                                                  "rank_county", "n_county", "pct_county")}
    v = pd.DataFrame({i: pd.to_numeric(frame[i], errors="coerce").astype(float) for i in ids},
                     index=frame.index, columns=ids)
    s = v * np.array([indicators[i].direction for i in ids])
    out = {"value": v.to_numpy(), "rank": s.rank(ascending=False, method="min").to_numpy(),
           "n": np.broadcast_to(s.notna().sum().to_numpy(), (n, len(ids))),
           "pct": _percentile(s).to_numpy()}
    keys = county_key(frame)  # county codes, else names
    if keys is not None and keys.notna().any():
        # a town of unknown county is in no county group (no rank within the county)
        g = s.groupby(keys.to_numpy(), dropna=True)
        out["rank_county"] = g.rank(ascending=False, method="min").to_numpy()
        out["n_county"] = g.transform("count").fillna(0).to_numpy()
        out["pct_county"] = g.rank(pct=True, method="average").to_numpy() * 100
    else:   # no county column (counts 0), or no town of known county (counts 0.0)
        out["rank_county"] = np.full((n, len(ids)), np.nan)
        out["n_county"] = np.zeros((n, len(ids)), dtype=np.int64 if keys is None else float)
        out["pct_county"] = np.full((n, len(ids)), np.nan)
    missing = np.isnan(out["value"])
    for c in ("rank", "pct", "rank_county", "pct_county"):
        out[c] = np.where(missing, np.nan, out[c])
    return ids, out


class _Positions:
    """:func:`peer_positions` as towns × indicators matrices, with the strength /
    weakness masks of every town computed at once."""

    def __init__(self, frame: pd.DataFrame, info: Mapping[str, IndicatorInfo], *,
                 top: float, bottom: float, min_county: int = 3):
        self.ids, self.mats = _position_matrices(frame, info)
        self.id_rank = np.argsort(np.argsort(np.array(self.ids, dtype=str), kind="stable"))
        self.meta = {a: np.array([getattr(info[c], a) for c in self.ids], dtype=object)
                     for a in _META}
        pct, pc = self.mats["pct"], self.mats["pct_county"]
        flag = np.array([info[c].unit in FLAG_UNITS for c in self.ids], dtype=bool)
        county_ok = (self.mats["n_county"] >= min_county) & ~np.isnan(pc)
        pc = np.where(county_ok, pc, np.nan)
        valid = ~np.isnan(pct) & ~flag
        self.hit = {"best": (valid & (pct >= top), valid & county_ok & (pc >= top)),
                    "worst": (valid & (pct <= bottom), valid & county_ok & (pc <= bottom))}
        with np.errstate(invalid="ignore"):
            # sorted ascending: the best first, then the worst first
            self.key = {"best": -np.fmax(pct, pc), "worst": np.fmin(pct, pc)}

    def stack(self, kind: str, n_max: int) -> Stack:
        """The strengths ("best") or weaknesses ("worst") of every town: indicators in
        the top / bottom percentiles of the region or the county (of ``min_county`` towns
        at least), best (worst) first; no flags (a yes/no says little about a position)."""
        hit = self.hit[kind][0] | self.hit[kind][1]
        key = np.where(hit, self.key[kind], np.inf)
        order = np.lexsort((np.broadcast_to(self.id_rank, key.shape), key),
                           axis=-1)[:, :n_max]
        count = np.minimum(hit.sum(axis=1), n_max)
        I = np.repeat(np.arange(len(count)), count)
        J = order[np.arange(order.shape[1])[None, :] < count[:, None]]
        cols = {"indicator": np.array(self.ids, dtype=object)[J]}
        cols.update({k: m[I, J] for k, m in self.mats.items()})
        hit_r, hit_c = self.hit[kind][0][I, J], self.hit[kind][1][I, J]
        cols["scope"] = np.array(["county", "region", "both"], dtype=object)[
            np.where(hit_r & hit_c, 2, np.where(hit_r, 1, 0))]
        cols.update({a: v[J] for a, v in self.meta.items()})
        return Stack(cols, count)


# ---------------------------------------------------------------------------------------
# benchmarks
def _target_of(row) -> str | None:
    cat = row.get("category")
    if cat is None or pd.isna(cat) or not cat:
        return None
    sub = row.get("subtype")
    if sub is None or pd.isna(sub) or not str(sub):
        return str(cat)
    return f"{cat}/{sub}"


def _focus_column(target: str | None, frame: pd.DataFrame, focus_map) -> str:
    dim = focus_map.get(target or "")
    col = f"score_{dim}" if dim else "composite"
    return col if col in frame.columns else "composite"


def _codes_of(keys: np.ndarray) -> np.ndarray:
    codes = pd.factorize(pd.Series(keys, dtype=object))[0]
    return np.where(keys == "", -1, codes)


class _Peers:
    """What benchmark search and gap tables read, built once: the towns' values and
    profiles (region percentiles), the towns of each category, code order."""

    def __init__(self, nc: _Cols, pos: _Positions):
        self.cols, self.col_order, self.meta_cols = pos.ids, pos.id_rank, pos.meta
        self.values = np.ascontiguousarray(pos.mats["value"])
        self.code_rank = np.empty(nc.n, dtype=np.int64)
        self.code_rank[np.argsort(nc.codes.astype(str), kind="stable")] = np.arange(nc.n)
        # the towns of each category (those of none are in no group)
        self.members = pd.Series(nc.targets, dtype=object).groupby(nc.targets).indices
        self.town = _text(nc.frame["town"])
        self.county = _text(nc.frame["county"]) if "county" in nc.frame.columns else \
            np.full(nc.n, "", dtype=object)
        # counties and cities as integers (-1 = unknown) for the distance weights
        self.county_id = _codes_of(nc.county)
        self.city_id = _codes_of(nc.city)
        self.picked: dict[int, tuple[list, list]] | None = None  # see _pick_ahead
        self.prof = np.ascontiguousarray(pos.mats["pct"]) / 100  # robust to skewed totals
        self.lacking = np.isnan(self.values)
        self.dims = self.meta_cols["dimension"]
        self.score_dims = [c.removeprefix("score_") for c in nc.frame.columns
                           if c.startswith("score_")]
        # dimensions no town has a score for (no indicator of them has data)
        self.dims_empty = {d for d in self.score_dims if np.isnan(nc(f"score_{d}")).all()}

    def same(self, I: np.ndarray, J: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Whether each town ``J`` is in the (known) county, and city, of its town ``I``."""
        return ((self.county_id[J] == self.county_id[I]) & (self.county_id[I] >= 0),
                (self.city_id[J] == self.city_id[I]) & (self.city_id[I] >= 0))

    def gap_stack(self, I: np.ndarray, J: np.ndarray, dims: np.ndarray, n_rows: int,
                  block: int = 16384) -> Stack:
        """The gap tables of towns ``I`` to towns ``J`` (:class:`Benchmark`): indicators of
        the focus dimension ``dims`` first, then the largest relative differences (ties by
        id), at least ``n_rows`` rows."""
        m = len(self.cols)
        orders, counts = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
        for lo in range(0, len(I), block):
            this, other = self.values[I[lo:lo + block]], self.values[J[lo:lo + block]]
            focus_m = self.dims[None, :] == dims[lo:lo + block, None]
            pct = _diff_pct(this, other)
            size = np.where(np.isnan(pct), -1.0, np.abs(pct))
            order = np.lexsort((np.broadcast_to(self.col_order, size.shape), -size,
                                ~focus_m), axis=-1)
            keep = np.maximum(n_rows, focus_m.sum(axis=1))
            orders.append(order[np.arange(m)[None, :] < keep[:, None]])
            counts.append(np.minimum(keep, m))
        flat, n = np.concatenate(orders), np.concatenate(counts)
        this, other = self.values[np.repeat(I, n), flat], self.values[np.repeat(J, n), flat]
        cols = {"indicator": np.array(self.cols, dtype=object)[flat], "this": this,
                "other": other, "diff": other - this, "diff_pct": _diff_pct(this, other),
                "in_focus": self.dims[flat] == np.repeat(dims, n)}
        cols.update({a: v[flat] for a, v in self.meta_cols.items()})
        return Stack(cols, n)


def _diff_pct(this: np.ndarray, other: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.where((this != 0) & ~np.isnan(this), (other - this) / np.abs(this) * 100,
                        np.nan)


def _choose(nc: _Cols, peers: _Peers, i: int, focus: str, *, n: int
            ) -> tuple[list, list, bool]:
    """Town ``i``'s benchmarks (:func:`_pick_ahead`) or, when none is ahead, the ``n``
    challengers nearest by score: towns, distances, whether challengers."""
    target = nc.targets[i]
    if target is None or math.isnan(nc(focus)[i]):
        return [], [], False
    if i in peers.picked:
        return (*peers.picked[i], False)
    score, same = nc(focus), peers.members[target]
    rest = same[(same != i) & ~np.isnan(score[same])]
    js = rest[np.lexsort((peers.code_rank[rest], score[i] - score[rest]))[:n]]
    return js.tolist(), _distances(peers.prof, np.full(len(js), i), js).tolist(), True


def _make(nc: _Cols, peers: _Peers, chosen, focus, n_rows: int) -> list[list[Benchmark]]:
    """Every town's :class:`Benchmark` objects from the towns ``chosen`` (towns,
    distances); their gap tables are parts of one :class:`Stack`."""
    n = np.array([len(js) for js, _ in chosen], dtype=np.int64)
    I = np.repeat(np.arange(nc.n), n)
    J = np.array([j for js, _ in chosen for j in js], dtype=np.int64)
    cols = list(dict.fromkeys(f for f, k in zip(focus, n.tolist()) if k))
    which = np.repeat(np.array([cols.index(f) if k else 0 for f, k in zip(focus, n.tolist())],
                               dtype=np.int64), n)
    scores = np.vstack([nc(c) for c in cols]) if cols else np.zeros((1, nc.n))
    same_c, same_ci = peers.same(I, J)
    fcol = np.repeat(np.array(list(focus), dtype=object), n).tolist()
    gaps = peers.gap_stack(I, J, np.array([f.removeprefix("score_") for f in fcol],
                                          dtype=object), n_rows)
    made = [Benchmark(*row, Part(gaps, k), j) for k, (row, j) in enumerate(zip(zip(
        nc.codes[J].tolist(), peers.town[J].tolist(), peers.county[J].tolist(),
        np.repeat(nc.targets, n).tolist(), fcol,
        scores[which, I].tolist(), scores[which, J].tolist(),
        [d for _, dist in chosen for d in dist], same_c.tolist(), same_ci.tolist()),
        J.tolist()))]
    ends = np.cumsum(n).tolist()
    return [made[e - m:e] for e, m in zip(ends, n.tolist())]


def _pick_ahead(peers: _Peers, ahead: dict[int, np.ndarray], *, n: int,
                county_weight: float, city_weight: float, block: int = 1 << 14
                ) -> dict[int, tuple[list, list]]:
    """The ``n`` nearest of the towns ``ahead`` of every town (:func:`_screen_ahead`) and
    their distances: profile distance × ``county_weight`` for the same county, else
    ``city_weight`` for the same city; ties by code."""
    towns = list(ahead)
    out: dict[int, tuple[list, list]] = {}
    for lo in range(0, len(towns), block):
        part = towns[lo:lo + block]
        J = np.concatenate([ahead[i] for i in part])
        I = np.repeat(np.array(part, dtype=np.int64), [len(ahead[i]) for i in part])
        dist = _distances(peers.prof, I, J)
        same_c, same_ci = peers.same(I, J)
        eff = dist * np.where(same_c, county_weight, np.where(same_ci, city_weight, 1.0))
        order = np.lexsort((peers.code_rank[J], eff, I))
        I, J, dist = I[order], J[order], dist[order]
        starts = np.flatnonzero(np.r_[True, I[1:] != I[:-1]])
        ends = np.r_[starts[1:], len(I)]
        for a, b in zip(starts.tolist(), np.minimum(ends, starts + n).tolist()):
            out[int(I[a])] = (J[a:b].tolist(), dist[a:b].tolist())
    return out


def _distances(m: np.ndarray, I: np.ndarray, J: np.ndarray) -> np.ndarray:
    """RMS difference of percentile profiles between towns ``I`` and ``J``, pair by pair,
    over indicators both have; ``inf`` when they share none (so such a town sorts last)."""
    if not m.shape[1]:
        return np.zeros(len(I))
    d = (m[J] - m[I]) ** 2
    n = np.sum(~np.isnan(d), axis=1)
    out = np.full(len(I), np.inf)
    ok = n > 0
    out[ok] = np.sqrt(np.nansum(d[ok], axis=1) / n[ok])
    return out


def _screen_ahead(nc: _Cols, peers: _Peers, focus_of, *, n: int, county_weight: float,
                  city_weight: float, block: int = 512) -> dict[int, np.ndarray]:
    """For every town, the towns of its category ahead of it on the focus score (column
    ``focus_of[category]``) that can be among its ``n`` nearest (weighted profile
    distance), found with matrix products.

    The squared distance over shared indicators is expanded into three products
    (Σa²·m_b + Σm_a·b² − 2Σa·b over present values) per block of towns; everything within
    ``tol`` (float32 products) of the ``n``-th smallest weighted distance is kept, and the
    exact distances of :func:`_distances` then rank the few kept (so the choice is the
    same as an exact scan of all towns ahead).
    """
    tol = 1e-3 * max(1.0, county_weight, city_weight)
    out: dict[int, np.ndarray] = {}
    for target, members in peers.members.items():
        score = nc(focus_of[target])
        s = score[members]
        keep = members[~np.isnan(s)]
        order = keep[np.argsort(-score[keep], kind="stable")]
        neg = -score[order]
        ahead = np.searchsorted(neg, neg, side="left")  # towns strictly ahead of each
        p = peers.prof[order]
        m = ~np.isnan(p)
        z = np.where(m, p, 0.0)
        mf = m.astype(np.float32)
        # s2 = left @ right.T in one product; float32 (the screen only needs ~1e-3)
        left = np.hstack([z * z, mf, -2 * z]).astype(np.float32)
        right = np.hstack([mf, z * z, z]).astype(np.float32)
        for lo in range(0, len(order), block):
            k = ahead[lo:lo + block]
            kmax = int(k.max()) if len(k) else 0
            if not kmax:
                continue
            rows = slice(lo, lo + block)
            s2 = left[rows] @ right[:kmax].T
            shared = mf[rows] @ mf[:kmax].T
            with np.errstate(all="ignore"):
                np.maximum(s2, 0, out=s2)
                s2 /= shared
                d = np.sqrt(s2, out=s2)
            d[shared == 0] = np.inf
            same_c, same_ci = peers.same(order[rows][:, None], order[:kmax][None, :])
            np.multiply(d, county_weight, out=d, where=same_c)
            np.multiply(d, city_weight, out=d, where=same_ci & ~same_c)
            # towns beyond a town's own ahead count are not its candidates
            mine = np.arange(kmax)[None, :] < k[:, None]
            d[~mine] = np.inf
            m = min(n, kmax)
            # the n-th smallest distance of each town (or its k-th, when fewer are ahead)
            kth = np.partition(d, np.arange(m), axis=1)[np.arange(len(k)),
                                                         np.clip(np.minimum(n, k) - 1, 0, m - 1)]
            keep = mine & (d <= (kth + np.float32(tol))[:, None])
            rr, cc = np.nonzero(keep)
            cut = np.searchsorted(rr, np.arange(len(k) + 1))
            for r, i in enumerate(order[rows].tolist()):
                if k[r]:
                    out[i] = order[cc[cut[r]:cut[r + 1]]]
    return out


def _dimension_stack(nc: _Cols, peers: _Peers, bench: np.ndarray, dim_labels) -> Stack:
    """Every town's dimension table: ``dimension, label_zh, label_en, this,
    category_median`` (of the town's category), ``benchmark`` (the score of its first
    benchmark, ``bench``: its row, -1 none) ``, pct`` (region percentile)."""
    dims, n = peers.score_dims, nc.n
    this = pd.DataFrame({d: nc(f"score_{d}") for d in dims}, index=range(n), columns=dims)
    has = bench >= 0
    first = this.to_numpy()[np.where(has, bench, 0)]
    by_target = this.groupby(pd.Series(nc.targets, dtype=object))  # None: in no group
    tables = {"this": this, "category_median": by_target.transform("median"),
              "benchmark": np.where(has[:, None], first, np.nan), "pct": _percentile(this)}
    labels = [dim_labels.get(d, (d, d)) for d in dims]
    out = {"dimension": np.tile(np.array(dims, dtype=object), n),
           "label_zh": np.tile(np.array([zh for zh, _ in labels], dtype=object), n),
           "label_en": np.tile(np.array([en for _, en in labels], dtype=object), n)}
    out.update({c: np.asarray(t, dtype=float).ravel() for c, t in tables.items()})
    return Stack(out, np.full(n, len(dims)))
