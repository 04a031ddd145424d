"""Join an indicator table to town boundaries, accounting for every row.

The join uses the statistical code when both sides have one, else (county, name), else the
name alone (``on="auto"``), comparing names with :func:`geo.names.name_key`.  A name that
fits towns in several counties is ambiguous and not joined unless a county column resolves
it (Qingyuan has two 石角镇 and two 太平镇).
"""

from __future__ import annotations

import difflib
import io
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.codes import TOWN_KEYS, UnitKeys, division_name, read_codes
from geo.encoding import detect_bytes
from geo.errors import InputError
from geo.names import NAME_KEYS, name_key, names_compatible, normalise_county, normalise_name
from geo.tables import (_KIND_NAMES, ParsedTable, _adds_up, _open_xlsx, check_file,
                        file_kind, find_key_columns)

__all__ = ["join_towns", "find_key_columns", "read_crosswalk", "summarise_join",
           "indicator_totals", "joined_status",
           "REPORT_COLUMNS", "JOIN_METHODS"]

REPORT_COLUMNS = ["source", "source_row", "town_code", "town", "county", "status", "how",
                  "matched_to", "candidates", "reason"]
JOIN_METHODS = ("auto", "code", "county+name", "name")
#: Key columns of both sides and of the joined frame: str, or None when unknown.
_KEYS = ("town_code", "town", "county_code", "county", "city_code", "city")
#: Key column ← role in :func:`geo.tables.find_key_columns`.
_ROLES = (("town_code", "code"), ("town", "name"), ("county", "county"),
          ("county_code", "county_code"))
_CROSSWALK_COLUMNS = {
    "from_code": ("from_code", "old_code", "原代码", "原统计代码", "旧代码"),
    "from_name": ("from_name", "old_name", "原名称", "原乡镇", "旧名称", "原乡镇名称"),
    "to_code": ("to_code", "new_code", "新代码", "现代码", "新统计代码"),
    "to_name": ("to_name", "new_name", "新名称", "现名称", "新乡镇", "现乡镇"),
}


def _boundary_keys(boundaries: pd.DataFrame, unit: UnitKeys) -> pd.DataFrame:
    """Canonical key columns of the boundary side (copied, as str or None)."""
    cols = {c: c for c in ("town_code", "town", "county_code", "county")
            if c in boundaries.columns}
    if len(cols) < 2:
        found = find_key_columns(boundaries)
        cols |= {canon: found[key] for canon, key in _ROLES
                 if canon not in cols and found[key] is not None}
    cols |= {c: c for c in ("city_code", "city") if c in boundaries.columns}
    keys = _keys_frame(boundaries, cols, unit, read=True)
    if keys["town"].isna().all() and keys["town_code"].isna().all():
        raise InputError("the boundaries have neither a town code nor a town name column "
                         "(expected e.g. town_code / 统计代码 and town / 乡镇)")
    return keys


def _keys_frame(df: pd.DataFrame, cols: dict, unit: UnitKeys, read: bool) -> pd.DataFrame:
    """:data:`_KEYS` from ``cols`` (key → column of ``df``; codes normalised if ``read``)
    as object columns of str or None (never NaN, never "nan"), divisions filled in."""
    n = len(df)
    columns = {k: _text_or_none(df[cols[k]].tolist()) if k in cols else [None] * n
               for k in _KEYS}
    if read and "town_code" in cols:
        columns["town_code"] = read_codes(columns["town_code"], unit.digits)[0]
    return _fill_divisions(pd.DataFrame({k: pd.Series(v, dtype=object) for k, v
                                         in columns.items()}, index=range(n)), unit)


def _text_or_none(values) -> list:
    return [(v.strip() or None) if type(v) is str else None if _blank(v) else str(v).strip()
            for v in values]


def _or_empty(values, empty) -> list:
    """``values`` with blank cells (see :func:`_blank`) as ``empty``."""
    return [(v if v.strip() else empty) if type(v) is str else empty if _blank(v) else v
            for v in values]


def _blank(v) -> bool:
    """An empty cell: None, NaN, pd.NA, or blank text."""
    if isinstance(v, str):
        return v.strip() == ""
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):  # a list or array in a cell: not blank
        return False


def _table_keys(table: ParsedTable, unit: UnitKeys) -> pd.DataFrame:
    keys = table.keys or find_key_columns(table.data)
    cols = {canon: keys[key] for canon, key in _ROLES if keys.get(key) is not None}
    out = _keys_frame(table.data, cols, unit, read=False)
    out["source_row"] = list(table.source_rows)
    out["code_note"] = [table.code_notes.get(i, "") for i in range(len(table.data))]
    return out


def _fill_divisions(keys: pd.DataFrame, unit: UnitKeys) -> pd.DataFrame:
    """County and city codes and names filled from the unit's code (prefixes
    ``unit.ancestors``) where the input has none; a key that stays unknown is None."""
    a1, a2 = unit.ancestors
    codes = keys["town_code"].tolist()
    county_codes = [cc if cc else (c[:a1] if c else None)
                    for cc, c in zip(keys["county_code"], codes)]
    # one look-up per distinct county (a national table has 40,000 towns, 2,800 counties)
    known = {cc: (division_name(cc[:a1]) if len(cc) >= a1 else None,
                  division_name(cc[:a2]) if len(cc) >= a2 else None)
             for cc in set(county_codes) if cc}
    counties = [n if n else known[cc][0] if cc else None
                for n, cc in zip(keys["county"], county_codes)]
    city_codes = [c4 if c4 else (cc[:a2] if cc and known[cc][1] else None)
                  for c4, cc in zip(keys["city_code"], county_codes)]
    cities = [n if n else known[cc][1] if cc else None
              for n, cc in zip(keys["city"], county_codes)]
    out = keys.copy()
    for col, values in (("county_code", county_codes), ("county", counties),
                        ("city_code", city_codes), ("city", cities)):
        out[col] = pd.Series(values, index=keys.index, dtype=object)
    return out


def _choose_method(on: str, b: pd.DataFrame, t: pd.DataFrame, path) -> str:
    if on not in JOIN_METHODS:
        raise InputError(f"unknown join method {on!r}; use one of {', '.join(JOIN_METHODS)} "
                         "(--join-on)")
    has = {side: {c for c in ("town_code", "town", "county", "county_code")
                  if frame[c].notna().any()} for side, frame in (("b", b), ("t", t))}
    both = has["b"] & has["t"]
    if on == "auto":
        if "town_code" in both:
            return "code"
        if "town" in both:
            counties = {"county", "county_code"}
            return "county+name" if counties & has["t"] and counties & has["b"] else "name"
        raise InputError("cannot join: the table and the boundaries share neither a town "
                         "code nor a town name column; rename the columns (统计代码 / 乡镇) "
                         "or give --join-on", path=path)
    need = "town_code" if on == "code" else "town"
    for side, label in (("b", "boundaries"), ("t", "table")):
        if need not in has[side]:
            raise InputError(f"--join-on {on}: the {label} {'have' if side == 'b' else 'has'}"
                             f" no {need} column", path=path if side == "t" else None)
    return on


def read_crosswalk(crosswalk) -> pd.DataFrame:
    """A crosswalk of renamed / merged towns as columns from_code, from_name, to_code, to_name.

    Accepts a DataFrame or a path (CSV in UTF-8 or GB18030, .xlsx, .xls — recognised by
    content, as :func:`geo.tables.read_table` does).  Chinese headers 原代码/原名称/
    新代码/新名称 are recognised.  Empty lines are skipped.

    Raises
    ------
    geo.errors.InputError
        Naming the file (``--crosswalk``), row and column: an unreadable or mislabelled
        file, missing columns, a row with an old side but no new side (or the reverse),
        a code cell that is not a town code.
    """
    if isinstance(crosswalk, (str, Path)):
        path = Path(crosswalk)
        df = _crosswalk_frame(path)
        first_row = 2  # file rows below the header
    else:
        path, df = None, pd.DataFrame(crosswalk).astype(object)
        first_row = 1
    cols = {canon: c for canon, names in _CROSSWALK_COLUMNS.items() for c in df.columns
            if str(c).strip().lower() in names}
    if not ({"from_code", "from_name"} & cols.keys()) or not (
            {"to_code", "to_name"} & cols.keys()):
        raise InputError("the crosswalk needs a from_code or from_name column and a to_code "
                         f"or to_name column (or 原代码/原名称 and 新代码/新名称); found "
                         f"{list(df.columns)} — rename the header row (--crosswalk)",
                         path=path)
    out = pd.DataFrame(index=range(len(df)))
    for canon in _CROSSWALK_COLUMNS:
        values = df[cols[canon]].tolist() if canon in cols else [None] * len(df)
        if canon.endswith("code"):
            values = _crosswalk_codes(values, path, cols.get(canon), first_row)
        else:
            values = _text_or_none(values)
        out[canon] = pd.Series(values, dtype=object)
    blank = out.isna().all(axis=1).to_numpy()
    for i in np.flatnonzero(~blank):
        r = out.iloc[i]
        for side in ("from", "to"):
            if r[f"{side}_code"] is None and r[f"{side}_name"] is None:
                shown = [cols[k] for k in (f"{side}_code", f"{side}_name") if k in cols]
                raise InputError(
                    f"对照表有空单元格（blank cell in the crosswalk）: the "
                    f"{'old' if side == 'from' else 'new'} town is missing "
                    f"({' / '.join(map(str, shown))} empty); fill it or delete the row "
                    "(--crosswalk)", path=path, row=int(i) + first_row,
                    column=shown[0] if shown else None)
    return out[~blank].reset_index(drop=True)


def _crosswalk_frame(path: Path) -> pd.DataFrame:
    check_file(path, flag="--crosswalk")
    kind = file_kind(path)
    if kind == "text":
        data = path.read_bytes()
        try:
            enc = detect_bytes(data).encoding
        except InputError as exc:
            raise InputError(exc.message.replace("give the encoding with --encoding",
                                                 "save the crosswalk as UTF-8"),
                             path=path) from None
        try:
            return pd.read_csv(io.StringIO(data.decode(enc)), dtype=str,
                               keep_default_na=False, skip_blank_lines=True)
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            said = " ".join(str(exc).split())      # pandas ends its message with a newline
            raise InputError(f"对照表无法读取（the crosswalk CSV cannot be read: {said}）; "
                             "check its columns (--crosswalk)", path=path) from None
    if kind == "xlsx":
        ws = _open_xlsx(path, data_only=True).worksheets[0]
        rows = [["" if v is None else str(v) for v in row] for row in
                ws.iter_rows(values_only=True)]
        if not rows:
            raise InputError("the crosswalk workbook is empty (--crosswalk)", path=path)
        return pd.DataFrame(rows[1:], columns=rows[0], dtype=object)
    if kind == "xls":
        return pd.read_excel(path, dtype=str, engine="xlrd").fillna("")
    raise InputError(f"文件内容与扩展名不符（the crosswalk is {_KIND_NAMES[kind]}）; give a CSV "
                     "or .xlsx (--crosswalk)", path=path)


def _crosswalk_codes(values, path, column, first_row: int) -> list:
    out, problems = read_codes([None if _blank(v) else v for v in values])
    bad = [f"row {i + first_row}: {why}" for i, why in problems.items()]
    if bad:
        raise InputError(
            f"对照表代码无效（invalid code in the crosswalk）: {'; '.join(bad[:5])}"
            f"{f'; … {len(bad) - 5} more' if len(bad) > 5 else ''}; town codes have 9 digits "
            "(--crosswalk)", path=path, column=column)
    return out


class _Matcher:
    """Candidate boundary positions for one table row."""

    def __init__(self, b: pd.DataFrame, key=name_key):
        self.key = key      # the level's name key (geo.names.NAME_KEYS)
        # plain lists: per-position access in the loops below is then cheap
        self.codes, self.names = b["town_code"].tolist(), b["town"].tolist()
        self.county_codes, self.counties = b["county_code"].tolist(), b["county"].tolist()
        self.keys = [key(n) if n else ("", None) for n in b["town"]]
        self.by_code = _positions(self.codes)
        self.by_stem = _positions(k[0] for k in self.keys)
        self._by_stem_names: dict[str, set] | None = None

    def by_name(self, town, county, county_code) -> list[int]:
        if not town:
            return []
        key = self.key(town)
        pos = [p for p in self.by_stem.get(key[0], []) if names_compatible(key, self.keys[p])]
        if len(pos) > 1:
            exact = [p for p in pos if normalise_name(self.names[p]) == normalise_name(town)]
            pos = exact or pos
        if county or county_code:
            pos = [p for p in pos if self._same_county(p, county, county_code)]
        return pos

    def _same_county(self, p, county, county_code) -> bool:
        bc, bn = self.county_codes[p], self.counties[p]
        if county_code and bc:
            return county_code == bc
        if county and bn:
            return normalise_county(county) == normalise_county(bn)
        return True

    def close_names(self, town, n: int = 3) -> list[str]:
        """Boundary names similar to ``town`` (a hint for typos), best first."""
        if not town:
            return []
        if self._by_stem_names is None:
            self._by_stem_names = {}
            for t in self.names:
                if t:
                    self._by_stem_names.setdefault(self.key(t)[0], set()).add(normalise_name(t))
        by_stem = self._by_stem_names
        stems = difflib.get_close_matches(self.key(town)[0], sorted(by_stem), n=n, cutoff=0.6)
        return [name for stem in stems for name in sorted(by_stem[stem])][:n]

    def describe(self, positions) -> str:
        return "; ".join(f"{self.codes[p] or '?'} {self.names[p] or '?'}"
                         f" ({self.counties[p] or self.county_codes[p] or '?'})"
                         for p in positions)

    def label(self, p) -> str:
        """``code name`` of boundary feature ``p`` (the report's matched_to)."""
        return f"{self.codes[p] or ''} {self.names[p] or ''}".strip()


def _positions(values) -> dict:
    """Each non-empty value → the positions holding it."""
    out: dict = {}
    for p, value in enumerate(values):
        if value:
            out.setdefault(value, []).append(p)
    return out


def _apply_crosswalk(row: dict, crosswalk: list[dict]) -> tuple[dict, bool]:
    """The row as the crosswalk renames it (cells of :func:`read_crosswalk`: str or None)."""
    for c in crosswalk:
        hit = (c["from_code"] and row["town_code"] == c["from_code"]) or (
            not c["from_code"] and c["from_name"] and row["town"]
            and names_compatible(name_key(row["town"]), name_key(c["from_name"])))
        if hit:
            new = dict(row)
            new["town_code"] = c["to_code"] or (None if c["to_name"] else row["town_code"])
            new["town"] = c["to_name"] or row["town"]
            if c["to_code"]:
                new["county_code"] = c["to_code"][:6]
            return new, True
    return row, False


def _match_row(row: dict, matcher: _Matcher, method: str, cw) -> tuple[list[int], str, str]:
    """``(candidate positions, how, note)``."""
    row, crossed = _apply_crosswalk(row, cw)
    bad_code = row.get("code_note") or ""       # a code cell that is not a town code
    note = f"{bad_code}. " if bad_code else ""
    if (method == "code" or crossed) and row["town_code"]:
        pos = matcher.by_code.get(row["town_code"], [])
        if pos:
            return pos, "crosswalk" if crossed else "code", note
        note = (f"代码 {row['town_code']} 不在边界中，改按名称匹配（code {row['town_code']} "
                "is not in the boundaries; tried the name）。")
    elif method == "code" and not row["town_code"]:
        note = f"{bad_code or '本行无统计代码（no code in this row）'}；改按名称匹配（tried the name）。"
    # a county on the row always narrows a name match (--join-on name means "not by code")
    pos = matcher.by_name(row["town"], row["county"], row["county_code"])
    how = "county+name" if row["county"] or row["county_code"] else "name"
    return pos, "crosswalk" if crossed else how, note


_KEEP_FROM_BOUNDARIES = ("boundary_feature", "area_km2", "label_lon", "label_lat",
                         "boundary_quality")


def join_towns(boundaries, table: ParsedTable | pd.DataFrame, *, on: str = "auto",
               crosswalk=None, set_aside=None, unit: UnitKeys = TOWN_KEYS):
    """Join a parsed indicator table to town boundaries.

    Parameters
    ----------
    boundaries : GeoDataFrame
        Town polygons with town_code / town / county (as from
        :func:`geo.read.read_boundaries`, or any recognised key columns).
    table : ParsedTable or DataFrame
        The indicator table (a plain DataFrame is wrapped, rows numbered from 2).
    on : {"auto", "code", "county+name", "name"}
        Join key (``--join-on``); auto = code if both sides have one, else county+name,
        else name.
    crosswalk : DataFrame or path, optional
        Renamed / merged towns (see :func:`read_crosswalk`).
    set_aside : list of dict, optional
        Boundary features read but not towns (null geometry, parts of a dissolved town),
        as :attr:`geo.read.BoundaryReport.set_aside`; default
        ``boundaries.attrs["set_aside"]`` (set by :func:`geo.read.read_boundaries`).
        Each gets a row of the report with its reason, and a table row that names one of
        them says so.
    unit : geo.codes.UnitKeys
        The level of the units (default towns; counties: 6-digit codes whose parent is
        the city — see :mod:`classify.levels`).

    Returns
    -------
    joined : GeoDataFrame
        Matched towns only, indexed 0..n-1: town_code, town, county_code, county (from the
        boundaries when present, else from the table), the table's data columns (the
        declared-category column renamed ``declared``), ``table_row`` (the file row of
        the town's table row; the first one for a merged town), area/label columns,
        geometry.  Key columns (town_code, town, county_code, county, city_code, city)
        hold str or None where unknown (never NaN or "nan"); county and city names are
        filled from the codes for all of China where the inputs have none.
        ``table_row`` and (from :func:`geo.read.read_boundaries`) ``boundary_feature``
        identify each town even without a code.
    report : DataFrame
        The join report (:data:`REPORT_COLUMNS`), one row per boundary feature (read, set
        aside or dissolved; ``source_row`` = its 0-based feature number), table row and
        excluded table row; ``report.attrs["counts"]`` holds the bucket counts.
    """
    if isinstance(table, pd.DataFrame):
        table = _wrap_frame(table)
    b = _boundary_keys(boundaries, unit)
    t = _table_keys(table, unit)
    method = _choose_method(on, b, t, table.path)
    cw = read_crosswalk(crosswalk).to_dict("records") if crosswalk is not None else []
    matcher = _Matcher(b, NAME_KEYS[unit.names])
    records = _records(t)
    tentative = [_match_row(row, matcher, method, cw) for row in records]
    claims: dict[int, list[int]] = {}
    for i, (pos, how, _) in enumerate(tentative):
        if len(pos) == 1:
            claims.setdefault(pos[0], []).append(i)
    aside = list(boundaries.attrs.get("set_aside", []) if set_aside is None else set_aside)
    rows_out = _table_report(records, tentative, claims, matcher, _AsideMatcher(aside))
    b_rows = _boundary_report(b, claims, tentative, t, boundaries)
    b_rows = sorted(b_rows + _aside_report(aside, b_rows), key=lambda r: r["source_row"])
    report = pd.DataFrame(b_rows + rows_out
                          + _excluded_report(table), columns=REPORT_COLUMNS)
    for col in REPORT_COLUMNS:  # object columns: keys str or None, other text str ("")
        if col != "source_row":
            empty = None if col in _KEYS else ""
            report[col] = pd.Series(_or_empty(report[col].tolist(), empty),
                                    index=report.index, dtype=object)
    report["source_row"] = report["source_row"].astype("int64")
    joined = _joined_frame(boundaries, b, t, table, claims, tentative)
    joined = gpd.GeoDataFrame(joined, geometry="geometry", crs=boundaries.crs)
    report.attrs["counts"] = summarise_join(report)
    report.attrs["method"] = method
    return joined, report


def _records(df: pd.DataFrame) -> list[dict]:
    """``df.to_dict("records")`` built from whole columns (much faster at 40,000 rows)."""
    names = list(df.columns)
    return [dict(zip(names, values)) for values in zip(*(df[c].tolist() for c in names))]


def _wrap_frame(df: pd.DataFrame) -> ParsedTable:
    data = df.reset_index(drop=True)
    keys = find_key_columns(data)
    if keys["code"] is not None:
        data = data.copy()
        data[keys["code"]] = read_codes(data[keys["code"]])[0]
    status = pd.DataFrame("ok", index=data.index, columns=data.columns)
    return ParsedTable(data=data, units={c: None for c in data.columns}, raw=data.astype(str),
                       status=status, excluded=pd.DataFrame(columns=["source_row", "kind",
                                                                     "reason"]),
                       source_rows=list(range(2, len(data) + 2)), keys=keys)


class _AsideMatcher:
    """Set-aside boundary features by code and by name: the true reason of a table row
    that found no town (its feature has no geometry)."""

    def __init__(self, aside: list[dict]):
        self.lost = [a for a in aside if a.get("kind") == "no_geometry"]
        self.by_code: dict = {}
        self.by_name: dict = {}
        for a in self.lost:
            if a.get("town_code"):
                self.by_code.setdefault(a["town_code"], a)
            if a.get("town"):
                self.by_name.setdefault(normalise_name(a["town"]), []).append(a)

    def reason(self, row: dict) -> str | None:
        hit = self.by_code.get(row["town_code"]) if row["town_code"] else None
        if hit is None and row["town"]:
            cands = self.by_name.get(normalise_name(row["town"]), [])
            county = normalise_county(row["county"]) if row["county"] else None
            cands = [a for a in cands if not county or not a.get("county")
                     or normalise_county(a["county"]) == county]
            hit = cands[0] if len(cands) == 1 else None
        if hit is None:
            return None
        label = f"{hit.get('town_code') or ''} {hit.get('town') or ''}".strip()
        return (f"边界要素无几何（boundary feature has no geometry）: feature "
                f"{hit['boundary_feature']} ({label}) has a null or empty geometry in the "
                "boundary file; restore its polygon there")


def _joins(who: list[int], tentative) -> bool:
    """Table rows ``who`` claiming one feature join it: one row, or rows the crosswalk merges."""
    return len(who) == 1 or all(tentative[j][1] == "crosswalk" for j in who)


def _table_report(records: list[dict], tentative, claims, matcher, aside):
    rows, n_hints = [], 0
    src = [r["source_row"] for r in records]
    for r, (pos, how, note) in zip(records, tentative):
        base = _report_row("table", r["source_row"], r["town_code"], r["town"],
                           r["county"] or r["county_code"], note.strip())
        if len(pos) == 1 and len(claims[pos[0]]) == 1:
            p = pos[0]
            base.update(status="matched", how=how, matched_to=matcher.label(p))
            bname = matcher.names[p]
            if how == "code" and r["town"] and bname and not names_compatible(
                    name_key(r["town"]), name_key(bname)):
                base["reason"] = (f"按代码匹配，但名称不同：表格 {r['town']}，边界 {bname}；请核对"
                                  f"本行代码（matched by code, but the names differ (table "
                                  f"{r['town']}, boundaries {bname}): check this row's code）")
        elif len(pos) == 1 and _joins(claims[pos[0]], tentative):  # merged by the crosswalk
            base.update(status="matched", how="crosswalk", matched_to=matcher.label(pos[0]),
                        reason=(note + "与以下各行合并（merged with rows " + ", ".join(
                            str(int(src[j])) for j in claims[pos[0]]) + "）").strip())
        elif len(pos) == 1:
            others = [int(src[j]) for j in claims[pos[0]]]
            base.update(status="ambiguous", candidates=matcher.describe(pos),
                        reason=(note + f"表格第 {', '.join(map(str, others))} 行都匹配此镇街，"
                                f"请删除重复行（table rows {', '.join(map(str, others))} all "
                                "match this town; remove the duplicate rows）").strip())
        elif len(pos) > 1:
            base.update(status="ambiguous", candidates=matcher.describe(pos),
                        reason=(note + f"有 {len(pos)} 个镇街同名（{len(pos)} towns have this "
                                "name）" + ("" if r.get("county") or r.get("county_code") else
                                          "；请加所属县区列或统计代码列（add a county column "
                                          "(所属县区) or a code column (统计代码)）")
                                ).strip())
        elif lost := aside.reason(r):
            base.update(status="unmatched", reason=lost)
        elif not r["town_code"] and not r["town"] and r.get("code_note"):
            base.update(status="unmatched", reason=f"{r['code_note']}；本行也无名称可匹配，请改正"
                        "代码或填写名称（the row has no town name to join by either: fix the "
                        "code or fill in the name）")
        elif not r["town_code"] and not r["town"]:
            base.update(status="unmatched", reason="本行既无代码也无名称（the row has neither a "
                        "town code nor a town name）; fill them in or delete the row")
        else:  # typo hints are costly: for the first 200 unmatched rows only
            close = matcher.close_names(r["town"]) if n_hints < 200 else []
            hint = f"；最接近的名称（closest names）：{'、'.join(close)}" if close else ""
            base.update(status="unmatched", reason=(note + "边界中没有此代码或名称的镇街（no town "
                        f"with this code or name in the boundaries）{hint}；请核对名称或提供对照表"
                        "（check the spelling or give a crosswalk）").strip())
        rows.append(base)
        n_hints += "closest names" in base["reason"]
    return rows


def _boundary_report(b, claims, tentative, t, boundaries):
    rows = []
    src = t["source_row"].tolist()
    feature = list(boundaries.get("boundary_feature", range(len(b))))
    notes = list(boundaries.get("boundary_note", [""] * len(b)))
    for p, (code, town, county, county_code) in enumerate(zip(
            b["town_code"].tolist(), b["town"].tolist(), b["county"].tolist(),
            b["county_code"].tolist())):
        note = notes[p] if isinstance(notes[p], str) else ""
        base = _report_row("boundaries", feature[p], code, town, county or county_code, note)
        who = claims.get(p, [])
        rows_txt = ", ".join(str(int(src[j])) for j in who)
        if who and _joins(who, tentative):
            base.update(status="matched", how=tentative[who[0]][1],
                        matched_to=f"table row {rows_txt}")
        elif who:
            base.update(status="ambiguous", candidates=f"table rows {rows_txt}",
                        reason=_join_notes(note, "表格有多行匹配此镇街，未连接（several table "
                                                 "rows match this town; not joined）"))
        else:
            base.update(status="unmatched",
                        reason=_join_notes(note, "表格中没有此镇街（no table row for this town）"))
        rows.append(base)
    return rows


def _join_notes(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _aside_report(aside: list[dict], b_rows: list[dict]) -> list[dict]:
    """Rows of the set-aside boundary features: ``excluded`` (no geometry) or, for a part
    of a dissolved town, the status of the town it was dissolved into."""
    by_feature = {r["source_row"]: r for r in b_rows}
    rows = []
    for a in aside:
        base = _report_row("boundaries", a["boundary_feature"], a.get("town_code"),
                           a.get("town"), a.get("county") or a.get("county_code"),
                           a.get("reason") or "")
        town = by_feature.get(a.get("into")) if a.get("kind") == "part" else None
        if town is not None:
            base.update(status=town["status"], how="dissolved" if town["how"] else "",
                        matched_to=town["matched_to"], candidates=town["candidates"])
        else:
            base["status"] = "excluded"
        rows.append(base)
    return rows


def _excluded_report(table: ParsedTable):
    return [_report_row("table", r["source_row"],
                        *(None if _blank(r.get(k)) else r.get(k)
                          for k in ("town_code", "town", "county")),
                        r["reason"]) | {"status": "excluded"}
            for _, r in table.excluded.iterrows()]


def _report_row(source: str, source_row, code, town, county, reason: str) -> dict:
    """A row of the join report before its status and match are known."""
    return {"source": source, "source_row": int(source_row), "town_code": code,
            "town": town, "county": county, "how": "", "matched_to": "", "candidates": "",
            "reason": reason}


def _additive(unit: str | None) -> bool:
    """A unit is given and its values add up (a column without a unit is not summed)."""
    return bool(unit) and _adds_up(unit)


def _joined_frame(boundaries, b, t, table: ParsedTable, claims, tentative) -> pd.DataFrame:
    keys = table.keys or find_key_columns(table.data)
    key_cols = {keys.get(k) for k in ("code", "name", "county", "county_code")} - {None}
    data_cols = [c for c in table.data.columns if c not in key_cols]
    chosen = [(p, who) for p, who in sorted(claims.items()) if _joins(who, tentative)]
    pos = [p for p, _ in chosen]
    columns = {}
    for canon in _KEYS:
        mine, theirs = b[canon].tolist(), t[canon].tolist()
        columns[canon] = [theirs[who[0]] if mine[p] is None and len(who) == 1 else mine[p]
                          for p, who in chosen]
    first = [who[0] for _, who in chosen]
    for c in data_cols:  # one column at a time, not one town at a time
        columns[c] = list(map(table.data[c].tolist().__getitem__, first))
    for k, (_, who) in enumerate(chosen):
        if len(who) > 1:  # a merged town (crosswalk)
            for c, v in _merged_values(table, data_cols, who).items():
                columns[c][k] = v
    columns["table_row"] = [int(table.source_rows[who[0]]) for _, who in chosen]
    kept = [c for c in _KEEP_FROM_BOUNDARIES if c in boundaries.columns]
    for col in kept:
        columns[col] = list(map(boundaries[col].tolist().__getitem__, pos))
    columns["geometry"] = list(np.asarray(boundaries.geometry.values)[pos])
    frame = pd.DataFrame({k: pd.Series(v, dtype=object if k in _KEYS else None)
                          for k, v in columns.items()},
                         columns=[*_KEYS, *data_cols, "table_row", *kept, "geometry"])
    return frame.rename(columns={keys.get("declared"): "declared"})


def _merged_values(table: ParsedTable, cols, who: list[int]) -> dict:
    out = {}
    for c in cols:  # a merged town (crosswalk): add up what is additive
        values = [table.data[c].iat[j] for j in who]
        if table.kinds.get(c) == "number" and _additive(table.units.get(c)):
            arr = np.asarray(values, dtype=float)
            out[c] = float(arr.sum()) if np.isfinite(arr).all() else np.nan
        elif table.kinds.get(c) == "flag":
            out[c] = float(np.nanmax(np.asarray(values, dtype=float)))
        elif table.kinds.get(c) == "number":
            out[c] = np.nan  # shares / per-capita values cannot be added
        else:
            out[c] = next((v for v in values if v), "")
    return out


def summarise_join(report: pd.DataFrame) -> dict:
    """Bucket counts per side, e.g. ``{"boundaries": {"matched": 80, ...}, "table": {...}}``
    with ``"total"`` per side (the input counts)."""
    out = {}
    for side in ("boundaries", "table"):
        status = report.loc[report["source"] == side, "status"]
        out[side] = {s: int((status == s).sum())
                     for s in ("matched", "ambiguous", "unmatched", "excluded")}
        out[side]["total"] = int(len(status))
    return out


def indicator_totals(report: pd.DataFrame, table: ParsedTable) -> pd.DataFrame:
    """Sums of the additive indicators per join bucket, to check nothing was lost.

    Rows: ``matched``, ``ambiguous``, ``unmatched`` (table rows by status), ``all rows``
    (their sum, which equals the sum over the table's data rows) and, when the table had a
    total row (合计/总计), ``total row``.  Columns: the additive numeric columns (units
    that are not %, per-capita or yes/no); only cells with status ``ok`` are added.
    """
    cols = [c for c, k in table.kinds.items() if k == "number" and _additive(table.units.get(c))]
    tab = report[(report["source"] == "table") & (report["status"] != "excluded")]
    status_of = dict(zip(tab["source_row"], tab["status"]))
    statuses = np.array([status_of.get(r, "") for r in table.source_rows])
    out = {}
    for bucket in ("matched", "ambiguous", "unmatched"):
        sel = statuses == bucket
        out[bucket] = {c: float(np.nansum(np.where(
            np.asarray(table.status[c]) == "ok", np.asarray(table.data[c], float), 0.0)[sel]))
            for c in cols}
    out["all rows"] = {c: sum(out[b][c] for b in ("matched", "ambiguous", "unmatched"))
                       for c in cols}
    totals = table.excluded[table.excluded["kind"] == "total"] if len(table.excluded) else []
    if len(totals):
        out["total row"] = {c: float(totals.iloc[0][c]) if c in totals.columns else np.nan
                            for c in cols}
    return pd.DataFrame(out).T


def joined_status(joined: pd.DataFrame, table: ParsedTable) -> pd.DataFrame:
    """Cell statuses (``ok``, ``no_data``, ``below_unit`` …) aligned with the joined towns.

    Uses the ``table_row`` column of :func:`join_towns`' result; columns as in the joined
    frame (the declared column as ``declared``).
    """
    pos = {r: i for i, r in enumerate(table.source_rows)}
    idx = [pos[int(r)] for r in joined["table_row"]]
    out = table.status.iloc[idx].reset_index(drop=True)
    out = out.rename(columns={(table.keys or {}).get("declared"): "declared"})
    out.index = joined.index
    return out
