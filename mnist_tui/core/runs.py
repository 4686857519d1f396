"""Run folders, read and written without torch.

A run is ``<checkpoints>/<run-name>/`` holding ``config.json``, ``metrics.jsonl``
(one line per epoch), ``result.json`` (test metrics, once finished),
``misclassified.pt`` (the test evaluation the views show), ``last.pt`` and
``best.pt``. The torch side (saving and loading checkpoints) is ``checkpoints.py``.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .config import TrainConfig

DEFAULT_CHECKPOINTS = Path("checkpoints")
CHECKPOINT_FILES = ("best.pt", "last.pt")
DEFAULT_MODEL_RUN = "fast-pretrained"  # the model shipped in checkpoints/
REPO_CHECKPOINTS = Path(__file__).resolve().parents[2] / "checkpoints"


class CheckpointError(RuntimeError):
    """A file or folder that is not a usable mnist-tui run or checkpoint; the message says why."""


def write_atomic(path: Path, write: Callable[[str], Any]) -> None:
    """Call ``write(tmp_path)`` then move the result over ``path``; a crash leaves the old file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    write_atomic(path, lambda tmp: Path(tmp).write_text(text))


def new_run_dir(checkpoints_dir: Path, run_name: str | None, config: TrainConfig) -> Path:
    """A fresh run folder: ``run_name`` if given (must not exist), else model-date-time."""
    checkpoints_dir.mkdir(parents=True, exist_ok=True)
    if run_name:
        if not re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]*", run_name) or len(run_name) > 100:
            raise CheckpointError(f"run name {run_name!r} may hold only letters, digits, '.', '_' and '-' "
                                  "(not first), at most 100 characters")
        path = checkpoints_dir / run_name
        if path.exists():
            raise CheckpointError(f"{path} already exists; pick another --run-name or --resume it")
        path.mkdir()
        return path
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = f"{config.model}-{stamp}"
    for n in range(1000):
        path = checkpoints_dir / (base if n == 0 else f"{base}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise CheckpointError(f"could not create a run folder in {checkpoints_dir}")


def append_metrics(run_dir: Path, record: dict[str, Any]) -> None:
    with (run_dir / "metrics.jsonl").open("a") as fh:
        fh.write(json.dumps(record) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def append_event(run_dir: Path, record: dict[str, Any]) -> None:
    """A mid-epoch record (a learning-rate change) in metrics.jsonl, between the epoch records."""
    append_metrics(run_dir, record)


def append_points(run_dir: Path, points: list[dict[str, Any]]) -> None:
    """The chart points of part of an epoch, to ``points.jsonl`` (so a resumed run shows its whole curve)."""
    if points:
        with (Path(run_dir) / "points.jsonl").open("a") as fh:
            fh.write("".join(json.dumps(p) + "\n" for p in points))


def _records(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a .jsonl file; torn or foreign lines (a crash mid-write, garbage) are skipped."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The per-epoch records of a run."""
    return [r for r in _records(Path(run_dir) / "metrics.jsonl")
            if isinstance(r.get("epoch"), int) and "lr_factor" not in r]


def read_lr_changes(run_dir: Path) -> list[dict[str, Any]]:
    """Learning-rate steering records: epoch, step, global_step, lr_factor."""
    return [r for r in _records(Path(run_dir) / "metrics.jsonl") if isinstance(r.get("lr_factor"), (int, float))]


def read_points(run_dir: Path) -> list[dict[str, Any]]:
    """The run's chart points: x (epochs), global_step, loss, accuracy, lr."""
    return [p for p in _records(Path(run_dir) / "points.jsonl")
            if all(isinstance(p.get(k), (int, float)) for k in ("x", "global_step", "loss", "accuracy", "lr"))]


def rewrite_after(run_dir: Path, epochs: int, global_step: int) -> None:
    """Forget what a run recorded after its checkpoint (``epochs`` done, ``global_step``): it is trained again."""
    metrics = [r for r in _records(run_dir / "metrics.jsonl")
               if ("lr_factor" in r and r.get("global_step", 0) <= global_step)
               or ("lr_factor" not in r and isinstance(r.get("epoch"), int) and r["epoch"] <= epochs)]
    write_text_atomic(run_dir / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in metrics))
    points = [p for p in read_points(run_dir) if p["global_step"] <= global_step]
    write_text_atomic(run_dir / "points.jsonl", "".join(json.dumps(p) + "\n" for p in points))


def read_result(run_dir: Path) -> dict[str, Any]:
    """``result.json`` of a finished run, or {}."""
    path = Path(run_dir) / "result.json"
    if not path.is_file():
        return {}
    result = json.loads(path.read_text())
    return result if isinstance(result, dict) else {}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) else None


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
    modified: str  # ISO date-time of the folder
    finished: bool
    error: str | None = None  # why the run could not be read, if it could not
    state: str = "stopped"  # finished, stopped (resumable) or failed; "?" when unreadable
    lr: float | None = None
    batch_size: int | None = None
    train_seconds: float = 0.0
    test_checkpoint: str | None = None  # e.g. "last (epoch 3)"

    @property
    def config_path(self) -> Path:
        return Path(self.path) / "config.json"


def read_run(run_dir: Path) -> RunInfo:
    """Summarise a run folder from its json files (no torch.load); errors go in ``error``."""
    run_dir = Path(run_dir)
    stamp = datetime.fromtimestamp(run_dir.stat().st_mtime).isoformat(timespec="seconds")
    try:
        config = TrainConfig.from_json((run_dir / "config.json").read_text())
        metrics = read_metrics(run_dir)
        result = read_result(run_dir)
        vals = [v for v in (_number(m.get("val_accuracy")) for m in metrics) if v is not None]
        if not any((run_dir / n).is_file() for n in CHECKPOINT_FILES):
            raise CheckpointError("no best.pt or last.pt")
        epochs_done = max((m["epoch"] for m in metrics), default=0)
        finished = bool(result)
        state = "finished" if finished else ("failed" if (run_dir / "failed.json").is_file() else "stopped")
        test_checkpoint = None
        if finished:
            test_checkpoint = f"{result.get('checkpoint', 'last')} (epoch {result.get('epochs', epochs_done)})"
        return RunInfo(
            name=run_dir.name, path=str(run_dir), model=config.model, epochs_done=epochs_done, epochs=config.epochs,
            best_val_accuracy=max(vals) if vals else None, test_accuracy=_number(result.get("test_accuracy")),
            modified=stamp, finished=finished, state=state, lr=config.lr, batch_size=config.batch_size,
            train_seconds=sum(_number(m.get("seconds")) or 0.0 for m in metrics), test_checkpoint=test_checkpoint,
        )
    except Exception as exc:  # noqa: BLE001 - one bad run must not hide the others
        return RunInfo(run_dir.name, str(run_dir), "?", 0, 0, None, None, stamp, False,
                       error=str(exc) or repr(exc), state="?")


def list_runs(checkpoints_dir: Path = DEFAULT_CHECKPOINTS) -> list[RunInfo]:
    """Every run folder in ``checkpoints_dir``, newest first; unreadable ones carry ``error``."""
    checkpoints_dir = Path(checkpoints_dir)
    if not checkpoints_dir.is_dir():
        return []
    runs = [read_run(p) for p in checkpoints_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(runs, key=lambda r: r.modified, reverse=True)


def read_config(run_dir: str | os.PathLike[str]) -> TrainConfig:
    """A run's saved config."""
    return TrainConfig.from_json((Path(run_dir) / "config.json").read_text())


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


def delete_run(run_dir: str | os.PathLike[str], checkpoints_dir: Path | None = None) -> None:
    """Delete a run folder; refuses anything that does not look like a run (no config.json)."""
    path = Path(run_dir)
    if not (path / "config.json").is_file() and not any((path / n).is_file() for n in CHECKPOINT_FILES):
        raise CheckpointError(f"{path} does not look like a run folder; not deleting it")
    if checkpoints_dir is not None and path.resolve().parent != Path(checkpoints_dir).resolve():
        raise CheckpointError(f"{path} is not inside {checkpoints_dir}; not deleting it")
    shutil.rmtree(path)


__all__ = [
    "CHECKPOINT_FILES", "DEFAULT_CHECKPOINTS", "default_model_candidates", "find_default_model", "CheckpointError", "RunInfo", "append_metrics", "delete_run",
    "append_event", "append_points", "list_runs", "new_run_dir", "read_config", "read_lr_changes", "read_metrics",
    "read_points", "read_result", "read_run", "rewrite_after", "write_atomic",
    "write_text_atomic",
]
