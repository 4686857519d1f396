"""Run folders and checkpoint files.

Run folders themselves (listing, metrics, atomic writes) are ``runs.py``, which
needs no torch. Checkpoints are plain dicts of tensors and plain values, written
atomically and loaded with ``weights_only=True`` so no code in a file ever runs.
"""

from __future__ import annotations

import io
import math
import os
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from .config import TrainConfig
from .formatting import clip
from .runs import DEFAULT_CHECKPOINTS, REPO_CHECKPOINTS, CheckpointError, DamagedFile, config_from_dict, write_bytes_atomic

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
    buffer = io.BytesIO()  # serialized first, so a full disk is a plain write error that says how much was needed
    torch.save(payload, buffer)
    write_bytes_atomic(path, buffer.getvalue())
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
    if export := export_kind(path):  # beside last.pt in a run folder once exported: easily given instead
        raise CheckpointError(f"{path} is {export} (what `mnist-tui export` writes), not a checkpoint: give the "
                              "run folder or its last.pt or best.pt")
    try:
        with warnings.catch_warnings():  # torch's warning about a foreign pickle's protocol, with its source line
            warnings.simplefilter("ignore")
            checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except PermissionError:  # an intact file: "corrupt or truncated" invited deleting it (walk35 F2)
        raise CheckpointError(f"cannot read {path}: permission denied") from None
    except Exception as exc:  # noqa: BLE001 - unpickling, zip and EOF errors all mean "not a checkpoint"
        text = str(exc)
        if "GLOBAL" in text or "Unsupported global" in text:
            first = "it contains pickled code or objects, which are never loaded"
        elif "Unsupported operand" in text and _whole_pickle(path):  # it read as "corrupt" (walk38 F12)
            first = "a pickle of another kind, not one torch.save wrote"
        elif path.suffix.lower() not in (".pt", ".pth"):  # config.json, metrics.jsonl: read as a damaged checkpoint
            raise CheckpointError(f"{path} is not a checkpoint (a .pt file): give the run folder or its last.pt "
                                  "or best.pt") from None
        else:  # bad opcodes, a missing zip directory, an early end: damaged, not malicious
            first = "corrupt or truncated"
        raise CheckpointError(f"{path} is not a usable checkpoint: {first}") from None
    if not isinstance(checkpoint, dict) or "model_state" not in checkpoint or "config" not in checkpoint:
        raise CheckpointError(f"{path} is not an mnist-tui checkpoint (no model_state/config)")
    version = checkpoint.get("format_version", 0)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(f"{path} has format version {version!r}; this mnist-tui reads up to {FORMAT_VERSION}")
    checkpoint = _upgrade(checkpoint)
    config_from_dict(checkpoint["config"], str(path))  # raises DamagedFile naming the file
    problem = _problem(checkpoint)
    if problem:
        raise DamagedFile(f"{path} is not a usable checkpoint: {problem}")
    return checkpoint


def _whole_pickle(path: Path) -> bool:
    """Whether the file parses, opcode by opcode (nothing is run), as one whole pickle (random bytes do not)."""
    import pickletools

    try:
        with path.open("rb") as fh:
            for _ in pickletools.genops(fh):
                pass
        return True
    except Exception:  # noqa: BLE001 - any parse error: not a whole pickle
        return False


def export_kind(path: Path) -> str | None:
    """"a TorchScript export" or "an ONNX export" when the file is one, else None (torch.load would call either
    corrupt, and warn about TorchScript first)."""
    if path.suffix.lower() == ".onnx":
        return "an ONNX export"
    try:
        with zipfile.ZipFile(path) as archive:  # torch.save's files are zip archives too, without code/
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    return "a TorchScript export" if any("/code/" in n or n.endswith("/constants.pkl") for n in names) else None


def _is_state(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items())


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _finite(value: Any, low: float = 0.0) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= low


def _random_state(value: Any, like: torch.Tensor) -> bool:
    return isinstance(value, torch.Tensor) and value.dtype == torch.uint8 and value.numel() == like.numel()


def _problem(checkpoint: dict[str, Any]) -> str | None:
    """What makes a loaded checkpoint unusable, in a few words; None when nothing does.

    Every value the engine and the loaders use is checked here, so a crafted or damaged
    file is refused with a reason instead of failing later deep inside training.
    """
    if not _is_state(checkpoint["model_state"]) or not checkpoint["model_state"]:
        return "its model_state is not a set of named tensors"
    if checkpoint.get("ema_state") is not None and not _is_state(checkpoint["ema_state"]):
        return "its ema_state is not a set of named tensors"
    for key in ("optimizer_state", "scheduler_state", "metrics"):
        if checkpoint[key] is not None and not isinstance(checkpoint[key], dict):
            return f"its {key} is a {type(checkpoint[key]).__name__}, not a dict"
    epoch, step = checkpoint["epoch"], checkpoint["step"]
    if not _whole(epoch):
        return f"its epoch is {epoch!r}, not a whole number >= 0"
    if not _whole(step):
        return f"its step is {step!r}, not a whole number >= 0"
    if not _finite(checkpoint.get("lr_factor", 1.0)) or checkpoint.get("lr_factor", 1.0) == 0:
        return f"its lr_factor is {checkpoint.get('lr_factor')!r}, not a number > 0"
    if step:  # stopped mid-epoch: resuming needs the random streams and the epoch's running sums
        rng = checkpoint.get("rng")
        if not (isinstance(rng, dict) and _random_state(rng.get("torch"), torch.get_rng_state())
                and _random_state(rng.get("aug"), torch.Generator().get_state())):
            return f"it stopped at step {step} of an epoch but holds no usable random state (rng) to resume from"
        sums = checkpoint.get("epoch_sums")
        if sums is not None and not (isinstance(sums, dict) and all(_finite(sums.get(k)) for k in ("loss", "correct", "seen"))):
            return "its epoch_sums are not three numbers (loss, correct, seen)"
        if not _finite(checkpoint.get("epoch_seconds", 0.0)):
            return f"its epoch_seconds is {checkpoint.get('epoch_seconds')!r}, not a number >= 0"
    return None


def checkpoint_config(checkpoint: dict[str, Any]) -> TrainConfig:
    """The config a loaded checkpoint was trained with (checked by load_checkpoint)."""
    return config_from_dict(checkpoint["config"], "the checkpoint")


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
    elif not path.exists() and len(path.parts) == 1 and (REPO_CHECKPOINTS / path).is_dir():
        path = REPO_CHECKPOINTS / path  # a shipped model by name (strong-pretrained), from any folder
    if path.is_dir():
        if (path / prefer).is_file():
            return path / prefer
        return checkpoint_in(path)
    if not path.is_file():
        if Path(checkpoints_dir).is_file() and len(Path(spec).parts) == 1:  # as train, runs and tune say it
            raise CheckpointError(f"{spec}: no run of that name: {checkpoints_dir} is a file, not a checkpoints folder")
        raise CheckpointError(f"{spec}: no such checkpoint file, run folder, or run in {checkpoints_dir}")
    return path


def model_from_checkpoint(checkpoint: dict[str, Any], device: str | torch.device = "cpu"):
    """Rebuild the network a checkpoint was trained with and load its weights (eval mode)."""
    from .models import build_model

    config = checkpoint_config(checkpoint)
    model = build_model(config)
    load_state(model, checkpoint.get("ema_state") or checkpoint["model_state"], f"a {config.model} model")
    if not all(bool(torch.isfinite(v).all()) for v in model.state_dict().values() if v.is_floating_point()):
        # every prediction NaN, and eval, predict, explain and map wrote NaN in their JSON, exit 0 (walk38 F4)
        raise DamagedFile("the checkpoint's weights are not all numbers (NaN or infinite): a run that diverged "
                          "as it saved, or a changed file")
    return model.to(device).eval(), config


def load_state(target: Any, state: Any, what: str) -> None:
    """``target.load_state_dict(state)`` (a model, optimizer or schedule); CheckpointError in one line if it does not fit."""
    try:
        target.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        detail = " ".join((str(exc) or type(exc).__name__).split())  # torch's message spans lines
        raise DamagedFile(f"the checkpoint does not fit {what}: {clip(detail)}") from None
