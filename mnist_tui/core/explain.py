"""Attribution maps: which pixels of a 28x28 digit pushed the model towards (or away from) a class.

Two standard methods, each a few lines of torch (Captum's versions cost 0.36 s of import
and 33 MB after torch, and pull in matplotlib, for the same arithmetic):

- Integrated Gradients (Sundararajan et al. 2017) from a blank (all-black) baseline:
  (x - baseline) times the gradient averaged along the straight path between them.
  The map sums to f(x) - f(baseline) (completeness), up to the Riemann error.
- Occlusion (Zeiler & Fergus 2014): slide a blank patch over the digit; each pixel gets
  the mean drop in f over the patches that cover it.

f is the class's logit (for an ensemble, its members' mean logit): unlike the
log-probability it does not saturate for a confident prediction, so the predicted and
the true class's maps can share one colour scale. Positive values pushed towards the
class, negative ones against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .data import normalize

METHODS = ("ig", "occlusion")
IG_STEPS = 32
OCCLUSION_WINDOW = 4
OCCLUSION_STRIDE = 2


@dataclass(frozen=True)
class Explanation:
    """Attribution maps for one digit: ``maps[k]`` is a [28, 28] float map for ``classes[k]``."""

    method: str
    prediction: int
    probabilities: list[float]
    label: int | None  # the given label, when the digit comes from a dataset
    classes: list[int]
    maps: torch.Tensor  # float [len(classes), 28, 28]
    tta: bool = False  # predicted as a TTA run tests: the digit's 1-pixel shifts averaged


def _as_input(image: torch.Tensor) -> torch.Tensor:
    """uint8 [28, 28] (or float [28, 28] in [0, 1]) -> normalised float [1, 1, 28, 28]."""
    if image.dim() != 2 or tuple(image.shape) != (28, 28):
        raise ValueError(f"expected a 28x28 image, got shape {tuple(image.shape)}")
    if image.dtype == torch.uint8:
        return normalize(image.unsqueeze(0))
    return normalize(image.float().view(1, 1, 28, 28))


def _blank() -> torch.Tensor:
    return normalize(torch.zeros(1, 28, 28, dtype=torch.uint8))


def _scores(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The logits attributed: a single network's output, or an ensemble's members' mean logits."""
    from .models import Ensemble

    if isinstance(model, Ensemble):
        return torch.stack([member(x).float() for member in model.members]).mean(0)
    return model(x).float()


def integrated_gradients(model: nn.Module, image: torch.Tensor, classes: list[int],
                         steps: int = IG_STEPS) -> torch.Tensor:
    """IG maps [len(classes), 28, 28] from a blank baseline, all classes in one batched pass."""
    model.eval()
    x, baseline = _as_input(image), _blank()
    alphas = (torch.arange(steps, dtype=torch.float32) + 0.5) / steps  # midpoint rule
    path = baseline + alphas.view(-1, 1, 1, 1) * (x - baseline)  # [steps, 1, 28, 28]
    path = path.repeat(len(classes), 1, 1, 1).requires_grad_(True)  # one copy of the path per class
    targets = torch.tensor(classes).repeat_interleave(steps)
    out = _scores(model, path).gather(1, targets.view(-1, 1)).sum()
    (grads,) = torch.autograd.grad(out, path)  # never touches the parameters' .grad
    mean_grad = grads.view(len(classes), steps, 28, 28).mean(dim=1)
    return ((x - baseline).view(1, 28, 28) * mean_grad).detach()


@torch.no_grad()
def occlusion(model: nn.Module, image: torch.Tensor, classes: list[int],
              window: int = OCCLUSION_WINDOW, stride: int = OCCLUSION_STRIDE) -> torch.Tensor:
    """Occlusion maps [len(classes), 28, 28]: mean logit drop when a blank patch covers a pixel."""
    model.eval()
    x, blank_value = _as_input(image), float(_blank().flatten()[0])
    starts = list(range(0, 28 - window + 1, stride))
    if starts[-1] != 28 - window:
        starts.append(28 - window)  # cover the right and bottom edges too
    boxes = [(top, left) for top in starts for left in starts]
    occluded = x.repeat(len(boxes), 1, 1, 1)
    for k, (top, left) in enumerate(boxes):
        occluded[k, :, top:top + window, left:left + window] = blank_value
    base = _scores(model, x)[0, classes]  # [C]
    drops = base.view(1, -1) - _scores(model, occluded)[:, classes]  # [boxes, C]
    total = torch.zeros(len(classes), 28, 28)
    count = torch.zeros(28, 28)
    for k, (top, left) in enumerate(boxes):
        total[:, top:top + window, left:left + window] += drops[k].view(-1, 1, 1)
        count[top:top + window, left:left + window] += 1
    return total / count


def attribution_maps(model: nn.Module, image: torch.Tensor, classes: list[int], method: str = "ig") -> torch.Tensor:
    """Maps [len(classes), 28, 28] by ``method`` ("ig" or "occlusion")."""
    if method == "ig":
        return integrated_gradients(model, image, classes)
    if method == "occlusion":
        return occlusion(model, image, classes)
    raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")


@torch.no_grad()
def class_probabilities(model: nn.Module, image: torch.Tensor, tta: bool = False) -> torch.Tensor:
    """The model's probabilities for one digit; with ``tta``, averaged over its 1-pixel shifts as a TTA run tests."""
    from .analysis import mean_probabilities

    model.eval()
    return mean_probabilities([model], _as_input(image), tta)[0]


def explain_digit(model: nn.Module, image: torch.Tensor, label: int | None = None, method: str = "ig",
                  tta: bool = False) -> Explanation:
    """Maps for the predicted class and the given label (or, with no label or a right
    prediction, the runner-up class), predicted first.

    With ``tta`` the prediction is the one a TTA run's test made (its shifted copies averaged), so the maps are
    for the class its Misclassified list shows; the maps themselves are of the digit as it is."""
    probs = class_probabilities(model, image, tta)
    ranked = probs.argsort(descending=True).tolist()
    prediction = ranked[0]
    other = label if label is not None and label != prediction else ranked[1]
    classes = [prediction, other]
    maps = attribution_maps(model, image, classes, method)
    return Explanation(method, prediction, probs.tolist(), label, classes, maps.detach(), tta)


def explain_pixels(model: nn.Module, pixels: Any, label: int | None = None, method: str = "ig") -> Explanation:
    """:func:`explain_digit` for a picture held as a numpy array (the model's input, as Draw keeps it)."""
    return explain_digit(model, torch.as_tensor(pixels), label, method)
