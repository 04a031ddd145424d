"""Self-assessment evidence (自评分类意见) for every town.

:func:`suggest` turns the classified frame and the rule trace into one :class:`Suggestion`
per town: the suggested category with its confidence and runner-up, strengths and
weaknesses among the town's peers, benchmark towns (对标对象) with gap tables, the gap to
the suggested / declared / nearly reached categories in the indicators' own units, the
check of the declared category, and notes on missing or imputed data.  Everything here is
numbers and ids; wording lives in ``classify/templates`` and rendering in
:mod:`classify.sheets`.

Percentiles follow the taxonomy's convention: ``Series.rank(pct=True) * 100`` with ties
averaged (of five towns the best is P100, the worst P20), after turning "lower is better"
indicators around, so P100 is always the best.  Ranks are 1 = best, ties share the best
rank (``method="min"``).

The module depends on the scoring and taxonomy objects only through small adapters:
``indicators`` may be an ``IndicatorSystem`` or a mapping ``{id: {"label_zh", "label_en",
"unit", "dimension", "direction"}}``; ``categories`` a ``Taxonomy`` or a palette mapping
``{id: {"zh", "en", "color"}}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from classify.errors import ConfigError

__all__ = [
    "IndicatorInfo",
    "Benchmark",
    "Suggestion",
    "suggest",
    "suggestions_table",
    "records",
    "indicator_table",
    "category_labels",
    "peer_positions",
    "FOCUS_DIMENSION",
    "DERIVED_NUMERATOR",
]

# Which dimension a category is judged on (benchmarks must be ahead on it).
FOCUS_DIMENSION = {
    "strong": "strength",
    "specialised/industrial": "industry",
    "specialised/agricultural": "agriculture",
    "specialised/commercial": "commerce",
    "characteristic/tourism": "tourism",
    "characteristic/ecological": "ecology",
}
# Location quotients move with their numerator when the denominator is held fixed
# ("at the current structure"): needed numerator = current × threshold / current LQ.
DERIVED_NUMERATOR = {
    "lq_industry": "industrial_output",
    "lq_agriculture": "agri_output",
    "lq_commerce": "retail_sales",
    "lq_tourism": "tourism_revenue",
}
# Units counted in whole numbers: a needed value is rounded to the next whole one.
COUNT_UNITS = frozenset({"个", "家", "户", "所", "张", "项", "人"})
DIMENSION_LABELS = {
    "strength": ("综合实力", "strength"),
    "industry": ("工业", "industry"),
    "agriculture": ("农业", "agriculture"),
    "commerce": ("商贸", "commerce"),
    "tourism": ("文旅", "culture & tourism"),
    "ecology": ("生态", "ecology"),
    "centrality": ("中心性", "centrality"),
}
_KEYS = ("town_code", "town")


def records(df: pd.DataFrame) -> list[dict]:
    """``df.to_dict("records")`` without its per-row indexing cost (slow in pandas 3);
    missing values stay NaN / None as stored."""
    cols = list(df.columns)
    if not cols:
        return [{} for _ in range(len(df))]
    return [dict(zip(cols, row)) for row in df.to_numpy(dtype=object).tolist()]


# ---------------------------------------------------------------------------------------
# adapters
@dataclass(frozen=True)
class IndicatorInfo:
    """What a sheet needs to know about one indicator."""

    id: str
    label_zh: str
    label_en: str
    unit: str = ""
    dimension: str = ""
    direction: int = 1  # +1 higher is better, −1 lower is better

    def label(self, lang: str) -> str:
        return self.label_zh if lang == "zh" else self.label_en


def _get(obj, name, default=None):
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _direction(raw) -> int:
    if raw is None:
        return 1
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return -1 if raw < 0 else 1
    text = str(raw).strip().lower()
    if text in ("-", "−", "–", "lower", "low", "negative", "neg", "-1", "min"):
        return -1
    if text in ("+", "higher", "high", "positive", "pos", "1", "+1", "max", ""):
        return 1
    raise ConfigError(f"direction must be '+' or '-', found {raw!r}", key="direction")


def indicator_table(indicators) -> dict[str, IndicatorInfo]:
    """Normalise an ``IndicatorSystem``, a mapping or a DataFrame to ``{id: IndicatorInfo}``."""
    if indicators is None:
        return {}
    if isinstance(indicators, pd.DataFrame):
        items = [(r["id"], r) for r in records(indicators)]
    elif isinstance(indicators, Mapping):
        items = list(indicators.items())
    else:
        seq = _get(indicators, "indicators", indicators)
        if isinstance(seq, Mapping):
            items = list(seq.items())
        else:
            items = [(_get(i, "id"), i) for i in seq]
        derived = _get(indicators, "derived", None) or ()
        if isinstance(derived, Mapping):
            items += list(derived.items())
        else:
            items += [(_get(d, "id"), d) for d in derived]
    out = {}
    for iid, meta in items:
        if isinstance(meta, IndicatorInfo):
            out[iid] = meta
            continue
        zh = _get(meta, "label_zh") or _get(meta, "zh") or _get(meta, "header") or iid
        out[str(iid)] = IndicatorInfo(
            id=str(iid), label_zh=str(zh),
            label_en=str(_get(meta, "label_en") or _get(meta, "en") or iid),
            unit=str(_get(meta, "unit") or ""),
            dimension=str(_get(meta, "dimension") or ""),
            direction=_direction(_get(meta, "direction")))
    return out


def category_labels(categories) -> dict[str, dict[str, str]]:
    """``{id: {"zh", "en", "color"}}`` from a ``Taxonomy`` (its palette) or a mapping."""
    if categories is None:
        return {}
    if hasattr(categories, "palette"):
        return {k: dict(v) for k, v in categories.palette().items()}
    return {str(k): dict(v) if isinstance(v, Mapping) else {"zh": str(v), "en": str(v)}
            for k, v in categories.items()}


def _dimension_labels(indicators_obj) -> dict[str, tuple[str, str]]:
    labels = dict(DIMENSION_LABELS)
    for d in (_get(indicators_obj, "dimensions", None) or ()) if indicators_obj is not None \
            and not isinstance(indicators_obj, (Mapping, pd.DataFrame)) else ():
        did = _get(d, "id")
        if did:
            labels[did] = (str(_get(d, "label_zh") or _get(d, "zh") or did),
                           str(_get(d, "label_en") or _get(d, "en") or did))
    return labels


# ---------------------------------------------------------------------------------------
# results
@dataclass
class Benchmark:
    """A benchmark town (or, for a category leader, a challenger) and the gaps to it.

    ``gaps`` columns: ``indicator, label_zh, label_en, unit, this, other, diff, diff_pct``
    with ``diff = other − this`` and ``diff_pct = diff / |this| × 100`` (NaN when ``this``
    is 0 or missing).
    """

    town_code: str
    town: str
    county: str
    target: str
    focus: str
    focus_this: float
    focus_other: float
    distance: float
    same_county: bool
    same_city: bool
    gaps: pd.DataFrame


@dataclass
class Suggestion:
    """The evidence for one town's self-assessment sheet (numbers and ids, no wording)."""

    town_code: str
    town: str
    county: str
    city: str
    target: str | None
    category: str | None
    subtype: str | None
    labels: dict[str, dict[str, str]]
    secondary: tuple[str, ...]
    roles: tuple[str, ...]
    confidence: float
    runner_up: str | None
    composite: float
    rank: float
    n_towns: int
    focus: str
    is_leader: bool
    strengths: pd.DataFrame
    weaknesses: pd.DataFrame
    benchmarks: list[Benchmark]
    challengers: list[Benchmark]
    dimensions: pd.DataFrame
    category_gaps: pd.DataFrame
    declared: str | None
    declared_target: str | None
    declared_status: str
    declared_failing: pd.DataFrame
    missing: pd.DataFrame
    lang: str = "zh"
    extra: dict[str, Any] = field(default_factory=dict)

    def label(self, target: str | None, lang: str | None = None) -> str:
        """Label of a target id in ``lang`` (the id itself when unknown)."""
        if not target:
            return ""
        entry = self.labels.get(target, {})
        return entry.get(lang or self.lang, target)


def _key_column(frame: pd.DataFrame, code: str, name: str) -> pd.Series:
    """The county (city) of each town: its code, else its name, else unknown ('')."""
    for col in (code, name):
        if col in frame.columns:
            return frame[col]
    return pd.Series([""] * len(frame), index=frame.index)


class _Cols:
    """Float arrays of frame columns, converted once (the per-town loops read them often)."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame
        self._cache: dict[str, np.ndarray] = {}
        self.n = len(frame)
        county = _key_column(frame, "county_code", "county")
        city = _key_column(frame, "city_code", "city")
        self.county = county.astype("string").fillna("").to_numpy(dtype=object)
        self.city = city.astype("string").fillna("").to_numpy(dtype=object)
        self.codes = frame["town_code"].astype(str).to_numpy(dtype=object)
        self.targets = frame["_target"].to_numpy(dtype=object) if "_target" in frame.columns \
            else np.full(len(frame), None, dtype=object)
        self._pct: dict[str, np.ndarray] = {}

    def pct(self, col: str) -> np.ndarray:
        """Region percentile (ties averaged, 100 = highest) of ``col``; NaN stays NaN."""
        if col not in self._pct:
            self._pct[col] = _percentile(pd.Series(self(col))).to_numpy(dtype=float)
        return self._pct[col]

    def __call__(self, col: str) -> np.ndarray:
        if col not in self._cache:
            self._cache[col] = pd.to_numeric(self.frame[col], errors="coerce") \
                .to_numpy(dtype=float, na_value=np.nan)
        return self._cache[col]

    def others(self, col: str, i: int, mask=None) -> np.ndarray:
        """Sorted non-missing values of ``col`` over the other towns (in ``mask``)."""
        v = self(col)
        keep = ~np.isnan(v)
        keep[i] = False
        if mask is not None:
            keep &= mask
        return np.sort(v[keep])


# ---------------------------------------------------------------------------------------
# peer positions
def _percentile(values: pd.Series) -> pd.Series:
    return values.rank(pct=True, method="average") * 100


def peer_positions(frame: pd.DataFrame, indicators: Mapping[str, IndicatorInfo],
                   *, county: str = "county_code") -> pd.DataFrame:
    """Rank and percentile of every town on every indicator, region-wide and in its county.

    Returns a long frame ``town_code, indicator, value, rank, n, pct, rank_county,
    n_county, pct_county`` (rank 1 = best after the indicator's direction; pct 100 = best).
    Towns with a missing value get no rank and are not counted in ``n``.
    """
    rows = []
    if county not in frame.columns and county == "county_code" and "county" in frame.columns:
        county = "county"  # no codes: county names group the towns as well
    has_county = county in frame.columns
    groups = frame[county].astype("string").fillna("") if has_county else None
    for iid, info in indicators.items():
        if iid not in frame.columns:
            continue
        v = pd.to_numeric(frame[iid], errors="coerce").astype(float)
        s = v * info.direction
        part = pd.DataFrame({"town_code": frame["town_code"].astype(str).to_numpy(),
                             "indicator": iid, "value": v.to_numpy()})
        part["rank"] = s.rank(ascending=False, method="min").to_numpy()
        part["n"] = int(s.notna().sum())
        part["pct"] = _percentile(s).to_numpy()
        if has_county:
            g = s.groupby(groups.to_numpy())
            part["rank_county"] = g.rank(ascending=False, method="min").to_numpy()
            part["n_county"] = g.transform("count").to_numpy()
            part["pct_county"] = g.rank(pct=True, method="average").to_numpy() * 100
        else:
            part["rank_county"] = np.nan
            part["n_county"] = 0
            part["pct_county"] = np.nan
        part.loc[v.isna().to_numpy(), ["rank", "pct", "rank_county", "pct_county"]] = np.nan
        rows.append(part)
    if not rows:
        return pd.DataFrame(columns=["town_code", "indicator", "value", "rank", "n", "pct",
                                     "rank_county", "n_county", "pct_county"])
    return pd.concat(rows, ignore_index=True)


_POS_COLS = ["indicator", "value", "rank", "n", "pct", "rank_county", "n_county",
             "pct_county", "scope", "label_zh", "label_en", "unit", "dimension"]


def _strengths(recs: list[dict], info, *, top: float, bottom: float, n_max: int,
               min_county: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Indicators in the top / bottom percentiles of the region or the county.

    ``recs`` are the town's rows of :func:`peer_positions`.  A county of fewer than
    ``min_county`` towns is too small to call anything a strength.  Flags are left out:
    a yes/no shared by many towns says little about the town's position.
    """
    best, worst = [], []
    for r in recs:
        if math.isnan(r["pct"]) or info[r["indicator"]].unit in ("是/否", "flag"):
            continue
        county_ok = r["n_county"] >= min_county and not math.isnan(r["pct_county"])
        pc = r["pct_county"] if county_ok else math.nan
        for hit_r, hit_c, sink, key in (
                (r["pct"] >= top, county_ok and pc >= top, best, np.fmax(r["pct"], pc)),
                (r["pct"] <= bottom, county_ok and pc <= bottom, worst,
                 -np.fmin(r["pct"], pc))):
            if hit_r or hit_c:
                scope = "both" if hit_r and hit_c else "region" if hit_r else "county"
                m = info[r["indicator"]]
                sink.append((-key, r["indicator"], dict(
                    r, scope=scope, label_zh=m.label_zh, label_en=m.label_en, unit=m.unit,
                    dimension=m.dimension)))
    out = []
    for sink in (best, worst):
        sink.sort(key=lambda x: (x[0], x[1]))
        out.append(pd.DataFrame([x[2] for x in sink[:n_max]], columns=_POS_COLS))
    return out[0], out[1]


def _add_meta(t: pd.DataFrame, info, col: str = "indicator") -> None:
    def get(i, attr, default):
        return getattr(info[i], attr) if isinstance(i, str) and i in info else default

    t["label_zh"] = [get(i, "label_zh", i) for i in t[col]]
    t["label_en"] = [get(i, "label_en", i) for i in t[col]]
    t["unit"] = [get(i, "unit", "") for i in t[col]]
    t["dimension"] = [get(i, "dimension", "") for i in t[col]]


# ---------------------------------------------------------------------------------------
# benchmarks
def _target_of(row) -> str | None:
    cat = row.get("category")
    if cat is None or (isinstance(cat, float) and math.isnan(cat)) or pd.isna(cat) or not cat:
        return None
    sub = row.get("subtype")
    if sub is None or pd.isna(sub) or not str(sub):
        return str(cat)
    return f"{cat}/{sub}"


def _focus_column(target: str | None, frame: pd.DataFrame, focus_map) -> str:
    dim = focus_map.get(target or "", None)
    col = f"score_{dim}" if dim else "composite"
    return col if col in frame.columns else "composite"


def _profile_matrix(frame: pd.DataFrame, info) -> np.ndarray:
    """Indicators as percentile ranks / 100 (robust to the skew of totals)."""
    cols = [i for i in info if i in frame.columns]
    if not cols:
        return np.zeros((len(frame), 0))
    nc = _Cols(frame)
    return np.column_stack([_percentile(pd.Series(nc(c) * info[c].direction)).to_numpy()
                            / 100 for c in cols])


def _distance(m: np.ndarray, i: int) -> np.ndarray:
    """RMS difference of percentile profiles, over indicators both towns have; ``inf``
    when they share none (so such a town sorts last, deterministically)."""
    if not m.shape[1]:
        return np.zeros(len(m))
    d = (m - m[i]) ** 2
    n = np.sum(~np.isnan(d), axis=1)
    out = np.full(len(m), np.inf)
    ok = n > 0
    out[ok] = np.sqrt(np.nansum(d[ok], axis=1) / n[ok])
    return out


_GAP_TABLE_COLS = ["indicator", "this", "other", "diff", "diff_pct", "in_focus", "label_zh",
                   "label_en", "unit", "dimension"]


def _gap_table(nc: _Cols, i: int, j: int, info, focus: str, n_rows: int) -> pd.DataFrame:
    """Indicators of the focus dimension first, then the largest relative differences."""
    dim = focus.removeprefix("score_")
    recs = []
    for c in info:
        if c not in nc.frame.columns:
            continue
        this, other = float(nc(c)[i]), float(nc(c)[j])
        diff = other - this
        pct = diff / abs(this) * 100 if this and not math.isnan(this) else math.nan
        m = info[c]
        recs.append((c, this, other, diff, pct, m.dimension == dim, m.label_zh, m.label_en,
                     m.unit, m.dimension))
    n_focus = sum(r[5] for r in recs)
    recs.sort(key=lambda r: (not r[5], -(abs(r[4]) if not math.isnan(r[4]) else -1), r[0]))
    return pd.DataFrame(recs[:max(n_rows, n_focus)], columns=_GAP_TABLE_COLS)


def _benchmarks(nc: _Cols, i: int, target, focus: str, info, prof, *, n: int, n_rows: int,
                county_weight: float, city_weight: float):
    if target is None:
        return [], [], False
    frame = nc.frame
    same = np.flatnonzero(nc.targets == target)
    score = nc(focus)
    mine = score[i]
    dist = _distance(prof, i)
    cc, ci = nc.county, nc.city
    same_c = (cc == cc[i]) & (cc != "")
    same_ci = (ci == ci[i]) & (ci != "")
    # Same county counts as closer, then same city: distance × weight.
    weight = np.where(same_c, county_weight, np.where(same_ci, city_weight, 1.0))
    eff = dist * weight

    def make(j):
        return Benchmark(
            town_code=str(frame["town_code"].iloc[j]), town=str(frame["town"].iloc[j]),
            county=str(frame["county"].iloc[j]) if "county" in frame.columns else "",
            target=target, focus=focus, focus_this=float(mine), focus_other=float(score[j]),
            distance=float(dist[j]), same_county=bool(same_c[j]), same_city=bool(same_ci[j]),
            gaps=_gap_table(nc, i, j, info, focus, n_rows))

    if math.isnan(mine):
        return [], [], False
    ahead = [j for j in same if j != i and score[j] > mine]
    if ahead:
        ahead.sort(key=lambda j: (eff[j], nc.codes[j]))
        return [make(j) for j in ahead[:n]], [], False
    if i not in same:  # the town is not in the category it is compared with
        return [], [], False
    # The leader of its category: the nearest challengers by score.
    rest = [j for j in same if j != i and not math.isnan(score[j])]
    rest.sort(key=lambda j: (mine - score[j], nc.codes[j]))
    return [], [make(j) for j in rest[:n]], True


def _dimension_table(nc: _Cols, i, target, bench, dim_labels) -> pd.DataFrame:
    dims = [c.removeprefix("score_") for c in nc.frame.columns if c.startswith("score_")]
    same = (nc.targets == target) if target else np.zeros(nc.n, dtype=bool)
    rows = []
    for d in dims:
        v = nc(f"score_{d}")
        zh, en = dim_labels.get(d, (d, d))
        peers = v[same & ~np.isnan(v)]
        rows.append({
            "dimension": d, "label_zh": zh, "label_en": en, "this": float(v[i]),
            "category_median": float(np.median(peers)) if len(peers) else np.nan,
            "benchmark": float(v[bench]) if bench is not None else np.nan,
            "pct": float(nc.pct(f"score_{d}")[i]),
        })
    return pd.DataFrame(rows, columns=["dimension", "label_zh", "label_en", "this",
                                       "category_median", "benchmark", "pct"])


# ---------------------------------------------------------------------------------------
# gap to a category
def derived_numerators(indicators) -> dict[str, str]:
    """``{derived id: numerator id}`` for derived indicators linear in their numerator
    (location quotients, ratios, shares, per-capita values) — from an ``IndicatorSystem``'s
    ``derived`` entries, else the defaults in :data:`DERIVED_NUMERATOR`."""
    out = dict(DERIVED_NUMERATOR)
    derived = _get(indicators, "derived", None) if indicators is not None \
        and not isinstance(indicators, (Mapping, pd.DataFrame)) else None
    for d in derived or ():
        if _get(d, "kind") in ("lq", "ratio", "share", "per_capita", "per_area"):
            out[str(_get(d, "id"))] = str(_get(d, "numerator"))
    return out


def _rule_scales(trace: pd.DataFrame, taxonomy) -> dict[tuple[str, str], str]:
    scales: dict[tuple[str, str], str] = {}
    if taxonomy is not None and hasattr(taxonomy, "target_rules"):
        for target in set(trace["target"].astype(str)):
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
    mask = None
    if scale in ("percentile_county", "rank_county"):
        mask = (nc.county == nc.county[i]) & (nc.county != "")
    others = nc.others(fld, i, mask)
    n = len(others) + 1
    if scale.startswith("percentile") and op in (">=", ">"):
        # P = (k + 1) / n × 100 when the town is strictly above k others (no ties)
        k = max(0, math.ceil(float(threshold) * n / 100 - 1 - 1e-9))
        if k == 0:
            return None
        return float(others[k - 1])
    if scale == "rank_county" and op == "<=":
        r = int(threshold)
        if r > len(others):
            return None
        return float(others[::-1][r - 1])
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


def _model_field(model, rows: pd.DataFrame, fld: str) -> np.ndarray:
    out = model.transform(rows)
    if isinstance(out, pd.DataFrame):
        return out[fld].to_numpy(dtype=float)
    names = list(model.get_feature_names_out())
    return np.asarray(out, dtype=float)[:, names.index(fld)]


def _model_levers(model, nc: _Cols, i, fld, needed_field, cands, info, cols, numer
                  ) -> dict[str, float | None]:
    """For each indicator in ``cands``: the smallest change (others held fixed; derived
    indicators with it as numerator move with it) whose model score exceeds
    ``needed_field``; ``None`` when even 10× the regional best does not reach it.

    Searched on nested 33-point grids, all candidates in one batched ``transform`` per
    round (4 rounds: the bracket shrinks to 1/32⁴ of the search range).
    """
    base = np.array([nc(c)[i] for c in cols], dtype=float)
    where = {c: k for k, c in enumerate(cols)}
    state: dict[str, list] = {}
    for ind in cands:
        cur, col = float(nc(ind)[i]), nc(ind)
        if info[ind].direction > 0:
            # a share cannot pass 100 %; other totals are searched up to 10× the best
            top = 100.0 if info[ind].unit == "%" else max(cur, float(np.nanmax(col))) * 10 + 1
            state[ind] = [cur, max(cur, top)]
        else:
            state[ind] = [cur, min(cur, float(np.nanmin(col)), 0.0)]
    result: dict[str, float | None] = {}
    for rnd in range(4):
        active = [ind for ind in cands if ind not in result]
        if not active:
            break
        grids = {}
        mat = np.tile(base, (33 * len(active), 1))
        for k, ind in enumerate(active):
            xs = np.linspace(*state[ind], 33)
            grids[ind] = xs
            block = mat[k * 33:(k + 1) * 33]
            block[:, where[ind]] = xs
            cur = base[where[ind]]
            for d, n in numer.items():
                if n == ind and d in where and cur:
                    block[:, where[d]] = base[where[d]] * xs / cur
        with np.errstate(all="ignore"):
            scores = _model_field(model, pd.DataFrame(mat, columns=cols), fld)
        for k, ind in enumerate(active):
            ok = scores[k * 33:(k + 1) * 33] > needed_field
            xs = grids[ind]
            if not ok.any():
                result[ind] = None
                continue
            j = int(np.argmax(ok))
            if j == 0:
                result[ind] = float(xs[0]) if rnd else None
                continue
            state[ind] = [float(xs[j - 1]), float(xs[j])]
    for ind in cands:
        result.setdefault(ind, state[ind][1])
    return result


def _levers(nc: _Cols, i, fld, needed_field, info, numer, model, n_levers, cols):
    """Translate "``fld`` needs ``needed_field``" into indicator values."""
    cur_field = float(nc(fld)[i])
    if fld in numer and numer[fld] in nc.frame.columns:
        ind = numer[fld]
        cur = float(nc(ind)[i])
        if cur_field > 0 and not math.isnan(cur):
            return [(ind, cur, cur * needed_field / cur_field, "structure")]
        return [(ind, cur, math.nan, "structure")]
    if fld in info and not fld.startswith("score_"):
        return [(fld, cur_field, needed_field, "direct")]
    if not (fld.startswith("score_") or fld == "composite"):
        return []
    dim = fld.removeprefix("score_")
    # base indicators only: a derived one (LQ, per capita) is not something to raise itself
    cands = [c for c in cols if (info[c].dimension == dim or fld == "composite")
             and c not in numer and not math.isnan(nc(c)[i])
             and info[c].unit not in ("是/否", "flag")]
    method = "empirical"
    needs: dict[str, float | None] = {}
    if model is not None and cands:
        try:
            needs, method = _model_levers(model, nc, i, fld, needed_field, cands, info, cols,
                                          numer), "model"
        except (KeyError, ValueError):  # the model does not produce this field
            needs, method = {}, "empirical"
    if method == "empirical":
        needs = {ind: _empirical_lever(nc, i, fld, needed_field, ind, info[ind])
                 for ind in cands}
    out = []
    for ind in cands:
        cur, need = float(nc(ind)[i]), needs.get(ind)
        if need is None or (need - cur) * info[ind].direction <= 0:
            continue
        if info[ind].unit in COUNT_UNITS:  # 0.37 of a scenic spot is not a target
            need = float(math.ceil(need - 1e-9) if info[ind].direction > 0
                         else math.floor(need + 1e-9))
        x = nc(ind)[~np.isnan(nc(ind))] * info[ind].direction
        jump = float((x < need * info[ind].direction).mean() - (x < cur * info[ind].direction)
                     .mean())
        out.append((jump, ind, cur, need, method))
    out.sort(key=lambda t: (t[0], t[1]))
    return [(ind, cur, need, method) for _, ind, cur, need, method in out[:n_levers]]


_GAP_COLS = ["target", "relation", "rule_id", "field", "scale", "op", "threshold", "value",
             "margin", "norm_margin", "needed_field", "indicator", "current", "needed",
             "change", "change_pct", "method", "text_zh", "text_en"]


def _category_gaps(nc: _Cols, i, rows: pd.DataFrame, relations: dict[str, str], scales,
                   info, numer, model, n_levers) -> pd.DataFrame:
    cols = [c for c in info if c in nc.frame.columns]
    out = []
    for target, relation in relations.items():
        fails = rows[(rows["target"].astype(str) == target) & ~rows["passed"].astype(bool)]
        for r in records(fails.sort_values("rule_id")):
            scale = r.get("scale") if isinstance(r.get("scale"), str) else \
                scales.get((target, r["rule_id"]), "value")
            base = {k: r.get(k) for k in ("rule_id", "field", "op", "threshold", "value",
                                           "margin", "norm_margin", "text_zh", "text_en")}
            base.update(target=target, relation=relation, scale=scale)
            try:
                thr = float(r["threshold"])
            except (TypeError, ValueError):
                thr = None
            need_f = None if thr is None else _needed_field(nc, i, r["field"], scale,
                                                            r["op"], thr)
            base["needed_field"] = np.nan if need_f is None else need_f
            levers = [] if need_f is None else _levers(nc, i, r["field"], need_f, info,
                                                       numer, model, n_levers, cols)
            if not levers:
                out.append(base)
            for ind, cur, need, method in levers:
                ch = need - cur
                out.append(dict(base, indicator=ind, current=cur, needed=need, change=ch,
                                change_pct=ch / abs(cur) * 100 if cur else np.nan,
                                method=method))
    t = pd.DataFrame(out, columns=_GAP_COLS)
    for c in ("threshold", "value", "margin", "norm_margin", "needed_field", "current",
              "needed", "change", "change_pct"):
        t[c] = pd.to_numeric(t[c], errors="coerce").astype(float)
    _add_meta(t, info)
    return t


# ---------------------------------------------------------------------------------------
# declared category and data notes
def _resolve_declared(text, taxonomy, labels) -> str | None:
    if text is None or (isinstance(text, float) and math.isnan(text)) or pd.isna(text):
        return None
    text = str(text).strip()
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


def _declared_status(rows, declared_target, target) -> str:
    if declared_target is None:
        return ""
    r = rows[rows["target"].astype(str) == declared_target]
    if declared_target == target or (len(r) and bool(r["passed"].astype(bool).all())):
        return "supported"
    if not len(r):  # no rule of the declared target was evaluated: no verdict
        return ""
    if target and declared_target.split("/")[0] == target.split("/")[0]:
        return "partly supported"
    if len(r) and bool(r["passed"].astype(bool).any()):
        return "partly supported"
    return "not supported"


_MISSING_COLS = ["indicator", "status", "detail", "dimension", "affects", "label_zh",
                 "label_en", "unit"]


def _missing_table(nc: _Cols, i, info, log: list[dict], rows, n_imputed: float
                   ) -> pd.DataFrame:
    """Indicators this town lacks: ``missing`` (left out of its scores) or ``imputed``
    (filled by the scoring step — when it imputed as many values as the town lacks),
    with the targets whose rules read a field they feed."""
    lacking = [ind for ind in info if ind in nc.frame.columns and math.isnan(nc(ind)[i])]
    imputed = not math.isnan(n_imputed) and n_imputed > 0 and n_imputed >= len(
        [x for x in lacking if info[x].dimension])
    notes = {ind: ("imputed" if imputed and info[ind].dimension else "missing", "")
             for ind in lacking}
    for rec in log:
        ind = str(rec.get("indicator", "") or "")
        st = str(rec.get("status", rec.get("action", "")) or "")
        if ind and ("imput" in st.lower() or "插补" in st):
            notes[ind] = ("imputed", str(rec.get("detail", "") or ""))
        elif ind and ind not in notes and ind in info:
            notes[ind] = ("missing", str(rec.get("detail", "") or ""))
        elif ind in notes and not notes[ind][1]:
            notes[ind] = (notes[ind][0], str(rec.get("detail", "") or ""))
    used: dict[str, set] = {}
    for f, tg in zip(rows["field"].astype(str), rows["target"].astype(str)):
        used.setdefault(f, set()).add(tg)
    recs = []
    for ind, (status, detail) in sorted(notes.items()):
        m = info.get(ind) or IndicatorInfo(ind, ind, ind)
        aff = used.get(f"score_{m.dimension}", set()) | used.get(ind, set()) | (
            used.get("composite", set()) if m.dimension else set())
        recs.append((ind, status, detail, m.dimension, ";".join(sorted(aff)), m.label_zh,
                     m.label_en, m.unit))
    return pd.DataFrame(recs, columns=_MISSING_COLS)


# ---------------------------------------------------------------------------------------
# the public step
def _split(val) -> tuple[str, ...]:
    if val is None or (isinstance(val, float) and math.isnan(val)) or pd.isna(val):
        return ()
    return tuple(s for s in str(val).split(";") if s)


def _num(row, key) -> float:
    v = row.get(key)
    try:
        return float(v) if v is not None and not pd.isna(v) else math.nan
    except (TypeError, ValueError):
        return math.nan


def _str(row, key) -> str:
    v = row.get(key)
    return "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)


def _check_frame(frame: pd.DataFrame, trace: pd.DataFrame) -> None:
    for name, df, need in (("frame", frame, _KEYS), ("trace", trace,
                                                      ("town_code", "target", "rule_id",
                                                       "field", "passed"))):
        missing = [c for c in need if c not in df.columns]
        if missing:
            raise ConfigError(f"the {name} passed to suggest() lacks columns {missing}; "
                              f"it has {list(df.columns)[:12]} (see docs/DESIGN.md, "
                              f"'The frame that flows' / 'Rule trace')", key=name)


def suggest(frame: pd.DataFrame, trace: pd.DataFrame | None, system=None, taxonomy=None, *,
            indicators=None, categories=None, lang: str = "zh", n_benchmarks: int = 3,
            model=None, missing_log: pd.DataFrame | None = None, focus: Mapping | None = None,
            top: float = 80.0, bottom: float = 20.0, n_list: int = 5, n_gap_rows: int = 8,
            n_levers: int = 2, near_margin: float = 0.15, county_weight: float = 0.8,
            city_weight: float = 0.9) -> list[Suggestion]:
    """Build the self-assessment evidence for every town.

    Parameters
    ----------
    frame : DataFrame
        The classified frame (docs/DESIGN.md "The frame that flows"): key columns,
        indicators under their ids, ``score_<dim>``, ``composite``, ``rank``, ``category``,
        ``subtype``, ``secondary``, ``runner_up``, ``stability``, ``declared`` … Columns
        that are absent are simply not reported.
    trace : DataFrame or None
        The rule trace (``rules.csv`` schema), one row per town × target rule; ``None``
        when no rules were evaluated (the sheets then explain no gaps).
    system, indicators : IndicatorSystem or mapping
        Indicator metadata (``{id: {"label_zh", "label_en", "unit", "dimension",
        "direction"}}``); ``indicators`` wins when both are given.
    taxonomy, categories : Taxonomy or palette mapping
        Category labels (and, from a Taxonomy, the rule scales and the declared-text
        aliases); ``categories`` wins for labels when both are given.
    lang : {"zh", "en"}
        Default language of the sheets rendered from these suggestions.
    n_benchmarks : int
        Benchmark towns (or challengers, for a category leader) per town.
    model : fitted scorer, optional
        ``ScoreResult.model``: ``transform(indicator rows) -> score_<dim> columns``.  When
        given, gaps on scores are translated into indicator values by re-scoring; without
        it, by the empirical percentile of the indicator itself (``method`` says which).
    missing_log : DataFrame, optional
        ``town_code, indicator, status|action`` from ``build_indicators``: imputed values.
    focus : mapping, optional
        Target id → dimension judged for benchmarks (default :data:`FOCUS_DIMENSION`).
    top, bottom : float
        Percentile cut-offs for strengths (≥ top) and weaknesses (≤ bottom).
    county_weight, city_weight : float
        Distance multipliers that make same-county / same-city towns preferred benchmarks.

    Returns
    -------
    list of Suggestion, in the order of ``frame``.

    Examples
    --------
    >>> sugs = suggest(frame, trace, load_system(), load_taxonomy("guangdong"),
    ...                model=scored.model)                               # doctest: +SKIP
    >>> sugs[0].benchmarks[0].gaps[["label_zh", "this", "other", "diff"]]   # doctest: +SKIP
    >>> from classify.sheets import write_suggestions
    >>> write_suggestions(sugs, "out", docx=True)                        # doctest: +SKIP
    """
    if lang not in ("zh", "en"):
        raise ConfigError(f"lang must be 'zh' or 'en', found {lang!r}", key="lang")
    if trace is None:  # no rules evaluated: no gaps to explain
        trace = pd.DataFrame(columns=["town_code", "town", "target", "rule_id", "field",
                                      "op", "threshold", "value", "margin", "norm_margin",
                                      "passed", "target_passed", "text_zh", "text_en"])
    _check_frame(frame, trace)
    info = indicator_table(indicators if indicators is not None else system)
    meta_src = indicators if indicators is not None else system
    frame = frame.reset_index(drop=True).copy()
    frame["town_code"] = frame["town_code"].astype(str)
    # object dtype: a str column would turn "no category" (None) into NaN
    frame["_target"] = pd.Series([_target_of(r) for r in records(frame)], dtype=object)
    trace = trace.copy()
    trace["town_code"] = trace["town_code"].astype(str)
    present = {k: v for k, v in info.items() if k in frame.columns}
    ctx = _Context(
        info=info, taxonomy=taxonomy, model=model, lang=lang,
        labels=category_labels(categories if categories is not None else taxonomy),
        dim_labels=_dimension_labels(meta_src), numer=derived_numerators(meta_src),
        focus=dict(FOCUS_DIMENSION, **(focus or {})), scales=_rule_scales(trace, taxonomy),
        # roles (中心镇 …) are not categories a town can be short of
        allowed=set(taxonomy.targets()) if hasattr(taxonomy, "targets") else None,
        nc=_Cols(frame), prof=_profile_matrix(frame, present),
        positions=_group_records(peer_positions(frame, present)),
        trace_by=dict(tuple(trace.groupby("town_code"))), empty_trace=trace.iloc[0:0],
        log_by=_group_records(missing_log) if missing_log is not None
        and "town_code" in missing_log.columns else {},
        n_towns=int(np.isfinite(_Cols(frame)("composite")).sum())
        if "composite" in frame.columns else len(frame),
        field_labels=_field_labels(taxonomy, info, _dimension_labels(meta_src)),
        params=dict(n_benchmarks=n_benchmarks, top=top, bottom=bottom, n_list=n_list,
                    n_gap_rows=n_gap_rows, n_levers=n_levers, near_margin=near_margin,
                    county_weight=county_weight, city_weight=city_weight))
    return [_one_town(ctx, i, row) for i, row in enumerate(records(frame))]


def _field_labels(taxonomy, info, dim_labels) -> dict[str, dict[str, str]]:
    """``{field: {"zh", "en"}}`` for rule fields: the taxonomy's table, else indicator
    labels and ``score_<dim>`` as the dimension's label."""
    out = {f"score_{d}": {"zh": f"{zh}得分", "en": f"{en} score"}
           for d, (zh, en) in dim_labels.items()}
    out["composite"] = {"zh": "综合得分", "en": "composite score"}
    out.update({k: {"zh": v.label_zh, "en": v.label_en} for k, v in info.items()})
    for k, v in (getattr(taxonomy, "fields", None) or {}).items():
        out[k] = {"zh": v.get("zh", k), "en": v.get("en", k)}
    return out


def _group_records(df: pd.DataFrame) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for rec in records(df):
        out.setdefault(str(rec["town_code"]), []).append(rec)
    return out


@dataclass
class _Context:
    """What every town's evidence is computed from (built once per :func:`suggest`)."""

    info: dict
    taxonomy: Any
    model: Any
    lang: str
    labels: dict
    dim_labels: dict
    numer: dict
    focus: dict
    scales: dict
    allowed: set | None
    nc: _Cols
    prof: np.ndarray
    positions: dict
    trace_by: dict
    empty_trace: pd.DataFrame
    log_by: dict
    n_towns: int
    params: dict
    field_labels: dict = field(default_factory=dict)


def _one_town(ctx: _Context, i: int, row: dict) -> Suggestion:
    p, nc, code = ctx.params, ctx.nc, row["town_code"]
    target = nc.targets[i]
    fcol = _focus_column(target, nc.frame, ctx.focus)
    strengths, weaknesses = _strengths(ctx.positions.get(code, []), ctx.info, top=p["top"],
                                       bottom=p["bottom"], n_max=p["n_list"], min_county=3)
    bench, chall, leader = _benchmarks(
        nc, i, target, fcol, ctx.info, ctx.prof, n=p["n_benchmarks"], n_rows=p["n_gap_rows"],
        county_weight=p["county_weight"], city_weight=p["city_weight"])
    first = (bench or chall or [None])[0]
    bidx = None if first is None else int(np.flatnonzero(nc.codes == first.town_code)[0])
    rows = ctx.trace_by.get(code, ctx.empty_trace)
    declared = _str(row, "declared") or None
    declared_target = _str(row, "declared_target") or _resolve_declared(
        declared, ctx.taxonomy, ctx.labels)
    relations = _relations(rows, target, declared_target, _str(row, "runner_up") or None,
                           p["near_margin"], ctx.allowed)
    status = _str(row, "declared_status") or _declared_status(rows, declared_target, target)
    dfail = rows[(rows["target"].astype(str) == (declared_target or "\0"))
                 & ~rows["passed"].astype(bool)].reset_index(drop=True)
    return Suggestion(
        town_code=code, town=_str(row, "town"), county=_str(row, "county"),
        city=_str(row, "city"), target=target, category=_str(row, "category") or None,
        subtype=_str(row, "subtype") or None, labels=ctx.labels,
        secondary=_split(row.get("secondary")), roles=_split(row.get("roles")),
        confidence=_num(row, "stability"), runner_up=_str(row, "runner_up") or None,
        composite=_num(row, "composite"), rank=_num(row, "rank"), n_towns=ctx.n_towns,
        focus=fcol, is_leader=leader, strengths=strengths, weaknesses=weaknesses,
        benchmarks=bench, challengers=chall,
        dimensions=_dimension_table(nc, i, target, bidx, ctx.dim_labels),
        category_gaps=_category_gaps(nc, i, rows, relations, ctx.scales, ctx.info, ctx.numer,
                                     ctx.model, p["n_levers"]),
        declared=declared, declared_target=declared_target, declared_status=status,
        declared_failing=dfail,
        missing=_missing_table(nc, i, ctx.info, ctx.log_by.get(code, []), rows,
                               _num(row, "n_imputed")),
        lang=ctx.lang,
        extra={"n_missing": _num(row, "n_missing"), "n_imputed": _num(row, "n_imputed"),
               "review": row.get("review"), "review_reason": _str(row, "review_reason"),
               "review_reason_en": _str(row, "review_reason_en"),
               "boundary_quality": _str(row, "boundary_quality"), "top": p["top"],
               "bottom": p["bottom"], "targets": sorted(set(rows["target"].astype(str))),
               "field_labels": ctx.field_labels})


def _relations(rows, target, declared_target, runner_up, near_margin,
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
    if len(rows):
        nm = pd.to_numeric(rows["norm_margin"], errors="coerce") if "norm_margin" in \
            rows.columns else pd.Series(np.nan, index=rows.index)
        failing = rows[~rows["passed"].astype(bool)].assign(nm=nm)
        for t, g in failing.groupby("target", sort=True):
            if allowed is not None and str(t) not in allowed:
                continue
            if str(t) not in rel and len(g) and bool((g["nm"] >= -near_margin).all()):
                rel[str(t)] = "near"
    return rel


def suggestions_table(suggestions: list[Suggestion]) -> pd.DataFrame:
    """One row per town with ids and numbers only (no wording), e.g. to join to the
    towns table in a notebook: ``town_code, target, confidence, runner_up, is_leader,
    benchmarks`` (``;``-joined codes: benchmarks, or challengers for a leader),
    ``strengths``, ``weaknesses`` (``;``-joined indicator ids), ``gap_targets``,
    ``declared_target, declared_status, missing`` (``;``-joined indicator ids)."""
    rows = []
    for s in suggestions:
        rows.append({
            "town_code": s.town_code, "town": s.town, "target": s.target or "",
            "confidence": s.confidence, "runner_up": s.runner_up or "",
            "is_leader": s.is_leader,
            "benchmarks": ";".join(b.town_code for b in (s.challengers if s.is_leader
                                                         else s.benchmarks)),
            "strengths": ";".join(s.strengths["indicator"]),
            "weaknesses": ";".join(s.weaknesses["indicator"]),
            "gap_targets": ";".join(dict.fromkeys(s.category_gaps["target"].astype(str))),
            "declared_target": s.declared_target or "", "declared_status": s.declared_status,
            "missing": ";".join(s.missing["indicator"]),
        })
    return pd.DataFrame(rows, columns=["town_code", "town", "target", "confidence",
                                       "runner_up", "is_leader", "benchmarks", "strengths",
                                       "weaknesses", "gap_targets", "declared_target",
                                       "declared_status", "missing"])
