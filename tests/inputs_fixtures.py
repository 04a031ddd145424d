"""Generators of the odd and bad input files planners really have (built in code, tiny).

Every function writes into a directory given by the test (``tmp_path``) and returns the
path.  Town codes and names are real (NBS 2022): 连州市 (441882) and the Qingyuan towns
whose names repeat across counties (two 石角镇, two 太平镇).  㮾 (U+3BBE, a GB18030-only
character) is used in one name to prove that GBK is not used for decoding.
"""

from __future__ import annotations

import struct
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import Polygon, box

# 连州市 towns (code, name); the last one is fictional, to carry 㮾 (GB18030 only).
LIANZHOU = [
    ("441882100", "连州镇"), ("441882101", "星子镇"), ("441882102", "大路边镇"),
    ("441882103", "龙坪镇"), ("441882104", "西岸镇"), ("441882105", "保安镇"),
    ("441882106", "丰阳镇"), ("441882107", "东陂镇"), ("441882108", "九陂镇"),
    ("441882109", "西江镇"), ("441882200", "瑶安瑶族乡"), ("441882201", "三水瑶族乡"),
]
RARE = ("441882199", "㮾下镇")
# Qingyuan names that repeat: (code, name, county_code, county)
QINGYUAN_TWINS = [
    ("441802106", "石角镇", "441802", "清城区"), ("441821100", "石角镇", "441821", "佛冈县"),
    ("441803104", "太平镇", "441803", "清新区"), ("441823107", "太平镇", "441823", "阳山县"),
]
# Lon/lat cells inside 连州市 (112.12–112.79 E, 24.61–25.19 N): 4 columns × 3 rows + 1.
_LON0, _LAT0, _STEP = 112.25, 24.70, 0.1


def lianzhou_cells(with_rare: bool = True) -> gpd.GeoDataFrame:
    """13 adjacent square towns (WGS84) with code, name, county; GDP = 1000 × (i+1)."""
    towns = LIANZHOU + ([RARE] if with_rare else [])
    geoms = []
    for i in range(len(towns)):
        col, row = i % 5, i // 5
        x, y = _LON0 + col * _STEP, _LAT0 + row * _STEP
        geoms.append(box(x, y, x + _STEP, y + _STEP))
    return gpd.GeoDataFrame({
        "town_code": [c for c, _ in towns], "town": [n for _, n in towns],
        "county_code": ["441882"] * len(towns), "county": ["连州市"] * len(towns),
    }, geometry=geoms, crs=4326)


def write_dbf(path: Path, fields: list[tuple[str, int]], records: list[list[str]],
              encoding: str) -> None:
    """Write a DBF of character fields with names and values in ``encoding``.

    A hand-written DBF (dBase III) so the bytes are exactly what Chinese desktop GIS
    writes: no code page byte, no ``.cpg``.
    """
    # DBF field names have at most 10 bytes: longer names are cut, as GIS software does
    names = [(n if isinstance(n, bytes) else n.encode(encoding))[:10] for n, _ in fields]
    header_len = 32 + 32 * len(fields) + 1
    record_len = 1 + sum(w for _, w in fields)
    out = bytearray(struct.pack("<BBBBIHH20x", 3, 126, 1, 1, len(records), header_len,
                                record_len))
    for name, (_, width) in zip(names, fields):
        out += name.ljust(11, b"\0") + b"C" + b"\0" * 4 + bytes([width, 0]) + b"\0" * 14
    out += b"\r"
    for rec in records:
        out += b" "
        for value, (_, width) in zip(rec, fields):
            raw = value if isinstance(value, bytes) else value.encode(encoding)
            if len(raw) > width:
                raise ValueError(f"{value!r} does not fit {width} bytes")
            out += raw.ljust(width, b" ")
    out += b"\x1a"
    Path(path).write_bytes(bytes(out))


def write_shapefile(directory: Path, gdf: gpd.GeoDataFrame, *, name: str = "towns",
                    encoding: str = "gb18030", cpg: str | None = None,
                    prj: bool = True) -> Path:
    """Shapefile whose DBF text is in ``encoding``; ``cpg`` writes a (maybe wrong) .cpg,
    ``prj=False`` removes the .prj."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    shp = directory / f"{name}.shp"
    import warnings

    with warnings.catch_warnings():  # no CRS on purpose for the no-.prj cases
        warnings.filterwarnings("ignore", message="'crs' was not provided")
        gpd.GeoDataFrame({"id": range(len(gdf))}, geometry=gdf.geometry.values,
                         crs=gdf.crs).to_file(shp, engine="pyogrio")
    cols = [c for c in gdf.columns if c != gdf.geometry.name]
    short = {"town_code": "统计代码", "town": "乡镇", "county_code": "县区代码",
             "county": "所属县区"}
    fields = [(short.get(c, c), 30) for c in cols]
    records = [[("" if v is None else str(v)) for v in row] for row in gdf[cols].itertuples(
        index=False)]
    write_dbf(shp.with_suffix(".dbf"), fields, records, encoding)
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    if cpg is not None:
        shp.with_suffix(".cpg").write_text(cpg)
    if not prj:
        shp.with_suffix(".prj").unlink(missing_ok=True)
    return shp


def gk_shapefile(directory: Path, *, epsg: int = 4547, zone_prefix: int | None = None,
                 swap: bool = False, prj: bool = False, cpg: str | None = None) -> Path:
    """The Lianzhou towns as a GBK/GB18030 shapefile in a Gauss–Krüger projection.

    ``zone_prefix`` adds ``prefix × 10⁶`` to eastings (e.g. 38 for 3° zone 38);
    ``swap`` writes northing as x (survey convention).
    """
    gdf = lianzhou_cells().to_crs(epsg)
    geoms = np.asarray(gdf.geometry.values)
    import shapely

    def shift(coords):
        out = coords.copy()
        if zone_prefix:
            out[:, 0] += zone_prefix * 1e6
        return out[:, ::-1].copy() if swap else out

    gdf = gdf.set_geometry(shapely.transform(geoms, shift))
    if zone_prefix or swap:
        gdf = gdf.set_crs(None, allow_override=True)
    return write_shapefile(directory, gdf, prj=prj and not (zone_prefix or swap), cpg=cpg)


def yearbook_workbook(path: Path) -> Path:
    """A yearbook-style .xlsx: merged title, 单位 line, two-row header with a merged
    group, vertically merged county cells, codes as floats, numbers as text, a total row,
    a sub-item row, traditional characters, a footnote.

    Values: GDP (万元) of town i is 1000 × (i+1) (as in :func:`lianzhou_cells`);
    forest cover 60 + i (%); park flag 是 for even i.
    """
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "乡镇指标"
    ws["A1"] = "连州市各乡镇主要经济指标（2023年）"
    ws.merge_cells("A1:G1")
    ws["A2"] = "单位：万元"
    ws.append(["统计代码", "乡镇", "所属县区", "经济指标", None, "森林覆盖率（%）", "省级以上园区"])
    ws.append([None, None, None, "地区生产总值", "一般公共预算收入", None, None])
    for col in "ABCFG":
        ws.merge_cells(f"{col}3:{col}4")
    ws.merge_cells("D3:E3")
    towns = LIANZHOU + [RARE]
    first = 5
    for i, (code, name) in enumerate(towns):
        shown = "連州鎮" if name == "连州镇" else name
        gdp = 1000 * (i + 1)
        ws.append([float(code), shown, "连州市" if i == 0 else None, f"{gdp:,}",
                   "—" if i == 3 else f"{gdp / 10:.1f}", f"{60 + i}", "是" if i % 2 == 0
                   else "否"])
    last = first + len(towns) - 1
    ws.merge_cells(f"C{first}:C{last}")
    total = sum(1000 * (i + 1) for i in range(len(towns)))
    ws.append([None, "合计", None, f"{total:,}", None, None, None])
    ws.append([None, "其中：工业", None, "12,345", None, None, None])
    ws.append(["注：1. 数据来源于连州市统计局；2. “—”表示无数据。"])
    wb.save(path)
    return path


def twins_table(path: Path, *, with_county: bool) -> Path:
    """CSV (UTF-8 with BOM) naming the Qingyuan twin towns without codes."""
    rows = [{"乡镇": n, **({"所属县区": c} if with_county else {}),
             "地区生产总值（万元）": 100 * (i + 1)}
            for i, (_, n, _, c) in enumerate(QINGYUAN_TWINS)]
    pd.DataFrame(rows).to_csv(path, index=False, encoding="utf-8-sig")
    return path


def twins_boundaries() -> gpd.GeoDataFrame:
    """Boundaries of the four Qingyuan twin towns (squares, WGS84)."""
    return gpd.GeoDataFrame({
        "town_code": [c for c, *_ in QINGYUAN_TWINS], "town": [n for _, n, *_ in QINGYUAN_TWINS],
        "county_code": [cc for *_, cc, _ in QINGYUAN_TWINS],
        "county": [c for *_, c in QINGYUAN_TWINS],
    }, geometry=[box(113 + i * .1, 23.7, 113.1 + i * .1, 23.8) for i in range(4)], crs=4326)


def bowtie() -> Polygon:
    """A self-intersecting 'bow-tie' square (invalid)."""
    return Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])


def yearbook_xls(path: Path) -> Path:
    """A legacy .xls (needs xlwt) with a title, a merged header group and a units row."""
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    ws = book.add_sheet("说明")
    ws.write(0, 0, "本表为示例")
    ws = book.add_sheet("2023")
    ws.write_merge(0, 0, 0, 4, "连州市乡镇指标")
    for c, text in enumerate(["统计代码", "乡镇", "地区生产总值", "常住人口", "接待游客"]):
        ws.write(1, c, text)
    for c, text in enumerate(["", "", "亿元", "人", "万人次"]):
        ws.write(2, c, text)
    for i, (code, name) in enumerate(LIANZHOU[:3]):
        ws.write(3 + i, 0, float(code))
        ws.write(3 + i, 1, name)
        ws.write(3 + i, 2, 1.5 * (i + 1))
        ws.write(3 + i, 3, "1.2万" if i == 0 else 10000 * (i + 1))
        ws.write(3 + i, 4, "…" if i == 2 else 3.5)
    book.save(str(path))
    return path


def zip_like_windows(zpath: Path, members: dict[str, bytes]) -> Path:
    """A zip as Chinese Windows writes it: GBK member names without the UTF-8 flag."""
    import zipfile

    class _GbkInfo(zipfile.ZipInfo):
        def _encodeFilenameFlags(self):  # zipfile would write UTF-8 and set the flag
            return self.filename.encode("gbk"), self.flag_bits

    with zipfile.ZipFile(zpath, "w") as zf:
        for name, data in members.items():
            zf.writestr(_GbkInfo(name), data)
    return zpath
