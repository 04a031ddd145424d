"""Writers that turn a run's results into files for people: the per-town sheets and their
index, the workbooks, the Word report — apart from the analytics (STYLE.md, "Layout for
the output side").  The per-town evidence is stored once (:mod:`.evidence`), so sheets
can be made later from a finished run (``towntype sheets``)."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import pandas as pd

from classify.levels import LEVEL_NAMES, level as unit_level
from classify.report.evidence import evidence_towns, load_evidence, save_evidence
from classify.report.index import index_is_current, write_index, write_sheet_list
from classify.report.scope import AUTO_SHEETS_MAX, parse_scope, read_codes, scope_note, select
from classify.report.workbook import write_workbook
from classify.report.workers import SliceJob
from classify.sheets import (labels, set_sheet_names, summary_frames, write_docx,
                             write_sheets)
from geo.errors import InputError

__all__ = ["write_report", "writing_report", "write_suggestions", "sheets_from_run",
           "write_suggestions_workbook", "AUTO_SHEETS_MAX", "parse_scope", "select",
           "read_codes", "scope_note", "save_evidence", "load_evidence", "evidence_towns",
           "write_index", "write_sheet_list", "write_workbook", "run_level", "read_run_csv"]


def write_suggestions_workbook(suggestions, path: Path, *, lang: str = "zh",
                               notice: str | None = None) -> list[Path]:
    """``suggestions.xlsx`` (see :func:`classify.sheets.summary_frames`); its benchmark-gap
    and rule-gap tables (the last two, several rows a town) go to CSV beside it above
    :data:`~classify.report.workbook.DETAIL_ROWS` rows, with a note in their sheets."""
    t = labels(lang)
    x = t["xlsx"]
    frames = summary_frames(suggestions, lang)
    return write_workbook(path, frames,
                          formats={x["confidence"]: "0%", x["composite"]: "0.0",
                                   x["rank"]: "0", x["diff_pct"]: "0.0"},
                          notice=notice, notice_title=x["notice_sheet"],
                          long_note=t["towns"]["long_note"], detail=list(frames)[-2:])


def write_report(suggestions: Sequence, out: str | Path, *, scope: np.ndarray,
                 names: Sequence[str], lang: str = "zh", docx: bool = False,
                 xlsx: bool = True, title: str | None = None, notice: str | None = None,
                 run_dir: Path | None = None, workers: int | None = None) -> list[Path]:
    """Everything under ``out/suggestions/`` for a run: the sheets of the towns at
    positions ``scope``, ``index.html`` (every town), ``suggestions.xlsx`` (every town;
    when ``xlsx``), ``suggestions.docx`` (the towns in scope; when ``docx``).  Returns the
    paths written (:func:`writing_report` with nothing else to do meanwhile)."""
    with writing_report(suggestions, out, scope=scope, names=names, lang=lang, docx=docx,
                        xlsx=xlsx, title=title, notice=notice, run_dir=run_dir,
                        workers=workers) as (files, _):
        pass
    return files


@contextmanager
def writing_report(suggestions: Sequence, out: str | Path, *, scope: np.ndarray,
                   names: Sequence[str], lang: str = "zh", docx: bool = False,
                   xlsx: bool = True, title: str | None = None, notice: str | None = None,
                   run_dir: Path | None = None, workers: int | None = None,
                   aside: Callable[[], object] | None = None
                   ) -> Iterator[tuple[list[Path], Callable[[], object]]]:
    """:func:`write_report` around the caller's block, in which the caller writes its
    other files (the run's tables and maps) while the sheets are rendered: the index is
    written on entering it; the workbook (begun first) and the sheets by ``workers``
    processes, this one included (default: one per core for a province's sheets, see
    :class:`~classify.report.workers.SliceJob`): it takes the slices no worker has begun
    once the block has ended, and joins the workers (a worker's error is raised there);
    then the Word file.  The list yielded holds the paths written when the block has
    ended; the files are the same either way.

    Above :data:`AUTO_SHEETS_MAX` towns in scope (sheets on request) the sheets are
    written by this process by default: each worker copies the memory of the towns it
    touches.

    ``aside``: the caller's one long task (a national run's maps) for a worker to begin
    first (:class:`~classify.report.workers.SliceJob`).  Yields the list of paths and a
    function giving what ``aside()`` returned (after the block; [] without an aside)."""
    folder = Path(out) / "suggestions"
    folder.mkdir(parents=True, exist_ok=True)
    picked = [suggestions[i] for i in scope]
    picked_names = [names[i] for i in scope]
    have = set(picked_names) | {p.stem for p in folder.glob("*.html")}

    def sheets(start: int, stop: int) -> list[Path]:
        return write_sheets(picked[start:stop], folder, picked_names[start:stop], lang=lang,
                            notice=notice, have=have)

    def workbook() -> list[Path]:       # a task like a slice, for a worker to begin with
        return write_suggestions_workbook(suggestions, folder / "suggestions.xlsx",
                                          lang=lang, notice=notice) if xlsx else []

    if workers is None and len(picked) > AUTO_SHEETS_MAX:
        workers = 1
    with SliceJob(sheets, len(picked), workers=workers, first=workbook, aside=aside) as job:
        has = np.zeros(len(suggestions), dtype=bool)
        has[scope] = True
        towns = pd.DataFrame({c: [getattr(s, c) for s in suggestions] for c in (
            "town_code", "town", "county", "target", "confidence")})
        towns["_sheet"], towns["has_sheet"] = list(names), has
        files = [_write_index(towns, suggestions, folder, run_dir=run_dir or Path(out),
                              lang=lang, notice=notice),
                 write_sheet_list(folder, picked_names)]
        yield files, lambda: job.aside_result
        files[:0] = job.results()
        files += job.first_result
    if docx and len(picked):
        files.append(write_docx(picked, folder / "suggestions.docx", lang=lang, title=title,
                                notice=notice))


def sheets_from_run(run_dir: str | Path, *, counties: Sequence[str] = (),
                    codes: Sequence[str] = (), docx: bool = False, lang: str | None = None,
                    log=lambda msg: None) -> list[Path]:
    """``towntype sheets``: the sheets of the chosen towns of a finished run, from its
    stored evidence (no re-run), written into ``run_dir/suggestions/``; ``sheets.js`` is
    rewritten so that the index links to them (the index itself only when it has none).
    Without ``counties`` and ``codes``: every town."""
    run_dir = Path(run_dir)
    towns = evidence_towns(run_dir)
    folder = run_dir / "suggestions"
    kind = "pick" if (counties or codes) else "all"
    lv = unit_level(run_level(run_dir))     # a county run: "no counties in this city"
    try:
        scope = select(towns, kind=kind, counties=counties, codes=codes,
                       log=lambda msg: log(lv.say(msg)))
    except InputError as err:
        raise InputError(lv.say(str(err))) from None
    if kind == "pick" and not len(scope):       # only codes, none of them in the run
        shown = "、".join(str(c) for c in list(codes)[:10]) + (" …" if len(codes) > 10 else "")
        raise InputError(lv.say(f"--codes：{len(codes)} 个代码都不是此运行的镇街（none of the "
                                f"codes is a town of this run）：{shown}；check the codes "
                                f"against {run_dir / 'towns.csv'} (town_code)"))
    suggestions, names = load_evidence(run_dir, towns["_town"].to_numpy()[scope].tolist())
    lang = lang or (suggestions[0].lang if suggestions else "zh")
    notice = _manifest(run_dir).get("notice")
    files = write_sheets(suggestions, folder, names, lang=lang, notice=notice)
    if not index_is_current(folder):    # none, or from before sheets.js: the whole index
        made = {p.stem for p in folder.glob("*.html")}
        towns["has_sheet"] = towns["_sheet"].isin(made)
        files.append(_write_index(towns, suggestions, folder, run_dir=run_dir, lang=lang,
                                  notice=notice))
    files.append(write_sheet_list(folder))
    if docx and suggestions:
        files.append(write_docx(suggestions, folder / "suggestions.docx", lang=lang,
                                notice=notice))
    return files


def run_level(run_dir: str | Path) -> str:
    """The unit level of a finished run (``run.json`` ``level``; ``town`` when it does not
    say): the words of ``towntype sheets`` follow it."""
    found = _manifest(run_dir).get("level")
    found = (found.get("id") if isinstance(found, dict) else None) or "town"
    if not isinstance(found, str) or found not in LEVEL_NAMES:    # an edited run.json
        raise InputError(f"run.json 的单元级别无法识别（unknown unit level {found!r} at key "
                         f"level.id）：use one of {', '.join(LEVEL_NAMES)}, or run towntype again",
                         path=Path(run_dir) / "run.json")
    return found


def read_run_csv(path: str | Path, **kwargs) -> pd.DataFrame:
    """A table of a finished run (``towns.csv``; ``kwargs`` as :func:`pandas.read_csv`'s):
    one emptied, cut short or saved in another encoding is the user's to restore."""
    try:
        return pd.read_csv(path, encoding="utf-8-sig", **kwargs)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise InputError(f"运行结果表无法读取（run table cannot be read: {type(err).__name__}: "
                         f"{str(err)[:120]}）：restore it from the run (UTF-8), or run towntype "
                         f"again to write it", path=path) from None


def _manifest(run_dir: str | Path) -> dict:
    """A finished run's ``run.json`` (empty when it cannot be read)."""
    try:
        found = json.loads((Path(run_dir) / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _write_index(towns: pd.DataFrame, suggestions: Sequence, folder: Path, **kw) -> Path:
    """:func:`write_index` in the categories' colours and the unit level of the run."""
    first = suggestions[0] if suggestions else None
    return write_index(towns, first.labels if first else {}, folder,
                       level=(first.extra.get("level") if first else None) or "town", **kw)


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
