"""Errors of the analytic side."""

from __future__ import annotations

from pathlib import Path

from geo.errors import TowntypeError

__all__ = ["ConfigError"]


class ConfigError(TowntypeError, ValueError):
    """A configuration (indicator system, taxonomy, rules) the tool cannot use.

    The message names the config key (e.g. ``indicators.gdp.weight``) and the file.
    """

    def __init__(self, message: str, *, key: str | None = None, path: str | Path | None = None):
        self.key = key
        self.path = None if path is None else str(path)
        self.message = message
        where = [p for p in (self.path, key and f"key {key!r}") if p]
        super().__init__(f"{', '.join(where)}: {message}" if where else message)
