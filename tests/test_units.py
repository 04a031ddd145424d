"""geo.units: canonical units, conversion factors, header splitting."""

import pytest

from geo.errors import InputError
from geo.units import factor, family, is_flag_unit, parse_unit, split_header


@pytest.mark.parametrize("src, dst, expected", [
    ("亿元", "万元", 10_000.0),
    ("万元", "元", 10_000.0),
    ("元", "万元", 1e-4),
    ("千元", "万元", 0.1),
    ("万人", "人", 10_000.0),
    ("万人次", "人次", 10_000.0),
    ("公顷", "亩", 15.0),
    ("平方公里", "亩", 1500.0),
    ("平方公里", "公顷", 100.0),
    ("公里", "米", 1000.0),
    ("km", "m", 1000.0),
    ("家", "个", 1.0),
    ("户", "家", 1.0),
    ("万户", "户", 10_000.0),
    ("%", "%", 1.0),
    ("‰", "%", 0.1),
])
def test_factor(src, dst, expected):
    assert factor(src, dst) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("src, dst", [("万元", "人"), ("亩", "km"), ("人", "人次"),
                                      ("%", "个"), ("张", "元")])
def test_incompatible_units_raise_naming_both(src, dst):
    with pytest.raises(InputError, match="measure different things"):
        factor(src, dst)


@pytest.mark.parametrize("text, canon", [
    ("万元", "万元"), ("（万元）", "万元"), ("(万元)", "万元"), (" 万 元 ", "万元"),
    ("％", "%"), ("km²", "平方公里"), ("平方千米", "平方公里"), ("KM", "公里"),
    ("千米", "公里"), ("hm2", "公顷"), ("人·次", "人次"), ("是/否", "是/否"), ("个", "个"),
])
def test_parse_unit_spellings(text, canon):
    assert parse_unit(text) == canon


@pytest.mark.parametrize("text", [None, "", "  ", "（）"])
def test_parse_unit_empty_is_none(text):
    assert parse_unit(text) is None


def test_parse_unit_unknown_lists_known_units():
    with pytest.raises(InputError, match=r"unknown unit '吨'.*万元"):
        parse_unit("吨")


@pytest.mark.parametrize("header, expected", [
    ("地区生产总值（万元）", ("地区生产总值", "万元")),
    ("森林覆盖率(%)", ("森林覆盖率", "%")),
    ("接待游客（万人次）", ("接待游客", "万人次")),
    ("耕地面积 [亩]", ("耕地面积", "亩")),
    ("县（市、区）", ("县（市、区）", None)),   # a bracket that is not a unit stays
    ("常住人口", ("常住人口", None)),
])
def test_split_header(header, expected):
    assert split_header(header) == expected


def test_family_and_flag():
    assert family("亿元") == "money"
    assert family("亩") == family("平方公里") == "area"
    assert is_flag_unit("是/否") and not is_flag_unit("个") and not is_flag_unit(None)


def test_compound_units():
    assert parse_unit("万元 / 人") == "万元/人"
    assert factor("万元/人", "元/人") == 10_000.0
    assert factor("人/平方公里", "人/公顷") == pytest.approx(0.01)
    # a per-person value may be declared by its numerator alone (人均 … 元)
    assert factor("元/人", "元") == 1.0 and factor("万元/人", "元") == 10_000.0
    with pytest.raises(InputError, match=r"'元/亩' \(money/area\) to '元'"):
        factor("元/亩", "元")
    assert split_header("农村居民人均可支配收入（元/人）") == ("农村居民人均可支配收入", "元/人")
