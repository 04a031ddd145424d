"""Town polygons: repair, dissolve, areas, label points, gaps and overlaps.

Areas are measured in an equal-area projection centred on the data
(:func:`equal_area_crs`), never in degrees; problems are measured and reported, not
silently cleaned.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

__all__ = ["equal_area_crs", "areas_km2", "label_points", "drop_zm", "repair",
           "dissolve_by_code", "gaps_and_overlaps", "AREA_CHANGE_LIMIT"]

#: Relative area change above which a repair is reported as a problem.
AREA_CHANGE_LIMIT = 0.01


def equal_area_crs(gdf) -> CRS:
    """Lambert azimuthal equal-area CRS centred on the data's bounding box (lon/lat data)."""
    geo = gdf.to_crs(4326) if gdf.crs is not None and not gdf.crs.is_geographic else gdf
    minx, miny, maxx, maxy = geo.total_bounds
    lon0, lat0 = (minx + maxx) / 2, (miny + maxy) / 2
    if not np.isfinite([lon0, lat0]).all():
        lon0, lat0 = 113.0, 23.0
    return CRS.from_proj4(f"+proj=laea +lat_0={lat0:.4f} +lon_0={lon0:.4f} +x_0=0 +y_0=0 "
                          "+ellps=WGS84 +units=m +no_defs")


def areas_km2(gdf) -> pd.Series:
    """Area of each geometry in km², computed in an equal-area projection."""
    if gdf.crs is None:
        raise ValueError("areas need a CRS; set one with .set_crs(...) first")
    return gdf.geometry.to_crs(equal_area_crs(gdf)).area / 1e6


def label_points(gdf) -> pd.DataFrame:
    """``label_lon``/``label_lat`` of a point guaranteed inside each polygon
    (:meth:`representative_point`), in EPSG:4326."""
    pts = gdf.geometry.representative_point()
    if gdf.crs is not None and not gdf.crs.equals(CRS.from_epsg(4326)):
        pts = pts.to_crs(4326)
    return pd.DataFrame({"label_lon": pts.x.to_numpy(), "label_lat": pts.y.to_numpy()},
                        index=gdf.index)


def drop_zm(geoms: np.ndarray) -> tuple[np.ndarray, int]:
    """Geometries forced to 2-D; also returns how many had Z values."""
    geoms = np.asarray(geoms)
    n_z = int(shapely.has_z(geoms).sum())
    return (shapely.force_2d(geoms) if n_z else geoms), n_z


def polygon_parts(geom) -> list:
    """The non-empty polygons of any geometry (``make_valid`` and clipping can return
    collections with slivers of lines or points, which carry no area)."""
    out = []
    for part in shapely.get_parts(geom):
        if part.geom_type == "Polygon":
            if not part.is_empty:
                out.append(part)
        elif part.geom_type in ("MultiPolygon", "GeometryCollection"):
            out.extend(polygon_parts(part))
    return out


def _polygonal(geom):
    """The polygon parts of a geometry as one (Multi)Polygon."""
    if geom is None or geom.is_empty or geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    polys = polygon_parts(geom)
    if not polys:
        return shapely.Polygon()
    return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)


def repair(gdf, *, labels=None) -> tuple[object, pd.DataFrame]:
    """Repair invalid polygons with ``make_valid``, keeping the polygon parts.

    Parameters
    ----------
    gdf : GeoDataFrame
    labels : sequence of str, optional
        Name of each feature for the log (default the feature index).

    Returns
    -------
    repaired : GeoDataFrame (a copy)
    log : DataFrame
        One row per feature: ``feature``, ``label``, ``valid_before``, ``reason``,
        ``area_before_km2``, ``area_after_km2``, ``area_change`` (relative) and
        ``problem`` (True when the change exceeds :data:`AREA_CHANGE_LIMIT` or the
        geometry is empty).
    """
    geoms = np.asarray(gdf.geometry.values)
    valid = shapely.is_valid(geoms)
    reasons = [("" if ok else shapely.is_valid_reason(g)) for g, ok in zip(geoms, valid)]
    fixed = geoms.copy()
    fixed[~valid] = [_polygonal(g) for g in shapely.make_valid(geoms[~valid])]
    out = gdf.copy()
    out[gdf.geometry.name] = fixed
    ea = equal_area_crs(gdf)
    # The area of an invalid polygon (e.g. a bow-tie) is ill-defined; shoelace area of the
    # exterior is what desktop GIS shows, so that is the "before".
    before = gdf.geometry.to_crs(ea).area.to_numpy() / 1e6
    after = out.geometry.to_crs(ea).area.to_numpy() / 1e6 if not valid.all() else before.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.where(before > 0, (after - before) / before, np.where(after > 0, 1.0, 0.0))
    empty = shapely.is_empty(fixed) | pd.isna(fixed)
    log = pd.DataFrame({
        "feature": np.arange(len(gdf)),
        "label": list(labels) if labels is not None else [str(i) for i in range(len(gdf))],
        "valid_before": valid, "reason": reasons, "area_before_km2": before,
        "area_after_km2": after, "area_change": change,
        "problem": (np.abs(change) > AREA_CHANGE_LIMIT) | empty})
    return out, log


def dissolve_by_code(gdf, code_col: str = "town_code") -> tuple[object, list[str]]:
    """Merge features that share a town code (duplicates and towns split over rows).

    Identical duplicates are dropped, split parts are unioned; attributes come from the
    first feature.  Features without a code are left alone.

    Returns
    -------
    (GeoDataFrame with one feature per code, messages)
    """
    if code_col not in gdf.columns:
        return gdf, []
    codes = gdf[code_col]
    dup = codes.notna() & codes.duplicated(keep=False)
    if not dup.any():
        return gdf, []
    messages, keep, geom_name = [], np.ones(len(gdf), dtype=bool), gdf.geometry.name
    out = gdf.copy()
    positions = pd.Series(np.flatnonzero(dup.to_numpy()))
    for code, pos in positions.groupby(codes[dup].to_numpy(), sort=False):
        pos = pos.tolist()
        geoms = [out.geometry.iat[p] for p in pos]
        same = all(shapely.equals(geoms[0], g) for g in geoms[1:])
        label = out["town"].iat[pos[0]] if "town" in out.columns else code
        if same:
            messages.append(f"town {code} {label}: {len(pos)} identical features "
                            f"(features {', '.join(map(str, pos))}); duplicates dropped")
        else:
            merged = _polygonal(shapely.union_all(geoms))
            out.iloc[pos[0], out.columns.get_loc(geom_name)] = merged
            messages.append(f"town {code} {label}: split over {len(pos)} features "
                            f"(features {', '.join(map(str, pos))}); dissolved into one")
        keep[pos[1:]] = False
    return out[keep].reset_index(drop=True), messages


def _union(geoms: np.ndarray) -> tuple[object, np.ndarray]:
    """The union of the polygons, and which may share an area with another: those that pass
    GEOS's coverage check share none and are unioned as a coverage, only the others overlaid."""
    edges = shapely.coverage_invalid_edges(geoms)
    bad = ~(shapely.is_empty(edges) | shapely.is_missing(edges))
    try:
        fitting = shapely.coverage_union_all(geoms[~bad])
    except shapely.errors.GEOSException:
        return shapely.union_all(geoms), np.ones(len(geoms), dtype=bool)
    return shapely.union(fitting, shapely.union_all(geoms[bad])), bad


def _overlaps(src, geoms: np.ndarray, labels: list[str], bad: np.ndarray) -> list[tuple]:
    """``("overlap", "a;b", shape)`` for each pair of towns sharing an area: bounding-box
    neighbours with a ``bad`` town (:func:`_union`) whose interiors meet (DE-9IM
    ``T********``, cheaper than an overlay) are intersected."""
    left, right = src.sindex.query(geoms)
    keep = (left < right) & (bad[left] | bad[right])
    left, right = left[keep], right[keep]
    inner = shapely.relate_pattern(geoms[left], geoms[right], "T********")
    left, right = left[inner], right[inner]
    found = []
    for i, j, inter in zip(left, right, shapely.intersection(geoms[left], geoms[right])):
        inter = _polygonal(inter)
        if inter is not None and not inter.is_empty:
            found.append(("overlap", f"{labels[i]};{labels[j]}", inter))
    return found


def gaps_and_overlaps(gdf, *, labels=None, min_area_m2: float = 100.0) -> pd.DataFrame:
    """Measure overlaps between towns and gaps enclosed by them (equal-area CRS).

    Overlaps are pairwise intersections; gaps are holes in the union of all towns that
    no town covers (a lake or a district not in the file is listed too; the caller
    decides).  Nothing is changed.

    Returns
    -------
    DataFrame
        ``kind`` (overlap / gap), ``features`` (";"-joined labels), ``area_km2``,
        ``lon``, ``lat`` (a point inside it, EPSG:4326).
    """
    labels = list(labels) if labels is not None else [str(i) for i in range(len(gdf))]
    ea = equal_area_crs(gdf)
    # Topology in the file's own coordinates (shared vertices stay shared); areas in ea.
    src = gdf.geometry.reset_index(drop=True)
    geoms = np.asarray(src.values)
    union, bad = _union(geoms)
    found = _overlaps(src, geoms, labels, bad)
    for poly in shapely.get_parts(union):
        for ring in getattr(poly, "interiors", []):
            hole = shapely.Polygon(ring)
            touching = [labels[k] for k in src.sindex.query(hole, predicate="intersects")]
            found.append(("gap", ";".join(touching), hole))
    shapes = gpd.GeoSeries([f[2] for f in found], crs=gdf.crs)
    areas = shapes.to_crs(ea).area.to_numpy()
    rows = [(k, f, a, g) for (k, f, g), a in zip(found, areas) if a >= min_area_m2]
    if not rows:
        return pd.DataFrame(columns=["kind", "features", "area_km2", "lon", "lat"])
    pts = gpd.GeoSeries([shapely.point_on_surface(r[3]) for r in rows], crs=gdf.crs)
    pts = pts.to_crs(4326)
    return pd.DataFrame({"kind": [r[0] for r in rows], "features": [r[1] for r in rows],
                         "area_km2": [r[2] / 1e6 for r in rows],
                         "lon": pts.x.to_numpy(), "lat": pts.y.to_numpy()})
