"""Official designations (称号) a town holds, joined to the run's towns and checked
against the evidence.

The registry (``classify/presets/designations.toml``, extended by any ``.toml`` given to
``--designations``) says which taxonomy target each designation implies; designation lists
(CSV / .xlsx / .xls, one row per town and designation) are resolved to township codes and
give ``designations_report.csv`` (every row), ``designations.csv`` (per designation:
recall and disagreements), the towns' designation columns and one console line each.
"""

from __future__ import annotations

import functools
import math
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from classify.bundled import data_dir
from classify.errors import ConfigError
from classify.levels import rekey_table, unit_resolver
from classify.outputs import write_csv
from geo.errors import InputError
from geo.published import PublishedNames, Resolution, load_county_aliases
from geo.tables import read_table

__all__ = ["Designation", "Registry", "load_registry", "read_designations",
           "assess_designations", "apply_designations", "DesignationResult", "LEVELS",
           "REPORT_STATUSES", "REPORT_COLUMNS", "TABLE_COLUMNS"]

LEVELS = ("national", "provincial", "city")
REPORT_STATUSES = ("matched", "not_township", "not_in_region", "ambiguous", "unmatched")
STATUS_ZH = {"matched": "匹配", "not_township": "非乡镇单位", "not_in_region": "不在本区域",
             "ambiguous": "有歧义", "unmatched": "未匹配"}
REPORT_COLUMNS = ["source", "source_row", "entry", "designation", "designation_id", "year",
                  "industry", "status", "status_zh", "how", "town_code", "town", "county",
                  "city", "candidates", "reason", "implies", "evidence", "evidence_zh",
                  "evidence_en", "note"]
TABLE_COLUMNS = ["designation_id", "designation", "designation_en", "level", "implies",
                 "implies_label", "entries", "designated_towns", "in_category",
                 "secondary", "recall", "disagreements", "matched_towns", "not_township",
                 "not_in_region", "ambiguous", "unmatched", "note"]

ENTRY_COLUMNS = ["source", "source_row", "entry", "designation", "designation_id",
                 "designation_zh", "designation_en", "level", "known", "implies", "year",
                 "industry", "res_status", "town_code", "town", "county", "city", "how",
                 "candidates", "reason"]
#: The entry of a row the table reader set aside (a total row …)
_SET_ASIDE = {**dict.fromkeys(ENTRY_COLUMNS, ""), "designation_id": "(set aside)",
              "known": False, "year": None, "res_status": "unresolved"}
# Header texts (NFKC, spaces removed, lower case) of a designation file's columns.
HEADERS = {
    "designation": ("designation", "称号", "称号名称", "荣誉称号", "认定称号", "称号类型",
                    "名单名称", "designation_id"),
    "year": ("year", "batch_year", "年份", "年度", "批次年份", "认定年份", "批次", "公布年份"),
    "industry": ("industry", "theme", "产业", "主导产业", "特色产业", "主题", "主导产业/主题",
                 "主导产业或主题"),
    "published": ("entry_as_published", "as_published", "published", "entry", "名单原文",
                  "原文", "公布名称", "入选镇", "镇街全称", "全称", "名单镇名"),
    "province": ("province", "省", "省份", "所属省份"),
    "city": ("city", "地级市", "所属地市", "市"),
}
_NOT_IN_REGISTRY = ("称号不在登记表中，未核验类别（designation not in registry: add it to a "
                    "TOML given to --designations to check its implied category）")
_TRAILING_BRACKET = re.compile(r"[（(][^（）()]*[）)]$")


def _norm(text) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", _cell(text))).lower()


# --------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class Designation:
    """One designation of the registry (see ``classify/presets/designations.toml``)."""

    id: str
    zh: str
    en: str
    level: str
    implies: str = ""
    subtype_from_industry: bool = False
    aliases: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class Registry:
    """Known designations by id, with the lookup of designation texts."""

    designations: dict
    industry_subtypes: dict = field(default_factory=dict)

    def find(self, text) -> Designation | None:
        """The designation a text names (id, zh, en or alias; a trailing bracket such as
        ``（创建名单）`` is tried off too), or None."""
        key = _norm(text)
        if not key:
            return None
        return self._index.get(key) or self._index.get(_TRAILING_BRACKET.sub("", key))

    @functools.cached_property
    def _index(self) -> dict:
        out = {}
        for d in self.designations.values():
            for name in map(_norm, (d.id, d.zh, d.en) + d.aliases):
                out.setdefault(name, d)
                out.setdefault(_TRAILING_BRACKET.sub("", name), d)
        return out

    def implied(self, d: Designation, industry: str | None = None) -> str:
        """The taxonomy target a designation implies for an entry (its industry decides
        the subtype of ``specialised`` when ``subtype_from_industry``)."""
        text = str(industry or "")
        if not (d.subtype_from_industry and d.implies and text) or "/" in d.implies:
            return d.implies
        subtype = next((sub for sub, words in self.industry_subtypes.items()
                        if any(w in text for w in words)), "industrial")
        return f"{d.implies}/{subtype}"


def _registry_data(path: Path | None) -> tuple[dict, str]:
    if path is None:
        res = resources.files("classify") / "presets" / "designations.toml"
        text, src = res.read_text(encoding="utf-8"), "designations.toml (built in)"
    else:
        try:
            text, src = Path(path).read_text(encoding="utf-8"), str(path)
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(f"cannot read the designation registry: {err}", path=path) from err
    try:
        return tomllib.loads(text), src
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"not valid TOML: {err}", path=src) from err


def load_registry(extra: Sequence[str | Path] = ()) -> Registry:
    """The built-in registry, extended (and overridden by id) by each TOML in ``extra``.

    Raises
    ------
    ConfigError
        A key missing or of the wrong kind, named with its file.
    """
    designations: dict[str, Designation] = {}
    subtypes: dict[str, tuple[str, ...]] = {}
    for path in [None, *extra]:
        data, src = _registry_data(path)
        allowed = {"designations", "industry_subtypes"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ConfigError(f"unknown top-level table(s) {unknown}; a designation registry "
                              "has [designations.<id>] and [industry_subtypes]", path=src,
                              key=unknown[0])
        for sub, words in data.get("industry_subtypes", {}).items():
            if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
                raise ConfigError("give a list of keywords", path=src,
                                  key=f"industry_subtypes.{sub}")
            subtypes[sub] = tuple(words)
        for did, raw in data.get("designations", {}).items():
            designations[did] = _designation(did, raw, src)
    return Registry(designations, subtypes)


def _designation(did: str, raw, src: str) -> Designation:
    key = f"designations.{did}"
    if not isinstance(raw, dict):
        raise ConfigError("give a table with zh, en, level, implies", path=src, key=key)
    allowed = {"zh", "en", "level", "implies", "subtype_from_industry", "aliases"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(f"unknown key(s) {unknown}; allowed: {', '.join(sorted(allowed))}",
                          path=src, key=f"{key}.{unknown[0]}")
    for k in ("zh", "en", "level"):
        if not isinstance(raw.get(k), str) or not raw[k].strip():
            raise ConfigError(f"missing or empty {k!r}", path=src, key=f"{key}.{k}")
    if raw["level"] not in LEVELS:
        raise ConfigError(f"level must be one of {', '.join(LEVELS)}, found {raw['level']!r}",
                          path=src, key=f"{key}.level")
    aliases = raw.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise ConfigError("aliases must be a list of strings", path=src, key=f"{key}.aliases")
    implies = raw.get("implies", "")
    if not isinstance(implies, str):
        raise ConfigError("implies must be a taxonomy target id such as "
                          "'specialised/agricultural', or ''", path=src, key=f"{key}.implies")
    return Designation(did, raw["zh"], raw["en"], raw["level"], implies,
                       bool(raw.get("subtype_from_industry", False)), tuple(aliases), src)


# --------------------------------------------------------------------------- reading
def _pick(columns: Iterable[str], kind: str) -> str | None:
    return next((col for col in columns if _norm(col) in HEADERS[kind]), None)


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _year(value, path, row, column) -> int | None:
    text = _cell(value)
    if not text:
        return None
    m = re.fullmatch(r"(\d{4})(?:年|\.0)?(?:第?.*批)?", text)
    if not m:
        raise InputError(f"year {text!r} is not a year such as 2018; fix the cell or leave "
                         "it empty", path=path, row=row, column=column)
    return int(m.group(1))


def read_designations(path: str | Path, registry: Registry, resolver: PublishedNames, *,
                      sheet: str | None = None, encoding: str = "auto",
                      level=None) -> pd.DataFrame:
    """One row per row of a designation file, resolved to township codes.

    Columns: ``source, source_row, entry, designation, designation_id, designation_zh,
    designation_en, level, implies, known, year, industry`` and the resolution
    (``res_status, town_code, town, county, city, how, candidates, reason``).

    Raises
    ------
    InputError
        No designation column, or no column for the town (code, name, or "as published").
    """
    path = Path(path)
    table = read_table(path, sheet=sheet, encoding=encoding)
    if level is not None:       # another level's keys (a county list: 县区 is the unit)
        table = rekey_table(table, level)
    resolve = unit_resolver(level, resolver)
    data, raw = table.data, table.raw
    cols = list(data.columns)
    c_des, c_pub, c_year, c_ind, c_prov, c_city = (_pick(cols, kind) for kind in (
        "designation", "published", "year", "industry", "province", "city"))
    if c_des is None:
        raise InputError(
            "no designation column: name one of " + ", ".join(HEADERS["designation"][:4])
            + f" (columns found: {', '.join(map(str, cols))})", path=path)
    c_code, c_name, c_county = (table.keys.get(k) for k in ("code", "name", "county"))
    if not (c_pub or c_code or c_name):
        raise InputError(
            "no town column: give a statistical code (统计代码), a town name (乡镇) with its "
            "county (县区), or one combined name as published (entry_as_published / 名单原文)"
            f"; columns found: {', '.join(map(str, cols))}", path=path)
    rows = []
    for i in range(len(data)):
        row_no = table.source_rows[i]
        get = lambda c: _cell(raw[c].iloc[i]) if c else ""     # noqa: E731
        text = get(c_des)
        d = registry.find(text)
        industry = get(c_ind)
        code = data[c_code].iloc[i] if c_code else None
        code = code if isinstance(code, str) and code else get(c_code)
        if code:
            res, entry = resolve.code(code), code
        elif c_name and get(c_name):
            res = resolve.parts(town=get(c_name), county=get(c_county) or None,
                                city=get(c_city) or None, province=get(c_prov) or None)
            entry = "".join(x for x in dict.fromkeys(
                (get(c_city), get(c_county), get(c_name))) if x)
        elif c_pub and get(c_pub):
            entry = get(c_pub)
            res = resolve.published(entry, province=get(c_prov) or None)
        else:
            entry, res = "", Resolution("unresolved", reason="the row names no town")
        rows.append({
            "source": path.name, "source_row": row_no, "entry": entry, "designation": text,
            "designation_id": d.id if d else (text or "(empty)"),
            "designation_zh": d.zh if d else text, "designation_en": d.en if d else text,
            "level": d.level if d else "", "known": d is not None,
            "implies": registry.implied(d, industry) if d else "",
            "year": _year(get(c_year), path, row_no, c_year),
            "industry": industry, "res_status": res.status, "town_code": res.town_code or "",
            "town": res.town or "", "county": res.county or "", "city": res.city or "",
            "how": res.how, "candidates": ";".join(res.candidates), "reason": res.reason,
        })
    rows += [{**_SET_ASIDE, "source": path.name, "source_row": int(ex.source_row),
              "reason": f"row set aside by the table reader: {ex.reason}"}
             for ex in table.excluded.itertuples(index=False)]
    return pd.DataFrame(rows, columns=ENTRY_COLUMNS)


# --------------------------------------------------------------------------- evidence
@dataclass
class DesignationResult:
    """What :func:`assess_designations` found (see the module docstring)."""

    report: pd.DataFrame
    table: pd.DataFrame
    towns: pd.DataFrame
    lines: list[str]


def _check_targets(entries: pd.DataFrame, taxonomy, registry: Registry) -> None:
    known = set(taxonomy.targets()) | {c.id for c in taxonomy.categories} | \
        {r.id for r in taxonomy.roles}
    for did, implies in entries[["designation_id", "implies"]].drop_duplicates().itertuples(
            index=False):
        if implies and implies not in known:
            d = registry.designations.get(did)
            raise ConfigError(
                f"designation {did!r} implies {implies!r}, which taxonomy "
                f"{taxonomy.name!r} does not have (targets: {', '.join(sorted(known))})",
                path=d.source if d else None, key=f"designations.{did}.implies")


def _rank_texts(frame, i: int, target: str, taxonomy) -> tuple[str, str]:
    """``农业得分第41/84`` and ``… rank 41/84`` for the score the target's rules test first."""
    rules = _target_rules(taxonomy, target, frame, i)
    fld = next((r.field for r in rules if r.field in frame.columns
                and (r.field.startswith("score_") or r.field == "composite")), None)
    if fld is None:
        return "", ""
    values = pd.to_numeric(frame[fld], errors="coerce")
    zh, en = taxonomy.field_label(fld, "zh"), taxonomy.field_label(fld, "en")
    if pd.isna(values.iloc[i]):
        return f"{zh}缺失", f"{en} missing"
    rank = int(values.rank(ascending=False, method="min").iloc[i])
    n = int(values.notna().sum())
    return f"{zh}第{rank}/{n}", f"{en} rank {rank}/{n}"


def _target_rules(taxonomy, target: str, frame, i: int):
    role = next((r for r in taxonomy.roles if r.id == target), None)
    if role is not None:
        return role.rules
    if "/" in target:
        return taxonomy.target_rules(target)
    cat = taxonomy.category(target)
    if not cat.subtypes:
        return cat.rules
    # a category with subtypes and no subtype named: the subtype the town is closest to
    best, best_rank = cat.rules, math.inf
    for s in cat.subtypes:
        rules = taxonomy.target_rules(f"{target}/{s.id}")
        fld = next((r.field for r in rules if r.field.startswith("score_")
                    and r.field in frame.columns), None)
        if fld is None:
            continue
        r = pd.to_numeric(frame[fld], errors="coerce").rank(ascending=False).iloc[i]
        if r < best_rank:
            best, best_rank = rules, r
    return best


def _split(value) -> list[str]:
    return [x for x in _cell(value).split(";") if x]


def _evidence(frame, i: int, implies: str, taxonomy) -> str:
    """``primary`` / ``secondary`` / ``not supported`` for target ``implies``."""
    row = frame.iloc[i]
    if any(r.id == implies for r in taxonomy.roles):
        return "primary" if implies in _split(row.get("roles")) else "not supported"
    target = _cell(row.get("target")) or (
        f"{_cell(row.get('category'))}/{_cell(row.get('subtype'))}".rstrip("/"))
    secondary = _split(row.get("secondary"))

    def hits(t: str) -> bool:
        return t == implies or ("/" not in implies and t.split("/")[0] == implies)

    if hits(target):
        return "primary"
    if any(hits(s) for s in secondary):
        return "secondary"
    return "not supported"


def _heads(r) -> tuple[str, str]:
    """The entry's designation with its year and industry, in Chinese and in English."""
    zh, en = r["designation_zh"], r["designation_en"]
    year = str(int(r["year"])) if pd.notna(r["year"]) else ""
    bits = [b for b in (year, r["industry"]) if b]
    if not bits:
        return zh, en
    return f"{zh}（{'，'.join(bits)}）", f"{en} ({', '.join(bits)})"


def assess_designations(entries: pd.DataFrame, frame: pd.DataFrame, taxonomy,
                        registry: Registry, *, illustrative: bool = False,
                        unit_zh: str = "镇") -> DesignationResult:
    """Join resolved entries to the run's towns and check each against the evidence.

    ``frame`` is the classified towns frame (``town_code``, ``county_code``, ``target``,
    ``secondary``, ``roles``, ``score_<dim>``).  ``illustrative`` labels the agreement
    lines and table as illustrative (demo data).
    """
    _check_targets(entries, taxonomy, registry)
    codes = frame["town_code"].astype(str)
    pos = {c: i for i, c in enumerate(codes)}
    counties = set(frame["county_code"].astype(str)) if "county_code" in frame else \
        {c[:6] for c in codes}
    report = []
    for r in entries.to_dict("records"):
        status, reason = _status(r, pos, counties)
        evidence = (_entry_evidence(r, frame, pos[r["town_code"]], taxonomy)
                    if status == "matched" else ("", "", ""))
        report.append({**r, "status": status, "status_zh": STATUS_ZH[status], "reason": reason,
                       **dict(zip(("evidence", "evidence_zh", "evidence_en"), evidence)),
                       "note": "" if r["known"] else _NOT_IN_REGISTRY})
    report = pd.DataFrame(report, columns=REPORT_COLUMNS)
    report["year"] = report["year"].astype("Int64")
    names = {"zh": dict(zip(entries["designation_id"], entries["designation_zh"])),
             "en": dict(zip(entries["designation_id"], entries["designation_en"]))}
    towns = _town_columns(report, frame, names)
    table, lines = _agreement(report, frame, pos, taxonomy, registry, illustrative, unit_zh)
    return DesignationResult(report, table, towns, lines)


def _status(r: dict, pos: dict, counties: set) -> tuple[str, str]:
    res, reason = r["res_status"], r["reason"]
    if res == "not_township":
        return "not_township", reason
    if res == "ambiguous":
        return "ambiguous", reason + (f"; candidates: {r['candidates']}" if r["candidates"]
                                      else "")
    if res != "town":
        return "unmatched", reason
    code = r["town_code"]
    if code in pos:
        return "matched", reason
    if code[:6] in counties:
        return "unmatched", (f"{r['town']} ({code}) is in the region but not among the run's "
                             "towns (no boundary or no indicator row: see join_report.csv)")
    return "not_in_region", f"{r['county']}{r['town']} ({code}) is outside the run's counties"


def _entry_evidence(r: dict, frame, i: int, taxonomy) -> tuple[str, str, str]:
    head_zh, head_en = _heads(r)
    if not (r["known"] and r["implies"]):
        why_zh, why_en = (("不对应分类类别", "implies no category") if r["known"] else
                          ("称号不在登记表中", "designation not in the registry"))
        return "not checked", f"{head_zh}：{why_zh}，未核验", f"{head_en}: {why_en}, not checked"
    zh, en = taxonomy.labels(r["implies"])
    ev = _evidence(frame, i, r["implies"], taxonomy)
    if ev != "not supported":
        tag_zh, tag_en = ("", "") if ev == "primary" else ("（兼具类型）", " (secondary)")
        return (ev, f"{head_zh}：指标支持{zh}{tag_zh}",
                f"{head_en}: the evidence supports {en}{tag_en}")
    rz, re_ = _rank_texts(frame, i, r["implies"], taxonomy)
    return (ev, f"{head_zh}：{rz + '，' if rz else ''}未达{zh}阈值",
            f"{head_en}: {re_ + ', ' if re_ else ''}below the {en} thresholds")


def _town_columns(report: pd.DataFrame, frame, names: dict) -> pd.DataFrame:
    """Per town of the frame: ``designations``, ``designations_en``, ``designation_key``,
    and the review text of unsupported designations."""
    m = report[report["status"] == "matched"].sort_values(["town_code", "year"],
                                                          na_position="last", kind="stable")
    bad = m[m["evidence"] == "not supported"]

    def per_town(rows: pd.DataFrame, col: str, how) -> pd.Series:
        return rows.groupby("town_code", sort=False)[col].agg(
            lambda s: how(list(dict.fromkeys(s))))

    def key(lang: str):
        return lambda ids: names[lang][ids[0]] if len(ids) == 1 else "multiple"

    cols = {"designations": per_town(m, "evidence_zh", "；".join),
            "designations_en": per_town(m, "evidence_en", "; ".join),
            "designation_key": per_town(m, "designation_id", key("zh")),
            "designation_key_en": per_town(m, "designation_id", key("en")),
            "designation_review": per_town(bad, "evidence_zh", "；".join),
            "designation_review_en": per_town(bad, "evidence_en", "; ".join)}
    codes = frame["town_code"].astype(str)
    return pd.DataFrame({c: v.reindex(codes).fillna("").to_numpy() for c, v in cols.items()},
                        index=frame.index)


def _agreement(report, frame, pos, taxonomy, registry, illustrative: bool, unit_zh: str
               ) -> tuple[pd.DataFrame, list[str]]:
    """``designations.csv`` (a row per designation) and its console lines."""
    rows, lines = [], []
    tag = "【示例数据，仅作演示（illustrative）】" if illustrative else ""
    for did, group in report.groupby("designation_id", sort=True):
        row, dis = _agreement_row(did, group, frame, pos, taxonomy, registry, illustrative)
        rows.append(row)
        other = len(group) - int((group["status"] == "matched").sum())
        if math.isnan(row["recall"]):           # no matched town could be checked
            found = ("（未核验：称号不在登记表中或不对应分类类别）"
                     if row["designated_towns"] else "")
            rest = "未计入"
        else:
            found = (f"，指标归入{row['implies_label']} {row['in_category']} 个"
                     f"（召回率 recall {row['recall']:.0%}"
                     + (f"，另 {row['secondary']} 个为兼具类型" if row["secondary"] else "") + "）"
                     + (f"；不一致：{'、'.join(x.split('：')[0] for x in dis)}" if dis else ""))
            rest = "不在本区域、非乡镇单位或未匹配"
        lines.append(f"官方称号 {row['designation']}：本区域 {row['designated_towns']} 个{unit_zh}"
                     + found + (f"；另 {other} 条{rest}（见 designations_report.csv）" if other
                                else "") + tag)
    return pd.DataFrame(rows, columns=TABLE_COLUMNS), lines


def _agreement_row(did: str, group: pd.DataFrame, frame, pos, taxonomy, registry,
                   illustrative: bool) -> tuple[dict, list[str]]:
    """One designation's row of ``designations.csv`` and its disagreements."""
    d = registry.designations.get(did)
    name = d.zh if d else group["designation"].iloc[0]
    implies = d.implies if d else ""
    if d and d.subtype_from_industry:
        implies = ";".join(sorted(set(group["implies"]) - {""})) or d.implies
    towns = group[group["status"] == "matched"].drop_duplicates("town_code")
    checked = towns[towns["evidence"].isin(["primary", "secondary", "not supported"])]
    in_cat = int((checked["evidence"] == "primary").sum())
    dis = []
    for r in checked[checked["evidence"] != "primary"].itertuples(index=False):
        row = frame.iloc[pos[r.town_code]]
        got = _cell(row.get("category_zh")) + (
            f"·{_cell(row.get('subtype_zh'))}" if _cell(row.get("subtype_zh")) else "")
        year = f"，{int(r.year)}" if pd.notna(r.year) else ""
        dis.append(f"{r.town}（{r.county}{year}）：{got or '—'}")
    counts = group["status"].value_counts()
    note = []
    if d is None:
        note.append("称号不在登记表中，未核验类别（designation not in registry）")
    elif not implies:
        note.append("不对应分类类别，未核验（implies no category）")
    if illustrative:
        note.append("示例数据：一致性仅作演示（illustrative: the indicators are "
                    "generated, the designations real）")
    return {
        "designation_id": did, "designation": name, "designation_en": d.en if d else name,
        "level": d.level if d else "", "implies": implies,
        "implies_label": ";".join(taxonomy.labels(t)[0] for t in implies.split(";") if t),
        "entries": len(group), "designated_towns": len(towns), "in_category": in_cat,
        "secondary": int((checked["evidence"] == "secondary").sum()),
        "recall": in_cat / len(checked) if len(checked) else float("nan"),
        "disagreements": "；".join(dis),
        "matched_towns": "；".join(f"{r.town}（{r.county}）"
                                  for r in towns.itertuples(index=False)),
        **{s: int(counts.get(s, 0)) for s in REPORT_STATUSES[1:]},
        "note": "；".join(note)}, dis


# --------------------------------------------------------------------------- the step
def apply_designations(paths: Sequence[str | Path], frame: pd.DataFrame, taxonomy, *,
                       aliases: str | Path | None = None, illustrative: bool = False,
                       encoding: str = "auto", level=None
                       ) -> tuple[pd.DataFrame, DesignationResult]:
    """The pipeline step: read every designation file (``.toml`` files extend the
    registry), assess, and return the frame with the designation columns added and the
    review flag set for designated towns whose evidence does not support the implied
    category."""
    paths = [Path(p) for p in paths]
    for p in paths:
        if not p.is_file():
            raise InputError("designation file not found; check the --designations path",
                             path=p)
    registry = load_registry([p for p in paths if p.suffix.lower() == ".toml"])
    lists = [p for p in paths if p.suffix.lower() != ".toml"]
    if not lists:
        raise InputError("--designations got only registry TOML files; give a designation "
                         "list too (CSV or .xlsx: town, designation, year)", path=paths[0])
    provinces = {str(c)[:2] for c in frame["town_code"].astype(str)}
    resolver = PublishedNames(aliases=load_county_aliases(aliases), prefer=provinces)
    entries = pd.concat([read_designations(p, registry, resolver, encoding=encoding,
                                           level=level)
                         for p in lists], ignore_index=True)
    result = assess_designations(entries, frame, taxonomy, registry,
                                 illustrative=illustrative,
                                 unit_zh=level.short_zh if level is not None else "镇")
    return with_designations(frame, result.towns), result


def with_designations(frame: pd.DataFrame, towns: pd.DataFrame) -> pd.DataFrame:
    """The frame with ``designations``, ``designations_en``, ``designation_key`` (the
    designation's name for the map layer, ``multiple`` for several), ``designation_key_en`` and the
    review flag/reason extended by unsupported designations."""
    out = frame.assign(**{c: towns[c].to_numpy()
                          for c in ("designations", "designations_en", "designation_key")},
                       designation_key_en=towns.get("designation_key_en",
                                                    towns["designation_key"]).to_numpy())
    bad = towns["designation_review"].to_numpy() != ""
    if not bad.any():
        return out
    review = out["review"].fillna(False).astype(bool).to_numpy() if "review" in out else \
        np.zeros(len(out), bool)

    def joined(col, extra, sep):
        old = out[col].astype(object).fillna("").astype(str) if col in out else [""] * len(out)
        return np.array([(o + sep + e if o else e) if e else (o or None)
                         for o, e in zip(old, extra)], dtype=object)

    return out.assign(review=review | bad,
                      review_reason=joined("review_reason", towns["designation_review"], "；"),
                      review_reason_en=joined("review_reason_en",
                                              towns["designation_review_en"], "; "))


# --------------------------------------------------------------------------- files
#: The bundled list (relative to the data folder) used by ``towntype demo``.
DEMO_LIST = "designations/guangdong_agri_strong_towns.csv"
ALIASES = "designations/county_aliases.csv"


def demo_designations(root: Path) -> tuple[Path, ...]:
    """The designation lists of the demo: the bundled Guangdong 农业产业强镇 list."""
    path = Path(root) / DEMO_LIST
    return (path,) if path.is_file() else ()


def default_aliases() -> Path | None:
    """The bundled county alias list (``data/designations/county_aliases.csv``), if
    present."""
    try:
        path = data_dir() / ALIASES
    except InputError:
        return None
    return path if path.is_file() else None


def write_designations(result: DesignationResult | None, out: str | Path) -> list[Path]:
    """``designations_report.csv`` and ``designations.csv`` (nothing without a result)."""
    if result is None:
        return []
    out = Path(out)
    return [write_csv(result.report, out / "designations_report.csv"),
            write_csv(result.table, out / "designations.csv")]
