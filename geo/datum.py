"""Chinese web-map datums: GCJ-02 and BD-09 to and from WGS84.

**GCJ-02** (Amap/Gaode, Tencent) and **BD-09** (Baidu, a further offset of GCJ-02) differ
from WGS84 by a few hundred metres; CGCS2000 (EPSG:4490) equals WGS84 at map scale.  The
forward formulas are the published ones; their inverses are iterated to ``1e-9`` degrees
(about 0.1 mm).  Points outside China's bounding box are returned unchanged, as the
providers' own SDKs do.  Every function is vectorised: scalars or arrays (broadcast
together) in, float64 arrays out (0-d for scalars), NaN kept.

**Legal caveat.**  Converting GCJ-02 / BD-09 coordinates back to WGS84, and publishing
precise WGS84 maps, may be restricted in mainland China (Surveying and Mapping Law of
the PRC); check the rules that apply to you before publishing.

Examples
--------
>>> lon, lat = wgs84_to_gcj02(112.38, 24.78)
>>> back = gcj02_to_wgs84(lon, lat)
>>> [round(float(v), 9) for v in back]
[112.38, 24.78]
>>> convert(0.5, 51.5, "wgs84", "gcj02")  # outside China: unchanged
(array(0.5), array(51.5))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import geopandas as gpd
import numpy as np
import shapely

from geo.errors import InputError

__all__ = ["DATUMS", "Datum", "bd09_to_gcj02", "bd09_to_wgs84", "convert", "convert_geoseries",
           "from_wgs84", "DatumGuess", "infer_datum", "gcj02_to_bd09", "gcj02_to_wgs84",
           "out_of_china", "to_wgs84", "wgs84_to_bd09", "wgs84_to_gcj02"]

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 formula.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0

#: China's bounding box used by the out-of-China rule (lon_min, lat_min, lon_max, lat_max).
CHINA_BBOX = (72.004, 0.8293, 137.8347, 55.8271)

#: Convergence tolerance of the iterative inverses, in degrees (≈ 0.1 mm).
TOLERANCE_DEG = 1e-9
_MAX_ITER = 50


def _as_arrays(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    return np.broadcast_arrays(np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64"))


def out_of_china(lon, lat) -> np.ndarray:
    """True where a point lies outside China's bounding box (and so is never shifted).

    NaN coordinates count as outside (they pass through unchanged).
    """
    lon, lat = _as_arrays(lon, lat)
    lo0, la0, lo1, la1 = CHINA_BBOX
    inside = (lon >= lo0) & (lon <= lo1) & (lat >= la0) & (lat <= la1)
    return ~inside


def _shift(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 offset (dlon, dlat) in degrees at WGS84 (lon, lat); zero outside China."""
    x = lon - 105.0
    y = lat - 35.0
    pi = np.pi
    sx = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    tlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sx + common
            + (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
            + (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0)
    tlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sx + common
            + (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
            + (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0)
    radlat = lat / 180.0 * pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (tlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * pi)
    dlon = (tlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * pi)
    outside = out_of_china(lon, lat)
    return np.where(outside, 0.0, dlon), np.where(outside, 0.0, dlat)


def wgs84_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 → GCJ-02 (forward obfuscation formula; identity outside China)."""
    lon, lat = _as_arrays(lon, lat)
    dlon, dlat = _shift(lon, lat)
    return np.asarray(lon + dlon), np.asarray(lat + dlat)


def _invert(forward: Callable, lon: np.ndarray, lat: np.ndarray, lon0: np.ndarray,
            lat0: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``forward(x) == (lon, lat)`` by fixed-point iteration from ``(lon0, lat0)``
    (the shifts vary slowly, so three or four steps reach ``TOLERANCE_DEG``)."""
    x, y = lon0.copy(), lat0.copy()
    finite = np.isfinite(lon) & np.isfinite(lat)
    for _ in range(_MAX_ITER):
        fx, fy = forward(x, y)
        ex, ey = fx - lon, fy - lat
        x, y = x - ex, y - ey
        err = np.maximum(np.abs(ex), np.abs(ey))
        if not np.any(err[finite] > TOLERANCE_DEG):
            return np.asarray(x), np.asarray(y)
    raise RuntimeError(  # not user input: the formula itself failed to converge
        f"{what}: the iterative inverse did not converge to {TOLERANCE_DEG} degrees "
        f"after {_MAX_ITER} steps (max error {np.nanmax(err):.3g} degrees)")


def gcj02_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 → WGS84 by iterating the forward formula to < 1e-9 degrees.

    Points outside China's bounding box are returned unchanged.
    """
    lon, lat = _as_arrays(lon, lat)
    dlon, dlat = _shift(lon, lat)  # first guess: subtract the shift at the GCJ point
    return _invert(wgs84_to_gcj02, lon, lat, lon - dlon, lat - dlat, "gcj02_to_wgs84")


def gcj02_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 → BD-09 (Baidu's published formula)."""
    lon, lat = _as_arrays(lon, lat)
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return np.asarray(z * np.cos(theta) + 0.0065), np.asarray(z * np.sin(theta) + 0.006)


def bd09_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 → GCJ-02: Baidu's approximate inverse, refined by iteration to < 1e-9 degrees."""
    lon, lat = _as_arrays(lon, lat)
    x, y = lon - 0.0065, lat - 0.006
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return _invert(gcj02_to_bd09, lon, lat, z * np.cos(theta), z * np.sin(theta),
                   "bd09_to_gcj02")


def wgs84_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 → BD-09 (through GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 → WGS84 (through GCJ-02)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def _identity(lon, lat):
    lon, lat = _as_arrays(lon, lat)
    return np.array(lon, dtype="float64"), np.array(lat, dtype="float64")


@dataclass(frozen=True)
class Datum:
    """A horizontal datum known to towntype: how to go to and from WGS84."""

    name: str
    description: str
    to_wgs84: Callable
    from_wgs84: Callable


#: Registry of datum names accepted by :func:`convert` (and the ``--datum`` flag).
DATUMS: dict[str, Datum] = {
    "wgs84": Datum("wgs84", "WGS84 / CGCS2000 (EPSG:4326, EPSG:4490)", _identity, _identity),
    "gcj02": Datum("gcj02", "GCJ-02 (Amap/Gaode, Tencent)", gcj02_to_wgs84, wgs84_to_gcj02),
    "bd09": Datum("bd09", "BD-09 (Baidu)", bd09_to_wgs84, wgs84_to_bd09),
}


def _datum(name: str, role: str) -> Datum:
    key = str(name).strip().lower().replace("-", "").replace("_", "")
    if key not in DATUMS:
        raise InputError(
            f"unknown {role} datum {name!r}; valid names are "
            f"{', '.join(sorted(DATUMS))} (the --datum flag)")
    return DATUMS[key]


def convert(lon, lat, src: str, dst: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert coordinates between the datums of :data:`DATUMS`.

    Parameters
    ----------
    lon, lat : float or array_like
        Longitudes and latitudes in degrees (broadcast together).
    src, dst : {"wgs84", "gcj02", "bd09"}
        Source and target datum names (case and ``-``/``_`` are ignored, so
        ``"GCJ-02"`` works).

    Returns
    -------
    (lon, lat) : tuple of ndarray

    Raises
    ------
    geo.errors.InputError
        For an unknown datum name; the message lists the valid names.
    """
    s, d = _datum(src, "source"), _datum(dst, "target")
    if s.name == d.name:
        return _identity(lon, lat)
    return d.from_wgs84(*s.to_wgs84(lon, lat))


def convert_geoseries(data, src: str, dst: str):
    """Convert the geometry coordinates of a GeoSeries or GeoDataFrame between datums.

    Returns a new object of the same type (the input is not modified); the CRS is kept
    (datum shifts stay in geographic degrees).  Z values pass through.

    Raises
    ------
    geo.errors.InputError
        For an unknown datum, or when the data carry a projected CRS (the shifted datums
        are defined on longitude/latitude; reproject to EPSG:4326 first).
    """
    s, d = _datum(src, "source"), _datum(dst, "target")
    geoms = data.geometry if isinstance(data, gpd.GeoDataFrame) else data
    if geoms.crs is not None and not geoms.crs.is_geographic:
        raise InputError(
            f"cannot convert {s.name} → {d.name}: the geometries use the projected CRS "
            f"{geoms.crs.to_string()}; datum shifts apply to longitude/latitude — "
            "reproject with .to_crs(4326) first")
    if s.name == d.name:
        return data.copy()

    def shifted(coords: np.ndarray) -> np.ndarray:
        out = np.array(coords, dtype="float64", copy=True)  # a z column passes through
        out[:, 0], out[:, 1] = d.from_wgs84(*s.to_wgs84(coords[:, 0], coords[:, 1]))
        return out

    new = shapely.transform(np.asarray(geoms.values), shifted, include_z=None)
    out_geoms = gpd.GeoSeries(new, index=geoms.index, crs=geoms.crs, name=geoms.name)
    if isinstance(data, gpd.GeoDataFrame):
        out = data.copy()
        out[data.geometry.name] = out_geoms
        return out
    return out_geoms


def to_wgs84(gdf, datum: str):
    """Bring a GeoDataFrame/GeoSeries in ``datum`` (lon/lat degrees) to WGS84."""
    return convert_geoseries(gdf, datum, "wgs84")


def from_wgs84(gdf, datum: str):
    """Shift a WGS84 GeoDataFrame/GeoSeries into ``datum`` (e.g. to overlay on Amap tiles)."""
    return convert_geoseries(gdf, "wgs84", datum)


@dataclass(frozen=True)
class DatumGuess:
    """What :func:`infer_datum` found: the datum and the evidence for it."""

    #: the datum of the coordinates (a key of :data:`DATUMS`)
    datum: str
    #: number of features compared (by code)
    n: int
    #: median distance (m) between the features as read and the reference
    metres_as_read: float
    #: median distance (m) after converting them from ``datum`` to WGS84
    metres_converted: float


def _metres(lon0, lat0, lon1, lat1) -> np.ndarray:
    """Distances in metres between nearby points (equirectangular; exact enough for a few
    kilometres, which is all a datum shift is)."""
    mid = np.radians((np.asarray(lat0) + np.asarray(lat1)) / 2)
    dx = (np.asarray(lon1) - np.asarray(lon0)) * 111_320.0 * np.cos(mid)
    dy = (np.asarray(lat1) - np.asarray(lat0)) * 110_574.0
    return np.hypot(dx, dy)


def infer_datum(gdf, reference, *, key: str = "town_code", candidates=("gcj02", "bd09"),
                min_features: int = 3, min_shift_m: float = 100.0,
                ratio: float = 0.3) -> DatumGuess | None:
    """The shifted datum of ``gdf``'s lon/lat coordinates, by comparing its features with
    the same features (same ``key``) of a WGS84 ``reference``; None when they are not
    clearly shifted.

    The centroids of the features as read are compared with the reference's: a shifted
    datum puts them a few hundred metres off (GCJ-02 ≈ 300–700 m in Guangdong).  A
    candidate datum wins when, converted from it to WGS84, the features lie much closer:
    the median distance falls below ``ratio`` × the distance as read, which must itself be
    above ``min_shift_m`` (a simplified reference is tens of metres off at most).  Fewer
    than ``min_features`` features in common: no guess.

    Parameters
    ----------
    gdf : GeoDataFrame
        The features as read, lon/lat degrees (EPSG:4326), with a ``key`` column.
    reference : GeoDataFrame
        WGS84 features with the same ``key`` (e.g. the bundled county boundaries).

    Returns
    -------
    DatumGuess or None

    Examples
    --------
    >>> ref = gpd.GeoDataFrame({"code": ["a", "b", "c"]}, crs=4326, geometry=gpd.points_from_xy(
    ...     [112.4, 113.3, 114.1], [24.8, 23.1, 22.6]))
    >>> infer_datum(from_wgs84(ref, "gcj02"), ref, key="code").datum
    'gcj02'
    >>> infer_datum(ref, ref, key="code") is None
    True
    """
    if key not in gdf.columns or key not in reference.columns:
        return None
    ref = reference[[key, reference.geometry.name]].dropna().drop_duplicates(key).set_index(key)
    mine = gdf[[key, gdf.geometry.name]].dropna().drop_duplicates(key)
    mine = mine[mine[key].isin(ref.index)]
    if len(mine) < min_features:
        return None
    # centroids in degrees: the shift is what is measured, not an area
    a = shapely.centroid(np.asarray(mine.geometry.values))
    b = shapely.centroid(np.asarray(ref.geometry.reindex(mine[key]).values))
    ax, ay, bx, by = shapely.get_x(a), shapely.get_y(a), shapely.get_x(b), shapely.get_y(b)
    as_read = float(np.nanmedian(_metres(ax, ay, bx, by)))
    if not np.isfinite(as_read) or as_read < min_shift_m:
        return None
    best = None
    for name in candidates:
        cx, cy = convert(ax, ay, name, "wgs84")
        d = float(np.nanmedian(_metres(cx, cy, bx, by)))
        if d < ratio * as_read and (best is None or d < best.metres_converted):
            best = DatumGuess(datum=_datum(name, "source").name, n=int(len(mine)),
                              metres_as_read=as_read, metres_converted=d)
    return best
