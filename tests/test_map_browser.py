"""The map as a person sees it: headless Debian Chromium, no network (tests/browser.py)."""

from __future__ import annotations

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
