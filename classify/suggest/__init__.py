"""Self-assessment evidence (自评分类意见) for every town: :func:`suggest` turns the
classified frame and the rule trace into one :class:`Suggestion` per town (numbers and ids;
wording lives in ``classify/templates``, rendering in :mod:`classify.sheets`).

Percentiles: ``Series.rank(pct=True) * 100``, ties averaged, "lower is better" turned
around (P100 is the best); ranks: 1 = best, ties share the best (``method="min"``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from classify.errors import ConfigError
from classify.rules import TRACE_COLUMNS
from classify.suggest.record import (Benchmark, DERIVED_NUMERATOR, FOCUS_DIMENSION,
                                     GAP_COLUMNS, IndicatorInfo, Part, Stack, Suggestion,
                                     category_labels, indicator_table, records, stacked,
                                     suggestions_table, table_records, _dimension_labels,
                                     _text)
from classify.suggest.peers import (peer_positions, _Cols, _Peers, _Positions, _choose,
                                    _dimension_stack, _focus_column, _make, _pick_ahead,
                                    _screen_ahead, _target_of)
from classify.suggest.gaps import (_Ask, _Trace, _declared_stack, _declared_status,
                                   _gap_plan, _gap_rows, _gap_stack, _jumps, _missing_stack,
                                   _movers, _missing_table, _relations, _resolve_declared,
                                   _rule_scales, _solve_asks, _to_float, derived_numerators)


__all__ = ["IndicatorInfo", "Benchmark", "Suggestion", "suggest", "suggestions_table",
           "records", "table_records", "stacked", "Stack", "Part", "indicator_table",
           "category_labels", "peer_positions", "FOCUS_DIMENSION", "DERIVED_NUMERATOR",
           "GAP_COLUMNS"]

# ---------------------------------------------------------------------------------------
# the public step
def _split(val) -> tuple[str, ...]:
    if val is None or pd.isna(val):
        return ()
    return tuple(s for s in str(val).split(";") if s)


def _num(row, key) -> float:
    return _to_float(row.get(key))


def _str(row, key) -> str:
    v = row.get(key)
    return "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)


def _check_frame(frame: pd.DataFrame, trace: pd.DataFrame) -> None:
    for name, df, need in (("frame", frame, ("town_code", "town")),
                           ("trace", trace, ("town_code", "target", "rule_id", "field",
                                             "passed"))):
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
        trace = pd.DataFrame(columns=TRACE_COLUMNS)
    _check_frame(frame, trace)
    meta_src = indicators if indicators is not None else system
    info, dim_labels = indicator_table(meta_src), _dimension_labels(meta_src)
    labels = frame.index
    # a missing code stays unknown (''), never the text 'nan' (assign: the other columns
    # are shared with the caller's frame, not copied)
    frame = frame.reset_index(drop=True).assign(town_code=_text(frame["town_code"]))
    # object dtype: a str column would turn "no category" (None) into NaN
    frame["_target"] = pd.Series([_target_of(r) for r in records(
        frame[[c for c in ("category", "subtype") if c in frame.columns]])], dtype=object)
    trace = trace.assign(town_code=_text(trace["town_code"]))
    nc = _Cols(frame)
    positions = _Positions(frame, info, top=top, bottom=bottom)
    numer = derived_numerators(meta_src)
    focus = dict(FOCUS_DIMENSION, **(focus or {}))
    focus_of = {t: _focus_column(t, frame, focus) for t in dict.fromkeys(nc.targets)}
    tr = _Trace(trace, _trace_owners(trace["town_code"].to_numpy(object), nc.codes))
    ctx = _Context(
        info=info, taxonomy=taxonomy, lang=lang,
        labels=category_labels(categories if categories is not None else taxonomy),
        dim_labels=dim_labels, numer=numer, scales=_rule_scales(trace, taxonomy),
        # roles (中心镇 …) are not categories a town can be short of
        allowed=set(taxonomy.targets()) if hasattr(taxonomy, "targets") else None,
        nc=nc, peers=_Peers(nc, positions),
        movers=_movers(set(tr.field), info, numer, positions.ids),
        trace=tr, log_by=_log_by_town(missing_log, labels, nc.codes),
        n_towns=int(np.isfinite(nc("composite")).sum())
        if "composite" in frame.columns else len(frame),
        field_labels=_field_labels(taxonomy, info, dim_labels),
        params=dict(top=top, bottom=bottom, near_margin=near_margin))
    weights = dict(n=n_benchmarks, county_weight=county_weight, city_weight=city_weight)
    ctx.peers.picked = _pick_ahead(ctx.peers, _screen_ahead(nc, ctx.peers, focus_of, **weights),
                                   **weights)
    # the tables of all towns at once (stacks of their columns), then each town's rest
    fcols = [focus_of[t] for t in nc.targets]
    chosen = [_choose(nc, ctx.peers, i, f, n=n_benchmarks) for i, f in enumerate(fcols)]
    made = _make(nc, ctx.peers, [(js, d) for js, d, _ in chosen], fcols, n_gap_rows)
    bench = np.array([ms[0].index if ms else -1 for ms in made], dtype=np.int64)
    tables = {"strengths": positions.stack("best", n_list),
              "weaknesses": positions.stack("worst", n_list),
              "dimensions": _dimension_stack(nc, ctx.peers, bench, dim_labels)}
    rows = records(frame[[c for c in _ROW_KEYS if c in frame.columns]])
    done = [_one_town(ctx, i, row, fcols[i], made[i], chosen[i][2])
            for i, row in enumerate(rows)]
    asks = [a for *_, plan in done for _, a in plan if isinstance(a, _Ask)]
    _solve_asks(model, nc, [a for a in asks if a.cands], info, ctx.peers, numer)
    _jumps(nc, asks, info)
    tables.update(
        category_gaps=_gap_stack([_gap_rows(nc, plan, info, n_levers) for *_, plan in done]),
        declared_failing=_declared_stack(ctx.trace, [fail for _, fail, _, _ in done]),
        missing=_missing_stack([miss for _, _, miss, _ in done]))
    out = [s for s, *_ in done]
    for name, stack in tables.items():
        for s, part in zip(out, stack.parts()):
            setattr(s, name, part)
    return out


def _field_labels(taxonomy, info, dim_labels) -> dict[str, dict[str, str]]:
    """``{field: {"zh", "en"}}`` of rule fields: the taxonomy's table over indicator and
    dimension labels."""
    out = {f"score_{d}": {"zh": f"{zh}得分", "en": f"{en} score"}
           for d, (zh, en) in dim_labels.items()}
    out["composite"] = {"zh": "综合得分", "en": "composite score"}
    out.update({k: {"zh": v.label_zh, "en": v.label_en} for k, v in info.items()})
    for k, v in (getattr(taxonomy, "fields", None) or {}).items():
        out[k] = {"zh": v.get("zh", k), "en": v.get("en", k)}
    return out


def _owners(codes: np.ndarray, frame_codes: np.ndarray) -> np.ndarray:
    """Frame position of each row keyed by ``codes`` (as :func:`_text` makes them): -1
    for a code that is unknown or repeated in the frame."""
    fc = pd.Series(frame_codes, dtype=object)
    unique = fc[(fc != "") & ~fc.duplicated(keep=False)]
    where = pd.Series(unique.index.to_numpy(), index=unique.to_numpy())
    return pd.Series(codes, dtype=object).map(where).fillna(-1).astype(int).to_numpy()


def _trace_owners(codes: np.ndarray, frame_codes: np.ndarray) -> np.ndarray:
    """Frame position of each trace row (``codes``: its towns' codes): by position for the
    town-major trace of :func:`classify.rules.classify_towns`, so towns without a code or
    with a repeated code keep their rules; else by code."""
    n, m = len(frame_codes), len(codes)
    if n and m and m % n == 0 and np.array_equal(codes, np.repeat(frame_codes, m // n)):
        return np.repeat(np.arange(n), m // n)
    return _owners(codes, frame_codes)


def _log_by_town(log: pd.DataFrame | None, labels: pd.Index, frame_codes: np.ndarray
                 ) -> dict[int, list[dict]]:
    """Records of the missing log by frame position of their town: by the log's
    ``position`` (the town's index label) when it has one, else by code."""
    if log is None or "town_code" not in log.columns:
        return {}
    where = pd.Series(np.arange(len(labels)), index=labels)
    if "position" in log.columns and where.index.is_unique:
        owner = log["position"].map(where).fillna(-1).astype(int).to_numpy()
    else:
        owner = _owners(_text(log["town_code"]), frame_codes)
    out: dict[int, list[dict]] = {}
    for rec, k in zip(records(log), owner):
        if k >= 0:
            out.setdefault(int(k), []).append(rec)
    return out


@dataclass
class _Context:
    """What every town's evidence is computed from (built once per :func:`suggest`)."""

    info: dict
    taxonomy: Any
    lang: str
    labels: dict
    dim_labels: dict
    numer: dict
    scales: dict
    allowed: set | None
    nc: _Cols
    peers: _Peers
    movers: dict
    trace: _Trace
    log_by: dict
    n_towns: int
    params: dict
    field_labels: dict


# frame columns a sheet reads (the rest of the frame is not turned into records)
_ROW_KEYS = ("town_code", "town", "county", "city", "category", "subtype", "secondary",
             "roles", "stability", "runner_up", "composite", "rank", "declared",
             "declared_target", "declared_status", "n_missing", "n_imputed", "review",
             "review_reason", "review_reason_en", "boundary_quality",
             "designations", "designations_en")


def _one_town(ctx: _Context, i: int, row: dict, fcol: str, made: list, leader: bool
              ) -> tuple[Suggestion, list[int], list[tuple], list]:
    """Town ``i``'s evidence but its tables, the trace rows of its declared category's
    failing rules, its missing-data rows and its category gaps' plan."""
    p, nc, code = ctx.params, ctx.nc, row["town_code"]
    target = nc.targets[i]
    ks = ctx.trace.rows(i)
    declared = _str(row, "declared") or None
    declared_target = _str(row, "declared_target") or _resolve_declared(
        declared, ctx.taxonomy, ctx.labels)
    relations = _relations(ctx.trace, ks, target, declared_target,
                           _str(row, "runner_up") or None, p["near_margin"], ctx.allowed)
    status = _str(row, "declared_status") or _declared_status(ctx.trace, ks,
                                                              declared_target, target)
    plan = _gap_plan(nc, i, ctx.trace, ks, relations, ctx.scales, ctx.info, ctx.numer,
                     ctx.movers)
    s = Suggestion(
        town_code=code, town=_str(row, "town"), county=_str(row, "county"),
        city=_str(row, "city"), target=target, category=_str(row, "category") or None,
        subtype=_str(row, "subtype") or None, labels=ctx.labels,
        secondary=_split(row.get("secondary")), roles=_split(row.get("roles")),
        confidence=_num(row, "stability"), runner_up=_str(row, "runner_up") or None,
        composite=_num(row, "composite"), rank=_num(row, "rank"), n_towns=ctx.n_towns,
        focus=fcol, is_leader=leader, strengths=None, weaknesses=None,
        benchmarks=[] if leader else made, challengers=made if leader else [],
        dimensions=None, category_gaps=None, declared=declared,
        declared_target=declared_target, declared_status=status, declared_failing=None,
        missing=None, lang=ctx.lang,
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
    fail = ctx.trace.failing(ks, declared_target or "\0")
    missing = _missing_table(ctx.peers, i, ctx.info, ctx.log_by.get(i, []), ctx.trace, ks,
                             _num(row, "n_imputed"))
    return s, fail, missing, plan
