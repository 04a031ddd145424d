"""The per-town evidence of a run, stored once as tables in the run folder.

``evidence/`` holds Parquet files (pyarrow), one row per town or per table row, keyed by
``_town`` (the town's row position in ``towns.csv``):

* ``towns.parquet`` — the scalar fields of each :class:`~classify.suggest.Suggestion`
  (``extra`` as JSON text), plus ``_sheet`` (the sheet's file name);
* ``strengths``, ``weaknesses``, ``dimensions``, ``category_gaps``, ``declared_failing``,
  ``missing`` ``.parquet`` — the town's tables stacked;
* ``benchmarks.parquet`` (``_kind``: benchmarks or challengers, ``_k`` their order) and
  ``benchmark_gaps.parquet`` (``_bench``: row of ``benchmarks.parquet``);
* ``meta.json`` — what every town shares (category and field labels, columns kept as JSON).

``towntype sheets RUN_DIR`` makes sheets from these (:func:`load_evidence`), no re-run.
"""

from __future__ import annotations

import functools
import json
import math
from operator import attrgetter
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from classify.suggest import GAP_COLUMNS, Benchmark, Part, Stack, Suggestion, stacked
from geo.errors import InputError, TowntypeError

__all__ = ["EVIDENCE", "TABLES", "save_evidence", "load_evidence", "evidence_towns"]

EVIDENCE = "evidence"
#: The table fields of a Suggestion, one Parquet file each.
TABLES = ("strengths", "weaknesses", "dimensions", "category_gaps", "declared_failing",
          "missing")
_SCALARS = ("town_code", "town", "county", "city", "target", "category", "subtype",
            "confidence", "runner_up", "composite", "rank", "n_towns", "focus", "is_leader",
            "declared", "declared_target", "declared_status", "lang")
_BENCH = ("town_code", "town", "county", "target", "focus", "focus_this", "focus_other",
          "distance", "same_county", "same_city", "index", "sheet")
_BENCH_TEXT = ("town_code", "town", "county", "target", "focus", "sheet")
_NUMBERS = ("confidence", "composite", "rank")      # NaN when missing
_SHARED_EXTRA = ("field_labels",)
#: The columns the other tables must have (those of ``TABLES``: meta.json ``columns``).
_COLUMNS = {"towns": _SCALARS + ("secondary", "roles", "extra", "_sheet"),
            "benchmarks": _BENCH + ("_kind", "_k"), "benchmark_gaps": tuple(GAP_COLUMNS)}
#: Rows per Parquet row group: the files are in town order, so reading one county's
#: towns reads one or two groups a file, not the whole file.
ROW_GROUP = 16_384


def _plain(v):
    """A value JSON can hold (numpy scalars and arrays as Python ones)."""
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (np.ndarray, tuple, set)):
        return list(v)
    return str(v)


def _json(v) -> str:
    return json.dumps(v, ensure_ascii=False, default=_plain)


def _arrow_column(values, col: str, name: str, as_json: dict) -> pa.Array:
    """``values`` as a column Parquet can type: text, numbers, booleans as they are (NaN
    and None: missing); mixed values and lists as JSON text, named in ``as_json[name]``."""
    try:
        arr = pa.array(values, from_pandas=True)
        if not pa.types.is_nested(arr.type):
            return arr
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    as_json.setdefault(name, []).append(col)
    return pa.array([_json(v) for v in values], type=pa.string())


def _restore(df: pd.DataFrame, name: str, meta: dict) -> pd.DataFrame:
    for col in meta["json"].get(name, []):
        if col in df.columns:
            df[col] = [json.loads(v) if isinstance(v, str) else v for v in df[col]]
    return df


def _untyped(cols: dict) -> dict:
    """Columns of a per-town table as Python values would type them: a number column
    with no value has no type (Parquet ``null``), as has every column of no rows."""
    return {c: [] if not len(v) else
            pa.nulls(len(v)) if v.dtype.kind == "f" and np.isnan(v).all() else v
            for c, v in cols.items()}


def save_evidence(suggestions: Sequence[Suggestion], run_dir: str | Path,
                  sheets: Sequence[str]) -> list[Path]:
    """Write ``run_dir/evidence/*.parquet`` and ``meta.json`` (see the module text);
    ``sheets`` are the towns' sheet file names.  Returns the paths written."""
    folder = Path(run_dir) / EVIDENCE
    folder.mkdir(parents=True, exist_ok=True)
    meta: dict = {"version": 1, "json": {}, "columns": {},
                  "labels": suggestions[0].labels if suggestions else {},
                  "extra": {k: suggestions[0].extra.get(k) for k in _SHARED_EXTRA}
                  if suggestions else {}}
    paths = []

    def put(cols: dict, name: str) -> None:
        path = folder / f"{name}.parquet"
        table = pa.table({c: _arrow_column(v, c, name, meta["json"]) for c, v in cols.items()})
        pq.write_table(table, path, row_group_size=ROW_GROUP)
        paths.append(path)

    towns = {c: list(map(attrgetter(c), suggestions)) for c in _SCALARS}
    for c in ("secondary", "roles"):
        towns[c] = [_json(list(v)) if len(v) else "[]" for v in map(attrgetter(c), suggestions)]
    towns["extra"] = [_json({k: v for k, v in s.extra.items() if k not in _SHARED_EXTRA})
                      for s in suggestions]
    towns["_town"] = np.arange(len(suggestions))
    towns["_sheet"] = list(sheets)
    put(towns, "towns")
    for name in TABLES:
        first = getattr(suggestions[0], name) if suggestions else None
        meta["columns"][name] = list(first.columns) if first is not None else []
        offsets, cols = stacked(suggestions, name)
        if not cols:
            cols = {c: [] for c in meta["columns"][name]}
        cols = _untyped(cols)
        cols["_town"] = np.repeat(np.arange(len(suggestions)), np.diff(offsets))
        put(cols, name)
    rows = [(b, i, kind, k) for i, s in enumerate(suggestions)
            for kind in ("benchmarks", "challengers") for k, b in enumerate(getattr(s, kind))]
    flat, owner, kinds, order = (list(c) for c in zip(*rows)) if rows else ([], [], [], [])
    bench = {c: list(map(attrgetter(c), flat)) for c in _BENCH}
    put({**bench, "_town": np.array(owner, dtype=np.int64), "_kind": kinds,
         "_k": np.array(order, dtype=np.int64)}, "benchmarks")
    offsets, gaps = stacked(flat, "gaps", GAP_COLUMNS)
    gaps["_bench"] = np.repeat(np.arange(len(flat)), np.diff(offsets))
    put(gaps, "benchmark_gaps")
    (folder / "meta.json").write_text(_json(meta), encoding="utf-8")
    paths.append(folder / "meta.json")
    return paths


def _meta(run_dir: Path) -> dict:
    path = run_dir / EVIDENCE / "meta.json"
    if not path.is_file():
        raise InputError(
            f"{run_dir}: 没有逐镇证据表（no per-town evidence: {EVIDENCE}/meta.json）；"
            f"这不是 towntype 运行输出，或由旧版本写出（not a towntype run folder, or "
            f"written by an older version）：run `towntype run … --out {run_dir}` again")
    meta = json.loads(path.read_text(encoding="utf-8"))
    bad = _meta_fault(meta)
    if bad:
        raise InputError(f"逐镇证据表已损坏或不完整（per-town evidence damaged or incomplete: "
                         f"key {bad!r} is missing or of the wrong type）：run `towntype run … "
                         f"--out {run_dir}` again", path=path)
    return meta


def _meta_fault(meta) -> str | None:
    """The first key of ``meta.json`` that is missing or of the wrong type (an edited or
    foreign file), else None."""
    if not isinstance(meta, dict):
        return "(top level)"
    top = next((k for k in ("json", "columns", "labels") if not isinstance(meta.get(k), dict)),
               None) or ("extra" if not isinstance(meta.get("extra", {}), dict) else None)
    if top:
        return top
    keys = [(f"columns.{t}", meta["columns"].get(t), list) for t in TABLES] + \
        [(f"json.{t}", v, list) for t, v in meta["json"].items()] + \
        [(f"labels.{c}", v, dict) for c, v in meta["labels"].items()] + \
        [(f"extra.{k}", meta.get("extra", {}).get(k), (dict, type(None)))
         for k in _SHARED_EXTRA]
    return next((key for key, value, kind in keys if not isinstance(value, kind)), None)


def _readable(func):
    """``func`` reading a finished run's evidence: a damaged or partial ``evidence/``
    folder is the user's to fix (an InputError), not a defect."""
    @functools.wraps(func)
    def read(run_dir, *args, **kwargs):
        try:
            return func(run_dir, *args, **kwargs)
        except TowntypeError:
            raise
        except (OSError, ValueError, KeyError, TypeError, pa.ArrowException) as err:
            raise InputError(
                f"逐镇证据表已损坏或不完整（per-town evidence damaged or incomplete: "
                f"{type(err).__name__}: {err}）：run `towntype run … --out {run_dir}` again",
                path=Path(run_dir) / EVIDENCE) from None
    return read


@_readable
def evidence_towns(run_dir: str | Path) -> pd.DataFrame:
    """``_town, town_code, town, county, category, confidence, _sheet`` of every town of
    a finished run (for choosing towns and for the index page)."""
    run_dir = Path(run_dir)
    _meta(run_dir)
    return pq.read_table(run_dir / EVIDENCE / "towns.parquet",
                         columns=["_town", "town_code", "town", "county", "city", "category",
                                  "subtype", "target", "confidence", "_sheet"]).to_pandas()


def _rows_of(path: Path, key: str, wanted: list[int] | None, needed=()) -> pa.Table:
    """The rows of ``path`` whose ``key`` is in ``wanted`` (sorted; all when ``None``),
    from only the row groups that may hold them (faster than ``read_table(filters=…)``).
    ``needed``: the columns it must have besides ``key``."""
    pf = pq.ParquetFile(path)
    absent = [c for c in (*needed, key) if c not in pf.schema_arrow.names]
    if absent:      # another table in its place, or a table of another version
        raise InputError(f"逐镇证据表缺列（per-town evidence table lacks column "
                         f"{', '.join(map(str, absent))}）：run `towntype run … --out "
                         f"{path.parent.parent}` again", path=path, column=absent[0])
    if wanted is None:
        return pf.read()
    want = np.asarray(wanted)
    j = pf.schema_arrow.get_field_index(key)
    groups = []
    for g in range(pf.metadata.num_row_groups):
        st = pf.metadata.row_group(g).column(j).statistics
        if st is None or not st.has_min_max or \
                np.searchsorted(want, st.min) < np.searchsorted(want, st.max, side="right"):
            groups.append(g)
    table = pf.read_row_groups(groups) if groups else pf.schema_arrow.empty_table()
    if not table.num_rows:      # also: an empty table's key may have no type
        return table
    return table.filter(pc.is_in(table[key], value_set=pa.array(
        want, type=table.schema.field(key).type)))


def _read(run_dir: Path, name: str, key: str, wanted: list[int], meta: dict) -> pd.DataFrame:
    table = _rows_of(run_dir / EVIDENCE / f"{name}.parquet", key, wanted or None,
                     meta["columns"][name] if name in TABLES else _COLUMNS[name])
    return _restore(table.to_pandas(), name, meta)


@_readable
def load_evidence(run_dir: str | Path, towns: Sequence[int] | None = None
                  ) -> tuple[list[Suggestion], list[str]]:
    """The Suggestions (and sheet names) of ``towns`` (row positions; all when ``None``)
    of the run in ``run_dir``, from its evidence tables, in position order."""
    run_dir = Path(run_dir)
    meta = _meta(run_dir)
    wanted = sorted(int(t) for t in towns) if towns is not None else []
    if towns is not None and not wanted:
        return [], []
    scal = _read(run_dir, "towns", "_town", wanted, meta).sort_values("_town")
    at = scal["_town"].to_numpy(dtype=np.int64)
    tables = {name: _stack(_read(run_dir, name, "_town", wanted, meta), "_town", at,
                           meta["columns"][name]) for name in TABLES}
    bench = _read(run_dir, "benchmarks", "_town", wanted, meta)
    bench["_row"] = bench.index if not wanted else _bench_rows(run_dir, wanted)
    rows = np.sort(bench["_row"].to_numpy(dtype=np.int64))
    gaps = _stack(_rows_of(run_dir / EVIDENCE / "benchmark_gaps.parquet", "_bench",
                           rows.tolist() if wanted else None, _COLUMNS["benchmark_gaps"]
                           ).to_pandas(), "_bench", rows, [])
    shared = meta.get("extra", {})
    out: list[Suggestion] = []
    by_town = {k: g.to_dict("records")
               for k, g in bench.sort_values(["_kind", "_k"]).groupby("_town")}
    for pos, rec in enumerate(scal.to_dict("records")):
        bs: dict[str, list[Benchmark]] = {"benchmarks": [], "challengers": []}
        for b in by_town.get(int(rec["_town"]), []):
            bs[b["_kind"]].append(Benchmark(
                **{c: _none(b[c]) if c in _BENCH_TEXT else b[c] for c in _BENCH if c != "index"},
                gaps=Part(gaps, int(np.searchsorted(rows, b["_row"]))),
                index=int(b["index"])))
        extra = dict(json.loads(rec["extra"]), **shared)
        out.append(Suggestion(
            **{c: _none(rec[c]) for c in _SCALARS if c not in _NUMBERS + ("n_towns", "is_leader")},
            **{c: _number(rec[c]) for c in _NUMBERS}, n_towns=int(rec["n_towns"]),
            is_leader=bool(rec["is_leader"]), labels=meta["labels"],
            secondary=tuple(json.loads(rec["secondary"])),
            roles=tuple(json.loads(rec["roles"])),
            benchmarks=bs["benchmarks"], challengers=bs["challengers"],
            **{name: Part(tables[name], pos) for name in TABLES}, extra=extra))
    return out, list(scal["_sheet"])


def _stack(df: pd.DataFrame, key: str, owners: np.ndarray, columns: list[str]) -> Stack:
    """The rows of ``df`` (in ``key`` order) as a :class:`Stack` of ``owners`` (sorted
    ``key`` values), ``columns`` first: those of the records the tables were written from."""
    keys = df[key].to_numpy(dtype=np.int64)
    df = df.drop(columns=key)
    names = [c for c in columns if c in df.columns] + \
        [c for c in df.columns if c not in columns]
    sizes = np.searchsorted(keys, owners, "right") - np.searchsorted(keys, owners, "left")
    return Stack.of_lists({c: df[c].tolist() for c in names}, sizes)


def _number(v) -> float:
    """A stored number; NaN for a missing one (Parquet keeps NaN as null: a run with
    ``--draws 0`` has no confidence)."""
    return math.nan if v is None else float(v)


def _none(v):
    """Missing text as ``None`` (Parquet gives NaN for None in some columns)."""
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v


def _bench_rows(run_dir: Path, wanted: list[int]) -> np.ndarray:
    """Row numbers (in ``benchmarks.parquet``) of the benchmarks of ``wanted`` towns."""
    town = pq.read_table(run_dir / EVIDENCE / "benchmarks.parquet", columns=["_town"])["_town"]
    mask = pc.is_in(town, value_set=pa.array(wanted, type=town.type))
    return np.flatnonzero(mask.to_numpy(zero_copy_only=False))
