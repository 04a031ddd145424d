"""The pipeline's steps, in the order :func:`towntype.run` (and ``towntype run``) calls
them; each takes the run's :class:`~classify.pipeline.RunOptions` and what the step before
returned, so a notebook can stop at any step, change it, and go on.

read → join → indicators → score → assemble → categorise (with uncertainty) → cluster →
designate → suggest → map → write (``towntype.run(..., out=...)``).
"""

from classify.pipeline import (Indicators, Inputs, RunOptions, assemble, build_map,
                               categorise, cluster, demo_options, designate, join_inputs,
                               make_indicators, read_inputs, run_pipeline, score_towns,
                               suggest_towns, write_maps, write_report_files,
                               write_tables)

__all__ = ["RunOptions", "demo_options", "Inputs", "read_inputs", "join_inputs",
           "Indicators", "make_indicators", "score_towns", "assemble", "categorise",
           "cluster", "designate", "suggest_towns", "build_map", "write_maps",
           "write_tables", "write_report_files", "run_pipeline"]
