"""What a trained model gets right and wrong: accuracy, confusion matrix, misclassified digits."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .data import eval_batches

# batches small enough for the CPU's caches: the fast CNN tests 10,000 digits in 0.13 s at 250,
# 0.18 s at 500, 0.31-0.33 s at 1000 and 2000 (2 cores); the 3-member deep CNN 0.42 s at 250, 2.3 s at 1000
EVAL_BATCH_SIZE = 250


@dataclass(frozen=True)
class Evaluation:
    accuracy: float
    loss: float
    per_class_accuracy: list[float]  # index = true class; nan where a class has no examples
    confusion: list[list[int]]  # confusion[true][predicted]
    probabilities: torch.Tensor  # float [N, 10]
    labels: torch.Tensor  # int64 [N]

    @property
    def predictions(self) -> torch.Tensor:
        return self.probabilities.argmax(dim=1)


@dataclass(frozen=True)
class Misclassified:
    index: int  # position in the evaluated split
    true_label: int
    predicted_label: int
    confidence: float  # probability of the predicted label
    top3: list[tuple[int, float]]  # (label, probability), most probable first


@torch.no_grad()
def predict_probabilities(models: nn.Module | list[nn.Module], images: torch.Tensor, *, device: str | torch.device = "cpu",
                          batch_size: int = EVAL_BATCH_SIZE, tta: bool = False) -> torch.Tensor:
    """Softmax probabilities for uint8 [N, 28, 28] images, in batches (never one giant tensor).

    Several models are averaged (an ensemble); ``tta`` also averages small shifted copies.
    """
    models = models if isinstance(models, list) else [models]
    for model in models:
        model.eval()
    dummy = torch.zeros(len(images), dtype=torch.long)
    chunks = [mean_probabilities(models, x, tta).cpu() for x, _ in eval_batches(images, dummy, batch_size, device)]
    return torch.cat(chunks) if chunks else torch.zeros(0, 10)


TTA_SHIFTS = [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)]  # the digit and its four 1-pixel shifts


@torch.no_grad()
def mean_probabilities(models: list[nn.Module], x: torch.Tensor, tta: bool = False) -> torch.Tensor:
    """Softmax probabilities [B, 10] of normalised x [B, 1, 28, 28], averaged over ``models``
    (and with ``tta`` over :data:`TTA_SHIFTS` of each digit)."""
    shifts = TTA_SHIFTS if tta else [(0, 0)]
    total = torch.zeros(len(x), 10, device=x.device)
    for model in models:
        for dy, dx in shifts:
            shifted = x if (dy, dx) == (0, 0) else _shift(x, dy, dx)
            total += F.softmax(model(shifted).float(), dim=1)
    return total / (len(models) * len(shifts))


def _shift(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Shift normalised images by whole pixels, filling with the background value."""
    background = x.amin()
    out = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
    if dy > 0:
        out[:, :, :dy] = background
    elif dy < 0:
        out[:, :, dy:] = background
    if dx > 0:
        out[:, :, :, :dx] = background
    elif dx < 0:
        out[:, :, :, dx:] = background
    return out


def summarize(probabilities: torch.Tensor, labels: torch.Tensor) -> Evaluation:
    """Accuracy, loss, per-class accuracy and confusion matrix from probabilities."""
    labels = labels.cpu().long()
    predictions = probabilities.argmax(dim=1)
    n = len(labels)
    loss = float(F.nll_loss(probabilities.clamp_min(1e-12).log(), labels)) if n else float("nan")
    confusion = torch.bincount(labels * 10 + predictions, minlength=100).reshape(10, 10)
    per_class_total = confusion.sum(dim=1).tolist()
    diagonal = confusion.diagonal().tolist()  # counts: exact fractions (float32 made 99.1% 0.9909999966621399)
    per_class = [diagonal[c] / per_class_total[c] if per_class_total[c] else float("nan") for c in range(10)]
    accuracy = sum(diagonal) / n if n else float("nan")
    return Evaluation(accuracy, loss, per_class, confusion.tolist(), probabilities, labels)


def evaluate(models: nn.Module | list[nn.Module], images: torch.Tensor, labels: torch.Tensor, *,
             device: str | torch.device = "cpu", batch_size: int = EVAL_BATCH_SIZE, tta: bool = False) -> Evaluation:
    """Evaluate a model (or an ensemble) on uint8 images with their labels."""
    return summarize(predict_probabilities(models, images, device=device, batch_size=batch_size, tta=tta), labels)


def misclassified_examples(evaluation: Evaluation, *, sort_by: str = "confidence",
                           true_label: int | None = None, predicted_label: int | None = None) -> list[Misclassified]:
    """The wrong predictions, most confidently wrong first (``sort_by="confidence"``) or by index."""
    probs, labels = evaluation.probabilities, evaluation.labels
    predictions = probs.argmax(dim=1)
    wrong = (predictions != labels).nonzero().flatten().tolist()
    top_p, top_i = probs.topk(min(3, probs.shape[1]), dim=1)
    examples = [
        Misclassified(i, int(labels[i]), int(predictions[i]), float(top_p[i, 0]),
                      [(int(top_i[i, k]), float(top_p[i, k])) for k in range(top_p.shape[1])])
        for i in wrong
        if (true_label is None or int(labels[i]) == true_label)
        and (predicted_label is None or int(predictions[i]) == predicted_label)
    ]
    if sort_by == "confidence":
        examples.sort(key=lambda m: (-m.confidence, m.index))
    elif sort_by != "index":
        raise ValueError(f"sort_by must be 'confidence' or 'index', got {sort_by!r}")
    return examples


def save_evaluation(run_dir: str | os.PathLike[str], evaluation: Evaluation, images: torch.Tensor,
                    checkpoint_name: str) -> Path:
    """Write ``<run>/misclassified.pt``: the wrong test digits and the test metrics, for offline viewing.

    A plain dict of tensors (loadable with ``weights_only=True``), most confidently wrong first.
    """
    from .runs import write_atomic

    wrong = misclassified_examples(evaluation)
    indices = torch.tensor([m.index for m in wrong], dtype=torch.long)
    payload = {
        "images": images[indices].clone(),
        "labels": evaluation.labels[indices].clone(),
        "predictions": torch.tensor([m.predicted_label for m in wrong], dtype=torch.long),
        "confidences": torch.tensor([m.confidence for m in wrong], dtype=torch.float32),
        "probabilities": evaluation.probabilities[indices].float().clone(),
        "indices": indices,
        "test_size": len(evaluation.labels),
        "test_accuracy": evaluation.accuracy,
        "test_loss": evaluation.loss,
        "per_class_accuracy": torch.tensor(evaluation.per_class_accuracy),
        "confusion": torch.tensor(evaluation.confusion),
        "checkpoint": checkpoint_name,
    }
    out = Path(run_dir) / "misclassified.pt"
    write_atomic(out, lambda tmp: torch.save(payload, tmp))
    return out


def saved_evaluation(run_dir: str | os.PathLike[str]) -> tuple[Evaluation, torch.Tensor] | None:
    """The test-set evaluation stored in ``<run>/misclassified.pt``, for viewing without the dataset.

    Only the wrong digits are stored (with the full confusion matrix); the correct ones
    are placeholders that count as right, so the viewer's counts and filters behave as
    with a full evaluation. Returns (evaluation, images indexed like the test set), or
    None if the run has no such file or it cannot be read (the run's checkpoint can be tested again).
    """
    path = Path(run_dir) / "misclassified.pt"
    if not path.is_file():
        return None
    try:
        return _read_saved_evaluation(path)
    except Exception:  # noqa: BLE001 - unpickling, zip, EOF and missing or mis-shaped entries: all "damaged"
        return None


def _read_saved_evaluation(path: Path) -> tuple[Evaluation, torch.Tensor] | None:
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if "confusion" not in saved:
        return None
    n, indices = int(saved["test_size"]), saved["indices"].long()
    labels = torch.zeros(n, dtype=torch.long)
    probabilities = torch.zeros(n, 10)
    probabilities[:, 0] = 1.0  # placeholders: "class 0, predicted 0"
    labels[indices] = saved["labels"].long()
    probabilities[indices] = saved["probabilities"].float()
    images = torch.zeros(n, 28, 28, dtype=torch.uint8)
    images[indices] = saved["images"]
    evaluation = Evaluation(float(saved["test_accuracy"]), float(saved.get("test_loss", float("nan"))),
                            [float(v) for v in saved["per_class_accuracy"]], saved["confusion"].tolist(),
                            probabilities, labels)
    return evaluation, images
