"""Town taxonomies as data: categories, subtypes, roles, rules, labels and colours.

A taxonomy is a TOML file parsed into frozen dataclasses that validate themselves; every
error is a :class:`classify.errors.ConfigError` naming the key.  Built-in presets
(``classify/presets/taxonomy_<name>.toml``): ``guangdong`` (强·专·特 towns), ``county``
(创先/进位/消薄 counties), ``village`` (national village types); another is another TOML file.

Rule fields and scales
----------------------
Each rule compares one *field* (a frame column such as ``score_industry``, ``lq_industry``,
``industrial_park``; the derived ``code_type`` = last three digits of ``town_code`` as an
integer; ``name`` = the town name, for ``contains`` rules) on a *scale*:

``value``
    the value itself (absolute threshold, flag 1/0, location quotient);
``percentile``
    percentile rank within the region, 0–100 (``pandas.Series.rank(pct=True) * 100``,
    ties averaged: of five towns the best is P100, the worst P20);
``percentile_county``
    the same within the town's county (``county_code``);
``rank_county``
    rank within the county, 1 = highest value (use ``op = "<="``).

Example
-------
>>> tax = load_taxonomy("guangdong")
>>> tax.palette()["specialised/industrial"]["zh"]
'专业镇·工业'
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from classify.config import _keys, _need, _number, _table, _toml
from classify.errors import ConfigError

__all__ = [
    "Rule", "Subtype", "Category", "Role", "Taxonomy", "load_taxonomy", "parse_taxonomy",
    "taxonomy_source",
    "PRESETS", "OPS", "SCALES",
]

OPS = (">=", "<=", ">", "<", "==", "contains")
SCALES = ("value", "percentile", "percentile_county", "rank_county")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
PRESETS = ("guangdong", "county", "village")


@dataclass(frozen=True)
class Rule:
    """One condition ``scale(field) op threshold``.

    ``spread`` divides the margin into ``norm_margin`` (comparable across rules); when not
    given it is 100 on percentile scales, the county size on ``rank_county`` and, on the
    ``value`` scale, the field's standard deviation across towns (1 for flags).
    ``optional = true`` lets the field's column be absent without a warning (the rule then
    fails for every town, e.g. an optional 中心镇 flag).
    """

    id: str
    field: str
    op: str
    threshold: float | str
    scale: str = "value"
    spread: float | None = None
    optional: bool = False
    key: str = ""
    path: str | None = None

    def __post_init__(self):
        k, p = self.key, self.path
        _need(bool(self.id) and isinstance(self.id, str), "a rule needs an id", f"{k}.id", p)
        _need(isinstance(self.field, str) and bool(self.field),
              "a rule needs a field (a frame column such as 'score_industry')", f"{k}.field", p)
        _need(self.op in OPS, f"unknown op {self.op!r}; use one of {', '.join(OPS)}",
              f"{k}.op", p)
        _need(self.scale in SCALES,
              f"unknown scale {self.scale!r}; use one of {', '.join(SCALES)}", f"{k}.scale", p)
        if self.op == "contains":
            _need(isinstance(self.threshold, str) and self.scale == "value",
                  "op 'contains' needs a text threshold on scale 'value'", f"{k}.threshold", p)
        else:
            _need(_number(self.threshold) and math.isfinite(self.threshold),
                  f"threshold must be a finite number, found {self.threshold!r}",
                  f"{k}.threshold", p)
            if self.scale.startswith("percentile"):
                _need(0 <= self.threshold <= 100,
                      f"a percentile threshold must lie in 0–100, found {self.threshold}",
                      f"{k}.threshold", p)
        if self.spread is not None:
            _need(isinstance(self.spread, (int, float)) and self.spread > 0,
                  f"spread must be a positive number, found {self.spread!r}", f"{k}.spread", p)


@dataclass(frozen=True)
class _Labelled:
    id: str
    zh: str
    en: str
    color: str
    rules: tuple[Rule, ...] = ()
    aliases: tuple[str, ...] = ()
    key: str = ""
    path: str | None = None

    def __post_init__(self):
        k, p = self.key, self.path
        _need(bool(_ID.match(self.id or "")),
              f"id {self.id!r} must be lower-case ascii letters, digits, '_'", k, p)
        _need(isinstance(self.zh, str) and bool(self.zh), "missing Chinese label", f"{k}.zh", p)
        _need(isinstance(self.en, str) and bool(self.en), "missing English label", f"{k}.en", p)
        _need(isinstance(self.color, str) and bool(_COLOR.match(self.color)),
              f"colour must look like '#1f77b4', found {self.color!r}", f"{k}.color", p)
        ids = [r.id for r in self.rules]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        _need(not dup, f"duplicate rule ids {dup}", f"{k}.rules", p)


@dataclass(frozen=True)
class Subtype(_Labelled):
    """A subtype (e.g. ``industrial`` of ``specialised``); its rules add to the category's."""


@dataclass(frozen=True)
class Category(_Labelled):
    """A category; ``fallback`` marks the one given when no target passes (培育类)."""

    subtypes: tuple[Subtype, ...] = ()
    fallback: bool = False

    def __post_init__(self):
        super().__post_init__()
        k, p = self.key, self.path
        if self.fallback:
            _need(not self.rules and not self.subtypes,
                  "the fallback category takes no rules or subtypes", k, p)
        else:
            _need(bool(self.rules) or bool(self.subtypes),
                  "a category needs rules, subtypes, or fallback = true", f"{k}.rules", p)
        for s in self.subtypes:
            _need(bool(self.rules) or bool(s.rules),
                  "a subtype needs rules (or its category must have them)",
                  f"{s.key}.rules", p)


@dataclass(frozen=True)
class Role(_Labelled):
    """A role (中心镇, 城区/街道) a town may carry besides its category.

    ``match = "any"`` (default) gives the role when any rule passes; ``"all"`` when all do.
    """

    match: str = "any"

    def __post_init__(self):
        super().__post_init__()
        _need(self.match in ("any", "all"), f"match must be 'any' or 'all', found {self.match!r}",
              f"{self.key}.match", self.path)
        _need(bool(self.rules), "a role needs rules", f"{self.key}.rules", self.path)


@dataclass(frozen=True)
class Taxonomy:
    """A parsed, validated taxonomy.

    Attributes
    ----------
    name, zh, en : str
    categories : tuple[Category, ...]
    roles : tuple[Role, ...]
    priority : tuple[str, ...]
        Target ids (``strong``, ``specialised/industrial``…) from most to least preferred;
        decides ties between equal normalised margins.
    fields : dict
        ``{field: {"zh": "工业得分", "en": "industry score"}}`` for the trace text.
    aliases : dict
        Declared-category text (Chinese labels and aliases) → target id.
    """

    name: str
    zh: str
    en: str
    categories: tuple[Category, ...]
    roles: tuple[Role, ...] = ()
    priority: tuple[str, ...] = ()
    fields: dict = field(default_factory=dict)
    path: str | None = None

    def __post_init__(self):
        p = self.path
        _need(bool(self.categories), "a taxonomy needs at least one category", "categories", p)
        fb = [c.id for c in self.categories if c.fallback]
        _need(len(fb) == 1, f"exactly one category needs fallback = true, found {fb}",
              "categories", p)
        ids = [c.id for c in self.categories] + [r.id for r in self.roles]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        _need(not dup, f"duplicate category/role ids {dup}", "categories", p)
        targets = self.targets()
        unknown = [t for t in self.priority if t not in targets]
        _need(not unknown, f"unknown targets {unknown}; known: {', '.join(targets)}",
              "taxonomy.priority", p)
        missing = [t for t in targets if t not in self.priority]
        _need(not missing, f"targets {missing} are missing from the priority list",
              "taxonomy.priority", p)
        seen: dict[str, str] = {}
        for tid, alias in self._alias_pairs():
            _need(seen.get(alias, tid) == tid,
                  f"alias {alias!r} names both {seen.get(alias)!r} and {tid!r}", "aliases", p)
            seen[alias] = tid
        object.__setattr__(self, "aliases", seen)

    # -- lookups ----------------------------------------------------------------------
    @property
    def fallback(self) -> Category:
        """The category given when nothing passes."""
        return next(c for c in self.categories if c.fallback)

    def category(self, cid: str) -> Category:
        found = {c.id: c for c in self.categories}.get(cid)
        _need(found is not None, f"unknown category {cid!r}; known: "
              f"{', '.join(c.id for c in self.categories)}", None, self.path)
        return found

    def targets(self) -> list[str]:
        """Ids that can be assigned as primary: categories without subtypes and
        ``category/subtype`` pairs (the fallback excluded)."""
        return [t for c in self.categories if not c.fallback
                for t in [f"{c.id}/{s.id}" for s in c.subtypes] or [c.id]]

    def target_rules(self, target: str) -> tuple[Rule, ...]:
        """The rules a target must all pass: the category's, then the subtype's."""
        cid, _, sid = target.partition("/")
        cat = self.category(cid)
        sub = next((s for s in cat.subtypes if s.id == sid), None) if sid else None
        return cat.rules + (sub.rules if sub else ())

    def labels(self, target: str) -> tuple[str, str]:
        """``(zh, en)`` of a category, ``category/subtype`` or role id."""
        entry = self.palette().get(target)
        _need(entry is not None, f"unknown target {target!r}", None, self.path)
        return entry["zh"], entry["en"]

    def field_label(self, fld: str, lang: str = "zh") -> str:
        return self.fields.get(fld, {}).get(lang, fld)

    def palette(self) -> dict[str, dict[str, str]]:
        """``{id: {"zh", "en", "color"}}`` keyed by category, ``category/subtype`` and role."""
        pal: dict[str, dict[str, str]] = {}
        for c in self.categories:
            pal[c.id] = {"zh": c.zh, "en": c.en, "color": c.color}
            for s in c.subtypes:
                pal[f"{c.id}/{s.id}"] = {"zh": f"{c.zh}·{s.zh}", "en": f"{c.en} · {s.en}",
                                         "color": s.color}
        for r in self.roles:
            pal[r.id] = {"zh": r.zh, "en": r.en, "color": r.color}
        return pal

    def _alias_pairs(self):
        for c in self.categories:
            tid = c.id
            for a in (c.zh, c.en, c.id) + c.aliases:
                yield tid, _norm_alias(a)
            for s in c.subtypes:
                t = f"{c.id}/{s.id}"
                for a in (f"{c.zh}·{s.zh}", f"{s.zh}{c.zh}", t) + s.aliases:
                    yield t, _norm_alias(a)
        for r in self.roles:
            for a in (r.zh, r.en, r.id) + r.aliases:
                yield r.id, _norm_alias(a)

    def resolve_declared(self, text) -> str | None:
        """Map declared-category text (``工业专业镇``, ``文旅特色镇`` …) to a target id."""
        if text is None or (isinstance(text, float) and math.isnan(text)):
            return None
        return self.aliases.get(_norm_alias(str(text)))


def _norm_alias(text: str) -> str:
    return re.sub(r"[\s·・．.\-—_/（）()]", "", str(text)).lower()


# -- parsing --------------------------------------------------------------------------
_INTERNAL = ("id", "key", "path")     # dataclass fields that are no TOML keys
_TOP_KEYS = {"taxonomy", "categories", "roles", "fields"}
_TAX_KEYS = {"name", "zh", "en", "priority"}


def _check_keys(table, allowed, key, path):
    _need(isinstance(table, dict), f"expected a table, found {type(table).__name__}", key, path)
    bad = sorted(set(table) - allowed)
    if bad:
        where = f"{key}.{bad[0]}" if key else bad[0]
        raise ConfigError(f"unknown key {bad[0]!r}; allowed here: {', '.join(sorted(allowed))}",
                          key=where, path=path)


def _rules(raw, key, path) -> tuple[Rule, ...]:
    _need(isinstance(raw, list), "rules must be an array of tables", key, path)
    out = []
    for i, r in enumerate(raw):
        k = f"{key}[{i}]"
        _check_keys(r, _keys(Rule, ("key", "path")), k, path)
        for req in ("id", "field", "op", "threshold"):
            _need(req in r, f"missing {req!r}", f"{k}.{req}", path)
        out.append(Rule(key=k, path=path, **r))
    return tuple(out)


def _labelled_args(cid, raw, key, path, allowed=None):
    if allowed is not None:         # None: checked by the caller
        _check_keys(raw, allowed, key, path)
    for req in ("zh", "en", "color"):
        _need(req in raw, f"missing {req!r}", f"{key}.{req}", path)
    aliases = raw.get("aliases", [])
    _need(isinstance(aliases, list) and all(isinstance(a, str) for a in aliases),
          "aliases must be an array of strings", f"{key}.aliases", path)
    return dict(id=cid, zh=raw["zh"], en=raw["en"], color=raw["color"],
                rules=_rules(raw.get("rules", []), f"{key}.rules", path),
                aliases=tuple(aliases), key=key, path=path)


def parse_taxonomy(data: dict, path: str | None = None) -> Taxonomy:
    """Build a :class:`Taxonomy` from parsed TOML (a dict)."""
    _check_keys(data, _TOP_KEYS, "", path)
    head = data.get("taxonomy", {})
    _check_keys(head, _TAX_KEYS, "taxonomy", path)
    _need("name" in head, "missing 'name'", "taxonomy.name", path)
    cats = []
    for cid, raw in _table(data, "categories", path).items():
        key = f"categories.{cid}"
        _check_keys(raw, _keys(Category, _INTERNAL), key, path)
        subs = tuple(Subtype(**_labelled_args(sid, sraw, f"{key}.subtypes.{sid}", path,
                                              _keys(Subtype, _INTERNAL)))
                     for sid, sraw in _table(raw, "subtypes", path, where=f"{key}.subtypes").items())
        cats.append(Category(subtypes=subs, fallback=bool(raw.get("fallback", False)),
                             **_labelled_args(cid, raw, key, path)))
    roles = []
    for rid, raw in _table(data, "roles", path).items():
        _check_keys(raw, _keys(Role, _INTERNAL), f"roles.{rid}", path)
        roles.append(Role(match=raw.get("match", "any"),
                          **_labelled_args(rid, raw, f"roles.{rid}", path)))
    fields = _table(data, "fields", path)
    for f, lab in fields.items():
        _check_keys(lab, {"zh", "en"}, f"fields.{f}", path)
    priority = head.get("priority", [])
    _need(isinstance(priority, list), "priority must be an array of target ids",
          "taxonomy.priority", path)
    return Taxonomy(name=head["name"], zh=head.get("zh", head["name"]),
                    en=head.get("en", head["name"]), categories=tuple(cats),
                    roles=tuple(roles), priority=tuple(priority), fields=dict(fields),
                    path=path)


def taxonomy_source(name_or_path: str | Path = "guangdong") -> tuple[str, str]:
    """``(path, TOML text)`` of a built-in preset (by name) or a taxonomy file."""
    text_name = str(name_or_path)
    if text_name in PRESETS:
        res = resources.files("classify") / "presets" / f"taxonomy_{text_name}.toml"
        return f"taxonomy_{text_name}.toml", res.read_text(encoding="utf-8")
    p = Path(name_or_path)
    _need(p.is_file(), f"no such taxonomy file or preset; presets: {', '.join(PRESETS)}", None, p)
    return str(p), p.read_text(encoding="utf-8")


def load_taxonomy(name_or_path: str | Path = "guangdong") -> Taxonomy:
    """Load a built-in preset by name (``guangdong``, ``county``) or a TOML file by path.

    Raises
    ------
    ConfigError
        Unknown preset, unreadable TOML, or a key that fails validation (named).
    """
    path, raw = taxonomy_source(name_or_path)
    return parse_taxonomy(_toml(raw, path), path)
