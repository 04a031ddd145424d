"""Self-assessment evidence (自评分类意见) for every town.

:func:`suggest` turns the classified frame and the rule trace into one :class:`Suggestion`
per town: the suggested category with its confidence and runner-up, strengths and
weaknesses among the town's peers, benchmark towns (对标对象) with gap tables, the gap to
the suggested / declared / nearly reached categories in the indicators' own units, the
check of the declared category, and notes on missing or imputed data.  Everything here is
numbers and ids; wording lives in ``classify/templates`` and rendering in
:mod:`classify.sheets`.

Percentiles follow the taxonomy's convention: ``Series.rank(pct=True) * 100`` with ties
averaged (of five towns the best is P100, the worst P20), after turning "lower is better"
indicators around, so P100 is always the best.  Ranks are 1 = best, ties share the best
rank (``method="min"``).

Scale (40,000 towns): everything shared is computed once — ranks as towns × indicators
matrices, strengths and weaknesses of all towns at once, sorted columns for "value needed
for rank / percentile k", benchmark candidates screened per category with matrix products
and picked for all towns in one sort, the benchmark gap tables ordered at once, the model
searches of all towns on arrays (the scoring model's arithmetic, only the changed columns
normalised again) — and the per-town tables stay records (:class:`Rows`), made on first
use (by the processes writing the sheets), until someone reads them as DataFrames.
Results are those of a plain per-town scan.

The module depends on the scoring and taxonomy objects only through small adapters:
``indicators`` may be an ``IndicatorSystem`` or a mapping ``{id: {"label_zh", "label_en",
"unit", "dimension", "direction"}}``; ``categories`` a ``Taxonomy`` or a palette mapping
``{id: {"zh", "en", "color"}}``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from classify.errors import ConfigError
from classify.scoring import county_key, known

__all__ = [
    "IndicatorInfo",
    "Benchmark",
    "Suggestion",
    "suggest",
    "suggestions_table",
    "records",
    "table_records",
    "table_size",
    "gap_columns",
    "Rows",
    "indicator_table",
    "category_labels",
    "peer_positions",
    "FOCUS_DIMENSION",
    "DERIVED_NUMERATOR",
]

# Which dimension a category is judged on (benchmarks must be ahead on it).
FOCUS_DIMENSION = {
    "strong": "strength",
    "specialised/industrial": "industry",
    "specialised/agricultural": "agriculture",
    "specialised/commercial": "commerce",
    "characteristic/tourism": "tourism",
    "characteristic/ecological": "ecology",
}
# Location quotients move with their numerator when the denominator is held fixed
# ("at the current structure"): needed numerator = current × threshold / current LQ.
DERIVED_NUMERATOR = {
    "lq_industry": "industrial_output",
    "lq_agriculture": "agri_output",
    "lq_commerce": "retail_sales",
    "lq_tourism": "tourism_revenue",
}
# Units counted in whole numbers: a needed value is rounded to the next whole one.
COUNT_UNITS = frozenset({"个", "家", "户", "所", "张", "项", "人"})
DIMENSION_LABELS = {
    "strength": ("综合实力", "strength"),
    "industry": ("工业", "industry"),
    "agriculture": ("农业", "agriculture"),
    "commerce": ("商贸", "commerce"),
    "tourism": ("文旅", "culture & tourism"),
    "ecology": ("生态", "ecology"),
    "centrality": ("中心性", "centrality"),
}
_KEYS = ("town_code", "town")


def records(df: pd.DataFrame) -> list[dict]:
    """``df.to_dict("records")`` without its per-row indexing cost (slow in pandas 3);
    missing values stay NaN / None as stored."""
    cols = list(df.columns)
    if not cols:
        return [{} for _ in range(len(df))]
    data = [df.iloc[:, k].tolist() for k in range(len(cols))]
    return [dict(zip(cols, row)) for row in zip(*data)]


class Rows:
    """A small table kept as records until someone asks for its DataFrame.

    :func:`suggest` makes several tables per town; building them all as DataFrames is
    most of the time of a large run, and the sheets only read them row by row.  ``build``
    makes the DataFrame (exactly as an eager implementation would) on first access;
    ``recs`` may be a function that makes the records on first access (so that the
    processes writing the sheets make them, not :func:`suggest`).
    """

    __slots__ = ("_recs", "_build", "columns", "_size", "source")

    def __init__(self, recs: list[dict] | Callable[[], list[dict]],
                 build: Callable[[], pd.DataFrame] | None = None, *,
                 columns: list[str] | None = None, size: Callable[[], int] | None = None,
                 source: Any = None):
        self._recs, self._build, self.columns, self._size = recs, build, columns, size
        self.source = source  # what the records are made of (see gap_columns)

    def __len__(self) -> int:
        """The number of rows (without making the records when ``size`` can tell)."""
        if callable(self._recs) and self._size is not None:
            return self._size()
        return len(self.recs)

    @property
    def recs(self) -> list[dict]:
        if callable(self._recs):
            self._recs = self._recs()
        return self._recs

    def build(self) -> pd.DataFrame:
        """The DataFrame: ``build()`` when given, else the records under ``columns``."""
        if self._build is not None:
            return self._build()
        return pd.DataFrame(self.recs, columns=self.columns)


class _Table:
    """Data descriptor of a table field: stores a DataFrame or :class:`Rows`, returns a
    DataFrame (built once, then kept)."""

    def __set_name__(self, owner, name):
        self.slot = f"_{name}"

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        value = obj.__dict__[self.slot]
        if isinstance(value, Rows):
            value = obj.__dict__[self.slot] = value.build()
        return value

    def __set__(self, obj, value):
        obj.__dict__[self.slot] = value


def table_records(obj, name: str) -> list[dict]:
    """The rows of table field ``name`` of ``obj`` (a Suggestion or Benchmark) as dicts,
    without building its DataFrame when it was not built yet."""
    value = obj.__dict__.get(f"_{name}")
    if isinstance(value, Rows):
        return value.recs
    return records(getattr(obj, name))


def gap_columns(benchmarks: list["Benchmark"]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The gap tables of ``benchmarks`` stacked, as columns: row offsets (one more than
    benchmarks) and ``indicator, this, other, diff, diff_pct, in_focus, label_zh,
    label_en, unit, dimension`` (numbers as float arrays, the rest object arrays) — the
    values of their records, taken from the arrays the records are made of when they can
    be (without making them)."""
    n = np.array([table_size(b, "gaps") for b in benchmarks], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(n)])
    cols = {c: np.empty(offsets[-1], dtype=float if c in ("this", "other", "diff", "diff_pct")
                        else object) for c in _GAP_TABLE_COLS}
    groups: dict[int, tuple[Any, list[int], list[int]]] = {}
    for pos, b in enumerate(benchmarks):
        value = b.__dict__.get("_gaps")
        source = value.source if isinstance(value, Rows) else None
        if source is not None:
            peers, k = source
            groups.setdefault(id(peers), (peers, [], []))[1].append(k)
            groups[id(peers)][2].append(pos)
            continue
        rows = table_records(b, "gaps")
        for c in _GAP_TABLE_COLS:
            cols[c][offsets[pos]:offsets[pos + 1]] = [r.get(c) for r in rows]
    for peers, ks, where in groups.values():
        got = peers.gap_arrays(ks)
        rows = np.concatenate([np.arange(offsets[p], offsets[p + 1]) for p in where])
        for c in _GAP_TABLE_COLS:
            cols[c][rows] = got[c]
    return offsets, cols


def table_size(obj, name: str) -> int:
    """The number of rows of table field ``name`` of ``obj``, without making them when
    they are not made yet."""
    value = obj.__dict__.get(f"_{name}")
    return len(value) if isinstance(value, Rows) else len(getattr(obj, name))


def _lazy_tables(cls, names):
    for name in names:
        t = _Table()
        t.__set_name__(cls, name)
        setattr(cls, name, t)
    return cls


# ---------------------------------------------------------------------------------------
# adapters
@dataclass(frozen=True)
class IndicatorInfo:
    """What a sheet needs to know about one indicator."""

    id: str
    label_zh: str
    label_en: str
    unit: str = ""
    dimension: str = ""
    direction: int = 1  # +1 higher is better, −1 lower is better

    def label(self, lang: str) -> str:
        return self.label_zh if lang == "zh" else self.label_en


def _get(obj, name, default=None):
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _direction(raw) -> int:
    if raw is None:
        return 1
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return -1 if raw < 0 else 1
    text = str(raw).strip().lower()
    if text in ("-", "−", "–", "lower", "low", "negative", "neg", "-1", "min"):
        return -1
    if text in ("+", "higher", "high", "positive", "pos", "1", "+1", "max", ""):
        return 1
    raise ConfigError(f"direction must be '+' or '-', found {raw!r}", key="direction")


def indicator_table(indicators) -> dict[str, IndicatorInfo]:
    """Normalise an ``IndicatorSystem``, a mapping or a DataFrame to ``{id: IndicatorInfo}``."""
    if indicators is None:
        return {}
    if isinstance(indicators, pd.DataFrame):
        items = [(r["id"], r) for r in records(indicators)]
    elif isinstance(indicators, Mapping):
        items = list(indicators.items())
    else:
        seq = _get(indicators, "indicators", indicators)
        if isinstance(seq, Mapping):
            items = list(seq.items())
        else:
            items = [(_get(i, "id"), i) for i in seq]
        derived = _get(indicators, "derived", None) or ()
        if isinstance(derived, Mapping):
            items += list(derived.items())
        else:
            items += [(_get(d, "id"), d) for d in derived]
    out = {}
    for iid, meta in items:
        if isinstance(meta, IndicatorInfo):
            out[iid] = meta
            continue
        zh = _get(meta, "label_zh") or _get(meta, "zh") or _get(meta, "header") or iid
        out[str(iid)] = IndicatorInfo(
            id=str(iid), label_zh=str(zh),
            label_en=str(_get(meta, "label_en") or _get(meta, "en") or iid),
            unit=str(_get(meta, "unit") or ""),
            dimension=str(_get(meta, "dimension") or ""),
            direction=_direction(_get(meta, "direction")))
    return out


def category_labels(categories) -> dict[str, dict[str, str]]:
    """``{id: {"zh", "en", "color"}}`` from a ``Taxonomy`` (its palette) or a mapping."""
    if categories is None:
        return {}
    if hasattr(categories, "palette"):
        return {k: dict(v) for k, v in categories.palette().items()}
    return {str(k): dict(v) if isinstance(v, Mapping) else {"zh": str(v), "en": str(v)}
            for k, v in categories.items()}


def _dimension_labels(indicators_obj) -> dict[str, tuple[str, str]]:
    labels = dict(DIMENSION_LABELS)
    for d in (_get(indicators_obj, "dimensions", None) or ()) if indicators_obj is not None \
            and not isinstance(indicators_obj, (Mapping, pd.DataFrame)) else ():
        did = _get(d, "id")
        if did:
            labels[did] = (str(_get(d, "label_zh") or _get(d, "zh") or did),
                           str(_get(d, "label_en") or _get(d, "en") or did))
    return labels


# ---------------------------------------------------------------------------------------
# results
@dataclass
class Benchmark:
    """A benchmark town (or, for a category leader, a challenger) and the gaps to it.

    ``gaps`` columns: ``indicator, label_zh, label_en, unit, this, other, diff, diff_pct``
    with ``diff = other − this`` and ``diff_pct = diff / |this| × 100`` (NaN when ``this``
    is 0 or missing).
    """

    town_code: str
    town: str
    county: str
    target: str
    focus: str
    focus_this: float
    focus_other: float
    distance: float
    same_county: bool
    same_city: bool
    gaps: pd.DataFrame
    #: row position of the benchmark town in the frame (codes may be missing or repeated)
    index: int = -1
    #: file name of the benchmark town's sheet (set with the sheets' names)
    sheet: str = ""


_lazy_tables(Benchmark, ("gaps",))


@dataclass
class Suggestion:
    """The evidence for one town's self-assessment sheet (numbers and ids, no wording)."""

    town_code: str
    town: str
    county: str
    city: str
    target: str | None
    category: str | None
    subtype: str | None
    labels: dict[str, dict[str, str]]
    secondary: tuple[str, ...]
    roles: tuple[str, ...]
    confidence: float
    runner_up: str | None
    composite: float
    rank: float
    n_towns: int
    focus: str
    is_leader: bool
    strengths: pd.DataFrame
    weaknesses: pd.DataFrame
    benchmarks: list[Benchmark]
    challengers: list[Benchmark]
    dimensions: pd.DataFrame
    category_gaps: pd.DataFrame
    declared: str | None
    declared_target: str | None
    declared_status: str
    declared_failing: pd.DataFrame
    missing: pd.DataFrame
    lang: str = "zh"
    extra: dict[str, Any] = field(default_factory=dict)

    def label(self, target: str | None, lang: str | None = None) -> str:
        """Label of a target id in ``lang`` (the id itself when unknown)."""
        if not target:
            return ""
        entry = self.labels.get(target, {})
        return entry.get(lang or self.lang, target)


_lazy_tables(Suggestion, ("strengths", "weaknesses", "dimensions", "category_gaps",
                          "declared_failing", "missing"))


def _key_column(frame: pd.DataFrame, code: str, name: str) -> pd.Series:
    """The county (city) of each town: its code, else its name, else unknown ('')."""
    for col in (code, name):
        if col in frame.columns:
            return frame[col]
    return pd.Series([""] * len(frame), index=frame.index)


class _Cols:
    """Float arrays of frame columns, converted once, and sorted copies of them (the
    per-town steps read them often)."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame
        self._cache: dict[str, np.ndarray] = {}
        self.n = len(frame)
        county = county_key(frame)
        if county is None:
            county = pd.Series([""] * len(frame), index=frame.index)
        city = _key_column(frame, "city_code", "city")
        # unknown county / city: '' (never a group of its own)
        self.county = known(county.to_numpy(object)).fillna("").to_numpy(dtype=object)
        self.city = known(city.to_numpy(object)).fillna("").to_numpy(dtype=object)
        self.codes = known(frame["town_code"].to_numpy(object)).fillna("").to_numpy(
            dtype=object)
        self.targets = frame["_target"].to_numpy(dtype=object) if "_target" in frame.columns \
            else np.full(len(frame), None, dtype=object)
        self._pct: dict[str, np.ndarray] = {}
        self._sorted: dict[tuple, np.ndarray] = {}
        self._groups: dict[str, np.ndarray] | None = None

    def pct(self, col: str) -> np.ndarray:
        """Region percentile (ties averaged, 100 = highest) of ``col``; NaN stays NaN."""
        if col not in self._pct:
            self._pct[col] = _percentile(pd.Series(self(col))).to_numpy(dtype=float)
        return self._pct[col]

    def __call__(self, col: str) -> np.ndarray:
        if col not in self._cache:
            self._cache[col] = pd.to_numeric(self.frame[col], errors="coerce") \
                .to_numpy(dtype=float, na_value=np.nan)
        return self._cache[col]

    def sorted(self, col: str, county: str | None = None) -> np.ndarray:
        """Sorted non-missing values of ``col`` over all towns (or those of ``county``)."""
        key = (col, county)
        if key not in self._sorted:
            v = self(col)
            if county is not None:
                if self._groups is None:
                    self._groups = pd.Series(self.county).groupby(self.county).indices
                v = v[self._groups.get(county, [])] if county else v[:0]
            self._sorted[key] = np.sort(v[~np.isnan(v)])
        return self._sorted[key]

    def around(self, col: str, i: int, county: bool = False) -> tuple[np.ndarray, int | None]:
        """``sorted(col)`` of town ``i``'s group and the position of its own value in it
        (``None`` when missing): the other towns are that array without that position."""
        s = self.sorted(col, self.county[i] if county else None)
        v = self(col)[i]
        if math.isnan(v) or (county and not self.county[i]):
            return s, None
        return s, int(np.searchsorted(s, v, side="left"))

    def others(self, col: str, i: int) -> np.ndarray:
        """Sorted non-missing values of ``col`` over the other towns."""
        s, p = self.around(col, i)
        return s if p is None else np.delete(s, p)


# ---------------------------------------------------------------------------------------
# peer positions
def _percentile(values: pd.Series) -> pd.Series:
    return values.rank(pct=True, method="average") * 100


def peer_positions(frame: pd.DataFrame, indicators: Mapping[str, IndicatorInfo],
                   *, county: str = "county_code") -> pd.DataFrame:
    """Rank and percentile of every town on every indicator, region-wide and in its county.

    Returns a long frame ``town_code, indicator, value, rank, n, pct, rank_county,
    n_county, pct_county`` (rank 1 = best after the indicator's direction; pct 100 = best).
    Towns with a missing value get no rank and are not counted in ``n``.
    """
    rows = []
    if county not in frame.columns and county == "county_code" and "county" in frame.columns:
        county = "county"  # no codes: county names group the towns as well
    has_county = county in frame.columns
    # a town of unknown county is in no county group (no rank within the county)
    groups = county_key(frame) if has_county else None
    for iid, info in indicators.items():
        if iid not in frame.columns:
            continue
        v = pd.to_numeric(frame[iid], errors="coerce").astype(float)
        s = v * info.direction
        part = pd.DataFrame({"town_code": known(frame["town_code"].to_numpy(object))
                             .fillna("").to_numpy(object),
                             "indicator": iid, "value": v.to_numpy()})
        part["rank"] = s.rank(ascending=False, method="min").to_numpy()
        part["n"] = int(s.notna().sum())
        part["pct"] = _percentile(s).to_numpy()
        if has_county:
            g = s.groupby(groups.to_numpy(), dropna=True)
            part["rank_county"] = g.rank(ascending=False, method="min").reindex(
                s.index).to_numpy()
            part["n_county"] = g.transform("count").reindex(s.index).fillna(0).to_numpy()
            part["pct_county"] = g.rank(pct=True, method="average").reindex(
                s.index).to_numpy() * 100
        else:
            part["rank_county"] = np.nan
            part["n_county"] = 0
            part["pct_county"] = np.nan
        part.loc[v.isna().to_numpy(), ["rank", "pct", "rank_county", "pct_county"]] = np.nan
        rows.append(part)
    if not rows:
        return pd.DataFrame(columns=["town_code", "indicator", "value", "rank", "n", "pct",
                                     "rank_county", "n_county", "pct_county"])
    return pd.concat(rows, ignore_index=True)


_POS_COLS = ["indicator", "value", "rank", "n", "pct", "rank_county", "n_county",
             "pct_county", "scope", "label_zh", "label_en", "unit", "dimension"]


class _Positions:
    """:func:`peer_positions` as towns × indicators matrices (the same pandas ranks),
    with the strength / weakness masks of every town computed at once."""

    def __init__(self, frame: pd.DataFrame, info: Mapping[str, IndicatorInfo], *,
                 top: float, bottom: float, min_county: int = 3):
        long = peer_positions(frame, info)
        self.ids = list(dict.fromkeys(long["indicator"].tolist()))
        n, m = len(frame), len(self.ids)
        shape = (m, n)  # the long frame is indicator-major
        self.mats = {c: long[c].to_numpy().reshape(shape).T for c in
                     ("value", "rank", "n", "pct", "rank_county", "n_county", "pct_county")}
        pct, pc = self.mats["pct"].astype(float), self.mats["pct_county"].astype(float)
        flag = np.array([info[c].unit in ("是/否", "flag") for c in self.ids], dtype=bool)
        county_ok = (self.mats["n_county"] >= min_county) & ~np.isnan(pc)
        pc = np.where(county_ok, pc, np.nan)
        valid = ~np.isnan(pct) & ~flag
        self.hit = {"best": (valid & (pct >= top), valid & county_ok & (pc >= top)),
                    "worst": (valid & (pct <= bottom), valid & county_ok & (pc <= bottom))}
        with np.errstate(invalid="ignore"):
            # sorted ascending: the best first, then the worst first
            self.key = {"best": -np.fmax(pct, pc), "worst": np.fmin(pct, pc)}
        self.info = info
        self._listed: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}

    def _record(self, i: int, j: int, scope: str) -> dict:
        c = self.ids[j]
        m = self.info[c]
        rec = {k: self.mats[k][i, j].item() for k in self.mats}
        return dict(indicator=c, **rec, scope=scope, label_zh=m.label_zh,
                    label_en=m.label_en, unit=m.unit, dimension=m.dimension)

    def listed(self, kind: str, n_max: int) -> tuple[np.ndarray, np.ndarray]:
        """For every town, the ``n_max`` indicators listed as ``kind`` ("best" or
        "worst"), best (worst) first, ties by id: a (towns × n_max) matrix of indicator
        positions (-1: none) and the number listed per town."""
        if (kind, n_max) not in self._listed:
            hit = self.hit[kind][0] | self.hit[kind][1]
            id_rank = np.argsort(np.argsort(np.array(self.ids, dtype=str), kind="stable"))
            key = np.where(hit, self.key[kind], np.inf)
            order = np.lexsort((np.broadcast_to(id_rank, key.shape), key), axis=-1)
            order = order[:, :n_max]
            count = np.minimum(hit.sum(axis=1), n_max)
            order[np.arange(order.shape[1])[None, :] >= count[:, None]] = -1
            self._listed[(kind, n_max)] = (order, count)
        return self._listed[(kind, n_max)]

    def strengths(self, i: int, n_max: int) -> tuple[Rows, Rows]:
        """Indicators in the top / bottom percentiles of the region or the county.

        A county of fewer than ``min_county`` towns is too small to call anything a
        strength.  Flags are left out: a yes/no shared by many towns says little about
        the town's position.
        """
        out = []
        for kind in ("best", "worst"):
            order, count = self.listed(kind, n_max)
            js = order[i, :count[i]].tolist()

            def recs(js=js, kind=kind):
                hit_r, hit_c = self.hit[kind][0][i], self.hit[kind][1][i]
                return [self._record(i, j, "both" if hit_r[j] and hit_c[j] else
                                     "region" if hit_r[j] else "county") for j in js]

            out.append(Rows(recs, columns=_POS_COLS))
        return out[0], out[1]


def _add_meta(t: pd.DataFrame, info, col: str = "indicator") -> None:
    def get(i, attr, default):
        return getattr(info[i], attr) if isinstance(i, str) and i in info else default

    t["label_zh"] = [get(i, "label_zh", i) for i in t[col]]
    t["label_en"] = [get(i, "label_en", i) for i in t[col]]
    t["unit"] = [get(i, "unit", "") for i in t[col]]
    t["dimension"] = [get(i, "dimension", "") for i in t[col]]


# ---------------------------------------------------------------------------------------
# benchmarks
def _target_of(row) -> str | None:
    cat = row.get("category")
    if cat is None or (isinstance(cat, float) and math.isnan(cat)) or pd.isna(cat) or not cat:
        return None
    sub = row.get("subtype")
    if sub is None or pd.isna(sub) or not str(sub):
        return str(cat)
    return f"{cat}/{sub}"


def _focus_column(target: str | None, frame: pd.DataFrame, focus_map) -> str:
    dim = focus_map.get(target or "", None)
    col = f"score_{dim}" if dim else "composite"
    return col if col in frame.columns else "composite"


def _profile_matrix(frame: pd.DataFrame, info) -> np.ndarray:
    """Indicators as percentile ranks / 100 (robust to the skew of totals)."""
    cols = [i for i in info if i in frame.columns]
    if not cols:
        return np.zeros((len(frame), 0))
    nc = _Cols(frame)
    return np.column_stack([_percentile(pd.Series(nc(c) * info[c].direction)).to_numpy()
                            / 100 for c in cols])


def _distance(m: np.ndarray, i: int, rows: np.ndarray) -> np.ndarray:
    """RMS difference of percentile profiles between town ``i`` and towns ``rows``, over
    indicators both have; ``inf`` when they share none (so such a town sorts last)."""
    return _distances(m, np.full(len(rows), i), np.asarray(rows))


_GAP_TABLE_COLS = ["indicator", "this", "other", "diff", "diff_pct", "in_focus", "label_zh",
                   "label_en", "unit", "dimension"]


def _codes_of(keys: np.ndarray) -> np.ndarray:
    codes = pd.factorize(pd.Series(keys, dtype=object))[0]
    return np.where(keys == "", -1, codes)


class _Peers:
    """What benchmark search and gap tables read, built once: the indicator matrix, the
    towns of each category, code order and per-category medians of the scores."""

    def __init__(self, nc: _Cols, info, prof: np.ndarray):
        self.cols = [c for c in info if c in nc.frame.columns]
        self.meta = [info[c] for c in self.cols]
        self.values = np.column_stack([nc(c) for c in self.cols]) if self.cols else \
            np.zeros((nc.n, 0))
        self.col_order = np.argsort(np.argsort(np.array(self.cols, dtype=str), kind="stable"))
        self.code_rank = np.empty(nc.n, dtype=np.int64)
        self.code_rank[np.argsort(nc.codes.astype(str), kind="stable")] = np.arange(nc.n)
        keys = pd.Series(nc.targets, dtype=object)
        self.members = {t: idx for t, idx in keys.groupby(keys.fillna("\0")).indices.items()
                        if t != "\0"}
        self.town = known(nc.frame["town"].to_numpy(object)).fillna("").tolist()
        self.county = known(nc.frame["county"].to_numpy(object)).fillna("").tolist() \
            if "county" in nc.frame.columns else [""] * nc.n
        # counties and cities as integers (-1 = unknown) for the distance weights
        self.county_id = _codes_of(nc.county)
        self.city_id = _codes_of(nc.city)
        self.ahead: dict[int, np.ndarray] | None = None  # see _screen_ahead
        self.picked: dict[int, tuple[list, list]] | None = None  # see _pick_ahead
        self.prof = prof
        self.lacking = np.isnan(self.values)
        self._median: dict[tuple, float] = {}
        self.dims = np.array([m.dimension for m in self.meta], dtype=object)
        self.score_dims = [c.removeprefix("score_") for c in nc.frame.columns
                           if c.startswith("score_")]
        # dimensions no town has a score for (no indicator of them has data)
        self.dims_empty = {d for d in self.score_dims if np.isnan(nc(f"score_{d}")).all()}
        for d in self.score_dims:  # made here once, not in each process writing sheets
            nc.pct(f"score_{d}")
            for t in self.members:
                self.median(nc, t, f"score_{d}")
        # gap tables asked for (town, other town, focus dimension, rows) and their row
        # order, found for all of them at once (see order_gaps)
        self._gaps: list[tuple[int, int, str, int]] = []
        self._gap_order: list[np.ndarray] = []
        self._meta_arrays: dict[str, np.ndarray] | None = None

    def median(self, nc: _Cols, target, col: str) -> float:
        key = (target, col)
        if key not in self._median:
            v = nc(col)[self.members.get(target, [])] if target else np.array([])
            v = v[~np.isnan(v)]
            self._median[key] = float(np.median(v)) if len(v) else np.nan
        return self._median[key]

    def gap_table(self, i: int, j: int, focus: str, n_rows: int) -> Rows:
        """Indicators of the focus dimension first, then the largest relative differences
        (records made on first use; the order of all tables asked for is found at once)."""
        k = len(self._gaps)
        self._gaps.append((i, j, focus.removeprefix("score_"), n_rows))
        return Rows(lambda: self._gap_recs(k), columns=_GAP_TABLE_COLS,
                    size=lambda: len(self._order_of(k)), source=(self, k))

    def gap_arrays(self, ks: list[int]) -> dict[str, np.ndarray]:
        """Gap tables ``ks`` stacked, as arrays (the numbers of their records)."""
        orders = [self._order_of(k) for k in ks]
        n = np.array([len(o) for o in orders], dtype=np.int64)
        flat = np.concatenate(orders) if orders else np.zeros(0, dtype=np.int64)
        I = np.repeat(np.array([self._gaps[k][0] for k in ks], dtype=np.int64), n)
        J = np.repeat(np.array([self._gaps[k][1] for k in ks], dtype=np.int64), n)
        this, other = self.values[I, flat], self.values[J, flat]
        diff = other - this
        with np.errstate(all="ignore"):
            pct = np.where((this != 0) & ~np.isnan(this), diff / np.abs(this) * 100, np.nan)
        if self._meta_arrays is None:
            self._meta_arrays = {a: np.array([getattr(m, a) for m in self.meta], dtype=object)
                                 for a in ("label_zh", "label_en", "unit", "dimension")}
            self._meta_arrays["indicator"] = np.array(self.cols, dtype=object)
        dims = np.repeat(np.array([self._gaps[k][2] for k in ks], dtype=object), n)
        out = {c: a[flat] for c, a in self._meta_arrays.items()}
        out.update(this=this, other=other, diff=diff, diff_pct=pct,
                   in_focus=out["dimension"] == dims)
        return out

    def order_gaps(self, block: int = 16384) -> None:
        """Row order of every gap table asked for and not yet ordered: all at once."""
        for lo in range(len(self._gap_order), len(self._gaps), block):
            part = self._gaps[lo:lo + block]
            I = np.array([g[0] for g in part], dtype=np.int64)
            J = np.array([g[1] for g in part], dtype=np.int64)
            this, other = self.values[I], self.values[J]
            diff = other - this
            with np.errstate(all="ignore"):
                pct = np.where((this != 0) & ~np.isnan(this), diff / np.abs(this) * 100,
                               np.nan)
            focus_m = self.dims[None, :] == np.array([g[2] for g in part],
                                                     dtype=object)[:, None]
            size = np.where(np.isnan(pct), -1.0, np.abs(pct))
            order = np.lexsort((np.broadcast_to(self.col_order, size.shape), -size,
                                ~focus_m), axis=-1)
            keep = np.maximum(np.array([g[3] for g in part]), focus_m.sum(axis=1)).tolist()
            self._gap_order.extend(order[r, :keep[r]] for r in range(len(part)))

    def _order_of(self, k: int) -> np.ndarray:
        if k >= len(self._gap_order):
            self.order_gaps()
        return self._gap_order[k]

    def _gap_recs(self, k: int) -> list[dict]:
        i, j, dim, _ = self._gaps[k]
        order = self._order_of(k)
        this, other = self.values[i, order], self.values[j, order]
        diff = other - this
        with np.errstate(all="ignore"):
            pct = np.where((this != 0) & ~np.isnan(this), diff / np.abs(this) * 100, np.nan)
        out = []
        for k, t, o, d, p in zip(order.tolist(), this.tolist(), other.tolist(),
                                 diff.tolist(), pct.tolist()):
            m = self.meta[k]
            out.append({"indicator": self.cols[k], "this": t, "other": o, "diff": d,
                        "diff_pct": p, "in_focus": m.dimension == dim,
                        "label_zh": m.label_zh, "label_en": m.label_en, "unit": m.unit,
                        "dimension": m.dimension})
        return out


def _benchmarks(nc: _Cols, peers: _Peers, i: int, target, focus: str, *, n: int,
                n_rows: int, county_weight: float, city_weight: float):
    """Benchmarks: the nearest towns (profile distance, same county / city preferred) of
    the category that are ahead on its focus score; for its leader, the challengers
    nearest by score.  Distances are computed to the candidates only."""
    if target is None:
        return [], [], False
    score, same = nc(focus), peers.members.get(target, np.array([], dtype=np.int64))
    mine = score[i]
    if math.isnan(mine):
        return [], [], False

    def make(js, dist):
        cc, ci = nc.county, nc.city
        return [Benchmark(
            town_code=str(nc.codes[j]), town=peers.town[j], county=peers.county[j],
            index=int(j),
            target=target, focus=focus, focus_this=float(mine), focus_other=float(score[j]),
            distance=float(d), same_county=bool(cc[j] == cc[i] and cc[i] != ""),
            same_city=bool(ci[j] == ci[i] and ci[i] != ""),
            gaps=peers.gap_table(i, j, focus, n_rows)) for j, d in zip(js, dist)]

    if peers.picked is not None and i in peers.picked:  # found for all towns at once
        js, dist = peers.picked[i]
        return make(js, dist), [], False
    ahead = peers.ahead[i] if peers.ahead is not None and i in peers.ahead else \
        same[(same != i) & (score[same] > mine)]
    if len(ahead):
        dist = _distance(peers.prof, i, ahead)
        same_c = (nc.county[ahead] == nc.county[i]) & (nc.county[i] != "")
        same_ci = (nc.city[ahead] == nc.city[i]) & (nc.city[i] != "")
        # Same county counts as closer, then same city: distance × weight.
        eff = dist * np.where(same_c, county_weight, np.where(same_ci, city_weight, 1.0))
        pick = np.lexsort((peers.code_rank[ahead], eff))[:n]
        return make(ahead[pick].tolist(), dist[pick].tolist()), [], False
    if nc.targets[i] != target:  # the town is not in the category it is compared with
        return [], [], False
    # The leader of its category: the nearest challengers by score.
    rest = same[(same != i) & ~np.isnan(score[same])]
    pick = np.lexsort((peers.code_rank[rest], mine - score[rest]))[:n]
    js = rest[pick]
    return [], make(js.tolist(), _distance(peers.prof, i, js).tolist()), True


def _pick_ahead(peers: _Peers, *, n: int, county_weight: float, city_weight: float,
                block: int = 1 << 17) -> dict[int, tuple[list, list]]:
    """The ``n`` benchmarks of every town screened (:func:`_screen_ahead`) and their
    distances, as :func:`_benchmarks` picks them one town at a time: the candidates of all
    towns stacked, their distances and weights in arrays, one sort."""
    towns = list(peers.ahead)
    out: dict[int, tuple[list, list]] = {}
    for lo in range(0, len(towns), max(1, block // 8)):
        part = towns[lo:lo + max(1, block // 8)]
        J = np.concatenate([peers.ahead[i] for i in part])
        I = np.repeat(np.array(part, dtype=np.int64), [len(peers.ahead[i]) for i in part])
        dist = _distances(peers.prof, I, J)
        same_c = (peers.county_id[J] == peers.county_id[I]) & (peers.county_id[I] >= 0)
        same_ci = (peers.city_id[J] == peers.city_id[I]) & (peers.city_id[I] >= 0)
        eff = dist * np.where(same_c, county_weight, np.where(same_ci, city_weight, 1.0))
        order = np.lexsort((peers.code_rank[J], eff, I))
        I, J, dist = I[order], J[order], dist[order]
        starts = np.flatnonzero(np.r_[True, I[1:] != I[:-1]])
        ends = np.r_[starts[1:], len(I)]
        for a, b in zip(starts.tolist(), np.minimum(ends, starts + n).tolist()):
            out[int(I[a])] = (J[a:b].tolist(), dist[a:b].tolist())
    return out


def _distances(m: np.ndarray, I: np.ndarray, J: np.ndarray) -> np.ndarray:
    """:func:`_distance` of towns ``I`` to towns ``J``, pair by pair."""
    if not m.shape[1]:
        return np.zeros(len(I))
    d = (m[J] - m[I]) ** 2
    n = np.sum(~np.isnan(d), axis=1)
    out = np.full(len(I), np.inf)
    ok = n > 0
    out[ok] = np.sqrt(np.nansum(d[ok], axis=1) / n[ok])
    return out


def _screen_ahead(nc: _Cols, peers: _Peers, focus_map, *, n: int, county_weight: float,
                  city_weight: float, block: int = 512) -> dict[int, np.ndarray]:
    """For every town, the towns of its category ahead of it on the focus score that can
    be among its ``n`` nearest (weighted profile distance), found with matrix products.

    The squared distance over shared indicators is expanded into three products
    (Σa²·m_b + Σm_a·b² − 2Σa·b over present values) per block of towns; everything
    within ``tol`` (float32 products) of the ``n``-th smallest weighted distance is
    kept, and the exact
    distances of :func:`_distance` then rank the few kept (so the choice is the same as
    an exact scan of all towns ahead).
    """
    tol = 1e-3 * max(1.0, county_weight, city_weight)
    out: dict[int, np.ndarray] = {}
    for target, members in peers.members.items():
        score = nc(_focus_column(target, nc.frame, focus_map))
        s = score[members]
        keep = members[~np.isnan(s)]
        order = keep[np.argsort(-score[keep], kind="stable")]
        neg = -score[order]
        ahead = np.searchsorted(neg, neg, side="left")  # towns strictly ahead of each
        p = peers.prof[order]
        m = ~np.isnan(p)
        z = np.where(m, p, 0.0)
        mf = m.astype(np.float32)
        # s2 = left @ right.T in one product; float32 (the screen only needs ~1e-3)
        left = np.hstack([z * z, mf, -2 * z]).astype(np.float32)
        right = np.hstack([mf, z * z, z]).astype(np.float32)
        for lo in range(0, len(order), block):
            k = ahead[lo:lo + block]
            kmax = int(k.max()) if len(k) else 0
            if not kmax:
                continue
            rows = slice(lo, lo + block)
            s2 = left[rows] @ right[:kmax].T
            shared = mf[rows] @ mf[:kmax].T
            with np.errstate(all="ignore"):
                np.maximum(s2, 0, out=s2)
                s2 /= shared
                d = np.sqrt(s2, out=s2)
            d[shared == 0] = np.inf
            _apply_weights(d, peers, order[rows], order[:kmax], county_weight, city_weight)
            # towns beyond a town's own ahead count are not its candidates
            mine = np.arange(kmax)[None, :] < k[:, None]
            d[~mine] = np.inf
            m = min(n, kmax)
            # the n-th smallest distance of each town (or its k-th, when fewer are ahead)
            kth = np.partition(d, np.arange(m), axis=1)[np.arange(len(k)),
                                                         np.clip(np.minimum(n, k) - 1, 0, m - 1)]
            keep = mine & (d <= (kth + np.float32(tol))[:, None])
            rr, cc = np.nonzero(keep)
            cut = np.searchsorted(rr, np.arange(len(k) + 1))
            for r, i in enumerate(order[rows].tolist()):
                if k[r]:
                    out[i] = order[cc[cut[r]:cut[r + 1]]]
    return out


def _apply_weights(d: np.ndarray, peers: _Peers, a: np.ndarray, b: np.ndarray,
                   county_weight: float, city_weight: float) -> None:
    """Multiply distances (towns ``a`` × towns ``b``) in place by ``county_weight`` for
    the same county, else ``city_weight`` for the same city."""
    ca, cb = peers.county_id[a][:, None], peers.county_id[b][None, :]
    ta, tb = peers.city_id[a][:, None], peers.city_id[b][None, :]
    same_county = (ca == cb) & (ca >= 0)
    same_city = (ta == tb) & (ta >= 0) & ~same_county
    np.multiply(d, county_weight, out=d, where=same_county)
    np.multiply(d, city_weight, out=d, where=same_city)


_DIM_COLS = ["dimension", "label_zh", "label_en", "this", "category_median", "benchmark",
             "pct"]


def _dimension_table(nc: _Cols, peers: _Peers, i, target, bench, dim_labels) -> Rows:
    def recs():
        rows = []
        for d in peers.score_dims:
            v = nc(f"score_{d}")
            zh, en = dim_labels.get(d, (d, d))
            rows.append({
                "dimension": d, "label_zh": zh, "label_en": en, "this": float(v[i]),
                "category_median": peers.median(nc, target, f"score_{d}"),
                "benchmark": float(v[bench]) if bench is not None else np.nan,
                "pct": float(nc.pct(f"score_{d}")[i]),
            })
        return rows

    return Rows(recs, columns=_DIM_COLS)


# ---------------------------------------------------------------------------------------
# gap to a category
def derived_numerators(indicators) -> dict[str, str]:
    """``{derived id: numerator id}`` for derived indicators linear in their numerator
    (location quotients, ratios, shares, per-capita values) — from an ``IndicatorSystem``'s
    ``derived`` entries, else the defaults in :data:`DERIVED_NUMERATOR`."""
    out = dict(DERIVED_NUMERATOR)
    derived = _get(indicators, "derived", None) if indicators is not None \
        and not isinstance(indicators, (Mapping, pd.DataFrame)) else None
    for d in derived or ():
        if _get(d, "kind") in ("lq", "ratio", "share", "per_capita", "per_area"):
            out[str(_get(d, "id"))] = str(_get(d, "numerator"))
    return out


def _rule_scales(trace: pd.DataFrame, taxonomy) -> dict[tuple[str, str], str]:
    scales: dict[tuple[str, str], str] = {}
    if taxonomy is not None and hasattr(taxonomy, "target_rules"):
        for target in set(trace["target"].astype(str)):
            try:
                rules = taxonomy.target_rules(target)
            except Exception:  # roles and unknown targets: no scale known, use "value"
                continue
            for r in rules:
                scales[(target, r.id)] = r.scale
    return scales


def _needed_field(nc: _Cols, i, fld, scale, op, threshold):
    """The value of ``fld`` the town needs for the rule to pass, with the other towns
    held at their values; ``None`` when the rule cannot be met by raising the field."""
    if op not in (">=", ">", "<=") or fld not in nc.frame.columns:
        return None
    if scale == "value":
        return float(threshold) if op in (">=", ">") else None
    s, p = nc.around(fld, i, county=scale in ("percentile_county", "rank_county"))
    n_others = len(s) - (p is not None)

    def other(k):  # the k-th smallest value of the other towns (k may count from the end)
        k = k + n_others if k < 0 else k
        if not 0 <= k < n_others:
            raise IndexError(k)
        return float(s[k if p is None or k < p else k + 1])

    n = n_others + 1
    if scale.startswith("percentile") and op in (">=", ">"):
        # P = (k + 1) / n × 100 when the town is strictly above k others (no ties)
        k = max(0, math.ceil(float(threshold) * n / 100 - 1 - 1e-9))
        if k == 0:
            return None
        return other(k - 1)
    if scale == "rank_county" and op == "<=":
        r = int(threshold)
        if r > n_others:
            return None
        return other(n_others - r if r >= 1 else -r)
    return None


def _empirical_lever(nc: _Cols, i, fld, needed_field, ind, info):
    """Indicator value at the same position among the other towns as ``needed_field``
    holds on ``fld`` (the empirical percentile of the indicator itself)."""
    f = nc.others(fld, i)
    if not len(f):
        return None
    q = float((f <= needed_field).mean())
    others = np.sort(nc.others(ind, i) * info.direction)
    if not len(others):
        return None
    k = min(len(others), max(1, math.ceil(q * len(others) - 1e-9)))
    return float(others[k - 1]) * info.direction


@dataclass
class _Ask:
    """"Town ``i`` needs ``needed_field`` on ``fld``": which change of each candidate
    indicator gets it there (answered for all towns at once by :func:`_solve_asks`)."""

    i: int
    fld: str
    needed_field: float
    cands: list[str]
    needs: dict = field(default_factory=dict)
    method: str = "empirical"
    jumps: dict = field(default_factory=dict)  # see _jumps


def _direct_levers(nc: _Cols, i, fld, needed_field, info, numer):
    """A field that is an indicator (or moves with one): its needed value; ``None`` for a
    score, whose indicators are searched."""
    cur_field = float(nc(fld)[i])
    if fld in numer and numer[fld] in nc.frame.columns:
        ind = numer[fld]
        cur = float(nc(ind)[i])
        if cur_field > 0 and not math.isnan(cur):
            return [(ind, cur, cur * needed_field / cur_field, "structure")]
        return [(ind, cur, math.nan, "structure")]
    if fld in info and not fld.startswith("score_"):
        return [(fld, cur_field, needed_field, "direct")]
    if not (fld.startswith("score_") or fld == "composite"):
        return []
    return None


def _lever_cands(nc: _Cols, i, fld, info, numer, cols) -> list[str]:
    dim = fld.removeprefix("score_")
    # base indicators only: a derived one (LQ, per capita) is not something to raise itself
    return [c for c in cols if (info[c].dimension == dim or fld == "composite")
            and c not in numer and not math.isnan(nc(c)[i])
            and info[c].unit not in ("是/否", "flag")]


def _share_below(nc: _Cols, ind: str, x: float, direction: int) -> float:
    """Share of the towns whose value (turned by ``direction``) is below ``x``."""
    s = nc.sorted(ind)
    below = np.searchsorted(s, x, side="left") if direction > 0 else \
        len(s) - np.searchsorted(s, -x, side="right")
    return below / len(s)


def _pick_levers(nc: _Cols, ask: _Ask, info, n_levers: int):
    """The ``n_levers`` candidates whose needed value is the smallest jump in position."""
    i, out = ask.i, []
    for ind in ask.cands:
        cur, need = float(nc(ind)[i]), ask.needs.get(ind)
        d = info[ind].direction
        if need is None or (need - cur) * d <= 0:
            continue
        if ind in ask.jumps:  # found for all asks at once
            need, jump = ask.jumps[ind]
        else:
            if info[ind].unit in COUNT_UNITS:  # 0.37 of a scenic spot is not a target
                need = float(math.ceil(need - 1e-9) if d > 0 else math.floor(need + 1e-9))
            jump = float(_share_below(nc, ind, need * d, d) -
                         _share_below(nc, ind, cur * d, d))
        out.append((jump, ind, cur, need, ask.method))
    out.sort(key=lambda t: (t[0], t[1]))
    return [(ind, cur, need, method) for _, ind, cur, need, method in out[:n_levers]]


def _jumps(nc: _Cols, asks: list[_Ask], info) -> None:
    """``ask.jumps[ind] = (needed value, jump in position)`` of every lever
    :func:`_pick_levers` weighs, as it computes them, an indicator at a time for all
    asks."""
    by_ind: dict[str, list] = {}
    for a in asks:
        for ind in a.cands:
            cur, need = float(nc(ind)[a.i]), a.needs.get(ind)
            if need is not None and (need - cur) * info[ind].direction > 0:
                by_ind.setdefault(ind, []).append((a, cur, need))
    for ind, items in by_ind.items():
        d, s = info[ind].direction, nc.sorted(ind)
        cur = np.array([c for _, c, _ in items])
        need = np.array([n for _, _, n in items])
        if info[ind].unit in COUNT_UNITS:  # 0.37 of a scenic spot is not a target
            need = np.ceil(need - 1e-9) if d > 0 else np.floor(need + 1e-9)

        def below(x):
            return np.searchsorted(s, x, side="left") if d > 0 else \
                len(s) - np.searchsorted(s, -x, side="right")

        jump = below(need * d) / len(s) - below(cur * d) / len(s)
        for (a, _, _), n, j in zip(items, need.tolist(), jump.tolist()):
            a.jumps[ind] = (n, j)


def _solve_asks(model, nc: _Cols, asks: list[_Ask], info, cols, numer, *,
                chunk: int = 65536) -> None:
    """Fill ``ask.needs`` for every ask: for each candidate indicator, the smallest change
    (others held fixed; derived indicators with it as numerator move with it) whose model
    score exceeds ``needed_field``; ``None`` when even 10× the regional best does not.

    Searched on nested 33-point grids (4 rounds: the bracket shrinks to 1/32⁴ of the
    search range), the (town, indicator) pairs of all towns and fields stacked into one
    ``transform`` per step and ``chunk`` rows.  When the score is monotone in each
    indicator (see :func:`_monotone`) and the grids do not fit one call, the first grid
    point above the need is found by bisection (6 points instead of 33, the same point).
    A field the model does not produce falls back to the empirical percentile of the
    indicator itself.
    """
    values = np.column_stack([nc(c) for c in cols])
    where = {c: k for k, c in enumerate(cols)}
    fields = [f for f in dict.fromkeys(a.fld for a in asks)
              if _produces(model, values[:1], cols, f)]
    for a in asks:
        if a.fld not in fields:  # the model does not produce this field
            a.needs = {ind: _empirical_lever(nc, a.i, a.fld, a.needed_field, ind, info[ind])
                       for ind in a.cands}
    pairs = [(a, ind) for a in asks if a.fld in fields for ind in a.cands]
    if not pairs:
        return
    grid = _Grid(model, values, where, numer, fields, chunk, pairs)
    for (a, ind), need in zip(pairs, _search(grid, info, pairs, _monotone(model, info,
                                                                          numer))):
        a.needs[ind], a.method = need, "model"


def _produces(model, row: np.ndarray, cols, fld: str) -> bool:
    try:
        _model_fields(model, pd.DataFrame(row, columns=cols), [fld])
    except (KeyError, ValueError):
        return False
    return True


def _model_fields(model, rows: pd.DataFrame, fields: list[str]) -> np.ndarray:
    """``model.transform(rows)`` restricted to ``fields`` (rows × fields)."""
    with np.errstate(all="ignore"):
        out = model.transform(rows)
    if isinstance(out, pd.DataFrame):
        return out[fields].to_numpy(dtype=float)
    names = list(model.get_feature_names_out())
    return np.asarray(out, dtype=float)[:, [names.index(f) for f in fields]]


def _search(grid: "_Grid", info, pairs, monotone: bool) -> list:
    values, col = grid.values, grid.col
    cur = values[grid.town, col]
    lo = cur.copy()
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column is no pair
        best, least = np.nanmax(values, axis=0)[col], np.nanmin(values, axis=0)[col]
    meta = [info[ind] for _, ind in pairs]
    up = np.array([m.direction > 0 for m in meta], dtype=bool)
    share = np.array([m.unit == "%" for m in meta], dtype=bool)
    # a share cannot pass 100 %; other totals are searched up to 10× the best
    top = np.where(share, 100.0, np.maximum(cur, best) * 10 + 1)
    hi = np.where(up, np.maximum(cur, top), np.minimum(np.minimum(cur, least), 0.0))
    result: list = [None] * len(pairs)
    done = np.zeros(len(pairs), dtype=bool)
    for rnd in range(4):
        act = np.flatnonzero(~done)
        if not len(act):
            break
        xs = _grids(lo[act], hi[act], 33)
        for a, k, jk in zip(act.tolist(), range(len(act)),
                            grid.first_above(act, xs, monotone).tolist()):
            hit = jk < xs.shape[1]
            if not hit or jk == 0:
                result[a] = float(xs[k, 0]) if hit and rnd else None
                done[a] = True
            else:
                lo[a], hi[a] = xs[k, jk - 1], xs[k, jk]
    return [r if done[k] else float(hi[k]) for k, r in enumerate(result)]


_MONOTONE_NORMALISATIONS = ("minmax", "zscore", "rank")


def _monotone(model, info, numer) -> bool:
    """Whether the model's scores can only rise as an indicator improves (a fitted
    :class:`~classify.scoring.ScoreModel` with monotone normalisation, non-negative
    weights, and derived indicators pointing the way of their numerators)."""
    try:
        weights_ok = bool(np.all(np.asarray(model.w_in) >= 0)) and \
            bool(np.all(np.asarray(model.w_dim) >= 0))
    except (AttributeError, TypeError):
        return False
    return weights_ok and getattr(model, "normalisation", None) in _MONOTONE_NORMALISATIONS \
        and getattr(model, "aggregation", None) in ("arithmetic", "geometric") \
        and all(info[d].direction == info[n].direction for d, n in numer.items()
                if d in info and n in info)


class _Grid:
    """Scores of towns' rows with one indicator set to grid values, for many
    (town, indicator, field) pairs at once."""

    def __init__(self, model, values, where, numer, fields, chunk, pairs):
        self.model, self.values, self.where, self.chunk = model, values, where, chunk
        self.fields = fields
        self.numer = [(where[d], where[n]) for d, n in numer.items()
                      if d in where and n in where]
        self.town = np.array([a.i for a, _ in pairs], dtype=np.int64)
        self.col = np.array([where[ind] for _, ind in pairs], dtype=np.int64)
        self.fld = np.array([fields.index(a.fld) for a, _ in pairs], dtype=np.int64)
        self.need = np.array([a.needed_field for a, _ in pairs], dtype=float)
        # rows of different towns are never mixed in one call when the model imputes
        # missing values from the rows it is given
        self.per_town = getattr(model, "missing", None) == "impute_county_median"

    def first_above(self, act: np.ndarray, xs: np.ndarray, monotone: bool) -> np.ndarray:
        """Index of the first grid point of each pair ``act`` whose score exceeds its
        need (``xs.shape[1]`` when none does): by bisection for a monotone model whose
        grids do not fit one call, else by scanning every point."""
        n_grid = xs.shape[1]
        if not monotone or len(act) * n_grid <= self.chunk:
            ok = self.scores(act, xs) > self.need[act][:, None]
            return np.where(ok.any(axis=1), np.argmax(ok, axis=1), n_grid)
        left, right = np.zeros(len(act), dtype=np.int64), np.full(len(act), n_grid)
        while True:
            go = np.flatnonzero(left < right)
            if not len(go):
                return left
            mid = (left[go] + right[go]) // 2
            ok = self.scores(act[go], xs[go, mid][:, None])[:, 0] > self.need[act[go]]
            right[go[ok]] = mid[ok]
            left[go[~ok]] = mid[~ok] + 1

    def scores(self, act: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """Scores (pairs × grid points) of pairs ``act`` at grid values ``xs``."""
        n_grid = xs.shape[1]
        out = np.empty(xs.shape)
        town = self.town[act]
        step = max(1, self.chunk // n_grid)
        bounds = np.flatnonzero(np.diff(town)) + 1 if self.per_town else \
            np.arange(step, len(act), step)
        for part in np.split(np.arange(len(act)), bounds):
            if len(part):
                out[part] = self._block(act[part], xs[part])
        return out

    def _block(self, act: np.ndarray, x: np.ndarray) -> np.ndarray:
        n_grid = x.shape[1]
        t, c = self.town[act], self.col[act]
        mat = np.repeat(self.values[t], n_grid, axis=0)
        mat[np.arange(len(mat)), np.repeat(c, n_grid)] = x.ravel()
        base = self.values[t, c]
        block = mat.reshape(len(act), n_grid, -1)
        for d, num in self.numer:  # derived indicators move with their numerator
            hit = np.flatnonzero((c == num) & (base != 0))
            if len(hit):
                block[hit, :, d] = self.values[t[hit], d][:, None] * x[hit] / \
                    base[hit][:, None]
        got = _model_fields(self.model, pd.DataFrame(mat, columns=list(self.where)),
                            self.fields)
        return got[np.arange(len(mat)), np.repeat(self.fld[act], n_grid)] \
            .reshape(len(act), n_grid)


def _grids(lo: np.ndarray, hi: np.ndarray, n: int) -> np.ndarray:
    """``np.linspace(lo[k], hi[k], n)`` for every k (rows), the same numbers as one call
    per pair: an array call changes its arithmetic for all rows when one step is 0."""
    out = np.repeat(lo[:, None], n, axis=1)
    move = lo != hi
    if move.any():
        out[move] = np.linspace(lo[move], hi[move], n, axis=1)
    return out


_GAP_COLS = ["target", "relation", "rule_id", "field", "scale", "op", "threshold", "value",
             "margin", "norm_margin", "needed_field", "indicator", "current", "needed",
             "change", "change_pct", "method", "text_zh", "text_en"]
_GAP_NUM = ("threshold", "value", "margin", "norm_margin", "needed_field", "current",
            "needed", "change", "change_pct")


def _gap_plan(nc: _Cols, i, tr: _Trace, ks, relations: dict[str, str], scales, info, numer,
              model, cols) -> list[tuple[dict, Any]]:
    """``(row, levers)`` per failing rule of the explained targets; ``levers`` is a list,
    or an :class:`_Ask` that :func:`_solve_asks` answers for all towns at once."""
    plan = []
    for target, relation in relations.items():
        fails = sorted(tr.failing(ks, target), key=lambda k: str(tr.cols["rule_id"][k]))
        for r in map(tr.record, fails):
            scale = r.get("scale") if isinstance(r.get("scale"), str) else \
                scales.get((target, r["rule_id"]), "value")
            base = {k: r.get(k) for k in ("rule_id", "field", "op", "threshold", "value",
                                           "margin", "norm_margin", "text_zh", "text_en")}
            base.update(target=target, relation=relation, scale=scale)
            try:
                thr = float(r["threshold"])
            except (TypeError, ValueError):
                thr = None
            need_f = None if thr is None else _needed_field(nc, i, r["field"], scale,
                                                            r["op"], thr)
            base["needed_field"] = np.nan if need_f is None else need_f
            levers = [] if need_f is None else _direct_levers(nc, i, r["field"], need_f,
                                                              info, numer)
            if levers is None:
                levers = _Ask(i, r["field"], need_f,
                              _lever_cands(nc, i, r["field"], info, numer, cols))
                if model is None or not levers.cands:
                    levers.needs = {ind: _empirical_lever(nc, i, levers.fld, need_f, ind,
                                                          info[ind]) for ind in levers.cands}
            plan.append((base, levers))
    return plan


def _to_float(v) -> float:
    try:
        return float(v) if v is not None else math.nan
    except (TypeError, ValueError):
        return math.nan


def _gap_rows(nc: _Cols, plan, info, n_levers: int) -> Rows:
    """The category-gap table of one town from its answered plan."""
    out = []
    for base, levers in plan:
        if isinstance(levers, _Ask):
            levers = _pick_levers(nc, levers, info, n_levers)
        if not levers:
            out.append(base)
        for ind, cur, need, method in levers:
            ch = need - cur
            out.append(dict(base, indicator=ind, current=cur, needed=need, change=ch,
                            change_pct=ch / abs(cur) * 100 if cur else np.nan,
                            method=method))
    recs = []
    for r in out:
        rec = {c: r.get(c, np.nan) for c in _GAP_COLS}
        rec.update({c: _to_float(rec[c]) for c in _GAP_NUM})
        ind = rec["indicator"]
        m = info.get(ind) if isinstance(ind, str) else None
        rec.update(label_zh=m.label_zh if m else ind, label_en=m.label_en if m else ind,
                   unit=m.unit if m else "", dimension=m.dimension if m else "")
        recs.append(rec)
    return Rows(recs, lambda: _gaps_frame(out, info))


def _gaps_frame(out: list[dict], info) -> pd.DataFrame:
    t = pd.DataFrame(out, columns=_GAP_COLS)
    for c in _GAP_NUM:
        t[c] = pd.to_numeric(t[c], errors="coerce").astype(float)
    _add_meta(t, info)
    return t


# ---------------------------------------------------------------------------------------
# declared category and data notes
def _resolve_declared(text, taxonomy, labels) -> str | None:
    if text is None or (isinstance(text, float) and math.isnan(text)) or pd.isna(text):
        return None
    text = str(text).strip()
    if not text:
        return None
    if taxonomy is not None and hasattr(taxonomy, "resolve_declared"):
        hit = taxonomy.resolve_declared(text)
        if hit:
            return hit
    if text in labels:
        return text
    for tid, lab in labels.items():
        if text in (lab.get("zh"), lab.get("en")):
            return tid
    return None


class _Trace:
    """The rule trace as column lists with each town's row positions (no per-town frames)."""

    def __init__(self, trace: pd.DataFrame, owner: np.ndarray | None = None):
        """``owner``: the frame position of each trace row (-1: no town of the frame);
        default: by ``town_code``."""
        self.frame = trace
        self.columns = list(trace.columns)
        self.cols = {c: trace[c].tolist() for c in self.columns}
        self.target = trace["target"].astype(str).tolist()
        self.field = trace["field"].astype(str).tolist()
        self.passed = trace["passed"].astype(bool).tolist()
        nm = pd.to_numeric(trace["norm_margin"], errors="coerce") if "norm_margin" in \
            trace.columns else pd.Series(np.nan, index=trace.index)
        self.nm = nm.astype(float).tolist()
        if owner is None:
            self.by_town = {str(k): v.tolist() for k, v in
                            trace.groupby("town_code", sort=False).indices.items()}
        else:
            self.by_town = {int(k): v.tolist() for k, v in
                            pd.Series(owner).groupby(owner, sort=False).indices.items()
                            if k >= 0}

    def rows(self, town) -> list[int]:
        """Trace rows of a town: its frame position (or code, without ``owner``)."""
        return self.by_town.get(town, [])

    def record(self, k: int) -> dict:
        return {c: self.cols[c][k] for c in self.columns}

    def failing(self, ks: list[int], target: str) -> list[int]:
        return [k for k in ks if self.target[k] == target and not self.passed[k]]


def _relations(tr: _Trace, ks, target, declared_target, runner_up, near_margin,
               allowed=None) -> dict[str, str]:
    """Targets whose failing rules a sheet explains, in order: suggested, declared,
    runner-up, then nearly reached (every failing rule within ``near_margin``)."""
    rel: dict[str, str] = {}
    if target:
        rel[target] = "suggested"
    if declared_target and declared_target not in rel:
        rel[declared_target] = "declared"
    if runner_up and runner_up not in rel:
        rel[runner_up] = "runner_up"
    near: dict[str, bool] = {}
    for k in ks:
        t = tr.cols["target"][k]
        if not tr.passed[k] and isinstance(t, str):
            near[t] = near.get(t, True) and tr.nm[k] >= -near_margin
    for t in sorted(near):
        if allowed is not None and t not in allowed:
            continue
        if t not in rel and near[t]:
            rel[t] = "near"
    return rel


def _declared_status(tr: _Trace, ks, declared_target, target) -> str:
    if declared_target is None:
        return ""
    passed = [tr.passed[k] for k in ks if tr.target[k] == declared_target]
    if declared_target == target or (passed and all(passed)):
        return "supported"
    if not passed:  # no rule of the declared target was evaluated: no verdict
        return ""
    if target and declared_target.split("/")[0] == target.split("/")[0]:
        return "partly supported"
    if any(passed):
        return "partly supported"
    return "not supported"


def _declared_failing(tr: _Trace, ks, declared_target) -> Rows:
    fail = tr.failing(ks, declared_target or "\0")
    return Rows([tr.record(k) for k in fail],
                lambda: tr.frame.iloc[fail].reset_index(drop=True))


_MISSING_COLS = ["indicator", "status", "detail", "dimension", "affects", "label_zh",
                 "label_en", "unit"]


def _missing_table(peers: "_Peers", i, info, log: list[dict], tr: _Trace, ks,
                   n_imputed: float) -> Rows:
    """Indicators this town lacks: ``missing`` (left out of its scores) or ``imputed``
    (filled by the scoring step — when it imputed as many values as the town lacks),
    with the targets whose rules read a field they feed."""
    lacking = [peers.cols[k] for k in np.flatnonzero(peers.lacking[i]).tolist()]
    imputed = not math.isnan(n_imputed) and n_imputed > 0 and n_imputed >= len(
        [x for x in lacking if info[x].dimension])
    notes = {ind: ("imputed" if imputed and info[ind].dimension else "missing", "")
             for ind in lacking}
    for rec in log:
        ind = str(rec.get("indicator", "") or "")
        st = str(rec.get("status", rec.get("action", "")) or "")
        if ind and ("imput" in st.lower() or "插补" in st):
            notes[ind] = ("imputed", str(rec.get("detail", "") or ""))
        elif ind and ind not in notes and ind in info:
            notes[ind] = ("missing", str(rec.get("detail", "") or ""))
        elif ind in notes and not notes[ind][1]:
            notes[ind] = (notes[ind][0], str(rec.get("detail", "") or ""))
    used: dict[str, set] = {}
    for k in ks:
        used.setdefault(tr.field[k], set()).add(tr.target[k])
    recs = []
    for ind, (status, detail) in sorted(notes.items()):
        m = info.get(ind) or IndicatorInfo(ind, ind, ind)
        aff = used.get(f"score_{m.dimension}", set()) | used.get(ind, set()) | (
            used.get("composite", set()) if m.dimension else set())
        recs.append((ind, status, detail, m.dimension, ";".join(sorted(aff)), m.label_zh,
                     m.label_en, m.unit))
    return Rows([dict(zip(_MISSING_COLS, r)) for r in recs],
                lambda: pd.DataFrame(recs, columns=_MISSING_COLS))


# ---------------------------------------------------------------------------------------
# the public step
def _split(val) -> tuple[str, ...]:
    if val is None or (isinstance(val, float) and math.isnan(val)) or pd.isna(val):
        return ()
    return tuple(s for s in str(val).split(";") if s)


def _num(row, key) -> float:
    v = row.get(key)
    try:
        return float(v) if v is not None and not pd.isna(v) else math.nan
    except (TypeError, ValueError):
        return math.nan


def _str(row, key) -> str:
    v = row.get(key)
    return "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)


def _check_frame(frame: pd.DataFrame, trace: pd.DataFrame) -> None:
    for name, df, need in (("frame", frame, _KEYS), ("trace", trace,
                                                      ("town_code", "target", "rule_id",
                                                       "field", "passed"))):
        missing = [c for c in need if c not in df.columns]
        if missing:
            raise ConfigError(f"the {name} passed to suggest() lacks columns {missing}; "
                              f"it has {list(df.columns)[:12]} (see docs/DESIGN.md, "
                              f"'The frame that flows' / 'Rule trace')", key=name)


def suggest(frame: pd.DataFrame, trace: pd.DataFrame | None, system=None, taxonomy=None, *,
            indicators=None, categories=None, lang: str = "zh", n_benchmarks: int = 3,
            model=None, missing_log: pd.DataFrame | None = None, focus: Mapping | None = None,
            top: float = 80.0, bottom: float = 20.0, n_list: int = 5, n_gap_rows: int = 8,
            n_levers: int = 2, near_margin: float = 0.15, county_weight: float = 0.8,
            city_weight: float = 0.9) -> list[Suggestion]:
    """Build the self-assessment evidence for every town.

    Parameters
    ----------
    frame : DataFrame
        The classified frame (docs/DESIGN.md "The frame that flows"): key columns,
        indicators under their ids, ``score_<dim>``, ``composite``, ``rank``, ``category``,
        ``subtype``, ``secondary``, ``runner_up``, ``stability``, ``declared`` … Columns
        that are absent are simply not reported.
    trace : DataFrame or None
        The rule trace (``rules.csv`` schema), one row per town × target rule; ``None``
        when no rules were evaluated (the sheets then explain no gaps).
    system, indicators : IndicatorSystem or mapping
        Indicator metadata (``{id: {"label_zh", "label_en", "unit", "dimension",
        "direction"}}``); ``indicators`` wins when both are given.
    taxonomy, categories : Taxonomy or palette mapping
        Category labels (and, from a Taxonomy, the rule scales and the declared-text
        aliases); ``categories`` wins for labels when both are given.
    lang : {"zh", "en"}
        Default language of the sheets rendered from these suggestions.
    n_benchmarks : int
        Benchmark towns (or challengers, for a category leader) per town.
    model : fitted scorer, optional
        ``ScoreResult.model``: ``transform(indicator rows) -> score_<dim> columns``.  When
        given, gaps on scores are translated into indicator values by re-scoring; without
        it, by the empirical percentile of the indicator itself (``method`` says which).
    missing_log : DataFrame, optional
        ``town_code, indicator, status|action`` from ``build_indicators``: imputed values.
    focus : mapping, optional
        Target id → dimension judged for benchmarks (default :data:`FOCUS_DIMENSION`).
    top, bottom : float
        Percentile cut-offs for strengths (≥ top) and weaknesses (≤ bottom).
    county_weight, city_weight : float
        Distance multipliers that make same-county / same-city towns preferred benchmarks.

    Returns
    -------
    list of Suggestion, in the order of ``frame``.

    Examples
    --------
    >>> sugs = suggest(frame, trace, load_system(), load_taxonomy("guangdong"),
    ...                model=scored.model)                               # doctest: +SKIP
    >>> sugs[0].benchmarks[0].gaps[["label_zh", "this", "other", "diff"]]   # doctest: +SKIP
    >>> from classify.sheets import sheet_names, write_sheets
    >>> write_sheets(sugs, "out/suggestions", sheet_names(sugs))          # doctest: +SKIP
    """
    if lang not in ("zh", "en"):
        raise ConfigError(f"lang must be 'zh' or 'en', found {lang!r}", key="lang")
    if trace is None:  # no rules evaluated: no gaps to explain
        trace = pd.DataFrame(columns=["town_code", "town", "target", "rule_id", "field",
                                      "op", "threshold", "value", "margin", "norm_margin",
                                      "passed", "target_passed", "text_zh", "text_en"])
    _check_frame(frame, trace)
    info = indicator_table(indicators if indicators is not None else system)
    meta_src = indicators if indicators is not None else system
    labels = frame.index
    frame = frame.reset_index(drop=True).copy()
    # a missing code stays unknown (''), never the text 'nan'
    frame["town_code"] = known(frame["town_code"].to_numpy(object)).fillna("").to_numpy(object)
    # object dtype: a str column would turn "no category" (None) into NaN
    frame["_target"] = pd.Series([_target_of(r) for r in records(
        frame[[c for c in ("category", "subtype") if c in frame.columns]])], dtype=object)
    trace = trace.copy()
    trace_owner = _trace_owners(trace, frame["town_code"].to_numpy(object))
    trace["town_code"] = known(trace["town_code"].to_numpy(object)).fillna("").to_numpy(object)
    present = {k: v for k, v in info.items() if k in frame.columns}
    nc = _Cols(frame)
    ctx = _Context(
        info=info, taxonomy=taxonomy, model=model, lang=lang,
        labels=category_labels(categories if categories is not None else taxonomy),
        dim_labels=_dimension_labels(meta_src), numer=derived_numerators(meta_src),
        focus=dict(FOCUS_DIMENSION, **(focus or {})), scales=_rule_scales(trace, taxonomy),
        # roles (中心镇 …) are not categories a town can be short of
        allowed=set(taxonomy.targets()) if hasattr(taxonomy, "targets") else None,
        nc=nc, peers=_Peers(nc, info, _profile_matrix(frame, present)),
        positions=_Positions(frame, present, top=top, bottom=bottom),
        trace=_Trace(trace, trace_owner),
        log_by=_group_records(missing_log, _log_owners(missing_log, labels,
                                                       frame["town_code"].to_numpy(object)))
        if missing_log is not None and "town_code" in missing_log.columns else {},
        n_towns=int(np.isfinite(nc("composite")).sum())
        if "composite" in frame.columns else len(frame),
        field_labels=_field_labels(taxonomy, info, _dimension_labels(meta_src)),
        params=dict(n_benchmarks=n_benchmarks, top=top, bottom=bottom, n_list=n_list,
                    n_gap_rows=n_gap_rows, n_levers=n_levers, near_margin=near_margin,
                    county_weight=county_weight, city_weight=city_weight))
    ctx.peers.ahead = _screen_ahead(nc, ctx.peers, ctx.focus, n=n_benchmarks,
                                    county_weight=county_weight, city_weight=city_weight)
    ctx.peers.picked = _pick_ahead(ctx.peers, n=n_benchmarks, county_weight=county_weight,
                                   city_weight=city_weight)
    rows = records(frame[[c for c in _ROW_KEYS if c in frame.columns]])
    done = [_one_town(ctx, i, row) for i, row in enumerate(rows)]
    ctx.peers.order_gaps()  # the benchmark gap tables of all towns at once
    if model is not None:  # the model searches of all towns at once
        _solve_asks(model, nc, [a for _, plan in done for _, a in plan
                                if isinstance(a, _Ask) and a.cands], info, ctx.peers.cols,
                    ctx.numer)
    _jumps(nc, [a for _, plan in done for _, a in plan if isinstance(a, _Ask)], info)
    for s, plan in done:
        s.category_gaps = _gap_rows(nc, plan, info, n_levers)
    return [s for s, _ in done]


def _field_labels(taxonomy, info, dim_labels) -> dict[str, dict[str, str]]:
    """``{field: {"zh", "en"}}`` for rule fields: the taxonomy's table, else indicator
    labels and ``score_<dim>`` as the dimension's label."""
    out = {f"score_{d}": {"zh": f"{zh}得分", "en": f"{en} score"}
           for d, (zh, en) in dim_labels.items()}
    out["composite"] = {"zh": "综合得分", "en": "composite score"}
    out.update({k: {"zh": v.label_zh, "en": v.label_en} for k, v in info.items()})
    for k, v in (getattr(taxonomy, "fields", None) or {}).items():
        out[k] = {"zh": v.get("zh", k), "en": v.get("en", k)}
    return out


def _group_records(df: pd.DataFrame, owner: np.ndarray) -> dict[int, list[dict]]:
    """Records of ``df`` by the frame position of their town (``owner``, -1: none)."""
    out: dict[int, list[dict]] = {}
    for rec, k in zip(records(df), owner):
        if k >= 0:
            out.setdefault(int(k), []).append(rec)
    return out


def _owners(codes: pd.Series, frame_codes: np.ndarray) -> np.ndarray:
    """Frame position of each row keyed by ``codes``, matched on known codes that are
    unique in the frame (-1 otherwise: a town without a code, or with a repeated one,
    cannot be found by its code)."""
    fc = pd.Series(frame_codes, dtype=object)
    unique = fc[(fc != "") & ~fc.duplicated(keep=False)]
    where = pd.Series(unique.index.to_numpy(), index=unique.to_numpy())
    keys = known(codes.to_numpy(object)).fillna("")
    return keys.map(where).fillna(-1).astype(int).to_numpy()


def _trace_owners(trace: pd.DataFrame, frame_codes: np.ndarray) -> np.ndarray:
    """Frame position of each trace row.  The trace of :func:`classify.rules.classify_towns`
    is town-major in frame order (R rules per town): recognised by its codes, it is read by
    position, so towns without a code or with a repeated code keep their rules."""
    n, m = len(frame_codes), len(trace)
    if n and m and m % n == 0:
        R = m // n
        tc = known(trace["town_code"].to_numpy(object)).fillna("").to_numpy(object)
        if np.array_equal(tc, np.repeat(np.asarray(frame_codes, dtype=object), R)):
            return np.repeat(np.arange(n), R)
    return _owners(trace["town_code"], frame_codes)


def _log_owners(log: pd.DataFrame, labels: pd.Index, frame_codes: np.ndarray) -> np.ndarray:
    """Frame position of each missing-log row: by its ``position`` (the index label of the
    town in the frame :func:`classify.indicators.build_indicators` got) when the log has
    one, else by code."""
    if "position" in log.columns:
        where = pd.Series(np.arange(len(labels)), index=labels)
        if where.index.is_unique:
            pos = log["position"].map(where)
            return pos.fillna(-1).astype(int).to_numpy()
    return _owners(log["town_code"], frame_codes)


@dataclass
class _Context:
    """What every town's evidence is computed from (built once per :func:`suggest`)."""

    info: dict
    taxonomy: Any
    model: Any
    lang: str
    labels: dict
    dim_labels: dict
    numer: dict
    focus: dict
    scales: dict
    allowed: set | None
    nc: _Cols
    peers: _Peers
    positions: _Positions
    trace: _Trace
    log_by: dict
    n_towns: int
    params: dict
    field_labels: dict = field(default_factory=dict)


# frame columns a sheet reads (the rest of the frame is not turned into records)
_ROW_KEYS = ("town_code", "town", "county", "city", "category", "subtype", "secondary",
             "roles", "stability", "runner_up", "composite", "rank", "declared",
             "declared_target", "declared_status", "n_missing", "n_imputed", "review",
             "review_reason", "review_reason_en", "boundary_quality",
             "designations", "designations_en")


def _one_town(ctx: _Context, i: int, row: dict) -> tuple[Suggestion, list]:
    """The evidence of town ``i``; its category gaps are finished after the model
    searches of all towns (returned as a plan)."""
    p, nc, code = ctx.params, ctx.nc, row["town_code"]
    target = nc.targets[i]
    fcol = _focus_column(target, nc.frame, ctx.focus)
    strengths, weaknesses = ctx.positions.strengths(i, p["n_list"])
    bench, chall, leader = _benchmarks(
        nc, ctx.peers, i, target, fcol, n=p["n_benchmarks"], n_rows=p["n_gap_rows"],
        county_weight=p["county_weight"], city_weight=p["city_weight"])
    first = (bench or chall or [None])[0]
    bidx = None if first is None else first.index
    ks = ctx.trace.rows(i)
    declared = _str(row, "declared") or None
    declared_target = _str(row, "declared_target") or _resolve_declared(
        declared, ctx.taxonomy, ctx.labels)
    relations = _relations(ctx.trace, ks, target, declared_target,
                           _str(row, "runner_up") or None, p["near_margin"], ctx.allowed)
    status = _str(row, "declared_status") or _declared_status(ctx.trace, ks,
                                                              declared_target, target)
    plan = _gap_plan(nc, i, ctx.trace, ks, relations, ctx.scales, ctx.info, ctx.numer,
                     ctx.model, ctx.peers.cols)
    s = Suggestion(
        town_code=code, town=_str(row, "town"), county=_str(row, "county"),
        city=_str(row, "city"), target=target, category=_str(row, "category") or None,
        subtype=_str(row, "subtype") or None, labels=ctx.labels,
        secondary=_split(row.get("secondary")), roles=_split(row.get("roles")),
        confidence=_num(row, "stability"), runner_up=_str(row, "runner_up") or None,
        composite=_num(row, "composite"), rank=_num(row, "rank"), n_towns=ctx.n_towns,
        focus=fcol, is_leader=leader, strengths=strengths, weaknesses=weaknesses,
        benchmarks=bench, challengers=chall,
        dimensions=_dimension_table(nc, ctx.peers, i, target, bidx, ctx.dim_labels),
        category_gaps=None, declared=declared, declared_target=declared_target,
        declared_status=status,
        declared_failing=_declared_failing(ctx.trace, ks, declared_target),
        missing=_missing_table(ctx.peers, i, ctx.info, ctx.log_by.get(i, []), ctx.trace,
                               ks, _num(row, "n_imputed")),
        lang=ctx.lang,
        extra={"n_missing": _num(row, "n_missing"), "n_imputed": _num(row, "n_imputed"),
               "review": row.get("review"), "review_reason": _str(row, "review_reason"),
               "review_reason_en": _str(row, "review_reason_en"),
               "designations": row.get("designations"),
               "designations_en": row.get("designations_en"),
               "boundary_quality": _str(row, "boundary_quality"), "top": p["top"],
               # dimensions without a score for this town: (id, zh, en, "all" when no
               # town has one, else "town")
               "dims_no_data": [(d, *ctx.dim_labels.get(d, (d, d)),
                                 "all" if d in ctx.peers.dims_empty else "town")
                                for d in ctx.peers.score_dims
                                if math.isnan(nc(f"score_{d}")[i])],
               "bottom": p["bottom"], "targets": sorted({ctx.trace.target[k] for k in ks}),
               "field_labels": ctx.field_labels})
    return s, plan


def suggestions_table(suggestions: list[Suggestion]) -> pd.DataFrame:
    """One row per town with ids and numbers only (no wording), e.g. to join to the
    towns table in a notebook: ``town_code, target, confidence, runner_up, is_leader,
    benchmarks`` (``;``-joined codes: benchmarks, or challengers for a leader),
    ``strengths``, ``weaknesses`` (``;``-joined indicator ids), ``gap_targets``,
    ``declared_target, declared_status, missing`` (``;``-joined indicator ids)."""
    rows = []
    for s in suggestions:
        rows.append({
            "town_code": s.town_code, "town": s.town, "target": s.target or "",
            "confidence": s.confidence, "runner_up": s.runner_up or "",
            "is_leader": s.is_leader,
            "benchmarks": ";".join(b.town_code for b in (s.challengers if s.is_leader
                                                         else s.benchmarks)),
            "strengths": ";".join(s.strengths["indicator"]),
            "weaknesses": ";".join(s.weaknesses["indicator"]),
            "gap_targets": ";".join(dict.fromkeys(s.category_gaps["target"].astype(str))),
            "declared_target": s.declared_target or "", "declared_status": s.declared_status,
            "missing": ";".join(s.missing["indicator"]),
        })
    return pd.DataFrame(rows, columns=["town_code", "town", "target", "confidence",
                                       "runner_up", "is_leader", "benchmarks", "strengths",
                                       "weaknesses", "gap_targets", "declared_target",
                                       "declared_status", "missing"])
