"""The bundled national division-code table (geo/divisions.py)."""

import pytest

from geo.codes import county_name
from geo.divisions import city_name, divisions, province_name


@pytest.mark.parametrize("code, county, city, province", [
    ("441882107", "连州市", "清远市", "广东省"),        # Guangdong
    ("441882107000", "连州市", "清远市", "广东省"),     # 12-digit form
    ("110101001", "东城区", "北京市", "北京市"),        # a municipality: no placeholder 市辖区
    ("130102001", "长安区", "石家庄市", "河北省"),      # another province
    ("441900003", "东莞市", "东莞市", "广东省"),        # towns directly under a city
])
def test_names_from_codes_anywhere_in_china(code, county, city, province):
    assert county_name(code) == county
    assert city_name(code) == city
    assert province_name(code) == province


@pytest.mark.parametrize("code", [None, "", "99", "999999999", "44188x107", float("nan")])
def test_unknown_or_blank_codes_give_none(code):
    assert county_name(code) is None
    assert city_name(code) is None


def test_tables_cover_the_whole_country():
    d = divisions()
    assert len(d.provinces) == 31
    assert len(d.counties) == 2978
    assert len(d.townships) == 41352
    # codes stay strings with their leading digits
    assert d.townships.index[0] == "110101001"
    assert d.townships.loc["441882201", "name"] == "三水瑶族乡"
