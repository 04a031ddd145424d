"""The sheets' numbers: the digit-string rounding of classify.numfmt equals rounding the
float's shortest decimal form with Decimal (half up), whatever the float."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Context, Decimal

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from classify.numfmt import HUGE, _half_up


def _by_decimal(a: float, decimals: int) -> str:
    # issue 13: huge values raised decimal.InvalidOperation in the default 28-digit
    # context; now they print in scientific notation from HUGE, in full below it
    if a >= HUGE:
        return f"{a:.3e}"
    rounded = Decimal(repr(a)).quantize(Decimal(1).scaleb(-decimals),
                                        context=Context(prec=400, rounding=ROUND_HALF_UP))
    return f"{rounded:,.{decimals}f}"


def _outcome(f, *args):
    """The result, or the exception type (none is expected any more)."""
    try:
        return f(*args)
    except Exception as e:  # noqa: BLE001 - compared, not hidden
        return type(e)


@pytest.mark.parametrize("a", [0.0, 0.005, 0.015, 0.125, 2.675, 1.005, 9.995, 99.95, 999.5,
                               1234.5, 0.5, 1.5, 2.5, 999999.995, 1e-5, 5e-5, 0.00015,
                               123456789.125, 1e15, 9999999999999998.0, 1e16, 3.4e21,
                               1.7976931348623157e308, 5e-324])
@pytest.mark.parametrize("decimals", [0, 1, 2, 3])
def test_half_up_on_edge_values(a, decimals):
    assert _outcome(_half_up, a, decimals) == _outcome(_by_decimal, a, decimals)


@settings(max_examples=3000, deadline=None)
@given(st.floats(min_value=0, allow_nan=False, allow_infinity=False), st.integers(0, 4))
def test_half_up_on_any_float(a, decimals):
    assert _outcome(_half_up, a, decimals) == _outcome(_by_decimal, a, decimals)


def test_half_up_on_sheet_like_values():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.lognormal(5, 3, 20000), np.round(rng.uniform(0, 1e4, 20000), 1),
                             rng.uniform(0, 100, 20000) / 7])
    for a in values.tolist():
        for d in (0, 1, 2):
            assert _half_up(a, d) == _by_decimal(a, d), (a, d)
    assert math.isfinite(values.sum())


# -- numbers in bulk: the same texts as one by one ------------------------------------------
from classify.numfmt import (_UNIT_EN, fmt_percent, fmt_percents, fmt_score,  # noqa: E402
                             fmt_scores, fmt_value, fmt_values)

UNITS = sorted(set(_UNIT_EN) | {"万元", "元", "人", "万人次", "%", "", "km", "是/否", "吨"})


def _rounded(x: np.ndarray, places: np.ndarray) -> np.ndarray:
    return np.round(x * 10.0 ** places) / 10.0 ** places


def _awkward(rng, n=4000) -> np.ndarray:
    """Values as sheets meet them, and the hard ones: decimal ties at 0–3 places, the
    unit-scaling thresholds, exponent forms, zeros, missing and infinite values."""
    ties = np.concatenate([(np.arange(-500, 500) + 0.5) / 10 ** k for k in range(4)])
    edges = np.array([1e4, 1e5, 1e6, 1e8, 1e9, 99.95, 9.995, 0.005, 1e15, 1e16, 3e16, 1e-5,
                      -1e-5, 5e-5, 0.0, -0.0, 1.0, 100.0, 10.0, 999999.5, 12345.675])
    edges = np.concatenate([edges, -edges, np.nextafter(edges, 0), np.nextafter(edges, 1e30)])
    tail = np.array([np.nan, np.inf, -np.inf])
    rand = np.concatenate([rng.lognormal(3, 4, n), -rng.lognormal(3, 4, n // 4),
                           _rounded(rng.uniform(-1e5, 1e5, n), rng.integers(0, 4, n)),
                           rng.uniform(0, 100, n) / 3, rng.integers(0, 50, n).astype(float)])
    return np.concatenate([ties, edges, tail, rand])


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("unit", UNITS)
def test_values_in_bulk_print_as_one_by_one(unit, lang, signed):
    v = _awkward(np.random.default_rng(len(unit) * 7 + signed))
    want = [fmt_value(x, unit, lang, signed=signed) for x in v.tolist()]
    assert fmt_values(v, unit, lang, signed=signed) == want


@pytest.mark.parametrize("signed", [False, True])
def test_percents_and_scores_in_bulk_print_as_one_by_one(signed):
    v = _awkward(np.random.default_rng(5))
    assert fmt_percents(v, signed=signed) == [fmt_percent(x, signed=signed) for x in v.tolist()]
    assert fmt_scores(v, "en", signed=signed) == [fmt_score(x, "en", signed=signed)
                                                  for x in v.tolist()]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=40),
       st.sampled_from(UNITS), st.sampled_from(["zh", "en"]), st.booleans())
def test_values_in_bulk_on_any_floats(xs, unit, lang, signed):
    want = [_outcome(lambda x: fmt_value(x, unit, lang, signed=signed), x) for x in xs]
    got = _outcome(lambda v: fmt_values(v, unit, lang, signed=signed), xs)
    if any(isinstance(w, type) for w in want):  # beyond Decimal's precision: both fail
        assert isinstance(got, type)
    else:
        assert got == want


def test_ranks_and_percentiles_in_bulk_print_as_one_by_one():
    from classify.numfmt import fmt_percentile, fmt_percentiles, fmt_rank, fmt_ranks

    rng = np.random.default_rng(2)
    ranks = np.concatenate([rng.integers(1, 500, 300).astype(float), [np.nan, 1.0, 3.0]])
    ns = np.concatenate([rng.integers(1, 500, 300).astype(float), [85.0, np.nan, 40000.0]])
    for lang in ("zh", "en"):
        assert fmt_ranks(ranks, ns, lang) == [fmt_rank(r, n, lang) for r, n in zip(ranks, ns)]
    pcts = np.concatenate([rng.uniform(0, 100, 500), np.arange(0, 100.5, 0.5), [np.nan]])
    assert fmt_percentiles(pcts, "en") == [fmt_percentile(p, "en") for p in pcts.tolist()]
