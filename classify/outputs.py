"""Writing the run's output files: the towns table in three formats and the manifest.

They go to a staging folder that replaces the target folder whole only when the run
succeeded (never half-written files, nor an earlier run's beside new ones).  CSV text
cells are neutralised against formula injection (:func:`neutralise`).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Iterable, Iterator

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api import types as ptypes

from classify.numfmt import unit_label
from classify.sheets import labels
from geo.errors import InputError

__all__ = ["staged_output", "publish", "check_output_folder", "is_towntype_output",
           "OutputWarning", "neutralise", "write_towns", "write_csv", "towns_workbook",
           "towns_headers", "with_unit", "sha256", "write_manifest",
           "KEY_COLUMNS", "order_columns"]

#: Columns that lead every towns table, in this order (when present).
KEY_COLUMNS = ["town_code", "town", "county_code", "county", "city_code", "city"]
#: Columns that close the table, in this order (when present).
RESULT_COLUMNS = [
    "composite", "rank", "rank_county", "rank_median", "rank_p05", "rank_p95", "category",
    "subtype", "category_zh", "subtype_zh", "secondary", "roles", "runner_up", "stability",
    "cluster", "cluster_name", "cluster_name_en", "cluster_stability", "review",
    "review_reason", "review_reason_en", "declared", "declared_status", "n_missing",
    "n_imputed", "boundary_quality"]


def order_columns(frame: pd.DataFrame) -> list[str]:
    """Key columns first, then indicators, then scores, then results; geometry last."""
    cols = [c for c in frame.columns if c != "geometry"]
    keys = [c for c in KEY_COLUMNS if c in cols]
    results = [c for c in RESULT_COLUMNS if c in cols]
    scores = [c for c in cols if c.startswith("score_")]
    rest = [c for c in cols if c not in keys and c not in results and c not in scores]
    ordered = keys + rest + scores + results
    if "geometry" in frame.columns:
        ordered.append("geometry")
    return ordered


#: The file that marks a folder as a towntype output (a folder holding it may be replaced).
MANIFEST = "run.json"
#: Manifests that mark a folder as an earlier towntype output (a run, a comparison).
MANIFESTS = (MANIFEST, "compare.json")


def is_towntype_output(folder: str | Path) -> bool:
    """Whether ``folder`` holds the manifest (``run.json``, ``compare.json``) of an
    earlier towntype run or comparison."""
    for name in MANIFESTS:
        try:
            with open(Path(folder) / name, encoding="utf-8") as fh:
                if str(json.load(fh).get("tool", "")).startswith("towntype"):
                    return True
        except (OSError, ValueError, AttributeError):
            continue
    return False


def check_output_folder(out_dir: str | Path, *, force: bool = False,
                        inputs: Iterable[str | Path | None] = ()) -> Path:
    """Refuse an output folder a run could not (or must not) replace, before any work.

    ``out_dir`` may be missing (it is made), empty, or an earlier towntype output (it is
    replaced whole); any other folder is replaced only with ``force``, and never one that
    holds an input of the run.  The nearest existing folder on the way must be writable.

    Raises
    ------
    InputError
        Naming ``--out`` (and ``--force``) and what to do.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError("--out names an existing file, not a folder; give a folder "
                         "(new, empty, or an earlier towntype output)", path=out)
    if str(out.resolve()) == str(Path(out.resolve().anchor)):
        raise InputError("--out cannot be the root of a drive; give a folder", path=out)
    parent = out.resolve().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"{parent} 是文件，不是文件夹（is a file, not a folder）; choose "
                         f"another --out", path=out)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"无法写入（cannot write in {parent}, no permission）; choose another "
                         f"--out", path=out)
    for item in inputs:
        if item is not None and Path(item).resolve().is_relative_to(out.resolve()):
            raise InputError(f"the input {item} is inside --out, which a run replaces "
                             "whole; choose another --out", path=out)
    if Path.cwd().resolve().is_relative_to(out.resolve()):
        raise InputError("--out is the current folder or contains it, and a run replaces "
                         "it whole; give a subfolder such as --out towntype-out", path=out)
    if out.is_dir() and any(out.iterdir()) and not is_towntype_output(out) and not force:
        raise InputError(
            f"--out is a folder that is not empty and not an earlier towntype output (no "
            f"{MANIFEST}); a run replaces the whole folder, so choose a new or empty "
            f"folder, or pass --force to replace it and everything in it", path=out)
    return out


@contextlib.contextmanager
def staged_output(out_dir: str | Path, *, force: bool = False) -> Iterator[Path]:
    """Yield a fresh staging folder beside ``out_dir``; when the block succeeds, it
    replaces ``out_dir`` whole (see :func:`publish`).

    On an exception (an interrupt too) the staging folder is removed and ``out_dir`` is
    left as it was.  Whatever writes into the staging folder (a forked writer) must have
    finished or been stopped when the block ends.
    """
    out = check_output_folder(out_dir, force=force)
    if out.is_symlink():              # replace the folder it points to, keep the link
        out = Path(os.path.realpath(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    _sweep(out)
    staging = Path(tempfile.mkdtemp(prefix=_prefix(out, "partial"), dir=out.parent))
    try:
        yield staging
        publish(staging, out)
    except BaseException:
        _remove(staging)
        raise


def publish(staging: Path, out: Path) -> None:
    """Replace the folder ``out`` by ``staging`` with renames: the old folder is renamed
    away, the staging folder renamed in, then the old one removed.  If the second rename
    fails the old folder is renamed back, so ``out`` is always either all old or all new
    (never files of two runs side by side)."""
    if not out.exists():
        os.rename(staging, out)
        return
    old = Path(tempfile.mkdtemp(prefix=_prefix(out, "old"), dir=out.parent))
    os.rmdir(old)                     # a free name beside out
    os.rename(out, old)               # a locked file inside: fails here, nothing moved
    try:
        os.rename(staging, out)
    except BaseException:
        os.rename(old, out)
        raise
    if not _remove(old):
        warnings.warn(f"{old}: the previous results could not all be removed (a file in "
                      f"use?); the new results are complete in {out}; delete {old} by hand",
                      OutputWarning, stacklevel=3)


def _prefix(out: Path, kind: str) -> str:
    """Name prefix of the folders a run makes beside ``out``: ``.NAME.partial-PID-``
    (staging) and ``.NAME.old-PID-`` (the results being replaced)."""
    return f".{out.name}.{kind}-{os.getpid()}-"


def _sweep(out: Path) -> None:
    """Remove what a run that was killed outright (no chance to clean up) left beside
    ``out``: its folders name a process that no longer exists."""
    for kind in ("partial", "old"):
        for folder in out.parent.glob(f".{glob.escape(out.name)}.{kind}-*-*"):
            pid = folder.name[len(f".{out.name}.{kind}-"):].split("-", 1)[0]
            if folder.is_dir() and pid.isdigit() and not _alive(int(pid)):
                _remove(folder)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` may still run (when in doubt: yes, keep its folder)."""
    if pid == os.getpid() or os.name == "nt":   # Windows' os.kill would end the process
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):    # someone else's process, or cannot tell: keep
        pass
    return True


def _remove(folder: Path) -> bool:
    """Remove ``folder`` (an interrupt does not stop the cleanup half-way); whether it is
    gone."""
    while True:
        try:
            shutil.rmtree(folder, ignore_errors=True)
            return not folder.exists()
        except KeyboardInterrupt:
            continue


class OutputWarning(UserWarning):
    """Something about the output folder the user should deal with."""


#: Floats in CSV keep ten significant digits: more than any statistic carries.
FLOAT_FORMAT = "%.10g"

#: First characters that make a spreadsheet read a cell as a formula (OWASP, "CSV
#: injection"): ``=HYPERLINK(...)``, ``+cmd|...``, ``-2+3``, ``@SUM(...)``, tab, CR.
FORMULA_START = frozenset("=+-@\t\r")
#: Text that is a plain number (``-12.5``, ``+3``, ``1e-05``) is read as a number, not a
#: formula, and is left alone.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise(text: str) -> str:
    """Text for a CSV cell that no spreadsheet runs as a formula: text starting with
    ``=``, ``+``, ``-``, ``@``, tab or CR gets a leading ``'`` (the OWASP rule), unless it
    is a plain number.  The one copy of the rule: every CSV writer uses it.

    >>> neutralise("=HYPERLINK(\"http://x\")"), neutralise("-1.5"), neutralise("连州镇")
    ('\'=HYPERLINK("http://x")', '-1.5', '连州镇')
    """
    if text[:1] in FORMULA_START and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


#: The first characters :func:`neutralise` looks at (RE2; the cells found go through it).
_FORMULA_RE = "^[=+\\-@\t\r]"
#: A cell is quoted when it holds the delimiter, the quote or a line break (RFC 4180).
_NEEDS_QUOTES_RE = '[,"\r\n]'
#: Rows turned into text at a time (bounds the memory of the text of a long table).
_CSV_ROWS = 1 << 17


def _float_cells(values: np.ndarray) -> pa.Array:
    """:data:`FLOAT_FORMAT` text of each float, '' for NaN (what pandas writes); whole
    numbers of up to ten digits cast by Arrow, the others formatted one by one."""
    whole = (values == np.round(values)) & (np.abs(values) < 1e10) & ~np.signbit(values)
    text = np.full(len(values), "", dtype=object)
    other = np.flatnonzero(~whole & ~np.isnan(values))
    text[other] = [FLOAT_FORMAT % x for x in values[other].tolist()]
    ints = pc.cast(pa.array(np.where(whole, values, 0).astype(np.int64)), pa.string())
    return pc.if_else(pa.array(whole), ints, pa.array(text, type=pa.string()))


def _object_cells(values) -> list[str]:
    """Cells of a column of Python objects: text neutralised, missing '', others str()."""
    out = []
    for v in values:
        if type(v) is str:
            out.append(neutralise(v))
        elif v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v):
            out.append("")
        else:
            out.append(str(v))
    return out


def _cells(col: pd.Series) -> pa.Array:
    """The CSV text of one column as an Arrow string array without nulls (text cells
    neutralised and quoted where they must be)."""
    text, numbers = _text(col)
    text = text.cast(pa.large_string())
    text = text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
    return text if numbers else _quoted(text)      # number text holds no , " or break


def _text(col: pd.Series) -> tuple[pa.Array, bool]:
    """The column's cells as text, and whether they are numbers (or True/False)."""
    dtype = col.dtype
    if ptypes.is_bool_dtype(dtype) and not col.hasnans:
        return pa.array(np.where(col.to_numpy(bool), "True", "False")), True
    if ptypes.is_float_dtype(dtype):
        return _float_cells(col.to_numpy(dtype=float, na_value=np.nan)), True
    if ptypes.is_integer_dtype(dtype):
        return pc.fill_null(pc.cast(pa.array(col, from_pandas=True), pa.string()), ""), True
    if ptypes.is_string_dtype(dtype):   # str, or objects: read whole when text and None
        try:
            text = pa.array(col, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):    # mixed objects: cell by cell
            text = None
        if text is not None and text.type in (pa.string(), pa.large_string(), pa.null()):
            text = pc.fill_null(text.cast(pa.large_string()), "")
            guard = np.flatnonzero(pc.match_substring_regex(text, _FORMULA_RE)
                                   .to_numpy(zero_copy_only=False))
            if not len(guard):
                return text, False
            cells = text.to_numpy(zero_copy_only=False).astype(object)   # the few: one rule
            cells[guard] = [neutralise(v) for v in cells[guard].tolist()]
            return pa.array(cells, type=pa.large_string()), False
    return pa.array(_object_cells(col.astype(object).tolist()), type=pa.large_string()), False


def _quoted(text: pa.Array) -> pa.Array:
    """Cells holding the delimiter, the quote or a line break in quotes (quotes doubled)."""
    need = pc.match_substring_regex(text, _NEEDS_QUOTES_RE)
    if not pc.any(need).as_py():
        return text
    quoted = pc.binary_join_element_wise(_s('"'), pc.replace_substring(text, '"', '""'),
                                         _s('"'), _s(""))
    return pc.if_else(need, quoted, text)


def _s(text: str) -> pa.Scalar:
    return pa.scalar(text, pa.large_string())


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """CSV in UTF-8 with BOM (so Excel shows Chinese), LF line ends, stable float text
    (:data:`FLOAT_FORMAT`); text cells and headers neutralised against formula injection
    (:func:`neutralise`); a cell is quoted only when it must be (as pandas and the
    ``csv`` module write).

    Hand-written on pyarrow compute, here only: pandas' ``to_csv`` formats cell by cell
    in Python (too slow for a national run) and pyarrow's own CSV writer quotes every
    text cell.  Each column becomes its text with array operations (floats through ``%``
    formatting, the one loop), the rows are joined, and their bytes written.
    """
    path = Path(path)
    names = [neutralise(str(c)) for c in frame.columns]
    one = len(names) == 1          # the csv module's rule: a lone empty cell is ""
    with open(path, "wb") as fh:
        fh.write(b"\xef\xbb\xbf")
        header = _quoted(pa.array(names, type=pa.large_string())).to_pylist()
        fh.write(((",".join(header) if not one or header[0] else '""') + "\n")
                 .encode("utf-8"))
        for lo in range(0, len(frame) if names else 0, _CSV_ROWS):
            part = frame.iloc[lo:lo + _CSV_ROWS]
            cols = [_cells(part.iloc[:, j]) for j in range(len(names))]
            if one:
                cols[0] = pc.if_else(pc.equal(pc.utf8_length(cols[0]), 0), _s('""'), cols[0])
            rows = pc.binary_join_element_wise(*cols, _s(",")) if len(cols) > 1 else cols[0]
            fh.write(_data(pc.binary_join_element_wise(rows, _s(""), _s("\n"))))
    return path


def _data(text: pa.Array) -> memoryview:
    """The bytes of a string array without nulls: its cells one after another."""
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[text.offset:
                                                                text.offset + len(text) + 1]
    return memoryview(text.buffers()[2])[offsets[0]:offsets[-1]]


def write_towns(towns: gpd.GeoDataFrame, out: str | Path, *, notice: str | None = None,
                lang: str = "zh", xlsx: bool = True, system=None,
                level: str = "town") -> list[Path]:
    """Write ``towns.gpkg`` (layer ``towns``, EPSG:4326), ``towns.csv`` (column ids, for
    machines) and, with ``xlsx``, ``towns.xlsx`` for people (headers in ``lang`` with
    units from the indicator ``system``; :func:`classify.report.workbook.write_workbook`).

    ``notice``: a data notice (e.g. "illustrative demo data") on the workbook's first
    sheet (说明, or Notice with ``lang="en"``)."""
    out = Path(out)
    towns = towns[order_columns(towns)]
    if towns.crs is None or towns.crs.to_epsg() != 4326:
        towns = towns.to_crs(4326)
    gpkg = out / "towns.gpkg"
    # through Arrow: GDAL reads the columns whole (half the time of feature by feature)
    towns.to_file(gpkg, layer="towns", driver="GPKG", engine="pyogrio", use_arrow=True)
    table = pd.DataFrame(towns.drop(columns="geometry"))
    files = [gpkg, write_csv(table, out / "towns.csv")]
    if xlsx:
        files += towns_workbook(table, out / "towns.xlsx", system=system, lang=lang,
                                notice=notice, level=level)
    return files


def towns_headers(columns, system=None, lang: str = "zh",
                  level: str = "town") -> tuple[list[str], dict]:
    """Headers of the towns workbook in ``lang`` (indicators with their unit, dimension
    scores from the indicator system, the rest from ``labels_<lang>.toml`` [towns] in the
    wording of the unit ``level``) and the Excel number format of each."""
    words = labels(lang, level)["towns"]
    ind = {i.id: i for i in (getattr(system, "indicators", None) or ())}
    dims = {d.id: d for d in (getattr(system, "dimensions", None) or ())}
    heads, formats, used = [], {}, set()
    for c in columns:
        if c in ind:
            i = ind[c]
            label = (i.label_zh if lang == "zh" else i.label_en or i.label_zh) or c
            head, fmt = with_unit(label, unit_label(i.unit, lang), lang), "#,##0.00"
        elif c.startswith("score_"):
            d = dims.get(c[6:])
            name = (d.label_zh if lang == "zh" else d.label_en or d.label_zh) if d else c[6:]
            head, fmt = words["score"].format(dimension=name), "0.0"
        else:
            head = words.get(c, c)
            fmt = {"composite": "0.0", "stability": "0%", "cluster_stability": "0%",
                   "rank_median": "0.0"}.get(c)
        while head in used:        # two columns with one label keep both
            head += f" [{c}]"
        used.add(head)
        heads.append(head)
        if fmt:
            formats[head] = fmt
    return heads, formats


def with_unit(name: str, unit: str, lang: str) -> str:
    """``name（unit）`` in Chinese, ``name (unit)`` in English, ``name`` without a unit."""
    if not unit:
        return name
    return f"{name}（{unit}）" if lang == "zh" else f"{name} ({unit})"


def towns_workbook(table: pd.DataFrame, path: Path, *, system=None, lang: str = "zh",
                   notice: str | None = None, level: str = "town") -> list[Path]:
    """``towns.xlsx``: the towns table for people (see :func:`towns_headers`)."""
    # here, not at the top: classify.report.workbook writes its long tables with this
    # module's write_csv (one CSV rule), so a top-level import would be circular
    from classify.report.workbook import write_workbook

    words = labels(lang, level)["towns"]
    heads, formats = towns_headers(list(table.columns), system, lang, level)
    shown = table.set_axis(heads, axis=1)
    return write_workbook(path, {words["sheet"]: shown}, formats=formats, notice=notice,
                          notice_title=words["notice_sheet"], long_note=words["long_note"])


def sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def write_manifest(path: str | Path, manifest: dict) -> Path:
    """Write ``run.json`` (UTF-8, Chinese kept readable, keys in insertion order)."""
    path = Path(path)
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2, default=str) + "\n",
                    encoding="utf-8")
    return path
