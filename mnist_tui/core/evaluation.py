"""Evaluating a saved model, for the app and ``mnist-tui eval`` alike.

One rule for which model a run's test figure belongs to: a finished run reports
its final weights (``last.pt``, the EMA if it has one); a run that did not finish
reports ``best.pt`` (best validation) if it has one, else ``last.pt``. Every figure
names its checkpoint as "last (epoch 3)" or "best (epoch 2)".
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from .analysis import Evaluation, predict_probabilities, saved_evaluation, summarize
from .checkpoints import load_checkpoint, model_from_checkpoint, resolve_checkpoint
from .config import CLASS_NAMES, TrainConfig
from .data import DataUnavailable, MnistData
from .runs import DEFAULT_CHECKPOINTS, CheckpointError, default_model_candidates, find_default_model, read_result


Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class EvaluatedModel:
    """What Results and Misclassified show: the evaluation, the digits it indexes, and where it came from."""

    evaluation: Evaluation
    images: torch.Tensor
    source: str  # "run-name · last (epoch 3)", with " · saved results" when read from the run folder
    class_names: tuple[str, ...]
    checkpoint: str  # path of the checkpoint file
    tta: bool = False  # each digit's 1-pixel shifts averaged too, as the run's config tests


def run_checkpoint(run_dir: str | os.PathLike[str]) -> Path:
    """The checkpoint a run's figures come from (see the module's rule)."""
    run_dir = Path(run_dir)
    if read_result(run_dir) and (run_dir / "last.pt").is_file():
        return run_dir / "last.pt"
    for name in ("best.pt", "last.pt"):
        if (run_dir / name).is_file():
            return run_dir / name
    raise CheckpointError(f"{run_dir} holds no best.pt or last.pt")


def checkpoint_label(path: str | os.PathLike[str], epoch: int, step: int = 0) -> str:
    """'best (epoch 2)' for <run>/best.pt saved after epoch 2; 'last (epoch 3, step 40)' for one stopped there."""
    return f"{Path(path).stem} (epoch {epoch + 1}, step {step})" if step else f"{Path(path).stem} (epoch {epoch})"


def resolve_model(spec: str | os.PathLike[str], checkpoints_dir: Path = DEFAULT_CHECKPOINTS) -> Path:
    """A checkpoint file as given, or a run (folder or name) resolved by :func:`run_checkpoint`."""
    if not str(spec).strip():  # Path("") is the current folder: ". holds no best.pt or last.pt"
        raise CheckpointError("the run named is empty: give a run name, a run folder or a checkpoint file")
    path = Path(spec)
    if not path.exists() and (checkpoints_dir / path).exists():
        path = checkpoints_dir / path
    return run_checkpoint(path) if path.is_dir() else resolve_checkpoint(path, checkpoints_dir)


def dataset_of(checkpoint: str | os.PathLike[str]) -> str:
    """The dataset a checkpoint was trained on (reads the file)."""
    return TrainConfig.from_dict(load_checkpoint(Path(checkpoint))["config"]).dataset


def saved_run_evaluation(run_dir: str | os.PathLike[str], dataset: str | None = None) -> EvaluatedModel | None:
    """The test evaluation a run saved when it finished (no dataset or model needed), or None."""
    run_dir = Path(run_dir)
    saved = saved_evaluation(run_dir)
    if saved is None:
        return None
    evaluation, images = saved
    result = read_result(run_dir)
    name = result.get("checkpoint", "last")
    label = f"{name} (epoch {result['epochs']})" if "epochs" in result else name
    label += " with TTA" * (result.get("tta") is True)
    if dataset is None:
        try:
            dataset = TrainConfig.from_json((run_dir / "config.json").read_text()).dataset
        except (OSError, ValueError, TypeError):
            dataset = "mnist"
    return EvaluatedModel(evaluation, images, f"{run_dir.name} · {label} · saved results", CLASS_NAMES[dataset],
                          str(run_dir / f"{name}.pt"), result.get("tta") is True)


def evaluate_checkpoint(checkpoint: str | os.PathLike[str], load_data: Callable[[str], MnistData],
                        progress: Progress | None = None, chunk: int = 1000) -> EvaluatedModel:
    """Evaluate a checkpoint on its dataset's test set, in chunks, reporting progress.

    ``load_data(dataset)`` gives the data (the app passes its cache). Without the dataset,
    the run's saved results are shown if it has them; otherwise DataUnavailable is raised.
    A config with ``tta`` is tested as its run was, with its shifted copies averaged in.
    """
    path = Path(checkpoint)
    saved = load_checkpoint(path)
    model, config = model_from_checkpoint(saved, "cpu")
    run_dir = path.parent
    source = f"{run_dir.name} · {checkpoint_label(path, saved['epoch'], saved['step'])}" + " with TTA" * config.tta
    try:
        data = load_data(config.dataset)
    except DataUnavailable:
        fallback = saved_run_evaluation(run_dir, config.dataset) if path.name == run_checkpoint(run_dir).name else None
        if fallback is None:
            raise
        return fallback
    images, labels = data.test_images, data.test_labels
    parts = []
    if progress:
        progress(0, len(labels))
    for start in range(0, len(labels), chunk):
        parts.append(predict_probabilities(model, images[start:start + chunk], batch_size=chunk, tta=config.tta))
        if progress:
            progress(min(start + chunk, len(labels)), len(labels))
    probabilities = torch.cat(parts) if parts else torch.zeros(0, 10)
    return EvaluatedModel(summarize(probabilities, labels), images, source, CLASS_NAMES[config.dataset], str(path),
                          config.tta)


def finished_run_evaluation(run_dir: str | os.PathLike[str], data: MnistData | None) -> EvaluatedModel | None:
    """What a run saved at its end, with the full test images when the dataset is at hand (no model runs)."""
    shown = saved_run_evaluation(run_dir)
    if shown is None or data is None or len(data.test_labels) != len(shown.evaluation.labels):
        return shown
    try:
        if TrainConfig.from_json((Path(run_dir) / "config.json").read_text()).dataset != data.dataset:
            return shown
    except (OSError, ValueError, TypeError):
        return shown
    return EvaluatedModel(shown.evaluation, data.test_images, shown.source.removesuffix(" · saved results"),
                          shown.class_names, shown.checkpoint, shown.tta)


__all__ = [
    "EvaluatedModel", "checkpoint_label", "dataset_of", "default_model_candidates", "evaluate_checkpoint",
    "find_default_model", "finished_run_evaluation", "resolve_model", "run_checkpoint", "saved_run_evaluation",
]
