"""Benchmark: our offline map against ``geopandas.GeoDataFrame.explore()``, same towns,
same run.

Both maps are built from one classified frame (synthetic Voronoi towns from
:mod:`bench.synth`, with seeded scores, categories, clusters, stability and 28 indicator
columns, as the pipeline's frame has).  ``explore`` draws the single ``category`` layer
with its default tooltip (all columns) and no tiles; ours carries **all** its layers.
Measured: HTML file size, Python build time, and the time headless Chromium (no network,
tests/browser.py) takes from navigation until every town is drawn and two animation
frames have passed (best of ``--repeat`` loads).  Targets (issue 7): at 40,000 towns ours
is at most one third of explore's size and render time.

Run::

    .venv/bin/python -m bench.bench_map --towns 40000 --out bench_map.md

or, for the map a ``towntype run`` wrote (issue 15; explore gets the run's ``towns.gpkg``
with the category and a name tooltip), with the bytes of each part of our payload::

    .venv/bin/python -m bench.bench_map --run RUN_DIR --repeat 1

Measured 2026-11-23 06:23 UTC on the 2-core development machine shared with other jobs
(load 1–2), seed 0, best of 2 loads, after the map build was sped up (coverage cleaned only
where invalid, payload no longer re-parsed as a template, geometry on a second thread):

| map | towns | towns drawn | file size (MB) | build (s) | render in headless Chromium (s) |
|---|---:|---:|---:|---:|---:|
| towntype `town_map` (all layers) | 40,000 | 40,000 | 12.1 | 5.1 | 1.74 |
| geopandas `explore()` (category only) | 40,000 | 40,000 | 73.8 | 10.2 | 12.28 |
| **ratio ours ÷ explore** (target ≤ 0.33) | | | **0.16** ✓ | | **0.14** ✓ |

Before that change (same day, load 3–5): ours 12.1 MB, build 15.9 s, render 2.51 s;
explore 73.6 MB, build 16.0 s, render 24.70 s (ratios 0.16 and 0.10).  At the opening
(national) view 39,681 of our 40,000 towns keep an outline of three or more points; the
rest are under a pixel.  Earlier runs under heavier load: render ratio 0.11 and 0.14,
size ratio 0.16.

(Build time is not a target; ours includes coverage cleaning + simplification of
towns and counties and pinyin for search.)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from classify.taxonomy import load_taxonomy

DIMS = ("strength", "industry", "agriculture", "commerce", "tourism", "ecology",
        "centrality")
#: The real Guangdong taxonomy's palette, so the benchmark draws the legend users get.
PALETTE = load_taxonomy("guangdong").palette()
_SUB = {"industry": ("specialised", "industrial"), "agriculture": ("specialised", "agricultural"),
        "commerce": ("specialised", "commercial"), "tourism": ("characteristic", "tourism"),
        "ecology": ("characteristic", "ecological")}


def classified_towns(n: int, seed: int = 0):
    """Synthetic towns with the columns of the pipeline's classified frame."""
    from bench.synth import make_towns

    towns = make_towns(n, seed=seed)
    rng = np.random.default_rng(seed)
    for i in range(28):
        towns[f"indicator_{i:02d}"] = np.round(rng.lognormal(8, 1.2, n), 2)
    scores = rng.uniform(0, 100, (n, len(DIMS)))
    for j, d in enumerate(DIMS):
        towns[f"score_{d}"] = np.round(scores[:, j], 2)
    towns["composite"] = np.round(scores.mean(axis=1), 2)
    towns["rank"] = towns["composite"].rank(ascending=False, method="min").astype(int)
    best = np.array(DIMS)[1 + scores[:, 1:6].argmax(axis=1)]
    strong = scores[:, 0] > 85
    cat = np.where(strong, "strong", [_SUB[b][0] for b in best])
    sub = np.where(strong, "", [_SUB[b][1] for b in best])
    weak = ~strong & (scores[:, 1:6].max(axis=1) < 60)
    towns["category"] = np.where(weak, "developing", cat)
    towns["subtype"] = np.where(weak, "", sub)
    towns["category_zh"] = [PALETTE[c]["zh"] for c in towns["category"]]
    towns["cluster"] = rng.integers(0, 6, n)
    towns["cluster_name"] = [f"类型{c}" for c in towns["cluster"]]
    towns["stability"] = np.round(rng.beta(5, 1.5, n), 3)
    towns["declared_status"] = rng.choice(["", "", "supported", "not supported"], n)
    return towns


def _counties(towns):
    return towns[["county", "geometry"]].dissolve("county").reset_index()


def build_ours(towns, counties, path: Path) -> float:
    from geo.maps import save_map, town_map

    t0 = time.perf_counter()
    m = town_map(towns, palette=PALETTE, title="基准测试", notice="合成数据",
                 counties=counties, suggestion_links=True)
    save_map(m, path)
    return time.perf_counter() - t0


def build_explore(towns, path: Path) -> float:
    t0 = time.perf_counter()
    m = towns.explore(column="category", tiles=None)
    m.save(str(path))
    return time.perf_counter() - t0


# jQuery(-UI) only makes explore's legend draggable; a no-op stand-in keeps the page free
# of errors without charging explore for loading jQuery
_JQUERY_SHIM = ("<script>window.$ = window.jQuery = function () { return "
                "{draggable: function () { return this; }, ready: function (f) { f(); }}; };"
                "</script>")


def offline_explore(html: str) -> str:
    """explore's page made to render with no network: its CDN Leaflet replaced by the same
    inlined Leaflet 1.9.4 our map uses, the other CDN links (jQuery, Bootstrap, fonts,
    awesome-markers) dropped.  This only *helps* explore (nothing to download or parse)."""
    import re

    from geo.mapelements import leaflet_assets

    js, css = leaflet_assets()
    html = re.sub(r'<script src="https?://[^"]*leaflet@[^"]*"></script>',
                  lambda _: f"<style>{css}</style><script>{js}</script>{_JQUERY_SHIM}",
                  html, count=1)
    html = re.sub(r'<script src="https?://[^"]*"></script>', "", html)
    return re.sub(r'<link rel="stylesheet" href="https?://[^"]*"\s*/?>', "", html)


OURS_READY = "!!(window.towntype && towntype.maps.length > 0)"
# painted: Leaflet projected the town to at least one part in view (at the national view
# a few hundred towns are under a pixel and collapse to fewer than three points)
OURS_DRAWN = ("towntype.maps[0].features.filter(f => f._map && f._parts && "
              "f._parts.length > 0).length")
OURS_RINGS = ("towntype.maps[0].features.filter(f => f._map && f._parts && "
              "f._parts.some(p => p.length > 2)).length")
EXPLORE_DRAWN = "document.querySelectorAll('path.leaflet-interactive').length"


def render_seconds(driver, path: Path, ready: str, timeout: float) -> float:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get("about:blank")
    t0 = time.perf_counter()
    driver.get(path.as_uri())               # returns after the load event
    WebDriverWait(driver, timeout, poll_frequency=0.05).until(
        lambda d: d.execute_script(f"return {ready};"))
    driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "requestAnimationFrame(() => requestAnimationFrame(() => done(true)));")
    return time.perf_counter() - t0


def run(n: int, seed: int = 0, repeat: int = 2, workdir: Path | None = None) -> dict:
    """Build both maps for ``n`` synthetic towns and measure them (see the module doc).

    Returns a dict: ``n``, ``size_*`` (bytes), ``build_*`` and ``render_*`` (seconds),
    ``drawn_*`` (towns drawn in the browser), ``rings_ours`` (of those, towns at least
    three pixels across at the opening view), ``errors`` (console errors), and
    ``size_ratio`` / ``render_ratio`` (ours ÷ explore; targets ≤ 1/3).
    """
    workdir = Path(workdir or tempfile.mkdtemp(prefix="bench-map-"))
    workdir.mkdir(parents=True, exist_ok=True)
    towns = classified_towns(n, seed)
    counties = _counties(towns)
    ours, explore = workdir / "ours.html", workdir / "explore.html"
    res = {"n": n, "build_ours": build_ours(towns, counties, ours),
           "build_explore": build_explore(towns, explore),
           "size_ours": ours.stat().st_size, "size_explore": explore.stat().st_size}
    return _render_pair(res, ours, explore, n, repeat, workdir, rings=True)


def _render_pair(res: dict, ours: Path, explore: Path, n: int, repeat: int, workdir: Path,
                 *, rings: bool = False) -> dict:
    """Load our map and ``explore()``'s (made offline) in one browser, best of ``repeat``
    each; adds the render times, what was drawn, page errors and the ratios to ``res``."""
    from tests.browser import chromium, page_log

    explore_offline = workdir / "explore_offline.html"
    explore_offline.write_text(offline_explore(explore.read_text(encoding="utf-8")),
                               encoding="utf-8")
    timeout = 900.0
    with chromium() as driver:
        driver.set_page_load_timeout(timeout)
        driver.set_script_timeout(timeout)
        res["render_ours"] = min(render_seconds(driver, ours, OURS_READY, timeout)
                                 for _ in range(repeat))
        res["drawn_ours"] = driver.execute_script(f"return {OURS_DRAWN};")
        if rings:
            res["rings_ours"] = driver.execute_script(f"return {OURS_RINGS};")
        res["render_explore"] = min(
            render_seconds(driver, explore_offline, f"{EXPLORE_DRAWN} >= {n}", timeout)
            for _ in range(repeat))
        res["drawn_explore"] = driver.execute_script(f"return {EXPLORE_DRAWN};")
        res["errors"] = page_log(driver)[0]
    res["size_ratio"] = res["size_ours"] / res["size_explore"]
    res["render_ratio"] = res["render_ours"] / res["render_explore"]
    return res


def payload_parts(html_path: Path) -> dict:
    """Bytes of each part of our map's payload as JSON (unpacked when compressed), and
    the payload's bytes as stored in the page."""
    import json
    import re

    from tests.test_maps import payload

    html = html_path.read_text(encoding="utf-8")
    stored = re.search(r'<script type="[^"]+" id="[^"]+_data">(.*?)</script>', html, re.S)
    data = payload(html)
    parts = {k: len(json.dumps(v, ensure_ascii=False, separators=(",", ":")).encode())
             for k, v in data.items()}
    parts["(stored in the page)"] = len(stored.group(1).encode()) if stored else 0
    return parts


def measure_run(run_dir: Path, repeat: int = 1, workdir: Path | None = None) -> dict:
    """The map ``towntype run`` wrote in ``run_dir`` against ``explore()`` on the same
    towns (``towns.gpkg``: the category column, a name tooltip, no tiles), same browser."""
    import geopandas as gpd

    workdir = Path(workdir or tempfile.mkdtemp(prefix="bench-map-run-"))
    workdir.mkdir(parents=True, exist_ok=True)
    ours = Path(run_dir) / "map.html"
    # the category to colour by and the name for the tooltip: what a user of explore()
    # would give it (the other columns would go into its GeoJSON too)
    towns = gpd.read_file(Path(run_dir) / "towns.gpkg")[["town", "category", "geometry"]]
    n = len(towns)
    explore = workdir / "explore.html"
    res = {"n": n, "build_ours": float("nan"),
           "build_explore": build_explore_tooltip(towns, explore),
           "size_ours": ours.stat().st_size, "size_explore": explore.stat().st_size,
           "parts": payload_parts(ours)}
    return _render_pair(res, ours, explore, n, repeat, workdir)


def build_explore_tooltip(towns, path: Path) -> float:
    t0 = time.perf_counter()
    m = towns.explore(column="category", tooltip=["town"], tiles=None)
    m.save(str(path))
    return time.perf_counter() - t0


def _secs(x: float) -> str:
    """Build seconds; "–" for the map a run wrote (built inside ``towntype run``)."""
    return "–" if x != x else f"{x:.1f}"


def table(res: dict) -> str:
    mb = 1024 * 1024
    size_ratio = res["size_ours"] / res["size_explore"]
    time_ratio = res["render_ours"] / res["render_explore"]
    rows = [
        "| map | towns | towns drawn | file size (MB) | build (s) "
        "| render in headless Chromium (s) |",
        "|---|---:|---:|---:|---:|---:|",
        f"| towntype map (all layers{', as `towntype run` wrote it' if res['build_ours'] != res['build_ours'] else ''}) | {res['n']:,} | {res['drawn_ours']:,} | "
        f"{res['size_ours'] / mb:.1f} | {_secs(res['build_ours'])} | {res['render_ours']:.2f} |",
        f"| geopandas `explore()` (category only) | {res['n']:,} | {res['drawn_explore']:,} | "
        f"{res['size_explore'] / mb:.1f} | {res['build_explore']:.1f} | "
        f"{res['render_explore']:.2f} |",
        f"| **ratio ours ÷ explore** (target ≤ 0.33) | | | **{size_ratio:.2f}** "
        f"{'✓' if size_ratio <= 1 / 3 else '✗'} | | **{time_ratio:.2f}** "
        f"{'✓' if time_ratio <= 1 / 3 else '✗'} |",
    ]
    return "\n".join(rows) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--towns", type=int, default=40000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--out", type=Path, help="append the markdown table to this file")
    p.add_argument("--keep", type=Path, help="write both HTML files into this folder")
    p.add_argument("--run", type=Path, metavar="RUN_DIR",
                   help="measure the map.html of this `towntype run` folder instead of a "
                        "synthetic town_map (explore: category column, name tooltip)")
    args = p.parse_args(argv)
    if args.run:
        res = measure_run(args.run, args.repeat, args.keep)
    else:
        res = run(args.towns, args.seed, args.repeat, args.keep)
    text = table(res)
    if "parts" in res:
        text += "\npayload parts (bytes of JSON): " + ", ".join(
            f"{k} {v:,}" for k, v in sorted(res["parts"].items(), key=lambda kv: -kv[1])) + "\n"
    print(text)
    if args.out:
        with args.out.open("a", encoding="utf-8") as fh:
            fh.write(f"\n{time.strftime('%Y-%m-%d')} seed {args.seed}\n\n{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
