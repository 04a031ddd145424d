"""CRS: inference without .prj, zone prefixes, ambiguity, swapped axes, old datums."""

import pytest
from pyproj import CRS, Transformer

from geo.crs import (GUANGDONG_BBOX, gk_crs, infer_crs, region_of_codes, resolve_crs,
                     transformation_note)
from geo.errors import InputError

LIANZHOU_LONLAT = (112.25, 24.70, 112.75, 25.00)


def _projected_bounds(epsg, lonlat=LIANZHOU_LONLAT):
    tr = Transformer.from_crs(4326, epsg, always_xy=True)
    x, y = tr.transform([lonlat[0], lonlat[2], lonlat[0], lonlat[2]],
                        [lonlat[1], lonlat[1], lonlat[3], lonlat[3]])
    return (min(x), min(y), max(x), max(y))


def test_gk_lookup_by_name():
    assert gk_crs("CGCS2000", "zone3", 38).to_epsg() == 4526
    assert gk_crs("CGCS2000", "cm3", 114).to_epsg() == 4547
    assert gk_crs("Xian 1980", "zone6", 19).to_epsg() == 2333
    assert gk_crs("Beijing 1954", "zone3", 38).to_epsg() == 2414


def test_degrees():
    d = infer_crs(LIANZHOU_LONLAT)
    assert d.crs.to_epsg() == 4326 and not d.swapped and d.source == "inferred"


def test_degrees_swapped():
    b = LIANZHOU_LONLAT
    d = infer_crs((b[1], b[0], b[3], b[2]))
    assert d.crs.to_epsg() == 4326 and d.swapped
    assert "swapped" in d.message


@pytest.mark.parametrize("prefix, kind, epsg", [(38, "3°", 4526), (19, "6°", 4497)])
def test_zone_prefix_names_the_zone(prefix, kind, epsg):
    x0, y0, x1, y1 = _projected_bounds(epsg)
    # EPSG zone CRSs already carry the prefix in the false easting
    assert x0 > prefix * 1e6
    d = infer_crs((x0, y0, x1, y1))
    assert d.crs.to_epsg() == epsg
    assert f"zone {prefix}" in d.message and kind in d.message
    assert "CGCS2000" in d.message and "Xian 1980" in d.message  # datum assumption stated


def test_no_prefix_is_ambiguous_in_the_province():
    bounds = _projected_bounds(4547, (113.3, 23.5, 113.6, 23.8))
    with pytest.raises(InputError, match=r"fit 3 CRSs.*EPSG:4546.*EPSG:4547.*EPSG:4548.*--crs"):
        infer_crs(bounds, region=GUANGDONG_BBOX, region_name="Guangdong")


def test_no_prefix_resolved_by_the_towns_codes():
    bounds = _projected_bounds(4547)
    region, name = region_of_codes(["441882100", "441882101"])
    d = infer_crs(bounds, region=region, region_name=name)
    assert d.crs.to_epsg() == 4547
    assert "only candidate" in d.message


def test_northing_first_is_detected():
    x0, y0, x1, y1 = _projected_bounds(4526)
    d = infer_crs((y0, x0, y1, x1))
    assert d.crs.to_epsg() == 4526 and d.swapped


def test_nothing_fits():
    with pytest.raises(InputError, match="fit no known Chinese CRS.*--crs"):
        infer_crs((1e9, 1e9, 2e9, 2e9))


def test_region_of_codes():
    box, name = region_of_codes(["441882100"])
    assert box[0] < 112.3 and box[2] > 112.7 and name == "county 441882 (连州市)"
    assert region_of_codes(["441882100", "441802001"])[1] == "the 2 counties of the town codes"
    assert region_of_codes(["449999100"])[0] == GUANGDONG_BBOX
    assert region_of_codes([])[1] == "China"


def test_resolve_prefers_flag_then_file():
    bounds = _projected_bounds(4547)
    d = resolve_crs(CRS.from_epsg(4547), bounds)
    assert d.source == "file" and not d.swapped
    d = resolve_crs(None, bounds, crs="EPSG:2383")
    assert d.source == "flag" and d.crs.to_epsg() == 2383
    d = resolve_crs(CRS.from_epsg(4547), (bounds[1], bounds[0], bounds[3], bounds[2]))
    assert d.swapped
    with pytest.raises(InputError, match="--crs 'EPSG:99999999'"):
        resolve_crs(None, bounds, crs="EPSG:99999999")


def test_old_datum_transformation_is_recorded_with_accuracy():
    desc, acc = transformation_note(CRS.from_epsg(2383), (112.2, 24.6, 112.8, 25.1))
    assert "Xian 1980" in desc
    assert "Xian 1980" in acc and "m" in acc
    desc, acc = transformation_note(CRS.from_epsg(4547))
    assert "CGCS2000" in acc
    assert transformation_note(CRS.from_epsg(4326)) == ("none", "no transformation")


def test_wrong_prj_is_an_error_with_the_likely_crs():
    bounds = _projected_bounds(4547)
    region, name = region_of_codes(["441882100"])
    with pytest.raises(InputError, match=r"says its CRS is WGS 84.*outside China.*\.prj is "
                                         r"probably wrong.*--crs EPSG:4547"):
        resolve_crs(CRS.from_epsg(4326), bounds, region=region, region_name=name)


def test_a_geographic_crs_given_for_metres_is_an_error_with_the_likely_crs():
    """--crs 4326 on projected coordinates: not a warning (no place on Earth has them),
    an error naming the CRS the coordinates fit."""
    bounds = _projected_bounds(4547)
    region, name = region_of_codes(["441882100"])
    with pytest.raises(InputError, match=r"--crs gives WGS 84.*not longitude/latitude degrees"
                                         r".*--crs EPSG:4547"):
        resolve_crs(None, bounds, crs="EPSG:4326", region=region, region_name=name)


def test_file_crs_outside_the_towns_region_is_a_warning_message():
    bounds = _projected_bounds(4547, (113.3, 23.5, 113.6, 23.8))   # Guangzhou area
    region, name = region_of_codes(["441882100"])                    # Lianzhou codes
    d = resolve_crs(CRS.from_epsg(4547), bounds, region=region, region_name=name)
    assert "WARNING" in d.message and "outside county 441882 (连州市)" in d.message


def test_web_mercator_without_prj():
    bounds = _projected_bounds(3857)
    region, name = region_of_codes(["441882100"])
    d = infer_crs(bounds, region=region, region_name=name)
    assert d.crs.to_epsg() == 3857 and "Web Mercator" in d.message
    assert "Xian 1980" not in d.message
    # eastings 13.0e6–13.1e6 could be 6° zone 13 (75°E) too; the region rules that out
    zone13 = _projected_bounds(3857, (117.2, 23.5, 117.3, 23.6))
    assert 13e6 < zone13[0] < 14e6
    assert infer_crs(zone13, region=GUANGDONG_BBOX).crs.to_epsg() == 3857


def test_south_china_sea_towns_are_inside_china(tmp_path):
    """三沙市 (Hainan) reaches 3.9°N: a national file including it is not 'outside China'."""
    import geopandas as gpd
    from shapely.geometry import box

    from geo.read import read_boundaries

    towns = gpd.GeoDataFrame(
        {"town_code": ["460301100", "440103001"], "town": ["永兴镇", "沙面街道"]},
        geometry=[box(112.32, 16.82, 112.35, 16.85), box(113.23, 23.10, 113.25, 23.12)],
        crs=4326)
    # the Nansha reefs lie near 9°N; a third feature there
    towns.loc[2] = ["460303100", "南沙镇", box(114.0, 9.5, 114.05, 9.55)]
    path = tmp_path / "towns.geojson"
    towns.to_file(path)
    gdf, report = read_boundaries(path)
    assert len(gdf) == 3 and report.problems == []
