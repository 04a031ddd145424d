"""Town polygons prepared for drawing: cleaned once as a coverage, simplified per scale.

Simplifying each polygon on its own opens gaps and slivers between neighbours; a
:class:`DisplayCoverage` is simplified as a coverage (shared edges once) and keeps each
simplification, so the interactive and the static maps share the work.  Display only:
the data keep their geometry.
"""

from __future__ import annotations

import warnings

import numpy as np
import shapely

from geo.errors import InputWarning

__all__ = ["DisplayCoverage", "drop_specks", "simplify_coverage"]


class DisplayCoverage:
    """Polygons (lon/lat) cleaned once as a coverage and simplified per tolerance.

    Parameters
    ----------
    geoms : array-like of shapely polygons
        The towns, in drawing order (a GeoSeries or an array).
    """

    def __init__(self, geoms):
        self.geoms = np.asarray(geoms, dtype=object)
        self._clean: np.ndarray | None = None
        self._simplified: dict[float, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.geoms)

    def clean(self) -> np.ndarray:
        """The polygons as a valid coverage: as given when they are one, else cleaned
        (``shapely.coverage_clean``): the polygons with invalid edges only, or all of
        them when those then do not fit their neighbours.

        Raises ``shapely.errors.GEOSException`` when GEOS cannot clean them.
        """
        if self._clean is None:
            arr = self.geoms
            edges = shapely.coverage_invalid_edges(arr)
            bad = np.flatnonzero(~(shapely.is_empty(edges) | shapely.is_missing(edges)))
            cov = arr
            if len(bad):
                cov = arr.copy()
                cov[bad] = shapely.coverage_clean(arr[bad])
                # a subset of a valid coverage is valid: checking the cleaned polygons
                # with everything that touches them checks every pair that changed
                near = np.unique(shapely.STRtree(arr).query(arr[bad], predicate="intersects")[1])
                if not bool(shapely.coverage_is_valid(cov[near])):
                    cov = shapely.coverage_clean(arr)
            gone = shapely.is_empty(cov) | shapely.is_missing(cov)
            self._clean = np.where(gone, arr, cov)
        return self._clean

    def simplified(self, tolerance: float) -> np.ndarray:
        """Coverage-simplified at ``tolerance`` (degrees, Visvalingam–Whyatt); 0 returns
        the polygons unchanged.  Computed once per tolerance.

        If the polygons cannot be cleaned into a coverage, each is simplified on its own
        (with an :class:`~geo.errors.InputWarning`: shared edges may show hairline gaps).
        A polygon never vanishes: one simplified away keeps its own geometry.
        """
        if tolerance <= 0:
            return self.geoms
        if tolerance not in self._simplified:
            try:
                out = shapely.coverage_simplify(self.clean(), tolerance, simplify_boundary=True)
            except shapely.errors.GEOSException as exc:
                warnings.warn(f"town polygons are not a clean coverage ({exc}); simplifying "
                              "each polygon on its own, so shared edges may show hairline "
                              "gaps", InputWarning, stacklevel=3)
                out = shapely.simplify(self.geoms, tolerance, preserve_topology=True)
            gone = shapely.is_empty(out) | shapely.is_missing(out)
            self._simplified[tolerance] = np.where(gone, self.geoms, out)
        return self._simplified[tolerance]

    def finest(self, tolerance: float) -> np.ndarray:
        """The coarsest simplification made so far that is no coarser than ``tolerance``,
        or the polygons as given: geometry to draw at a scale where ``tolerance`` is
        invisible, without simplifying again."""
        fine_enough = [t for t in self._simplified if t <= tolerance]
        return self._simplified[max(fine_enough)] if fine_enough else self.geoms


def simplify_coverage(geoms, tolerance: float) -> np.ndarray:
    """Simplify polygons as a coverage: shared edges are simplified once, so neighbours
    keep common boundaries (no gaps or slivers); see :meth:`DisplayCoverage.simplified`.

    Parameters
    ----------
    geoms : array-like of shapely geometries (lon/lat degrees)
    tolerance : float
        Visvalingam–Whyatt tolerance in degrees; 0 leaves the geometry unchanged.
    """
    return DisplayCoverage(geoms).simplified(tolerance)


def drop_specks(geoms, min_area: float) -> np.ndarray:
    """Drop polygon parts smaller than ``min_area`` (square degrees) from multi-part
    geometries — clipping slivers a pixel could not show; a town keeps its largest part.
    """
    arr = np.asarray(geoms, dtype=object)
    parts, owner = shapely.get_parts(arr, return_index=True)
    area = shapely.area(parts)
    largest = np.zeros(len(arr))
    np.maximum.at(largest, owner, area)
    keep = (area >= min_area) | (area == largest[owner])
    if keep.all():
        return arr
    out = arr.copy()
    changed = np.unique(owner[~keep])
    for i in changed:
        kept = parts[(owner == i) & keep]
        out[i] = kept[0] if len(kept) == 1 else shapely.MultiPolygon(list(kept))
    return out
