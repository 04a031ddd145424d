"""towntype as a library: one call for a whole run, and the steps for an analyst.

>>> import towntype
>>> r = towntype.demo()                  # the bundled Qingyuan demo, nothing written
>>> r                                    # doctest: +SKIP
>>> r.explore()                          # the interactive map, in a notebook  # doctest: +SKIP

``towntype.run`` is the pipeline of the ``towntype run`` command; files are written only
when ``out`` is given.  The steps it calls, in order, are in :mod:`towntype.steps`; the
clusterers and weighting methods as scikit-learn estimators in :mod:`towntype.estimators`.

This module only re-exports: what ``__all__`` lists (here and in ``towntype.steps`` and
``towntype.estimators``) is the public surface; everything else may change.
"""

from classify import __version__
from classify.compare import compare_runs as compare
from classify.pipeline import RunOptions
from geo.errors import InputError, InputWarning, TowntypeError
from geo.read import read_boundaries
from geo.tables import read_table
from towntype import estimators, steps
from towntype.result import Result, demo, run

__all__ = ["run", "demo", "Result", "read_boundaries", "read_table", "compare",
           "RunOptions", "steps", "estimators", "TowntypeError", "InputError",
           "InputWarning", "__version__"]
