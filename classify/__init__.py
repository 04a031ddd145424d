"""towntype analytic side: indicators, scores, categories, clusters, suggestions, pipeline."""

__version__ = "0.1.0"
