"""Town names: normalisation for matching.

:func:`name_key` reduces a name (traditional characters, full-width spaces, long official
suffixes such as ``街道办事处``, or none) to ``(stem, kind)``.  Two names match when their
stems are equal and their kinds do not contradict: ``太平镇`` ≠ ``太平乡``, but ``连州``
matches ``連州鎮``.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from opencc import OpenCC

__all__ = ["to_simplified", "normalise_name", "name_key", "names_compatible",
           "normalise_county", "county_name_key", "NAME_KEYS"]

# Longest first: the first suffix that matches decides the kind.
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("街道办事处", "街道"), ("街道办", "街道"), ("办事处", "街道"), ("街道", "街道"),
    ("镇人民政府", "镇"), ("乡人民政府", "乡"), ("民族乡", "乡"), ("镇", "镇"), ("乡", "乡"),
    ("农场", "农场"), ("林场", "林场"), ("管理区", "管理区"), ("管委会", "管理区"),
)
# Ethnic township names keep 瑶族/壮族 in the stem: 瑶安瑶族乡 → ('瑶安瑶族', '乡').
_SPACE = re.compile(r"[\s\u3000\u00a0]+")
_BRACKETED = re.compile(r"[（(][^）)]*[）)]$")
# Footnote markers after a name in yearbooks: 连州镇*, 星子镇①, 西岸镇注1, 九陂镇¹
_MARKS = re.compile(r"(?:[*＊※#△▲☆★]|[\u2460-\u2473]|[\u00b9\u00b2\u00b3\u2070-\u2079]|"
                    r"注\d*)+$")


@lru_cache(maxsize=1)
def _converter():
    return OpenCC("t2s")


@lru_cache(maxsize=65536)
def to_simplified(text: str) -> str:
    """Traditional → simplified Chinese (OpenCC t2s); other text unchanged."""
    return _converter().convert(text)


def normalise_name(name) -> str:
    """NFKC, spaces removed, simplified characters; '' for None/NaN."""
    if name is None or (isinstance(name, float) and name != name):
        return ""
    return to_simplified(_SPACE.sub("", unicodedata.normalize("NFKC", str(name))))


# Cached (pure functions of the name): a national join asks for each name several times.
@lru_cache(maxsize=1 << 17, typed=True)
def name_key(name) -> tuple[str, str | None]:
    """``(stem, kind)`` of a town name; see the module docstring."""
    text = _BRACKETED.sub("", _strip_marks(name))
    for suffix, kind in _SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)], kind
    return text, None


def _strip_marks(name) -> str:
    # before NFKC, which would turn ① into 1 and ¹ into 1
    raw = "" if name is None or (isinstance(name, float) and name != name) else str(name)
    return normalise_name(_MARKS.sub("", raw.strip()))


def names_compatible(a: tuple[str, str | None], b: tuple[str, str | None]) -> bool:
    """Equal stems and kinds that do not contradict (None matches any kind)."""
    return a[0] == b[0] and (a[1] is None or b[1] is None or a[1] == b[1])


_COUNTY_SUFFIXES = ("自治县", "县", "市", "区")


@lru_cache(maxsize=1 << 14, typed=True)
def normalise_county(name) -> str:
    """County name reduced for matching: ``連州市`` → ``连州``, ``连南瑶族自治县`` → ``连南瑶族``."""
    text = _BRACKETED.sub("", normalise_name(name))
    for suffix in _COUNTY_SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix) + 1:
            return text[: -len(suffix)]
    return text


@lru_cache(maxsize=1 << 14, typed=True)
def county_name_key(name) -> tuple[str, str | None]:
    """``(stem, None)`` of a county-level unit's name, for joining county tables:
    区/县/市/自治县 suffixes off (:func:`normalise_county`), so that a name from before a
    撤县设区 or 撤市设区 (``从化市``, ``梅县``) meets the current one (``从化区``,
    ``梅县区``).  The kind is None: the suffix changes with such a rename, the unit not."""
    return normalise_county(_BRACKETED.sub("", _strip_marks(name))), None


#: Name keys by the kind of unit (:class:`geo.codes.UnitKeys` ``names``).
NAME_KEYS = {"town": name_key, "county": county_name_key}
