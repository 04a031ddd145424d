"""Static category maps: formats, A4 size, and Chinese glyphs that are not tofu."""

from __future__ import annotations

import numpy as np
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
