"""What a run says on the console: warnings as one line each, in the run's language.

Each warning once, as one record (``run.json``) and one line such as ``输入提示（input
warning）：…`` instead of Python's ``path:123: UserWarning: text``; only the command line
prints them.
"""

from __future__ import annotations

import re
import sys
import warnings
from pathlib import Path
from typing import Iterable

from geo.errors import DatumWarning, InputWarning

__all__ = ["warning_records", "warning_line", "for_manifest", "reissue", "Console"]

#: Console label of a warning category: (Chinese, English); the first match in order.
_LABELS: tuple[tuple[type[Warning], str, str], ...] = (
    (DatumWarning, "坐标提示", "datum warning"),
    (InputWarning, "输入提示", "input warning"),
    (RuntimeWarning, "计算提示", "computation warning"),
    (DeprecationWarning, "程序库提示", "library warning"),
    (FutureWarning, "程序库提示", "library warning"),
    (Warning, "提示", "warning"),
)
_ROOTS = tuple(str(Path(p)) for p in (Path(__file__).resolve().parent.parent, sys.prefix))
#: A path inside an installed package (site-packages) or this project's code: shown as
#: its file name only.
_PACKAGE_PATH = re.compile(r"(?:[A-Za-z]:)?[/\\][^\s:'\"]*?(?:site-packages|dist-packages)"
                           r"[/\\]([^\s:'\"]+)")


def _label(category: type[Warning]) -> tuple[str, str]:
    return next((zh, en) for cls, zh, en in _LABELS if issubclass(category, cls))


def _one_line(text: str) -> str:
    """The text on one line, without the paths of installed packages or of our code."""
    text = _PACKAGE_PATH.sub(lambda m: Path(m.group(1)).name, text)
    for root in _ROOTS:
        text = text.replace(root + "/", "").replace(root + "\\", "")
    return " ".join(text.split())


def _source(filename: str) -> str:
    """Where a warning came from, as a module path (``geo/read.py``, ``pyogrio/raw.py``)."""
    name = filename.replace("\\", "/")
    for mark in ("/site-packages/", "/dist-packages/"):
        if mark in name:
            return name.split(mark, 1)[1]
    root = _ROOTS[0].replace("\\", "/") + "/"
    return name[len(root):] if name.startswith(root) else Path(name).name


def warning_records(caught: Iterable[warnings.WarningMessage]) -> list[dict]:
    """Caught warnings as records for ``run.json``, each (category, text) once, in the
    order first seen: ``{"category", "message", "source", "count"}``."""
    records: dict[tuple[str, str], dict] = {}
    for w in caught:
        message = _one_line(str(w.message))
        key = (w.category.__name__, message)
        if key in records:
            records[key]["count"] += 1
        else:
            records[key] = {"category": w.category.__name__, "message": message,
                            "source": _source(str(w.filename)), "count": 1,
                            "_class": w.category}
    return list(records.values())


def warning_line(record: dict, lang: str = "zh") -> str:
    """One console line: ``输入提示（input warning）：text（×3）``."""
    known = {cls.__name__: cls for cls, _, _ in _LABELS}
    zh, en = _label(record.get("_class") or known.get(record["category"], Warning))
    times = record.get("count", 1)
    if lang == "en":
        return f"{en}: {record['message']}" + (f" (×{times})" if times > 1 else "")
    return f"{zh}（{en}）：{record['message']}" + (f"（×{times}）" if times > 1 else "")


def for_manifest(records: list[dict]) -> list[dict]:
    """The records as ``run.json`` keeps them (no Python objects)."""
    return [{k: v for k, v in r.items() if not k.startswith("_")} for r in records]


def reissue(caught: Iterable[warnings.WarningMessage]) -> None:
    """Issue caught warnings again, each (category, text) once, to whoever called (its
    filters decide what is shown)."""
    seen = set()
    for w in caught:
        key = (w.category, str(w.message))
        if key not in seen:
            seen.add(key)
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno or 0,
                                   source=w.source)


class Console:
    """Everything the command prints, gathered and printed once at the end, in the order
    a user needs it: the warnings (what needs action) first, then the summary, then the
    details of reading, then the error if there was one; at most about twenty lines
    (the rest are in ``run.json``)."""

    MAX_WARNINGS = 8
    MAX_DETAILS = 5

    def __init__(self, lang: str = "zh"):
        self.lang = lang
        self.details: list[str] = []
        self.summary: list[str] = []
        self.error: str | None = None

    def log(self, message: str) -> None:
        """A detail of the run (what was read, how): printed after the summary."""
        self.details.extend(line for line in str(message).splitlines() if line.strip())

    def print(self, caught: Iterable[warnings.WarningMessage] = (), *, out=None,
              err=None) -> None:
        out = out or sys.stdout
        err = err or sys.stderr
        zh = self.lang != "en"
        lines = _capped([warning_line(r, self.lang) for r in warning_records(caught)],
                        self.MAX_WARNINGS,
                        "另有 {n} 条提示（more warnings），见 run.json 的 warnings" if zh
                        else "{n} more warnings: see \"warnings\" in run.json")
        for line in lines:
            print(line, file=err)
        err.flush()
        for line in self.summary:
            print(line, file=out)
        out.flush()
        shown = set(self.summary)      # a line the summary carries is not said twice
        details = _capped([d for d in self.details if d not in shown], self.MAX_DETAILS,
                          "另有 {n} 条说明（more details），见 run.json 的 log" if zh
                          else "{n} more details: see \"log\" in run.json")
        for line in details:
            print(line, file=err)
        if self.error:
            print(self.error, file=err)
        err.flush()


def _capped(lines: list[str], most: int, more: str) -> list[str]:
    """The first ``most`` lines, then ``more`` (with ``{n}``: how many were left out)."""
    if len(lines) <= most:
        return lines
    return lines[:most] + [more.format(n=len(lines) - most)]
