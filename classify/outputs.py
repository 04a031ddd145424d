"""Writing the run's output files: the towns table in three formats and the manifest.

Outputs are written into a staging folder beside the target, which replaces the target
folder whole only when the run succeeded: a failing input (or an interrupt) never leaves
half-written files that look complete, nor files of an earlier run beside new ones.
Text cells of CSV files are neutralised against formula injection (:func:`neutralise`).
"""

from __future__ import annotations

import contextlib
import csv
import glob
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Iterable, Iterator

import geopandas as gpd
import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from openpyxl.utils import get_column_letter

from classify.xlsx import xml_text
from geo.errors import InputError

__all__ = ["staged_output", "publish", "check_output_folder", "is_towntype_output",
           "OutputWarning", "neutralise", "write_towns", "write_csv", "write_xlsx", "sha256", "write_manifest",
           "KEY_COLUMNS", "order_columns"]

#: Columns that lead every towns table, in this order (when present).
KEY_COLUMNS = ["town_code", "town", "county_code", "county", "city_code", "city"]
#: Columns that close the table, in this order (when present).
RESULT_COLUMNS = [
    "composite", "rank", "rank_county", "rank_median", "rank_p05", "rank_p95",
    "category", "subtype", "category_zh", "subtype_zh", "secondary", "roles",
    "runner_up", "stability", "cluster", "cluster_name", "cluster_name_en",
    "cluster_stability", "review", "review_reason", "review_reason_en", "declared",
    "declared_status",
    "n_missing", "n_imputed", "boundary_quality",
]


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
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"cannot write in {parent} (no permission); choose another --out",
                         path=out)
    for item in inputs:
        if item is not None and _inside(Path(item), out):
            raise InputError(f"the input {item} is inside --out, which a run replaces "
                             "whole; choose another --out", path=out)
    if _inside(Path.cwd(), out):
        raise InputError("--out is the current folder or contains it, and a run replaces "
                         "it whole; give a subfolder such as --out towntype-out", path=out)
    if out.is_dir() and any(out.iterdir()) and not is_towntype_output(out) and not force:
        raise InputError(
            f"--out is a folder that is not empty and not an earlier towntype output (no "
            f"{MANIFEST}); a run replaces the whole folder, so choose a new or empty "
            f"folder, or pass --force to replace it and everything in it", path=out)
    return out


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


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
    except (PermissionError, OSError, OverflowError):
        return True                     # someone else's process, or cannot tell: keep
    return True


def _remove(folder: Path) -> bool:
    """Remove ``folder`` (an interrupt does not stop the cleanup half-way); whether it is
    gone."""
    while True:
        try:
            shutil.rmtree(folder, ignore_errors=True)
            break
        except KeyboardInterrupt:
            continue
    return not folder.exists()


class OutputWarning(UserWarning):
    """Something about the output folder the user should deal with."""


#: Floats in CSV keep ten significant digits: more than any statistic carries, and about
#: twice as fast to write as full ``repr`` precision (measured at 40,000 towns).
FLOAT_FORMAT = "%.10g"
#: Rows per block when streaming a table to disk (bounds the memory of the text).
_BLOCK = 20_000
#: Characters that make the csv module quote a field (QUOTE_MINIMAL, "\n" line ends).
_CSV_SPECIAL = re.compile('[,"\r\n]')


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


def _neutralise_texts(text: list[str]) -> list[str]:
    """:func:`neutralise` on a list of texts (one set scan when none needs it)."""
    if FORMULA_START.isdisjoint({v[:1] for v in text}):
        return text
    return [neutralise(v) for v in text]


def _neutralised(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its header and every text cell neutralised (numbers untouched),
    for the columns left to pandas."""
    cols = {}
    for j, (name, col) in enumerate(frame.items()):
        if isinstance(col.dtype, pd.CategoricalDtype) or ptypes.is_object_dtype(col.dtype) \
                or ptypes.is_string_dtype(col.dtype):
            col = col.astype(object).map(lambda v: neutralise(v) if type(v) is str else v)
        cols[j] = col
    out = pd.DataFrame(cols, index=frame.index)
    out.columns = [neutralise(str(c)) for c in frame.columns]
    return out


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """CSV in UTF-8 with BOM (so Excel shows Chinese), LF line ends, stable float text;
    text cells and headers neutralised against formula injection (:func:`neutralise`).

    The bytes are those of ``_neutralised(frame).to_csv(index=False,
    encoding="utf-8-sig", lineterminator="\n", float_format=FLOAT_FORMAT)``; the text is
    built a block of rows at a time, column by column (pandas formats and checks every
    float on its own: the 640,000-row rule trace of 40,000 towns took 4.2 s, this 1.9 s).
    Column types it does not know (categories, dates, nullable booleans) go to pandas.
    """
    path = Path(path)
    kinds = [_csv_kind(dtype) for dtype in frame.dtypes]
    if frame.shape[1] < 2 or None in kinds:
        _neutralised(frame).to_csv(path, index=False, encoding="utf-8-sig",
                                   lineterminator="\n", float_format=FLOAT_FORMAT)
        return path
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerow([neutralise(str(c))
                                                       for c in frame.columns])
        for start in range(0, len(frame), _BLOCK):
            part = frame.iloc[start:start + _BLOCK]
            columns = [_csv_text(part.iloc[:, j], kind) for j, kind in enumerate(kinds)]
            fh.write("\n".join(map(",".join, zip(*columns))) + "\n")
    return path


def _csv_kind(dtype) -> str | None:
    """How :func:`_csv_text` writes a column of ``dtype``; None: leave it to pandas."""
    if ptypes.is_bool_dtype(dtype):
        return "bool" if dtype == bool else None
    if ptypes.is_float_dtype(dtype):
        return "float"
    if ptypes.is_integer_dtype(dtype):
        return "int" if isinstance(dtype, np.dtype) else "Int"
    if ptypes.is_object_dtype(dtype):
        return "object"
    if ptypes.is_string_dtype(dtype):
        return "str"
    return None


_BOOL_TEXT = ("False", "True")


def _csv_text(col: pd.Series, kind: str) -> list[str]:
    """The text of each cell as ``to_csv`` writes it, quoted where needed."""
    if kind == "bool":
        return [_BOOL_TEXT[v] for v in col.to_numpy().tolist()]
    if kind == "float":
        values = col.to_numpy(dtype=np.float64, na_value=np.nan)
        return _missing_to_empty([FLOAT_FORMAT % v for v in values.tolist()], np.isnan(values))
    if kind == "int":
        return col.to_numpy().astype(str).tolist()
    values = col.to_numpy(dtype=object)
    missing = pd.isna(values)
    text = values.tolist()
    if kind == "Int":           # Int64 numbers
        return _missing_to_empty([str(v) for v in text], missing)
    if kind == "object":        # anything: only the text items are neutralised
        text = [(v if v[:1] not in FORMULA_START else neutralise(v)) if type(v) is str
                else str(v) for v in text]
    text = _missing_to_empty(text, missing)
    return _csv_quote(text if kind == "object" else _neutralise_texts(text))


def _missing_to_empty(text: list[str], missing: np.ndarray) -> list[str]:
    for i in np.flatnonzero(missing).tolist():
        text[i] = ""
    return text


def _csv_quote(text: list[str]) -> list[str]:
    """Quote the fields the csv module would quote, as it quotes them."""
    if not _CSV_SPECIAL.search("".join(text)):
        return text                                 # the usual case: one scan, nothing to do
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    out = []
    for v in text:
        if _CSV_SPECIAL.search(v):
            buf.seek(0)
            buf.truncate()
            writer.writerow([v])
            v = buf.getvalue()[:-1]
        out.append(v)
    return out


def write_xlsx(sheets: dict[str, pd.DataFrame], path: str | Path) -> Path:
    """A workbook with one sheet per table (header row, then one row per record).

    Numbers stay numbers (floats as ``%.16g``, as openpyxl writes them), booleans stay
    booleans, text is stored once in the shared-strings table, and NaN / None / empty
    text leave the cell empty.  Text is never read as a formula.  The sheet XML is built
    column by column and streamed into the zip: openpyxl (and xlsxwriter) create or
    write one Python object per cell, 15–17 s for the 3 million cells of a 40,000-town
    table.
    """
    path = Path(path)
    strings: dict[str, int] = {}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=_ZIP_LEVEL) as z:
        for k, table in enumerate(sheets.values(), start=1):
            with z.open(f"xl/worksheets/sheet{k}.xml", "w") as fh:
                for chunk in _sheet_xml(table, strings):
                    fh.write(chunk.encode("utf-8"))
        for name, text in _workbook_parts(list(sheets), strings).items():
            z.writestr(name, text.encode("utf-8"))
    return path


#: zlib level of the workbook: level 1 is 3× faster than 6 on the sheet XML and the file
#: is about a fifth larger.
_ZIP_LEVEL = 1
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_NS_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
def _xlsx_values(col: pd.Series, strings: dict[str, int]) -> tuple[list, str]:
    """Cell values of a column as XML text and the cell type: ``("n" | "b" | "s" | "")``;
    ``""`` marks a mixed (object) column whose items carry their own type."""
    dtype = col.dtype
    if ptypes.is_bool_dtype(dtype) and dtype == bool:
        return np.where(col.to_numpy(), "1", "0").tolist(), "b"
    if ptypes.is_float_dtype(dtype):
        values = col.to_numpy(dtype=np.float64, na_value=np.nan)
        return _missing_to_none(["%.16g" % v for v in values.tolist()],
                                ~np.isfinite(values)), "n"
    if ptypes.is_integer_dtype(dtype):
        if isinstance(dtype, np.dtype):
            return col.to_numpy().astype(str).tolist(), "n"
        return _missing_to_none([str(v) for v in col.to_numpy(dtype=object).tolist()],
                                col.isna().to_numpy()), "n"
    values = col.to_numpy(dtype=object)
    missing = pd.isna(values) if values.size else np.zeros(0, bool)
    if ptypes.is_string_dtype(dtype) and all(type(v) is str or m for v, m in
                                             zip(values.tolist(), missing.tolist())):
        return [None if m or v == "" else str(strings.setdefault(v, len(strings)))
                for v, m in zip(values.tolist(), missing.tolist())], "s"
    return [None if m else _typed_cell(v, strings)
            for v, m in zip(values.tolist(), missing.tolist())], ""


def _typed_cell(v, strings: dict[str, int]) -> str | None:
    """``'t="…"><v>…'`` body of one cell of a mixed column (after the reference)."""
    if isinstance(v, (bool, np.bool_)):
        return f' t="b"><v>{int(v)}</v>'
    if isinstance(v, (int, np.integer)):
        return f"><v>{int(v)}</v>"
    if isinstance(v, (float, np.floating)):
        return f"><v>{float(v):.16g}</v>" if np.isfinite(v) else None
    text = str(v)
    return f' t="s"><v>{strings.setdefault(text, len(strings))}</v>' if text else None


def _missing_to_none(text: list, missing: np.ndarray) -> list:
    for i in np.flatnonzero(missing).tolist():
        text[i] = None
    return text


def _xlsx_cells(values: list, kind: str, letter: str, rows: list[str]) -> list[str]:
    """One ``<c>`` element per row (``""`` for an empty cell)."""
    if kind == "":
        return ["" if v is None else f'<c r="{letter}{r}"{v}</c>' for v, r in zip(values, rows)]
    t = "" if kind == "n" else f' t="{kind}"'
    return ["" if v is None else f'<c r="{letter}{r}"{t}><v>{v}</v></c>'
            for v, r in zip(values, rows)]


def _sheet_xml(table: pd.DataFrame, strings: dict[str, int]) -> Iterator[str]:
    letters = [get_column_letter(k + 1) for k in range(table.shape[1])]
    yield f'{_XML_HEAD}<worksheet xmlns="{_NS_MAIN}"><sheetData><row r="1">'
    yield "".join(f'<c r="{c}1" t="s"><v>{strings.setdefault(str(h), len(strings))}</v></c>'
                  for c, h in zip(letters, table.columns)) + "</row>"
    for start in range(0, len(table), _BLOCK):
        part = table.iloc[start:start + _BLOCK]
        rows = [str(r) for r in range(start + 2, start + 2 + len(part))]
        cells = [_xlsx_cells(*_xlsx_values(part.iloc[:, j], strings), letters[j], rows)
                 for j in range(part.shape[1])]
        yield "".join(f'<row r="{r}">{"".join(row)}</row>' for r, row in zip(rows, zip(*cells)))
    yield "</sheetData></worksheet>"


def _workbook_parts(names: list[str], strings: dict[str, int]) -> dict[str, str]:
    """Every part of the package but the sheets: content types, relations, workbook,
    styles, shared strings."""
    n = len(names)
    sheets = "".join(f'<sheet name="{xml_text(str(t)).replace(chr(34), "&quot;")}" '
                     f'sheetId="{k}" r:id="rId{k}"/>' for k, t in enumerate(names, start=1))
    sst = "".join(f'<si><t xml:space="preserve">{xml_text(s)}</t></si>' for s in strings)
    return {
        "[Content_Types].xml": _XML_HEAD + (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
            + "".join(f'<Override PartName="/xl/worksheets/sheet{k}.xml" '
                      f'ContentType="{_CT}.worksheet+xml"/>' for k in range(1, n + 1))
            + f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.styles+xml"/>'
            f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_CT}.sharedStrings+xml"/>'
            "</Types>"),
        "_rels/.rels": _XML_HEAD + (
            f'<Relationships xmlns="{_NS_PKG}"><Relationship Id="rId1" '
            f'Type="{_NS_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
        "xl/workbook.xml": _XML_HEAD + (
            f'<workbook xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}"><sheets>{sheets}</sheets>'
            "</workbook>"),
        "xl/_rels/workbook.xml.rels": _XML_HEAD + (
            f'<Relationships xmlns="{_NS_PKG}">' + "".join(
                f'<Relationship Id="rId{k}" Type="{_NS_REL}/worksheet" '
                f'Target="worksheets/sheet{k}.xml"/>' for k in range(1, n + 1))
            + f'<Relationship Id="rId{n + 1}" Type="{_NS_REL}/styles" Target="styles.xml"/>'
            f'<Relationship Id="rId{n + 2}" Type="{_NS_REL}/sharedStrings" '
            'Target="sharedStrings.xml"/></Relationships>'),
        "xl/styles.xml": _XML_HEAD + (
            f'<styleSheet xmlns="{_NS_MAIN}"><fonts count="1"><font><sz val="11"/>'
            '<name val="Calibri"/><family val="2"/></font></fonts><fills count="2"><fill>'
            '<patternFill/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
            '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border>'
            '</borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" '
            'borderId="0"/></cellStyleXfs><cellXfs count="1"><xf numFmtId="0" fontId="0" '
            'fillId="0" borderId="0" xfId="0"/></cellXfs><cellStyles count="1"><cellStyle '
            'name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'),
        "xl/sharedStrings.xml": _XML_HEAD + (
            f'<sst xmlns="{_NS_MAIN}" uniqueCount="{len(strings)}">{sst}</sst>'),
    }


def write_towns(towns: gpd.GeoDataFrame, out: str | Path, *, notice: str | None = None,
                lang: str = "zh") -> list[Path]:
    """Write ``towns.gpkg`` (layer ``towns``, EPSG:4326), ``towns.csv`` and ``towns.xlsx``.

    Parameters
    ----------
    towns : GeoDataFrame
        One row per town, in EPSG:4326.
    out : path
        Folder to write into.
    notice : str, optional
        A data notice (e.g. "illustrative demo data") put on a second sheet of the workbook
        (named 说明, or Notice with ``lang="en"``).
    """
    out = Path(out)
    towns = towns[order_columns(towns)]
    if towns.crs is None or towns.crs.to_epsg() != 4326:
        towns = towns.to_crs(4326)
    gpkg = out / "towns.gpkg"
    towns.to_file(gpkg, layer="towns", driver="GPKG", engine="pyogrio")
    table = pd.DataFrame(towns.drop(columns="geometry"))
    csv = write_csv(table, out / "towns.csv")
    sheets = {"towns": table}
    if notice:
        sheets["说明" if lang == "zh" else "Notice"] = pd.DataFrame({"说明 / note": [notice]})
    xlsx = write_xlsx(sheets, out / "towns.xlsx")
    return [gpkg, csv, xlsx]


def sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file (read in chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(path: str | Path, manifest: dict) -> Path:
    """Write ``run.json`` (UTF-8, Chinese kept readable, keys in insertion order)."""
    path = Path(path)
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2, default=str) + "\n",
                    encoding="utf-8")
    return path
