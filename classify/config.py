"""The indicator system: TOML → frozen, validated dataclasses.

It names the indicators (headers they are recognised by, unit, dimension, direction,
transform, expert weight), the dimensions, the derived indicators and the method choices;
``load_system()`` gives the built-in ``classify/presets/indicators_default.toml``.  Its tables
``[methods]``, ``[uncertainty]``, ``[dimensions.<id>]``, ``[indicators.<id>]`` and
``[derived.<id>]`` take the fields of :class:`Methods`, :class:`Uncertainty`,
:class:`Dimension`, :class:`Indicator` and :class:`Derived` as keys (allowed values: the
tuples below).  Every error names the key, e.g. ``indicators.gdp.weight``.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from classify.errors import ConfigError
from geo.errors import InputError
from geo.units import is_flag_unit, parse_unit

__all__ = [
    "Indicator", "Dimension", "Derived", "Methods", "Uncertainty", "IndicatorSystem",
    "load_system", "parse_system", "system_to_toml", "DEFAULT_PATH",
    "NORMALISATIONS", "WEIGHTINGS", "AGGREGATIONS", "MISSING", "OUTLIERS", "TRANSFORMS",
    "DERIVED_KINDS", "REFERENCES",
]

NORMALISATIONS = ("minmax", "zscore", "rank", "target")
WEIGHTINGS = ("equal", "expert", "entropy", "critic", "pca")
AGGREGATIONS = ("arithmetic", "geometric")
MISSING = ("reweight", "impute_county_median")
OUTLIERS = ("jrc", "none")
TRANSFORMS = ("auto", "none", "log", "asinh")
DERIVED_KINDS = ("lq", "per_capita", "per_area", "share", "ratio")
REFERENCES = ("all", "county", "city")
DIRECTIONS = ("+", "-")

DEFAULT_PATH = "presets/indicators_default.toml"


def _need(ok: bool, message: str, key: str | None, path) -> None:
    """Raise a :class:`ConfigError` naming ``key`` and the file unless ``ok``."""
    if not ok:
        raise ConfigError(message, key=key, path=path)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _choice(value, choices, key, path):
    _need(value in choices, f"{value!r} is not one of {', '.join(map(repr, choices))}", key,
          path)


def _weight(value, key, path):
    _need(_number(value) and math.isfinite(value), f"weight must be a number, found {value!r}",
          key, path)
    _need(value >= 0, f"weight must be >= 0, found {value!r}; use 0 to switch it off", key, path)


def _unit(value, key, path):
    if value is None:
        return
    try:
        parse_unit(str(value))
    except InputError as err:
        raise ConfigError(err.message, key=key, path=path) from None


def _label(value, key, path):
    _need(isinstance(value, str), f"must be text, found {value!r}", key, path)


def _operand(value, key, path):
    _need(isinstance(value, str) and bool(value), "must name an indicator id or a column", key,
          path)


def _validate(obj, prefix: str, checks: dict) -> None:
    """Check the fields of a config dataclass in order: ``checks`` maps a field to the
    tuple of its allowed values or to a ``check(value, key, path)``; errors name
    ``<prefix>.<field>`` and the file."""
    for name, check in checks.items():
        value, key = getattr(obj, name), f"{prefix}.{name}"
        if isinstance(check, tuple):
            _choice(value, check, key, obj.path)
        else:
            check(value, key, obj.path)


@dataclass(frozen=True)
class Dimension:
    """A dimension (``strength``, ``industry`` …) and its weight across dimensions."""

    id: str
    label_zh: str
    label_en: str = ""
    weight: float = 1.0
    #: the short label that names clusters (``工业`` → 工业主导型 / Industry-led); the
    #: label when not given
    short_zh: str | None = None
    short_en: str | None = None
    path: str | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        _validate(self, f"dimensions.{self.id}", {"label_zh": _label, "weight": _weight})

    def short(self) -> tuple[str, str]:
        """``(zh, en)`` short labels for cluster names."""
        return (self.short_zh or self.label_zh,
                self.short_en or self.label_en or self.short_zh or self.label_zh)


@dataclass(frozen=True)
class Indicator:
    """One indicator: how it is recognised in a table and how it is scored.

    ``direction`` is ``"+"`` when more is better, ``"-"`` when less is better.  ``column``
    (optional) is an exact header that must exist in the table; ``aliases`` are other
    headers the indicator is recognised by.  ``target`` is used by the ``target``
    normalisation (distance to a target); ``None`` means the best observed value.
    """

    id: str
    label_zh: str
    unit: str
    dimension: str
    label_en: str = ""
    aliases: tuple[str, ...] = ()
    direction: str = "+"
    transform: str = "auto"
    weight: float = 1.0
    column: str | None = None
    target: float | None = None
    #: ``true``: values may be negative, and a % value may lie outside 0–100 (a balance, a
    #: growth rate).  Unset: amounts, counts, areas, distances and shares cannot be negative
    #: and shares are 0–100; other values are impossible (see
    #: :func:`classify.indicators.check_values`).
    signed: bool | None = None
    path: str | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        k = f"indicators.{self.id}"
        _need(self.signed is None or isinstance(self.signed, bool),
              f"signed must be true or false, found {self.signed!r}", f"{k}.signed", self.path)
        _validate(self, k, {"label_zh": _label, "unit": _unit, "direction": DIRECTIONS,
                            "transform": TRANSFORMS, "weight": _weight})
        _need(all(isinstance(a, str) for a in self.aliases),
              f"aliases must be a list of header texts, found {self.aliases!r}",
              f"{k}.aliases", self.path)


@dataclass(frozen=True)
class Derived:
    """An indicator computed from others.

    kinds (``numerator`` = a, ``denominator`` = b, per town i, reference group g):

    - ``lq``: location quotient (a_i / b_i) / (Σ_g a / Σ_g b), sums over the towns of the
      reference group (``reference``: the whole input, the county or the city) that have
      both values;
    - ``per_capita`` / ``per_area`` / ``ratio``: a_i / b_i, converted to ``unit``
      (e.g. 万元 / 人 → 元/人 multiplies by 10,000);
    - ``share``: 100 · a_i / b_i, in %.

    ``dimension`` may be empty: the indicator is then reported but not scored.
    ``numerator``/``denominator`` name indicator ids or other columns of the frame (e.g.
    ``area_km2`` from the boundaries, whose unit is then given by ``denominator_unit``).
    """

    id: str
    kind: str
    numerator: str
    denominator: str
    label_zh: str = ""
    label_en: str = ""
    unit: str | None = None
    dimension: str | None = None
    direction: str = "+"
    transform: str = "auto"
    weight: float = 1.0
    reference: str = "all"
    numerator_unit: str | None = None
    denominator_unit: str | None = None
    target: float | None = None
    path: str | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        k = f"derived.{self.id}"
        _validate(self, k, {"kind": DERIVED_KINDS, "direction": DIRECTIONS,
                            "transform": TRANSFORMS, "reference": REFERENCES, "weight": _weight,
                            "numerator": _operand, "denominator": _operand, "unit": _unit,
                            "numerator_unit": _unit, "denominator_unit": _unit})


@dataclass(frozen=True)
class Methods:
    """Method choices of a run (each overridable from the command line)."""

    normalisation: str = "minmax"
    weighting: str = "equal"
    aggregation: str = "arithmetic"
    missing: str = "reweight"
    outliers: str = "jrc"
    dimension_weighting: str | None = None
    path: str | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        across = {} if self.dimension_weighting is None else {"dimension_weighting": WEIGHTINGS}
        _validate(self, "methods", {"normalisation": NORMALISATIONS, "weighting": WEIGHTINGS,
                                    **across, "aggregation": AGGREGATIONS, "missing": MISSING,
                                    "outliers": OUTLIERS})


@dataclass(frozen=True)
class Uncertainty:
    """Settings of the Monte Carlo uncertainty analysis (``[uncertainty]``).

    ``weights``: ``dirichlet`` (``Dirichlet(concentration · k · w)`` around the base
    weights), ``noise`` (``w · (1 + U(−noise, noise))``) or ``none``; ``normalisations`` and
    ``aggregations``: the methods drawn from (one each = not varied).
    """

    weights: str = "dirichlet"
    concentration: float = 20.0
    noise: float = 0.25
    normalisations: tuple[str, ...] = ("minmax", "rank")
    aggregations: tuple[str, ...] = ("arithmetic", "geometric")
    path: str | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        p = self.path
        _choice(self.weights, ("dirichlet", "noise", "none"), "uncertainty.weights", p)
        for key, zero_ok in (("concentration", False), ("noise", True)):
            v = getattr(self, key)
            _need(_number(v) and not (v < 0 or (v == 0 and not zero_ok)),
                  f"must be a {'non-negative' if zero_ok else 'positive'} number, found {v!r}",
                  f"uncertainty.{key}", p)
        _need(not self.noise >= 1, f"must be below 1, found {self.noise}", "uncertainty.noise", p)
        for key, choices in (("normalisations", NORMALISATIONS),
                             ("aggregations", AGGREGATIONS)):
            _need(bool(getattr(self, key)), "give at least one method", f"uncertainty.{key}", p)
            for v in getattr(self, key):
                _choice(v, choices, f"uncertainty.{key}", p)


@dataclass(frozen=True)
class IndicatorSystem:
    """Indicators, derived indicators, dimensions and methods, validated as a whole."""

    indicators: tuple[Indicator, ...]
    dimensions: tuple[Dimension, ...]
    derived: tuple[Derived, ...] = ()
    methods: Methods = Methods()
    path: str | None = field(default=None, compare=False)
    uncertainty: Uncertainty = Uncertainty()

    def __post_init__(self):
        dims = [d.id for d in self.dimensions]
        seen: set[str] = set()
        for kind, items in (("indicators", self.indicators), ("derived", self.derived)):
            for ind in items:
                _need(ind.id not in seen, f"id {ind.id!r} is declared twice; ids must be unique",
                      f"{kind}.{ind.id}", self.path)
                seen.add(ind.id)
                _need(ind.dimension is None or ind.dimension in dims,
                      f"unknown dimension {ind.dimension!r}; declared dimensions: "
                      f"{', '.join(dims)}. Add [dimensions.{ind.dimension}] or fix the id",
                      f"{kind}.{ind.id}.dimension", self.path)
        _need(len(set(dims)) == len(dims), "a dimension id is declared twice", "dimensions",
              self.path)

    # -- lookups ---------------------------------------------------------------------
    @property
    def builtin(self) -> bool:
        """Whether this is the built-in default system (lenient about absent inputs)."""
        return self.path == "classify/" + DEFAULT_PATH

    @property
    def across(self) -> str:
        """The weighting method across dimensions."""
        return self.methods.dimension_weighting or self.methods.weighting

    @property
    def scored(self) -> tuple[Indicator | Derived, ...]:
        """Indicators and derived indicators that belong to a dimension, in order."""
        return tuple(i for i in (*self.indicators, *self.derived) if i.dimension)

    def get(self, id_: str) -> Indicator | Derived:
        """The indicator or derived indicator ``id_``."""
        found = {i.id: i for i in (*self.indicators, *self.derived)}.get(id_)
        _need(found is not None, f"no indicator {id_!r} in the indicator system",
              f"indicators.{id_}", self.path)
        return found

    def headers(self) -> dict[str, str]:
        """Indicator id → its standard table header with the unit in full-width brackets
        (``地区生产总值（万元）``); yes/no flags carry no unit (``省级以上园区``)."""
        return {i.id: i.label_zh if is_flag_unit(i.unit) else f"{i.label_zh}（{i.unit}）"
                for i in self.indicators}

    def dimension(self, id_: str) -> Dimension:
        found = {d.id: d for d in self.dimensions}.get(id_)
        _need(found is not None, f"no dimension {id_!r}", f"dimensions.{id_}", self.path)
        return found

    def replace_methods(self, **changes) -> IndicatorSystem:
        """A copy with some method choices changed (``weighting="entropy"`` …)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        return replace(self, methods=replace(self.methods, path=self.path, **changes))

    def to_dict(self) -> dict[str, Any]:
        """The effective config as plain data (TOML layout), e.g. for ``run.json``."""
        def strip(obj):
            return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(obj).items()
                    if k not in ("path", "id") and v is not None and v != ()}
        return {
            "methods": strip(self.methods),
            "uncertainty": strip(self.uncertainty),
            "dimensions": {d.id: strip(d) for d in self.dimensions},
            "indicators": {i.id: strip(i) for i in self.indicators},
            "derived": {i.id: strip(i) for i in self.derived},
        }


def _keys(cls, internal=("id", "path")) -> set[str]:
    """The TOML keys of a config dataclass: its fields but the ``internal`` ones."""
    return set(cls.__dataclass_fields__) - set(internal)


def _table(data, key, path, allowed=None, what="", where=None) -> dict:
    """``data[key]`` (empty if absent), which must be a table; ``where``: its full key."""
    value, where = data.get(key, {}), where or key
    _need(isinstance(value, dict),
          f"must be a table ([{where}.<id>]), found {type(value).__name__}", where, path)
    bad = sorted(set(value) - allowed) if allowed is not None else []
    if bad:
        raise ConfigError(f"unknown {what}key; allowed: {', '.join(sorted(allowed))}",
                          key=f"{where}.{bad[0]}", path=path)
    return value


def _objects(data, section: str, cls, path, lists=(), what: str = "") -> tuple:
    """The ``[<section>.<id>]`` tables as ``cls`` objects, one by one (``lists``: the list
    keys, held as tuples; ``what`` their items, for the message)."""
    allowed, out = _keys(cls), []
    for id_, body in _table(data, section, path).items():
        key = f"{section}.{id_}"
        _need(isinstance(body, dict), f"must be a table, found {body!r}", key, path)
        unknown = sorted(set(body) - allowed)
        if unknown:
            raise ConfigError(f"unknown key(s) {', '.join(unknown)}; allowed: "
                              f"{', '.join(sorted(allowed))}", key=f"{key}.{unknown[0]}",
                              path=path)
        body = _tuples(body, lists, key, what, path)
        try:
            out.append(cls(id=id_, path=path, **body))
        except TypeError as err:  # a required key is missing
            raise ConfigError(f"missing a required key ({err})", key=key, path=path) from None
    return tuple(out)


def _tuples(body: dict, names, prefix: str, what: str, path) -> dict:
    """``body`` with its lists ``names`` as tuples (the dataclasses are frozen)."""
    body = dict(body)
    for name in (n for n in names if n in body):
        _need(isinstance(body[name], list), f"must be a list of {what}", f"{prefix}.{name}", path)
        body[name] = tuple(body[name])
    return body


def parse_system(data: dict, path: str | None = None) -> IndicatorSystem:
    """Build an :class:`IndicatorSystem` from parsed TOML data."""
    unknown = set(data) - {"methods", "uncertainty", "dimensions", "indicators", "derived",
                           "meta"}
    if unknown:
        raise ConfigError(f"unknown section(s) {', '.join(sorted(unknown))}; expected "
                          "methods, dimensions, indicators, derived", key=sorted(unknown)[0],
                          path=path)
    methods = _table(data, "methods", path, _keys(Methods), "method ")
    dims = _objects(data, "dimensions", Dimension, path)
    inds = _objects(data, "indicators", Indicator, path, ["aliases"], "header texts")
    der = _objects(data, "derived", Derived, path)
    _need(bool(inds), "no indicators declared; add [indicators.<id>] tables", "indicators", path)
    unc = _tuples(_table(data, "uncertainty", path, _keys(Uncertainty)),
                  ["normalisations", "aggregations"], "uncertainty", "method names", path)
    return IndicatorSystem(inds, dims, der, Methods(**methods, path=path), path=path,
                           uncertainty=Uncertainty(**unc, path=path))


def load_system(path: str | Path | None = None) -> IndicatorSystem:
    """Load an indicator system from TOML; ``None`` gives the built-in default.

    Raises
    ------
    classify.errors.ConfigError
        Naming the key and file, e.g. an unknown dimension, a negative weight, an unknown
        transform or method, an unknown key.
    """
    if path is None:
        text = resources.files("classify").joinpath(DEFAULT_PATH).read_text(encoding="utf-8")
        where = "classify/" + DEFAULT_PATH
    else:
        p = Path(path)
        _need(p.is_file(), "file not found; check the --config path", None, p)
        text = p.read_text(encoding="utf-8-sig")
        where = str(p)
    return parse_system(_toml(text, where), path=where)


def _toml(text: str, where: str) -> dict:
    """Parsed TOML, or a :class:`ConfigError` naming the file ``where``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"not valid TOML: {err}", path=where) from None


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(float(v)) if isinstance(v, float) else str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    s = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{s}"'


def system_to_toml(system: IndicatorSystem, *, comments: dict[str, list[str]] | None = None,
                   header: list[str] = ()) -> str:
    """Write ``system`` as TOML text (the layout :func:`load_system` reads).

    ``comments`` maps ``"indicators.<id>"`` (or a section name) to comment lines placed
    above that table.
    """
    comments = comments or {}
    data = system.to_dict()
    out = [f"# {h}" if h else "#" for h in header]
    for section in ("methods", "uncertainty", "dimensions", "indicators", "derived"):
        body = data[section]
        if section in ("methods", "uncertainty"):
            out += ["", f"[{section}]"] + [f"{k} = {_toml_value(v)}" for k, v in body.items()]
            continue
        for id_, fields in body.items():
            out.append("")
            out += [f"# {c}" for c in comments.get(f"{section}.{id_}", [])]
            out.append(f"[{section}.{id_}]")
            out += [f"{k} = {_toml_value(v)}" for k, v in fields.items()]
        out += [f"# {c}" for c in comments.get(section, [])]
    return "\n".join(out) + "\n"
