"""Benchmarks: synthetic national-scale inputs and side-by-side baselines (python -m bench)."""
