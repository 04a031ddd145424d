"""Benchmark of reading and joining: ``read_boundaries``, ``read_table``, ``join_towns``.

Runs, on the same synthetic inputs (:func:`bench.synth.write_inputs`: ``towns.gpkg`` and
``indicators.csv``, 1,600 and 40,000 towns, seed 0), three implementations one after
the other, each in its own process:

``current``
    the working tree's :mod:`geo.read`, :mod:`geo.tables`, :mod:`geo.join`;
``before``
    the same functions as of git commit ``4359c73`` (before the speed-ups), exported with
    ``git archive`` into a temporary directory placed first on ``PYTHONPATH``;
``baseline``
    plain ``geopandas.read_file`` + ``pandas.read_csv`` + ``pandas.merge`` on the code
    (no encoding detection, repair, gap/overlap checks or join report: a floor, not a
    competitor).

Each job reports wall and CPU seconds per function and a SHA-256 digest of its outputs
(boundaries, parsed table, joined frame and join report, written as CSV), so the table
also shows whether ``current`` and ``before`` produce identical results.  Writes
``bench/bench_read.md``.

Run::

    .venv/bin/python -m bench.bench_read [--sizes 1600 40000] [--before 4359c73]
        [--work /tmp/bench_read] [--out bench/bench_read.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "4359c73"
_JOBS = ("current", "before", "baseline")


def _digest(frames) -> str:
    """SHA-256 over the CSV text of each frame (geometry as WKB hex)."""
    h = hashlib.sha256()
    for df in frames:
        df = df.copy()
        if hasattr(df, "geometry") and "geometry" in df.columns:
            df["geometry"] = [g.wkb_hex if g is not None else "" for g in df["geometry"]]
        h.update(df.to_csv(index=False).encode("utf-8"))
    return h.hexdigest()[:16]


def _timed(out: dict, name: str, func, *args, **kwargs):
    t0, c0 = time.perf_counter(), time.process_time()
    result = func(*args, **kwargs)
    out[name] = {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}
    return result


def job_geo(boundaries: str, indicators: str) -> dict:
    """Time the project's readers and join (whichever ``geo`` package is importable)."""
    import pandas as pd

    from geo.join import join_towns
    from geo.read import read_boundaries
    from geo.tables import read_table

    times: dict = {}
    towns, breport = _timed(times, "read_boundaries", read_boundaries, boundaries)
    table = _timed(times, "read_table", read_table, indicators)
    joined, report = _timed(times, "join_towns", join_towns, towns, table)
    problems = pd.DataFrame({"problem": list(breport.problems) + list(breport.messages)})
    digest = _digest([towns, breport.gaps_overlaps, problems, table.data, table.status,
                      joined, report])
    counts = report.attrs["counts"]
    return {"times": times, "digest": digest, "joined": len(joined),
            "matched": counts["table"]["matched"]}


def job_baseline(boundaries: str, indicators: str) -> dict:
    """The floor: geopandas.read_file + pandas.read_csv + pandas.merge on the code."""
    import geopandas as gpd
    import pandas as pd

    times: dict = {}
    towns = _timed(times, "read_boundaries", gpd.read_file, boundaries, engine="pyogrio")
    table = _timed(times, "read_table", pd.read_csv, indicators, dtype={"统计代码": str},
                   encoding="utf-8-sig")
    joined = _timed(times, "join_towns", pd.merge, towns, table, left_on="town_code",
                    right_on="统计代码", how="inner", validate="one_to_one")
    return {"times": times, "digest": "", "joined": len(joined), "matched": len(joined)}


def _export_before(commit: str, dest: Path) -> Path:
    """The project as of ``commit`` (git archive), to import ``geo`` from."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "geo"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def _run_job(job: str, inputs: dict, before_dir: Path, timeout: float) -> dict:
    env = dict(os.environ)
    # "before" imports geo/ from the exported commit; bench/ always from the working tree
    path = [str(before_dir), str(ROOT)] if job == "before" else [str(ROOT)]
    env["PYTHONPATH"] = os.pathsep.join(path + [env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    code = ("import json, sys; from bench.bench_read import job_geo, job_baseline; "
            f"r = {'job_baseline' if job == 'baseline' else 'job_geo'}"
            f"({str(inputs['boundaries'])!r}, {str(inputs['indicators'])!r}); "
            "print('RESULT' + json.dumps(r))")
    try:
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, timeout=timeout, cwd=before_dir.parent)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")]
    if proc.returncode or not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(lines[-1][len("RESULT"):])


def run(sizes=(1_600, 40_000), *, before: str = BEFORE, work: Path | None = None,
        timeout: float = 900.0) -> list[dict]:
    """Generate the inputs and run every job on every size; one dict per (size, job)."""
    from bench.synth import write_inputs

    work = Path(work or tempfile.mkdtemp(prefix="bench_read_"))
    before_dir = _export_before(before, work / f"before_{before}")
    rows = []
    for n in sizes:
        inputs = write_inputs(work / f"n{n}", n, seed=0)
        for job in _JOBS:
            load = os.getloadavg()[0]
            result = _run_job(job, inputs, before_dir, timeout)
            rows.append({"towns": n, "job": job, "load": load, **result})
            print(f"{n} {job}: {result.get('times', result.get('error'))}", flush=True)
    return rows


def _cell(row: dict, name: str) -> str:
    t = row.get("times", {}).get(name)
    return f"{t['wall']:.2f}" if t else "–"


def markdown(rows: list[dict], before: str) -> str:
    head = (f"# Reading and joining benchmark\n\nMeasured "
            f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC with "
            "`.venv/bin/python -m bench.bench_read` on "
            f"{platform.machine()}, Python {platform.python_version()}, "
            f"{os.cpu_count()} cores shared with other jobs (load average before each job "
            "in the table: wall time grows with it; compare ratios within a size). "
            "Inputs: `bench.synth.write_inputs(n, seed=0)` (GeoPackage + UTF-8 CSV). "
            f"`before` = the same functions at commit `{before}`, `current` = this tree, "
            "`baseline` = geopandas.read_file + pandas.read_csv + pandas.merge (no checks, "
            "no report). Wall seconds per function, one run each; CPU s = process CPU time of the "
            "three together (steadier than wall time on a loaded machine). `same output` compares SHA-256 "
            "digests of the boundaries, gap/overlap list, messages, parsed table, cell "
            "statuses, joined frame and join report with `before`'s.\n\n")
    lines = ["| towns | job | read_boundaries | read_table | join_towns | read + join | "
             "CPU s | speed-up vs before (wall / CPU) | same output | load |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|---:|"]
    for n in sorted({r["towns"] for r in rows}):
        part = {r["job"]: r for r in rows if r["towns"] == n}
        total = {j: sum(t["wall"] for t in r.get("times", {}).values()) or None
                 for j, r in part.items()}
        cpu = {j: sum(t["cpu"] for t in r.get("times", {}).values()) for j, r in part.items()}
        for job, r in part.items():
            if "error" in r:
                lines.append(f"| {n} | {job} | failed: {r['error'][:80]} | | | | | | | "
                             f"{r['load']:.1f} |")
                continue
            ratio = (f"{total['before'] / total[job]:.1f}× / {cpu['before'] / cpu[job]:.1f}×"
                     if total.get("before") and job != "before" else "")
            same = ("" if job != "current" or "digest" not in part.get("before", {}) else
                    "yes" if r["digest"] == part["before"]["digest"] else "**no**")
            lines.append(f"| {n} | {job} | {_cell(r, 'read_boundaries')} | "
                         f"{_cell(r, 'read_table')} | {_cell(r, 'join_towns')} | "
                         f"{total[job]:.2f} | {cpu[job]:.2f} | {ratio} | {same} | "
                         f"{r['load']:.1f} |")
    return head + "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.bench_read", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_600, 40_000])
    ap.add_argument("--before", default=BEFORE, help="git commit to compare with")
    ap.add_argument("--work", type=Path, default=None, help="directory for the inputs")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per job")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "bench_read.md")
    args = ap.parse_args(argv)
    rows = run(args.sizes, before=args.before, work=args.work, timeout=args.timeout)
    args.out.write_text(markdown(rows, args.before), encoding="utf-8")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
