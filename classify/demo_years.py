"""A second ILLUSTRATIVE year of the demo table, for the year-over-year comparison.

:func:`next_year` makes a plausible next year of the first year's demo table from a seed
(still invented numbers): money totals grow by a few per cent (:data:`GROWTH`, with
town-to-town noise) and shares move by fractions of a point; one industrial park opens in
the town without a park (not a street or 乡) whose industrial output is closest to the
median; and the smallest such town of a county of at least four towns is merged (撤并) into
the neighbour of its county with the longest shared boundary (the most populous one without
boundaries), recorded in a crosswalk for ``towntype compare --crosswalk``.

Command line (writes the table, the crosswalk and a provenance note)::

    python -m classify.demo_years --out data/indicators/qingyuan_towns_demo_year2.csv
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from classify.bundled import DEMO, data_dir
from classify.demo_data import HEADERS, KEY_HEADERS, fixed, write_table
from geo.errors import InputError, command_status

__all__ = ["next_year", "NextYear", "write_next_year", "demo_years", "GROWTH", "YEAR2_TABLE",
           "main"]

#: The bundled second year (relative to the data folder), written by :func:`main`.
YEAR2_TABLE = "indicators/qingyuan_towns_demo_year2.csv"

#: Yearly growth of the money totals (median over towns).
GROWTH = {"gdp": 0.05, "fiscal_revenue": 0.04, "fixed_investment": 0.06,
          "industrial_output": 0.07, "agri_output": 0.03, "retail_sales": 0.06,
          "tourism_revenue": 0.10, "tourists": 0.08, "market_entities": 0.05,
          "rural_income": 0.065, "population": 0.003}
_NOISE = 0.06                     # sd of the log growth between towns
#: Totals that add up in a merger; the rest are weighted averages or the absorber's.
_SUMS = ("gdp", "fiscal_revenue", "population", "fixed_investment", "market_entities",
         "industrial_output", "industrial_firms", "agri_output", "farmland",
         "agri_leading_firms", "specialty_villages", "retail_sales", "markets",
         "logistics_nodes", "tourists", "tourism_revenue", "a_scenic_spots",
         "traditional_villages", "heritage_items", "health_beds", "schools")
#: Shares and rates of a merger: the average weighted by this total.
_WEIGHTED_BY = {"secondary_share": "gdp", "primary_share": "gdp",
                "rural_income": "population", "forest_cover": "population",
                "protected_share": "population"}
_KEYS = {k: KEY_HEADERS[k] for k in ("town_code", "town", "county")}


@dataclass
class NextYear:
    """The next year's table, its crosswalk and what was changed (for the notes)."""

    table: pd.DataFrame
    crosswalk: pd.DataFrame
    park_town: str
    merged: tuple[str, str]


def _check_headers(table: pd.DataFrame) -> None:
    missing = [h for h in (*_KEYS.values(), *HEADERS.values()) if h not in table.columns]
    if missing:
        raise InputError(f"the first-year table lacks the demo header(s) {', '.join(missing)}"
                         "; give the table written by classify.demo_data")


def _numbers(table: pd.DataFrame) -> pd.DataFrame:
    x = pd.DataFrame({i: table[h] for i, h in HEADERS.items()})
    x["industrial_park"] = x["industrial_park"].map({"是": 1.0, "否": 0.0})
    return x.apply(pd.to_numeric, errors="raise").astype(float)


def _grow(x: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    out = x.copy()
    n = len(x)
    for ind, g in GROWTH.items():
        out[ind] = x[ind] * np.exp(rng.normal(np.log1p(g), _NOISE if ind != "population"
                                              else 0.01, n))
    out["industrial_firms"] = np.maximum(0, x["industrial_firms"] + rng.integers(-1, 3, n))
    out["secondary_share"] = np.clip(x["secondary_share"] + rng.normal(0.3, 0.8, n), 0, 95)
    out["primary_share"] = np.clip(x["primary_share"] + rng.normal(-0.2, 0.3, n), 0,
                                   100 - out["secondary_share"])
    for ind in ("forest_cover", "protected_share"):
        out[ind] = np.clip(x[ind] + rng.normal(0.1, 0.2, n), 0, 100)
    return out


def _park(x: pd.DataFrame, names: pd.Series) -> int:
    """Row of the town where the park opens (see the module docstring)."""
    plain = ~names.str.endswith(("街道", "乡"))
    cand = x[(x["industrial_park"] == 0) & plain]
    if cand.empty:
        raise InputError("no town without an industrial park to open one in")
    gap = (np.log(cand["industrial_output"]) - np.log(x["industrial_output"].median())).abs()
    return int(gap.idxmin())


def _open_park(x: pd.DataFrame, i: int) -> None:
    added = 0.8 * x.at[i, "industrial_output"]
    x.at[i, "industrial_park"] = 1.0
    x.at[i, "industrial_output"] += added
    x.at[i, "industrial_firms"] = round(x.at[i, "industrial_firms"] * 1.5 + 2)
    x.at[i, "fixed_investment"] *= 1.6
    x.at[i, "gdp"] += 0.25 * added
    x.at[i, "secondary_share"] = min(x.at[i, "secondary_share"] + 8.0, 95.0)
    x.at[i, "primary_share"] = min(x.at[i, "primary_share"],
                                   100.0 - x.at[i, "secondary_share"])


def _merger(x: pd.DataFrame, keys: pd.DataFrame, boundaries: Path | None) -> tuple[int, int]:
    """(absorbed row, absorbing row)."""
    plain = ~keys["town"].str.endswith(("街道", "乡"))
    size = keys.groupby("county")["town"].transform("size")
    cand = x[plain & (size >= 4)]
    small = int(cand["population"].idxmin())
    county = keys.at[small, "county"]
    peers = keys.index[(keys["county"] == county) & (keys.index != small)]
    if boundaries is not None and Path(boundaries).is_file():
        g = gpd.read_file(boundaries, engine="pyogrio").set_index("town_code").geometry
        code = keys.at[small, "town_code"]
        near = peers[keys.loc[peers, "town_code"].isin(g.index)]
        if code in g.index and len(near):
            other = g.loc[keys.loc[near, "town_code"]].boundary.to_numpy()
            shared = shapely.length(shapely.intersection(other, g[code].boundary))
            if shared.max() > 0:         # the first of the longest shared borders
                return small, int(near[shared.argmax()])
    return small, int(x.loc[peers, "population"].idxmax())


def _merge(x: pd.DataFrame, gone: int, into: int) -> None:
    a, b = x.loc[gone], x.loc[into]
    for ind, w in _WEIGHTED_BY.items():
        x.at[into, ind] = (a[ind] * a[w] + b[ind] * b[w]) / (a[w] + b[w])
    for ind in _SUMS:
        x.at[into, ind] = a[ind] + b[ind]
    x.at[into, "industrial_park"] = max(a["industrial_park"], b["industrial_park"])


def _decimals(column: pd.Series) -> int:
    """Decimals the first year wrote in a column (0 for integers)."""
    found = [len(m.group(1)) for v in column.astype(str) if (m := re.search(r"\.(\d+)$", v))]
    return max(found, default=0)


def next_year(table: pd.DataFrame, *, seed: int = 2024,
              boundaries: str | Path | None = None) -> NextYear:
    """The next illustrative year of the demo table (see the module docstring).

    Parameters
    ----------
    table : DataFrame
        The first year's table as read with ``dtype=str`` (Chinese headers).
    seed : int
        Seed of the local generator; the same table and seed give the same year.
    boundaries : path, optional
        Town boundaries, to merge into the neighbour with the longest shared border.
    """
    _check_headers(table)
    table = table.reset_index(drop=True)
    keys = pd.DataFrame({k: table[h].astype(str) for k, h in _KEYS.items()})
    x = _numbers(table)
    rng = np.random.default_rng(seed)
    y = _grow(x, rng)
    park = _park(x, keys["town"])
    _open_park(y, park)
    gone, into = _merger(y, keys, boundaries)
    _merge(y, gone, into)
    out = table.assign(**{h: fixed(y[ind], _decimals(table[h]))
                          for ind, h in HEADERS.items() if ind != "industrial_park"})
    out[HEADERS["industrial_park"]] = np.where(y["industrial_park"] > 0.5, "是", "否")
    out = out.drop(index=gone).reset_index(drop=True)
    crosswalk = pd.DataFrame({"old_code": [keys.at[gone, "town_code"]],
                              "new_code": [keys.at[into, "town_code"]],
                              "old_town": [keys.at[gone, "town"]],
                              "new_town": [keys.at[into, "town"]],
                              "change": ["撤并（merged）"]})
    return NextYear(out, crosswalk, keys.at[park, "town"],
                    (keys.at[gone, "town"], keys.at[into, "town"]))


_NOTE = """# Provenance of the second demo year

**THE VALUES IN `{table}` ARE ILLUSTRATIVE, NOT OFFICIAL STATISTICS.**  They were made from
the first demo year (`{source}`, itself invented — see `PROVENANCE.md`) by
`classify/demo_years.py` (`next_year`), seed **{seed}**, reproducibly:

    python -m classify.demo_years --out {table_arg} --seed {seed}

What changed (the comparison should find these):

- growth of a few per cent in the money totals, with town-to-town noise;
- an industrial park opens in **{park}** (省级以上园区 否 → 是, industrial output +80 %);
- **{gone}** is merged into **{into}** (crosswalk `{crosswalk}`); its boundary feature stays
  in the demo boundaries and is reported unmatched by the year-2 run.

Year over year (three commands)::

    towntype demo --out demo-year1
    towntype run --boundaries data/boundaries/qingyuan_towns.geojson \\
        --counties data/boundaries/qingyuan_counties.geojson \\
        --indicators {table_arg} --reference demo-year1 --out demo-year2
    towntype compare demo-year1 demo-year2 --crosswalk {crosswalk_arg} --out demo-compare

or in one: `towntype demo --years --out demo-years`.
"""


def write_next_year(out_csv: str | Path, *, source: str | Path | None = None,
                    seed: int = 2024, boundaries: str | Path | None = None,
                    note: bool = True) -> dict:
    """Write the next year's table (UTF-8 with BOM), its crosswalk beside it
    (``<name>_crosswalk.csv``) and, with ``note``, ``PROVENANCE_year2.md``."""
    root = data_dir()
    source = Path(source) if source else root / DEMO["indicators"]
    boundaries = Path(boundaries) if boundaries else root / DEMO["boundaries"]
    table = pd.read_csv(source, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    made = next_year(table, seed=seed, boundaries=boundaries)
    out = write_table(made.table, Path(out_csv))
    cw = write_table(made.crosswalk, out.with_name(out.stem + "_crosswalk.csv"))
    files = {"table": out, "crosswalk": cw}
    if note:
        prov = out.with_name("PROVENANCE_year2.md")
        prov.write_text(_NOTE.format(table=out.name, source=source.name, seed=seed,
                                     table_arg=out.as_posix(), park=made.park_town,
                                     gone=made.merged[0], into=made.merged[1],
                                     crosswalk=cw.name, crosswalk_arg=cw.as_posix()),
                        encoding="utf-8", newline="\n")
        files["provenance"] = prov
    return {"park": made.park_town, "merged": made.merged, **files}


def demo_years(out: str | Path, *, log=lambda msg: None, **options) -> dict:
    """``towntype demo --years``: the demo (year 1), the second year generated from it and
    scored with year 1's model (``--reference``), and their comparison.

    Writes ``out/year1``, ``out/year2`` (with ``year2_input/``: the generated table and
    crosswalk) and ``out/compare``; returns the two run results and the comparison.
    """
    # here, not at the top: classify.pipeline imports this module (YEAR2_TABLE)
    from classify.compare import compare_runs
    from classify.pipeline import demo_options, run_pipeline

    out = Path(out)
    first = demo_options(out=out / "year1", **options)
    year1 = run_pipeline(first, log=log)
    made = write_next_year(out / "year2_input" / Path(YEAR2_TABLE).name,
                           source=first.indicators, boundaries=first.boundaries, note=False)
    second = replace(first, indicators=made["table"], out=out / "year2",
                     reference=out / "year1",
                     title="清远市镇街分类（示例数据·第二年） · Qingyuan, illustrative year 2")
    year2 = run_pipeline(second, log=log)
    comparison = compare_runs(out / "year1", out / "year2", out / "compare",
                              crosswalk=made["crosswalk"], lang=first.lang)
    return {"year1": year1, "year2": year2, "compare": comparison, "park": made["park"],
            "merged": made["merged"]}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m classify.demo_years",
                                description="second illustrative year of the demo table")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--source", type=Path, help="first-year table (default: the bundled one)")
    p.add_argument("--boundaries", type=Path)
    p.add_argument("--seed", type=int, default=2024)
    args = p.parse_args(argv)
    return command_status("classify.demo_years", lambda: write_next_year(
        args.out, source=args.source, seed=args.seed, boundaries=args.boundaries))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
