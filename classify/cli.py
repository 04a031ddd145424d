"""The ``towntype`` command line (contract: PRODUCT.md, "Command line contract").

Subcommands: ``demo``, ``run``, ``init``, ``boundaries approximate``.  Every error
towntype raises on purpose is printed as one message naming the file, row/column/feature
and the fix, with exit status 2; no traceback for user errors.
"""

from __future__ import annotations

import argparse
import gc
import sys
import webbrowser
from pathlib import Path
from typing import Sequence

from geo.errors import TowntypeError

__all__ = ["main", "build_parser"]

DATUMS = ("wgs84", "gcj02", "bd09")
BASEMAPS = ("none", "osm", "gaode", "tianditu")
WEIGHTINGS = ("equal", "expert", "entropy", "critic", "pca")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    """Options shared by ``run`` and ``demo`` (the analysis and output choices)."""
    p.add_argument("--out", type=Path, default=None,
                   help="output folder (default: ./towntype-out, or ./towntype-demo for demo)")
    p.add_argument("--config", type=Path, help="indicator system TOML (default: built-in)")
    p.add_argument("--taxonomy", default="guangdong",
                   help="taxonomy preset name or TOML path (default: guangdong)")
    p.add_argument("--basemap", choices=BASEMAPS, default="none",
                   help="map background; 'none' works offline (default)")
    p.add_argument("--tianditu-key", help="your Tianditu key, needed with --basemap tianditu")
    p.add_argument("--weighting", choices=WEIGHTINGS,
                   help="indicator weighting (default: from the config, else equal)")
    p.add_argument("--draws", type=int, default=200,
                   help="Monte Carlo draws for rank intervals and stability (default 200)")
    p.add_argument("--lang", choices=("zh", "en"), default="zh", help="output language")
    p.add_argument("--seed", type=int, default=2023, help="random seed (default 2023)")
    p.add_argument("--cluster-method", default="kmeans",
                   help="kmeans, ward, gmm, ward_spatial, skater, redcap (default kmeans)")
    p.add_argument("--k", default="auto", help="number of clusters or 'auto' (default)")
    p.add_argument("--docx", action="store_true", help="also write suggestions/suggestions.docx")
    p.add_argument("--static", default="png,svg",
                   help="static category maps for documents: comma-separated png, svg, pdf, "
                        "or 'none' (default png,svg)")
    p.add_argument("--open", action="store_true", help="open map.html in a browser at the end")
    p.add_argument("--reference", type=Path, metavar="PREVIOUS_RUN_DIR",
                   help="score with the model (model.json) of an earlier run, fitting "
                        "nothing, so that scores compare across years")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="towntype",
        description="镇街分类（强·专·特）：指标 + 边界 → 分类、自评建议、离线交互地图。"
                    " Classify towns from indicators and boundaries.")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="whole pipeline on the bundled Qingyuan demo region")
    _add_run_options(demo)
    demo.add_argument("--years", action="store_true",
                      help="two illustrative years and their comparison (OUT/year1, "
                           "OUT/year2, OUT/compare)")

    run = sub.add_parser("run", help="whole pipeline on your files")
    run.add_argument("--boundaries", type=Path, required=True,
                     help="town boundaries: Shapefile, GeoPackage, GeoJSON or KML")
    run.add_argument("--indicators", type=Path, required=True,
                     help="town indicator table: CSV, .xlsx or .xls")
    run.add_argument("--counties", type=Path, help="county outlines for map context (optional)")
    run.add_argument("--join-on", choices=("auto", "code", "name"), default="auto")
    run.add_argument("--crosswalk", type=Path,
                     help="CSV of renamed/merged towns (old code or name → new code)")
    run.add_argument("--encoding", default="auto",
                     help="text encoding of the inputs, e.g. gb18030 (default: detect)")
    run.add_argument("--crs", default="auto", help="CRS of the boundaries, e.g. 4549 (default: from file)")
    run.add_argument("--datum", choices=DATUMS, default="wgs84",
                     help="shifted web datum of the boundaries' coordinates (default wgs84)")
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
    init.add_argument("--indicators", type=Path, required=True)
    init.add_argument("--boundaries", type=Path)
    init.add_argument("--sheet")
    init.add_argument("--encoding", default="auto")
    init.add_argument("--out", type=Path, default=Path("towntype.toml"),
                      help="where to write the config (default towntype.toml)")

    cmp_ = sub.add_parser("compare", help="year over year: category transitions, comparable "
                                           "scores and what moved each town")
    cmp_.add_argument("old_run", type=Path, metavar="OLD_RUN_DIR")
    cmp_.add_argument("new_run", type=Path, metavar="NEW_RUN_DIR")
    cmp_.add_argument("--out", type=Path, default=Path("towntype-compare"),
                      help="output folder (default ./towntype-compare)")
    cmp_.add_argument("--crosswalk", type=Path,
                      help="CSV old_code,new_code of renamed or merged towns")
    cmp_.add_argument("--lang", choices=("zh", "en"), default="zh")
    cmp_.add_argument("--no-map", action="store_true", help="skip compare_map.html")

    bnd = sub.add_parser("boundaries", help="build boundary data")
    bsub = bnd.add_subparsers(dest="boundaries_command", required=True)
    approx = bsub.add_parser(
        "approximate",
        help="approximate town boundaries: Thiessen polygons of town seats clipped to counties")
    approx.add_argument("--counties", type=Path, required=True,
                        help="county polygons (GeoJSON; GCJ-02 as published by Amap)")
    approx.add_argument("--towns", type=Path, required=True, help="official town list (CSV)")
    approx.add_argument("--places", type=Path, required=True, help="GeoNames places (CSV)")
    approx.add_argument("--counties-datum", choices=DATUMS, default="gcj02",
                        help="datum of the county polygons (default gcj02, as Amap publishes)")
    approx.add_argument("--city", default="4418", help="4-digit city code (default 4418, Qingyuan)")
    approx.add_argument("--out", type=Path, required=True)
    return parser


def _version() -> str:
    from classify import __version__
    return f"towntype {__version__}"


def _cmd_run(args: argparse.Namespace, demo: bool) -> int:
    from classify.pipeline import RunOptions, demo_options, run_pipeline, summary_lines

    common = dict(config=args.config, taxonomy=args.taxonomy, basemap=args.basemap,
                  tianditu_key=args.tianditu_key, weighting=args.weighting, draws=args.draws,
                  lang=args.lang, seed=args.seed, cluster_method=args.cluster_method,
                  k=args.k, docx=args.docx, static_formats=_formats(args.static),
                  reference=args.reference)
    if demo and args.years:
        return _cmd_demo_years(args, common)
    if demo:
        opts = demo_options(out=args.out or Path("towntype-demo"), **common)
    else:
        opts = RunOptions(
            boundaries=args.boundaries, indicators=args.indicators, counties=args.counties,
            out=args.out or Path("towntype-out"), join_on=args.join_on,
            crosswalk=args.crosswalk, encoding=args.encoding, crs=args.crs,
            datum=args.datum, sheet=args.sheet, layer=args.layer,
            designations=tuple(args.designations), **common)
    result = run_pipeline(opts, log=lambda msg: print(msg, file=sys.stderr))
    if args.exiting:
        # the process ends now: keep the run's objects (millions at 40,000 towns) out of
        # the interpreter's last garbage collection, which would scan them for seconds
        gc.freeze()
    print("\n".join(summary_lines(result, lang=args.lang)))
    if args.open:
        webbrowser.open((Path(opts.out) / "map.html").resolve().as_uri())
    return 0


def _cmd_demo_years(args: argparse.Namespace, common: dict) -> int:
    from classify.demo_years import demo_years

    out = args.out or Path("towntype-demo")
    done = demo_years(out, log=lambda msg: print(msg, file=sys.stderr),
                      **{k: v for k, v in common.items() if k != "reference"})
    print("\n".join(done["compare"].summary))
    print(f"第一年 {out / 'year1'}，第二年 {out / 'year2'}（园区新设：{done['park']}；"
          f"撤并：{done['merged'][0]} → {done['merged'][1]}），比较 {out / 'compare'}")
    return 0


def _formats(text: str) -> tuple[str, ...]:
    """``--static png,pdf`` → ("png", "pdf"); ``none`` → ()."""
    parts = tuple(p.strip().lower().lstrip(".") for p in text.split(",") if p.strip())
    return () if parts in ((), ("none",)) else parts


def _cmd_init(args: argparse.Namespace) -> int:
    from classify.pipeline import init_config

    path, lines = init_config(args.indicators, args.out, sheet=args.sheet,
                              encoding=args.encoding)
    print("\n".join(lines))
    print(f"wrote {path}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from classify.compare import compare_runs

    result = compare_runs(args.old_run, args.new_run, args.out, crosswalk=args.crosswalk,
                          lang=args.lang, map_html=not args.no_map)
    print("\n".join(result.summary))
    print(f"输出目录（outputs）：{args.out}（{', '.join(f.name for f in result.files)}）")
    return 0


def _cmd_boundaries(args: argparse.Namespace) -> int:
    from geo.approximate import rebuild_demo_boundaries

    summary = rebuild_demo_boundaries(args.counties, args.towns, args.places, args.out,
                                      city_code=str(args.city),
                                      counties_datum=args.counties_datum)
    for key, value in summary.items():
        print(f"{key}: {value}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``towntype`` console command; returns the exit status.

    Without ``argv`` it reads the process's command line, and the process exits after it
    (the console command); given ``argv`` (a test, a notebook) it leaves the process as
    it found it."""
    args = build_parser().parse_args(argv)
    args.exiting = argv is None
    try:
        if args.command in ("demo", "run"):
            return _cmd_run(args, demo=args.command == "demo")
        if args.command == "init":
            return _cmd_init(args)
        if args.command == "compare":
            return _cmd_compare(args)
        return _cmd_boundaries(args)
    except TowntypeError as err:
        print(f"towntype: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
