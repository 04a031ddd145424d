"""The per-town evidence record of the self-assessment sheets: :class:`Suggestion`,
:class:`Benchmark`, their lazily built tables, and the adapters that read indicator and
category metadata (labels, units, directions) from the indicator system and taxonomy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from classify.config import load_system
from classify.errors import ConfigError


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
    """``{dimension: (zh, en)}`` from the indicator system; for indicators given as a
    mapping, from the built-in indicator system (the one place the labels are kept)."""
    dims = (_get(indicators_obj, "dimensions", None) or ()) if indicators_obj is not None \
        and not isinstance(indicators_obj, (Mapping, pd.DataFrame)) else ()
    if not dims:
            dims = load_system().dimensions
    labels = {}
    for d in dims:
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


_GAP_TABLE_COLS = ["indicator", "this", "other", "diff", "diff_pct", "in_focus", "label_zh",
                   "label_en", "unit", "dimension"]


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
