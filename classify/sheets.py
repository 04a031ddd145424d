"""Rendering of self-assessment suggestions: Markdown / HTML sheets, a workbook, a Word file.

The evidence comes from :func:`classify.suggest.suggest`; every sentence comes from the
label tables ``classify/templates/labels_<lang>.toml`` and the Jinja2 templates next to them;
numbers are formatted by :mod:`classify.numfmt`.  Chinese and English sheets are rendered
from the same :class:`~classify.suggest.Suggestion` objects, so they carry the same numbers.

In the HTML sheet every number is a ``<span class="num" data-v=… data-k=… data-u=…>`` so a
checker (or a test) can read the value behind the text.  Output is deterministic: no
timestamps, sorted inputs, fixed ZIP dates in ``.xlsx`` / ``.docx``.
"""

from __future__ import annotations

import io
import math
import multiprocessing
import os
import re
import tomllib
import zipfile
from datetime import datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable, Sequence

import jinja2
from markupsafe import Markup, escape

from classify import numfmt
from classify.errors import ConfigError
from classify.suggest import Benchmark, Suggestion, _gc_paused, table_records

__all__ = ["write_suggestions", "render_markdown", "render_html", "summary_rows",
           "write_workbook", "write_docx", "labels"]

_FIXED_TIME = datetime(2000, 1, 1, 0, 0, 0)


# ---------------------------------------------------------------------------------------
# labels and templates
@lru_cache(maxsize=None)
def labels(lang: str = "zh") -> dict:
    """The wording table of ``lang`` (``classify/templates/labels_<lang>.toml``)."""
    if lang not in ("zh", "en"):
        raise ConfigError(f"lang must be 'zh' or 'en', found {lang!r}; use --lang zh or en",
                          key="lang")
    text = (resources.files("classify") / "templates" / f"labels_{lang}.toml").read_text(
        encoding="utf-8")
    return tomllib.loads(text)


_DICT_ATTRS = frozenset(dir(dict))


class _Environment(jinja2.Environment):
    """Looks ``x.key`` up in dicts first: the sheets' contexts are dicts, and the default
    (an attribute first) raises and catches an AttributeError for each of the hundreds
    of lookups of a sheet.  The same result: a key that is no dict attribute."""

    def getattr(self, obj, attribute):
        if type(obj) is dict and attribute not in _DICT_ATTRS:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


@lru_cache(maxsize=None)
def _env() -> jinja2.Environment:
    loader = jinja2.PackageLoader("classify", "templates")
    return _Environment(loader=loader, autoescape=jinja2.select_autoescape(["html",
                        "svg.j2", "html.j2"]), trim_blocks=True, lstrip_blocks=True,
                        keep_trailing_newline=True, undefined=jinja2.StrictUndefined)


# ---------------------------------------------------------------------------------------
# numbers: one formatter per output flavour
@lru_cache(maxsize=1 << 17)
def _num_text(lang: str, kind: str, value, unit: str, n, signed: bool) -> str:
    """The text of a number (cached: the Markdown and HTML sheets, the workbook and the
    Word file print the same numbers)."""
    if kind == "value":
        return numfmt.fmt_value(value, unit, lang, signed=signed)
    if kind == "score":
        return numfmt.fmt_score(value, lang, signed=signed)
    if kind == "pct":
        return numfmt.fmt_percentile(value, lang)
    if kind == "rank":
        return numfmt.fmt_rank(value, n, lang)
    if kind == "percent":
        return numfmt.fmt_percent(value, lang, signed=signed)
    if kind == "share":
        return numfmt.fmt_share(value, lang)
    if kind == "plain":
        return numfmt.MISSING[lang] if numfmt.is_missing(value) else \
            numfmt.fmt_number(value, 2)
    raise ValueError(kind)  # pragma: no cover - programming error


class _Both(str):
    """Text that is plain in Markdown (the string itself) and markup in HTML
    (``__html__``, which Jinja's autoescape and :func:`markupsafe.escape` use), so one
    context renders both sheets."""

    def __new__(cls, text: str, html: str):
        obj = super().__new__(cls, text)
        obj.html = html
        return obj

    def __html__(self) -> Markup:
        return Markup(self.html)


_NUMS: dict[tuple, dict] = {}  # formatted numbers of this process, per (lang, html)


def _num_factory(lang: str, html: bool) -> Callable:
    """``N(value, kind, unit="", n=None, signed=False)`` → text, or with ``html`` the
    text with its HTML span (:class:`_Both`).  Remembered: a town's values come back in
    its benchmark tables and in the sheets of the towns it is a benchmark for."""
    seen = _NUMS.setdefault((lang, html), {})

    def N(value, kind: str = "value", unit: str = "", n=None, signed: bool = False):
        # equal keys print the same (float(value)), but for the sign of a zero
        key = (value, kind, unit, n, signed) if value else None
        out = seen.get(key)
        if out is not None:
            return out
        missing = numfmt.is_missing(value)
        text = _num_text(lang, kind, None if missing else float(value), unit or "",
                         None if n is None or numfmt.is_missing(n) else n, signed)
        if not html:
            out = text
        else:
            v = "" if missing else repr(float(value))  # digits, '.', 'e'
            # the same bytes as Markup(...).format(...), without its slow escaping formatter
            out = _Both(text, f'<span class="num" data-k="{kind}" data-v="{v}" '
                        f'data-u="{_esc(unit or "")}">{_esc(text)}</span>')
        if key is not None:
            if len(seen) >= 1 << 17:
                seen.clear()
            seen[key] = out
        return out

    return N


def _esc(text: str) -> str:
    """``str(markupsafe.escape(text))``, skipping the common case with nothing to escape."""
    if "&" in text or "<" in text or ">" in text or '"' in text or "'" in text:
        return str(escape(text))
    return text


def _fill(fmt: str, html: bool, **kw):
    """``fmt.format(**kw)``; with ``html`` also its markup (:class:`_Both`): the format
    string is trusted, arguments are escaped unless they are already markup (numbers)."""
    if not html:
        return fmt.format(**kw)
    # as Markup(fmt).format(**kw) (no format specs in the label tables), but ~10x faster
    return _Both(fmt.format(**kw), fmt.format(**{k: escape(v) for k, v in kw.items()}))


# ---------------------------------------------------------------------------------------
# context for one sheet
def _label_of(s: Suggestion, target, lang) -> str:
    return s.label(target, lang) if target else ""


def _pos_rows(recs: list[dict], lang, N) -> list[dict]:
    rows = []
    for r in recs:
        rows.append({
            "id": r["indicator"], "label": r[f"label_{lang}"],
            "value": N(r["value"], "value", r["unit"]),
            "rank": N(r["rank"], "rank", n=r["n"]), "pct": N(r["pct"], "pct"),
            "rank_county": N(r["rank_county"], "rank", n=r["n_county"]),
            "pct_county": N(r["pct_county"], "pct"),
        })
    return rows


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


def _focus_label(s: Suggestion, lang: str) -> str:
    dim = s.focus.removeprefix("score_")
    for d in table_records(s, "dimensions"):
        if d["dimension"] == dim:
            return str(d[f"label_{lang}"])
    return labels(lang)["suggested"]["composite"]


def _bench_ctx(s: Suggestion, lang, t, N, html) -> dict:
    cat, focus = _label_of(s, s.target, lang), _focus_label(s, lang)
    if s.is_leader and not s.challengers:
        intro, items = _fill(t["benchmarks"]["alone"], html, category=cat), []
    elif s.is_leader:
        intro, items = _fill(t["benchmarks"]["leader"], html, category=cat, focus=focus), \
            s.challengers
    elif s.benchmarks:
        intro, items = _fill(t["benchmarks"]["intro"], html, category=cat, focus=focus), \
            s.benchmarks
    else:
        intro, items = t["benchmarks"]["none"], []
    out = []
    for b in items:
        tags = [t["benchmarks"]["same_county"]] if b.same_county else \
            [t["benchmarks"]["same_city"]] if b.same_city else []
        out.append({
            "code": b.town_code, "title": b.town, "tags": t["sep"].join(tags),
            "caption": _fill(t["benchmarks"]["item"], html, town=b.town, county=b.county,
                             focus=focus, other=N(b.focus_other, "score"),
                             this=N(b.focus_this, "score"), distance=N(b.distance, "plain")),
            "other_header": b.town, "gaps": _gap_rows(b, lang, N)})
    return {"intro": intro, "items": out}


def _lever_text(g: dict, lang, t, N, html, info_label, field_label) -> str:
    if numfmt.is_missing(g["current"]) or numfmt.is_missing(g["needed"]):
        return _fill(t["gaps"]["lever_missing"], html, indicator=info_label)
    up = (g["change"] >= 0) if not numfmt.is_missing(g["change"]) else True
    fmt = t["gaps"]["lever" if up else "lever_down"]
    method = t["gaps"].get(f"method_{g['method']}", "") if isinstance(g["method"], str) else ""
    unit = g.get("unit", "")
    return _fill(fmt, html, indicator=info_label, change=N(g["change"], "value", unit,
                                                           signed=True),
                 current=N(g["current"], "value", unit), needed=N(g["needed"], "value", unit),
                 method=method, field=field_label, goal=_goal(g, lang, t, N))


def _goal(g: dict, lang, t, N):
    """What the rule asks, in words: 全域P70 / 县内第1名 / 1.20."""
    scale, thr = g.get("scale") or "value", g.get("threshold")
    if scale in ("percentile", "percentile_county", "rank_county"):
        return t["gaps"][f"goal_{scale}"].format(p=int(round(float(thr))))
    return N(thr, "value", "")


def _gaps_ctx(s: Suggestion, lang, t, N, html) -> list[dict]:
    gaps = table_records(s, "category_gaps")
    out = []
    rel_order = {}
    for rec in gaps:
        rel_order.setdefault(rec["target"], rec["relation"])
    targets = dict(rel_order)
    # the fallback category (培育类) has no rules: nothing to explain for it
    if s.target and s.target not in targets and s.target in s.extra.get("targets", ()):
        targets = {s.target: "suggested", **targets}
    if s.declared_target and s.declared_target not in targets and \
            s.declared_target in s.extra.get("targets", ()):
        targets[s.declared_target] = "declared"
    for target, relation in targets.items():
        rules: dict[str, dict] = {}
        for g in (g for g in gaps if g["target"] == target):
            text = _rule_text(g, lang)
            if numfmt.is_missing(g.get("value")):
                text = _fill(t["gaps"]["rule_missing"], html, rule=text)
            r = rules.setdefault(g["rule_id"], {"id": g["rule_id"], "text": text,
                                                "levers": []})
            if isinstance(g.get("indicator"), str) and g["indicator"]:
                fl = s.extra.get("field_labels", {}).get(g["field"], {}).get(lang, g["field"])
                r["levers"].append(_lever_text(g, lang, t, N, html, g[f"label_{lang}"], fl))
            elif not numfmt.is_missing(g.get("needed_field")):
                r["levers"].append(t["gaps"]["no_lever"])
        out.append({"target": target, "label": _label_of(s, target, lang),
                    "relation": t["gaps"][f"relation_{relation}"],
                    "all_pass": _fill(t["gaps"]["all_pass"], html,
                                      category=_label_of(s, target, lang)),
                    "rules": list(rules.values())})
    return out


def _rule_text(g: dict, lang: str) -> str:
    text = g.get(f"text_{lang}")
    if isinstance(text, str) and text:
        return text
    return f"{g['field']} {g['op']} {g['threshold']}"


def _declared_ctx(s: Suggestion, lang, t, html) -> dict:
    if not s.declared:
        return {"text": t["declared"]["none"], "status": "", "failing": []}
    if s.declared_target is None:
        return {"text": _fill(t["declared"]["unknown"], html, text=s.declared), "status": "",
                "failing": []}
    status = s.declared_status or ""
    label = _label_of(s, s.declared_target, lang)
    text = f"{t['declared']['declared']}{t['colon']}{s.declared}" + \
        (f"{t['lp']}{label}{t['rp']}" if label != s.declared else "")
    if status:
        text += " — " + t["declared"].get(status, status)
    failing = [_rule_text(r, lang) for r in table_records(s, "declared_failing")]
    return {"text": text, "status": status, "failing": failing}


def _data_ctx(s: Suggestion, lang, t, html) -> dict:
    lines = []
    missing = table_records(s, "missing")
    if missing:
        lines.append(t["data"]["intro"])
    else:
        lines.append(t["data"]["none"])
    nm, ni = s.extra.get("n_missing"), s.extra.get("n_imputed")
    if not numfmt.is_missing(nm) and not numfmt.is_missing(ni) and (nm or ni):
        lines.append(_fill(t["data"]["counts"], html, n_missing=int(nm), n_imputed=int(ni)))
    q = s.extra.get("boundary_quality")
    if q and q != "official":
        key = "boundary_approximate" if q == "approximate" else "boundary"
        lines.append(_fill(t["data"][key], html, quality=q))
    notes = []
    for r in missing:
        aff = [_label_of(s, a, lang) for a in str(r["affects"] or "").split(";") if a]
        notes.append({"id": r["indicator"], "label": r[f"label_{lang}"],
                      "status_id": r["status"], "status": t["data"][r["status"]],
                      "affects": _fill(t["data"]["affects"], html, targets=t["sep"].join(aff))
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
    return [{"id": d["dimension"], "label": d[f"label_{lang}"], "this": N(d["this"], "score"),
             "median": N(d["category_median"], "score"),
             "benchmark": N(d["benchmark"], "score") if has_bench else "—",
             "bar": _bar(d["this"])}
            for d in table_records(s, "dimensions")]


def _chart(s: Suggestion, lang: str, color: str) -> Markup:
    """Horizontal bars: the town's dimension scores, the category median (tick) and the
    first benchmark (circle), on a fixed 0–100 axis."""
    t = labels(lang)
    d = table_records(s, "dimensions")
    # room for the longest dimension label: ~12 px per CJK character, ~7 px otherwise
    longest = max([sum(12 if ord(ch) > 0x2e80 else 7 for ch in str(v))
                   for v in (r[f"label_{lang}"] for r in d)] + [40])
    label_w, plot_w, row_h, top = longest + 6, 300, 22, 8
    x0 = label_w + 6
    rows = []

    def x(v):
        return None if numfmt.is_missing(v) else round(x0 + plot_w * min(max(float(v), 0), 100)
                                                       / 100, 1)

    for k, r in enumerate(d):
        y = top + k * row_h
        tx = x(r["this"])
        rows.append({"id": r["dimension"], "label": r[f"label_{lang}"], "y": y,
                     "this_w": None if tx is None else round(tx - x0, 1),
                     "this_title": f"{t['table']['score']} {numfmt.fmt_score(r['this'], lang)}",
                     "median_x": x(r["category_median"]),
                     "median_title": f"{t['table']['median']} "
                                     f"{numfmt.fmt_score(r['category_median'], lang)}",
                     "bench_x": x(r["benchmark"]),
                     "bench_title": f"{t['table']['benchmark']} "
                                    f"{numfmt.fmt_score(r['benchmark'], lang)}"})
    bottom = top + len(rows) * row_h
    svg = _env().get_template("chart.svg.j2").render(
        width=x0 + plot_w + 20, height=bottom + 40, rows=rows, x0=x0, label_x=label_w,
        top=top, bottom=bottom, color=color, title=t["section"]["chart"],
        grid=[{"x": x0 + plot_w * g / 100, "label": g} for g in (0, 25, 50, 75, 100)],
        legend_this=t["table"]["this"], legend_median=t["table"]["median"],
        legend_bench=t["table"]["benchmark"], legend_gap=110,
        has_bench=any(not numfmt.is_missing(r["benchmark"]) for r in d))
    return Markup(svg)


def _ink(color: str) -> str:
    """Black or white text, whichever reads better on ``color`` (relative luminance)."""
    try:
        r, g, b = (int(color[k:k + 2], 16) / 255 for k in (1, 3, 5))
    except ValueError:
        return "#ffffff"
    lum = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "#000000" if lum > 0.55 else "#ffffff"


def _context(s: Suggestion, lang: str, html: bool, notice) -> dict:
    t = labels(lang)
    N = _num_factory(lang, html)
    color = s.labels.get(s.target or "", {}).get("color") or \
        s.labels.get(s.category or "", {}).get("color") or "#555555"
    review = s.extra.get("review")
    cat = {
        "label": _label_of(s, s.target, lang), "color": color, "ink": _ink(color),
        "confidence": t["suggested"]["not_assessed"] if numfmt.is_missing(s.confidence)
        else N(s.confidence, "share"),
        "runner_up": _label_of(s, s.runner_up, lang),
        "secondary": t["sep"].join(_label_of(s, x, lang) for x in s.secondary),
        "roles": t["sep"].join(_label_of(s, x, lang) for x in s.roles),
        "composite": N(s.composite, "score"), "rank": N(s.rank, "rank", n=s.n_towns),
        "review": _fill(t["suggested"]["review"], html, reason=(
            lang == "en" and s.extra.get("review_reason_en") or s.extra.get("review_reason")
            or "")) if review is True or str(review).lower() == "true" else "",
    }
    return {
        "t": t, "lang": lang, "s": s, "notice": notice, "cat": cat,
        "subtitle": _fill(t["subtitle"], html, town=s.town, code=s.town_code,
                          county=s.county or "—"),
        "dims": _dims_ctx(s, lang, N),
        "strengths_explain": _fill(t["strengths"]["explain"], html,
                                   top=int(s.extra.get("top", 80)),
                                   bottom=int(s.extra.get("bottom", 20))),
        "strengths": _pos_rows(table_records(s, "strengths"), lang, N),
        "weaknesses": _pos_rows(table_records(s, "weaknesses"), lang, N),
        "bench": _bench_ctx(s, lang, t, N, html),
        "gaps": _gaps_ctx(s, lang, t, N, html),
        "declared": _declared_ctx(s, lang, t, html),
        "data": _data_ctx(s, lang, t, html),
        "chart": _chart(s, lang, color) if html else "",
    }


def render_markdown(s: Suggestion, *, lang: str | None = None, notice: str | None = None
                    ) -> str:
    """The Markdown sheet of one town."""
    lang = lang or s.lang
    return _env().get_template("sheet.md.j2").render(**_context(s, lang, False, notice))


def render_html(s: Suggestion, *, lang: str | None = None, notice: str | None = None) -> str:
    """The self-contained HTML sheet of one town (inline CSS and SVG, no external assets)."""
    lang = lang or s.lang
    return _env().get_template("sheet.html.j2").render(**_context(s, lang, True, notice))


# ---------------------------------------------------------------------------------------
# one row per town (workbook, docx summary)
def _kv(t: dict, key, value) -> str:
    return f"{key}{t['colon']}{value}"


def _paren(t: dict, text, note) -> str:
    return f"{text}{t['lp']}{note}{t['rp']}" if note else str(text)


def _plain_list(items: Iterable[str], sep: str) -> str:
    return sep.join(x for x in items if x)


def _gap_summary(s: Suggestion, lang: str, t: dict) -> str:
    N = _num_factory(lang, False)
    parts = []
    for g in _gaps_ctx(s, lang, t, N, False):
        for r in g["rules"]:
            lever = r["levers"][0] if r["levers"] else ""
            parts.append(_kv(t, g["label"], r["text"]) + (f"{t['semi']}{lever}" if lever else ""))
    return "\n".join(parts)


def _pos_summary(recs: list[dict], lang, t, N) -> list[str]:
    """``label（第3/85）``, or the county rank when only the county position qualifies."""
    out = []
    for r in recs:
        if r["scope"] == "county":
            rank = _fill(t["strengths"]["county_rank"], False,
                         rank=N(r["rank_county"], "rank", n=r["n_county"]))
        else:
            rank = N(r["rank"], "rank", n=r["n"])
        out.append(_paren(t, r[f"label_{lang}"], rank))
    return out


def summary_rows(suggestions: Sequence[Suggestion], lang: str = "zh") -> list[dict]:
    """One dict per town, keyed by the workbook headers of ``lang`` (in column order)."""
    t = labels(lang)
    x = t["xlsx"]
    rows = []
    for s in suggestions:
        N = _num_factory(lang, False)
        strengths = _pos_summary(table_records(s, "strengths"), lang, t, N)
        weaknesses = _pos_summary(table_records(s, "weaknesses"), lang, t, N)
        if s.is_leader:
            bench = x["leader"] + _plain_list((b.town for b in s.challengers), t["sep"])
        else:
            bench = _plain_list((b.town for b in s.benchmarks), t["sep"])
        d = _declared_ctx(s, lang, t, False)
        notes = _data_ctx(s, lang, t, False)["notes"]
        rows.append({
            x["town_code"]: s.town_code, x["town"]: s.town, x["county"]: s.county,
            x["category"]: _label_of(s, s.target, lang) or t["missing"],
            x["secondary"]: _plain_list((_label_of(s, v, lang) for v in s.secondary), t["sep"]),
            x["confidence"]: None if numfmt.is_missing(s.confidence) else float(s.confidence),
            x["runner_up"]: _label_of(s, s.runner_up, lang),
            x["composite"]: None if numfmt.is_missing(s.composite) else round(s.composite, 1),
            x["rank"]: None if numfmt.is_missing(s.rank) else int(s.rank),
            **{x["score"].format(dimension=r[f"label_{lang}"]):
               None if numfmt.is_missing(r["this"]) else round(float(r["this"]), 1)
               for r in table_records(s, "dimensions")},
            x["strengths"]: t["sep"].join(strengths), x["weaknesses"]: t["sep"].join(weaknesses),
            x["benchmarks"]: bench, x["gaps"]: _gap_summary(s, lang, t),
            x["declared"]: s.declared or "",
            x["declared_status"]: t["declared"].get(d["status"], "") if d["status"] else "",
            x["data_notes"]: t["sep"].join(_paren(t, n["label"], n["status"]) for n in notes),
        })
    return rows


def _gap_long_rows(suggestions, lang) -> list[dict]:
    x = labels(lang)["xlsx"]
    out = []
    for s in suggestions:
        for b in (s.benchmarks or s.challengers):
            for g in table_records(b, "gaps"):
                def num(v):
                    return None if numfmt.is_missing(v) else float(v)
                out.append({x["town_code"]: s.town_code, x["town"]: s.town,
                            x["benchmark"]: b.town, x["indicator"]: g[f"label_{lang}"],
                            x["unit"]: numfmt.unit_label(g["unit"], lang),
                            x["this"]: num(g["this"]), x["other"]: num(g["other"]),
                            x["diff"]: num(g["diff"]),
                            x["diff_pct"]: None if numfmt.is_missing(g["diff_pct"])
                            else round(float(g["diff_pct"]), 1)})
    return out


def _rule_gap_rows(suggestions, lang) -> list[dict]:
    """One row per failing rule and indicator translation (the 类别差距 sheet)."""
    t = labels(lang)
    x = t["xlsx"]
    out = []
    for s in suggestions:
        for g in table_records(s, "category_gaps"):
            ind = g["indicator"] if isinstance(g["indicator"], str) else ""

            def num(v):   # two decimals: the gap is an estimate, not a measurement
                return None if numfmt.is_missing(v) else round(float(v), 2)
            out.append({
                x["town_code"]: s.town_code, x["town"]: s.town,
                x["target"]: _label_of(s, g["target"], lang),
                x["relation"]: t["gaps"][f"relation_{g['relation']}"],
                x["rule"]: _rule_text(g, lang), x["indicator"]: g[f"label_{lang}"] if ind else "",
                x["unit"]: numfmt.unit_label(g["unit"], lang) if ind else "",
                x["current"]: num(g["current"]), x["needed"]: num(g["needed"]),
                x["change"]: num(g["change"]),
                x["method"]: t["xlsx"].get(f"method_{g['method']}", "") if ind else ""})
    return out


def _sheet_title(text: str, used: set) -> str:
    bad = '[]:*?/\\'
    name = "".join("_" if c in bad else c for c in text)[:31] or "sheet"
    base, k = name, 2
    while name in used:
        suffix = f"({k})"
        name, k = base[:31 - len(suffix)] + suffix, k + 1
    used.add(name)
    return name


# The workbook is SpreadsheetML written directly: openpyxl builds an object per cell
# (~20 µs each) and a national run has millions of cells.
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")  # as openpyxl refuses them
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_NS_R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
# cell styles (cellXfs): 0 plain, 1 header, 2 percent (built-in format 9 = 0%), 3 wrapped
_STYLES = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<styleSheet {_NS}>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b val="1"/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="3"><fill><patternFill/></fill><fill><patternFill patternType="gray125"/>'
    '</fill><fill><patternFill patternType="solid"><fgColor rgb="00DDEBF7"/>'
    '<bgColor rgb="00DDEBF7"/></patternFill></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
    '</cellStyleXfs><cellXfs count="4">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" '
    'applyFill="1" applyAlignment="1"><alignment vertical="center" wrapText="1"/></xf>'
    '<xf numFmtId="9" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyAlignment="1">'
    '<alignment vertical="top" wrapText="1"/></xf></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    '</styleSheet>')


def _col_letter(k: int) -> str:
    """Column letter of 1-based column ``k`` (1 → A, 27 → AA)."""
    out = ""
    while k:
        k, r = divmod(k - 1, 26)
        out = chr(65 + r) + out
    return out


def _xml_text(text: str) -> str:
    text = _ILLEGAL_XML.sub("", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cell(ref: str, v, style: int) -> str:
    s = f' s="{style}"' if style else ""
    if v is None or v == "" or (isinstance(v, float) and not math.isfinite(v)):
        return f'<c r="{ref}"{s}/>' if style else ""
    if isinstance(v, bool):
        return f'<c r="{ref}"{s} t="b"><v>{int(v)}</v></c>'
    if isinstance(v, (int, float)):
        # "%.16g" as openpyxl writes numbers (so the values read back are the same)
        return f'<c r="{ref}"{s}><v>{v:.16g}</v></c>' if isinstance(v, float) else \
            f'<c r="{ref}"{s}><v>{int(v)}</v></c>'
    return (f'<c r="{ref}"{s} t="inlineStr"><is><t xml:space="preserve">{_xml_text(str(v))}'
            f'</t></is></c>')


class _Sheet:
    """One worksheet: header, rows of dicts keyed by the header, widths, panes, filter."""

    def __init__(self, title: str, rows: list[dict], headers: list[str],
                 pct_col: str | None = None, *, widths: dict[int, float] | None = None,
                 freeze: bool = True, styled_header: bool = True):
        self.title, self.rows, self.headers = title, rows, headers
        self.pct = headers.index(pct_col) if pct_col in headers else None
        self.widths = widths if widths is not None else {
            k: max(8, min(48, max([len(str(h))] + [min(len(str(r.get(h) or "")), 60)
                                                   for r in rows]) * 1.6 + 2))
            for k, h in enumerate(headers, start=1)}
        self.freeze, self.styled_header = freeze, styled_header
        self.filter = f"A1:{_col_letter(len(headers))}{len(rows) + 1}" if rows and freeze \
            else None

    def xml(self) -> Iterable[str]:
        letters = [_col_letter(k) for k in range(1, len(self.headers) + 1)]
        yield (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
               f'<worksheet {_NS} {_NS_R}><sheetViews><sheetView workbookViewId="0">')
        if self.freeze and len(self.headers) > 2:
            yield ('<pane xSplit="2" ySplit="1" topLeftCell="C2" activePane="bottomRight" '
                   'state="frozen"/><selection pane="bottomRight" activeCell="C2" sqref="C2"/>')
        elif self.freeze:
            yield ('<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
                   'state="frozen"/><selection pane="bottomLeft" activeCell="A2" sqref="A2"/>')
        yield '</sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/><cols>'
        yield "".join(f'<col min="{k}" max="{k}" width="{w:.16g}" customWidth="1"/>'
                      for k, w in sorted(self.widths.items()))
        yield '</cols><sheetData>'
        head = 1 if self.styled_header else 0
        yield '<row r="1">' + "".join(_cell(f"{c}1", h, head) for c, h in
                                      zip(letters, self.headers)) + "</row>"
        batch = []
        for n, r in enumerate(self.rows, start=2):
            cells = []
            for k, (c, h) in enumerate(zip(letters, self.headers)):
                v = r.get(h)
                style = 2 if k == self.pct else 3 if self.styled_header and \
                    isinstance(v, str) and "\n" in v else 0
                cells.append(_cell(f"{c}{n}", v, style))
            batch.append(f'<row r="{n}">' + "".join(cells) + "</row>")
            if len(batch) == 1000:
                yield "".join(batch)
                batch = []
        yield "".join(batch) + "</sheetData>"
        if self.filter:
            yield f'<autoFilter ref="{self.filter}"/>'
        yield ('<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" '
               'footer="0.5"/></worksheet>')


def _save_workbook(sheets: list[_Sheet], path: Path) -> Path:
    """Write ``sheets`` as an .xlsx (inline strings, fixed dates: same input, same bytes)."""
    n = len(sheets)
    names = "".join(f'<sheet name="{_xml_text(s.title).replace(chr(34), "&quot;")}" '
                    f'sheetId="{k}" r:id="rId{k}"/>' for k, s in enumerate(sheets, start=1))
    defined = "".join(
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{k}" hidden="1">'
        f"'{_xml_text(s.title).replace(chr(39), chr(39) * 2)}'!"
        f"{_abs_ref(s.filter)}</definedName>" for k, s in enumerate(sheets) if s.filter)
    head = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    stamp = _FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    parts = {
        "[Content_Types].xml": head + (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-'
            'package.relationships+xml"/><Default Extension="xml" ContentType="application/'
            'xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.'
            'openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.styles+xml"/>' + "".join(
                f'<Override PartName="/xl/worksheets/sheet{k}.xml" ContentType="application/'
                f'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                for k in range(1, n + 1)) +
            '<Override PartName="/docProps/core.xml" ContentType="application/vnd.'
            'openxmlformats-package.core-properties+xml"/><Override PartName="/docProps/'
            'app.xml" ContentType="application/vnd.openxmlformats-officedocument.extended-'
            'properties+xml"/></Types>'),
        "_rels/.rels": head + (
            f'<Relationships xmlns="{_PKG}"><Relationship Id="rId1" Type="{_REL}/'
            'officeDocument" Target="xl/workbook.xml"/><Relationship Id="rId2" Type="'
            'http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-'
            f'properties" Target="docProps/core.xml"/><Relationship Id="rId3" Type="{_REL}/'
            'extended-properties" Target="docProps/app.xml"/></Relationships>'),
        "docProps/app.xml": head + (
            '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
            'extended-properties"><Application>towntype</Application></Properties>'),
        "docProps/core.xml": head + (
            '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
            'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/'
            'XMLSchema-instance"><dc:creator>towntype</dc:creator>'
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified>'
            '</cp:coreProperties>'),
        "xl/workbook.xml": head + (
            f'<workbook {_NS} {_NS_R}><bookViews><workbookView activeTab="0"/></bookViews>'
            f'<sheets>{names}</sheets>' + (f"<definedNames>{defined}</definedNames>"
                                           if defined else "") + "</workbook>"),
        "xl/_rels/workbook.xml.rels": head + (
            f'<Relationships xmlns="{_PKG}">' + "".join(
                f'<Relationship Id="rId{k}" Type="{_REL}/worksheet" '
                f'Target="worksheets/sheet{k}.xml"/>' for k in range(1, n + 1)) +
            f'<Relationship Id="rId{n + 1}" Type="{_REL}/styles" Target="styles.xml"/>'
            '</Relationships>'),
        "xl/styles.xml": _STYLES,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        for name, text in parts.items():
            z.writestr(_zip_info(name), text.encode("utf-8"))
        for k, s in enumerate(sheets, start=1):
            with z.open(_zip_info(f"xl/worksheets/sheet{k}.xml"), "w") as f:
                for chunk in s.xml():
                    f.write(chunk.encode("utf-8"))
    return path


def _zip_info(name: str) -> zipfile.ZipInfo:
    zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    zi.compress_type = zipfile.ZIP_DEFLATED
    zi.external_attr = 0o600 << 16
    return zi


def _abs_ref(ref: str) -> str:
    """``A1:P85`` → ``$A$1:$P$85``."""
    return ":".join(re.sub(r"([A-Z]+)(\d+)", r"$\1$\2", p) for p in ref.split(":"))


def write_workbook(suggestions: Sequence[Suggestion], path: str | Path, *, lang: str = "zh",
                   notice: str | None = None) -> Path:
    """``suggestions.xlsx``: a summary sheet (one row per town), a sheet per category and
    the long benchmark-gap table; a notice sheet first when ``notice`` is given."""
    t = labels(lang)
    x = t["xlsx"]
    used: set[str] = set()
    sheets = []
    if notice:
        sheets.append(_Sheet(_sheet_title(x["notice_sheet"], used),
                             [{t["notice_label"]: notice}], [t["notice_label"]],
                             widths={1: 100}, freeze=False, styled_header=False))
    rows = summary_rows(suggestions, lang)
    empty = ("town_code", "town", "county", "category", "secondary", "confidence",
             "runner_up", "composite", "rank", "strengths", "weaknesses", "benchmarks",
             "gaps", "declared", "declared_status", "data_notes")
    headers = list(rows[0]) if rows else [x[k] for k in empty]
    sheets.append(_Sheet(_sheet_title(x["summary_sheet"], used), rows, headers,
                         x["confidence"]))
    by_cat: dict[str, list[int]] = {}
    for k, s in enumerate(suggestions):
        by_cat.setdefault(s.category or "", []).append(k)
    # category sheets in the taxonomy's order, then anything unknown (and "no category")
    palette = suggestions[0].labels if suggestions else {}
    order = [c for c in palette if "/" not in c and c in by_cat]
    order += sorted(c for c in by_cat if c not in order)
    for cid in order:
        sample = suggestions[by_cat[cid][0]]
        title = _label_of(sample, cid, lang) if cid else t["missing"]
        sheets.append(_Sheet(_sheet_title(title, used), [rows[k] for k in by_cat[cid]],
                             headers, x["confidence"]))
    long_headers = [x[k] for k in ("town_code", "town", "benchmark", "indicator", "unit",
                                   "this", "other", "diff", "diff_pct")]
    sheets.append(_Sheet(_sheet_title(x["gaps_sheet"], used),
                         _gap_long_rows(suggestions, lang), long_headers))
    rule_headers = [x[k] for k in ("town_code", "town", "target", "relation", "rule",
                                   "indicator", "unit", "current", "needed", "change",
                                   "method")]
    sheets.append(_Sheet(_sheet_title(x["rules_sheet"], used),
                         _rule_gap_rows(suggestions, lang), rule_headers))
    return _save_workbook(sheets, Path(path))


def _write_zip_deterministic(data: bytes, path: Path) -> Path:
    """Rewrite an OOXML zip with fixed member dates and core-property times, so the same
    inputs give the same bytes."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = _fix_core_times(body)
            zi = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            dst.writestr(zi, body)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out.getvalue())
    return path


def _fix_core_times(body: bytes) -> bytes:
    import re

    text = body.decode("utf-8")
    stamp = _FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    text = re.sub(r"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)", rf"\g<1>{stamp}\2",
                  text)
    return text.encode("utf-8")


# ---------------------------------------------------------------------------------------
# Word
def write_docx(suggestions: Sequence[Suggestion], path: str | Path, *, lang: str = "zh",
               title: str | None = None, notice: str | None = None,
               _contexts: dict | None = None) -> Path:
    """``suggestions.docx``: one section (new page) per town, for the county report."""
    import docx
    from docx.enum.section import WD_SECTION
    from docx.oxml.ns import qn
    from docx.shared import Mm

    t = labels(lang)
    doc = docx.Document()
    normal = doc.styles["Normal"]
    normal.font.name = "SimSun" if lang == "zh" else "Calibri"
    rpr = normal.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(fonts)
    fonts.set(qn("w:eastAsia"), "SimSun")
    # A4 (Chinese official documents); later sections copy the first one's page setup
    first = doc.sections[0]
    first.page_width, first.page_height = Mm(210), Mm(297)
    first.left_margin = first.right_margin = Mm(25)
    # style objects looked up once (by name, python-docx scans every style per call)
    # style ids set on the XML directly: python-docx's style lookup by object scans every
    # style of the document for each paragraph (most of the time of a long report)
    st = {n: doc.styles[n].style_id for n in ("Title", "Heading 1", "Heading 2", "Heading 3",
                                              "Table Grid", "List Bullet", "List Bullet 2")}
    for k, s in enumerate(suggestions):
        if k:
            doc.add_section(WD_SECTION.NEW_PAGE)
        ctx = (_contexts or {}).get(s.town_code) or _context(s, lang, False, notice)
        _docx_town(doc, st, ctx, s, lang, t, title if k == 0 else None, notice)
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


def _docx_table(doc, st, header: list[str], rows: list[list[str]]):
    # all rows at once: python-docx's add_row re-reads the table grid every time
    table = doc.add_table(rows=len(rows) + 1, cols=len(header))
    table._tbl.tblStyle_val = st["Table Grid"]
    for row, values in zip(table.rows, [header] + rows):
        for cell, v in zip(row.cells, values):
            cell.text = str(v)
    return table


def _docx_town(doc, st, ctx: dict, s: Suggestion, lang, t, title, notice) -> None:
    if title:
        _para(doc, st, title, "Title")
    _para(doc, st, _kv(t, t["title"], s.town), "Heading 1")
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
    tb = t["table"]
    _docx_table(doc, st, [tb["dimension"], tb["score"], tb["chart"], tb["median"],
                          tb["benchmark"]],
                [[d["label"], d["this"], d["bar"], d["median"], d["benchmark"]]
                 for d in ctx["dims"]])
    _para(doc, st, t["section"]["strengths"], "Heading 2")
    for name, rows, none in ((t["strengths"]["strengths"], ctx["strengths"],
                              t["strengths"]["none_strength"]),
                             (t["strengths"]["weaknesses"], ctx["weaknesses"],
                              t["strengths"]["none_weakness"])):
        _para(doc, st, name, "Heading 3")
        if rows:
            _docx_table(doc, st, [tb["indicator"], tb["value"], tb["rank_region"],
                                  tb["pct_region"], tb["rank_county"], tb["pct_county"]],
                        [[r["label"], r["value"], r["rank"], r["pct"], r["rank_county"],
                          r["pct_county"]] for r in rows])
        else:
            doc.add_paragraph(none)
    _para(doc, st, t["section"]["benchmarks"], "Heading 2")
    doc.add_paragraph(ctx["bench"]["intro"])
    for b in ctx["bench"]["items"]:
        doc.add_paragraph(b["caption"])
        _docx_table(doc, st, [tb["indicator"], tb["this"], b["other_header"], tb["diff"],
                              tb["diff_pct"]],
                    [[g["label"], g["this"], g["other"], g["diff"], g["diff_pct"]]
                     for g in b["gaps"]])
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


# ---------------------------------------------------------------------------------------
# everything
class _FileWriter:
    """Writes text files on two background threads while the next sheets render (file
    creation is slow on some file systems); errors surface when the block ends."""

    def __init__(self, max_pending: int = 256):
        from concurrent.futures import ThreadPoolExecutor

        self.pool = ThreadPoolExecutor(max_workers=2)
        self.pending: list = []
        self.max_pending = max_pending

    def write(self, path: Path, text: str) -> None:
        self.pending.append(self.pool.submit(path.write_text, text, encoding="utf-8"))
        if len(self.pending) >= self.max_pending:  # bound the texts held in memory
            for f in self.pending[: self.max_pending // 2]:
                f.result()
            self.pending = self.pending[self.max_pending // 2:]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            for f in self.pending:
                f.result()
        finally:
            self.pool.shutdown(wait=True)
        return False


@_gc_paused
def write_suggestions(suggestions: Sequence[Suggestion], out_dir: str | Path, *,
                      lang: str = "zh", docx: bool = False, title: str | None = None,
                      notice: str | None = None, workers: int | None = None) -> list[Path]:
    """Write ``suggestions/<town_code>.md`` and ``.html`` per town, ``suggestions.xlsx`` and,
    with ``docx=True``, ``suggestions.docx``, under ``out_dir``.

    ``out_dir`` is the run's output directory; the files go to ``out_dir/suggestions/``
    (when ``out_dir`` is itself named ``suggestions`` it is used as is).  ``workers``
    processes render the sheets while this one writes the workbook (default: 2 from
    1,000 towns on a machine with 2 cores or more, else 1; the files are the same).
    Returns the paths written, in a stable order.
    """
    labels(lang)  # validates lang
    out = Path(out_dir)
    folder = out if out.name == "suggestions" else out / "suggestions"
    folder.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    for s in suggestions:
        if s.town_code in seen:
            raise ConfigError(f"town_code {s.town_code!r} appears twice; sheet file names "
                              "need unique codes (check the join report)", key="town_code")
        seen.add(s.town_code)
    paths = [folder / f"{s.town_code}.{ext}" for s in suggestions for ext in ("md", "html")]
    if workers is None:
        workers = 2 if len(suggestions) >= 1000 and (os.cpu_count() or 1) >= 2 else 1
    plain: dict[str, dict] = {}
    if workers > 1 and not docx and "fork" in multiprocessing.get_all_start_methods():
        book = _write_parallel(suggestions, folder, lang, notice, workers)
    else:
        _write_sheets(suggestions, folder, lang, notice, plain if docx else None)
        book = write_workbook(suggestions, folder / "suggestions.xlsx", lang=lang,
                              notice=notice)
    paths.append(book)
    if docx:
        paths.append(write_docx(suggestions, folder / "suggestions.docx", lang=lang,
                                title=title, notice=notice, _contexts=plain))
    return paths


def _write_sheets(suggestions, folder: Path, lang: str, notice, plain: dict | None) -> None:
    """The Markdown and HTML sheet of every town (``plain`` collects the plain-text
    contexts, which also make the Word sections)."""
    md_t, html_t = _env().get_template("sheet.md.j2"), _env().get_template("sheet.html.j2")
    with _FileWriter() as files:
        for s in suggestions:
            if plain is not None:
                plain[s.town_code] = _context(s, lang, False, notice)
            ctx = _context(s, lang, True, notice)  # renders the Markdown sheet as well
            files.write(folder / f"{s.town_code}.md", md_t.render(**ctx))
            files.write(folder / f"{s.town_code}.html", html_t.render(**ctx))


_JOBS: dict[int, tuple] = {}  # what forked renderers read (inherited, not pickled)


def _render_part(job: tuple[int, int, int]) -> None:
    key, lo, hi = job
    suggestions, folder, lang, notice = _JOBS[key]
    _write_sheets(suggestions[lo:hi], folder, lang, notice, None)


def _write_parallel(suggestions, folder: Path, lang: str, notice, workers: int) -> Path:
    """Sheets rendered by ``workers`` forked processes while this one writes the workbook."""
    key = id(suggestions)
    _JOBS[key] = (list(suggestions), folder, lang, notice)
    n = len(suggestions)
    bounds = [round(n * k / workers) for k in range(workers + 1)]
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            job = pool.map_async(_render_part, [(key, lo, hi) for lo, hi in
                                                zip(bounds, bounds[1:])])
            book = write_workbook(suggestions, folder / "suggestions.xlsx", lang=lang,
                                  notice=notice)
            job.get()
    finally:
        del _JOBS[key]
    return book
