"""The ``towntype`` command line (contract: PRODUCT.md, "Command line contract").

:func:`main` is the one error boundary of the tool: a bad flag or input exits 2 with one
message, Ctrl-C 130, a defect of towntype 3 with its traceback written to a file; no
Python traceback reaches the user.  Heavy modules are imported by the subcommand that
runs them, so that ``towntype --help`` and a refused flag answer at once.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import dataclasses
import datetime as _dt
import functools
import gc
import logging
import os
import shlex
import signal
import sys
import tempfile
import threading
import traceback
import warnings
import webbrowser
from pathlib import Path
from typing import Sequence

from classify import __version__
from classify.console import Console
from classify.levels import LEVEL_NAMES
from classify.taxonomy import PRESETS
from geo.errors import InputError, TowntypeError

__all__ = ["main", "build_parser"]

DATUMS = ("wgs84", "gcj02", "bd09")
BASEMAPS = ("none", "osm", "gaode", "tianditu")
WEIGHTINGS = ("equal", "expert", "entropy", "critic", "pca")
#: The keys of :data:`classify.clusters.METHODS` (a test keeps them equal; listed here so
#: that ``--help`` does not import scikit-learn).
CLUSTER_METHODS = ("kmeans", "ward", "gmm", "ward_spatial", "skater", "skater_geoda",
                   "redcap")
#: Files the map context (``--counties``) can be read from.
GEO_SUFFIXES = (".shp", ".gpkg", ".geojson", ".json", ".kml", ".kmz", ".zip")
#: Files a crosswalk can be read from (:func:`geo.join.read_crosswalk`).
CROSSWALK_SUFFIXES = (".csv", ".txt", ".xlsx", ".xls")
#: Tables whose worksheets ``--sheet`` chooses from.
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls")
#: Exit statuses: a user error, a defect of towntype, an interrupt (128 + SIGINT).
EXIT_USER, EXIT_DEFECT, EXIT_INTERRUPT = 2, 3, 130


# -- flag values, checked by the parser (argparse calls these with the text given) ---------

def _whole(text: str, lo: int, hi: int) -> int:
    with contextlib.suppress(ValueError):       # int() ignores surrounding blanks
        if lo <= (value := int(text)) <= hi:
            return value
    raise argparse.ArgumentTypeError(
        f"须为 {lo} 到 {hi} 的整数（a whole number from {lo} to {hi}），得到 {text!r}")


def _seed(text: str) -> int:
    from classify.pipeline import SEED_MAX
    return _whole(text, 0, SEED_MAX)


def _draws(text: str) -> int:
    from classify.pipeline import DRAWS_MAX
    return _whole(text, 0, DRAWS_MAX)


def _k(text: str) -> str | int:
    if text.strip().lower() == "auto":
        return "auto"
    with contextlib.suppress(ValueError):
        if (value := int(text)) >= 2:
            return value
    raise argparse.ArgumentTypeError(
        f"须为 auto 或不小于 2 的整数，且不多于镇街数（'auto' or a whole number of "
        f"clusters from 2, at most the number of towns），得到 {text!r}")


def _encoding(text: str) -> str:
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return codecs.lookup(text.strip()).name
    except LookupError:
        raise argparse.ArgumentTypeError(
            f"未知编码（unknown encoding）{text!r}；如 gb18030、utf-8、big5，或 auto"
            f"（e.g. gb18030, utf-8, big5, or auto）") from None


def _static(text: str) -> tuple[str, ...]:
    """``--static png,pdf`` → ("png", "pdf"); ``none`` → ()."""
    from classify.pipeline import STATIC_FORMATS

    parts = tuple(p.strip().lower().lstrip(".") for p in text.split(",") if p.strip())
    if parts in ((), ("none",)):
        return ()
    bad = [p for p in parts if p not in STATIC_FORMATS]
    if bad:
        raise argparse.ArgumentTypeError(
            f"未知格式（unknown format）{', '.join(map(repr, bad))}；可用 "
            f"{','.join(STATIC_FORMATS)} 的逗号分隔组合或 none（choose from "
            f"{', '.join(STATIC_FORMATS)}, comma-separated, or 'none'）")
    return parts


def _file(text: str) -> Path:
    """An input that must exist (a file, or a folder such as a File Geodatabase)."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"找不到文件（file not found）：{path}")
    return path


def _geo_file(text: str) -> Path:
    path = _file(text)
    if path.is_file() and path.suffix.lower() not in GEO_SUFFIXES:
        raise argparse.ArgumentTypeError(
            f"不是地理数据文件（not a geo file）：{path}；可用（use）"
            f"{', '.join(GEO_SUFFIXES)}")
    return path


def _crosswalk_file(text: str) -> Path:
    path = _file(text)
    if path.suffix.lower() not in CROSSWALK_SUFFIXES:
        raise argparse.ArgumentTypeError(
            f"不是表格文件（not a table）：{path}；可用（use）{', '.join(CROSSWALK_SUFFIXES)}")
    return path


def _taxonomy(text: str) -> str:
    if text in PRESETS or Path(text).is_file():
        return text
    raise argparse.ArgumentTypeError(
        f"没有此分类方案或文件（no such taxonomy preset or file）：{text!r}；预设（presets）："
        f"{', '.join(PRESETS)}，或一个 TOML 文件路径（or the path of a TOML file）")


def _text(text: str) -> str | None:
    return text or None     # an empty --title is none: the default title


def _sheets(text: str) -> str:
    """A ``--sheets`` value (:func:`classify.report.scope.parse_scope`)."""
    from classify.report.scope import parse_scope

    try:
        parse_scope(text)
    except TowntypeError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def _add_run_options(p: argparse.ArgumentParser) -> None:
    """Options shared by ``run`` and ``demo`` (the analysis and output choices)."""
    p.add_argument("--out", type=Path, default=None,
                   help="output folder (default: ./towntype-out, or ./towntype-demo for "
                        "demo); a run replaces it whole")
    p.add_argument("--force", action="store_true",
                   help="allow --out to be a non-empty folder that is not an earlier "
                        "towntype output (its contents are replaced)")
    p.add_argument("--config", type=_file, help="indicator system TOML (default: built-in)")
    p.add_argument("--taxonomy", type=_taxonomy, default=None,
                   help="taxonomy preset name or TOML path (default: the level's — towns "
                        "guangdong, counties county)")
    p.add_argument("--level", choices=("auto", *LEVEL_NAMES), default="auto",
                   help="unit level (default auto: from the codes — 6-digit county, 9-digit "
                        "town); selects the keys, labels and the default indicators and "
                        "taxonomy")
    p.add_argument("--basemap", choices=BASEMAPS, default="none",
                   help="map background; 'none' works offline (default)")
    p.add_argument("--tianditu-key", help="your Tianditu key, needed with --basemap tianditu")
    p.add_argument("--weighting", choices=WEIGHTINGS,
                   help="indicator weighting (default: from the config, else equal)")
    p.add_argument("--draws", type=_draws, default=200,
                   help="Monte Carlo draws for rank intervals and stability, 0 … 100000 "
                        "(default 200)")
    p.add_argument("--lang", choices=("zh", "en"), default="zh", help="output language")
    p.add_argument("--seed", type=_seed, default=2023,
                   help="random seed, 0 … 2147483646 (default 2023)")
    p.add_argument("--cluster-method", choices=CLUSTER_METHODS, default="kmeans",
                   help="clustering method (default kmeans)")
    p.add_argument("--k", type=_k, default="auto",
                   help="number of clusters (2 or more) or 'auto' (default)")
    p.add_argument("--docx", action="store_true", help="also write suggestions/suggestions.docx")
    p.add_argument("--sheets", type=_sheets, default="auto",
                   help="which towns get a self-assessment sheet: auto (all up to 5,000 "
                        "towns, none above), all, none, county=NAME or codes=FILE; more "
                        "later with `towntype sheets RUN_DIR`")
    p.add_argument("--xlsx", action="store_true",
                   help="write towns.xlsx and suggestions.xlsx above 5,000 towns too")
    p.add_argument("--static", type=_static, default=("png", "svg"),
                   help="static category maps for documents: comma-separated png, svg, pdf, "
                        "or 'none' (default png,svg)")
    p.add_argument("--open", action="store_true", help="open map.html in a browser at the end")
    p.add_argument("--title", type=_text,
                   help="title of the map and static maps, e.g. 清远市镇街分类（2024）")
    p.add_argument("--subtitle", type=_text,
                   help="second line under the title, e.g. the data source and year")
    p.add_argument("--reference", type=Path, metavar="PREVIOUS_RUN_DIR",
                   help="score with the model (model.json) of an earlier run, fitting "
                        "nothing, so that scores compare across years")
    p.add_argument("--towns", type=Path, metavar="TOWN_RUN_DIR",
                   help="county level: a finished town run (its --out folder); each "
                        "county's sheet lists its towns there (category, confidence) with "
                        "links to their sheets")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="towntype",
        description="镇街分类（强·专·特）：指标 + 边界 → 分类、自评建议、离线交互地图。"
                    " Classify towns from indicators and boundaries.")
    parser.add_argument("--version", action="version", version=f"towntype {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="whole pipeline on the bundled Qingyuan demo region")
    _add_run_options(demo)
    demo.add_argument("--years", action="store_true",
                      help="two illustrative years and their comparison (OUT/year1, "
                           "OUT/year2, OUT/compare)")

    run = sub.add_parser("run", help="whole pipeline on your files")
    run.add_argument("--boundaries", type=_file, required=True,
                     help="town boundaries: Shapefile, GeoPackage, GeoJSON or KML")
    run.add_argument("--indicators", type=_file, required=True,
                     help="town indicator table: CSV, .xlsx or .xls")
    run.add_argument("--counties", type=_geo_file,
                     help="county outlines for map context (optional)")
    run.add_argument("--join-on", choices=("auto", "code", "name"), default="auto")
    run.add_argument("--crosswalk", type=_crosswalk_file,
                     help="CSV of renamed/merged towns (old code or name → new code)")
    run.add_argument("--encoding", type=_encoding, default="auto",
                     help="text encoding of the indicator table, e.g. gb18030 "
                          "(default: detect)")
    run.add_argument("--boundary-encoding", type=_encoding, default="auto",
                     help="text encoding of the boundaries' attributes (a Shapefile's "
                          "DBF), e.g. gb18030 (default: the .cpg, else detect)")
    run.add_argument("--crs", default="auto", help="CRS of the boundaries, e.g. 4549 (default: from file)")
    run.add_argument("--datum", choices=("auto",) + DATUMS, default="auto",
                     help="shifted web datum of the boundaries' coordinates: auto (default) "
                          "infers GCJ-02/BD-09 where the level has bundled boundaries to "
                          "compare with (counties) and says so, else wgs84")
    run.add_argument("--duplicate-codes", choices=("stop", "apart"), default="stop",
                     help="boundary features sharing one code under different names: stop "
                          "(default), or keep them apart, each joined by name")
    run.add_argument("--sheet", help="worksheet of the indicator workbook")
    run.add_argument("--layer", help="layer of a multi-layer boundary file")
    run.add_argument("--designations", type=Path, action="append", default=[],
                     metavar="PATH",
                     help="official designations held by towns (CSV/.xlsx: town code, or "
                          "county + name, or the name as published; designation; year; "
                          "optional industry); repeatable; a .toml adds designations to the "
                          "registry")
    _add_run_options(run)

    init = sub.add_parser("init", help="write a starter config (TOML) for your indicator table")
    init.add_argument("--indicators", type=_file, required=True)
    init.add_argument("--boundaries", type=_file)
    init.add_argument("--sheet")
    init.add_argument("--encoding", type=_encoding, default="auto")
    init.add_argument("--out", type=Path, default=Path("towntype.toml"),
                      help="where to write the config (default towntype.toml; not an "
                           "existing file)")

    cmp_ = sub.add_parser("compare", help="year over year: category transitions, comparable "
                                           "scores and what moved each town")
    cmp_.add_argument("old_run", type=Path, metavar="OLD_RUN_DIR")
    cmp_.add_argument("new_run", type=Path, metavar="NEW_RUN_DIR")
    cmp_.add_argument("--out", type=Path, default=Path("towntype-compare"),
                      help="output folder (default ./towntype-compare)")
    cmp_.add_argument("--crosswalk", type=_crosswalk_file,
                      help="CSV old_code,new_code of renamed or merged towns")
    cmp_.add_argument("--lang", choices=("zh", "en"), default="zh")
    cmp_.add_argument("--no-map", action="store_true", help="skip compare_map.html")
    cmp_.add_argument("--force", action="store_true",
                      help="replace --out even if it is a non-empty folder that is not an "
                           "earlier towntype output")

    sh = sub.add_parser("sheets", help="self-assessment sheets from a finished run (no "
                                       "re-run): a county's, or chosen towns'")
    sh.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    sh.add_argument("--county", action="append", default=[], metavar="NAME",
                    help="county name as in towns.csv (repeatable)")
    sh.add_argument("--codes", type=_file,
                    help="text file or workbook (.xlsx, .xls) with one town code a line")
    sh.add_argument("--docx", action="store_true", help="also write suggestions.docx")
    sh.add_argument("--lang", choices=("zh", "en"), default=None,
                    help="language of the sheets (default: the run's)")

    bnd = sub.add_parser("boundaries", help="build boundary data")
    bsub = bnd.add_subparsers(dest="boundaries_command", required=True)
    approx = bsub.add_parser(
        "approximate",
        help="approximate town boundaries: Thiessen polygons of town seats clipped to counties")
    approx.add_argument("--counties", type=_geo_file, required=True,
                        help="county polygons (GeoJSON; GCJ-02 as published by Amap)")
    approx.add_argument("--towns", type=_file, required=True, help="official town list (CSV)")
    approx.add_argument("--places", type=_file, required=True, help="GeoNames places (CSV)")
    approx.add_argument("--counties-datum", choices=DATUMS, default="gcj02",
                        help="datum of the county polygons (default gcj02, as Amap publishes)")
    approx.add_argument("--city", default="4418", help="4-digit city code (default 4418, Qingyuan)")
    approx.add_argument("--out", type=Path, required=True)
    for command in sub.choices.values():    # its usage line goes with errors found later
        command.set_defaults(subparser=command)
    return parser


def _check_run_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """What the parser cannot check flag by flag: the output folder (with ``--force``
    and the inputs), a basemap that needs a key.  A failure exits as a usage error."""
    if args.basemap == "tianditu" and not args.tianditu_key:
        parser.error("argument --basemap: tianditu 需要您的密钥（needs your key）："
                     "add --tianditu-key KEY, or choose --basemap none|osm|gaode")
    if getattr(args, "sheet", None) and args.indicators.suffix.lower() not in WORKBOOK_SUFFIXES:
        parser.error(f"argument --sheet: 只用于工作簿（workbooks only: {', '.join(WORKBOOK_SUFFIXES)}"
                     f"）；{args.indicators} 没有工作表（has no sheets）")
    inputs = [getattr(args, name, None) for name in
              ("boundaries", "indicators", "counties", "config", "crosswalk")]
    # demo --years writes three outputs inside --out (year1, year2, compare)
    outs = ([args.out / sub for sub in ("year1", "year2", "compare")]
            if getattr(args, "years", False) else [args.out])
    _check_out(parser, outs, args.force, inputs)


def _check_out(parser: argparse.ArgumentParser, outs: list[Path], force: bool,
               inputs: list) -> None:
    """The output folders may be replaced (:func:`classify.outputs.check_output_folder`);
    if not, a usage error."""
    from classify.outputs import check_output_folder

    try:
        for out in outs:
            check_output_folder(out, force=force, inputs=inputs)
    except TowntypeError as err:
        parser.error(f"argument --out: {err}")


def _cmd_run(args: argparse.Namespace, console, demo: bool) -> None:
    from classify.pipeline import RunOptions, demo_options, run_pipeline, summary_lines

    # the flags named as RunOptions fields; None (not given) leaves the field's default
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(RunOptions)
             if getattr(args, f.name, None) is not None}
    given["static_formats"] = args.static
    if demo and args.years:
        if args.level not in ("auto", "town"):
            raise InputError(f"demo --years is a town demo (a second illustrative year of "
                             f"the Qingyuan towns); there is none at the {args.level} level: "
                             "drop --years or --level")
        if args.towns is not None:
            raise InputError("demo --years is a town demo; --towns links a county run to a "
                             "town run: drop --towns")
        return _cmd_demo_years(args, console, given)
    if demo:
        opts = demo_options(**given)     # the level's demo (--level)
    else:
        opts = RunOptions(**given | {"designations": tuple(args.designations)})
    result = run_pipeline(opts, log=console.log)
    if args.exiting:
        # the process ends now: keep the run's objects (millions at 40,000 towns) out of
        # the interpreter's last garbage collection, which would scan them for seconds
        gc.freeze()
    console.summary = summary_lines(result, lang=args.lang)
    if args.open:
        webbrowser.open((Path(opts.out) / "map.html").resolve().as_uri())


def _cmd_demo_years(args: argparse.Namespace, console, given: dict) -> None:
    from classify.demo_years import demo_years

    out = args.out
    done = demo_years(out, log=console.log, **{k: v for k, v in given.items() if k not in (
        "out", "reference", "towns", "title", "subtitle")})
    console.summary = done["compare"].summary + [
        f"第一年 {out / 'year1'}，第二年 {out / 'year2'}（园区新设：{done['park']}；"
        f"撤并：{done['merged'][0]} → {done['merged'][1]}），比较 {out / 'compare'}"]


def _cmd_init(args: argparse.Namespace, console) -> None:
    from classify.pipeline import init_config

    path, lines = init_config(args.indicators, args.out, sheet=args.sheet,
                              encoding=args.encoding)
    console.summary = lines + [f"wrote {path}"]


def _cmd_compare(args: argparse.Namespace, console) -> None:
    from classify.compare import compare_runs

    result = compare_runs(args.old_run, args.new_run, args.out, crosswalk=args.crosswalk,
                          lang=args.lang, map_html=not args.no_map, force=args.force)
    console.summary = result.summary + [
        f"输出目录（outputs）：{args.out}（{', '.join(f.name for f in result.files)}）"]


def _cmd_sheets(args: argparse.Namespace, console) -> None:
    from classify.levels import level
    from classify.report import read_codes, run_level, sheets_from_run

    codes = read_codes(args.codes) if args.codes else ()
    try:
        files = sheets_from_run(args.run_dir, counties=args.county, codes=codes,
                                docx=args.docx, lang=args.lang, log=console.log)
    except OSError as err:      # written into the run folder: open in Word, read-only …
        if not err.filename:
            raise
        raise InputError(f"无法写入（cannot write）：{err.strerror or err}; close the file if "
                         f"Word or Excel has it open, or make {args.run_dir / 'suggestions'} "
                         f"writable", path=err.filename) from None
    n = sum(1 for f in files if f.suffix == ".html" and f.name != "index.html")
    index = "index.html" if any(f.name == "index.html" for f in files) else "sheets.js"
    console.summary = [level(run_level(args.run_dir)).say(    # a county run: 个县（市、区）
        f"自评表（sheets）：{n} 个镇街 → {args.run_dir / 'suggestions'}"
        f"（{index} 已更新 / updated）")]


def _cmd_boundaries(args: argparse.Namespace, console) -> None:
    from geo.approximate import rebuild_demo_boundaries

    summary = rebuild_demo_boundaries(args.counties, args.towns, args.places, args.out,
                                      city_code=str(args.city),
                                      counties_datum=args.counties_datum)
    console.summary = [f"{key}: {value}" for key, value in summary.items()]


_COMMANDS = {"demo": functools.partial(_cmd_run, demo=True),
             "run": functools.partial(_cmd_run, demo=False), "init": _cmd_init,
             "compare": _cmd_compare, "sheets": _cmd_sheets, "boundaries": _cmd_boundaries}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``towntype`` console command; returns the exit status.

    Without ``argv`` it reads the process's command line, and the process exits after it
    (the console command); given ``argv`` (a test, a notebook) it leaves the process as
    it found it.  Statuses: 0 done, 2 a user error (a flag, an input), 3 a defect of
    towntype (the traceback is written to a file), 130 interrupted."""
    console = Console()
    args = None
    # warnings are gathered for the whole command and printed once, one line each (the
    # one place where towntype changes process-wide state: the command owns the process)
    with warnings.catch_warnings(record=True) as caught, _interrupts_here_only(), \
            _library_logs_as_warnings():
        try:
            args = _parse(argv)
            console.lang = getattr(args, "lang", "zh")
            _COMMANDS[args.command](args, console)
            return 0
        except SystemExit as exc:       # argparse: --help, --version, a bad flag value
            return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
        except TowntypeError as err:
            console.error = f"towntype: 错误（error）：{err}"
            return EXIT_USER
        except KeyboardInterrupt:
            console.error = _interrupted(args)
            return EXIT_INTERRUPT
        except Exception as exc:        # noqa: BLE001 - the boundary: a defect, reported
            console.error = _defect(exc, _report_folder(args))
            return EXIT_DEFECT
        finally:
            try:
                console.print(caught)
            except BrokenPipeError:     # the reader went away (towntype … | head)
                _quiet_stdout()


def _quiet_stdout() -> None:
    """Send what is left of standard output to the null device (so the interpreter's
    last flush does not fail once more on the closed pipe)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


class _LogWarning(logging.Handler):
    """A library's log record of level WARNING or above, issued as a Python warning (so
    it is printed once, on one line, and kept in ``run.json`` like the others)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            warnings.warn(f"{record.name}: {record.getMessage()}", UserWarning, stacklevel=2)
        except Exception:       # noqa: BLE001 - a log line must never stop the run
            self.handleError(record)


@contextlib.contextmanager
def _library_logs_as_warnings():
    """Libraries' log messages (GDAL through pyogrio, PROJ …) would otherwise be printed
    raw by Python's last-resort handler."""
    handler = _LogWarning(logging.WARNING)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


@contextlib.contextmanager
def _interrupts_here_only():
    """Ctrl-C interrupts this process only: its forked workers ignore it and are stopped by
    this one, which removes what they were writing, so none prints a traceback of its own."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    owner = os.getpid()

    def on_interrupt(signum, frame):
        if os.getpid() == owner:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.exiting = argv is None
    if args.command in ("demo", "run"):
        args.out = args.out or Path("towntype-demo" if args.command == "demo"
                                    else "towntype-out")
        _check_run_args(args.subparser, args)
    elif args.command == "compare":
        _check_out(args.subparser, [args.out], args.force,
                   [args.old_run, args.new_run, args.crosswalk])
    elif args.command == "init" and args.out.exists():
        args.subparser.error(f"argument --out: {args.out} 已存在（exists）；choose another "
                             "path, or delete it first (your edits in it would be lost)")
    return args


def _interrupted(args: argparse.Namespace | None) -> str:
    out = getattr(args, "out", None)
    kept = f"；{out} 保持原样（left as it was）" if out is not None else ""
    return f"towntype: 已中断（interrupted）：未写出结果（nothing was written）{kept}"


def _report_folder(args: argparse.Namespace | None) -> Path | None:
    """Where a defect's traceback goes: the output's parent folder (the temp folder if
    that cannot be written)."""
    out = getattr(args, "out", None)
    return Path(out).resolve().parent if out is not None else None


def _defect(exc: BaseException, folder: Path | None) -> str:
    """One line about a defect (a bug of towntype, not of the input), with the file that
    holds its full traceback."""
    text = (f"towntype {__version__}, Python {sys.version.split()[0]}, "
            f"{_dt.datetime.now(_dt.timezone.utc).isoformat(timespec='seconds')}\n"
            f"command: {shlex.join(sys.argv)}\n\n"
            + "".join(traceback.format_exception(exc)))
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    where = None
    for place in filter(None, (folder, Path(tempfile.gettempdir()))):
        try:
            fd, name = tempfile.mkstemp(prefix=f"towntype-error-{stamp}-", suffix=".txt",
                                        dir=place)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            where = name
            break
        except OSError:
            continue
    what = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
    saved = (f"完整记录见（traceback in）{where}，请连同该文件报告问题（please report it with "
             f"this file）" if where else "完整记录未能写出（the traceback could not be saved）")
    return (f"towntype: 程序缺陷，不是您的输入有误（a defect in towntype, not in your input）："
            f"{what}；{saved}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
