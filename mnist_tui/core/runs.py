"""Run folders, read and written without torch (their record files: ``records.py``).

A run is ``<checkpoints>/<run-name>/`` holding ``config.json``, ``metrics.jsonl``
(one line per epoch), ``result.json`` (test metrics, once finished),
``misclassified.pt`` (the test evaluation the views show), ``last.pt`` and
``best.pt``. The torch side (saving and loading checkpoints) is ``checkpoints.py``.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from . import run_lock
from .atomic import (  # noqa: F401 - re-exported: callers import these from runs
    CheckpointError, DamagedFile, DiskFull, file_mode, sync_folder, write_atomic, write_bytes_atomic, write_text_atomic,
)
from .config import TrainConfig, validate
from .names import check_run_name
from .records import (  # noqa: F401 - re-exported: callers read and append a run's records through runs
    _epoch, _number, append_event, append_metrics, append_points, read_lr_changes, read_metrics,
    read_metrics_and_steering, read_points, read_result, rewrite_after, steered_factor,
)
from .run_lock import RunBusy, RunLock

DEFAULT_CHECKPOINTS = Path("checkpoints")
CHECKPOINT_FILES = ("best.pt", "last.pt")
DEFAULT_MODEL_RUN = "strong-pretrained"  # the model shipped in checkpoints/
REPO_CHECKPOINTS = Path(__file__).resolve().parents[2] / "checkpoints"
SHIPPED_RUNS = ("fast-pretrained", DEFAULT_MODEL_RUN)  # in REPO_CHECKPOINTS: trained on only as a copy


def is_shipped(run_dir: Path) -> bool:
    """Whether ``run_dir`` is one of the runs shipped in the source tree's checkpoints folder."""
    run_dir = Path(run_dir).resolve()
    return run_dir.parent == REPO_CHECKPOINTS and run_dir.name in SHIPPED_RUNS
# the files a training process writes (their temp files, left by a kill, are removed by the next one)
TRAINER_FILES = ("config.json", "metrics.jsonl", "points.jsonl", "result.json", "misclassified.pt", "schedule.json",
                 *CHECKPOINT_FILES)
SCHEDULE_FILE = "schedule.json"  # a run trained more epochs: each schedule's epochs ({"epochs": [3, 2]})
EXPORT_FILES = ("model.onnx", "model.torchscript.pt")  # `export`'s default files: the weights they were made of
# all a run folder without a checkpoint may hold to be reused by the next run of its name: what a run killed
# before its first save leaves, or a finished run whose checkpoints were deleted (nothing else is lost)
NO_CHECKPOINT_FILES = {"config.json", "metrics.jsonl", "points.jsonl", "failed.json", "tune.json", "result.json",
                       "misclassified.pt", run_lock.LOCK_FILE}


def _no_checkpoint_files(path: Path) -> list[Path]:
    """The files of a run folder without a checkpoint, to remove before reusing it; raise if it holds more."""
    entries = sorted(path.iterdir())
    if any(entry.name in CHECKPOINT_FILES for entry in entries):
        raise CheckpointError(f"{path} already exists; pick another --run-name or --resume it")
    if others := [entry.name for entry in entries if not (_written_by_us(entry.name) and entry.is_file())]:
        names = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        raise CheckpointError(f"{path} already exists and holds files of its own ({names}); "
                              "pick another --run-name")
    return entries


def _written_by_us(name: str) -> bool:
    """A run folder's file that training or the views write: its files, a kill's temp files, and the
    views' caches of a checkpoint's features (core.embeddings: embeddings-<checkpoint>-<split>.pt)."""
    return (name in TRAINER_FILES or name in NO_CHECKPOINT_FILES or (name.startswith(".") and name.endswith(".tmp"))
            or (name.startswith("embeddings-") and name.endswith(".pt")))


def no_checkpoint_why(path: Path) -> str:
    """Why a run folder has no best.pt or last.pt: killed or diverged before its first save, or its checkpoints
    deleted."""
    finished = any((Path(path) / name).is_file() for name in ("result.json", "misclassified.pt"))
    if finished:
        return "its checkpoints were deleted"
    return f"it {'diverged' if (Path(path) / 'failed.json').is_file() else 'stopped'} before its first save"


def check_new_run(checkpoints_dir: Path, run_name: str) -> str | None:
    """Before the data loads: raise if ``run_name`` cannot start a run; a notice if it reuses a dead run's folder."""
    if problem := check_run_name(run_name):
        raise CheckpointError(problem)
    path = Path(checkpoints_dir) / run_name
    if not path.exists():
        return None
    if not path.is_dir():
        raise CheckpointError(f"{path} already exists and is not a folder; pick another --run-name")
    if (pid := run_lock.owner(path)) is not None:
        raise RunBusy(path, pid)
    _no_checkpoint_files(path)
    return f"reusing {run_name}: it has no checkpoint"


def take_run_dir(checkpoints_dir: Path, run_name: str | None, model: str) -> tuple[Path, RunLock, bool]:
    """A folder for a new run, locked for this process: (path, lock, reused).

    ``run_name`` must be free, or name a folder left by a run killed before its first checkpoint
    and trained by no one now: that one is emptied and reused. Without a name: model-date-time.
    """
    checkpoints_dir = Path(checkpoints_dir)
    checkpoints_dir.mkdir(parents=True, exist_ok=True)
    if not run_name:
        base = f"{model}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
        for n in range(1000):
            path = checkpoints_dir / (base if n == 0 else f"{base}-{n}")
            try:
                path.mkdir()
            except FileExistsError:
                continue
            sync_folder(checkpoints_dir)
            return path, run_lock.acquire(path), False
        raise CheckpointError(f"could not create a run folder in {checkpoints_dir}")
    if problem := check_run_name(run_name):
        raise CheckpointError(problem)
    path = checkpoints_dir / run_name
    try:
        path.mkdir()
        created = True
        sync_folder(checkpoints_dir)
    except FileExistsError:
        created = False
    if not path.is_dir():
        raise CheckpointError(f"{path} already exists and is not a folder; pick another --run-name")
    lock = run_lock.acquire(path)
    try:  # under the lock: a run that raced us here may have saved a checkpoint meanwhile
        for file in _no_checkpoint_files(path):
            if file.name != run_lock.LOCK_FILE:
                file.unlink(missing_ok=True)
    except BaseException:
        lock.release()
        raise
    return path, lock, not created


def file_identity(path: Path) -> tuple[Path, tuple[int, int, int] | None]:
    """(path, which file it is now): an atomic save makes a new file, so a changed identity means a new save."""
    try:
        st = os.stat(path)
    except OSError:
        return Path(path), None
    return Path(path), (st.st_ino, st.st_mtime_ns, st.st_size)


def take_run(run_dir: Path, resumed: tuple[Path, Any] | None = None) -> RunLock:
    """Lock an existing run to train into it (resume), removing the temp files a killed writer left.

    ``resumed`` (from file_identity): the checkpoint as it was read; if another process saved over it
    since, this one would train the same epochs again, so it is refused.
    """
    lock = run_lock.acquire(Path(run_dir))
    if resumed is not None and file_identity(resumed[0]) != resumed:
        lock.release()
        raise CheckpointError(f"{run_dir} was trained by another process meanwhile; resume it again")
    run_lock.remove_leftovers(Path(run_dir), TRAINER_FILES)
    return lock


def after_disk_full(run_dir: Path, saved_epoch: int | None) -> str:
    """What became of a run whose save found the disk full (call it holding the run): the end of the message."""
    if saved_epoch is not None:
        return f"; the last good checkpoint is kept: {run_dir / 'last.pt'} (epoch {saved_epoch})"
    if any((run_dir / n).is_file() for n in CHECKPOINT_FILES):
        return ""
    shutil.rmtree(run_dir, ignore_errors=True)  # a new run with nothing to resume leaves no folder behind
    return f"; nothing was saved, so {run_dir} was removed"


@dataclass(frozen=True)
class RunInfo:
    """What the Runs view, ``mnist-tui runs`` and Compare show of one run folder."""

    name: str
    path: str
    model: str
    epochs_done: int
    epochs: int
    best_val_accuracy: float | None
    test_accuracy: float | None  # of ``test_checkpoint``, the model the run reports
    modified: str  # ISO date-time it last trained (its newest training file), what "newest first" orders by
    finished: bool
    error: str | None = None  # why the run could not be read, if it could not
    state: str = "stopped"  # training (a process has it), finished, stopped (resumable), pruned (a tuning trial the
    # pruner stopped; resumable too) or failed; "?" when unreadable
    lr: float | None = None
    batch_size: int | None = None
    train_seconds: float = 0.0
    test_checkpoint: str | None = None  # e.g. "last (epoch 3)"
    schedules: tuple[int, ...] = ()  # trained more epochs: each schedule's epochs, (3, 2); () for one schedule
    test_tta: bool = False  # test_accuracy is the average over shifted copies too (the config's tta)
    steered: float = 1.0  # the factor its learning rate was steered to, as it ended (1: never, or back to 1)

    @property
    def config_path(self) -> Path:
        return Path(self.path) / "config.json"


def read_run(run_dir: Path) -> RunInfo:
    """Summarise a run folder from its json files (no torch.load); errors go in ``error``."""
    run_dir = Path(run_dir)
    stamp = datetime.fromtimestamp(_trained_at(run_dir)).isoformat(timespec="seconds")
    owner = run_lock.owner(run_dir)  # a live run: its first checkpoint may not be written yet
    config = None
    try:
        config = read_config(run_dir)
        metrics, steered = read_metrics_and_steering(run_dir)
        result = read_result(run_dir) if owner is None else {}
        vals = [v for v in (m["val_accuracy"] for m in metrics) if v is not None]
        if owner is None and not any((run_dir / n).is_file() for n in CHECKPOINT_FILES) \
                and not (run_dir / "failed.json").is_file():  # one that diverged before its first save: failed
            raise CheckpointError(f"no checkpoint: {no_checkpoint_why(run_dir)} (--run-name {run_dir.name} "
                                  "reuses the folder)")
        if owner is None and (cut := next((n for n in CHECKPOINT_FILES if _truncated(run_dir / n)), None)):
            raise DamagedFile(f"{run_dir / cut} is not a usable checkpoint: corrupt or truncated")  # as its readers say
        epochs_done = max((m["epoch"] for m in metrics), default=0)
        finished = bool(result)
        # failed first: more epochs for a finished run that diverged before a save leave its result.json
        state = "failed" if (run_dir / "failed.json").is_file() else "finished" if finished else "stopped"
        if state == "stopped" and _pruned_after(run_dir) == epochs_done:  # not since trained on and stopped
            state = "pruned"
        state = ("paused" if run_lock.paused(run_dir) else "training") if owner is not None else state
        seconds = sum(m["seconds"] for m in metrics)  # whole epochs
        if not finished:  # and the epoch it stopped in, to its last chart point
            seconds = max([seconds, *(p["seconds"] for p in read_points(run_dir)[-1:]
                                      if _number(p.get("seconds")) is not None)])
        test_checkpoint = None
        if finished:
            epochs = result.get("epochs", epochs_done)
            test_checkpoint = f"{result.get('checkpoint', 'last')} (epoch {epochs})" if _epoch(epochs) else None
        return RunInfo(
            name=run_dir.name, path=str(run_dir), model=config.model, epochs_done=epochs_done, epochs=config.epochs,
            best_val_accuracy=max(vals) if vals else None, test_accuracy=_number(result.get("test_accuracy")),
            modified=stamp, finished=finished, state=state, lr=config.lr, batch_size=config.batch_size,
            train_seconds=seconds, test_checkpoint=test_checkpoint, schedules=read_schedules(run_dir),
            test_tta=result.get("tta") is True, steered=steered)
    except Exception as exc:  # noqa: BLE001 - one bad run must not hide the others
        error = str(exc) or repr(exc)
        if owner is not None:  # between its folder and its config.json: a moment
            error = f"being created by process {owner}"
        return RunInfo(run_dir.name, str(run_dir), config.model if config else "?", 0, config.epochs if config else 0,
                       None, None, stamp, False, error=error, state="?")  # killed before its first save: its config says


def write_resumed_config(run_dir: Path, config: TrainConfig, extra_epochs: int) -> None:
    """A resumed run's config.json; trained ``extra_epochs`` more (its config now says the total),
    schedule.json adds them to its schedules, so the total is not taken for one schedule."""
    if extra_epochs:
        schedules = list(read_schedules(run_dir)) or [config.epochs - extra_epochs]
        write_text_atomic(run_dir / SCHEDULE_FILE, json.dumps({"epochs": [*schedules, extra_epochs]}) + "\n")
    write_text_atomic(run_dir / "config.json", config.to_json())


def read_schedules(run_dir: Path) -> tuple[int, ...]:
    """Each schedule's epochs of a run trained more epochs, (3, 2): 3 epochs, then 2 more. () if unrecorded."""
    try:
        epochs = json.loads((Path(run_dir) / SCHEDULE_FILE).read_text())["epochs"]
    except (OSError, ValueError, KeyError, TypeError):
        return ()
    ok = isinstance(epochs, list) and all(type(e) is int and e > 0 for e in epochs)
    return tuple(epochs) if ok else ()


def _truncated(path: Path) -> bool:
    """A checkpoint (a zip file) cut short: its central directory, at the end, is gone. Read without torch.
    One that cannot be read raises (is_zipfile called it cut short: walk35 F2)."""
    import zipfile

    if not path.is_file():
        return False
    try:
        open(path, "rb").close()
    except PermissionError:
        raise CheckpointError(f"cannot read {path}: permission denied") from None
    return not zipfile.is_zipfile(path)


def _pruned_after(run_dir: Path) -> int | None:
    """The epoch a tuning trial's pruner stopped this run after (its ``tune.json`` says), or None."""
    try:
        return json.loads((run_dir / "tune.json").read_text()).get("pruned_after")
    except (OSError, ValueError, AttributeError):
        return None


def _trained_at(run_dir: Path) -> float:
    """When the run last trained: its newest training file's time. Not the folder's, which later files
    (embeddings and explanation caches, an export) move; the folder's for one with none of them yet."""
    times = []
    for name in (*TRAINER_FILES, "failed.json"):
        try:
            times.append((run_dir / name).stat().st_mtime)
        except OSError:
            continue
    return max(times) if times else run_dir.stat().st_mtime


def mark_failed(run_dir: Path, reason: str, epoch: int) -> None:
    """Say that the run failed (it diverged), so `runs` and the Runs view call it failed, not stopped; it stays
    resumable from its last checkpoint, and training it again drops the mark (drop_outputs)."""
    write_text_atomic(Path(run_dir) / "failed.json", json.dumps({"reason": reason, "epoch": epoch}, indent=2))


def drop_outputs(run_dir: Path) -> None:
    """Remove what was made of a run's weights, before it trains further: its result (it is no longer
    finished), its failure mark and `export`'s files in its folder (export again)."""
    for name in ("result.json", "failed.json", *EXPORT_FILES):
        (Path(run_dir) / name).unlink(missing_ok=True)


def exports_dropped(run_dir: str | os.PathLike[str]) -> str | None:
    """What training ``run_dir`` further removes of `export`'s files (drop_outputs), in words; None if nothing."""
    exported = [name for name in EXPORT_FILES if (Path(run_dir) / name).is_file()]
    if not exported:
        return None
    one = len(exported) == 1
    return (f"{Path(run_dir).name}'s {' and '.join(exported)} describe{'s' if one else ''} its weights before this "
            f"training: {'it goes' if one else 'they go'} once it saves (export again after)")  # (not when refused)


def list_runs(checkpoints_dir: Path = DEFAULT_CHECKPOINTS) -> list[RunInfo]:
    """Every run folder in ``checkpoints_dir``, newest first; unreadable ones carry ``error``."""
    checkpoints_dir = Path(checkpoints_dir)
    if not checkpoints_dir.is_dir():
        return []
    runs = [read_run(p) for p in checkpoints_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(runs, key=lambda r: r.modified, reverse=True)


def config_from_dict(data: Any, where: str) -> TrainConfig:
    """A saved config, checked as the CLI and the form check theirs; DamagedFile names ``where`` and the problem."""
    if not isinstance(data, dict):
        raise DamagedFile(f"{where} holds no config (a {type(data).__name__}, not an object)")
    try:
        config = TrainConfig.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise DamagedFile(f"{where} holds a damaged config: {exc}") from None
    errors = validate(config)
    if errors:
        raise DamagedFile(f"{where} holds an invalid config: {next(iter(errors.values()))}")
    return config


def read_config(run_dir: str | os.PathLike[str]) -> TrainConfig:
    """A run's saved config; DamagedFile (a ValueError) when config.json is not a valid one."""
    path = Path(run_dir) / "config.json"
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise DamagedFile(f"{Path(run_dir)} has no config.json") from None
    except ValueError:  # not JSON, or not text
        raise DamagedFile(f"{path} is not a JSON config file") from None
    return config_from_dict(data, str(path))


def default_model_candidates(checkpoints_dir: Path) -> list[Path]:
    """Where the shipped model may be: the app's checkpoints folder, ./checkpoints, the source tree's."""
    seen: list[Path] = []
    for folder in (Path(checkpoints_dir), Path("checkpoints"), REPO_CHECKPOINTS):
        path = (folder / DEFAULT_MODEL_RUN).resolve()
        if path not in seen:
            seen.append(path)
    return seen


def find_default_model(checkpoints_dir: Path) -> Path | None:
    """The shipped model's run folder, or None."""
    for path in default_model_candidates(checkpoints_dir):
        if (path / "best.pt").is_file() or (path / "last.pt").is_file():
            return path
    return None


def files_of_its_own(run_dir: str | os.PathLike[str]) -> list[str]:
    """What a run folder holds besides what training and the views write there: exported models,
    a person's notes... (named before the folder is deleted with them)."""
    return sorted(entry.name for entry in Path(run_dir).iterdir() if not _written_by_us(entry.name))


def delete_run(run_dir: str | os.PathLike[str], checkpoints_dir: Path | None = None) -> None:
    """Delete a run folder; refuses anything that does not look like a run (no config.json)."""
    path = Path(run_dir)
    if not (path / "config.json").is_file() and not any((path / n).is_file() for n in CHECKPOINT_FILES):
        raise CheckpointError(f"{path} does not look like a run folder; not deleting it")
    if checkpoints_dir is not None and path.resolve().parent != Path(checkpoints_dir).resolve():
        raise CheckpointError(f"{path} is not inside {checkpoints_dir}; not deleting it")
    if (pid := run_lock.owner(path)) is not None:
        raise CheckpointError(f"{RunBusy(path, pid)}; stop it before deleting it")
    shutil.rmtree(path)


__all__ = [
    "CHECKPOINT_FILES", "DEFAULT_CHECKPOINTS", "CheckpointError", "DamagedFile", "DiskFull", "RunBusy", "RunInfo",
    "after_disk_full", "append_event", "append_metrics", "append_points", "check_new_run", "config_from_dict", "default_model_candidates",
    "delete_run", "file_identity", "file_mode", "find_default_model", "list_runs", "read_config", "read_lr_changes",
    "read_metrics", "read_points", "read_result", "read_run", "rewrite_after", "steered_factor", "take_run", "take_run_dir",
    "write_atomic", "write_bytes_atomic", "write_text_atomic",
]
