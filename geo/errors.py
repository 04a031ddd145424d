"""Errors and warnings of the spatial side.

Every error about user input names the file, the row / column / feature, what was found
and how to fix it (the flag or config key).  ``str(err)`` gives the whole message.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

__all__ = ["TowntypeError", "InputError", "InputWarning", "DatumWarning", "command_status"]


class TowntypeError(Exception):
    """Base class of every error towntype raises on purpose."""


class InputError(TowntypeError, ValueError):
    """A problem with an input file that the user can fix.

    Parameters
    ----------
    message : str
        What was found and how to fix it.
    path, row, column, feature : optional
        Where it was found; each one given is prefixed to the message.
    """

    def __init__(self, message: str, *, path: str | Path | None = None, row=None,
                 column=None, feature=None):
        self.path = None if path is None else str(path)
        self.row, self.column, self.feature = row, column, feature
        where = [text for value, text in ((self.path, self.path), (row, f"row {row}"),
                                          (column, f"column {column!r}"),
                                          (feature, f"feature {feature}")) if value is not None]
        self.message = message
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class InputWarning(UserWarning):
    """Something in an input was handled, and the user should know how."""


class DatumWarning(InputWarning):
    """The coordinates look like a shifted Chinese web datum (GCJ-02 / BD-09)."""


def command_status(prog: str, run: Callable[[], dict]) -> int:
    """The exit status of a module's command line (``python -m geo.approximate`` …):
    ``run()``'s summary printed ``key: value`` a line, 0; a :class:`TowntypeError` or a
    file that cannot be read or written (``OSError``: missing, locked, no permission)
    printed as ``prog: error: …`` on stderr, 2."""
    try:
        summary = run()
    except TowntypeError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        where = f"{err.filename}: " if err.filename else ""
        print(f"{prog}: error: {where}{err.strerror or err}", file=sys.stderr)
        return 2
    for key, value in summary.items():
        print(f"{key}: {value}")
    return 0
