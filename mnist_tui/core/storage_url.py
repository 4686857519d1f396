"""Where a study lives, checked before Optuna opens it: an RDB URL (sqlite:///FILE, postgresql://...) or
``journal:PATH``. Cheap (no Optuna, no SQLAlchemy): the Tune form checks its storage field as it is typed."""

from __future__ import annotations

import json
from pathlib import Path


def default_storage(checkpoints_dir: str | Path) -> str:
    """Where a study lives unless told: ``tune.db`` beside the runs."""
    return f"sqlite:///{Path(checkpoints_dir).resolve() / 'tune.db'}"


def storage_problem(url: str) -> str | None:
    """Why ``url`` is not a storage (an Optuna RDB URL or ``journal:PATH`` whose file's folder exists), or None."""
    if url == "journal:":
        return "journal storage needs a path: journal:/shared/folder/tune.log"
    if not url.startswith("journal:") and "://" not in url:
        return (f"--storage takes an Optuna URL (sqlite:///tune.db, postgresql://user@host/db) "
                f"or journal:PATH, got {url!r}")
    if url.startswith("sqlite") and url.partition(":///")[2] in ("", ":memory:"):  # "no such table" once a
        # trial ran (walk38 F6): each process would have a database of its own, gone when it ends
        return f"cannot keep a study in {url}: give a file, as in sqlite:///tune.db"
    folder = path.parent if (path := storage_file(url)) is not None else None
    if folder is not None and not folder.is_dir():  # a typo is refused, not made into folders
        kind = "is not a folder" if folder.exists() else "does not exist"
        return f"cannot open {url}: its folder {folder} {kind}"
    return _journal_problem(path) if url.startswith("journal:") else None


def _journal_problem(path: Path) -> str | None:
    """Why the file at ``path`` cannot be a journal: one that is there must begin as Optuna's do (a user's notes
    got a line appended, then a traceback; an SQLite file a traceback, walk38 F1)."""
    try:
        with path.open("rb") as fh:
            first = fh.readline(1 << 16)
    except FileNotFoundError:
        return None  # a new journal
    except OSError as exc:
        return f"cannot open journal:{path}: {(exc.strerror or str(exc)).lower()}"
    try:
        record = json.loads(first) if first.strip() else {"op_code": 0}  # empty: a new journal too
    except ValueError:  # (UnicodeDecodeError too)
        record = None
    if not isinstance(record, dict) or "op_code" not in record:
        return f"{path} is not an Optuna journal: give a new file's name, or a journal that tune wrote"
    return None


def storage_file(url: str) -> Path | None:
    """The local file an SQLite or journal storage keeps its studies in; None for a server or SQLite in memory."""
    if url.startswith("journal:"):
        return Path(url[len("journal:"):]).expanduser()
    db = url.split(":///", 1)[1] if url.startswith("sqlite") and ":///" in url else ""
    return Path(db).expanduser() if db and db != ":memory:" else None


__all__ = ["default_storage", "storage_file", "storage_problem"]
