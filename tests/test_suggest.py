"""Tests of classify.suggest: every claim is checked against the frame by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from classify.errors import ConfigError
from classify.suggest import indicator_table, peer_positions, suggest

INDICATORS = {
    "gdp": {"label_zh": "地区生产总值", "label_en": "GDP", "unit": "万元",
            "dimension": "strength", "direction": "+"},
    "industrial_output": {"label_zh": "规上工业总产值", "label_en": "Industrial output",
                          "unit": "万元", "dimension": "industry", "direction": "+"},
    "lq_industry": {"label_zh": "工业区位熵", "label_en": "Industry LQ", "unit": "",
                    "dimension": "industry", "direction": "+"},
    "tourists": {"label_zh": "接待游客", "label_en": "Tourist visits", "unit": "万人次",
                 "dimension": "tourism", "direction": "+"},
    "dist_county_seat": {"label_zh": "距县城距离", "label_en": "Distance to county seat",
                         "unit": "km", "dimension": "centrality", "direction": "-"},
}
PALETTE = {
    "strong": {"zh": "综合实力强镇", "en": "Strong town", "color": "#d62728"},
    "specialised": {"zh": "专业镇", "en": "Specialised town", "color": "#1f77b4"},
    "specialised/industrial": {"zh": "专业镇·工业", "en": "Specialised · industrial",
                               "color": "#1f77b4"},
    "characteristic": {"zh": "特色镇", "en": "Characteristic town", "color": "#9467bd"},
    "characteristic/tourism": {"zh": "特色镇·文旅", "en": "Characteristic · tourism",
                               "color": "#9467bd"},
    "developing": {"zh": "培育类", "en": "Developing town", "color": "#bdbdbd"},
}
# the fixture's rules: (target, rule_id, field, scale, op, threshold, spread)
RULES = [
    ("strong", "strength_top", "score_strength", "percentile", ">=", 90, 100),
    ("strong", "composite_top", "composite", "percentile", ">=", 60, 100),
    ("specialised/industrial", "industry_pct", "score_industry", "percentile", ">=", 70, 100),
    ("specialised/industrial", "industry_lq", "lq_industry", "value", ">=", 1.2, 1.0),
    ("characteristic/tourism", "tourism_pct", "score_tourism", "percentile", ">=", 80, 100),
]


def make_frame() -> pd.DataFrame:
    nan = np.nan
    f = pd.DataFrame({
        "town_code": [f"44188210{i}" for i in range(5)] + [f"44188110{i}" for i in range(3)],
        "town": ["甲镇", "乙镇", "丙镇", "丁镇", "戊镇", "己镇", "庚镇", "辛镇"],
        "county_code": ["441882"] * 5 + ["441881"] * 3,
        "county": ["连州市"] * 5 + ["英德市"] * 3,
        "city_code": ["4418"] * 8, "city": ["清远市"] * 8,
        "gdp": [500000, 200000, 150000, 80000, 60000, 180000, 90000, 70000],
        "industrial_output": [900000, 400000, 250000, 60000, 30000, 350000, nan, 50000],
        "lq_industry": [1.5, 1.6, 1.4, 0.6, 0.4, 1.3, nan, 0.5],
        "tourists": [10, 5, 8, 120, 15, 6, 60, 20],
        "dist_county_seat": [0, 12, 20, 30, 40, 0, 25, 35],
        "score_strength": [95, 52, 50, 30, 20, 55, 35, 25],
        "score_industry": [90, 85, 75, 20, 10, 80, nan, 30],
        "score_tourism": [20, 10, 15, 90, 30, 12, 70, 35],
        "composite": [80, 55, 48, 45, 20, 52, 40, 28],
    })
    f["rank"] = f["composite"].rank(ascending=False, method="min")
    f["category"] = ["strong", "specialised", "developing", "characteristic", "developing",
                     "specialised", "characteristic", "developing"]
    f["subtype"] = ["", "industrial", "", "tourism", "", "industrial", "tourism", ""]
    f["secondary"] = ["specialised/industrial", "", "", "", "", "", "", ""]
    f["runner_up"] = ["specialised/industrial", "strong", "specialised/industrial", "",
                      "", "", "", "characteristic/tourism"]
    f["stability"] = [0.9, 0.8, 0.55, 0.95, 0.7, 0.75, 0.6, 0.85]
    f["declared"] = ["", "", "", "", "专业镇·工业", "", "", ""]
    f["n_missing"] = [0, 0, 0, 0, 0, 0, 2, 0]
    f["n_imputed"] = [0] * 8
    return f


def make_trace(frame: pd.DataFrame) -> pd.DataFrame:
    """A rule trace in the rules.csv schema, evaluated on the fixture (input data)."""
    rows = []
    for target, rid, fld, scale, op, thr, spread in RULES:
        raw = frame[fld].astype(float)
        val = raw.rank(pct=True) * 100 if scale == "percentile" else raw
        margin = val - thr
        for k in range(len(frame)):
            m = margin.iloc[k]
            rows.append({"town_code": frame["town_code"].iloc[k], "town": frame["town"].iloc[k],
                         "target": target, "rule_id": rid, "field": fld, "scale": scale,
                         "op": op, "threshold": thr, "value": val.iloc[k],
                         "raw_value": raw.iloc[k], "margin": m, "norm_margin": m / spread,
                         "passed": bool(m >= 0) if not math.isnan(m) else False,
                         "text_zh": f"{fld} {'通过' if m >= 0 else '未通过'}",
                         "text_en": f"{fld} {'pass' if m >= 0 else 'fail'}"})
    t = pd.DataFrame(rows)
    t["target_passed"] = t.groupby(["town_code", "target"])["passed"].transform("all")
    return t


@pytest.fixture()
def case():
    frame = make_frame()
    return frame, make_trace(frame)


def run(frame, trace, **kw):
    return {s.town_code: s for s in suggest(frame, trace, indicators=INDICATORS,
                                            categories=PALETTE, **kw)}


def test_one_suggestion_per_town_in_frame_order(case):
    frame, trace = case
    out = suggest(frame, trace, indicators=INDICATORS, categories=PALETTE)
    assert [s.town_code for s in out] == list(frame["town_code"])
    s = out[1]
    assert (s.target, s.confidence, s.runner_up) == ("specialised/industrial", 0.8, "strong")
    assert s.label(s.target, "zh") == "专业镇·工业"
    assert out[0].secondary == ("specialised/industrial",)

