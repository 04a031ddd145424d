"""Which towns get a sheet: ``--sheets auto|all|none|county=NAME|codes=FILE`` and the
``--county`` / ``--codes`` options of ``towntype sheets``.  By default (``auto``) a run
writes every sheet up to :data:`AUTO_SHEETS_MAX` towns (a province) and none above, and
says how to get them (``towntype sheets RUN_DIR --county NAME``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from geo.encoding import detect_bytes
from geo.errors import InputError
from geo.tables import _KIND_NAMES, KEY_HEADERS, file_kind, workbook_cells

__all__ = ["AUTO_SHEETS_MAX", "parse_scope", "select", "read_codes", "scope_note"]

#: Up to this many towns (a province) a run writes every sheet and both workbooks.
AUTO_SHEETS_MAX = 5000


def parse_scope(text: str) -> tuple[str, str | None]:
    """``(kind, value)`` of a ``--sheets`` value: ``("auto"|"all"|"none", None)``,
    ``("county", NAME)`` or ``("codes", FILE)``."""
    text = str(text).strip()
    if text in ("auto", "all", "none"):
        return text, None
    kind, sep, value = text.partition("=")
    if sep and kind.strip() in ("county", "codes") and value.strip():
        return kind.strip(), value.strip()
    raise InputError(f"--sheets：无法识别（not understood）：{text!r}；choose auto, all, none, "
                     f"county=NAME (e.g. county=连州市) or codes=FILE (one town code a line)")


def read_codes(path: str | Path, *, flag: str = "--codes ") -> list[str]:
    """Town codes, one a line: the first column of a CSV or of cells copied from Excel, or
    the first filled cell of each row of a workbook's sheet; a code header such as
    ``town_code`` or 统计代码 and blank lines are skipped; text in UTF-8 or GB18030.
    ``flag``: how the messages name the option (``"--sheets codes="`` in a run)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{flag}{path}: 文件不存在（no such file）; give a text file with "
                         f"one town code a line")
    kind = file_kind(path)
    if kind in ("xlsx", "xls"):     # a list kept in Excel: the first filled cell of a row
        text = "\n".join(next(filter(None, row), "") for row in workbook_cells(path, kind))
    elif kind != "text":
        raise InputError(f"{flag}{path}: 不是文本文件或工作簿（the file is {_KIND_NAMES[kind]}）; "
                         f"give a text file or workbook with one town code a line")
    else:
        data = path.read_bytes()
        try:
            text = data.decode(detect_bytes(data).encoding)     # UTF-8 (BOM), GB18030, UTF-16
        except (InputError, UnicodeDecodeError):
            raise InputError(f"{flag}{path}: 无法识别文本编码（not readable as UTF-8 or "
                             f"GB18030 text）; save it as UTF-8 text") from None
    codes = []
    for line in text.splitlines():
        # the first cell of a CSV line or of cells copied from Excel (tab-separated)
        code = re.split(r"[,\t;]", line)[0].strip().strip('"').strip()
        code = re.sub(r"^(\d+)\.0+$", r"\1", code)        # 441882100.0 (a number in Excel)
        if code and code not in KEY_HEADERS["code"]:     # town_code, 统计代码 …
            codes.append(code)
    if not codes:
        raise InputError(f"{flag}{path}: 没有镇街代码（no town codes found）; write one "
                         f"code a line, e.g. 441882100")
    return codes


def select(towns: pd.DataFrame, *, kind: str = "all", counties: Sequence[str] = (),
           codes: Sequence[str] = (), log=lambda msg: None) -> np.ndarray:
    """Row positions of ``towns`` (columns ``town_code``, ``county``) in scope.

    ``kind`` is ``all``/``none``/``auto`` (auto: all up to :data:`AUTO_SHEETS_MAX`),
    or ``pick``: the towns of ``counties`` (by name) and ``codes``.  A county name that
    matches no town is an error naming the counties there are; codes not found are
    logged."""
    n = len(towns)
    if kind == "none" or (kind == "auto" and n > AUTO_SHEETS_MAX):
        return np.arange(0)
    if kind in ("all", "auto"):
        return np.arange(n)
    county = towns["county"].fillna("").astype(str).str.strip()
    keep = np.zeros(n, dtype=bool)
    for name in counties:
        hit = (county == name.strip()).to_numpy()
        if not hit.any():
            known = sorted(set(county) - {""})
            raise InputError(
                f"--county {name!r}: 此县区没有镇街（no towns in this county）；运行中的县区"
                f"（counties in the run, {len(known)}）：{'、'.join(known[:30])}"
                f"{' …' if len(known) > 30 else ''}")
        keep |= hit
    if len(codes):
        code = towns["town_code"].fillna("").astype(str).str.strip()
        wanted = {str(c).strip() for c in codes}
        hit = code.isin(wanted).to_numpy()
        missing = sorted(wanted - set(code[hit]))
        if missing:
            log(f"代码不在运行中（codes not in the run, {len(missing)}）："
                f"{'、'.join(missing[:20])}{' …' if len(missing) > 20 else ''}")
        keep |= hit
    return np.flatnonzero(keep)


def scope_note(n_towns: int, n_sheets: int, kind: str, out: Path) -> str | None:
    """The console line when a run wrote fewer sheets than towns (how to get the rest)."""
    if n_sheets >= n_towns:
        return None
    why = (f"超过 {AUTO_SHEETS_MAX:,} 个镇街（more than {AUTO_SHEETS_MAX:,} towns）"
           if kind == "auto" else f"--sheets {kind}")
    return (f"自评表（sheets）：{n_sheets:,}/{n_towns:,} 个镇街已写出（{why}）；其余按需生成"
            f"（make more without re-running）：towntype sheets {out} --county 县区名 "
            f"[--codes FILE]")
