"""Rule engine: margins on hand-made towns, thresholds, ties, roles, declared, draws."""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from classify.rules import category_draws, classify_towns, stability_from_draws
from classify.taxonomy import load_taxonomy
from geo.errors import InputWarning

MINI = """
[taxonomy]
name = "mini"
priority = ["strong", "specialised/industrial", "characteristic/tourism"]

[categories.strong]
zh = "综合实力强镇"
en = "Strong town"
color = "#d62728"
rules = [{ id = "strength_pct", field = "score_strength", scale = "percentile", op = ">=", threshold = 80 }]

[categories.specialised]
zh = "专业镇"
en = "Specialised town"
color = "#1f77b4"

[categories.specialised.subtypes.industrial]
zh = "工业"
en = "industrial"
color = "#1f77b5"
rules = [
  { id = "industry_pct", field = "score_industry", scale = "percentile", op = ">=", threshold = 70 },
  { id = "industry_lq", field = "lq_industry", op = ">=", threshold = @LQ@, spread = 1.0 },
]

[categories.characteristic]
zh = "特色镇"
en = "Characteristic town"
color = "#9467bd"

[categories.characteristic.subtypes.tourism]
zh = "文旅"
en = "culture & tourism"
color = "#9467be"
rules = [{ id = "tourism_pct", field = "score_tourism", scale = "percentile", op = ">=", threshold = @TOUR@ }]

[categories.developing]
zh = "培育类"
en = "Developing town"
color = "#bdbdbd"
fallback = true

[roles.central]
zh = "中心镇"
en = "Central town"
color = "#8c564b"
rules = [{ id = "c", field = "score_centrality", scale = "rank_county", op = "<=", threshold = 1 }]

[roles.urban]
zh = "城区/街道"
en = "Urban unit"
color = "#7f7f7f"
rules = [
  { id = "street_name", field = "name", op = "contains", threshold = "街道" },
  { id = "street_code", field = "code_type", op = "<=", threshold = 99 },
]

[fields]
score_industry = { zh = "工业得分", en = "industry score" }
lq_industry = { zh = "工业区位商", en = "industry LQ" }
"""


def taxonomy(tmp_path, lq=1.2, tour=70):
    p = tmp_path / f"mini_{lq}_{tour}.toml"
    p.write_text(MINI.replace("@LQ@", str(lq)).replace("@TOUR@", str(tour)), encoding="utf-8")
    return load_taxonomy(p)


@pytest.fixture
def towns():
    # percentiles by hand (rank / 5 * 100):
    #   strength [50,10,20,30,40] -> P100 P20 P40 P60 P80
    #   industry [10,20,30,40,50] -> P20 P40 P60 P80 P100
    #   tourism  [30,50,10,40,20] -> P60 P100 P20 P80 P40
    return pd.DataFrame({
        "town_code": ["441882100", "441882101", "441882102", "441882003", "441882104"],
        "town": ["甲镇", "乙镇", "城关街道", "丁镇", "戊镇"],
        "county_code": ["441882", "441882", "441882", "441881", "441881"],
        "score_strength": [50.0, 10, 20, 30, 40],
        "score_industry": [10.0, 20, 30, 40, 50],
        "score_tourism": [30.0, 50, 10, 40, 20],
        "score_centrality": [5.0, 9, 7, 3, 8],
        "lq_industry": [1.0, 1.0, 1.0, 1.08, 1.45],
    })


def test_primary_secondary_and_fallback(tmp_path, towns):
    cats, _ = classify_towns(towns, taxonomy(tmp_path))
    assert cats["target"].tolist() == ["strong", "characteristic/tourism", "developing",
                                       "characteristic/tourism", "specialised/industrial"]
    assert cats["category"].tolist() == ["strong", "characteristic", "developing",
                                         "characteristic", "specialised"]
    assert cats["subtype"].tolist() == ["", "tourism", "", "tourism", "industrial"]
    assert cats["category_zh"].tolist() == ["综合实力强镇", "特色镇", "培育类", "特色镇", "专业镇"]
    assert cats["subtype_zh"].tolist() == ["", "文旅", "", "文旅", "工业"]
    # town 4 passes strong by P80-P80 = 0 and industrial by min(30/100, 0.25/1) = 0.25
    assert cats["secondary"].tolist() == ["", "", "", "", "strong"]
    assert_allclose(cats["margin"].to_numpy(), [0.20, 0.30, np.nan, 0.10, 0.25])


def test_margins_and_texts(tmp_path, towns):
    _, trace = classify_towns(towns, taxonomy(tmp_path))
    ind = trace[trace["target"] == "specialised/industrial"].reset_index(drop=True)
    assert ind["town_code"].tolist()[::2] == towns["town_code"].tolist()
    pct = ind[ind["rule_id"] == "industry_pct"]
    assert_allclose(pct["value"], [20, 40, 60, 80, 100])
    assert_allclose(pct["margin"], [-50, -30, -10, 10, 30])
    assert_allclose(pct["norm_margin"], [-0.5, -0.3, -0.1, 0.1, 0.3])
    lq = ind[ind["rule_id"] == "industry_lq"]
    assert_allclose(lq["margin"], [-0.2, -0.2, -0.2, -0.12, 0.25])
    assert lq["passed"].tolist() == [False, False, False, False, True]
    assert ind["target_passed"].tolist() == [False] * 8 + [True, True]
    assert pct["text_zh"].iloc[4] == "工业得分 P100 ≥ P70：通过，余量 30"
    assert pct["text_en"].iloc[0] == "industry score P20 < P70: fails by 50"
    assert lq["text_zh"].iloc[3] == "工业区位商 1.08 < 1.20：未通过，差 0.12"
    assert lq["text_en"].iloc[3] == "industry LQ 1.08 < 1.20: fails by 0.12"
    assert list(trace.columns[:14]) == [
        "town_code", "town", "target", "rule_id", "field", "scale", "op", "threshold",
        "value", "raw_value", "margin", "norm_margin", "passed", "target_passed"]
    # every town x every rule (4 target rules + 3 role rules)
    assert len(trace) == 5 * 7


def test_roles(tmp_path, towns):
    cats, trace = classify_towns(towns, taxonomy(tmp_path))
    # central: top centrality within its county (441882: town 1 with 9; 441881: town 4 with 8)
    # urban: 街道 in the name (town 2) or code type 003 <= 99 (town 3)
    assert cats["roles"].tolist() == ["", "central", "urban", "urban", "central"]
    rank = trace[trace["rule_id"] == "c"]
    assert_allclose(rank["value"], [3, 1, 2, 2, 1])
    assert rank["text_zh"].iloc[0] == "score_centrality 县内第3 > 第1：未通过，差 2"


def test_threshold_change_moves_exactly_the_expected_towns(tmp_path, towns):
    keys = ["target", "secondary", "roles"]
    base, _ = classify_towns(towns, taxonomy(tmp_path))
    base = base[keys]
    stricter = classify_towns(towns, taxonomy(tmp_path, tour=90))[0][keys]
    changed = (base != stricter).any(axis=1)
    # only town 3 (tourism P80) falls below P90; town 1 (P100) keeps it
    assert changed.tolist() == [False, False, False, True, False]
    assert stricter.loc[3, "target"] == "developing"
    looser = classify_towns(towns, taxonomy(tmp_path, lq=1.05))[0][keys]
    changed = (base != looser).any(axis=1)
    # town 3 now also passes industrial (LQ 1.08 >= 1.05) but by less than tourism
    assert changed.tolist() == [False, False, False, True, False]
    assert looser.loc[3, "target"] == "characteristic/tourism"
    assert looser.loc[3, "secondary"] == "specialised/industrial"


def test_ties_follow_priority(tmp_path):
    text = MINI.replace("@LQ@", "1.2").replace("@TOUR@", "100")
    frame = pd.DataFrame({"town_code": ["441882100"], "town": ["甲镇"],
                          "score_strength": [60.0], "score_industry": [60.0],
                          "lq_industry": [2.0], "score_tourism": [0.0],
                          "score_centrality": [1.0], "county_code": ["441882"]})
    # one town: every percentile is P100; strong passes by 20/100, tourism by 0 and
    # industrial (threshold P80) by min(20/100, 0.8/1) = 0.2: a tie with strong.
    tied = text.replace('op = ">=", threshold = 70 },\n  { id = "industry_lq"',
                        'op = ">=", threshold = 80 },\n  { id = "industry_lq"')
    p = tmp_path / "tie.toml"
    p.write_text(tied, encoding="utf-8")
    cats, _ = classify_towns(frame, load_taxonomy(p))
    assert cats.loc[0, "target"] == "strong"
    p.write_text(tied.replace('priority = ["strong", "specialised/industrial"',
                              'priority = ["specialised/industrial", "strong"'), encoding="utf-8")
    cats, _ = classify_towns(frame, load_taxonomy(p))
    assert cats.loc[0, "target"] == "specialised/industrial"
    assert cats.loc[0, "secondary"] == "strong;characteristic/tourism"


def test_declared_status(tmp_path, towns):
    towns["declared"] = ["综合实力强镇", "火星镇", "工业专业镇", "工业专业镇", "专业镇"]
    with pytest.warns(InputWarning, match="row 2 '火星镇'"):
        cats, _ = classify_towns(towns, taxonomy(tmp_path))
    assert cats["declared_target"].tolist() == [
        "strong", "", "specialised/industrial", "specialised/industrial", "specialised"]
    assert cats["declared_status"].tolist() == [
        "supported", "", "not supported", "partly supported", "supported"]
    assert cats.loc[3, "declared_reason"] == "工业区位商 1.08 < 1.20：未通过，差 0.12"
    assert cats.loc[2, "declared_reason"] == (
        "工业得分 P60 < P70：未通过，差 10；工业区位商 1.00 < 1.20：未通过，差 0.20")


def test_county_scale_without_county_column_warns(tmp_path, towns):
    with pytest.warns(InputWarning, match="no column 'county_code'"):
        cats, _ = classify_towns(towns.drop(columns="county_code"), taxonomy(tmp_path))
    assert "central" not in ";".join(cats["roles"])


def test_missing_column_warns_and_fails(tmp_path, towns):
    with pytest.warns(InputWarning, match="no column 'lq_industry'"):
        cats, trace = classify_towns(towns.drop(columns="lq_industry"), taxonomy(tmp_path))
    assert "specialised/industrial" not in cats["target"].tolist()
    row = trace[(trace["rule_id"] == "industry_lq")].iloc[0]
    assert row["text_zh"] == "工业区位商 缺失：未通过（无数据）"


def test_category_draws_vectorised(tmp_path, towns):
    tax = taxonomy(tmp_path)
    dims = ["strength", "industry", "tourism", "centrality"]
    base = towns[[f"score_{d}" for d in dims]].to_numpy()
    draws = np.repeat(base[None], 3, axis=0)
    draws[1, 3, 2] = 0.0  # draw 1: town 3's tourism drops to the bottom (P20)
    labels = category_draws(towns, tax, draws, dims)
    reported = ["strong", "characteristic/tourism", "developing", "characteristic/tourism",
                "specialised/industrial"]
    assert labels.shape == (3, 5)
    assert_array_equal(labels[0], reported)
    assert_array_equal(labels[2], reported)
    assert labels[1, 3] == "developing"
    stab = stability_from_draws(labels, reported)
    assert_allclose(stab["stability"], [1, 1, 1, 2 / 3, 1])
    assert stab["runner_up"].tolist() == ["", "", "", "developing", ""]


def test_category_draws_chunks_and_composite(tmp_path, towns):
    tax = load_taxonomy("guangdong")
    rng = np.random.default_rng(5)
    towns = towns.assign(composite=[50.0, 10, 20, 30, 40], lq_agriculture=1.0,
                         lq_commerce=1.0, lq_tourism=1.5)
    dims = ["strength", "industry", "agriculture", "commerce", "tourism", "ecology",
            "centrality"]
    draws = rng.uniform(0, 100, (7, 5, len(dims))).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InputWarning)
        whole = category_draws(towns, tax, draws, dims)
        chunked = category_draws(towns, tax, draws, dims, chunk_cells=1)
        # a composite that puts town 0 last in every draw: it can never be strong
        comp = np.tile([0.0, 50, 60, 70, 80], (7, 1))
        low = category_draws(towns, tax, draws, dims, composite=comp)
    assert_array_equal(whole, chunked)
    compact = category_draws(towns, tax, draws, dims, return_codes=True)
    assert compact.codes.dtype == np.int8
    assert_array_equal(compact.labels_array(), whole)
    reported = whole[0]
    assert_allclose(stability_from_draws(compact, reported)["stability"],
                    stability_from_draws(whole, reported)["stability"])
    assert (stability_from_draws(compact, reported)["runner_up"].tolist()
            == stability_from_draws(whole, reported)["runner_up"].tolist())
    assert "strong" in whole[:, 0]  # with its reported composite (P100) it sometimes is
    assert "strong" not in low[:, 0]


def test_category_draws_shape_error(tmp_path, towns):
    with pytest.raises(ValueError, match=r"expected \(draws, 5 towns, 2 dims\)"):
        category_draws(towns, taxonomy(tmp_path), np.zeros((3, 4, 2)), ["industry", "tourism"])


def test_stability_from_draws_by_hand():
    draws = np.array([["a", "b"], ["a", "c"], ["b", "c"], ["a", "c"]])
    out = stability_from_draws(draws, ["a", "c"])
    assert_allclose(out["stability"], [0.75, 0.75])
    assert out["runner_up"].tolist() == ["b", "b"]


def test_guangdong_preset_on_a_specialised_town():
    n = 10
    frame = pd.DataFrame({
        "town_code": [f"441882{100 + i}" for i in range(n)], "town": [f"镇{i}" for i in range(n)],
        "county_code": ["441882"] * n,
        **{f"score_{d}": np.linspace(10, 55, n) for d in
           ["strength", "agriculture", "commerce", "tourism", "ecology", "centrality"]},
        "score_industry": [5.0] * 9 + [95.0],
        "composite": np.linspace(10, 55, n),
        **{f"lq_{d}": [1.0] * n for d in ["agriculture", "commerce", "tourism"]},
        "lq_industry": [0.5] * 9 + [2.1],
    })
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)  # optional flag column: no warning
        cats, trace = classify_towns(frame, load_taxonomy("guangdong"))
    # town 9: strong by min(P100-P80, P100-P60)/100 = 0.2; industrial by
    # min((P100-P70)/100, (2.1-1.2)/1) = 0.3 -> industrial first, strong secondary
    assert cats.loc[9, "target"] == "specialised/industrial"
    assert cats.loc[9, "secondary"].split(";")[0] == "strong"
    assert cats.loc[0, "target"] == "developing"
    assert cats.loc[9, "roles"] == "central"



def test_county_preset_needs_no_code_change():
    # six counties, composite 10..60 -> P16.7 P33.3 P50 P66.7 P83.3 P100
    frame = pd.DataFrame({"town_code": [f"4418{i:02d}000" for i in range(6)],
                          "town": [f"县{i}" for i in range(6)],
                          "composite": [10.0, 20, 30, 40, 50, 60],
                          "score_strength": [10.0, 20, 30, 40, 5, 60]})
    cats, trace = classify_towns(frame, load_taxonomy("county"))
    # weak base: composite <= P33 (county 1 is P33.3: fails by 0.33); leading: composite
    # >= P67 and strength >= P50 (county 4 has strength P16.7: no)
    assert cats["target"].tolist() == ["weak_base", "advancing", "advancing", "advancing",
                                       "advancing", "leading"]
    assert cats["category_zh"].tolist() == ["消薄类", "进位类", "进位类", "进位类", "进位类", "创先类"]
    low = trace[trace["rule_id"] == "composite_low"]
    assert_allclose(low["margin"], [33 - 100 / 6, 33 - 100 / 3, 33 - 50, 33 - 200 / 3,
                                    33 - 250 / 3, 33 - 100], atol=1e-9)


def test_percentile_within_county(tmp_path):
    text = MINI.replace("@LQ@", "1.2").replace("@TOUR@", "70").replace(
        '{ id = "tourism_pct", field = "score_tourism", scale = "percentile",',
        '{ id = "tourism_pct", field = "score_tourism", scale = "percentile_county",')
    p = tmp_path / "county_pct.toml"
    p.write_text(text, encoding="utf-8")
    frame = pd.DataFrame({"town_code": [f"44188210{i}" for i in range(4)],
                          "town": list("甲乙丙丁"), "county_code": ["a", "a", "b", "b"],
                          "score_strength": [0.0] * 4, "score_industry": [0.0] * 4,
                          "lq_industry": [0.0] * 4, "score_centrality": [0.0] * 4,
                          "score_tourism": [10.0, 20, 90, 80]})
    cats, trace = classify_towns(frame, load_taxonomy(p))
    rows = trace[trace["rule_id"] == "tourism_pct"]
    # within county a: 10 -> P50, 20 -> P100; county b: 90 -> P100, 80 -> P50
    assert_allclose(rows["value"], [50, 100, 100, 50])
    assert rows["text_zh"].iloc[1].endswith("县内P100 ≥ P70：通过，余量 30")
    assert cats["target"].tolist()[1:3] == ["characteristic/tourism"] * 2


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.floats(0, 100, allow_nan=False), min_size=2, max_size=30),
       threshold=st.floats(0, 100), op=st.sampled_from([">=", "<=", ">", "<"]))
def test_margin_sign_matches_pass(tmp_path_factory, values, threshold, op):
    text = MINI.replace("@LQ@", "1.2").replace("@TOUR@", "70").replace(
        '{ id = "strength_pct", field = "score_strength", scale = "percentile", op = ">=", threshold = 80 }',
        f'{{ id = "strength_pct", field = "score_strength", op = "{op}", threshold = {threshold!r} }}')
    p = tmp_path_factory.mktemp("h") / "t.toml"
    p.write_text(text, encoding="utf-8")
    n = len(values)
    frame = pd.DataFrame({"score_strength": values, "score_industry": [0.0] * n,
                          "lq_industry": [0.0] * n, "score_tourism": [0.0] * n,
                          "score_centrality": [0.0] * n, "county_code": ["a"] * n,
                          "town": ["甲镇"] * n, "town_code": ["441882100"] * n})
    _, trace = classify_towns(frame, load_taxonomy(p))
    rows = trace[trace["rule_id"] == "strength_pct"]
    v = np.array(values)
    expect = {">=": v >= threshold, "<=": v <= threshold, ">": v > threshold,
              "<": v < threshold}[op]
    assert rows["passed"].tolist() == expect.tolist()
    assert (rows["margin"].to_numpy() >= 0).tolist() == (
        (v >= threshold) if op in (">=", ">") else (v <= threshold)).tolist()


def _random_towns(rng, n, counties=7):
    """Towns with ties (whole-number scores) and gaps (NaN) in every scored field."""
    frame = pd.DataFrame({
        "town_code": [f"44{i:07d}" for i in range(n)],
        "town": [f"镇{i}" for i in range(n)],
        "county_code": rng.integers(counties, size=n).astype(str)})
    for f in ("lq_industry", "lq_commerce", "lq_agriculture", "lq_tourism"):
        frame[f] = rng.choice([0.5, 1.2, 1.5, 3.0], size=n)
    return frame


@pytest.mark.parametrize("preset", ["guangdong", "county"])
@pytest.mark.parametrize("varying_gaps", [False, True])
@pytest.mark.parametrize("with_ranks", [False, True])
def test_draw_fast_path_equals_full_evaluation(preset, varying_gaps, with_ranks):
    """The draw-only path (partition + candidate ranks, or the composite's Monte Carlo
    region ranks) gives evaluate()'s codes exactly."""
    from classify.rules import CategoryDrawer, evaluate
    from classify.uncertainty import _ranks

    rng = np.random.default_rng(11)
    tax = load_taxonomy(preset)
    n, B = 300, 24
    frame = _random_towns(rng, n)
    dims = ["strength", "industry", "agriculture", "commerce", "tourism", "ecology"]
    scores = np.round(rng.uniform(0, 100, (B, n, len(dims))), 0).astype(np.float32)
    scores[:, :4] = 100.0                          # a tie at the top
    scores[:, 4:9] = 0.0                           # and at the bottom
    scores[:, rng.choice(n, 20, replace=False), 2] = np.nan   # gaps, the same in every draw
    if varying_gaps:                               # …or a different number per draw
        for d in range(B):
            scores[d, rng.choice(n, d, replace=False), 4] = np.nan
    comp = np.round(np.nanmean(scores, axis=2), 1).astype(np.float32)
    frame = frame.assign(composite=comp[0], **{f"score_{d}": scores[0, :, j]
                                               for j, d in enumerate(dims)})
    drawer = CategoryDrawer(frame, tax, dims, draws=B, chunk_cells=5 * n)  # chunks of 5 draws
    drawer.add(slice(0, B), scores, comp, ranks=_ranks(comp)[0] if with_ranks else None)
    over = {f"score_{d}": scores[:, :, j].astype(float) for j, d in enumerate(dims)}
    over["composite"] = comp.astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InputWarning)
        full = evaluate(frame, tax, over, roles=False).code
    assert_array_equal(drawer.result().codes, full)
    assert len(np.unique(full)) >= 3              # the comparison covers several targets


@given(st.lists(st.one_of(st.floats(0, 100, width=32), st.just(float("nan"))),
                min_size=1, max_size=40),
       st.sampled_from([0.0, 1.0, 33.0, 50.0, 70.0, 99.5, 100.0]),
       st.sampled_from([">=", ">", "<=", "<"]))
@settings(max_examples=200, deadline=None)
def test_percentile_candidates_match_full_ranks(values, threshold, op):
    from classify.rules import _percentile_candidates

    x = np.array([values, values[::-1]], dtype=np.float32)
    part, full, passes = _partial_percentiles(x, _percentile_candidates(x, threshold, op),
                                              threshold, op)
    # every town that can pass keeps its exact percentile; the others are left out
    assert_array_equal(part[passes], full[passes])
    assert not np.any(np.isfinite(part) & ~np.isfinite(full))


def _partial_percentiles(x, found, threshold, op):
    """The percentiles ``found`` (flat positions, values) laid out like ``x``, the full
    percentiles of ``x`` (pandas-checked :func:`classify.rules._percentile`), and which
    towns pass ``op threshold``."""
    from classify.rules import _percentile

    full = _percentile(x.astype(float))
    part = np.full(x.size, np.nan)
    flat, pct = found
    part[flat] = pct
    passes = (full >= threshold) if op.startswith(">") else (full <= threshold)
    return part.reshape(x.shape), full, passes


@given(st.lists(st.one_of(st.sampled_from([0.0, 5.0, 100.0]), st.floats(0, 100, width=32),
                          st.just(float("nan"))), min_size=1, max_size=40),
       st.sampled_from([0.0, 1.0, 33.0, 50.0, 60.0, 99.5, 100.0]),
       st.sampled_from([">=", ">", "<=", "<"]))
@settings(max_examples=200, deadline=None)
def test_percentile_from_region_ranks_matches_full_ranks(values, threshold, op):
    from classify.rules import _percentile_from_ranks
    from classify.uncertainty import _ranks

    x = np.array([values, values[::-1]], dtype=np.float32)
    part, full, passes = _partial_percentiles(
        x, _percentile_from_ranks(_ranks(x)[0], threshold, op), threshold, op)
    # every town that passes is there with its exact percentile, and no other
    assert_array_equal(part[passes], full[passes])
    assert not np.any(np.isfinite(part) & ~passes)


def test_towns_of_unknown_county_are_in_no_county_group():
    """Issue 13: a town without county (code and name missing) is not ranked within a
    county of 'unknown' towns: its county-scale values stay missing (rule not met)."""
    import numpy as np
    import pandas as pd

    from classify.rules import _by_county
    from classify.scoring import county_key

    x = np.array([[1.0, 2.0, 3.0, 4.0, 5.0]])
    groups = county_key(pd.DataFrame({"county_code": ["a", None, "a", "", "b"],
                                   "county": ["A", None, "A", None, "B"]}))
    out, size = _by_county(x, groups, lambda a: a * 10)
    np.testing.assert_array_equal(out[0, [0, 2, 4]], [10, 30, 50])
    assert np.isnan(out[0, [1, 3]]).all()
    assert size.tolist() == [2, 0, 2, 0, 1]


def test_not_assessable_names_the_missing_indicator_and_its_categories():
    """Issue 13: an empty 规上工业总产值 (and so lq_industry) disables 专业镇·工业; the
    console line names both."""
    import numpy as np
    import pandas as pd

    from classify.config import load_system
    from classify.rules import not_assessable
    from classify.taxonomy import load_taxonomy

    n = 6
    frame = pd.DataFrame({c: np.linspace(1, 100, n) for c in (
        "composite", "score_strength", "score_industry", "score_agriculture",
        "score_commerce", "score_tourism", "score_ecology", "score_centrality",
        "lq_agriculture", "lq_commerce", "lq_tourism", "agri_output", "retail_sales",
        "tourism_revenue", "gdp")})
    frame["industrial_output"] = np.nan
    frame["lq_industry"] = np.nan
    frame["county_code"] = "441802"
    table, msgs = not_assessable(frame, load_taxonomy("guangdong"), load_system())
    assert set(table["target"]) == {"specialised/industrial"}
    assert set(table["source"]) == {"industrial_output"}
    assert msgs[0][0] == "无 规上工业总产值（industrial_output）：专业镇·工业 无法评估（cannot be assessed）"
    assert "cannot be assessed" in msgs[0][1]


@given(st.lists(st.lists(st.one_of(st.sampled_from([0.0, 1.0, 50.0]),
                                   st.floats(0, 100, width=32), st.just(float("nan"))),
                         min_size=12, max_size=12), min_size=1, max_size=4))
@settings(max_examples=150, deadline=None)
def test_percentile_is_pandas_rank_pct(rows):
    """Percentiles per draw as pandas ranks them (ties averaged, NaN left out)."""
    from classify.rules import _percentile

    x = np.array(rows, dtype=float)
    want = pd.DataFrame(x).rank(axis=1, pct=True).to_numpy() * 100
    np.testing.assert_allclose(_percentile(x), want, rtol=1e-12, equal_nan=True)


@pytest.mark.parametrize("op", [">=", "<"])
@pytest.mark.parametrize("threshold", [0.0, 5.0, 70.0, 99.9])
def test_percentile_candidates_of_long_rows(op, threshold):
    """Long rows take their bound from every 8th value first; rows where that sample
    misleads (here: every 8th value an outlier) fall back to the exact partition."""
    from classify.rules import _percentile, _percentile_candidates

    rng = np.random.default_rng(5)
    x = np.round(rng.uniform(0, 100, (4, 6000)), 1).astype(np.float32)   # many ties
    x[1, rng.choice(6000, 700, replace=False)] = np.nan                   # gaps
    x[2, ::8] = 1000.0 if op == ">=" else -1000.0                         # a biased sample
    x[3, :2000], x[3, 2000:3000] = np.nan, np.inf     # a short row (padded) with +inf in it
    full = _percentile(x.astype(float))
    part = np.full(x.size, np.nan)
    flat, pct = _percentile_candidates(x, threshold, op)
    part[flat] = pct
    part = part.reshape(x.shape)
    passes = (full >= threshold) if op == ">=" else (full < threshold)
    assert_array_equal(part[passes], full[passes])
    assert not np.any(np.isfinite(part) & ~np.isfinite(full))
