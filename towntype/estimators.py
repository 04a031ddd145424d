"""scikit-learn-compatible estimators: the clusterers and the weighting methods.

Clusterers (``fit(X)`` → ``labels_``): :class:`KMeansClusters`, :class:`WardClusters`,
:class:`GMMClusters`, and the spatially constrained :class:`WardSpatialClusters`,
:class:`SkaterClusters`, :class:`SkaterGeodaClusters`, :class:`RedcapClusters` (given
libpysal weights or the towns' GeoDataFrame, as spopt's regionalisers are).

Weighting methods (``fit(X)`` → ``weights_``): :class:`EqualWeights`,
:class:`ExpertWeights`, :class:`EntropyWeights`, :class:`CriticWeights`,
:class:`PCAWeights`.
"""

from classify.clusters import (CLUSTERERS, GMMClusters, KMeansClusters, RedcapClusters,
                               SkaterClusters, SkaterGeodaClusters, WardClusters,
                               WardSpatialClusters)
from classify.weighting import (WEIGHTINGS, CriticWeights, EntropyWeights, EqualWeights,
                                ExpertWeights, PCAWeights, get_weighter)

__all__ = ["KMeansClusters", "WardClusters", "GMMClusters", "WardSpatialClusters",
           "SkaterClusters", "SkaterGeodaClusters", "RedcapClusters", "CLUSTERERS",
           "EqualWeights", "ExpertWeights", "EntropyWeights", "CriticWeights", "PCAWeights",
           "WEIGHTINGS", "get_weighter"]
