"""``python -m bench``: run the scale benchmark and write ``bench/RESULTS.md``.

Examples
--------
::

    python -m bench                          # 1,609 and 40,000 towns, 1,000 draws
    python -m bench --sizes 1609 --quick     # a minute: 100 draws, no heavy baselines
    python -m bench --sizes 40000 --profile  # adds a cProfile run of the pipeline

The targets are checked against what users run, each command a process of its own:
``towntype run`` with its default outputs, then ``towntype sheets RUN --county NAME`` on
that run, and the ``map.html`` that run wrote against ``explore()``.  The same commands
one at a time, optionally with ``--sheets all``::

    python -m bench.user --n 1609 --sheets-all
    python -m bench.user --n 40000 --draws 1000

The text under the line ``<!-- notes kept across runs -->`` of an existing
``RESULTS.md`` (the analysis written by people) is kept when the file is rewritten.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.run import SHEETS_TARGETS, STAGES, TARGETS, run_benchmark

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
NOTES_MARK = "<!-- notes kept across runs -->"


def _f(x, digits=2, unit=""):
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:,.{digits}f}{unit}"
    return f"{x}{unit}"


def _status(rec: dict | None) -> str:
    if not rec:
        return "not run"
    if rec.get("status") == "ok":
        return "ok"
    err = str(rec.get("error", "")).replace("\n", " ").replace("|", "\\|")
    return f"{rec.get('status')}: {err[:300]}"


def _machine(m: dict) -> list[str]:
    v = m["versions"]
    return [
        "## Machine", "",
        "| date | cores (usable) | memory | CPU | OS | Python | load before → after |",
        "|---|---|---|---|---|---|---|",
        f"| {m['date']} | {m['cores']} ({m['affinity']}) | {_f(m['memory_gb'], 1, ' GB')} | "
        f"{m['cpu']} | {m['os']} | {m['python']} | "
        f"{' '.join(f'{x:.1f}' for x in (m.get('load_before') or ()))} → "
        f"{' '.join(f'{x:.1f}' for x in (m.get('load_after') or ()))} |", "",
        "Packages: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".", "",
        f"Commit `{m['commit']}`. The machine is shared (other jobs may run at the same "
        "time: see the load averages), so absolute times vary between runs; compare the "
        "ratios.", ""]


def _targets(res: dict) -> list[str]:
    """Issue 14's targets, checked against ``towntype run`` (default outputs) and
    ``towntype sheets --county`` as processes of their own (the ``cli`` and ``sheets``
    jobs): wall time from start to exit, peak summed PSS of the process tree."""
    rows = ["## Targets (issue 14)", "", "| case | measured | target | result |",
            "|---|---|---|---|"]
    for n, (secs, gb, draws) in TARGETS.items():
        size = res["sizes"].get(str(n))
        label = f"{n:,} towns" + (f", {draws:,} draws" if draws else "")
        cli = (size or {}).get("cli") or {}
        if cli.get("status") != "ok":
            why = "not run" if not size else _status(cli)
            rows.append(f"| {label}: `towntype run` | {why} | < {secs:.0f} s | not measured |")
            continue
        caveat = "" if (draws is None or res["draws"] >= draws) else \
            f" (ran {res['draws']} draws only)"
        verdict = (lambda ok: ("PASS" if ok else "FAIL") if not caveat else "not comparable")
        wall = cli["process_wall_s"]
        rows.append(f"| {label}: `towntype run` with its default outputs, the process from "
                    f"start to exit (CPU {cli['process_cpu_s']:.1f} s) | {wall:.1f} s{caveat} "
                    f"| < {secs:.0f} s | {verdict(wall < secs)} |")
        if gb and cli.get("tree_pss_mb"):
            pss = cli["tree_pss_mb"] / 1024
            rows.append(f"| {label}: peak memory of `towntype run` (summed PSS of its "
                        f"{cli['tree_processes_at_peak']} process(es), sampled every "
                        f"{cli['tree_interval_s']:.0f} s) | {pss:.2f} GB{caveat} | "
                        f"< {gb:.0f} GB | {verdict(pss < gb)} |")
        sheets = size.get("sheets") or {}
        if sheets.get("status") == "ok":
            limit = SHEETS_TARGETS.get(n)
            county = sheets["command"].rsplit("--county ", 1)[-1]
            rows.append(f"| {label}: `towntype sheets RUN --county {county}` on that run, "
                        f"from start to exit | {sheets['process_wall_s']:.1f} s | "
                        + (f"< {limit:.0f} s | {verdict(sheets['process_wall_s'] < limit)} |"
                           if limit else "– | – |"))
    return rows + [""]


def _stages(n: str, size: dict, draws: int) -> list[str]:
    p = size["pipeline"]
    s = size.get("synth", {})
    out = [f"## {int(n):,} towns, {draws:,} draws", ""]
    if s.get("status", "ok") == "ok" and "polygons_s" in s:
        out += [f"Inputs ({s['region']} outline): polygons {s['polygons_s']:.1f} s, indicator "
                f"table {s['indicators_s']:.2f} s, writing {s['write_s']:.1f} s; towns.gpkg "
                f"{s['boundaries_mb']:.1f} MB, indicators.csv {s['indicators_mb']:.1f} MB.", ""]
    if p.get("status") != "ok":
        out += [f"Pipeline: **{_status(p)}**" + (f" (stage `{p['failed_stage']}`)"
                                                  if p.get("failed_stage") else ""), ""]
        if p.get("traceback"):
            out += ["```", p["traceback"].strip()[-1500:], "```", ""]
    timings = p.get("timings") or {}
    peaks, cpu = {}, {}
    for span in p.get("stages", []):
        if span.get("cpu_s") is not None:
            cpu[span["stage"]] = cpu.get(span["stage"], 0) + span["cpu_s"]
        if span.get("peak_mb") is not None:
            peaks[span["stage"]] = max(peaks.get(span["stage"], 0), span["peak_mb"])
        timings.setdefault(span["stage"], round(span["seconds"], 3))
    if timings:
        total = sum(v for v in timings.values() if isinstance(v, (int, float)))
        out += ["| stage | wall s | share | CPU s (all threads and child processes) "
                "| peak RSS MB (main process) |",
                "|---|---:|---:|---:|---:|"]
        order = [st for st in STAGES if st in timings] + [st for st in timings
                                                             if st not in STAGES]
        for st in order:
            v = timings[st]
            out.append(f"| {st} | {v:.2f} | {100 * v / total:.0f} % | {_f(cpu.get(st))} | "
                       f"{_f(peaks.get(st), 0)} |")
        for st in STAGES:
            if st in (p.get("skipped") or ()):
                out.append(f"| {st} | skipped (--skip) | | | |")
            elif st not in timings:
                out.append(f"| {st} | – | – | – | – (not reached or not timed) |")
        out.append(f"| **run_pipeline** | **{_f(p.get('wall_s'))}** | | | "
                   f"**{_f(p.get('peak_mb'), 0)}** |")
        out.append(f"| process (interpreter, imports {p.get('import_s', 0):.1f} s, run) | "
                   f"{p['process_wall_s']:.2f} | | {_f(p.get('process_cpu_s'))} | "
                   f"{p['process_peak_mb']:.0f} |")
        out.append("")
        if p.get("files"):
            out += [_files(p["files"]), ""]
        notes = []
        if p.get("tree_pss_mb"):
            notes.append(f"Memory of the whole job (this process and the ones it forks: "
                         f"table writer, sheet renderers): peak summed PSS "
                         f"{p['tree_pss_mb']:,.0f} MB ({p['tree_processes_at_peak']} "
                         f"processes), sampled every {p['tree_interval_s']:.0f} s from "
                         f"outside (the sampling costs this run some CPU).")
        cli = size.get("cli") or {}
        if cli.get("status") == "ok":
            notes.append(f"`towntype run` on the same inputs with its default outputs, as a "
                         f"user runs it: {cli['process_wall_s']:.1f} s from process start "
                         f"to exit, CPU {cli['process_cpu_s']:.1f} s, peak summed PSS "
                         f"{_f(cli.get('tree_pss_mb'), 0)} MB.")
        elif cli:
            notes.append(f"`towntype run`: {_status(cli)}.")
        if notes:
            out += [" ".join(notes), ""]
    return out


def _files(files: dict) -> str:
    """Output sizes: the big files by name, the many small ones (sheets) summed."""
    big = {k: v for k, v in files.items() if v >= 2**19}
    small = {k: v for k, v in files.items() if v < 2**19}
    text = "Output files: " + ", ".join(f"{k} {v / 2**20:.1f} MB" for k, v in sorted(
        big.items(), key=lambda kv: -kv[1]))
    if small:
        text += (f"{'; ' if big else ''}{len(small):,} smaller files (sheets, CSVs, run.json) "
                 f"{sum(small.values()) / 2**20:.1f} MB")
    return text + "."


def _cluster_summary(rows: list[dict]) -> list[str]:
    """Ours vs pygeoda per data set and k: quality ratio and time ratio."""
    import pandas as pd

    df = pd.DataFrame(rows)
    if not {"data", "k", "method", "seconds", "within_ss"} <= set(df.columns):
        return []
    if (df["data"] != "Qingyuan demo").any():
        df = df[df["data"] != "Qingyuan demo"]
    out = ["| data | k | ours WSS ÷ best GeoDa | ours s | pygeoda SKATER s | "
           "pygeoda REDCAP s | ours ÷ SKATER time | ours ÷ REDCAP time |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for (data, k), g in df.groupby(["data", "k"], sort=False):
        by = dict(zip(g["method"], zip(g["seconds"], g.get("vs_best_geoda", g["within_ss"]))))
        ours = next((v for m, v in by.items() if m.startswith("ward_spatial")), None)
        sk = by.get("pygeoda SKATER")
        rc = by.get("pygeoda REDCAP (full-order Ward)")
        if not (ours and sk and rc):
            continue
        out.append(f"| {data} | {k} | {ours[1]:.3f} | {ours[0]:.3f} | {sk[0]:.3f} | "
                   f"{rc[0]:.3f} | {ours[0] / sk[0]:.2f} | {ours[0] / rc[0]:.2f} |")
    return out if len(out) > 2 else []


def _generic(rec: dict) -> str:
    if rec.get("status") != "ok":
        return _status(rec)
    if rec.get("markdown"):
        return f"`{rec['function']}` ({rec['wall_s']:.1f} s):\n\n{rec['markdown'].strip()}\n"
    body = rec.get("result")
    head = f"`{rec['function']}` ({rec['wall_s']:.1f} s)"
    if isinstance(body, dict) and isinstance(body.get("table"), list) and body["table"]:
        scalars = {k: v for k, v in body.items() if k != "table"}
        summary = _cluster_summary(body["table"])
        if summary:
            text = json.dumps(scalars, ensure_ascii=False, default=str)
            return f"{head}: {text[:800]}\n\n" + "\n".join(summary) + "\n"
        rows = body["table"]
        cols = [c for c in rows[0] if c not in ("error",)]
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for r in rows[:60]:
            lines.append("| " + " | ".join(
                f"{r.get(c):,.3f}" if isinstance(r.get(c), float) else str(r.get(c, ""))
                for c in cols) + " |")
        text = json.dumps(scalars, ensure_ascii=False, default=str)
        return f"{head}: {text[:800]}\n\n" + "\n".join(lines) + "\n"
    text = json.dumps(body, ensure_ascii=False, default=str)
    return f"{head}: {text[:1200]}"


def _baselines(res: dict) -> list[str]:
    out = ["## Baselines, measured in the same run", "",
           "Memory: how far the stage's peak RSS rose above the RSS at its start.", "",
           "| towns | stage | ours | baseline | ours ÷ baseline | note |",
           "|---:|---|---:|---:|---:|---|"]
    extra = []
    for n, size in res["sizes"].items():
        sc = size.get("scoring")
        if not sc:
            continue
        if sc.get("status", "ok") not in ("ok",) and "plain_scoring" not in sc:
            out.append(f"| {int(n):,} | scoring | {_status(sc)} | | | |")
            continue
        ps, ours = sc["plain_scoring"], sc.get("scoring", {})
        if ours.get("status") == "ok":
            out.append(f"| {int(n):,} | scoring (`classify.scoring.score` vs plain pandas "
                       f"min–max + equal weights) | {ours['seconds']:.3f} s | "
                       f"{ps['seconds']:.3f} s | {ours['ratio']:.1f} | Spearman of composites "
                       f"{ours['spearman_composite']:.3f} |")
        else:
            out.append(f"| {int(n):,} | scoring | {_status(ours)} | {ps['seconds']:.3f} s | | |")
        pu, mc = sc["plain_uncertainty"], sc.get("uncertainty", {})
        if mc.get("status") == "ok":
            out.append(f"| {int(n):,} | uncertainty, {pu['draws']:,} draws "
                       f"(`monte_carlo` vs one-draw-at-a-time numpy) | {mc['seconds']:.2f} s, "
                       f"+{mc['added_mb']:.0f} MB | {pu['seconds']:.2f} s, "
                       f"+{pu['added_mb']:.0f} MB | {mc['ratio']:.1f} | dim_scores "
                       f"{_f(mc.get('dim_scores_mb'), 0, ' MB')} {mc.get('dim_scores_dtype')} |")
        else:
            out.append(f"| {int(n):,} | uncertainty | {_status(mc)} | {pu['seconds']:.2f} s | | |")
        for kind, what in (("clusters", "clustering vs pygeoda SKATER/REDCAP"),
                           ("map", "map vs GeoDataFrame.explore()")):
            rec = size.get(kind)
            if rec is None:
                continue
            extra.append(f"- {int(n):,} towns, {what}: {_generic(rec)}")
    return out + [""] + (["### Clustering and map (from the engineers' bench modules)", ""]
                         + extra + [""] if extra else [])


def _profile(res: dict) -> list[str]:
    out = []
    for n, size in res["sizes"].items():
        prof = (size.get("profile") or {}).get("profile")
        if not prof:
            continue
        out += [f"## Profile, {int(n):,} towns (cProfile, top functions by own time)", "",
                "| function | calls | own s | cumulative s |", "|---|---:|---:|---:|"]
        out += [f"| `{r['function']}` | {r['calls']} | {r['tottime']:.2f} | {r['cumtime']:.2f} |"
                for r in prof["tottime"][:20]]
        out += ["", "Our functions by cumulative time:", "",
                "| function | calls | own s | cumulative s |", "|---|---:|---:|---:|"]
        out += [f"| `{r['function']}` | {r['calls']} | {r['tottime']:.2f} | {r['cumtime']:.2f} |"
                for r in prof["cumtime_ours"][:20]]
        out.append("")
    return out


def render(res: dict, notes: str = "") -> str:
    """The Markdown of ``RESULTS.md`` for a results dict of :func:`run_benchmark`."""
    lines = ["# Scale benchmark results", "",
             f"Written by `{res['command']}` (seed {res['seed']}, {res['draws']:,} uncertainty "
             f"draws{', --quick' if res['quick'] else ''}"
             f"{'; stages stubbed out: ' + ', '.join(res['skip']) if res.get('skip') else ''}"
             f"{'; thread pools capped at %d' % res['threads'] if res.get('threads') else ''}"
             "). Synthetic inputs: "
             "`bench/synth.py` (Voronoi towns tiling the China outline, or a Guangdong-sized "
             "window of it up to 5,000 towns). Every job ran in its own process, after the "
             "previous outputs were removed and the disk synced. The targets are checked on "
             "`towntype run` itself with its default outputs (the console command as a "
             "process of its own: wall time from start to exit, peak summed PSS of its "
             "process tree sampled every second) and on `towntype sheets RUN --county` "
             "on that run; the map measured is the `map.html` that run wrote. The stage "
             "tables come from a second, instrumented run of the pipeline: per stage the kernel's RSS high-water mark of the "
             "main process (VmHWM, reset per stage), and for the whole job the summed PSS of "
             "all its processes (sampled once a second). "
             "**Ratios, not absolute times, are what we compare across runs.**", ""]
    lines += _targets(res) + _machine(res["machine"])
    for n, size in res["sizes"].items():
        lines += _stages(n, size, res["draws"])
    lines += _baselines(res) + _profile(res)
    lines += [NOTES_MARK, notes.strip() or "## Notes\n\n(none yet)", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench",
                                description="Scale benchmark: the real pipeline on synthetic "
                                            "inputs, per stage, against baselines.")
    p.add_argument("--sizes", type=int, nargs="+", default=[1609, 40000],
                   help="numbers of towns (default: 1609 40000)")
    p.add_argument("--draws", type=int, default=1000, help="uncertainty draws (default 1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true",
                   help="100 draws; skip the cluster and map baselines above 5,000 towns")
    p.add_argument("--profile", action="store_true",
                   help="also run the pipeline under cProfile (adds a run per size)")
    p.add_argument("--no-baselines", action="store_true", help="only the pipeline")
    p.add_argument("--skip", action="append", default=[], choices=["suggestions"],
                   help="stub out a stage of the pipeline (reported as skipped; targets "
                        "are then not met by definition)")
    p.add_argument("--threads", type=int, default=None,
                   help="cap OpenMP/OpenBLAS/MKL threads of every job (default: libraries' "
                        "own choice, as a user gets)")
    p.add_argument("--mem-limit", type=float, default=12.0, metavar="GB",
                   help="address-space cap of every job (default 12 GB; 0 = none): a job "
                        "that would exhaust the shared machine fails with MemoryError")
    p.add_argument("--timeout", type=float, default=900.0,
                   help="seconds before a job is stopped (default 900)")
    p.add_argument("--work", type=Path, default=None,
                   help="folder for inputs and outputs (default $TMPDIR/towntype-bench)")
    p.add_argument("--results", type=Path, default=RESULTS,
                   help=f"Markdown file to write (default {RESULTS.name} in bench/)")
    p.add_argument("--json", type=Path, default=None, help="also write the raw results")
    a = p.parse_args(argv)
    res = run_benchmark(a.sizes, draws=a.draws, seed=a.seed, quick=a.quick, work=a.work,
                        profile=a.profile, timeout=a.timeout, baselines=not a.no_baselines,
                        skip=a.skip, threads=a.threads, mem_limit_gb=a.mem_limit or None)
    notes = ""
    if a.results.is_file() and NOTES_MARK in a.results.read_text(encoding="utf-8"):
        notes = a.results.read_text(encoding="utf-8").split(NOTES_MARK, 1)[1]
    a.results.write_text(render(res, notes), encoding="utf-8")
    if a.json:
        a.json.write_text(json.dumps(res, ensure_ascii=False, indent=1, default=str))
    print(f"wrote {a.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
