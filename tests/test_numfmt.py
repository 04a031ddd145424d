"""Chinese / English number conventions (hand-written expectations)."""

import math

import numpy as np
import pytest

from classify.numfmt import (fmt_number, fmt_percent, fmt_percentile, fmt_rank, fmt_score,
                             fmt_share, fmt_value, is_missing, unit_label)


@pytest.mark.parametrize("value, unit, zh, en", [
    (21000, "万元", "2.10亿元", "CNY 210 m"),
    (123456, "万元", "12.3亿元", "CNY 1.23 bn"),
    (3456, "万元", "3,456万元", "CNY 34.6 m"),
    (12.5, "万元", "12.5万元", "CNY 125,000"),
    (23456, "元", "23,456元", "CNY 23,456"),
    (2.5e8, "元", "2.50亿元", "CNY 250.00 m"),
    (45000, "万元", "4.50亿元", "CNY 450 m"),     # from CNY 100 m no decimals
    (35200, "人", "3.52万人", "35,200 persons"),
    (860, "人", "860人", "860 persons"),
    (12.34, "%", "12.3%", "12.3%"),
    (40, "km", "40km", "40 km"),
    (60, "万人次", "60万人次", "600,000 visits"),
    (236.5, "万人次", "237万人次", "2.37 m visits"),  # half up, not to even
    (1, "是/否", "是", "yes"),
    (0, "是/否", "否", "no"),
    (1.4, "", "1.40", "1.40"),
])
def test_values_in_report_conventions(value, unit, zh, en):
    assert fmt_value(value, unit, "zh") == zh
    assert fmt_value(value, unit, "en") == en


def test_signed_differences_use_a_true_minus():
    assert fmt_value(-3500, "万元", signed=True) == "−3,500万元"
    assert fmt_value(21000, "万元", signed=True) == "+2.10亿元"
    assert fmt_value(0, "万元", signed=True) == "0万元"
    assert fmt_value(-5, "km", "en", signed=True) == "−5 km"
    assert fmt_value(-50000, "万元", "en", signed=True) == "−CNY 500 m"
    assert fmt_value(21000, "万元", "en", signed=True) == "+CNY 210 m"
    assert fmt_percent(733.333) == "+733.3%"
    assert fmt_value(38.24, "%", signed=True) == "+38.2个百分点"
    assert fmt_value(-3.0, "%", "en", signed=True) == "−3.0 pp"
    assert fmt_percent(-50) == "−50.0%"


@pytest.mark.parametrize("bad", [None, float("nan"), np.nan, "x"])
def test_missing_values_never_print_as_numbers(bad):
    assert is_missing(bad)
    assert fmt_value(bad, "万元") == "缺失"
    assert fmt_value(bad, "万元", "en") == "missing"
    assert fmt_rank(bad, 85) == "缺失"
    assert fmt_percentile(bad, "en") == "missing"
    assert fmt_share(bad) == "缺失"
    assert fmt_score(bad) == "缺失"
    assert fmt_percent(bad) == "—"


def test_ranks_percentiles_shares_scores():
    assert fmt_rank(3, 85) == "第3/85"
    assert fmt_rank(3.0, 85.0, "en") == "3/85"
    assert fmt_percentile(85.71) == "P86"
    assert fmt_percentile(12.5) == "P13"  # half rounds up, not to even
    assert fmt_share(0.855) == "86%"
    assert fmt_score(52) == "52.0"
    assert fmt_number(1234567.0) == "1,234,567"
    assert fmt_number(0.456) == "0.46"
    assert fmt_number(0.125) == "0.13" and fmt_number(2.5, 0) == "3"
    assert fmt_value(float("inf"), "") == "—" and fmt_value(float("-inf"), "万元", "en") == "—"
    assert not is_missing(0) and not math.isnan(float("0"))


def test_unit_headers_and_bad_language():
    assert unit_label("万元", "zh") == "万元"
    assert unit_label("万元", "en") == "CNY 10k"
    assert unit_label("是/否", "zh") == ""
    with pytest.raises(ValueError, match="lang must be 'zh' or 'en', got 'fr'"):
        fmt_value(1, "万元", "fr")


EXTREMES = [1e300, -1e300, 1.7976931348623157e308, 5e-324, -1e-300, float("inf"),
            float("-inf"), float("nan"), 1e20, 123456789012345678.0, 1e15 + 0.5]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_formatter_takes_huge_inf_and_nan(lang):
    """Issue 13: a cell 1e300 raised decimal.InvalidOperation (28-digit context)."""
    from classify import numfmt as nf
    for v in EXTREMES:
        texts = [nf.fmt_number(v), nf.fmt_number(v, 2), nf.fmt_score(v, lang),
                 nf.fmt_percent(v, lang), nf.fmt_share(v, lang), nf.fmt_percentile(v, lang),
                 nf.fmt_rank(v, 10, lang), nf.fmt_rank(3, v, lang)]
        texts += [nf.fmt_value(v, u, lang, signed=sg) for u in ("万元", "元", "人", "%",
                                                                 "是/否", "km", "")
                  for sg in (False, True)]
        assert all(isinstance(t, str) and t for t in texts)


def test_huge_numbers_print_in_scientific_notation_and_1e20_in_full():
    from classify.numfmt import fmt_number
    assert fmt_number(1e300) == "1.000e+300"
    assert fmt_number(-1e300) == "−1.000e+300"
    assert fmt_number(1e20, 2) == "100,000,000,000,000,000,000.00"
    assert fmt_number(float("inf")) == "—"
