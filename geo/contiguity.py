"""Contiguity spatial weights that are always connected.

Queen/Rook contiguity comes from libpysal.  Spatially constrained clustering needs one
connected graph, so islands and disconnected parts are linked to their nearest neighbour
outside their component and towns without geometry to a town of their group (county);
every added link is reported.
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from libpysal import weights
from libpysal.weights import W
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from geo.errors import InputWarning

__all__ = ["contiguity_weights", "KINDS"]

KINDS = ("queen", "rook")


def _metric(geoms: gpd.GeoSeries) -> gpd.GeoSeries:
    """Geometries in metres when the CRS is geographic (for nearest-neighbour distances)."""
    if geoms.crs is not None and geoms.crs.is_geographic and len(geoms):
        try:
            return geoms.to_crs(geoms.estimate_utm_crs())
        except Exception:  # a degenerate extent: fall back to degrees, order is what matters
            return geoms
    return geoms


def _libpysal_neighbors(geoms: gpd.GeoSeries, kind: str) -> dict[int, list[int]]:
    cls = weights.Queen if kind == "queen" else weights.Rook
    sub = gpd.GeoDataFrame(geometry=geoms.reset_index(drop=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # libpysal's island warning: we attach islands below
        w = cls.from_dataframe(sub, use_index=False, silence_warnings=True)
    return {int(k): [int(v) for v in vs] for k, vs in w.neighbors.items()}


def _components(nbrs: dict[int, set], n: int) -> np.ndarray:
    rows = [i for i, vs in nbrs.items() for _ in vs]
    cols = [j for vs in nbrs.values() for j in vs]
    g = sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    return connected_components(g, directed=False)[1]


def _nearest_outside(members, pts, tree, geoms, comp) -> tuple[int, int, float]:
    """Nearest (member, outsider) pair by representative point, refined by polygon distance."""
    n = len(pts)
    k = min(n, 8)
    while True:
        dist, idx = tree.query(pts[members], k=k)
        dist, idx = dist.reshape(len(members), -1), idx.reshape(len(members), -1)
        outside = comp[idx] != comp[members[0]]
        if outside.any() or k >= n:
            break
        k = min(n, k * 4)
    cand = [(members[r], idx[r, c]) for r, c in zip(*np.nonzero(outside))]
    best = min(cand, key=lambda p: (geoms.iloc[p[0]].distance(geoms.iloc[p[1]]), p))
    return int(best[0]), int(best[1]), float(geoms.iloc[best[0]].distance(geoms.iloc[best[1]]))


def _attach_components(nbrs, geoms, valid) -> list[tuple[int, int, str, float]]:
    """Link every component to its nearest neighbour outside it until one remains."""
    pos = np.flatnonzero(valid)
    if len(pos) < 2:
        return []
    metric = _metric(geoms.iloc[pos]).reset_index(drop=True)
    pts = shapely.get_coordinates(metric.representative_point().to_numpy())
    tree = cKDTree(pts)
    local = {a: [int(np.searchsorted(pos, b)) for b in nbrs[p]] for a, p in enumerate(pos)}
    links = []
    while True:
        comp = _components(local, len(pos))
        sizes = np.bincount(comp)
        if len(sizes) == 1:
            return links
        biggest = int(np.argmax(sizes))
        for c in range(len(sizes)):
            if c == biggest:
                continue
            members = np.flatnonzero(comp == c)
            a, b, dist = _nearest_outside(members, pts, tree, metric, comp)
            if b in local[a]:
                continue
            local[a].append(b)
            local[b].append(a)
            reason = "island" if len(members) == 1 else "component"
            links.append((int(pos[a]), int(pos[b]), reason, dist))


def _attach_missing(nbrs, valid, groups) -> list[tuple[int, int, str, float]]:
    """Towns without geometry: linked to a town of their group, else to the previous row."""
    links = []
    have = np.flatnonzero(valid)
    for i in np.flatnonzero(~valid):
        j = None
        if groups is not None:
            same = have[groups[have] == groups[i]]
            j = int(same[0]) if len(same) else None
        if j is None and len(have):
            j = int(have[np.argmin(np.abs(have - i))])
        if j is None:  # nothing has geometry: chain the rows
            j = int(i - 1) if i > 0 else (1 if len(valid) > 1 else None)
        if j is not None and j != i:
            nbrs[int(i)].add(j)
            nbrs[j].add(int(i))
            links.append((int(i), j, "no geometry", float("nan")))
    return links


def contiguity_weights(geometry, *, kind: str = "queen", groups=None, report: bool = False):
    """Queen/Rook contiguity weights over rows ``0..n-1``, made connected.

    Parameters
    ----------
    geometry : GeoSeries or GeoDataFrame
        Town polygons (any CRS; distances for attaching are taken in a local UTM zone).
    kind : {"queen", "rook"}
    groups : array-like, optional
        A group per row (e.g. county code) used to attach towns without geometry.
    report : bool
        Also return the attached links.

    Returns
    -------
    libpysal.weights.W
        Binary weights with ids ``0..n-1`` (row positions), one connected component.
    links : DataFrame (``i``, ``j``, ``reason``, ``distance``), only with ``report=True``
        ``reason`` is ``island``, ``component`` or ``no geometry``.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown contiguity kind {kind!r}; use one of {', '.join(KINDS)}")
    geoms = geometry.geometry if isinstance(geometry, gpd.GeoDataFrame) else geometry
    geoms = gpd.GeoSeries(geoms).reset_index(drop=True)
    n = len(geoms)
    valid = (~geoms.isna() & ~geoms.is_empty).to_numpy()
    nbrs: dict[int, set] = {i: set() for i in range(n)}
    pos = np.flatnonzero(valid)
    if len(pos):
        for a, vs in _libpysal_neighbors(geoms.iloc[pos], kind).items():
            nbrs[int(pos[a])].update(int(pos[v]) for v in vs)
    links = _attach_components(nbrs, geoms, valid)
    for i, j, _, _ in links:
        nbrs[i].add(j)
        nbrs[j].add(i)
    g = None if groups is None else np.asarray(pd.Series(groups).astype("string").fillna("?"))
    missing = _attach_missing(nbrs, valid, g)
    if missing:
        warnings.warn(f"{len(missing)} town(s) without geometry (rows "
                      f"{', '.join(str(i) for i, *_ in missing[:5])}) were linked to a town of "
                      "their county for contiguity; add their boundaries to fix",
                      InputWarning, stacklevel=2)
    w = W({i: sorted(v) for i, v in nbrs.items()}, id_order=list(range(n)),
          silence_warnings=True)
    if not report:
        return w
    cols = ["i", "j", "reason", "distance"]
    return w, pd.DataFrame(links + missing, columns=cols)
