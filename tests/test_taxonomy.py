"""Taxonomy presets load and validate; bad keys are rejected with the key named."""

import tomllib

import pytest

from classify.errors import ConfigError
from classify.taxonomy import load_taxonomy, parse_taxonomy

MINI = """
[taxonomy]
name = "mini"
priority = ["strong", "specialised/industrial"]

[categories.strong]
zh = "综合实力强镇"
en = "Strong"
color = "#d62728"
rules = [{ id = "s", field = "score_strength", scale = "percentile", op = ">=", threshold = 80 }]

[categories.specialised]
zh = "专业镇"
en = "Specialised"
color = "#1f77b4"

[categories.specialised.subtypes.industrial]
zh = "工业"
en = "industrial"
color = "#1f77b5"
rules = [{ id = "i", field = "score_industry", op = ">=", threshold = 60 }]

[categories.developing]
zh = "培育类"
en = "Developing"
color = "#bdbdbd"
fallback = true
"""


def mini(**patch):
    data = tomllib.loads(MINI)
    for dotted, value in patch.items():
        *head, last = dotted.split("__")
        node = data
        for part in head:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[last] = value
    return data


def test_guangdong_preset_targets_and_palette():
    tax = load_taxonomy("guangdong")
    assert tax.targets() == [
        "strong", "specialised/industrial", "specialised/agricultural",
        "specialised/commercial", "characteristic/tourism", "characteristic/ecological"]
    assert tax.priority[:2] == ("strong", "specialised/industrial")
    assert tax.fallback.id == "developing"
    assert [r.id for r in tax.roles] == ["central", "urban"]
    pal = tax.palette()
    assert pal["specialised/industrial"] == {"zh": "专业镇·工业", "en": "Specialised town · industrial",
                                             "color": "#1f77b4"}
    assert pal["developing"]["zh"] == "培育类"
    assert pal["urban"]["zh"] == "城区/街道"
    # one fixed colour per category/subtype: the map colours must not repeat across targets
    colours = [pal[t]["color"] for t in tax.targets() + ["developing"]]
    assert len(set(colours)) == len(colours)


@pytest.mark.parametrize("text, target", [
    ("工业专业镇", "specialised/industrial"), ("综合实力强镇", "strong"),
    ("文旅特色镇", "characteristic/tourism"), ("生态特色镇", "characteristic/ecological"),
    ("农业专业镇", "specialised/agricultural"), ("商贸专业镇", "specialised/commercial"),
    ("商贸现代镇", "specialised/commercial"), ("专业镇", "specialised"),
    (" 培育类 ", "developing"), ("中心镇", "central"), ("工业示范镇", "specialised/industrial"),
])
def test_declared_aliases_resolve(text, target):
    assert load_taxonomy("guangdong").resolve_declared(text) == target


def test_unknown_declared_text_is_none():
    tax = load_taxonomy("guangdong")
    assert tax.resolve_declared("火星镇") is None
    assert tax.resolve_declared(float("nan")) is None


def test_county_preset_is_the_same_engine():
    tax = load_taxonomy("county")
    assert tax.targets() == ["leading", "weak_base"]
    assert tax.fallback.id == "advancing"
    assert tax.palette()["weak_base"]["zh"] == "消薄类"
    assert tax.resolve_declared("创先类") == "leading"


def test_load_from_path(tmp_path):
    p = tmp_path / "mine.toml"
    p.write_text(MINI, encoding="utf-8")
    tax = load_taxonomy(p)
    assert tax.name == "mini"
    assert tax.target_rules("specialised/industrial")[0].threshold == 60


def test_unknown_preset_names_the_presets():
    with pytest.raises(ConfigError, match="presets: guangdong, county"):
        load_taxonomy("nowhere")


def test_bad_toml_is_config_error(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("[taxonomy\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_taxonomy(p)


@pytest.mark.parametrize("patch, key, msg", [
    ({"categories__strong__rules__0__op": "=>"}, "categories.strong.rules[0].op", "unknown op"),
    ({"categories__strong__rules__0__scale": "pct"}, "categories.strong.rules[0].scale",
     "unknown scale"),
    ({"categories__strong__rules__0__threshold": 180}, "categories.strong.rules[0].threshold",
     "0–100"),
    ({"categories__strong__rules__0__threshold": "high"},
     "categories.strong.rules[0].threshold", "finite number"),
    ({"categories__strong__rules__0__treshold": 1}, "categories.strong.rules[0].treshold",
     "unknown key 'treshold'"),
    ({"categories__strong__colour": "#fff"}, "categories.strong.colour", "unknown key"),
    ({"categories__strong__color": "red"}, "categories.strong.color", "#1f77b4"),
    ({"categories__specialised__subtypes__industrial__zh": ""},
     "categories.specialised.subtypes.industrial.zh", "Chinese label"),
    ({"taxonomy__priority": ["strong"]}, "taxonomy.priority", "missing from the priority"),
    ({"taxonomy__priority": ["strong", "specialised/industrial", "x"]}, "taxonomy.priority",
     "unknown targets"),
    ({"categories__strong__fallback": True}, "categories.strong", "takes no rules"),
    ({"categories__other": {"zh": "另", "en": "Other", "color": "#000000", "fallback": True}},
     "categories", "exactly one category needs fallback"),
])
def test_bad_config_names_the_key(patch, key, msg):
    with pytest.raises(ConfigError, match=msg) as err:
        parse_taxonomy(mini(**patch), "mine.toml")
    assert err.value.key == key
    assert str(err.value).startswith(f"mine.toml, key {key!r}")


def test_rule_needs_threshold():
    data = mini()
    del data["categories"]["strong"]["rules"][0]["threshold"]
    with pytest.raises(ConfigError, match="missing 'threshold'") as err:
        parse_taxonomy(data)
    assert err.value.key == "categories.strong.rules[0].threshold"


def test_category_without_rules_or_subtypes_rejected():
    data = mini()
    del data["categories"]["strong"]["rules"]
    with pytest.raises(ConfigError, match="needs rules, subtypes, or fallback") as err:
        parse_taxonomy(data)
    assert err.value.key == "categories.strong.rules"


def test_taxonomy_is_frozen():
    tax = load_taxonomy("guangdong")
    with pytest.raises(AttributeError):
        tax.name = "x"


@pytest.mark.parametrize("section, value, key", [
    ("categories", 1, "categories"),
    ("categories", ["strong"], "categories"),
    ("roles", "central", "roles"),
    ("fields", 1.5, "fields"),
    ("categories__specialised__subtypes", "industrial", "categories.specialised.subtypes"),
    ("roles", {"central": 1}, "roles.central"),
])
def test_a_section_that_is_no_table_is_named_not_a_crash(section, value, key):
    # a hand-edited taxonomy TOML: `categories = 1`, `[roles] central = 1` …
    with pytest.raises(ConfigError, match="(must be|expected) a table") as err:
        parse_taxonomy(mini(**{section: value}), "mine.toml")
    assert err.value.key == key
    assert str(err.value).startswith(f"mine.toml, key {key!r}")
