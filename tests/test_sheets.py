"""Tests of classify.sheets: what a reader of the sheets sees holds in the results table."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest

from classify.report import write_suggestions
from classify.sheets import render_html, render_markdown, sheet_names
from classify.suggest import suggest
from tests.test_suggest import (DIRECTION, INDICATORS, PALETTE, hand_position, make_frame,
                                make_trace)

NOTICE = "示例数据：本表指标为合成的演示数据，不代表真实统计。"
SPAN = re.compile(r'<span class="num" data-k="(\w+)" data-v="([^"]*)" data-u="([^"]*)">'
                  r'([^<]*)</span>')


@pytest.fixture()
def frame():
    return make_frame()


@pytest.fixture()
def suggestions(frame):
    return suggest(frame, make_trace(frame), indicators=INDICATORS, categories=PALETTE)


def by_code(sugs):
    return {s.town_code: s for s in sugs}


# -- a reader's parser of the displayed numbers (independent of classify.numfmt) -----------
def parse_display(text: str, kind: str, unit: str) -> float | None:
    if text in ("缺失", "missing", "—"):
        return None
    if kind == "rank":
        return float(re.search(r"(\d+)/\d+", text).group(1))
    if text in ("是", "yes"):
        return 1.0
    if text in ("否", "no"):
        return 0.0
    sign = -1.0 if text.startswith("−") else 1.0
    number = float(re.search(r"[\d,]+(?:\.\d+)?", text).group(0).replace(",", ""))
    if kind == "share":
        return number / 100
    if kind != "value":
        return sign * number
    factor = 1.0
    if "亿元" in text:
        factor = 1e4 if unit == "万元" else 1e8
    elif "万人" in text and "万人次" not in text:
        factor = 1e4
    elif text.endswith("visits"):
        factor = (1e6 if text.endswith("m visits") else 1.0) / 1e4  # back to 万人次
    elif text.lstrip("−+").startswith("CNY") or text.startswith("CNY"):
        factor = 1e9 if text.endswith(" bn") else 1e6 if text.endswith(" m") else 1.0
        if unit == "万元":
            factor /= 1e4
    return sign * number * factor


def tolerance(kind: str, v: float) -> float:
    if kind == "pct":
        return 0.5
    if kind == "share":
        return 0.0051
    if kind == "rank":
        return 0
    return max(0.006 * abs(v), 0.051)


def spans(html: str):
    return SPAN.findall(html)


# -- files ------------------------------------------------------------------------------
def test_files_per_town_and_workbook_and_determinism(tmp_path, suggestions):
    paths = write_suggestions(suggestions, tmp_path, docx=True, notice=NOTICE)
    names = sorted(p.name for p in paths)
    stems = [f"{s.town_code}_{s.town}" for s in suggestions]       # <code>_<town> (PRODUCT.md)
    assert names == sorted([f"{c}.md" for c in stems] + [f"{c}.html" for c in stems]
                           + ["index.html", "sheets.js", "suggestions.xlsx",
                              "suggestions.docx"])
    assert all(p.parent == tmp_path / "suggestions" for p in paths)
    for p in paths:  # links between sheets (benchmark towns) resolve inside the folder
        if p.suffix == ".html":
            for href in re.findall(r'href="([^"]+)"', p.read_text(encoding="utf-8")):
                assert (p.parent / href).is_file(), (p.name, href)
    digest = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}
    again = write_suggestions(suggestions, tmp_path / "again", docx=True, notice=NOTICE)
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in again} == digest


def test_html_is_self_contained(suggestions):
    html = render_html(suggestions[0], notice=NOTICE)
    assert "<svg" in html and "<style>" in html
    assert not re.search(r"<(script|link|img)\b", html)
    urls = set(re.findall(r"https?://[^\s\"'<>]+", html))
    assert urls <= {"http://www.w3.org/2000/svg"}
    assert NOTICE in html


def test_no_sheet_prints_nan(suggestions):
    for s in suggestions:
        for lang in ("zh", "en"):
            for text in (render_markdown(s, lang=lang), render_html(s, lang=lang)):
                assert not re.search(r"\bnan\b|\bNaN\b|\bNone\b|\binf\b", text), s.town


# -- the claims of a sheet hold in the frame ------------------------------------------------
def test_strength_rows_in_the_html_hold_in_the_frame(frame, suggestions):
    seen = 0
    for s in suggestions:
        html = render_html(s)
        k = int(np.flatnonzero(frame["town_code"] == s.town_code)[0])
        for cls, top in (("strengths", True), ("weaknesses", False)):
            block = re.search(rf'<table class="{cls}">(.*?)</table>', html, re.S)
            if block is None:
                continue
            for ind, row in re.findall(r'<tr data-indicator="(\w+)">(.*?)</tr>', block.group(1)):
                cells = spans(row)
                value, rank, pct = cells[0], cells[1], cells[2]
                h_rank, n, h_pct = hand_position(list(frame[ind]), k, DIRECTION[ind])
                assert float(value[1]) == frame[ind].iloc[k]
                assert rank[3] == f"第{h_rank}/{n}"
                assert abs(parse_display(pct[3], "pct", "") - h_pct) <= 0.5
                county = frame["county_code"] == frame["county_code"].iloc[k]
                kc = int(np.flatnonzero(frame.index[county] == k)[0])
                _, _, c_pct = hand_position(list(frame.loc[county, ind]), kc, DIRECTION[ind])
                assert (h_pct >= 80 or c_pct >= 80) if top else (h_pct <= 20 or c_pct <= 20)
                seen += 1
    assert seen >= 8


def test_benchmarks_in_the_html_are_in_the_category_and_ahead(frame, suggestions):
    f = frame.set_index("town_code")
    target = f["category"] + np.where(f["subtype"] != "", "/" + f["subtype"], "")
    seen = 0
    for s in suggestions:
        html = render_html(s)
        for code in re.findall(r'<h3 class="benchmark" data-code="(\d+)">', html):
            assert target[code] == target[s.town_code]
            if not s.is_leader:
                assert f.loc[code, s.focus] > f.loc[s.town_code, s.focus]
            seen += 1
    assert seen >= 6


def test_gap_lever_numbers_in_the_sheet(suggestions):
    s = by_code(suggestions)["441882104"]  # 戊镇 declares 专业镇·工业
    html = render_html(s)
    rule = re.search(r'data-rule="industry_pct">(.*?)</li>\s*</ul>', html, re.S).group(1)
    values = [float(v) for _, v, _, _ in spans(rule)]
    # change, current, needed of 规上工业总产值 (万元): +320000 from 30000 to 350000
    assert values == [320000.0, 30000.0, 350000.0]
    text = re.sub(r"<[^>]+>", "", html)
    assert "规上工业总产值需约+32.0亿元（由3.00亿元增至35.0亿元）" in text
    md = render_markdown(s)
    assert ("规上工业总产值需约+6.00亿元（由3.00亿元增至9.00亿元），工业区位熵可达到1.20，"
            "按当前结构（分母不变）测算") in md
    assert "，工业得分可达到全域P70，按该指标在全域的经验百分位估算" in md
    en = render_markdown(s, lang="en")
    assert ("Industrial output needs about +CNY 3.20 bn (from CNY 300 m to CNY 3.50 bn) "
            "for the Industry score to reach P70 of the region, by the empirical percentile "
            "of the indicator itself") in en
    assert 'data-status="not supported"' in html and "证据不支持" in html


def test_missing_data_sheet_says_what_is_missing(suggestions):
    s = by_code(suggestions)["441881101"]  # 庚镇 lacks 规上工业总产值
    md = render_markdown(s)
    assert "- 规上工业总产值：缺失（影响：专业镇·工业" in md
    assert "| 工业 | 缺失 | `` |" in md  # its industry score is not invented
    en = render_markdown(s, lang="en")
    assert "- Industrial output: missing (affects: Specialised · industrial" in en
    html = render_html(s)
    assert '<li data-indicator="industrial_output" data-status="missing">' in html


def test_missing_value_in_a_declared_rule_is_not_judged(frame):
    frame.loc[6, "declared"] = "专业镇·工业"  # 庚镇 declares industry but lacks its data
    s = by_code(suggest(frame, make_trace(frame), indicators=INDICATORS,
                        categories=PALETTE))["441881101"]
    md = render_markdown(s)
    assert "本镇该项数据缺失，规则无法判断" in md
    assert "规上工业总产值数据缺失，无法换算为所需数值。" in md


# -- Chinese and English carry the same numbers ----------------------------------------------
def test_chinese_and_english_sheets_carry_the_same_numbers(suggestions):
    for s in suggestions:
        zh, en = spans(render_html(s, lang="zh")), spans(render_html(s, lang="en"))
        assert [(k, v, u) for k, v, u, _ in zh] == [(k, v, u) for k, v, u, _ in en]
        assert len(zh) > 20
        for (k, v, u, text_zh), (_, _, _, text_en) in zip(zh, en):
            if v == "":
                assert text_zh == "缺失" and text_en == "missing" or \
                    text_zh == text_en == "—"
                continue
            for text in (text_zh, text_en):
                got = parse_display(text, k, u)
                assert got is not None and abs(got - float(v)) <= tolerance(k, float(v)), \
                    (s.town, k, v, u, text)


def test_markdown_ranks_are_the_same_in_both_languages(suggestions):
    for s in suggestions:
        zh = re.findall(r"第(\d+/\d+)", render_markdown(s, lang="zh"))
        en = re.findall(r"(?<![\d.])(\d+/\d+)(?![\d.])", render_markdown(s, lang="en"))
        assert zh == en and zh


# -- workbook and Word file -----------------------------------------------------------------
def test_workbook_one_row_per_town_and_a_sheet_per_category(tmp_path, suggestions):
    from openpyxl import load_workbook

    write_suggestions(suggestions, tmp_path, notice=NOTICE)
    wb = load_workbook(tmp_path / "suggestions" / "suggestions.xlsx")
    assert wb.sheetnames == ["说明", "汇总", "综合实力强镇", "专业镇", "特色镇", "培育类",
                             "对标差距", "类别差距"]
    rules = list(wb["类别差距"].iter_rows(values_only=True))
    r = dict(zip(rules[0], next(r for r in rules if r[1] == "戊镇"
                                and str(r[4]).startswith("score_industry"))))
    assert (r["类别"], r["关系"], r["指标"], r["单位"]) == ("专业镇·工业", "自评类别",
                                                       "规上工业总产值", "万元")
    assert (r["当前数值"], r["所需数值"], r["差额"], r["测算方法"]) == (30000, 350000, 320000,
                                                              "经验百分位")
    assert wb["说明"]["A2"].value == NOTICE
    rows = list(wb["汇总"].iter_rows(values_only=True))
    head = list(rows[0])
    assert head[:4] == ["统计代码", "乡镇", "县区", "建议类别"]
    body = [dict(zip(head, r)) for r in rows[1:]]
    assert [r["统计代码"] for r in body] == [s.town_code for s in suggestions]
    wu = next(r for r in body if r["乡镇"] == "戊镇")
    assert (wu["建议类别"], wu["置信度"], wu["综合排名"]) == ("培育类", 0.7, 8)
    assert (wu["综合实力得分"], wu["工业得分"], wu["文旅得分"]) == (20, 10, 30)
    assert wu["自评类别"] == "专业镇·工业" and wu["自评核验"] == "证据不支持"
    assert set(wu["对标对象"].split("、")) == {"辛镇", "丙镇"}
    assert next(r for r in body if r["乡镇"] == "乙镇")["对标对象"] == "（类内居首）己镇"
    cat = [r[1] for r in wb["专业镇"].iter_rows(min_row=2, values_only=True)]
    assert cat == ["乙镇", "己镇"]
    gaps = list(wb["对标差距"].iter_rows(values_only=True))
    g = dict(zip(gaps[0], next(r for r in gaps if r[1] == "戊镇" and r[2] == "丙镇"
                               and r[3] == "规上工业总产值")))
    assert (g["本镇数值"], g["对标镇数值"], g["差距"], g["差距（%）"]) == (30000, 250000,
                                                                       220000, 733.3)


def test_english_workbook_headers(tmp_path, suggestions):
    from openpyxl import load_workbook

    write_suggestions(suggestions, tmp_path, lang="en")
    wb = load_workbook(tmp_path / "suggestions" / "suggestions.xlsx")
    assert wb.sheetnames[0] == "Summary"
    head = next(wb["Summary"].iter_rows(values_only=True))
    assert head[:4] == ("Code", "Town", "County", "Suggested category")


def test_docx_one_section_per_town(tmp_path, suggestions):
    import docx

    write_suggestions(suggestions, tmp_path, docx=True, title="连州市镇街自评分类意见",
                      notice=NOTICE)
    doc = docx.Document(tmp_path / "suggestions" / "suggestions.docx")
    assert len(doc.sections) == len(suggestions)
    heads = [p.text for p in doc.paragraphs if p.style.name == "Heading 1"]
    assert heads == [f"自评分类意见：{s.town}" for s in suggestions]
    text = "\n".join(p.text for p in doc.paragraphs)
    assert NOTICE in text and "连州市镇街自评分类意见" in text
    assert "规上工业总产值：缺失（影响：专业镇·工业" in text
    assert len(doc.tables) >= len(suggestions)
    assert {(round(x.page_width.mm), round(x.page_height.mm)) for x in doc.sections} == {
        (210, 297)}


def test_repeated_or_missing_codes_get_distinct_sheet_names(tmp_path, suggestions):
    """Issue 13: a repeated code (the same town twice) or a town without a code is not an
    error: each sheet gets its own file name (before: ConfigError 'appears twice')."""
    import dataclasses

    nocode = dataclasses.replace(suggestions[1], town_code="")
    odd = dataclasses.replace(suggestions[2], town_code="4418/02")
    sugs = [suggestions[0], suggestions[0], nocode, odd]
    t0, t1, t2 = (s.town for s in suggestions[:3])
    assert sheet_names(sugs) == [f"441882100_{t0}_1", f"441882100_{t0}_2", f"unknown_3_{t1}",
                                 f"4418_02_{t2}"]
    paths = write_suggestions(sugs, tmp_path)
    names = {p.name for p in paths}
    assert {f"441882100_{t0}_1.md", f"441882100_{t0}_2.html", f"unknown_3_{t1}.md",
            f"4418_02_{t2}.html"} <= names
    text = (tmp_path / "suggestions" / f"unknown_3_{t1}.md").read_text(encoding="utf-8")
    assert "未知代码（unknown code）" in text and "nan" not in text
    noname = dataclasses.replace(suggestions[3], town="")
    assert render_markdown(noname).splitlines()[0].endswith("未知镇名（unknown name）")
    assert "<h1>" in render_html(noname) and "未知镇名（unknown name）</h1>" in render_html(noname)


def test_unknown_county_is_shown_as_unknown(frame):
    f = frame.copy()
    f.loc[0, ["county_code", "county"]] = None
    s = suggest(f, make_trace(f), indicators=INDICATORS, categories=PALETTE)[0]
    assert "未知县区（unknown county）" in render_markdown(s)
    assert "unknown county" in render_markdown(s, lang="en")


def test_flags_and_shares_in_gap_tables(frame):
    indicators = dict(INDICATORS,
                      industrial_park={"label_zh": "省级以上园区", "label_en": "Provincial park",
                                       "unit": "是/否", "dimension": "industry"},
                      secondary_share={"label_zh": "第二产业占比", "label_en": "Secondary share",
                                       "unit": "%", "dimension": "industry"})
    frame = frame.assign(industrial_park=[1, 1, 0, 0, 0, 0, 0, 0],
                         secondary_share=[60, 55, 50, 20, 15, 52.5, 18, 22])
    s = by_code(suggest(frame, make_trace(frame), indicators=indicators,
                        categories=PALETTE))["441881100"]  # 己镇 → benchmark 乙镇
    md = render_markdown(s)
    # park: 否 here, 是 there — no "−1是/否"; share: 52.5 % vs 55 %: +2.5 percentage points
    assert "| 省级以上园区 | 否 | 是 | — | — |" in md
    assert "| 第二产业占比 | 52.5% | 55% | +2.5个百分点 | — |" in md


def test_town_without_category_or_scores_says_so(frame):
    frame.loc[7, ["category", "subtype", "composite", "stability", "score_strength",
                  "score_industry", "score_tourism"]] = [np.nan, np.nan, np.nan, np.nan,
                                                         np.nan, np.nan, np.nan]
    s = by_code(suggest(frame, make_trace(frame), indicators=INDICATORS,
                        categories=PALETTE))["441881102"]  # 辛镇
    assert s.target is None and not s.benchmarks
    md = render_markdown(s)
    assert "本镇尚无分类结果（关键数据缺失），见“数据说明”。" in md
    assert "| 综合实力 | 缺失 | `` |" in md
    html = render_html(s, lang="en")
    assert "No category for this town (key data missing)" in html


def test_summary_names_the_scope_of_a_county_only_strength(suggestions):
    from classify.sheets import summary_rows

    rows = {r["统计代码"]: r for r in summary_rows(suggestions, "zh")}
    # 戊镇: 15万人次 tourists is 4th of 8 in the region (P63) but 2nd of 5 in 连州市 (P80)
    assert rows["441882104"]["优势指标"] == "接待游客（县内第2/5）"
    assert rows["441882100"]["优势指标"].startswith("距县城距离（第1/8）、地区生产总值（第1/8）")
    en = {r["Code"]: r for r in summary_rows(suggestions, "en")}
    assert en["441882104"]["Strengths"] == "Tourist visits (2/5 in county)"


def test_markdown_bar_chart_lengths():
    from classify.sheets import _bar

    # 10 cells of 10 points, in eighths: 42.1 → 33.7 eighths → 34 = 4 full + ½
    assert _bar(42.1) == "████▎"
    assert _bar(100) == "█" * 10 and _bar(0) == "" and _bar(float("nan")) == ""
    assert _bar(55) == "█████▌"


def test_sole_member_of_a_category_is_told_so(suggestions):
    s = by_code(suggestions)["441882100"]  # 甲镇, the only strong town
    assert s.is_leader and not s.challengers
    md = render_markdown(s)
    assert "本镇是综合实力强镇中唯一的镇，暂无同类镇可对标。" in md
    assert "| 工业 | 90.0 | `█████████` | 90.0 | — |" in md  # no benchmark: a dash


def test_sheets_without_a_rule_trace(frame):
    s = suggest(frame, None, indicators=INDICATORS, categories=PALETTE)
    assert all(x.category_gaps.empty for x in s)
    md = render_markdown(s[4])  # 戊镇 declared 专业镇·工业: no rules, so no verdict
    assert "## 四、与类别标准的差距" in md and "全部规则" not in md
    assert s[4].declared_status == "" and "证据" not in md


def test_boundary_quality_note(frame):
    frame["boundary_quality"] = ["approximate"] * 7 + ["official"]
    s = suggest(frame, make_trace(frame), indicators=INDICATORS, categories=PALETTE)
    assert "镇界为近似边界（由镇政府驻地推算的泰森多边形）" in render_markdown(s[0])
    assert "镇界为近似边界" not in render_markdown(s[7])


@pytest.mark.browser
def test_sheet_in_a_browser_requests_nothing_and_shows_the_chart(tmp_path, suggestions):
    from urllib.parse import quote

    from tests.browser import chromium, external, page_log

    write_suggestions(suggestions, tmp_path, notice=NOTICE)
    page = tmp_path / "suggestions" / "441881100_己镇.html"  # benchmark 乙镇
    with chromium() as driver:
        driver.get(page.as_uri())
        errors, urls = page_log(driver)
        assert errors == [] and external(urls) == []
        # one bar per dimension with a score, a median tick each, a benchmark circle each
        bars = driver.execute_script(
            "return [...document.querySelectorAll('svg g.dim')].map(g => ["
            "g.dataset.dimension, g.querySelector('rect') ? "
            "g.querySelector('rect').getBoundingClientRect().width : 0, "
            "g.querySelectorAll('line').length, g.querySelectorAll('circle').length])")
        assert [b[0] for b in bars] == ["strength", "industry", "tourism"]
        # industry 80 of a 300 px axis (CSS px = SVG units here): 240
        assert bars[1][1] == pytest.approx(240, abs=1)
        assert all(b[2] == 1 and b[3] == 1 for b in bars)
        notice = driver.find_element("css selector", "p.notice")
        assert notice.is_displayed() and NOTICE in notice.text
        driver.find_element("link text", "乙镇").click()
        assert driver.current_url.endswith(quote("441882101_乙镇.html"))


def test_review_flag_is_shown(frame):
    frame["review"] = [True] + [False] * 7
    frame["review_reason"] = ["规则类别与聚类画像不符"] + [""] * 7
    s = suggest(frame, make_trace(frame), indicators=INDICATORS, categories=PALETTE)
    assert "- **需人工复核：规则类别与聚类画像不符**" in render_markdown(s[0])
    assert "需人工复核" not in render_markdown(s[1])
    assert "Needs review: 规则类别与聚类画像不符" in render_html(s[0], lang="en")
    frame["review_reason_en"] = ["rule category differs from its cluster"] + [""] * 7
    s = suggest(frame, make_trace(frame), indicators=INDICATORS, categories=PALETTE)
    assert "Needs review: rule category differs from its cluster" in render_html(s[0], lang="en")


def test_empty_run_writes_an_empty_workbook(tmp_path):
    from openpyxl import load_workbook

    paths = write_suggestions([], tmp_path)
    assert [p.name for p in paths] == ["index.html", "sheets.js", "suggestions.xlsx"]
    wb = load_workbook(paths[2])
    head = next(wb["汇总"].iter_rows(values_only=True))
    assert head[0] == "统计代码" and wb["汇总"].max_row == 1


def test_workbook_layout(tmp_path, suggestions):
    from openpyxl import load_workbook

    path = write_suggestions(suggestions, tmp_path, notice=NOTICE)[-1]
    wb = load_workbook(path)
    notice, summary = wb.worksheets[0], wb.worksheets[1]
    assert notice["A2"].value == NOTICE and notice.freeze_panes is None
    assert summary.freeze_panes == "C2"
    assert summary.auto_filter.ref == f"A1:{summary.cell(1, summary.max_column).column_letter}" \
        f"{len(suggestions) + 1}"
    head = summary["A1"]
    assert head.font.b and head.fill.fgColor.rgb.endswith("DDEBF7")
    from classify.sheets import labels

    conf = [c for c in summary[1] if c.value == labels("zh")["xlsx"]["confidence"]]
    assert len(conf) == 1, [c.value for c in summary[1]]
    assert summary.cell(2, conf[0].column).number_format == "0%"


def test_sheet_names_dimensions_without_data(frame):
    """Issue 13: with a dimension absent for every town (and one absent for a town) the
    sheet said "本镇参与评价的指标均有数据"."""
    f = frame.copy()
    f["score_tourism"] = np.nan            # no town has data
    f.loc[0, "score_industry"] = np.nan    # 甲镇 has none for industry
    sugs = suggest(f, make_trace(f), indicators=INDICATORS, categories=PALETTE)
    md = render_markdown(sugs[0])
    assert "均有数据" not in md
    all_line = next(x for x in md.splitlines() if "所有镇街均无数据" in x)
    town_line = next(x for x in md.splitlines() if "本镇以下维度无数据" in x)
    assert "tourism" in all_line or "文旅" in all_line
    assert "industry" in town_line or "工业" in town_line
    other = render_markdown(sugs[3])
    assert "所有镇街均无数据" in other and "本镇以下维度无数据" not in other
    assert "均有数据" not in other
    en = render_markdown(sugs[0], lang="en")
    assert "No town has data for these dimensions" in en


HOSTILE = "<img src=x onerror=alert(1)>镇"


def test_no_html_injection_from_names(frame):
    """Issue 13: town names carried raw HTML into the Markdown sheets; the HTML sheets
    escape every value (as Jinja's autoescape does)."""
    f = frame.copy()
    f.loc[1, "town"] = HOSTILE                       # 乙镇: 己镇's benchmark
    f.loc[5, "county"] = "<script>x()</script>"
    f.loc[5, "declared"] = "<b>专业镇</b>"
    sugs = suggest(f, make_trace(f), indicators=INDICATORS, categories=PALETTE)
    for s in (sugs[1], sugs[5]):
        for lang in ("zh", "en"):
            md, html = render_markdown(s, lang=lang), render_html(s, lang=lang)
            for text in (md, html):
                assert "<img" not in text and "<script" not in text and "<b>" not in text
            assert "&lt;img src=x onerror=alert(1)&gt;" in md + html
    assert "&lt;img src=x onerror=alert(1)&gt;镇" in render_markdown(sugs[1]).splitlines()[0]
    assert "&lt;script&gt;" in render_markdown(sugs[5])


def test_markdown_of_ordinary_text_is_unchanged(suggestions):
    md = render_markdown(suggestions[0], lang="en")
    assert "&amp;" not in md and "&#39;" not in md and "&lt;" not in md
    assert "Culture & tourism" in md       # the indicator system's label, "&" as it is


def test_a_county_sheet_chart_speaks_of_the_county(suggestions):
    """The chart's legend is worded for the unit level, like its bars' titles (it said
    本镇 on a county's sheet while the bars said 本县得分)."""
    s = suggestions[0]
    s.extra["level"] = "county"
    for lang, unit, other in (("zh", "本县", "本镇"), ("en", "This county", "This town")):
        svg = re.search(r"<svg.*?</svg>", render_html(s, lang=lang), re.S).group(0)
        legend = re.search(r'<g transform="translate.*?</g>', svg, re.S).group(0)
        assert f">{unit}</text>" in legend and other not in svg
