"""The level registry (county · town · village, ``classify/presets/levels.toml``).

How a level's units are keyed, named, grouped and by default classified; a run's level
inferred from its table's codes, and the table re-keyed.  After the join every level uses
the town key columns (``town_code`` = the unit, ``county_code`` = its parent).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

from classify.errors import ConfigError
from classify.numfmt import is_missing
from geo.errors import InputError

# The registry is read by the CLI parser (`towntype --help`): no pandas at import (nor
# geo.codes, geo.tables, classify.scoring, which load it).
if TYPE_CHECKING:
    import pandas as pd

    from geo.codes import UnitKeys
    from geo.tables import ParsedTable

__all__ = ["Level", "Group", "level", "levels", "LEVEL_NAMES", "resolve_level",
           "infer_level", "rekey_table", "add_group_ranks", "group_ranks", "group_rank_text",
           "unit_resolver", "read_child_run", "child_links", "check_reference_run"]

_PRESET = "presets/levels.toml"
_ROLES = ("code", "name", "county", "county_code")
#: Fields of a [levels.<id>] table taken as they are (groups, words_<lang> are parsed)
_REQUIRED = ("zh", "short_zh", "en", "en_plural", "code_digits", "ancestors", "parent_zh",
             "parent_en", "indicators", "taxonomy")
_OPTIONAL = ("only_headers", "names", "headers", "demo", "reference", "children", "not_units")
#: What a console line names and Level.say keeps: quoted text, --flags, paths, file names,
#: {fields}
_NAMING = re.compile(r"('[^']*'|\"[^\"]*\"|“[^”]*”|‘[^’]*’|--[\w-]+|\S*[/\\]\S*"
                     r"|[\w.-]+\.[A-Za-z]{2,7}\b|\{[^{}]*\})")


@dataclass(frozen=True)
class Group:
    """A grouping of units ranked within (``rank_<id>``), e.g. the four regions."""

    id: str
    zh: str
    en: str
    source: str
    #: group name → codes (prefixes of the unit codes, e.g. 4-digit city codes)
    members: dict

    def of(self, code) -> str | None:
        """The group of a unit code (by its prefix), or None."""
        if not isinstance(code, str):
            return None
        return next((name for name, prefixes in self.members.items()
                     if code.startswith(prefixes)), None)


@dataclass(frozen=True)
class Level:
    """One level of units (see ``classify/presets/levels.toml`` for every field)."""

    id: str
    zh: str
    short_zh: str
    en: str
    en_plural: str
    code_digits: int
    ancestors: tuple[int, ...]
    parent_zh: str
    parent_en: str
    indicators: str
    taxonomy: str
    only_headers: bool = False
    #: name key of the join: "town" or "county" (geo.names.NAME_KEYS)
    names: str = "town"
    headers: dict = field(default_factory=dict)
    groups: tuple[Group, ...] = ()
    #: the level's demo (files under data/, title, notice), or None
    demo: dict | None = None
    #: lang → {town word: this level's word} for the sheets (empty for towns)
    words: dict = field(default_factory=dict)
    #: the level of the units inside this one whose finished run a run of this level can
    #: link to (``--towns``: counties → towns), or None
    children: str | None = None
    #: unit code → why a feature with that code is no unit of this level (东莞市, 中山市:
    #: cities with towns directly under them): set aside, said, not "needs checking"
    not_units: dict = field(default_factory=dict)
    #: bundled WGS84 boundaries of this level's units (``{"boundaries": path under data/,
    #: "code": its code field}``) that a user's boundaries are compared with to infer their
    #: datum (``--datum auto``), or None
    reference: dict | None = None

    def reword(self, value, lang: str = "zh"):
        """``value`` (str, or dict/list of them) in this level's wording: every word of
        ``words_<lang>`` replaced at once, longest first, never inside ``{placeholders}``.
        Identity for a level without words (towns)."""
        words = self.words.get(lang) or {}
        if not words:
            return value
        alts = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
        # English words only as whole words; Chinese has no word boundaries
        pattern = re.compile(r"(\{[^{}]*\})|"
                             + (rf"\b({alts})\b" if lang == "en" else f"({alts})"))

        def one(text: str) -> str:
            return pattern.sub(lambda m: m.group(1) or words[m.group(2)], text)

        def walk(v):
            if isinstance(v, str):
                return one(v)
            if isinstance(v, dict):
                return {k: walk(x) for k, x in v.items()}
            if isinstance(v, list):
                return [walk(x) for x in v]
            return v

        return walk(value)

    def say(self, text: str) -> str:
        """A console line (Chinese first, English in brackets) in this level's wording:
        :meth:`reword` in both languages, never inside what names something — quoted
        text (a column, a file's field), ``--flags``, file names and paths, ``{fields}``
        — so "1 gap(s) between towns" → "… between counties" and "个镇街" → "个县（市、区）",
        while "'县区代码'" and "towns.csv" stay.  Identity for towns."""
        if not self.words or not isinstance(text, str):
            return text
        parts = _NAMING.split(text)         # odd parts: what names something, kept
        return "".join(p if i % 2 else self.reword(self.reword(p, "zh"), "en")
                       for i, p in enumerate(parts))

    @property
    def keys(self) -> UnitKeys:
        """How the readers and the join find this level's keys."""
        from geo.codes import UnitKeys

        return UnitKeys(digits=self.code_digits, ancestors=tuple(self.ancestors),
                        headers={k: tuple(v) for k, v in self.headers.items()},
                        only_headers=self.only_headers, names=self.names)

    def indicator_config(self) -> Path | None:
        """The default indicator system file (None: the built-in town default)."""
        if self.indicators == "default":
            return None
        p = Path(self.indicators)
        if p.suffix == ".toml":
            return p
        res = resources.files("classify") / "presets" / f"indicators_{self.indicators}.toml"
        return Path(str(res))

    def to_dict(self) -> dict:
        """JSON-ready record (``run.json`` ``level``)."""
        return {"id": self.id, "zh": self.zh, "short_zh": self.short_zh, "en": self.en,
                "en_plural": self.en_plural, "code_digits": self.code_digits,
                "parent": {"zh": self.parent_zh, "en": self.parent_en},
                "indicators": self.indicators, "taxonomy": self.taxonomy,
                "groups": [dataclasses.asdict(g) for g in self.groups]}


def _parse(data: dict, where: str) -> dict[str, Level]:
    out = {}
    entries = data.get("levels")
    if not isinstance(entries, dict) or not entries:
        raise ConfigError("no [levels.<id>] tables", path=where)
    for lid, entry in entries.items():
        missing = sorted(k for k in _REQUIRED if k not in entry)
        if missing:
            raise ConfigError(f"level {lid!r} lacks {', '.join(missing)}",
                              key=f"levels.{lid}", path=where)
        headers = entry.get("headers", {})
        unknown = sorted(set(headers) - set(_ROLES))
        if unknown:
            raise ConfigError(f"unknown header role(s) {unknown}; use {', '.join(_ROLES)}",
                              key=f"levels.{lid}.headers", path=where)
        groups = tuple(
            Group(id=gid, zh=g["zh"], en=g["en"], source=g.get("source", ""),
                  members={k: tuple(v) for k, v in g.get("members", {}).items()})
            for gid, g in entry.get("groups", {}).items())
        words = {lang: dict(entry[f"words_{lang}"]) for lang in ("zh", "en")
                 if f"words_{lang}" in entry}
        fields = {k: entry[k] for k in (*_REQUIRED, *_OPTIONAL) if k in entry}
        out[lid] = Level(id=lid, **{**fields, "ancestors": tuple(entry["ancestors"])},
                         groups=groups, words=words)
    return out


@functools.lru_cache(maxsize=1)
def levels() -> dict[str, Level]:
    """The bundled level registry, read once."""
    text = resources.files("classify").joinpath(_PRESET).read_text(encoding="utf-8")
    return _parse(tomllib.loads(text), "classify/" + _PRESET)


#: The level ids of the registry (``--level`` choices besides ``auto``).
LEVEL_NAMES: tuple[str, ...] = tuple(levels())


def level(name: str) -> Level:
    """A level by id (``town``, ``county``, ``village``)."""
    known = levels()
    if name not in known:
        raise InputError(f"unknown level {name!r}; use one of {', '.join(known)} (--level)")
    return known[name]


def infer_level(table: ParsedTable) -> tuple[Level, str]:
    """The level of a table read with the town headers, from the length of its codes.

    6-digit codes → county, 9-digit (or 12 ending in 000) → town, other 12-digit →
    village.  A table with a county code column (``县区代码``) or a county name column
    (``县区``) and neither a town code nor a town name is a county table.  Otherwise: town
    (the default), said so.
    """
    from geo.codes import code_digits
    by_digits = {lv.code_digits: lv for lv in levels().values()}
    keys = table.keys or {}
    town_keys = keys.get("code") or keys.get("name")
    for role in ("code", "county_code"):
        col = keys.get(role)
        if col is None or col not in table.data.columns:
            continue
        if role == "county_code" and town_keys:
            continue        # a town table that also carries its county's code
        digits = code_digits(table.data[col].tolist())
        name = keys.get("name") if role == "code" else None
        if (digits in by_digits and by_digits[digits].children and name in table.data.columns
                and _shared_codes(table.data[col], table.data[name])):
            # a town table whose code column holds its counties' codes (one code, many
            # town names): towns, joined by name within the county
            town = levels()["town"]
            return town, (f"列 {col!r} 为 {digits} 位代码，但同一代码对应多个名称（列 {name!r}），"
                          f"应为上级代码（{digits}-digit codes shared by different names in "
                          f"{name!r}: parent codes, not unit codes）")
        if digits in by_digits:
            return by_digits[digits], f"列 {col!r} 为 {digits} 位代码（{digits}-digit codes）"
    if not town_keys:
        # no town key at all: a level whose own headers find a code column of its length
        from geo.tables import find_key_columns

        for lv in levels().values():
            if not lv.only_headers:
                continue
            col = find_key_columns(list(table.data.columns), headers=lv.headers)["code"]
            if col is not None and code_digits(table.data[col].tolist()) == lv.code_digits:
                return lv, f"列 {col!r} 为 {lv.code_digits} 位代码（{lv.code_digits}-digit codes）"
        if keys.get("county") and 6 in by_digits:
            return by_digits[6], (f"只有县级名称列 {keys['county']!r}、无镇街代码或名称列"
                                  "（county names only, no town column）")
    return levels()["town"], "未见县级或村级代码，按镇街处理（no county or village codes: town）"


def _shared_codes(codes, names) -> bool:
    """Whether some code of a table stands on rows of different (non-empty) names."""
    import pandas as pd

    pairs = pd.DataFrame({"c": codes.astype(str).str.strip(), "n": names.astype(str).str.strip()})
    pairs = pairs[(pairs["c"] != "") & (pairs["n"] != "") & codes.notna().to_numpy()
                  & names.notna().to_numpy()]
    return bool(len(pairs)) and bool((pairs.groupby("c")["n"].nunique() > 1).any())


def resolve_level(name: str, table: ParsedTable) -> tuple[Level, str]:
    """The run's level (``"auto"`` infers it from the table) and the console line."""
    if name == "auto":
        lv, why = infer_level(table)
        return lv, (f"单元级别（unit level）：{lv.zh}（{lv.en}），据表格推断（inferred: {why}）；"
                    "可用 --level 指定")
    lv = level(name)
    return lv, f"单元级别（unit level）：{lv.zh}（{lv.en}），--level {name}"


def rekey_table(table: ParsedTable, lv: Level) -> ParsedTable:
    """The table with its key roles found with the level's headers and its unit codes read
    at the level's length (a town table is returned unchanged).

    Raises
    ------
    geo.errors.InputError
        Codes that are not the level's (naming the rows), or no code and no name column.
    """
    from geo.codes import check_code_type, parse_codes
    from geo.tables import find_key_columns

    if not lv.only_headers:
        return table
    columns = list(table.data.columns)
    found = find_key_columns(columns, headers=lv.headers)
    if found["code"] is None and found["name"] is None:
        raise InputError(
            f"the table has no {lv.en} code or name column among {columns[:12]}; name one "
            f"{lv.headers['code'][0]} or {lv.headers['name'][0]} (or give --level)",
            path=table.path)
    data, status, kinds = table.data.copy(), table.status.copy(), dict(table.kinds)
    messages = list(table.messages)
    col = found["code"]
    if col is not None:
        codes = parse_codes(data[col].tolist(), path=table.path, column=col,
                            rows=table.source_rows, digits=lv.code_digits)
        data[col] = codes.tolist()
        status[col] = ["ok" if v else "unknown" for v in codes]
        kinds[col] = "code"
        if found["name"] is not None:
            for row, c, n in zip(table.source_rows, codes, data[found["name"]]):
                problem = check_code_type(c, n)
                if problem:
                    messages.append(f"row {row}: {problem}")
    pcol = found["county_code"]
    if pcol is not None:
        text = data[pcol].astype("string").str.strip()
        ok = (text.str.isdigit() & (text.str.len() >= lv.ancestors[0])).fillna(False)
        data[pcol] = text.str[:lv.ancestors[0]].astype(object).where(ok, None).tolist()
    keys = {**{r: found[r] for r in _ROLES}, "declared": (table.keys or {}).get("declared")}
    out = dataclasses.replace(table, data=data, status=status, kinds=kinds, keys=keys,
                              messages=messages)
    return _set_aside_totals(out, col, found["name"], lv)


#: names of total rows in a table of units (a county table's "全省合计")
_TOTAL_NAMES = re.compile(r"^(全省|全市|全县|全区|全镇|广东省|总计|合计|汇总|小计)$|(合计|总计|小计)$")


def _set_aside_totals(table: ParsedTable, code_col, name_col, lv: Level) -> ParsedTable:
    """Total and subtotal rows set aside (``table.excluded``): a row named 合计/全省…, or
    whose code is the parent of other rows' codes (440100 above 440103; 441900 alone stays)."""
    import pandas as pd

    blank = [None] * len(table.data)
    codes = table.data[code_col].tolist() if code_col is not None else blank
    names = table.data[name_col].tolist() if name_col is not None else blank
    present = [c for c in codes if isinstance(c, str) and len(c) == lv.code_digits]
    drop: dict[int, tuple[str, str]] = {}
    for i, (code, name) in enumerate(zip(codes, names)):
        if isinstance(name, str) and _TOTAL_NAMES.search(re.sub(r"\s+", "", name)):
            drop[i] = ("total", f"total row ({name})")
        elif isinstance(code, str) and len(code) == lv.code_digits and code.endswith("00"):
            stem = code.rstrip("0")
            under = sum(1 for c in present if c != code and c.startswith(stem))
            if under:
                kind = "total" if len(stem) <= lv.ancestors[-1] else "subtotal"
                drop[i] = (kind, f"{kind} row ({code} {name or ''}: {under} units under it)"
                           .replace(" :", ":"))
    if not drop:
        return table
    gone = sorted(drop)
    keep = [i for i in range(len(table.data)) if i not in drop]
    rows = [table.source_rows[i] for i in gone]
    ex = pd.DataFrame({"source_row": rows, "kind": [drop[i][0] for i in gone],
                       "reason": [drop[i][1] for i in gone],
                       "town_code": [codes[i] for i in gone], "town": [names[i] for i in gone],
                       "county": [None] * len(drop)})
    for c in table.data.columns:
        if c not in (code_col, name_col) and table.kinds.get(c) in ("number", "flag"):
            ex[c] = table.data[c].iloc[gone].tolist()
    excluded = pd.concat([table.excluded, ex], ignore_index=True) if len(table.excluded) else ex
    position = {old: new for new, old in enumerate(keep)}
    notes = {position[k]: v for k, v in (table.code_notes or {}).items() if k in position}
    raw = table.raw.iloc[keep].reset_index(drop=True) if len(table.raw) == len(table.data) \
        else table.raw
    kinds_said = ", ".join(f"{k} row {r}" for r, k in zip(rows, ex["kind"]))
    messages = list(table.messages) + [
        f"{len(drop)} 行为合计或小计，已剔除（total/subtotal rows set aside）：{kinds_said[:200]}"]
    return dataclasses.replace(
        table, data=table.data.iloc[keep].reset_index(drop=True),
        status=table.status.iloc[keep].reset_index(drop=True), raw=raw, excluded=excluded,
        source_rows=[table.source_rows[i] for i in keep], code_notes=notes, messages=messages)


def add_group_ranks(frame: pd.DataFrame, lv: Level) -> pd.DataFrame:
    """For each grouping of the level: the unit's group (``<gid>``) and its rank within
    it by composite (``rank_<gid>``, 1 = best; empty outside every group)."""
    import pandas as pd

    from classify.scoring import rank_desc

    if not lv.groups or "composite" not in frame.columns or "town_code" not in frame.columns:
        return frame
    out = frame.copy()
    for g in lv.groups:
        names = pd.Series([g.of(c) for c in out["town_code"]], index=out.index, dtype=object)
        out[g.id] = names
        out[f"rank_{g.id}"] = rank_desc(out["composite"], names).astype("Int64")
    return out


def group_ranks(frame: pd.DataFrame, lv: Level) -> list[list[dict]]:
    """Per row of ``frame`` (after :func:`add_group_ranks`): the unit's rank in each
    grouping of the level, ``{"zh", "en", "group", "rank", "n"}`` — the label ("区域排名",
    "rank in region"), the group's name, the rank and the number of ranked units in the
    group (JSON-ready: the sheets keep it in their evidence).  Empty lists for a level
    without groupings (towns) and for a unit outside every group or without a rank."""
    import pandas as pd

    out: list[list[dict]] = [[] for _ in range(len(frame))]
    for g in lv.groups:
        rcol = f"rank_{g.id}"
        if g.id not in frame.columns or rcol not in frame.columns:
            continue
        names = frame[g.id].astype(object)
        ranks = pd.to_numeric(frame[rcol], errors="coerce")
        sizes = ranks.groupby(names).count()
        for i, (name, rank) in enumerate(zip(names, ranks)):
            if isinstance(name, str) and not pd.isna(rank):
                out[i].append({"zh": f"{g.zh}排名", "en": f"rank in {g.en}", "group": name,
                               "rank": int(rank), "n": int(sizes.get(name, 0))})
    return out


def group_rank_text(rec: dict, lang: str = "zh") -> str:
    """One record of :func:`group_ranks` as text: "粤北 第3/12" / "粤北 3/12"."""
    return (f"{rec['group']} 第{rec['rank']}/{rec['n']}" if lang == "zh"
            else f"{rec['group']} {rec['rank']}/{rec['n']}")


def read_child_run(run_dir, lv: Level) -> pd.DataFrame:
    """The units of a finished run one level below ``lv`` (``--towns``: a town run for a
    county run): its ``towns.csv`` as text.

    Raises
    ------
    geo.errors.InputError
        ``lv`` has no level below it that runs link to, the folder is not a finished run
        (no ``towns.csv``), or the run is of another level (``run.json`` ``level``).
    """
    from classify.report import read_run_csv, run_level

    run_dir = Path(run_dir)
    if not lv.children:
        raise InputError(f"--towns links a county run to a finished town run; this run is at "
                         f"the {lv.en} level: leave --towns out")
    child = level(lv.children)
    towns_csv = run_dir / "towns.csv"
    if not towns_csv.is_file():
        raise InputError(f"不是{child.zh}分类运行的输出目录（not a finished {child.en} run: no "
                         f"towns.csv）; give --towns the --out folder of a {child.en} run "
                         f"(towntype run or towntype demo)", path=run_dir)
    found = run_level(run_dir)
    if found != child.id:
        raise InputError(f"--towns 须为{child.zh}分类运行（a {child.en} run），这是"
                         f"{level(found).zh}运行（this is a {found} run）; give the --out folder "
                         f"of a {child.en} run", path=run_dir)
    towns = read_run_csv(towns_csv, dtype=str, keep_default_na=False)
    missing = [c for c in ("town_code", "town", "county_code") if c not in towns.columns]
    if missing:
        raise InputError(f"towns.csv lacks column(s) {', '.join(missing)}: not a towntype "
                         f"run; give --towns the --out folder of a {child.en} run",
                         path=towns_csv)
    dup = towns["town_code"][towns["town_code"].duplicated()]
    if len(dup):
        raise InputError(f"town_code {dup.iloc[0]} 重复（appears twice）：restore towns.csv from "
                         f"that run", path=towns_csv, column="town_code")
    return towns


def check_reference_run(reference, lv: Level) -> None:
    """``--reference`` given a run folder: it must be a run of level ``lv`` (``run.json``
    ``level``): another level's model would score this table only where indicator names
    happen to agree.  A ``model.json`` alone (or a folder without ``run.json``) records no
    level."""
    from classify.report import run_level

    if reference is None or not (Path(reference) / "run.json").is_file():
        return
    found = run_level(reference)
    if found != lv.id:
        raise InputError(f"--reference 须为{lv.zh}分类运行（a {lv.en} run），这是{level(found).zh}"
                         f"运行（this is a {found} run）; give --reference the --out folder of "
                         f"an earlier {lv.en} run", path=reference)


def child_links(run_dir, codes, sheets_folder, lv: Level) -> list[dict]:
    """For each unit code of ``codes``: its units in the finished run ``run_dir`` one level
    below (:func:`read_child_run`), with links relative to ``sheets_folder`` (where the
    sheets of this run are written) to their sheets, else to that run's index.

    Returns one JSON-ready dict per code: ``run`` (the run folder as given), ``index``
    (link to its ``suggestions/index.html``), ``units``: ``[{"code", "name", "zh", "en",
    "confidence", "href"}]`` in code order (empty: none of that unit in the run).
    """
    towns = read_child_run(run_dir, lv)
    run_dir = Path(run_dir)
    folder = run_dir / "suggestions"
    sheets = {}
    for p in sorted(folder.glob("*.html")) if folder.is_dir() else ():
        sheets.setdefault(p.stem.split("_", 1)[0], p)
    here = Path(sheets_folder).resolve() if sheets_folder is not None else None

    def href(path: Path) -> str:
        if here is None:
            return path.resolve().as_uri()
        return Path(os.path.relpath(path.resolve(), here)).as_posix()

    index = href(folder / "index.html") if (folder / "index.html").is_file() else ""
    by_parent: dict[str, list[dict]] = {}
    for r in towns.sort_values("town_code").to_dict("records"):
        zh = r.get("category_zh", "")
        en = r.get("category_en", "") or zh
        sub_zh, sub_en = r.get("subtype_zh", ""), r.get("subtype_en", "")
        conf = r.get("stability")
        sheet = sheets.get(r["town_code"])
        by_parent.setdefault(str(r["county_code"])[:lv.code_digits], []).append({
            "code": r["town_code"], "name": r["town"],
            "zh": f"{zh}·{sub_zh}" if zh and sub_zh else zh,
            "en": f"{en} · {sub_en}" if en and sub_en else en,
            "confidence": None if is_missing(conf) else float(conf),
            "href": href(sheet) if sheet is not None else index})
    return [{"run": str(run_dir), "index": index, "units": by_parent.get(str(c), [])}
            for c in codes]


def unit_resolver(lv: Level | None, names):
    """The resolution functions (``code``, ``parts``, ``published``) of a level over a
    :class:`geo.published.PublishedNames`: towns by township code, county + name or the
    combined string as published; counties by county code or name (within the city when
    given).  By the level's code length: the registry says which units a level has."""
    digits = lv.code_digits if lv is not None else 9
    if digits == 6:
        return SimpleNamespace(
            code=names.resolve_county,
            parts=lambda *, town, county=None, city=None, province=None:
                names.resolve_county(town, city=county or city, province=province),
            published=lambda text, *, province=None: names.resolve_county(text, province=province))
    if digits == 9:
        return SimpleNamespace(code=names.resolve_code, parts=names.resolve_parts,
                               published=names.resolve)
    raise InputError(f"designation lists are not supported at the {lv.en} level yet "
                     f"(no national list of {lv.en_plural}); leave out --designations")
