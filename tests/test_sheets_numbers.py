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
