"""Display coverage: cleaned once (only where needed), simplified per scale, reused."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon, box

from geo.coverage import DisplayCoverage


def _near_coverage():
    """Three cells in a row; the middle one overlaps the left by a hair and lacks the
    left cell's wiggle vertices (not a valid coverage); the right one fits exactly."""
    wiggle = [(1 + 0.001 * ((i % 2) * 2 - 1), i / 50) for i in range(51)]
    left = Polygon([(0, 0)] + wiggle + [(0, 1)])
    middle = Polygon([(0.9995, 0), (2, 0), (2, 1), (0.9995, 1)])
    right = box(2, 0, 3, 1)
    return np.array([left, middle, right], dtype=object)


def test_clean_fixes_only_the_polygons_with_invalid_edges():
    geoms = _near_coverage()
    assert not bool(shapely.coverage_is_valid(geoms))
    clean = DisplayCoverage(geoms).clean()
    assert bool(shapely.coverage_is_valid(clean))
    assert clean[2] is geoms[2]                       # fitted already: left alone
    assert shapely.area(shapely.intersection(clean[0], clean[1])) == pytest.approx(0, abs=1e-12)
    assert shapely.union_all(clean).area == pytest.approx(3.0, abs=1e-3)   # hairline gaps stay


def test_clean_falls_back_to_the_whole_coverage(monkeypatch):
    geoms = _near_coverage()
    calls = []
    real = shapely.coverage_clean

    def spy(arr, **kw):
        calls.append(len(arr))
        return real(arr, **kw)

    monkeypatch.setattr(shapely, "coverage_clean", spy)
    monkeypatch.setattr(shapely, "coverage_is_valid", lambda arr, **kw: False)
    clean = DisplayCoverage(geoms).clean()
    assert calls == [2, 3]                            # the two bad cells, then all
    monkeypatch.undo()
    assert bool(shapely.coverage_is_valid(clean))


def test_a_valid_coverage_is_not_touched():
    geoms = np.array([box(0, 0, 1, 1), box(1, 0, 2, 1)], dtype=object)
    clean = DisplayCoverage(geoms).clean()
    assert all(a is b for a, b in zip(clean, geoms))


def test_simplified_once_per_tolerance_and_finest_reuses_them():
    wiggle = [(1 + 0.001 * ((i % 2) * 2 - 1), i / 50) for i in range(51)]
    cells = [Polygon([(0, 0)] + wiggle + [(0, 1)]), Polygon([(2, 0), (2, 1)] + wiggle[::-1])]
    cov = DisplayCoverage(cells)
    assert cov.finest(0.1) is cov.geoms               # nothing made yet: as given
    fine = cov.simplified(0.05)
    assert cov.simplified(0.05) is fine               # cached
    assert shapely.get_num_coordinates(fine[0]) < shapely.get_num_coordinates(cov.geoms[0])
    assert bool(shapely.coverage_is_valid(fine))
    coarse = cov.simplified(0.2)
    assert cov.finest(0.1) is fine                    # coarse is too coarse for 0.1
    assert cov.finest(0.5) is coarse
    assert cov.finest(0.01) is cov.geoms
    assert cov.simplified(0) is cov.geoms
