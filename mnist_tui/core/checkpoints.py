"""Run folders and checkpoint files.

A run is ``<checkpoints>/<run-name>/`` holding ``config.json``, ``metrics.jsonl``
(one line per epoch), ``result.json`` (test metrics, once finished), ``last.pt``
and ``best.pt``. Checkpoints are plain dicts of tensors and plain values, written
atomically and loaded with ``weights_only=True`` so no code in a file ever runs.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import torch

from .config import TrainConfig

FORMAT_VERSION = 1
DEFAULT_CHECKPOINTS = Path("checkpoints")


class CheckpointError(RuntimeError):
    """A file that is not a usable mnist-tui checkpoint; the message says why."""


def write_atomic(path: Path, write) -> None:
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


def save_checkpoint(path: Path, *, model_state: dict[str, torch.Tensor], config: TrainConfig, epoch: int,
                    step: int = 0, metrics: dict[str, Any] | None = None,
                    optimizer_state: dict[str, Any] | None = None, scheduler_state: dict[str, Any] | None = None,
                    extra: dict[str, Any] | None = None) -> Path:
    """Write a checkpoint dict atomically. ``step`` > 0 marks a mid-epoch (stopped) checkpoint."""
    payload = {
        "format_version": FORMAT_VERSION,
        "model_state": {k: v.detach().cpu() for k, v in model_state.items()},
        "optimizer_state": optimizer_state,
        "scheduler_state": scheduler_state,
        "config": config.to_dict(),
        "epoch": epoch,
        "step": step,
        "metrics": metrics or {},
        **(extra or {}),
    }
    write_atomic(path, lambda tmp: torch.save(payload, tmp))
    return path


def _upgrade(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """Patch keys older files lack so every loader sees the current format."""
    checkpoint.setdefault("optimizer_state", None)
    checkpoint.setdefault("scheduler_state", None)
    checkpoint.setdefault("epoch", 0)
    checkpoint.setdefault("step", 0)
    checkpoint.setdefault("metrics", {})
    checkpoint["format_version"] = FORMAT_VERSION
    return checkpoint


def load_checkpoint(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely (weights_only); raise CheckpointError for anything else."""
    path = Path(path)
    if path.is_dir():
        path = checkpoint_in(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - unpickling, zip and EOF errors all mean "not a checkpoint"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            first = "it contains pickled code or objects, which are never loaded"
        raise CheckpointError(f"{path} is not a usable checkpoint: {first}") from None
    if not isinstance(checkpoint, dict) or "model_state" not in checkpoint or "config" not in checkpoint:
        raise CheckpointError(f"{path} is not an mnist-tui checkpoint (no model_state/config)")
    version = checkpoint.get("format_version", 0)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(f"{path} has format version {version!r}; this mnist-tui reads up to {FORMAT_VERSION}")
    return _upgrade(checkpoint)


def checkpoint_in(run_dir: Path) -> Path:
    """The file to use from a run folder: best.pt if present, else last.pt."""
    for name in ("best.pt", "last.pt"):
        if (run_dir / name).is_file():
            return run_dir / name
    raise CheckpointError(f"{run_dir} holds no best.pt or last.pt")


def resolve_checkpoint(spec: str | os.PathLike[str], checkpoints_dir: Path = DEFAULT_CHECKPOINTS,
                       prefer: str = "best.pt") -> Path:
    """Accept a file, a run folder, or a run name inside ``checkpoints_dir``."""
    path = Path(spec)
    if not path.exists() and (checkpoints_dir / path).exists():
        path = checkpoints_dir / path
    if path.is_dir():
        if (path / prefer).is_file():
            return path / prefer
        return checkpoint_in(path)
    if not path.is_file():
        raise CheckpointError(f"{spec}: no such checkpoint file, run folder, or run in {checkpoints_dir}")
    return path


def new_run_dir(checkpoints_dir: Path, run_name: str | None, config: TrainConfig) -> Path:
    """A fresh run folder: ``run_name`` if given (must not exist), else model-date-time."""
    checkpoints_dir.mkdir(parents=True, exist_ok=True)
    if run_name:
        if not re.fullmatch(r"[A-Za-z0-9._-]+", run_name):
            raise CheckpointError(f"run name {run_name!r} may hold only letters, digits, '.', '_' and '-'")
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


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The per-epoch records of a run; a torn last line (crash mid-write) is skipped."""
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


@dataclass(frozen=True)
class RunInfo:
    name: str
    path: str
    model: str
    epochs_done: int
    epochs: int
    best_val_accuracy: float | None
    test_accuracy: float | None
    modified: str  # ISO date-time of the newest file
    finished: bool
    error: str | None = None  # why the run could not be read, if it could not


def read_run(run_dir: Path) -> RunInfo:
    """Summarise a run folder from its json files (no torch.load); errors go in ``error``."""
    stamp = datetime.fromtimestamp(run_dir.stat().st_mtime).isoformat(timespec="seconds")
    try:
        config = TrainConfig.from_json((run_dir / "config.json").read_text())
        metrics = read_metrics(run_dir)
        result_path = run_dir / "result.json"
        result = json.loads(result_path.read_text()) if result_path.is_file() else {}
        vals = [m["val_accuracy"] for m in metrics if m.get("val_accuracy") is not None]
        if not any((run_dir / n).is_file() for n in ("best.pt", "last.pt")):
            raise CheckpointError("no best.pt or last.pt")
        return RunInfo(
            name=run_dir.name, path=str(run_dir), model=config.model,
            epochs_done=max((m.get("epoch", 0) for m in metrics), default=0), epochs=config.epochs,
            best_val_accuracy=max(vals) if vals else None, test_accuracy=result.get("test_accuracy"),
            modified=stamp, finished=bool(result),
        )
    except Exception as exc:  # noqa: BLE001 - one bad run must not hide the others
        return RunInfo(run_dir.name, str(run_dir), "?", 0, 0, None, None, stamp, False, error=str(exc) or repr(exc))


def list_runs(checkpoints_dir: Path = DEFAULT_CHECKPOINTS) -> list[RunInfo]:
    """Every run folder in ``checkpoints_dir``, newest first; unreadable ones carry ``error``."""
    if not checkpoints_dir.is_dir():
        return []
    runs = [read_run(p) for p in checkpoints_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(runs, key=lambda r: r.modified, reverse=True)


def delete_run(run_dir: str | os.PathLike[str], checkpoints_dir: Path | None = None) -> None:
    """Delete a run folder; refuses anything that does not look like a run (no config.json)."""
    import shutil

    path = Path(run_dir)
    if not (path / "config.json").is_file() and not any((path / n).is_file() for n in ("best.pt", "last.pt")):
        raise CheckpointError(f"{path} does not look like a run folder; not deleting it")
    if checkpoints_dir is not None and path.resolve().parent != Path(checkpoints_dir).resolve():
        raise CheckpointError(f"{path} is not inside {checkpoints_dir}; not deleting it")
    shutil.rmtree(path)


def model_from_checkpoint(checkpoint: dict[str, Any], device: str | torch.device = "cpu"):
    """Rebuild the network a checkpoint was trained with and load its weights (eval mode)."""
    from .models import build_model

    config = TrainConfig.from_dict(checkpoint["config"])
    model = build_model(config)
    try:
        model.load_state_dict(checkpoint.get("ema_state") or checkpoint["model_state"])
    except (RuntimeError, KeyError) as exc:
        raise CheckpointError(f"checkpoint weights do not fit a {config.model} model: {exc}") from None
    return model.to(device).eval(), config
