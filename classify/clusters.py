"""Clustering towns on their dimension scores, with a k sweep, profiles and names.

Methods: :data:`METHODS` (name → function), each also a scikit-learn estimator
(:data:`CLUSTERERS`).  Spatial methods (:data:`SPATIAL`) use
:func:`geo.contiguity.contiguity_weights` (islands attached, never raise).  Features are the
columns standardised to mean 0, sd 1; within-cluster sums of squares are in that space.
"""

from __future__ import annotations

import numbers
import re
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from libpysal.weights import W
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import connected_components
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import kneighbors_graph
from sklearn.utils import check_random_state
from sklearn.utils.validation import validate_data
from threadpoolctl import threadpool_limits

from classify.config import load_system
from classify.errors import ConfigError
from geo.contiguity import contiguity_weights
from geo.errors import InputWarning

__all__ = ["cluster_towns", "ClusterResult", "METHODS", "SPATIAL", "dimension_labels",
           "features", "within_ss", "name_clusters", "agreement", "refine_contiguous",
           "KMeansClusters", "WardClusters", "GMMClusters", "WardSpatialClusters",
           "SkaterClusters", "SkaterGeodaClusters", "RedcapClusters", "CLUSTERERS"]

DIMS = ("strength", "industry", "agriculture", "commerce", "tourism", "ecology", "centrality")
NAME_BALANCED = ("均衡型", "Balanced")
NAME_LAGGING = ("综合偏弱型", "Lagging")
ROMAN = ["", "Ⅱ", "Ⅲ", "Ⅳ", "Ⅴ", "Ⅵ", "Ⅶ", "Ⅷ", "Ⅸ", "Ⅹ"]
WARD_DENSE_MAX = 15000
SWEEP_FULL = 5000  # towns up to which every k of the sweep gets all restarts


@dataclass
class ClusterResult:
    """What :func:`cluster_towns` returns.

    Attributes
    ----------
    labels : Series of int (1..k), indexed like the frame
    profiles : DataFrame (``clusters.csv``)
        ``cluster, n, mean_<col>…, index_<col>…, name_zh, name_en``.
    sweep : DataFrame (``clusters_k.csv``)
        ``k, silhouette, calinski_harabasz, davies_bouldin, within_ss, chosen``.
    membership_stability : Series (0–1)
        Share of bootstrap refits that put the town in its (matched) cluster.
    names : dict ``{cluster: (name_zh, name_en)}``
    method, k : the method used and the chosen k
    links : DataFrame of links attached to make the contiguity connected (spatial methods)
    """

    labels: pd.Series
    profiles: pd.DataFrame
    sweep: pd.DataFrame
    membership_stability: pd.Series
    names: dict
    method: str
    k: int
    columns: list = field(default_factory=list)
    links: pd.DataFrame | None = None
    #: what was not done and why, as (zh, en) pairs (e.g. too few towns to cluster)
    messages: list = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        """Per-town columns ``cluster, cluster_name, cluster_name_en, cluster_stability``."""
        lab = self.labels
        return pd.DataFrame({
            "cluster": lab,
            "cluster_name": lab.map(lambda c: self.names[c][0]),
            "cluster_name_en": lab.map(lambda c: self.names[c][1]),
            "cluster_stability": self.membership_stability,
        }, index=lab.index)


# -- features ----------------------------------------------------------------------------
def _default_columns(frame) -> list[str]:
    # a dimension no town has a score for (no data) says nothing about any town
    # the town dimensions in their order, then any other dimension of the system scored
    # (a county or village preset, a user's config)
    others = [c[6:] for c in frame.columns
              if isinstance(c, str) and c.startswith("score_") and c[6:] not in DIMS]
    cols = [f"score_{d}" for d in (*DIMS, *others) if f"score_{d}" in frame
            and pd.to_numeric(frame[f"score_{d}"], errors="coerce").notna().any()]
    if not cols:
        raise ConfigError("no score_<dim> columns to cluster on; score the towns first or "
                          "pass columns=[...]", key="clusters.columns")
    return cols


def features(frame: pd.DataFrame, columns=None) -> tuple[np.ndarray, list[str]]:
    """Standardised feature matrix (missing values → column median) and its columns."""
    cols = list(columns) if columns is not None else _default_columns(frame)
    absent = [c for c in cols if c not in frame]
    if absent:
        raise ConfigError(f"columns {absent} are not in the table; available: "
                          f"{', '.join(map(str, frame.columns[:30]))}", key="clusters.columns")
    for c in cols:
        bad = pd.to_numeric(frame[c], errors="coerce").isna() & frame[c].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise ConfigError(f"column {c!r} is not numeric (row {row + 1}: "
                              f"{frame[c].iloc[row]!r}); cluster on numeric columns only",
                              key="clusters.columns")
    X = frame[cols].apply(pd.to_numeric).to_numpy(dtype=float, na_value=np.nan)
    if np.isnan(X).any():
        counts = {c: int(n) for c, n in zip(cols, np.isnan(X).sum(axis=0)) if n}
        warnings.warn(f"clustering: missing values filled with the column median "
                      f"({', '.join(f'{c}: {n}' for c, n in counts.items())} towns)",
                      InputWarning, stacklevel=3)
        med = np.nanmedian(X, axis=0)
        X = np.where(np.isnan(X), np.where(np.isnan(med), 0.0, med), X)
    sd = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0), cols


def within_ss(X: np.ndarray, labels) -> float:
    """Total within-cluster sum of squares of ``X`` under ``labels``."""
    labels = np.asarray(labels)
    return float(sum(((X[labels == c] - X[labels == c].mean(axis=0)) ** 2).sum()
                     for c in np.unique(labels)))


# -- methods -------------------------------------------------------------------------------
def _kmeans(X, k, seed, w, opts):
    return KMeans(k, n_init=opts.get("n_init", 10), random_state=seed).fit_predict(X)


def _ward(X, k, seed, w, opts):
    conn = None
    if len(X) > WARD_DENSE_MAX:   # dense Ward needs n² memory
        conn = kneighbors_graph(X, 10, include_self=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # sklearn completes a disconnected kNN graph
        return AgglomerativeClustering(k, linkage="ward", connectivity=conn).fit_predict(X)


def _gmm(X, k, seed, w, opts):
    return GaussianMixture(k, n_init=opts.get("gmm_init", max(1, opts.get("n_init", 10) // 2)),
                           random_state=seed,
                           reg_covar=1e-4).fit_predict(X)


def _ward_spatial(X, k, seed, w, opts):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # bootstrap subgraphs may be disconnected
        lab = AgglomerativeClustering(k, linkage="ward",
                                      connectivity=w.sparse).fit_predict(X)
    if opts.get("refine", True):
        lab = refine_contiguous(X, lab, w)
    return lab


def _skater(X, k, seed, w, opts):
    # imported here, not at the top: spopt imports pointpats and with it matplotlib
    # (about 1 s), which `import towntype` should not pay for a method rarely chosen
    from spopt.region import Skater

    cols = [f"f{j}" for j in range(X.shape[1])]
    gdf = gpd.GeoDataFrame(pd.DataFrame(X, columns=cols))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = Skater(gdf, w, cols, n_clusters=k, islands="ignore")
        model.solve()
    return np.asarray(model.labels_)


def _geoda_refusal(X, w) -> tuple[str, str] | None:
    """Why GeoDa cannot be asked to cluster these towns, as (zh, en); None when it can.

    pygeoda dies with a segmentation fault (no exception to catch) on a contiguity graph in
    more than one part, and raises ZeroDivisionError on towns that do not differ at all."""
    parts = w.n_components
    if parts > 1:
        return (f"邻接关系分成 {parts} 块", f"the contiguity graph is in {parts} parts")
    if not np.ptp(X, axis=0).any():
        return ("各镇街的聚类指标完全相同", "the towns do not differ on any clustering column")
    return None


def _geoda(X, k, seed, w, opts, *, kind: str):
    why = _geoda_refusal(X, w)
    if why is not None:   # spatially constrained Ward instead, said in the result
        opts.get("fallbacks", []).append(why)
        return _ward_spatial(X, k, seed, w, opts)
    gw = _pygeoda_weights(w)
    data = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    linkage = ("fullorder-wardlinkage",) if kind == "redcap" else ()
    res = getattr(_pygeoda(), kind)(k, gw, data, *linkage, scale_method="raw",
                                    random_seed=seed + 1, cpu_threads=1)
    return np.asarray(res["Clusters"])


def _pygeoda():
    """pygeoda, an optional dependency (the ``geoda`` extra): imported here only."""
    try:
        import pygeoda      # optional: pip install "towntype[geoda]"
    except ImportError as err:
        raise ConfigError("methods 'skater_geoda' and 'redcap' need pygeoda: install the "
                          "geoda extra (pip install \"towntype[geoda]\"), or use "
                          "'ward_spatial' / 'skater'", key="clusters.method") from err
    return pygeoda


def _pygeoda_weights(w):
    """The same libpysal weights as a pygeoda ``Weight`` (through a GAL file)."""
    pygeoda = _pygeoda()
    n = w.n
    lines = [f"0 {n} towns id"]
    for i in range(n):
        nb = w.neighbors[i]
        lines += [f"{i + 1} {len(nb)}", " ".join(str(j + 1) for j in nb)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.gal"
        path.write_text("\n".join(lines) + "\n")
        return pygeoda.read_gal(str(path), [str(i) for i in range(1, n + 1)])


METHODS = {
    "kmeans": _kmeans, "ward": _ward, "gmm": _gmm, "ward_spatial": _ward_spatial,
    "skater": _skater, "skater_geoda": partial(_geoda, kind="skater"),
    "redcap": partial(_geoda, kind="redcap"),
}
SPATIAL = {"ward_spatial", "skater", "skater_geoda", "redcap"}


# -- refinement ------------------------------------------------------------------------------
def _connected_without(i: int, lab: np.ndarray, nbrs, exact: bool) -> bool:
    """Would town ``i``'s cluster stay connected without it?  A local test first (towns at
    most two steps from ``i``); then the whole cluster if ``exact``, else the move is refused."""
    a = lab[i]
    same = [j for j in nbrs[i] if lab[j] == a]
    if len(same) <= 1:
        return bool(same)
    local = set(same)
    for j in same:
        local.update(m for m in nbrs[j] if m != i and lab[m] == a)
    if _reaches(same, local, nbrs):
        return True
    if not exact:
        return False
    rest = [j for j in np.flatnonzero(lab == a).tolist() if j != i]
    return _reaches(rest, set(rest), nbrs)


def _reaches(targets, allowed: set, nbrs) -> bool:
    """Are all ``targets`` connected to each other through ``allowed`` towns?"""
    want = set(targets)
    seen, stack = {targets[0]}, [targets[0]]
    while stack and not want <= seen:
        for j in nbrs[stack.pop()]:
            if j in allowed and j not in seen:
                seen.add(j)
                stack.append(j)
    return want <= seen


def _candidates(X, lab, ks, size, total, A) -> np.ndarray:
    """Towns that some neighbouring cluster would take with a gain (vectorised screen)."""
    k_idx = np.searchsorted(ks, lab)
    cent = np.array([total[c] / size[c] for c in ks])
    sz = np.array([size[c] for c in ks], dtype=float)
    d2 = ((X[:, None, :] - cent[None]) ** 2).sum(axis=2)
    rows = np.arange(len(lab))
    own = sz[k_idx]
    with np.errstate(divide="ignore", invalid="ignore"):
        loss = np.where(own > 1, own / (own - 1) * d2[rows, k_idx], -np.inf)
    cost = sz / (sz + 1) * d2
    onehot = np.zeros((len(lab), len(ks)))
    onehot[rows, k_idx] = 1.0
    near = (A @ onehot) > 0
    near[rows, k_idx] = False
    gain = np.where(near, loss[:, None] - cost, -np.inf)
    return np.flatnonzero(gain.max(axis=1, initial=-np.inf) > 1e-12)


def refine_contiguous(X: np.ndarray, labels, w, max_passes: int = 30,
                      exact_max: int = 5000) -> np.ndarray:
    """Greedy boundary moves that lower the within-cluster SS and keep clusters contiguous.

    A town on a cluster border moves to a neighbouring cluster when that lowers the total
    within SS (exact update of both centroids) and its old cluster stays connected and
    non-empty.  Each pass screens all towns at once with numpy and then tries the
    candidates in row order with exact, current statistics.  Deterministic.  Above
    ``exact_max`` towns only moves that pass the local contiguity test are made.
    """
    lab = np.asarray(labels).copy()
    nbrs = [list(w.neighbors[i]) for i in range(len(lab))]
    A = w.sparse.tocsr()
    exact = len(lab) <= exact_max
    ks = np.unique(lab)
    size = {c: int((lab == c).sum()) for c in ks}
    total = {c: X[lab == c].sum(axis=0) for c in ks}
    for _ in range(max_passes):
        moved = 0
        for i in _candidates(X, lab, ks, size, total, A):
            a = lab[i]
            if size[a] <= 1:
                continue
            x = X[i]
            loss = size[a] / (size[a] - 1) * ((x - total[a] / size[a]) ** 2).sum()
            best, gain = None, 0.0
            for b in sorted({lab[j] for j in nbrs[i]} - {a}):
                cost = size[b] / (size[b] + 1) * ((x - total[b] / size[b]) ** 2).sum()
                if loss - cost > gain + 1e-12:
                    best, gain = b, loss - cost
            if best is None or not _connected_without(i, lab, nbrs, exact):
                continue
            lab[i] = best
            size[a] -= 1
            size[best] += 1
            total[a] = total[a] - x
            total[best] = total[best] + x
            moved += 1
        if not moved:
            break
    return lab


# -- sweep, profiles, names -------------------------------------------------------------------
def _scores(X, lab, seed) -> dict:
    """The sweep's row for one fit: the three validity scores and the within SS."""
    if not 2 <= len(np.unique(lab)) <= len(X) - 1:   # the scores are defined for these
        scores = {"silhouette": np.nan, "calinski_harabasz": np.nan, "davies_bouldin": np.nan}
    else:
        sample = min(len(X), 2000)  # silhouette is O(n²): a seeded sample of 2,000 towns
        scores = {"silhouette": float(silhouette_score(X, lab, sample_size=sample,
                                                       random_state=seed)),
                  "calinski_harabasz": float(calinski_harabasz_score(X, lab)),
                  "davies_bouldin": float(davies_bouldin_score(X, lab))}
    return {**scores, "within_ss": within_ss(X, lab)}


def _relabel(lab: np.ndarray) -> np.ndarray:
    """Clusters numbered 1..k by size (largest first), ties by first appearance."""
    _, first, inv, counts = np.unique(lab, return_index=True, return_inverse=True,
                                      return_counts=True)
    rank = np.empty(len(first), dtype=int)
    rank[np.lexsort((first, -counts))] = np.arange(1, len(first) + 1)
    return rank[inv.ravel()]


def dimension_labels(system=None) -> dict[str, tuple[str, str]]:
    """``{dimension id: (zh, en)}`` short labels that name clusters, from the indicator
    ``system`` (default: the bundled town preset) — the one place they are kept."""
    system = system if system is not None else load_system()
    return {d.id: d.short() for d in system.dimensions}


def name_clusters(index: pd.DataFrame, *, threshold: float = 115.0,
                  lagging: float = 90.0, labels: Mapping | None = None) -> dict:
    """Names from index scores (cluster mean ÷ overall mean × 100), one row per cluster.

    Dimensions with index ≥ ``threshold`` dominate: one → ``工业主导型`` / ``Industry-led``;
    two or more → the top two, ``文旅生态型`` / ``Tourism–ecology``; none → ``均衡型`` /
    ``Balanced`` or, when the mean index is below ``lagging``, ``综合偏弱型`` / ``Lagging``.
    Repeated names get Ⅱ, Ⅲ….  ``labels``: ``{dimension id: (zh, en)}`` (default:
    :func:`dimension_labels` of the bundled town preset).
    """
    labels = dimension_labels() if labels is None else labels
    names, used = {}, {}
    for c, row in index.iterrows():
        top = row[row >= threshold].sort_values(ascending=False, kind="stable")
        dims = [col.removeprefix("score_") for col in top.index[:2]]
        labs = [labels.get(d, (d, d)) for d in dims]
        if len(labs) == 1:
            zh, en = f"{labs[0][0]}主导型", f"{labs[0][1]}-led"
        elif labs:
            zh, en = f"{labs[0][0]}{labs[1][0]}型", f"{labs[0][1]}–{labs[1][1].lower()}"
        else:
            zh, en = NAME_LAGGING if row.mean() < lagging else NAME_BALANCED
        n = used.get(zh, 0)
        used[zh] = n + 1
        if n:
            suffix = ROMAN[n] if n < len(ROMAN) else str(n + 1)
            zh, en = f"{zh}{suffix}", f"{en} {['', 'II', 'III', 'IV', 'V'][n] if n < 5 else n + 1}"
        names[c] = (zh, en)
    return names


def _profiles(frame, cols, lab, threshold, labels=None) -> tuple[pd.DataFrame, dict]:
    vals = frame[cols].apply(pd.to_numeric).reset_index(drop=True)
    g = vals.groupby(lab)
    means = g.mean()
    overall = vals.mean()
    index = means / overall.where(overall != 0) * 100.0
    names = name_clusters(index, threshold=threshold, labels=labels)
    prof = pd.concat([pd.DataFrame({"cluster": means.index, "n": g.size()}, index=means.index),
                      means[cols].add_prefix("mean_"), index[cols].add_prefix("index_")], axis=1)
    prof["name_zh"] = [names[c][0] for c in means.index]
    prof["name_en"] = [names[c][1] for c in means.index]
    return prof.reset_index(drop=True), names


# -- bootstrap ---------------------------------------------------------------------------------
def _sub_weights(w, keep: np.ndarray):
    """Weights among the kept towns with the dropped ones contracted away.

    Kept towns that touch, or touch the same dropped town, are neighbours; the kept towns
    around a larger patch of dropped towns are chained (row order), so a connected ``w``
    stays connected with O(n) links (GeoDa's SKATER crashes on a disconnected graph, and
    a bootstrap sample should not split the map).
    """
    n = w.n
    kept = np.zeros(n, bool)
    kept[keep] = True
    pos = np.full(n, -1)
    pos[keep] = np.arange(len(keep))
    A = w.sparse.tocsr()
    nb = {r: {int(pos[j]) for j in A.indices[A.indptr[t]:A.indptr[t + 1]] if kept[j]}
          for r, t in enumerate(keep)}
    drop = np.flatnonzero(~kept)
    if len(drop):
        n_blobs, blob = connected_components(A[drop][:, drop], directed=False)
        around: list[set] = [set() for _ in range(n_blobs)]
        for b, t in zip(blob, drop):
            ring = [int(pos[j]) for j in A.indices[A.indptr[t]:A.indptr[t + 1]] if kept[j]]
            for a in ring:  # a clique of at most the 8 or so neighbours of one town
                nb[a].update(r for r in ring if r != a)
            around[b].update(ring)
        for ring in around:
            ring = sorted(ring)
            for a, b in zip(ring[:-1], ring[1:]):
                nb[a].add(b)
                nb[b].add(a)
    return W({r: sorted(v) for r, v in nb.items()}, id_order=list(range(len(keep))),
             silence_warnings=True)


def _resample(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """Distinct towns of one bootstrap sample (n draws with replacement), topped up without
    replacement to ``k``: no method splits fewer towns into k (5 towns, k = 3: 1 sample in 20)."""
    keep = np.unique(rng.integers(0, n, n))
    if keep.size < min(k, n):
        rest = np.setdiff1d(np.arange(n), keep)
        keep = np.union1d(keep, rng.choice(rest, min(k, n) - keep.size, replace=False))
    return keep


def _bootstrap(X, lab, k, method, seed, w, opts, n_boot) -> np.ndarray:
    """Share of bootstrap refits that keep each town in its matched cluster."""
    if n_boot <= 0:
        return np.full(len(X), np.nan)
    rng = np.random.default_rng(seed)
    ks = np.unique(lab)
    ref_c = np.array([X[lab == c].mean(axis=0) for c in ks])
    agree = np.zeros(len(X))
    for _ in range(n_boot):
        keep = _resample(rng, len(X), len(ks))
        sub_seed = int(rng.integers(0, 2**31 - 1))
        if method == "kmeans":  # warm start from the reference centres: fast, aligned
            blab = KMeans(len(ks), init=ref_c, n_init=1,
                          random_state=sub_seed).fit_predict(X[keep])
        else:
            sw = _sub_weights(w, keep) if method in SPATIAL else None
            blab = METHODS[method](X[keep], k, sub_seed, sw, {**opts, "refine": False})
        bk, Xk = np.unique(blab), X[keep]
        cent = np.array([Xk[blab == c].mean(axis=0) for c in bk])
        assign = np.argmin(((X[:, None, :] - cent[None]) ** 2).sum(axis=2), axis=1)
        table = np.bincount(np.searchsorted(ks, lab) * len(bk) + assign,
                            minlength=len(ks) * len(bk)).reshape(len(ks), len(bk)).astype(float)
        r, c = linear_sum_assignment(-table)
        match = np.full(len(bk), -1)
        match[c] = ks[r]
        agree += match[assign] == lab
    return agree / n_boot


# -- entry point -------------------------------------------------------------------------------
def _weights(frame, geometry, contiguity, method):
    if geometry is None and hasattr(frame, "geometry") and "geometry" in frame:
        geometry = frame.geometry
    if geometry is None:
        raise ConfigError(f"method {method!r} is spatially constrained and needs town "
                          "boundaries; give boundaries or choose 'kmeans', 'ward' or 'gmm'",
                          key="clusters.method")
    if hasattr(geometry, "neighbors"):  # already a libpysal W
        return geometry, None
    groups = frame["county_code"] if "county_code" in frame else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return contiguity_weights(geometry, kind=contiguity, groups=groups, report=True)


def cluster_towns(frame: pd.DataFrame, *, method: str = "kmeans", k="auto", seed: int = 0,
                  geometry=None, columns=None, k_range=range(3, 9), contiguity: str = "queen",
                  n_boot: int = 20, n_init: int = 10, name_threshold: float = 115.0,
                  labels: Mapping | None = None) -> ClusterResult:
    """Cluster towns, sweep k, profile and name the clusters.

    Parameters
    ----------
    frame : DataFrame or GeoDataFrame
        One row per town with ``score_<dim>`` columns (or the ``columns`` given).
    method : str
        A key of :data:`METHODS`.
    k : int or "auto"
        ``"auto"`` takes the k of ``k_range`` with the best silhouette.
    seed : int
        Seeds every random step (local generators only): same seed → same labels.
    geometry : GeoSeries, libpysal W, optional
        Boundaries (or ready weights, rows 0..n-1) for spatial methods; defaults to the
        frame's geometry.
    contiguity : {"queen", "rook"}
    n_boot : int
        Bootstrap refits for ``membership_stability`` (0 skips it).
    n_init : int
        Restarts of k-means (and GMM initialisations ÷ 2); above 5,000 towns the k sweep
        uses 3 restarts per k and the chosen k is refitted with all ``n_init``.
    name_threshold : float
        Index score (cluster mean ÷ overall mean × 100) from which a dimension names the
        cluster (see :func:`name_clusters`).
    labels : mapping, optional
        ``{dimension id: (zh, en)}`` short labels for the names (the indicator system's,
        :func:`dimension_labels`; default: the bundled town preset's).

    Examples
    --------
    >>> res = cluster_towns(frame, method="ward_spatial", k=5)   # doctest: +SKIP
    >>> res.profiles[["cluster", "n", "name_zh"]]                # doctest: +SKIP
    """
    if method not in METHODS:
        raise ConfigError(f"unknown clustering method {method!r}; use one of "
                          f"{', '.join(METHODS)}", key="clusters.method")
    X, cols = features(frame, columns)
    n = len(X)
    ks = [kk for kk in k_range if 2 <= kk < n]
    if k != "auto":
        if not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
            raise ConfigError(f"k must be 'auto' or an integer in 1..{n} (there are {n} "
                              f"towns), found {k!r}; use --k auto or a smaller --k",
                              key="clusters.k")
        ks = sorted(set(ks) | {int(k)})
    if not ks:     # too few towns for any k of the sweep: one group, nothing compared
        lab, chosen, links, stab, messages = np.ones(n, dtype=int), 1, None, np.nan, [_too_few(n)]
        sweep = pd.DataFrame(columns=["k", "silhouette", "calinski_harabasz", "davies_bouldin",
                                      "within_ss", "chosen"])
    else:
        w, links = (_weights(frame, geometry, contiguity, method) if method in SPATIAL
                    else (None, None))
        opts = {"n_init": n_init, "fallbacks": []}
        # one thread: BLAS/OpenMP threads cost more than they give on small matrices and on a
        # shared machine (GMM 30x, k-means 10x slower on 2 busy cores)
        with threadpool_limits(limits=1):
            lab, sweep, chosen = _sweep(X, ks, k, method, seed, w, opts)
            stab = _bootstrap(X, lab, chosen, method, seed, w, opts, n_boot)
        messages = _fallback_messages(method, opts)
    prof, names = _profiles(frame, cols, lab, name_threshold, labels)
    idx = frame.index
    return ClusterResult(pd.Series(lab, index=idx, name="cluster"), prof, sweep,
                         pd.Series(stab, index=idx, name="cluster_stability"), names,
                         method, chosen, cols, links, messages)


def _sweep(X, ks, k, method, seed, w, opts) -> tuple[np.ndarray, pd.DataFrame, int]:
    """(labels 1..k of the chosen k, the sweep table, the chosen k)."""
    # above SWEEP_FULL towns the sweep uses a few restarts; the chosen k is refitted with all
    few = len(X) > SWEEP_FULL and method in ("kmeans", "gmm") and len(ks) > 1
    sweep_opts = {**opts, "n_init": min(3, opts["n_init"]), "gmm_init": 1} if few else opts
    fits = {kk: np.asarray(METHODS[method](X, kk, seed, w, sweep_opts)) for kk in ks}
    sweep = pd.DataFrame([_scores(X, fits[kk], seed) for kk in ks], index=ks)
    chosen = int(k) if k != "auto" else int(sweep["silhouette"].fillna(-np.inf).idxmax())
    if few:
        fits[chosen] = np.asarray(METHODS[method](X, chosen, seed, w, opts))
        sweep.loc[chosen] = _scores(X, fits[chosen], seed)
    sweep = sweep.rename_axis("k").reset_index()
    sweep["chosen"] = sweep["k"] == chosen
    return _relabel(fits[chosen]), sweep, chosen


def _fallback_messages(method, opts) -> list:
    """One (zh, en) line when GeoDa's method was replaced (see :func:`_geoda_refusal`)."""
    why = opts["fallbacks"]
    if not why:
        return []
    zh, en = why[0]
    return [(f"{method} 未能使用（{zh}），改用空间约束 Ward（ward_spatial）聚类 {len(why)} 次"
             f"（GeoDa method replaced）",
             f"{method} could not be used ({en}): spatially constrained Ward (ward_spatial) "
             f"was used instead in {len(why)} fit(s); GeoDa crashes on such input")]


#: Fewest towns for which clusters are sought with ``k="auto"`` (the sweep's k ≥ 3 needs
#: at least one more town than clusters).
MIN_TOWNS_TO_CLUSTER = 4


def _too_few(n: int) -> tuple[str, str]:
    """The (zh, en) line when all ``n`` towns are one group: too few to cluster."""
    return (f"镇街仅 {n} 个，少于 {MIN_TOWNS_TO_CLUSTER} 个，未做聚类：全部归为一组"
            f"（too few towns to cluster: {n} < {MIN_TOWNS_TO_CLUSTER}, all in one group）",
            f"too few towns to cluster ({n} < {MIN_TOWNS_TO_CLUSTER}): all towns are in one "
            "group; give more towns or --k")


# -- estimators -------------------------------------------------------------------------------
class _Clusterer(ClusterMixin, BaseEstimator):
    """A method of :data:`METHODS` as a scikit-learn estimator.

    ``fit`` runs the same function as :func:`cluster_towns` on ``X`` as given (no
    standardising: put a ``StandardScaler`` before it in a ``Pipeline``); labels are
    0..k-1 in the method's own order.
    """

    _method = ""

    def __init__(self, n_clusters: int = 5, *, random_state=None, n_init: int = 10):
        self.n_clusters = n_clusters
        self.random_state = random_state
        self.n_init = n_init

    def _check(self, X):
        if not isinstance(self.n_clusters, numbers.Integral) or self.n_clusters < 1:
            raise ValueError(f"n_clusters must be a whole number ≥ 1, got {self.n_clusters!r}")
        if X.shape[0] < self.n_clusters:
            raise ValueError(f"n_samples={X.shape[0]} should be >= n_clusters="
                             f"{self.n_clusters}: give fewer clusters or more towns")

    def _seed(self) -> int:
        """``random_state`` as the int seed the methods take (an int is used as is, so
        the labels equal :func:`cluster_towns`' with ``seed=random_state``)."""
        if isinstance(self.random_state, numbers.Integral):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(0, 2**31 - 2))

    def _fit_labels(self, X, w):
        self._check(X)
        # the spatial methods have no restarts (n_init) and only Ward's has a refinement
        opts = {"n_init": getattr(self, "n_init", 10), "refine": getattr(self, "refine", True)}
        return np.asarray(METHODS[self._method](X, self.n_clusters, self._seed(), w, opts))

    def fit(self, X, y=None):
        """Cluster the rows of ``X`` (towns × features); returns ``self``.

        Parameters
        ----------
        X : array-like of shape (n_towns, n_features)
        y : ignored

        Returns
        -------
        self
            With ``labels_`` (one label per town, 0..k-1).
        """
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=1)
        self.labels_ = self._fit_labels(X, None)
        return self


class KMeansClusters(_Clusterer):
    """k-means (scikit-learn ``KMeans``, ``n_init`` restarts).

    Parameters
    ----------
    n_clusters : int
    random_state : int, RandomState or None
    n_init : int

    Attributes
    ----------
    labels_ : ndarray of int

    Examples
    --------
    >>> KMeansClusters(3, random_state=0).fit(X).labels_     # doctest: +SKIP
    """

    _method = "kmeans"


class WardClusters(_Clusterer):
    """Ward's hierarchical clustering (``AgglomerativeClustering(linkage="ward")``;
    above ``WARD_DENSE_MAX`` towns with a 10-nearest-neighbour connectivity).

    Parameters and attributes as :class:`KMeansClusters` (``random_state`` and
    ``n_init`` are not used: Ward is deterministic).
    """

    _method = "ward"


class GMMClusters(_Clusterer):
    """Gaussian mixture (``GaussianMixture``, full covariances, ``n_init // 2``
    initialisations), each town labelled with its most likely component.

    Parameters and attributes as :class:`KMeansClusters`.
    """

    _method = "gmm"


class _SpatialClusterer(_Clusterer):
    """A spatially constrained method: clusters are contiguous on the weights.

    Parameters
    ----------
    w : libpysal W, GeoDataFrame or GeoSeries, optional
        The contiguity (rows in the order of ``X``), or the towns' boundaries to build it
        from (:func:`geo.contiguity.contiguity_weights`; islands are attached to their
        nearest neighbour).  None: ``X`` must be a GeoDataFrame, whose geometry is used.
    n_clusters : int
    contiguity : {"queen", "rook"}
    columns : list of str, optional
        With a GeoDataFrame ``X``: the feature columns (default: every numeric column).
    random_state : int, RandomState or None

    Attributes
    ----------
    labels_ : ndarray of int
    w_ : libpysal W
        The weights used.
    links_ : DataFrame or None
        Links added to make the weights connected.
    """

    def __init__(self, w=None, n_clusters: int = 5, *, contiguity: str = "queen",
                 columns=None, random_state=None):
        self.w = w
        self.n_clusters = n_clusters
        self.contiguity = contiguity
        self.columns = columns
        self.random_state = random_state

    def fit(self, X, y=None):
        """Cluster the rows of ``X`` (or of the GeoDataFrame ``X``'s ``columns``) into
        ``n_clusters`` contiguous regions; returns ``self``.

        Raises
        ------
        classify.errors.ConfigError
            No weights and no geometry, or weights for another number of towns.
        """
        source = self.w
        if isinstance(X, gpd.GeoDataFrame):
            source = X if source is None else source
            cols = self.columns if self.columns is not None else [
                c for c in X.columns if c != X.geometry.name
                and pd.api.types.is_numeric_dtype(X[c])]
            X = pd.DataFrame(X[cols])
        if source is None:
            raise ConfigError(f"{type(self).__name__} needs the towns' contiguity: give w= "
                              "(libpysal weights or the GeoDataFrame of the towns) or fit "
                              "it on a GeoDataFrame", key="clusters.method")
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=1)
        # a GeoDataFrame's county_code places towns without geometry; a W is used as it is
        frame = source if isinstance(source, gpd.GeoDataFrame) else pd.DataFrame()
        w, links = _weights(frame, source, self.contiguity, self._method)
        if w.n != X.shape[0]:
            raise ConfigError(f"the weights are for {w.n} towns but X has {X.shape[0]} rows; "
                              "give the weights (or boundaries) of the same towns, in the "
                              "same order", key="clusters.method")
        self.w_, self.links_ = w, links
        self.labels_ = self._fit_labels(X, w)
        return self


class WardSpatialClusters(_SpatialClusterer):
    """Contiguity-constrained Ward (``AgglomerativeClustering(connectivity=w)``, the
    ``spopt.region.WardSpatial`` pattern) with the contiguity-keeping refinement
    (:func:`refine_contiguous`; ``refine=False`` skips it).
    """

    _method = "ward_spatial"

    def __init__(self, w=None, n_clusters: int = 5, *, contiguity: str = "queen",
                 columns=None, random_state=None, refine: bool = True):
        super().__init__(w, n_clusters, contiguity=contiguity, columns=columns,
                         random_state=random_state)
        self.refine = refine


class SkaterClusters(_SpatialClusterer):
    """SKATER (``spopt.region.Skater``: minimum-spanning-tree pruning)."""

    _method = "skater"


class SkaterGeodaClusters(_SpatialClusterer):
    """GeoDa's SKATER via pygeoda (the ``geoda`` extra: ``pip install "towntype[geoda]"``)."""

    _method = "skater_geoda"


class RedcapClusters(_SpatialClusterer):
    """GeoDa's REDCAP (full-order Ward linkage) via pygeoda (the ``geoda`` extra)."""

    _method = "redcap"


#: method name (a key of :data:`METHODS`) → estimator class
CLUSTERERS: dict[str, type[_Clusterer]] = {
    c._method: c for c in (KMeansClusters, WardClusters, GMMClusters, WardSpatialClusters,
                           SkaterClusters, SkaterGeodaClusters, RedcapClusters)}


# -- agreement ---------------------------------------------------------------------------------
def _target_dims(taxonomy) -> dict[str, set]:
    """Dimensions each target's rules look at (``score_x`` / ``lq_x`` → x, the composite →
    strength)."""
    def dim(fld):
        found = re.fullmatch(r"(?:score|lq)_(.*)", fld)
        return "strength" if fld == "composite" else found and found.group(1)

    return {t: {dim(r.field) for r in taxonomy.target_rules(t)} - {None}
            for t in taxonomy.priority}


def agreement(categories: pd.DataFrame, clusters, *, taxonomy=None, min_share: float = 0.2,
              threshold: float = 115.0, lang: str = "zh"):
    """Rule categories × clusters, and which towns to review.

    A town is flagged when its rule target is a minority (< ``min_share``) in its cluster
    *and* (with a taxonomy) none of the dimensions its target's rules use is dominant
    (index ≥ ``threshold``) in the cluster's profile.

    Parameters
    ----------
    categories : DataFrame with ``target`` (or ``category``)
    clusters : ClusterResult or Series of cluster labels

    Returns
    -------
    crosstab : DataFrame (targets × clusters, counts)
    review : Series of bool
    review_reason : Series of str (in ``lang``, "zh" or "en"; '' when not flagged)
    """
    col = "target" if "target" in categories else "category"
    cat = categories[col].astype(str)
    labels, names, dominant = clusters, {}, {}  # dominant: cluster → dimensions dominant in it
    if isinstance(clusters, ClusterResult):
        index = clusters.profiles.set_index("cluster").filter(regex="^index_score_")
        dominant = {c: set(index.columns[(row >= threshold).to_numpy()].str[12:])
                    for c, row in index.iterrows()}
        labels, names = clusters.labels, clusters.names
    lab = pd.Series(np.asarray(labels), index=cat.index, name="cluster")
    table = pd.crosstab(cat.rename(col), lab)
    share = table / table.sum(axis=0)
    modal = table.idxmax(axis=0)
    tdims = _target_dims(taxonomy) if taxonomy is not None else {}
    pairs = pd.MultiIndex.from_arrays([cat, lab])
    own_share = share.stack().reindex(pairs).to_numpy()
    mode = modal.reindex(lab).to_numpy()
    # does a dimension of the target's rules dominate the cluster: one look-up per cell
    fits = pd.DataFrame([[bool(tdims.get(t, set()) & dominant.get(c, set()))
                          for c in table.columns] for t in table.index],
                        index=table.index, columns=table.columns, dtype=bool)
    fits = fits.stack().reindex(pairs, fill_value=False).to_numpy(dtype=bool)
    flag = (cat.to_numpy() != mode) & (own_share < min_share) & ~fits
    review = pd.Series(flag, index=cat.index)
    reason = pd.Series("", index=cat.index, dtype=object)

    which = 1 if lang == "en" else 0
    palette = taxonomy.palette() if taxonomy is not None else {}
    shown = {t: v[("zh", "en")[which]] for t, v in palette.items()}     # target → its label
    # the flagged towns' texts from arrays (no per-row pandas indexing)
    at = np.flatnonzero(flag)
    ts, cs, ms = cat.to_numpy()[at], lab.to_numpy()[at], mode[at]
    mode_share = share.stack().reindex(pd.MultiIndex.from_arrays([ms, cs])).to_numpy()
    texts = []
    for t, c, m, own, ms_ in zip(ts.tolist(), cs.tolist(), ms.tolist(), own_share[at].tolist(),
                                 mode_share.tolist()):
        cname = names.get(c, (str(c), str(c)))[which]
        if which:
            texts.append(f"rule category '{shown.get(t, t)}' does not fit the profile of its "
                         f"cluster '{cname}' (only {own:.0%} of it; most are "
                         f"'{shown.get(m, m)}', {ms_:.0%})")
        else:
            texts.append(f"规则类别“{shown.get(t, t)}”与所在聚类“{cname}”的画像不符（该类仅占 "
                         f"{own:.0%}，多数为“{shown.get(m, m)}” {ms_:.0%}）")
    reason.iloc[at] = texts
    return table, review, reason
