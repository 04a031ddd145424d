"""Units of Chinese statistical tables and the factors between them.

A unit belongs to one *family* (money, persons, counts, area, …); a factor exists only
between units of the same family.  Counting words (个, 家, 户, 所, 项, 张, 处) are one
family: a town table may count markets in 个 or in 家, and both mean "number of".
"""

from __future__ import annotations

import re
import unicodedata

from geo.errors import InputError

__all__ = ["UNITS", "factor", "family", "parse_unit", "split_header", "is_flag_unit"]

# canonical unit -> (family, size in the family's base unit)
UNITS: dict[str, tuple[str, float]] = {
    # money (base 元)
    "元": ("money", 1.0), "千元": ("money", 1e3), "万元": ("money", 1e4),
    "百万元": ("money", 1e6), "亿元": ("money", 1e8),
    # persons (base 人)
    "人": ("persons", 1.0), "千人": ("persons", 1e3), "万人": ("persons", 1e4),
    # person-times (base 人次)
    "人次": ("person_times", 1.0), "万人次": ("person_times", 1e4),
    "亿人次": ("person_times", 1e8),
    # counts of things (base 个)
    "个": ("count", 1.0), "家": ("count", 1.0), "户": ("count", 1.0),
    "所": ("count", 1.0), "项": ("count", 1.0), "张": ("count", 1.0),
    "处": ("count", 1.0), "座": ("count", 1.0), "条": ("count", 1.0),
    "万户": ("count", 1e4), "万个": ("count", 1e4), "万家": ("count", 1e4),
    # area (base 平方米)
    "平方米": ("area", 1.0), "亩": ("area", 10000.0 / 15.0), "公顷": ("area", 1e4),
    "万亩": ("area", 1e8 / 15.0), "平方公里": ("area", 1e6),
    # length (base 米)
    "米": ("length", 1.0), "公里": ("length", 1e3),
    # shares
    "%": ("share", 1.0), "‰": ("share", 0.1),
    # ratios of like quantities (城乡居民收入比 2.3 = 2.3 : 1)
    "倍": ("ratio", 1.0),
    # yes / no
    "是/否": ("flag", 1.0),
}

# spelling -> canonical unit (compared after NFKC, lower-casing and removing spaces)
_ALIASES: dict[str, str] = {
    "yuan": "元", "rmb": "元", "10kyuan": "万元", "万": "万元", "亿": "亿元",
    "persons": "人", "person": "人", "people": "人", "口": "人",
    "人·次": "人次", "万人·次": "万人次",
    "km2": "平方公里", "km²": "平方公里", "平方千米": "平方公里", "sqkm": "平方公里",
    "m2": "平方米", "m²": "平方米", "ha": "公顷", "hm2": "公顷", "hm²": "公顷",
    "mu": "亩",
    "km": "公里", "千米": "公里", "m": "米",
    "percent": "%", "百分比": "%", "百分点": "%", "ratio": "倍", ":1": "倍", "比值": "倍",
    "flag": "是/否", "是否": "是/否", "有/无": "是/否", "是/否(flag)": "是/否",
    "yes/no": "是/否", "0/1": "是/否", "1/0": "是/否",
}

_BRACKETS = re.compile(r"^(?P<name>.*?)\s*[(\[]\s*(?P<unit>[^()\[\]]*?)\s*[)\]]\s*$")


def _clean(text: str) -> str:
    # NFKC turns full-width brackets, ％ and ｍ into their ASCII forms
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text))).lower()


#: every accepted spelling (cleaned) → canonical unit; a unit's own spelling wins
_SPELLINGS = {**_ALIASES, **{_clean(canon): canon for canon in UNITS}}


def parse_unit(text: str | None) -> str | None:
    """Return the canonical spelling of a unit, or ``None`` for an empty one.

    Compound units are written ``"A/B"`` with both parts known (``"元/人"``, ``"人/平方公里"``).

    Parameters
    ----------
    text : str or None
        A unit as written in a header or units row, with or without brackets:
        ``"万元"``, ``"（万元）"``, ``"km²"``, ``"％"``.

    Raises
    ------
    geo.errors.InputError
        When the unit is not known; the message lists the known units.
    """
    if text is None:
        return None
    s = _clean(text)
    if s in ("", "nan", "none"):
        return None
    while len(s) >= 2 and s[0] in "([" and s[-1] in ")]":
        s = s[1:-1]
    if s == "":
        return None
    if s in _SPELLINGS:
        return _SPELLINGS[s]
    if s.count("/") == 1:
        num, den = s.split("/")
        try:
            return f"{parse_unit(num)}/{parse_unit(den)}"
        except (InputError, TypeError):
            pass
    raise InputError(
        f"unknown unit {text!r}; known units: {', '.join(UNITS)}. "
        "Write the unit in one of these spellings, or set the indicator's `unit` in the config")


def family(unit: str) -> str:
    """The family (``"money"``, ``"area"``, …) of a unit."""
    canon = parse_unit(unit)
    if canon is None:
        raise InputError("no unit given; a unit family needs a unit such as '万元'")
    return _size(canon)[0]


def is_flag_unit(unit: str | None) -> bool:
    """Whether ``unit`` means a yes/no flag (是/否)."""
    try:
        return unit is not None and parse_unit(unit) == "是/否"
    except InputError:
        return False


def factor(src: str, dst: str) -> float:
    """Multiply values in ``src`` by this to express them in ``dst``.

    Raises
    ------
    geo.errors.InputError
        When the two units are of different families (e.g. 万元 and 人).

    Examples
    --------
    >>> factor("万元", "元")
    10000.0
    >>> factor("公顷", "亩")
    15.0
    """
    s, d = parse_unit(src), parse_unit(dst)
    if s is None or d is None:
        raise InputError(f"cannot convert between {src!r} and {dst!r}: a unit is missing")
    fs, vs = _size(s)
    fd, vd = _size(d)
    # a per-person value (人均, 元/人) may be declared by its numerator alone (元)
    if fs.endswith("/persons") and fd == fs.split("/")[0]:
        fs, vs = fd, vs * UNITS[s.split("/")[1]][1]
    elif fd.endswith("/persons") and fs == fd.split("/")[0]:
        fd, vd = fs, vd * UNITS[d.split("/")[1]][1]
    if fs != fd:
        raise InputError(
            f"cannot convert {s!r} ({fs}) to {d!r} ({fd}): the units measure different things. "
            "Check the column's unit in the table header or units row, or the indicator's "
            "`unit` in the config")
    return float(f"{vs / vd:.12g}")


def _size(canon: str) -> tuple[str, float]:
    """(family, size in base units) of a canonical unit, compound ones included."""
    if canon in UNITS:
        return UNITS[canon]
    num, den = canon.split("/")
    (fn, vn), (fd, vd) = UNITS[num], UNITS[den]
    return f"{fn}/{fd}", vn / vd


def split_header(header: str) -> tuple[str, str | None]:
    """Split ``"地区生产总值（万元）"`` into ``("地区生产总值", "万元")``.

    A trailing bracket that does not hold a known unit is kept in the name
    (``"县（市、区）"`` stays as it is).
    """
    text = unicodedata.normalize("NFKC", str(header)).strip()
    m = _BRACKETS.match(text)
    if m:
        try:
            unit = parse_unit(m.group("unit"))
        except InputError:
            unit = None
        if unit is not None:
            return m.group("name").strip(), unit
    return str(header).strip(), None
