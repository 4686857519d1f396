"""Learning-rate range test (Smith 2015; fastai's and Lightning's lr finders).

Train a *copy* of the model for a bounded number of batches while the learning rate
grows exponentially from ``start`` to ``end``; record a bias-corrected EMA of the
loss; stop once it diverges. The suggestion is read on the log10(lr) axis: the
steepest descent of the smoothed loss, after skipping the first noisy steps. Taking
the slope against linear lr spacing (which crowds every low rate into a few points)
or letting the first, noisy steps win is how finders in the wild go wrong.

Nothing here touches the disk, the caller's model or torch's global RNG.
"""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from .config import ConfigError, TrainConfig, checked, data_errors
from .data import MnistData, batch_order, split, training_batches
from .engine import build_optimizer, choose_device
from .events import Event
from .lr_range import LrFinderError, check_range  # (torch-free, for lr-find's early check)
from .models import build_model
from .runtime import autocast_dtype, forward_precision

DEFAULT_START, DEFAULT_END, DEFAULT_STEPS = 1e-6, 1.0, 100
SMOOTHING = 0.98  # EMA factor of the loss (fastai's)
DIVERGE_FACTOR = 4.0  # stop once the smoothed loss exceeds this multiple of its best
SKIP_FRACTION = 0.1  # the first steps are noise (the EMA is young, the model random)
MIN_FALL = 0.05  # no suggestion unless the smoothed loss fell this fraction below its first value


@dataclass(frozen=True)
class LrStep(Event):
    """One batch of the range test."""

    kind: ClassVar[str] = "lr_step"
    step: int  # 1-based
    steps: int  # the most steps the test will take
    lr: float
    loss: float
    smoothed: float


@dataclass(frozen=True)
class LrFound(Event):
    """The outcome: the suggested lr (None when the loss never fell) and the whole curve (smoothed loss per lr)."""

    kind: ClassVar[str] = "lr_found"
    suggested_lr: float | None
    min_loss_lr: float  # where the smoothed loss was lowest (too high to train at, usually)
    suggested_index: int | None  # index into ``lrs``
    lrs: list[float]
    losses: list[float]  # smoothed
    steps: int  # steps taken
    stop_reason: str  # "diverged", "range end" or "stopped"
    why_none: str = ""  # why there is no suggestion, in words ("" when there is one)


def lr_at(step: int, steps: int, start: float, end: float) -> float:
    """The lr of 0-based ``step``: exponential from ``start`` (step 0) to ``end`` (the last step)."""
    return start * (end / start) ** (step / max(steps - 1, 1))


def suggest(lrs: list[float], losses: list[float], skip_fraction: float = SKIP_FRACTION) -> int | None:
    """Index of the suggested lr: the steepest descent of ``losses`` against log10(lr).

    The first ``skip_fraction`` of the steps is ignored, and so is everything after the
    lowest loss (the climb towards divergence). None when the loss never fell ``MIN_FALL``
    below its first value: the range began too high (it climbed at once) or stayed too low,
    and any rate read off that curve is noise (it picked the diverging 0.5 of 0.5..10).
    If the loss fell but no central slope is negative, the lr ten times below the lowest
    loss is taken (the usual fallback).
    """
    n = len(lrs)
    if n < 3:
        return None
    lowest = min(range(n), key=lambda i: losses[i])
    if losses[lowest] > (1 - MIN_FALL) * losses[0]:
        return None
    first = min(max(1, int(n * skip_fraction)), max(lowest - 1, 0))
    x = [math.log10(lr) for lr in lrs]
    best_i, best_slope = None, 0.0
    for i in range(max(first, 1), min(lowest, n - 2) + 1):
        slope = (losses[i + 1] - losses[i - 1]) / (x[i + 1] - x[i - 1])  # central difference on log10 lr
        if slope < best_slope:
            best_i, best_slope = i, slope
    if best_i is not None:
        return best_i
    target = math.log10(lrs[lowest]) - 1
    return min(range(n), key=lambda i: abs(x[i] - target))


def find_lr(config: TrainConfig, data: MnistData, *, start: float = DEFAULT_START, end: float = DEFAULT_END,
            steps: int = DEFAULT_STEPS, model: nn.Module | None = None, stop: threading.Event | None = None,
            diverge_factor: float = DIVERGE_FACTOR) -> Iterator[LrStep | LrFound]:
    """Run the range test with ``config``'s model, optimizer, batch size and training split.

    ``model`` (optional) is the network to start from; it is deep-copied and left as it
    was. Without it, a fresh one is built from the config (seeded by ``config.seed``).
    Yields an LrStep per batch and ends with one LrFound. ``stop`` ends the test early.
    Raises ConfigError when a batch does not fit the training split.
    """
    check_range(start, end, steps)
    config = checked(config)
    if problems := data_errors(config, len(data.train_labels)):  # a batch must fit the training set, as in train
        raise ConfigError(problems)
    if config.threads:
        torch.set_num_threads(config.threads)
    device = choose_device(config.device)
    dtype = autocast_dtype(config.precision, device)  # the forward pass's precision, as the engine's
    splits = split(data, config.val_size, config.seed)
    n_train = len(splits.train_labels)
    lrs: list[float] = []
    losses: list[float] = []
    stop_reason = "range end"
    with torch.random.fork_rng(devices=[]):  # the caller's random streams stay where they were
        torch.manual_seed(config.seed)
        net = copy.deepcopy(model) if model is not None else build_model(config)
        net = net.to(device)
        if config.model != "mlp":
            net = net.to(memory_format=torch.channels_last)  # as the engine trains it
        net.train()
        optimizer = build_optimizer(config, net)
        generator = torch.Generator().manual_seed(config.seed)
        avg, best = 0.0, math.inf

        def batches() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
            epoch = 1
            while True:  # more steps than one epoch's batches: carry on into the next epoch's order
                yield from training_batches(
                    splits.train_images, splits.train_labels, config.batch_size,
                    batch_order(n_train, config.seed, epoch), device=device, rotate=config.rotate,
                    translate=config.translate, scale=config.scale, elastic=config.elastic, generator=generator)
                epoch += 1

        stream = batches()
        for i in range(steps):
            if stop is not None and stop.is_set():
                stop_reason = "stopped"
                break
            lr = lr_at(i, steps, start, end)
            for group in optimizer.param_groups:
                group["lr"] = lr
            x, y = next(stream)
            with forward_precision(device, dtype):
                logits = net(x).float()
            target = y.repeat(config.members) if config.members > 1 else y
            loss = F.cross_entropy(logits, target, label_smoothing=config.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            (loss * config.members).backward()
            optimizer.step()
            value = float(loss.detach())
            if not math.isfinite(value):
                stop_reason = "diverged"
                break
            avg = SMOOTHING * avg + (1 - SMOOTHING) * value
            smoothed = avg / (1 - SMOOTHING ** (i + 1))  # bias correction: the EMA starts at 0
            lrs.append(lr)
            losses.append(smoothed)
            yield LrStep(i + 1, steps, lr, value, smoothed)
            best = min(best, smoothed)
            if i > 0 and smoothed > diverge_factor * best:
                stop_reason = "diverged"
                break
    if not lrs:
        raise LrFinderError("the range test took no steps (stopped at once, or the first loss was not finite)")
    index = suggest(lrs, losses)
    lowest = min(range(len(losses)), key=lambda j: losses[j])
    yield LrFound(None if index is None else lrs[index], lrs[lowest], index, lrs, losses, len(lrs), stop_reason,
                  "" if index is not None else why_none(stop_reason))


def why_none(stop_reason: str) -> str:
    """Why a range test that ended with ``stop_reason`` has no suggestion, in words."""
    if stop_reason == "diverged":
        return "the loss climbed without falling first: the range starts too high for this model"
    if stop_reason == "stopped":
        return "stopped before the loss fell"
    return "the loss never fell: the range ends too low for this model"


__all__ = ["LrFinderError", "LrFound", "LrStep", "check_range", "find_lr", "lr_at", "suggest", "why_none"]
