"""Indicator tables as statistical offices publish them: CSV, .xlsx, .xls.

:func:`read_table` finds the header under title rows, takes units from the header or a
units row, fills merged cells from the merge ranges, sets aside total, sub-item and
footnote rows with a reason, and parses every cell with :mod:`geo.numbers`.
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import xlrd
from openpyxl.utils import get_column_letter

from geo.codes import (CodeError, check_code_type, code_digits, normalise_code, parse_codes,
                       read_codes)
from geo.encoding import check_text, detect_bytes, normalise_encoding_name
from geo.errors import InputError, InputWarning
from geo.names import normalise_county
from geo.numbers import DEFAULT_MARKERS, STATUSES, parse_cell, plain_number, plain_numbers

__all__ = ["ParsedTable", "read_table", "find_key_columns", "split_unit", "cross_check_totals",
           "check_file", "file_kind", "workbook_cells", "KEY_HEADERS"]

#: Header texts (after NFKC, spaces removed) recognised as key columns.
KEY_HEADERS: dict[str, tuple[str, ...]] = {
    "code": ("统计代码", "区划代码", "代码", "统计用区划代码", "行政区划代码", "乡镇代码",
             "镇街代码", "乡镇统计代码", "town_code", "code"),
    "name": ("乡镇", "乡镇名称", "镇街", "镇街名称", "名称", "乡镇(街道)", "乡镇街道",
             "镇(街道)", "乡镇(街)", "单位名称", "镇名", "乡镇名", "街镇", "town", "name"),
    "county": ("县区", "所属县区", "县(市、区)", "所属县(市、区)", "县市区", "县(市区)",
               "区县", "所属区县", "县", "县区名称", "county"),
    "county_code": ("县区代码", "县代码", "所属县区代码", "county_code"),
    "declared": ("自评类别", "自评分类", "自评类型", "自评", "declared"),
}

_UNIT = re.compile(
    r"^(万|亿|千|百|十)?(元|人|人次|户|家|个|所|张|项|亩|公顷|吨|次|平方公里|平方千米|公里|千米|"
    r"km|km2|km²|%|‰|米|m|辆|床|座|处|条|名|间|套|台|头|只|kg|千克|公斤|千瓦时|度|立方米|m3|"
    r"元/人|元/亩|倍)(/(人|户|亩|年|平方公里|km2|km²))?$")
_BRACKET = re.compile(r"^(.*?)\s*[（(\[【]\s*(?:单位[:：])?\s*([^）)\]】]*?)\s*[）)\]】]\s*$")
_YES = {"是", "有", "√", "✓", "y", "yes", "true", "1"}
_NO = {"否", "无", "×", "✗", "x", "n", "no", "false", "0"}
_FOOTNOTE_RE = re.compile(r"^(注|说明|资料来源|数据来源|备注|note|source)[\d一二三四五六七八九十]*[:：、.．]",
                          re.IGNORECASE)
_BRACKETED = re.compile(r"[（(].*?[）)]")
#: Labels of a total row besides those ending in 合计/总计.
_TOTALS = {"全市", "全县", "全区", "全省", "全镇", "汇总", "总数"}


@dataclass
class ParsedTable:
    """A parsed indicator table (see :func:`read_table`).

    Attributes
    ----------
    data : DataFrame
        One row per town row; clean column names (unit removed); numbers float in the
        source unit, yes/no as 1.0/0.0, text as str; the code column as 9-digit str.
    units : dict
        Column → source unit (``万元``, ``%``, ``是/否`` …) or None.
    raw : DataFrame
        The cell text as in the file (same shape as ``data``).
    status : DataFrame
        Per cell: one of :data:`geo.numbers.STATUSES` (``ok``, ``no_data``, …).
    excluded : DataFrame
        Rows set aside: ``source_row``, ``reason``, ``kind``, ``town``, ``town_code``,
        ``county`` and their parsed numbers.
    source_rows : list of int
        File row (1-based, as a spreadsheet shows it) of each data row.
    messages : list of str
        What was decided and found, for the report.
    code_notes : dict
        Data position → why the row's code cell is not a town code (its code is None: it
        joins by name if it can, and join_report.csv gives this reason).
    """

    data: pd.DataFrame
    units: dict
    raw: pd.DataFrame
    status: pd.DataFrame
    excluded: pd.DataFrame
    source_rows: list
    messages: list = field(default_factory=list)
    path: str | None = None
    kinds: dict = field(default_factory=dict)
    keys: dict = field(default_factory=dict)
    encoding: str | None = None
    sheet: str | None = None
    header_rows: list = field(default_factory=list)
    code_notes: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready summary (for ``run.json``)."""
        counts = {s: int((self.status == s).to_numpy().sum()) for s in STATUSES}
        return {"path": self.path, "sheet": self.sheet, "encoding": self.encoding,
                "header_rows": list(self.header_rows), "rows": len(self.data),
                "excluded": len(self.excluded), "units": dict(self.units),
                "kinds": dict(self.kinds), "keys": dict(self.keys),
                "cell_status": counts, "messages": list(self.messages)}


_SPACE = re.compile(r"\s+")
_COUNTY_CODE = re.compile(r"\d{6}")


def _norm_header(text) -> str:
    return _SPACE.sub("", unicodedata.normalize("NFKC", str(text or "")))


def split_unit(header: str) -> tuple[str, str | None]:
    """``'地区生产总值（万元）'`` → ``('地区生产总值', '万元')``; no unit → ``(header, None)``."""
    text = _norm_header(header)
    m = _BRACKET.match(text)
    if m and (unit := _unit(m.group(2))):
        return m.group(1), unit
    m = re.match(r"^(.*?)[:：/]\s*(?:单位[:：])?(.+)$", text)
    if m and m.group(1) and (unit := _unit(m.group(2))):
        return m.group(1), unit
    return text, None


def _unit(text: str) -> str | None:
    """``text`` as a unit (``单位：万元`` → ``万元``), or None if it is not one."""
    unit = re.sub(r"^单位[:：]", "", _norm_header(text))
    return unit if _UNIT.match(unit) else None


def find_key_columns(df: pd.DataFrame | list, headers: dict | None = None) -> dict:
    """Which columns hold the town code, name, county, county code and declared category.

    ``headers`` (role → header texts) replaces :data:`KEY_HEADERS` for the roles it
    gives: another level's keys (:mod:`classify.levels`).

    Returns
    -------
    dict
        ``{"code": col|None, "name": col|None, "county": col|None,
        "county_code": col|None, "declared": col|None}``
    """
    columns = list(df.columns) if hasattr(df, "columns") else list(df)
    found: dict = {k: None for k in KEY_HEADERS}
    for key, names in {**KEY_HEADERS, **(headers or {})}.items():
        wanted = {_norm_header(n).lower() for n in names}
        for col in columns:
            base = split_unit(str(col))[0].lower()
            if base in wanted and col not in found.values():
                found[key] = col
                break
    return found


# ----------------------------------------------------------------------------- loading

def _cell_text(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _load_csv(path: Path, encoding: str) -> tuple[list[list], str, str]:
    data = path.read_bytes()
    if encoding == "auto":
        try:
            guess = detect_bytes(data)
        except InputError as exc:
            raise InputError(exc.message, path=path) from None
        enc, why = guess.encoding, guess.reason
    else:
        enc, why = normalise_encoding_name(encoding), "given with --encoding"
    try:
        text = data.decode(enc)
    except UnicodeDecodeError as exc:
        raise InputError(f"cannot decode as {enc} at byte {exc.start}; try --encoding auto "
                         "or another encoding", path=path) from None
    text = text.lstrip("\ufeff")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        rows = list(reader)
    except csv.Error as exc:        # a bare line break (CR) in an unquoted cell …
        raise InputError(f"无法读取 CSV（cannot parse the CSV）：{exc}; a cell holds a line "
                         f"break outside quotes: put the cell in double quotes or remove the "
                         f"break (or save the table as .xlsx)", path=path,
                         row=reader.line_num) from None
    return rows, enc, f"指标表编码（encoding）：{enc}（{why}）"


def _load_xlsx(path: Path, sheet) -> tuple[list[list], str, list]:
    wb = _open_xlsx(path, data_only=True)
    ws = _pick_sheet(path, wb.sheetnames, sheet, lambda name: wb[name])
    grid = [list(row) for row in ws.iter_rows(values_only=True)]
    merges = [(r.min_row - 1, r.min_col - 1, r.max_row - 1, r.max_col - 1)
              for r in ws.merged_cells.ranges]
    _check_formulas(path, ws.title, grid)
    return grid, ws.title, merges


def _open_xlsx(path: Path, *, data_only: bool):
    """openpyxl's workbook, opened from a file object (openpyxl refuses a workbook whose
    name ends in .xls even when it is an .xlsx inside); damage is an InputError."""
    try:
        with open(path, "rb") as fh:
            return openpyxl.load_workbook(io.BytesIO(fh.read()), data_only=data_only)
    except Exception as exc:  # zipfile.BadZipFile, KeyError, XML errors of a damaged file
        raise InputError(f"工作簿已损坏，无法读取（the workbook cannot be read: "
                         f"{type(exc).__name__}: {exc}）; open it in Excel or WPS and save "
                         "it again as .xlsx", path=path) from None


def _check_formulas(path: Path, title: str, grid: list[list]) -> None:
    """Formulas whose results were never saved (files written by scripts, not saved by
    Excel/WPS) read as empty: refuse, naming a cell."""
    if not any(v is None for row in grid for v in row):
        return
    ws = _open_xlsx(path, data_only=False)[title]
    for r, row in enumerate(ws.iter_rows()):
        for c, cell in enumerate(row):
            if cell.data_type == "f" and (r >= len(grid) or c >= len(grid[r])
                                          or grid[r][c] is None):
                raise InputError(
                    f"cell {cell.coordinate} holds the formula {cell.value!r} but no saved "
                    "result; open the file in Excel or WPS and save it (or paste values)",
                    path=path, row=r + 1)


def _load_xls(path: Path, sheet) -> tuple[list[list], str, list]:
    try:
        book = xlrd.open_workbook(str(path), formatting_info=True)
    except Exception as exc:  # xlrd.XLRDError, struct errors of a damaged file
        raise InputError(f"旧版工作簿无法读取（the .xls workbook cannot be read: {exc}）; "
                         "open it in Excel or WPS and save it as .xlsx", path=path) from None
    ws = _pick_sheet(path, book.sheet_names(), sheet, book.sheet_by_name)
    empty = (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK)
    grid = [[None if cell.ctype in empty else cell.value for cell in ws.row(r)]
            for r in range(ws.nrows)]
    merges = [(r0, c0, r1 - 1, c1 - 1) for r0, r1, c0, c1 in ws.merged_cells]
    return grid, ws.name, merges


def _pick_sheet(path, names, sheet, get):
    if sheet is None:
        # Workbooks often start with a cover or notes sheet: take the first sheet with a
        # town column header (乡镇, 统计代码 …), else the first that is not empty.
        sheets = [get(name) for name in names]
        for ws in sheets:
            if any(map(_is_key_header, _head(ws))):
                return ws
        return next((ws for ws in sheets if (getattr(ws, "max_row", None)
                                             or getattr(ws, "nrows", 0)) > 1), sheets[0])
    return get(_pick_name(path, names, sheet, "sheet"))


def _pick_name(path, names: list[str], chosen, what: str) -> str:
    """The sheet or layer ``chosen`` by name or 0-based number (``--sheet``, ``--layer``)."""
    if isinstance(chosen, int) or (str(chosen).isdigit() and str(chosen) not in names):
        idx = int(chosen)
        if not 0 <= idx < len(names):
            raise InputError(f"there is no {what} number {idx}; {what}s are {names} "
                             f"(--{what})", path=path)
        return names[idx]
    if chosen not in names:
        raise InputError(f"no {what} named {chosen!r}; {what}s are {names} (--{what})",
                         path=path)
    return chosen


def _head(ws, n: int = 40) -> list[list[str]]:
    """Text of the first rows of an openpyxl or xlrd sheet."""
    if hasattr(ws, "iter_rows"):
        rows = ws.iter_rows(max_row=n, values_only=True)
    else:
        rows = (ws.row_values(r) for r in range(min(n, ws.nrows)))
    return [[_cell_text(v).strip() for v in row] for row in rows]


def _fill_merges(grid: list[list], merges: list) -> None:
    for r0, c0, r1, c1 in merges:
        if r0 >= len(grid):
            continue
        value = grid[r0][c0] if c0 < len(grid[r0]) else None
        for r in range(r0, min(r1, len(grid) - 1) + 1):
            row = grid[r]
            row.extend([None] * (c1 + 1 - len(row)))
            row[c0:c1 + 1] = [value] * (c1 + 1 - c0)


# ----------------------------------------------------------------------------- layout

def _row_texts(row: list) -> list[str]:
    try:
        return list(map(str.strip, row))        # a CSV row: text only
    except TypeError:                           # numbers, dates, None of a workbook
        return [v.strip() if type(v) is str else _cell_text(v).strip() for v in row]


def _cell_unit(text: str, unit: str | None = None) -> str | None:
    """The unit to parse a cell in: the column's, else ``%`` for a cell with the sign."""
    return unit if unit else ("%" if text.endswith(("%", "％")) else None)


def _is_number_cell(text: str) -> bool:
    return text != "" and parse_cell(text, unit=_cell_unit(text)).status == "ok"


_KEY_WORDS = {_norm_header(n).lower() for names in KEY_HEADERS.values() for n in names}


def _is_key_header(texts: list[str]) -> bool:
    """A header row: a key column's header (乡镇, 统计代码 …) among two or more texts."""
    return sum(bool(t) for t in texts) >= 2 and any(
        split_unit(t)[0].lower() in _KEY_WORDS for t in texts if t)


def _find_header(rows: list[list[str]], path) -> int:
    """Index of the header row: the first with a key-column header, else the first row
    of two or more text cells none of which is a number."""
    for i, texts in enumerate(rows[:40]):
        if _is_key_header(texts):
            return i
    for i, texts in enumerate(rows[:40]):
        filled = [t for t in texts if t]
        if len(filled) >= 2 and not any(_is_number_cell(t) for t in filled):
            return i
    raise InputError("no header row found in the first 40 rows: expected a row with column "
                     "names such as 统计代码, 乡镇, 地区生产总值（万元）", path=path)


def _is_units_row(texts: list[str]) -> bool:
    filled = [t for t in texts if t]
    if not filled:
        return False
    if _norm_header(filled[0]).rstrip(":：") in ("单位", "计量单位"):
        return True
    units = [t for t in filled if _unit(t.strip("（）()"))]
    return len(units) >= max(1, len(filled) - 1) and len(units) >= 0.6 * len(filled)


def _is_subheader(texts: list[str], header: list[str], name_col: int | None) -> bool:
    filled = [t for t in texts if t]
    if (not filled or any(_is_number_cell(t) for t in filled)
            or all(t in DEFAULT_MARKERS for t in filled)  # "—", "…": a data row's
            or any(_safe_code(t) is not None for t in filled)):
        return False
    if name_col is not None:  # rows are padded to the table's width
        return texts[name_col] in ("", header[name_col])
    return True


def _safe_code(value) -> str | None:
    """The town code in ``value``, or None if it holds none."""
    try:
        return normalise_code(value)
    except CodeError:
        return None


def _combine_headers(top: list[str], sub: list[str], top_spans: list[bool]) -> list[str]:
    names = []
    last = ""
    for c, (t, s) in enumerate(zip(top, sub)):
        if not t and s and not top_spans[c]:
            t = last  # CSV rendering of a horizontal merge: group name only in its 1st cell
        last = t or last
        if not s or s == t:
            names.append(t)
        elif not t:
            names.append(s)
        else:
            stem = split_unit(s)[0]
            names.append(s if len(stem) >= 4 else f"{t}{s}")
    return names


def _layout(rows: list[list[str]], merges: list, path) -> dict:
    h = _find_header(rows, path)
    header = rows[h]
    keys = find_key_columns(header)
    name_col = header.index(keys["name"]) if keys["name"] is not None else None
    header_rows, unit_row, names = [h], None, list(header)
    spans = [any(r0 <= h <= r1 and c0 <= c <= c1 and c1 > c0 for r0, c0, r1, c1 in merges)
             for c in range(len(header))]
    i = h + 1
    while i < len(rows) and i <= h + 3:
        texts = rows[i]
        if unit_row is None and _is_units_row(texts):
            unit_row = i
        elif len(header_rows) == 1 and unit_row is None and _is_subheader(texts, header,
                                                                         name_col):
            names = _combine_headers(names, texts, spans)
            header_rows.append(i)
        elif any(texts):
            break
        i += 1
    default_unit = None
    for texts in rows[:h]:
        for t in texts:
            m = re.search(r"单位[:：]\s*(\S+)", _norm_header(t))
            if m and (unit := _unit(m.group(1))):
                default_unit = unit
    return {"header": h, "header_rows": header_rows, "unit_row": unit_row, "names": names,
            "merged_rows": {(r, c) for r0, c0, r1, c1 in merges if r1 > r0
                            for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)},
            "first_data": i, "default_unit": default_unit}


# ----------------------------------------------------------------------------- rows

def _row_kind(texts: list[str], label: str, code_text: str, counties: set,
              county_table: bool) -> tuple[str, str]:
    """``(kind, reason)`` of a row below the header; kind ``data`` keeps it.  In a
    ``county_table`` (6-digit codes) the rows are counties, not county subtotals."""
    first = next((t for t in texts if t), "")
    if _FOOTNOTE_RE.match(_norm_header(first)):
        return "footnote", f"footnote row ({first[:30]})"
    for text in dict.fromkeys((label, code_text, first)):  # each distinct text once
        key = _BRACKETED.sub("", _norm_header(text))
        if key in _TOTALS or key.endswith(("合计", "总计")):
            return "total", f"total row ({text})"
        if key.endswith("小计"):
            return "subtotal", f"subtotal row ({text})"
        # "其中：工业" is a part of the row above; 其中口乡 (a town with a code) is not
        if key.startswith("其中") and (key[2:3] in ":：、,，" or _safe_code(code_text) is None):
            return "sub_item", f"sub-item row ({text}): part of the row above"

    if county_table:
        return "data", ""
    if label and normalise_county(label) in counties and _safe_code(code_text) is None:
        return "county_total", f"county subtotal row ({label})"
    if _COUNTY_CODE.fullmatch(code_text or ""):
        return "county_total", f"county-level code {code_text}: a county subtotal row"
    return "data", ""


def _column_kind(cells: list[str], unit: str | None, fast: list) -> str:
    """``number``, ``flag`` or ``text``; ``fast`` = :func:`plain_numbers` of the cells."""
    if cells and None not in fast:
        # every cell a plain decimal (the usual column): numbers — the flag words that
        # are decimals, 0 and 1, make no flag column alone
        return "number"
    words = {c.lower() for c in cells if c}
    if words and words <= _YES | _NO and not words <= {"0", "1"}:
        return "flag"
    statuses = ["ok" if f is not None else parse_cell(c, unit=_cell_unit(c, unit)).status
                for c, f in zip(cells, fast)]
    n_ok, n_bad = statuses.count("ok"), statuses.count("invalid")
    if n_ok >= 1 and (unit is not None or n_ok > n_bad):
        return "number"  # a declared unit means numbers: odd cells become 'invalid'
    return "text"


_MERGED = "\0merged"


def _blank_merged(cells, c, data_idx, merged, name, messages) -> None:
    """A number merged over several town rows belongs to none of them: status 'merged'."""
    if not merged:  # CSV, or a sheet without merged cells
        return
    hit = [i for i, r in enumerate(data_idx) if (r, c) in merged]
    if hit:
        for i in hit:
            cells[i] = _MERGED
        messages.append(f"column {name!r}: rows {', '.join(str(data_idx[i] + 1) for i in hit)}"
                        " share one merged cell; the value is not given to any one town "
                        "(status 'merged') — unmerge and enter each town's value")


def _parse_number_column(cells, unit, markers, fast=None, wan_suffix=None):
    """Values and statuses of a number column, the notes ``(i, note)`` of cells read with
    one and the ambiguous cells ``(i, text, readings)``."""
    fast = plain_numbers(cells, markers) if fast is None else fast
    if None not in fast and _MERGED not in cells:  # the usual column: plain numbers only
        return fast, ["ok"] * len(fast), [], []
    values, status, notes, ambiguous = [], [], [], []
    for i, (text, fast) in enumerate(zip(cells, fast)):
        if text == _MERGED:
            values.append(math.nan), status.append("merged")
            continue
        if fast is not None:  # most cells: a plain number, no note
            values.append(fast), status.append("ok")
            continue
        cell = parse_cell(text if text != "" else None, unit=unit, markers=markers,
                          wan_suffix=wan_suffix)
        values.append(cell.value)
        status.append(cell.status)
        if cell.readings:
            ambiguous.append((i, text, cell.readings))
        if cell.status == "ok" and cell.note:
            notes.append((i, cell.note))
    return values, status, notes, ambiguous


_FLAGS = {**dict.fromkeys(_YES, (1.0, "ok")), **dict.fromkeys(_NO, (0.0, "ok")),
          "": (math.nan, "unknown"), _MERGED: (math.nan, "merged")}


def _parse_flag_column(cells):
    pairs = [_FLAGS.get(text.lower(), (math.nan, "invalid")) for text in cells]
    return [v for v, _ in pairs], [s for _, s in pairs]


# ----------------------------------------------------------------------------- main

def read_table(path, *, sheet=None, encoding: str = "auto", markers=None,
               wan_suffix: str | None = None) -> ParsedTable:
    """Read an indicator table (CSV in UTF-8 or GB18030, .xlsx, .xls).

    Parameters
    ----------
    path : str or Path
    sheet : str or int, optional
        Sheet name or 0-based number (``--sheet``); default the first non-empty sheet.
    encoding : str
        CSV encoding, ``"auto"`` to detect (``--encoding``).
    markers : mapping, optional
        Missing-value markers → status (default :data:`geo.numbers.DEFAULT_MARKERS`).
    wan_suffix : {None, "literal", "multiply"}
        How to read ``7.0万`` in a ``万元`` column (a magnitude word repeating the unit's
        own): ``"literal"`` = 7.0 万元, ``"multiply"`` = 70,000 万元 (see
        :func:`geo.numbers.parse_cell`).  None (default): such a cell stops the read with
        an InputError naming the cell and both readings.  Other magnitude words are
        applied (``3亿`` in a 万元 column = 30000) with a note in ``messages``.

    Returns
    -------
    ParsedTable

    Raises
    ------
    geo.errors.InputError
        Unreadable file, no header, unknown sheet, unreadable codes (naming the rows).
    """
    path = Path(path)
    check_file(path, flag="--indicators")
    grid, merges, enc, sheet_name, messages = _load_grid(path, sheet, encoding)
    width = max((len(r) for r in grid), default=0)
    grid = [r if len(r) == width and type(r) is list else list(r) + [None] * (width - len(r))
            for r in grid]
    rows = [_row_texts(r) for r in grid]
    if not any(map(any, rows)):
        raise InputError("the table is empty", path=path)
    layout = _layout(rows, merges, path)
    columns = _columns(rows, layout, messages)
    keys = find_key_columns([name for _, name, _ in columns])
    data_idx, excluded = _split_rows(path, rows, layout, columns, keys)
    return _assemble(path, grid, rows, layout, columns, keys, data_idx, excluded, markers,
                     messages, enc, sheet_name, wan_suffix)


def check_file(path: Path, *, flag: str) -> None:
    """Stop unless ``path`` is an existing, readable, non-empty file (``flag`` names the
    option that gave it)."""
    if not path.exists():
        raise InputError(f"文件不存在（file not found）; check the {flag} path", path=path)
    if path.is_dir():
        raise InputError(f"这是一个文件夹，不是文件（a folder, not a file）; give the file "
                         f"itself with {flag}", path=path)
    try:
        with open(path, "rb") as fh:
            first = fh.read(1)
    except PermissionError:
        raise InputError("文件无法打开（permission denied）: the file is locked or not "
                         "readable — close it in Excel/WPS (or copy it) and run again",
                         path=path) from None
    except OSError as exc:
        raise InputError(f"文件无法读取（cannot read the file: {exc.strerror}）",
                         path=path) from None
    if not first:
        raise InputError("文件是空的（empty file, 0 bytes）; export or copy it again",
                         path=path)


#: What a file's first bytes say it is (``file_kind``) → reader.
_KIND_NAMES = {"xlsx": "an Excel workbook (.xlsx)", "xls": "a legacy Excel workbook (.xls)",
               "text": "plain text (CSV)", "html": "a web page (HTML)", "pdf": "a PDF document",
               "zip": "a zip archive that is not a workbook",
               "binary": "a binary file of unknown type"}


def file_kind(path: Path) -> str:
    """What a table file really is, from its first bytes (not its name): ``xlsx``,
    ``xls``, ``text``, ``html``, ``pdf``, ``zip`` or ``binary``."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
        except zipfile.BadZipFile:
            return "binary"
        return "xlsx" if "[Content_Types].xml" in names and any(
            n.startswith("xl/") for n in names) else "zip"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "xls"
    if head.startswith(b"%PDF"):
        return "pdf"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "text"  # UTF-16 with a byte-order mark (Excel's "Unicode text")
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<table", b"<?xml", b"<meta")):
        return "html"
    if b"\0" in head:
        return "binary"
    return "text"


def workbook_cells(path: Path, kind: str) -> list[list[str]]:
    """The cells, as text, of a workbook's sheet picked as for an indicator table (the first
    with a town column header, else the first not empty); ``kind``: the workbook's
    :func:`file_kind`, ``xlsx`` or ``xls``."""
    grid = (_load_xlsx if kind == "xlsx" else _load_xls)(path, None)[0]
    return [[_cell_text(v) for v in row] for row in grid]


#: What a table file's suffix says it is.
_SUFFIX_KINDS = {".csv": "text", ".txt": "text", ".tsv": "text", ".xlsx": "xlsx",
                 ".xlsm": "xlsx", ".xls": "xls"}


def _load_grid(path: Path, sheet, encoding):
    suffix = path.suffix.lower()
    named = _SUFFIX_KINDS.get(suffix)
    if named is None:
        raise InputError(f"unsupported table format {suffix!r}; use .csv, .xlsx or .xls",
                         path=path)
    kind = file_kind(path)
    if kind not in ("text", "xlsx", "xls"):
        raise InputError(
            f"文件内容与扩展名不符（the file is {_KIND_NAMES[kind]}, not a {suffix} table）; "
            "open it in Excel or WPS and save it as .xlsx (or export CSV)", path=path)
    messages: list[str] = []
    if kind != named:
        messages.append(f"文件内容与扩展名不符（content does not match the extension）: "
                        f"{path.name} is {_KIND_NAMES[kind]}; read as such")
    if kind == "text":
        grid, enc, msg = _load_csv(path, encoding)
        messages.append(msg)
        return grid, [], enc, None, messages
    grid, sheet_name, merges = (_load_xlsx if kind == "xlsx" else _load_xls)(path, sheet)
    messages.append(f"sheet {sheet_name!r}")
    if merges:
        _fill_merges(grid, merges)
        messages.append(f"{len(merges)} merged cell range(s) filled from the merge ranges")
    return grid, merges, None, sheet_name, messages


def _columns(rows, layout, messages) -> list[tuple[int, str, str | None]]:
    """``(index, clean name, unit)`` of every column that has a header or data."""
    out, seen = [], {}
    data_rows = rows[layout["first_data"]:]
    unit_row = rows[layout["unit_row"]] if layout["unit_row"] is not None else None
    for c, name in enumerate(layout["names"]):
        letter = get_column_letter(c + 1)
        if not name and not any(r[c] for r in data_rows):
            continue
        if not name:
            name = f"列{letter}"
            messages.append(f"column {letter} has data but no header; named {name!r}")
        base, unit = split_unit(name)
        if unit is None and unit_row is not None and unit_row[c]:
            unit = _unit(unit_row[c].strip("（）() "))
        seen[base] = seen.get(base, 0) + 1
        if seen[base] > 1:
            messages.append(f"duplicate column name {base!r} (column {letter}); "
                            f"renamed {base}_{seen[base]}")
            base = f"{base}_{seen[base]}"
        out.append((c, base, unit))
    return out


def _split_rows(path, rows, layout, columns, keys) -> tuple[list, list]:
    """Indices of the data rows, and the rows set aside as ``(index, kind, reason)``."""
    col_of = {name: c for c, name, _ in columns}
    name_c, code_c, county_c = (col_of.get(keys[k]) for k in ("name", "code", "county"))
    below = rows[layout["first_data"]:]
    counties = {normalise_county(r[county_c]) for r in below
                if county_c is not None and r[county_c]}
    county_table = {len(r[code_c]) for r in below
                    if code_c is not None and r[code_c].isdigit()} == {6}
    data_idx, excluded, after_footnote = [], [], False
    for r in range(layout["first_data"], len(rows)):
        texts = rows[r]
        if not any(texts):
            continue
        label = texts[name_c] if name_c is not None else ""
        code_text = texts[code_c] if code_c is not None else ""
        kind, reason = _row_kind(texts, label, code_text, counties, county_table)
        if kind == "data" and after_footnote and not any(_is_number_cell(t) for t in texts):
            kind, reason = "footnote", "text below a footnote"
        after_footnote |= kind == "footnote"
        if kind == "data":
            data_idx.append(r)
        else:
            excluded.append((r, kind, reason))
    if not data_idx:
        raise InputError("no data rows below the header (row "
                         f"{layout['header'] + 1}); check the sheet (--sheet)", path=path)
    return data_idx, excluded


def _table_codes(cells, path, column, rows) -> tuple[list, list, dict]:
    """Codes, statuses and notes of the code column: a bad cell leaves its row without a
    code (warned once); a column with no usable code stops, naming the rows."""
    # 6-digit (county) or 12-digit (village) codes are read as such: classify.levels
    # infers the run's level from them
    digits = code_digits(cells) or 9
    codes, bad = read_codes(cells, digits)
    if bad and not any(codes):
        parse_codes(cells, path=path, column=column, rows=rows, digits=digits)  # raises
    notes = {i: f"统计代码无效（invalid code）: {why}; the code was not used"
             for i, why in bad.items()}
    if bad:
        shown = "; ".join(f"row {rows[i]}: {why}" for i, why in list(bad.items())[:5])
        warnings.warn(f"{path}, column {column!r}: {len(bad)} 行统计代码无效，按名称匹配"
                      f"（{len(bad)} invalid town code(s); those rows join by name only, see "
                      f"join_report.csv）— {shown}{'; …' if len(bad) > 5 else ''}. Fix the "
                      "codes in the file (format the code column as text)",
                      InputWarning, stacklevel=2)
    status = ["invalid" if i in bad else "ok" if v else "unknown" for i, v in enumerate(codes)]
    return codes, status, notes


def _assemble(path, grid, rows, layout, columns, keys, data_idx, excluded, markers,
              messages, enc, sheet_name, wan_suffix=None):
    data, raw, status, units, kinds = {}, {}, {}, {}, {}
    code_notes: dict = {}
    ex_idx = [r for r, _, _ in excluded]
    source_rows = [r + 1 for r in data_idx]
    ex_values: dict[str, list] = {}
    key_cols = {v for v in keys.values() if v is not None}
    by_column = list(zip(*[rows[r] for r in data_idx]))  # one transpose, not one per column
    for c, name, unit in columns:
        cells = list(by_column[c])
        raw[name] = list(cells)
        if name == keys["code"]:
            data[name], status[name], code_notes = _table_codes(
                [grid[r][c] for r in data_idx], path, name, source_rows)
            kinds[name], units[name] = "code", None
            ex_values[name] = [_safe_code(grid[r][c]) for r in ex_idx]
            continue
        fast = None if name in key_cols else plain_numbers(cells, markers)
        kind = "text" if name in key_cols else _column_kind(cells, unit, fast)
        if kind == "number" and unit is None:
            unit = _unit_of_numbers(name, cells, layout["default_unit"], messages)
        kinds[name], units[name] = kind, unit
        if kind in ("number", "flag"):
            _blank_merged(cells, c, data_idx, layout["merged_rows"], name, messages)
        if kind == "number":
            data[name], status[name], notes, ambiguous = _parse_number_column(
                cells, unit, markers, fast, wan_suffix)
            if ambiguous:
                _ambiguous_cells(path, name, unit, ambiguous, data_idx)
            if notes:
                messages.append(f"column {name!r}: " + "; ".join(
                    f"row {data_idx[i] + 1}: {note}" for i, note in notes[:8])
                    + (f"; … {len(notes) - 8} more" if len(notes) > 8 else ""))
            ex_values[name] = _parse_number_column([rows[r][c] for r in ex_idx], unit,
                                                   markers)[0]
        elif kind == "flag":
            data[name], status[name] = _parse_flag_column(cells)
            units[name] = "是/否"
        else:
            check_text(cells, path=path, column=name, rows=source_rows)
            data[name] = cells
            status[name] = ["ok" if t else "unknown" for t in cells]
            if name in key_cols:
                ex_values[name] = [rows[r][c] for r in ex_idx]
    # text and codes as object columns holding str or None (pandas 3 would infer its
    # string dtype and turn a None into NaN)
    frame = pd.DataFrame({name: pd.Series(values, dtype=object if kinds[name] in (
        "text", "code") else None) for name, values in data.items()})
    ex = _excluded_frame(excluded, ex_values, keys)
    table = ParsedTable(
        data=frame, units=units, raw=pd.DataFrame(raw, dtype=object),
        status=pd.DataFrame(status, dtype=object), excluded=ex, source_rows=source_rows,
        messages=messages, path=str(path), kinds=kinds, keys=keys, encoding=enc,
        sheet=sheet_name, header_rows=[h + 1 for h in layout["header_rows"]],
        code_notes=code_notes)
    _describe(table, layout)
    messages.extend(_code_type_messages(table))
    messages.extend(cross_check_totals(table))
    return table


def _ambiguous_cells(path, name, unit, ambiguous, data_idx) -> None:
    """Stop on ``7.0万`` in a ``万元`` column (the reading is not ours to choose)."""
    i, text, (literal, multiply) = ambiguous[0]
    more = (f" ({len(ambiguous) - 1} more such cell(s) in this column, rows "
            f"{', '.join(str(data_idx[j] + 1) for j, _, _ in ambiguous[1:6])})"
            if len(ambiguous) > 1 else "")
    raise InputError(
        f"数值有歧义（ambiguous value）{text.strip()!r} in a {unit} column: {literal:g} {unit} "
        f"(the 万/亿 restates the unit) or {multiply:g} {unit} (it multiplies the number)"
        f"{more}. Write the number in the column unit, or say which reading applies: "
        "wan_suffix = \"literal\" or \"multiply\" in the [table] section of the config",
        path=path, row=data_idx[i] + 1, column=name)


def _code_type_messages(table: ParsedTable) -> list[str]:
    code, name = table.keys.get("code"), table.keys.get("name")
    if code is None or name is None:
        return []
    return [f"row {row}: {problem}" for row, c, n in zip(table.source_rows, table.data[code],
                                                        table.data[name])
            if (problem := check_code_type(c, n))]


_MONEY_WORDS = re.compile(r"值|额|收入|投资|支出|资金|利润|税|产出|营收")


def _unit_of_numbers(name: str, cells: list[str], title_unit, messages) -> str | None:
    """A number column's unit when its header gives none: ``%`` if every number has the
    sign, else the title's ``单位：万元`` — for money columns only (not 常住人口, 占比…)."""
    if all(t.endswith(("%", "％")) for t in cells if t and _is_number_cell(t)):
        return "%"
    if title_unit and ("元" not in title_unit or _MONEY_WORDS.search(name)):
        messages.append(f"column {name!r}: unit {title_unit} from the title "
                        f"(单位：{title_unit})")
        return title_unit
    return None


def _excluded_frame(excluded, ex_values, keys) -> pd.DataFrame:
    ex = pd.DataFrame({"source_row": [r + 1 for r, _, _ in excluded],
                       "kind": [k for _, k, _ in excluded],
                       "reason": [why for _, _, why in excluded]})
    canon = {keys["code"]: "town_code", keys["name"]: "town", keys["county"]: "county"}
    for name, values in ex_values.items():
        ex[canon.get(name, name)] = values
    for col in ("town_code", "town", "county"):
        if col not in ex:
            ex[col] = pd.Series([None] * len(ex), dtype=object)
    return ex


def _describe(table: ParsedTable, layout) -> None:
    msgs = table.messages
    if layout["header"] > 0:
        msgs.append(f"{layout['header']} title row(s) above the header skipped")
    rows = ", ".join(str(r) for r in table.header_rows)
    msgs.append(f"表头所在行（header row）：{rows}" + (
        f"；单位行（units row）：{layout['unit_row'] + 1}" if layout["unit_row"] is not None
        else ""))
    for kind, group in table.excluded.groupby("kind", sort=False):
        msgs.append(f"{len(group)} {kind.replace('_', ' ')} row(s) excluded "
                    f"(rows {', '.join(map(str, group['source_row'].tolist()[:12]))})")
    for name in table.data.columns:
        counts = table.status[name].value_counts()
        odd = {k: int(v) for k, v in counts.items() if k != "ok"}
        if odd and table.kinds.get(name) in ("number", "flag"):
            msgs.append(f"column {name!r}: " + ", ".join(f"{v} {k}" for k, v in odd.items()))
        if table.units.get(name) == "%" and table.kinds.get(name) == "number":
            ok = np.asarray(table.data[name], dtype=float)[np.asarray(table.status[name]) == "ok"]
            if len(ok) >= 3 and ok.max() <= 1 and ok.max() > 0:
                msgs.append(f"column {name!r} (%): every value is between 0 and 1 — if these "
                            "are fractions, not percentages, multiply by 100 in the file "
                            "(kept as given)")
        if counts.get("invalid", 0) and table.kinds.get(name) != "code":  # said on reading
            bad = [table.source_rows[i] for i, s in enumerate(table.status[name])
                   if s == "invalid"]
            msgs.append(f"column {name!r}: text that is not a number in row(s) "
                        f"{', '.join(map(str, bad[:12]))} — kept as status 'invalid'")


def _adds_up(unit: str | None) -> bool:
    """Values in ``unit`` add up over towns: not shares (%, ‰), not per-unit (元/人, 是/否)."""
    return unit not in ("%", "‰") and "/" not in (unit or "")


def cross_check_totals(table: ParsedTable, *, tolerance: float = 0.005) -> list[str]:
    """Compare total rows (合计/总计/全市) with the sum of the town rows, per column.

    Only additive columns are checked (not %, not per-capita units).
    """
    out = []
    totals = table.excluded[table.excluded["kind"] == "total"]
    for _, row in totals.iterrows():
        n_agree = 0
        for name, kind in table.kinds.items():
            if kind != "number" or not _adds_up(table.units.get(name)) or name not in row:
                continue
            total = row[name]
            if total is None or not np.isfinite(total):
                continue
            ok = np.asarray(table.status[name]) == "ok"
            towns = float(np.asarray(table.data[name], dtype=float)[ok].sum())
            diff = abs(towns - total) / max(abs(total), 1e-9)
            n_agree += diff <= tolerance
            if diff > tolerance:
                out.append(f"cross-check row {row['source_row']} column {name!r}: total "
                           f"{total:g} vs sum of town rows {towns:g} ({diff:.1%}) — "
                           "check for missing or extra rows")
        out.append(f"cross-check row {row['source_row']} ({row['reason']}): {n_agree} "
                   "column(s) agree with the sum of the town rows")
    return out
