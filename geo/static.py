"""Static category maps for documents: PNG, SVG or PDF, sized for an A4 page.

Drawn in a local UTM projection (a true scale bar), the towns as one path per colour plus
one of their edges (a national map stays fast); Chinese text in the CJK font of
:func:`cjk_font` (installed, never downloaded).  matplotlib is imported where it draws:
``import towntype`` must not load it (STYLE.md).
"""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Mapping, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from geo.errors import InputError, TowntypeError
from geo.maps import _no_colour, _translator

__all__ = ["A4_INCHES", "FORMATS", "PRINT_DPI", "category_figure", "cjk_font",
           "static_category_map", "static_category_maps"]

#: A4 in inches (portrait: width, height).
A4_INCHES = (8.27, 11.69)

#: Output formats by file suffix.
FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}

#: Up to this many towns get their names written on the map by default.
MAX_LABELS = 150

#: Font families tried in order when the packaged font is missing.
SYSTEM_CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC",
                       "WenQuanYi Micro Hei", "WenQuanYi Zen Hei")

#: Key and colour of towns without a category (boundary features with no table row).
NO_DATA_KEY, NO_DATA_COLOUR = "", "#d9d9d9"

#: Resolution the default simplification is fine enough for (print).
PRINT_DPI = 300
#: The map's share of the page's long side at most, and the padding around the towns.
_MAP_SHARE, _PAD = 0.9, 0.04
#: Metres in a degree of latitude (a degree of longitude is never longer).
_M_PER_DEGREE = 111_320.0
#: Page margin (figure fraction) and the gap between the blocks of the page.
_MARGIN, _GAP = 0.04, 0.012
#: Size of town names on the page (points): legible on A4.
LABEL_POINTS = 6.5

#: Metadata that leaves out the creation date (the same towns give the same bytes).
NO_DATE = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}
#: Break opportunities: each CJK character alone, Latin words with their trailing space.
_TOKENS = re.compile(r"[A-Za-z0-9_.,:;!?%()'\-/&]+\s*|\s+|.")


@lru_cache(maxsize=1)
def cjk_font() -> tuple[str, str]:
    """Register and return ``(family, path)`` of the CJK font used for static maps.

    Raises
    ------
    geo.errors.TowntypeError
        If neither the ``manimgx-fonts-cjk`` package nor a system CJK font is installed.
    """
    from matplotlib import font_manager as fm

    try:
        path = resources.files("manimgx_fonts_cjk").joinpath("NotoSansCJK-VF.otf.ttc")
        if path.is_file():
            fm.fontManager.addfont(str(path))
            return "Noto Sans CJK SC", str(path)
    except ModuleNotFoundError:
        pass
    for entry in fm.fontManager.ttflist:
        if entry.name in SYSTEM_CJK_FAMILIES:
            return entry.name, entry.fname
    raise TowntypeError(
        "no CJK font for the Chinese text of static maps: pip install manimgx-fonts-cjk "
        "(Noto Sans CJK, OFL) or apt-get install fonts-noto-cjk")


def _scale_bar(ax, x0: float, y0: float, span_m: float, font: str) -> None:
    """A scale bar of a round length near a fifth of the map width (1, 2 or 5 × 10^n m)."""
    from matplotlib.patches import Rectangle

    exp = 10 ** np.floor(np.log10(span_m / 5))
    length = float(max(m for m in (1, 2, 5) if m * exp <= span_m / 5) * exp)
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


def _keys(towns, by: str) -> np.ndarray:
    col = towns[by]
    return col.astype(object).where(col.notna(), "").astype(str).str.strip() \
        .replace({"nan": "", "None": "", "<NA>": ""}).to_numpy()


def _legend_entries(towns, palette, lang: str, by: str, t):
    from matplotlib.patches import Patch

    keys = _keys(towns, by)
    handles, colours = [], {}
    for key in palette:
        n = int((keys == key).sum())
        if n:
            item = palette[key]
            colours[key] = item["color"]
            handles.append(Patch(facecolor=item["color"], edgecolor="white",
                                 label=f"{item.get(lang) or item['zh']}（{n}）"))
    n = int((keys == NO_DATA_KEY).sum())
    if n:       # drawn grey: a county shows no holes
        colours[NO_DATA_KEY] = NO_DATA_COLOUR
        handles.append(Patch(facecolor=NO_DATA_COLOUR, edgecolor="#9a9a9a", hatch="////",
                             linewidth=0,
                             label=t("static_no_data", n=n)))
    missing = sorted(set(keys) - set(colours))
    if missing:
        raise _no_colour(palette, missing[0], by)
    return handles, colours


def static_category_map(towns, palette: Mapping[str, Mapping[str, str]], path, *,
                        title: str, counties=None, notice: str | None = None,
                        attribution: Sequence[str] = (), lang: str = "zh",
                        by: str = "category", dpi: int = 300, subtitle: str | None = None,
                        labels: bool | None = None, tolerance: float | None = None,
                        coverage=None) -> Path:
    """Write a category map for documents (PNG, SVG or PDF by the file suffix).

    Parameters
    ----------
    towns : GeoDataFrame (EPSG:4326)
        Town polygons with ``category`` (and ``by`` if different).
    palette : mapping
        ``{id: {"zh", "en", "color"}}`` from the taxonomy.
    path : str or Path
        Output file; ``.png``, ``.svg`` or ``.pdf``.
    title, subtitle, notice : str
        Title on top, the subtitle beneath it and the notice (e.g. illustrative data) in
        red beneath that; each wrapped to the page's width.
    counties : GeoDataFrame, optional
        County outlines drawn over the towns.
    attribution : sequence of str
        Data-source lines at the foot of the page.
    lang : {"zh", "en"}
        Language of the legend labels.
    by : str
        Column to colour by (``category``, or a ``category/subtype`` key column).  Towns
        without a value (boundary features with no table row) are drawn in the no-data
        grey and counted in the legend.
    dpi : int
        Resolution of PNG output (300: print).
    labels : bool, optional
        Write town names (column ``town``) on the map; default when there are at most
        :data:`MAX_LABELS` towns (more would not be legible on A4).
    tolerance : float, optional
        Vertices are snapped to a grid of this many metres and repeats dropped (shared
        edges stay shared).  Default: a quarter of a pixel at :data:`PRINT_DPI` on the
        page; 0 keeps every vertex.
    coverage : geo.coverage.DisplayCoverage, optional
        The towns' display coverage shared with the interactive map: its simplified
        geometry is drawn when one fine enough for the page was already made.

    Returns
    -------
    Path

    See Also
    --------
    static_category_maps : the same map in several formats, drawn once.
    """
    return static_category_maps(towns, palette, [path], title=title, counties=counties,
                                notice=notice, attribution=attribution, lang=lang, by=by,
                                dpi=dpi, labels=labels, tolerance=tolerance,
                                coverage=coverage, subtitle=subtitle)[0]


def static_category_maps(towns, palette: Mapping[str, Mapping[str, str]], paths, *,
                         title: str, counties=None, notice: str | None = None,
                         attribution: Sequence[str] = (), lang: str = "zh",
                         by: str = "category", dpi: int = 300,
                         labels: bool | None = None, tolerance: float | None = None,
                         coverage=None, subtitle: str | None = None) -> list[Path]:
    """Draw the category map once and save it to each of ``paths`` (format by suffix).

    Same parameters as :func:`static_category_map`; returns the paths written.

    Examples
    --------
    >>> static_category_maps(towns, palette, ["map.png", "map.svg"], title="t")  # doctest: +SKIP
    """
    paths = [Path(p) for p in paths]
    for path in paths:
        if FORMATS.get(path.suffix.lower()) is None:
            raise InputError(f"cannot write a static map as {path.suffix or 'no suffix'!r}; "
                             f"use one of {', '.join(FORMATS)}", path=path)
    if by not in towns.columns:
        raise InputError(f"static map needs column {by!r}", column=by)
    if towns.crs is None or not towns.crs.is_geographic:
        raise InputError(f"static map needs lon/lat towns (EPSG:4326), got {towns.crs}: "
                         "use .to_crs(4326)")
    if not paths:
        return []
    fig = category_figure(towns, palette, title=title, subtitle=subtitle, counties=counties,
                          notice=notice, attribution=attribution, lang=lang, by=by,
                          labels=labels, tolerance=tolerance, coverage=coverage)
    font, _ = cjk_font()
    for path in paths:
        fmt = FORMATS[path.suffix.lower()]
        path.parent.mkdir(parents=True, exist_ok=True)
        with _rc(font, fmt):        # no date: the same towns give the same bytes
            fig.savefig(path, format=fmt, dpi=dpi, metadata=NO_DATE.get(fmt))
    return paths


def category_figure(towns, palette: Mapping[str, Mapping[str, str]], *, title: str,
                    subtitle: str | None = None, counties=None, notice: str | None = None,
                    attribution: Sequence[str] = (), lang: str = "zh",
                    by: str = "category", labels: bool | None = None,
                    tolerance: float | None = None, coverage=None):
    """The A4 page of :func:`static_category_maps` as a matplotlib Figure (laid out,
    not saved).  Its artists carry ids: ``gid`` ``title``, ``subtitle``, ``notice``,
    ``legend``, ``footer``, ``towns`` (the fills) and ``label`` (town names); the towns'
    projected polygons are in ``fig.towntype_towns`` (data coordinates of the map axes).
    """
    if by not in towns.columns:
        raise InputError(f"static map needs column {by!r}", column=by)
    font, _ = cjk_font()
    t = _translator("zh" if lang == "zh" else "en")     # the page's own texts
    handles, colours = _legend_entries(towns, palette, lang, by, t)
    utm = towns.estimate_utm_crs()
    if tolerance is None:
        tolerance = _print_tolerance(towns, utm)
    geoms = towns.geometry.to_numpy() if coverage is None else coverage.finest(
        tolerance / _M_PER_DEGREE)
    proj = gpd.GeoSeries(geoms, crs=towns.crs).to_crs(utm).to_numpy()
    if labels is None:
        labels = len(towns) <= MAX_LABELS and "town" in towns.columns
    fig = _figure(proj, towns, counties, utm, colours, handles, font, tolerance,
                  title=title, subtitle=subtitle, notice=notice,
                  attribution=attribution, t=t, by=by, labels=labels)
    fig.towntype_towns = proj
    return fig


@contextmanager
def _rc(font: str, fmt: str):
    """Settings every static map is drawn and saved under (CJK font, embedded glyphs),
    the font log quiet: the variable CJK font, registered as weight 100, would log
    "failed to find weight normal" per text (its glyphs are right)."""
    import matplotlib

    log = logging.getLogger("matplotlib.font_manager")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with matplotlib.rc_context({"font.family": [font, "DejaVu Sans"],
                                    "pdf.fonttype": 42 if fmt == "pdf" else 3,
                                    "svg.fonttype": "path",
                                    "svg.hashsalt": "towntype"}):   # stable clip-path ids
            yield
    finally:
        log.setLevel(level)


def _print_tolerance(towns, crs) -> float:
    """A quarter of a pixel at :data:`PRINT_DPI` across the map's axes, in metres of
    ``crs`` (the extent from the corners of each town's box: cheap, and close enough)."""
    b = towns.geometry.bounds.to_numpy()
    x, y = Transformer.from_crs(towns.crs, crs, always_xy=True).transform(
        np.r_[b[:, 0], b[:, 2], b[:, 0], b[:, 2]], np.r_[b[:, 1], b[:, 1], b[:, 3], b[:, 3]])
    span = max(np.nanmax(x) - np.nanmin(x), np.nanmax(y) - np.nanmin(y)) * (1 + 2 * _PAD)
    return float(span / (max(A4_INCHES) * _MAP_SHARE * PRINT_DPI) / 4)


def _town_rings(geoms, grid: float):
    """``(xy, ring, first, owner)``: every ring's vertices snapped to ``grid`` (0: kept;
    shared vertices snap alike: no slivers) without repeats, their ring and ring start,
    and each ring's geometry.  Holes run clockwise (empty whatever the fill rule); rings
    snapped below three points are dropped."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(shapely.orient_polygons(parts), return_index=True)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    if grid > 0:
        xy = np.round(xy / grid) * grid
    first = np.r_[True, ring[1:] != ring[:-1]]
    keep = first | np.r_[True, np.any(xy[1:] != xy[:-1], axis=1)]
    alive = np.bincount(ring[keep], minlength=len(rings)) >= 4     # closing point included
    keep &= alive[ring]
    return xy[keep], ring[keep], first[keep], owner[ring_part]


def _fill_paths(xy, ring, first, group: np.ndarray, n_groups: int) -> list:
    """One compound path per group of rings (a colour)."""
    from matplotlib.path import Path as MPath

    codes = np.full(len(xy), MPath.LINETO, dtype=MPath.code_type)
    codes[first] = MPath.MOVETO
    codes[np.r_[first[1:], True]] = MPath.CLOSEPOLY
    vertex_group = group[ring]
    order = np.argsort(vertex_group, kind="stable")
    cuts = np.searchsorted(vertex_group[order], np.arange(n_groups + 1))
    return [MPath(xy[order[a:b]], codes[order[a:b]]) for a, b in zip(cuts[:-1], cuts[1:])]


def _outline_path(xy, first):
    """Every town edge once: a segment two neighbours share is drawn by the first only
    (stroking it twice would double its antialiased pixels and pale the map)."""
    from matplotlib.path import Path as MPath

    last = np.r_[first[1:], True]
    start = np.flatnonzero(~last)                      # segment i runs from i to i + 1
    a, b = xy[start], xy[start + 1]
    swap = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
    lo, hi = np.where(swap[:, None], b, a), np.where(swap[:, None], a, b)
    fresh = ~pd.DataFrame(np.hstack([lo, hi])).duplicated().to_numpy()
    drawn = np.zeros(len(xy), bool)                    # segment starting at this vertex
    drawn[start[fresh]] = True
    into = np.r_[False, drawn[:-1]] & ~first           # segment ending at this vertex
    keep = drawn | into
    codes = np.where(into, MPath.LINETO, MPath.MOVETO).astype(MPath.code_type)
    return MPath(xy[keep], codes[keep])


def _wrapped(fig, renderer, text: str, width: float, **kw) -> str:
    """``text`` with line breaks so that no line is wider than ``width`` (figure
    fraction) in the given font: a CJK line breaks between any two characters, Latin
    between words (a word longer than a line is broken where it must)."""
    probe = fig.text(0, 0, "", **kw)
    limit = width * fig.bbox.width

    def fits(line: str) -> bool:
        probe.set_text(line)
        return probe.get_window_extent(renderer).width <= limit

    out = []
    for para in str(text).split("\n"):
        line = ""
        for tok in _TOKENS.findall(para):
            if fits(line + tok):
                line += tok
                continue
            if line.strip():
                out.append(line.rstrip())
            line = tok.lstrip()
            while line and not fits(line):      # a word wider than the page
                k = len(line) - 1
                while k > 1 and not fits(line[:k]):
                    k -= 1
                out.append(line[:k])
                line = line[k:]
        out.append(line.rstrip())
    probe.remove()
    return "\n".join(out)


def _figure(proj, towns, counties, utm, colours, handles, font, tolerance, *,
            title, subtitle, notice, attribution, t, by, labels):
    """The page (landscape for a wide map), laid out top to bottom from measured extents;
    the legend has a band of its own under the map (never over a town)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import PathCollection
    from matplotlib.figure import Figure

    minx, miny, maxx, maxy = shapely.total_bounds(proj)
    keys = list(colours)
    groups = pd.Index(keys).get_indexer(_keys(towns, by))     # each town's colour
    xy, ring, first, owner = _town_rings(proj, tolerance)
    with _rc(font, "png"):
        fig = Figure(figsize=A4_INCHES[::-1] if maxx - minx > 1.25 * (maxy - miny)
                     else A4_INCHES)
        FigureCanvasAgg(fig)
        renderer = fig.canvas.get_renderer()
        width = 1 - 2 * _MARGIN

        def block(y: float, text: str | None, gid: str, **kw) -> float:
            """Text hanging from ``y`` (figure fraction); returns the y under it."""
            if not text:
                return y
            drawn = fig.text(0.5, y, _wrapped(fig, renderer, text, width, family=font, **kw),
                             ha="center", va="top", family=font, gid=gid, **kw)
            return y - drawn.get_window_extent(renderer).height / fig.bbox.height - _GAP / 2

        top = block(1 - _MARGIN, title, "title", fontsize=16)
        top = block(top, subtitle, "subtitle", fontsize=11, color="#333333")
        top = block(top, notice, "notice", fontsize=10, color="#b00020")
        foot = [*attribution, t("projection", name=utm.name)]
        ft = fig.text(_MARGIN, _MARGIN, _wrapped(fig, renderer, "\n".join(foot), width,
                                                 family=font, fontsize=7),
                      ha="left", va="bottom", fontsize=7, color="#444444", family=font,
                      gid="footer")
        bottom = _MARGIN + ft.get_window_extent(renderer).height / fig.bbox.height + _GAP
        # the legend: a band under the map, as many columns as fit the page
        for ncol in range(max(len(handles), 1), 0, -1):
            leg = fig.legend(handles=handles, loc="lower center", ncol=ncol,
                             bbox_to_anchor=(0.5, bottom), fontsize=9, frameon=False,
                             title=t("layer_category"),
                             title_fontsize=10)
            ext = leg.get_window_extent(renderer)
            if ext.width <= width * fig.bbox.width or ncol == 1:
                break
            leg.remove()
        leg.set_gid("legend")
        bottom += ext.height / fig.bbox.height + _GAP
        ax = fig.add_axes((_MARGIN, bottom, width, max(top - _GAP - bottom, 0.2)))
        fills = PathCollection(
            _fill_paths(xy, ring, first, groups[owner], len(keys)),
            facecolors=[colours[k] for k in keys], edgecolors="none", linewidths=0)
        fills.set_gid("towns")
        ax.add_collection(fills, autolim=False)
        if NO_DATA_KEY in colours:      # hatched too: told apart from a grey category
            nd = (groups == keys.index(NO_DATA_KEY))[owner]
            ax.add_collection(PathCollection(
                _fill_paths(xy, ring, first, nd.astype(int), 2)[1:], facecolors="none",
                edgecolors="#9a9a9a", hatch="////", linewidths=0), autolim=False)
        ax.add_collection(PathCollection([_outline_path(xy, first)],
                                         facecolors="none", edgecolors="white",
                                         linewidths=0.3), autolim=False)
        if counties is not None and len(counties):
            lines = shapely.simplify(counties.to_crs(utm).boundary.to_numpy(), tolerance)
            gpd.GeoSeries(lines).plot(ax=ax, color="#333333", linewidth=0.9, zorder=3)
        ax.set_aspect("equal")
        ax.set_axis_off()
        pad = _PAD * max(maxx - minx, maxy - miny)
        ax.set_xlim(minx - pad, maxx + pad)
        ax.set_ylim(miny - pad, maxy + pad)
        _scale_bar(ax, minx, miny - pad * 0.6, maxx - minx, font)
        _north_arrow(ax, font)
        if labels:
            _town_labels(ax, renderer, proj, towns, font)
    return fig


def _town_labels(ax, renderer, proj, towns, font) -> None:
    """Town names with a white halo (county lines do not cross the letters), largest
    town first; a name that would overlap one already written is left out."""
    from matplotlib import patheffects

    halo = [patheffects.withStroke(linewidth=1.6, foreground="white")]
    pts = shapely.get_coordinates(shapely.point_on_surface(proj))
    names = _keys(towns, "town")
    placed = []
    for i in np.argsort(-shapely.area(proj), kind="stable"):
        if not names[i]:
            continue
        t = ax.text(pts[i, 0], pts[i, 1], names[i], ha="center", va="center",
                    fontsize=LABEL_POINTS, family=font, color="#111111", zorder=4,
                    path_effects=halo, gid="label")
        box = t.get_window_extent(renderer)
        if any(box.overlaps(b) for b in placed):
            t.remove()
            continue
        placed.append(box)
