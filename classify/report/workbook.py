"""Workbooks for people, written with XlsxWriter (``constant_memory``: rows stream to
disk): a header row in the reader's language, frozen, with filters; numbers as numbers
with rounded display formats; codes and every text as text (never a formula); a table
longer than a person reads in a workbook goes to a CSV beside it, with a note in its place.
"""

from __future__ import annotations

import functools
import math
from datetime import datetime
from pathlib import Path
from typing import Collection, Mapping

import numpy as np
import pandas as pd
import xlsxwriter
from pandas.api import types as ptypes

from classify.outputs import write_csv

__all__ = ["write_workbook", "LONG_ROWS", "DETAIL_ROWS", "EXCEL_ROWS"]

#: Excel's rows per sheet (header included).
EXCEL_ROWS = 1_048_576
#: Rows above which a long table goes to CSV beside the workbook (no one reads it whole).
LONG_ROWS = 200_000
#: Rows above which a detail table (``detail=`` of :func:`write_workbook`: several rows a
#: town, read a town at a time on its sheet) goes to CSV: about a city's towns' worth.
DETAIL_ROWS = 10_000
_FIXED_TIME = datetime(2000, 1, 1)      # the same inputs give the same bytes
_OPTIONS = {"constant_memory": True, "strings_to_formulas": False,
            "strings_to_urls": False, "strings_to_numbers": False}


def _width(header: str, values: list) -> float:
    """Column width from the header and the first values (CJK characters count two)."""
    def w(text: str) -> int:
        return len(text) if text.isascii() else sum(2 if ord(ch) > 0x2E80 else 1
                                                    for ch in text)
    longest = max([w(str(header))] + [w(str(v)) for v in values[:200] if v is not None])
    return min(60.0, max(6.0, longest + 2.0))


def _cell(x):
    """A cell's value: a finite number, a boolean, text, or None (empty)."""
    if x is None or x is pd.NA:
        return None
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, float, np.integer, np.floating)):
        return float(x) if math.isfinite(x) else None
    return str(x) or None       # empty text: an empty cell


def _cells(col: pd.Series) -> tuple[str, list]:
    """(kind, values) of a column: ``number`` (None for missing/inf), ``bool``, ``text``
    or ``mixed`` (each cell by its own type; texts stay text)."""
    if ptypes.is_bool_dtype(col.dtype):
        return "bool", [bool(v) for v in col.tolist()]
    if ptypes.is_numeric_dtype(col.dtype):
        v = col.to_numpy(dtype=float, na_value=np.nan)
        return "number", [x if math.isfinite(x) else None for x in v.tolist()]
    values = [_cell(x) for x in col.tolist()]
    kinds = {type(v) for v in values if v is not None}
    return ("text" if kinds <= {str} else "mixed"), values


def write_workbook(path: str | Path, sheets: Mapping[str, pd.DataFrame], *,
                   formats: Mapping[str, str] | None = None, notice: str | None = None,
                   notice_title: str = "说明", long_note: str | None = None,
                   detail: Collection[str] = ()) -> list[Path]:
    """Write ``sheets`` (title → table whose column names are the headers) to ``path``.

    ``formats``: Excel number format per header (default ``0.00`` for floats, ``0`` for
    whole numbers).  ``notice``: a first sheet with that text.  A table of more than
    :data:`LONG_ROWS` rows, or a table titled in ``detail`` of more than
    :data:`DETAIL_ROWS`, is written to ``<path stem>_<title>.csv`` instead (``long_note``
    with ``{rows}`` and ``{csv}`` says so in its sheet).  Returns the paths written."""
    path = Path(path)
    formats = formats or {}
    written = [path]
    wb = xlsxwriter.Workbook(str(path), _OPTIONS)
    wb.set_properties({"created": _FIXED_TIME})
    head = wb.add_format({"bold": True, "text_wrap": True, "valign": "top",
                          "bg_color": "#DDEBF7", "border": 1})

    @functools.cache
    def fmt(spec: str):
        return wb.add_format({"num_format": spec})

    if notice:
        ws = wb.add_worksheet(notice_title[:31])
        ws.set_column(0, 0, 100, wb.add_format({"text_wrap": True, "valign": "top"}))
        ws.write_string(0, 0, notice_title)
        ws.write_string(1, 0, notice)
    for title, table in sheets.items():
        ws = wb.add_worksheet(title[:31])
        limit = min(DETAIL_ROWS if title in detail else LONG_ROWS, EXCEL_ROWS - 1)
        if len(table) > limit:
            csv = path.with_name(f"{path.stem}_{title}.csv")
            written.append(write_csv(table, csv))
            ws.set_column(0, 0, 100)
            ws.write_string(0, 0, (long_note or "{rows} rows: see {csv}").format(
                rows=f"{len(table):,}", csv=csv.name))
            continue
        _write_sheet(ws, table, head, formats, fmt)
    wb.close()
    return written


def _write_sheet(ws, table: pd.DataFrame, head, formats: dict, fmt) -> None:
    headers = [str(c) for c in table.columns]
    columns = [_cells(table.iloc[:, j]) for j in range(table.shape[1])]
    ws.set_row(0, 30)
    for j, (h, (kind, values)) in enumerate(zip(headers, columns)):
        spec = formats.get(h)
        if spec is None and kind == "number":
            whole = all(v is None or float(v).is_integer() for v in values[:500])
            spec = "0" if whole else "0.00"
        ws.set_column(j, j, _width(h, values), fmt(spec) if spec else None)
        ws.write_string(0, j, h, head)
    by_type = {float: ws.write_number, bool: ws.write_boolean, str: ws.write_string}
    by_kind = {"number": ws.write_number, "bool": ws.write_boolean, "text": ws.write_string}
    writers = [by_kind.get(kind) for kind, _ in columns]      # mixed: by each cell's type
    for r, row in enumerate(zip(*(v for _, v in columns)), start=1):
        for j, v in enumerate(row):
            if v is not None:
                (writers[j] or by_type[type(v)])(r, j, v)
    # the header and the two key columns (code, name) stay in sight
    ws.freeze_panes(1, min(2, len(headers)))
    if headers:
        ws.autofilter(0, 0, max(len(table), 1), len(headers) - 1)
