"""Where a study lives: opening its Optuna storage (an RDB URL or a journal file), joining or creating the
study when several workers start at once, reading its trials' states, and saying what went wrong in one line."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import optuna

from .config import TrainConfig
from .storage_url import storage_file, storage_problem
from .tune_space import PRUNERS

BASE_ATTR = "base_config"  # the study's user attribute: the config its trials lay their values over

CREATE_RETRIES = 8


class TuneError(ValueError):
    """Bad tuning settings (storage URL, pruner, counts): printed as one line, exit 2."""


def redact(url: str) -> str:
    """The storage URL without its password (it goes into tune.json and the output)."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


def open_storage(url: str):
    """An Optuna storage for ``url``: ``journal:PATH`` is a journal file, anything else an RDB URL."""
    if (problem := storage_problem(url)) is not None:
        raise TuneError(problem)
    path = storage_file(url)
    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        return JournalStorage(JournalFileBackend(str(path)))
    kwargs: dict[str, Any] = {}
    if url.startswith(("postgresql://", "postgres://")):
        # name the driver the postgres extra installs (SQLAlchemy before 2.1 would look for psycopg2)
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite"):
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}  # several workers write one file
    import sqlalchemy.exc

    try:
        return optuna.storages.RDBStorage(url, **kwargs)
    except ImportError as exc:
        hint = " (pip install 'mnist-tui[postgres]')" if url.startswith("postgres") else ""
        raise TuneError(f"cannot open {redact(url)}: {exc}{hint}") from None
    except sqlalchemy.exc.ArgumentError:  # an unknown scheme (NoSuchModuleError) or a malformed URL
        raise TuneError(f"cannot open {redact(url)}: no database driver for {url.split(':', 1)[0]!r}; --storage "
                        "takes sqlite:///FILE, postgresql://USER@HOST/DB or journal:PATH") from None


def make_pruner(name: str, epochs: int):
    if name == "median":
        # prune from epoch 1 once 3 trials have finished: the first epoch already ranks MNIST runs well
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(epochs, 1), reduction_factor=3)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise TuneError(f"--pruner must be one of {', '.join(PRUNERS)}, got {name!r}")


def load_or_create_study(name: str, storage_url: str, pruner, sampler=None) -> optuna.Study:
    """Join study ``name`` or create it; two workers starting at once both end up in one study.

    Creating the tables or the study can race between processes (IntegrityError,
    DuplicatedStudyError, "table already exists": an OperationalError on SQLite, a
    ProgrammingError on PostgreSQL); the loser retries and loads.
    """
    import sqlalchemy.exc

    last: Exception | None = None
    for attempt in range(CREATE_RETRIES):
        try:
            storage = open_storage(storage_url)
            return optuna.create_study(study_name=name, storage=storage, direction="maximize", pruner=pruner,
                                       sampler=sampler, load_if_exists=True)
        except (optuna.exceptions.DuplicatedStudyError, sqlalchemy.exc.IntegrityError,
                sqlalchemy.exc.OperationalError, sqlalchemy.exc.ProgrammingError) as exc:
            last = exc
            time.sleep(0.1 * (attempt + 1))
        except (sqlalchemy.exc.DatabaseError, OSError) as exc:  # not a database, a folder as journal: for good
            last = exc
            break
    reason = next(iter(str(last).splitlines()), "")  # sqlalchemy adds a hint and a link on lines of their own
    raise TuneError(f"could not create or load study {name!r} in {redact(storage_url)}: {reason}")


def trial_state(trial: Any) -> str:
    """A trial as tune's summary and the Tune view say it: complete, pruned, failed, running, waiting, or stopped:
    by the user (last.pt saved; FAIL to Optuna, so nothing learns from it), or left running by a ``tune`` that was
    killed (its run folder, here, held by no process: no worker will ever end it; failed if it saved nothing)."""
    from .run_lock import owner

    state = {"RUNNING": "running", "COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed",
             "WAITING": "waiting"}.get(trial.state.name, trial.state.name.lower())
    run_dir = trial.user_attrs.get("run_dir")
    if state == "failed" and trial.user_attrs.get("stopped") == "interrupted":
        return "stopped"
    if state == "running" and run_dir is not None and Path(run_dir).is_dir() and owner(Path(run_dir)) is None:
        return "stopped" if (Path(run_dir) / "last.pt").is_file() else "failed"
    return state


def failure(exc: BaseException) -> str:
    """What went wrong, from the first cause (as a traceback would show it last): Optuna wraps a lost server as
    "invalid data in the commit"."""
    while (cause := exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)) is not None:
        exc = cause
    return f"{type(exc).__name__}: " + (str(exc).strip().splitlines() or [""])[0]


def study_base(study: Any) -> TrainConfig | None:
    """The config a study's trials lay their searched values over (its first worker's), or None if unreadable."""
    from .runs import config_from_dict

    try:
        return config_from_dict(study.user_attrs.get(BASE_ATTR), f"study {study.study_name}")
    except ValueError:
        return None


__all__ = ["BASE_ATTR", "TuneError", "failure", "load_or_create_study", "make_pruner", "open_storage", "redact",
           "study_base", "trial_state"]
