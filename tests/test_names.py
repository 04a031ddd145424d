"""Town names: traditional/simplified, suffix variants, 太平镇 ≠ 太平乡."""

import pytest

from geo.names import name_key, names_compatible, normalise_county, normalise_name


def test_traditional_to_simplified():
    assert normalise_name("連州鎮") == "连州镇"
    assert normalise_name("東陂鎮") == "东陂镇"
    assert normalise_name(" 星子 镇\u3000") == "星子镇"
    assert normalise_name(None) == ""


@pytest.mark.parametrize("name, key", [
    ("凤城街道", ("凤城", "街道")),
    ("凤城街道办事处", ("凤城", "街道")),
    ("凤城办事处", ("凤城", "街道")),
    ("连州镇", ("连州", "镇")),
    ("连州镇人民政府", ("连州", "镇")),
    ("连州", ("连州", None)),
    ("瑶安瑶族乡", ("瑶安瑶族", "乡")),
    ("石角镇（清城）", ("石角", "镇")),
])
def test_name_key(name, key):
    assert name_key(name) == key


def test_compatibility():
    assert names_compatible(name_key("凤城街道"), name_key("凤城街道办事处"))
    assert names_compatible(name_key("连州"), name_key("连州镇"))
    assert not names_compatible(name_key("太平镇"), name_key("太平乡"))
    assert not names_compatible(name_key("凤城街道"), name_key("凤城镇"))


def test_county_names():
    assert normalise_county("连州市") == "连州"
    assert normalise_county("連南瑤族自治縣") == "连南瑶族"
    assert normalise_county("清城区") == "清城"


def test_footnote_marks_after_names_are_ignored():
    for marked in ("连州镇*", "连州镇①", "连州镇注1", "连州镇¹", "連州鎮※"):
        assert name_key(marked) == ("连州", "镇")
