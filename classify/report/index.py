"""``suggestions/index.html``: every town of the run by county, with its category badge,
confidence and a link to its sheet (or how to make the sheet), searchable, offline (no
external assets), rendered by Jinja with autoescape."""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import jinja2
import pandas as pd

from classify import numfmt
from classify.levels import level as unit_level

__all__ = ["write_index"]

_WORDS = {
    "zh": {"title": "自评分类意见 · 索引", "count": "共 {n} 个镇街，已生成自评表 {s} 个。",
           "how": "为其他镇街生成自评表（不必重新运行）：", "search": "搜索镇街、代码、县区或类别",
           "town": "镇街", "code": "统计代码", "category": "建议类别", "confidence": "置信度",
           "no_sheet": "（未生成自评表）", "unknown_county": "未知县区（unknown county）",
           "none": "未分类"},
    "en": {"title": "Self-assessment sheets · index", "count": "{n} towns; {s} sheets written.",
           "how": "Sheets for other towns (no re-run): ", "search": "search town, code, "
           "county or category", "town": "town", "code": "code", "category": "category",
           "confidence": "confidence", "no_sheet": "(no sheet yet)",
           "unknown_county": "unknown county", "none": "no category"},
}


@lru_cache(maxsize=None)
def _template() -> jinja2.Template:
    env = jinja2.Environment(loader=jinja2.PackageLoader("classify", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    return env.get_template("index.html.j2")


def _ink(color: str) -> str:
    try:
        r, g, b = (int(color[k:k + 2], 16) / 255 for k in (1, 3, 5))
    except (TypeError, ValueError):
        return "#000000"
    return "#000000" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.55 else "#ffffff"


def write_index(towns: pd.DataFrame, labels: dict, folder: str | Path, *, run_dir: Path,
                lang: str = "zh", notice: str | None = None, level: str = "town") -> Path:
    """Write ``folder/index.html`` from ``towns`` (``town_code, town, county, target,
    confidence, _sheet, has_sheet``: every town of the run) and the category ``labels``
    (``{id: {"zh", "en", "color"}}``), worded for the unit ``level`` (镇街 → 县（市、区）)."""
    w = {k: unit_level(level).say(v) for k, v in _WORDS[lang].items()}
    folder = Path(folder)
    groups: dict[str, list[dict]] = {}
    for r in towns.to_dict("records"):
        county = str(r.get("county") or "").strip() or w["unknown_county"]
        target = r.get("target") or ""
        entry = labels.get(target, {}) if isinstance(target, str) else {}
        label = entry.get(lang) or (target if isinstance(target, str) and target else w["none"])
        color = entry.get("color") or "#dddddd"
        conf = r.get("confidence")
        conf = "" if conf is None or (isinstance(conf, float) and math.isnan(conf)) else \
            numfmt.fmt_share(conf, lang)
        code = "" if r.get("town_code") is None else str(r["town_code"])
        town = str(r.get("town") or "")
        groups.setdefault(county, []).append({
            "town": town, "code": code, "label": label, "color": color, "ink": _ink(color),
            "confidence": conf, "link": f"{r['_sheet']}.html" if r["has_sheet"] else "",
            "anchor": r["_sheet"],
            "search": " ".join((town, code, county, label)).lower()})
    counties = sorted(groups.items(), key=lambda kv: kv[0])
    n_sheets = int(towns["has_sheet"].sum()) if len(towns) else 0
    html = _template().render(t=w, lang=lang, notice=notice, counties=counties,
                              n_towns=len(towns), n_sheets=n_sheets,
                              how=f"towntype sheets {run_dir} --county …")
    path = folder / "index.html"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
