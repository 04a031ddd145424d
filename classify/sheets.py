"""Rendering of self-assessment suggestions: Markdown / HTML sheets, a workbook, a Word file.

Every sentence comes from ``classify/templates/labels_<lang>.toml`` and the Jinja2
templates, every number from :mod:`classify.numfmt` (in HTML a ``<span class="num" data-v=…
data-k=… data-u=…>`` a checker can read); deterministic (fixed ZIP dates in .docx)."""

from __future__ import annotations

import io
import math
import re
import tomllib
import zipfile
from collections import Counter
from datetime import datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable, Sequence

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup, escape

from classify import numfmt
from classify.errors import ConfigError
from classify.levels import group_rank_text, level as unit_level
from classify.suggest import GAP_COLUMNS, Benchmark, Suggestion, stacked, table_records

__all__ = ["render_markdown", "render_html", "summary_rows",
           "write_docx", "labels", "sheet_names",
           "summary_frames"]

_FIXED_TIME = datetime(2000, 1, 1, 0, 0, 0)


# ---------------------------------------------------------------------------------------
# labels and templates
@lru_cache(maxsize=None)
def labels(lang: str = "zh", level: str = "town") -> dict:
    """The wording table of ``lang`` (``classify/templates/labels_<lang>.toml``), in the
    wording of the unit ``level`` (:meth:`classify.levels.Level.reword`: 本镇 → 本县)."""
    if lang not in ("zh", "en"):
        raise ConfigError(f"lang must be 'zh' or 'en', found {lang!r}; use --lang zh or en",
                          key="lang")
    text = (resources.files("classify") / "templates" / f"labels_{lang}.toml").read_text(
        encoding="utf-8")
    return unit_level(level).reword(tomllib.loads(text), lang)


def _md(v) -> str:
    """``v`` in Markdown with ``<`` and ``>`` escaped, so that no value becomes HTML where
    the Markdown is shown; ``&`` and quotes cannot open a tag and stay readable."""
    return str(v).replace("<", "&lt;").replace(">", "&gt;")


class _Environment(jinja2.Environment):
    """Jinja's environment with ``a.b`` of a plain dict looked up as its key at once
    (Jinja tries the attribute first, at a cost); ``items`` etc. stay dict attributes."""

    def getattr(self, obj, attribute):
        if type(obj) is dict and attribute in obj and attribute not in _DICT_ATTRS:
            return obj[attribute]
        return super().getattr(obj, attribute)


_DICT_ATTRS = frozenset(dir(dict))


@lru_cache(maxsize=None)
def _env(escaped: bool = False) -> jinja2.Environment:
    """The templates' environment: autoescape when ``escaped`` (HTML, SVG), else
    (Markdown) :func:`_md` on every value."""
    return _Environment(loader=jinja2.PackageLoader("classify", "templates"),
                        autoescape=escaped, finalize=None if escaped else _md,
                        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                        undefined=jinja2.StrictUndefined,
                        auto_reload=False)  # packaged templates: no stat per sheet


def _template(name: str) -> jinja2.Template:
    return _env(name.endswith((".html.j2", ".svg.j2"))).get_template(name)


# ---------------------------------------------------------------------------------------
# texts that are plain in Markdown and markup in HTML
class _Num(str):
    """A formatted number: its text, and in HTML (``__html__``, used by Jinja's
    autoescape) its ``<span class="num" data-k=… data-v=… data-u=…>``."""

    __slots__ = ("html",)

    def __new__(cls, text: str, kind: str, value: float | None, unit: str):
        obj = super().__new__(cls, text)
        # kind: a name of the code; value: digits, '.', 'e' (repr of a float)
        v = "" if value is None else repr(value)
        obj.html = f'<span class="num" data-k="{kind}" data-v="{v}" ' \
            f'data-u="{escape(unit) if unit else ""}">{escape(text)}</span>'
        return obj

    def __html__(self) -> str:
        return self.html     # as str: markupsafe.escape (Jinja's autoescape) makes it Markup


class _Fill(str):
    """``fmt.format(**kw)``; in HTML the same with every value escaped (numbers keep their
    spans), made only when the HTML sheet is rendered."""

    def __new__(cls, fmt: str, **kw):
        obj = super().__new__(cls, fmt.format(**kw))
        obj.fmt, obj.kw = fmt, kw
        return obj

    def __html__(self) -> str:
        # (markupsafe's Markup.format does the same at several times the cost)
        return self.fmt.format(**{k: escape(v) for k, v in self.kw.items()})


def _num_factory(lang: str, html: bool = False) -> Callable:
    """``N(value, kind, unit="", n=None, signed=False)`` → the number's text in ``lang``;
    with ``html`` a :class:`_Num` (its span for the HTML sheet)."""

    def N(value, kind: str = "value", unit: str = "", n=None, signed: bool = False):
        value = None if numfmt.is_missing(value) else float(value)
        return _number(lang, html, kind, value, value == 0 and math.copysign(1, value) < 0,
                       unit or "", None if n is None or numfmt.is_missing(n) else n, signed)

    return N


@lru_cache(maxsize=1 << 16)
def _number(lang: str, html: bool, kind: str, value: float | None, minus_zero: bool,
            unit: str, n, signed: bool):
    """The text (``html``: the :class:`_Num`) of a number, cached: the same numbers recur
    on many sheets.  ``minus_zero``: −0.0 equals 0.0 as a key but not in ``data-v``."""
    text = _FORMATS[kind](value, unit, n, signed, lang)
    return _Num(text, kind, value, unit) if html else text


_FORMATS = {"value": lambda v, u, n, sg, lang: numfmt.fmt_value(v, u, lang, signed=sg),
            "score": lambda v, u, n, sg, lang: numfmt.fmt_score(v, lang, signed=sg),
            "pct": lambda v, u, n, sg, lang: numfmt.fmt_percentile(v, lang),
            "rank": lambda v, u, n, sg, lang: numfmt.fmt_rank(v, n, lang),
            "percent": lambda v, u, n, sg, lang: numfmt.fmt_percent(v, lang, signed=sg),
            "share": lambda v, u, n, sg, lang: numfmt.fmt_share(v, lang),
            "plain": lambda v, u, n, sg, lang: numfmt.MISSING[lang] if v is None else
            numfmt.fmt_number(v, 2)}


# ---------------------------------------------------------------------------------------
# context for one sheet
def _last_year(s: Suggestion, t, lang: str) -> str:
    """"上年类别：培育类 → 今年建议：专业镇·工业（主要因规上工业总产值 +38%）" when the run
    was scored with ``--reference`` (``s.extra["last_year"]``)."""
    before = s.extra.get("last_year")
    if not before or not s.target:
        return ""
    driver = before[f"driver_{lang}"]
    fmt = t["suggested"]["last_year"] + (t["suggested"]["last_year_driver"] if driver else "")
    return _Fill(fmt, old=before[f"old_{lang}"], new=s.label(s.target, lang), driver=driver)


def _pos_rows(recs: list[dict], lang, N) -> list[dict]:
    return [{"id": r["indicator"], "label": r[f"label_{lang}"],
             "value": N(r["value"], "value", r["unit"]),
             "rank": N(r["rank"], "rank", n=r["n"]), "pct": N(r["pct"], "pct"),
             "rank_county": N(r["rank_county"], "rank", n=r["n_county"]),
             "pct_county": N(r["pct_county"], "pct")} for r in recs]


def _gap_rows(b: Benchmark, lang, N) -> list[dict]:
    rows = []
    for g in table_records(b, "gaps"):
        flag = g["unit"] in ("是/否", "flag")  # yes/no: the two values say it all
        rows.append({"id": g["indicator"], "label": g[f"label_{lang}"],
                     "this": N(g["this"], "value", g["unit"]),
                     "other": N(g["other"], "value", g["unit"]),
                     "diff": "—" if flag else N(g["diff"], "value", g["unit"], signed=True),
                     "diff_pct": "—" if flag or g["unit"] == "%" else
                     N(g["diff_pct"], "percent", signed=True)})
    return rows


def _bench_ctx(s: Suggestion, lang, t, N, have: set | None = None) -> dict:
    """``have``: the sheet names that exist (a benchmark without a sheet links to its
    row of ``index.html``, which says how to make it); ``None``: link to the sheet."""
    cat, dim = s.label(s.target, lang), s.focus.removeprefix("score_")
    focus = next((str(d[f"label_{lang}"]) for d in table_records(s, "dimensions")
                  if d["dimension"] == dim), labels(lang)["suggested"]["composite"])
    if s.is_leader:
        key, items = ("leader" if s.challengers else "alone"), s.challengers
    else:
        key, items = ("intro" if s.benchmarks else "none"), s.benchmarks
    intro = t["benchmarks"]["none"] if key == "none" else \
        _Fill(t["benchmarks"][key], category=cat, focus=focus)
    out = []
    for b in items:
        town = _known(b.town, lang, "town")
        tag = "same_county" if b.same_county else "same_city" if b.same_city else None
        out.append({
            "code": b.town_code, "title": town, "href": _href(b, have),
            "tags": t["benchmarks"][tag] if tag else "",
            "caption": _Fill(t["benchmarks"]["item"], town=town,
                             county=_known(b.county, lang, "county"),
                             focus=focus, other=N(b.focus_other, "score"),
                             this=N(b.focus_this, "score"), distance=N(b.distance, "plain")),
            "other_header": town, "gaps": _gap_rows(b, lang, N)})
    return {"intro": intro, "items": out}


def _lever_text(g: dict, t, N, info_label, field_label) -> str:
    if numfmt.is_missing(g["current"]) or numfmt.is_missing(g["needed"]):
        return _Fill(t["gaps"]["lever_missing"], indicator=info_label)
    up = numfmt.is_missing(g["change"]) or g["change"] >= 0
    fmt = t["gaps"]["lever" if up else "lever_down"]
    method = t["gaps"].get(f"method_{g['method']}", "") if isinstance(g["method"], str) else ""
    unit = g.get("unit", "")
    return _Fill(fmt, indicator=info_label, change=N(g["change"], "value", unit, signed=True),
                 current=N(g["current"], "value", unit), needed=N(g["needed"], "value", unit),
                 method=method, field=field_label, goal=_goal(g, t, N))


def _goal(g: dict, t, N):
    """What the rule asks, in words: 全域P70 / 县内第1名 / 1.20."""
    scale, thr = g.get("scale") or "value", g.get("threshold")
    if scale in ("percentile", "percentile_county", "rank_county"):
        return t["gaps"][f"goal_{scale}"].format(p=int(round(float(thr))))
    return N(thr, "value", "")


def _gaps_ctx(s: Suggestion, lang, t, N) -> list[dict]:
    gaps = table_records(s, "category_gaps")
    out = []
    targets: dict = {}
    for rec in gaps:
        targets.setdefault(rec["target"], rec["relation"])
    ruled = s.extra.get("targets", ())      # the fallback category (培育类) has no rules
    if s.target and s.target not in targets and s.target in ruled:
        targets = {s.target: "suggested", **targets}
    if s.declared_target and s.declared_target not in targets and s.declared_target in ruled:
        targets[s.declared_target] = "declared"
    for target, relation in targets.items():
        rules: dict[str, dict] = {}
        for g in (g for g in gaps if g["target"] == target):
            text = _rule_text(g, lang)
            if numfmt.is_missing(g.get("value")):
                text = _Fill(t["gaps"]["rule_missing"], rule=text)
            r = rules.setdefault(g["rule_id"], {"id": g["rule_id"], "text": text,
                                                "levers": []})
            if isinstance(g.get("indicator"), str) and g["indicator"]:
                fl = s.extra.get("field_labels", {}).get(g["field"], {}).get(lang, g["field"])
                r["levers"].append(_lever_text(g, t, N, g[f"label_{lang}"], fl))
            elif not numfmt.is_missing(g.get("needed_field")):
                r["levers"].append(t["gaps"]["no_lever"])
        out.append({"target": target, "label": s.label(target, lang),
                    "relation": t["gaps"][f"relation_{relation}"],
                    "all_pass": _Fill(t["gaps"]["all_pass"],
                                      category=s.label(target, lang)),
                    "rules": list(rules.values())})
    return out


def _rule_text(g: dict, lang: str) -> str:
    text = g.get(f"text_{lang}")
    if isinstance(text, str) and text:
        return text
    return f"{g['field']} {g['op']} {g['threshold']}"


def _declared_ctx(s: Suggestion, lang, t) -> dict:
    if not s.declared or s.declared_target is None:
        text = _Fill(t["declared"]["unknown"], text=s.declared) if s.declared else \
            t["declared"]["none"]
        return {"text": text, "status": "", "failing": []}
    status = s.declared_status or ""
    label = s.label(s.declared_target, lang)
    text = f"{t['declared']['declared']}{t['colon']}{s.declared}" + \
        (f"{t['lp']}{label}{t['rp']}" if label != s.declared else "")
    if status:
        text += " — " + t["declared"].get(status, status)
    failing = [_rule_text(r, lang) for r in table_records(s, "declared_failing")]
    return {"text": text, "status": status, "failing": failing}


def _data_ctx(s: Suggestion, lang, t) -> dict:
    lines = []
    missing = table_records(s, "missing")
    gaps = s.extra.get("dims_no_data") or []
    name = 1 if lang == "en" else 0
    for scope in ("all", "town"):
        dims = [g[1 + name] for g in gaps if g[3] == scope]
        if dims:
            lines.append(_Fill(t["data"][f"dims_{scope}"], dims=t["sep"].join(dims)))
    if missing:
        lines.append(t["data"]["intro"])
    elif not gaps:      # never "all have data" when a dimension has none
        lines.append(t["data"]["none"])
    nm, ni = s.extra.get("n_missing"), s.extra.get("n_imputed")
    if not numfmt.is_missing(nm) and not numfmt.is_missing(ni) and (nm or ni):
        lines.append(_Fill(t["data"]["counts"], n_missing=int(nm), n_imputed=int(ni)))
    q = s.extra.get("boundary_quality")
    if q and q != "official":
        key = "boundary_approximate" if q == "approximate" else "boundary"
        lines.append(_Fill(t["data"][key], quality=q))
    notes = []
    for r in missing:
        aff = [s.label(a, lang) for a in str(r["affects"] or "").split(";") if a]
        notes.append({"id": r["indicator"], "label": r[f"label_{lang}"],
                      "status_id": r["status"], "status": t["data"][r["status"]],
                      "affects": _Fill(t["data"]["affects"], targets=t["sep"].join(aff))
                      if aff else ""})
    return {"lines": lines, "notes": notes}


_EIGHTHS = " ▏▎▍▌▋▊▉"


def _bar(score, width: int = 10) -> str:
    """A text bar for Markdown: 0–100 over ``width`` cells in eighths (█ = 10 points)."""
    if numfmt.is_missing(score):
        return ""
    units = int(round(min(max(float(score), 0.0), 100.0) / 100 * width * 8))
    full, rest = divmod(units, 8)
    return "█" * full + (_EIGHTHS[rest] if rest else "")


def _dims_ctx(s: Suggestion, lang, N) -> list[dict]:
    has_bench = bool(s.benchmarks or s.challengers)
    return [{"label": d[f"label_{lang}"], "this": N(d["this"], "score"),
             "median": N(d["category_median"], "score"),
             "benchmark": N(d["benchmark"], "score") if has_bench else "—",
             "bar": _bar(d["this"])}
            for d in table_records(s, "dimensions")]


def _chart(s: Suggestion, lang: str, t: dict, color: str, dims: list[dict]) -> Markup:
    """The dimension scores as bars with the category median (tick) and the first
    benchmark (circle) on a 0–100 axis; ``dims``: the sheet's rows, numbers formatted."""
    d = table_records(s, "dimensions")
    # room for the longest dimension label: ~12 px per CJK character, ~7 px otherwise
    longest = max([sum(12 if ord(ch) > 0x2e80 else 7 for ch in str(v))
                   for v in (r[f"label_{lang}"] for r in d)] + [40])
    label_w, plot_w, row_h, top = longest + 6, 300, 22, 8
    x0 = label_w + 6

    def x(v):
        return None if numfmt.is_missing(v) else round(x0 + plot_w * min(max(float(v), 0), 100)
                                                       / 100, 1)

    rows = []
    for k, (r, texts) in enumerate(zip(d, dims)):
        tx = x(r["this"])
        rows.append({"id": r["dimension"], "label": r[f"label_{lang}"], "y": top + k * row_h,
                     "this_w": None if tx is None else round(tx - x0, 1),
                     "this_title": f"{t['table']['score']} {texts['this']}",
                     "median_x": x(r["category_median"]),
                     "median_title": f"{t['table']['median']} {texts['median']}",
                     "bench_x": x(r["benchmark"]),
                     "bench_title": f"{t['table']['benchmark']} {texts['benchmark']}"})
    bottom = top + len(rows) * row_h
    return Markup(_template("chart.svg.j2").render(
        width=x0 + plot_w + 20, height=bottom + 40, x0=x0, label_w=label_w, color=color,
        title=t["section"]["chart"], top=top, bottom=bottom, rows=rows,
        grid=[(x0 + plot_w * g / 100, g) for g in (0, 25, 50, 75, 100)],
        legend_this=t["table"]["this"], legend_median=t["table"]["median"],
        legend_bench=t["table"]["benchmark"], legend_gap=110,
        has_bench=any(not numfmt.is_missing(r["benchmark"]) for r in d)))


def ink(color: str, unknown: str = "#ffffff") -> str:
    """Black or white text, whichever reads better on ``color`` (relative luminance);
    ``unknown`` on a colour that is not ``#rrggbb``."""
    try:
        r, g, b = (int(color[k:k + 2], 16) / 255 for k in (1, 3, 5))
    except (TypeError, ValueError):
        return unknown
    return "#000000" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.55 else "#ffffff"


def _context(s: Suggestion, lang: str, html: bool, notice, have: set | None = None) -> dict:
    """What the sheet templates show of ``s``: plain texts (Markdown, Word); with ``html``
    numbers that also carry their spans, and the chart (renders both sheets)."""
    t = labels(lang, s.extra.get("level", "town"))
    N = _num_factory(lang, html)
    dims = _dims_ctx(s, lang, N)
    color = s.labels.get(s.target or "", {}).get("color") or \
        s.labels.get(s.category or "", {}).get("color") or "#555555"
    review = s.extra.get("review")
    cat = {
        "label": s.label(s.target, lang), "color": color, "ink": ink(color),
        "confidence": t["suggested"]["not_assessed"] if numfmt.is_missing(s.confidence)
        else N(s.confidence, "share"),
        "runner_up": s.label(s.runner_up, lang),
        "secondary": t["sep"].join(s.label(x, lang) for x in s.secondary),
        "roles": t["sep"].join(s.label(x, lang) for x in s.roles),
        "composite": N(s.composite, "score"), "rank": N(s.rank, "rank", n=s.n_towns),
        # ranks in the level's groupings (counties: 区域排名 粤北 第3/12), from the pipeline
        "groups": [{"label": g[lang], "value": group_rank_text(g, lang)}
                   for g in s.extra.get("group_ranks") or ()],
        "designations": designation_lines(s, lang),
        "last_year": _last_year(s, t, lang),
        "review": _Fill(t["suggested"]["review"], reason=(
            lang == "en" and s.extra.get("review_reason_en") or s.extra.get("review_reason")
            or "")) if review is True or str(review).lower() == "true" else "",
    }
    return {
        "t": t, "lang": lang, "notice": notice, "cat": cat,
        "town": _known(s.town, lang, "town"),
        "subtitle": _Fill(t["subtitle"], town=_known(s.town, lang, "town"),
                          code=_known(s.town_code, lang, "code"),
                          county=_known(s.county, lang, "county")),
        "dims": dims,
        "strengths_explain": _Fill(t["strengths"]["explain"],
                                   top=int(s.extra.get("top", 80)),
                                   bottom=int(s.extra.get("bottom", 20))),
        "strengths": _pos_rows(table_records(s, "strengths"), lang, N),
        "weaknesses": _pos_rows(table_records(s, "weaknesses"), lang, N),
        "bench": _bench_ctx(s, lang, t, N, have),
        "gaps": _gaps_ctx(s, lang, t, N),
        "declared": _declared_ctx(s, lang, t),
        "data": _data_ctx(s, lang, t),
        "chart": _chart(s, lang, t, color, dims) if html else "",
        "children": _children_ctx(s, lang, t, N),
    }


def _children_ctx(s: Suggestion, lang: str, t: dict, N) -> dict | None:
    """A county's towns in a finished town run (``--towns``, stored by the pipeline in
    ``extra["children"]``), or None (towns: no such section)."""
    info = s.extra.get("children")
    if not info:
        return None
    child = unit_level(info["level"])
    units = child.zh if lang == "zh" else child.en_plural
    w = t["children"]
    words = {"units": units, "Units": units[:1].upper() + units[1:], "flag": "--towns"}
    link = info.get("link")
    ctx = {"section": w["section"].format(**words), "linked": link is not None,
           "not_linked": _Fill(w["not_linked"], **words), "units": [], "none": "",
           "run": "", "index": "", "index_label": w["index"].format(**words),
           "head": [w["name"], w["code"], w["category"], w["confidence"]]}
    if link is not None:
        ctx.update(run=w["run"].format(run=link["run"], **words), index=link.get("index", ""),
                   none="" if link["units"] else w["none"].format(**words),
                   units=[{"name": u["name"], "code": u["code"], "href": u["href"],
                           "category": u["zh" if lang == "zh" else "en"] or t["none"],
                           "confidence": N(u["confidence"], "share")
                           if u.get("confidence") is not None else t["missing"]}
                          for u in link["units"]])
    return ctx


def designation_lines(s: Suggestion, lang: str) -> list[str]:
    """The town's official designations with the evidence check, one text each (from the
    ``designations`` column, :mod:`classify.designations`)."""
    text = s.extra.get("designations_en" if lang == "en" else "designations")
    if not isinstance(text, str) or not text:
        return []
    return [x.strip() for x in text.split(_DESIGNATION_SEP[lang]) if x.strip()]


_DESIGNATION_SEP = {"zh": "；", "en": "; "}


def render_markdown(s: Suggestion, *, lang: str | None = None, notice: str | None = None
                    ) -> str:
    """The Markdown sheet of one town."""
    lang = lang or s.lang
    return _template("sheet.md.j2").render(**_context(s, lang, False, notice))


def render_html(s: Suggestion, *, lang: str | None = None, notice: str | None = None) -> str:
    """The self-contained HTML sheet of one town (inline CSS and SVG, no external assets)."""
    lang = lang or s.lang
    return _template("sheet.html.j2").render(**_context(s, lang, True, notice))


# ---------------------------------------------------------------------------------------
# one row per town (workbook, docx summary)
def _kv(t: dict, key, value) -> str:
    return f"{key}{t['colon']}{value}"


def _paren(t: dict, text, note) -> str:
    return f"{text}{t['lp']}{note}{t['rp']}" if note else str(text)


def _plain_list(items: Iterable[str], sep: str) -> str:
    return sep.join(x for x in items if x)


def _gap_summary(s: Suggestion, lang: str, t: dict, N) -> str:
    """The failing rules with their first lever, a line each."""
    parts = []
    for g in _gaps_ctx(s, lang, t, N):
        for r in g["rules"]:
            lever = r["levers"][0] if r["levers"] else ""
            parts.append(_kv(t, g["label"], r["text"]) + (f"{t['semi']}{lever}" if lever else ""))
    return "\n".join(parts)


def _pos_summary(recs: list[dict], lang, t, N) -> str:
    """``label（第3/85）``、… (the county rank when only the county position qualifies)."""
    out = []
    for r in recs:
        if r["scope"] == "county":
            rank = _Fill(t["strengths"]["county_rank"],
                         rank=N(r["rank_county"], "rank", n=r["n_county"]))
        else:
            rank = N(r["rank"], "rank", n=r["n"])
        out.append(_paren(t, r[f"label_{lang}"], rank))
    return t["sep"].join(out)


def summary_rows(suggestions: Sequence[Suggestion], lang: str = "zh") -> list[dict]:
    """One dict per town, keyed by the workbook headers of ``lang`` (in column order)."""
    t = labels(lang)
    N = _num_factory(lang)
    return [_summary_row(s, lang, t, N) for s in suggestions]


def _summary_row(s: Suggestion, lang: str, t: dict, N) -> dict:
    """The town's row of the summary sheet."""
    x = t["xlsx"]
    if s.is_leader:
        bench = x["leader"] + _plain_list((b.town for b in s.challengers), t["sep"])
    else:
        bench = _plain_list((b.town for b in s.benchmarks), t["sep"])
    d = _declared_ctx(s, lang, t)
    notes = _data_ctx(s, lang, t)["notes"]
    return {
        x["town_code"]: s.town_code, x["town"]: s.town, x["county"]: s.county,
        x["category"]: s.label(s.target, lang) or t["missing"],
        x["secondary"]: _plain_list((s.label(v, lang) for v in s.secondary), t["sep"]),
        x["confidence"]: None if numfmt.is_missing(s.confidence) else float(s.confidence),
        x["runner_up"]: s.label(s.runner_up, lang),
        x["composite"]: None if numfmt.is_missing(s.composite) else round(s.composite, 1),
        x["rank"]: None if numfmt.is_missing(s.rank) else int(s.rank),
        **{x["score"].format(dimension=r[f"label_{lang}"]):
           None if numfmt.is_missing(r["this"]) else round(float(r["this"]), 1)
           for r in table_records(s, "dimensions")},
        x["strengths"]: _pos_summary(table_records(s, "strengths"), lang, t, N),
        x["weaknesses"]: _pos_summary(table_records(s, "weaknesses"), lang, t, N),
        x["benchmarks"]: bench, x["gaps"]: _gap_summary(s, lang, t, N),
        x["declared"]: s.declared or "",
        x["declared_status"]: t["declared"].get(d["status"], "") if d["status"] else "",
        x["data_notes"]: t["sep"].join(_paren(t, n["label"], n["status"]) for n in notes),
        **({x["designations"]: _DESIGNATION_SEP[lang].join(designation_lines(s, lang))}
           if s.extra.get("designations") is not None else {}),
    }


def _gap_long_block(suggestions: Sequence[Suggestion], lang: str) -> list[list]:
    """The benchmark-gap rows of towns (the 对标差距 sheet), in header order."""
    pairs = [(s, b) for s in suggestions for b in (s.benchmarks or s.challengers)]
    offsets, c = stacked([b for _, b in pairs], "gaps", GAP_COLUMNS)

    def per_gap(values: list) -> list:     # a value of each pair on each of its gap rows
        return np.repeat(np.array(values, dtype=object), np.diff(offsets)).tolist()

    code, town = per_gap([s.town_code for s, _ in pairs]), per_gap([s.town for s, _ in pairs])
    bench = per_gap([b.town for _, b in pairs])
    units = {u: numfmt.unit_label(u, lang) for u in set(c["unit"].tolist())}
    unit = [units[u] for u in c["unit"].tolist()]

    def nums(v: np.ndarray) -> list:
        return [None if x != x else x for x in v.tolist()]

    pct = [None if x != x else round(x, 1) for x in c["diff_pct"].tolist()]
    return [list(r) for r in zip(code, town, bench, c[f"label_{lang}"].tolist(), unit,
                                 nums(c["this"]), nums(c["other"]), nums(c["diff"]), pct)]


def _rule_gap_rows(s: Suggestion, lang: str, t: dict) -> list[list]:
    """The rule-gap rows of one town (the 类别差距 sheet), in header order."""
    def num(v):   # two decimals: the gap is an estimate, not a measurement
        return None if numfmt.is_missing(v) else round(float(v), 2)

    out = []
    for g in table_records(s, "category_gaps"):
        ind = isinstance(g["indicator"], str) and g["indicator"]
        out.append([s.town_code, s.town, s.label(g["target"], lang),
                    t["gaps"][f"relation_{g['relation']}"], _rule_text(g, lang),
                    g[f"label_{lang}"] if ind else "",
                    numfmt.unit_label(g["unit"], lang) if ind else "",
                    num(g["current"]), num(g["needed"]), num(g["change"]),
                    t["xlsx"].get(f"method_{g['method']}", "") if ind else ""])
    return out


def _write_zip_deterministic(data: bytes, path: Path) -> Path:
    """Write an OOXML zip with fixed member dates: the same inputs give the same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type, zi.external_attr = zipfile.ZIP_DEFLATED, 0o600 << 16
            dst.writestr(zi, src.read(info.filename))
    return path


# ---------------------------------------------------------------------------------------
# Word
def write_docx(suggestions: Sequence[Suggestion], path: str | Path, *, lang: str = "zh",
               title: str | None = None, notice: str | None = None) -> Path:
    """``suggestions.docx``: one section (new page) per town, for the county report."""
    # python-docx only for a Word file (--docx): one place, not at import
    import docx
    from docx.enum.section import WD_SECTION
    from docx.oxml.ns import qn
    from docx.shared import Mm

    t = labels(lang)
    doc = docx.Document()
    normal = doc.styles["Normal"]
    normal.font.name = "SimSun" if lang == "zh" else "Calibri"
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "SimSun")
    # A4 (Chinese official documents); later sections copy the first one's page setup
    first = doc.sections[0]
    first.page_width, first.page_height = Mm(210), Mm(297)
    first.left_margin = first.right_margin = Mm(25)
    # style ids set on the XML directly: python-docx's style lookup scans every style of
    # the document for each paragraph
    st = {n: doc.styles[n].style_id for n in ("Title", "Heading 1", "Heading 2", "Heading 3",
                                              "Table Grid", "List Bullet", "List Bullet 2")}
    for k, s in enumerate(suggestions):
        if k:
            doc.add_section(WD_SECTION.NEW_PAGE)
        _docx_town(doc, st, _context(s, lang, False, notice), s, lang, t,
                   title if k == 0 else None, notice)
    cp = doc.core_properties
    cp.title = title or t["title"]
    cp.author = "towntype"
    cp.created = cp.modified = cp.last_printed = _FIXED_TIME
    cp.revision = 1
    buf = io.BytesIO()
    doc.save(buf)
    return _write_zip_deterministic(buf.getvalue(), Path(path))


def _para(doc, st: dict, text, style: str):
    p = doc.add_paragraph(text)
    p._p.style = st[style]
    return p


def _docx_table(doc, st, header: list[str], rows: list[dict], keys: tuple[str, ...]):
    """A table of ``header`` and the values under ``keys`` of each of ``rows``."""
    # all rows at once: python-docx's add_row re-reads the table grid every time
    table = doc.add_table(rows=len(rows) + 1, cols=len(header))
    table._tbl.tblStyle_val = st["Table Grid"]
    for row, values in zip(table.rows, [header] + [[r[k] for k in keys] for r in rows]):
        for cell, v in zip(row.cells, values):
            cell.text = str(v)


def _docx_town(doc, st, ctx: dict, s: Suggestion, lang, t, title, notice) -> None:
    if title:
        _para(doc, st, title, "Title")
    _para(doc, st, _kv(t, t["title"], ctx["town"]), "Heading 1")
    doc.add_paragraph(ctx["subtitle"])
    if notice:
        doc.add_paragraph(_kv(t, t["notice_label"], notice))
    _para(doc, st, t["section"]["suggested"], "Heading 2")
    cat = ctx["cat"]
    if cat["label"]:
        for key in ("category", "confidence", "runner_up", "secondary"):
            val = cat["label"] if key == "category" else cat[key]
            doc.add_paragraph(_kv(t, t["suggested"][key], val or t["none"]))
        doc.add_paragraph(_kv(t, t["suggested"]["composite"], _paren(
            t, cat["composite"], f"{t['suggested']['rank']} {cat['rank']}")))
    else:
        doc.add_paragraph(t["suggested"]["no_category"])
    for g in cat["groups"]:
        doc.add_paragraph(_kv(t, g["label"], g["value"]))
    for d in cat["designations"]:
        doc.add_paragraph(_kv(t, t["suggested"]["designation"], d))
    tb = t["table"]
    _docx_table(doc, st, [tb[k] for k in ("dimension", "score", "chart", "median",
                                          "benchmark")],
                ctx["dims"], ("label", "this", "bar", "median", "benchmark"))
    _para(doc, st, t["section"]["strengths"], "Heading 2")
    for key, none in (("strengths", "none_strength"), ("weaknesses", "none_weakness")):
        _para(doc, st, t["strengths"][key], "Heading 3")
        if ctx[key]:
            _docx_table(doc, st, [tb[k] for k in ("indicator", "value", "rank_region",
                                                  "pct_region", "rank_county", "pct_county")],
                        ctx[key], ("label", "value", "rank", "pct", "rank_county", "pct_county"))
        else:
            doc.add_paragraph(t["strengths"][none])
    _para(doc, st, t["section"]["benchmarks"], "Heading 2")
    doc.add_paragraph(ctx["bench"]["intro"])
    for b in ctx["bench"]["items"]:
        doc.add_paragraph(b["caption"])
        _docx_table(doc, st, [tb["indicator"], tb["this"], b["other_header"], tb["diff"],
                              tb["diff_pct"]],
                    b["gaps"], ("label", "this", "other", "diff", "diff_pct"))
    _para(doc, st, t["section"]["gaps"], "Heading 2")
    for g in ctx["gaps"]:
        doc.add_paragraph(_paren(t, g["label"], g["relation"]))
        if not g["rules"]:
            doc.add_paragraph(g["all_pass"])
        for r in g["rules"]:
            _para(doc, st, r["text"], "List Bullet")
            for lever in r["levers"]:
                _para(doc, st, lever, "List Bullet 2")
    _para(doc, st, t["section"]["declared"], "Heading 2")
    doc.add_paragraph(ctx["declared"]["text"])
    for f in ctx["declared"]["failing"]:
        _para(doc, st, f, "List Bullet")
    _para(doc, st, t["section"]["data"], "Heading 2")
    for line in ctx["data"]["lines"]:
        doc.add_paragraph(line)
    for n in ctx["data"]["notes"]:
        _para(doc, st, _kv(t, n["label"], _paren(t, n["status"], n["affects"])),
              "List Bullet")
    children = ctx.get("children")
    if children:                    # a county's towns in a finished town run (--towns)
        _para(doc, st, children["section"], "Heading 2")
        if not children["linked"]:
            doc.add_paragraph(children["not_linked"])
        else:
            doc.add_paragraph(children["run"])
            if children["none"]:
                doc.add_paragraph(children["none"])
            else:
                _docx_table(doc, st, children["head"], children["units"],
                            ("name", "code", "category", "confidence"))


# ---------------------------------------------------------------------------------------
# everything
def _text(value) -> str:
    """``value`` as stripped text; a blank one (None, NaN, ``<NA>``) as ``""``."""
    text = "" if value is None else str(value).strip()
    return "" if text in ("nan", "None", "<NA>") else text


def _known(value, lang: str, kind: str) -> str:
    """``value``, or the unknown-key wording when it is blank."""
    return _text(value) or labels(lang)["unknown"][kind]


#: Characters a sheet's file name keeps: letters (Chinese too), digits, ``_ . -``.
_UNSAFE_NAME = re.compile(r"[^\w.-]")


def _name_part(value) -> str:
    return _UNSAFE_NAME.sub("_", _text(value)).strip("._")[:60]


def sheet_names(suggestions: Sequence[Suggestion]) -> list[str]:
    """File name (without extension) of each town's sheet, unique in the list:
    ``<code>_<town>`` (PRODUCT.md), e.g. ``441882100_连州镇``.

    A town without a code is ``unknown_<k>_<town>`` (``k`` its 1-based position), without a
    name just the code; a repeated name gets ``_1``, ``_2`` … in list order.  Characters
    other than letters (Chinese too), digits, ``_ . -`` become ``_`` (codes with slashes).
    The map links to ``suggestions/<name>.html`` (``classify.pipeline`` passes the names)."""
    bases = []
    for k, s in enumerate(suggestions, 1):
        code, town = _name_part(s.town_code), _name_part(s.town)
        bases.append("_".join(x for x in (code or f"unknown_{k}", town) if x))
    count, seen = Counter(bases), Counter()
    used: set[str] = set()
    out = []
    for base in bases:
        seen[base] += 1
        name = f"{base}_{seen[base]}" if count[base] > 1 else base
        while name in used:           # e.g. a code that is literally 'unknown_3'
            name += "_"
        used.add(name)
        out.append(name)
    return out


def _href(b: Benchmark, have: set | None) -> str:
    """Where a benchmark's name links: its sheet, or its row of the index page when its
    sheet was not made (``have``: the sheets there are)."""
    name = b.sheet or _name_part(b.town_code)
    return f"{name}.html" if have is None or name in have else f"index.html#{name}"


def set_sheet_names(suggestions: Sequence[Suggestion]) -> list[str]:
    """:func:`sheet_names`, also kept on every benchmark (``Benchmark.sheet``, its town's
    sheet, found by its row position ``Benchmark.index``) so that sheets link to it."""
    names = sheet_names(suggestions)
    for s in suggestions:
        for b in s.benchmarks + s.challengers:
            if 0 <= b.index < len(names):
                b.sheet = names[b.index]
    return names


def write_sheets(suggestions: Sequence[Suggestion], folder: str | Path, names: Sequence[str],
                 *, lang: str = "zh", notice: str | None = None,
                 have: set[str] | None = None) -> list[Path]:
    """``<name>.md`` and ``<name>.html`` of each town under ``folder`` (``names``: from
    :func:`sheet_names`).  Returns the paths written, in town order.

    ``have``: the names of every sheet there is (or will be) in ``folder``, to which a
    benchmark's name links (others link to its row of the index); by default ``names``
    and the sheets already in ``folder``.  Given, a slice of towns written on its own
    links exactly as the whole list would."""
    labels(lang)  # validates lang
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if have is None:
        have = set(names) | {p.stem for p in folder.glob("*.html")}
    md_t, html_t = _template("sheet.md.j2"), _template("sheet.html.j2")
    paths = []
    for s, name in zip(suggestions, names):
        ctx = _context(s, lang, True, notice, have)     # its texts are Markdown and HTML
        for ext, template in (("md", md_t), ("html", html_t)):
            path = folder / f"{name}.{ext}"
            path.write_text(template.render(**ctx), encoding="utf-8")
            paths.append(path)
    return paths


def summary_frames(suggestions: Sequence[Suggestion], lang: str = "zh"
                   ) -> dict[str, "pd.DataFrame"]:
    """The tables of ``suggestions.xlsx`` (title → table, headers in ``lang``): the
    summary (one row per town), one per category (in the taxonomy's order, then unknown
    ones and "no category"), the long benchmark-gap and rule-gap tables."""
    t = labels(lang)
    x = t["xlsx"]
    rows = summary_rows(suggestions, lang)
    headers = list(dict.fromkeys(h for r in rows for h in r)) if rows else [
        x[k] for k in ("town_code", "town", "county", "category", "confidence")]
    summary = pd.DataFrame(rows, columns=headers)
    out = {x["summary_sheet"]: summary}
    cats = [s.category or "" for s in suggestions]
    palette = suggestions[0].labels if suggestions else {}
    order = [c for c in palette if "/" not in c and c in cats]
    order += sorted(c for c in set(cats) if c not in order)
    for cid in order:
        sample = suggestions[cats.index(cid)]
        title = _sheet_title(sample.label(cid, lang) if cid else t["missing"], out)
        out[title] = summary[[c == cid for c in cats]].reset_index(drop=True)
    out[_sheet_title(x["gaps_sheet"], out)] = pd.DataFrame(
        _gap_long_block(suggestions, lang), columns=[x[k] for k in (
            "town_code", "town", "benchmark", "indicator", "unit", "this", "other", "diff",
            "diff_pct")])
    out[_sheet_title(x["rules_sheet"], out)] = pd.DataFrame(
        [r for s in suggestions for r in _rule_gap_rows(s, lang, t)],
        columns=[x[k] for k in ("town_code", "town", "target", "relation", "rule",
                                "indicator", "unit", "current", "needed", "change", "method")])
    return out


def _sheet_title(text: str, used) -> str:
    """A worksheet title: at most 31 characters, none of ``[]:*?/\\``, unique."""
    name = "".join("_" if c in '[]:*?/\\' else c for c in text)[:31] or "sheet"
    base, k = name, 2
    while name in used:
        suffix = f"({k})"
        name, k = base[:31 - len(suffix)] + suffix, k + 1
    return name

