"""Contiguity weights: libpysal Queen/Rook, islands and parts attached, never an error."""

import geopandas as gpd
import pytest
from shapely.geometry import box

from geo.contiguity import contiguity_weights
from geo.errors import InputWarning


@pytest.fixture
def grid_with_islands():
    # rows 0..8: a 3x3 grid; 9: an island 7 units right of cell 2; 10-11: a pair 7 units
    # above cells 6-7
    cells = [box(x, y, x + 1, y + 1) for y in range(3) for x in range(3)]
    cells += [box(10, 0, 11, 1), box(0, 10, 1, 11), box(1, 10, 2, 11)]
    return gpd.GeoSeries(cells)


def test_queen_and_rook_neighbours(grid_with_islands):
    queen = contiguity_weights(grid_with_islands.iloc[:9])
    rook = contiguity_weights(grid_with_islands.iloc[:9], kind="rook")
    assert sorted(queen.neighbors[4]) == [0, 1, 2, 3, 5, 6, 7, 8]
    assert sorted(rook.neighbors[4]) == [1, 3, 5, 7]
    assert sorted(queen.neighbors[0]) == [1, 3, 4]


def test_islands_and_components_attached(grid_with_islands):
    w, links = contiguity_weights(grid_with_islands, report=True)
    assert w.n_components == 1
    assert links[["i", "j", "reason"]].values.tolist() == [
        [9, 2, "island"], [10, 6, "component"]]
    assert links["distance"].tolist() == [7.0, 7.0]
    assert 2 in w.neighbors[9] and 9 in w.neighbors[2]  # symmetric
    assert sorted(w.neighbors[11]) == [10]


def test_geographic_crs_and_gdf_input(grid_with_islands):
    gdf = gpd.GeoDataFrame(geometry=grid_with_islands.scale(0.01, 0.01, origin=(0, 0))
                           .translate(113, 23), crs="EPSG:4326")
    w, links = contiguity_weights(gdf, report=True)
    assert w.n_components == 1
    assert links["reason"].tolist() == ["island", "component"]
    assert 6000 < links["distance"].iloc[0] < 8000  # metres (0.07 degrees at 23° N)


def test_missing_geometry_linked_within_group(grid_with_islands):
    geoms = gpd.GeoSeries(list(grid_with_islands.iloc[:9]) + [None])
    groups = ["a"] * 5 + ["b"] * 5
    with pytest.warns(InputWarning, match=r"1 town\(s\) without geometry \(rows 9\)"):
        w, links = contiguity_weights(geoms, groups=groups, report=True)
    assert w.n_components == 1
    assert links.values.tolist()[-1][:3] == [9, 5, "no geometry"]


def test_single_town_and_unknown_kind(grid_with_islands):
    w = contiguity_weights(grid_with_islands.iloc[:1])
    assert w.n == 1
    with pytest.raises(ValueError, match="use one of queen, rook"):
        contiguity_weights(grid_with_islands, kind="bishop")
