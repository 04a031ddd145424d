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



# -- independent re-computation used by the claim checks (plain loops, not pandas rank) ---
DIRECTION = {k: (-1 if v["direction"] == "-" else 1) for k, v in INDICATORS.items()}


def hand_position(values: list, k: int, direction: int) -> tuple[int, int, float]:
    """(rank 1 = best with ties sharing the best rank, n, percentile ties averaged)."""
    vals = [(v * direction) for v in values if not (isinstance(v, float) and math.isnan(v))]
    me = values[k] * direction
    better = sum(v > me for v in vals)
    worse = sum(v < me for v in vals)
    ties = sum(v == me for v in vals)
    return better + 1, len(vals), (worse + (ties + 1) / 2) / len(vals) * 100


def test_strengths_of_the_leading_town_by_hand(case):
    s = run(*case)["441882100"]
    got = s.strengths.set_index("indicator")
    # gdp 500000 is the largest of 8 → 第1/8, P100; dist 0 km ties with 己镇 (lower is
    # better) → rank 1, percentile (6 + 1.5) / 8 = 93.75; lq 1.5 is 2nd of 7 → P 6/7
    assert set(got.index) == {"gdp", "industrial_output", "dist_county_seat", "lq_industry"}
    assert tuple(got.loc["gdp", ["rank", "n", "pct"]]) == (1, 8, 100.0)
    assert tuple(got.loc["dist_county_seat", ["rank", "n"]]) == (1, 8)
    assert got.loc["dist_county_seat", "pct"] == pytest.approx(93.75)
    assert got.loc["lq_industry", "pct"] == pytest.approx(600 / 7)
    assert got.loc["lq_industry", "scope"] == "both"  # county: 4 of 5 → P80
    assert s.weaknesses.empty


def test_every_listed_strength_and_weakness_holds_in_the_frame(case):
    frame, trace = case
    for s in run(frame, trace).values():
        k = int(np.flatnonzero(frame["town_code"] == s.town_code)[0])
        same_county = frame["county_code"] == frame["county_code"].iloc[k]
        kc = int(np.flatnonzero(frame.index[same_county] == k)[0])
        for table, top in ((s.strengths, True), (s.weaknesses, False)):
            for r in table.to_dict("records"):
                ind = r["indicator"]
                rank, n, pct = hand_position(list(frame[ind]), k, DIRECTION[ind])
                _, _, pct_c = hand_position(list(frame.loc[same_county, ind]), kc,
                                            DIRECTION[ind])
                assert (r["rank"], r["n"]) == (rank, n)
                assert r["pct"] == pytest.approx(pct)
                if top:
                    assert pct >= 80 or pct_c >= 80, (s.town, ind)
                else:
                    assert pct <= 20 or pct_c <= 20, (s.town, ind)


def test_benchmarks_are_in_the_category_and_ahead(case):
    frame, trace = case
    out = run(frame, trace)
    by_code = frame.set_index("town_code")
    n_checked = 0
    for s in out.values():
        for b in s.benchmarks:
            other = by_code.loc[b.town_code]
            target = other["category"] + ("/" + other["subtype"] if other["subtype"] else "")
            assert target == s.target
            assert other[s.focus] > by_code.loc[s.town_code, s.focus]
            n_checked += 1
    assert n_checked >= 4
    # 戊镇 (developing, composite 20): both other developing towns are ahead
    assert {b.town for b in out["441882104"].benchmarks} == {"丙镇", "辛镇"}
    # 己镇 (industrial, industry 80) learns from 乙镇 (85); 乙镇 leads and names 己镇
    assert [b.town for b in out["441881100"].benchmarks] == ["乙镇"]
    leader = out["441882101"]
    assert leader.is_leader and not leader.benchmarks
    assert [b.town for b in leader.challengers] == ["己镇"]


def test_benchmark_gap_arithmetic(case):
    frame, trace = case
    s = run(frame, trace)["441882104"]  # 戊镇
    b = next(b for b in s.benchmarks if b.town == "丙镇")
    g = b.gaps.set_index("indicator")
    # industrial output 30000 → 250000 万元: +220000, +733.33 %
    assert g.loc["industrial_output", "this"] == 30000
    assert g.loc["industrial_output", "other"] == 250000
    assert g.loc["industrial_output", "diff"] == 220000
    assert g.loc["industrial_output", "diff_pct"] == pytest.approx(733.3333, rel=1e-6)
    # distance 40 → 20 km: −20, −50 %
    assert (g.loc["dist_county_seat", "diff"], g.loc["dist_county_seat", "diff_pct"]) == (-20,
                                                                                           -50)


def test_declared_category_not_supported_with_gaps_in_units(case):
    s = run(*case)["441882104"]  # 戊镇 declares 专业镇·工业
    assert s.declared_target == "specialised/industrial"
    assert s.declared_status == "not supported"
    assert set(s.declared_failing["rule_id"]) == {"industry_pct", "industry_lq"}
    g = s.category_gaps.set_index("rule_id")
    # industry P70 of 7 towns: beat 4 others → the 4th lowest other score, 80
    assert g.loc["industry_pct", "needed_field"] == 80
    # the same position among the other 6 industrial outputs (4 of 6 ≤ 80): 350000
    assert g.loc["industry_pct", "indicator"] == "industrial_output"
    assert g.loc["industry_pct", "method"] == "empirical"
    assert (g.loc["industry_pct", "needed"], g.loc["industry_pct", "change"]) == (350000,
                                                                                  320000)
    # LQ 0.4 → 1.2 at the current GDP: output × 3 = 90000 (+60000 万元)
    assert g.loc["industry_lq", "method"] == "structure"
    assert g.loc["industry_lq", "needed"] == pytest.approx(90000)
    assert g.loc["industry_lq", "change"] == pytest.approx(60000)


def test_nearly_reached_category_is_explained(case):
    s = run(*case)["441882102"]  # 丙镇: industry P57 (needs P70), LQ passes
    g = s.category_gaps
    assert list(g["target"].unique()) == ["specialised/industrial"]
    assert set(g["relation"]) == {"runner_up"}
    row = g.set_index("rule_id").loc["industry_pct"]
    assert (row["needed_field"], row["needed"], row["change"]) == (80, 350000, 100000)


class LinearIndustryModel:
    """A fitted-scorer stand-in: score_industry = industrial_output / 10000."""

    def transform(self, rows: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"score_industry": rows["industrial_output"] / 10000.0})


def test_gap_via_the_scoring_model(case):
    s = run(*case, model=LinearIndustryModel())["441882104"]
    row = s.category_gaps.set_index("rule_id").loc["industry_pct"]
    # score must exceed 80 → output above 800000 万元
    assert row["method"] == "model"
    assert row["needed"] == pytest.approx(800000, rel=1e-3)
    assert row["needed"] > 800000


def test_missing_data_is_reported_not_ranked(case):
    frame, trace = case
    s = run(frame, trace)["441881101"]  # 庚镇 lacks industrial output (and so its LQ)
    assert list(s.missing["indicator"]) == ["industrial_output", "lq_industry"]
    assert set(s.missing["status"]) == {"missing"}
    assert "specialised/industrial" in s.missing["affects"].iloc[0]
    assert "industrial_output" not in set(s.strengths["indicator"]) | set(
        s.weaknesses["indicator"])
    dims = s.dimensions.set_index("dimension")
    assert math.isnan(dims.loc["industry", "this"])
    frame.loc[6, "n_imputed"] = 2
    s = run(frame, trace)["441881101"]
    assert set(s.missing["status"]) == {"imputed"}


def test_dimension_table_median_and_benchmark(case):
    s = run(*case)["441881100"]  # 己镇, industrial; peers 乙镇 (85) and 己镇 (80)
    d = s.dimensions.set_index("dimension")
    assert d.loc["industry", "category_median"] == pytest.approx(82.5)
    assert d.loc["industry", "benchmark"] == 85
    assert d.loc["industry", "this"] == 80


def test_without_dimension_scores_every_town_has_an_empty_dimension_table(case):
    frame, trace = case
    frame = frame.drop(columns=[c for c in frame.columns if c.startswith("score_")])
    sugs = suggest(frame, trace, indicators=INDICATORS, categories=PALETTE)
    assert len(sugs) == len(frame)
    assert all(s.dimensions.empty for s in sugs)
    assert list(sugs[0].dimensions.columns) == ["dimension", "label_zh", "label_en", "this",
                                                "category_median", "benchmark", "pct"]


def test_bad_inputs_name_the_problem(case):
    frame, trace = case
    with pytest.raises(ConfigError, match=r"frame.*lacks columns \['town'\]"):
        suggest(frame.drop(columns=["town"]), trace, indicators=INDICATORS)
    with pytest.raises(ConfigError, match=r"trace.*lacks columns \['passed'\]"):
        suggest(frame, trace.drop(columns=["passed"]), indicators=INDICATORS)
    with pytest.raises(ConfigError, match="lang must be 'zh' or 'en', found 'fr'"):
        suggest(frame, trace, indicators=INDICATORS, lang="fr")
    with pytest.raises(ConfigError, match="direction must be"):
        indicator_table({"x": {"direction": "sideways"}})


def test_without_a_trace_the_declared_rules_table_has_the_trace_columns(case):
    """No rules evaluated: the declared category's failing rules are an empty table in
    the rules.csv schema (what a sheet or notebook reads from it exists)."""
    from classify.rules import TRACE_COLUMNS

    s = suggest(case[0], None, indicators=INDICATORS, categories=PALETTE)[4]
    assert s.declared == "专业镇·工业" and s.declared_failing.empty
    assert list(s.declared_failing.columns) == TRACE_COLUMNS


def test_with_the_real_indicator_system_and_taxonomy(case):
    from classify.config import load_system
    from classify.taxonomy import load_taxonomy

    frame, trace = case
    frame = frame.assign(declared=["", "", "", "", "工业示范镇", "", "", ""])
    trace = trace.drop(columns=["scale"])  # scales then come from the taxonomy
    out = {s.town_code: s for s in suggest(frame, trace, load_system(),
                                           load_taxonomy("guangdong"))}
    s = out["441882104"]
    assert s.declared_target == "specialised/industrial"  # alias 工业示范镇
    assert s.label(s.declared_target, "zh") == "专业镇·工业"
    ind = indicator_table(load_system())
    assert ind["gdp"].label_zh == "地区生产总值" and ind["gdp"].unit == "万元"
    assert ind["dist_county_seat"].direction == -1
    row = s.category_gaps.set_index("rule_id").loc["industry_pct"]
    assert (row["scale"], row["needed_field"]) == ("percentile", 80)


def test_peer_positions_counts_only_present_values(case):
    frame, _ = case
    pos = peer_positions(frame, indicator_table(INDICATORS))
    r = pos[(pos["town_code"] == "441881101") & (pos["indicator"] == "industrial_output")]
    assert math.isnan(r["rank"].iloc[0]) and r["n"].iloc[0] == 7


def test_model_gap_reaches_the_threshold_with_the_real_scorer(case):
    from classify.config import load_system
    from classify.scoring import score

    frame, _ = case
    ids = ["gdp", "industrial_output", "lq_industry", "tourists", "dist_county_seat"]
    res = score(frame[ids], load_system())
    scored = frame.drop(columns=["score_strength", "score_industry", "score_tourism",
                                 "composite", "n_missing", "n_imputed"]).join(
        res.scores.drop(columns=["rank"]))
    s = run(scored, make_trace(scored), model=res.model)["441882104"]  # 戊镇
    rows = s.category_gaps[(s.category_gaps["rule_id"] == "industry_pct")
                           & (s.category_gaps["method"] == "model")]
    assert len(rows)
    for r in rows.to_dict("records"):
        ind, k = r["indicator"], 4
        x = scored[ids].iloc[[k]].copy().reset_index(drop=True)

        def industry(v):
            y = x.copy()
            y[ind] = v
            if ind == "industrial_output":  # the LQ moves with its numerator
                y["lq_industry"] = x["lq_industry"] * v / x[ind]
            return float(res.model.transform(y)["score_industry"].iloc[0])

        assert industry(r["needed"]) > r["needed_field"]
        assert industry(r["current"] + 0.99 * (r["needed"] - r["current"])) <= r["needed_field"]


class ShareAndCountModel:
    """score_tourism = 2 × spots + share / 4 (one count, one share, both linear)."""

    def transform(self, rows: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"score_tourism": 2 * rows["spots"] + rows["share"] / 4})


def test_model_gaps_respect_whole_counts_and_100_percent(case):
    frame, trace = case
    indicators = {"spots": {"label_zh": "A级景区数", "unit": "个", "dimension": "tourism"},
                  "share": {"label_zh": "森林覆盖率", "unit": "%", "dimension": "tourism"}}
    frame = frame.assign(spots=[1, 0, 2, 9, 3, 1, 6, 2],
                         share=[40, 30, 50, 80, 60, 20, 70, 90.0])
    frame["score_tourism"] = 2 * frame["spots"] + frame["share"] / 4
    frame.loc[4, "runner_up"] = "characteristic/tourism"
    trace = make_trace(frame)
    s = {x.town_code: x for x in suggest(frame, trace, indicators=indicators,
                                         categories=PALETTE, model=ShareAndCountModel())}
    g = s["441882104"].category_gaps  # 戊镇: spots 3, share 60 → score 21
    g = g[g["rule_id"] == "tourism_pct"].set_index("indicator")
    # scores of the others: 7, 7.5, 12, 16.5, 26.5, 29.5, 38; P80 of 8 towns means
    # beating 6 of them → above 29.5
    assert g["needed_field"].iloc[0] == 29.5
    # spots: 2 × s + 15 > 29.5 → s > 7.25 → 8 whole spots (+5)
    assert (g.loc["spots", "needed"], g.loc["spots", "change"]) == (8, 5)
    # share: 6 + f / 4 > 29.5 → f > 94 %: reachable below 100 %
    assert 94 < g.loc["share", "needed"] < 94.01
    frame.loc[4, "spots"] = 0  # now the share alone would need > 118 %: not offered
    frame["score_tourism"] = 2 * frame["spots"] + frame["share"] / 4
    s = {x.town_code: x for x in suggest(frame, make_trace(frame), indicators=indicators,
                                         categories=PALETTE, model=ShareAndCountModel())}
    g = s["441882104"].category_gaps
    assert "share" not in set(g.loc[g["rule_id"] == "tourism_pct", "indicator"])


def test_profile_distance_and_same_county_preference(case):
    frame, trace = case
    s = run(frame, trace)["441882104"]  # 戊镇
    d = {b.town: b for b in s.benchmarks}
    # percentile profiles (÷100) 戊镇 vs 辛镇: gdp 1/8 vs 2/8, output 1/7 vs 2/7, LQ 1/7 vs
    # 2/7, tourists 5/8 vs 6/8, distance (lower better) 1/8 vs 2/8 →
    # RMS = sqrt((3 × (1/8)² + 2 × (1/7)²) / 5)
    assert d["辛镇"].distance == pytest.approx(math.sqrt((3 / 64 + 2 / 49) / 5))
    assert (d["辛镇"].same_county, d["辛镇"].same_city) == (False, True)
    assert d["丙镇"].same_county
    # default weights (county 0.8, city 0.9): 0.9 × 0.132 < 0.8 × 0.463 → 辛镇 first
    assert [b.town for b in s.benchmarks] == ["辛镇", "丙镇"]
    # a strong county preference (0.2 × 0.463 = 0.093 < 0.119) puts 丙镇 first
    s = run(frame, trace, county_weight=0.2)["441882104"]
    assert [b.town for b in s.benchmarks] == ["丙镇", "辛镇"]


# -- property: whatever the data, the claims hold ------------------------------------------
from hypothesis import given, settings, strategies as st  # noqa: E402

_TARGETS = ["strong", "specialised/industrial", "characteristic/tourism", "developing"]


@st.composite
def random_case(draw):
    n = draw(st.integers(5, 12))
    vals = st.floats(0, 1000, allow_nan=False).map(lambda x: round(x, 1))
    maybe = st.one_of(vals, st.just(float("nan")))
    cols = {c: draw(st.lists(maybe if c == "industrial_output" else vals, min_size=n,
                             max_size=n))
            for c in ("gdp", "industrial_output", "lq_industry", "tourists",
                      "dist_county_seat", "score_strength", "score_industry",
                      "score_tourism", "composite")}
    targets = draw(st.lists(st.sampled_from(_TARGETS), min_size=n, max_size=n))
    f = pd.DataFrame(cols)
    f.insert(0, "town_code", [f"4418{k:05d}" for k in range(n)])
    f.insert(1, "town", [f"镇{k}" for k in range(n)])
    f["county_code"] = [("441881", "441882")[k % 2] for k in range(n)]
    f["city_code"] = "4418"
    f["category"] = [t.split("/")[0] for t in targets]
    f["subtype"] = [t.partition("/")[2] for t in targets]
    f["declared"] = draw(st.lists(st.sampled_from(["", "专业镇·工业", "特色镇·文旅"]),
                                  min_size=n, max_size=n))
    return f


@settings(max_examples=15, deadline=None)
@given(random_case())
def test_claims_hold_on_random_data(f):
    trace = make_trace(f)
    out = suggest(f, trace, indicators=INDICATORS, categories=PALETTE)
    target = (f["category"] + np.where(f["subtype"] != "", "/" + f["subtype"], "")).to_numpy()
    for k, s in enumerate(out):
        for table, top in ((s.strengths, True), (s.weaknesses, False)):
            for r in table.to_dict("records"):
                _, _, pct = hand_position(list(f[r["indicator"]]), k, DIRECTION[r["indicator"]])
                cty = f["county_code"] == f["county_code"].iloc[k]
                kc = int(np.flatnonzero(f.index[cty] == k)[0])
                _, nc, pc = hand_position(list(f.loc[cty, r["indicator"]]), kc,
                                          DIRECTION[r["indicator"]])
                ok_c = nc >= 3 and (pc >= 80 if top else pc <= 20)
                assert (pct >= 80 if top else pct <= 20) or ok_c
        for b in s.benchmarks:
            j = int(np.flatnonzero(f["town_code"] == b.town_code)[0])
            assert target[j] == target[k] and f[s.focus].iloc[j] > f[s.focus].iloc[k]
            g = b.gaps
            np.testing.assert_allclose(g["diff"], g["other"] - g["this"])
        for b in s.challengers:
            j = int(np.flatnonzero(f["town_code"] == b.town_code)[0])
            assert target[j] == target[k] and f[s.focus].iloc[j] <= f[s.focus].iloc[k]
        gaps = s.category_gaps.dropna(subset=["indicator"])
        np.testing.assert_allclose(gaps["change"], gaps["needed"] - gaps["current"])
        for r in s.category_gaps.to_dict("records"):
            if r["scale"] != "percentile" or math.isnan(r["needed_field"]):
                continue
            # just above the needed value the town would reach the threshold
            col = f[r["field"]].drop(index=k).dropna()
            assert (int((col <= r["needed_field"]).sum()) + 1) / (len(col) + 1) * 100 \
                >= r["threshold"]


def test_suggestions_table_ids_only(case):
    from classify.suggest import suggestions_table

    t = suggestions_table(suggest(*case, indicators=INDICATORS, categories=PALETTE))
    assert list(t["town_code"]) == list(case[0]["town_code"])
    row = t.set_index("town").loc["戊镇"]
    assert (row["target"], row["declared_target"], row["declared_status"]) == (
        "developing", "specialised/industrial", "not supported")
    assert set(row["benchmarks"].split(";")) == {"441882102", "441881102"}
    assert t.set_index("town").loc["乙镇", "is_leader"]
    assert t.set_index("town").loc["庚镇", "missing"] == "industrial_output;lq_industry"


def test_county_names_group_towns_when_codes_are_absent(case):
    frame, trace = case
    with_codes = run(frame, trace)
    without = run(frame.drop(columns=["county_code", "city_code"]), trace)
    for code, s in with_codes.items():
        pd.testing.assert_frame_equal(s.strengths, without[code].strengths)
        assert [b.town for b in s.benchmarks] == [b.town for b in without[code].benchmarks]


def town_major(trace: pd.DataFrame, n: int) -> pd.DataFrame:
    """The fixture trace (rule-major) in the order of classify.rules (town-major)."""
    R = len(trace) // n
    return trace.iloc[[r * n + k for k in range(n) for r in range(R)]].reset_index(drop=True)


def test_towns_without_code_or_county_flow_through(case):
    """Issue 13: a blank town code (KeyError 'nan' before) or county; rows are found by
    position, a town of unknown county is in no county group."""
    frame, _ = case
    f = frame.copy()
    f["town_code"] = f["town_code"].astype(object)
    f.loc[[1, 5], "town_code"] = np.nan                 # 乙镇, 己镇: no code
    f.loc[[0, 2], ["county_code", "county"]] = np.nan   # 甲镇, 丙镇: no county
    trace = town_major(make_trace(f), len(f))
    sugs = suggest(f, trace, indicators=INDICATORS, categories=PALETTE)
    assert [s.town for s in sugs] == list(f["town"])
    assert sugs[1].town_code == "" and sugs[5].town_code == ""
    # 己镇's benchmark is 乙镇 (as with codes), found by position
    assert [b.town for b in sugs[5].benchmarks][:1] == ["乙镇"]
    assert sugs[5].benchmarks[0].index == 1 and sugs[5].benchmarks[0].town_code == ""
    # the rules of the towns without a code are still theirs
    full = suggest(frame, town_major(make_trace(frame), len(frame)), indicators=INDICATORS,
                   categories=PALETTE)
    assert sugs[1].extra["targets"] == full[1].extra["targets"] != []
    assert sugs[5].declared_status == full[5].declared_status
    # unknown county: no county rank, not a same-county peer, '' not 'nan'
    pos = peer_positions(f, indicator_table(INDICATORS))
    gdp = pos[pos["indicator"] == "gdp"].reset_index(drop=True)
    assert gdp.loc[[0, 2], "rank_county"].isna().all()
    assert (gdp.loc[[0, 2], "n_county"] == 0).all()
    assert (gdp.loc[[1, 3, 4], "n_county"] == 3).all()   # 连州市 without 甲镇, 丙镇
    assert sugs[0].county == "" and sugs[2].county == ""
    for s in sugs:
        for b in s.benchmarks + s.challengers:
            assert b.county != "nan"
            if s.county == "" or b.county == "":
                assert not b.same_county


def test_trace_columns_read_back_as_the_trace_holds_them():
    """The suggestions keep the rule trace compactly (codes for repeated text, Arrow for
    mostly distinct text); every cell reads back as ``Series.tolist()`` gives it."""
    from classify.suggest.gaps import _Trace

    n = 12
    trace = pd.DataFrame({
        "town_code": pd.Series([f"44{k:07d}" for k in range(n)], dtype="str"),
        "target": pd.Series(["strong", "specialised/industrial", None] * 4, dtype="str"),
        "rule_id": pd.Series(["r1", "r2"] * 6, dtype="str"),
        "field": pd.Series(["composite"] * n, dtype="str"),
        "threshold": pd.Series([80, "P60", None] * 4, dtype=object),
        "passed": [True, False] * 6,
        "norm_margin": np.linspace(-1, 1, n),
        "text_zh": pd.Series([f"第{k}条" if k != 5 else None for k in range(n)], dtype="str"),
    })
    tr = _Trace(trace, np.arange(n))
    for k in range(n):
        got = {c: tr.cols[c][k] for c in tr.columns}
        want = {c: trace[c].tolist()[k] for c in trace.columns}
        assert list(got) == list(want)
        for c in trace.columns:
            assert (pd.isna(got[c]) and pd.isna(want[c])) or got[c] == want[c], (k, c)
    assert tr.failing(list(range(n)), "specialised/industrial") == [1, 7]
