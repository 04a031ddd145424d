"""Hostile-but-plausible inputs for the pipeline fuzz suite (``tests/test_fuzz_pipeline.py``).

A :class:`Plan` is a small, readable description of one case: which demo towns go into the
boundary file and which into the indicator table, the file formats and encodings, and a
list of mutations (blank/duplicate/foreign keys, null geometries, text numbers, empty or
constant columns, negative values …).  :func:`random_plan` draws one from a seed
(``numpy.random.default_rng``: the same seed gives the same plan on every machine, no
stored examples); :func:`build` writes its files from the bundled demo data
(``data/boundaries/qingyuan_towns.geojson``, ``data/indicators/qingyuan_towns_demo.csv``).

:func:`run_case` runs the whole pipeline on them through the command line entry
(``classify.cli.main``) and checks the trust property of issue 13: the run ends either

* with exit status 0 and every input row accounted for — each table data row (by its
  1-based file row) and each boundary feature (by its 0-based position in the file)
  has exactly one row in ``join_report.csv`` with a status, a reason when it is not
  ``matched``, every matched town is in ``towns.csv``, under a name as written in one
  of the inputs (not garbled by a wrong encoding); or
* with exit status 2 and a message, no traceback (the messages are not checked here:
  their tests are beside the code that raises them).

Any other exception propagates (with the plan attached as a note), which is the point.

Reproduce one case by hand::

    python -m tests.fuzz_inputs 17 /tmp/case17      # writes the files, prints the command
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
DEMO_BOUNDARIES = ROOT / "data" / "boundaries" / "qingyuan_towns.geojson"
DEMO_TABLE = ROOT / "data" / "indicators" / "qingyuan_towns_demo.csv"

#: What a user types for a number in a statistical table, besides plain digits.
TEXT_NUMBERS = ("1,234", "7.0万", "1.2亿", "—", "-", "12%", "1e300", "-1e300", "１２３",
                " 56 ", "N/A", "…", "*", "0", "-3.5", "12.5.1", "1,2,3", "inf", "nan",
                "=SUM(A1:A2)", "3.4e5", "（5）", "约100", "")

#: Boundary key field names as files name them.
FIELD_STYLES = {
    "english": {"code": "town_code", "name": "town", "county": "county",
                "county_code": "county_code"},
    "chinese": {"code": "统计代码", "name": "乡镇", "county": "县区", "county_code": "县区代码"},
    "xzq": {"code": "XZQDM", "name": "XZQMC", "county": "QXMC", "county_code": "QXDM"},
}
#: Real county codes outside Guangdong (a national input) and one that does not exist.
FOREIGN_COUNTIES = ("110105", "510104", "650102", "130102", "999901")

#: Clustering methods run in the test process.  The pygeoda ones (``redcap``,
#: ``skater_geoda``) can crash the interpreter (segfault with 4 towns), so their cases
#: run in a child process (:func:`call_cli_subprocess`).
IN_PROCESS_CLUSTER_METHODS = ("ward", "gmm", "ward_spatial", "skater")
GEODA_CLUSTER_METHODS = ("redcap", "skater_geoda")

BOUNDARY_FORMATS = ("geojson", "shp-utf8-cpg", "shp-gbk-cpg", "shp-gbk-nocpg")
TABLE_FORMATS = ("csv-utf8", "csv-utf8-bom", "csv-gbk", "csv-utf16", "xlsx")
#: The encoding a user would name with --encoding for each table format.
TABLE_ENCODINGS = {"csv-utf8": "utf-8", "csv-utf8-bom": "utf-8-sig", "csv-gbk": "gb18030",
                   "csv-utf16": "utf-16"}
BOUNDARY_MUTATIONS = ("blank_code", "bad_code", "foreign_code", "null_geometry",
                      "empty_geometry", "blank_name", "dup_code_other_name",
                      "dup_feature", "formula_name", "twelve_digit_code", "same_name")
TABLE_MUTATIONS = ("blank_code", "bad_code", "foreign_code", "blank_name", "blank_county",
                   "dup_row", "dup_code_other_name", "dup_name_other_code", "text_number",
                   "negative", "nan_column", "const_column", "total_row", "footnote_row",
                   "twelve_digit_code", "float_code", "formula_name", "huge", "zero_column",
                   "same_name", "odd_declared")


@dataclass
class Plan:
    """One fuzz case (all positions are into the demo tables, 0..83)."""

    seed: int = 0
    boundary_towns: list = field(default_factory=list)
    table_towns: list = field(default_factory=list)
    boundary_format: str = "geojson"
    table_format: str = "csv-utf8-bom"
    field_style: str = "english"
    boundary_code: bool = True       # the boundary file has a code field
    boundary_county: bool = True     # … county name/code fields
    table_code: bool = True
    table_county: bool = True
    columns: list = field(default_factory=list)   # indicator headers kept (demo order)
    foreign: str | None = None       # codes moved to this county (a national input) …
    foreign_some: bool = False       # … only those ending in an even digit (mixed input)
    boundary_mutations: list = field(default_factory=list)   # [name, position]
    table_mutations: list = field(default_factory=list)  # [name, position, extra(, column)]
    join_on: str = "auto"
    seed_run: int = 2023
    weighting: str | None = None     # --weighting (None: the config's)
    cluster_method: str = "kmeans"   # --cluster-method
    lang: str = "zh"                 # --lang
    encoding_flag: bool = False      # say the table's encoding (--encoding)
    title_row: bool = False          # a title line above the header
    units_row: bool = False          # units in a row under the header (not in brackets)
    declared: bool = False           # a 自评类别 (declared category) column

    def describe(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


@lru_cache(maxsize=1)
def demo_boundaries():
    import geopandas as gpd

    return gpd.read_file(DEMO_BOUNDARIES, engine="pyogrio")


@lru_cache(maxsize=1)
def demo_table() -> pd.DataFrame:
    return pd.read_csv(DEMO_TABLE, dtype=str, keep_default_na=False, encoding="utf-8-sig")


@lru_cache(maxsize=1)
def paired_positions() -> list[int]:
    """Positions of the demo table rows that have a boundary feature (all but one)."""
    codes = set(demo_boundaries()["town_code"])
    return [i for i, c in enumerate(demo_table()["统计代码"]) if c in codes]


def indicator_headers() -> list[str]:
    return [c for c in demo_table().columns if c not in ("统计代码", "乡镇", "所属县区", "自评类别")]


def random_plan(seed: int) -> Plan:
    """A plan drawn from ``seed`` (numpy's PCG64: identical everywhere)."""
    rng = np.random.default_rng([13, seed])
    n_demo = len(demo_table())
    n = int(rng.choice(np.arange(1, 9), p=[.03, .04, .05, .08, .15, .2, .2, .25]))
    # mostly neighbours in one county (the demo is sorted by code), sometimes anywhere
    paired = paired_positions()
    if rng.random() < 0.6:
        start = int(rng.integers(0, len(paired) - 10))
        pool = paired[start:start + 10]
    else:
        pool = paired
    base = sorted(int(i) for i in rng.choice(pool, size=n, replace=False))
    boundary = [i for i in base if rng.random() > 0.06] or base[:1]
    table = [i for i in base if rng.random() > 0.06] or base[-1:]
    if rng.random() < 0.3:      # a row on one side only
        extra = int(rng.integers(0, n_demo))
        (table if rng.random() < 0.5 else boundary).append(extra)
    headers = indicator_headers()
    k = int(rng.choice([1, 2, 4, 8, len(headers)], p=[0.05, 0.1, 0.15, 0.2, 0.5]))
    columns = [headers[i] for i in sorted(rng.choice(len(headers), size=k, replace=False))]
    plan = Plan(
        seed=seed, boundary_towns=boundary, table_towns=table,
        boundary_format=str(rng.choice(BOUNDARY_FORMATS)),
        table_format=str(rng.choice(TABLE_FORMATS, p=[.2, .3, .2, .05, .25])),
        field_style=str(rng.choice(list(FIELD_STYLES))),
        boundary_code=bool(rng.random() > 0.12), boundary_county=bool(rng.random() > 0.4),
        table_code=bool(rng.random() > 0.12), table_county=bool(rng.random() > 0.4),
        columns=columns,
        foreign=str(rng.choice(FOREIGN_COUNTIES)) if rng.random() < 0.2 else None,
        foreign_some=bool(rng.random() < 0.5),
        join_on=str(rng.choice(["auto", "auto", "auto", "name", "code"])),
        seed_run=int(rng.integers(0, 10_000)),
        weighting=(None if rng.random() < 0.6 else
                   str(rng.choice(["equal", "expert", "entropy", "critic", "pca"]))),
        cluster_method=("kmeans" if rng.random() < 0.7 else
                        str(rng.choice(IN_PROCESS_CLUSTER_METHODS))),
        lang="en" if rng.random() < 0.2 else "zh",
        encoding_flag=bool(rng.random() < 0.2),
        title_row=bool(rng.random() < 0.2), units_row=bool(rng.random() < 0.2),
        declared=bool(rng.random() < 0.3))
    for _ in range(int(rng.choice([0, 1, 1, 2, 3]))):
        plan.boundary_mutations.append(
            [str(rng.choice(BOUNDARY_MUTATIONS)), int(rng.integers(0, len(boundary)))])
    for _ in range(int(rng.choice([0, 1, 2, 2, 3, 4]))):
        plan.table_mutations.append(
            [str(rng.choice(TABLE_MUTATIONS)), int(rng.integers(0, len(table))),
             int(rng.integers(0, 1_000))])
    return plan


def base_plan(n: int = 8, start: int = 0, **changes) -> Plan:
    """A clean plan: ``n`` neighbouring demo towns on both sides, every indicator, the
    demo's own formats; ``changes`` override fields (one mutation at a time)."""
    towns = paired_positions()[start:start + n]
    plan = Plan(seed=-1, boundary_towns=list(towns), table_towns=list(towns),
                columns=indicator_headers(), boundary_mutations=[], table_mutations=[])
    for key, value in changes.items():
        setattr(plan, key, value)
    return plan


# ---------------------------------------------------------------------------- building

def _foreign(code: str, plan: "Plan") -> str:
    if not code or (plan.foreign_some and int(code[-1]) % 2):
        return code
    return plan.foreign + code[6:]


def _code_mutation(kind: str, code: str, other: str | None = None) -> str:
    if kind == "blank_code":
        return ""
    if kind == "bad_code":
        return code[:4] + "A" + code[5:] if code else "44X"
    if kind == "foreign_code":
        return "5101" + code[4:] if code else "510104001"
    if kind == "twelve_digit_code":
        return code + "000" if code else code
    if kind == "float_code":
        return code + ".0" if code else code
    return code


def boundary_frame(plan: Plan):
    """The boundary GeoDataFrame of the plan (canonical field names, before writing)."""
    import geopandas as gpd
    from shapely.geometry import Polygon

    demo = demo_boundaries()
    # positions are into the demo table: its codes pick the features (a table row
    # without a feature has none)
    codes = demo_table()["统计代码"].iloc[plan.boundary_towns]
    by_code = demo.set_index("town_code", drop=False)
    codes = [c for c in codes if c in by_code.index]
    g = by_code.loc[codes, ["town_code", "town", "county_code", "county",
                            "geometry"]].reset_index(drop=True).copy()
    if plan.foreign:
        g["town_code"] = [_foreign(c, plan) for c in g["town_code"]]
        g["county_code"] = [c[:6] for c in g["town_code"]]
    extra_rows = []
    for kind, pos in plan.boundary_mutations:
        pos = pos % len(g)
        if kind in ("blank_code", "bad_code", "foreign_code", "twelve_digit_code"):
            g.loc[pos, "town_code"] = _code_mutation(kind, g.loc[pos, "town_code"])
        elif kind == "null_geometry":
            g.loc[pos, "geometry"] = None
        elif kind == "empty_geometry":
            g.loc[pos, "geometry"] = Polygon()
        elif kind == "blank_name":
            g.loc[pos, "town"] = ""
        elif kind == "formula_name":
            g.loc[pos, "town"] = "=" + str(g.loc[pos, "town"])
        elif kind == "same_name":     # two towns of one name (石角镇 twice in Qingyuan)
            g.loc[pos, "town"] = g.loc[(pos + 1) % len(g), "town"]
        elif kind == "dup_code_other_name":
            other = (pos + 1) % len(g)
            if other != pos:
                g.loc[other, "town_code"] = g.loc[pos, "town_code"]
            else:   # one town: a second feature with its code and another name
                row = g.iloc[[pos]].copy()
                row["town"] = "新区街道"
                extra_rows.append(row)
        elif kind == "dup_feature":
            extra_rows.append(g.iloc[[pos]].copy())
    if extra_rows:
        g = pd.concat([g, *extra_rows], ignore_index=True)
    keep = ["town", "geometry"]
    if plan.boundary_code:
        keep.insert(0, "town_code")
    if plan.boundary_county:
        keep[-1:-1] = ["county_code", "county"]
    g = g[keep]
    names = FIELD_STYLES[plan.field_style]
    g = g.rename(columns={"town_code": names["code"], "town": names["name"],
                          "county": names["county"], "county_code": names["county_code"]})
    return gpd.GeoDataFrame(g, geometry="geometry", crs=demo.crs)


def table_frame(plan: Plan) -> tuple[pd.DataFrame, list[bool]]:
    """The indicator table of the plan as text cells, and for each row whether it is a
    data row (False: a total or footnote row the reader should set aside)."""
    demo = demo_table()
    t = demo.iloc[plan.table_towns][["统计代码", "乡镇", "所属县区", *plan.columns,
                                     *(["自评类别"] if plan.declared else [])]]
    t = t.reset_index(drop=True).copy()
    if plan.foreign:
        t["统计代码"] = [_foreign(c, plan) for c in t["统计代码"]]
    appended: list[tuple[list, bool]] = []
    for kind, pos, extra, *which in plan.table_mutations:
        pos = pos % len(t)
        # the column: given (4th item), else drawn from ``extra``
        col = (plan.columns[(which[0] if which else extra) % len(plan.columns)]
               if plan.columns else None)
        if kind in ("blank_code", "bad_code", "foreign_code", "twelve_digit_code",
                    "float_code"):
            t.loc[pos, "统计代码"] = _code_mutation(kind, t.loc[pos, "统计代码"])
        elif kind == "blank_name":
            t.loc[pos, "乡镇"] = ""
        elif kind == "blank_county":
            t.loc[pos, "所属县区"] = ""
        elif kind == "formula_name":
            t.loc[pos, "乡镇"] = "@" + t.loc[pos, "乡镇"]
        elif kind == "same_name":
            t.loc[pos, "乡镇"] = t.loc[(pos + 1) % len(t), "乡镇"]
        elif kind == "odd_declared":
            if "自评类别" in t.columns:
                t.loc[pos, "自评类别"] = ("超级强镇", "=1+1", "专业镇", "strong", "特色镇；专业镇",
                                        "  ")[extra % 6]
        elif kind == "dup_row":
            appended.append((t.iloc[pos].tolist(), True))
        elif kind == "dup_code_other_name":
            row = t.iloc[pos].tolist()
            row[1] = "新城街道"
            appended.append((row, True))
        elif kind == "dup_name_other_code":
            row = t.iloc[pos].tolist()
            row[0] = row[0][:6] + "999" if row[0] else "441802999"
            appended.append((row, True))
        elif col is None:
            continue
        elif kind == "text_number":
            t.loc[pos, col] = TEXT_NUMBERS[extra % len(TEXT_NUMBERS)]
        elif kind == "negative":
            v = t.loc[pos, col]
            t.loc[pos, col] = "-" + v if v and v[0].isdigit() else "-1"
        elif kind == "huge":
            t.loc[pos, col] = "1e300"
        elif kind == "nan_column":
            t[col] = ""
        elif kind == "const_column":
            t[col] = t.loc[pos, col] or "1"
        elif kind == "zero_column":
            t[col] = "0"
        elif kind == "total_row":
            total = [f"{pd.to_numeric(t[c], errors='coerce').sum():.1f}" if c in plan.columns
                     else "合计" if c == "乡镇" else "" for c in t.columns]
            appended.append((total, False))
        elif kind == "footnote_row":
            appended.append((["注：数据为初步统计。"] + [""] * (len(t.columns) - 1), False))
    data_row = [True] * len(t)
    if appended:
        # totals and footnotes go last, as in a yearbook
        appended.sort(key=lambda item: not item[1])
        t = pd.concat([t, pd.DataFrame([r for r, _ in appended], columns=t.columns)],
                      ignore_index=True)
        data_row += [d for _, d in appended]
    keep = [c for c in t.columns
            if (c != "统计代码" or plan.table_code) and (c != "所属县区" or plan.table_county)]
    return t[keep], data_row


def _encode(text: str, encoding: str) -> bytes:
    try:
        return text.encode(encoding)
    except UnicodeEncodeError:   # a character outside GBK: its superset
        return text.encode("gb18030")


def write_boundaries(g, plan: Plan, folder: Path) -> Path:
    import warnings

    if plan.boundary_format == "geojson":
        path = folder / "镇界.geojson"
        g.to_file(path, driver="GeoJSON", engine="pyogrio")
        return path
    path = folder / "镇界.shp"
    encoding = "UTF-8" if plan.boundary_format == "shp-utf8-cpg" else "GBK"
    with warnings.catch_warnings():       # field names cut to 10 bytes, as ArcGIS does
        warnings.simplefilter("ignore")
        g.to_file(path, driver="ESRI Shapefile", engine="pyogrio", encoding=encoding)
    cpg = path.with_suffix(".cpg")
    if plan.boundary_format == "shp-gbk-nocpg":
        cpg.unlink(missing_ok=True)
    else:
        cpg.write_text(encoding, encoding="ascii")
    return path


def _layout(t: pd.DataFrame, plan: Plan) -> tuple[list[list], int]:
    """The table as rows of text as the file has them, and the file row (1-based) of the
    first data row: optional title row, the header, optional units row, the data."""
    rows: list[list] = []
    if plan.title_row:
        rows.append(["2023年镇街主要经济指标"] + [""] * (len(t.columns) - 1))
    if plan.units_row:      # yearbook layout: units under the headers, not in them
        from geo.tables import split_unit

        heads, units = zip(*[split_unit(c) for c in t.columns])
        rows.append(list(heads))
        rows.append([u or "" for u in units])
    else:
        rows.append(list(t.columns))
    first = len(rows) + 1
    rows += [list(r) for r in t.itertuples(index=False)]
    return rows, first


def write_table(t: pd.DataFrame, plan: Plan, folder: Path) -> tuple[Path, int]:
    """The table file; returns it and the file row (CSV line = Excel row) of the first
    data row."""
    import csv

    rows, first = _layout(t, plan)
    if plan.table_format == "xlsx":
        from openpyxl import Workbook

        path = folder / "指标.xlsx"
        wb = Workbook()
        ws = wb.active
        numeric = [c in plan.columns for c in t.columns]
        for i, row in enumerate(rows):
            cells = []
            for is_num, v in zip(numeric, row):
                num = pd.to_numeric(v, errors="coerce") if is_num and i >= first - 1 else np.nan
                # plain numbers as numbers (as Excel stores them), the rest as text
                cells.append(float(num) if v.strip() == v and v and np.isfinite(num)
                             and not v.startswith("=") else (v or None))
            ws.append(cells)
        wb.save(path)
        return path, first
    path = folder / "指标.csv"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    text = buf.getvalue()
    if plan.table_format == "csv-utf8":
        path.write_bytes(text.encode("utf-8"))
    elif plan.table_format == "csv-utf8-bom":
        path.write_bytes(text.encode("utf-8-sig"))
    elif plan.table_format == "csv-utf16":      # Excel's "Unicode text", saved as .csv
        path.write_bytes(text.encode("utf-16"))
    else:
        path.write_bytes(_encode(text, "gbk"))
    return path, first


@dataclass
class Built:
    boundaries: Path
    indicators: Path
    n_features: int
    table_rows: list        # 1-based file rows of the data rows (must be accounted for)
    other_rows: list        # total / footnote rows (accounted for if reported)
    names: set = field(default_factory=set)   # every town name written on either side


def build(plan: Plan, folder: Path) -> Built:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    g = boundary_frame(plan)
    t, data_row = table_frame(plan)
    bpath = write_boundaries(g, plan, folder)
    tpath, first = write_table(t, plan, folder)
    rows = [first + i for i in range(len(t))]
    names = set(g[FIELD_STYLES[plan.field_style]["name"]]) | set(t["乡镇"])
    return Built(bpath, tpath, len(g), [r for r, d in zip(rows, data_row) if d],
                 [r for r, d in zip(rows, data_row) if not d], names)


def argv(plan: Plan, built: Built, out: Path) -> list[str]:
    return ["run", "--boundaries", str(built.boundaries), "--indicators",
            str(built.indicators), "--out", str(out), "--draws", "10", "--static", "none",
            "--join-on", plan.join_on, "--seed", str(plan.seed_run),
            "--cluster-method", plan.cluster_method, "--lang", plan.lang,
            *(["--weighting", plan.weighting] if plan.weighting else []),
            *(["--encoding", TABLE_ENCODINGS[plan.table_format]]
              if plan.encoding_flag and TABLE_ENCODINGS.get(plan.table_format) else [])]


# ---------------------------------------------------------------------------- checking

@dataclass
class Outcome:
    status: int
    stdout: str
    stderr: str


def call_cli(args: list[str]) -> Outcome:
    """``classify.cli.main(args)`` with its output captured; a ``SystemExit`` (argument
    errors) counts as its exit status.  Any other exception propagates."""
    from classify.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(args)
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 2
    return Outcome(int(status), out.getvalue(), err.getvalue())


def call_cli_subprocess(args: list[str], timeout: float = 120) -> Outcome:
    """The same command in a child process (``python -m classify.cli``): a crash of a
    native library (a negative status, the signal) fails the case, not the test run."""
    import os
    import subprocess

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "classify.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


def read_csv_text(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def check_outcome(outcome: Outcome, built: Built, out: Path) -> str:
    """Assert the trust property; returns ``"ok"`` or ``"user error"``."""
    assert "Traceback (most recent call last)" not in outcome.stderr, outcome.stderr[-3000:]
    if outcome.status == 2:
        assert outcome.stderr.strip(), "exit 2 without a message"
        return "user error"
    assert outcome.status == 0, (
        f"exit {outcome.status} (neither success nor a user error):\n{outcome.stderr[-3000:]}")
    report = read_csv_text(out / "join_report.csv")
    towns = read_csv_text(out / "towns.csv")
    for col in ("source", "source_row", "status", "reason"):
        assert col in report.columns, f"join_report.csv has no {col!r} column"
    problems = []
    blank_status = report[report["status"].str.strip() == ""]
    if len(blank_status):
        problems.append(f"rows without a status:\n{blank_status.to_string()}")
    no_reason = report[(report["status"] != "matched") & (report["reason"].str.strip() == "")]
    if len(no_reason):
        problems.append(f"rows not matched and without a reason:\n{no_reason.to_string()}")
    for source, wanted in (("table", built.table_rows), ("boundaries",
                                                          list(range(built.n_features)))):
        rows = report.loc[report["source"] == source, "source_row"]
        counts = pd.to_numeric(rows, errors="coerce").value_counts()
        missing = [r for r in wanted if counts.get(r, 0) == 0]
        twice = [r for r in wanted if counts.get(r, 0) > 1]
        if missing:
            problems.append(f"{source} row(s) {missing} not in join_report.csv "
                            f"(it has {sorted(counts.index.tolist())})")
        if twice:
            problems.append(f"{source} row(s) {twice} in join_report.csv more than once")
    # a further part of a town in several parts (same code, same name) carries its town's
    # status with how = dissolved and a reason naming the feature it was dissolved into
    part = (report["source"] == "boundaries") & (report["how"] == "dissolved")
    unexplained = report[part & ~report["reason"].str.contains("dissolved into feature")]
    if len(unexplained):
        problems.append(f"dissolved parts without the feature they joined:\n"
                        f"{unexplained.to_string()}")
    matched_b = report[(report["source"] == "boundaries") & (report["status"] == "matched")
                       & ~part]
    matched_t = report[(report["source"] == "table") & (report["status"] == "matched")]
    if len(towns) != len(matched_t):
        problems.append(f"towns.csv has {len(towns)} towns but join_report.csv "
                        f"{len(matched_t)} matched table rows")
    if len(towns) != len(matched_b):
        problems.append(f"towns.csv has {len(towns)} towns but join_report.csv "
                        f"{len(matched_b)} matched boundary features")
    codes = {c for c in report.loc[(report["source"] == "boundaries")
                                   & (report["status"] == "matched"), "town_code"] if c}
    missing_codes = codes - set(towns["town_code"])
    if missing_codes:
        problems.append(f"matched codes {sorted(missing_codes)} not in towns.csv")
    # names as written (a CSV cell may carry the ' that neutralises a formula)
    garbled = sorted({n for n in towns["town"] if n and n.removeprefix("'") not in built.names})
    if garbled:
        problems.append(f"towns.csv names not in either input (wrong encoding?): {garbled}")
    assert not problems, "\n".join(problems)
    return "ok"


def run_case(plan: Plan, folder: Path) -> str:
    """Build the plan's files under ``folder``, run the CLI, check; returns the outcome
    kind.  Exceptions other than the check's carry the plan as a note."""
    built = build(plan, Path(folder) / "in")
    out = Path(folder) / "run" / "out"
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        outcome = call_cli(argv(plan, built, out))
        kind = check_outcome(outcome, built, out)
        leftover = [p.name for p in out.parent.iterdir() if p.name != out.name]
        assert not leftover, f"left beside --out: {leftover}"
        return kind
    except BaseException as exc:
        exc.add_note(f"fuzz plan: {plan.describe()}")
        exc.add_note("command: towntype " + " ".join(argv(plan, built, out)))
        raise


def _main(args: list[str]) -> int:
    seed, folder = int(args[0]), Path(args[1])
    plan = random_plan(seed)
    built = build(plan, folder / "in")
    print(plan.describe())
    print("towntype " + " ".join(argv(plan, built, folder / "out")))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
