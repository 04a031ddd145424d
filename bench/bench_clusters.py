"""Clustering benchmark: quality against GeoDa, and speed at 40,000 towns.

Quality (issue 5): on the same standardised ``score_<dim>`` variables and the *same*
contiguity weights (our Queen weights with islands attached, handed to pygeoda through a
GAL file), the within-cluster sum of squares of our contiguity-constrained Ward
(``ward_spatial``, with and without the boundary-move refinement) against pygeoda's
SKATER and REDCAP (full-order Ward linkage) and spopt's SKATER, for several k.

Data: the bundled Qingyuan demo (``data/boundaries/qingyuan_towns.geojson`` + the demo
indicator table, scored by the project's own read → join → indicators → scoring steps) and
a synthetic grid of square towns with spatially smooth scores.

Speed: rules (``classify_towns`` with the rule trace and declared checks) + clustering
(``cluster_towns`` k-means, k swept 3–8, 20 bootstrap refits) + agreement on a synthetic
40,000-town frame with latent town types.  Target: under 20 s.

Run ``python -m bench.bench_clusters`` to write ``bench/bench_clusters.md``.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import box

from classify.clusters import METHODS, features, refine_contiguous, within_ss
from geo.contiguity import contiguity_weights

ROOT = Path(__file__).resolve().parent.parent
DIMS = ("strength", "industry", "agriculture", "commerce", "tourism", "ecology", "centrality")
RESULTS = Path(__file__).resolve().parent / "bench_clusters.md"


# -- data ----------------------------------------------------------------------------------------
def demo_frame() -> gpd.GeoDataFrame:
    """The demo towns scored by the project's own steps (as the pipeline does)."""
    from classify.config import load_system
    from classify.indicators import build_indicators, recognise
    from classify.scoring import score
    from geo.join import join_towns
    from geo.read import read_boundaries
    from geo.tables import read_table

    bounds, _ = read_boundaries(ROOT / "data/boundaries/qingyuan_towns.geojson")
    table = read_table(ROOT / "data/indicators/qingyuan_towns_demo.csv")
    joined, _ = join_towns(bounds, table)
    joined = joined.reset_index(drop=True)
    system = load_system(None)
    rec = recognise(list(table.data.columns), table.units, system)
    ind, _ = build_indicators(joined, rec, system)
    scored = score(ind, system, county=joined["county"])
    frame = pd.concat([joined.drop(columns="geometry"), ind, scored.scores], axis=1)
    return gpd.GeoDataFrame(frame, geometry=joined.geometry, crs=joined.crs)


def grid_frame(side: int = 40, seed: int = 0) -> gpd.GeoDataFrame:
    """``side``² square towns whose scores vary smoothly in space plus noise."""
    rng = np.random.default_rng(seed)
    xy = np.array([(x, y) for y in range(side) for x in range(side)], dtype=float)
    cols = {}
    for j, d in enumerate(DIMS):
        fx, fy = rng.uniform(0.05, 0.2, 2) * 40 / side
        cols[f"score_{d}"] = np.clip(50 + 25 * np.sin(xy[:, 0] * fx * 3 + j)
                                     + 25 * np.cos(xy[:, 1] * fy * 3 + 2 * j)
                                     + rng.normal(0, 8, len(xy)), 0, 100)
    frame = pd.DataFrame(cols)
    frame["county_code"] = [f"44{int(x) // 8:02d}{int(y) // 8:02d}" for x, y in xy]
    return gpd.GeoDataFrame(frame, geometry=[box(x, y, x + 1, y + 1) for x, y in xy])


def big_frame(n: int = 40000, seed: int = 0) -> pd.DataFrame:
    """A towns table with latent town types (what real profiles look like), no geometry."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(20, 80, (6, len(DIMS)))
    typ = rng.integers(0, 6, n)
    S = np.clip(centres[typ] + rng.normal(0, 12, (n, len(DIMS))), 0, 100)
    frame = pd.DataFrame(S, columns=[f"score_{d}" for d in DIMS])
    frame.insert(0, "town_code", [f"{440000000 + i:09d}" for i in range(n)])
    frame.insert(1, "town", [f"镇{i}" for i in range(n)])
    frame.insert(2, "county_code", [f"{440000 + i // 40:06d}" for i in range(n)])
    frame["composite"] = S.mean(axis=1)
    for d in ("industry", "agriculture", "commerce", "tourism"):
        frame[f"lq_{d}"] = frame[f"score_{d}"] / 50 * rng.lognormal(0, 0.2, n)
    frame["declared"] = rng.choice(["工业专业镇", "综合实力强镇", "文旅特色镇", "", "生态特色镇",
                                    "农业专业镇"], n)
    return frame


# -- quality -------------------------------------------------------------------------------------
def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def quality(frame: gpd.GeoDataFrame, ks=(4, 5, 6, 8, 10), seed: int = 0,
            label: str = "") -> pd.DataFrame:
    """Within-cluster SS per method and k on the same variables and weights."""
    from sklearn.cluster import AgglomerativeClustering

    X, _ = features(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = contiguity_weights(frame.geometry, groups=frame.get("county_code"))
    rows = []
    for k in ks:
        if k >= len(X):
            continue
        runs = {
            "ward_spatial (ours: Ward + refinement)":
                lambda: METHODS["ward_spatial"](X, k, seed, w, {}),
            "Ward on contiguity (sklearn, no refinement)":
                lambda: AgglomerativeClustering(k, linkage="ward",
                                                connectivity=w.sparse).fit_predict(X),
            "pygeoda SKATER": lambda: METHODS["skater_geoda"](X, k, seed, w, {}),
            "pygeoda REDCAP (full-order Ward)": lambda: METHODS["redcap"](X, k, seed, w, {}),
            "pygeoda REDCAP + our refinement":
                lambda: refine_contiguous(X, METHODS["redcap"](X, k, seed, w, {}), w),
        }
        if len(X) <= 500:  # spopt's pure-Python SKATER takes minutes beyond that
            runs["spopt SKATER"] = lambda: METHODS["skater"](X, k, seed, w, {})
        for name, fn in runs.items():
            try:
                lab, secs = _timed(fn)
                rows.append({"data": label, "n": len(X), "k": k, "method": name,
                             "within_ss": within_ss(X, lab), "seconds": secs,
                             "clusters": len(np.unique(lab))})
            except Exception as exc:  # record, never hide
                rows.append({"data": label, "n": len(X), "k": k, "method": name,
                             "within_ss": np.nan, "seconds": np.nan, "clusters": 0,
                             "error": f"{type(exc).__name__}: {exc}"[:200]})
    out = pd.DataFrame(rows)
    geoda = out[out["method"].str.startswith("pygeoda S") | out["method"].eq(
        "pygeoda REDCAP (full-order Ward)")].groupby("k")["within_ss"].min()
    out["vs_best_geoda"] = out["within_ss"] / out["k"].map(geoda)
    return out


# -- speed ---------------------------------------------------------------------------------------
def speed(n: int = 40000, seed: int = 0) -> dict:
    """Seconds for rules + clustering + agreement on ``n`` synthetic towns."""
    from classify.clusters import agreement, cluster_towns
    from classify.rules import classify_towns
    from classify.taxonomy import load_taxonomy

    frame = big_frame(n, seed)
    tax = load_taxonomy("guangdong")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (cats, trace), t_rules = _timed(lambda: classify_towns(frame, tax))
        res, t_clu = _timed(lambda: cluster_towns(frame, method="kmeans", k="auto", seed=seed))
        _, t_agr = _timed(lambda: agreement(cats, res, taxonomy=tax))
    return {"n": n, "rules_s": t_rules, "trace_rows": len(trace), "clustering_s": t_clu,
            "k": res.k, "agreement_s": t_agr, "total_s": t_rules + t_clu + t_agr}


def spatial_speed(side: int = 200, seed: int = 0) -> dict:
    """Seconds for contiguity weights + ward_spatial (k=8) on a side² grid."""
    from classify.clusters import cluster_towns

    frame = grid_frame(side, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w, t_w = _timed(lambda: contiguity_weights(frame.geometry))
        res, t_c = _timed(lambda: cluster_towns(frame, method="ward_spatial", k=8, seed=seed,
                                                geometry=w, n_boot=5, k_range=[8]))
    return {"n": len(frame), "weights_s": t_w, "ward_spatial_s": t_c, "k": res.k}


# -- report --------------------------------------------------------------------------------------
def _md_table(df: pd.DataFrame) -> list[str]:
    cols = list(df.columns)
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df.iterrows():
        out.append("| " + " | ".join(
            f"{v:,.3f}" if isinstance(v, float) else str(v) for v in r) + " |")
    return out


def report(q: pd.DataFrame, sp: dict | None, ssp: dict | None) -> str:
    lines = ["# Clustering benchmark (`python -m bench.bench_clusters`)", "",
             "Within-cluster sum of squares (WSS) on the standardised `score_<dim>` columns, "
             "same variables and same Queen weights (islands attached) for every method; "
             "`vs_best_geoda` = WSS ÷ the better of pygeoda SKATER / REDCAP at that k "
             "(≤ 1 means ours is no worse). The machine is shared: seconds are indicative.", ""]
    for data, part in q.groupby("data", sort=False):
        lines += [f"## {data}", ""]
        cols = ["k", "method", "within_ss", "vs_best_geoda", "clusters", "seconds"]
        lines += _md_table(part[cols + (["error"] if "error" in part and
                                         part["error"].notna().any() else [])])
        ours = part[part["method"].str.startswith("ward_spatial")]
        worse = ours[ours["vs_best_geoda"] > 1 + 1e-9]
        lines += ["", f"Quality bar (ours ≤ GeoDa at every k): "
                      f"**{'PASS' if worse.empty else 'FAIL at k=' + ', '.join(map(str, worse['k']))}**",
                  ""]
    if sp:
        lines += ["## Speed: rules + clustering", "",
                  f"{sp['n']:,} towns: rules {sp['rules_s']:.2f} s ({sp['trace_rows']:,} trace "
                  f"rows), k-means clustering with k sweep 3–8 and 20 bootstraps "
                  f"{sp['clustering_s']:.2f} s (k = {sp['k']}), agreement {sp['agreement_s']:.2f} s;"
                  f" **total {sp['total_s']:.2f} s** (target < 20 s: "
                  f"{'PASS' if sp['total_s'] < 20 else 'FAIL'}).", ""]
    if ssp:
        lines += [f"Spatial at scale: {ssp['n']:,} grid towns, Queen weights {ssp['weights_s']:.1f} s, "
                  f"`ward_spatial` k={ssp['k']} with refinement and 5 bootstraps "
                  f"{ssp['ward_spatial_s']:.1f} s.", ""]
    return "\n".join(lines)


def run_bench(towns=None, n: int = 1600, seed: int = 0, out=None) -> dict:
    """Entry point for ``python -m bench`` (bench/run.py): quality on the demo and on the
    given scored towns (if they have ``score_<dim>`` columns), speed at ``n`` towns."""
    parts = [quality(demo_frame(), seed=seed, label="Qingyuan demo")]
    if towns is not None and any(c.startswith("score_") for c in towns.columns) \
            and len(towns) <= 5000:
        parts.append(quality(towns, seed=seed, label=f"bench towns ({len(towns):,})"))
    q = pd.concat(parts, ignore_index=True)
    sp = speed(max(n, 40000) if n >= 10000 else 40000, seed)
    ours = q[q["method"].str.startswith("ward_spatial")]
    return {"quality_pass": bool((ours["vs_best_geoda"] <= 1 + 1e-9).all()),
            "worst_ratio_vs_geoda": float(ours["vs_best_geoda"].max()),
            "speed": sp, "table": q.to_dict(orient="records")}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.bench_clusters")
    p.add_argument("--n", type=int, default=40000, help="towns for the speed run")
    p.add_argument("--grid", type=int, default=40, help="side of the synthetic grid")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-speed", action="store_true")
    p.add_argument("--spatial-side", type=int, default=0,
                   help="also time ward_spatial on a side² grid (e.g. 200 = 40,000 towns)")
    p.add_argument("--out", type=Path, default=RESULTS)
    a = p.parse_args(argv)
    q = pd.concat([quality(demo_frame(), seed=a.seed, label="Qingyuan demo (84 towns)"),
                   quality(grid_frame(a.grid, a.seed), seed=a.seed,
                           label=f"synthetic grid ({a.grid}×{a.grid} towns)")],
                  ignore_index=True)
    sp = None if a.no_speed else speed(a.n, a.seed)
    ssp = spatial_speed(a.spatial_side, a.seed) if a.spatial_side else None
    a.out.write_text(report(q, sp, ssp), encoding="utf-8")
    print(a.out.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
