"""Indicators → dimension scores, composite and ranks.

Steps (each recorded): missing values (left out and re-weighted within the dimension, or
imputed from the county median) → per-indicator transform / JRC outlier treatment →
normalisation (higher is better) → weights within each dimension → dimension scores
``score_<dim>`` (0–100) → weights across dimensions → ``composite`` → ``rank`` (1 = best)
and ``rank_county``.  With an unbounded normalisation (``zscore``) dimension scores are
rescaled to 0–100 by the reference minimum and maximum (stored in the model).

Example
-------
>>> res = score(ind, load_system(), weighting="entropy", county=frame["county"])  # doctest: +SKIP
>>> res.scores[["score_industry", "composite", "rank"]]                            # doctest: +SKIP
>>> next_year = res.model.transform(ind_2025, county=frame_2025["county"])        # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from classify.config import AGGREGATIONS, IndicatorSystem, load_system
from classify.errors import ConfigError
from geo.errors import InputWarning
from classify.normalise import (BOUNDED, MIN_VALUES_FOR_OUTLIERS, MinMaxNormaliser,
                                OutlierTreatment, get_normaliser, has_range)
from classify.weighting import get_weighter

__all__ = ["score", "Scorer", "ScoreResult", "ScoreModel", "aggregate", "block_matrix",
           "rank_desc", "impute_county_median", "AGGREGATIONS", "county_key", "known"]

#: Below this many towns a run is told that its categories are relative to these towns only
#: (percentile thresholds and min–max scores say where a town stands among the others).
SMALL_REGION = 20
#: Columns of :func:`classify.indicators.check_values`'s report.
VALUE_CHECK_COLUMNS = ["row", "column", "town_code", "town", "indicator", "value", "unit",
                       "check", "problem_zh", "problem_en", "action"]


def known(values) -> pd.Series:
    """Text keys with blanks (``None``, NaN, ``""``, ``"nan"`` …) as ``<NA>`` (string dtype);
    a Series keeps its index."""
    s = pd.Series(values).astype("string").str.strip()
    return s.mask(s.isin(["", "nan", "NaN", "None", "<NA>"]))


def county_key(frame: pd.DataFrame, level: str = "county") -> pd.Series | None:
    """The county (or other ``level``: ``city``) each town is grouped by for ranks, peers
    and reference regions within it.

    Its ``county_code`` where known, else its county name; ``<NA>`` when neither is known.
    **Rule**: a town of unknown county belongs to no county group — it gets no rank within
    the county (``rank_county`` empty), is nobody's same-county peer, and county-median
    imputation falls back to the region median for it.  ``None`` when the frame has
    neither column.
    """
    cols = [c for c in (f"{level}_code", level) if c in frame.columns]
    if not cols:
        return None
    key = pd.Series(pd.NA, index=frame.index, dtype="string")
    for c in cols:
        key = key.fillna(("code:" if c.endswith("_code") else "name:") + known(frame[c]))
    return key.rename("county_key")


def block_matrix(w_in: np.ndarray, dim_index: np.ndarray, n_dims: int) -> np.ndarray:
    """(k, D) matrix with indicator *j*'s weight in the column of its dimension."""
    W = np.zeros((len(w_in), n_dims))
    W[np.arange(len(w_in)), dim_index] = w_in
    return W


def aggregate(Z: np.ndarray, W: np.ndarray, how: str = "arithmetic") -> np.ndarray:
    """Weighted aggregation with re-weighting over the values present.

    Arithmetic: ``Σ w z / Σ w``; geometric: ``exp(Σ w ln(z + 1) / Σ w) − 1`` (a 0 on one
    item does not zero the result, which stays in 0–100).  The sums run over the items a
    town has: a missing one is left out and the others' weights rescaled.

    Parameters
    ----------
    Z : ndarray (n, k)
        Values 0–100 (NaN = missing).
    W : ndarray (k, D)
        Weights; column *d* holds the weights of the items making up output *d*.
    how : {"arithmetic", "geometric"}

    Returns
    -------
    ndarray (n, D); NaN where a town has none of the items of an output.
    """
    if how not in AGGREGATIONS:
        raise ConfigError(f"unknown aggregation {how!r}; choose arithmetic or geometric",
                          key="methods.aggregation")
    ok = ~np.isnan(Z)
    Zf = np.where(ok, Z, 0.0)
    if how == "geometric":
        Zf = np.log1p(np.clip(Zf, 0.0, None))
    num = Zf @ W
    den = ok.astype(float) @ W
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return np.expm1(out) if how == "geometric" else out


def rank_desc(values: pd.Series, groups: pd.Series | None = None) -> pd.Series:
    """Rank 1 = highest value (ties share the best rank); missing values get no rank.

    Values are compared at 9 decimals, so that equal scores reached by different float
    paths (e.g. another row order) tie.  With ``groups``, a town whose group is missing
    (unknown county) gets no rank: it belongs to no group.
    """
    values = values.round(9)
    if groups is None:
        r = values.rank(ascending=False, method="min")
    else:
        g = known(groups.reindex(values.index))
        r = values.groupby(g, dropna=True).rank(ascending=False, method="min")
        r = r.reindex(values.index)
    return r.astype("Int64")


def impute_county_median(X: pd.DataFrame, county: pd.Series | None) -> tuple[pd.DataFrame,
                                                                             pd.Series]:
    """Fill missing values with the county median (the region median where the county
    has no value, or the town's county is unknown).  Returns the filled frame and the
    number imputed per town."""
    miss = X.isna()
    if county is not None:
        g = known(county.reindex(X.index))
        med = X.groupby(g, dropna=True).transform("median").reindex(X.index)
        filled = X.fillna(med)
    else:
        filled = X
    filled = filled.fillna(X.median())
    n_imp = (miss & filled.notna()).sum(axis=1)
    return filled, n_imp


def _filled(X: pd.DataFrame, missing: str, county) -> tuple[pd.DataFrame, pd.Series]:
    """``X`` imputed when ``missing`` says so, and the number imputed per town."""
    if missing == "impute_county_median":
        return impute_county_median(X, county)
    return X, pd.Series(0, index=X.index)


@dataclass
class ScoreModel:
    """Everything fitted by :func:`score`; ``transform`` scores a new table comparably."""

    indicators: list[str]
    dims: list[str]
    dim_index: np.ndarray
    directions: list[str]
    treatment: OutlierTreatment
    normaliser: object
    normalisation: str
    aggregation: str
    missing: str
    w_in: np.ndarray
    w_dim: np.ndarray
    dim_lo: np.ndarray | None = None
    dim_hi: np.ndarray | None = None

    def treated(self, indicators: pd.DataFrame, county=None) -> tuple[np.ndarray, pd.Series,
                                                                        pd.Series]:
        """Treated matrix (n, k) before normalisation, n_missing and n_imputed per town."""
        X = indicators.reindex(columns=self.indicators).astype(float)
        filled, n_imputed = _filled(X, self.missing, county)
        return self.treatment.transform(filled.to_numpy()), X.isna().sum(axis=1), n_imputed

    def normalised(self, indicators: pd.DataFrame, county=None) -> tuple[np.ndarray, pd.Series,
                                                                           pd.Series]:
        """Treated and normalised matrix (n, k), n_missing and n_imputed per town."""
        T, n_missing, n_imputed = self.treated(indicators, county)
        return self.normaliser.transform(T), n_missing, n_imputed

    def dim_scores(self, Z: np.ndarray) -> np.ndarray:
        S = aggregate(Z, block_matrix(self.w_in, self.dim_index, len(self.dims)),
                      self.aggregation)
        if self.dim_lo is not None:
            # a dimension whose indicators cancel out (the same values with opposite
            # directions) has a span of float noise: no span (0), not amplified noise
            spread = has_range(self.dim_lo, self.dim_hi)
            span = np.where(spread, self.dim_hi - self.dim_lo, 1.0)
            S = np.where(spread, 100.0 * (S - self.dim_lo) / span,
                         np.where(np.isnan(S), np.nan, 0.0))
        return S

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Columns :meth:`transform` returns that hold scores."""
        return np.array([f"score_{d}" for d in self.dims] + ["composite"], dtype=object)

    def transform(self, indicators: pd.DataFrame, county: pd.Series | None = None
                  ) -> pd.DataFrame:
        """Scores of ``indicators`` with the fitted transforms and weights."""
        Z, n_missing, n_imputed = self.normalised(indicators, county)
        S, comp = self._aggregated(Z)
        return _score_frame(indicators.index, self.dims, S, comp, county, n_missing, n_imputed)

    def score_array(self, X: np.ndarray) -> np.ndarray:
        """The numbers of :meth:`transform` (``score_<dim>`` …, ``composite``: the columns
        of :meth:`get_feature_names_out`) for a matrix ``X`` whose columns are
        :attr:`indicators`, without its table, ranks and counts: for callers that score
        millions of rows (the gap search).  Only for a model that leaves missing values
        out (``missing="impute_county_median"`` needs the counties: use
        :meth:`transform`).
        """
        if self.missing == "impute_county_median":
            raise ValueError("score_array cannot impute county medians; use transform")
        T = self.treatment.transform(np.asarray(X, dtype=float))
        S, comp = self._aggregated(self.normaliser.transform(T))
        return np.column_stack([S, comp])

    def weights_table(self, method: str) -> pd.DataFrame:
        """``weights.csv``: each indicator's overall weight and its two factors."""
        return pd.DataFrame({
            "indicator": self.indicators,
            "dimension": [self.dims[d] for d in self.dim_index],
            "weight": self.w_in * self.w_dim[self.dim_index],
            "weight_in_dimension": self.w_in,
            "dimension_weight": self.w_dim[self.dim_index],
            "method": method,
        })

    def _aggregated(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        S = self.dim_scores(Z)
        return S, aggregate(S, self.w_dim[:, None], self.aggregation)[:, 0]


def _score_frame(index, dims, S, comp, county, n_missing, n_imputed) -> pd.DataFrame:
    out = pd.DataFrame(S, index=index, columns=[f"score_{d}" for d in dims])
    out["composite"] = comp
    out["rank"] = rank_desc(out["composite"])
    if county is not None:
        out["rank_county"] = rank_desc(out["composite"], county)
    out["n_missing"] = n_missing.astype(int)
    out["n_imputed"] = n_imputed.astype(int)
    return out


@dataclass
class ScoreResult:
    """Output of :func:`score`.

    Attributes
    ----------
    scores : DataFrame
        ``score_<dim>`` (0–100), ``composite``, ``rank``, ``rank_county`` (when a county
        was given), ``n_missing`` (values left out or imputed), ``n_imputed``.
    weights : DataFrame
        ``weights.csv``: ``indicator, dimension, weight, weight_in_dimension,
        dimension_weight, method``.
    model : ScoreModel
        Fitted; ``model.transform(next_year)`` scores another table comparably.
    treatment : DataFrame
        Per indicator: requested transform, action taken (``none``/``winsorised``/``log``/
        ``asinh``), values winsorised, caps, skewness and kurtosis before and after.
    excluded : DataFrame
        Indicators of the system that were not scored: ``indicator, reason, reason_zh,
        kind`` (``kind``: ``absent`` — no column, ``empty`` — no value in any town,
        ``constant`` — one value for all, ``weight`` — weight 0).
    dimensions : DataFrame
        Per dimension: ``dimension, label_zh, label_en, n_indicators`` (scored),
        ``n_towns_with_data, n_towns, status`` (``assessed`` / ``partly`` — some towns have
        no value / ``no data`` — no town has one), ``not_scored`` (``;``-joined ids).
    messages : list of (zh, en)
        What the console and ``run.json`` should say: indicators dropped (empty, constant),
        dimensions with no data, outlier treatment skipped, a small region.
    reference : dict or None
        When an earlier run's model was applied (:func:`classify.model_io.apply_model`):
        its file, sha256 and the values beyond its range; None when fitted here.
    """

    scores: pd.DataFrame
    weights: pd.DataFrame
    model: ScoreModel
    treatment: pd.DataFrame = field(default_factory=pd.DataFrame)
    excluded: pd.DataFrame = field(default_factory=pd.DataFrame)
    dimensions: pd.DataFrame = field(default_factory=pd.DataFrame)
    messages: list = field(default_factory=list)
    #: :func:`classify.indicators.check_values`'s report, when the pipeline made one
    value_checks: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=VALUE_CHECK_COLUMNS))
    reference: dict | None = None


def _select(indicators: pd.DataFrame, system: IndicatorSystem):
    cols, excluded = [], []
    for ind in system.scored:
        if ind.id not in indicators.columns:
            excluded.append((ind.id, "not in the table", "表中无此列", "absent"))
            continue
        if ind.weight == 0:
            excluded.append((ind.id, "weight 0 in the config", "配置中权重为 0", "weight"))
            continue
        x = pd.to_numeric(indicators[ind.id], errors="raise").astype(float)
        if x.notna().sum() == 0:
            excluded.append((ind.id, "empty: no value for any town", "全部缺失", "empty"))
            continue
        if x.nunique(dropna=True) < 2:
            excluded.append((ind.id, "no variation (fewer than two distinct values)",
                             f"各镇数值相同（{x.dropna().iloc[0]:g}），无区分度", "constant"))
            continue
        cols.append(ind)
    return cols, pd.DataFrame(excluded, columns=["indicator", "reason", "reason_zh", "kind"])


def _dimension_table(system: IndicatorSystem, inds, excluded: pd.DataFrame,
                     S: np.ndarray, dims: list[str]) -> pd.DataFrame:
    n = S.shape[0]
    have = np.sum(~np.isnan(S), axis=0)
    meta = [system.dimension(d) for d in dims]
    dim_of = {i: system.get(i).dimension for i in excluded["indicator"]}
    return pd.DataFrame({
        "dimension": dims, "label_zh": [m.label_zh for m in meta],
        "label_en": [m.label_en or d for m, d in zip(meta, dims)],
        "n_indicators": [sum(i.dimension == d for i in inds) for d in dims],
        "n_towns_with_data": have, "n_towns": n,
        "status": np.select([have == 0, have < n], ["no data", "partly"], "assessed"),
        "not_scored": [";".join(i for i, of in dim_of.items() if of == d) for d in dims]})


def score_messages(system: IndicatorSystem, excluded: pd.DataFrame, dimensions: pd.DataFrame,
                   treatment: pd.DataFrame, n_towns: int) -> list[tuple[str, str]]:
    """What was not measured, as (zh, en) lines: dropped indicators (empty or constant;
    absent ones are said per dimension), dimensions with no data for every or some
    towns, outlier treatment skipped for a small sample, a small region."""
    out = []
    for r in excluded.itertuples():
        if r.kind not in ("empty", "constant"):
            continue
        ind = system.get(r.indicator)
        out.append((f"指标未参与评价（indicator dropped）：{ind.label_zh}（{r.indicator}）——"
                    f"{r.reason_zh}", f"indicator dropped: {ind.label_en or r.indicator} "
                    f"({r.indicator}) — {r.reason}"))
    for r in dimensions.itertuples():
        if r.status == "no data":
            out.append((f"维度无数据，未评价（dimension not assessed, no data）：{r.label_zh}"
                        f"（{r.dimension}）",
                        f"dimension not assessed (no data for any town): {r.label_en} "
                        f"({r.dimension})"))
        elif r.status == "partly":
            k = r.n_towns - r.n_towns_with_data
            out.append((f"维度 {r.label_zh}（{r.dimension}）有 {k} 个镇街无数据（no data），"
                        "这些镇街该维度未评价",
                        f"dimension {r.label_en} ({r.dimension}): no data for {k} of "
                        f"{r.n_towns} towns, not assessed for them"))
    skipped = int((treatment["skipped"] != "").sum())
    if skipped:
        m = MIN_VALUES_FOR_OUTLIERS
        out.append((f"样本少于 {m} 个镇街，未做离群值处理（outlier treatment skipped: fewer "
                    f"than {m} values）：{skipped} 个指标按原值计分",
                    f"outlier treatment (winsorisation) skipped: fewer than {m} values "
                    f"for {skipped} indicators, scored as they are"))
    if 0 < n_towns < SMALL_REGION:
        out.append((f"仅 {n_towns} 个镇街：分类只是相对于这些镇街而言（categories are "
                    "relative to these towns only），不宜与其他地区比较",
                    f"only {n_towns} towns: categories are relative to these towns only, "
                    "not comparable with other regions"))
    return out


def _weights_in(M: np.ndarray, inds, dim_index, method) -> np.ndarray:
    w = np.zeros(len(inds))
    for d in np.unique(dim_index):
        idx = np.flatnonzero(dim_index == d)
        params = {"weights": [inds[j].weight for j in idx]} if method == "expert" else {}
        w[idx] = get_weighter(method, **params).fit(M[:, idx]).weights_
    return w


def _weights_dim(S: np.ndarray, dims, dim_index, system, method) -> np.ndarray:
    wd = np.zeros(len(dims))
    idx = np.unique(dim_index)           # the dimensions with a scored indicator
    if method == "expert":
        raw = [system.dimension(dims[d]).weight for d in idx]
        if sum(raw) <= 0:
            raise ConfigError("every dimension with indicators has weight 0",
                              key="dimensions.<id>.weight", path=system.path)
        wd[idx] = np.asarray(raw) / sum(raw)
        return wd
    Sm = MinMaxNormaliser().fit(S[:, idx]).transform(S[:, idx])
    wd[idx] = get_weighter(method).fit(Sm).weights_
    return wd


def _warn_equal_expert(system: IndicatorSystem) -> None:
    """Expert weighting with every weight left at its default is equal weighting: say so."""
    if "expert" not in (system.methods.weighting, system.across):
        return
    weights = {i.weight for i in system.scored} | {d.weight for d in system.dimensions}
    if len(weights) == 1:
        warnings.warn("expert weighting, but every indicator and dimension weight is the same "
                      f"({weights.pop()}): this is equal weighting. Set "
                      "indicators.<id>.weight / dimensions.<id>.weight in the config "
                      "(towntype init writes one to edit)", InputWarning, stacklevel=3)


def score(indicators: pd.DataFrame, system: IndicatorSystem | None = None, *,
          weighting: str | None = None, county: pd.Series | None = None,
          normalisation: str | None = None, aggregation: str | None = None,
          missing: str | None = None, dimension_weighting: str | None = None) -> ScoreResult:
    """Score towns: dimension scores, composite and ranks.

    Parameters
    ----------
    indicators : DataFrame
        From :func:`classify.indicators.build_indicators` (indicator ids as columns).
    system : IndicatorSystem, optional
        Default: the built-in system.
    weighting, normalisation, aggregation, missing : str, optional
        Override the system's ``[methods]`` (``None`` keeps them).  ``weighting`` applies
        within dimensions, and across them too unless ``dimension_weighting`` (or
        ``methods.dimension_weighting``) says otherwise; ``expert`` uses the config's
        weights.  With ``missing="reweight"`` a town with no value in a dimension has no
        ``score_<dim>`` (NaN) and its composite is re-weighted over its other dimensions.
    county : Series, optional
        County of each town (aligned on the index): adds ``rank_county`` and is the peer
        group for ``missing="impute_county_median"``.

    Raises
    ------
    classify.errors.ConfigError
        Unknown method, geometric aggregation with z-scores, no scorable indicator.
    """
    system = (system or load_system()).replace_methods(
        weighting=weighting, normalisation=normalisation, aggregation=aggregation,
        missing=missing, dimension_weighting=dimension_weighting)
    m = system.methods
    _warn_equal_expert(system)
    if m.aggregation == "geometric" and not BOUNDED[m.normalisation]:
        raise ConfigError("geometric aggregation needs non-negative scores; use it with "
                          "minmax, rank or target normalisation", key="methods.aggregation",
                          path=system.path)
    inds, excluded = _select(indicators, system)
    constant = excluded["kind"] == "constant"
    nothing_varies = not inds and constant.any()
    if nothing_varies:
        # one town, or towns all alike: nothing to compare.  The constant indicators are
        # scored (every normaliser maps a constant to 50) rather than nothing at all
        const = set(excluded.loc[constant, "indicator"])
        inds = [i for i in system.scored if i.id in const]
        excluded = excluded[~constant].reset_index(drop=True)
    if not inds:
        raise ConfigError("no indicator of the system can be scored: "
                          + "; ".join(f"{r.indicator}: {r.reason}" for r in excluded.itertuples()),
                          key="indicators", path=system.path)
    dims = [d.id for d in system.dimensions]
    dim_index = np.array([dims.index(i.dimension) for i in inds])
    directions = [i.direction for i in inds]
    X = indicators[[i.id for i in inds]].astype(float)
    # an indicator empty for every town is missing for every town (it was dropped)
    empty = [r.indicator for r in excluded.itertuples() if r.kind == "empty"]
    n_missing = X.isna().sum(axis=1) + indicators[empty].isna().sum(axis=1)
    X, n_imputed = _filled(X, m.missing, county)
    treat = OutlierTreatment([i.transform for i in inds], rule=m.outliers).fit(X.to_numpy())
    T = treat.transform(X.to_numpy())
    params = {"directions": directions}
    if m.normalisation == "target":
        params["targets"] = [None if i.target is None else treat.transform_value(j, i.target)
                             for j, i in enumerate(inds)]
    norm = get_normaliser(m.normalisation, **params).fit(T)
    Z = norm.transform(T)
    M = MinMaxNormaliser(directions=directions).fit(T).transform(T)
    w_in = _weights_in(M, inds, dim_index, m.weighting)
    model = ScoreModel([i.id for i in inds], dims, dim_index, directions, treat, norm,
                       m.normalisation, m.aggregation, m.missing, w_in, np.zeros(len(dims)))
    S = model.dim_scores(Z)
    if not BOUNDED[m.normalisation]:
        with np.errstate(all="ignore"):
            model.dim_lo, model.dim_hi = np.nanmin(S, axis=0), np.nanmax(S, axis=0)
        S = model.dim_scores(Z)
    model.w_dim = _weights_dim(S, dims, dim_index, system, system.across)
    comp = aggregate(S, model.w_dim[:, None], m.aggregation)[:, 0]
    scores = _score_frame(indicators.index, dims, S, comp, county, n_missing, n_imputed)
    weights = model.weights_table(m.weighting if system.across == m.weighting
                                  else f"{m.weighting} within, {system.across} across dimensions")
    treatment = pd.DataFrame(treat.record_, index=pd.Index(model.indicators, name="indicator"))
    dimensions = _dimension_table(system, inds, excluded, S, dims)
    messages = score_messages(system, excluded, dimensions, treatment, len(X))
    if nothing_varies:
        messages.insert(0, (f"{len(X)} 个镇街的指标无差异，无从比较（nothing to compare）："
                            "各维度得分均为 50，分类不反映差异",
                            f"the indicators of the {len(X)} town(s) do not differ: nothing "
                            "to compare, every score is 50 and the categories say nothing"))
    return ScoreResult(scores, weights, model, treatment.reset_index(), excluded,
                       dimensions=dimensions, messages=messages)


class Scorer(TransformerMixin, BaseEstimator):
    """:func:`score` as a scikit-learn estimator (fit on a reference table, transform any).

    Parameters
    ----------
    system : IndicatorSystem, optional
    weighting, normalisation, aggregation, missing, dimension_weighting : str, optional
        As for :func:`score`.

    Attributes
    ----------
    result_ : ScoreResult
        Of the reference table (weights, treatment, excluded indicators).
    model_ : ScoreModel

    Examples
    --------
    >>> sc = Scorer(weighting="entropy").fit(ind_2024, county=c_2024)   # doctest: +SKIP
    >>> sc.transform(ind_2025)                                         # doctest: +SKIP
    """

    def __init__(self, system=None, weighting=None, normalisation=None, aggregation=None,
                 missing=None, dimension_weighting=None):
        self.system = system
        self.weighting = weighting
        self.normalisation = normalisation
        self.aggregation = aggregation
        self.missing = missing
        self.dimension_weighting = dimension_weighting

    def fit(self, X: pd.DataFrame, y=None, county: pd.Series | None = None):
        self.result_ = score(X, self.system, weighting=self.weighting, county=county,
                             normalisation=self.normalisation, aggregation=self.aggregation,
                             missing=self.missing,
                             dimension_weighting=self.dimension_weighting)
        self.model_ = self.result_.model
        self.feature_names_in_ = np.asarray(self.model_.indicators, dtype=object)
        self.n_features_in_ = len(self.model_.indicators)
        return self

    def transform(self, X: pd.DataFrame, county: pd.Series | None = None) -> pd.DataFrame:
        check_is_fitted(self)
        return self.model_.transform(X, county)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self)
        return self.model_.get_feature_names_out()
