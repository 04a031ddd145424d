"""Year over year: compare two finished runs (``towntype compare OLD_RUN NEW_RUN``).

Reads only the run folders (``towns.csv``, ``model.json``, ``run.json``, ``towns.gpkg``
for the map) and writes into ``--out`` the files README.md lists.

**Shared model.** Scores of two runs are comparable only under one model.  The old run's
``model.json`` is applied to both years' indicator values (from ``towns.csv``).  When the
new run was made with ``--reference OLD_RUN`` its model *is* the old one (same sha256) and
the recomputed scores are the new run's own; otherwise the new run's own composite is kept
beside the comparable one (``composite_new_run``).

**Decomposition** (arithmetic aggregation, exact).  With ``z`` the normalised values, ``w``
the indicator weights within dimension *d* and ``W_y`` the sum of the weights of the
indicators a town has in year *y*, the dimension score is ``S = Σ w z / W`` (times
``100 / (hi − lo)`` for rescaled z-scores), so

    contribution_j = w_j · (z_new / W_new − z_old / W_old)   (= w_j / W · Δz_j when the
                                                               same values are present)

sums exactly to ``ΔS_d``.  For the composite ``C = Σ v_d S_d / V`` each indicator
contributes ``v_d / V_new · contribution_j``; when a dimension is scored in one year
only (or ``V`` changes), what is left is ``composite_reweighting`` — zero otherwise —
and the indicator contributions plus it sum exactly to ``ΔC``.  With geometric
aggregation the change of each score is split in proportion to each item's change of
``w · ln(1 + z) / W`` (the sum is still exact; the shares are approximate).

**Noise.** A category change is ``beyond noise`` when the category was stable in both
years (``stability`` ≥ :data:`STABLE`, share of uncertainty draws giving the same
category); a rank change when the two years' ``rank_p05``–``rank_p95`` intervals do not
overlap.  Runs made with ``--draws 0`` have neither: the columns are empty and the
console says so.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from html import escape
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from pyogrio.errors import DataLayerError, DataSourceError, FieldError

from classify import __version__
from classify.model_io import MODEL_FILE, load_model
from classify.outputs import staged_output, write_csv
from classify.report import read_run_csv, run_level
from classify.scoring import ScoreModel, aggregate, block_matrix
from geo.errors import InputError
from geo.maps import save_map, town_map
from geo.static import cjk_font

__all__ = ["compare_runs", "CompareResult", "read_run", "decompose", "transition_matrix",
           "last_year", "TIERS", "STABLE", "CHANGE_CLASSES"]

#: Category tiers for up / down (higher is up); ids not listed are tier 2.  A change within
#: a tier (专业镇 ↔ 特色镇, or of subtype) is ``lateral``.
TIERS = {"strong": 3, "specialised": 2, "characteristic": 2, "developing": 1}
#: Stability from which a year's category counts as robust (the map's "stable" class).
STABLE = 0.8
#: Change classes in legend order: id → (zh, en, colour).
CHANGE_CLASSES = {
    "up": ("上升", "up", "#1a9850"),
    "down": ("下降", "down", "#d73027"),
    "lateral": ("类型转换", "lateral", "#fdae61"),
    "same": ("不变", "same", "#e0e0e0"),
    "new": ("新设", "new", "#4575b4"),
    "gone": ("撤并/撤销", "gone", "#525252"),
}
_CODE_COLUMNS = ("town_code", "county_code", "city_code")
_FLAG_UNITS = ("是/否", "flag")
_NEEDED = ("town_code", "town", "category", "composite", "rank")


@dataclass
class Run:
    """One finished run as read back: its folder, towns, model and manifest."""

    path: Path
    towns: pd.DataFrame
    model: ScoreModel
    model_data: dict
    model_sha256: str
    manifest: dict


@dataclass
class CompareResult:
    """What :func:`compare_runs` computed (and wrote, when given ``out``)."""

    transitions: pd.DataFrame
    contributions: pd.DataFrame
    matrix: pd.DataFrame
    report: pd.DataFrame
    same_model: bool
    files: list[Path] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    seconds: dict = field(default_factory=dict)
    old: Run | None = None
    new: Run | None = None


# ------------------------------------------------------------------------------ reading
def read_run(path: str | Path) -> Run:
    """Read ``towns.csv``, ``model.json`` and ``run.json`` of a run folder."""
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{path} is not a run folder: give the --out folder of a "
                         "finished `towntype run` or `towntype demo`", path=path)
    towns_csv = path / "towns.csv"
    if not towns_csv.is_file():
        raise InputError("no towns.csv in this folder: give the --out folder of a finished "
                         "run", path=path)
    if not (path / MODEL_FILE).is_file():
        raise InputError("no model.json in this run folder (runs made before model.json "
                         "existed lack it): re-run that year with this towntype to write it",
                         path=path)
    towns = read_run_csv(towns_csv, dtype={c: str for c in _CODE_COLUMNS},
                         keep_default_na=True)
    missing = [c for c in _NEEDED if c not in towns.columns]
    if missing:
        raise InputError(f"towns.csv lacks column(s) {', '.join(missing)}: not a towntype "
                         "run table", path=towns_csv, column=missing[0])
    if towns.empty:
        raise InputError("towns.csv 没有镇街（no rows）：restore it from the run, or re-run that "
                         "year", path=towns_csv)
    blank = towns["category"].isna() | (towns["category"].astype(str).str.strip() == "")
    if blank.any():
        raise InputError("类别为空（no category）：restore towns.csv from the run, or re-run that "
                         "year", path=towns_csv, row=int(np.flatnonzero(blank)[0]) + 2,
                         column="category")
    dup = towns["town_code"][towns["town_code"].duplicated()]
    if len(dup):
        raise InputError(f"town_code {dup.iloc[0]} appears twice in towns.csv",
                         path=towns_csv, column="town_code")
    model, data, digest = load_model(path / MODEL_FILE)
    manifest = {}
    if (path / "run.json").is_file():
        try:
            manifest = json.loads((path / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise InputError(f"run.json 无法读取（cannot be read: {err}）：restore it, or "
                             "re-run that year", path=path / "run.json") from None
        if not isinstance(manifest, dict):
            raise InputError("run.json 不是运行记录（not a run manifest: a JSON object is "
                             "expected）：restore it, or re-run that year",
                             path=path / "run.json")
    record = manifest.get("model", {})
    if not isinstance(record, dict) or not isinstance(record.get("reference"), (dict, type(None))):
        raise InputError("run.json 的模型记录不是对象（key model / model.reference is not a JSON "
                         "object）：restore run.json, or re-run that year", path=path / "run.json")
    return Run(path, towns, model, data, digest, manifest)


def _read_crosswalk(path: str | Path | None) -> pd.DataFrame:
    """``old_code,new_code`` rows (also 旧代码/新代码); empty without a file."""
    if path is None:
        return pd.DataFrame({"old_code": [], "new_code": []}, dtype=str)
    path = Path(path)
    if not path.is_file():
        raise InputError("crosswalk file not found (--crosswalk)", path=path)
    cw = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
    cw = cw.rename(columns={"旧代码": "old_code", "新代码": "new_code"})
    for col in ("old_code", "new_code"):
        if col not in cw.columns:
            raise InputError(f"the crosswalk needs columns old_code,new_code (or 旧代码,新代码);"
                             f" found {', '.join(cw.columns)}", path=path, column=col)
    cw = cw[["old_code", "new_code"]].apply(lambda s: s.str.strip())
    bad = cw["old_code"].duplicated()
    if bad.any():
        raise InputError(f"old_code {cw['old_code'][bad].iloc[0]} is listed twice: one old "
                         "town goes to one new town", path=path,
                         row=int(np.flatnonzero(bad)[0]) + 2, column="old_code")
    return cw


# ------------------------------------------------------------------------------ pairing
def _pair(old: pd.DataFrame, new: pd.DataFrame, crosswalk: pd.DataFrame):
    """Pairs (old row, new row) by code or crosswalk, and the accounting report."""
    old_codes, new_codes = old["town_code"].tolist(), new["town_code"].tolist()
    new_pos = {c: i for i, c in enumerate(new_codes)}
    cw = dict(zip(crosswalk["old_code"], crosswalk["new_code"]))
    into, old_set = Counter(cw.values()), set(old_codes)
    pairs, rows, merged_into = [], [], {}
    for i, code in enumerate(old_codes):
        target = cw.get(code)
        if target is not None and target != code and target in new_pos:
            if into[target] > 1 or target in old_set:
                row = ("merged", "crosswalk", target, f"并入 {target}（merged, crosswalk）")
                merged_into.setdefault(target, []).append(code)
            else:
                pairs.append((i, new_pos[target], "crosswalk"))
                row = ("matched", "crosswalk", target, "代码变更（renamed）")
        elif code in new_pos:
            pairs.append((i, new_pos[code], "code"))
            row = ("matched", "code", code, "")
        elif target is not None:
            row = ("gone", "crosswalk", "", f"crosswalk 指向 {target}，新一年无此镇（not in the new run）")
        else:
            row = ("gone", "", "", "新一年无此代码（code not in the new run; a crosswalk can link it）")
        rows.append(("old", i + 1, code, *row))
    source = {j: (i, how) for i, j, how in pairs}
    for j, code in enumerate(new_codes):
        extra = "、".join(merged_into.get(code, ()))
        if j in source:                 # a town that absorbed others keeps its pair; say so
            i, how = source[j]
            row = ("matched", how, old_codes[i],
                   f"并入了 {extra}（absorbed merged towns: values include them）" if extra else "")
        elif extra:
            row = ("new", "crosswalk", "", f"由 {extra} 合并设立（formed by merger, crosswalk）")
        else:
            row = ("new", "", "", "上一年无此代码（code not in the old run）")
        rows.append(("new", j + 1, code, *row))
    report = pd.DataFrame(rows, columns=["source", "source_row", "town_code", "status", "how",
                                         "matched_to", "reason"])
    return pairs, report


# ------------------------------------------------------------------------ decomposition
def _paired(model: ScoreModel, old: pd.DataFrame, new: pd.DataFrame, io: np.ndarray,
            jn: np.ndarray) -> dict:
    """:func:`decompose` of rows ``io`` of ``old`` paired with rows ``jn`` of ``new``, with
    their values ``X_old, X_new`` and normalised values ``Z_old, Z_new``."""
    out = {}
    for side, towns, rows in (("old", old, io), ("new", new, jn)):
        X = towns.reindex(columns=model.indicators).apply(pd.to_numeric, errors="coerce")
        county = towns["county"] if "county" in towns.columns else None
        out[f"X_{side}"] = X.to_numpy(dtype=float)[rows]
        out[f"Z_{side}"] = model.normalised(X, county)[0][rows]
    return {**decompose(model, out["Z_old"], out["Z_new"]), **out}


def _dim_terms(model: ScoreModel, Z: np.ndarray):
    """Per item ``w z / W`` (or ``w ln(1+z) / W``), and the dimension scores."""
    ok = ~np.isnan(Z)
    Zf = np.where(ok, Z, 0.0)
    if model.aggregation == "geometric":
        Zf = np.log1p(np.clip(Zf, 0.0, None))
    onehot = block_matrix(np.ones(Z.shape[1]), model.dim_index, len(model.dims))
    W = (ok * model.w_in) @ onehot                      # (n, D)
    Wj = W[:, model.dim_index]
    with np.errstate(invalid="ignore", divide="ignore"):
        terms = np.where(Wj > 0, model.w_in * Zf / np.where(Wj > 0, Wj, 1.0), 0.0)
    return terms, model.dim_scores(Z)


def decompose(model: ScoreModel, Z_old: np.ndarray, Z_new: np.ndarray):
    """Exact split of each score change into indicator contributions.

    Parameters
    ----------
    model : ScoreModel
        The shared model.
    Z_old, Z_new : ndarray (n, k)
        Normalised values of the same towns in the two years (NaN = missing).

    Returns
    -------
    dict with ``S_old, S_new`` (n, D), ``C_old, C_new`` (n,), ``dim`` (n, k) the
    contributions to the dimension score changes, ``comp`` (n, k) to the composite change
    and ``reweighting`` (n,) the rest of the composite change (zero when both years have
    the same dimensions scored).
    """
    D = len(model.dims)
    t_old, S_old = _dim_terms(model, Z_old)
    t_new, S_new = _dim_terms(model, Z_new)
    dS = S_new - S_old
    if model.aggregation == "geometric":
        dim = _proportional(t_new - t_old, model.dim_index, D, dS)
    elif model.dim_lo is None:
        dim = t_new - t_old
    else:
        span = np.where(model.dim_hi > model.dim_lo, model.dim_hi - model.dim_lo, 1.0)
        dim = (t_new - t_old) * (100.0 / span)[model.dim_index]
    both = ~np.isnan(S_old) & ~np.isnan(S_new)
    dim = np.where(both[:, model.dim_index], dim, 0.0)
    v = model.w_dim
    C_old = aggregate(S_old, v[:, None], model.aggregation)[:, 0]
    C_new = aggregate(S_new, v[:, None], model.aggregation)[:, 0]
    if model.aggregation == "geometric":
        ld = lambda S: np.where(np.isnan(S), 0.0, np.log1p(np.clip(np.nan_to_num(S), 0, None)))
        V = np.where(both, v, 0.0).sum(axis=1, keepdims=True)
        share = np.where(both, v * (ld(S_new) - ld(S_old)), 0.0) / np.where(V > 0, V, 1.0)
        tot = share.sum(axis=1)
        # the change over the dimensions scored in both years is split; the rest (a
        # dimension scored in one year only) is the re-weighting
        on_both = lambda S: aggregate(np.where(both, S, np.nan), v[:, None], "geometric")[:, 0]
        dC_both = np.nan_to_num(on_both(S_new) - on_both(S_old))
        dSf = np.nan_to_num(dS)
        with np.errstate(invalid="ignore", divide="ignore"):
            dimC = np.where(tot[:, None] != 0, dC_both[:, None] * share
                            / np.where(tot[:, None] != 0, tot[:, None], 1.0), 0.0)
            per = np.where(dSf[:, model.dim_index] != 0,
                           dim / np.where(dSf != 0, dSf, 1.0)[:, model.dim_index], 0.0)
        comp = per * dimC[:, model.dim_index]
        reweighting = (C_new - C_old) - comp.sum(axis=1)          # the rest, by difference
    else:
        V_new = np.where(~np.isnan(S_new), v, 0.0).sum(axis=1)
        comp = dim * (v[model.dim_index] / np.where(V_new > 0, V_new, 1.0)[:, None])
        reweighting = _reweighting(v, S_old, S_new, C_old, C_new)
    return {"S_old": S_old, "S_new": S_new, "C_old": C_old, "C_new": C_new, "dim": dim,
            "comp": comp, "reweighting": reweighting}


def _reweighting(v, S_old, S_new, C_old, C_new):
    """Arithmetic composite change not due to indicator changes: dimensions scored in one
    year only, and the re-scaling of the others when the dimension weights present
    change (``Σ_d v_d S_old (1/V_new − 1/V_old)`` over the dimensions of both years)."""
    p_old, p_new = ~np.isnan(S_old), ~np.isnan(S_new)
    V_old = np.where(p_old, v, 0.0).sum(axis=1)
    V_new = np.where(p_new, v, 0.0).sum(axis=1)
    inv = lambda V: np.where(V > 0, 1.0 / np.where(V > 0, V, 1.0), 0.0)
    both = p_old & p_new
    so, sn = np.nan_to_num(S_old), np.nan_to_num(S_new)
    out = (np.where(both, v * so, 0.0).sum(axis=1) * (inv(V_new) - inv(V_old))
           + np.where(p_new & ~p_old, v * sn, 0.0).sum(axis=1) * inv(V_new)
           - np.where(p_old & ~p_new, v * so, 0.0).sum(axis=1) * inv(V_old))
    return np.where(np.isnan(C_old) | np.isnan(C_new), np.nan, out)


def _proportional(dt, dim_index, D, dS):
    """Split ``dS`` per dimension over the items in proportion to their ``dt``."""
    tot = dt @ block_matrix(np.ones(dt.shape[1]), dim_index, D)
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(tot != 0, np.nan_to_num(dS) / np.where(tot != 0, tot, 1.0), 0.0)
    return dt * f[:, dim_index]


# ------------------------------------------------------------------------------ tables
def _text(s: pd.Series) -> pd.Series:
    return s.astype(object).where(s.notna(), "").astype(str)


def _col(towns: pd.DataFrame, col: str) -> pd.Series:
    """A text column, empty strings where absent."""
    if col not in towns.columns:
        return pd.Series([""] * len(towns), index=towns.index, dtype=object)
    return _text(towns[col])


def _num(towns: pd.DataFrame, col: str) -> np.ndarray:
    if col not in towns.columns:
        return np.full(len(towns), np.nan)
    return pd.to_numeric(towns[col], errors="coerce").to_numpy(dtype=float)


def _pct(old: float, new: float, flag: bool) -> str:
    if flag:
        yn = lambda x: "是" if x >= 0.5 else "否"
        return f"{yn(old)}→{yn(new)}"
    if np.isnan(old):
        return "" if np.isnan(new) else "缺失→有值"
    if np.isnan(new):
        return "有值→缺失"
    if old == 0:
        return "从 0 起" if new != 0 else "±0"
    return f"{(new - old) / abs(old):+.0%}"


def _drivers(labels, flags, Xo, Xn, contrib, top: int = 3) -> list[str]:
    """Per town the ``top`` indicators with the largest |contribution|, as text
    (``规上工业总产值 +38%（+4.2 分）``)."""
    out = []
    for i, order in enumerate(np.argsort(-np.abs(contrib), axis=1, kind="stable")[:, :top]):
        parts = [f"{labels[j]} {_pct(Xo[i, j], Xn[i, j], flags[j])}（{contrib[i, j]:+.1f} 分）"
                 for j in order if np.isfinite(contrib[i, j]) and abs(contrib[i, j]) >= 0.05]
        out.append("；".join(parts))
    return out


def _noise(t: pd.DataFrame, changed: np.ndarray) -> None:
    """Add whether the category / rank change exceeds the uncertainty of either year."""
    so, sn = t["stability_old"].to_numpy(), t["stability_new"].to_numpy()
    cat = np.where(changed & ~np.isnan(so) & ~np.isnan(sn), (so >= STABLE) & (sn >= STABLE),
                   np.nan)
    lo_o, hi_o, lo_n, hi_n = (t[f"rank_{p}"].to_numpy()
                              for p in ("p05_old", "p95_old", "p05_new", "p95_new"))
    rank = np.where(~np.isnan(lo_o + hi_o + lo_n + hi_n), (hi_n < lo_o) | (lo_n > hi_o), np.nan)
    t["category_change_beyond_noise"] = pd.array(cat, dtype="boolean")
    t["rank_change_beyond_noise"] = pd.array(rank, dtype="boolean")


def _transitions(o: pd.DataFrame, n: pd.DataFrame, model_data: dict, pairs, dec, model
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The transitions and contributions of the paired towns (rows ``o`` and ``n``)."""
    cat_old, cat_new = _col(o, "category"), _col(n, "category")
    sub_old, sub_new = _col(o, "subtype"), _col(n, "subtype")
    tier_old, tier_new = (c.map(TIERS).fillna(2).to_numpy() for c in (cat_old, cat_new))
    same = (cat_old == cat_new).to_numpy() & (sub_old == sub_new).to_numpy()
    cls = np.select([same, tier_new > tier_old, tier_new < tier_old], ["same", "up", "down"],
                    "lateral")
    changed = ~same
    meta = {i["id"]: i for i in model_data["indicators"]}
    labels = [meta.get(i, {}).get("label_zh") or i for i in model.indicators]
    flags = [meta.get(i, {}).get("unit") in _FLAG_UNITS for i in model.indicators]
    t = pd.DataFrame({
        "town_code": n["town_code"], "old_code": o["town_code"], "town": n["town"],
        "county": _col(n, "county"),
        "change": cls, "link": [p[2] for p in pairs], "changed": changed,
        "category_old": cat_old, "subtype_old": sub_old,
        "category_new": cat_new, "subtype_new": sub_new,
        "category_zh_old": _col(o, "category_zh"), "category_zh_new": _col(n, "category_zh"),
        "composite_old": dec["C_old"], "composite_new": dec["C_new"],
        "d_composite": dec["C_new"] - dec["C_old"],
        "composite_old_run": _num(o, "composite"), "composite_new_run": _num(n, "composite"),
        "rank_old": _num(o, "rank"), "rank_new": _num(n, "rank"),
        "rank_p05_old": _num(o, "rank_p05"), "rank_p95_old": _num(o, "rank_p95"),
        "rank_p05_new": _num(n, "rank_p05"), "rank_p95_new": _num(n, "rank_p95"),
        "stability_old": _num(o, "stability"), "stability_new": _num(n, "stability"),
    })
    t["d_rank"] = t["rank_old"] - t["rank_new"]            # > 0: moved up the ranking
    _noise(t, changed)
    Xo, Xn = dec["X_old"], dec["X_new"]
    t["drivers"] = _drivers(labels, flags, Xo, Xn, dec["comp"])
    for d, dim in enumerate(model.dims):
        t[f"d_score_{dim}"] = dec["S_new"][:, d] - dec["S_old"][:, d]
        idx = np.flatnonzero(model.dim_index == d)
        t[f"driver_{dim}"] = _drivers([labels[j] for j in idx], [flags[j] for j in idx],
                                      Xo[:, idx], Xn[:, idx], dec["dim"][:, idx], top=1)
    t["composite_reweighting"] = dec["reweighting"]
    return t, _contributions(t, model, labels, dec)


def _contributions(t, model, labels, dec) -> pd.DataFrame:
    n, k = dec["dim"].shape
    w = model.w_in * model.w_dim[model.dim_index]
    return pd.DataFrame({
        "town_code": np.repeat(t["town_code"].to_numpy(), k),
        "town": np.repeat(t["town"].to_numpy(), k),
        "indicator": np.tile(model.indicators, n),
        "label_zh": np.tile(labels, n),
        "dimension": np.tile([model.dims[d] for d in model.dim_index], n),
        "value_old": dec["X_old"].ravel(), "value_new": dec["X_new"].ravel(),
        "norm_old": dec["Z_old"].ravel(), "norm_new": dec["Z_new"].ravel(),
        "weight": np.tile(w, n),
        "contribution_dimension": dec["dim"].ravel(),
        "contribution_composite": dec["comp"].ravel(),
    })


def _unpaired(run: Run, report: pd.DataFrame, side: str, status: str) -> pd.DataFrame:
    """Transitions rows of the towns of ``run`` (the ``side`` year) left unpaired."""
    hit = (report["source"] == side) & (report["status"] == status)
    towns = run.towns.iloc[report.loc[hit, "source_row"].to_numpy() - 1].reset_index(drop=True)
    other = "new" if side == "old" else "old"
    out = pd.DataFrame({"town_code": towns["town_code"], "town": towns["town"],
                        "county": _col(towns, "county"), "change": "gone" if status ==
                        "merged" else status, "link": status, "changed": True,
                        f"category_{side}": _col(towns, "category"),
                        f"subtype_{side}": _col(towns, "subtype"),
                        f"category_zh_{side}": _col(towns, "category_zh"),
                        f"composite_{side}_run": _num(towns, "composite"),
                        f"rank_{side}": _num(towns, "rank")})
    out[f"category_{other}"] = ""
    if side == "old":
        out["old_code"] = towns["town_code"]
    return out


def transition_matrix(transitions: pd.DataFrame, labels: dict[str, str] | None = None
                      ) -> pd.DataFrame:
    """Counts old category × new category; a row for new towns, a column for gone ones."""
    labels = labels or {}
    new_row, gone_col = "（新设 new）", "（撤并/撤销 gone）"
    old = transitions["category_old"].replace("", new_row).map(lambda c: labels.get(c, c))
    new = transitions["category_new"].replace("", gone_col).map(lambda c: labels.get(c, c))
    m = pd.crosstab(old.rename("上年类别 old"), new.rename("今年类别 new"))
    tiers = [labels.get(c, c) for c in TIERS]
    order = tiers + [c for c in m.index if c not in tiers]
    rows = [r for r in order if r in m.index and r != new_row] + \
        ([new_row] if new_row in m.index else [])
    cols = [c for c in order if c in m.columns and c != gone_col] + \
        ([gone_col] if gone_col in m.columns else [])
    return m.reindex(index=rows, columns=cols, fill_value=0)


# ------------------------------------------------------------------ for the sheets
def last_year(reference: str | Path, towns: pd.DataFrame) -> dict[str, dict]:
    """Per town code of this year's ``towns`` (scored with ``--reference``): last year's
    category and the indicator that moved the composite most in its direction.

    Returns ``{town_code: {"old_zh", "old_en", "driver_zh", "driver_en"}}`` for the towns
    of both years (by code); the sheets put it in words.
    """
    if not (Path(reference) / "towns.csv").is_file():       # a model.json alone
        return {}
    ref = read_run(reference)
    model = ref.model
    if any(i not in towns.columns for i in model.indicators):
        return {}
    codes = towns["town_code"].astype(str).tolist()
    io = pd.Index(ref.towns["town_code"]).get_indexer(codes)      # codes are unique
    jn = np.flatnonzero(io >= 0)
    if not jn.size:
        return {}
    io = io[jn]
    dec = _paired(model, ref.towns, towns.reset_index(drop=True), io, jn)
    dC = np.nan_to_num(dec["C_new"] - dec["C_old"])
    signed = np.nan_to_num(dec["comp"]) * np.where(dC < 0, -1.0, 1.0)[:, None]
    top = signed.argmax(axis=1)
    meta = {i["id"]: i for i in ref.model_data["indicators"]}
    o = ref.towns.iloc[io].reset_index(drop=True)
    labels = zip(*(_col(o, c) for c in ("category_zh", "category_en", "subtype_zh",
                                         "subtype_en")))
    out = {}
    for r, (j_new, (cat_zh, cat_en, sub_zh, sub_en)) in enumerate(zip(jn, labels)):
        k = int(top[r])
        ind = meta.get(model.indicators[k], {})
        flag = ind.get("unit") in _FLAG_UNITS
        change = (_pct(dec["X_old"][r, k], dec["X_new"][r, k], flag) if signed[r, k] > 0.05
                  else "")
        out[codes[j_new]] = {
            "old_zh": f"{cat_zh}·{sub_zh}" if sub_zh else cat_zh,
            "old_en": (f"{cat_en} · {sub_en}" if sub_en else cat_en) or cat_zh,
            "driver_zh": f"{ind.get('label_zh', '')} {change}" if change else "",
            "driver_en": f"{ind.get('label_en') or ind.get('label_zh', '')} {change}"
            if change else ""}
    return out


# ------------------------------------------------------------------------------ writing
def _matrix_png(matrix: pd.DataFrame, path: Path, title: str) -> Path:
    # matplotlib only when a chart is drawn: `import towntype` must not load it (STYLE.md)
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    font = FontProperties(fname=cjk_font()[1])    # by file: no family lookup
    fig = Figure(figsize=(1.6 + 1.3 * matrix.shape[1], 1.2 + 0.7 * matrix.shape[0]), dpi=120)
    ax = fig.add_subplot()
    values = matrix.to_numpy()
    ax.imshow(values, cmap=matplotlib.colormaps["Blues"], aspect="auto")
    for (r, c), v in np.ndenumerate(values):
        ax.text(c, r, str(v), ha="center", va="center", fontproperties=font,
                color="white" if v > values.max() / 2 else "black")
    ax.set_xticks(range(matrix.shape[1]), matrix.columns, fontproperties=font, rotation=20,
                  ha="right")
    ax.set_yticks(range(matrix.shape[0]), matrix.index, fontproperties=font)
    ax.set_xlabel(matrix.columns.name, fontproperties=font)
    ax.set_ylabel(matrix.index.name, fontproperties=font)
    ax.set_title(title, fontproperties=font)
    fig.tight_layout()
    fig.savefig(path)
    return path


def _matrix_html(matrix: pd.DataFrame, path: Path, title: str, notes: list[str]) -> Path:
    top = max(int(matrix.to_numpy().max()), 1)
    head = "".join(f"<th>{escape(str(c))}</th>" for c in matrix.columns)
    body = []
    for r, row in matrix.iterrows():
        cells = "".join(
            f'<td style="background:rgba(33,113,181,{0.08 + 0.8 * v / top:.2f});'
            f'color:{"#fff" if v > top / 2 else "#000"}">{v}</td>' for v in row)
        body.append(f"<tr><th>{escape(str(r))}</th>{cells}</tr>")
    html = (f'<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>{escape(title)}'
            "</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:"
            "collapse}td,th{border:1px solid #ccc;padding:.4em .8em;text-align:center}"
            "</style></head><body>"
            f"<h1>{escape(title)}</h1><table><tr><th>{escape(str(matrix.index.name))} ↓ / "
            f"{escape(str(matrix.columns.name))} →</th>{head}</tr>{''.join(body)}</table>"
            + "".join(f"<p>{escape(n)}</p>" for n in notes) + "</body></html>")
    path.write_text(html, encoding="utf-8")
    return path


def _read_gpkg(path: Path) -> gpd.GeoDataFrame:
    """The ``town_code`` and shapes of a run's ``towns.gpkg`` (layer ``towns``)."""
    try:
        geo = gpd.read_file(path, layer="towns", columns=["town_code"], engine="pyogrio")
    except (DataSourceError, DataLayerError, FieldError, ValueError) as err:
        raise InputError(f"towns.gpkg 无法读取（cannot be read: {str(err)[:160]}）：restore it "
                         f"from the run, or compare with --no-map", path=path) from None
    if "town_code" not in geo.columns:
        raise InputError("towns.gpkg 缺列（lacks column）town_code：restore it from the run, "
                         "or compare with --no-map", path=path, column="town_code")
    return geo.astype({"town_code": str})


def _map(old_run: Run, new_run: Run, transitions: pd.DataFrame, path: Path, lang: str
         ) -> Path | None:
    """``compare_map.html``: 类别变化 and 综合得分变化 (None: a run has no towns.gpkg)."""
    gpkgs = [run.path / "towns.gpkg" for run in (old_run, new_run)]
    if not all(gpkg.is_file() for gpkg in gpkgs):
        return None
    old_geo, new_geo = (_read_gpkg(gpkg) for gpkg in gpkgs)
    gone = transitions["change"] == "gone"
    geo = pd.concat([old_geo[old_geo["town_code"].isin(set(transitions.loc[gone, "town_code"]))],
                     new_geo[new_geo["town_code"].isin(set(transitions.loc[~gone, "town_code"]))]],
                    ignore_index=True)             # gone towns first: drawn underneath
    keyed = transitions.drop_duplicates("town_code", keep="last").set_index("town_code")
    t = keyed.reindex(geo["town_code"]).reset_index()
    palette = {k: {"zh": zh, "en": en, "color": col}
               for k, (zh, en, col) in CHANGE_CLASSES.items()}
    frame = gpd.GeoDataFrame(
        {"town_code": t["town_code"], "town": t["town"], "county": t["county"],
         "category": t["change"], "change": t["change"], "composite_change": t["d_composite"],
         "composite": t["composite_new"]}, geometry=geo.geometry.to_numpy(), crs=4326)
    m = town_map(frame, palette=palette, layers=["change", "composite_change"], lang=lang,
                 title="镇街分类年度变化 · Year-over-year change",
                 notice=old_run.manifest.get("notice") or new_run.manifest.get("notice"),
                 subtitle=f"{old_run.path.name} → {new_run.path.name}")
    return save_map(m, path)


def _summary(t: pd.DataFrame, report: pd.DataFrame, same_model: bool, old: Run, new: Run
             ) -> list[str]:
    counts = t["change"].value_counts()
    lines = [f"比较（compare）：{old.path} → {new.path}",
             "共用模型（shared model）：" + ("今年使用了上年模型（--reference），两年得分直接可比"
                                       if same_model else
                                       "今年未用 --reference：以上年 model.json 重算两年得分再比较"
                                       "（composite_new_run 为今年自身得分）")]
    lines += [f"model.json 与 run.json 记录不符（model.json is not the one {run.path / 'run.json'} "
              f"records: sha256 differs）：scores use {run.path / MODEL_FILE}"
              for run in (old, new) if run.manifest.get("model", {}).get("sha256")
              not in (None, run.model_sha256)]
    lines.append("类别变化（category change）：" + "，".join(
        f"{CHANGE_CLASSES[k][0]}（{k}）{int(counts.get(k, 0))}" for k in CHANGE_CLASSES))
    if t["stability_old"].notna().any() and t["stability_new"].notna().any():
        real = int(t["category_change_beyond_noise"].fillna(False).astype(bool).sum())
        moved = int(t["change"].isin(["up", "down", "lateral"]).sum())
        lines.append(f"超出不确定性的类别变化（beyond noise, stability ≥ {STABLE} both years）："
                     f"{real} / {moved}")
    else:
        lines.append("未做不确定性分析（--draws 0）：无法判断变化是否超出噪声（not assessed）")
    acc = report.groupby(["source", "status"]).size()
    lines.append("逐行核对（every row accounted for, compare_report.csv）：" + "；".join(
        f"{s} {st} {int(v)}" for (s, st), v in acc.items()))
    return lines


def compare_runs(old_dir: str | Path, new_dir: str | Path, out: str | Path | None = None, *,
                 crosswalk: str | Path | None = None, lang: str = "zh",
                 map_html: bool = True, force: bool = False) -> CompareResult:
    """Compare two finished runs; with ``out`` write the tables, chart and map there
    (``out`` is replaced whole, like a run's; ``force`` as ``--force``).

    Raises
    ------
    geo.errors.InputError
        A folder is not a finished run, the crosswalk is malformed, or the new run lacks
        an indicator of the old model.
    classify.errors.ConfigError
        A ``model.json`` is invalid.
    """
    t0 = time.perf_counter()
    old_run, new_run = read_run(old_dir), read_run(new_dir)
    found = [run_level(run.path) for run in (old_run, new_run)]
    if found[0] != found[1]:
        raise InputError(f"两次运行的单元级别不同（runs of different unit levels: {found[0]} → "
                         f"{found[1]}，run.json level）：compare two runs of one level",
                         path=new_run.path)
    result = _compare(old_run, new_run, crosswalk)
    result.seconds["compute"] = round(time.perf_counter() - t0, 3)
    if out is not None:
        result.files = _write(result, Path(out), map_html, lang, force=force)
        result.seconds["total"] = round(time.perf_counter() - t0, 3)
    return result


def _compare(old_run: Run, new_run: Run, crosswalk) -> CompareResult:
    model = old_run.model
    ref = (new_run.manifest.get("model") or {}).get("reference") or {}
    same_model = (new_run.model_sha256 == old_run.model_sha256
                  or ref.get("sha256") == old_run.model_sha256)
    absent = [i for i in model.indicators if i not in old_run.towns.columns]
    if absent:      # a column deleted from towns.csv, or a model.json of another run
        raise InputError(f"指标缺失（indicator missing）：the old run's towns.csv lacks "
                         f"{', '.join(absent)}, which its "
                         "model.json scores: restore both from that run",
                         path=old_run.path / "towns.csv", column=absent[0])
    absent = [i for i in model.indicators if i not in new_run.towns.columns]
    if absent:
        raise InputError(f"the new run's towns.csv lacks {', '.join(absent)}, which the old "
                         "run's model scores: the years cannot be compared under one model",
                         path=new_run.path / "towns.csv", column=absent[0])
    pairs, report = _pair(old_run.towns, new_run.towns, _read_crosswalk(crosswalk))
    # the report lists the old towns, then the new ones, each in its table's order
    runs = (old_run.towns, new_run.towns)
    named = [c for c in ("town", "county") if any(c in towns for towns in runs)]
    report[named] = pd.concat([towns.reindex(columns=named) for towns in runs]).to_numpy()
    report = report[["source", "source_row", "town_code", "town", "county", "status", "how",
                     "matched_to", "reason"]] if "county" in report else report
    io, jn = np.array([(i, j) for i, j, _ in pairs], dtype=int).reshape(-1, 2).T
    dec = _paired(model, old_run.towns, new_run.towns, io, jn)
    t, long = _transitions(old_run.towns.iloc[io].reset_index(drop=True),
                           new_run.towns.iloc[jn].reset_index(drop=True), old_run.model_data,
                           pairs, dec, model)
    side_new = report[report["source"] == "new"].set_index("town_code")["reason"]
    t["note"] = t["town_code"].map(side_new).fillna("").to_numpy()
    t = pd.concat([t, _unpaired(old_run, report, "old", "gone"),
                   _unpaired(old_run, report, "old", "merged"),
                   _unpaired(new_run, report, "new", "new")], ignore_index=True)
    ids = pd.concat([towns["category"] for towns in runs])
    names = pd.concat([towns.get("category_zh", towns["category"]) for towns in runs])
    labels = dict(zip(_text(ids), _text(names)))
    matrix = transition_matrix(t, labels)
    summary = _summary(t, report, same_model, old_run, new_run)
    return CompareResult(t, long, matrix, report, same_model, summary=summary, old=old_run,
                         new=new_run)


def _write(result: CompareResult, out: Path, map_html: bool, lang: str, *,
           force: bool = False) -> list[Path]:
    title = "类别转移矩阵 · Category transitions"
    old_run, new_run = result.old, result.new
    with staged_output(out, force=force) as stage:
        files = [write_csv(result.transitions, stage / "transitions.csv"),
                 write_csv(result.contributions, stage / "contributions.csv"),
                 write_csv(result.report, stage / "compare_report.csv"),
                 write_csv(result.matrix.reset_index(), stage / "transition_matrix.csv"),
                 _matrix_html(result.matrix, stage / "transition_matrix.html", title,
                              result.summary),
                 _matrix_png(result.matrix, stage / "transition_matrix.png", title)]
        if map_html:
            made = _map(old_run, new_run, result.transitions, stage / "compare_map.html",
                        lang)
            if made is None:
                result.summary.append("无 towns.gpkg：未绘制变化地图（no map: towns.gpkg missing）")
            else:
                files.append(made)
        manifest = {"tool": f"towntype {__version__}",
                    "old": {"path": str(old_run.path), "model_sha256": old_run.model_sha256},
                    "new": {"path": str(new_run.path), "model_sha256": new_run.model_sha256},
                    "same_model": result.same_model, "stable_from": STABLE, "tiers": TIERS,
                    "summary": result.summary, "seconds": result.seconds}
        (stage / "compare.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1),
                                            encoding="utf-8")
        files.append(stage / "compare.json")
    return [out / f.name for f in files]
