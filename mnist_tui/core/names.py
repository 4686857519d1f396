"""Which run names are allowed: one rule for the CLI, the app and the run folder code.

A run name becomes a folder under the checkpoints folder, so it must not leave
it (``..``, ``/``, absolute paths), hide from ``runs`` (a leading ``.``), read as
a flag (a leading ``-``), or trip the shell or the file system (spaces, very long names).
"""

from __future__ import annotations

import re

MAX_RUN_NAME = 100
RUN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")


def check_run_name(name: str) -> str | None:
    """Why ``name`` cannot name a run folder, as one line for the user; None when it can."""
    if not isinstance(name, str) or not name:
        return "run name must not be empty"
    if len(name) > MAX_RUN_NAME:
        return f"run name is {len(name)} characters long; at most {MAX_RUN_NAME}"
    if name.startswith("."):
        return "run name must not start with '.'"
    if name.startswith("-"):
        return "run name must not start with '-' (a command would read it as a flag)"
    if not RUN_NAME.fullmatch(name):  # which characters, short enough for the app's one status line
        bad = " and ".join(repr(c) for c in dict.fromkeys(c for c in name if not RUN_NAME.fullmatch("a" + c)))
        return f"run name: {bad} not allowed; use A-Z a-z 0-9 . _ -"
    return None
