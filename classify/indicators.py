"""Table columns → indicators: recognition, unit conversion, derived indicators.

Three steps a notebook can run one at a time::

    system = load_system()
    rec = recognise(table, units, system)          # which column is which indicator
    ind, missing_log = build_indicators(table, rec, system)

``ind`` has one float column per recognised indicator id, in the unit the system
declares, then the derived indicators (location quotients, per-capita values, shares).
Missing values stay missing (NaN) and are listed in ``missing_log``; scoring decides how
to treat them (see :func:`classify.scoring.score`).
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from functools import partial
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from classify.config import Derived, IndicatorSystem, load_system, system_to_toml
from classify.errors import ConfigError
from classify.scoring import VALUE_CHECK_COLUMNS, county_key
from geo.errors import InputError, InputWarning
from geo.units import factor, family, is_flag_unit, parse_unit, split_header

__all__ = ["Recognition", "recognise", "build_indicators", "derive", "write_starter_config",
           "KEY_HEADERS", "check_values", "VALUE_CHECK_COLUMNS", "IMPLAUSIBLE_FACTOR"]

# headers of key columns: never indicators, never reported as unrecognised
KEY_HEADERS = {
    "town_code": ("town_code", "统计代码", "区划代码", "代码", "行政区划代码", "统计用区划代码"),
    "town": ("town", "乡镇", "乡镇名称", "镇街", "名称", "镇街名称", "乡镇（街道）"),
    "county": ("county", "县区", "所属县区", "县（市、区）", "县(市、区)", "县市区"),
    "county_code": ("county_code", "县区代码"),
    "city": ("city", "地市", "所属地市", "市"),
    "city_code": ("city_code", "地市代码"),
    "declared": ("declared", "自评类别"),
}
_OTHER_KNOWN = {"geometry", "area_km2", "boundary_quality", "source_row", "year", "年份",
                "序号", "备注"}

_FLAG_TEXT = {"是": 1.0, "否": 0.0, "有": 1.0, "无": 0.0, "y": 1.0, "n": 0.0, "yes": 1.0,
              "no": 0.0, "true": 1.0, "false": 0.0, "1": 1.0, "0": 0.0, "√": 1.0, "×": 0.0}


def _norm(text: str) -> str:
    s = unicodedata.normalize("NFKC", str(text))
    return re.sub(r"\s+", "", s).lower()


@dataclass(frozen=True)
class Recognition:
    """Which table column holds which indicator, and the factor to its declared unit.

    Attributes
    ----------
    columns : dict
        indicator id → table column.
    source_units : dict
        indicator id → unit found in the table (``None``: none given, declared unit assumed).
    factors : dict
        indicator id → multiply the column by this to get the declared unit.
    unrecognised : tuple
        Columns that are neither key columns nor indicators.
    absent : tuple
        Indicator ids of the system with no column in the table.
    keys : tuple
        Columns taken as key columns (code, name, county …).
    """

    columns: dict[str, str]
    source_units: dict[str, str | None]
    factors: dict[str, float]
    unrecognised: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    units: dict[str, str | None] = field(default_factory=dict, repr=False)

    def to_frame(self) -> pd.DataFrame:
        """One row per table column: ``column, indicator, source_unit, factor, status``."""
        rows = [{"column": c, "indicator": i, "source_unit": self.source_units[i],
                 "factor": self.factors[i],
                 "status": "recognised" if self.source_units[i] else "recognised, unit assumed"}
                for i, c in self.columns.items()]
        rows += [{"column": c, "indicator": "", "source_unit": self.units.get(c),
                  "factor": np.nan, "status": "unrecognised"} for c in self.unrecognised]
        rows += [{"column": c, "indicator": "", "source_unit": None, "factor": np.nan,
                  "status": "key"} for c in self.keys]
        return pd.DataFrame(rows, columns=["column", "indicator", "source_unit", "factor",
                                           "status"])


#: Normalised headers of key and other known columns.
_KEY_NAMES = {_norm(h) for h in _OTHER_KNOWN.union(*KEY_HEADERS.values())}


def _is_key(column: str) -> bool:
    return _norm(split_header(column)[0]) in _KEY_NAMES


def _names(ind) -> set[str]:
    return {_norm(n) for n in (ind.id, ind.label_zh, ind.label_en, *ind.aliases) if n}


def recognise(table: pd.DataFrame | Iterable[str], units: Mapping[str, str | None] | None,
              system: IndicatorSystem | None = None) -> Recognition:
    """Map table columns to the indicators of ``system``.

    Parameters
    ----------
    table : DataFrame or iterable of str
        The parsed table (only its column names are used).  Headers may be clean
        (``"地区生产总值"``) or carry the unit in brackets (``"地区生产总值（万元）"``).
    units : mapping or None
        Column → unit as found in the file (units row or header brackets), as
        ``geo.tables`` reports it; ``None`` or a missing entry means no unit given.
    system : IndicatorSystem, optional
        Default: the built-in system.

    Raises
    ------
    classify.errors.ConfigError
        An indicator's ``column`` names a column that is not in the table.
    geo.errors.InputError
        A column's unit cannot be converted to the declared unit, or two columns match one
        indicator.
    """
    system = system or load_system()
    columns = list(table.columns if isinstance(table, pd.DataFrame) else table)
    units = dict(units or {})
    found: dict[str, str] = {}
    src_units: dict[str, str | None] = {}
    for ind in system.indicators:
        if ind.column is not None:
            if ind.column not in columns:
                raise ConfigError(
                    f"column {ind.column!r} is not in the table (columns: "
                    f"{', '.join(map(str, columns))}); fix the header or the config key",
                    key=f"indicators.{ind.id}.column", path=system.path)
            found[ind.id] = ind.column
    taken = set(found.values())
    for col in columns:
        if col in taken:
            continue
        name, _ = split_header(str(col))
        hits = [i for i in system.indicators if i.column is None and _norm(name) in _names(i)]
        for ind in hits[:1]:
            if ind.id in found:
                raise InputError(
                    f"both {found[ind.id]!r} and {col!r} look like indicator {ind.id!r} "
                    f"({ind.label_zh}); set `column` under [indicators.{ind.id}] in the config "
                    "to choose one", column=col)
            found[ind.id] = col
    for id_, col in found.items():
        src_units[id_] = _source_unit(col, units)
        ind = system.get(id_)
        if src_units[id_] is None and not is_flag_unit(ind.unit):
            warnings.warn(
                f"column {col!r} gives no unit; taken to be in {ind.unit} as declared for "
                f"{id_!r}. Put the unit in the header (e.g. '{split_header(str(col))[0]}"
                f"（{ind.unit}）') or a units row if it is another one",
                InputWarning, stacklevel=2)
    factors = {i: _factor(system.get(i), found[i], src_units[i]) for i in found}
    taken = set(found.values())
    keys = tuple(c for c in columns if c not in taken and _is_key(str(c)))
    unrec = tuple(c for c in columns if c not in taken and c not in keys)
    absent = tuple(i.id for i in system.indicators if i.id not in found)
    found = {i.id: found[i.id] for i in system.indicators if i.id in found}   # system order
    return Recognition(found, src_units, factors, unrec, absent, keys,
                       units={c: units.get(c) for c in columns})


def _source_unit(col: str, units: Mapping[str, str | None]) -> str | None:
    given = units.get(col)
    if given is not None and str(given).strip():
        try:
            return parse_unit(given)
        except InputError as err:
            raise InputError(err.message, column=col) from None
    return split_header(str(col))[1]


def _factor(ind, col: str, src: str | None) -> float:
    if src is None:
        return 1.0
    if is_flag_unit(ind.unit):
        if is_flag_unit(src):
            return 1.0
        raise InputError(
            f"indicator {ind.id!r} ({ind.label_zh}) is a yes/no flag but the column's unit is "
            f"{src!r}; give 1/0 or 是/否 values, or change `unit` under [indicators.{ind.id}]",
            column=col)
    try:
        return factor(src, ind.unit)
    except InputError as err:
        raise InputError(f"{err.message} (indicator {ind.id!r} is declared in {ind.unit!r})",
                         column=col) from None


def _to_float(frame: pd.DataFrame, col: str, flag: bool) -> pd.Series:
    s = frame[col]
    if pd.api.types.is_numeric_dtype(s):     # bool too
        return s.astype(float)
    text = s.astype("string").str.strip()
    empty = text.isna() | text.isin(["", "-", "—", "/", "nan", "NaN"])
    if flag:
        out = text.str.lower().map(_FLAG_TEXT).astype(float)
    else:
        out = pd.to_numeric(text.str.replace(",", "", regex=False).where(~empty), errors="coerce")
    bad = out.isna() & ~empty
    if bad.any():
        i = bad.idxmax()
        raise InputError(
            f"value {s[i]!r} is not a number"
            + (" or 是/否" if flag else "")
            + "; fix the cell or leave it empty for a missing value",
            row=frame.loc[i, "source_row"] if "source_row" in frame.columns else i,
            column=col)
    return out.astype(float)


def _check_share(vals: pd.Series, ind, col: str) -> None:
    """Warn (never rescale) when a % column looks like fractions (0–1)."""
    if ind.unit != "%" or vals.notna().sum() < 3:
        return
    hi = float(vals.max())
    if 0 < hi <= 1:
        warnings.warn(
            f"column {col!r} ({ind.id}, declared in %) has values between 0 and {hi:g}: "
            "they look like fractions. If so, multiply them by 100 in the table",
            InputWarning, stacklevel=3)
    # values above 100 are reported cell by cell by check_values (and set aside)


# -- value checks ------------------------------------------------------------------------
#: A value this many times the median of its column (or a money value this many times
#: below the next-smallest town's) is implausible: kept, and flagged.
IMPLAUSIBLE_FACTOR = 1000.0
#: Unit families whose values cannot be negative (amounts, people, counts, areas, distances,
#: shares) unless the indicator is ``signed``.
_NON_NEGATIVE = {"money", "persons", "person_times", "count", "area", "length", "share"}
_SHARE_MAX = {"%": 100.0, "‰": 1000.0}


def _family(unit: str | None) -> str | None:
    try:
        return family(unit) if unit else None
    except InputError:
        return None


def check_values(values: pd.DataFrame, frame: pd.DataFrame, recognition: Recognition,
                 system: IndicatorSystem | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Impossible and implausible indicator values, cell by cell.

    ``values`` holds the indicators in their declared units (as :func:`build_indicators`
    reads them, before the derived ones); ``frame`` the table rows (``source_row``: the
    file row).  What is checked, and what happens to the value:

    - **impossible → treated as missing** (left out of the scores like an empty cell,
      counted in ``n_missing``, listed in the missing log as ``invalid``): a negative value
      where the unit cannot be negative (amounts in 元/万元, people, counts, areas,
      distances, shares); a share above 100 % (1000 ‰).  An indicator with
      ``signed = true`` in the config is exempt (a balance, a growth rate).
    - **implausible → kept and flagged**: a value more than :data:`IMPLAUSIBLE_FACTOR`
      (1,000) times the median of its column (amounts, people, counts, areas; at least 3
      positive values); a money value (a sector's output) below 1/1,000 of the
      next-smallest town's — the towns below such a gap, when they are at most half of the
      towns with a value (zeros are not checked: 0 means none).

    Returns the values with the impossible ones set to NaN, and the checks
    (:data:`VALUE_CHECK_COLUMNS` and ``position``, the town's index label: file row, table
    column, town, indicator, the value as given in the column's unit, what is wrong in
    Chinese and English, the action taken).
    """
    system = system or load_system()
    out = values.copy()
    who = _who(frame)
    rows: list[pd.DataFrame] = []

    def add(id_, col, unit, shown, mask, check, zh, en, action="kept, flagged"):
        if not mask.any():
            return
        vals = shown[mask]
        rows.append(who.loc[mask, ["row", "town_code", "town", "position"]].assign(
            column=col, indicator=id_, value=vals, unit=unit or "", check=check, action=action,
            problem_zh=[zh(v) for v in vals], problem_en=[en(v) for v in vals]))

    for id_, col in recognition.columns.items():
        ind = system.get(id_)
        if is_flag_unit(ind.unit) or id_ not in out.columns:
            continue
        v = out[id_].astype(float)
        fam = _family(ind.unit)
        src = recognition.source_units.get(id_) or ind.unit
        f = recognition.factors.get(id_) or 1.0
        shown = v / f                                     # as given in the table
        report = partial(add, id_, col, src, shown)
        label_en = ind.label_en or id_
        signed = bool(ind.signed)
        bad = pd.Series(False, index=v.index)
        if fam in _NON_NEGATIVE and not signed:
            neg = v < 0
            report(neg, "negative",
                   lambda x: f"负值 {x:g}：{ind.label_zh}不能为负（impossible），按缺失处理",
                   lambda x: f"negative value {x:g}: {label_en} cannot be negative "
                             "(impossible); treated as missing", "treated as missing")
            bad |= neg
        if fam == "share" and not signed:
            top = _SHARE_MAX.get(ind.unit, 100.0)
            over = v > top
            report(over, "share_range",
                   lambda x: f"占比 {x:g} 超出 0–{top:g}{ind.unit}（impossible），按缺失处理",
                   lambda x: f"share {x:g} outside 0–{top:g}{ind.unit} (impossible); treated "
                             "as missing", "treated as missing")
            bad |= over
        if bad.any():
            out.loc[bad, id_] = np.nan
            v = out[id_].astype(float)
        if fam in ("money", "persons", "person_times", "count", "area"):
            pos = v[v > 0]
            if len(pos) >= 3:
                med = float(pos.median())
                high = v > IMPLAUSIBLE_FACTOR * med
                report(high, "above_1000x_median",
                       lambda x: f"数值 {x:g} 超过全体中位数（{med / f:g}）的 1000 倍"
                                 "（implausible），已保留，请核对",
                       lambda x: f"value {x:g} is more than 1,000 × the median ({med / f:g}) "
                                 "(implausible); kept, please check")
        if fam == "money":
            srt = np.sort(v[v > 0].to_numpy())
            if srt.size >= 3:
                gaps = np.flatnonzero(srt[:-1] * IMPLAUSIBLE_FACTOR < srt[1:])
                gaps = gaps[gaps + 1 <= srt.size // 2]       # a minority below the gap
                if gaps.size:
                    cut, nxt = srt[gaps[-1]], srt[gaps[-1] + 1]
                    low = (v > 0) & (v <= cut)
                    report(low, "below_1000x_next",
                           lambda x: f"数值 {x:g} 不到次小镇街（{nxt / f:g}）的千分之一"
                                     "（implausible），已保留，请核对单位",
                           lambda x: f"value {x:g} is below 1/1,000 of the next-smallest "
                                     f"town's ({nxt / f:g}) (implausible); kept, check the unit")
    checks = (pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()).reindex(
        columns=VALUE_CHECK_COLUMNS + ["position"])
    return out, checks


def build_indicators(frame: pd.DataFrame, recognition: Recognition,
                     system: IndicatorSystem | None = None, *, return_checks: bool = False
                     ) -> tuple[pd.DataFrame, ...]:
    """Indicator values in declared units, then the derived indicators.

    Returns
    -------
    indicators : DataFrame
        Indexed like ``frame``; one float column per recognised indicator (system order),
        then one per derived indicator whose inputs exist.
    missing_log : DataFrame
        ``row, town_code, town, indicator, column, status, detail, position`` (``position``:
        the town's index label in ``frame``, a key that needs no code) — one row per missing
        value (``status="missing"``), per value a derived indicator could not be computed
        for (``"not derivable"``) and per derived indicator skipped for want of an input
        column (``"skipped"``, ``row`` empty; only with the built-in system — a user's
        config naming an absent input is an error), and per impossible value set aside
        (``"invalid"``, see :func:`check_values`).
    value_checks : DataFrame
        Only with ``return_checks=True``: :func:`check_values`'s report (impossible values,
        treated as missing; implausible ones, kept and flagged), one row per cell.

    Raises
    ------
    classify.errors.ConfigError
        A derived indicator of a user's config needs an input the table does not have.
    geo.errors.InputError
        A cell that is not a number (or 是/否 for a flag).
    """
    system = system or load_system()
    out = pd.DataFrame(index=frame.index)
    log: list[pd.DataFrame] = []
    who = _who(frame)
    for id_, col in recognition.columns.items():
        ind = system.get(id_)
        vals = _to_float(frame, col, is_flag_unit(ind.unit)) * recognition.factors[id_]
        _check_share(vals, ind, col)
        out[id_] = vals
        log.append(who[vals.isna()].assign(indicator=id_, column=col, status="missing",
                                           detail="empty cell"))
    out, checks = check_values(out, frame, recognition, system)
    invalid = checks[checks["action"] == "treated as missing"]   # indicator by indicator
    log.append(invalid[["row", "town_code", "town", "position", "indicator", "column"]]
               .assign(status="invalid", detail=invalid["problem_en"]))
    for der in system.derived:
        inputs = [der.numerator, der.denominator]
        lacking = [x for x in inputs if x not in out.columns and x not in frame.columns]
        if lacking and not system.builtin:
            name = "numerator" if lacking[0] == der.numerator else "denominator"
            raise ConfigError(
                f"needs {lacking[0]!r}, which is neither a recognised indicator nor a column "
                f"of the table; fix the name or remove [derived.{der.id}]",
                key=f"derived.{der.id}.{name}", path=system.path)
        if lacking:
            log.append(pd.DataFrame([{"row": None, "town_code": "", "town": "", "position": None,
                                      "indicator": der.id, "column": "", "status": "skipped",
                                      "detail": f"needs {', '.join(lacking)}, not in the table"}]))
            continue
        vals, why = derive(der, out, frame, system)
        out[der.id] = vals
        gap = vals.isna()
        log.append(who[gap].assign(indicator=der.id, column="", status="not derivable",
                                   detail=why[gap].to_numpy()))
    cols = ["row", "town_code", "town", "indicator", "column", "status", "detail", "position"]
    log = [x for x in log if len(x)]
    missing_log = (pd.concat(log, ignore_index=True) if log else pd.DataFrame()).reindex(
        columns=cols)
    if return_checks:
        return out, missing_log, checks.drop(columns="position")
    return out, missing_log


def _who(frame: pd.DataFrame) -> pd.DataFrame:
    """row (file row when known, else the index), town_code and town of every row."""
    def text(col):
        if col not in frame.columns:
            return pd.Series("", index=frame.index, dtype=object)
        return frame[col].astype(object).where(frame[col].notna(), "").astype(str)
    row = frame["source_row"] if "source_row" in frame.columns else \
        pd.Series(frame.index, index=frame.index)
    return pd.DataFrame({"row": row.astype(object), "town_code": text("town_code"),
                         "town": text("town"),
                         "position": pd.Series(frame.index, index=frame.index, dtype=object)},
                        index=frame.index)


def _input(name: str, given_unit, ind_frame, frame, system) -> tuple[pd.Series, str | None]:
    if name in ind_frame.columns:
        try:
            unit = system.get(name).unit
        except ConfigError:
            unit = None
        return ind_frame[name].astype(float), given_unit or unit
    return pd.to_numeric(frame[name], errors="raise").astype(float), given_unit


def _reference_groups(der: Derived, frame: pd.DataFrame, system) -> pd.Series:
    if der.reference == "all":
        return pd.Series(0, index=frame.index)
    key = county_key(frame, der.reference)
    if key is not None:
        return key
    raise ConfigError(
        f"reference {der.reference!r} needs a {der.reference}_code or {der.reference} column, "
        "which the table does not have; use reference = \"all\"",
        key=f"derived.{der.id}.reference", path=system.path)


def derive(der: Derived, ind_frame: pd.DataFrame, frame: pd.DataFrame | None = None,
           system: IndicatorSystem | None = None) -> tuple[pd.Series, pd.Series]:
    """Compute one derived indicator.

    Returns the values and, per town, why a value is missing (empty string otherwise).
    See :class:`classify.config.Derived` for the formulas.
    """
    system = system or load_system()
    frame = ind_frame if frame is None else frame
    a, ua = _input(der.numerator, der.numerator_unit, ind_frame, frame, system)
    b, ub = _input(der.denominator, der.denominator_unit, ind_frame, frame, system)
    why = pd.Series("", index=ind_frame.index, dtype=object)
    why[a.isna()] = f"{der.numerator} missing"
    why[b.isna() & a.notna()] = f"{der.denominator} missing"
    zero = b.eq(0) & a.notna()
    why[zero] = f"{der.denominator} is 0"
    bb = b.where(~zero)
    ratio = a / bb
    if der.kind == "lq":
        g = _reference_groups(der, frame, system)
        ok = ratio.notna()
        sa = a.where(ok).groupby(g, dropna=True).transform("sum").reindex(a.index)
        sb = bb.where(ok).groupby(g, dropna=True).transform("sum").reindex(a.index)
        ref = sa / sb.where(sb != 0)
        bad = ok & ~(ref > 0)
        why[bad] = f"the reference region has no {der.numerator}"
        # a town of unknown county (reference = county) has no reference region
        why[ok & g.isna()] = f"{der.reference} unknown: no reference region"
        vals = ratio / ref.where(ref > 0)
    elif der.kind == "share":
        k = factor(ua, ub) if ua and ub else 1.0
        vals = 100.0 * k * ratio
    else:
        k = 1.0
        if der.unit and "/" in der.unit and ua and ub:
            num, den = der.unit.split("/", 1)
            k = factor(ua, num) / factor(ub, den)
        vals = k * ratio
    return vals.astype(float).rename(der.id), why


def _unrecognised_block(k: int, col: str, unit: str | None, dims: list[str]) -> list[str]:
    name, hdr_unit = split_header(str(col))
    unit = unit or hdr_unit
    return [
        "",
        f"# NOT RECOGNISED: column {col!r}" + (f" (unit {unit})" if unit else "")
        + ". To score it, uncomment and pick a dimension",
        f"# ({', '.join(dims)}) and a direction (+ more is better, - less is better):",
        f"# [indicators.extra_{k}]",
        f"# label_zh = \"{name}\"",
        f"# column = \"{col}\"",
        f"# unit = \"{unit or '个'}\"",
        f"# dimension = \"{dims[0]}\"",
        "# direction = \"+\"",
    ]


def write_starter_config(columns: pd.DataFrame | Iterable[str],
                         units: Mapping[str, str | None] | None, path: str | Path,
                         system: IndicatorSystem | None = None, *,
                         overwrite: bool = False) -> str:
    """Write the effective indicator system for a table as a TOML file to edit.

    Recognised indicators are written with ``column`` set to their header; derived
    indicators whose inputs were recognised are kept; declared indicators not found and
    unrecognised columns are listed as comments (the latter as ready-to-uncomment
    ``[indicators.extra_N]`` tables).  Returns the TOML text.

    Raises
    ------
    classify.errors.ConfigError
        ``path`` exists and ``overwrite`` is false.
    """
    system = system or load_system()
    path = Path(path)
    if path.exists() and not overwrite:
        raise ConfigError("file exists; choose another path or delete it first", path=path)
    rec = recognise(columns, units, system)
    inds = [replace(i, column=rec.columns[i.id]) for i in system.indicators if i.id in rec.columns]
    if not inds:
        raise InputError("no column of the table was recognised as an indicator; headers: "
                         + ", ".join(map(str, rec.unrecognised)))
    have = set(rec.columns) | set(rec.columns.values())
    derived = []
    for der in system.derived:      # in order: a derived indicator may use an earlier one
        if {der.numerator, der.denominator} <= have:
            derived.append(der)
            have.add(der.id)
    eff = IndicatorSystem(tuple(inds), system.dimensions, tuple(derived), system.methods,
                          uncertainty=system.uncertainty)
    unit = {i: rec.source_units[i] or "none given (declared unit assumed)" for i in rec.columns}
    comments = {f"indicators.{i}": [f"recognised from column {c!r}, source unit {unit[i]}"
                                    + (f", × {rec.factors[i]:g}" if rec.factors[i] != 1 else "")]
                for i, c in rec.columns.items()}
    text = system_to_toml(eff, comments=comments, header=[
        "towntype indicator system — written by `towntype init`; edit and pass with --config.",
        f"Based on: {system.path or 'built-in default'}.",
        "Declared indicators not found in the table: "
        + (", ".join(f"{i} ({system.get(i).label_zh})" for i in rec.absent) or "none") + ".",
    ])
    dims = [d.id for d in system.dimensions]
    extra = [line for k, col in enumerate(rec.unrecognised, 1)
             for line in _unrecognised_block(k, col, rec.units.get(col), dims)]
    text += "\n".join(extra) + ("\n" if extra else "")
    path.write_text(text, encoding="utf-8")
    return text
