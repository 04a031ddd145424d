"""Integrity of a shapefile's three files, from their headers (before GDAL reads them).

GDAL reads a shapefile copied half-way, or with files of different versions, without an
error: the missing shapes come back as null geometries and the towns vanish.

References: ESRI Shapefile Technical Description (1998); dBASE III file header.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from geo.errors import InputError

__all__ = ["check_shapefile", "sidecar"]

_FILE_CODE = 9994


def sidecar(shp: Path, suffix: str) -> Path | None:
    """The ``.shx``/``.dbf``/… beside a ``.shp`` (either case of the suffix), or None."""
    for cand in (shp.with_suffix(suffix), shp.with_suffix(suffix.upper())):
        if cand.exists():
            return cand
    return None


def _header(path: Path, what: str) -> tuple[int, int]:
    """``(declared length in bytes, size on disk)`` of a .shp or .shx that is not cut."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(100)
    if len(head) < 100 or struct.unpack(">i", head[:4])[0] != _FILE_CODE:
        raise InputError(f"这不是有效的 {what} 文件（not a valid {what} file: the 100-byte "
                         "header with file code 9994 is missing）; copy the shapefile again "
                         "from its source", path=path)
    declared = struct.unpack(">i", head[24:28])[0] * 2
    if size < declared:
        raise _cut_short(path, what, declared, size)
    return declared, size


def _cut_short(path: Path, what: str, declared: int, size: int) -> InputError:
    missing = declared - size
    return InputError(
        f"{what} 文件不完整（the {what} file is cut short）: its header says {declared:,} "
        f"bytes but the file has {size:,} ({missing / max(declared, 1):.0%} missing) — the "
        "copy or download was interrupted; copy the shapefile again from its source",
        path=path)


def _dbf_count(dbf: Path) -> int:
    size = dbf.stat().st_size
    with open(dbf, "rb") as fh:
        head = fh.read(32)
    if len(head) < 12:
        raise InputError("the .dbf file is too short to hold its header; copy the shapefile "
                         "again from its source", path=dbf)
    n, header_len, record_len = struct.unpack("<IHH", head[4:12])
    declared = header_len + n * record_len
    if size < declared:
        raise _cut_short(dbf, ".dbf", declared, size)
    return n


def check_shapefile(shp: str | Path) -> np.ndarray:
    """Check a shapefile's files against their headers; the shape type of each record.

    Parameters
    ----------
    shp : path of the ``.shp``

    Returns
    -------
    ndarray of int32
        The shape type of each record as the ``.shp`` stores it (0 = null shape).

    Raises
    ------
    geo.errors.InputError
        Naming the file and what is wrong: a file cut short, record counts of the
        ``.shx`` and ``.dbf`` that disagree, an index entry pointing past the ``.shp``.
    """
    shp = Path(shp)
    shx, dbf = sidecar(shp, ".shx"), sidecar(shp, ".dbf")
    size = _header(shp, ".shp")[1]
    if shx is None:  # read_boundaries says so before; nothing to compare here
        return np.zeros(0, dtype=np.int32)
    n_shx = (_header(shx, ".shx")[0] - 100) // 8
    index = np.fromfile(shx, dtype=">i4", count=2 * n_shx, offset=100).reshape(-1, 2)
    if dbf is not None:
        n_dbf = _dbf_count(dbf)
        if n_dbf != n_shx:
            raise InputError(
                f"记录数不一致（record counts disagree）: the .shx indexes {n_shx:,} shapes but "
                f"the .dbf holds {n_dbf:,} records — the files come from different versions "
                "or one was cut; copy all files of the shapefile again from the same source",
                path=shp)
    starts = index[:, 0].astype(np.int64) * 2
    ends = starts + 8 + index[:, 1].astype(np.int64) * 2
    past = np.flatnonzero((starts < 100) | (ends > size))
    if len(past):
        raise InputError(
            f"索引指向文件之外（the .shx points past the .shp）: record(s) "
            f"{', '.join(map(str, past[:10].tolist()))} of {n_shx:,} end beyond the .shp's "
            f"{size:,} bytes — the .shp was cut or replaced; copy the shapefile again",
            path=shp)
    if not n_shx:
        return np.zeros(0, dtype=np.int32)
    data = np.memmap(shp, dtype=np.uint8, mode="r")
    at = np.minimum(starts[:, None] + 8 + np.arange(4), size - 1)  # each record's type bytes
    types = data[at].view("<i4")[:, 0].astype(np.int32)
    types[index[:, 1] < 2] = 0  # a content of under 4 bytes holds no shape
    return types
