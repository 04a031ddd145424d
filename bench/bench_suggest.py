"""Benchmark of the self-assessment stage: ``suggest`` + ``write_suggestions``.

The inputs of the stage are made by the real pipeline (read, join, score, rules,
clusters) on the demo (84 towns) and on synthetic towns from :mod:`bench.synth`; the run
stops where the suggestions stage would start and keeps its arguments.  The current code
is timed at every size; the previous implementation (git commit ``a12f18f``, loaded from
git into a temporary package) is timed side by side where it finishes in reasonable time,
and its files are compared byte for byte with the current ones.

Run::

    .venv/bin/python -m bench.bench_suggest [--sizes 84 1600 40000] [--old-max 400]
                                            [--out bench/bench_suggest.md]
"""

from __future__ import annotations

import argparse
import filecmp
import importlib
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

import classify.pipeline as pipeline
from classify.sheets import write_suggestions
from classify.suggest import suggest

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "a12f18f"  # the suggestions code before the speed work
_OLD_FILES = ("suggest.py", "sheets.py", "numfmt.py", "templates/chart.svg.j2",
              "templates/labels_en.toml", "templates/labels_zh.toml",
              "templates/sheet.html.j2", "templates/sheet.md.j2")


class _Stop(Exception):
    pass


def stage_inputs(opts: pipeline.RunOptions) -> dict:
    """The arguments the pipeline passes to its suggestions stage (run up to there)."""
    got: dict = {}
    real = pipeline._suggest

    def capture(opts, frame, trace, system, taxonomy, scored, missing_log, stage, timer):
        got.update(frame=frame, trace=trace, system=system, taxonomy=taxonomy,
                   model=scored.model, missing_log=missing_log, lang=opts.lang)
        raise _Stop

    pipeline._suggest = capture
    try:
        pipeline.run_pipeline(opts)
    except _Stop:
        pass
    finally:
        pipeline._suggest = real
    return got


def inputs_for(n: int, work: Path, seed: int = 0) -> dict:
    """Stage inputs of the demo (``n == 84``) or of ``n`` synthetic towns."""
    if n == 84:
        return stage_inputs(pipeline.demo_options(work / "demo-out", draws=50))
    from bench.synth import write_inputs

    region = "guangdong" if n <= 5000 else "china"
    paths = write_inputs(work / f"in{n}", n, seed, region=region)
    return stage_inputs(pipeline.RunOptions(boundaries=paths["boundaries"],
                                            indicators=paths["indicators"],
                                            out=work / f"out{n}", draws=50))


def load_baseline(work: Path, commit: str = BASELINE):
    """``(suggest, write_suggestions)`` of ``commit``, imported as package ``old_suggest``."""
    pkg = work / "old_suggest"
    for name in _OLD_FILES:
        text = subprocess.run(["git", "show", f"{commit}:classify/{name}"], cwd=ROOT,
                              check=True, capture_output=True, text=True).stdout
        for a, b in (("from classify.suggest", "from old_suggest.suggest"),
                     ("from classify import numfmt", "from old_suggest import numfmt"),
                     ('PackageLoader("classify"', 'PackageLoader("old_suggest"'),
                     ('resources.files("classify")', 'resources.files("old_suggest")')):
            text = text.replace(a, b)
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(text, encoding="utf-8")
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    sys.path.insert(0, str(work))
    importlib.invalidate_caches()
    old_s = importlib.import_module("old_suggest.suggest")
    old_w = importlib.import_module("old_suggest.sheets")
    return old_s.suggest, old_w.write_suggestions


def time_stage(suggest_fn, write_fn, g: dict, out: Path) -> tuple[float, float, int]:
    """Seconds of ``suggest``, of writing md + html + xlsx, and the number of files."""
    t0 = time.perf_counter()
    sugs = suggest_fn(g["frame"], g["trace"], g["system"], g["taxonomy"], lang=g["lang"],
                      model=g["model"], missing_log=g["missing_log"])
    t1 = time.perf_counter()
    files = write_fn(sugs, out, lang=g["lang"])
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, len(files)


def same_files(a: Path, b: Path) -> str:
    """How two ``suggestions/`` folders compare: .md/.html byte for byte, .xlsx by what
    a reader sees (the workbook is now written directly, so its bytes differ)."""
    names = sorted(p.name for p in a.iterdir())
    if names != sorted(p.name for p in b.iterdir()):
        return "different file lists"
    _, diff, errors = filecmp.cmpfiles(a, b, names, shallow=False)
    books = [n for n in diff if n.endswith(".xlsx")]
    diff = [n for n in diff if n not in books]
    if diff or errors:
        return f"differ: {', '.join((diff + errors)[:5])}"
    bad = [n for n in books if workbook_content(a / n) != workbook_content(b / n)]
    if bad:
        return f"workbook content differs: {', '.join(bad)}"
    return "md/html identical; xlsx same content" if books else "identical"


def workbook_content(path: Path) -> list:
    """Sheets, cell values, number formats, bold / fill / wrap, widths, panes, filters."""
    from openpyxl import load_workbook

    wb = load_workbook(path)
    out = []
    for ws in wb.worksheets:
        widths = {k: d.width for k, d in ws.column_dimensions.items() if d.width}
        cells = [(c.coordinate, c.value, c.number_format, bool(c.font.b),
                  c.fill.fgColor.rgb if c.fill.fill_type else None,
                  bool(c.alignment.wrap_text), c.alignment.vertical)
                 for row in ws.iter_rows() for c in row if c.value is not None]
        out.append((ws.title, ws.freeze_panes, ws.auto_filter.ref, widths, cells))
    return out


def run(sizes, old_max: int) -> pd.DataFrame:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        old = load_baseline(work)
        for n in sizes:
            g = inputs_for(n, work)
            new = time_stage(suggest, write_suggestions, g, work / f"new{n}")
            row = {"towns": len(g["frame"]), "suggest_s": new[0], "write_s": new[1],
                   "total_s": new[0] + new[1], "files": new[2]}
            if n <= old_max:
                was = time_stage(*old, g, work / f"old{n}")
                row.update(old_suggest_s=was[0], old_write_s=was[1],
                           old_total_s=was[0] + was[1], speedup=(was[0] + was[1]) /
                           (new[0] + new[1]),
                           outputs=same_files(work / f"old{n}" / "suggestions",
                                              work / f"new{n}" / "suggestions"))
            rows.append(row)
            print(row, flush=True)
    return pd.DataFrame(rows)


def to_markdown(table: pd.DataFrame) -> str:
    cols = list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in table.to_dict("records"):
        lines.append("| " + " | ".join(f"{v:.2f}" if isinstance(v, float) else
                                       ("" if v is None else str(v)) for v in
                                       (r.get(c) for c in cols)) + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[84, 1600, 40000])
    ap.add_argument("--old-max", type=int, default=400,
                    help="run the previous implementation up to this many towns")
    ap.add_argument("--out", default=str(ROOT / "bench" / "bench_suggest.md"))
    args = ap.parse_args(argv)
    table = run(args.sizes, args.old_max)
    text = (f"# Suggestions stage: suggest + md/html/xlsx\n\n"
            f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, pandas {pd.__version__}.  Inputs: the real "
            f"pipeline up to the suggestions stage (demo = 84 towns, else bench.synth); "
            f"`old_*` = commit {BASELINE} on the same inputs in the same process; wall "
            f"seconds (time.perf_counter), one run each, on a machine shared with other "
            f"jobs.  `outputs` compares every .md/.html byte for byte and the .xlsx by "
            f"content (values, formats, widths, panes, filters).\n\n"
            + to_markdown(table) + "\n")
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
