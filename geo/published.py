"""Town names "as published" in official lists, resolved to township codes.

Official lists name towns the way the notice was written: ``连州市东陂镇`` (county +
town), ``清远市清新区山塘镇``, county names of the year of the notice (``台山县``, now 台山市),
short forms of autonomous counties (``连山县``) and state farms that are not towns.
:class:`PublishedNames` splits such a string with the national division codes
(:mod:`geo.divisions`) and says what it found and why in a :class:`Resolution`.  Renamed
counties are found by the rules ``县→市``/``县→区`` (same stem) and ``自治县简称`` and by an
alias list (:func:`load_county_aliases`).

Examples
--------
>>> r = PublishedNames(province="广东省").resolve("连州市东陂镇")
>>> r.status, r.town_code, r.county, r.town
('town', '441882107', '连州市', '东陂镇')
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from geo.divisions import divisions
from geo.errors import InputError
from geo.names import name_key, names_compatible, normalise_county, normalise_name

__all__ = ["Resolution", "PublishedNames", "load_county_aliases", "NOT_TOWNSHIP",
           "STATUSES"]

#: What :meth:`PublishedNames.resolve` can say about an entry.
STATUSES = ("town", "not_township", "ambiguous", "unresolved")
#: Words that mark a unit that is not a town, township or street (even where the NBS
#: table gives it a township-level statistical code, as it does for many state farms).
NOT_TOWNSHIP = ("农场", "林场", "茶场", "牧场", "渔场", "垦殖场", "华侨管理区")
_FARM = re.compile("|".join(NOT_TOWNSHIP))
#: The 55 minority nationalities (and 各族), longest first, as they appear in the names of
#: autonomous counties: 连山壮族瑶族自治县 → stem 连山.
_ETHNIC = sorted((
    "蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲 "
    "高山 拉祜 水 东乡 纳西 景颇 柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 "
    "普米 塔吉克 怒 乌孜别克 俄罗斯 鄂温克 德昂 保安 裕固 京 塔塔尔 独龙 鄂伦春 赫哲 门巴 "
    "珞巴 基诺 各").split(), key=len, reverse=True)
_AUTONOMOUS = re.compile(r"^(.+?)(?:(?:" + "|".join(_ETHNIC) + r")族)+自治县$")


@dataclass(frozen=True)
class Resolution:
    """What an entry resolved to.

    Attributes
    ----------
    status : str
        ``town`` (one township-level unit), ``not_township`` (a farm or similar, with its
        statistical code when the NBS table has one), ``ambiguous`` (several candidates,
        in ``candidates``) or ``unresolved`` (see ``reason``).
    town_code, town, county_code, county, city_code, city : str or None
        The unit found (current NBS 2023 names); the county alone when only it resolved.
    how : str
        How it was found (``as published``, ``code``, ``county+name``), with any alias
        rule used.
    candidates : tuple of str
        ``code 名称（县）`` of each candidate when ambiguous.
    reason : str
        Why it is not a plain match, or a note on how it matched (a town now a street);
        empty for a plain match.
    """

    status: str
    town_code: str | None = None
    town: str | None = None
    county_code: str | None = None
    county: str | None = None
    city_code: str | None = None
    city: str | None = None
    how: str = ""
    candidates: tuple[str, ...] = ()
    reason: str = ""


def load_county_aliases(path: str | Path | None) -> dict[str, list[tuple[str, str]]]:
    """Read an alias list: CSV with columns ``published`` (a county name as published),
    ``county_code`` (the current 6-digit code) and an optional ``note``.

    Returns ``{published name: [(county_code, note), …]}``.
    """
    if path is None:
        return {}
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as err:
        raise InputError(f"cannot read the county alias list: {err}", path=path) from err
    for col in ("published", "county_code"):
        if col not in table.columns:
            raise InputError(f"the county alias list needs a column {col!r}; found "
                             f"{', '.join(table.columns)}", path=path, column=col)
    out: dict[str, list[tuple[str, str]]] = {}
    for i, row in enumerate(table.itertuples(index=False), start=2):
        code = str(row.county_code).strip()
        if not (len(code) == 6 and code.isdigit()):
            raise InputError(f"county_code {code!r} is not a 6-digit county code",
                             path=path, row=i, column="county_code")
        note = str(getattr(row, "note", "") or "")
        out.setdefault(normalise_name(row.published), []).append((code, note))
    return out


def _no_county(county, how, method: str) -> Resolution:
    """The answer when ``county`` names no single county: ambiguous (``how``: the
    candidates) or unresolved."""
    if how:
        return Resolution("ambiguous", how=method, candidates=tuple(how),
                          reason=f"county {county!r} is ambiguous")
    return Resolution("unresolved", how=method, reason=f"no county named {county!r} in "
                      "the division codes (NBS 2023) or the alias list")


def _province_code(province) -> str | None:
    """``'广东省'``/``'广东'``/``'44'`` → ``'44'``; None/'' → None."""
    text = normalise_name(province)
    if not text:
        return None
    if text.isdigit():
        return text[:2]
    provs = divisions().provinces
    for code, name in provs["name"].items():
        if name == text or name.startswith(text) or text.startswith(name):
            return code
    raise InputError(f"unknown province {province!r}; give a name such as 广东省 or a "
                     "2-digit code such as 44")


class PublishedNames:
    """Resolve published town names against the national division codes.

    Parameters
    ----------
    province : str, optional
        Limit the search to one province (name or 2-digit code); a province named at the
        start of an entry (``广东省…``) limits it too.
    aliases : mapping, optional
        From :func:`load_county_aliases`.
    prefer : iterable of str, optional
        Province codes preferred when a county name exists in several provinces.
    """

    def __init__(self, *, province=None, aliases=None, prefer=()):
        d = divisions()
        self._d = d
        self.province = _province_code(province)
        self.aliases = dict(aliases or {})
        self.prefer = {str(p)[:2] for p in prefer}
        self._counties = d.counties
        #: key column → {code: the township rows under it}
        self._towns = {col: dict(iter(d.townships.groupby(col)))
                       for col in ("county_code", "city_code", "province_code")}

    # ------------------------------------------------------------------ public API
    def resolve(self, text, *, province=None) -> Resolution:
        """Resolve one combined string (``连州市东陂镇``, ``清远市清新区山塘镇`` …)."""
        raw = normalise_name(text)
        if not raw:
            return Resolution("unresolved", reason="empty entry")
        prov, rest = self._strip_province(raw, _province_code(province) or self.province)
        city_code, rest = self._strip_city(rest, prov)
        county, rest, how = self._strip_county(rest, prov, city_code)
        if county is None and how:           # county prefix ambiguous
            return Resolution("ambiguous", how="as published", candidates=tuple(how),
                              reason=f"county of {raw!r} is ambiguous")
        base = "as published" + (f"; {county[1]}" if county and county[1] else "")
        return self._town(rest, county[0] if county else None, city_code, prov, base, raw)

    def resolve_parts(self, *, town, county=None, city=None, province=None) -> Resolution:
        """Resolve a town given in separate columns (county + name, optionally city)."""
        prov = _province_code(province) or self.province
        city_code = None
        if normalise_name(city):
            city_code, rest = self._strip_city(normalise_name(city), prov)
            if city_code is None or rest:
                return Resolution("unresolved", reason=f"no city named {city!r}")
        county_code, note = None, ""
        if text := normalise_name(county):
            found, rest, how = self._strip_county(text, prov, city_code)
            if found is None and not how:
                found, how = self._county_by_stem(text, prov, city_code)
                rest = ""
            if found is None or rest:
                return _no_county(county, how, "county+name")
            county_code, note = found
        base = "county+name" + (f"; {note}" if note else "")
        name = normalise_name(town)
        return self._town(name, county_code, city_code, prov, base, name)

    def resolve_county(self, county, *, city=None, province=None) -> Resolution:
        """Resolve a county-level unit (``连州市``, ``清远市连州市``, ``梅县`` → 梅县区 by
        the alias list, ``台山县`` → 台山市 by the 县→市 rule), optionally within a city.

        The result is keyed as a unit of the county level (:mod:`classify.levels`):
        ``town_code``/``town`` = the county's 6-digit code and name, ``county_code``/
        ``county`` = its city, ``city_code``/``city`` = its province.
        """
        text = normalise_name(county)
        if text.isdigit() and len(text) in (6, 12):
            code = text[:6]
            if code not in self._counties.index:
                return Resolution("unresolved", how="code",
                                  reason=f"code {county!r} is not a county code of the NBS "
                                         "2023 table")
            return self._county_unit(code, "code")
        prov, text = self._strip_province(text, _province_code(province) or self.province)
        city_code = None
        if normalise_name(city):
            city_code, rest = self._strip_city(normalise_name(city), prov)
            if city_code is None or rest:
                return Resolution("unresolved", reason=f"no city named {city!r}")
        if city_code is None:
            found_city, rest = self._strip_city(text, prov)
            if found_city is not None and rest:
                city_code, text = found_city, rest
        found, rest, how = self._strip_county(text, prov, city_code)
        if found is None or rest:
            return _no_county(county, how, "county")
        code, note = found
        return self._county_unit(code, "county" + (f"; {note}" if note else ""))

    def _county_unit(self, code: str, how: str) -> Resolution:
        row = self._counties.loc[code]
        return Resolution("town", town_code=code, town=row["name"],
                          county_code=row["city_code"], county=self._d.city(code),
                          city_code=row["province_code"], city=self._d.province(code),
                          how=how)

    def resolve_code(self, code) -> Resolution:
        """Resolve a statistical code (9 or 12 digits)."""
        text = normalise_name(code)
        if len(text) == 12 and text.endswith("000"):
            text = text[:9]
        if text not in self._d.townships.index:
            return Resolution("unresolved", how="code",
                              reason=f"code {code!r} is not a township code of the NBS "
                                     "2023 table")
        return self._found(text, "code")

    # ------------------------------------------------------------------ steps
    def _strip_province(self, text: str, prov: str | None) -> tuple[str | None, str]:
        """A province named at the start of ``text`` replaces ``prov``."""
        for code, name in self._d.provinces["name"].items():
            if text.startswith(name) and len(text) > len(name):
                return code, text[len(name):]
        return prov, text

    def _strip_city(self, text: str, prov: str | None) -> tuple[str | None, str]:
        names = self._d.cities["name"]
        if prov:
            names = names[self._d.cities["province_code"] == prov]
        hits = names[[n not in ("市辖区", "县") and text.startswith(n) for n in names]]
        if hits.empty:
            return None, text
        code = hits.str.len().idxmax()      # the first of the longest names
        return code, text[len(hits[code]):]

    def _county_scope(self, prov, city_code) -> pd.DataFrame:
        c = self._counties
        if city_code:
            return c[c["city_code"] == city_code]
        if prov:
            return c[c["province_code"] == prov]
        return c

    def _strip_county(self, text, prov, city_code):
        """``((county_code, note) | None, rest, how)``; ``how`` lists candidates when the
        county prefix is ambiguous."""
        scope = self._county_scope(prov, city_code)
        hits: dict[str, tuple[int, str]] = {}      # code → (prefix length, note)

        def add(code, length, note):
            if code not in hits or hits[code][0] < length:
                hits[code] = (length, note)

        for code, name in scope["name"].items():
            if name != "市辖区" and text.startswith(name):
                add(code, len(name), "")
        if not hits:
            for code, name in scope["name"].items():
                stem, suffix = name[:-1], name[-1]
                m = _AUTONOMOUS.match(name)
                if suffix in "市区" and len(stem) >= 1 and text.startswith(stem + "县"):
                    add(code, len(stem) + 1, f"county {stem}县 → {name} (rule 县→{suffix})")
                if m and text.startswith(m.group(1) + "县"):
                    add(code, len(m.group(1)) + 1,
                        f"county {m.group(1)}县 → {name} (rule 自治县简称)")
            for published, targets in self.aliases.items():
                if text.startswith(published):
                    for code, note in targets:
                        if code in scope.index:
                            add(code, len(published),
                                f"county {published} → {self._counties.at[code, 'name']} "
                                f"(alias list{': ' + note if note else ''})")
        if not hits:
            # a city with towns directly under it (东莞, 中山): the city is the county
            if city_code and len(scope) == 1:
                return (scope.index[0], ""), text, None
            return None, text, None
        longest = max(n for n, _ in hits.values())
        code, candidates = self._one_county([c for c, (n, _) in hits.items() if n == longest])
        if code is None:
            return None, text, candidates
        return (code, hits[code][1]), text[longest:], None

    def _county_by_stem(self, text, prov, city_code):
        """A county column without its suffix (``连州`` for 连州市): ``((code, ''), None)``,
        ``(None, candidates)`` or ``(None, None)``."""
        scope = self._county_scope(prov, city_code)
        key = normalise_county(text)
        hits = [c for c, n in scope["name"].items() if normalise_county(n) == key
                or (_AUTONOMOUS.match(n) and _AUTONOMOUS.match(n).group(1) == key)]
        code, candidates = self._one_county(hits)
        return ((code, ""), None) if code else (None, candidates)

    def _one_county(self, codes: list[str]) -> tuple[str | None, list[str]]:
        """The one county of ``codes`` (those of a preferred province first), or None and
        the candidates ``code 名称``."""
        if len(codes) > 1 and self.prefer:
            codes = [c for c in codes if c[:2] in self.prefer] or codes
        if len(codes) == 1:
            return codes[0], []
        return None, [f"{c} {self._counties.at[c, 'name']}" for c in sorted(codes)]

    def _town(self, rest: str, county_code, city_code, prov, how: str, raw: str
              ) -> Resolution:
        if not rest:
            return Resolution("unresolved", how=how, county_code=county_code,
                              county=self._d.county(county_code),
                              reason=f"{raw!r} names no town after the county")
        farm = bool(_FARM.search(rest))
        pool, where = self._d.townships, "China"
        for code, col, name in ((county_code, "county_code", self._d.county),
                                (city_code, "city_code", self._d.city),
                                (prov, "province_code", self._d.province)):
            if code:        # the narrowest unit given
                pool = self._towns[col].get(code, pool.iloc[:0])
                where = name(code)
                break
        key = name_key(rest)
        names = pool["name"]
        hit = _named(names, key)
        if farm and hit.empty:
            # farms are published with prefixes: 广东省国营海鸥农场 for 海鸥农场
            core = re.sub(r"^(?:广东省)?(?:[^省市县]{2,3}[市县])?(?:国营)?", "", rest)
            hit = names[[n.endswith(core) or core.endswith(n) for n in names]]
        note = ""
        if hit.empty and not farm:
            # a town converted to a street (镇改街) keeps its stem
            hit = names[[name_key(n)[0] == key[0] for n in names]]
            if len(hit) == 1:
                note = f"published as {rest}, now {hit.iloc[0]} (镇改街 or 乡改镇)"
        if hit.empty and county_code and not farm:
            city = self._counties.at[county_code, "city_code"]
            hit = _named(self._towns["city_code"].get(city, pool.iloc[:0])["name"], key)
            if len(hit) == 1:
                note = (f"no {rest} in {where}; found in "
                        f"{self._d.county(hit.index[0])} of the same city")
        not_one = functools.partial(Resolution, town=rest, county_code=county_code,
                                    county=self._d.county(county_code), how=how)
        if hit.empty and farm:
            return not_one("not_township", reason=f"{rest} is a farm or similar unit, not a "
                           f"town, township or street (no statistical code in {where} either)")
        if hit.empty:
            return not_one("unresolved", reason=f"no town named {rest} in {where} (NBS 2023 "
                           "codes); it may have been merged or renamed")
        if len(hit) > 1:
            return not_one("ambiguous", candidates=tuple(
                f"{c} {n}（{self._d.county(c)}）" for c, n in hit.items()),
                reason=f"{len(hit)} units named {rest} in {where}; give the county or the code")
        code = hit.index[0]
        res = self._found(code, how, note)
        if farm or _FARM.search(res.town or ""):
            return dataclasses.replace(
                res, status="not_township",
                reason=f"{res.town} is a state farm or similar unit, not a town, township "
                       f"or street (the NBS table lists it as statistical unit "
                       f"{code} under {res.county})")
        return res

    def _found(self, code: str, how: str, note: str = "") -> Resolution:
        d = self._d
        return Resolution("town", code, d.townships.at[code, "name"], code[:6], d.county(code),
                          code[:4], d.city(code), how, reason=note)


def _named(names: pd.Series, key) -> pd.Series:
    """The names of ``names`` compatible with the name key ``key`` (东陂 with 东陂镇)."""
    return names[[names_compatible(key, name_key(n)) for n in names]]
