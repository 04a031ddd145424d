"""The fitted indicator model as a file: ``model.json`` (write, load, validate, apply).

Every run writes the model it scored with, so that a later year's table can be scored
with the *same* outlier caps, transforms, normalisation parameters and weights
(``towntype run … --reference PREVIOUS_RUN_DIR``): a score of 60 then means the same in
both years.  JSON, not pickle: readable, diffable, safe to load, independent of the
Python and scikit-learn versions.

Layout (``"format": "towntype-model", "version": 1``)::

    {
      "format": "towntype-model", "version": 1,
      "tool": "towntype 0.x",
      "fitted_on": {"indicators": {"path": …, "sha256": …}, "towns": 85},
      "methods": {"normalisation": "minmax", "aggregation": "arithmetic",
                  "missing": "reweight", "outliers": "jrc", "weighting": "equal"},
      "dimensions": [{"id": "strength", "label_zh": "综合实力", "weight": 0.142857,
                      "rescale": null | {"lo": …, "hi": …}}, …],
      "indicators": [{"id": "gdp", "label_zh": "地区生产总值", "unit": "万元",
                      "dimension": "strength", "direction": "+",
                      "weight_in_dimension": 0.1667, "weight": 0.0238,
                      "reference_range": [min, max],            # raw values, fitting year
                      "treatment": {"action": "none|winsorised|log|asinh",
                                    "cap_low": null|x, "cap_high": null|x,   # null = no cap
                                    "shift": 0.0, "scale": 1.0},
                      "normaliser": {...}}, …]
    }

``normaliser`` holds the fitted parameters of ``methods.normalisation`` on the treated
values (keys in ``_PARAMS``; ``rank``: the sorted reference values).  ``dimensions[].rescale``
is set for unbounded normalisations (z-scores): the reference range of the raw dimension score.

Values of a new year beyond the reference range go through the reference transforms
unchanged (:data:`BEYOND_RANGE_RULE`); :func:`apply_model` counts them per indicator, and
scores outside 0–100 per column, for the console and ``run.json`` (``model.beyond_range``).
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from classify import __version__
from classify.config import DIRECTIONS, MISSING
from classify.errors import ConfigError
from classify.normalise import NORMALISERS, OutlierTreatment, _signs
from classify.scoring import AGGREGATIONS, ScoreModel, ScoreResult
from geo.errors import InputError

__all__ = ["FORMAT", "VERSION", "model_to_dict", "model_from_dict", "write_model",
           "load_model", "apply_model", "save_run_model", "model_record", "beyond_range",
           "BEYOND_RANGE_RULE", "MODEL_FILE"]

FORMAT = "towntype-model"
VERSION = 1
MODEL_FILE = "model.json"
#: The rule for new values beyond the reference year's range (said in run.json).
BEYOND_RANGE_RULE = (
    "参照模型外的数值保留并计数（kept and counted）：minmax/zscore 得分可低于 0 或高于 100；"
    "rank/target 归一化与缩尾上下限按参照年截断（clipped as fitted）。 Values beyond the "
    "reference year's range are kept and counted: minmax/zscore scores may fall below 0 "
    "or exceed 100; rank/target normalisation and winsorisation caps clip as fitted.")

#: Fitted parameters of the outlier treatment and of each normaliser: JSON key → attribute.
_PARAMS = {"treatment": {"cap_low": "lower_", "cap_high": "upper_", "shift": "shift_",
                         "scale": "scale_"},
           "minmax": {"min": "min_", "max": "max_"},
           "zscore": {"mean": "mean_", "scale": "scale_"},
           "target": {"worst": "worst_", "target": "target_"},
           "rank": {"reference": "reference_"}}
#: A cap written as null: no cap.
_NO_CAP = {"cap_low": -np.inf, "cap_high": np.inf}


# ----------------------------------------------------------------------------- writing
def _num(x) -> float | None:
    """A float for JSON; ±inf and NaN (no cap, no value) become null."""
    x = float(x)
    return x if math.isfinite(x) else None


def _fitted(estimator, params: dict, j: int) -> dict:
    """Column ``j``'s fitted ``params`` of ``estimator`` as JSON values."""
    return {key: [float(v) for v in getattr(estimator, attr)[j]] if key == "reference"
            else _num(getattr(estimator, attr)[j]) for key, attr in params.items()}


def _reference_range(indicators: pd.DataFrame | None, ind_id: str) -> list:
    if indicators is None or ind_id not in indicators:
        return [None, None]
    col = pd.to_numeric(indicators[ind_id], errors="coerce")
    return [_num(col.min()), _num(col.max())]            # no value: NaN, written null


def model_to_dict(model: ScoreModel, system, indicators: pd.DataFrame | None = None, *,
                  weighting: str = "", outliers: str = "jrc",
                  source: dict | None = None) -> dict:
    """The model as plain JSON data (see the module docstring for the layout).

    ``indicators`` (the table the model was fitted on) gives each indicator's
    ``reference_range``; ``system`` its labels and units.
    """
    treat = model.treatment
    w_dim = np.asarray(model.w_dim, dtype=float)
    items = []
    for j, ind_id in enumerate(model.indicators):
        ind = system.get(ind_id)
        d = int(model.dim_index[j])
        items.append({
            "id": ind_id, "label_zh": ind.label_zh, "label_en": ind.label_en,
            "unit": ind.unit, "dimension": model.dims[d], "direction": model.directions[j],
            "weight_in_dimension": float(model.w_in[j]),
            "weight": float(model.w_in[j] * w_dim[d]),
            "reference_range": _reference_range(indicators, ind_id),
            "treatment": {"action": treat.actions_[j],
                          **_fitted(treat, _PARAMS["treatment"], j)},
            "normaliser": _fitted(model.normaliser, _PARAMS[model.normalisation], j),
        })
    dims = []
    for d, dim_id in enumerate(model.dims):
        dim = system.dimension(dim_id)
        rescale = None if model.dim_lo is None else {"lo": _num(model.dim_lo[d]),
                                                     "hi": _num(model.dim_hi[d])}
        dims.append({"id": dim_id, "label_zh": dim.label_zh, "label_en": dim.label_en,
                     "weight": float(w_dim[d]), "rescale": rescale})
    return {
        # no creation time: the same fit gives the same bytes (run.json has the time)
        "format": FORMAT, "version": VERSION, "tool": f"towntype {__version__}",
        "fitted_on": source or {},
        "methods": {"normalisation": model.normalisation, "aggregation": model.aggregation,
                    "missing": model.missing, "outliers": outliers, "weighting": weighting},
        "dimensions": dims,
        "indicators": items,
    }


def write_model(path: str | Path, data: dict) -> Path:
    """Write ``model.json`` (UTF-8, Chinese readable, no NaN/Infinity tokens)."""
    path = Path(path)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1, allow_nan=False) + "\n",
                    encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- loading
class _Checker:
    """Reads keys of the model data, raising a ConfigError that names the key."""

    def __init__(self, path):
        self.path = path

    def fail(self, key: str, message: str):
        raise ConfigError(f"{message}; the file is not a valid towntype model — re-run the "
                          "reference year with this towntype version to rewrite model.json",
                          key=key, path=self.path)

    def get(self, obj: dict, name: str, at: str, kind, *, null=False):
        """``obj[name]`` as ``kind``; ``at`` is the key of ``obj`` ('' at the top)."""
        key = f"{at}.{name}" if at else name
        if not isinstance(obj, dict) or name not in obj:
            self.fail(key, "missing")
        return self.value(obj[name], key, kind, null=null)

    def value(self, value, key: str, kind, *, null=False):
        if value is None and null:
            return None
        if kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value):
                self.fail(key, f"expected a finite number, found {value!r}")
            return float(value)
        if not isinstance(value, kind):
            self.fail(key, f"expected {getattr(kind, '__name__', kind)}, found "
                           f"{type(value).__name__} {value!r}"[:200])
        return value

    def choice(self, obj, name, at, choices):
        value = self.get(obj, name, at, str)
        if value not in choices:
            self.fail(f"{at}.{name}", f"{value!r} is not one of {', '.join(choices)}")
        return value

    def params(self, obj: dict, params: dict, key: str) -> dict:
        """The fitted ``params`` (JSON keys) of one indicator: numbers, ``reference`` a
        list of numbers, a cap null for none."""
        out = {}
        for name in params:
            if name == "reference":
                values = self.get(obj, name, key, list)
                out[name] = np.asarray([self.value(v, f"{key}.{name}[{i}]", float)
                                        for i, v in enumerate(values)], dtype=float)
            else:
                value = self.get(obj, name, key, float, null=name in _NO_CAP)
                out[name] = _NO_CAP[name] if value is None else value
        return out


def _set_fitted(estimator, params: dict, rows: list[dict]) -> None:
    for name, attr in params.items():
        column = [row[name] for row in rows]
        setattr(estimator, attr, column if name == "reference"
                else np.asarray(column, dtype=float))


def _read_indicator(c: _Checker, item: dict, k: str, dims: list, normalisation: str) -> dict:
    row = {"id": c.get(item, "id", k, str)}
    dim = c.get(item, "dimension", k, str)
    if dim not in dims:
        c.fail(f"{k}.dimension", f"{dim!r} is not one of the dimensions {dims}")
    row["dim"] = dims.index(dim)
    row["direction"] = c.choice(item, "direction", k, DIRECTIONS)
    row["w_in"] = c.get(item, "weight_in_dimension", k, float)
    t = c.get(item, "treatment", k, dict)
    row["action"] = c.choice(t, "action", f"{k}.treatment", ("none", "winsorised", "log", "asinh"))
    row["treatment"] = c.params(t, _PARAMS["treatment"], f"{k}.treatment")
    n = c.get(item, "normaliser", k, dict)
    row["normaliser"] = c.params(n, _PARAMS[normalisation], f"{k}.normaliser")
    return row


def model_from_dict(data: dict, *, path: str | Path | None = None) -> ScoreModel:
    """A :class:`~classify.scoring.ScoreModel` from ``model.json`` data, validated.

    Raises
    ------
    classify.errors.ConfigError
        Naming the key that is missing or wrong (``indicators[3].normaliser.min``).
    """
    c = _Checker(path)
    if not isinstance(data, dict):
        c.fail("(top level)", f"expected a JSON object, found {type(data).__name__}")
    if data.get("format") != FORMAT:
        c.fail("format", f"expected {FORMAT!r}, found {data.get('format')!r}")
    version = data.get("version")
    if version != VERSION:
        c.fail("version", f"this towntype reads model version {VERSION}, found {version!r}")
    methods = c.get(data, "methods", "", dict)
    normalisation = c.choice(methods, "normalisation", "methods", tuple(NORMALISERS))
    aggregation = c.choice(methods, "aggregation", "methods", AGGREGATIONS)
    missing = c.choice(methods, "missing", "methods", MISSING)
    dims_data = c.get(data, "dimensions", "", list)
    if not dims_data:
        c.fail("dimensions", "empty")
    dims, w_dim, lo, hi = [], [], [], []
    for d, item in enumerate(dims_data):
        k = f"dimensions[{d}]"
        dims.append(c.get(item, "id", k, str))
        w_dim.append(c.get(item, "weight", k, float))
        rescale = c.get(item, "rescale", k, dict, null=True)
        lo.append(np.nan if rescale is None else c.get(rescale, "lo", f"{k}.rescale", float))
        hi.append(np.nan if rescale is None else c.get(rescale, "hi", f"{k}.rescale", float))
    if len(set(dims)) != len(dims):
        c.fail("dimensions", f"a dimension id is listed twice: {dims}")
    items = c.get(data, "indicators", "", list)
    if not items:
        c.fail("indicators", "empty: the model scores no indicator")
    rows = [_read_indicator(c, item, f"indicators[{j}]", dims, normalisation)
            for j, item in enumerate(items)]
    ids = [r["id"] for r in rows]
    if len(set(ids)) != len(ids):
        c.fail("indicators", f"an indicator id is listed twice: {ids}")
    directions, actions = [r["direction"] for r in rows], [r["action"] for r in rows]
    treat = OutlierTreatment(transforms=[a if a in ("log", "asinh") else "none"
                                         for a in actions],
                             rule=str(methods.get("outliers", "jrc")))
    treat.actions_, treat.record_, treat.n_features_in_ = actions, [], len(ids)
    _set_fitted(treat, _PARAMS["treatment"], [r["treatment"] for r in rows])
    norm = NORMALISERS[normalisation](directions=directions)
    norm.signs_, norm.n_features_in_ = _signs(directions, len(ids)), len(ids)
    _set_fitted(norm, _PARAMS[normalisation], [r["normaliser"] for r in rows])
    rescale = not np.isnan(lo).all()
    return ScoreModel(ids, dims, np.array([r["dim"] for r in rows]), directions, treat, norm,
                      normalisation, aggregation, missing, np.array([r["w_in"] for r in rows]),
                      np.asarray(w_dim), np.asarray(lo) if rescale else None,
                      np.asarray(hi) if rescale else None)


def load_model(path: str | Path) -> tuple[ScoreModel, dict, str]:
    """Read and validate ``model.json`` (or the ``model.json`` of a run folder).

    Returns the model, the raw data and the file's sha256.
    """
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        raise ConfigError(f"no model file at {path}: --reference needs the folder of an "
                          "earlier run (with its model.json) or the model.json itself",
                          path=path)
    raw = path.read_bytes()
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"not readable as UTF-8 JSON ({err})", path=path) from None
    return model_from_dict(data, path=path), data, hashlib.sha256(raw).hexdigest()


# ----------------------------------------------------------------------------- applying
def beyond_range(data: dict, indicators: pd.DataFrame, scores: pd.DataFrame) -> dict:
    """Counts of values beyond the reference year's range and of scores outside 0–100."""
    values = {}
    for item in data["indicators"]:
        lo, hi = (item.get("reference_range") or [None, None])[:2]
        if item["id"] not in indicators:
            continue
        x = pd.to_numeric(indicators[item["id"]], errors="coerce")
        below = int((x < lo).sum()) if lo is not None else 0
        above = int((x > hi).sum()) if hi is not None else 0
        if below or above:
            values[item["id"]] = {"below": below, "above": above}
    s = scores[[c for c in scores.columns if c.startswith("score_") or c == "composite"]]
    below, above = (s < 0).sum(), (s > 100).sum()
    out = {col: {"below_0": int(below[col]), "above_100": int(above[col])}
           for col in s.columns if below[col] or above[col]}
    return {"rule": BEYOND_RANGE_RULE, "values": values, "scores": out}


def apply_model(reference: str | Path, indicators: pd.DataFrame, county=None, *,
                system=None, log=lambda msg: None) -> ScoreResult:
    """Score ``indicators`` with the model of an earlier run, fitting nothing.

    ``reference`` is a run folder or its ``model.json``; ``system`` (this run's indicator
    system) names the indicators it would score that the model does not.  The result's
    ``reference`` records the model file (path, sha256) and the values beyond its range (see
    the module docstring for the rule); each count is also passed to ``log``.

    Raises
    ------
    geo.errors.InputError
        An indicator of the model is not in this year's table.
    classify.errors.ConfigError
        The model file is missing or invalid.
    """
    path = Path(reference)
    model, data, digest = load_model(path)
    model_path = path / MODEL_FILE if path.is_dir() else path
    absent = [i for i in model.indicators if i not in indicators.columns]
    if absent:
        raise InputError(f"指标缺失（indicator missing）: the reference model {model_path} "
                         f"scores {', '.join(absent)}, which this year's table lacks; add "
                         "the columns (same headers and units as the reference year) or "
                         "run without --reference", path=model_path)
    scores = model.transform(indicators, county)
    scorable = [i.id for i in system.scored] if system is not None else indicators.columns
    extra = [c for c in scorable if c in indicators.columns and c not in model.indicators]
    excluded = pd.DataFrame({"indicator": extra,
                             "reason": "not in the reference model (--reference)"})
    treatment = pd.DataFrame({"indicator": model.indicators,
                              "action": model.treatment.actions_,
                              "cap_low": model.treatment.lower_,
                              "cap_high": model.treatment.upper_})
    beyond = beyond_range(data, indicators, scores)
    method = data["methods"].get("weighting", "")
    weights = model.weights_table(f"{method} (reference model)" if method
                                  else "reference model")
    result = ScoreResult(scores, weights, model, treatment, excluded,
                         reference={"path": str(model_path), "sha256": digest,
                                    "fitted_on": data.get("fitted_on", {}),
                                    "beyond_range": beyond})
    log(f"参照模型（reference model）：{model_path}（sha256 {digest[:12]}…）")
    for ind, n in beyond["values"].items():
        log(f"超出参照年范围（beyond the reference range）：{ind} 低于 {n['below']} 个、"
            f"高于 {n['above']} 个")
    for col, n in beyond["scores"].items():
        log(f"得分超出 0–100（score outside 0–100, kept）：{col} <0 {n['below_0']} 个、"
            f">100 {n['above_100']} 个")
    return result


def save_run_model(path: str | Path, scored: ScoreResult, system, indicators: pd.DataFrame,
                   source: dict | None = None) -> Path:
    """``model.json`` of a run: the model fitted here, or — with ``--reference`` — the
    reference file itself, byte for byte (the same sha256: a chain of years keeps one
    model)."""
    path = Path(path)
    ref = scored.reference
    if ref:
        path.write_bytes(Path(ref["path"]).read_bytes())
        return path
    method = str(scored.weights["method"].iloc[0]) if len(scored.weights) else ""
    data = model_to_dict(scored.model, system, indicators, weighting=method,
                         outliers=system.methods.outliers, source=source)
    return write_model(path, data)


def model_record(path: str | Path, scored: ScoreResult) -> dict:
    """``run.json["model"]``: the model file written, and the reference applied if any."""
    path = Path(path)
    return {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "reference": scored.reference}
