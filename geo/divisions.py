"""Official division codes and names of all of mainland China (统计用区划代码, 2023).

The National Bureau of Statistics' tables of provinces, cities, county-level and
township-level units, bundled in ``data/divisions/`` (provenance in its ``PROVENANCE.md``),
read once per process.
"""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from geo.errors import InputError

__all__ = ["Divisions", "divisions", "county_name", "city_name", "province_name",
           "division_dir", "EDITION"]

#: The edition of the bundled tables (as of 2023-06-30).
EDITION = "2023"
_FILES = {level: f"china_{level}_{EDITION}.csv"
          for level in ("provinces", "cities", "counties", "townships")}
#: Placeholder city names of the four municipalities' city-level rows.
_PLACEHOLDERS = {"市辖区", "县"}


def division_dir() -> Path:
    """The folder holding the bundled division tables.

    In a checkout (or an editable install) it is the repository's ``data/divisions``; a
    regular install puts the same files under ``<prefix>/share/towntype/data/divisions``;
    the environment variable ``TOWNTYPE_DATA`` (a ``data/`` folder) overrides both.
    """
    candidates = []
    if os.environ.get("TOWNTYPE_DATA"):
        candidates.append(Path(os.environ["TOWNTYPE_DATA"]) / "divisions")
    candidates.append(Path(__file__).resolve().parent.parent / "data" / "divisions")
    candidates.append(Path(sys.prefix) / "share" / "towntype" / "data" / "divisions")
    for folder in candidates:
        if (folder / _FILES["counties"]).is_file():
            return folder
    raise InputError(
        "the bundled division-code tables were not found (looked in: "
        + ", ".join(str(c) for c in candidates)
        + "); set TOWNTYPE_DATA to the project's data/ folder, or reinstall towntype",
        path=candidates[0] / _FILES["counties"])


@dataclass(frozen=True)
class Divisions:
    """The four levels as DataFrames of strings, indexed by code.

    Attributes
    ----------
    provinces : DataFrame
        index ``code`` (2 digits), column ``name``.
    cities : DataFrame
        index ``code`` (4 digits), columns ``name``, ``province_code``.
    counties : DataFrame
        index ``code`` (6 digits), columns ``name``, ``city_code``, ``province_code``.
    townships : DataFrame
        index ``code`` (9 digits), columns ``name``, ``county_code``, ``city_code``,
        ``province_code``.
    """

    provinces: pd.DataFrame
    cities: pd.DataFrame
    counties: pd.DataFrame
    townships: pd.DataFrame

    def county(self, code: str | None) -> str | None:
        """Name of the county-level unit of a 6-, 9- or 12-digit code, or None."""
        return _lookup(self.counties, code, 6)

    def city(self, code: str | None) -> str | None:
        """Name of the city of a code (a municipality's own name for its placeholder
        ``市辖区``/``县`` rows), or None."""
        name = _lookup(self.cities, code, 4)
        if name in _PLACEHOLDERS:
            return self.province(code)
        return name

    def province(self, code: str | None) -> str | None:
        """Name of the province of a code, or None."""
        return _lookup(self.provinces, code, 2)

    def township(self, code: str | None) -> str | None:
        """Name of the township-level unit of a 9-digit code, or None."""
        return _lookup(self.townships, code, 9)


def _lookup(table: pd.DataFrame, code, digits: int) -> str | None:
    if not isinstance(code, str) or len(code) < digits or not code.isdigit():
        return None
    return table["name"].get(code[:digits])


@functools.lru_cache(maxsize=1)
def divisions() -> Divisions:
    """The bundled tables, read once per process."""
    folder = division_dir()
    read = functools.partial(pd.read_csv, dtype=str, keep_default_na=False, encoding="utf-8")
    renames = {"cityCode": "city_code", "provinceCode": "province_code",
               "areaCode": "county_code"}
    frames = {level: read(folder / name).rename(columns=renames).set_index("code")
              for level, name in _FILES.items()}
    return Divisions(**frames)


def county_name(code: str | None) -> str | None:
    """Name of the county-level unit of a 6-, 9- or 12-digit code anywhere in China."""
    return divisions().county(code)


def city_name(code: str | None) -> str | None:
    """Name of the city (地级) of a code anywhere in China."""
    return divisions().city(code)


def province_name(code: str | None) -> str | None:
    """Name of the province of a code anywhere in China."""
    return divisions().province(code)
