"""Tests of geo.datum: invariants of the GCJ-02 / BD-09 transforms (published point pairs
disagree between sources, so we test properties rather than copied numbers)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import numpy.testing as npt
import pytest
from pyproj import Geod
from shapely.geometry import LineString, Point, Polygon

from geo import datum
from geo.errors import InputError

GEOD = Geod(ellps="WGS84")


@pytest.fixture
def guangdong_grid():
    lon = np.linspace(109.7, 117.2, 31)
    lat = np.linspace(20.3, 25.4, 27)
    return np.meshgrid(lon, lat)


def _metres(lon1, lat1, lon2, lat2):
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


@pytest.mark.parametrize("datum_name", ["gcj02", "bd09"])
def test_round_trip_below_one_millimetre(guangdong_grid, datum_name):
    lon, lat = guangdong_grid
    shifted = datum.convert(lon, lat, "wgs84", datum_name)
    back = datum.convert(*shifted, datum_name, "wgs84")
    assert np.max(_metres(lon, lat, *back)) < 1e-3
    # and the other way round: from the shifted datum to WGS84 and back
    there = datum.convert(lon, lat, datum_name, "wgs84")
    again = datum.convert(*there, "wgs84", datum_name)
    assert np.max(_metres(lon, lat, *again)) < 1e-3


def test_inverse_converges_to_1e9_degrees(guangdong_grid):
    lon, lat = guangdong_grid
    w_lon, w_lat = datum.gcj02_to_wgs84(lon, lat)
    f_lon, f_lat = datum.wgs84_to_gcj02(w_lon, w_lat)
    npt.assert_allclose(f_lon, lon, rtol=0, atol=1e-9)
    npt.assert_allclose(f_lat, lat, rtol=0, atol=1e-9)


def test_gcj02_shift_is_a_few_hundred_metres_in_guangdong(guangdong_grid):
    lon, lat = guangdong_grid
    d = _metres(lon, lat, *datum.wgs84_to_gcj02(lon, lat))
    assert d.min() > 200 and d.max() < 900
    # across Guangdong the GCJ-02 offset points east (about +0.005 degrees of longitude)
    g_lon, _ = datum.wgs84_to_gcj02(lon, lat)
    assert np.all(g_lon > lon)


def test_bd09_is_further_than_gcj02(guangdong_grid):
    lon, lat = guangdong_grid
    d_gcj = _metres(lon, lat, *datum.wgs84_to_gcj02(lon, lat))
    d_bd = _metres(lon, lat, *datum.wgs84_to_bd09(lon, lat))
    assert np.all(d_bd > d_gcj)
    assert d_bd.max() < 2000


@pytest.mark.parametrize("lon,lat", [(2.35, 48.85), (-74.0, 40.7), (150.0, -33.9),
                                     (139.9, 35.7), (100.5, 0.5)])
def test_identity_outside_china(lon, lat):
    for src, dst in [("wgs84", "gcj02"), ("gcj02", "wgs84")]:
        x, y = datum.convert(lon, lat, src, dst)
        assert float(x) == lon and float(y) == lat
    assert datum.out_of_china(lon, lat)


def test_vectorised_equals_scalar(guangdong_grid):
    lon, lat = guangdong_grid
    vec_lon, vec_lat = datum.gcj02_to_wgs84(lon.ravel(), lat.ravel())
    for i in range(0, lon.size, 97):
        s_lon, s_lat = datum.gcj02_to_wgs84(float(lon.ravel()[i]), float(lat.ravel()[i]))
        assert np.ndim(s_lon) == 0
        assert float(s_lon) == pytest.approx(vec_lon[i], abs=1e-12)
        assert float(s_lat) == pytest.approx(vec_lat[i], abs=1e-12)


def test_nan_passes_through():
    lon, lat = datum.gcj02_to_wgs84(np.array([113.0, np.nan]), np.array([23.0, 23.0]))
    assert np.isnan(lon[1]) and np.isfinite(lon[0])


def test_shape_is_kept(guangdong_grid):
    lon, lat = guangdong_grid
    out = datum.convert(lon, lat, "bd09", "gcj02")
    assert out[0].shape == lon.shape


def test_unknown_datum_lists_valid_names():
    with pytest.raises(InputError, match=r"unknown source datum 'mars'.*bd09, gcj02, wgs84"):
        datum.convert(113.0, 23.0, "mars", "wgs84")


def test_datum_names_are_forgiving():
    a = datum.convert(113.0, 23.0, "GCJ-02", "WGS_84")
    b = datum.gcj02_to_wgs84(113.0, 23.0)
    assert float(a[0]) == float(b[0])


def test_convert_geoseries_polygon_and_gdf():
    poly = Polygon([(113.0, 23.0), (113.1, 23.0), (113.1, 23.1), (113.0, 23.0)])
    gdf = gpd.GeoDataFrame({"name": ["a", "b"]},
                           geometry=[poly, LineString([(112.0, 24.0), (112.5, 24.5)])],
                           crs=4326)
    out = datum.to_wgs84(gdf, "gcj02")
    assert isinstance(out, gpd.GeoDataFrame) and list(out["name"]) == ["a", "b"]
    assert out.crs == gdf.crs
    xy = np.asarray(out.geometry.iloc[0].exterior.coords)
    exp_lon, exp_lat = datum.gcj02_to_wgs84(np.asarray(poly.exterior.coords)[:, 0],
                                            np.asarray(poly.exterior.coords)[:, 1])
    npt.assert_allclose(xy[:, 0], exp_lon, atol=1e-12)
    npt.assert_allclose(xy[:, 1], exp_lat, atol=1e-12)
    # input untouched
    npt.assert_array_equal(np.asarray(gdf.geometry.iloc[0].exterior.coords),
                           np.asarray(poly.exterior.coords))
    back = datum.from_wgs84(out, "gcj02")
    assert back.geometry.iloc[1].equals_exact(gdf.geometry.iloc[1], 1e-9)


def test_convert_geoseries_keeps_z():
    gs = gpd.GeoSeries([Point(113.0, 23.0, 42.0)], crs=4326)
    out = datum.convert_geoseries(gs, "gcj02", "wgs84")
    assert out.iloc[0].has_z and out.iloc[0].z == 42.0


def test_convert_geoseries_refuses_projected_crs():
    gs = gpd.GeoSeries([Point(500000.0, 2600000.0)], crs=32649)
    with pytest.raises(InputError, match=r"projected CRS.*to_crs\(4326\)"):
        datum.convert_geoseries(gs, "gcj02", "wgs84")
