"""Outlier treatment and normalisation, as scikit-learn transformers.

Fitted once on a reference table and reused on new data (next year's table), so scores
stay comparable: ``MinMaxNormaliser(directions=["+", "-"]).fit(X_2024).transform(X_2025)``
uses 2024's min and max.  Missing values (NaN) are ignored when fitting and stay NaN.
Directions: ``"+"`` (more is better) or ``"-"`` (less is better); every normaliser
(registry :data:`NORMALISERS`) returns values where higher is better, and maps a constant
column (no information) to 50 (``zscore``: 0).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from classify.config import OUTLIERS, TRANSFORMS
from classify.errors import ConfigError

__all__ = ["MinMaxNormaliser", "ZScoreNormaliser", "RankNormaliser", "TargetNormaliser",
           "OutlierTreatment", "NORMALISERS", "get_normaliser", "BOUNDED",
           "MIN_VALUES_FOR_OUTLIERS"]

#: Fewest values of an indicator for the automatic outlier treatment (winsorisation, or the
#: log transform in its place).  Below it a "skewed" column is just a few towns of
#: different size, so the values are used as they are (recorded as skipped).
MIN_VALUES_FOR_OUTLIERS = 20


_SIGNS = {"+": 1.0, "+1": 1.0, 1: 1.0, "-": -1.0, "−": -1.0, "-1": -1.0, -1: -1.0}


def _signs(directions, n: int) -> np.ndarray:
    d = ["+"] * n if directions is None else list(directions)
    if len(d) != n:
        raise ConfigError(f"{len(d)} directions given for {n} indicators; give one '+' or '-' "
                          "per indicator", key="indicators.<id>.direction")
    for x in d:
        if x not in _SIGNS:
            raise ConfigError(f"direction {x!r} is not '+' or '-'",
                              key="indicators.<id>.direction")
    return np.array([_SIGNS[x] for x in d])


def has_range(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Where ``hi − lo`` is a range, not float noise (1e-9 of the values' size): noise,
    stretched to 0–100, would depend on the row order."""
    return hi - lo > 1e-9 * np.maximum(1.0, np.maximum(np.abs(hi), np.abs(lo)))


class NaNInput:
    """Mixin of the estimators here and in :mod:`classify.weighting`: float input, in which
    NaN (a missing value) is valid — validated, and tagged for scikit-learn's checks."""

    def _validate(self, X, reset=True):
        return validate_data(self, X, reset=reset, dtype=np.float64,
                             ensure_all_finite="allow-nan")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


class _Columnwise(NaNInput, OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Shared transform plumbing, column by column."""

    def transform(self, X):
        check_is_fitted(self)
        return self._transform(self._validate(X, reset=False))

    def transform_columns(self, X, columns) -> np.ndarray:
        """:meth:`transform` of a float matrix ``X`` that holds only the fitted columns
        ``columns`` (positions, in that order): exactly the numbers :meth:`transform`
        gives for them (e.g. to re-score one changed column of many rows)."""
        check_is_fitted(self)
        return self._transform(np.asarray(X, dtype=np.float64), np.asarray(columns))


class _Normaliser(_Columnwise):
    """Directions and the fitted parameters of each normaliser."""

    def fit(self, X, y=None):
        X = self._validate(X, reset=True)
        self.signs_ = _signs(self.directions, X.shape[1])
        self._fit(X)
        return self


class MinMaxNormaliser(_Normaliser):
    """Min–max to 0–100: ``100 (x − min) / (max − min)`` (for ``-``: ``max − x`` on top); a
    range of float noise (below 1e-9 of the values' size) counts as none.

    Parameters
    ----------
    directions : sequence of "+"/"-", optional
        One per column; default all ``"+"``.
    clip : bool, default False
        Clip transformed values of new data to 0–100.

    Attributes
    ----------
    min_, max_ : ndarray
        Reference minimum and maximum per column.
    """

    bounded = True

    def __init__(self, directions=None, clip=False):
        self.directions = directions
        self.clip = clip

    @staticmethod
    def _fit_stats(X):
        allnan = np.isnan(X).all(axis=0)
        Xf = np.where(allnan, 0.0, X)
        return np.nanmin(Xf, axis=0), np.nanmax(Xf, axis=0)

    def _fit(self, X):
        self.min_, self.max_ = self._fit_stats(X)

    def _transform(self, X, cols=slice(None)):
        lo, hi = self.min_[cols], self.max_[cols]
        spread = has_range(lo, hi)       # else constant (e.g. a dimension that cancels out)
        up = (X - lo) / np.where(spread, hi - lo, 1.0)
        z = 100.0 * np.where(self.signs_[cols] > 0, up, 1.0 - up)
        z = np.where(spread, z, np.where(np.isnan(X), np.nan, 50.0))
        return np.clip(z, 0, 100) if self.clip else z


class ZScoreNormaliser(_Normaliser):
    """Standard scores ``sign · (x − mean) / std`` (population std, as ``StandardScaler``);
    not bounded: scoring rescales the dimension scores to 0–100.

    Attributes
    ----------
    mean_, scale_ : ndarray
    """

    bounded = False

    def __init__(self, directions=None):
        self.directions = directions

    def _fit(self, X):
        X = np.where(np.isnan(X).all(axis=0), 0.0, X)     # all missing: mean and std 0
        with np.errstate(all="ignore"):
            self.mean_ = np.nan_to_num(np.nanmean(X, axis=0))
            self.scale_ = np.nan_to_num(np.nanstd(X, axis=0))

    def _transform(self, X, cols=slice(None)):
        scale = self.scale_[cols]
        safe = np.where(scale > 0, scale, 1.0)
        z = self.signs_[cols] * (X - self.mean_[cols]) / safe
        return np.where(scale > 0, z, np.where(np.isnan(X), np.nan, 0.0))


class RankNormaliser(_Normaliser):
    """Percentile among the reference values, ``100 (r − 1) / (n − 1)`` with ``r`` the
    average rank (ties share a rank).

    New values between reference values get an interpolated position; values beyond the
    reference range are clipped to 0 or 100.

    Attributes
    ----------
    reference_ : list of ndarray
        Sorted non-missing reference values per column.
    """

    bounded = True

    def __init__(self, directions=None):
        self.directions = directions

    def _fit(self, X):
        self.reference_ = [np.sort(c[~np.isnan(c)]) for c in X.T]

    def _transform(self, X, cols=slice(None)):
        out = np.full(X.shape, np.nan)
        for k, j in enumerate(np.arange(len(self.reference_))[cols].tolist()):
            ref = self.reference_[j]
            n = ref.size
            x = X[:, k]
            ok = ~np.isnan(x)
            if n < 2 or ref[0] == ref[-1]:
                out[ok, k] = 50.0
                continue
            lo = np.searchsorted(ref, x[ok], side="left")
            hi = np.searchsorted(ref, x[ok], side="right")
            r = lo + (hi - lo + 1) / 2.0          # average 1-based rank
            p = np.clip(100.0 * (r - 1.0) / (n - 1.0), 0.0, 100.0)
            out[ok, k] = p if self.signs_[j] > 0 else 100.0 - p
        return out


class TargetNormaliser(_Normaliser):
    """Distance to a target, 0–100: ``100 (x − worst) / (target − worst)``, clipped;
    ``worst`` is the worst reference value, ``target`` defaults to the best (then it
    equals min–max).

    Parameters
    ----------
    directions : sequence of "+"/"-", optional
    targets : sequence of float or None, optional
        One per column (in the units of the data as given to ``fit``); ``None`` — the
        best reference value.

    Attributes
    ----------
    worst_, target_ : ndarray
    """

    bounded = True

    def __init__(self, directions=None, targets=None):
        self.directions = directions
        self.targets = targets

    def _fit(self, X):
        lo, hi = MinMaxNormaliser._fit_stats(X)
        self.worst_ = np.where(self.signs_ > 0, lo, hi)
        best = np.where(self.signs_ > 0, hi, lo)
        t = [None] * X.shape[1] if self.targets is None else list(self.targets)
        if len(t) != X.shape[1]:
            raise ConfigError(f"{len(t)} targets given for {X.shape[1]} indicators",
                              key="indicators.<id>.target")
        self.target_ = np.array([b if v is None or (isinstance(v, float) and np.isnan(v))
                                 else float(v) for v, b in zip(t, best)])

    def _transform(self, X, cols=slice(None)):
        worst = self.worst_[cols]
        span = self.target_[cols] - worst
        safe = np.where(span != 0, span, 1.0)
        z = np.clip(100.0 * (X - worst) / safe, 0.0, 100.0)
        return np.where(span != 0, z, np.where(np.isnan(X), np.nan, 50.0))


NORMALISERS: dict[str, type[_Normaliser]] = {
    "minmax": MinMaxNormaliser,
    "zscore": ZScoreNormaliser,
    "rank": RankNormaliser,
    "target": TargetNormaliser,
}
BOUNDED = {k: v.bounded for k, v in NORMALISERS.items()}


def get_normaliser(name: str, **params) -> _Normaliser:
    """A normaliser by registry name; the error lists the valid names."""
    try:
        cls = NORMALISERS[name]
    except KeyError:
        raise ConfigError(f"unknown normalisation {name!r}; choose one of "
                          f"{', '.join(NORMALISERS)}", key="methods.normalisation") from None
    return cls(**params)


# ------------------------------------------------------------------------ skew and outliers

def _skew_kurt(x: np.ndarray) -> tuple[float, float]:
    """Sample skewness G1 and excess kurtosis G2 (as scipy.stats' ``skew`` / ``kurtosis``
    with ``bias=False``); 0 for < 4 values or no spread."""
    x = x[~np.isnan(x)]
    n = x.size
    if n < 4 or np.ptp(x) == 0:
        return 0.0, 0.0
    d = (x - x.mean()) / np.abs(x).max()          # scaled first: no overflow for huge units
    m2, m3, m4 = (d ** 2).mean(), (d ** 3).mean(), (d ** 4).mean()
    if m2 <= 0:
        return 0.0, 0.0
    g1 = np.sqrt(n * (n - 1)) / (n - 2) * m3 / m2 ** 1.5
    g2 = (n - 1) / ((n - 2) * (n - 3)) * ((n + 1) * m4 / m2 ** 2 - 3 * (n - 1))
    return float(g1), float(g2)


class OutlierTreatment(_Columnwise):
    """Per-indicator transform and JRC outlier treatment, recorded.

    For ``transform="auto"`` and ``rule="jrc"`` (the JRC/COIN rule): when an indicator
    has |skewness| > ``skew`` and (excess) kurtosis > ``kurt``, its most extreme values
    (on the side of the skew) are winsorised one at a time — set to the next value — up to
    ``max_winsor`` values, stopping as soon as the rule no longer holds.  If the rule
    still holds after that (and the skew is positive), winsorisation is undone and the
    indicator is log-transformed instead.

    ``log`` is ``ln(x − min + m)`` with ``m`` the smallest positive ``x − min``
    (``ln x`` when all values are positive) and ``asinh`` is ``asinh(x / s)`` with ``s`` the
    median of the non-zero ``|x|``: both are fitted so that rescaling a column's unit
    (万元 → 元) does not change any min–max or rank score.

    The automatic treatment needs at least ``min_values`` values in the column
    (:data:`MIN_VALUES_FOR_OUTLIERS`, 20); with fewer, ``auto`` is ``none`` and the record
    says ``skipped``.  An explicit ``log`` / ``asinh`` is always applied.

    Parameters
    ----------
    transforms : sequence of str, optional
        Per column: ``auto``, ``none``, ``log`` or ``asinh``; default all ``auto``.
    rule : {"jrc", "none"}
        ``none`` makes ``auto`` equal to ``none``.
    min_values : int, default :data:`MIN_VALUES_FOR_OUTLIERS`
    max_winsor : int, default 5
    skew, kurt : float, default 2.0 and 3.5

    Attributes
    ----------
    actions_ : list of str
        Per column: ``none``, ``winsorised``, ``log``, ``asinh``.
    lower_, upper_ : ndarray
        Winsorisation caps (±inf when none).
    shift_, scale_ : ndarray
        Parameters of ``log`` / ``asinh``.
    record_ : list of dict
        Per column: the action, number of values winsorised, caps, skewness and kurtosis
        before and after.
    """

    def __init__(self, transforms=None, rule="jrc", max_winsor=5, skew=2.0, kurt=3.5,
                 min_values=MIN_VALUES_FOR_OUTLIERS):
        self.transforms = transforms
        self.rule = rule
        self.min_values = min_values
        self.max_winsor = max_winsor
        self.skew = skew
        self.kurt = kurt

    def _flagged(self, x):
        s, k = _skew_kurt(x)
        # rounded so that float noise (e.g. after 万元 → 元) cannot flip a borderline case
        return round(abs(s), 9) > self.skew and round(k, 9) > self.kurt, s, k

    def fit(self, X, y=None):
        X = self._validate(X, reset=True)
        n = X.shape[1]
        tr = ["auto"] * n if self.transforms is None else list(self.transforms)
        if len(tr) != n:
            raise ConfigError(f"{len(tr)} transforms for {n} indicators",
                              key="indicators.<id>.transform")
        if self.rule not in OUTLIERS:
            raise ConfigError(f"unknown outlier rule {self.rule!r}; choose 'jrc' or 'none'",
                              key="methods.outliers")
        self.actions_, self.record_ = [], []
        self.lower_, self.upper_ = np.full(n, -np.inf), np.full(n, np.inf)
        self.shift_, self.scale_ = np.zeros(n), np.ones(n)
        for j in range(n):
            self._fit_column(j, X[:, j], tr[j])
        return self

    def _fit_column(self, j, x, requested):
        flagged, s0, k0 = self._flagged(x)
        action, nw = "none", 0
        if requested not in TRANSFORMS:
            raise ConfigError(f"unknown transform {requested!r}; choose auto, none, log, asinh",
                              key="indicators.<id>.transform")
        n_values = int(np.sum(~np.isnan(x)))
        auto = requested == "auto" and self.rule == "jrc"
        skipped = auto and n_values < self.min_values   # too few towns to call any an outlier
        if auto and flagged and not skipped:
            nw, lo, hi, still = self._winsorise(x, s0)
            if still and s0 > 0:
                action = "log"
            else:
                action = "winsorised"
                self.lower_[j], self.upper_[j] = lo, hi
        elif requested in ("log", "asinh"):
            action = requested
        if action == "log":
            self._fit_log(j, x)
        elif action == "asinh":
            nz = np.abs(x[~np.isnan(x) & (x != 0)])
            self.scale_[j] = float(np.median(nz)) if nz.size else 1.0
        self.actions_.append(action)
        s1, k1 = _skew_kurt(self._apply(j, x, action))
        self.record_.append({"transform": requested, "action": action,
                             "n_winsorised": nw if action == "winsorised" else 0,
                             "skipped": (f"too few values ({n_values} < {self.min_values})"
                                         if skipped else ""),
                             "cap_low": self.lower_[j], "cap_high": self.upper_[j],
                             "skew_before": s0, "kurt_before": k0,
                             "skew_after": s1, "kurt_after": k1})

    def _winsorise(self, x, s0):
        v = x[~np.isnan(x)]
        lo, hi = -np.inf, np.inf
        order = np.sort(v)[::-1] if s0 > 0 else np.sort(v)
        still = True
        for k in range(1, min(self.max_winsor, v.size - 1) + 1):
            cap = order[k]
            w = np.minimum(v, cap) if s0 > 0 else np.maximum(v, cap)
            count = int(np.sum(w != v))
            if count > self.max_winsor:
                break
            lo, hi = (-np.inf, cap) if s0 > 0 else (cap, np.inf)
            still, _, _ = self._flagged(w)
            if not still:
                break
        nw = int(np.sum((v > hi) | (v < lo)))
        return nw, lo, hi, still

    def _fit_log(self, j, x):
        v = x[~np.isnan(x)]
        lo = float(v.min()) if v.size else 0.0
        if lo > 0:
            self.shift_[j] = 0.0
        else:
            pos = v - lo
            pos = pos[pos > 0]
            self.shift_[j] = -lo + (float(pos.min()) if pos.size else 1.0)
        self.lower_[j] = lo  # new data below the reference minimum is clipped to it

    def _apply(self, j, x, action):
        x = np.clip(x, self.lower_[j], self.upper_[j])
        if action == "log":
            return np.log(x + self.shift_[j])
        if action == "asinh":
            return np.arcsinh(x / self.scale_[j])
        return x

    def _transform(self, X, cols=slice(None)):
        out = np.empty_like(X)
        for k, j in enumerate(np.arange(len(self.actions_))[cols].tolist()):
            out[:, k] = self._apply(j, X[:, k], self.actions_[j])
        return out

    def transform_value(self, j: int, value: float) -> float:
        """Transform one value of column ``j`` (e.g. a target) like the data."""
        return float(self._apply(j, np.array([value], dtype=float), self.actions_[j])[0])
