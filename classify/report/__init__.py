"""Writers that turn a run's results into files for people: the per-town sheets and their
index, the workbooks, the Word report — apart from the analytics (STYLE.md, "Layout for
the output side").  The per-town evidence is stored once (:mod:`.evidence`), so sheets
can be made later from a finished run (``towntype sheets``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from classify.report.evidence import evidence_towns, load_evidence, save_evidence
from classify.report.index import write_index
from classify.report.scope import AUTO_SHEETS_MAX, parse_scope, read_codes, scope_note, select
from classify.report.workbook import write_workbook
from classify.sheets import (labels, set_sheet_names, summary_frames, write_docx,
                             write_sheets)

__all__ = ["write_report", "write_suggestions", "sheets_from_run", "write_suggestions_workbook", "AUTO_SHEETS_MAX",
           "parse_scope", "select", "read_codes", "scope_note", "save_evidence",
           "load_evidence", "evidence_towns", "write_index", "write_workbook"]


def write_suggestions_workbook(suggestions, path: Path, *, lang: str = "zh",
                               notice: str | None = None) -> list[Path]:
    """``suggestions.xlsx`` (see :func:`classify.sheets.summary_frames`)."""
    t = labels(lang)
    x = t["xlsx"]
    return write_workbook(path, summary_frames(suggestions, lang),
                          formats={x["confidence"]: "0%", x["composite"]: "0.0",
                                   x["rank"]: "0", x["diff_pct"]: "0.0"},
                          notice=notice, notice_title=x["notice_sheet"],
                          long_note=t["towns"]["long_note"])


def write_report(suggestions: Sequence, out: str | Path, *, scope: np.ndarray,
                 names: Sequence[str], lang: str = "zh", docx: bool = False,
                 xlsx: bool = True, title: str | None = None, notice: str | None = None,
                 run_dir: Path | None = None) -> list[Path]:
    """Everything under ``out/suggestions/`` for a run: the sheets of the towns at
    positions ``scope``, ``index.html`` (every town), ``suggestions.xlsx`` (every town;
    when ``xlsx``), ``suggestions.docx`` (the towns in scope; when ``docx``)."""
    folder = Path(out) / "suggestions"
    picked = [suggestions[i] for i in scope]
    files = write_sheets(picked, folder, [names[i] for i in scope], lang=lang, notice=notice)
    has = np.zeros(len(suggestions), dtype=bool)
    has[scope] = True
    towns = pd.DataFrame({"town_code": [s.town_code for s in suggestions],
                          "town": [s.town for s in suggestions],
                          "county": [s.county for s in suggestions],
                          "target": [s.target for s in suggestions],
                          "confidence": [s.confidence for s in suggestions],
                          "_sheet": list(names), "has_sheet": has})
    labels = suggestions[0].labels if suggestions else {}
    files.append(write_index(towns, labels, folder, run_dir=run_dir or Path(out), lang=lang,
                             notice=notice, level=_level(suggestions)))
    if xlsx:
        files += write_suggestions_workbook(suggestions, folder / "suggestions.xlsx",
                                            lang=lang, notice=notice)
    if docx and len(picked):
        files.append(write_docx(picked, folder / "suggestions.docx", lang=lang, title=title,
                                notice=notice))
    return files


def sheets_from_run(run_dir: str | Path, *, counties: Sequence[str] = (),
                    codes: Sequence[str] = (), docx: bool = False, lang: str | None = None,
                    log=lambda msg: None) -> list[Path]:
    """``towntype sheets``: the sheets of the chosen towns of a finished run, from its
    stored evidence (no re-run), written into ``run_dir/suggestions/``; the index is
    rewritten so that it links to them.  Without ``counties`` and ``codes``: every town."""
    run_dir = Path(run_dir)
    towns = evidence_towns(run_dir)
    folder = run_dir / "suggestions"
    kind = "pick" if (counties or codes) else "all"
    scope = select(towns, kind=kind, counties=counties, codes=codes, log=log)
    suggestions, names = load_evidence(run_dir, towns["_town"].to_numpy()[scope].tolist())
    lang = lang or (suggestions[0].lang if suggestions else "zh")
    notice = _run_notice(run_dir)
    files = write_sheets(suggestions, folder, names, lang=lang, notice=notice)
    made = {p.stem for p in folder.glob("*.html")}
    towns["has_sheet"] = towns["_sheet"].isin(made)
    meta = __import__("json").loads((run_dir / "evidence" / "meta.json").read_text("utf-8"))
    files.append(write_index(towns, meta["labels"], folder, run_dir=run_dir, lang=lang,
                             notice=notice, level=_level(suggestions)))
    if docx and suggestions:
        files.append(write_docx(suggestions, folder / "suggestions.docx", lang=lang,
                                notice=notice))
    return files


def _level(suggestions) -> str:
    """The unit level of a run's suggestions (the index's wording follows it)."""
    return (suggestions[0].extra.get("level") if suggestions else None) or "town"


def _run_notice(run_dir: Path) -> str | None:
    path = run_dir / "run.json"
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("notice")
    except (OSError, ValueError):
        return None


def write_suggestions(suggestions: Sequence, out_dir: str | Path, *, lang: str = "zh",
                      docx: bool = False, title: str | None = None,
                      notice: str | None = None) -> list[Path]:
    """Every town's sheet (``<code>_<town>.md`` and ``.html``), ``index.html``,
    ``suggestions.xlsx`` and, with ``docx=True``, ``suggestions.docx`` under
    ``out_dir/suggestions/`` (``out_dir`` itself when it is named ``suggestions``): the
    notebook's way to :func:`write_report` with every town in scope."""
    labels(lang)  # validates lang
    out = Path(out_dir)
    base = out.parent if out.name == "suggestions" else out
    return write_report(list(suggestions), base, scope=np.arange(len(suggestions)),
                        names=set_sheet_names(suggestions), lang=lang, docx=docx, title=title,
                        notice=notice)
