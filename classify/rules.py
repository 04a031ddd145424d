"""The rule engine: every rule of a taxonomy evaluated for every town, with margins.

One vectorised core (:func:`evaluate`) works on arrays shaped ``(draws, n_towns)``: the
reported classification is the one-draw case, the Monte Carlo stability the many-draw case.
A rule's ``margin`` is signed so that ≥ 0 passes (``> 0`` for a strict op; ``==``:
−|value − threshold|; ``contains``: 0 or −1).  A target's strength is its weakest rule's
``norm_margin = margin ÷ spread`` (:class:`classify.taxonomy.Rule`); the primary target is
the strongest passing one (ties by ``priority``), else the fallback category (培育类).
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from itertools import compress
from typing import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.stats import rankdata

from classify.scoring import county_key
from classify.taxonomy import Rule, Taxonomy
from geo.errors import InputWarning

__all__ = ["evaluate", "Evaluation", "classify_towns", "category_draws", "CategoryDrawer",
           "TargetDraws",
           "stability_from_draws", "declared_status", "TRACE_COLUMNS"]

TRACE_COLUMNS = ["town_code", "town", "target", "rule_id", "field", "scale", "op",
                 "threshold", "value", "raw_value", "margin", "norm_margin", "passed",
                 "target_passed", "text_zh", "text_en"]
_NEG = {">=": "<", ">": "≤", "<=": ">", "<": "≥", "==": "≠"}
_SHOW = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "==": "="}


@dataclass
class Evaluation:
    """Result of :func:`evaluate` (arrays over draws ``d``, rules ``r``, towns ``n``).

    Attributes
    ----------
    rules : list of (owner, Rule)
        ``owner`` is the target or role id the row belongs to.
    value, raw, margin, norm, passed : ndarray (d, r, n)
    targets : list[str]
        Targets in priority order.
    target_passed, strength : ndarray (d, T, n)
    code : ndarray (d, n) of int8
        Primary target per draw and town as an index into ``labels`` (targets, then the
        fallback category id when nothing passes).
    roles : dict[str, ndarray (d, n) bool]
    """

    rules: list
    value: np.ndarray
    raw: np.ndarray
    margin: np.ndarray
    norm: np.ndarray
    passed: np.ndarray
    targets: list
    target_passed: np.ndarray
    strength: np.ndarray
    code: np.ndarray
    roles: dict
    fallback: str = ""

    @property
    def labels(self) -> np.ndarray:
        """Target ids then the fallback id (object array, for indexing with ``code``)."""
        return np.array(list(self.targets) + [self.fallback], dtype=object)

    @property
    def primary(self) -> np.ndarray:
        """Primary target id per draw and town (object array of str)."""
        return self.labels[self.code]


# -- field values -------------------------------------------------------------------------
def _base_field(frame: pd.DataFrame, fld: str) -> np.ndarray | None:
    """Values of a field as a float (or object for ``name``) array, or None if absent."""
    if fld == "code_type":
        if "town_code" not in frame:
            return None
        code = frame["town_code"].astype("string").str.strip().str[6:9]
        return pd.to_numeric(code, errors="coerce").to_numpy(dtype=float)
    if fld == "name":
        return frame["town"].astype("string").fillna("").to_numpy(object) if "town" in frame \
            else None
    if fld not in frame:
        return None
    return pd.to_numeric(frame[fld], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _rank_rows(x: np.ndarray) -> np.ndarray:
    """Ranks along axis 1, 1 = highest, ties share the best; NaN stays NaN."""
    if not np.isnan(x).any():  # scipy's NaN-omitting path is slower
        return rankdata(-x, axis=1, method="min").astype(float)
    return rankdata(-x, axis=1, method="min", nan_policy="omit")


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks along axis 1, ties averaged (``rankdata(method="average")``), faster
    than scipy's stable sort on (draws × towns) chunks.  NaN sort last, each ranked alone.
    """
    d, n = x.shape
    order = np.argsort(x, axis=1)
    s = np.take_along_axis(x, order, axis=1)
    new = np.ones((d, n), bool)
    new[:, 1:] = s[:, 1:] != s[:, :-1]
    ranks = np.empty((d, n))
    avg = np.broadcast_to(np.arange(1.0, n + 1), (d, n))    # untied: the position
    tied = np.flatnonzero(~new)           # cells continuing a tie group: few, fixed up alone
    if tied.size:
        opens = np.ones(tied.size, dtype=bool)
        opens[1:] = np.diff(tied) != 1
        more = np.diff(np.append(np.flatnonzero(opens), tied.size))  # group size − 1
        head = tied[opens] - 1            # the group's first cell
        val = head % n + more / 2.0 + 1.0
        avg = avg.copy()
        flat = avg.reshape(-1)
        flat[head] = val
        flat[tied] = np.repeat(val, more)
    np.put_along_axis(ranks, order, avg, axis=1)
    return ranks


def _percentile(x: np.ndarray) -> np.ndarray:
    """``pandas.rank(pct=True) * 100`` along axis 1: best P100, worst P100/n; NaN stays NaN."""
    nan = np.isnan(x)
    out = _average_ranks(x) / np.maximum(np.sum(~nan, axis=1, keepdims=True), 1) * 100.0
    out[nan] = np.nan
    return out


def _by_county(x: np.ndarray, groups: pd.Series, fn) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``fn`` to each county's columns (``groups``: :func:`classify.scoring.county_key`);
    also return county sizes per town."""
    out = np.full(x.shape, np.nan)
    size = np.zeros(x.shape[1])
    # towns of unknown county (missing key) belong to no county: their value stays NaN
    inv, codes = pd.factorize(groups)
    for g in range(len(codes)):  # a loop over counties, not towns
        cols = np.flatnonzero(inv == g)
        out[:, cols] = fn(x[:, cols])
        size[cols] = len(cols)
    return out, size


def _scaled(raw: np.ndarray, rule: Rule, groups, ref=None) -> tuple[np.ndarray, np.ndarray]:
    """(value on the rule's scale, default spread) for a (d, n) float array.

    On the ``value`` scale the default spread is the standard deviation of ``ref`` (the
    reported column) when given, so Monte Carlo draws use the same spread as the report.
    """
    if rule.scale == "value":
        src = raw if ref is None or ref.dtype == object else ref
        v = src[~np.isnan(src)]
        flag = v.size > 0 and np.isin(v, (0.0, 1.0)).all()
        with np.errstate(over="ignore", invalid="ignore"):   # 1e300 in a cell: inf
            sd = 1.0 if flag or v.size < 2 else float(np.std(v))
        return raw, np.full(raw.shape[1], sd if 0 < sd < np.inf else 1.0)
    if rule.scale == "percentile":
        return _percentile(raw), np.full(raw.shape[1], 100.0)
    if rule.scale == "percentile_county":
        val, _ = _by_county(raw, groups, _percentile)
        return val, np.full(raw.shape[1], 100.0)
    val, size = _by_county(raw, groups, _rank_rows)
    return val, np.maximum(size, 1.0)


def _margin(rule: Rule, value) -> tuple[np.ndarray, np.ndarray]:
    if rule.op == "contains":
        hit = np.vectorize(lambda s: rule.threshold in s, otypes=[bool])(value)
        return np.where(hit, 0.0, -1.0), hit
    t = float(rule.threshold)
    with np.errstate(invalid="ignore"):
        if rule.op in (">=", ">"):
            m = value - t
        elif rule.op in ("<=", "<"):
            m = t - value
        else:
            m = -np.abs(value - t)
        ok = m > 0 if rule.op in (">", "<") else m >= 0
    return m, ok & ~np.isnan(m)


# -- evaluation ---------------------------------------------------------------------------
def _all_rules(taxonomy: Taxonomy, roles: bool = True):
    rules = [(t, r) for t in taxonomy.priority for r in taxonomy.target_rules(t)]
    if roles:
        rules += [(role.id, r) for role in taxonomy.roles for r in role.rules]
    return rules


def evaluate(frame: pd.DataFrame, taxonomy: Taxonomy, overrides: dict | None = None,
             *, roles: bool = True) -> Evaluation:
    """Evaluate every rule of ``taxonomy`` for every town.

    Parameters
    ----------
    frame : DataFrame
        One row per town with the fields the rules name.
    overrides : dict, optional
        ``{field: ndarray (draws, n)}`` replacing frame columns (Monte Carlo draws);
        fields not overridden are held at their frame value in every draw.
    roles : bool
        Also evaluate the roles' rules (not needed for the primary target).
    """
    overrides = overrides or {}
    n = len(frame)
    d = next((v.shape[0] for v in overrides.values()), 1)
    groups = county_key(frame)
    rules = _all_rules(taxonomy, roles)
    shape = (d, len(rules), n)
    value, raw_all, margin, norm = (np.full(shape, np.nan) for _ in range(4))
    passed = np.zeros(shape, bool)
    cache: dict = {}
    missing: dict[str, bool] = {}        # the columns lacking, in order, once each
    for i, (_, rule) in enumerate(rules):
        if groups is None and rule.scale.endswith("county"):
            missing["county_code"] = True  # the rule fails, as for a missing column
            continue
        if rule.field in overrides:
            raw = np.asarray(overrides[rule.field], dtype=float)
        else:
            base = _base_field(frame, rule.field)
            if base is None:
                if not rule.optional:
                    missing[rule.field] = True
                continue
            raw = base[None, :] if base.dtype == object else np.broadcast_to(base, (d, n))
        if rule.op == "contains":
            m, ok = _margin(rule, raw)
            margin[:, i], norm[:, i], passed[:, i] = m, m, ok
            continue
        key = (rule.field, rule.scale)
        if key not in cache:
            ref = _base_field(frame, rule.field) if rule.field in overrides else None
            cache[key] = _scaled(raw, rule, groups, ref)
        val, spread = cache[key]
        m, ok = _margin(rule, val)
        value[:, i], raw_all[:, i], margin[:, i], passed[:, i] = val, raw, m, ok
        norm[:, i] = m / (rule.spread if rule.spread is not None else spread)
    if missing:
        warnings.warn(f"taxonomy {taxonomy.name!r}: no column {', '.join(map(repr, missing))} "
                      "in the table; rules on it fail for every town (add the column, or "
                      "edit the rule's 'field' in the taxonomy)", InputWarning, stacklevel=2)
    return _decide(taxonomy, rules, value, raw_all, margin, norm, passed)


def _decide(taxonomy, rules, value, raw, margin, norm, passed) -> Evaluation:
    d, _, n = passed.shape
    owners = np.array([o for o, _ in rules], dtype=object)
    targets = list(taxonomy.priority)
    tp = np.zeros((d, len(targets), n), bool)
    strength = np.full((d, len(targets), n), -np.inf)
    for j, t in enumerate(targets):
        idx = np.flatnonzero(owners == t)
        tp[:, j] = passed[:, idx].all(axis=1)
        s = np.where(np.isnan(norm[:, idx]), -np.inf, norm[:, idx]).min(axis=1)  # ≥ 1 rule
        strength[:, j] = np.where(tp[:, j], s, -np.inf)
    # rounding makes float noise a tie; argmax then takes the first = highest priority
    best = np.argmax(np.round(strength, 9), axis=1)
    code = np.where(tp.any(axis=1), best, len(targets)).astype(np.int8)
    match = {"any": np.any, "all": np.all}
    roles = {r.id: match[r.match](passed[:, owners == r.id], axis=1) for r in taxonomy.roles}
    return Evaluation(rules, value, raw, margin, norm, passed, targets, tp, strength,
                      code, roles, taxonomy.fallback.id)


# -- reported classification -----------------------------------------------------------------
def _num(x: np.ndarray, integer) -> pa.Array:
    """Numbers as text: no decimals where ``integer``, else two; NaN → 'NA'."""
    integer = np.broadcast_to(integer, x.shape)
    bits = np.ascontiguousarray(x, dtype=float).view(np.int64)  # exact: keeps -0.0 apart
    parts, at, offset = [], np.empty(x.shape, np.int64), 0
    for whole in (True, False):  # each distinct number formatted once
        sel = integer == whole
        u, inv = np.unique(bits[sel], return_inverse=True)
        at[sel] = offset + inv
        offset += len(u)
        u = u.view(float)
        parts.append(_whole_text(u) if whole else
                     pa.array([f"{v:.2f}" for v in u.tolist()], pa.large_string()))
    return _pick(np.isnan(x), "NA", pa.concat_arrays(parts).take(at))


def _whole_text(u: np.ndarray) -> pa.Array:
    """``f"{v:.0f}"`` of each value: integers printed by Arrow, Python for the rest.

    Rounding half to even of the exact binary value (``np.rint``) is what the format does;
    Python formats what an int64 cannot hold exactly, NaN/inf and the '-0' of (-0.5, 0]."""
    r = np.rint(u)
    python = ~(np.abs(r) < 2.0 ** 53) | ((r == 0) & np.signbit(r))
    out = pc.cast(pa.array(np.where(python, 0.0, r).astype(np.int64)), pa.large_string())
    if python.any():
        out = pc.replace_with_mask(out, pa.array(python), pa.array(
            [f"{v:.0f}" for v in u[python].tolist()], pa.large_string()))
    return out


def _text(x):
    return pa.scalar(x, pa.large_string()) if isinstance(x, str) else x


def _pick(cond, a, b) -> pa.Array:
    """``a`` where ``cond`` else ``b`` (texts or text arrays)."""
    return pc.if_else(cond, _text(a), _text(b))


def _join(*parts) -> pa.Array:
    """Element-wise concatenation of text arrays and strings."""
    return pc.binary_join_element_wise(*map(_text, parts), _text(""))


def _texts(tax: Taxonomy, rule: Rule, value, margin, passed) -> tuple[pa.Array, pa.Array]:
    """The trace sentences of one rule for every town (vectorised string building)."""
    zh_f, en_f = tax.field_label(rule.field, "zh"), tax.field_label(rule.field, "en")
    ok = np.asarray(passed, bool)
    if rule.op == "contains":
        t = rule.threshold
        return (_pick(ok, f"{zh_f}含“{t}”：通过", f"{zh_f}不含“{t}”：未通过"),
                _pick(ok, f"{en_f} contains '{t}': passes", f"{en_f} lacks '{t}': fails"))
    t = float(rule.threshold)
    op = _pick(ok, _SHOW[rule.op], _NEG[rule.op])
    # percentiles and ranks print whole; values when they and the threshold are whole
    whole = rule.scale != "value" or \
        t.is_integer() & (np.nan_to_num(value) == np.round(np.nan_to_num(value)))
    v_s, m_s = _num(value, whole), _num(np.abs(margin), whole)
    if rule.scale.startswith("percentile"):
        county = rule.scale.endswith("county")
        body_zh = (("县内" if county else "") + "P", v_s, " ", op, f" P{t:.0f}")
        body_en = (("county " if county else "") + "P", v_s, " ", op, f" P{t:.0f}")
    elif rule.scale == "rank_county":
        body_zh = ("县内第", v_s, " ", op, f" 第{t:.0f}")
        body_en = ("rank ", v_s, " in county ", op, f" {t:.0f}")
    else:
        body_zh = body_en = (v_s, " ", op, " " + (f"{t:.0f}" if t.is_integer() else f"{t:.2f}"))
    zh = _join(f"{zh_f} ", *body_zh, _pick(ok, "：通过，余量 ", "：未通过，差 "), m_s)
    en = _join(f"{en_f} ", *body_en, _pick(ok, ": passes by ", ": fails by "), m_s)
    miss = np.isnan(value)
    return (_pick(miss, f"{zh_f} 缺失：未通过（无数据）", zh),
            _pick(miss, f"{en_f} missing: fails (no data)", en))


def _typed(values: np.ndarray):
    """``values`` as the pandas array a DataFrame column of them would hold."""
    return pd.Series(values, copy=False).array


def _trace(frame, ev: Evaluation, zh: np.ndarray, en: np.ndarray) -> pd.DataFrame:
    """The rule trace, town-major (all rules of town 0, then town 1 …)."""
    n, R = len(frame), len(ev.rules)
    codes = (frame["town_code"].astype("string").to_numpy(object) if "town_code" in frame
             else frame.index.astype(str).to_numpy(object))
    names = frame["town"].to_numpy(object) if "town" in frame else np.full(n, "", object)
    if R == 0:
        return pd.DataFrame(columns=TRACE_COLUMNS)
    owner_pass = {t: ev.target_passed[0, j] for j, t in enumerate(ev.targets)}
    owner_pass.update({r: v[0] for r, v in ev.roles.items()})
    rules = [r for _, r in ev.rules]

    # repeat small typed arrays by position (inferring text dtypes once per distinct value,
    # not once per cell)
    def per_rule(vals):  # one value per rule → repeated for every town
        return _typed(np.array(vals + [None], dtype=object)[:-1]).take(np.tile(np.arange(R), n))

    def per_cell(a):  # (rules, towns) → town-major
        return np.asarray(a).T.ravel()

    def text(arrays):  # per-rule text arrays → town-major column
        town_major = (np.arange(R)[None, :] * n + np.arange(n)[:, None]).ravel()
        return pd.array(pa.concat_arrays(arrays).take(town_major), dtype=pd.Series([""]).dtype)

    town_rows = np.repeat(np.arange(n), R)
    return pd.DataFrame({
        "town_code": _typed(codes).take(town_rows), "town": _typed(names).take(town_rows),
        "target": per_rule([o for o, _ in ev.rules]),
        "rule_id": per_rule([r.id for r in rules]), "field": per_rule([r.field for r in rules]),
        "scale": per_rule([r.scale for r in rules]), "op": per_rule([r.op for r in rules]),
        "threshold": per_rule([r.threshold for r in rules]),
        "value": per_cell(ev.value[0]), "raw_value": per_cell(ev.raw[0]),
        "margin": per_cell(ev.margin[0]), "norm_margin": per_cell(ev.norm[0]),
        "passed": per_cell(ev.passed[0]),
        "target_passed": per_cell(np.stack([owner_pass[o] for o, _ in ev.rules])),
        "text_zh": text(zh), "text_en": text(en),
    })


def _categories(frame, tax: Taxonomy, ev: Evaluation) -> pd.DataFrame:
    primary = ev.primary[0].astype(object)
    split = [p.partition("/") for p in primary]
    cat = np.array([c for c, _, _ in split] + [""], dtype=object)[:-1]
    pal = tax.palette()
    sub = {f"{c.id}/{s.id}": s for c in tax.categories for s in c.subtypes}
    strength = ev.strength[0]  # (T, n), -inf where the target fails
    tnames = ev.labels[:-1]
    order = np.argsort(-strength, axis=0, kind="stable")
    finite = np.isfinite(strength)
    towns = np.arange(len(frame))
    ranked = tnames[order]  # (T, n): each town's targets, strongest first
    shown = finite[order, towns] & (ranked != primary)
    secondary = [";".join(compress(t, s)) for t, s in zip(ranked.T.tolist(), shown.T.tolist())]
    role_ids = list(ev.roles)
    on = np.array([ev.roles[r][0] for r in role_ids], bool).reshape(len(role_ids), len(frame))
    roles = [";".join(compress(role_ids, col)) for col in on.T.tolist()]
    best = strength.max(axis=0, initial=-np.inf)
    return pd.DataFrame({
        "category": cat, "subtype": [s for _, _, s in split],
        "category_zh": [pal[c]["zh"] for c in cat],
        "subtype_zh": [sub[p].zh if p in sub else "" for p in primary],
        "category_en": [pal[c]["en"] for c in cat],
        "subtype_en": [sub[p].en if p in sub else "" for p in primary],
        "target": primary, "margin": np.where(np.isfinite(best), best, np.nan),
        "secondary": secondary, "roles": roles,
    }, index=frame.index)


def classify_towns(frame: pd.DataFrame, taxonomy: Taxonomy
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Classify each town by the taxonomy's rules.

    Returns
    -------
    categories : DataFrame indexed like ``frame``
        ``category``, ``subtype`` (ids, '' without subtype), ``category_zh``, ``subtype_zh``,
        ``category_en``, ``subtype_en``, ``target`` (``category`` or ``category/subtype``),
        ``margin`` (normalised margin of the primary), ``secondary`` and ``roles``
        (``;``-joined ids); with a ``declared`` column also ``declared_target``,
        ``declared_status`` and ``declared_reason``.
    trace : DataFrame
        The rule trace (``rules.csv``), one row per town × rule, see ``TRACE_COLUMNS``.

    Examples
    --------
    >>> cats, trace = classify_towns(frame, load_taxonomy("guangdong"))  # doctest: +SKIP
    """
    ev = evaluate(frame, taxonomy)
    texts = [_texts(taxonomy, rule, ev.value[0, i], ev.margin[0, i], ev.passed[0, i])
             for i, (_, rule) in enumerate(ev.rules)]    # (zh, en) arrays of the reported draw
    zh, en = [t[0] for t in texts], [t[1] for t in texts]
    cats = _categories(frame, taxonomy, ev)
    trace = _trace(frame, ev, zh, en)
    if "declared" in frame:
        zh_matrix = np.array([a.to_numpy(zero_copy_only=False) for a in zh],
                             dtype=object).reshape(len(zh), len(frame))   # (rules, towns)
        cats = cats.join(declared_status(frame["declared"], ev, zh_matrix, taxonomy))
    return cats, trace


# -- declared categories ----------------------------------------------------------------------
def _labels(tax, names) -> str:
    return "、".join(tax.labels(t)[0] for t in names)


def _judge(tid: str, towns: np.ndarray, ev: Evaluation, zh, tax: Taxonomy):
    """(status, reason) arrays for the towns that declared ``tid``."""
    passed, tp = ev.passed[0][:, towns], ev.target_passed[0][:, towns]
    tn = ev.labels[:-1]
    cat_of = np.array([t.partition("/")[0] for t in tn] + [""], dtype=object)[:-1]
    if tid == tax.fallback.id:
        status = np.where(tp.any(axis=0), "partly supported", "supported")
        return status, ["证据还支持：" + _labels(tax, tn[h]) if h.any() else
                        "没有类别的规则全部通过" for h in tp.T]
    role, whole = tid in ev.roles, tid not in ev.targets and tid not in ev.roles
    # the declared targets: a category with subtypes (whole) is supported by any of them
    own = cat_of == tid if whole else tn == tid
    rows = np.flatnonzero(np.isin([o for o, _ in ev.rules], [tid] if role else tn[own]))
    ok = ev.roles[tid][0][towns] if role else tp[own].any(axis=0)
    same = cat_of == tid.partition("/")[0]     # the declared category's targets
    sibling = tp[same & ~own].any(axis=0)
    some = passed[rows].any(axis=0)
    status = np.where(ok, "supported", np.where(some | sibling, "partly supported",
                                                "not supported"))
    fail = ["；".join(t for t, o in zip(tc, oc) if not o)      # the failing rules' sentences
            for tc, oc in zip(zh[np.ix_(rows, towns)].T, passed[rows].T)]
    reason = []
    for k in range(len(towns)):
        if ok[k]:
            hit = tn[tp[:, k] & own] if whole else []
            reason.append("通过：" + _labels(tax, hit) if len(hit) else
                          "规则通过" if role else "规则全部通过")
        elif sibling[k] and not some[k]:
            reason.append(fail[k] + "；同类通过：" + _labels(tax, tn[tp[:, k] & same]))
        else:
            reason.append(fail[k])
    return status, reason


def declared_status(declared: pd.Series, ev: Evaluation, zh: np.ndarray,
                    taxonomy: Taxonomy) -> pd.DataFrame:
    """Compare each town's self-declared category (自评类别) with the rule evidence.

    Returns ``declared_target`` (resolved id or ''), ``declared_status``
    (``supported`` / ``partly supported`` / ``not supported`` / '' when empty or not
    recognised) and ``declared_reason`` (the failing rules' sentences, in Chinese).
    A declared target is supported when all its rules pass, partly supported when some do
    (or another subtype of the same category passes), not supported when none do.
    """
    n = len(declared)
    text = declared.astype("string").fillna("").str.strip().to_numpy(object)
    target = np.array([(taxonomy.resolve_declared(t) if t else None) or "" for t in text]
                      + [""], dtype=object)[:-1]
    status = np.full(n, "", dtype=object)
    reason = np.full(n, "", dtype=object)
    unknown = np.flatnonzero((text != "") & (target == ""))
    reason[unknown] = [f"无法识别的自评类别“{text[i]}”" for i in unknown]
    for t in sorted(set(target) - {""}):
        towns = np.flatnonzero(target == t)
        st, rs = _judge(t, towns, ev, zh, taxonomy)
        status[towns] = st
        reason[towns] = rs
    if len(unknown):
        rows = ", ".join(f"row {p + 1} {text[p]!r}" for p in unknown[:5])
        warnings.warn(f"declared category not recognised: {rows}"
                      f"{' …' if len(unknown) > 5 else ''}; add the text to 'aliases' of a "
                      f"category in the taxonomy ({taxonomy.path})", InputWarning, stacklevel=3)
    return pd.DataFrame({"declared_target": target, "declared_status": status,
                         "declared_reason": reason}, index=declared.index)


# -- Monte Carlo stability -------------------------------------------------------------------
def _bounds(key: np.ndarray, k: np.ndarray, live: np.ndarray, top: bool) -> np.ndarray:
    """Per row of ``key`` a bound no larger (``top``; else no smaller) than its ``k``-th
    smallest value, NaN for rows not ``live``: every value that can pass lies beyond it.

    Any such bound gives the same percentiles, only more or fewer candidates.  Long rows
    first try every 8th value (a partition 8x smaller, ~3% of the row spare) and keep the
    bound where a count shows enough values beyond it; other rows take the exact value.
    """
    B, n = key.shape
    bound = np.full(B, np.nan, dtype=key.dtype)
    exact = live.copy()
    if n >= 4096:
        sub = key[:, ::8]
        m = sub.shape[1]
        ks = np.clip(k // 8 - m // 32 if top else k // 8 + m // 32, 0, m - 1)
        for kv in np.unique(ks[live]):
            rows = np.flatnonzero(live & (ks == kv))
            bound[rows] = np.partition(sub[rows], kv, axis=1)[:, kv]
        with np.errstate(invalid="ignore"):
            beyond = (key >= bound[:, None]) if top else (key <= bound[:, None])
        exact &= beyond.sum(axis=1) < np.where(top, n - k, k + 1)  # too few: bound too far
    for kv in np.unique(k[exact]):      # rows with the same number of valid values share k
        rows = np.flatnonzero(exact & (k == kv))
        bound[rows] = np.partition(key[rows], kv, axis=1)[:, kv]
    return bound


def _percentile_candidates(x: np.ndarray, threshold: float, op: str):
    """:func:`_percentile` of only the values that can satisfy ``percentile op threshold``.

    An ``np.partition`` bounds the towns that can reach the threshold; only they are sorted.
    A town below the ``k``-th smallest valid value has an average rank of at most ``k``;
    ``k = ceil(t·n/100) − 2`` keeps it a rank short of ``t·n/100``, so no passing town is
    left out.  A candidate's rank is its rank among the candidates plus the valid values
    under them, in :func:`_percentile`'s arithmetic, so the result is identical there.
    Returns ``(flat, pct)``: the candidates' flat indices into ``x`` (ascending) and their
    percentiles.
    """
    B, n = x.shape
    nan = np.isnan(x)
    gaps = bool(nan.any())
    nv = n - nan.sum(axis=1) if gaps else np.full(B, n)
    top = op in (">=", ">")
    a = threshold / 100.0 * nv
    if top:   # NaN sorted first (as −inf): the valid values are the last nv of the row
        k = np.clip(np.ceil(a).astype(np.int64) - 2, 0, np.maximum(nv - 1, 0)) + (n - nv)
        key = np.where(nan, -np.inf, x) if gaps else x
    else:     # NaN sorted last (as +inf)
        k = np.clip(np.floor(a).astype(np.int64) + 1, 0, np.maximum(nv - 1, 0))
        key = np.where(nan, np.inf, x) if gaps else x
    bound = _bounds(key, k, nv > 0, top)
    with np.errstate(invalid="ignore"):
        cand = (x >= bound[:, None]) if top else (x <= bound[:, None])
    flat = np.flatnonzero(cand)         # NaN compare False: candidates are valid values
    if flat.size == 0:
        return flat, np.empty(0)
    rows = flat // n
    counts = np.bincount(rows, minlength=B)
    # valid values under the candidates: all valid values not among them (top only)
    below = nv - counts if top else np.zeros(B, np.int64)
    m = int(counts.max())
    # each candidate's place in the compacted (B, m) matrix, flat
    slot = rows * m + (np.arange(flat.size) - np.repeat(np.cumsum(counts) - counts, counts))
    vals = x.ravel()[flat]
    # pads rank after every candidate: +inf (numpy's vectorised argsort falls back to a
    # 2-3x slower sort when a row holds NaN), NaN if a candidate is +inf itself
    C = np.full(B * m, np.nan if np.isposinf(vals).any() else np.inf, dtype=x.dtype)
    C[slot] = vals
    ranks = _average_ranks(C.reshape(B, m)) + below[:, None]
    pct = (ranks / np.maximum(nv, 1)[:, None] * 100.0).ravel()[slot]
    return flat, pct


def _percentile_from_ranks(ranks: np.ndarray, threshold: float, op: str):
    """:func:`_percentile_candidates` of a field already ranked per draw (row): ``ranks``
    1 = highest, ties share the best, NaN where the field is missing (the Monte Carlo
    region ranks of the composite), so no sort of its own.

    A tie group of ``E`` cells whose best rank is ``r`` among ``nv`` valid values has the
    ascending average rank ``nv + 1 − r − (E − 1)/2``; ``E`` is one count of the (row,
    rank) pairs.  The ranks are multiples of 1/2, exact in float64, so the percentiles
    equal :func:`_percentile`'s.  Returns ``(flat, pct)`` of the cells that reach the
    threshold (``op`` taken as ``>=`` / ``<=``).
    """
    B, n = ranks.shape
    nan = np.isnan(ranks)
    nv = n - nan.sum(axis=1)
    with np.errstate(invalid="ignore"):      # NaN ranks compare False: never candidates
        if op in (">=", ">"):   # a group's average rank is at most nv + 1 − r: one rank spare
            near = ranks <= (nv + 2 - threshold / 100.0 * nv)[:, None]
        else:
            near = ~nan
    flat = np.flatnonzero(near)              # a tie group is all in or all out
    row = flat // n
    r = ranks.ravel()[flat].astype(np.int64)
    key = row * (n + 1) + r
    size = np.bincount(key, minlength=B * (n + 1))[key]                 # E per cell
    pct = ((nv[row] + 1 - r) - (size - 1) / 2.0) / np.maximum(nv, 1)[row] * 100.0
    keep = (pct >= threshold) if op in (">=", ">") else (pct <= threshold)
    return flat[keep], pct[keep]


class _DrawRules:
    """The primary target of many draws at once: ``evaluate(frame, taxonomy, overrides,
    roles=False).code`` (tested) without the (draw, rule, town) arrays of the trace.

    Rules on fields the draws do not change are evaluated once on the frame; a target with
    a percentile rule on a drawn field only on that rule's candidates (the towns that can
    pass it, :func:`_percentile_candidates`), rule by rule on the cells still passing.
    """

    def __init__(self, frame: pd.DataFrame, taxonomy: Taxonomy, drawn: Iterable[str] = ()):
        self.frame = frame
        self.taxonomy = taxonomy
        self.rules = _all_rules(taxonomy, roles=False)
        # drawn fields the frame lacks are not missing: stand-ins keep evaluate quiet
        absent = {f: np.full((1, len(frame)), np.nan) for f in drawn if f not in frame}
        self.base = evaluate(frame, taxonomy, absent, roles=False)   # warns once about gaps
        self.groups = county_key(frame)
        self.refs: dict = {}

    def _is_drawn(self, rule: Rule, over: dict) -> bool:
        return (rule.field in over and rule.op != "contains"
                and not (self.groups is None and rule.scale.endswith("county")))

    def _sparse(self, rule: Rule, over: dict) -> bool:
        """A drawn percentile rule: only its candidates can pass."""
        return (self._is_drawn(rule, over) and rule.scale == "percentile"
                and rule.op in (">=", ">", "<=", "<"))

    def _values(self, rule: Rule, over: dict, cache: dict):
        """Rule-scale values of a drawn field, flat (B·n,), and the default spread."""
        raw = over[rule.field]
        if self._sparse(rule, over):
            key = (rule.field, "percentile", rule.op in (">=", ">"), float(rule.threshold))
            if key not in cache:
                ranked = cache.get(("ranks", rule.field))
                flat, pct = (_percentile_candidates(raw, float(rule.threshold), rule.op)
                             if ranked is None else
                             _percentile_from_ranks(ranked, float(rule.threshold), rule.op))
                cache[key] = (flat, pct, None)
            return cache[key], 100.0
        key = (rule.field, rule.scale)
        if key not in cache:
            if rule.field not in self.refs:
                self.refs[rule.field] = _base_field(self.frame, rule.field)
            val, spread = _scaled(np.asarray(raw, dtype=float), rule, self.groups,
                                  self.refs[rule.field])
            cache[key] = (None, val.ravel(), spread)
        return cache[key], None

    def _at(self, i: int, rule: Rule, over: dict, idx: np.ndarray | None, n: int, cache):
        """(passed, norm) of rule ``i`` at flat cells ``idx`` (None: the rule's candidates).

        Returns the cells too (the candidates when ``idx`` is None)."""
        if not self._is_drawn(rule, over):
            ok, norm = self.base.passed[0, i], self.base.norm[0, i]
            return idx, ok[idx % n], norm[idx % n]
        (flat, val, spread_arr), spread = self._values(rule, over, cache)
        if flat is not None:                     # sparse percentile values
            if idx is None:
                idx = flat
            else:                                # cells outside the candidates fail
                pos = np.minimum(np.searchsorted(flat, idx), max(flat.size - 1, 0))
                hit = flat[pos] == idx if flat.size else np.zeros(idx.size, bool)
                val = np.where(hit, val[pos] if flat.size else np.nan, np.nan)
        else:
            spread = spread_arr[idx % n]
            val = val[idx]
        m, ok = _margin(rule, val)
        return idx, ok, m / (rule.spread if rule.spread is not None else spread)

    def codes(self, over: dict, ranks: dict | None = None) -> np.ndarray:
        """int8 codes (B, n) into ``taxonomy.priority + (fallback,)`` for drawn fields;
        ``ranks`` optionally gives drawn fields already ranked per draw (see
        :func:`_percentile_from_ranks`)."""
        B = next(iter(over.values())).shape[0]
        n = len(self.frame)
        targets = list(self.taxonomy.priority)
        best = np.full(B * n, -np.inf)
        code = np.full(B * n, len(targets), dtype=np.int8)
        cache: dict = {("ranks", f): r for f, r in (ranks or {}).items()}
        for j, t in enumerate(targets):
            rules = [(i, r) for i, (o, r) in enumerate(self.rules) if o == t]
            # a drawn percentile rule first: its candidates bound the passing cells
            rules.sort(key=lambda ir: not self._sparse(ir[1], over))
            idx = None if rules and self._sparse(rules[0][1], over) else np.arange(B * n)
            s = None
            for i, rule in rules:
                idx, ok, norm = self._at(i, rule, over, idx, n, cache)
                norm = np.where(np.isnan(norm), -np.inf, norm)
                s = norm if s is None else np.fmin(s, norm)
                idx, s = idx[ok], s[ok]
            # as _decide's argmax over priorities: rounded strengths, first priority on ties
            r = np.round(s, 9)
            better = r > best[idx]
            best[idx[better]] = r[better]
            code[idx[better]] = j
        return code.reshape(B, n)


def category_draws(frame: pd.DataFrame, taxonomy: Taxonomy, dim_scores: np.ndarray,
                   dims: list[str], *, composite: np.ndarray | None = None,
                   extra: dict | None = None, chunk_cells: int = 2_000_000,
                   return_codes: bool = False):
    """Primary target per uncertainty draw, vectorised over draws (in chunks of draws).

    Parameters
    ----------
    dim_scores : ndarray (draws, n_towns, n_dims)
        ``MCResult.dim_scores``; column ``j`` replaces ``score_<dims[j]>`` (or ``composite``
        when ``dims[j] == "composite"``).
    composite : ndarray (draws, n_towns), optional
        ``MCResult.composite``; without it the composite is held at its reported value.
    extra : dict, optional
        Further ``{field: ndarray (draws, n)}`` overrides.
    chunk_cells : int
        Memory budget: draws are evaluated in chunks of about ``chunk_cells`` draw × town
        cells (8 bytes each, a few arrays per target).
    return_codes : bool
        Return a compact :class:`TargetDraws` (int8 codes + labels) instead of strings —
        use it for large runs (40,000 towns × 1,000 draws).

    Returns
    -------
    ndarray of str (object), shape (draws, n), or TargetDraws
        Target ids as in ``categories["target"]``: ``category/subtype`` for categories with
        subtypes, the category id otherwise, the fallback id (``developing``) when none passes.
        Roles are not part of the label.

    See :class:`CategoryDrawer` to classify draws chunk by chunk as they are made.
    """
    dim_scores = np.asarray(dim_scores)
    if dim_scores.ndim != 3 or dim_scores.shape[1] != len(frame) or \
            dim_scores.shape[2] != len(dims):
        raise ValueError(f"dim_scores has shape {dim_scores.shape}; expected "
                         f"(draws, {len(frame)} towns, {len(dims)} dims)")
    drawer = CategoryDrawer(frame, taxonomy, dims, chunk_cells=chunk_cells)
    drawer.add(slice(0, dim_scores.shape[0]), dim_scores, composite, extra)
    result = drawer.result()
    return result if return_codes else result.labels_array()


class CategoryDrawer:
    """Primary targets of Monte Carlo draws, fed chunk by chunk (from any thread).

    ``monte_carlo(..., on_chunk=drawer.add)`` classifies each chunk of draws as it is made,
    so the full (draws × towns × dimensions) array of dimension scores is never held.

    >>> drawer = CategoryDrawer(frame, taxonomy, mc_dims, draws=1000)      # doctest: +SKIP
    >>> mc = monte_carlo(ind, system, draws=1000, on_chunk=drawer.add,
    ...                  keep_dim_scores=False)                            # doctest: +SKIP
    >>> stability_from_draws(drawer.result(), reported)                    # doctest: +SKIP
    """

    def __init__(self, frame: pd.DataFrame, taxonomy: Taxonomy, dims: list[str], *,
                 draws: int | None = None, chunk_cells: int = 2_000_000):
        self.n = len(frame)
        self.dims = list(dims)
        self.step = max(1, int(chunk_cells // max(1, self.n)))
        self.frame, self.taxonomy = frame, taxonomy
        # built at the first chunk, once the fields are known
        self._rules: _DrawRules | None = None
        self._lock = threading.Lock()
        self.labels = tuple(taxonomy.priority) + (taxonomy.fallback.id,)
        self.codes = None if draws is None else np.empty((draws, self.n), dtype=np.int8)

    def add(self, rows: slice, dim_scores: np.ndarray, composite: np.ndarray | None = None,
            extra: dict | None = None, ranks: np.ndarray | None = None) -> None:
        """Classify draws ``rows`` given their dimension scores (B, n, dims).

        ``ranks`` (B, n), optional: the region ranks of ``composite`` per draw (1 = highest,
        ties share the best, NaN where none; ``monte_carlo(..., chunk_ranks=True)`` passes
        them), so its percentile rules need no sort of their own."""
        over = {(d if d == "composite" else f"score_{d}"): dim_scores[:, :, j]
                for j, d in enumerate(self.dims)}
        if composite is not None:
            over["composite"] = np.asarray(composite)
        over.update(extra or {})
        B = dim_scores.shape[0]
        with self._lock:          # chunks may arrive from several threads
            if self._rules is None:
                self._rules = _DrawRules(self.frame, self.taxonomy, over)
        if self.codes is None:
            self.codes = np.empty((rows.stop, self.n), dtype=np.int8)
        for a in range(0, B, self.step):      # a loop over chunks of draws, never over towns
            part = {f: v[a:a + self.step] for f, v in over.items()}
            b = min(self.step, B - a)
            ranked = None if ranks is None else {"composite": ranks[a:a + self.step]}
            self.codes[rows.start + a:rows.start + a + b] = self._rules.codes(part, ranked)

    def result(self) -> "TargetDraws":
        return TargetDraws(self.codes, self.labels)


@dataclass(frozen=True)
class TargetDraws:
    """Primary target per draw as compact codes: ``labels[codes[d, i]]``.

    At 1,000 draws × 40,000 towns the codes take 40 MB where an array of str would take
    over 300 MB and seconds to build; :func:`stability_from_draws` accepts either.
    """

    codes: np.ndarray
    labels: tuple

    @property
    def shape(self):
        return self.codes.shape

    def labels_array(self) -> np.ndarray:
        """The draws as an object array of target ids (str)."""
        return np.array(self.labels, dtype=object)[self.codes]


def stability_from_draws(draws, reported) -> pd.DataFrame:
    """Share of draws giving the reported label, and the most frequent other label.

    Parameters
    ----------
    draws : ndarray of str (draws, n) or :class:`TargetDraws`
    reported : array-like of str (n,)

    Returns DataFrame with ``stability`` (0–1) and ``runner_up`` ('' when every draw agrees).
    """
    reported = np.asarray(reported).astype(str)
    if not isinstance(draws, TargetDraws):
        arr = np.asarray(draws).astype(str)
        uniq, inv = np.unique(arr.ravel(), return_inverse=True)
        draws = TargetDraws(inv.reshape(arr.shape), tuple(uniq.tolist()))
    extra = sorted(set(reported) - set(draws.labels))  # reported labels no draw can give
    labels = np.array(draws.labels + tuple(extra), dtype=object)
    lookup = {lab: j for j, lab in enumerate(labels.tolist())}
    dc = draws.codes
    rc = np.array([lookup[r] for r in reported], dtype=np.int64)
    d, n = dc.shape
    # one pass per label over the (small-integer) codes: no (draws × towns) int64 copies
    counts = np.stack([(dc == j).sum(axis=0) for j in range(len(labels))], axis=1).astype(np.int64)
    stability = counts[np.arange(n), rc] / d
    counts[np.arange(n), rc] = -1
    ru = np.argmax(counts, axis=1)
    runner = np.where(counts[np.arange(n), ru] > 0, labels[ru], "").astype(object)
    return pd.DataFrame({"stability": stability, "runner_up": runner})


# -- what cannot be assessed ----------------------------------------------------------------
def _sources(fld: str, frame: pd.DataFrame, system, seen=None) -> list[str]:
    """The indicators (or dimensions, as ``score_<dim>``) behind a field with no value for
    any town: the field itself, or the empty inputs of a derived indicator."""
    seen = set() if seen is None else seen
    if fld in seen:
        return []
    seen.add(fld)
    der = {d.id: d for d in getattr(system, "derived", ())}.get(fld) if system else None
    if der is None:
        return [fld]
    out = []
    for x in (der.numerator, der.denominator):
        if _empty(frame, x):
            out += _sources(x, frame, system, seen)
    return out or [fld]


def _empty(frame: pd.DataFrame, fld: str) -> bool:
    """No town has a number in column ``fld`` (or there is no such column)."""
    return fld not in frame.columns or pd.to_numeric(frame[fld], errors="coerce").isna().all()


def _field_name(fld: str, system, taxonomy) -> tuple[str, str]:
    if fld.startswith("score_"):
        dim = fld[len("score_"):]
        try:
            d = system.dimension(dim)
            return f"{d.label_zh}维度数据", f"data of dimension {d.label_en or dim}"
        except Exception:          # a dimension the system does not have
            return fld, fld
    try:
        ind = system.get(fld)
        return ind.label_zh, (getattr(ind, "label_en", "") or fld)
    except Exception:              # a plain column of the frame
        return taxonomy.field_label(fld, "zh"), taxonomy.field_label(fld, "en")


def not_assessable(frame: pd.DataFrame, taxonomy: Taxonomy, system=None) -> tuple[
        pd.DataFrame, list[tuple[str, str]]]:
    """Categories that no town can reach because a field of their rules has no value for
    any town (a column absent, empty, or derived from an empty one).

    Returns a frame ``source, field, target`` (``source``: the indicator — or
    ``score_<dim>`` — lacking, ``field``: the rule's field) and one (zh, en) line per
    source, e.g. "无 规上工业总产值（industrial_output）：专业镇·工业 无法评估（cannot be
    assessed）".  Optional rules (meant to fail when their column is absent) are left out.
    """
    rows = [{"source": src, "field": rule.field, "target": t}
            for t in taxonomy.priority for rule in taxonomy.target_rules(t)
            if not rule.optional and rule.op != "contains" and _empty(frame, rule.field)
            for src in _sources(rule.field, frame, system)]
    table = pd.DataFrame(rows, columns=["source", "field", "target"]).drop_duplicates()
    # one line per set of categories, naming every source that disables them
    by_targets: dict[tuple, list[str]] = {}
    for src, part in table.groupby("source", sort=False):
        by_targets.setdefault(tuple(dict.fromkeys(part["target"])), []).append(src)
    msgs = []
    for targets, srcs in by_targets.items():
        names = [(_field_name(x, system, taxonomy), x) for x in srcs]
        sz = "、".join(f"{zh}（{x}）" for (zh, _), x in names)
        se = ", ".join(f"{en} ({x})" for (_, en), x in names)
        tz = "、".join(taxonomy.labels(x)[0] for x in targets)
        te = ", ".join(taxonomy.labels(x)[1] for x in targets)
        msgs.append((f"无 {sz}：{tz} 无法评估（cannot be assessed）",
                     f"no {se}: {te} cannot be assessed"))
    return table.reset_index(drop=True), msgs
