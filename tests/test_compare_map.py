"""The year-over-year map layers of geo.maps (类别变化, 综合得分变化) as compare uses them."""

import numpy as np

from classify.compare import CHANGE_CLASSES
from geo.maps import town_map
from tests.test_maps import layer, payload, six_towns

PALETTE = {k: {"zh": zh, "en": en, "color": c} for k, (zh, en, c) in CHANGE_CLASSES.items()}


def _towns():
    t = six_towns()
    t["change"] = ["up", "down", "same", "same", "new", "lateral"]
    t["category"] = t["change"]
    t["composite_change"] = [12.0, -4.0, 0.0, 0.5, np.nan, 2.0]
    return t


def test_change_layer_classes_and_legend():
    data = payload(town_map(_towns(), palette=PALETTE, layers=["change", "composite_change"],
                            title="t"))
    change = layer(data, "change")
    assert change["label"] == "类别变化"
    assert [(e["label"], e["count"]) for e in change["legend"]] == [
        ("上升", 1), ("下降", 1), ("类型转换", 1), ("不变", 2), ("新设", 1)]
    assert change["classes"] == [0, 1, 3, 3, 4, 2]


def test_composite_change_layer_is_diverging_around_zero():
    data = payload(town_map(_towns(), palette=PALETTE, layers=["composite_change"], title="t",
                            lang="en"))
    lay = layer(data, "composite_change")
    assert lay["label"] == "Composite score change"
    # limits −10, −3, −1, 1, 3, 10 and the maximum 12: 12 → last class, −4 → (−10, −3]
    assert lay["breaks"] == [-10.0, -3.0, -1.0, 1.0, 3.0, 10.0, 12.0]
    assert lay["classes"] == [6, 1, 3, 3, -1, 4]
    assert lay["missing"] == 1
    assert lay["legend"][0]["label"] == "≤ -10.0"
    colours = [e["color"] for e in lay["legend"]]
    assert colours[0] != colours[-1] and len(set(colours)) == 7


def test_no_change_class_is_the_pale_middle():
    t = _towns()
    t["composite_change"] = [-4.0, -2.0, 0.0, 0.5, 2.0, 5.0]        # max below 10: 6 classes
    lay = layer(payload(town_map(t, palette=PALETTE, layers=["composite_change"],
                                 title="t")), "composite_change")
    colours = [e["color"] for e in lay["legend"]]
    assert lay["breaks"] == [-10.0, -3.0, -1.0, 1.0, 3.0, 10.0]
    assert colours[3] == "#feffbe"                     # RdYlGn at 0.5: (−1, +1]
    assert colours[2] != colours[4]                   # fell vs rose by 1–3 points
