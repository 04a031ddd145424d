"""The rule engine: every rule of a taxonomy evaluated for every town, with margins.

One vectorised core (:func:`evaluate`) works on arrays shaped ``(draws, n_towns)``; the
reported classification is the one-draw case and the Monte Carlo stability is the
many-draw case, so both use exactly the same arithmetic.

Margins: ``margin = value − threshold`` for ``>=``/``>`` and ``threshold − value`` for
``<=``/``<`` (so ``margin ≥ 0`` passes; a strict op also needs ``margin > 0``); for ``==``
the margin is ``−|value − threshold|`` and for ``contains`` it is 0 (passes) or −1.
``norm_margin = margin ÷ spread`` (see :class:`classify.taxonomy.Rule`).  A target passes
when all its rules pass; its *strength* is its weakest rule's ``norm_margin``.  The primary
target is the passing one with the largest strength, ties broken by the taxonomy's
``priority``; the fallback category (培育类) when none passes.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from classify.errors import ConfigError
from classify.taxonomy import Rule, Taxonomy
from geo.errors import InputWarning

__all__ = ["evaluate", "Evaluation", "classify_towns", "category_draws",
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
    primary : ndarray (d, n) of str
        Primary target id per draw and town (fallback category id when nothing passes).
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
    primary: np.ndarray
    roles: dict


# -- field values -------------------------------------------------------------------------
def _base_field(frame: pd.DataFrame, fld: str) -> np.ndarray | None:
    """Values of a field as a float (or object for ``name``) array, or None if absent."""
    if fld == "code_type":
        if "town_code" not in frame:
            return None
        code = frame["town_code"].astype("string").str.strip().str[6:9]
        return pd.to_numeric(code, errors="coerce").to_numpy(dtype=float)
    if fld == "name":
        col = "town" if "town" in frame else None
        return None if col is None else frame[col].astype("string").fillna("").to_numpy(object)
    if fld not in frame:
        return None
    s = frame[fld]
    if s.dtype == bool or str(s.dtype) == "boolean":
        s = s.astype("Float64")
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _rank_rows(x: np.ndarray, *, descending: bool, method: str) -> np.ndarray:
    """Ranks along axis 1 ignoring NaN (NaN stays NaN); 1 = smallest unless descending."""
    return rankdata(-x if descending else x, axis=1, method=method, nan_policy="omit")


def _percentile(x: np.ndarray) -> np.ndarray:
    """``pandas.rank(pct=True) * 100`` along axis 1: best P100, worst P100/n."""
    r = _rank_rows(x, descending=False, method="average")
    return r / np.sum(~np.isnan(x), axis=1, keepdims=True) * 100.0


def _by_county(x: np.ndarray, groups: np.ndarray, fn) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``fn`` to each county's columns; also return county sizes per town."""
    out = np.full(x.shape, np.nan)
    size = np.zeros(x.shape[1])
    codes, inv = np.unique(groups, return_inverse=True)
    for g in range(len(codes)):  # a loop over counties, not towns
        cols = np.flatnonzero(inv == g)
        out[:, cols] = fn(x[:, cols])
        size[cols] = len(cols)
    return out, size


def _scaled(raw: np.ndarray, rule: Rule, groups) -> tuple[np.ndarray, np.ndarray]:
    """(value on the rule's scale, default spread) for a (d, n) float array."""
    if rule.scale == "value":
        v = raw[~np.isnan(raw)]
        flag = v.size > 0 and np.isin(v, (0.0, 1.0)).all()
        sd = 1.0 if flag or v.size < 2 else float(np.std(v))
        return raw, np.full(raw.shape[1], sd if sd > 0 else 1.0)
    if rule.scale == "percentile":
        return _percentile(raw), np.full(raw.shape[1], 100.0)
    if groups is None:
        raise ConfigError(f"scale {rule.scale!r} needs a 'county_code' (or 'county') column "
                          "in the table; use scale 'percentile' instead", key=rule.key)
    if rule.scale == "percentile_county":
        val, _ = _by_county(raw, groups, _percentile)
        return val, np.full(raw.shape[1], 100.0)
    val, size = _by_county(raw, groups,
                           lambda a: _rank_rows(a, descending=True, method="min"))
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
def _groups(frame):
    for c in ("county_code", "county"):
        if c in frame:
            return frame[c].astype("string").fillna("?").to_numpy(object)
    return None


def _all_rules(taxonomy: Taxonomy):
    rules = [(t, r) for t in taxonomy.priority for r in taxonomy.target_rules(t)]
    rules += [(role.id, r) for role in taxonomy.roles for r in role.rules]
    return rules


def evaluate(frame: pd.DataFrame, taxonomy: Taxonomy, overrides: dict | None = None
             ) -> Evaluation:
    """Evaluate every rule of ``taxonomy`` for every town.

    Parameters
    ----------
    frame : DataFrame
        One row per town with the fields the rules name.
    overrides : dict, optional
        ``{field: ndarray (draws, n)}`` replacing frame columns (Monte Carlo draws);
        fields not overridden are held at their frame value in every draw.
    """
    overrides = overrides or {}
    n = len(frame)
    d = next((v.shape[0] for v in overrides.values()), 1)
    groups = _groups(frame)
    rules = _all_rules(taxonomy)
    shape = (d, len(rules), n)
    value, raw_all, margin, norm = (np.full(shape, np.nan) for _ in range(4))
    passed = np.zeros(shape, bool)
    cache: dict = {}
    missing: list[str] = []
    for i, (_, rule) in enumerate(rules):
        if rule.field in overrides:
            raw = np.asarray(overrides[rule.field], dtype=float)
        else:
            base = _base_field(frame, rule.field)
            if base is None:
                if rule.field not in missing and not rule.optional:
                    missing.append(rule.field)
                continue
            raw = base[None, :] if base.dtype == object else np.broadcast_to(base, (d, n))
        if rule.op == "contains":
            m, ok = _margin(rule, raw)
            margin[:, i], norm[:, i], passed[:, i] = m, m, ok
            continue
        key = (rule.field, rule.scale)
        if key not in cache:
            cache[key] = _scaled(raw, rule, groups)
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
        with np.errstate(invalid="ignore"):
            s = np.nanmin(np.where(np.isnan(norm[:, idx]), -np.inf, norm[:, idx]), axis=1)
        strength[:, j] = np.where(tp[:, j], s, -np.inf)
    # rounding makes float noise a tie; argmax then takes the first = highest priority
    best = np.argmax(np.round(strength, 9), axis=1)
    labels = np.array(targets + [taxonomy.fallback.id], dtype=object)
    primary = np.where(tp.any(axis=1), labels[best], taxonomy.fallback.id)
    roles = {}
    for role in taxonomy.roles:
        idx = np.flatnonzero(owners == role.id)
        roles[role.id] = (passed[:, idx].any(axis=1) if role.match == "any"
                          else passed[:, idx].all(axis=1))
    return Evaluation(rules, value, raw, margin, norm, passed, targets, tp, strength,
                      primary.astype(str), roles)


# -- reported classification -----------------------------------------------------------------
def _fmt(x: float, like: float) -> str:
    if np.isnan(x):
        return "NA"
    if float(like).is_integer() and abs(x - round(x)) < 1e-9:
        return f"{x:.0f}"
    return f"{x:.2f}"


def _texts(tax: Taxonomy, rule: Rule, value, margin, passed) -> tuple[list, list]:
    zh_f, en_f = tax.field_label(rule.field, "zh"), tax.field_label(rule.field, "en")
    zh, en = [], []
    for v, m, ok in zip(value, margin, passed):
        if rule.op == "contains":
            zh.append(f"{zh_f}{'含' if ok else '不含'}“{rule.threshold}”：{'通过' if ok else '未通过'}")
            en.append(f"{en_f} {'contains' if ok else 'lacks'} '{rule.threshold}': "
                      f"{'passes' if ok else 'fails'}")
            continue
        if np.isnan(v):
            zh.append(f"{zh_f} 缺失：未通过（无数据）")
            en.append(f"{en_f} missing: fails (no data)")
            continue
        op = _SHOW[rule.op] if ok else _NEG[rule.op]
        t = float(rule.threshold)
        if rule.scale.startswith("percentile"):
            pre_zh = "县内" if rule.scale.endswith("county") else ""
            pre_en = "county " if rule.scale.endswith("county") else ""
            sv, st, sm = f"P{v:.0f}", f"P{t:.0f}", f"{abs(m):.0f}"
            zh_body, en_body = f"{pre_zh}{sv} {op} {st}", f"{pre_en}{sv} {op} {st}"
        elif rule.scale == "rank_county":
            sm = f"{abs(m):.0f}"
            zh_body = f"县内第{v:.0f} {op} 第{t:.0f}"
            en_body = f"rank {v:.0f} in county {op} {t:.0f}"
        else:
            sm = _fmt(abs(m), t if float(t).is_integer() and float(v).is_integer() else 0.5)
            zh_body = en_body = f"{_fmt(v, t)} {op} {_fmt(t, t)}"
        if ok:
            zh.append(f"{zh_f} {zh_body}：通过，余量 {sm}")
            en.append(f"{en_f} {en_body}: passes by {sm}")
        else:
            zh.append(f"{zh_f} {zh_body}：未通过，差 {sm}")
            en.append(f"{en_f} {en_body}: fails by {sm}")
    return zh, en


def _trace(frame, tax: Taxonomy, ev: Evaluation) -> pd.DataFrame:
    n = len(frame)
    codes = (frame["town_code"].astype("string") if "town_code" in frame
             else pd.Series(frame.index.astype(str), index=frame.index))
    names = frame["town"] if "town" in frame else pd.Series([""] * n, index=frame.index)
    owner_pass = {t: ev.target_passed[0, j] for j, t in enumerate(ev.targets)}
    owner_pass.update({r: v[0] for r, v in ev.roles.items()})
    parts = []
    for i, (owner, rule) in enumerate(ev.rules):
        zh, en = _texts(tax, rule, ev.value[0, i], ev.margin[0, i], ev.passed[0, i])
        parts.append(pd.DataFrame({
            "town_code": codes.to_numpy(), "town": names.to_numpy(), "target": owner,
            "rule_id": rule.id, "field": rule.field, "scale": rule.scale, "op": rule.op,
            "threshold": rule.threshold, "value": ev.value[0, i],
            "raw_value": ev.raw[0, i], "margin": ev.margin[0, i],
            "norm_margin": ev.norm[0, i], "passed": ev.passed[0, i],
            "target_passed": owner_pass[owner], "text_zh": zh, "text_en": en,
            "_town": np.arange(n), "_rule": i}))
    if not parts:
        return pd.DataFrame(columns=TRACE_COLUMNS)
    out = pd.concat(parts, ignore_index=True).sort_values(["_town", "_rule"], kind="stable")
    return out[TRACE_COLUMNS].reset_index(drop=True)


def _categories(frame, tax: Taxonomy, ev: Evaluation) -> pd.DataFrame:
    primary = ev.primary[0]
    cat = np.array([p.partition("/")[0] for p in primary], dtype=object)
    sub = np.array([p.partition("/")[2] for p in primary], dtype=object)
    pal = tax.palette()
    zh_sub = {f"{c.id}/{s.id}": s.zh for c in tax.categories for s in c.subtypes}
    en_sub = {f"{c.id}/{s.id}": s.en for c in tax.categories for s in c.subtypes}
    strength = ev.strength[0]  # (T, n)
    tnames = np.array(ev.targets, dtype=object)
    secondary = []
    for i in range(len(frame)):  # string joining only; decisions are vectorised above
        ok = np.flatnonzero(np.isfinite(strength[:, i]))
        ok = ok[np.argsort(-strength[ok, i], kind="stable")]
        secondary.append(";".join(t for t in tnames[ok] if t != primary[i]))
    role_ids = list(ev.roles)
    role_mat = np.array([ev.roles[r][0] for r in role_ids]).reshape(len(role_ids), -1)
    roles = [";".join(r for r, on in zip(role_ids, role_mat[:, i]) if on)
             for i in range(len(frame))]
    best = np.max(np.where(np.isfinite(strength), strength, -np.inf), axis=0)
    return pd.DataFrame({
        "category": cat, "subtype": sub,
        "category_zh": [pal[c]["zh"] for c in cat],
        "subtype_zh": [zh_sub.get(p, "") for p in primary],
        "category_en": [pal[c]["en"] for c in cat],
        "subtype_en": [en_sub.get(p, "") for p in primary],
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
    cats = _categories(frame, taxonomy, ev)
    trace = _trace(frame, taxonomy, ev)
    if "declared" in frame:
        cats = cats.join(declared_status(frame["declared"], cats, trace, taxonomy))
    return cats, trace


# -- declared categories ----------------------------------------------------------------------
def _failing(rows: pd.DataFrame) -> str:
    return "；".join(rows.loc[~rows["passed"].astype(bool), "text_zh"])


def _judge(tid: str, passed_targets: set, town_rows: pd.DataFrame, tax: Taxonomy):
    """(status, reason) for one town's declared target id."""
    cat_ids = {c.id for c in tax.categories}
    if tid == tax.fallback.id:
        if not passed_targets:
            return "supported", "没有类别的规则全部通过"
        return "partly supported", f"证据还支持：{'、'.join(tax.labels(t)[0] for t in sorted(passed_targets))}"
    if tid in cat_ids and tid not in tax.priority:  # a category with subtypes
        owners = [t for t in tax.priority if t.partition("/")[0] == tid]
        hit = [t for t in owners if t in passed_targets]
        if hit:
            return "supported", f"通过：{'、'.join(tax.labels(t)[0] for t in hit)}"
        rows = town_rows[town_rows["target"].isin(owners)]
    else:
        rows = town_rows[town_rows["target"] == tid]
        if bool(rows["target_passed"].all()) and len(rows):
            return "supported", "规则全部通过"
    reason = _failing(rows)
    if rows["passed"].astype(bool).any():
        return "partly supported", reason
    cat = tid.partition("/")[0]
    sib = [t for t in passed_targets if t.partition("/")[0] == cat and t != tid]
    if sib:
        return "partly supported", reason + f"；同类通过：{'、'.join(tax.labels(t)[0] for t in sib)}"
    return "not supported", reason


def declared_status(declared: pd.Series, categories: pd.DataFrame, trace: pd.DataFrame,
                    taxonomy: Taxonomy) -> pd.DataFrame:
    """Compare each town's self-declared category (自评类别) with the rule evidence.

    Returns ``declared_target`` (resolved id or ''), ``declared_status``
    (``supported`` / ``partly supported`` / ``not supported`` / '' when empty or not
    recognised) and ``declared_reason`` (the failing rules, in Chinese).
    """
    out = pd.DataFrame({"declared_target": "", "declared_status": "", "declared_reason": ""},
                       index=categories.index, dtype=object)
    per_town = len(trace) // max(1, len(categories))  # the trace is town-major, same rules each
    unknown = []
    for pos, (idx, text) in enumerate(declared.items()):
        if pd.isna(text) or not str(text).strip():
            continue
        tid = taxonomy.resolve_declared(text)
        if tid is None:
            unknown.append((pos, str(text)))
            out.loc[idx, "declared_reason"] = f"无法识别的自评类别“{text}”"
            continue
        rows = trace.iloc[pos * per_town:(pos + 1) * per_town]
        passed_targets = {t for t in categories.iloc[pos][["target", "secondary"]]
                          .str.cat(sep=";").split(";") if t and t != taxonomy.fallback.id}
        status, reason = _judge(tid, passed_targets, rows, taxonomy)
        out.loc[idx, ["declared_target", "declared_status", "declared_reason"]] = [
            tid, status, reason]
    if unknown:
        rows = ", ".join(f"row {p + 1} {t!r}" for p, t in unknown[:5])
        warnings.warn(f"declared category not recognised: {rows}"
                      f"{' …' if len(unknown) > 5 else ''}; add the text to 'aliases' of a "
                      f"category in the taxonomy ({taxonomy.path})", InputWarning, stacklevel=3)
    return out


# -- Monte Carlo stability -------------------------------------------------------------------
def category_draws(frame: pd.DataFrame, taxonomy: Taxonomy, dim_scores: np.ndarray,
                   dims: list[str], *, extra: dict | None = None) -> np.ndarray:
    """Primary target per uncertainty draw, vectorised over draws.

    Parameters
    ----------
    dim_scores : ndarray (draws, n_towns, n_dims)
        ``MCResult.dim_scores``; column ``j`` replaces ``score_<dims[j]>`` (or ``composite``
        when ``dims[j] == "composite"``).
    extra : dict, optional
        Further ``{field: ndarray (draws, n)}`` overrides (e.g. composite draws).

    Returns
    -------
    ndarray of str, shape (draws, n)
        Target ids as in ``categories["target"]``: ``category/subtype`` for categories with
        subtypes, the category id otherwise, the fallback id (``developing``) when none passes.
    """
    dim_scores = np.asarray(dim_scores, dtype=float)
    if dim_scores.ndim != 3 or dim_scores.shape[1] != len(frame) or \
            dim_scores.shape[2] != len(dims):
        raise ValueError(f"dim_scores has shape {dim_scores.shape}; expected "
                         f"(draws, {len(frame)} towns, {len(dims)} dims)")
    over = {(d if d == "composite" else f"score_{d}"): dim_scores[:, :, j]
            for j, d in enumerate(dims)}
    over.update(extra or {})
    return evaluate(frame, taxonomy, over).primary


def stability_from_draws(draws: np.ndarray, reported) -> pd.DataFrame:
    """Share of draws giving the reported label, and the most frequent other label.

    Returns DataFrame with ``stability`` (0–1) and ``runner_up`` ('' when every draw agrees).
    """
    draws = np.asarray(draws).astype(str)
    reported = np.asarray(reported).astype(str)
    d, n = draws.shape
    labels, codes = np.unique(np.concatenate([draws.ravel(), reported]), return_inverse=True)
    dc, rc = codes[: d * n].reshape(d, n), codes[d * n:]
    counts = np.zeros((n, len(labels)), int)
    np.add.at(counts, (np.broadcast_to(np.arange(n), (d, n)), dc), 1)
    stability = counts[np.arange(n), rc] / d
    counts[np.arange(n), rc] = -1
    ru = np.argmax(counts, axis=1)
    runner = np.where(counts[np.arange(n), ru] > 0, labels[ru], "")
    return pd.DataFrame({"stability": stability, "runner_up": runner})
