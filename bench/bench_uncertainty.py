"""Benchmark of the Monte Carlo uncertainty analysis (classify.uncertainty.monte_carlo).

Times ``monte_carlo(draws=1000)`` on synthetic indicator tables of 1,600 towns (about
Guangdong's 1,609 township units) and 40,000 towns (about the whole country), with the
default indicator system (28 indicators + 5 derived, 7 dimensions), Dirichlet weights,
two normalisations and two aggregations, 2 % of values missing.  Writes a markdown table.

Run::

    .venv/bin/python -m bench.bench_uncertainty [--draws 1000] [--out bench/bench_uncertainty.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from classify.config import load_system
from classify.indicators import derive
from classify.scoring import score
from classify.uncertainty import monte_carlo


def synthetic(n: int, seed: int = 0) -> pd.DataFrame:
    """A skewed, partly missing indicator table of ``n`` towns in the default system."""
    rng = np.random.default_rng(seed)
    system = load_system()
    cols = {}
    for ind in system.indicators:
        if ind.unit == "是/否":
            cols[ind.id] = (rng.random(n) < 0.2).astype(float)
        elif ind.unit == "%":
            cols[ind.id] = rng.uniform(0, 100, n)
        else:
            cols[ind.id] = rng.lognormal(3.0, 1.2, n)
    df = pd.DataFrame(cols)
    df = df.mask(rng.random(df.shape) < 0.02)
    for der in system.derived:
        df[der.id] = derive(der, df, df, system)[0]
    return df


def run(sizes=(1_600, 40_000), draws: int = 1_000) -> pd.DataFrame:
    system = load_system()
    rows = []
    for n in sizes:
        ind = synthetic(n)
        t0 = time.perf_counter()
        base = score(ind, system)
        t1 = time.perf_counter()
        c1 = time.process_time()
        mc = monte_carlo(ind, system, draws=draws, seed=0, base=base)
        t2 = time.perf_counter()
        c2 = time.process_time()
        rows.append({"towns": n, "draws": draws, "indicators": len(base.model.indicators),
                     "dimensions": len(mc.dims), "score (s)": round(t1 - t0, 2),
                     "monte_carlo wall (s)": round(t2 - t1, 2),
                     "monte_carlo CPU (s)": round(c2 - c1, 2),
                     "load avg (1 min)": round(os.getloadavg()[0], 1),
                     "dim_scores MB": round(mc.dim_scores.nbytes / 2**20)})
        del mc
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--draws", type=int, default=1_000)
    p.add_argument("--out", default=str(Path(__file__).with_suffix(".md")))
    a = p.parse_args(argv)
    table = run(draws=a.draws)
    head = (f"# Monte Carlo benchmark\n\nMachine: {platform.machine()}, "
            f"{platform.python_version()}, numpy {np.__version__}; measured "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with "
            "`.venv/bin/python -m bench.bench_uncertainty` (one run each; wall-clock and "
            "process CPU time; the machine has 2 cores shared with other jobs, so the load "
            "average is recorded: wall time grows with it).\n\n")
    md = head + table.to_markdown(index=False) if _has_tabulate() else head + _md(table)
    Path(a.out).write_text(md + "\n", encoding="utf-8")
    print(md)
    return 0


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


def _md(df: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
