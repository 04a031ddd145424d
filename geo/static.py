"""Static category maps for documents: PNG, SVG or PDF, sized for an A4 page.

The map is drawn in a local UTM projection (so the scale bar is true), with a legend
(counts per category), a scale bar, a north arrow, the title and an optional notice.
Chinese text is set in **Noto Sans CJK SC** from the ``manimgx-fonts-cjk`` package (the
font file ships inside the wheel; nothing is downloaded); when that package is absent, an
installed system CJK font is used (Debian ``fonts-noto-cjk`` or ``fonts-wqy-microhei``).

Examples
--------
>>> static_category_map(towns, palette, "map.png", title="清远市镇街分类")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from geo.errors import InputError, TowntypeError

__all__ = ["A4_INCHES", "FORMATS", "cjk_font", "static_category_map"]

#: A4 in inches (portrait: width, height).
A4_INCHES = (8.27, 11.69)

#: Output formats by file suffix.
FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}

#: Up to this many towns get their names written on the map by default.
MAX_LABELS = 150

#: Font families tried in order when the packaged font is missing.
SYSTEM_CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC",
                       "WenQuanYi Micro Hei", "WenQuanYi Zen Hei")

_PACKAGED = ("manimgx_fonts_cjk", "NotoSansCJK-VF.otf.ttc", "Noto Sans CJK SC")


@lru_cache(maxsize=1)
def cjk_font() -> tuple[str, str]:
    """Register and return ``(family, path)`` of the CJK font used for static maps.

    Raises
    ------
    geo.errors.TowntypeError
        If neither the ``manimgx-fonts-cjk`` package nor a system CJK font is installed.
    """
    from matplotlib import font_manager as fm

    package, filename, family = _PACKAGED
    try:
        path = resources.files(package).joinpath(filename)
        if path.is_file():
            fm.fontManager.addfont(str(path))
            return family, str(path)
    except ModuleNotFoundError:
        pass
    for entry in fm.fontManager.ttflist:
        if entry.name in SYSTEM_CJK_FAMILIES:
            return entry.name, entry.fname
    raise TowntypeError(
        "no CJK font for the Chinese text of static maps: pip install manimgx-fonts-cjk "
        "(Noto Sans CJK, OFL) or apt-get install fonts-noto-cjk")


def _nice_length(span_m: float) -> float:
    """A round scale-bar length near a fifth of the map width (1, 2 or 5 × 10^n m)."""
    target = span_m / 5
    exp = 10 ** np.floor(np.log10(target))
    return float(max(m for m in (1, 2, 5) if m * exp <= target) * exp)


def _scale_bar(ax, x0: float, y0: float, length: float, font: str) -> None:
    from matplotlib.patches import Rectangle

    h = length / 25
    for i in range(2):
        ax.add_patch(Rectangle((x0 + i * length / 2, y0), length / 2, h, zorder=5,
                               facecolor="black" if i == 0 else "white", edgecolor="black",
                               linewidth=0.8))
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    for x, text in ((x0, "0"), (x0 + length, label)):
        ax.text(x, y0 + 1.6 * h, text, ha="center", va="bottom", fontsize=8, zorder=5,
                family=font)


def _north_arrow(ax, font: str) -> None:
    ax.annotate("北\nN", xy=(0.95, 0.97), xytext=(0.95, 0.86), xycoords="axes fraction",
                ha="center", va="center", fontsize=10, family=font, zorder=6,
                arrowprops=dict(facecolor="black", width=4, headwidth=12, headlength=10))


def _legend_entries(towns, palette, lang: str, by: str):
    from matplotlib.patches import Patch

    keys = towns[by].astype(str).to_numpy()
    handles, colours = [], {}
    for key in palette:
        n = int((keys == key).sum())
        if n:
            item = palette[key]
            colours[key] = item["color"]
            handles.append(Patch(facecolor=item["color"], edgecolor="white",
                                 label=f"{item.get(lang) or item['zh']}（{n}）"))
    missing = sorted(set(keys) - set(colours))
    if missing:
        raise InputError(f"value {missing[0]!r} of column {by!r} has no colour in the "
                         f"palette (palette keys: {', '.join(map(str, palette))}); add it "
                         "to the taxonomy's colours", column=by)
    return handles, colours


def static_category_map(towns, palette: Mapping[str, Mapping[str, str]], path, *,
                        title: str, counties=None, notice: str | None = None,
                        attribution: Sequence[str] = (), lang: str = "zh",
                        by: str = "category", dpi: int = 200,
                        labels: bool | None = None) -> Path:
    """Write a category map for documents (PNG, SVG or PDF by the file suffix).

    Parameters
    ----------
    towns : GeoDataFrame (EPSG:4326)
        Town polygons with ``category`` (and ``by`` if different).
    palette : mapping
        ``{id: {"zh", "en", "color"}}`` from the taxonomy.
    path : str or Path
        Output file; ``.png``, ``.svg`` or ``.pdf``.
    title, notice : str
        Title on top; the notice (e.g. illustrative data) in red beneath it.
    counties : GeoDataFrame, optional
        County outlines drawn over the towns.
    attribution : sequence of str
        Data-source lines at the foot of the page.
    lang : {"zh", "en"}
        Language of the legend labels.
    by : str
        Column to colour by (``category``, or a ``category/subtype`` key column).
    dpi : int
        Resolution of PNG output.
    labels : bool, optional
        Write town names (column ``town``) on the map; default when there are at most
        :data:`MAX_LABELS` towns (more would not be legible on A4).

    Returns
    -------
    Path
    """
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"cannot write a static map as {path.suffix or 'no suffix'!r}; use "
                         f"one of {', '.join(FORMATS)}", path=path)
    if by not in towns.columns:
        raise InputError(f"static map needs column {by!r}", column=by)
    if towns.crs is None or not towns.crs.is_geographic:
        raise InputError(f"static map needs lon/lat towns (EPSG:4326), got {towns.crs}: "
                         "use .to_crs(4326)")
    font, _ = cjk_font()
    utm = towns.estimate_utm_crs()
    proj = towns.to_crs(utm)
    handles, colours = _legend_entries(towns, palette, lang, by)

    minx, miny, maxx, maxy = proj.total_bounds
    landscape = (maxx - minx) > 1.25 * (maxy - miny)
    size = A4_INCHES[::-1] if landscape else A4_INCHES
    # the variable CJK font's default instance is registered as weight 100: matplotlib
    # logs a "failed to find weight normal" line per text; the glyphs are right
    log = logging.getLogger("matplotlib.font_manager")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        if labels is None:
            labels = len(towns) <= MAX_LABELS and "town" in towns.columns
        _draw(proj, towns, counties, utm, colours, handles, size, font, fmt, path, dpi,
              title=title, notice=notice, attribution=attribution, lang=lang, by=by,
              labels=labels)
    finally:
        log.setLevel(level)
    return path


def _draw(proj, towns, counties, utm, colours, handles, size, font, fmt, path, dpi, *,
          title, notice, attribution, lang, by, labels) -> None:
    import matplotlib
    from matplotlib.figure import Figure

    minx, miny, maxx, maxy = proj.total_bounds
    with matplotlib.rc_context({"font.family": [font, "DejaVu Sans"],
                                "pdf.fonttype": 42 if fmt == "pdf" else 3,
                                "svg.fonttype": "path"}):
        fig = Figure(figsize=size)
        ax = fig.add_axes((0.05, 0.1, 0.9, 0.78))
        proj.plot(ax=ax, color=[colours[k] for k in towns[by].astype(str)],
                  edgecolor="white", linewidth=0.3)
        if counties is not None and len(counties):
            counties.to_crs(utm).boundary.plot(ax=ax, color="#333333", linewidth=0.9)
        if labels:
            pts = proj.geometry.representative_point()
            for x, y, name in zip(pts.x, pts.y, towns["town"].astype(str)):
                ax.text(x, y, name, ha="center", va="center", fontsize=4.5, family=font,
                        color="#111111", zorder=4)
        ax.set_aspect("equal")
        ax.set_axis_off()
        pad = 0.04 * max(maxx - minx, maxy - miny)
        ax.set_xlim(minx - pad, maxx + pad)
        ax.set_ylim(miny - pad, maxy + pad)
        length = _nice_length(maxx - minx)
        _scale_bar(ax, minx, miny - pad * 0.6, length, font)
        _north_arrow(ax, font)
        ax.legend(handles=handles, loc="lower right", fontsize=9, frameon=True,
                  title="类别" if lang == "zh" else "Category", title_fontsize=10)
        fig.text(0.5, 0.95, title, ha="center", va="center", fontsize=16, family=font)
        if notice:
            fig.text(0.5, 0.915, notice, ha="center", va="center", fontsize=10,
                     color="#b00020", family=font)
        foot = list(attribution) + [f"投影：{utm.name}" if lang == "zh"
                                    else f"Projection: {utm.name}"]
        fig.text(0.05, 0.05, "\n".join(foot), ha="left", va="bottom", fontsize=7,
                 color="#444444", family=font)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format=fmt, dpi=dpi)
