"""Statistical codes: stored as numbers, text, floats, 12 digits; lossy forms rejected."""

import pytest

from geo.codes import check_code_type, code_type, name_type, normalise_code, parse_codes
from geo.errors import InputError


@pytest.mark.parametrize("value, expected", [
    ("441882107", "441882107"),
    (441882107, "441882107"),
    (441882107.0, "441882107"),
    ("441882107.0", "441882107"),
    ("441882107000", "441882107"),
    (441882107000.0, "441882107"),
    ("４４１８８２１０７", "441882107"),       # full-width digits
    ("'441882107", "441882107"),              # Excel text prefix
    ("4.41882107E+08", "441882107"),          # scientific, all 9 digits shown
    (None, None), ("", None), (float("nan"), None),
])
def test_codes_read_as_nine_digit_text(value, expected):
    assert normalise_code(value) == expected


@pytest.mark.parametrize("value, match", [
    ("4.41882E+08", "digits shown"),
    ("4.41882107E+11", "digits shown"),
    ("441882", "county code"),
    ("441882107001", "village-level"),
    ("44188210", "8 digits"),
    ("4418821O7", "not digits"),
    (441882107.5, "whole number"),
])
def test_bad_codes_say_why(value, match):
    with pytest.raises(ValueError, match=match):
        normalise_code(value)


def test_parse_codes_names_every_bad_row():
    with pytest.raises(InputError, match=r"t\.csv.*'代码'.*2 town code.*row 5: .*row 9: ") as err:
        parse_codes(["441882100", "4.41882E+08", "441882101", "4.41883E+08"],
                    path="t.csv", column="代码", rows=[4, 5, 6, 9])
    assert "--join-on name" in str(err.value)


@pytest.mark.parametrize("code, kind", [
    ("441802001", "街道"), ("441802099", "街道"), ("441882100", "镇"), ("441882199", "镇"),
    ("441882200", "乡"), ("441882399", "乡"), ("441882400", "其他"), ("441882499", "其他"),
])
def test_code_type_digits(code, kind):
    assert code_type(code) == kind


def test_type_digits_checked_against_name():
    assert check_code_type("441882201", "三水瑶族乡") is None
    assert check_code_type("441802001", "凤城街道办事处") is None
    assert check_code_type("441882400", "某某农场") is None
    msg = check_code_type("441882201", "三水镇")
    assert "201" in msg and "乡" in msg and "镇" in msg
    assert name_type("太平乡") == "乡" and name_type("太平镇") == "镇"


from hypothesis import given, strategies as st  # noqa: E402

_codes = st.builds(lambda county, kind: f"{county}{kind:03d}",
                   st.sampled_from(["441882", "441802", "440103", "445381"]),
                   st.integers(1, 599))


@given(_codes, st.sampled_from(["str", "int", "float", "floatstr", "twelve", "sci"]))
def test_every_storage_of_a_code_reads_back_the_same(code, form):
    value = {"str": code, "int": int(code), "float": float(code),
             "floatstr": f"{code}.0", "twelve": code + "000",
             "sci": f"{code[0]}.{code[1:]}E+08"}[form]
    assert normalise_code(value) == code


@given(_codes, st.integers(1, 7))
def test_scientific_notation_with_lost_digits_is_refused(code, shown):
    text = f"{code[0]}.{code[1:1 + shown]}E+08"
    with pytest.raises(ValueError, match="digits shown"):
        normalise_code(text)


def test_type_checks_accept_missing_codes_and_names():
    # issue 13: a blank code cell (NaN) crashed with "object of type 'float' has no len()"
    from geo.codes import check_code_type, code_type, name_type

    assert code_type(float("nan")) is None and code_type(None) is None
    assert name_type(float("nan")) is None
    assert check_code_type(float("nan"), "连州镇") is None
    assert check_code_type("441882100", float("nan")) is None
