"""Interactive town maps that open with no network: :func:`town_map` and :func:`save_map`.

The town polygons are stored once in the page (coverage-simplified, quantised,
delta-encoded); each thematic layer is a class number per town plus a legend, and popups
are formatted in the browser (``geo/assets/towntype.js``).  Basemaps: :data:`BASEMAPS`.
"""

from __future__ import annotations

import datetime as _dt
import importlib
import json
import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Callable, Mapping, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.coverage import DisplayCoverage, drop_specks, simplify_coverage
from geo.datum import convert_geoseries
from geo.errors import InputError, TowntypeError

__all__ = ["BASEMAPS", "Basemap", "DIMENSIONS", "LayerSpec", "SCHEMES", "available_layers",
           "classify_values", "drop_specks", "encode_geometries", "save_map",
           "simplify_coverage", "town_map"]

#: Dimension ids in display order (score columns are ``score_<id>``).
DIMENSIONS = ("strength", "industry", "agriculture", "commerce", "tourism", "ecology",
              "centrality")

#: Stability (share of Monte Carlo draws that keep the category) class limits.
STABILITY_LIMITS = (0.6, 0.8)

#: Year-over-year change classes (``towntype compare``) in legend order.
CHANGE_KEYS = ("up", "down", "lateral", "same", "new", "gone")
#: Upper class limits of the composite change (score points), symmetric around 0.
CHANGE_BREAKS = (-10.0, -3.0, -1.0, 1.0, 3.0, 10.0)

_NO_DATA = "#d9d9d9"
_CLUSTER_COLOURS = ("#8dd3c7", "#fdb462", "#bebada", "#fb8072", "#80b1d3", "#b3de69",
                    "#fccde5", "#bc80bd", "#ccebc5", "#ffed6f", "#1b9e77", "#d95f02")
_DESIGNATION_COLOURS = ("#e6550d", "#3182bd", "#31a354", "#756bb1", "#d6616b", "#8c6d31")

#: Fisher–Jenks runs on at most this many values (an evenly spaced sample of the sorted
#: values: deterministic, unlike mapclassify's random ``FisherJenksSampled``).
_FISHER_JENKS_MAX = 2000
#: Text that means "no value" in a key column (pandas 3 keeps missing values missing)
_BLANK = {"nan": "", "NaN": "", "None": "", "<NA>": ""}
#: Columns of the county outlines that name the county (the first present is used).
_COUNTY_NAME_COLUMNS = ("county", "name", "county_name", "NAME", "名称", "县区")
#: A page element that would load from the network (``save_map`` refuses it).
_EXTERNAL = re.compile(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*['\"]?"
                       r"(?:https?:)?//", re.IGNORECASE)


def _heavy(name: str):
    """A heavy module (folium, matplotlib, mapclassify, pypinyin, :mod:`geo.mapelements`)
    imported when first drawn: ``import towntype`` must not load it (STYLE.md)."""
    return importlib.import_module(name)


# --------------------------------------------------------------------------- basemaps
@dataclass(frozen=True)
class Basemap:
    """A tile basemap: URL templates (with ``{key}`` for an API key) and their datum."""

    name: str
    datum: str
    tiles: tuple[tuple[str, str], ...] = ()
    subdomains: str = "abc"
    max_zoom: int = 18
    needs_key: bool = False


BASEMAPS: dict[str, Basemap] = {
    "none": Basemap("none", "wgs84"),
    "osm": Basemap("osm", "wgs84", (
        ("https://tile.openstreetmap.org/{z}/{x}/{y}.png",
         "© OpenStreetMap contributors (ODbL)"),), max_zoom=19),
    "gaode": Basemap("gaode", "gcj02", (
        ("https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
         "&x={x}&y={y}&z={z}", "© 高德地图 AutoNavi"),), subdomains="1234"),
    # Tianditu tiles are in CGCS2000, which equals WGS84 at map scale: no shift.
    # Two layers: the map (vec) and its annotation (cva).
    "tianditu": Basemap("tianditu", "wgs84", tuple(
        (f"https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
         f"&VERSION=1.0.0&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
         "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}", "© 天地图 Tianditu")
        for layer in ("vec", "cva")), subdomains="01234567", needs_key=True),
}


def _basemap(name: str, key: str | None) -> Basemap:
    if name not in BASEMAPS:
        raise InputError(f"unknown basemap {name!r}; choose one of {', '.join(BASEMAPS)} "
                         "(flag --basemap)")
    bm = BASEMAPS[name]
    if bm.needs_key and not key:
        raise InputError(f"basemap {name!r} needs your own API key: pass --tianditu-key KEY "
                         "(town_map(..., basemap_key=KEY)), or choose --basemap none")
    return bm


# --------------------------------------------------------------------- classification
def _mapclassify_bins(name: str):
    def bins(y, k, breaks):
        return np.asarray(getattr(_heavy("mapclassify"), name)(y, k=k).bins, dtype=float)
    return bins


def _fisher_jenks_bins(y, k, breaks):
    sample = np.sort(y)
    if sample.size > _FISHER_JENKS_MAX:
        picks = np.linspace(0, sample.size - 1, _FISHER_JENKS_MAX).round().astype(int)
        sample = sample[picks]
    k = min(k, np.unique(sample).size)
    with warnings.catch_warnings():  # "Numba not installed": the sample keeps it fast
        warnings.simplefilter("ignore", UserWarning)
        out = _mapclassify_bins("FisherJenks")(sample, k, breaks)
    out[-1] = max(out[-1], float(np.max(y)))
    return out


def _user_bins(y, k, breaks):
    if breaks is None or len(breaks) == 0:
        raise InputError("scheme 'user' needs breaks: give the upper class limits, "
                         "e.g. layers=[{'id': 'composite', 'scheme': 'user', "
                         "'breaks': [20, 40, 60, 80]}]")
    b = np.asarray(sorted(float(v) for v in breaks), dtype=float)
    if b[-1] < np.max(y):
        b = np.append(b, float(np.max(y)))
    return b


#: Classification schemes for numeric layers: name → ``bins(values, k, breaks)``, the
#: classes' upper bounds (the legend names a scheme by the text ``scheme_<name>``).
SCHEMES: dict[str, Callable[[np.ndarray, int, Sequence[float] | None], np.ndarray]] = {
    "quantiles": _mapclassify_bins("Quantiles"),
    "fisher_jenks": _fisher_jenks_bins,
    "equal_interval": _mapclassify_bins("EqualInterval"),
    "user": _user_bins,
}


def classify_values(values, scheme: str = "quantiles", k: int = 5,
                    breaks: Sequence[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Class numbers of ``values`` under a mapclassify scheme.

    Parameters
    ----------
    values : array-like of float
        NaN gets class -1 (no data).
    scheme : {"quantiles", "fisher_jenks", "equal_interval", "user"}
    k : int
        Number of classes (fewer when the values have fewer distinct values).
    breaks : sequence of float, optional
        Upper class limits for ``scheme="user"``.

    Returns
    -------
    bins : ndarray
        Upper limits of the classes, increasing.
    classes : ndarray of int
        Class number per value (0-based), -1 for NaN.

    Examples
    --------
    >>> bins, cls = classify_values([1, 2, 3, 10], "user", breaks=[2, 5])
    >>> bins.tolist(), cls.tolist()
    ([2.0, 5.0, 10.0], [0, 0, 1, 2])
    """
    if scheme not in SCHEMES:
        raise InputError(f"unknown classification scheme {scheme!r}; choose one of "
                         f"{', '.join(SCHEMES)}")
    y = np.asarray(values, dtype=float)
    ok = np.isfinite(y)
    classes = np.full(y.shape, -1, dtype=int)
    if not ok.any():
        return np.array([], dtype=float), classes
    # no more classes than distinct values (mapclassify would warn and do the same)
    distinct = np.unique(y[ok])
    k = max(1, min(int(k), int(distinct.size)))
    if distinct.size == 1 and scheme != "user":   # one town, or all alike: one class
        bins = distinct.astype(float)
    else:
        bins = np.unique(SCHEMES[scheme](y[ok], k, breaks))
    classes[ok] = np.minimum(np.searchsorted(bins, y[ok], side="left"), bins.size - 1)
    return bins, classes


# ------------------------------------------------------------------------------ layers
@dataclass(frozen=True)
class LayerSpec:
    """One thematic layer: its id and, for numeric layers, the classification."""

    id: str
    scheme: str | None = None
    k: int | None = None
    breaks: tuple[float, ...] | None = None

    @classmethod
    def coerce(cls, item) -> "LayerSpec":
        if isinstance(item, LayerSpec):
            return item
        if isinstance(item, str):
            return cls(item)
        if isinstance(item, Mapping):
            unknown = set(item) - {"id", "scheme", "k", "breaks"}
            if "id" not in item or unknown:
                raise InputError(f"layer {dict(item)!r}: give 'id' and optionally 'scheme', "
                                 f"'k', 'breaks' (unknown keys: {sorted(unknown)})")
            br = item.get("breaks")
            return cls(item["id"], item.get("scheme"), item.get("k"),
                       None if br is None else tuple(br))
        raise InputError(f"layer {item!r}: give a layer id string or a mapping with 'id'")


def _present(towns: pd.DataFrame, column: str) -> bool:
    if column not in towns.columns:
        return False
    col = towns[column]
    return bool(col.notna().any()) and bool((col.astype(str).str.strip() != "").any())


def _has_values(towns: pd.DataFrame, column: str) -> bool:
    return column in towns.columns and bool(
        pd.to_numeric(towns[column], errors="coerce").notna().any())


#: Layers drawn from one column each (layer id → column), after the scores.
_LAYER_COLUMNS = {"subtype": "subtype", "cluster": "cluster", "stability": "stability",
                  "declared": "declared_status", "designations": "designation_key"}


def available_layers(towns: pd.DataFrame) -> list[str]:
    """Ids of the thematic layers ``towns`` has the columns for, in display order."""
    out = ["category"] + (["subtype"] if _present(towns, "subtype") else [])
    # a score no town has (a dimension without data) is no layer: it would be all grey;
    # a score some towns lack shows them as "无数据 (no data)"
    out += [c for c in ("composite", *(f"score_{d}" for d in DIMENSIONS))
            if _has_values(towns, c)]
    return out + [lid for lid, col in _LAYER_COLUMNS.items()
                  if lid != "subtype" and _present(towns, col)]


def _text(towns: pd.DataFrame, column: str) -> pd.Series:
    if column not in towns.columns:
        return pd.Series([""] * len(towns), index=towns.index, dtype=object)
    text = towns[column].astype(object).where(towns[column].notna(), "").astype(str).str.strip()
    # object, not pandas' Arrow-backed str: the callers read the cells one by one
    return text.astype(object)


def _counted(classes, entries: list[dict]) -> tuple[list[int], list[dict], int]:
    """Class numbers, the legend ``entries`` with their counts, and the no-data count."""
    classes = np.asarray(classes, dtype=int)
    counts = np.bincount(classes[classes >= 0], minlength=len(entries))
    for e, n in zip(entries, counts):
        e["count"] = int(n)
    return classes.tolist(), entries, int((classes < 0).sum())


def _categorical(keys, entries: list[dict]) -> tuple[list[int], list[dict], dict]:
    """Class numbers of ``keys`` against legend ``entries`` (each with a ``key``)."""
    index = {e["key"]: i for i, e in enumerate(entries)}
    return [index.get(k, -1) for k in list(keys)], entries, {}


def _in_lang(towns: pd.DataFrame, column: str, lang: str) -> str:
    """``column``, or in English its ``<column>_en`` twin when the towns have one."""
    english = f"{column}_en"
    return english if lang == "en" and english in towns.columns else column


def _no_colour(palette: Mapping, key: str, column: str) -> InputError:
    """The error for a ``column`` value the palette has no colour for (static maps too)."""
    return InputError(f"value {key!r} of column {column!r} has no colour in the palette "
                      f"(palette keys: {', '.join(map(str, palette))}); add it to the "
                      "taxonomy's colours", column=column)


def _palette_entry(palette: Mapping, key: str, lang: str, column: str) -> dict:
    try:
        item = palette[key]
        return {"key": key, "label": str(item.get(lang) or item.get("zh") or key),
                "color": str(item["color"])}
    except KeyError:
        raise _no_colour(palette, key, column) from None


def _palette_layer(keys: list, order, ctx, column: str) -> tuple:
    """Classes of ``keys`` coloured from the palette, the legend in ``order``: the
    palette's keys that occur, then keys the palette lacks (→ "no colour" error)."""
    present = set(keys)
    order = [k for k in order if k in present]
    order += [k for k in dict.fromkeys(keys) if k and k not in order]
    return _categorical(keys, [_palette_entry(ctx["palette"], k, ctx["lang"], column)
                               for k in order])


def _layer_category(towns, spec, ctx) -> tuple:
    # top-level ids only (no "/"): the palette also carries subtypes and role colours
    # (central, urban) that are not categories
    return _palette_layer(_text(towns, "category").tolist(),
                          [k for k in ctx["palette"] if "/" not in str(k)], ctx, "category")


def _layer_subtype(towns, spec, ctx) -> tuple:
    cat, sub = _text(towns, "category"), _text(towns, "subtype")
    keys = [f"{c}/{s}" if s and f"{c}/{s}" in ctx["palette"] else c
            for c, s in zip(cat.tolist(), sub.tolist())]
    return _palette_layer(keys, ctx["palette"], ctx, "subtype")


def _classed_layer(classes, bins, labels, colours, note: str, **extra) -> tuple:
    """A numeric layer: one legend entry per class (label, colour), and its breaks."""
    to_hex = _heavy("matplotlib").colors.to_hex
    entries = [{"key": i, "label": text, "color": to_hex(c)}
               for i, (text, c) in enumerate(zip(labels, colours))]
    return classes, entries, {**extra, "note": note,
                              "breaks": [round(float(b), 3) for b in bins]}


def _layer_numeric(towns, spec, ctx) -> tuple:
    column, t = spec.id, ctx["t"]
    if column not in towns.columns:
        raise InputError(f"layer {column!r} needs column {column!r}, which the towns lack "
                         f"(layers available: {', '.join(available_layers(towns))})",
                         column=column)
    values = pd.to_numeric(towns[column], errors="raise").to_numpy(dtype=float)
    scheme = spec.scheme or ctx["scheme"]
    breaks = spec.breaks if spec.breaks is not None else ctx["breaks"].get(column)
    if breaks is not None and spec.scheme is None:
        scheme = "user"
    bins, classes = classify_values(values, scheme, spec.k or ctx["k"], breaks)
    if column == "composite":
        extra, ramp = {}, "YlOrRd"
    else:
        extra, ramp = {"label": t("layer_score", dim=t(f"dim_{column[6:]}"))}, "YlGnBu"
    cmap = _heavy("matplotlib").colormaps[ramp]
    colours = [cmap(x) for x in np.linspace(0.12, 0.92, max(len(bins), 1))]
    lows = np.concatenate([[np.nanmin(values)], bins[:-1]]) if len(bins) else []
    return _classed_layer(classes, bins, [f"{lo:.1f} – {hi:.1f}" for lo, hi in zip(lows, bins)],
                          colours, t(f"scheme_{scheme}"), **extra)


def _layer_cluster(towns, spec, ctx) -> tuple:
    ids = pd.to_numeric(towns["cluster"], errors="coerce")
    names = _text(towns, _in_lang(towns, "cluster_name", ctx["lang"]))
    keys = pd.Series([("" if pd.isna(i) else str(int(i))) for i in ids], index=towns.index,
                     dtype=object)
    name = names.groupby(keys).first()      # each cluster's name: its first town's
    entries = [{"key": k, "label": f"{k} · {name[k]}" if name[k] else k,
                "color": _CLUSTER_COLOURS[n % len(_CLUSTER_COLOURS)]}
               for n, k in enumerate(sorted({k for k in keys if k}, key=int))]
    return _categorical(keys, entries)


#: Legends of the stability and declared-category layers (``label``: a key of the map's
#: texts; the stability labels name :data:`STABILITY_LIMITS`).
_STABILITY = ({"key": "stable", "label": "stable", "color": "#1a9850"},
              {"key": "moderate", "label": "moderate", "color": "#fee08b"},
              # uncertain towns are marked twice: colour and a dashed dark outline
              {"key": "uncertain", "label": "uncertain", "color": "#d73027",
               "stroke": "#111111", "weight": 2.2, "dash": "4 3"})
_DECLARED = ({"key": "supported", "label": "declared_supported", "color": "#1a9850"},
             {"key": "partly supported", "label": "declared_partly", "color": "#fee08b"},
             {"key": "not supported", "label": "declared_not", "color": "#d73027",
              "stroke": "#111111", "weight": 2.2},
             {"key": "", "label": "declared_none", "color": "#f0f0f0"})


def _layer_stability(towns, spec, ctx) -> tuple:
    v = pd.to_numeric(towns["stability"], errors="coerce").to_numpy(dtype=float)
    lo, hi = STABILITY_LIMITS
    keys = np.select([np.isnan(v), v < lo, v < hi], ["", "uncertain", "moderate"],
                     "stable").tolist()
    return _categorical(keys, [{**e, "label": ctx["t"](e["label"], lo=lo, hi=hi)}
                               for e in _STABILITY])


def _layer_declared(towns, spec, ctx) -> tuple:
    return _categorical(_text(towns, "declared_status"),
                        [{**e, "label": ctx["t"](e["label"])} for e in _DECLARED])


def _layer_designations(towns, spec, ctx) -> tuple:
    """官方称号 by ``designation_key`` (a designation, ``multiple`` or empty), outlined;
    in English the legend reads ``designation_key_en`` when present."""
    t = ctx["t"]
    keys = _text(towns, "designation_key")
    names = sorted(k for k in set(keys) if k and k != "multiple")
    en = dict(zip(keys, _text(towns, "designation_key_en"))) if ctx["lang"] != "zh" else {}
    entries = [{"key": k, "label": en.get(k) or k, "color": _DESIGNATION_COLOURS[i % 6],
                "stroke": "#111111", "weight": 2.5} for i, k in enumerate(names)]
    if "multiple" in set(keys):
        entries.append({"key": "multiple", "label": t("designation_multiple"),
                        "color": "#636363", "stroke": "#111111", "weight": 2.5})
    entries.append({"key": "", "label": t("designation_none"), "color": "#f7f7f7"})
    return _categorical(keys, entries)


def _layer_change(towns, spec, ctx) -> tuple:
    """Category change between two runs (column ``change``); colours from the palette."""
    keys = _text(towns, "change")
    present = set(keys)
    return _categorical(keys, [_palette_entry(ctx["palette"], k, ctx["lang"], "change")
                               for k in CHANGE_KEYS if k in present])


def _layer_composite_change(towns, spec, ctx) -> tuple:
    """Composite change (column ``composite_change``), diverging classes around 0."""
    values = pd.to_numeric(towns["composite_change"], errors="raise").to_numpy(dtype=float)
    bins, classes = classify_values(values, "user", breaks=spec.breaks or CHANGE_BREAKS)
    # red (fell) → pale (the class holding 0) → green (rose), equal steps either side
    zero = int(min(np.searchsorted(bins, 0.0), len(bins) - 1))
    side = max(zero, len(bins) - 1 - zero, 1)
    colours = _heavy("matplotlib").colormaps["RdYlGn"](
        0.5 + 0.45 * (np.arange(len(bins)) - zero) / side)
    labels = [f"≤ {bins[0]:+.1f}", *(f"{lo:+.1f} – {hi:+.1f}" for lo, hi in zip(bins, bins[1:]))]
    return _classed_layer(classes, bins, labels, colours, ctx["t"]("scheme_user"))


_LAYER_BUILDERS = {
    "change": _layer_change,
    "composite_change": _layer_composite_change,
    "category": _layer_category,
    "subtype": _layer_subtype,
    "composite": _layer_numeric,
    **{f"score_{d}": _layer_numeric for d in DIMENSIONS},
    "cluster": _layer_cluster,
    "stability": _layer_stability,
    "declared": _layer_declared,
    "designations": _layer_designations,
}


def _build_layer(towns, spec: LayerSpec, ctx) -> dict:
    builder = _LAYER_BUILDERS.get(spec.id)
    if builder is None:
        raise InputError(f"unknown map layer {spec.id!r}; choose from "
                         f"{', '.join(_LAYER_BUILDERS)}")
    needs = _LAYER_COLUMNS.get(spec.id)
    if needs and needs not in towns.columns:
        raise InputError(f"map layer {spec.id!r} needs column {needs!r}, which the towns "
                         f"lack (layers available: {', '.join(available_layers(towns))})",
                         column=needs)
    classes, entries, extra = builder(towns, spec, ctx)
    classes, legend, missing = _counted(classes, entries)
    # named by its text ``layer_<id>`` unless the builder names it
    return {"id": spec.id, "label": ctx["t"](f"layer_{spec.id}"), **extra,
            "classes": classes, "legend": legend, "missing": missing}


# ---------------------------------------------------------------------------- geometry
def encode_geometries(geoms, precision: int = 5) -> list:
    """Quantise and delta-encode polygons for the map payload.

    Each geometry becomes ``[[ring, …], …]`` (polygons → rings) where a ring is a flat
    integer list ``[x0, y0, dx1, dy1, …]`` in units of ``10**-precision`` degree; the
    deltas run on through the whole geometry.  Closing points, repeated points after
    rounding and rings that collapse below three points are dropped.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> encode_geometries([box(0, 0, 0.001, 0.002)], precision=3)
    [[[[1, 0, 0, 2, -1, 0, 0, -2]]]]
    """
    arr = np.asarray(geoms, dtype=object)
    out: list = [[] for _ in range(len(arr))]
    parts, part_geom = shapely.get_parts(arr, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
    if not len(coords):
        return out
    q = np.round(coords * 10 ** precision).astype(np.int64)
    new_ring = _starts(coord_ring)
    last = np.r_[new_ring[1:], True]
    repeat = np.r_[False, np.all(q[1:] == q[:-1], axis=1)] & ~new_ring
    keep = ~last & ~repeat                          # drop closing and repeated points
    count = np.bincount(coord_ring[keep], minlength=len(rings))
    keep &= count[coord_ring] >= 3                  # drop collapsed rings
    if not keep.any():
        return out
    q, coord_ring = q[keep], coord_ring[keep]
    first = _starts(part_geom[ring_part[coord_ring]])
    delta = np.diff(q, axis=0, prepend=np.zeros((1, 2), np.int64))
    delta[first] = q[first]                         # each geometry starts absolute
    flat = delta.ravel().tolist()
    bounds = np.flatnonzero(_starts(coord_ring))
    ends = np.r_[bounds[1:], len(q)]
    ring_ids = coord_ring[bounds]
    is_exterior = _starts(ring_part)[ring_ids]
    prev_part = -1
    for start, end, rid, ext in zip(bounds.tolist(), ends.tolist(), ring_ids.tolist(),
                                    is_exterior.tolist()):
        part = int(ring_part[rid])
        ring = flat[2 * start:2 * end]
        if part != prev_part:
            if not ext:   # the exterior collapsed: holes of a vanished part are dropped
                continue
            out[part_geom[part]].append([ring])
            prev_part = part
        else:
            out[part_geom[part]][-1].append(ring)
    return out


def _starts(ids: np.ndarray) -> np.ndarray:
    """True where a run of equal ``ids`` (non-empty) begins."""
    return np.r_[True, ids[1:] != ids[:-1]]


def _label_zoom(geoms) -> int:
    """Smallest web-map zoom at which a median town is about 60 px wide."""
    b = shapely.bounds(np.asarray(geoms, dtype=object))
    width = float(np.nanmedian(np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])))
    if not np.isfinite(width) or width <= 0:
        return 10
    z = np.log2(60 * 360 / (256 * width))
    return int(np.clip(np.ceil(z), 3, 16))


# --------------------------------------------------------------------------- texts
@lru_cache(maxsize=1)
def _labels() -> dict:
    path = resources.files("geo").joinpath("assets", "labels.json")
    return json.loads(path.read_text(encoding="utf-8"))


def _translator(lang: str, wording: Callable[[str], str] | None = None):
    """``t(key)``: the map's text of ``key`` in ``lang``; ``wording`` rewrites it for
    another unit level (镇街 → 县（市、区）, :meth:`classify.levels.Level.reword`)."""
    table = _labels()
    if lang not in table:
        raise InputError(f"unknown language {lang!r}; choose one of {', '.join(table)} "
                         "(flag --lang)")

    def t(key: str, **fmt) -> str:
        text = table[lang].get(key, key)
        text = wording(text) if wording is not None else text
        return text.format(**fmt) if fmt else text
    return t


def _pinyin(names: Sequence[str]) -> tuple[list[str], list[str]]:
    """Full pinyin and initials of each name, for search (``连州镇`` → ``lianzhouzhen``,
    ``lzz``)."""
    if len(names) == 0:
        return [], []
    # each distinct name once (town names repeat across counties), in one pass,
    # newline-separated (pinyin never contains one, and a non-Chinese character ends
    # pypinyin's phrase segmentation); characters without pinyin come back marked so the
    # initials keep them whole
    rows, unique = pd.factorize(pd.Series([str(n).replace("\n", " ") for n in names],
                                          dtype=object))
    items = _heavy("pypinyin").lazy_pinyin("\n".join(unique),
                                           errors=lambda chars: ["\0" + chars])
    full = "".join(i[1:] if i.startswith("\0") else i for i in items)
    initials = "".join(i[1:] if i.startswith("\0") else i[:1] for i in items)

    def split(joined: str) -> list[str]:
        words = joined.lower().replace(" ", "").split("\n")
        return [words[i] for i in rows]
    return split(full), split(initials)


def _numbers(values, digits: int | None = None) -> list:
    """Numbers for the payload: finite values as JSON numbers (``digits`` decimals, or
    about seven significant digits — more than any sheet prints, so the browser rounds
    half up exactly as the sheets do), NaN as ``null``, whole numbers without ``.0``."""
    v = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(v)
    if digits is None:
        a = np.abs(np.where(ok, v, 0.0))
        d = np.select([a < 10, a < 100, a < 1e4, a < 1e9], [4, 3, 2, 1], 0)
        r = v.copy()
        for k in range(5):
            r[d == k] = np.round(v[d == k], k)
    else:
        r = np.round(v, digits)
    out = r.astype(object)
    whole = ok & (r == np.round(r)) & (np.abs(r) < 2 ** 53)
    out[whole] = r[whole].astype(np.int64)
    out[~ok] = None
    return out.tolist()


def _coded(texts: Sequence[str]) -> dict:
    """Repeated text as a dictionary and an index per town (-1: none)."""
    words: dict[str, int] = {}
    idx = [-1 if not x else words.setdefault(x, len(words)) for x in texts]
    return {"dict": list(words), "v": idx}


def _indicator_specs(indicators) -> list[tuple[str, str, str, str]]:
    """``(column, label, unit, group)`` of each popup indicator."""
    if indicators is None:
        return []
    items = indicators.items() if isinstance(indicators, Mapping) else \
        ((c, c) for c in indicators)
    out = []
    for column, spec in items:
        if isinstance(spec, Mapping):
            out.append((str(column), str(spec.get("label") or column),
                        str(spec.get("unit") or ""), str(spec.get("group") or "")))
        else:
            out.append((str(column), str(spec), "", ""))
    return out


def _popup_payload(towns: pd.DataFrame, t, lang: str, indicators) -> dict:
    """The popup's evidence as columns ``{"label", "kind", "v"}``, formatted in the
    browser (towntype.js) by ``kind``: ``score``, ``rank``, ``share``, ``text`` and
    ``towns`` (``dict`` + indices), ``value`` (an indicator, with ``unit`` and ``group``)."""
    def text(label: str, column: str) -> dict:
        return {"label": label, "kind": "text",
                **_coded(_text(towns, column).replace(_BLANK).tolist())}

    def numbers(label: str, kind: str, column: str, digits: int, **extra) -> dict:
        return {"label": label, "kind": kind, **extra, "v": _numbers(towns[column], digits)}

    cols: list[dict] = []
    if "composite" in towns.columns:
        cols.append(numbers(t("info_composite"), "score", "composite", 1))
    if "rank" in towns.columns:
        cols.append(numbers(t("info_rank"), "rank", "rank", 0,
                            n=int(_text(towns, "category").ne("").sum())))
    cols += [numbers(t("info_score", dim=t(f"dim_{d}")), "score", f"score_{d}", 1)
             for d in DIMENSIONS if _has_values(towns, f"score_{d}")]
    if "group_rank" in towns.columns:   # rank in the level's groupings (counties: region)
        cols.append(text(t("info_group_rank"), "group_rank"))
    if "stability" in towns.columns:
        cols.append(numbers(t("info_confidence"), "share", "stability", 2))
    if "cluster_name" in towns.columns:
        cols.append(text(t("info_cluster"), _in_lang(towns, "cluster_name", lang)))
    if "declared" in towns.columns:
        dec, st = _text(towns, "declared"), _text(towns, "declared_status")
        left, right = ("（", "）") if lang == "zh" else (" (", ")")
        cols.append({"label": t("info_declared"), "kind": "text", **_coded(
            [f"{d}{left}{s}{right}" if d and s else d for d, s in zip(dec, st)])})
    col = _in_lang(towns, "designations", lang)
    if col in towns.columns:
        cols.append(text(t("info_designations"), col))
    if "benchmarks" in towns.columns:
        names = [[x for x in b.split(";") if x] for b in _text(towns, "benchmarks")]
        words: dict[str, int] = {}
        v = [[words.setdefault(x, len(words)) for x in row] for row in names]
        cols.append({"label": t("info_benchmarks"), "kind": "towns", "dict": list(words),
                     "v": v})
    for column, label, unit, group in _indicator_specs(indicators):
        if column not in towns.columns:
            raise InputError(f"popup indicator {column!r} is not a column of the towns "
                             f"(columns: {', '.join(map(str, towns.columns))})",
                             column=column)
        cols.append({"label": label, "kind": "value", "unit": unit, "group": group,
                     "v": _numbers(towns[column])})
    return {"cols": cols}


# --------------------------------------------------------------------------- the map
def _check_towns(towns) -> None:
    if not isinstance(towns, gpd.GeoDataFrame) or towns.geometry is None:
        raise InputError("town_map needs a GeoDataFrame of town polygons (got "
                         f"{type(towns).__name__})")
    if len(towns) == 0:
        raise InputError("town_map got no towns: the joined table is empty; check the "
                         "join report")
    if towns.crs is None or not towns.crs.is_geographic or towns.crs.to_epsg() != 4326:
        raise InputError(f"town_map needs longitude/latitude in EPSG:4326, got "
                         f"{towns.crs}: use .to_crs(4326) (or .set_crs(4326) if the "
                         "coordinates are already lon/lat)")
    for col in ("town_code", "town", "category"):
        if col not in towns.columns:
            raise InputError(f"town_map needs column {col!r}; columns present: "
                             f"{', '.join(map(str, towns.columns))}", column=col)
    bad = towns.geometry.isna() | towns.geometry.is_empty
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"town {towns['town'].iloc[i]!r} ({towns['town_code'].iloc[i]}) "
                         "has no geometry; drop it or repair the boundary file",
                         feature=i)
    kinds = towns.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    if not kinds.all():
        i = int(np.flatnonzero(~kinds)[0])
        raise InputError(f"town {towns['town'].iloc[i]!r} ({towns['town_code'].iloc[i]}) is "
                         f"a {towns.geometry.iloc[i].geom_type}, not a polygon: the map "
                         "draws town areas (approximate them from seats with "
                         "`towntype boundaries approximate`)", feature=i)


def town_map(towns, *, palette: Mapping[str, Mapping[str, str]], layers=None,
             title: str, subtitle: str | None = None, notice: str | None = None,
             attribution: Sequence[str] = (), basemap: str = "none", counties=None,
             lang: str = "zh", datum: str = "wgs84", suggestion_links=None,
             scheme: str = "quantiles", k: int = 5,
             breaks: Mapping[str, Sequence[float]] | None = None,
             basemap_key: str | None = None, date: str | None = None,
             indicators: Mapping[str, str] | Sequence[str] | None = None,
             precision: int = 5, tolerance: float | None = None,
             coverage: DisplayCoverage | None = None, unjoined=None,
             compress: bool | None = None, wording: Callable[[str], str] | None = None):
    """An offline interactive map of classified towns.

    Parameters
    ----------
    towns : GeoDataFrame (EPSG:4326)
        One row per town with ``town_code``, ``town``, ``category`` and optionally
        ``county``, ``subtype``, ``score_<dim>``, ``composite``, ``rank``, ``cluster``,
        ``cluster_name``, ``stability``, ``declared``, ``declared_status``,
        ``benchmarks`` (``;``-joined names).
    palette : mapping
        ``{id: {"zh", "en", "color"}}`` keyed by category id and ``category/subtype``.
    layers : sequence, optional
        Thematic layers in switcher order, each an id (see :func:`available_layers`) or a
        mapping ``{"id", "scheme", "k", "breaks"}``.  The first one is shown first.
        Default: every layer the towns have columns for.
    title, subtitle, notice : str
        Shown on the map; the notice (e.g. "illustrative data") is highlighted.
    attribution : sequence of str
        Data-source lines shown on the map.
    basemap : {"none", "osm", "gaode", "tianditu"}
        ``gaode`` shifts the displayed geometry to GCJ-02; ``tianditu`` needs
        ``basemap_key``.
    counties : GeoDataFrame, optional
        County outlines (EPSG:4326, same datum as ``towns``).
    lang : {"zh", "en"}
    datum : str
        Datum of the input coordinates (``wgs84``, ``gcj02``, ``bd09``).
    suggestion_links : bool or str, optional
        ``True`` links each popup to ``suggestions/<town_code>.html``; a string is used as
        the link template (``{town_code}`` is replaced).
    scheme, k, breaks
        Default classification of numeric layers (``breaks``: ``{column: limits}``).
    basemap_key : str, optional
        API key for basemaps that need one.
    date : str, optional
        Map date shown on the map (default: today).
    precision : int
        Decimal places of the stored coordinates (5 ≈ 1 m).
    indicators : mapping or sequence, optional
        Indicators shown in the popup with their rank among the towns, in this order:
        ``{column: label}`` (e.g. ``{"gdp": "地区生产总值（万元）"}``) or
        ``{column: {"label", "unit", "group"}}`` — the unit formats the value as the
        sheets do (万元 → 亿元), the group (a dimension) heads its rows.
    tolerance : float, optional
        Simplification tolerance in degrees (default: about a pixel at two zoom levels
        past the label zoom; 0 keeps every vertex).
    coverage : geo.coverage.DisplayCoverage, optional
        The towns' geometry then the ``unjoined`` features' (in ``datum``), prepared for
        drawing once for this map and the static maps; made here when not given.
    unjoined : GeoDataFrame, optional
        Boundary features without a row of the table (or excluded): ``town_code``,
        ``town``, optionally ``county`` and ``reason`` (shown in the popup, e.g.
        "无指标数据：未在指标表中找到").  They are drawn in the no-data grey in every layer
        and counted in the legend, so the map has no holes.
    compress : bool, optional
        Store the payload gzip-compressed (base64), unpacked by the browser.  Default:
        from :attr:`geo.mapelements.TownLayer.COMPRESS_FROM` characters of payload.
    wording : callable, optional
        Rewrites each interface text for another unit level (``镇街名称`` →
        ``县（市、区）名称``); default the town wording.

    Returns
    -------
    folium.Map
    """
    _check_towns(towns)
    bm = _basemap(basemap, basemap_key)
    t = _translator(lang, wording)
    towns = towns.reset_index(drop=True)
    n_joined = len(towns)
    towns = _with_unjoined(towns, unjoined, t)
    no_row = np.arange(len(towns)) >= n_joined
    ctx = {"palette": palette, "lang": lang, "t": t, "scheme": scheme, "k": k,
           "breaks": dict(breaks or {})}
    specs = [LayerSpec.coerce(x) for x in (available_layers(towns) if layers is None
                                           else layers)]
    if not specs:
        raise InputError("layers is empty: give at least one layer id, e.g. ['category']")
    if coverage is None:
        coverage = DisplayCoverage(towns.geometry)
    elif len(coverage) != len(towns):
        raise InputError(f"coverage has {len(coverage)} polygons for {len(towns)} towns "
                         "(with the unjoined features): give DisplayCoverage of the towns' "
                         "geometry followed by the unjoined features'")
    # Fisher-Jenks silences a warning process-wide (_fisher_jenks_bins): such layers are
    # built before the geometry thread starts, so no warning of that thread is lost
    def build_layers() -> list[dict]:
        return [_without(_build_layer(towns, s, ctx), no_row) for s in specs]

    early = any((s.scheme or scheme) == "fisher_jenks" for s in specs)
    layer_defs = build_layers() if early else None
    # GEOS releases the GIL: the geometry (cleaning, simplification: seconds for a
    # national map) is prepared on a second thread while this one builds the attributes
    with ThreadPoolExecutor(max_workers=1) as pool:
        geometry = pool.submit(_geometry_payload, coverage, counties, datum, bm, precision,
                               tolerance)
        layer_defs = layer_defs or build_layers()
        attributes = _attribute_payload(towns, t, lang, indicators)
        data = geometry.result()
    links = "suggestions/{town_code}.html" if suggestion_links is True else suggestion_links
    data.update({
        **attributes, "layers": layer_defs, "defaultLayer": layer_defs[0]["id"],
        "tooltipLayer": "category" if any(d["id"] == "category" for d in layer_defs)
        else layer_defs[0]["id"],
        "noData": {"color": _NO_DATA}, "maxLabels": 400,
        "noRow": {"color": _NO_DATA, "stroke": "#707070", "weight": 1.2, "dash": "3 3"},
        "unjoined": int(no_row.sum()), "lang": lang,
        # over tiles the fill lets the basemap show through
        "fillOpacity": 0.85 if not bm.tiles else 0.55,
        "links": links or None,
        "meta": {"basemap": bm.name, "display_datum": bm.datum, "data_datum": datum},
        "i18n": {key: t(key) for key in ("layers", "counties", "labels", "search",
                                         "not_found", "fullscreen", "suggestions",
                                         "no_sheet", "no_data", "no_row", "missing")},
    })
    meta_line = " · ".join([
        f"{t('basemap')}: {t('basemap_' + bm.name)}",
        f"{t('datum')}: {bm.datum.upper()}",
        f"{t('data_datum')}: {datum.upper()}",
        f"{t('date')}: {date or _dt.date.today().isoformat()}",
    ])
    return _assemble(data, bm, basemap_key, compress, title=title, subtitle=subtitle,
                     notice=notice, meta=meta_line,
                     attribution=[str(a) for a in attribution])


def _with_unjoined(towns, unjoined, t):
    """``towns`` followed by the boundary features without a table row (no category)."""
    if unjoined is None or len(unjoined) == 0:
        return towns
    if not isinstance(unjoined, gpd.GeoDataFrame):
        raise InputError("unjoined must be a GeoDataFrame of boundary features (got "
                         f"{type(unjoined).__name__})")
    u = unjoined.to_crs(towns.crs) if unjoined.crs is not None else unjoined.set_crs(towns.crs)
    u = u[~(u.geometry.isna() | u.geometry.is_empty)
          & u.geometry.geom_type.isin(["Polygon", "MultiPolygon"])].reset_index(drop=True)
    keep = [c for c in ("town_code", "town", "county") if c in u.columns]
    extra = gpd.GeoDataFrame(u[keep].assign(**{towns.geometry.name: u.geometry.to_numpy()}),
                             geometry=towns.geometry.name, crs=towns.crs)
    reason = _text(u, "reason").replace(_BLANK)
    extra["no_data_reason"] = reason.where(reason != "", t("no_row")).to_numpy()
    return gpd.GeoDataFrame(pd.concat([towns, extra], ignore_index=True),
                            geometry=towns.geometry.name, crs=towns.crs)


def _without(layer: dict, no_row: np.ndarray) -> dict:
    """The layer with the features without a table row taken out of every class
    (drawn grey, counted apart in the legend)."""
    if not no_row.any():
        return layer
    classes = np.asarray(layer["classes"])
    classes[no_row] = -1
    layer["classes"], layer["legend"], missing = _counted(classes, layer["legend"])
    layer["missing"] = missing - int(no_row.sum())
    return layer


def _geometry_payload(coverage: DisplayCoverage, counties, datum: str, bm: Basemap,
                      precision: int, tolerance: float | None) -> dict:
    """Display geometry: coverage-simplified, shifted to the basemap's datum (shared
    vertices move alike: still a coverage), encoded."""
    geoms = coverage.geoms
    label_zoom = _label_zoom(geoms)
    if tolerance is None:
        tolerance = 360 / (256 * 2 ** (label_zoom + 2))
    simple = drop_specks(_shift(coverage.simplified(tolerance), datum, bm.datum),
                         tolerance ** 2)
    scale = 10 ** precision
    label_pts = _shift(shapely.point_on_surface(geoms), datum, bm.datum)
    label_pts = np.round(shapely.get_coordinates(label_pts) * scale)
    minx, miny, maxx, maxy = shapely.total_bounds(simple)
    data = {"n": len(geoms), "scale": scale, "geom": encode_geometries(simple, precision),
            "labels": label_pts.astype(np.int64).tolist(), "labelZoom": label_zoom,
            "bounds": [[miny, minx], [maxy, maxx]]}
    if counties is not None and len(counties):
        cg = _shift(counties.geometry.to_numpy(), datum, bm.datum, counties.crs)
        data["counties"] = {"geom": encode_geometries(simplify_coverage(cg, tolerance),
                                                      precision)}
        name = next((c for c in _COUNTY_NAME_COLUMNS if c in counties.columns), None)
        if name is not None:        # county names, written below the town-label zoom
            pts = shapely.point_on_surface(cg)
            data["counties"]["names"] = _text(counties, name).replace(_BLANK).tolist()
            data["counties"]["labels"] = np.round(
                shapely.get_coordinates(pts) * scale).astype(np.int64).tolist()
    return data


def _shift(geoms: np.ndarray, datum: str, display: str, crs=4326) -> np.ndarray:
    """Geometries moved from the data's datum to the display datum (as given if equal)."""
    if datum == display:
        return geoms
    return convert_geoseries(gpd.GeoSeries(geoms, crs=crs), datum, display).to_numpy()


def _attribute_payload(towns, t, lang: str, indicators) -> dict:
    """Names, search keys and popup evidence per town."""
    names = _text(towns, "town").replace(_BLANK).tolist()
    pinyin, initials = _pinyin(names)
    codes = _text(towns, "town_code").replace(_BLANK)
    props = {"code": codes.where(codes != "", t("unknown_code")).tolist(),
             "name": [n or t("unknown_town") for n in names],
             "pinyin": pinyin, "initials": initials}
    if "sheet" in towns.columns:       # sheet file names (codes may be missing or repeated)
        sheets = _text(towns, "sheet").replace(_BLANK)
        joined = towns["no_data_reason"].isna() if "no_data_reason" in towns.columns \
            else pd.Series(True, index=towns.index)
        if "has_sheet" in towns.columns:    # not written (``--sheets``): no dead link
            sheets = sheets.where(towns["has_sheet"].fillna(False).astype(bool), "")
        # only when some differ from the code (the usual file name): 40,000 names saved
        if (sheets[joined] != codes[joined]).any():
            props["sheet"] = sheets.tolist()
    if "county" in towns.columns:
        county = _text(towns, "county").replace(_BLANK)
        props["county"] = _coded(county.where(county != "", t("unknown_county")).tolist())
    if "no_data_reason" in towns.columns:
        props["reason"] = _coded(_text(towns, "no_data_reason").replace(_BLANK).tolist())
    return {"props": props, "popup": _popup_payload(towns, t, lang, indicators)}


def _assemble(data: dict, bm: Basemap, key: str | None, compress: bool | None, **info):
    """The folium map: inlined assets, tiles, the town layer and its controls."""
    folium = _heavy("folium")
    me = _heavy("geo.mapelements")

    (miny, minx), (maxy, maxx) = data["bounds"]
    m = me.OfflineMap(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=8,
                      tiles=None, prefer_canvas=True, control_scale=False,
                      max_zoom=bm.max_zoom)
    m._id = "towntype"          # fixed element names: the same input gives the same page
    m.get_root().title = info["title"]
    tiles = [folium.TileLayer(tiles=url.replace("{key}", key or ""), attr=attr,
                              subdomains=bm.subdomains, max_zoom=bm.max_zoom, name=bm.name)
             for url, attr in bm.tiles]
    layer = me.TownLayer(data, compress=compress)
    for i, element in enumerate([
            me.InlineAssets(), *tiles, layer, me.InfoBox(layer, position="bottomleft", **info),
            me.ScaleBar("bottomleft"), me.Search(layer, position="topleft"),
            me.Fullscreen(layer, position="topleft"),
            me.LayerSwitcher(layer, position="topright"),
            me.Legend(layer, position="bottomright")]):
        element._id = f"tt{i}"
        m.add_child(element)
    return m


def save_map(m, path: str | Path) -> Path:
    """Write the map as one self-contained HTML file (UTF-8) and return its path.

    Raises
    ------
    geo.errors.TowntypeError
        If the page would load a script, stylesheet or image from the network (an
        element added without inlining its assets).
    """
    html = m.get_root().render()
    hit = _EXTERNAL.search(html)
    if hit:
        raise TowntypeError(f"the map would load {hit.group(0)!r}… from the network; "
                            "inline the asset (geo.mapelements) instead of linking it")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
