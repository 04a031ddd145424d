"""``suggestions/index.html``: every town of the run by county with its category badge,
confidence and a link to its sheet (or how to make it), searchable, offline, autoescaped.
``sheets.js`` lists the sheets there are (a script the index loads, which works over
``file://``): ``towntype sheets`` rewrites only that, not the index of 40,000 towns.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import jinja2
import pandas as pd
from markupsafe import Markup, escape

from classify import numfmt
from classify.levels import level as unit_level
from classify.sheets import ink, labels as wording

__all__ = ["write_index", "write_sheet_list", "index_is_current", "SHEET_LIST"]

#: The script listing the sheets there are (loaded by index.html).
SHEET_LIST = "sheets.js"
#: What an index that reads :data:`SHEET_LIST` contains (older ones were rewritten whole).
_HOOK = f'<script src="{SHEET_LIST}"></script>'.encode()


@functools.cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(loader=jinja2.PackageLoader("classify", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    return env.get_template("index.html.j2")


def _text(v) -> str:
    """Text of a cell; missing (None, NaN) as empty."""
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


def write_index(towns: pd.DataFrame, labels: dict, folder: str | Path, *, run_dir: Path,
                lang: str = "zh", notice: str | None = None, level: str = "town") -> Path:
    """Write ``folder/index.html`` from ``towns`` (``town_code, town, county, target,
    confidence, _sheet, has_sheet``: every town of the run) and the category ``labels``
    (``{id: {"zh", "en", "color"}}``), worded for the unit ``level`` (镇街 → 县（市、区）);
    the towns with ``has_sheet`` are linked, the others when :func:`write_sheet_list`
    lists their sheet."""
    t = wording(lang)
    w = {k: unit_level(level).say(v) for k, v in
         dict(t["index"], unknown_county=t["unknown"]["county"]).items()}
    folder = Path(folder)
    groups: dict[str, list[dict]] = {}

    @functools.cache
    def badge(target: str) -> tuple[str, Markup]:       # one per category, not per town
        entry = labels.get(target, {}) if target else {}
        label = entry.get(lang) or target or w["none"]
        color = entry.get("color") or "#dddddd"
        html = Markup('<span class="badge" style="background:{};color:{}">{}</span>')
        return label, html.format(color, ink(color, "#000000"), label)

    cols = [towns[c].tolist() for c in ("county", "target", "confidence", "town_code", "town",
                                        "_sheet", "has_sheet")]
    for county, target, conf, code, town, sheet, has in zip(*cols):
        county = _text(county).strip() or w["unknown_county"]
        label, html = badge(_text(target))
        code, town = _text(code), _text(town)
        groups.setdefault(county, []).append({
            "town": town, "code": code, "badge": html,
            "confidence": "" if numfmt.is_missing(conf) else numfmt.fmt_share(conf, lang),
            "link": f"{sheet}.html" if has else "", "anchor": sheet,
            "search": " ".join((town, code, county, label)).lower()})
    counties = sorted(groups.items())       # county names are unique: never the lists
    n_sheets = int(towns["has_sheet"].sum()) if len(towns) else 0
    count = escape(w["count"]).format(
        n=len(towns), s=Markup('<span id="n-sheets">{}</span>').format(n_sheets))
    html = _template().render(t=w, lang=lang, notice=notice, counties=counties,
                              count=count, n_towns=len(towns), n_sheets=n_sheets,
                              sheet_list=SHEET_LIST, how=f"towntype sheets {run_dir} --county …")
    path = folder / "index.html"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path


def write_sheet_list(folder: str | Path, names=None) -> Path:
    """Write ``folder/sheets.js``: the names of the sheets there are (``names``; by default
    every ``*.html`` in ``folder`` but the index), for ``index.html`` to link them."""
    folder = Path(folder)
    if names is None:
        names = (p.stem for p in folder.glob("*.html") if p.name != "index.html")
    listed = json.dumps(sorted(str(n) for n in names), ensure_ascii=False)
    path = folder / SHEET_LIST
    path.write_text(f"// the sheets in this folder, linked by index.html (towntype)\n"
                    f"window.towntypeSheets = {listed};\n", encoding="utf-8")
    return path


def index_is_current(folder: str | Path) -> bool:
    """Whether ``folder/index.html`` exists and links the sheets listed in ``sheets.js``
    (then adding sheets only needs :func:`write_sheet_list`)."""
    path = Path(folder) / "index.html"
    try:
        return _HOOK in path.read_bytes()
    except OSError:
        return False
