r"""Weighting methods (registry :data:`WEIGHTINGS`), scikit-learn style.

Each weighter is fitted on a matrix ``X`` (towns × indicators) of **min–max normalised,
direction-adjusted** values (0–100, higher is better; NaN = missing) and learns
``weights_`` (non-negative, summing to 1).  The same classes weight the indicators within
a dimension and the dimensions (then ``X`` holds the dimension scores).

Formulas (``x_ij`` the value of town *i* on indicator *j*, ``n_j`` the number of towns with
a value on *j*):

- **equal**: :math:`w_j = 1/k`.
- **expert**: the weights from the config, rescaled to sum to 1.
- **entropy** (熵权法):

  .. math::

     p_{ij} = x_{ij} / \sum_i x_{ij},\quad
     e_j = -\frac{1}{\ln n_j}\sum_i p_{ij}\ln p_{ij}\ (p\ln p := 0 \text{ at } p = 0),\quad
     d_j = 1 - e_j,\quad w_j = d_j / \sum_k d_k .

  A column with no spread (``Σ x = 0`` or constant) has ``d_j = 0``; if every ``d_j`` is 0
  the weights are equal.
- **CRITIC** (Diakoulaki et al., 1995):
  :math:`C_j = \sigma_j \sum_k (1 - r_{jk})`, :math:`w_j = C_j / \sum_k C_k`, with
  :math:`\sigma_j` the sample standard deviation (ddof = 1) and :math:`r_{jk}` Pearson
  correlations over the towns with both values (0 when undefined; within 1e-10 of ±1 taken
  as ±1) so that the weights do not depend on the order of the towns.
- **PCA** (OECD/JRC handbook, without rotation): standardise the columns (missing values
  set to the column mean), keep the components with eigenvalue > 1 (at least one); square
  the loadings and scale them to sum 1 per component; each indicator takes its largest
  scaled squared loading times that component's share of the retained variance; rescale
  to sum 1.

  The weights do not depend on the order of the towns: the components are the
  eigenvectors of the correlation matrix rounded to 10 decimals (so that sums taken in
  another row order give the same matrix, and tied eigenvalues the same basis), ordered
  by eigenvalue (rounded to 9 decimals; ties keep the solver's order) and signed as
  scikit-learn's ``svd_flip`` does (largest loading positive).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.extmath import svd_flip

from classify.errors import ConfigError
from classify.normalise import NaNInput

__all__ = ["EqualWeights", "ExpertWeights", "EntropyWeights", "CriticWeights", "PCAWeights",
           "WEIGHTINGS", "get_weighter"]


class _Weighter(NaNInput, BaseEstimator):
    def fit(self, X, y=None):
        """Learn ``weights_`` from ``X`` (towns × indicators); returns ``self``."""
        X = self._validate(X)
        w = np.asarray(self._weights(X), dtype=float) if X.shape[1] > 1 else np.ones(1)
        s = w.sum()
        self.weights_ = w / s if s > 0 and np.isfinite(s) else np.full(X.shape[1],
                                                                        1 / X.shape[1])
        return self


class EqualWeights(_Weighter):
    """Every column weighs the same."""

    def _weights(self, X):
        return np.ones(X.shape[1])


class ExpertWeights(_Weighter):
    """Weights given by the analyst (e.g. ``weight`` in the config), rescaled to sum 1.

    Parameters
    ----------
    weights : sequence of float
        One non-negative weight per column.
    """

    def __init__(self, weights=None):
        self.weights = weights

    def fit(self, X, y=None):
        k = self._validate(X).shape[1]
        w = np.ones(k) if self.weights is None else np.asarray(self.weights, dtype=float)
        if w.shape != (k,):
            raise ConfigError(f"{w.size} expert weights for {k} columns",
                              key="indicators.<id>.weight")
        if (w < 0).any() or not np.isfinite(w).all():
            raise ConfigError(f"expert weights must be finite and >= 0, found {w.tolist()}",
                              key="indicators.<id>.weight")
        if w.sum() <= 0:
            raise ConfigError("all expert weights are 0; give at least one positive weight",
                              key="indicators.<id>.weight")
        self.weights_ = w / w.sum()
        return self


class EntropyWeights(_Weighter):
    """Entropy weights (熵权法); see the module docstring for the formula.

    ``X`` must be non-negative (min–max normalised values).

    Attributes
    ----------
    entropy_, divergence_ : ndarray
        ``e_j`` and ``d_j = 1 − e_j`` per column.
    """

    def _weights(self, X):
        k = X.shape[1]
        e = np.ones(k)
        for j in range(k):
            x = X[:, j][~np.isnan(X[:, j])]
            if (x < 0).any():
                # the first words are scikit-learn's (its estimator checks look for them)
                raise ConfigError("Negative values in data passed to EntropyWeights: entropy "
                                  "weights need non-negative (min–max normalised) values; "
                                  f"column {j} has {x.min()}",
                                  key="methods.weighting")
            total = x.sum()
            if x.size < 2 or total <= 0:
                continue
            p = x / total
            plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
            e[j] = -plogp.sum() / np.log(x.size)
        self.entropy_ = e
        self.divergence_ = np.clip(1.0 - e, 0.0, None)
        return self.divergence_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        return tags


class CriticWeights(_Weighter):
    """CRITIC weights; see the module docstring.

    Attributes
    ----------
    std_ : ndarray
        Sample standard deviation per column.
    corr_ : ndarray
        Pairwise Pearson correlations (0 where undefined).
    information_ : ndarray
        ``C_j``.
    """

    def _weights(self, X):
        df = pd.DataFrame(X)
        std = np.nan_to_num(df.std(ddof=1).to_numpy())
        # snapped, so that sums taken in another row order cannot tell a perfect
        # correlation (C_j = 0) from 1 − 2e-16 (C_j > 0, and then all the weight), nor
        # a constant column from float noise
        top = std.max() if std.size else 0.0
        self.std_ = np.where(std > 1e-12 * top, std, 0.0)
        r = np.nan_to_num(df.corr(method="pearson").to_numpy())
        self.corr_ = np.where(np.abs(np.abs(r) - 1.0) < 1e-10, np.sign(r), r)
        np.fill_diagonal(self.corr_, 1.0)
        self.information_ = self.std_ * (1.0 - self.corr_).sum(axis=1)
        return self.information_


class PCAWeights(_Weighter):
    """PCA-based weights (OECD/JRC handbook procedure, unrotated); see module docstring.

    Attributes
    ----------
    explained_variance_ : ndarray
        Eigenvalues of the correlation matrix.
    n_components_ : int
        Components retained (eigenvalue > 1, at least 1).
    """

    def _weights(self, X):
        mean = np.nanmean(np.where(np.isnan(X).all(axis=0), 0.0, X), axis=0)
        Xf = np.where(np.isnan(X), mean, X)
        sd = Xf.std(axis=0)
        Z = np.where(sd > 0, (Xf - mean) / np.where(sd > 0, sd, 1), 0.0)
        if Z.shape[0] < 2 or not (sd > 0).any():
            return np.ones(X.shape[1])
        # the correlation matrix (population scaling), rounded: row order only changes
        # the last bits of its sums, and must not change the components
        C = np.round(Z.T @ Z / Z.shape[0], 10)
        ev, vec = np.linalg.eigh(C)
        ev = np.round(ev, 9)
        order = np.argsort(-ev, kind="stable")
        ev = np.clip(ev[order], 0.0, None)
        _, components = svd_flip(None, np.ascontiguousarray(vec[:, order].T),
                                 u_based_decision=False)
        keep = max(1, int(np.sum(ev > 1.0)))
        self.explained_variance_ = ev
        self.components_ = components
        self.n_components_ = keep
        load2 = (components[:keep] ** 2) * ev[:keep, None]            # squared loadings
        load2 = load2 / load2.sum(axis=1, keepdims=True)
        share = ev[:keep] / ev[:keep].sum()
        best = load2.argmax(axis=0)
        return load2[best, np.arange(X.shape[1])] * share[best]


WEIGHTINGS: dict[str, type[_Weighter]] = {
    "equal": EqualWeights,
    "expert": ExpertWeights,
    "entropy": EntropyWeights,
    "critic": CriticWeights,
    "pca": PCAWeights,
}


def get_weighter(name: str, **params) -> _Weighter:
    """A weighter by registry name; the error lists the valid names."""
    try:
        cls = WEIGHTINGS[name]
    except KeyError:
        raise ConfigError(f"unknown weighting {name!r}; choose one of {', '.join(WEIGHTINGS)} "
                          "(--weighting or methods.weighting)", key="methods.weighting") from None
    return cls(**params)
