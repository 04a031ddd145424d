"""Static category maps: formats, A4 size, and Chinese glyphs that are not tofu."""

from __future__ import annotations

import numpy as np
import shapely
import pytest
from matplotlib import font_manager as fm

from geo.errors import InputError
from geo.static import A4_INCHES, cjk_font, static_category_map
from tests.test_maps import PALETTE, six_towns


def _render_text(text: str, family: str) -> np.ndarray:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 0.6), dpi=100)
    FigureCanvasAgg(fig)
    fig.text(0.05, 0.3, text, fontsize=24, family=family)
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., 0].copy()


def test_font_is_a_cjk_font_that_has_the_glyphs():
    family, path = cjk_font()
    assert "CJK" in family or "WenQuanYi" in family or "SC" in family
    from fontTools.ttLib import TTFont

    font = TTFont(path, fontNumber=2 if path.endswith(".ttc") else -1, lazy=True)
    cmap = font.getBestCmap()
    for ch in "清远市镇街分类专业特色":
        assert ord(ch) in cmap
    assert fm.findfont(fm.FontProperties(family=family), fallback_to_default=False) == path


@pytest.mark.filterwarnings("ignore:Glyph .* missing from font")
def test_glyphs_render_as_distinct_shapes_not_tofu():
    family, _ = cjk_font()
    a, b = _render_text("清远", family), _render_text("连州", family)
    # tofu draws the same box for every missing character: two different words would
    # give identical pixels; real glyphs differ
    assert (a < 128).sum() > 50
    assert np.count_nonzero(a != b) > 100
    # and they differ from the default (DejaVu Sans, which has no CJK: tofu boxes)
    assert np.count_nonzero(a != _render_text("清远", "DejaVu Sans")) > 100


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".svg", b"<?xml"),
                                           (".pdf", b"%PDF")])
def test_writes_each_format(tmp_path, suffix, magic):
    towns = six_towns()
    counties = towns.dissolve("county").reset_index()
    out = static_category_map(towns, PALETTE, tmp_path / f"map{suffix}", title="连州市镇街分类",
                              counties=counties, notice="示意数据", dpi=50,
                              attribution=["Town seats © GeoNames (CC BY 4.0)"])
    assert out.read_bytes()[:len(magic)] == magic


def test_png_is_a4_with_map_colours(tmp_path):
    from PIL import Image

    out = static_category_map(six_towns(), PALETTE, tmp_path / "map.png", title="t", dpi=50)
    img = np.asarray(Image.open(out).convert("RGB"))
    h, w = img.shape[:2]
    for got, want in zip(sorted((w, h)), sorted(v * 50 for v in A4_INCHES)):
        assert abs(got - want) <= 1
    # the strong-town red of the palette (#d62728) is on the page
    red = np.all(np.abs(img.astype(int) - [0xD6, 0x27, 0x28]) < 6, axis=-1)
    assert red.sum() > 100


def test_unknown_suffix_and_missing_colour(tmp_path):
    with pytest.raises(InputError, match=r"\.png, \.svg, \.pdf"):
        static_category_map(six_towns(), PALETTE, tmp_path / "map.jpg", title="t")
    pal = {k: v for k, v in PALETTE.items() if k != "strong"}
    with pytest.raises(InputError, match="'strong'.*no colour"):
        static_category_map(six_towns(), pal, tmp_path / "map.png", title="t")


def test_town_names_are_written_for_small_regions(tmp_path):
    from PIL import Image

    towns = six_towns()
    a = static_category_map(towns, PALETTE, tmp_path / "a.png", title="t", dpi=60)
    b = static_category_map(towns, PALETTE, tmp_path / "b.png", title="t", dpi=60,
                            labels=False)
    pa = np.asarray(Image.open(a).convert("L"))
    pb = np.asarray(Image.open(b).convert("L"))
    assert pa.shape == pb.shape and np.count_nonzero(pa != pb) > 200


def test_one_drawing_is_saved_in_every_format(tmp_path, monkeypatch):
    import geo.static as static

    calls = []
    real = static._figure
    monkeypatch.setattr(static, "_figure", lambda *a, **k: calls.append(1) or real(*a, **k))
    paths = [tmp_path / "m.png", tmp_path / "m.svg", tmp_path / "m.pdf"]
    out = static.static_category_maps(six_towns(), PALETTE, paths, title="连州市", dpi=40)
    assert out == paths and len(calls) == 1
    for path, magic in zip(paths, (b"\x89PNG", b"<?xml", b"%PDF")):
        assert path.read_bytes()[:len(magic)] == magic
    with pytest.raises(InputError, match=r"\.png, \.svg, \.pdf"):
        static.static_category_maps(six_towns(), PALETTE, [tmp_path / "a.png",
                                                           tmp_path / "b.gif"], title="t")
    assert not (tmp_path / "a.png").exists()          # checked before anything is drawn


def _rings_as_polygons(xy, ring, first, owner, n):
    """The snapped rings back as shapely polygons (exterior first), one per owner."""
    from shapely.geometry import Polygon

    rings = np.split(xy, np.flatnonzero(first)[1:])
    ids = ring[first]
    polys = [[] for _ in range(n)]
    for pts, rid in zip(rings, ids):
        polys[owner[rid]].append(pts)
    return np.array([Polygon(r[0], r[1:]) for r in polys], dtype=object)


def test_snapped_rings_keep_shared_edges_and_outline_each_edge_once():
    from matplotlib.path import Path as MPath
    from shapely.geometry import Polygon

    from geo.static import _outline_path, _town_rings

    # two towns sharing a zigzag edge whose teeth (0.4 m wide, 0.3 m apart) are under
    # the grid (1 m)
    zig = [(100 + 0.4 * (i % 2), 100 * i / 333) for i in range(334)]
    left = Polygon([(0, 0)] + zig + [(0, 100)])
    right = Polygon([(200, 0), (200, 100)] + zig[::-1])
    xy, ring, first, owner = _town_rings(np.array([left, right], dtype=object), 1.0)
    assert len(xy) < shapely.get_num_coordinates(left) + shapely.get_num_coordinates(right)
    shown = _rings_as_polygons(xy, ring, first, owner, 2)
    assert bool(shapely.coverage_is_valid(shown))     # snapped alike: no sliver, no overlap
    assert shapely.union_all(shown).area == pytest.approx(200 * 100, rel=1e-3)
    path = _outline_path(xy, first)

    def segments(points, codes):
        return [tuple(sorted((tuple(a), tuple(b)))) for a, b, c in
                zip(points[:-1], points[1:], codes[1:]) if c == MPath.LINETO]
    drawn = segments(path.vertices, path.codes)
    ring_codes = np.where(first, MPath.MOVETO, MPath.LINETO)
    every = set(segments(xy, ring_codes))
    assert len(drawn) == len(set(drawn))              # no segment drawn twice
    assert set(drawn) == every                        # and none left out
    assert len(every) < len(segments(xy, ring_codes))   # (the towns do share edges)


def test_holes_stay_empty(tmp_path):
    import geopandas as gpd
    from PIL import Image
    from shapely.geometry import Polygon

    # a town with a hole whose ring runs the same way as its exterior (a fill rule alone
    # would paint it); the hole must show the white page
    shell = [(112.3, 24.7), (112.6, 24.7), (112.6, 25.0), (112.3, 25.0)]
    hole = [(112.4, 24.8), (112.5, 24.8), (112.5, 24.9), (112.4, 24.9)]
    town = gpd.GeoDataFrame({"town": ["连州镇"], "category": ["strong"]},
                            geometry=[Polygon(shell, [hole])], crs=4326)
    out = static_category_map(town, PALETTE, tmp_path / "h.png", title="t", dpi=50,
                              labels=False)
    img = np.asarray(Image.open(out).convert("RGB")).astype(int)
    red = np.all(np.abs(img - [0xD6, 0x27, 0x28]) < 6, axis=-1)
    ys, xs = np.nonzero(red)
    cy, cx = (ys.min() + ys.max()) // 2, (xs.min() + xs.max()) // 2
    assert red.sum() > 500
    assert np.all(img[cy - 3:cy + 4, cx - 3:cx + 4] > 240)     # white in the hole


def test_shared_coverage_geometry_is_drawn(tmp_path):
    from PIL import Image

    towns = six_towns()
    asked = []

    class Coverage:            # stands in for geo.coverage.DisplayCoverage
        def finest(self, tolerance):
            asked.append(tolerance)
            geoms = towns.geometry.to_numpy().copy()
            geoms[0] = shapely.box(112.3, 24.7, 112.31, 24.71)   # the strong town, shrunk
            return geoms

    def red_pixels(path):
        img = np.asarray(Image.open(path).convert("RGB")).astype(int)
        return int(np.all(np.abs(img - [0xD6, 0x27, 0x28]) < 6, axis=-1).sum())

    plain = static_category_map(towns, PALETTE, tmp_path / "a.png", title="t", dpi=50,
                                labels=False, tolerance=100)
    shared = static_category_map(towns, PALETTE, tmp_path / "b.png", title="t", dpi=50,
                                 labels=False, tolerance=100, coverage=Coverage())
    assert asked == [pytest.approx(100 / 111_320)]    # metres → degrees of latitude
    assert red_pixels(shared) < red_pixels(plain) / 20


def test_same_towns_give_the_same_svg_and_pdf_bytes(tmp_path):
    """No date, no random clip-path ids: a rerun does not change the files (reports diff
    cleanly, and the run's outputs are reproducible)."""
    from geo.static import static_category_maps

    def draw(folder):
        folder.mkdir()
        return [p.read_bytes() for p in static_category_maps(
            six_towns(), PALETTE, [folder / "m.svg", folder / "m.pdf"], title="连州市", dpi=40)]

    first, second = draw(tmp_path / "a"), draw(tmp_path / "b")
    assert first == second
    assert b"clip-path" in first[0]     # the ids that used to be random are there


# --------------------------------------------------- issue 15: a page ready for print
def _demo_towns():
    """The demo region's 84 town polygons, categories dealt in turn, the last 9 without
    a table row (no category)."""
    import geopandas as gpd

    from classify.bundled import DEMO, data_dir

    towns = gpd.read_file(data_dir() / DEMO["boundaries"]).to_crs(4326)
    name = next(c for c in ("town", "name", "乡镇", "NAME") if c in towns.columns)
    cats = ["strong", "specialised", "characteristic", "developing"]
    towns = towns.assign(town=towns[name].astype(str),
                         category=[cats[i % 4] for i in range(len(towns))])
    towns.loc[towns.index[-9:], "category"] = None
    return towns


def _display_box(artist, fig):
    from matplotlib.transforms import Bbox

    r = fig.canvas.get_renderer()
    b = artist.get_window_extent(r)
    return Bbox.from_extents(b.x0, b.y0, b.x1, b.y1)


def test_print_page_keeps_notice_and_legend_inside_the_page_and_off_the_towns(tmp_path):
    from PIL import Image

    from classify.pipeline import DEMO_NOTICE
    from geo.static import category_figure, static_category_map

    towns = _demo_towns()
    title = "清远市镇街分类（示例数据） · Qingyuan town classification (illustrative data)，" \
            "一个为检验换行而写得很长很长的标题"
    kw = dict(title=title, subtitle="数据：虚构示例", notice=DEMO_NOTICE,
              attribution=["Town seats © GeoNames (CC BY 4.0)"])
    out = static_category_map(towns, PALETTE, tmp_path / "map.png", **kw)
    img = Image.open(out)
    assert abs(img.size[0] - A4_INCHES[0] * 300) <= 2 or abs(img.size[0] - A4_INCHES[1] * 300) <= 2
    fig = category_figure(towns, PALETTE, **kw)
    fig.canvas.draw()
    page = fig.bbox
    by_gid = {}
    for a in fig.findobj():
        if a.get_gid():
            by_gid.setdefault(a.get_gid(), []).append(a)
    ax = fig.axes[0]
    polys = [shapely.affinity.affine_transform(g, [*ax.transData.get_matrix()[0, :2],
                                                   *ax.transData.get_matrix()[1, :2],
                                                   ax.transData.get_matrix()[0, 2],
                                                   ax.transData.get_matrix()[1, 2]])
             for g in fig.towntype_towns]
    towns_px = shapely.union_all(polys)
    for gid in ("title", "notice", "legend", "footer"):
        (artist,) = by_gid[gid]
        b = _display_box(artist, fig)
        # inside the page (the notice was clipped at both edges before)
        assert b.x0 >= page.x0 and b.x1 <= page.x1 and b.y0 >= page.y0 and b.y1 <= page.y1, gid
        # and over no town
        assert not shapely.box(b.x0, b.y0, b.x1, b.y1).intersects(towns_px), gid
    # the long title was wrapped onto two lines or more
    assert "\n" in by_gid["title"][0].get_text()
    # no-data towns are in the legend with their count
    legend_text = [t.get_text() for t in by_gid["legend"][0].get_texts()]
    assert "无指标数据（9）" in legend_text
    # town names: a halo, and no two names overlap
    labels = by_gid.get("label", [])
    assert len(labels) > 20 and labels[0].get_path_effects()
    boxes = [_display_box(t, fig) for t in labels]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_page_orientation_follows_the_region_shape(tmp_path):
    from geo.static import category_figure

    wide = six_towns()                        # 0.3° × 0.2°: wider than tall
    fig = category_figure(wide, PALETTE, title="t")
    w, h = fig.get_size_inches()
    assert w > h
    tall = wide.set_geometry(wide.geometry.scale(0.5, 3, origin=(112.3, 24.7)))
    w, h = category_figure(tall, PALETTE, title="t").get_size_inches()
    assert h > w


def test_pdf_and_svg_are_vector(tmp_path):
    out = static_category_map(six_towns(), PALETTE, tmp_path / "map.svg", title="连州")
    text = out.read_text(encoding="utf-8")
    assert "<path" in text and "<image" not in text
    pdf = static_category_map(six_towns(), PALETTE, tmp_path / "map.pdf", title="连州")
    assert b"/Subtype /Image" not in pdf.read_bytes()
