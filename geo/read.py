"""Read town boundaries from the files planners have, with a report of every decision.

Shapefile, GeoPackage, GeoJSON and KML become EPSG:4326 town polygons with canonical key
columns; features not returned (no geometry, dissolved parts) are in ``report.set_aside``.

Legal caveat: converting GCJ-02 / BD-09 coordinates to WGS84, and publishing precise WGS84
maps, may be restricted in mainland China (Surveying and Mapping Law); check the rules
that apply to you before publishing.
"""

from __future__ import annotations

import re
import tempfile
import warnings
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import shapely

from geo.codes import TOWN_KEYS, UnitKeys, check_code_type, division_name, read_codes
from geo.crs import region_of_codes, resolve_crs, transformation_note, _to_lonlat_bounds
from geo.datum import DATUMS, convert_geoseries
from geo.encoding import check_text, dbf_encoding, normalise_encoding_name, trim_truncated
from geo.errors import DatumWarning, InputError, InputWarning
from geo.geometry import (areas_km2, dissolve_by_code, drop_zm, gaps_and_overlaps, label_points,
                          repair)
from geo.names import normalise_name
from geo.shapefile import check_shapefile, sidecar
from geo.tables import _pick_name, check_file, find_key_columns

__all__ = ["BoundaryReport", "read_boundaries", "boundary_key_columns", "BOUNDARY_KEYS",
           "SET_ASIDE_COLUMNS"]

#: Field names of boundary files recognised as keys (besides :data:`geo.tables.KEY_HEADERS`):
#: XZQDM/XZQMC are the 行政区代码/名称 fields of land-survey (三调) data.
#: The 3-character forms are Chinese headers cut by the DBF's 10-byte field names in UTF-8
#: (统计代码 → 统计代, 所属县区 → 所属县, 县区代码 → 县区代).
BOUNDARY_KEYS: dict[str, tuple[str, ...]] = {
    "code": ("town_code", "xzqdm", "xzdm", "xzqhdm", "tjdm", "adcode", "code", "towncode",
             "统计代", "乡镇代", "镇街代"),
    "name": ("town", "xzqmc", "xzmc", "xzqhmc", "name", "town_name", "townname", "名字"),
    "county": ("county", "qxmc", "xmc", "xzq", "county_name", "所属县"),
    "county_code": ("county_code", "qxdm", "xdm", "县区代", "所属县区代"),
}
_SUFFIXES = {".shp": "ESRI Shapefile", ".gpkg": "GPKG", ".geojson": "GeoJSON",
             ".json": "GeoJSON", ".kml": "KML", ".kmz": "LIBKML"}
_SHIFTED_HINTS = re.compile(r"高德|amap|gaode|autonavi|百度|baidu|bmap|datav|腾讯|tencent|gcj",
                            re.IGNORECASE)


@dataclass
class BoundaryReport:
    """Everything :func:`read_boundaries` decided and found."""

    path: str
    layer: str | None = None
    driver: str | None = None
    encoding: str | None = None
    encoding_reason: str = ""
    crs: str | None = None
    crs_source: str = ""
    swapped: bool = False
    transformation: str = ""
    accuracy: str = ""
    datum: str = "wgs84"
    n_read: int = 0
    n_features: int = 0
    keys: dict = field(default_factory=dict)
    messages: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    #: Features read but not returned as towns, one dict each (:data:`SET_ASIDE_COLUMNS`):
    #: ``kind`` ``no_geometry`` (null/empty geometry) or ``part`` (dissolved ``into``).
    set_aside: list = field(default_factory=list)
    geometry_log: pd.DataFrame = field(default_factory=pd.DataFrame)
    gaps_overlaps: pd.DataFrame = field(default_factory=pd.DataFrame)

    def to_dict(self) -> dict:
        """JSON-ready summary (for ``run.json``); tables summarised."""
        out = {k: v for k, v in asdict(self).items()
               if k not in ("geometry_log", "gaps_overlaps")}
        log = self.geometry_log
        out["repaired"] = int((~log["valid_before"]).sum()) if len(log) else 0
        out["repair_problems"] = int(log["problem"].sum()) if len(log) else 0
        go = self.gaps_overlaps
        for kind in ("overlap", "gap"):
            part = go[go["kind"] == kind] if len(go) else go
            out[f"{kind}s"] = int(len(part))
            out[f"{kind}_area_km2"] = float(part["area_km2"].sum()) if len(part) else 0.0
        return out


def boundary_key_columns(columns, unit: UnitKeys = TOWN_KEYS) -> dict:
    """``{"code", "name", "county", "county_code"}`` → column name or None.

    ``unit`` (another level's keys, :class:`geo.codes.UnitKeys`): its header texts are
    tried first; with ``only_headers`` no town field name is tried.
    """
    roles = ("code", "name", "county", "county_code")
    if unit.only_headers:
        found = dict.fromkeys(roles)
        aliases = {k: {str(n).lower() for n in v} for k, v in unit.headers.items()}
    else:
        found, aliases = find_key_columns(list(columns)), BOUNDARY_KEYS
    for key, names in aliases.items():
        if found.get(key) is None:
            found[key] = next((c for c in columns if str(c).strip().lower() in names
                               and c not in found.values()), None)
    return {k: found.get(k) for k in roles}


def _choose_layer(path: Path, layer, report: BoundaryReport):
    try:
        layers = pyogrio.list_layers(path)
    except Exception as exc:  # pyogrio.errors.DataSourceError and friends
        raise InputError(f"边界文件无法打开（cannot open as a boundary file: {exc}）; "
                         "expected Shapefile, GeoPackage, GeoJSON or KML — if it is one, it "
                         "is damaged or cut short: copy it again from its source",
                         path=path) from None
    names = [str(n) for n, _ in layers]
    if layer is not None:
        return _pick_name(path, names, layer, "layer")
    if len(names) <= 1:
        return names[0] if names else None
    polygonal = [str(n) for n, g in layers if g and "polygon" in str(g).lower()]
    if len(polygonal) == 1:
        others = [n for n in names if n != polygonal[0]]
        report.messages.append(f"{len(names)} layers; used the only polygon layer "
                               f"{polygonal[0]!r} (others: {others})")
        return polygonal[0]
    raise InputError(f"the file has {len(names)} layers ({', '.join(names)}) and "
                     f"{len(polygonal) or 'no'} of them hold polygons; choose one with "
                     "--layer NAME", path=path)


def _read_raw(path: Path, layer, encoding: str, report: BoundaryReport, types):
    driver = _SUFFIXES.get(path.suffix.lower())
    report.driver = driver
    if path.suffix.lower() == ".shp":
        missing = [s for s in (".shx", ".dbf") if sidecar(path, s) is None]
        if missing:
            raise InputError(f"the shapefile's {' and '.join(missing)} file is missing (it "
                             "holds the attributes/index); copy it next to the .shp",
                             path=path)
        guess = dbf_encoding(path, override=encoding)
        report.encoding, report.encoding_reason = guess.encoding, guess.reason
        if guess.warning:
            report.problems.append(guess.warning)
            warnings.warn(f"{guess.warning} — {path}", InputWarning, stacklevel=3)
        # Read bytes as Latin-1 (a lossless byte↔char map in GDAL without iconv) and
        # decode ourselves, so GB18030 rarities such as 㮾 survive.
        gdf = _pyogrio_read(path, layer, "latin1")
        _check_shapes(gdf, types, path)
        gdf = _redecode(gdf, guess.encoding, path, report.problems)
    else:
        enc = None if encoding == "auto" else normalise_encoding_name(encoding)
        gdf = _pyogrio_read(path, layer, enc)
        report.encoding = enc or "utf-8"
        report.encoding_reason = ("given with --boundary-encoding" if enc else
                                  f"{driver or 'this format'} stores text as UTF-8")
    report.messages.append(f"边界文件编码（encoding）：{report.encoding}（{report.encoding_reason}）")
    check_text([str(c) for c in gdf.columns], path=path, what="field name",
               flag="--boundary-encoding")
    for col in gdf.columns:
        if col != gdf.geometry.name and gdf[col].dtype.kind in "OUT":
            check_text(gdf[col].tolist(), path=path, column=col, flag="--boundary-encoding")
    return gdf


def _check_shapes(gdf, types: np.ndarray, path: Path) -> None:
    """GDAL's features against the shapes the .shp holds (:func:`check_shapefile`)."""
    if not len(types):
        return
    if len(gdf) != len(types):
        raise InputError(f"记录数不一致（record counts disagree）: the .shp holds "
                         f"{len(types):,} shapes but {len(gdf):,} features were read; copy "
                         "the shapefile again from its source", path=path)
    lost = np.flatnonzero(np.asarray(gdf.geometry.isna()) & (types != 0))
    if len(lost):
        raise InputError(
            f"几何无法读取（unreadable geometry）: feature(s) "
            f"{', '.join(map(str, lost[:10].tolist()))}"
            f"{' …' if len(lost) > 10 else ''} ({len(lost)} of {len(types)}) hold shapes "
            "that cannot be read — the .shp is damaged; copy it again from its source or "
            "repair it in a GIS (e.g. QGIS: Vector › Geometry Tools › Check Validity)",
            path=path)


def _pyogrio_read(path: Path, layer, encoding):
    try:
        return pyogrio.read_dataframe(path, layer=layer, encoding=encoding)
    except Exception as exc:  # pyogrio's DataSourceError, DataLayerError, GDAL errors
        raise InputError(f"边界文件无法读取（cannot read the boundary file: {exc}）; it may "
                         "be damaged or cut short — copy it again from its source",
                         path=path) from None


def _redecode(gdf, encoding: str, path: Path, problems: list):
    cut_values: list[str] = []

    def fix(value):
        if not isinstance(value, str):
            return value
        raw = value.encode("latin1")
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            cut = trim_truncated(raw, encoding, width=len(raw))  # value cut at field width
            try:
                text = cut.decode(encoding)
            except UnicodeDecodeError:
                raise InputError(f"text {value!r} cannot be decoded as {encoding}; give the "
                                 "encoding with --boundary-encoding", path=path) from None
            cut_values.append(text)
            return text

    def fix_name(name: str) -> str:
        raw = name.encode("latin1")
        return fix(trim_truncated(raw, encoding).decode("latin1"))

    geom = gdf.geometry.name
    out = gdf.rename(columns={c: fix_name(c) for c in gdf.columns if c != geom})
    for col in out.columns:
        if col != geom and (out[col].dtype == object or pd.api.types.is_string_dtype(out[col])):
            out[col] = pd.Series([fix(v) for v in out[col]], index=out.index, dtype=object)
    if cut_values:
        problems.append(f"{len(cut_values)} text value(s) were cut by the DBF field width in "
                        f"the middle of a character (e.g. {cut_values[0]!r}); the half "
                        "character was dropped — widen the field in the source file")
    return out


def _canonical_keys(gdf, path: Path, report: BoundaryReport, unit: UnitKeys = TOWN_KEYS):
    keys = boundary_key_columns([c for c in gdf.columns if c != gdf.geometry.name], unit)
    report.keys = dict(keys)
    out = gdf.copy()
    canon = {"code": "town_code", "name": "town", "county": "county",
             "county_code": "county_code"}
    notes = [""] * len(out)
    for key, col in keys.items():
        if col is None:
            continue
        values = out[col].tolist()
        if key == "code":
            values = _boundary_codes(values, path, col, report, notes, unit.digits)
        else:
            values = [None if not isinstance(v, str) and pd.isna(v) or str(v).strip() == ""
                      else str(v).strip() for v in values]
        if col != canon[key]:
            out = out.drop(columns=[col])
        out[canon[key]] = pd.Series(values, index=out.index, dtype=object)
    if keys["code"] is None and keys["name"] is None:
        fields = [c for c in gdf.columns if c not in (gdf.geometry.name, "boundary_feature")]
        if unit.only_headers:
            raise InputError(f"no {unit.digits}-digit unit code or unit name field among "
                             f"{fields}; rename one to {unit.headers['code'][0]} or "
                             f"{unit.headers['name'][0]} (or give --level)", path=path)
        hint = ""
        if {"county_code", "county"} & set(fields):
            hint = " — a county-level file? run with --level county"
        raise InputError(f"no town code or town name field among {fields}; rename one to "
                         f"town_code / 统计代码 or town / 乡镇{hint}", path=path)
    parent = unit.ancestors[0]
    if "town_code" in out.columns and "county_code" not in out.columns:
        out["county_code"] = pd.Series([c[:parent] if c else None for c in out["town_code"]],
                                       index=out.index, dtype=object)
    if "county_code" in out.columns:
        filled = [n if isinstance(n, str) and n
                  else division_name(c[:parent]) if isinstance(c, str) else None for n, c in zip(
            out["county"] if "county" in out.columns else [None] * len(out), out["county_code"])]
        if any(filled) and ("county" not in out.columns or out["county"].isna().any()):
            report.messages.append("county names filled from the county codes")
        out["county"] = pd.Series(filled, index=out.index, dtype=object)
    _check_types(out, report)
    out["boundary_note"] = pd.Series(notes, index=out.index, dtype=object)
    first = [c for c in ("town_code", "town", "county_code", "county") if c in out.columns]
    rest = [c for c in out.columns if c not in first]
    return out[first + rest]


def _check_types(gdf, report: BoundaryReport) -> None:
    if "town_code" in gdf.columns and "town" in gdf.columns:
        report.problems.extend(
            f"feature {i}: {problem}" for i, (code, name) in enumerate(zip(gdf["town_code"],
                                                                          gdf["town"]))
            if (problem := check_code_type(code, name)))


def _boundary_codes(values, path, col, report, notes, digits: int):
    out, problems = read_codes(values, digits)
    bad = [f"feature {i}: {why}" for i, why in problems.items()]
    for i, why in problems.items():
        notes[i] = f"统计代码无效（invalid code）: {why}; the code was not used"
    blank = [i for i, code in enumerate(out) if code is None and i not in problems]
    for i in blank:
        notes[i] = "要素无统计代码（feature has no code）"
    if blank and len(blank) < len(values):
        report.problems.append(f"{len(blank)} feature(s) without a code in {col!r}; they can "
                               "join by name only")
    if bad and len(bad) == len(values):
        raise InputError(f"field {col!r} holds no usable town codes ({bad[0]}); join by name "
                         "with --join-on name or fix the field", path=path, column=col)
    if bad:
        report.problems.append(f"{len(bad)} feature(s) with unusable codes in {col!r}: "
                               + "; ".join(bad[:5]))
    return out


def _to_wgs84(gdf, path: Path, crs, datum: str, report: BoundaryReport):
    bounds = tuple(float(v) for v in gdf.total_bounds)
    codes = gdf["town_code"].tolist() if "town_code" in gdf.columns else []
    region, region_name = region_of_codes(codes)
    decision = resolve_crs(gdf.crs, bounds, crs=crs, region=region,
                           region_name=region_name, path=path)
    report.crs, report.crs_source, report.swapped = (decision.crs.to_string(),
                                                     decision.source, decision.swapped)
    report.messages.append(f"坐标参照系（CRS）：{decision.message.removeprefix('CRS ')}")
    if "WARNING" in decision.message:
        report.problems.append(decision.message)
    out = gdf.copy()
    if decision.swapped:
        out[out.geometry.name] = shapely.transform(np.asarray(out.geometry.values),
                                                   lambda xy: xy[:, ::-1].copy())
    out = out.set_crs(decision.crs, allow_override=True)
    b = out.total_bounds
    desc, acc = transformation_note(decision.crs, _to_lonlat_bounds(decision.crs, tuple(b)))
    report.transformation, report.accuracy = desc, acc
    if desc != "none":
        report.messages.append(f"transformed to EPSG:4326 ({acc})")
    out = out.to_crs(4326)
    return _apply_datum(out, gdf, path, datum, report)


def _apply_datum(out, original, path: Path, datum: str, report: BoundaryReport):
    key = str(datum).strip().lower().replace("-", "").replace("_", "")
    if key not in DATUMS:
        raise InputError(f"unknown datum {datum!r}; use one of {', '.join(DATUMS)} (--datum)")
    report.datum = key
    if key != "wgs84":
        report.messages.append(
            f"坐标已由 {key.upper()} 转换为 WGS84（coordinates shifted from "
            f"{DATUMS[key].description} to WGS84; iterative inverse, round trip < 1 mm）；"
            "注意：在中国大陆转换为 WGS84 可能受限，发布前请核实（converting to WGS84 may be "
            "restricted in mainland China; check before publishing）")
        return convert_geoseries(out, key, "wgs84")
    hint = _shifted_hint(original, path)
    if hint:
        msg = (f"坐标可能为偏移坐标系（coordinates may be shifted）: {hint}; the coordinates "
               "may be in GCJ-02 (Amap/Gaode, DataV, Tencent) or BD-09 (Baidu), a few hundred "
               "metres off WGS84; if so give --datum gcj02 or --datum bd09")
        report.problems.append(msg)
        warnings.warn(f"{msg} — {path}", DatumWarning, stacklevel=4)
    return out


def _shifted_hint(gdf, path: Path) -> str | None:
    cols = {str(c).lower() for c in gdf.columns}
    if {"adcode", "childrennum"} <= cols or ("adcode" in cols and "parent" in cols):
        return "the properties adcode/childrenNum are those of Aliyun DataV (GCJ-02)"
    if _SHIFTED_HINTS.search(path.name):
        return f"the file name {path.name!r} suggests a Chinese web-map source"
    for col in gdf.columns:
        if col == gdf.geometry.name or gdf[col].dtype.kind not in "OUT":
            continue
        for v in gdf[col].head(200):
            if isinstance(v, str) and _SHIFTED_HINTS.search(v):
                return f"field {col!r} mentions {_SHIFTED_HINTS.search(v).group(0)!r}"
    return None


def _geometry_steps(gdf, report: BoundaryReport):
    geoms, n_z = drop_zm(np.asarray(gdf.geometry.values))
    out = gdf.copy()
    out[gdf.geometry.name] = geoms
    if n_z:
        report.messages.append(f"Z/M values dropped from {n_z} feature(s)")
    kinds = set(out.geom_type)
    if not kinds <= {"Polygon", "MultiPolygon"}:
        raise InputError(f"the layer holds {', '.join(sorted(kinds))} geometries; town "
                         "boundaries must be polygons (choose another layer with --layer)",
                         path=report.path)
    labels = _labels(out)
    out, log = repair(out, labels=labels)
    report.geometry_log = log
    n_fix = int((~log["valid_before"]).sum())
    if n_fix:
        report.messages.append(f"{n_fix} invalid polygon(s) repaired (make_valid)")
    for _, r in log[log["problem"]].iterrows():
        report.problems.append(f"feature {r['feature']} ({r['label']}): repair changed the "
                               f"area by {r['area_change']:+.1%} ({r['reason']})")
    _record_parts(out, report)
    out, msgs = dissolve_by_code(out)
    report.messages.extend(msgs)
    report.problems.extend(m for m in msgs if "split" in m)
    if len(out) == len(log) and bool(log["valid_before"].all()):
        # nothing repaired or dissolved: the areas the repair log measured are the towns'
        out["area_km2"] = log["area_after_km2"].to_numpy()
    else:
        out["area_km2"] = areas_km2(out).to_numpy()
    out[["label_lon", "label_lat"]] = label_points(out).to_numpy()
    go = gaps_and_overlaps(out, labels=_labels(out))
    report.gaps_overlaps = go
    for kind in ("overlap", "gap"):
        part = go[go["kind"] == kind]
        if len(part):
            what = "重叠" if kind == "overlap" else "空隙"
            report.problems.append(
                f"镇街之间有 {len(part)} 处{what}，共 {part['area_km2'].sum():.3f} km²"
                f"（{len(part)} {kind}(s) between towns, {part['area_km2'].sum():.3f} km² in "
                f"all）；最大 {part['area_km2'].max():.3f} km²，在 "
                f"{part.iloc[part['area_km2'].argmax()]['features']}（largest）；未修改（not "
                f"changed）")
    return out


#: Columns of :attr:`BoundaryReport.set_aside` (and of ``gdf.attrs["set_aside"]``).
SET_ASIDE_COLUMNS = ["boundary_feature", "town_code", "town", "county_code", "county", "kind",
                     "into", "reason"]


def _set_aside(gdf, rows, kind: str, reason, into=None) -> list[dict]:
    """Records of features that are not towns of the result (``kind`` ``no_geometry`` or
    ``part``), for the join report; ``reason`` is a str or one per row."""
    out = []
    for k, p in enumerate(rows):
        rec = {c: (gdf[c].iat[p] if c in gdf.columns else None) for c in SET_ASIDE_COLUMNS[:5]}
        rec = {c: (None if not isinstance(v, str) and pd.isna(v) else v)
               for c, v in rec.items()}
        rec["boundary_feature"] = int(rec["boundary_feature"])
        rec.update(kind=kind, into=None if into is None else int(into[k]),
                   reason=reason if isinstance(reason, str) else reason[k])
        out.append(rec)
    return out


def _drop_empty(gdf, report: BoundaryReport):
    """Features with a null or empty geometry are set aside (and reported), not towns."""
    missing = (gdf.geometry.isna() | gdf.geometry.is_empty).to_numpy()
    if not missing.any():
        return gdf
    idx = np.flatnonzero(missing)
    report.set_aside.extend(_set_aside(
        gdf, idx, "no_geometry", "边界要素无几何（boundary feature has no geometry: null or "
        "empty）; draw or restore its polygon in the boundary file"))
    labels = _labels(gdf)
    report.problems.append(
        f"{len(idx)} feature(s) without geometry set aside (in join_report.csv): "
        + ", ".join(f"{p} ({labels[p]})" for p in idx[:12]) + (" …" if len(idx) > 12 else ""))
    if missing.all():
        raise InputError("no feature has a geometry (all are null or empty); check the file "
                         "in a GIS", path=report.path)
    return gdf[~missing].reset_index(drop=True)


def _record_parts(gdf, report: BoundaryReport) -> None:
    """Features that :func:`geo.geometry.dissolve_by_code` merges into the first of their
    code: recorded so that each one stays accounted for."""
    if "town_code" not in gdf.columns:
        return
    codes = gdf["town_code"]
    dup = (codes.notna() & codes.duplicated(keep="first")).to_numpy()
    if not dup.any():
        return
    first = {c: pos[0] for c, pos in gdf.groupby("town_code", sort=False).indices.items()}
    rows = np.flatnonzero(dup)
    into = [int(gdf["boundary_feature"].iat[first[codes.iat[p]]]) for p in rows]
    report.set_aside.extend(_set_aside(gdf, rows, "part", [
        f"同一镇街的另一部分（part of a multi-part town）, dissolved into feature {i}"
        for i in into], into))


def _code_conflicts(gdf, path: Path, report: BoundaryReport, how: str):
    """Features sharing a code under different names: stop, or keep them apart without
    the code (``how="apart"``).  Same code and name (a town in parts) is left to dissolve."""
    if how not in ("stop", "apart"):
        raise InputError(f"unknown duplicate_codes {how!r}; use 'stop' or 'apart' "
                         "(--duplicate-codes)")
    if "town_code" not in gdf.columns or "town" not in gdf.columns:
        return gdf
    groups = gdf.groupby("town_code", sort=False).indices   # code → positions
    names = gdf["town"].tolist()
    feats = gdf["boundary_feature"].tolist()
    conflicts = {c: pos for c, pos in groups.items() if len(pos) > 1 and len(
        {normalise_name(names[p]) for p in pos if names[p]}) > 1}
    if not conflicts:
        return gdf
    described = [f"code {c}: " + ", ".join(f"feature {feats[p]} {names[p] or '(no name)'}"
                                           for p in pos) for c, pos in conflicts.items()]
    if how == "stop":
        raise InputError(
            f"统计代码重复且名称不同（one code, different town names）: {len(conflicts)} "
            f"code(s) — {'; '.join(described[:5])}{' …' if len(described) > 5 else ''}. "
            "These would be merged into one town; correct the codes in the boundary file, or "
            "keep the features apart with --duplicate-codes apart (each then joins by name)",
            path=path)
    out = gdf.copy()
    codes, notes = out["town_code"].tolist(), out["boundary_note"].tolist()
    for c, pos in conflicts.items():
        for p in pos:
            others = ", ".join(f"feature {feats[q]} {names[q] or ''}".strip()
                               for q in pos if q != p)
            codes[p] = None
            notes[p] = (f"统计代码与其他要素重复且名称不同（code {c} also on {others}, "
                        "with another name）; the code was not used, joined by name")
    out["town_code"] = pd.Series(codes, index=out.index, dtype=object)
    out["boundary_note"] = pd.Series(notes, index=out.index, dtype=object)
    report.problems.append(f"{len(conflicts)} code(s) shared by features with different "
                           f"names kept apart and joined by name: {'; '.join(described[:5])}")
    return out


def _labels(gdf) -> list[str]:
    if "town" in gdf.columns:
        codes = gdf["town_code"] if "town_code" in gdf.columns else [None] * len(gdf)
        return [f"{c or i} {n or ''}".strip() for i, (c, n) in enumerate(zip(codes, gdf["town"]))]
    if "town_code" in gdf.columns:
        return [str(c) for c in gdf["town_code"]]
    return [str(i) for i in range(len(gdf))]


def read_boundaries(path, *, layer=None, encoding: str = "auto", crs="auto",
                    datum: str = "wgs84", duplicate_codes: str = "stop",
                    unit: UnitKeys = TOWN_KEYS):
    """Read town boundaries into EPSG:4326 with a report of every decision.

    Parameters
    ----------
    path : str or Path
        Shapefile (``.shp``), GeoPackage, GeoJSON or KML.
    layer : str or int, optional
        Layer of a multi-layer file (``--layer``); default the only (polygon) layer.
    encoding : str
        Text encoding of the boundary file (``--boundary-encoding``; not the table's
        ``--encoding``): ``"auto"`` detects a shapefile's from the DBF bytes (checked
        against its ``.cpg``).  A given encoding is followed, with an
        :class:`~geo.errors.InputWarning` when the ``.cpg`` names another; it is an error
        when the ``.cpg`` and the DBF bytes agree with each other against it.
    crs : str
        ``"auto"`` (the file's CRS, else inferred) or anything pyproj reads, e.g.
        ``"EPSG:4547"`` (``--crs``).
    datum : {"wgs84", "gcj02", "bd09"}
        Datum of lon/lat coordinates (``--datum``); shifted datums are converted.
    duplicate_codes : {"stop", "apart"}
        Features sharing a town code under different names: stop with an
        :class:`~geo.errors.InputError` naming them (default), or keep them apart without
        the code, each joined by name (``--duplicate-codes apart``).  Features sharing
        a code and a name are parts of one town and are dissolved.
    unit : geo.codes.UnitKeys
        The level of the features (default towns): code length and key field names.
        At every level the unit goes into ``town_code``/``town`` and its parent into
        ``county_code``/``county`` (see :mod:`classify.levels`).

    Returns
    -------
    gdf : GeoDataFrame
        EPSG:4326, one feature per town: ``town_code`` (9-digit str), ``town``,
        ``county_code``, ``county`` (those found; None where unknown), the file's other
        fields, ``boundary_feature`` (0-based position of the feature in the file's
        layer; the first part of a dissolved town), ``boundary_note`` (why a code was not
        used, else ""), ``area_km2``, ``label_lon``, ``label_lat``, geometry.
        ``gdf.attrs["set_aside"]`` lists the features read but not returned (as
        ``report.set_aside``), for :func:`geo.join.join_towns`.
    report : BoundaryReport

    Raises
    ------
    geo.errors.InputError
        Unreadable file, garbled text, unknown or ambiguous CRS, ambiguous layer.
    """
    path = Path(path)
    _check_path(path)
    if path.suffix.lower() == ".zip":
        return _read_zip(path, layer=layer, encoding=encoding, crs=crs, datum=datum,
                         duplicate_codes=duplicate_codes, unit=unit)
    report = BoundaryReport(path=str(path))
    # a shapefile's headers first: GDAL opens a cut or mismatched one without a word
    types = check_shapefile(path) if path.suffix.lower() == ".shp" else None
    report.layer = _choose_layer(path, layer, report)
    with warnings.catch_warnings():
        # GDAL's notes about code pages (we decode the bytes ourselves), not ours
        warnings.filterwarnings("ignore", message=".*(codepage|encoding).*",
                                category=RuntimeWarning)
        gdf = _read_raw(path, report.layer, encoding, report, types)
    report.n_read = len(gdf)
    if not len(gdf):
        raise InputError("the layer has no features", path=path)
    gdf["boundary_feature"] = np.arange(len(gdf))
    gdf = _canonical_keys(gdf, path, report, unit)
    gdf = _code_conflicts(gdf, path, report, duplicate_codes)
    gdf = _drop_empty(gdf, report)
    gdf = _to_wgs84(gdf, path, crs, datum, report)
    gdf = _geometry_steps(gdf, report)
    report.n_features = len(gdf)
    gdf = gdf.reset_index(drop=True)
    gdf.attrs["set_aside"] = [dict(r) for r in report.set_aside]
    return gdf, report


def _check_path(path: Path) -> None:
    if path.is_dir():
        found = sorted(p.name for p in path.iterdir() if p.suffix.lower() in _SUFFIXES)
        raise InputError("这是一个文件夹，不是边界文件（a folder, not a boundary file）; give "
                         "the file itself with --boundaries"
                         + (f" (boundary files in it: {', '.join(found[:8])})" if found else ""),
                         path=path)
    check_file(path, flag="--boundaries")


def _member_name(info) -> str:
    """Zip member name; names zipped on Chinese Windows are GBK without the UTF-8 flag."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("gb18030")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def _read_zip(path: Path, **kwargs):
    """A zipped boundary file: extract to a temporary folder and read the one file in it."""
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            name = _member_name(info)
            if info.is_dir() or ".." in Path(name).parts or Path(name).is_absolute():
                continue
            target = Path(tmp, name)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(info))
        found = sorted(p for p in Path(tmp).rglob("*")
                       if p.suffix.lower() in _SUFFIXES and "__MACOSX" not in p.parts)
        if len(found) != 1:
            listing = ", ".join(str(p.relative_to(tmp)) for p in found) or "none"
            raise InputError(f"the zip archive must hold exactly one boundary file "
                             f"(.shp, .gpkg, .geojson, .kml); found {listing} — unzip it and "
                             "give one file with --boundaries", path=path)
        gdf, report = read_boundaries(found[0], **kwargs)
        member = str(found[0].relative_to(tmp))
    report.path = f"{path}!{member}"
    report.messages.insert(0, f"read {member} from the zip archive")
    return gdf, report
