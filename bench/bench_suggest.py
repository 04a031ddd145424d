"""Benchmark of the self-assessment stage: ``suggest`` + ``write_suggestions``.

The inputs of the stage are made by the real pipeline (read, join, score, rules,
clusters) on the demo (84 towns) and on synthetic towns from :mod:`bench.synth`; the run
stops where the suggestions stage would start and keeps its arguments.  The current code
is timed at every size; the code before the speed work (git commit :data:`BASELINE`,
loaded from git into a temporary package) is timed side by side up to ``--old-max`` towns,
and its files are compared with the current ones: every ``.md`` / ``.html`` byte for byte,
the workbook by its zip members (the XML; the zip's own bytes differ, the pieces are
compressed apart), else by what openpyxl reads.

Wall seconds (``time.perf_counter``) and CPU seconds (``os.times``: user + system of this
process and of the rendering processes it waited for).

Run::

    .venv/bin/python -m bench.bench_suggest [--sizes 84 1600 40000] [--old-max 1600]
                                            [--out bench/bench_suggest.md]
"""

from __future__ import annotations

import argparse
import filecmp
import gc
import importlib
import os
import platform
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pandas as pd

import classify.pipeline as pipeline
from classify.sheets import write_suggestions
from classify.suggest import suggest

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "e84b064"  # the suggestions code before the speed work
_OLD_FILES = ("suggest.py", "sheets.py", "numfmt.py", "templates/chart.svg.j2",
              "templates/labels_en.toml", "templates/labels_zh.toml",
              "templates/sheet.html.j2", "templates/sheet.md.j2")


class _Stop(Exception):
    pass


def stage_inputs(opts: pipeline.RunOptions) -> dict:
    """The arguments the pipeline passes to its suggestions stage (run up to there)."""
    got: dict = {}
    real = pipeline._suggest

    def capture(opts, frame, trace, system, taxonomy, scored, missing_log, stage, timer, **_):
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


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def time_stage(suggest_fn, write_fn, g: dict, out: Path) -> dict:
    """Wall and CPU seconds of ``suggest`` and of writing md + html + xlsx; files made."""
    gc.collect()
    w0, c0 = time.perf_counter(), _cpu()
    sugs = suggest_fn(g["frame"], g["trace"], g["system"], g["taxonomy"], lang=g["lang"],
                      model=g["model"], missing_log=g["missing_log"])
    w1, c1 = time.perf_counter(), _cpu()
    files = write_fn(sugs, out, lang=g["lang"])
    w2, c2 = time.perf_counter(), _cpu()
    del sugs
    gc.collect()
    return {"suggest_s": w1 - w0, "suggest_cpu": c1 - c0, "write_s": w2 - w1,
            "write_cpu": c2 - c1, "total_s": w2 - w0, "total_cpu": c2 - c0,
            "files": len(files)}


def same_files(a: Path, b: Path) -> str:
    """How two ``suggestions/`` folders compare: .md/.html byte for byte, .xlsx by its zip
    members, else by what a reader sees."""
    names = sorted(p.name for p in a.iterdir())
    if names != sorted(p.name for p in b.iterdir()):
        return "different file lists"
    _, diff, errors = filecmp.cmpfiles(a, b, names, shallow=False)
    books = [n for n in diff if n.endswith(".xlsx")]
    diff = [n for n in diff if n not in books]
    if diff or errors:
        return f"differ: {', '.join((diff + errors)[:5])}"
    bad = [n for n in books if _members(a / n) != _members(b / n)
           and workbook_content(a / n) != workbook_content(b / n)]
    if bad:
        return f"workbook content differs: {', '.join(bad)}"
    return "md/html identical; xlsx same XML" if books else "identical"


def _members(path: Path) -> dict:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


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
            row = {"towns": len(g["frame"])}
            row.update(time_stage(suggest, write_suggestions, g, work / f"new{n}"))
            if n <= old_max:
                was = time_stage(*old, g, work / f"old{n}")
                row.update({f"old_{k}": v for k, v in was.items() if k != "files"})
                row["speedup_wall"] = was["total_s"] / row["total_s"]
                row["speedup_cpu"] = was["total_cpu"] / row["total_cpu"]
                row["outputs"] = same_files(work / f"old{n}" / "suggestions",
                                            work / f"new{n}" / "suggestions")
            rows.append(row)
            print(row, flush=True)
            del g
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
    ap.add_argument("--old-max", type=int, default=1600,
                    help="run the previous implementation up to this many towns")
    ap.add_argument("--out", default=str(ROOT / "bench" / "bench_suggest.md"))
    args = ap.parse_args(argv)
    table = run(args.sizes, args.old_max)
    text = (f"# Suggestions stage: suggest + md/html/xlsx\n\n"
            f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, pandas {pd.__version__}.  Inputs: the real "
            f"pipeline up to the suggestions stage (demo = 84 towns, else bench.synth); "
            f"`old_*` = commit {BASELINE} on the same inputs in the same process; seconds "
            f"wall (`_s`) and CPU (`_cpu`, with the rendering processes), one run each, on a "
            f"machine shared with other jobs.  `outputs` compares every .md/.html byte for "
            f"byte and the .xlsx by its XML.\n\n" + to_markdown(table) + "\n")
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
