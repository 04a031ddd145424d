"""The per-town evidence record of the self-assessment sheets: :class:`Suggestion`,
:class:`Benchmark`, their tables (parts of the stacked tables of all towns), and the
adapters that read indicator and category metadata (labels, units, directions) from the
indicator system and taxonomy."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import groupby
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from classify.config import load_system
from classify.errors import ConfigError
from classify.scoring import known


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
#: The indicator metadata an indicator's row in a table carries.
_META = ("label_zh", "label_en", "unit", "dimension")


def _text(values) -> np.ndarray:
    """Text keys as an object array, unknown ones (blank, NaN, 'nan' …) as ''."""
    return known(np.asarray(values, dtype=object)).fillna("").to_numpy(object)


def records(df: pd.DataFrame) -> list[dict]:
    """``df.to_dict("records")`` without its per-row indexing cost (slow in pandas 3);
    missing values stay NaN / None as stored."""
    cols = list(df.columns)
    if not cols:
        return [{} for _ in range(len(df))]
    data = [df.iloc[:, k].tolist() for k in range(len(cols))]
    return [dict(zip(cols, row)) for row in zip(*data)]


class Stack:
    """The tables of many owners (towns, or benchmarks) stacked as columns: owner ``k``'s
    ``sizes[k]`` rows are rows ``offsets[k]:offsets[k + 1]`` of every column.

    An owner's DataFrame (made when a :class:`Part` is read) holds its records under the
    columns' names, or, given ``frame``, is what ``frame`` makes of the owner's part of
    ``source``; ``dtypes`` are the column types of an empty one.
    """

    __slots__ = ("cols", "offsets", "frame", "source", "dtypes")

    def __init__(self, cols: dict[str, np.ndarray], sizes, *,
                 frame: Callable[[Any], pd.DataFrame] | None = None, source: Any = None,
                 dtypes: dict | None = None):
        self.cols = cols
        self.offsets = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
        self.frame, self.source, self.dtypes = frame, source, dtypes

    @classmethod
    def of_lists(cls, cols: dict[str, list], sizes, **kw) -> "Stack":
        """The stack of columns given as lists of Python values (kept as they are)."""
        return cls({c: np.fromiter(v, dtype=object, count=len(v)) for c, v in cols.items()},
                   sizes, **kw)

    @classmethod
    def of_records(cls, tables: list[list[dict]], columns: list[str], **kw) -> "Stack":
        """The stack of per-owner records (missing keys: None)."""
        flat = [r for t in tables for r in t]
        return cls.of_lists({c: [r.get(c) for r in flat] for c in columns},
                            [len(t) for t in tables], **kw)

    def parts(self) -> list["Part"]:
        """A :class:`Part` for every owner."""
        return [Part(self, k) for k in range(len(self.offsets) - 1)]

    def records(self, k: int) -> list[dict]:
        a, b = self.offsets[k], self.offsets[k + 1]
        names = list(self.cols)
        return [dict(zip(names, row)) for row in
                zip(*(self.cols[c][a:b].tolist() for c in names))]

    def table(self, k: int) -> pd.DataFrame:
        a, b = int(self.offsets[k]), int(self.offsets[k + 1])
        t = self.frame(self.source[a:b]) if self.frame is not None else \
            pd.DataFrame(self.records(k), columns=list(self.cols))
        return t.astype(self.dtypes) if self.dtypes and not len(t) else t

    def rows(self, ks) -> tuple[np.ndarray, np.ndarray]:
        """The rows of owners ``ks`` (in that order) and the number of each."""
        ks = np.asarray(ks, dtype=np.int64)
        start, n = self.offsets[ks], self.offsets[ks + 1] - self.offsets[ks]
        return np.repeat(start - (np.cumsum(n) - n), n) + np.arange(int(n.sum())), n


class Part:
    """Owner ``k``'s table in a :class:`Stack` (what a table field holds until someone
    reads it as a DataFrame)."""

    __slots__ = ("stack", "k")

    def __init__(self, stack: Stack, k: int):
        self.stack, self.k = stack, k


class _Table:
    """Data descriptor of a table field: stores a DataFrame or :class:`Part`, returns a
    DataFrame (built once, then kept)."""

    def __init__(self, name: str):
        self.slot = f"_{name}"

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        value = obj.__dict__[self.slot]
        if isinstance(value, Part):
            value = obj.__dict__[self.slot] = value.stack.table(value.k)
        return value

    def __set__(self, obj, value):
        obj.__dict__[self.slot] = value


def table_records(obj, name: str) -> list[dict]:
    """The rows of table field ``name`` of ``obj`` (a Suggestion or Benchmark) as dicts,
    without building its DataFrame when it was not built yet."""
    value = obj.__dict__.get(f"_{name}")
    if isinstance(value, Part):
        return value.stack.records(value.k)
    return records(getattr(obj, name))


def stacked(objs: Sequence, name: str, empty: Mapping[str, type] | None = None
            ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Table field ``name`` of ``objs`` (Suggestions or Benchmarks) stacked: row offsets
    (one more than ``objs``) and the columns as arrays, every column of the tables in
    order of appearance (None in the rows of a table without it; ``empty``: the columns
    and their types when there is no table).  Taken from the stacks the tables are parts
    of, a run of consecutive owners at a time; a table set as a DataFrame adds its
    records (the columns are then object arrays)."""
    got = []
    for obj in objs:
        v = obj.__dict__.get(f"_{name}")
        if not isinstance(v, Part):
            t = getattr(obj, name)
            v = Part(Stack.of_records([records(t)], list(t.columns)), 0)
        got.append(v)
    runs = [list(run) for _, run in groupby(got, key=lambda p: id(p.stack))]
    taken = [(run[0].stack, *run[0].stack.rows([p.k for p in run])) for run in runs]
    counts = np.concatenate([np.zeros(0, dtype=np.int64)] + [n for _, _, n in taken])
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    if not taken:
        return offsets, {c: np.zeros(0, dtype=t) for c, t in (empty or {}).items()}

    def column(stack, rows, c):
        return stack.cols[c][rows] if c in stack.cols else np.full(len(rows), None, object)

    names = list(dict.fromkeys(c for stack, _, _ in taken for c in stack.cols))
    if len(taken) == 1:
        return offsets, {c: column(*taken[0][:2], c) for c in names}
    return offsets, {c: np.concatenate([column(st, rows, c).astype(object)
                                        for st, rows, _ in taken]) for c in names}


def _lazy_tables(cls, names) -> None:
    for name in names:
        setattr(cls, name, _Table(name))


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
        items = _items(_get(indicators, "indicators", indicators)) + \
            _items(_system_attr(indicators, "derived"))
    out = {}
    for iid, meta in items:
        if isinstance(meta, IndicatorInfo):
            out[iid] = meta
            continue
        out[str(iid)] = IndicatorInfo(
            str(iid), *_labels(meta, iid), unit=str(_get(meta, "unit") or ""),
            dimension=str(_get(meta, "dimension") or ""),
            direction=_direction(_get(meta, "direction")))
    return out


def _labels(entry, default) -> tuple[str, str]:
    """``(zh, en)`` labels of a metadata entry (``label_zh``, ``zh`` or ``header``;
    ``label_en`` or ``en``), else ``default``."""
    zh = _get(entry, "label_zh") or _get(entry, "zh") or _get(entry, "header") or default
    return str(zh), str(_get(entry, "label_en") or _get(entry, "en") or default)


def _items(entries) -> list[tuple]:
    """``(id, entry)`` of a mapping or a sequence of entries with an ``id``."""
    if isinstance(entries, Mapping):
        return list(entries.items())
    return [(_get(e, "id"), e) for e in entries]


def _system_attr(indicators, name: str):
    """Attribute ``name`` of an indicator system; ``()`` for none, a mapping or a table."""
    if indicators is None or isinstance(indicators, (Mapping, pd.DataFrame)):
        return ()
    return _get(indicators, name) or ()


def category_labels(categories) -> dict[str, dict[str, str]]:
    """``{id: {"zh", "en", "color"}}`` from a ``Taxonomy`` (its palette) or a mapping."""
    if categories is None:
        return {}
    if hasattr(categories, "palette"):
        return {k: dict(v) for k, v in categories.palette().items()}
    return {str(k): dict(v) if isinstance(v, Mapping) else {"zh": str(v), "en": str(v)}
            for k, v in categories.items()}


def _dimension_labels(indicators) -> dict[str, tuple[str, str]]:
    """``{dimension: (zh, en)}`` from the indicator system; for indicators given as a
    mapping, from the built-in indicator system (the one place the labels are kept)."""
    labels = {}
    for d in _system_attr(indicators, "dimensions") or load_system().dimensions:
        did = _get(d, "id")
        if did:
            labels[did] = _labels(d, did)
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
        return self.labels.get(target, {}).get(lang or self.lang, target)


_lazy_tables(Suggestion, ("strengths", "weaknesses", "dimensions", "category_gaps",
                          "declared_failing", "missing"))


#: The columns of a benchmark's gap table (see :class:`Benchmark`) and their types.
GAP_COLUMNS = {"indicator": object, "this": float, "other": float, "diff": float,
               "diff_pct": float, "in_focus": object, "label_zh": object, "label_en": object,
               "unit": object, "dimension": object}


def suggestions_table(suggestions: list[Suggestion]) -> pd.DataFrame:
    """One row per town with ids and numbers only (no wording), e.g. to join to the
    towns table in a notebook: ``town_code, target, confidence, runner_up, is_leader,
    benchmarks`` (``;``-joined codes: benchmarks, or challengers for a leader),
    ``strengths``, ``weaknesses`` (``;``-joined indicator ids), ``gap_targets``,
    ``declared_target, declared_status, missing`` (``;``-joined indicator ids)."""
    return pd.DataFrame([{
        "town_code": s.town_code, "town": s.town, "target": s.target or "",
        "confidence": s.confidence, "runner_up": s.runner_up or "", "is_leader": s.is_leader,
        "benchmarks": ";".join(b.town_code for b in (s.challengers if s.is_leader
                                                     else s.benchmarks)),
        "strengths": ";".join(s.strengths["indicator"]),
        "weaknesses": ";".join(s.weaknesses["indicator"]),
        "gap_targets": ";".join(dict.fromkeys(s.category_gaps["target"].astype(str))),
        "declared_target": s.declared_target or "", "declared_status": s.declared_status,
        "missing": ";".join(s.missing["indicator"])} for s in suggestions],
        columns=["town_code", "town", "target", "confidence", "runner_up", "is_leader",
                 "benchmarks", "strengths", "weaknesses", "gap_targets", "declared_target",
                 "declared_status", "missing"])
