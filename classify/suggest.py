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
        items = [(r["id"], r) for r in indicators.to_dict("records")]
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


def _strengths(pos: pd.DataFrame, info, *, top: float, bottom: float, n_max: int,
               min_county: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    p = pos.dropna(subset=["pct"]).copy()
    # A flag shared by most towns says nothing about this town's position.
    p = p[p["indicator"].map(lambda i: info[i].unit not in ("是/否", "flag"))]
    county_ok = p["n_county"] >= min_county
    reg_top, cty_top = p["pct"] >= top, county_ok & (p["pct_county"] >= top)
    reg_bot, cty_bot = p["pct"] <= bottom, county_ok & (p["pct_county"] <= bottom)
    s = p[reg_top | cty_top].copy()
    s["scope"] = np.where(reg_top[s.index] & cty_top[s.index], "both",
                          np.where(reg_top[s.index], "region", "county"))
    s["key"] = np.fmax(s["pct"], s["pct_county"].where(county_ok[s.index]))
    w = p[reg_bot | cty_bot].copy()
    w["scope"] = np.where(reg_bot[w.index] & cty_bot[w.index], "both",
                          np.where(reg_bot[w.index], "region", "county"))
    w["key"] = -np.fmin(w["pct"], w["pct_county"].where(county_ok[w.index]))
    out = []
    for t in (s, w):
        t = t.sort_values(["key", "indicator"], ascending=[False, True]).head(n_max)
        t = t.drop(columns=["key", "town_code"]).reset_index(drop=True)
        _add_meta(t, info)
        out.append(t)
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
    m = np.column_stack([_percentile(pd.to_numeric(frame[c], errors="coerce")
                                     .astype(float) * info[c].direction).to_numpy() / 100
                         for c in cols])
    return m


def _distance(m: np.ndarray, i: int) -> np.ndarray:
    """RMS difference of percentile profiles, over indicators both towns have."""
    d = (m - m[i]) ** 2
    with np.errstate(invalid="ignore"):
        return np.sqrt(np.nanmean(d, axis=1)) if m.shape[1] else np.zeros(len(m))


def _gap_table(frame, i: int, j: int, info, focus: str, n_rows: int) -> pd.DataFrame:
    dim = focus.removeprefix("score_")
    cols = [c for c in info if c in frame.columns]
    this = pd.to_numeric(frame.loc[frame.index[i], cols], errors="coerce").astype(float)
    other = pd.to_numeric(frame.loc[frame.index[j], cols], errors="coerce").astype(float)
    t = pd.DataFrame({"indicator": cols, "this": this.to_numpy(), "other": other.to_numpy()})
    t["diff"] = t["other"] - t["this"]
    with np.errstate(divide="ignore", invalid="ignore"):
        t["diff_pct"] = np.where(t["this"].abs() > 0, t["diff"] / t["this"].abs() * 100, np.nan)
    t["in_focus"] = [info[c].dimension == dim for c in cols]
    # focus-dimension indicators first, then the largest relative differences
    t["order"] = t["diff_pct"].abs().fillna(np.inf if False else -1)
    t = t.sort_values(["in_focus", "order", "indicator"], ascending=[False, False, True])
    t = t.head(max(n_rows, int(t["in_focus"].sum()))).drop(columns=["order"])
    t = t.reset_index(drop=True)
    _add_meta(t, info)
    return t


def _benchmarks(frame, i: int, target, focus: str, info, prof, *, n: int, n_rows: int,
                county_weight: float, city_weight: float):
    if target is None:
        return [], [], False
    targets = frame["_target"]
    same = np.flatnonzero((targets == target).to_numpy())
    score = pd.to_numeric(frame[focus], errors="coerce").astype(float).to_numpy()
    mine = score[i]
    dist = _distance(prof, i)
    cc = frame.get("county_code", pd.Series([""] * len(frame))).astype("string").fillna("")
    ci = frame.get("city_code", pd.Series([""] * len(frame))).astype("string").fillna("")
    same_c = (cc == cc.iloc[i]).to_numpy() & (cc != "").to_numpy()
    same_ci = (ci == ci.iloc[i]).to_numpy() & (ci != "").to_numpy()
    # Same county counts as closer, then same city: distance × weight.
    weight = np.where(same_c, county_weight, np.where(same_ci, city_weight, 1.0))
    eff = dist * weight

    def make(j):
        return Benchmark(
            town_code=str(frame["town_code"].iloc[j]), town=str(frame["town"].iloc[j]),
            county=str(frame["county"].iloc[j]) if "county" in frame.columns else "",
            target=target, focus=focus, focus_this=float(mine), focus_other=float(score[j]),
            distance=float(dist[j]), same_county=bool(same_c[j]), same_city=bool(same_ci[j]),
            gaps=_gap_table(frame, i, j, info, focus, n_rows))

    if math.isnan(mine):
        return [], [], False
    ahead = [j for j in same if j != i and score[j] > mine]
    if ahead:
        ahead.sort(key=lambda j: (eff[j], str(frame["town_code"].iloc[j])))
        return [make(j) for j in ahead[:n]], [], False
    if i not in same:  # the town is not in the category it is compared with
        return [], [], False
    # The leader of its category: the nearest challengers by score.
    rest = [j for j in same if j != i and not math.isnan(score[j])]
    rest.sort(key=lambda j: (mine - score[j], str(frame["town_code"].iloc[j])))
    return [], [make(j) for j in rest[:n]], True


def _dimension_table(frame, i, target, bench, dim_labels) -> pd.DataFrame:
    dims = [c.removeprefix("score_") for c in frame.columns if c.startswith("score_")]
    same = frame[frame["_target"] == target] if target else frame.iloc[0:0]
    rows = []
    for d in dims:
        col = f"score_{d}"
        v = pd.to_numeric(frame[col], errors="coerce").astype(float)
        zh, en = dim_labels.get(d, (d, d))
        rows.append({
            "dimension": d, "label_zh": zh, "label_en": en,
            "this": float(v.iloc[i]),
            "category_median": float(pd.to_numeric(same[col], errors="coerce").median())
            if len(same) else np.nan,
            "benchmark": float(v.iloc[bench]) if bench is not None else np.nan,
            "pct": float(_percentile(v).iloc[i]) if not math.isnan(v.iloc[i]) else np.nan,
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


def _needed_field(frame, i, fld, scale, op, threshold, county_col="county_code"):
    """The value of ``fld`` the town needs for the rule to pass, with the other towns
    held at their values; ``None`` when the rule cannot be met by raising the field."""
    if op not in (">=", ">", "<=") or fld not in frame.columns:
        return None
    v = pd.to_numeric(frame[fld], errors="coerce").astype(float)
    if scale == "value":
        return float(threshold) if op in (">=", ">") else None
    mask = np.ones(len(frame), dtype=bool)
    if scale in ("percentile_county", "rank_county"):
        if county_col not in frame.columns:
            return None
        c = frame[county_col].astype("string")
        mask = (c == c.iloc[i]).fillna(False).to_numpy()
    others = v[mask].drop(index=frame.index[i], errors="ignore").dropna()
    others = np.sort(others.to_numpy())
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


def _empirical_lever(frame, i, fld, needed_field, ind, info):
    """Indicator value at the same position among the other towns as ``needed_field``
    holds on ``fld`` (the empirical percentile of the indicator itself)."""
    f = pd.to_numeric(frame[fld], errors="coerce").astype(float).drop(index=frame.index[i])
    f = f.dropna()
    if not len(f):
        return None
    q = float((f <= needed_field).mean())
    x = pd.to_numeric(frame[ind], errors="coerce").astype(float) * info.direction
    others = np.sort(x.drop(index=frame.index[i]).dropna().to_numpy())
    if not len(others):
        return None
    k = min(len(others), max(1, math.ceil(q * len(others) - 1e-9)))
    return float(others[k - 1]) * info.direction


def _model_field(model, row: pd.DataFrame, fld: str) -> float:
    out = model.transform(row)
    if isinstance(out, pd.DataFrame):
        return float(out[fld].iloc[0])
    names = list(model.get_feature_names_out())
    return float(np.asarray(out)[0, names.index(fld)])


def _model_lever(model, frame, i, fld, needed_field, ind, info, cols):
    """Smallest change of ``ind`` (others fixed) whose model score exceeds ``needed_field``,
    by bisection; ``None`` when even 10× the regional best does not reach it."""
    row = frame.iloc[[i]][cols].copy()
    cur = float(row[ind].iloc[0])
    col = pd.to_numeric(frame[ind], errors="coerce").astype(float)
    if info.direction > 0:
        lo, hi = cur, max(cur, float(col.max())) * 10 + 1
    else:
        lo, hi = cur, min(cur, float(col.min()), 0.0)

    def ok(x):
        r = row.copy()
        r[ind] = x
        return _model_field(model, r, fld) > needed_field

    if not ok(hi):
        return None
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return float(hi)


def _levers(frame, i, fld, needed_field, info, numer, model, n_levers, cols):
    """Translate "``fld`` needs ``needed_field``" into indicator values."""
    cur_field = float(pd.to_numeric(frame[fld], errors="coerce").iloc[i])
    if fld in numer and numer[fld] in frame.columns and fld not in frame.columns[:0]:
        ind = numer[fld]
        cur = float(pd.to_numeric(frame[ind], errors="coerce").iloc[i])
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
             and c not in numer]
    out = []
    for ind in cands:
        cur = float(pd.to_numeric(frame[ind], errors="coerce").iloc[i])
        if math.isnan(cur) or info[ind].unit in ("是/否", "flag"):
            continue
        if model is not None:
            need, method = _model_lever(model, frame, i, fld, needed_field, ind, info[ind],
                                        cols), "model"
        else:
            need, method = _empirical_lever(frame, i, fld, needed_field, ind, info[ind]), \
                "empirical"
        if need is None or (need - cur) * info[ind].direction <= 0:
            continue
        x = pd.to_numeric(frame[ind], errors="coerce").astype(float) * info[ind].direction
        jump = float((x < need * info[ind].direction).mean() - (x < cur * info[ind].direction)
                     .mean())
        out.append((jump, ind, cur, need, method))
    out.sort(key=lambda t: (t[0], t[1]))
    return [(ind, cur, need, method) for _, ind, cur, need, method in out[:n_levers]]


_GAP_COLS = ["target", "relation", "rule_id", "field", "scale", "op", "threshold", "value",
             "margin", "norm_margin", "needed_field", "indicator", "current", "needed",
             "change", "change_pct", "method", "text_zh", "text_en"]


def _category_gaps(frame, i, rows: pd.DataFrame, relations: dict[str, str], scales, info,
                   numer, model, n_levers) -> pd.DataFrame:
    cols = [c for c in info if c in frame.columns]
    out = []
    for target, relation in relations.items():
        fails = rows[(rows["target"].astype(str) == target) & ~rows["passed"].astype(bool)]
        for r in fails.sort_values("rule_id").to_dict("records"):
            scale = r.get("scale") if isinstance(r.get("scale"), str) else \
                scales.get((target, r["rule_id"]), "value")
            base = {k: r.get(k) for k in ("rule_id", "field", "op", "threshold", "value",
                                           "margin", "norm_margin", "text_zh", "text_en")}
            base.update(target=target, relation=relation, scale=scale)
            try:
                thr = float(r["threshold"])
            except (TypeError, ValueError):
                thr = None
            need_f = None if thr is None else _needed_field(frame, i, r["field"], scale,
                                                            r["op"], thr)
            base["needed_field"] = np.nan if need_f is None else need_f
            levers = [] if need_f is None else _levers(frame, i, r["field"], need_f, info,
                                                       numer, model, n_levers, cols)
            if not levers:
                out.append(base)
            for ind, cur, need, method in levers:
                ch = need - cur
                out.append(dict(base, indicator=ind, current=cur, needed=need, change=ch,
                                change_pct=ch / abs(cur) * 100 if cur else np.nan,
                                method=method))
    t = pd.DataFrame(out, columns=_GAP_COLS)
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
    if target and declared_target.split("/")[0] == target.split("/")[0]:
        return "partly supported"
    if len(r) and bool(r["passed"].astype(bool).any()):
        return "partly supported"
    return "not supported"


def _missing_table(frame, i, info, missing_log, rows) -> pd.DataFrame:
    code = str(frame["town_code"].iloc[i])
    notes: dict[str, str] = {}
    for ind in info:
        if ind in frame.columns and pd.isna(frame[ind].iloc[i]):
            notes[ind] = "missing"
    if missing_log is not None and len(missing_log):
        log = missing_log[missing_log["town_code"].astype(str) == code]
        status_col = next((c for c in ("status", "action", "method", "treatment")
                           if c in log.columns), None)
        for rec in log.to_dict("records"):
            ind = str(rec.get("indicator", ""))
            if not ind or ind in notes:
                continue
            st = str(rec.get(status_col, "")) if status_col else ""
            notes[ind] = "imputed" if ("imput" in st.lower() or "插补" in st) else "missing"
    used = rows.groupby("field")["target"].agg(lambda s: ";".join(sorted(set(map(str, s))))) \
        if len(rows) else pd.Series(dtype=object)
    recs = []
    for ind, status in sorted(notes.items()):
        meta = info.get(ind)
        dim = meta.dimension if meta else ""
        affects = ";".join(sorted({used.get(f"score_{dim}", ""), used.get(ind, ""),
                                   used.get("composite", "")} - {""}))
        recs.append({"indicator": ind, "status": status, "dimension": dim,
                     "affects": affects})
    t = pd.DataFrame(recs, columns=["indicator", "status", "dimension", "affects"])
    _add_meta(t, info)
    return t


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


def suggest(frame: pd.DataFrame, trace: pd.DataFrame, system=None, taxonomy=None, *,
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
    trace : DataFrame
        The rule trace (``rules.csv`` schema), one row per town × target rule.
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
    """
    if lang not in ("zh", "en"):
        raise ConfigError(f"lang must be 'zh' or 'en', found {lang!r}", key="lang")
    _check_frame(frame, trace)
    info = indicator_table(indicators if indicators is not None else system)
    meta_src = indicators if indicators is not None else system
    labels = category_labels(categories if categories is not None else taxonomy)
    dim_labels = _dimension_labels(meta_src)
    numer = derived_numerators(meta_src)
    focus_map = dict(FOCUS_DIMENSION, **(focus or {}))
    frame = frame.reset_index(drop=True).copy()
    frame["town_code"] = frame["town_code"].astype(str)
    frame["_target"] = [_target_of(r) for r in frame.to_dict("records")]
    trace = trace.copy()
    trace["town_code"] = trace["town_code"].astype(str)
    scales = _rule_scales(trace, taxonomy)
    # roles (中心镇 …) are not categories a town can be short of
    allowed = set(taxonomy.targets()) if hasattr(taxonomy, "targets") else None
    pos = peer_positions(frame, {k: v for k, v in info.items() if k in frame.columns})
    prof = _profile_matrix(frame, {k: v for k, v in info.items() if k in frame.columns})
    by_town = dict(tuple(pos.groupby("town_code"))) if len(pos) else {}
    trace_by = dict(tuple(trace.groupby("town_code")))
    empty_trace = trace.iloc[0:0]
    comp = pd.to_numeric(frame.get("composite", pd.Series(np.nan, index=frame.index)),
                         errors="coerce")
    out = []
    for i, row in enumerate(frame.to_dict("records")):
        code = row["town_code"]
        target = row["_target"]
        fcol = _focus_column(target, frame, focus_map)
        strengths, weaknesses = _strengths(
            by_town.get(code, pos.iloc[0:0]), info, top=top, bottom=bottom, n_max=n_list,
            min_county=3)
        bench, chall, leader = _benchmarks(
            frame, i, target, fcol, info, prof, n=n_benchmarks, n_rows=n_gap_rows,
            county_weight=county_weight, city_weight=city_weight)
        first = (bench or chall or [None])[0]
        bidx = None if first is None else int(np.flatnonzero(
            frame["town_code"].to_numpy() == first.town_code)[0])
        rows = trace_by.get(code, empty_trace)
        declared = _str(row, "declared") or None
        declared_target = _resolve_declared(declared, taxonomy, labels)
        relations = _relations(rows, target, declared_target, _str(row, "runner_up") or None,
                               near_margin, allowed)
        gaps = _category_gaps(frame, i, rows, relations, scales, info, numer, model,
                              n_levers)
        status = _str(row, "declared_status") or _declared_status(rows, declared_target,
                                                                   target)
        dfail = rows[(rows["target"].astype(str) == (declared_target or "\0"))
                     & ~rows["passed"].astype(bool)].reset_index(drop=True)
        out.append(Suggestion(
            town_code=code, town=_str(row, "town"), county=_str(row, "county"),
            city=_str(row, "city"), target=target, category=_str(row, "category") or None,
            subtype=_str(row, "subtype") or None, labels=labels,
            secondary=_split(row.get("secondary")), roles=_split(row.get("roles")),
            confidence=_num(row, "stability"), runner_up=_str(row, "runner_up") or None,
            composite=_num(row, "composite"), rank=_num(row, "rank"),
            n_towns=int(comp.notna().sum()), focus=fcol, is_leader=leader,
            strengths=strengths, weaknesses=weaknesses, benchmarks=bench, challengers=chall,
            dimensions=_dimension_table(frame, i, target, bidx, dim_labels),
            category_gaps=gaps, declared=declared, declared_target=declared_target,
            declared_status=status, declared_failing=dfail,
            missing=_missing_table(frame, i, info, missing_log, rows), lang=lang,
            extra={"n_missing": _num(row, "n_missing"), "n_imputed": _num(row, "n_imputed"),
                   "review": row.get("review"), "review_reason": _str(row, "review_reason"),
                   "boundary_quality": _str(row, "boundary_quality"),
                   "top": top, "bottom": bottom,
                   "targets": sorted(set(rows["target"].astype(str)))}))
    return out


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
