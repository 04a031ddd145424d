"""What users run, timed as they run it (issue 14): ``towntype run`` with its default
outputs as a process of its own (wall time, peak summed PSS of the process tree), then
``towntype sheets RUN_DIR --county NAME`` on the finished run, and on request
``--sheets all --xlsx`` (every sheet and both workbooks).

::

    python -m bench.user --n 1609                     # the province: every sheet, workbooks
    python -m bench.user --n 40000 --draws 1000       # national: tables and the map
    python -m bench.user --n 40000 --sheets-all       # … and every sheet on request
    python -m bench.user --sheets-of RUN_DIR --county 福源县   # only towntype sheets, on a
                                                      # finished run (rewrites its sheets)

Appends one line per measurement to ``bench/user_results.jsonl`` (the figures quoted in
``bench/RESULTS.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from bench.run import TreeMemory

ROOT = Path(__file__).resolve().parent.parent
LOG = Path(__file__).resolve().parent / "user_results.jsonl"


def timed(argv: list[str]) -> dict:
    """Run ``towntype argv`` as a process; wall seconds, CPU seconds of the process and the
    workers it waited for (user, sys), peak summed PSS (MB), status, and the machine's
    load average before and after (other work on the machine shows in wall time, not in
    CPU time)."""
    load0 = os.getloadavg()[0]
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "classify.cli", *argv], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with TreeMemory(proc.pid, interval=0.5) as mem:
        out, _ = proc.communicate()
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"command": "towntype " + " ".join(argv), "status": proc.returncode,
            "wall_s": round(wall, 2),
            "user_s": round(cpu1.ru_utime - cpu0.ru_utime, 2),
            "sys_s": round(cpu1.ru_stime - cpu0.ru_stime, 2),
            "load_before": round(load0, 2), "load_after": round(os.getloadavg()[0], 2),
            "peak_pss_mb": round(mem.peak / 2**20) if mem.available else None,
            "tail": out.strip().splitlines()[-3:]}


def _size(folder: Path) -> dict:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return {"files": len(files), "mb": round(sum(p.stat().st_size for p in files) / 2**20, 1)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.user")
    p.add_argument("--n", type=int, default=1609)
    p.add_argument("--draws", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work", type=Path, default=Path("/tmp/towntype-bench-user"))
    p.add_argument("--sheets-all", action="store_true",
                   help="also `towntype run --sheets all --xlsx` (every sheet, both workbooks)")
    p.add_argument("--sheets-of", type=Path, metavar="RUN_DIR",
                   help="only time `towntype sheets RUN_DIR --county NAME` on a finished run")
    p.add_argument("--county", help="the county for --sheets-of (default: the first of at "
                   "most 30 towns)")
    a = p.parse_args(argv)
    if a.sheets_of:
        return _log([_county_sheets(a.sheets_of, a.county)])
    from bench.synth import write_inputs

    inputs = a.work / f"inputs-{a.n}-s{a.seed}"
    if not (inputs / "indicators.csv").is_file():
        write_inputs(inputs, a.n, a.seed)
    common = ["--boundaries", str(inputs / "towns.gpkg"), "--indicators",
              str(inputs / "indicators.csv"), "--draws", str(a.draws), "--seed", str(a.seed),
              "--force"]
    records = []
    out = a.work / f"run-{a.n}"
    rec = timed(["run", *common, "--out", str(out)])
    rec.update(kind="run default outputs", n=a.n, draws=a.draws, **_size(out))
    records.append(rec)
    if rec["status"] == 0:
        records.append(_county_sheets(out))
    if a.sheets_all:
        out_all = a.work / f"run-{a.n}-all"
        rec = timed(["run", *common, "--out", str(out_all), "--sheets", "all", "--xlsx"])
        rec.update(kind="run --sheets all --xlsx", n=a.n, draws=a.draws, **_size(out_all))
        records.append(rec)
    return _log(records)


def _county_sheets(run: Path, county: str | None = None) -> dict:
    """``towntype sheets RUN --county NAME`` timed (by default a county of ≤ 30 towns)."""
    towns = pd.read_csv(run / "towns.csv", usecols=["county"], encoding="utf-8-sig")
    counts = towns["county"].value_counts()
    if county is None:
        county = counts[counts <= 30].index[0] if (counts <= 30).any() else counts.index[-1]
    rec = timed(["sheets", str(run), "--county", str(county)])
    rec.update(kind="sheets of one county", n=len(towns), county=str(county),
               towns_in_county=int(counts.get(county, 0)))
    return rec


def _log(records: list[dict]) -> int:
    with LOG.open("a", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
            print(json.dumps(r, ensure_ascii=False))
    return 0 if all(r["status"] == 0 for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())
