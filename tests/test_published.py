"""Names as published in official lists → township codes (geo/published.py)."""

import pytest

from geo.errors import InputError
from geo.published import PublishedNames, load_county_aliases


@pytest.fixture(scope="module")
def gd():
    return PublishedNames(province="广东省")


@pytest.mark.parametrize("entry, code, county", [
    ("连州市东陂镇", "441882107", "连州市"),                 # county + town
    ("清远市清新区山塘镇", "441803105", "清新区"),           # city + district + town
    ("清远市佛冈县水头镇", "441821101", "佛冈县"),
    ("韶关市乐昌市九峰镇", "440281103", "乐昌市"),           # city + county-level city
    ("中山市黄圃镇", "442000101", "中山市"),                 # towns directly under the city
    ("广东省连州市东陂镇", "441882107", "连州市"),           # province prefix
    ("连山壮族瑶族自治县永和镇", "441825100", "连山壮族瑶族自治县"),
])
def test_splits_published_strings_into_county_and_town(gd, entry, code, county):
    r = gd.resolve(entry)
    assert (r.status, r.town_code, r.county) == ("town", code, county)


@pytest.mark.parametrize("entry, code, rule", [
    ("台山县斗山镇", "440781106", "台山县 → 台山市 (rule 县→市)"),
    ("普宁县高埔镇", "445281113", "普宁县 → 普宁市 (rule 县→市)"),
    ("清新县山塘镇", "441803105", "清新县 → 清新区 (rule 县→区)"),
    ("连山县永和镇", "441825100", "连山县 → 连山壮族瑶族自治县 (rule 自治县简称)"),
])
def test_renamed_and_short_county_names_by_documented_rules(gd, entry, code, rule):
    r = gd.resolve(entry)
    assert r.status == "town" and r.town_code == code
    assert rule in r.how


def test_alias_list_resolves_a_rename_the_rules_cannot(tmp_path):
    # 梅县 → 梅县区: the stem changes, so neither rule finds it
    assert PublishedNames(province="44").resolve("梅县畲江镇").status == "unresolved"
    path = tmp_path / "aliases.csv"
    path.write_text("published,county_code,note\n梅县,441403,2013 梅县→梅县区\n",
                    encoding="utf-8")
    r = PublishedNames(province="44", aliases=load_county_aliases(path)).resolve("梅县畲江镇")
    assert (r.status, r.town_code) == ("town", "441403107")
    assert "alias list: 2013 梅县→梅县区" in r.how


def test_alias_list_with_a_bad_code_names_row_and_column(tmp_path):
    path = tmp_path / "aliases.csv"
    path.write_text("published,county_code\n梅县,44140\n", encoding="utf-8")
    with pytest.raises(InputError, match="not a 6-digit county code") as err:
        load_county_aliases(path)
    assert err.value.row == 2 and err.value.column == "county_code"


def test_farms_are_not_township_units_with_or_without_a_statistical_code(gd):
    coded = gd.resolve("和平农场")           # NBS lists it under 化州市
    assert coded.status == "not_township"
    assert coded.town_code == "440982403" and "state farm" in coded.reason
    uncoded = gd.resolve("徐闻县广东省国营海鸥农场")
    assert uncoded.status == "not_township" and uncoded.town_code is None
    assert uncoded.county == "徐闻县" and "no statistical code" in uncoded.reason


def test_a_name_in_several_counties_is_ambiguous_with_its_candidates(gd):
    r = gd.resolve("城东镇")
    assert r.status == "ambiguous"
    assert {c.split()[0] for c in r.candidates} == {"441403101", "441521120"}
    parts = gd.resolve_parts(town="太平镇")
    assert parts.status == "ambiguous" and len(parts.candidates) == 7
    assert "give the county or the code" in parts.reason


def test_separate_columns_tolerate_missing_suffixes_and_renames(gd):
    assert gd.resolve_parts(town="东陂", county="连州").town_code == "441882107"
    assert gd.resolve_parts(town="永和镇", county="连山").town_code == "441825100"
    r = gd.resolve_parts(town="太平镇", county="从化区")
    assert r.town_code == "440117111"
    r = gd.resolve_parts(town="斗山镇", county="台山县")
    assert r.town_code == "440781106" and "rule 县→市" in r.how
    bad = gd.resolve_parts(town="东陂镇", county="不存在县")
    assert bad.status == "unresolved" and "no county named" in bad.reason


def test_unknown_town_and_bare_county_are_unresolved_with_a_reason(gd):
    r = gd.resolve("连州市不存在镇")
    assert r.status == "unresolved" and r.county == "连州市"
    assert "no town named 不存在镇 in 连州市" in r.reason
    assert "names no town" in gd.resolve("连州市").reason


def test_codes_nine_or_twelve_digits():
    r = PublishedNames().resolve_code("441882107000")
    assert (r.status, r.town, r.county, r.city) == ("town", "东陂镇", "连州市", "清远市")
    assert PublishedNames().resolve_code("441882999").status == "unresolved"


def test_unknown_province_is_an_input_error():
    with pytest.raises(InputError, match="unknown province '火星省'"):
        PublishedNames(province="火星省")


def test_a_town_now_a_street_is_found_with_a_note(gd):
    r = gd.resolve("英德市英城镇")
    assert (r.status, r.town_code, r.town) == ("town", "441881001", "英城街道")
    assert r.reason == "published as 英城镇, now 英城街道 (镇改街 or 乡改镇)"


def test_bundled_alias_list_points_at_current_guangdong_counties():
    from classify.designations import default_aliases
    from geo.divisions import divisions

    aliases = load_county_aliases(default_aliases())
    counties = divisions().counties
    assert len(aliases) == 15
    for published, targets in aliases.items():
        for code, _ in targets:
            assert counties.at[code, "province_code"] == "44", published
            # a published name the rules cannot find: not a current name, not stem + 县
            assert published not in set(counties["name"]), published
