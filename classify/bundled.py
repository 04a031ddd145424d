"""Where the bundled demo data lives.

In a checkout (or an editable install) it is the repository's ``data/`` folder; a
regular install puts the same files under ``<prefix>/share/towntype/data``.  The
environment variable ``TOWNTYPE_DATA`` overrides both.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from geo.errors import InputError

__all__ = ["data_dir", "DEMO"]

#: Files of the bundled demo region (relative to the data folder).
DEMO = {
    "boundaries": "boundaries/qingyuan_towns.geojson",
    "counties": "boundaries/qingyuan_counties.geojson",
    "indicators": "indicators/qingyuan_towns_demo.csv",
}

_MARK = DEMO["boundaries"]


def data_dir() -> Path:
    """The folder holding ``boundaries/`` and ``indicators/`` of the bundled demo."""
    env = os.environ.get("TOWNTYPE_DATA")
    candidates = [Path(env)] if env else []
    candidates += [Path(__file__).resolve().parent.parent / "data",
                   Path(sys.prefix) / "share" / "towntype" / "data"]
    for folder in candidates:
        if (folder / _MARK).is_file():
            return folder
    raise InputError(
        "the bundled demo data was not found (looked in: "
        + ", ".join(str(c) for c in candidates)
        + "); set TOWNTYPE_DATA to the project's data/ folder, or reinstall towntype",
        path=candidates[0] / _MARK,
    )
