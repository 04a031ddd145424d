"""classify.suggest's array path of the scoring model (used by the gap searches) gives the
numbers of ``ScoreModel.transform`` itself."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from classify.config import parse_system
from classify.scoring import score
from classify.suggest import _ModelRows

COLS = ["a", "b", "c", "d", "e"]


def _system(normalisation, aggregation, missing):
    return parse_system({
        "methods": {"normalisation": normalisation, "aggregation": aggregation,
                    "missing": missing, "outliers": "jrc"},
        "dimensions": {"d1": {"label_zh": "一"}, "d2": {"label_zh": "二"}},
        "indicators": {
            "a": {"label_zh": "甲", "unit": "万元", "dimension": "d1", "transform": "log"},
            "b": {"label_zh": "乙", "unit": "km", "dimension": "d1", "direction": "-"},
            "c": {"label_zh": "丙", "unit": "个", "dimension": "d2", "transform": "asinh"},
            "d": {"label_zh": "丁", "unit": "", "dimension": "d2"},  # moves with a
        }})


def _table(rng, n=60):
    t = pd.DataFrame({"a": rng.lognormal(3, 1.5, n), "b": rng.uniform(0, 50, n),
                      "c": rng.poisson(3, n).astype(float), "e": rng.uniform(0, 1, n)})
    t["d"] = t["a"] / rng.uniform(10, 20, n)
    t.loc[rng.random(n) < 0.1, "b"] = np.nan
    t.loc[3, "c"] = np.nan
    return t[COLS]  # "e" is not scored: the model leaves it out


@pytest.mark.parametrize("missing", ["reweight", "impute_county_median"])
@pytest.mark.parametrize("normalisation,aggregation", [
    ("minmax", "arithmetic"), ("minmax", "geometric"), ("zscore", "arithmetic"),
    ("rank", "arithmetic"), ("rank", "geometric"), ("target", "arithmetic")])
def test_rows_score_as_the_model_transform(normalisation, aggregation, missing):
    rng = np.random.default_rng(7)
    table = _table(rng)
    res = score(table, _system(normalisation, aggregation, missing))
    model = res.model
    assert {"log", "asinh"} <= set(model.treatment.actions_)
    fields = ["score_d2", "composite", "score_d1"]
    values = table.to_numpy(dtype=float)
    rows = _ModelRows.of(model, values, COLS, fields)
    assert rows is not None
    numer = [(COLS.index("d"), COLS.index("a"))]
    # pairs: town, varied column, field; values beyond the reference range on both sides
    # every (column, field), on towns with and without missing values
    t, c, fld = (a.ravel() for a in np.meshgrid([0, 3, 5, 8], range(len(COLS)),
                                                  range(len(fields)), indexing="ij"))
    assert np.isnan(values[t]).any()
    x = np.stack([np.linspace(-5, 2 * np.nanmax(values[:, j]), 9) for j in c])
    got = rows.scores(t, c, x, fld, numer)
    for k in range(len(t)):
        # one town's rows with column c[k] set to x[k], scored by the model itself
        X = pd.DataFrame(np.repeat(values[[t[k]]], x.shape[1], axis=0), columns=COLS)
        base = values[t[k], c[k]]
        X.iloc[:, c[k]] = x[k]
        if COLS[c[k]] == "a" and base != 0:
            X["d"] = values[t[k], 3] * x[k] / base
        want = model.transform(X)[fields[fld[k]]].to_numpy()
        np.testing.assert_array_equal(got[k], want)


def test_other_models_are_left_to_their_transform():
    class Plain:
        def transform(self, rows):
            return pd.DataFrame({"composite": rows.sum(axis=1)})

    assert _ModelRows.of(Plain(), np.zeros((2, 1)), ["a"], ["composite"]) is None
