"""Which run names are allowed: one rule for the CLI, the app and the run folder code.

A run name becomes a folder under the checkpoints folder, so it must not leave
it (``..``, ``/``, absolute paths), hide from ``runs`` (a leading ``.``), or
trip the shell or the file system (spaces, very long names).
"""

from __future__ import annotations

import re

MAX_RUN_NAME = 100
RUN_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


def check_run_name(name: str) -> str | None:
    """Why ``name`` cannot name a run folder, as one line for the user; None when it can."""
    if not isinstance(name, str) or not name:
        return "run name must not be empty"
    if len(name) > MAX_RUN_NAME:
        return f"run name is {len(name)} characters long; at most {MAX_RUN_NAME}"
    if not RUN_NAME.fullmatch(name):
        return (f"run name {name!r} may hold only letters, digits, '.', '_' and '-', "
                "and must not start with '.'")
    return None
