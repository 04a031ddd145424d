"""Numbers written as text in statistical tables: one cell → value + status.

Missing-value markers mean different things (``—`` no data, ``…`` below the unit, ``/``
not applicable): the ``status`` says which, and a value is finite exactly when the status
is ``"ok"``.  Magnitude words (``3亿`` in a ``万元`` column = 30000) are converted to the
column's unit, with a note.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Mapping

__all__ = ["STATUSES", "DEFAULT_MARKERS", "Cell", "parse_cell", "plain_number",
           "plain_numbers", "unit_multiplier", "WAN_SUFFIX"]

#: Every status a cell can get, with its meaning (used in reports).
STATUSES: dict[str, str] = {
    "ok": "a number",
    "no_data": "no data reported (— or a configured marker)",
    "below_unit": "smaller than the table's unit (…): small, not missing",
    "unknown": "empty cell",
    "not_applicable": "not applicable (/ or a configured marker)",
    "invalid": "text that is not a number",
    "merged": "one merged cell spanning several rows: not any single town's value",
}

#: Default missing-value markers (matched after stripping spaces); override per call.
DEFAULT_MARKERS: dict[str, str] = {
    "—": "no_data", "——": "no_data", "–": "no_data", "－": "no_data", "-": "no_data",
    "--": "no_data", "───": "no_data", "─": "no_data", "无数据": "no_data",
    "…": "below_unit", "……": "below_unit", "...": "below_unit", "......": "below_unit",
    "": "unknown",
    "/": "not_applicable", "／": "not_applicable", "\\": "not_applicable",
}

_MAGNITUDES = {"万": 1e4, "亿": 1e8, "千": 1e3, "百万": 1e6, "千万": 1e7, "万亿": 1e12}
_PLAIN = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_GROUPED = re.compile(r"^[+-]?\d{1,3}([, ]\d{3})+(\.\d+)?$")
_PLAIN_ASCII = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)", re.ASCII)
_PLAIN_CHARS = re.compile(r"[0-9.+\-\n]*", re.ASCII)
_SPACES = re.compile(r"[\s\u00a0\u2009\u202f\u3000]+")


@dataclass(frozen=True)
class Cell:
    """One parsed cell: ``value`` is finite iff ``status == "ok"``, else NaN."""

    value: float
    status: str
    note: str = ""
    #: For an ambiguous cell (``7.0万`` in a ``万元`` column, no ``wan_suffix``): the two
    #: readings ``(literal, multiply)`` in the column unit; empty otherwise.
    readings: tuple = ()


def unit_multiplier(unit: str | None) -> float:
    """Magnitude prefix of a unit: ``万元`` → 1e4, ``亿元`` → 1e8, ``人`` → 1."""
    if not unit:
        return 1.0
    for word in sorted(_MAGNITUDES, key=len, reverse=True):
        if unit.startswith(word) and len(unit) > len(word):
            return _MAGNITUDES[word]
    return 1.0


def _number(text: str) -> float | None:
    if _PLAIN.match(text):
        return float(text)
    if _GROUPED.match(text):
        return float(text.replace(",", "").replace(" ", ""))
    return None


def plain_number(text, markers: Mapping[str, str] | None = None) -> float | None:
    """The value of a plain ASCII decimal such as ``-12.5``, else None.

    The common case of a table cell, decided without :func:`parse_cell`'s work; whenever
    this returns a number, ``parse_cell(text, markers=markers)`` gives the same number
    with status ``ok`` and no note, whatever the column unit.  Anything else (spaces,
    markers, units, magnitude words, exponents …) returns None: use :func:`parse_cell`.
    """
    if type(text) is not str or not _PLAIN_ASCII.fullmatch(text):
        return None
    if text in (DEFAULT_MARKERS if markers is None else markers):
        return None
    number = float(text)
    return number if math.isfinite(number) else None


def plain_numbers(texts, markers: Mapping[str, str] | None = None) -> list:
    """Per cell of a column, the number when it is a plain decimal, else None.

    Like :func:`plain_number` per cell.  A column of plain decimals (the usual case) is
    checked with one scan and one ``map(float)``: over the characters ``0-9 . + -``
    ``float`` accepts exactly the plain decimals, so any other cell makes it fail and the
    column goes cell by cell.
    """
    texts = list(texts)
    markers = DEFAULT_MARKERS if markers is None else markers
    filled = [t for t in texts if t != ""] if "" in texts else texts
    try:
        # a marker cell such as "-" or "..." fails float(): only a marker that is a plain
        # decimal (none of the defaults) is looked for among the cells
        plain = bool(_PLAIN_CHARS.fullmatch("\n".join(filled))) and not any(
            m in filled for m in markers if _PLAIN_ASCII.fullmatch(m))
        values = list(map(float, filled)) if plain else None
    except (TypeError, ValueError):  # a non-text cell, or e.g. "1.2.3"
        values = None
    if values is None or not all(map(math.isfinite, values)):
        return [plain_number(t, markers) for t in texts]
    if filled is texts:
        return values
    it = iter(values)
    return [None if t == "" else next(it) for t in texts]


WAN_SUFFIX = ("literal", "multiply")


def parse_cell(value, *, unit: str | None = None,
               markers: Mapping[str, str] | None = None,
               wan_suffix: str | None = None) -> Cell:
    """Parse one table cell.

    Parameters
    ----------
    value : str, int, float or None
        The cell as read (numbers from Excel pass through; text is parsed).
    unit : str, optional
        The column's unit (e.g. ``万元``, ``%``), used to scale magnitude words and to
        accept percent signs.
    markers : mapping, optional
        Marker text → status; defaults to :data:`DEFAULT_MARKERS`.
    wan_suffix : {None, "literal", "multiply"}
        How to read a magnitude word that repeats the unit's own (``7.0万`` in a ``万元``
        column): ``"literal"`` — the word restates the unit (7.0 万元); ``"multiply"`` —
        the word multiplies the number (7.0万 × 万元 = 70,000 万元).  None (default):
        such a cell is ambiguous, status ``invalid`` with both ``readings``; the table
        reader then stops naming it.

    Returns
    -------
    Cell
    """
    if wan_suffix not in (None, *WAN_SUFFIX):
        raise ValueError(f"wan_suffix must be None, 'literal' or 'multiply', not {wan_suffix!r}")
    markers = DEFAULT_MARKERS if markers is None else markers
    fast = plain_number(value, markers)
    if fast is not None:
        return Cell(fast, "ok")
    nan = math.nan
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Cell(nan, markers.get("", "unknown"), "empty cell")
    if isinstance(value, bool):
        return Cell(nan, "invalid", f"boolean {value!r} is not a number")
    if isinstance(value, (int, float)):
        if math.isinf(value):
            return Cell(nan, "invalid", "infinite value")
        return Cell(float(value), "ok")
    raw = str(value)
    text = _SPACES.sub(" ", raw).strip()
    # 。: an ideographic full stop typed as a decimal point
    clean = unicodedata.normalize("NFKC", text).replace("−", "-").replace("，", ",")
    clean = _SPACES.sub(" ", clean.replace("\u3002", ".")).strip()
    for key in (text, clean, clean.replace(" ", "")):
        if key in markers:
            return Cell(nan, markers[key], f"marker {key!r}")
    return _parse_text(clean, raw, unit, wan_suffix)


def _parse_text(text: str, raw: str, unit: str | None, wan_suffix: str | None = None) -> Cell:
    nan = math.nan
    if text.startswith(("<", "小于", "不足")):
        # "<0.1": below a threshold, like "…": small, not missing, and not a number
        rest = text.lstrip("<").removeprefix("小于").removeprefix("不足").strip()
        if _parse_text(rest, raw, unit, "literal").status == "ok":
            return Cell(nan, "below_unit", f"{raw!r}: below a threshold")
        return Cell(nan, "invalid", f"{raw!r} is not a number")
    if text.startswith("约"):
        cell = _parse_text(text[1:].strip(), raw, unit, wan_suffix)
        return Cell(cell.value, cell.status, (cell.note + "; " if cell.note else "")
                    + f"{raw!r} is approximate") if cell.status == "ok" else cell
    percent = text.endswith("%")
    if percent:
        text = text[:-1].rstrip()
        if unit not in (None, "%"):
            return Cell(nan, "invalid", f"{raw!r} has a % sign but the column unit is {unit}")
    scale, same_word = 1.0, False
    for word in sorted(_MAGNITUDES, key=len, reverse=True):
        if text.endswith(word) and len(text) > len(word):
            if percent or unit == "%":
                return Cell(nan, "invalid", f"{raw!r}: a magnitude word in a percent column")
            scale = _MAGNITUDES[word] / unit_multiplier(unit)
            same_word = bool(unit) and unit.startswith(word) and len(unit) > len(word)
            text = text[: -len(word)].rstrip()
            break
    number = _number(text)
    if number is None or math.isinf(number) or math.isnan(number):
        return Cell(nan, "invalid", f"{raw!r} is not a number")
    notes = []
    if same_word:  # 7.0万 in a 万元 column: 7 万元, or 7.0万 × 万元?
        literal, multiply = number, number * unit_multiplier(unit)
        if wan_suffix is None:
            return Cell(nan, "invalid", f"{raw!r} is ambiguous in a {unit} column: "
                        f"{literal:g} {unit} or {multiply:g} {unit}", (literal, multiply))
        value = literal if wan_suffix == "literal" else multiply
        return Cell(value, "ok", f"{raw!r} read as {value:g} {unit} (wan_suffix {wan_suffix})")
    if scale != 1.0:
        notes.append(f"{raw!r} scaled by {scale:g} to the column unit {unit or '(none)'}")
    if "e" in text.lower():
        notes.append(f"{raw!r} is in scientific notation: Excel may have dropped digits")
    return Cell(number * scale, "ok", "; ".join(notes))
