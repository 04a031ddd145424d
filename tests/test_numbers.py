"""Cell parsing: numbers as text, markers with statuses, never a silent wrong number."""

import math

import pytest
from hypothesis import given, settings, strategies as st

from geo.numbers import DEFAULT_MARKERS, STATUSES, parse_cell, unit_multiplier


@pytest.mark.parametrize("text, unit, expected", [
    ("1,234", None, 1234.0),
    ("1,234,567.89", None, 1234567.89),
    ("１，２３４．５", None, 1234.5),          # full-width digits and punctuation (NFKC)
    (" 12 ", None, 12.0),
    ("1 234", None, 1234.0),                   # space as thousands separator
    ("-3.5", None, -3.5),
    ("−3.5", None, -3.5),                      # U+2212 minus
    ("12.3%", "%", 12.3),
    ("12.3 ％", None, 12.3),
    ("1.2万", "人", 12000.0),
    ("3亿", "万元", 30000.0),
    ("2.5万", None, 25000.0),
    ("4.4E+03", None, 4400.0),
    (1234, None, 1234.0),
    (12.5, "万元", 12.5),
    ("约1200", None, 1200.0),
])
def test_numbers_as_text(text, unit, expected):
    cell = parse_cell(text, unit=unit)
    assert cell.status == "ok"
    assert cell.value == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("text, status", [
    ("—", "no_data"), ("——", "no_data"), ("-", "no_data"), ("－", "no_data"),
    ("…", "below_unit"), ("……", "below_unit"), ("...", "below_unit"),
    ("", "unknown"), (None, "unknown"), ("   ", "unknown"), (float("nan"), "unknown"),
    ("/", "not_applicable"), ("／", "not_applicable"),
    ("<0.1", "below_unit"), ("＜0.1", "below_unit"), ("小于5", "below_unit"), ("<abc", "invalid"),
    ("abc", "invalid"), ("1,2", "invalid"), ("1 2", "invalid"), ("12.3%", "invalid"),
    ("1.2.3", "invalid"), ("5万%", "invalid"), (True, "invalid"),
])
def test_markers_get_a_status_not_a_number(text, status):
    unit = "万元" if text == "12.3%" else None
    cell = parse_cell(text, unit=unit)
    assert cell.status == status
    assert math.isnan(cell.value)


def test_markers_are_configurable():
    markers = {**DEFAULT_MARKERS, "-": "not_applicable", "暂缺": "no_data"}
    assert parse_cell("-", markers=markers).status == "not_applicable"
    assert parse_cell("暂缺", markers=markers).status == "no_data"
    assert parse_cell("暂缺").status == "invalid"


def test_unit_multiplier():
    assert unit_multiplier("万元") == 1e4
    assert unit_multiplier("亿元") == 1e8
    assert unit_multiplier("万人次") == 1e4
    assert unit_multiplier("人") == 1.0
    assert unit_multiplier("万") == 1.0  # a bare magnitude word is not a unit prefix


def _fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-10**12, max_value=10**12), st.integers(0, 3),
       st.sampled_from(["plain", "grouped", "fullwidth", "spaced", "wan"]))
def test_well_formed_numbers_round_trip(n, decimals, style):
    value = n / 10**decimals
    text = f"{value:.{decimals}f}"
    expected = float(text)
    unit = None
    if style == "grouped":
        text = f"{value:,.{decimals}f}"
    elif style == "fullwidth":
        text = _fullwidth(f"{value:,.{decimals}f}")
    elif style == "spaced":
        text = f"  {text}\u3000"
    elif style == "wan":
        text, unit, expected = text + "万", "人", expected * 1e4
    cell = parse_cell(text, unit=unit)
    assert cell.status == "ok", text
    assert cell.value == pytest.approx(expected, rel=1e-12, abs=1e-9)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789.,-+ %万亿…—/eE１２，．abc元人")),
               max_size=12),
       st.sampled_from([None, "万元", "%", "人"]))
def test_no_silent_wrong_numbers(text, unit):
    cell = parse_cell(text, unit=unit)
    assert cell.status in STATUSES
    # a value exists exactly when the status says "ok"
    assert (cell.status == "ok") == math.isfinite(cell.value)
    if cell.status == "ok":
        # the digits of the value come from the text: stripping everything that is not a
        # digit must leave the same significant digits (no digit invented or dropped)
        import unicodedata
        digits = "".join(c for c in unicodedata.normalize("NFKC", text).split("e")[0]
                         .split("E")[0] if c.isdigit()).lstrip("0")
        assert digits != "" or cell.value == 0


def test_scientific_notation_is_noted():
    cell = parse_cell("1.23457E+11")
    assert cell.value == 1.23457e11 and "scientific notation" in cell.note
    assert parse_cell("123").note == ""


def test_plain_numbers_column_fast_path():
    from geo.numbers import plain_numbers

    # a clean column: every cell a plain decimal or blank
    assert plain_numbers(["12", "-3.5", "", ".5", "+4."]) == [12.0, -3.5, None, 0.5, 4.0]
    # anything else sends the column cell by cell; only plain decimals get a value
    mixed = ["12", "1.2.3", "-", "...", "1e5", "1,234", "１２", "+-1", "7"]
    assert plain_numbers(mixed) == [12.0, None, None, None, None, None, None, None, 7.0]
    # a configured marker that looks like a number is a marker, not a number
    assert plain_numbers(["1", "0"], {"0": "no_data"}) == [1.0, None]
    assert plain_numbers(["9" * 400]) == [None]  # overflows to inf: parse_cell says invalid


@given(st.lists(st.sampled_from(["0", "12", "-3.5", ".5", "", "-", "…", "1,234", "1e3",
                                 "约5", "3万", "1.2.3", "+", "12%"]), max_size=12))
@settings(max_examples=200, deadline=None)
def test_plain_numbers_agrees_with_parse_cell(cells):
    from geo.numbers import plain_numbers

    for text, fast in zip(cells, plain_numbers(cells)):
        if fast is not None:
            cell = parse_cell(text)
            assert (cell.value, cell.status, cell.note) == (fast, "ok", "")


@pytest.mark.parametrize("text, unit, literal, multiply", [
    ("7.0万", "万元", 7.0, 70000.0),
    ("1.2万", "万元", 1.2, 12000.0),
    ("3亿", "亿元", 3.0, 3e8),
    ("2.5万", "万人次", 2.5, 25000.0),
])
def test_a_magnitude_word_repeating_the_unit_is_ambiguous(text, unit, literal, multiply):
    # issue 13: "7.0万" in a 万元 column silently became 7
    cell = parse_cell(text, unit=unit)
    assert cell.status == "invalid" and math.isnan(cell.value)
    assert cell.readings == (literal, multiply)
    assert "ambiguous" in cell.note
    lit = parse_cell(text, unit=unit, wan_suffix="literal")
    mul = parse_cell(text, unit=unit, wan_suffix="multiply")
    assert (lit.status, lit.value) == ("ok", literal) and "wan_suffix literal" in lit.note
    assert (mul.status, mul.value) == ("ok", multiply) and "wan_suffix multiply" in mul.note


def test_a_magnitude_word_is_applied_with_a_note():
    cell = parse_cell("1.2万", unit=None)
    assert cell.value == 12000.0 and "scaled by 10000" in cell.note
