"""Town seats: match romanised place points (GeoNames) to official town names.

Every toneless pinyin reading of the official name (suffix stripped, heteronyms included)
is looked up among the places, and a place is accepted only **inside the town's county
polygon**: names repeat across the province, the county makes a match trustworthy.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections import Counter

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.datum import to_wgs84
from geo.errors import InputError

__all__ = ["match_seats", "normalise_place_name", "strip_town_suffix", "town_readings"]

# Generic endings of township-level names, longest first.  "…族乡" covers ethnic
# townships (瑶族乡, 壮族瑶族乡, 畲族乡); 街道办事处 is the long form of 街道.  The
# ethnic names are listed because a generic "any characters + 族" would eat the name.
_ETHNIC = "瑶|壮|畲|回|满|苗|侗|黎|彝|水|白|土家|蒙古|布依|仡佬|毛南"
_SUFFIX = re.compile(rf"(?:(?:(?:{_ETHNIC})族)+乡|民族乡|街道办事处|街道|办事处|镇|乡)$")
# A separate trailing admin word in romanised names ("Shaba Zhen").
_PLACE_SUFFIX = re.compile(r"\s+(?:zhen|xiang|jiedao|subdistrict|town|township)$")
_MAX_READINGS = 512  # product of heteronyms; real town names stay far below this

SEAT_COLUMNS = ["town_code", "town", "county_code", "county", "city_code", "seat_name",
                "seat_lon", "seat_lat", "match_method", "n_candidates", "ambiguous",
                "candidates", "geometry"]
UNMATCHED_COLUMNS = ["town_code", "town", "county_code", "county", "city_code", "readings",
                     "reason"]


def strip_town_suffix(name: str) -> str:
    """Remove the generic ending (镇, 乡, 瑶族乡, 街道, …) of an official town name.

    >>> strip_town_suffix("瑶安瑶族乡"), strip_town_suffix("凤城街道"), strip_town_suffix("古镇镇")
    ('瑶安', '凤城', '古镇')
    """
    name = unicodedata.normalize("NFKC", str(name)).strip()
    base = _SUFFIX.sub("", name, count=1)
    return base or name


def _syllable_join(syllables: tuple[str, ...]) -> str:
    # Standard pinyin orthography: an apostrophe before a non-initial syllable that starts
    # with a, o or e (Xi'an 西岸 vs Xian 先), as GeoNames writes it.
    return syllables[0] + "".join("'" + s if s[:1] in "aoe" else s for s in syllables[1:])


def town_readings(name: str) -> list[str]:
    """All toneless pinyin readings of a town name (suffix stripped), heteronyms included.

    Readings are lower case, with apostrophes as in standard orthography; ``ü`` is given
    both as ``u`` and ``v`` spellings, as romanised gazetteers use either.

    >>> town_readings("西岸镇"), sorted(town_readings("浛洸镇"))[:2]
    (["xi'an"], ['ganguang', 'ganhuang'])
    """
    from pypinyin import Style, pinyin   # here: 0.3 s to import, for seat matching only

    per_char = pinyin(strip_town_suffix(name), style=Style.NORMAL, heteronym=True,
                      errors="ignore")
    options = [list(dict.fromkeys(v for r in readings for v in (
        r.lower().replace("ü", "u").replace("v", "u"), r.lower().replace("ü", "v")) if v))
        for readings in per_char]
    if not options:
        return []
    combos = itertools.islice(itertools.product(*options), _MAX_READINGS)
    return list(dict.fromkeys(_syllable_join(c) for c in combos))


def normalise_place_name(name: str) -> str:
    """Lower-case a romanised place name and drop a separate admin word ("Shaba Zhen")."""
    s = unicodedata.normalize("NFKD", str(name))
    s = "".join(c for c in s if not unicodedata.combining(c))  # Lǜ → Lu
    s = s.lower().strip().replace("\u2019", "'").replace("`", "'")
    s = _PLACE_SUFFIX.sub("", s)
    return re.sub(r"[\s\-]+", "", s)


def _loose(s: str) -> str:
    return s.replace("'", "")


def _require(frame, columns, what):
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"the {what} table lacks the column(s) {', '.join(map(repr, missing))}; it has "
            f"{', '.join(map(str, frame.columns))} — rename the columns to "
            f"{', '.join(columns)}", column=missing[0])


def _prepare_places(places: pd.DataFrame) -> pd.DataFrame:
    _require(places, ["name", "lon", "lat"], "places")
    p = pd.DataFrame({
        "name": places["name"].astype(str).to_numpy(),
        "lon": pd.to_numeric(places["lon"], errors="raise").to_numpy(dtype="float64"),
        "lat": pd.to_numeric(places["lat"], errors="raise").to_numpy(dtype="float64"),
    })
    p["exact"] = [normalise_place_name(n) for n in p["name"]]
    p["loose"] = [_loose(n) for n in p["exact"]]
    return p


def _prepare_counties(counties, counties_datum: str) -> dict[str, tuple[str, object]]:
    _require(counties, ["county_code", "geometry"], "counties")
    if counties.crs is not None and not counties.crs.is_geographic:
        counties = counties.to_crs(4326)
    if counties_datum != "wgs84":
        counties = to_wgs84(counties, counties_datum)
    names = counties["county"] if "county" in counties.columns else counties["county_code"]
    geoms = counties.geometry.to_numpy()
    shapely.prepare(geoms)
    return dict(zip(counties["county_code"].astype(str), zip(names.astype(str), geoms)))


def _candidates(readings: list[str], places: pd.DataFrame) -> pd.DataFrame:
    """Places whose name equals a reading: exactly (with apostrophes) or loosely."""
    exact = set(readings)
    loose = {_loose(r) for r in readings}
    hit = places[places["exact"].isin(exact) | places["loose"].isin(loose)].copy()
    hit["method"] = np.where(hit["exact"].isin(exact), "pinyin", "pinyin-loose")
    return hit


def match_seats(towns: pd.DataFrame, places: pd.DataFrame, counties, *,
                counties_datum: str = "wgs84"):
    """Match official towns to place points by pinyin, inside the town's county polygon.

    Parameters
    ----------
    towns : DataFrame
        Official list with ``town_code`` (string), ``town`` (Chinese name) and
        ``county_code``; ``city_code`` is carried along when present.
    places : DataFrame
        Place points with ``name`` (romanised), ``lon``, ``lat`` (WGS84 degrees).
    counties : GeoDataFrame
        County polygons with ``county_code`` (and ``county`` for the name).
    counties_datum : {"wgs84", "gcj02", "bd09"}
        Datum of the county coordinates; converted to WGS84 before the containment test.

    Returns
    -------
    seats : GeoDataFrame (EPSG:4326)
        One row per matched town, in the order of ``towns``: key columns, ``seat_name``,
        ``seat_lon``, ``seat_lat``, ``match_method`` (``pinyin`` — spelling equal including
        apostrophes — or ``pinyin-loose`` — equal once apostrophes are dropped),
        ``n_candidates`` (places of a matching name inside the county), ``ambiguous``
        and ``candidates`` (all of them, best first, ``name@lon,lat`` joined by ``;``).
        With several candidates the pick is deterministic: exact spelling first, then a
        place no other town of the county claims, then the one farthest from the seats
        of the county's unambiguous towns (so Thiessen cells do not crowd), then west to
        east and south to north.
    unmatched : DataFrame
        Every town without a seat, with the ``readings`` tried and a ``reason``.
    """
    _require(towns, ["town_code", "town", "county_code"], "towns")
    pl = _prepare_places(places)
    county_geoms = _prepare_counties(counties, counties_datum)
    rows, misses = [], []
    for t in towns.itertuples(index=False):
        key = {"town_code": str(t.town_code), "town": str(t.town),
               "county_code": str(t.county_code),
               "city_code": str(getattr(t, "city_code", str(t.county_code)[:4]))}
        readings = town_readings(key["town"])
        county = county_geoms.get(key["county_code"])
        key["county"] = county[0] if county else ""
        cand = _candidates(readings, pl)
        if county is None:
            misses.append({**key, "readings": ";".join(readings), "reason":
                           f"county {key['county_code']} is not in the counties file"})
            continue
        inside = cand[shapely.contains_xy(county[1], cand["lon"].to_numpy(),
                                          cand["lat"].to_numpy())]
        if inside.empty:
            misses.append({**key, "readings": ";".join(readings),
                           "reason": _miss_reason(readings, cand, key["county"], county[1])})
            continue
        rows.append((key, inside))
    seats = _pick(rows)
    unmatched = pd.DataFrame(misses, columns=UNMATCHED_COLUMNS)
    gdf = gpd.GeoDataFrame(seats, geometry=gpd.points_from_xy(
        seats["seat_lon"], seats["seat_lat"]), crs=4326)
    return gdf[SEAT_COLUMNS].reset_index(drop=True), unmatched


def _miss_reason(readings, cand, county_name, county_geom) -> str:
    shown = ", ".join(readings[:6]) + (" …" if len(readings) > 6 else "")
    if cand.empty:
        return f"no place named {shown} in the places file"
    # the nearest few (km from the county outline) help a person judge a near miss
    c = county_geom.centroid
    kx = 111.32 * np.cos(np.radians(c.y))
    d = shapely.distance(county_geom, shapely.points(cand["lon"], cand["lat"]))
    d_km = np.asarray(d) * (kx + 110.57) / 2
    order = np.lexsort((cand["lat"].to_numpy(), cand["lon"].to_numpy(), np.round(d_km, 3)))
    near = "; ".join(f"{cand['name'].iloc[i]}@{cand['lon'].iloc[i]:.4f},"
                     f"{cand['lat'].iloc[i]:.4f} ({d_km[i]:.1f} km outside)"
                     for i in order[:3])
    return (f"{len(cand)} place(s) named {shown} exist, none inside {county_name}; "
            f"nearest: {near}")


def _pick(rows) -> pd.DataFrame:
    """Choose one candidate per town (deterministic; see :func:`match_seats`)."""
    claims = Counter((key["county_code"], i) for key, inside in rows for i in inside.index)
    fixed: dict[str, list[tuple[float, float]]] = {}
    for key, inside in rows:
        if len(inside) == 1:
            fixed.setdefault(key["county_code"], []).append(
                (float(inside["lon"].iloc[0]), float(inside["lat"].iloc[0])))
    out = []
    for key, inside in rows:
        ranked = inside.assign(
            m=(inside["method"] != "pinyin").astype(int),
            shared=[claims[(key["county_code"], i)] > 1 for i in inside.index],
            crowd=-_nearest_km(inside, fixed.get(key["county_code"], [])),
        ).sort_values(["m", "shared", "crowd", "lon", "lat"], kind="mergesort")
        best = ranked.iloc[0]
        out.append({**key, "seat_name": best["name"], "seat_lon": float(best["lon"]),
                    "seat_lat": float(best["lat"]), "match_method": best["method"],
                    "n_candidates": len(inside), "ambiguous": len(inside) > 1,
                    "candidates": ";".join(f"{n}@{x:.5f},{y:.5f}" for n, x, y in
                                           ranked[["name", "lon", "lat"]]
                                           .itertuples(index=False))})
    cols = [c for c in SEAT_COLUMNS if c != "geometry"]
    return pd.DataFrame(out, columns=cols)


def _nearest_km(cand: pd.DataFrame, others: list[tuple[float, float]]) -> np.ndarray:
    """Distance (km, equirectangular) from each candidate to the nearest settled seat:
    the farthest is preferred, so Thiessen cells do not crowd (a settled seat is at 0)."""
    if not others:
        return np.zeros(len(cand))
    o = np.asarray(others)
    lon, lat = cand["lon"].to_numpy()[:, None], cand["lat"].to_numpy()[:, None]
    kx = 111.32 * np.cos(np.radians(lat))
    d = np.hypot((lon - o[None, :, 0]) * kx, (lat - o[None, :, 1]) * 110.57)
    return np.round(d.min(axis=1), 6)  # rounded: tiny float noise must not decide
