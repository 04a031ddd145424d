"""The benchmark harness: per-stage wall time and peak memory of the real pipeline, and
the baselines measured side by side in the same run.

Every measurement runs in its own child process (``python -m bench.run --job …``), so a
peak-memory figure belongs to one job only and a runaway job can be stopped at its time
limit without losing the others.  Jobs:

``synth``      write the synthetic inputs (:mod:`bench.synth`) for one size.
``pipeline``   ``classify.pipeline.run_pipeline`` on them; per stage the wall time (the
               manifest's ``timings``) and the peak RSS (Linux ``VmHWM``, reset at each
               stage through ``/proc/self/clear_refs``; a 10 ms RSS sampler where that
               is not allowed).  Optionally under cProfile.
``cli``        ``towntype run`` itself on the same inputs with its default outputs, as a
               user runs it: the console command as a process of its own (not a bench
               job), timed from start to exit, with the peak summed PSS of its process
               tree — the figures the targets are checked against.
``sheets``     ``towntype sheets RUN --county NAME`` on the ``cli`` job's finished run, for
               a county of at most 30 towns (the county office's request).
``scoring``    our ``classify.scoring.score`` and ``classify.uncertainty.monte_carlo``
               against :mod:`bench.baselines` (plain pandas / numpy) on the same
               indicator frame.
``clusters``   the categories engineer's ``bench/bench_clusters.py`` (ours vs pygeoda
               SKATER / REDCAP), when it exists.
``map``        the ``map.html`` the ``cli`` job's ``towntype run`` wrote against
               ``GeoDataFrame.explore()`` on the same towns (``bench.bench_map.measure_run``:
               file size, headless-Chromium render).

A part that is not there yet is reported as "not available yet", never silently skipped.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import importlib
import inspect
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

__all__ = ["STAGES", "TARGETS", "machine_info", "run_job", "run_benchmark", "PeakMeter"]

#: Pipeline stages in order (the keys of ``manifest["timings"]``).
STAGES = ("read", "join", "indicators", "scoring", "uncertainty", "rules", "clustering",
          "suggestions", "map", "static_maps", "outputs")

#: Issue 14 targets for ``towntype run`` with its default outputs: towns → (seconds,
#: GB peak summed PSS or None, draws or None).  At 1,609 towns (a province) the default
#: outputs are every sheet and both workbooks; at 40,000 the tables, the map, the evidence.
TARGETS = {40000: (45.0, 3.0, 1000), 1609: (8.0, None, None)}
#: ``towntype sheets RUN --county NAME`` (≤ 30 towns) from a finished run: towns → seconds.
SHEETS_TARGETS = {40000: 3.0}

ROOT = Path(__file__).resolve().parent.parent
NOT_AVAILABLE = "not available yet"


# -- memory ---------------------------------------------------------------------------------
def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class PeakMeter:
    """Peak resident memory of spans of this process.

    Exact on Linux: writing ``5`` to ``/proc/self/clear_refs`` resets ``VmHWM`` (the
    kernel's high-water mark of RSS) to the current RSS, so ``VmHWM`` read at the end of a
    span is the span's peak.  Elsewhere, a daemon thread samples RSS every ``interval``
    seconds and a span's peak is the largest sample inside it.
    """

    def __init__(self, interval: float = 0.01):
        self.interval = interval
        self.exact = self._can_reset()
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = None
        self.whole_kb = 0
        self._base: dict[float, float] = {}

    @staticmethod
    def _can_reset() -> bool:
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
            return _status_kb("VmHWM") is not None
        except OSError:
            return False

    def start(self) -> PeakMeter:
        if not self.exact:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), _rss_bytes()))
            self._stop.wait(self.interval)

    def begin(self) -> float:
        """Start a span: remember the whole-run peak so far, reset the mark."""
        if self.exact:
            self.whole_kb = max(self.whole_kb, _status_kb("VmHWM") or 0)
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
        t0 = time.perf_counter()
        self._base[t0] = _rss_bytes() / 2**20
        return t0

    def added(self, t0: float, peak_mb: float) -> float:
        """How far the peak of the span begun at ``t0`` rose above its starting RSS (MB)."""
        return peak_mb - self._base.get(t0, peak_mb)

    def end(self, t0: float) -> float:
        """Peak RSS in MB since :meth:`begin` returned ``t0``."""
        if self.exact:
            kb = _status_kb("VmHWM") or 0
            self.whole_kb = max(self.whole_kb, kb)
            return kb / 1024
        t1 = time.perf_counter()
        inside = [b for t, b in self.samples if t0 <= t <= t1] + [_rss_bytes()]
        return max(inside) / 2**20

    def whole_mb(self) -> float:
        """Peak RSS of the process so far (MB)."""
        if self.exact:
            self.whole_kb = max(self.whole_kb, _status_kb("VmHWM") or 0)
            return self.whole_kb / 1024
        return max([b for _, b in self.samples] + [_rss_bytes()]) / 2**20


def _cpu_with_children() -> float:
    """CPU seconds of this process (all threads) plus its finished child processes (the
    sheets are rendered by worker processes; their CPU counts once they are joined)."""
    import resource

    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


@contextlib.contextmanager
def _stage_hook(meter: PeakMeter, spans: list[dict], progress: Path | None = None):
    """Wrap ``classify.pipeline._Timer`` so every stage also records its peak memory.

    The pipeline's own timer still measures the wall time; this only adds the memory
    figure (only top-level stages reset the mark; nested ones report the running peak).
    """
    import classify.pipeline as pipeline

    timer = getattr(pipeline, "_Timer", None)
    if timer is None:
        yield False
        return
    original = timer.__call__
    depth = [0]

    @contextlib.contextmanager
    def call(self, stage):
        top = depth[0] == 0
        t0 = meter.begin() if top else time.perf_counter()
        c0 = _cpu_with_children()
        depth[0] += 1
        try:
            with original(self, stage):
                yield
        finally:
            depth[0] -= 1
            spans.append({"stage": stage, "start": t0, "seconds": time.perf_counter() - t0,
                          "cpu_s": _cpu_with_children() - c0,
                          "peak_mb": meter.end(t0) if top else None})
            if progress is not None:   # read by the parent if this job hits its time limit
                progress.write_text(json.dumps(
                    {"stages": [{k: v for k, v in sp.items() if k != "start"} for sp in spans],
                     "peak_mb": meter.whole_mb(), "exact_memory": meter.exact}))

    timer.__call__ = call
    try:
        yield True
    finally:
        timer.__call__ = original


# -- jobs (each runs in a child process) ----------------------------------------------------
def _inputs(work: Path, n: int, seed: int) -> dict[str, Path]:
    folder = work / f"inputs-{n}-s{seed}"
    return {"boundaries": folder / "towns.gpkg", "indicators": folder / "indicators.csv",
            "folder": folder}


def job_synth(n: int, seed: int, work: Path, **_) -> dict:
    from bench.synth import make_indicators, make_towns, region_for

    paths = _inputs(work, n, seed)
    paths["folder"].mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    towns = make_towns(n, seed=seed)
    t1 = time.perf_counter()
    table = make_indicators(towns, seed=seed)
    t2 = time.perf_counter()
    for key in ("boundaries", "indicators"):
        paths[key].unlink(missing_ok=True)
    towns.to_file(paths["boundaries"], layer="towns", driver="GPKG", engine="pyogrio")
    table.to_csv(paths["indicators"], index=False, encoding="utf-8-sig")
    t3 = time.perf_counter()
    return {"towns": len(towns), "region": region_for(n), "polygons_s": t1 - t0,
            "indicators_s": t2 - t1, "write_s": t3 - t2,
            "boundaries_mb": paths["boundaries"].stat().st_size / 2**20,
            "indicators_mb": paths["indicators"].stat().st_size / 2**20}


#: Stages ``--skip`` can stub out (private helper of classify.pipeline → stub result).
SKIPPABLE = {"suggestions": ("_suggest", lambda *a, **k: [])}


def _skip_stages(skip) -> list[str]:
    """Replace the pipeline helpers of the ``skip`` stages by stubs (opt-in, reported)."""
    import classify.pipeline as pipeline

    done = []
    for stage in skip or ():
        name, stub = SKIPPABLE[stage]
        if hasattr(pipeline, name):
            setattr(pipeline, name, stub)
            done.append(stage)
    return done


def job_pipeline(n: int, seed: int, work: Path, draws: int, profile: bool = False,
                 skip=(), **_) -> dict:
    """Run the real pipeline once; wall time and peak memory per stage."""
    t_import = time.perf_counter()
    try:
        from classify.pipeline import RunOptions, run_pipeline
    except ImportError as exc:
        return {"status": NOT_AVAILABLE, "error": f"classify.pipeline: {exc}"}
    import_s = time.perf_counter() - t_import
    paths = _inputs(work, n, seed)
    out = work / f"out-{n}-s{seed}-d{draws}"
    opts = RunOptions(boundaries=paths["boundaries"], indicators=paths["indicators"],
                      out=out, draws=draws, seed=seed)
    meter = PeakMeter().start()
    spans: list[dict] = []
    profiler = None
    if profile:
        import cProfile
        profiler = cProfile.Profile()
    result, error = None, None
    progress = work / f"job-pipeline-{n}.progress.json"
    progress.unlink(missing_ok=True)
    skipped = _skip_stages(skip)
    with _stage_hook(meter, spans, progress) as hooked:
        t0 = time.perf_counter()
        try:
            if profiler:
                profiler.enable()
            result = run_pipeline(opts)
        except Exception as exc:   # report where it broke, keep the other jobs going
            error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            error_tb = traceback.format_exc(limit=-6)
        finally:
            if profiler:
                profiler.disable()
        wall = time.perf_counter() - t0
    meter.stop()
    rec = {"status": "ok" if error is None else "failed", "wall_s": wall,
           "import_s": import_s, "peak_mb": meter.whole_mb(), "exact_memory": meter.exact,
           "hooked": hooked, "out": str(out), "skipped": skipped,
           "stages": [{k: v for k, v in s.items() if k != "start"} for s in spans]}
    if error is not None:
        rec["error"] = error
        rec["traceback"] = error_tb
        rec["failed_stage"] = spans[-1]["stage"] if spans else None
    if result is not None:
        rec["timings"] = dict(result.manifest.get("timings", {}))
        rec["towns_out"] = len(result.towns)
        rec["files"] = {Path(f).name: Path(f).stat().st_size for f in result.files
                        if Path(f).is_file()}
    if profiler:
        rec["profile"] = _profile_rows(profiler, work / f"profile-{n}.prof")
    return rec


def _profile_rows(profiler, path: Path, top: int = 25) -> list[dict]:
    import pstats

    profiler.dump_stats(str(path))
    stats = pstats.Stats(str(path))
    rows = []
    for (file, line, func), (cc, nc, tt, ct, _) in stats.stats.items():
        rows.append({"function": f"{_short(file)}:{line}({func})", "calls": nc,
                     "tottime": tt, "cumtime": ct})
    rows.sort(key=lambda r: r["tottime"], reverse=True)
    by_tot = rows[:top]
    by_cum = sorted((r for r in rows if ROOT.name in r["function"] or r["function"].startswith(
        ("classify/", "geo/"))), key=lambda r: r["cumtime"], reverse=True)[:top]
    return {"tottime": by_tot, "cumtime_ours": by_cum, "file": str(path)}


def _short(file: str) -> str:
    for marker in ("site-packages/", str(ROOT) + "/"):
        if marker in file:
            return file.split(marker, 1)[1]
    return file


def _timed(fn, *args, repeat: int = 1, **kwargs):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - t0)
    return best, out


def _indicator_frame(n: int, seed: int, work: Path):
    import pandas as pd
    from classify.config import load_system
    from classify.indicators import build_indicators, recognise

    table = pd.read_csv(_inputs(work, n, seed)["indicators"], encoding="utf-8-sig",
                        dtype={"统计代码": str})
    system = load_system()
    indicators, _ = build_indicators(table, recognise(table, None, system), system)
    return table, indicators, system


def _mem(meter: PeakMeter, t0: float) -> dict:
    peak = meter.end(t0)
    return {"peak_mb": peak, "added_mb": meter.added(t0, peak)}


def job_scoring(n: int, seed: int, work: Path, draws: int, **_) -> dict:
    """Our scoring and uncertainty stages against the plain baselines, same frame."""
    from bench.baselines import dimensions_of, plain_monte_carlo, plain_scores

    table, indicators, system = _indicator_frame(n, seed, work)
    dims = dimensions_of(system, indicators.columns)
    county = table["所属县区"]
    meter = PeakMeter().start()
    rec: dict = {"indicators": indicators.shape[1]}
    t0 = meter.begin()
    plain_s, plain = _timed(plain_scores, indicators, dims, repeat=3)
    rec["plain_scoring"] = {"seconds": plain_s, **_mem(meter, t0)}
    try:
        from classify.scoring import score
    except ImportError as exc:
        rec["scoring"] = {"status": NOT_AVAILABLE, "error": str(exc)}
    else:
        t0 = meter.begin()
        ours_s, ours = _timed(score, indicators, system, county=county, repeat=3)
        rec["scoring"] = {"status": "ok", "seconds": ours_s, **_mem(meter, t0),
                          "ratio": ours_s / plain_s,
                          "spearman_composite": float(ours.scores["composite"].corr(
                              plain["composite"], method="spearman"))}
    t0 = meter.begin()
    pmc_s, pmc = _timed(plain_monte_carlo, indicators, dims, draws=draws, seed=seed)
    rec["plain_uncertainty"] = {"seconds": pmc_s, **_mem(meter, t0), "draws": draws}
    try:
        from classify.uncertainty import monte_carlo
    except ImportError as exc:
        rec["uncertainty"] = {"status": NOT_AVAILABLE, "error": str(exc)}
    else:
        t0 = meter.begin()
        try:
            mc_s, mc = _timed(monte_carlo, indicators, system, draws=draws, seed=seed)
        except Exception as exc:
            rec["uncertainty"] = {"status": "failed", "error": repr(exc)[:300]}
        else:
            arr = getattr(mc, "dim_scores", None)
            rec["uncertainty"] = {
                "status": "ok", "seconds": mc_s, **_mem(meter, t0),
                "ratio": mc_s / pmc_s,
                "dim_scores_mb": (arr.nbytes / 2**20) if arr is not None else None,
                "dim_scores_dtype": str(arr.dtype) if arr is not None else None}
    meter.stop()
    return rec


def _call_bench_module(module: str, n: int, seed: int, work: Path, draws: int) -> dict:
    """Call another engineer's ``bench/<module>.py`` with whatever it accepts.

    Convention looked for: a function ``run_bench`` / ``benchmark`` / ``compare`` / ``main``
    (first found) taking any of ``towns`` (GeoDataFrame of our inputs), ``frame`` (the towns
    table from our pipeline run, if present), ``n``, ``seed``, ``out``/``work`` and returning
    a dict (or DataFrame) of measurements.
    """
    try:
        mod = importlib.import_module(f"bench.{module}")
    except ImportError as exc:
        return {"status": NOT_AVAILABLE, "error": f"bench/{module}.py: {exc}"}
    for name in ("run_bench", "benchmark", "compare", "bench", "measure", "run"):
        fn = getattr(mod, name, None)
        if callable(fn):
            break
    else:
        return {"status": NOT_AVAILABLE,
                "error": f"bench/{module}.py has no run_bench/benchmark/compare function"}
    params = inspect.signature(fn).parameters
    kwargs = {}
    lazy = {
        "towns": lambda: _towns_for(n, seed, work),
        "gdf": lambda: _towns_for(n, seed, work),
        "frame": lambda: _towns_for(n, seed, work),
        "n": lambda: n, "n_towns": lambda: n, "size": lambda: n, "seed": lambda: seed,
        "out": lambda: work / f"{module}-{n}", "work": lambda: work / f"{module}-{n}",
        "out_dir": lambda: work / f"{module}-{n}", "workdir": lambda: work / f"{module}-{n}",
        "draws": lambda: draws,
    }
    for p in params:
        if p in lazy:
            kwargs[p] = lazy[p]()
    for key in ("out", "work", "out_dir", "workdir"):
        if key in kwargs:
            kwargs[key].mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        res = fn(**kwargs)
    except Exception as exc:
        return {"status": "failed", "function": f"bench.{module}.{name}",
                "error": "".join(traceback.format_exception_only(type(exc), exc)).strip()[:500]}
    wall = time.perf_counter() - t0
    markdown = None
    if callable(getattr(mod, "table", None)):   # the module's own Markdown table, if any
        with contextlib.suppress(Exception):
            markdown = mod.table(res)
    if hasattr(res, "to_dict"):
        res = {"table": res.to_dict(orient="records")}
    return {"status": "ok", "function": f"bench.{module}.{name}", "wall_s": wall,
            "result": _jsonable(res), "markdown": markdown}


def _cli_argv(kind: str, n: int, seed: int, work: Path, draws: int) -> list[str]:
    """The console command of the ``cli`` and ``sheets`` jobs: ``towntype run`` with its
    default outputs on the synthetic inputs, then ``towntype sheets`` for one county of
    at most 30 towns of that run."""
    out = work / f"cli-{n}-s{seed}-d{draws}"
    if kind == "cli":
        paths = _inputs(work, n, seed)
        return ["run", "--boundaries", str(paths["boundaries"]), "--indicators",
                str(paths["indicators"]), "--out", str(out), "--draws", str(draws),
                "--seed", str(seed), "--force"]
    import pandas as pd

    counts = pd.read_csv(out / "towns.csv", usecols=["county"],
                         encoding="utf-8-sig")["county"].value_counts()
    small = counts[counts <= 30]
    county = str(small.index[0] if len(small) else counts.index[-1])
    return ["sheets", str(out), "--county", county]


def _towns_for(n: int, seed: int, work: Path):
    """The scored towns of our pipeline run if there is one, else the synthetic inputs."""
    import geopandas as gpd

    for out in sorted(work.glob(f"out-{n}-s{seed}-d*")):
        gpkg = out / "towns.gpkg"
        if gpkg.is_file():
            return gpd.read_file(gpkg, layer="towns")
    return gpd.read_file(_inputs(work, n, seed)["boundaries"], layer="towns")


def _jsonable(obj):
    try:
        json.dumps(obj)
        return obj
    except TypeError:
        return json.loads(json.dumps(obj, default=str))


def job_clusters(n: int, seed: int, work: Path, draws: int, **_) -> dict:
    return _call_bench_module("bench_clusters", n, seed, work, draws)


def job_map(n: int, seed: int, work: Path, draws: int, **_) -> dict:
    """The map the ``cli`` job's ``towntype run`` wrote, against ``explore()``."""
    from bench.bench_map import measure_run, table

    run_dir = work / f"cli-{n}-s{seed}-d{draws}"
    if not (run_dir / "map.html").is_file():
        return {"status": "not run", "error": f"no {run_dir / 'map.html'} (the cli job failed)"}
    t0 = time.perf_counter()
    res = measure_run(run_dir, repeat=1, workdir=work / f"bench_map-{n}")
    return {"status": "ok", "function": "bench.bench_map.measure_run",
            "wall_s": time.perf_counter() - t0, "result": _jsonable(res),
            "markdown": table(res)}


JOBS = {"synth": job_synth, "pipeline": job_pipeline, "scoring": job_scoring,
        "clusters": job_clusters, "map": job_map}


# -- the parent -----------------------------------------------------------------------------
def _pss_bytes(pid: int) -> int:
    """Proportional set size of a process (its private pages plus its share of the pages
    it shares with others), 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
    return found


class TreeMemory:
    """Peak of the summed PSS of a process and all its descendants (workers it starts),
    sampled every ``interval`` seconds from outside.

    PSS splits a page shared by k processes into k shares, so the sum is the memory the
    job really holds.  Reading it walks the page tables: the reading process (the bench,
    not the job) pays that CPU, a few milliseconds per sample."""

    def __init__(self, pid: int, interval: float = 1.0):
        self.pid, self.interval = pid, interval
        self.peak, self.processes_at_peak = 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.available = os.path.exists(f"/proc/{os.getpid()}/smaps_rollup")

    def __enter__(self):
        if self.available:
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self.available:
            self._thread.join()
        return False

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            pids = _descendants(self.pid)
            total = sum(_pss_bytes(p) for p in pids)
            if total > self.peak:
                self.peak, self.processes_at_peak = total, len(pids)


def _fresh_outputs(work: Path, kind: str, n: int, seed: int) -> None:
    """Remove a previous run's outputs and let the disk write back what is pending, so a
    job neither pays for replacing 80,000 sheets nor for the previous job's writes."""
    import shutil

    prefix = {"pipeline": "out", "cli": "cli"}.get(kind)
    if prefix is None:
        return
    for old in work.glob(f"{prefix}-{n}-s{seed}-d*"):
        shutil.rmtree(old, ignore_errors=True)
    for old in work.glob(f".{prefix}-{n}-s{seed}-d*.partial-*"):
        shutil.rmtree(old, ignore_errors=True)
    if hasattr(os, "sync"):
        os.sync()


def run_job(kind: str, *, n: int, seed: int, draws: int, work: Path, timeout: float,
            profile: bool = False, skip=(), threads: int | None = None,
            mem_limit_gb: float | None = 12.0, tree_memory: bool = False,
            log=print) -> dict:
    """Run one job in a child process; its JSON record plus the child's wall time, peak
    RSS (``wait4`` rusage) and exit status; with ``tree_memory`` also the peak summed
    PSS of the job and its child processes (:class:`TreeMemory`)."""
    work.mkdir(parents=True, exist_ok=True)
    _fresh_outputs(work, kind, n, seed)
    out = work / f"job-{kind}-{n}.json"
    out.unlink(missing_ok=True)
    if kind in ("cli", "sheets"):   # the console command itself, not a bench job
        cmd = [sys.executable, "-m", "classify.cli", *_cli_argv(kind, n, seed, work, draws)]
    else:
        cmd = [sys.executable, "-m", "bench.run", "--job", kind, "--n", str(n), "--seed",
               str(seed), "--draws", str(draws), "--work", str(work), "--json", str(out)]
    if profile:
        cmd.append("--profile")
    for stage in skip or ():
        cmd += ["--skip", stage]
    logfile = work / f"job-{kind}-{n}.log"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    if threads:   # cap every thread pool of the child (OpenMP, OpenBLAS, MKL)
        env.update({v: str(threads) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                              "MKL_NUM_THREADS")})
    t0 = time.perf_counter()
    with open(logfile, "w") as fh:
        # No cap for the map job: Chromium reserves far more address space than it uses
        # and dies (SIGTRAP) under RLIMIT_AS.
        cap = None if kind == "map" else _address_space_cap(mem_limit_gb)
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, env=env,
                                preexec_fn=cap)
        status, usage, timed_out = None, None, False
        tree = TreeMemory(proc.pid) if tree_memory else contextlib.nullcontext()
        with tree:
            while status is None:
                pid, status_, usage_ = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    status, usage = status_, usage_
                    break
                if time.perf_counter() - t0 > timeout:
                    timed_out = True
                    os.kill(proc.pid, signal.SIGKILL)
                    _, status, usage = os.wait4(proc.pid, 0)
                    break
                time.sleep(0.1)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    rec = json.loads(out.read_text()) if out.is_file() else {}
    if kind in ("cli", "sheets"):
        rec["command"] = "towntype " + " ".join(cmd[3:])
    rec.setdefault("status", "timeout" if timed_out else
                   ("ok" if proc.returncode == 0 else "crashed"))
    if timed_out:
        rec["status"] = "timeout"
        rec["error"] = f"stopped after {timeout:.0f} s (--timeout)"
        progress = work / f"job-{kind}-{n}.progress.json"
        if kind == "pipeline" and progress.is_file():
            rec.update(json.loads(progress.read_text()))
            done = [sp["stage"] for sp in rec["stages"]]
            rec["error"] += f" after the stages {', '.join(done)} finished"
    elif proc.returncode != 0 and "error" not in rec:
        rec["error"] = _tail(logfile)
    # Resetting VmHWM inside the child (PeakMeter) also resets what wait4 reports, so the
    # child's own whole-run peak is the reliable one when it has one.
    rec.update({"process_wall_s": wall,
                "process_cpu_s": usage.ru_utime + usage.ru_stime,
                "process_peak_mb": max(usage.ru_maxrss / 1024, rec.get("peak_mb") or 0),
                "returncode": proc.returncode, "log": str(logfile)})
    if tree_memory and tree.available:
        rec.update({"tree_pss_mb": tree.peak / 2**20,
                    "tree_processes_at_peak": tree.processes_at_peak,
                    "tree_interval_s": tree.interval})
    log(f"  {kind:<9} n={n:<6} {rec['status']:<18} {wall:7.1f} s  "
        f"peak {rec['process_peak_mb']:7.0f} MB" + (f"  — {rec.get('error', '')[:160]}"
                                                     if rec["status"] != "ok" else ""))
    return rec


def _address_space_cap(gb: float | None):
    """A ``preexec_fn`` capping the child's address space, so a job that would exhaust the
    shared machine's memory fails with MemoryError instead of waking the OOM killer."""
    if not gb:
        return None

    def cap():
        import resource
        limit = int(gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return cap


def _tail(path: Path, lines: int = 8) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def machine_info() -> dict:
    """Cores, memory, CPU model, OS, Python and key package versions, git commit, date."""
    from importlib import metadata

    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gb = None
    with contextlib.suppress(OSError, ValueError):
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem_gb = int(line.split()[1]) / 2**20
    versions = {}
    for pkg in ("numpy", "pandas", "geopandas", "shapely", "pyogrio", "scikit-learn",
                "scipy", "libpysal", "spopt", "pygeoda", "folium", "selenium"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {"date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "cores": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)),
            "memory_gb": mem_gb, "cpu": cpu, "os": platform.platform(),
            "python": platform.python_version(), "versions": versions, "commit": commit,
            "load_before": load}


def run_benchmark(sizes=(1600, 40000), *, draws: int = 1000, seed: int = 0,
                  quick: bool = False, work: Path | None = None, profile: bool = False,
                  timeout: float = 900.0, baselines: bool = True, skip=(),
                  threads: int | None = None, mem_limit_gb: float | None = 12.0,
                  log=print) -> dict:
    """Run all jobs for every size; returns the results dict :func:`bench.report` renders.

    ``quick`` runs 100 draws and skips the cluster and map baselines at sizes above
    5,000 (pygeoda REDCAP is far from linear).
    """
    work = Path(work or Path(os.environ.get("TMPDIR", "/tmp")) / "towntype-bench")
    if quick:
        draws = min(draws, 100)
    results = {"machine": machine_info(), "draws": draws, "seed": seed, "quick": quick,
               "skip": list(skip), "threads": threads, "mem_limit_gb": mem_limit_gb,
               "command": " ".join(["python -m bench", *sys.argv[1:]]), "sizes": {}}
    for n in sizes:
        log(f"{n} towns:")
        size = {"synth": run_job("synth", n=n, seed=seed, draws=draws, work=work,
                                 timeout=timeout, log=log)}
        size["pipeline"] = run_job("pipeline", n=n, seed=seed, draws=draws, work=work,
                                   timeout=timeout, skip=skip, threads=threads,
                                   mem_limit_gb=mem_limit_gb, tree_memory=True, log=log)
        size["cli"] = run_job("cli", n=n, seed=seed, draws=draws, work=work,
                              timeout=timeout, threads=threads, mem_limit_gb=mem_limit_gb,
                              tree_memory=True, log=log)
        if size["cli"].get("status") == "ok":
            size["sheets"] = run_job("sheets", n=n, seed=seed, draws=draws, work=work,
                                     timeout=timeout, threads=threads,
                                     mem_limit_gb=mem_limit_gb, tree_memory=True, log=log)
        if profile:
            size["profile"] = run_job("pipeline", n=n, seed=seed, draws=draws, work=work,
                                      timeout=timeout, profile=True, skip=skip,
                                      threads=threads, mem_limit_gb=mem_limit_gb, log=log)
        if baselines:
            size["scoring"] = run_job("scoring", n=n, seed=seed, draws=draws, work=work,
                                      timeout=timeout, threads=threads,
                                      mem_limit_gb=mem_limit_gb, log=log)
            heavy = quick and n > 5000
            for kind in ("clusters", "map"):
                size[kind] = ({"status": "skipped (--quick above 5,000 towns)"} if heavy else
                              run_job(kind, n=n, seed=seed, draws=draws, work=work,
                                      timeout=timeout, threads=threads,
                                      mem_limit_gb=mem_limit_gb, log=log))
        results["sizes"][str(n)] = size
    results["machine"]["load_after"] = os.getloadavg()
    return results


def _child(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    p.add_argument("--job", choices=sorted(JOBS), required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--json", type=Path, required=True)
    p.add_argument("--profile", action="store_true")
    p.add_argument("--skip", action="append", choices=sorted(SKIPPABLE), default=[])
    a = p.parse_args(argv)
    try:
        rec = JOBS[a.job](n=a.n, seed=a.seed, work=a.work, draws=a.draws, profile=a.profile,
                          skip=a.skip)
    except Exception as exc:
        rec = {"status": "failed",
               "error": "".join(traceback.format_exception_only(type(exc), exc)).strip(),
               "traceback": traceback.format_exc(limit=-6)}
    a.json.write_text(json.dumps(_jsonable(rec), ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(_child())
