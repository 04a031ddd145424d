"""The map as a person sees it: headless Debian Chromium, no network (tests/browser.py)."""

from __future__ import annotations

import numpy as np
import pytest

from geo.maps import save_map, town_map
from tests.browser import chromium, external, page_log, wait_for
from tests.test_maps import PALETTE, six_towns

pytestmark = pytest.mark.browser

READY = "!!(window.towntype && towntype.maps.length > 0)"
TM = "towntype.maps[towntype.maps.length - 1]"
# a town polygon is drawn when Leaflet projected at least one part to a real ring
DRAWN = (f"{TM}.features.filter(f => f._map && f._parts && "
         "f._parts.some(p => p.length > 2)).length")
FILLS = f"{TM}.features.map(f => f.options.fillColor)"


@pytest.fixture(scope="module")
def driver():
    with chromium() as d:
        yield d


@pytest.fixture(scope="module")
def map_file(tmp_path_factory):
    counties = six_towns().dissolve("county").reset_index()[["county", "geometry"]]
    m = town_map(six_towns(), palette=PALETTE, title="连州市镇街分类", notice="示意数据",
                 attribution=["Town seats © GeoNames (CC BY 4.0)"], counties=counties,
                 suggestion_links=True)
    return save_map(m, tmp_path_factory.mktemp("map") / "map.html")


@pytest.fixture
def page(driver, map_file):
    page_log(driver)                       # drain what came before
    driver.get(map_file.as_uri())
    wait_for(driver, READY)
    yield driver
    errors, urls = page_log(driver)
    assert errors == []
    assert external(urls) == []


def test_every_town_is_drawn(page):
    assert page.execute_script(f"return {DRAWN};") == 6
    # and the canvas really has coloured pixels of the category palette (red: 强镇)
    has_red = page.execute_script("""
        const c = document.querySelector('.leaflet-overlay-pane canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 0; i < d.length; i += 4)
            if (Math.abs(d[i] - 0xd6) < 12 && Math.abs(d[i+1] - 0x27) < 24 && d[i+2] < 0x50)
                return true;
        return false;""")
    assert has_red


def test_legend_lists_categories_with_counts(page):
    text = page.find_element("css selector", ".tt-legend").text
    for line in ("类别", "强镇 1", "专业镇 2", "特色镇 2", "发展中 1"):
        assert line in text


def test_switching_layers_restyles_the_same_features(page):
    before = page.execute_script(f"return {FILLS};")
    assert before == ["#d62728", "#1f77b4", "#1f77b4", "#2ca02c", "#2ca02c", "#999999"]
    page.find_element("css selector", ".tt-layers input[value='stability']").click()
    after = page.execute_script(f"return {FILLS};")
    assert after == ["#1a9850", "#fee08b", "#d73027", "#1a9850", "#1a9850", "#d73027"]
    assert "类别稳定性" in page.find_element("css selector", ".tt-legend").text
    # restyled, not redrawn from a copy: still six features in the one group
    assert page.execute_script(f"return {TM}.group.getLayers().length;") == 6


def test_search_by_chinese_name_opens_the_popup(page):
    box = page.find_element("css selector", ".tt-search-input")
    box.send_keys("西岸")
    hits = page.find_elements("css selector", ".tt-search-results li")
    assert [h.text for h in hits] == ["西岸镇 连州市"]
    hits[0].click()
    popup = wait_for(page, "document.querySelector('.leaflet-popup-content')")
    text = popup.get_attribute("textContent")
    assert "西岸镇" in text
    link = page.find_element("css selector", ".leaflet-popup-content a.tt-link")
    assert link.get_attribute("href").endswith("suggestions/441882001.html")
    assert "保安镇、丰阳镇" in text       # benchmark towns


def test_search_by_pinyin(page):
    box = page.find_element("css selector", ".tt-search-input")
    box.send_keys("lianzhou")
    hits = page.find_elements("css selector", ".tt-search-results li")
    assert [h.text.split()[0] for h in hits] == ["连州镇"]


def test_hovering_a_town_shows_its_name_and_category(page):
    from selenium.webdriver.common.action_chains import ActionChains

    # the centre of 保安镇 (third square, bottom row) in page pixels
    x, y = page.execute_script(f"""
        const tm = {TM}, p = tm.map.latLngToContainerPoint(
            tm.features[2].getBounds().getCenter()),
            r = tm.map.getContainer().getBoundingClientRect();
        return [r.left + p.x, r.top + p.y];""")
    ActionChains(page).move_by_offset(x, y).pause(0.2).move_by_offset(2, 2).perform()
    tip = wait_for(page, "document.querySelector('.leaflet-tooltip')", 5)
    text = tip.get_attribute("textContent")
    assert "保安镇" in text and "专业镇" in text


def test_fullscreen_button_uses_the_fullscreen_api(page):
    page.find_element("css selector", ".tt-fullscreen a").click()
    assert wait_for(page, "document.fullscreenElement && "
                          "document.fullscreenElement.classList.contains('folium-map')", 5)
    page.find_element("css selector", ".tt-fullscreen a").click()
    assert wait_for(page, "document.fullscreenElement === null", 5)


def test_title_notice_scale_and_labels(page):
    info = page.find_element("css selector", ".tt-info").text
    assert "连州市镇街分类" in info and "示意数据" in info and "GeoNames" in info
    assert page.find_elements("css selector", ".leaflet-control-scale-line")
    zoom = page.execute_script(f"return {TM}.data.labelZoom;")
    page.execute_script(f"{TM}.map.setView([24.75, 112.45], {zoom}, {{animate: false}});")
    labels = wait_for(page, "document.querySelectorAll('.tt-label').length")
    assert labels >= 1


@pytest.fixture(scope="module")
def demo_map(demo_run):
    """``towntype demo``'s map.html, as a user gets it (issue 2: the demo map in Chromium)."""
    out, _ = demo_run
    towns = __import__("pandas").read_csv(out / "towns.csv", encoding="utf-8-sig",
                                          dtype={"town_code": str})
    return out / "map.html", towns


@pytest.mark.slow
def test_demo_map_draws_every_town_with_legend_and_notice(driver, demo_map):
    path, towns = demo_map
    page_log(driver)
    driver.get(path.as_uri())
    wait_for(driver, READY)
    assert driver.execute_script(f"return {DRAWN};") == len(towns)
    legend = driver.find_element("css selector", ".tt-legend").text
    for label, n in towns["category_zh"].value_counts().items():
        assert f"{label} {n}" in legend
    notice = driver.find_element("css selector", ".tt-info .tt-notice").text
    assert "示例数据" in notice and "Illustrative data" in notice
    errors, urls = page_log(driver)
    assert errors == [] and external(urls) == []


# ------------------------------------------------- issue 15: what a person does with it
@pytest.fixture(scope="module")
def rich_map(tmp_path_factory):
    """Indicators grouped by dimension, two features without a table row, county names,
    sheets to follow, and the payload compressed (the DecompressionStream path)."""
    from tests.test_maps import _two_unjoined

    towns = six_towns().assign(
        gdp=[500000.0, 120000.0, 80000.0, 3000.0, 2.5, np.nan],
        forest=[60.1, 70.25, np.nan, 80.0, 1.005, 66.0],
        park=[1.0, 0.0, 0.0, 1.0, 0.0, 0.0],
        sheet=["441882000", "unknown_2", "441882002", "441882003", "441882004",
               "441882005"])
    counties = six_towns().dissolve("county").reset_index()[["county", "geometry"]]
    m = town_map(towns, palette=PALETTE, title="连州市镇街分类", counties=counties,
                 suggestion_links=True, unjoined=_two_unjoined(), compress=True,
                 indicators={"gdp": {"label": "地区生产总值（万元）", "unit": "万元",
                                     "group": "综合实力"},
                             "park": {"label": "省级以上园区", "unit": "是/否",
                                      "group": "工业"},
                             "forest": {"label": "森林覆盖率（%）", "unit": "%",
                                        "group": "生态"}})
    folder = tmp_path_factory.mktemp("rich")
    for name in towns["sheet"]:
        (folder / "suggestions").mkdir(exist_ok=True)
        (folder / "suggestions" / f"{name}.html").write_text(
            f"<!doctype html><meta charset='utf-8'><title>{name}</title><h1>自评建议 {name}</h1>",
            encoding="utf-8")
    return save_map(m, folder / "map.html")


@pytest.fixture
def rich(driver, rich_map):
    page_log(driver)
    driver.get(rich_map.as_uri())
    wait_for(driver, READY)
    yield driver
    errors, urls = page_log(driver)
    assert errors == []
    assert external(urls) == []


def _popup(page, t: int) -> str:
    """Click the middle of town ``t`` (as a person does) and return the popup's text."""
    from selenium.webdriver.common.action_chains import ActionChains

    page.execute_script(f"{TM}.map.closePopup();")
    x, y = page.execute_script(f"""
        const tm = {TM}, p = tm.map.latLngToContainerPoint(
            tm.features[{t}].getBounds().getCenter()),
            r = tm.map.getContainer().getBoundingClientRect();
        return [r.left + p.x, r.top + p.y];""")
    body = page.find_element("css selector", "body")
    r = body.rect
    ActionChains(page).move_to_element_with_offset(
        body, int(x - r["x"] - r["width"] / 2), int(y - r["y"] - r["height"] / 2)).click() \
        .perform()
    return wait_for(page, "document.querySelector('.leaflet-popup-content') && "
                          "document.querySelector('.leaflet-popup-content').innerText")


def test_compressed_map_opens_and_draws_every_feature(rich):
    assert "gzip" in rich.execute_script(
        "return document.querySelector('script[id$=_data]').type;")
    assert rich.execute_script(f"return {DRAWN};") == 8


def test_popup_formats_numbers_with_the_sheets_rules_grouped_by_dimension(rich):
    text = _popup(rich, 0)
    assert "连州镇" in text and "强镇" in text
    # 500,000 万元 → 50.0亿元, ranked among the 5 towns that have it
    assert "地区生产总值（万元）\t50.0亿元（第1/5）" in text
    assert "综合实力" in text and "生态" in text           # dimension headings
    assert text.index("综合实力") < text.index("地区生产总值") < text.index("生态") \
        < text.index("森林覆盖率")
    assert "综合排名\t第1/6" in text and "类别置信度\t90%" in text
    assert "省级以上园区\t是\n" in text          # a yes/no has no rank
    # a town without a value says so; 1.005 is rounded half up (as the sheets: 1.01%)
    text = _popup(rich, 4)
    assert "森林覆盖率（%）\t1.01%（第5/5）" in text
    text = _popup(rich, 5)
    assert "地区生产总值（万元）\t缺失" in text


def test_formatting_in_the_browser_matches_the_sheets(rich):
    from classify.numfmt import fmt_value

    cases = [(21000, "万元"), (3500, "万元"), (123456.7, "万元"), (12345, "人"), (999, "人"),
             (2.345, "%"), (1.005, ""), (0.125, "km"), (1, "是/否"), (123456789, "元"),
             (56.78, "万人次"), (4.5e6, "万元"), (-3500, "万元")]
    for lang in ("zh", "en"):
        got = rich.execute_script(
            "return arguments[0].map(c => towntype.fmtValue(c[0], c[1], arguments[1]));",
            [list(c) for c in cases], lang)
        assert got == [fmt_value(v, u, lang) for v, u in cases], lang


def test_a_feature_without_a_table_row_says_why_and_is_in_the_legend(rich):
    text = _popup(rich, 6)
    assert "龙坪镇" in text and "无指标数据：未在指标表中找到" in text
    assert not rich.find_elements("css selector", ".leaflet-popup-content a.tt-link")
    fills = rich.execute_script(f"return {FILLS};")
    assert fills[6:] == ["#d9d9d9", "#d9d9d9"]
    # outlined dashed: told apart from a grey category
    dashes = rich.execute_script(f"return {TM}.features.map(f => f.options.dashArray);")
    assert dashes[6:] == ["3 3", "3 3"] and dashes[0] is None
    legend = rich.find_element("css selector", ".tt-legend").text
    assert "无指标数据：未在指标表中找到（no table row） 2" in legend


def test_following_the_sheet_link_opens_the_sheet(rich):
    _popup(rich, 1)
    link = rich.find_element("css selector", ".leaflet-popup-content a.tt-link")
    assert link.get_attribute("href").endswith("suggestions/unknown_2.html")
    link.click()
    wait_for(rich, "document.readyState === 'complete' && location.href.endsWith('unknown_2.html')")
    assert rich.find_element("css selector", "h1").text == "自评建议 unknown_2"


def test_switching_every_layer_shows_its_legend(rich):
    ids = rich.execute_script(f"return {TM}.data.layers.map(l => [l.id, l.label]);")
    assert len(ids) >= 6
    for lid, label in ids:
        rich.find_element("css selector", f".tt-layers input[value='{lid}']").click()
        legend = rich.find_element("css selector", ".tt-legend").text
        assert legend.startswith(label), lid
        fills = rich.execute_script(f"return {FILLS};")
        assert all(isinstance(f, str) and f.startswith("#") for f in fills), lid
        assert fills[6:] == ["#d9d9d9", "#d9d9d9"], lid     # never coloured as a town
    # the last one chosen stays in the switcher
    assert rich.find_element("css selector", f".tt-layers input[value='{ids[-1][0]}']") \
        .is_selected()


def test_search_by_pinyin_initials_and_chinese(rich):
    box = rich.find_element("css selector", ".tt-search-input")
    box.send_keys("xaz")
    hits = rich.find_elements("css selector", ".tt-search-results li")
    assert [h.text.split()[0] for h in hits] == ["西岸镇"]
    box.clear()
    box.send_keys("大路边")
    hits = rich.find_elements("css selector", ".tt-search-results li")
    assert [h.text.split()[0] for h in hits] == ["大路边镇"]


def test_county_names_below_the_town_label_zoom_and_town_labels_do_not_overlap(rich):
    zoom = rich.execute_script(f"return {TM}.data.labelZoom;")
    rich.execute_script(f"{TM}.map.setView([24.8, 112.5], {zoom - 1}, {{animate: false}});")
    names = wait_for(rich, "Array.from(document.querySelectorAll('.tt-county-label'))"
                           ".map(e => e.textContent)")
    assert names == ["连州市"]
    rich.execute_script(f"{TM}.map.setView([24.8, 112.5], {zoom}, {{animate: false}});")
    wait_for(rich, "document.querySelectorAll('.tt-label').length")
    boxes = rich.execute_script("""return Array.from(document.querySelectorAll('.tt-label'))
        .map(e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; });""")
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)
    # zoomed out two levels the names would collide: fewer are written, none overlapping
    rich.execute_script(f"{TM}.data.labelZoom = {zoom - 3};"
                        f"{TM}.map.setView([24.8, 112.5], {zoom - 3}, {{animate: false}});")
    few = rich.execute_script("return document.querySelectorAll('.tt-label').length;")
    assert 1 <= few < 8


def test_print_preview_is_one_a4_page_without_the_controls(rich):
    import base64

    rich.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        hidden = rich.execute_script("""return ['.tt-search', '.tt-layers', '.tt-fullscreen']
            .map(s => getComputedStyle(document.querySelector(s)).display);""")
        assert hidden == ["none", "none", "none"]
        assert rich.execute_script(
            "return getComputedStyle(document.querySelector('.tt-legend')).display;") != "none"
    finally:
        rich.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    pdf = base64.b64decode(rich.execute_cdp_cmd("Page.printToPDF", {
        "landscape": True, "paperWidth": 8.27, "paperHeight": 11.69,
        "printBackground": True})["data"])
    assert pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page/") + \
        pdf.count(b"/Type /Page>") + pdf.count(b"/Type/Page\n") + \
        pdf.count(b"/Type/Page/") + pdf.count(b"/Type/Page>") == 1


def test_english_search_placeholder_fits_its_box(driver, tmp_path):
    m = town_map(six_towns(), palette=PALETTE, title="Lianzhou towns", lang="en")
    path = save_map(m, tmp_path / "map.html")
    page_log(driver)
    driver.get(path.as_uri())
    wait_for(driver, READY)
    need, room = driver.execute_script("""
        const el = document.querySelector('.tt-search-input'), cs = getComputedStyle(el);
        const ctx = document.createElement('canvas').getContext('2d');
        ctx.font = cs.fontSize + ' ' + cs.fontFamily;
        return [ctx.measureText(el.placeholder).width,
                el.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight)];""")
    assert need <= room
    assert page_log(driver)[0] == []


def test_the_page_names_a_font_stack_with_the_office_cjk_fonts(page):
    family = page.execute_script(
        "return getComputedStyle(document.querySelector('.tt-control')).fontFamily;")
    for name in ("Microsoft YaHei", "PingFang SC", "Noto Sans CJK SC", "Source Han Sans SC",
                 "WenQuanYi Micro Hei", "UOS Sans"):
        assert name in family
