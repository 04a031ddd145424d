"""Number formatting in Chinese (and English) report conventions.

Money in 万元 / 亿元, ranks ``第3/85``, percentiles ``P86``; English renders the same value
with the units translated.  Every formatter takes ``lang`` (``"zh"`` or ``"en"``) and
prints a missing value as ``缺失`` / ``missing``, never ``nan``.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Context, Decimal
from functools import lru_cache


__all__ = ["MISSING", "is_missing", "fmt_number", "fmt_value", "fmt_rank", "fmt_percentile",
           "fmt_percent", "fmt_share", "fmt_score", "unit_label"]

MISSING = {"zh": "缺失", "en": "missing"}
#: Units of a yes/no flag (是/否): no scale, no header unit, no position among peers.
FLAG_UNITS = ("是/否", "flag")

# English names of the declared units (in headers); units not listed are kept as written.
_UNIT_EN = {
    "元": "CNY",
    "万元": "CNY 10k",
    "元/人": "yuan/person",
    "万元/人": "CNY 10k/person",
    "人/km2": "persons/km²",
    "人": "persons",
    "户": "entities",
    "家": "firms",
    "个": "",
    "亩": "mu",
    "张": "beds",
    "所": "schools",
    "项": "items",
    "万人次": "10k visits",
    "km": "km",
    "%": "%",
    "是/否": "",
    "flag": "",
}

_MINUS = "−"  # U+2212, the typographic minus used in both languages
#: From this size numbers print in scientific notation (``1.000e+300``): no town statistic
#: is this large, and the digits of such a float are noise.
HUGE = 1e21
HUGE_DIGITS = 22


def is_missing(value) -> bool:
    """True for ``None``, NaN, ``pd.NA`` and other non-numbers."""
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True


def _check_lang(lang: str) -> str:
    if lang not in MISSING:
        raise ValueError(f"lang must be 'zh' or 'en', got {lang!r}; use --lang zh or --lang en")
    return lang


def fmt_number(value, decimals: int | None = None, *, signed: bool = False) -> str:
    """Format a plain number with thousands separators.

    ``decimals=None`` chooses: integers print without decimals, otherwise about three
    significant digits (at most 2 decimals).
    """
    if is_missing(value):
        return "NA"
    return _fmt_number(float(value), decimals, signed)


@lru_cache(maxsize=1 << 16)
def _fmt_number(v: float, decimals: int | None, signed: bool) -> str:
    """:func:`fmt_number` of a float (cached: every report prints the same numbers)."""
    if not math.isfinite(v):  # e.g. a quotient over a zero denominator
        return "—"
    if decimals is None:    # whole numbers as they are, else about three digits
        whole = v == round(v) and abs(v) < 1e15
        decimals = 0 if whole or abs(v) >= 100 else 1 if abs(v) >= 10 else 2
    text = _half_up(abs(v), decimals)
    if float(text.replace(",", "")) == 0:
        return text
    if v < 0:
        return _MINUS + text
    return ("+" + text) if signed else text


def _half_up(a: float, decimals: int) -> str:
    """``a`` (≥ 0) rounded 四舍五入 (half up) on its shortest decimal form, with thousands
    separators: ``Decimal(repr(a)).quantize(10 ** -decimals, ROUND_HALF_UP)`` done on the
    digits themselves (Decimal is slow)."""
    r = repr(a)
    if "e" in r:  # exponent form (below 1e-4, from 1e16): Decimal does it
        if a >= HUGE:    # no statistic is this large: digits would be noise (1e300 …)
            return f"{a:.3e}"
        # a context of its own: the default 28 digits cannot hold 1e20 to 2 decimals
        # (decimal.InvalidOperation), and the global context is not ours to change
        ctx = Context(prec=HUGE_DIGITS + 20 + decimals, rounding=ROUND_HALF_UP)
        rounded = Decimal(r).quantize(Decimal(1).scaleb(-decimals), context=ctx)
        return f"{rounded:,.{decimals}f}"
    whole, _, frac = r.partition(".")
    if len(frac) > decimals:  # the first dropped digit decides (the rest is below it)
        n = int(whole + frac[:decimals]) + (frac[decimals] >= "5")
    else:
        n = int(whole + frac.ljust(decimals, "0"))
    if not decimals:
        return f"{n:,}"
    q, f = divmod(n, 10 ** decimals)
    return f"{q:,}.{f:0{decimals}d}"


# Scaling of a unit in ``lang``: the value is multiplied by ``factor`` (to yuan, visits),
# then the first tier whose ``from`` its size reaches divides it and names its unit.
_SCALES = {  # lang: {unit: (factor, [(from, divide by, unit text, decimals), …])}
    "zh": {"万元": (1, [(1e5, 1e4, "亿元", 1), (1e4, 1e4, "亿元", 2)]),
           "元": (1, [(1e8, 1e8, "亿元", 2)]),
           "人": (1, [(1e4, 1e4, "万人", 2)])},
    "en": {"万元": (1e4, [(1e9, 1e9, "CNY bn", 2), (1e8, 1e6, "CNY m", 0),
                         (1e6, 1e6, "CNY m", 1), (0, 1, "CNY", 0)]),
           "万人次": (1e4, [(1e6, 1e6, "m visits", 2), (0, 1, "visits", 0)]),
           "元": (1, [(1e6, 1e6, "CNY m", 2), (0, 1, "CNY", 0)])},
}


def _scaled(v: float, unit: str, lang: str) -> tuple[float, str, int | None]:
    """Value, unit text and decimals after the scaling conventions of ``lang``."""
    factor, tiers = _SCALES[lang].get(unit, (1, []))
    x = v * factor
    for start, div, text, decimals in tiers:
        if abs(x) >= start:
            return x / div, text, decimals
    return v, unit if lang == "zh" else _UNIT_EN.get(unit, unit), None


def unit_label(unit: str | None, lang: str = "zh") -> str:
    """The unit as written in a column header of ``lang``."""
    unit = unit or ""
    if _check_lang(lang) == "zh":
        return "" if unit in FLAG_UNITS else unit
    return _UNIT_EN.get(unit, unit)


def fmt_value(value, unit: str | None = None, lang: str = "zh", *, signed: bool = False) -> str:
    """Format an indicator value with its unit, scaled the way a report writes it.

    Flags (unit ``是/否``) print as 是/否 (yes/no).

    Examples
    --------
    >>> fmt_value(21000, "万元"), fmt_value(21000, "万元", lang="en")
    ('2.10亿元', 'CNY 210 m')
    >>> fmt_value(-3500, "万元", signed=True)
    '−3,500万元'
    """
    lang = _check_lang(lang)
    if is_missing(value):
        return MISSING[lang]
    unit = unit or ""
    v = float(value)
    if not math.isfinite(v):  # e.g. a quotient over a zero denominator
        return "—"
    if unit in FLAG_UNITS and not signed:
        return ("是" if v >= 0.5 else "否") if lang == "zh" else ("yes" if v >= 0.5 else "no")
    if unit == "%" and signed:
        # a difference of two shares is in percentage points (个百分点)
        pp = "个百分点" if lang == "zh" else " pp"
        return _fmt_number(v, 1, True) + pp
    scaled, text_unit, decimals = _scaled(v, unit, lang)
    number = _fmt_number(float(scaled), decimals, signed)
    if not text_unit:
        return number
    if lang == "en" and text_unit.startswith("CNY"):
        # the sign goes before the currency: −CNY 500 m, +CNY 2.10 bn
        sign = number[0] if number[0] in "+−" else ""
        prefix, _, suffix = text_unit.partition(" ")
        return f"{sign}{prefix} {number[len(sign):]}" + (f" {suffix}" if suffix else "")
    if text_unit == "%":
        return f"{number}%"
    if lang == "en":
        return f"{number} {text_unit}"
    return f"{number}{text_unit}"


def fmt_rank(rank, n, lang: str = "zh") -> str:
    """``第3/85`` (zh) / ``3/85`` (en); missing when the rank is."""
    lang = _check_lang(lang)
    # no rank is infinite or beyond whole floats
    if any(is_missing(x) or not abs(float(x)) < 2 ** 53 for x in (rank, n)):
        return MISSING[lang]
    r, total = int(rank), int(n)
    return f"第{r}/{total}" if lang == "zh" else f"{r}/{total}"


def fmt_percentile(p, lang: str = "zh") -> str:
    """Percentile position ``P86`` (100 = best of its peers)."""
    lang = _check_lang(lang)
    if is_missing(p):
        return MISSING[lang]
    if not abs(float(p)) < 2 ** 53:      # infinite, or no percentile at all
        return "—"
    return f"P{int(math.floor(float(p) + 0.5))}"


def fmt_percent(x, lang: str = "zh", *, signed: bool = True, decimals: int = 1) -> str:
    """A relative change given in percent (``12.3`` → ``+12.3%``)."""
    lang = _check_lang(lang)
    if is_missing(x) or not math.isfinite(float(x)):
        return "—"
    return fmt_number(float(x), decimals, signed=signed) + "%"


def fmt_share(x, lang: str = "zh") -> str:
    """A 0–1 share as a whole percent (stability 0.86 → ``86%``)."""
    lang = _check_lang(lang)
    if is_missing(x):
        return MISSING[lang]
    pct = float(x) * 100
    if not math.isfinite(pct):
        return "—"
    return f"{int(math.floor(pct + 0.5))}%"


def fmt_score(x, lang: str = "zh", *, signed: bool = False) -> str:
    """A 0–100 score with one decimal."""
    lang = _check_lang(lang)
    if is_missing(x):
        return MISSING[lang]
    return _fmt_number(float(x), 1, signed)     # ± inf: "—"
