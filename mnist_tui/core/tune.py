"""Hyperparameter search on Optuna: each trial is an ordinary run, trained in a worker child process.

``Tuner(...).run()`` yields typed events (a trial started, reported an epoch, ended;
the study finished). The objective is the best validation accuracy (never the test
set); every epoch is reported to the pruner, and a pruned trial is stopped like any
run (last.pt saved) and told to Optuna as PRUNED. Each trial's run folder holds a
``tune.json`` naming its study, trial number and storage.

Storage: any Optuna RDB URL (``sqlite:///...``, ``postgresql://...``) or
``journal:PATH`` for Optuna's journal file (a shared filesystem). Workers given the
same study name and storage join one study. Optuna is imported only here, lazily by
the commands, so ``mnist-tui --help`` stays fast.

Each job keeps one worker child (core/tune_worker.py) for trial after trial, so the
process start, the torch import and the data load are paid once per job, not per trial.

Stopping (``stop()``, Ctrl+C in the CLI): running trials are stopped (last.pt saved,
resumable with ``train --resume``) and marked FAIL with the user attribute
``stopped = "interrupted"`` (shown as "stopped", not "failed"): an interrupted trial says nothing about its parameters,
so the sampler and the pruner must not learn from it. No new trial starts. Its run resumed
to its end later joins the study as a new COMPLETE trial (core.tune_rejoin).
"""

from __future__ import annotations

import collections
import json
import os
import queue
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import optuna
from optuna.trial import TrialState

from .atomic import DISK_FULL
from .config import TrainConfig, checked, validate
from .events import EpochEnd, Event, Failed, Finished, RunStarted, StepMetrics, Stopped
from .process import TrainingProcessError
from .runs import write_text_atomic
from .storage_url import default_storage
from .tune_space import PRUNERS, Param, apply, base_mismatch, space_mismatch, tune_problem
from .tune_storage import (BASE_ATTR, TuneError, failure, load_or_create_study, make_pruner, open_storage, redact,
                           trial_state)
from .tune_worker import TrialWorker


@dataclass(frozen=True)
class TrialStarted(Event):
    kind: ClassVar[str] = "trial_started"
    number: int
    params: dict[str, Any]
    run_dir: str


@dataclass(frozen=True)
class TrialEpoch(Event):
    kind: ClassVar[str] = "trial_epoch"
    number: int
    epoch: int
    epochs: int
    val_accuracy: float | None


@dataclass(frozen=True)
class TrialProgress(Event):
    """How far a running trial is, at most every PROGRESS_SECONDS (a 1-epoch trial said nothing until its end)."""

    kind: ClassVar[str] = "trial_progress"
    number: int
    done: float  # the fraction of its steps trained, 0-1


PROGRESS_SECONDS = 2.0


@dataclass(frozen=True)
class TrialEnded(Event):
    kind: ClassVar[str] = "trial_ended"
    number: int
    state: str  # "complete", "pruned", "stopped" (interrupted by the user, last.pt saved) or "failed"
    value: float | None  # best validation accuracy (last reported one when pruned)
    params: dict[str, Any]
    minutes: float
    run_dir: str | None
    reason: str = ""  # why it failed or was pruned


@dataclass(frozen=True)
class StudyFinished(Event):
    kind: ClassVar[str] = "study_finished"
    study: str
    storage: str
    best_value: float | None
    best_params: dict[str, Any]
    best_run_dir: str | None
    best_trial: int | None
    best_config: dict[str, Any] | None
    trials: int  # finished trials in the study, every worker's
    pruned: int
    failed: int  # trials that failed, not the ones stopped by the user
    stopped: int  # trials interrupted by a stop (resumable); Optuna's state for them is FAIL
    run_here: int  # trials this worker ran
    interrupted: bool  # stopped by the user (Ctrl+C, Stop, a closed output)
    minutes: float
    error: str = ""  # why the study stopped by itself (the storage failed, another worker's space), else ""


class Tuner:
    """One worker of a study: runs up to ``trials`` trials, ``jobs`` at a time, in ``jobs`` child processes."""

    def __init__(self, base: TrainConfig, space: list[Param], *, checkpoints_dir: str | Path,
                 data_dir: str | Path | None, study: str, storage: str | None = None, pruner: str = "median",
                 trials: int = 20, timeout_s: float | None = None, jobs: int = 1, sampler_seed: int | None = None):
        if problem := tune_problem(base, space, trials=trials, jobs=jobs, timeout_s=timeout_s, pruner=pruner,
                                   sampler_seed=sampler_seed):
            raise TuneError(problem)
        self.base = checked(base)
        self.space = space
        self.checkpoints_dir = Path(checkpoints_dir)
        self.data_dir = data_dir
        self.study_name = study
        self.storage_url = storage or default_storage(self.checkpoints_dir)
        self.pruner_name = pruner
        self.trials = trials
        self.timeout_s = timeout_s
        self.jobs = jobs
        self.sampler_seed = sampler_seed
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._claimed = 0
        self._error = ""
        self.notes: list[str] = []  # what a person should know about the study joined (open() fills it)
        self._workers: set[TrialWorker] = set()
        self._study: optuna.Study | None = None  # opened early by open(), else by run()

    def stop(self) -> None:
        """Stop the running trials (saved, marked failed/interrupted) and start no more. Thread-safe."""
        self._stop.set()
        with self._lock:
            for worker in list(self._workers):
                worker.stop()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def open_study(self) -> optuna.Study:
        """Join or create the study; refused if it was started with other fixed values (see base_mismatch)."""
        sampler = optuna.samplers.TPESampler(seed=self.sampler_seed)
        study = load_or_create_study(self.study_name, self.storage_url,
                                     make_pruner(self.pruner_name, self.base.epochs), sampler)
        stored = study.user_attrs.get(BASE_ATTR)
        if stored is None:  # a new study (or one from before this check): its base from now on
            study.set_user_attr(BASE_ATTR, self.base.to_dict())
        elif problem := base_mismatch(stored, self.base, {p.name for p in self.space}):
            raise TuneError(f"study {self.study_name!r} tunes another config ({problem}): "
                            "give the same settings, or another --study")
        recorded: dict[str, Any] = {}
        for trial in study.get_trials(deepcopy=False):
            for name, distribution in trial.distributions.items():
                recorded.setdefault(name, distribution)
        if problem := space_mismatch(recorded, self.space):
            raise TuneError(f"study {self.study_name!r} searched another space ({problem}): "
                            "give the same --search, or another --study")
        searched = [p.name for p in self.space]
        if recorded and set(recorded) != set(searched):  # Optuna mixes them; one sweep spread over machines rarely does
            fixed = ", ".join(f"{name} fixed at {getattr(self.base, name)}" for name in recorded
                              if name not in searched)
            self.notes.append(f"study {self.study_name!r} searched {', '.join(recorded)}; this worker searches "
                              f"{', '.join(searched)}" + (f" ({fixed})" if fixed else ""))
        return study

    def open(self) -> None:
        """Join or create the study now (a refusal raises TuneError here, before a caller says it started)."""
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if self._study is None:
            self.checkpoints_dir.mkdir(parents=True, exist_ok=True)  # the default tune.db is made there
            self._study = self.open_study()

    def run(self) -> Iterator[Event]:
        """Run the trials, yielding TrialStarted/TrialEpoch/TrialEnded and, last, StudyFinished."""
        self.open()
        study = self._study
        started = time.monotonic()
        events: queue.Queue[Event | None] = queue.Queue()
        threads = [threading.Thread(target=self._worker, args=(study, events, started), name=f"trial-{i}",
                                    daemon=True) for i in range(self.jobs)]
        for thread in threads:
            thread.start()
        running, ended = len(threads), []
        while running:
            event = events.get()
            if event is None:
                running -= 1
            else:
                ended += [event] if isinstance(event, TrialEnded) else []
                yield event
        yield self._summary(study, started, ended)

    def _claim(self, started: float) -> bool:
        with self._lock:
            out_of_time = self.timeout_s is not None and time.monotonic() - started >= self.timeout_s
            if self._stop.is_set() or out_of_time or self._claimed >= self.trials:
                return False
            self._claimed += 1
            return True

    def _worker(self, study: optuna.Study, events: queue.Queue, started: float) -> None:
        worker: TrialWorker | None = None  # one child per job, reused trial after trial
        try:
            while self._claim(started):
                if worker is None or worker.broken:
                    if worker is not None:
                        self._drop(worker)
                    worker = TrialWorker(data_dir=self.data_dir, dataset=self.base.dataset,
                                         checkpoints_dir=self.checkpoints_dir)
                    with self._lock:
                        self._workers.add(worker)
                self._run_trial(study, events, worker)
        except Exception as exc:  # noqa: BLE001 - a storage failure ends the study, which says why: it was a
            # trial -1 "failed", then "interrupted" and exit 130 as if someone had pressed Ctrl+C
            with self._lock:
                self._error = self._error or failure(exc)
            self.stop()
        finally:
            if worker is not None:
                self._drop(worker)
            events.put(None)

    def _drop(self, worker: TrialWorker) -> None:
        with self._lock:
            self._workers.discard(worker)
        worker.close()

    def _run_trial(self, study: optuna.Study, events: queue.Queue, worker: TrialWorker) -> None:
        trial = study.ask()
        begun = time.monotonic()
        params = {p.name: p.suggest(trial) for p in self.space}
        trial.set_user_attr("host", socket.gethostname())

        def end(state: TrialState, label: str, value: float | None, run_dir: str | None, reason: str = "") -> None:
            if reason:
                trial.set_user_attr("reason", reason)
            study.tell(trial, value if state == TrialState.COMPLETE else None, state=state)
            events.put(TrialEnded(trial.number, label, value, params, (time.monotonic() - begun) / 60, run_dir,
                                  reason))

        config = apply(self.base, params)
        if self.jobs > 1 and not self.base.threads:  # share the cores between the trials running at once
            config = config.replace(threads=max(1, (os.cpu_count() or 1) // self.jobs))
        errors = validate(config)
        if errors:  # a combination the config refuses (each value alone was checked)
            end(TrialState.FAIL, "failed", None, None, "; ".join(errors.values()))
            return
        if self._stop.is_set():
            worker.stop()
        run_dir: str | None = None
        pruned_at: int | None = None
        last_value: float | None = None
        outcome: tuple[TrialState, str, float | None, str] | None = None
        said_at = time.monotonic()
        try:
            for event in worker.trial(config, self._run_name(trial.number)):
                if isinstance(event, StepMetrics):
                    if time.monotonic() - said_at >= PROGRESS_SECONDS:  # (walk32 F2: "running" for 2 minutes)
                        said_at = time.monotonic()
                        done = event.global_step / (event.steps_per_epoch * config.epochs)
                        events.put(TrialProgress(trial.number, round(min(done, 1.0), 4)))
                elif isinstance(event, RunStarted):
                    run_dir = event.run_dir
                    trial.set_user_attr("run_dir", run_dir)
                    self._tag(Path(run_dir), trial.number, params)
                    events.put(TrialStarted(trial.number, params, run_dir))
                elif isinstance(event, EpochEnd):
                    events.put(TrialEpoch(trial.number, event.epoch, event.epochs, event.val_accuracy))
                    prune = False
                    if event.val_accuracy is not None and pruned_at is None:
                        last_value = event.val_accuracy
                        trial.report(event.val_accuracy, event.epoch)
                        prune = event.epoch < event.epochs and trial.should_prune()
                    if prune:
                        pruned_at = event.epoch
                    if event.epoch < event.epochs:  # the child waits for this before its next epoch
                        worker.verdict(event.epoch, go_on=not prune)
                elif isinstance(event, Stopped) or (isinstance(event, Finished) and pruned_at is not None):
                    if pruned_at is not None:  # stopped at the epoch boundary, like a stopped run
                        if run_dir is not None:  # Runs and `runs` say pruned, not stopped
                            self._tag(Path(run_dir), trial.number, params, pruned_after=pruned_at)
                        outcome = (TrialState.PRUNED, "pruned", last_value,
                                   f"pruned after epoch {pruned_at} (val accuracy {100 * last_value:.2f}%)")
                    else:
                        trial.set_user_attr("stopped", "interrupted")
                        outcome = (TrialState.FAIL, "stopped", None,
                                   "interrupted (last.pt saved; train --resume continues it)")
                elif isinstance(event, Finished):
                    outcome = (TrialState.COMPLETE, "complete", event.best_val_accuracy, "")
                elif isinstance(event, Failed):
                    outcome = (TrialState.FAIL, "failed", None, event.reason)
                    if event.reason.startswith(DISK_FULL):  # not the trial's values: no more trials start
                        with self._lock:
                            self._error = self._error or f"{event.reason}: free some space, then tune again"
                        self.stop()
            # read to the worker's "done", so its next trial starts clean
            state, label, value, reason = outcome or (TrialState.FAIL, "failed", None, "the run ended without a result")
            end(state, label, value, run_dir, reason)
        except TrainingProcessError as exc:
            end(TrialState.FAIL, "failed", None, run_dir, str(exc))

    def _run_name(self, number: int) -> str | None:
        """``<study>-trial007``, so the Runs view groups a study's runs; None (model-date-time) if taken."""
        name = (re.sub(r"[^A-Za-z0-9._-]", "-", self.study_name).lstrip(".-")[:80] or "study") + f"-trial{number:03d}"
        return None if (self.checkpoints_dir / name).exists() else name

    def _tag(self, run_dir: Path, number: int, params: dict[str, Any], **more: Any) -> None:
        tag = {"study": self.study_name, "trial": number, "storage": redact(self.storage_url),
               "params": {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}, **more}
        write_text_atomic(run_dir / "tune.json", json.dumps(tag, indent=2))

    def _summary(self, study: optuna.Study, started: float, ended: list[TrialEnded]) -> StudyFinished:
        """The study's finished trials, every worker's; this worker's own if the storage cannot be read."""
        try:
            trials = [TrialEnded(t.number, state, t.value, t.params, 0, t.user_attrs.get("run_dir"))
                      for t in study.get_trials(deepcopy=False)  # those that killed workers left running too
                      if (state := trial_state(t)) in ("complete", "pruned", "failed", "stopped")]
        except Exception as exc:  # noqa: BLE001 - the server went away: said once, as the study's error
            self._error, trials = self._error or failure(exc), ended
        best = max((t for t in trials if t.state == "complete"), key=lambda t: t.value, default=None)
        count = collections.Counter(t.state for t in trials)
        return StudyFinished(
            self.study_name, redact(self.storage_url), best and best.value, dict(best.params) if best else {},
            best and best.run_dir, best and best.number, apply(self.base, best.params).to_dict() if best else None,
            len(trials), count["pruned"], count["failed"], count["stopped"], self._claimed,
            self._stop.is_set() and not self._error, (time.monotonic() - started) / 60, self._error,
        )


__all__ = [
    "PRUNERS", "StudyFinished", "TrialEnded", "TrialEpoch", "TrialStarted", "TuneError", "Tuner", "default_storage",
    "load_or_create_study", "open_storage", "redact",
]
