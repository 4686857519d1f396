"""Run folders and checkpoint files.

Run folders themselves (listing, metrics, atomic writes) are ``runs.py``, which
needs no torch. Checkpoints are plain dicts of tensors and plain values, written
atomically and loaded with ``weights_only=True`` so no code in a file ever runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .config import TrainConfig
from .runs import DEFAULT_CHECKPOINTS, CheckpointError, write_atomic

FORMAT_VERSION = 1


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
        text = str(exc)
        if "GLOBAL" in text or "Unsupported global" in text:
            first = "it contains pickled code or objects, which are never loaded"
        else:  # bad opcodes, a missing zip directory, an early end: damaged, not malicious
            first = "the file is corrupt or truncated"
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
