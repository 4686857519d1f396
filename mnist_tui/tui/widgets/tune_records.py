"""The Tune view's trial records and their table.

A record is a dict: number, state (running/complete/pruned/failed), value (best val accuracy, or the
last reported one while running or pruned), params, run_dir, curve ({epoch: val accuracy}) and
resumed_from (the stopped trial whose run, resumed, finished as this one). Records come from ``tune
--json`` events (this machine's study) and from the storage (every worker's trials, polled in a
thread worker: Optuna is imported there, never at module level).
"""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from ...core.config import TrainConfig
from ...core.formatting import clip, param_text, params_text
from ...core.tune_space import held_out_for_tuning
from .tune_charts import MIN_IMPORTANCE_TRIALS

STATE_STYLE = {"running": "yellow", "complete": "green", "pruned": "dim", "stopped": "yellow", "failed": "red",
               "waiting": "dim"}
ENDED = ("complete", "pruned", "stopped", "failed")
FINAL = ("complete", "pruned")  # states a trial never leaves


class TrialRecords(Message):
    """Trial records for the Tune screen, from the ``tune`` child ("tune") or the storage ("poll");
    ``finished`` carries exited (with its code) or poll_error; ``base``, read from the
    storage, the config the study's trials lay their values over."""

    def __init__(self, records: list[dict[str, Any]], source: str, finished: dict[str, Any] | None = None,
                 base: Any = None):
        super().__init__()
        self.records, self.source, self.finished, self.base = records, source, finished, base


class Importances(Message):
    """Parameter importances of the study (computed in the poll worker), or why there are none."""

    def __init__(self, importances: dict[str, float] | None, complete: int, seconds: float | None,
                 error: str | None = None):
        super().__init__()
        self.importances, self.complete, self.seconds, self.error = importances, complete, seconds, error


def merge_records(trials: dict[int, dict[str, Any]], records: list[dict[str, Any]]) -> None:
    """Lay ``records`` over ``trials`` (by number): known values stay unless replaced, curves add up."""
    for record in records:
        known = trials.setdefault(record["number"], {})
        if known.get("state") in ENDED and record.get("state") == "running":
            continue  # a storage snapshot taken before the trial ended
        if known.get("state") in FINAL and record.get("state") != known["state"]:
            # the same, read between the run's end (its folder let go: "stopped") and Optuna told of it;
            # complete and pruned never change in Optuna (CI saw a finished study show a trial "stopped")
            continue
        for key, value in record.items():
            if key == "curve":
                known.setdefault("curve", {}).update(value)
            elif value is not None or key not in known:
                known[key] = value


def best_trial(trials: dict[int, dict[str, Any]]) -> dict[str, Any] | None:
    """The complete trial with the highest value, or None."""
    complete = [t for t in trials.values() if t.get("state") == "complete" and t.get("value") is not None]
    return max(complete, key=lambda t: t["value"]) if complete else None


def _trials(count: int) -> str:
    return f"{count} trial" if count == 1 else f"{count} trials"


def progress_text(study: str, trials: dict[int, dict[str, Any]], width: int | None = None) -> str:
    """``study S: 5 trials · 1 running · 3 complete · 1 pruned · best 99.12% (#2)``; within ``width``
    (one line at 80 columns) it drops "study", then the total, then shortens the name, so the best stays
    (it said "done" for "complete", and commas, when it was long: walk41 F14)."""
    states = [t.get("state") for t in trials.values()]
    counted = [(states.count(s), s) for s in ("running", "waiting", "complete", "pruned", "stopped", "failed")
               if states.count(s)]
    found = [f"{n} {s}" for n, s in counted]
    best = best_trial(trials)
    tail = f" · best {best['value']:.2%} (#{best['number']})" if best else ""
    text = f"study {study}: " + " · ".join([_trials(len(states)), *found]) + tail
    if width is None or len(text) <= width:
        return text
    short = ": " + " · ".join([_trials(len(states)), *found]) + tail
    if len(study) + len(short) > width and len(found) > 1 and sum(n for n, _ in counted) == len(states):
        # the total is the sum of the counts shown
        short = ": " + " · ".join(found) + tail
    if len(study) + len(short) <= width:
        return study + short
    room = width - len(short) - 1
    return study[:room] + "…" + short if room >= 3 else (study + short)[:width - 1] + "…"


def start_hint(study: str, base: TrainConfig) -> str:
    """What the status says before a study starts: and, for a base that trains on every digit (the best
    preset), what its trials hold out, which the view said only once the study had started (walk32 F1)."""
    held = held_out_for_tuning(base)
    said = "" if held is None else f". Its trials hold out {held:,} training digits for validation"
    return f"study {study}: ctrl+s starts or joins it, Attach watches it{said}"


def poll_error_text(study: str, finished: dict[str, Any], since: str | None = None) -> str:
    """What the status says when the storage could not be read: a storage no driver opens is an error
    (it read "waiting for study…", its reason cut at 120 characters mid-word); else the study is awaited.
    ``since``: the study was read before, and not since then (its server went away)."""
    if since is not None:
        why = clip((finished.get("error") or "the study is gone").splitlines()[0], 100)  # (SQLAlchemy adds SQL)
        return f"study {study}: cannot read the storage since {since} ({why}); the trials as last read"
    if finished.get("fatal"):
        return f"cannot watch study {study}: {finished['error']}"
    return f"waiting for study {study}…" + (f" ({clip(finished['error'], 160)})" if finished.get("error") else "")


def in_view_words(message: str) -> str:
    """A ``tune`` message as the Tune view says it: its fields' names for the CLI's flags ("or another
    --study" means the study field here)."""
    return re.sub(r"--(search|trials|pruner|study|storage)\b", r"\1", message)


def outcome_text(study: str, trials: dict[int, dict[str, Any]], code: int, stderr_tail: Callable[[], str],
                 width: int | None = None) -> tuple[str, bool]:
    """What the status says once ``tune`` has exited with ``code``, and whether that is a failure: the study's
    counts as they read while it ran (the CLI's summary, "3 trials, 0 pruned", left out a stopped trial, and read
    unlike the same study attached to later, walk30 F11).

    Stopped reads as exit 130, or as death by SIGINT itself (before the CLI had taken it over).
    """
    if code in (130, -signal.SIGINT):  # "; stopped" unless a trial says so ("1 stopped; stopped", walk32 F3)
        said = "" if any(t.get("state") == "stopped" for t in trials.values()) else "; stopped"
        return progress_text(study, trials, width and width - len(said)) + said, False
    if code != 0:
        return f"tune exited with code {code}: {in_view_words(stderr_tail())}", True
    return progress_text(study, trials, width), False


class TrialTable(DataTable):
    """A row per trial (number, state, value, then a column per searched field); the best one in bold green.

    No column for the run folder: it is always STUDY-trialNNN (core.tune), enter opens it. A column
    per field, headed by its name, keeps four searched values within 80 columns (one "params"
    column of ``name=value`` ran past the edge) and lines the values up."""

    FIXED = ("#", "state", "val acc")
    BINDINGS = [
        Binding("enter", "select_cursor", "Open its run", show=False),  # (DataTable's read "Select")
        # the first and last trial, as in Runs (DataTable's scroll sideways, which a table this narrow never does)
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
    ]

    def action_first(self) -> None:
        self.move_cursor(row=0)

    def action_last(self) -> None:
        self.move_cursor(row=self.row_count - 1)

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self._columns: tuple[str, ...] = ()
        self._set_columns(self.FIXED)

    def _set_columns(self, columns: tuple[str, ...]) -> None:
        if columns != self._columns:
            self.clear(columns=True)
            for name in columns:
                self.add_column(name, key=name)
            self._columns = columns

    def show_trials(self, trials: dict[int, dict[str, Any]], best: dict[str, Any] | None,
                    base: TrainConfig | None = None) -> None:
        """``base``: the study's config, whose value (dim) a trial that did not search a field trained with; the
        cell read "-" (walk37 F6)."""
        row = self.cursor_row
        # the searched fields in the order first seen (trials from elsewhere may have searched others)
        names = tuple(dict.fromkeys(name for n in sorted(trials) for name in trials[n].get("params") or {}))
        resumed = any(t.get("resumed_from") is not None for t in trials.values())
        self._set_columns((*self.FIXED, *names, *(("note",) if resumed else ())))
        self.clear()
        for number in sorted(trials):
            t = trials[number]
            style = "bold green" if t is best else ""
            value = "-" if t.get("value") is None else f"{t['value']:.2%}"
            shown = f"run {t['done']:.0%}" if t.get("state") == "running" and t.get("done") is not None else None
            state = Text(shown or t.get("state", "?"), style=style or STATE_STYLE.get(t.get("state", ""), ""))
            params = t.get("params") or {}
            cells = [Text(param_text(params[name]), style=style) if name in params else
                     Text(param_text(getattr(base, name)), style="dim") if hasattr(base, name) else Text("-")
                     for name in names]
            note = [Text(_resumed(t).strip(" ()"), style=style)] if resumed else []
            self.add_row(Text(str(number), style=style), state, Text(value, style=style), *cells, *note, key=str(number))
        if trials:
            self.move_cursor(row=min(row, len(trials) - 1))


def _resumed(trial: dict[str, Any]) -> str:
    """`` (resumed #3)``: this trial is trial 3's run, stopped and then finished from Runs (core.tune_rejoin)."""
    return "" if trial.get("resumed_from") is None else f" (resumed #{trial['resumed_from']})"


def row_from_event(record: dict[str, Any]) -> dict[str, Any]:
    """A table row from one ``tune --json`` event (trial_started, trial_epoch, trial_progress, trial_ended)."""
    kind = record["event"]
    row: dict[str, Any] = {"number": record["number"]}
    if kind == "trial_started":
        row.update(state="running", params=record["params"], run_dir=record["run_dir"])
    elif kind == "trial_epoch":
        row.update(state="running", value=record["val_accuracy"], curve={record["epoch"]: record["val_accuracy"]})
    elif kind == "trial_progress":  # how far it has trained (a 1-epoch trial read "running" to its end, walk32 F2)
        row.update(state="running", done=record["done"])
    else:
        row.update(state=record["state"], value=record["value"], params=record["params"], run_dir=record["run_dir"])
    return row


def poll_trials(storage: str, study: str) -> tuple[list[dict[str, Any]], Any]:
    """Every trial of ``study`` in ``storage`` as table rows, and the loaded study (Optuna imported here,
    in the caller's thread). KeyError when there is no such study, its text the studies there are."""
    from ...core.storage_url import storage_file, storage_problem
    from ...core.tune_storage import TuneError, open_storage, trial_state

    import optuna

    if (problem := storage_problem(storage)) is not None:  # a missing folder: it waited for the study for ever
        raise TuneError(problem)
    if (path := storage_file(storage)) is not None and not path.is_file():
        raise KeyError("")  # no study there yet (nothing is made by looking: a starting `tune` makes it)
    opened = open_storage(storage)
    try:
        loaded = optuna.load_study(study_name=study, storage=opened)
    except KeyError:  # not yet, or a name typed wrong: say which the storage holds
        names = sorted(optuna.get_all_study_names(opened))
        raise KeyError(f"this storage holds {', '.join(names)}" if names else "") from None
    rows = []
    for trial in loaded.get_trials(deepcopy=False):
        state = trial_state(trial)  # as tune's summary counts it
        value = trial.value
        if value is None and trial.intermediate_values:
            value = trial.intermediate_values[max(trial.intermediate_values)]
        rows.append({"number": trial.number, "state": state, "value": value, "params": dict(trial.params),
                     "run_dir": trial.user_attrs.get("run_dir"), "curve": dict(trial.intermediate_values),
                     "resumed_from": trial.user_attrs.get("resumed_from")})
    return rows, loaded


def watch_storage(storage: str, study: str, stop: threading.Event, every: float,
                  post: Callable[[Message], Any]) -> None:
    """Read ``study`` every ``every`` s until ``stop`` (in a worker thread): its trials, its importances when the
    complete ones change, or why it could not be read, each ``post``ed as a message."""
    importance_done = -1  # complete trials the last importances were computed over
    while not stop.is_set():
        try:
            records, loaded = poll_trials(storage, study)
        except Exception as exc:  # noqa: BLE001 - no study yet (KeyError: Optuna's "Record does not exist.", a
            # starting one is created soon), or the storage is unreachable: say so, retry
            from ...core.tune_storage import TuneError  # imported by poll_trials already, in this thread
            fatal = isinstance(exc, TuneError)  # a URL no driver opens: retrying changes nothing
            post(TrialRecords([], "poll", finished={"event": "poll_error", "fatal": fatal, "error": (
                exc.args[0] if isinstance(exc, KeyError) else str(exc))}))  # (a KeyError's: the studies there)
            if fatal:
                return
        else:
            from ...core.tune_storage import study_base

            post(TrialRecords(records, "poll", base=study_base(loaded)))
            complete = sum(1 for r in records if r["state"] == "complete")
            if complete != importance_done:
                importance_done = complete
                post(Importances(*study_importances(loaded, complete)))
        stop.wait(every)


def study_importances(study: Any, complete: int) -> tuple[dict[str, float] | None, int, float | None, str | None]:
    """(importances, complete trials, seconds, error) of ``study``: Optuna's default evaluator (PED-ANOVA),
    only once MIN_IMPORTANCE_TRIALS trials are complete."""
    if complete < MIN_IMPORTANCE_TRIALS:
        return None, complete, None, None
    import optuna

    started = time.perf_counter()
    try:
        importances = optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError) as exc:  # e.g. a single parameter value across all trials
        return None, complete, None, str(exc)
    return dict(importances), complete, time.perf_counter() - started, None


__all__ = ["Importances", "TrialRecords", "TrialTable", "best_trial", "merge_records", "outcome_text", "params_text",
           "poll_error_text", "poll_trials", "progress_text", "row_from_event", "study_importances", "watch_storage"]
