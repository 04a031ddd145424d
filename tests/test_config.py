"""classify.config: the default indicator system and validation of user configs."""

import textwrap

import pytest

from classify.config import load_system, parse_system, system_to_toml
from classify.errors import ConfigError

# docs/DESIGN.md "Default indicators", written out
DESIGN = """
gdp 地区生产总值 万元 strength +
fiscal_revenue 一般公共预算收入 万元 strength +
population 常住人口 人 strength +
fixed_investment 固定资产投资 万元 strength +
market_entities 市场主体数 户 strength +
rural_income 农村居民人均可支配收入 元 strength +
industrial_output 规上工业总产值 万元 industry +
industrial_firms 规上工业企业数 家 industry +
secondary_share 第二产业占比 % industry +
industrial_park 省级以上园区 是/否 industry +
agri_output 农林牧渔业总产值 万元 agriculture +
primary_share 第一产业占比 % agriculture +
farmland 耕地面积 亩 agriculture +
agri_leading_firms 农业龙头企业数 家 agriculture +
specialty_villages 一村一品专业村数 个 agriculture +
retail_sales 社会消费品零售总额 万元 commerce +
markets 专业市场数 个 commerce +
logistics_nodes 物流节点数 个 commerce +
tourists 接待游客 万人次 tourism +
tourism_revenue 旅游收入 万元 tourism +
a_scenic_spots A级景区数 个 tourism +
traditional_villages 传统村落数 个 tourism +
heritage_items 文物保护单位和非遗项目数 项 tourism +
forest_cover 森林覆盖率 % ecology +
protected_share 自然保护地面积占比 % ecology +
health_beds 卫生院床位数 张 centrality +
schools 中小学校数 所 centrality +
dist_county_seat 距县城距离 km centrality -
"""


def test_default_system_matches_design():
    s = load_system()
    got = [(i.id, i.label_zh, i.unit, i.dimension, i.direction) for i in s.indicators]
    want = [tuple(line.split()) for line in DESIGN.strip().splitlines()]
    assert got == want
    assert [d.id for d in s.dimensions] == ["strength", "industry", "agriculture", "commerce",
                                            "tourism", "ecology", "centrality"]
    assert [d.label_zh for d in s.dimensions] == ["综合实力", "工业", "农业", "商贸", "文旅",
                                                  "生态", "中心性"]
    der = {d.id: (d.kind, d.numerator, d.denominator) for d in s.derived}
    assert der == {"lq_industry": ("lq", "industrial_output", "gdp"),
                   "lq_agriculture": ("lq", "agri_output", "gdp"),
                   "lq_commerce": ("lq", "retail_sales", "gdp"),
                   "lq_tourism": ("lq", "tourism_revenue", "gdp"),
                   "gdp_per_capita": ("per_capita", "gdp", "population")}
    assert s.get("gdp_per_capita").unit == "元/人"
    assert s.methods.weighting == "equal" and s.methods.missing == "reweight"


MINIMAL = """
[dimensions.strength]
label_zh = "综合实力"
weight = 1.0

[indicators.gdp]
label_zh = "地区生产总值"
unit = "万元"
dimension = "strength"
"""


def _write(tmp_path, text):
    p = tmp_path / "system.toml"
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def test_minimal_config_loads_with_defaults(tmp_path):
    s = load_system(_write(tmp_path, MINIMAL))
    assert [i.id for i in s.indicators] == ["gdp"]
    gdp = s.get("gdp")
    assert (gdp.direction, gdp.transform, gdp.weight) == ("+", "auto", 1.0)


@pytest.mark.parametrize("extra, key, message", [
    ('[indicators.x]\nlabel_zh = "x"\nunit = "个"\ndimension = "nowhere"\n',
     "indicators.x.dimension", "unknown dimension 'nowhere'"),
    ('[indicators.x]\nlabel_zh = "x"\nunit = "个"\ndimension = "strength"\nweight = -1\n',
     "indicators.x.weight", "weight must be >= 0"),
    ('[indicators.x]\nlabel_zh = "x"\nunit = "个"\ndimension = "strength"\ndirection = "up"\n',
     "indicators.x.direction", "'up' is not one of"),
    ('[indicators.x]\nlabel_zh = "x"\nunit = "吨"\ndimension = "strength"\n',
     "indicators.x.unit", "unknown unit '吨'"),
    ('[indicators.x]\nlabel_zh = "x"\nunit = "个"\ndimension = "strength"\ncolour = 1\n',
     "indicators.x.colour", "unknown key"),
    ('[indicators.x]\nlabel_zh = "x"\ndimension = "strength"\n',
     "indicators.x", "missing a required key"),
    ('[methods]\nweighting = "magic"\n', "methods.weighting", "'magic' is not one of"),
    ('[dimensions.industry]\nlabel_zh = "工业"\nweight = -0.5\n', "dimensions.industry.weight",
     "weight must be >= 0"),
    ('[derived.r]\nkind = "lq"\nnumerator = "gdp"\ndenominator = "gdp"\nreference = "town"\n',
     "derived.r.reference", "'town' is not one of"),
    ('[derived.gdp]\nkind = "ratio"\nnumerator = "gdp"\ndenominator = "gdp"\n',
     "derived.gdp", "declared twice"),
    ('[uncertainty]\naggregations = ["arithmetic", "harmonic"]\n',
     "uncertainty.aggregations", "'harmonic' is not one of"),
    ('[uncertainty]\nconcentration = 0\n', "uncertainty.concentration",
     "must be a positive number"),
    ('[uncertainty]\ndraws = 5\n', "uncertainty.draws", "unknown key"),
])
def test_bad_config_names_the_key(tmp_path, extra, key, message):
    path = _write(tmp_path, MINIMAL + "\n" + extra)
    with pytest.raises(ConfigError, match=message) as info:
        load_system(path)
    assert info.value.key == key
    assert str(path) in str(info.value) and repr(key) in str(info.value)


def test_invalid_toml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_system(_write(tmp_path, "[indicators.gdp\n"))
    with pytest.raises(ConfigError, match="file not found"):
        load_system(tmp_path / "nope.toml")


def test_toml_round_trip_keeps_the_system():
    s = load_system()
    again = parse_system(__import__("tomllib").loads(system_to_toml(s)))
    assert again == s


def test_replace_methods_validates():
    s = load_system()
    assert s.replace_methods(weighting="entropy").methods.weighting == "entropy"
    assert s.methods.weighting == "equal"          # frozen: the original is unchanged
    with pytest.raises(ConfigError, match="'bogus' is not one of") as info:
        s.replace_methods(normalisation="bogus")
    assert info.value.key == "methods.normalisation"


def test_uncertainty_settings_round_trip(tmp_path):
    p = _write(tmp_path, MINIMAL + '\n[uncertainty]\nweights = "noise"\nnoise = 0.1\n'
                                   'normalisations = ["zscore"]\n')
    s = load_system(p)
    assert (s.uncertainty.weights, s.uncertainty.noise, s.uncertainty.normalisations) == \
        ("noise", 0.1, ("zscore",))
    assert s.uncertainty.aggregations == ("arithmetic", "geometric")      # default kept
    again = parse_system(__import__("tomllib").loads(system_to_toml(s)))
    assert again.uncertainty == s.uncertainty


def test_default_headers_and_aliases_are_unambiguous():
    from classify.indicators import _names
    seen = {}
    for ind in load_system().indicators:
        for name in _names(ind):
            assert name not in seen, f"{name!r} names both {seen[name]} and {ind.id}"
            seen[name] = ind.id
