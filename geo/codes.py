"""Statistical division codes (统计用区划代码) of towns: reading, checking, typing.

A town code has 9 digits (6 of the county, 3 of the town; the NBS also writes 12 ending in
``000``); spreadsheets store codes as numbers, text, floats or in lossy scientific
notation, which is refused.  The 7th–9th digits give the unit type (:data:`CODE_TYPES`).
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import pandas as pd

from geo.divisions import county_name, divisions
from geo.errors import InputError

__all__ = ["normalise_code", "parse_codes", "read_codes", "code_type", "name_type",
           "check_code_type", "county_name", "CODE_TYPES", "COUNTY_CODE_TYPES", "UnitKeys",
           "TOWN_KEYS", "code_digits", "division_name"]

#: Ranges of the type digits (7th–9th) and the unit type they denote (NBS rules; 乡
#: includes 民族乡, 其他 are farms, forest farms, development zones).
CODE_TYPES: tuple[tuple[int, int, str], ...] = (
    (1, 99, "街道"), (100, 199, "镇"), (200, 399, "乡"), (400, 999, "其他"))

#: County-level type digits (5th–6th of a 6-digit code, NBS rules): 01–20 市辖区 (district),
#: 21–80 县 (county, incl. 自治县), 81–99 县级市 (county-level city).  ``00`` is a city's
#: own code (东莞 441900, 中山 442000: towns directly under the city) and is not checked.
COUNTY_CODE_TYPES: tuple[tuple[int, int, str], ...] = (
    (1, 20, "市辖区"), (21, 80, "县"), (81, 99, "县级市"))


@dataclass(frozen=True)
class UnitKeys:
    """What identifies a unit of one level in files: code length, header aliases.

    The readers and the join put the unit into the same key columns at every level
    (``town_code``/``town`` hold the unit's code and name, ``county_code``/``county`` its
    parent's, ``city_code``/``city`` the parent's parent), so that everything after the
    join is level-agnostic.  :data:`TOWN_KEYS` is the default (towns); other levels are
    built from ``classify/presets/levels.toml`` by :mod:`classify.levels`.

    Attributes
    ----------
    digits : int
        Length of the unit's code (9 towns, 6 counties, 12 villages).
    ancestors : tuple of int
        Code-prefix lengths of the parent and the parent's parent (towns: 6, 4).
    headers : dict
        Extra header texts per key role (``code``, ``name``, ``county`` = parent name,
        ``county_code`` = parent code), tried before the town headers.
    only_headers : bool
        True: the town headers are not tried at all (a county table's ``县区`` is the
        unit's name, not a parent).
    names : str
        How names are compared (:data:`geo.names.NAME_KEYS`): ``town`` (镇/乡/街道
        suffixes) or ``county`` (区/县/市/自治县 off).
    """

    digits: int = 9
    ancestors: tuple[int, ...] = (6, 4)
    headers: dict = field(default_factory=dict)
    only_headers: bool = False
    names: str = "town"


#: Towns: 9-digit codes under 6-digit counties under 4-digit cities.
TOWN_KEYS = UnitKeys()

_SCI = re.compile(r"^(\d)(?:\.(\d+))?[eE]\+?(\d+)$")
_FLOATISH = re.compile(r"^(\d+)\.0*$")


class CodeError(ValueError):
    """A single cell is not a usable code (message says why)."""


def normalise_code(value, digits: int = 9) -> str | None:
    """Return the 9-digit town code of a cell, or None for an empty cell.

    ``digits=6`` reads a county-level code (6 digits; a 12-digit form ending in
    ``000000`` is cut to 6), ``digits=12`` a village-level code (12 digits).

    Raises
    ------
    ValueError
        With the reason, when the cell is not a town code (wrong length, letters,
        scientific notation that lost digits, a 12-digit village code).
    """
    if type(value) is str and len(value) == digits and value.isascii() and value.isdigit():
        return value  # already a code of this level: the common case, nothing to normalise
    text = _code_text(value)
    if text is None:
        return None
    return _to_nine(text) if digits == 9 else _to_length(text, digits)


def _code_text(value) -> str | None:
    """The digits of a code cell before its length is checked; None for an empty cell."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        raise CodeError(f"{value!r} is not a code")
    if isinstance(value, float):
        if not value.is_integer() or value >= 1e15:
            raise CodeError(f"{value!r} is not a whole number")
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    text = unicodedata.normalize("NFKC", str(value)).strip().strip("'\"")
    return _digits_of_text(text) if text else None


_LEVEL_WORDS = {6: "county-level", 9: "town", 12: "village-level"}


def _to_length(text: str, digits: int) -> str:
    if len(text) == digits:
        return text
    if len(text) == 12 and digits < 12 and text[digits:] == "0" * (12 - digits):
        return text[:digits]
    word = _LEVEL_WORDS.get(digits, f"{digits}-digit")
    other = _LEVEL_WORDS.get(len(text))
    what = f": a {other} code, not a {word} code" if other else ""
    raise CodeError(f"{text!r} has {len(text)} digits{what}; {word} codes have {digits}")


def code_digits(values) -> int | None:
    """The code length the non-empty cells of a code column share: 6, 9 or 12 (a
    12-digit form ending in ``000`` counts as 9, ``000000`` as 6), None when they do not
    agree or are not digit strings."""
    lengths = set()
    for v in values:
        try:  # a plain digit string (the common case) needs no normalising
            text = v if type(v) is str and v.isascii() and v.isdigit() else _code_text(v)
        except CodeError:
            return None
        if text is None:
            continue
        if len(text) == 12 and text.endswith("000000"):
            lengths.add(6)
        elif len(text) == 12 and text.endswith("000"):
            lengths.add(9)
        else:
            lengths.add(len(text))
    return lengths.pop() if len(lengths) == 1 and lengths <= {6, 9, 12} else None


def _digits_of_text(text: str) -> str:
    sci = _SCI.match(text)
    if sci:
        lead, frac, exp = sci.group(1), sci.group(2) or "", int(sci.group(3))
        if len(frac) != exp:
            raise CodeError(
                f"{text!r} is in scientific notation with {1 + len(frac)} of {exp + 1} "
                "digits shown: the code's last digits are lost — format the column as text "
                "in the spreadsheet and re-export")
        return lead + frac
    floatish = _FLOATISH.match(text)
    if floatish:
        return floatish.group(1)
    if not text.isdigit():
        try:
            Decimal(text)
        except InvalidOperation:
            raise CodeError(f"{text!r} contains characters that are not digits") from None
        raise CodeError(f"{text!r} is not a whole number")
    return text


def _to_nine(text: str) -> str:
    if len(text) == 9:
        return text
    if len(text) == 12:
        if text.endswith("000"):
            return text[:9]
        raise CodeError(f"{text!r} is a 12-digit village-level code, not a town code")
    if len(text) == 6:
        raise CodeError(f"{text!r} has 6 digits: a county code, not a town code")
    raise CodeError(f"{text!r} has {len(text)} digits; town codes have 9 (or 12 ending in 000)")


def parse_codes(values, *, path=None, column=None, rows=None, digits: int = 9) -> pd.Series:
    """Normalise a column of codes; one error lists every bad row.

    Parameters
    ----------
    values : sequence
        Cells as read.
    path, column : optional
        For the error message.
    rows : sequence of int, optional
        File row numbers of the cells (default: 1-based positions).

    Returns
    -------
    pandas.Series of str (None for empty cells)

    Raises
    ------
    geo.errors.InputError
        Naming the file, column and every row whose code cannot be read.
    """
    values = list(values)
    rows = list(rows) if rows is not None else list(range(1, len(values) + 1))
    out, problems = read_codes(values, digits)
    bad = [f"row {rows[i]}: {why}" for i, why in problems.items()]
    if bad:
        shown = "; ".join(bad[:10]) + (f"; … and {len(bad) - 10} more" if len(bad) > 10 else "")
        word = _LEVEL_WORDS.get(digits, f"{digits}-digit")
        raise InputError(
            f"{len(bad)} {word} code(s) cannot be read — {shown}. Fix the codes in the file "
            "(format the code column as text) or join by name with --join-on name",
            path=path, column=column)
    return pd.Series(out, dtype="object")


def read_codes(values, digits: int = 9) -> tuple[list, dict]:
    """Normalise a column of codes (of ``digits`` digits: 9 towns, 6 counties, 12
    villages) without stopping at a bad one.

    Returns
    -------
    codes : list of str or None
        None for an empty cell and for a cell that is not a town code.
    problems : dict
        Position → why that cell is not a town code (the :class:`CodeError` message).
    """
    out, problems = [], {}
    for i, value in enumerate(values):
        try:
            out.append(normalise_code(value, digits))
        except CodeError as exc:
            problems[i] = str(exc)
            out.append(None)
    return out, problems


def code_type(code: str) -> str | None:
    """Unit type from the 7th–9th digits: ``街道``, ``镇``, ``乡`` or ``其他``; of a
    6-digit county code from its 5th–6th digits: ``市辖区``, ``县`` or ``县级市``."""
    if isinstance(code, str) and len(code) == 6 and code.isdigit():
        n = int(code[4:6])
        return next((kind for lo, hi, kind in COUNTY_CODE_TYPES if lo <= n <= hi), None)
    if not isinstance(code, str) or len(code) < 9 or not code[6:9].isdigit():
        return None  # no code (None, NaN of an empty cell) or not a town code
    n = int(code[6:9])
    return next((kind for lo, hi, kind in CODE_TYPES if lo <= n <= hi), None)


_NAME_TYPES = ((("街道", "办事处", "街道办"), "街道"), ("镇", "镇"), ("乡", "乡"))


def name_type(name: str | None) -> str | None:
    """Unit type from the name's suffix (``街道``/``办事处`` → 街道, ``镇``, ``乡``)."""
    if not isinstance(name, str):
        return None
    name = name.strip()
    return next((kind for ends, kind in _NAME_TYPES if name.endswith(ends)), None)


def county_name_type(name: str | None) -> str | None:
    """County-level type from the name's suffix: ``区`` → 市辖区, ``县``/``自治县``/``旗`` →
    县, ``市`` → 县级市; None otherwise (and for a town's ``…镇``)."""
    if not isinstance(name, str):
        return None
    name = name.strip()
    if len(name) < 2:
        return None
    if name.endswith("区") and not name.endswith(("社区", "园区", "开发区", "管理区", "景区")):
        return "市辖区"
    if name.endswith(("县", "旗")):
        return "县"
    if name.endswith("市"):
        return "县级市"
    return None


def check_code_type(code: str | None, name: str | None) -> str | None:
    """A message when the code's type digits contradict the name's suffix, else None.

    Units of type 其他 (farms, zones) and names without a recognised suffix are not
    checked.
    """
    by_code = code_type(code)
    by_name = (county_name_type(name) if isinstance(code, str) and len(code) == 6
               else name_type(name))
    if by_code in ("市辖区", "县", "县级市"):
        if by_name is None or by_code == by_name:
            return None
        return (f"county code {code} has type digits {code[4:6]} ({by_code}) but the name "
                f"{name!r} is a {by_name}")
    if by_code is None or by_name is None or by_code == "其他" or by_code == by_name:
        return None
    return (f"code {code} has type digits {code[6:9]} ({by_code}) but the name {name!r} "
            f"is a {by_name}")


@functools.lru_cache(maxsize=1 << 16)  # a national run asks once per town for its county
def division_name(code: str | None) -> str | None:
    """Name of the division a 2-, 4-, 6- or 9-digit code denotes (province, city, county,
    township) in the bundled national table, else None."""
    if not isinstance(code, str):
        return None
    div = divisions()
    return {2: div.province, 4: div.city, 6: div.county, 9: div.township}.get(
        len(code), lambda c: None)(code)
