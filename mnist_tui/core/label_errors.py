"""Suspected label errors by confident learning (Northcutt, Jiang & Chuang, JAIR 2021).

Given out-of-sample probabilities P [N, 10] and the given labels y:

1. Per-class threshold t_j: the mean probability of class j over the digits labelled j
   (the model's average self-confidence for that class).
2. Confident joint C[given][true]: each digit counts for the most probable class j whose
   probability reaches t_j (digits reaching no threshold are not counted).
3. ``prune_by_noise_rate`` (cleanlab's default filter): calibrate C to the class counts,
   giving the estimated number of digits labelled k that are really j; from the digits
   labelled k, flag that many with the largest margin P[j] - P[k], except digits the model
   predicts as k.
   ``confident_learning``: flag every digit that C counts off the diagonal.
4. Rank the flagged digits by self-confidence, least first; the score is 1 - P[given].

Before step 1 the probabilities are calibrated by temperature scaling (Guo et al. 2017: one
temperature T, P ∝ P^(1/T), chosen to minimise the given labels' negative log-likelihood).
A model trained with label smoothing (the ``best`` preset's 0.05) is under-confident:
its answers cap near 95%, the per-class thresholds sit near 94%, and a confidently
disputed label at 92% reached none of them (the shipped strong model flagged no test
digit at all; calibrated, T = 0.48, it flags 3). For a model trained without smoothing T is
close to 1 and nothing changes. The scores and the ranking use the model's own probabilities.

cleanlab's ``find_label_issues`` does the same. It is not a dependency because it would
pull in scikit-learn, scipy and pandas for about 30 lines of tensor arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

FILTERS = ("prune_by_noise_rate", "confident_learning")
MIN_ACCURACY = 0.5  # below it the model is too weak to judge labels: see too_weak


@dataclass(frozen=True)
class LabelIssue:
    index: int
    given_label: int
    suggested_label: int
    score: float  # 1 - the probability of the given label: higher = the model disagrees more
    given_probability: float
    suggested_probability: float
    flagged: bool = True  # False: a disagreement confident learning does not flag (see find_label_issues)


def per_class_thresholds(probabilities: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """t_j = mean P[j] over the digits labelled j (1 where a class has no digits, so it never counts)."""
    k = probabilities.shape[1]
    sums = torch.zeros(k).index_add_(0, labels, probabilities[torch.arange(len(labels)), labels].float())
    counts = torch.bincount(labels, minlength=k).float()
    return torch.where(counts > 0, sums / counts.clamp_min(1), torch.ones(k))


def confident_joint(probabilities: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(C [10, 10] counts indexed [given][confident class], confident class per digit or -1)."""
    k = probabilities.shape[1]
    above = probabilities >= per_class_thresholds(probabilities, labels).view(1, -1) - 1e-6
    confident = torch.where(above, probabilities, torch.full_like(probabilities, -1.0)).argmax(dim=1)
    confident[~above.any(dim=1)] = -1
    counted = confident >= 0
    joint = torch.bincount(labels[counted] * k + confident[counted], minlength=k * k).view(k, k)
    joint.diagonal().clamp_(min=1)  # as cleanlab: every class keeps at least one clean digit
    return joint, confident


def calibration_temperature(probabilities: torch.Tensor, labels: torch.Tensor) -> float:
    """The temperature T (0.05 to 20) minimising the given labels' NLL of softmax(log P / T)."""
    log_p = probabilities.float().clamp_min(1e-12).log()
    rows = torch.arange(len(labels))

    def nll(log_beta: float) -> float:  # convex in beta = 1/T, so unimodal in log beta
        return -float(F.log_softmax(log_p * math.exp(log_beta), dim=1)[rows, labels].mean())

    lo, hi = math.log(0.05), math.log(20.0)
    for _ in range(60):  # ternary search: the bracket shrinks to 1e-10 of its width
        a, b = lo + (hi - lo) / 3, hi - (hi - lo) / 3
        if nll(a) <= nll(b):
            hi = b
        else:
            lo = a
    return 1.0 / math.exp((lo + hi) / 2)


def temperature_scaled(probabilities: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``probabilities`` at the temperature that fits the given labels best (see the module's note)."""
    temperature = calibration_temperature(probabilities, labels)
    return F.softmax(probabilities.float().clamp_min(1e-12).log() / temperature, dim=1)


def too_weak(probabilities: torch.Tensor, labels: torch.Tensor) -> float | None:
    """The model's accuracy on these digits when it is below MIN_ACCURACY, else None. Confident learning
    measures each label against the model's own confidence in it: a model near chance disputes nearly
    every label (one at 11% accuracy flagged 8,856 of its 8,865 mistakes), so such a model flags none."""
    accuracy = float((probabilities.argmax(dim=1) == labels).float().mean()) if len(labels) else 1.0
    return accuracy if accuracy < MIN_ACCURACY else None


def flag_label_issues(probabilities: torch.Tensor, labels: torch.Tensor,
                      filter_by: str = "prune_by_noise_rate", calibrate: bool = True) -> torch.Tensor:
    """Bool [N]: digits whose given label the model confidently disputes (after temperature scaling
    unless ``calibrate`` is False); none when the model is too weak to judge them (:func:`too_weak`)."""
    probabilities, labels = probabilities.float(), labels.long()
    if too_weak(probabilities, labels) is not None:
        return torch.zeros(len(labels), dtype=torch.bool)
    if calibrate and len(labels):
        probabilities = temperature_scaled(probabilities, labels)
    joint, confident = confident_joint(probabilities, labels)
    if filter_by == "confident_learning":
        return (confident >= 0) & (confident != labels)
    if filter_by != "prune_by_noise_rate":
        raise ValueError(f"filter_by must be one of {', '.join(FILTERS)}, got {filter_by!r}")
    k, n = probabilities.shape[1], len(labels)
    counts = torch.bincount(labels, minlength=k).float()
    calibrated = joint.float() / joint.sum(dim=1, keepdim=True).clamp_min(1) * counts.view(-1, 1)
    to_flag = (calibrated / calibrated.sum().clamp_min(1) * n).round().long()  # [given][true]
    flagged = torch.zeros(n, dtype=torch.bool)
    for given in range(k):
        members = (labels == given).nonzero().flatten()
        for true in range(k):
            count = min(int(to_flag[given, true]), len(members) - 1)  # keep at least one digit per class
            if true == given or count <= 0:
                continue
            margin = probabilities[members, true] - probabilities[members, given]
            flagged[members[margin.topk(count).indices]] = True
    return flagged & (probabilities.argmax(dim=1) != labels)  # as cleanlab: never where the model agrees


def find_label_issues(probabilities: torch.Tensor, labels: torch.Tensor, filter_by: str = "prune_by_noise_rate",
                      include_unflagged: bool = False) -> list[LabelIssue]:
    """The flagged digits, the one the model disagrees with most first; with ``include_unflagged``,
    then every other digit the model predicts differently from its label (``flagged=False``)."""
    probabilities, labels = probabilities.float(), labels.long()
    flagged = flag_label_issues(probabilities, labels, filter_by)
    groups = [(flagged, True)]
    if include_unflagged:
        groups.append(((probabilities.argmax(dim=1) != labels) & ~flagged, False))
    issues = []
    for mask, is_flagged in groups:
        chosen = mask.nonzero().flatten()
        given_p = probabilities[chosen, labels[chosen]]
        others = probabilities[chosen].clone()
        others[torch.arange(len(chosen)), labels[chosen]] = -1.0
        suggested_p, suggested = others.max(dim=1)
        issues += [LabelIssue(int(chosen[i]), int(labels[chosen[i]]), int(suggested[i]), 1.0 - float(given_p[i]),
                              float(given_p[i]), float(suggested_p[i]), is_flagged)
                   for i in torch.argsort(given_p, stable=True)]
    return issues


def cross_validated_probabilities(config, images: torch.Tensor, labels: torch.Tensor, *, folds: int = 4,
                                  epochs: int = 1, progress: Callable[[int, int], None] | None = None,
                                  cancel: Callable[[], bool] | None = None) -> torch.Tensor:
    """Out-of-sample probabilities for every digit: ``folds`` short runs of ``config``'s network
    (``epochs`` epochs each, same optimizer, schedule and augmentation; no EMA), each
    predicting the fold it did not see. ``progress(fold, folds)`` after each fold."""
    from .analysis import predict_probabilities
    from .data import training_batches
    from .models import build_model
    from .runtime import build_optimizer, build_scheduler, keep_freed_memory

    config = config.replace(epochs=epochs)
    if config.threads:
        torch.set_num_threads(config.threads)
    keep_freed_memory()  # as the engine: without it each batch's buffers are unmapped and faulted in again
    n = len(labels)
    assignment = torch.randperm(n, generator=torch.Generator().manual_seed(config.seed)) % folds
    out = torch.zeros(n, 10)
    for fold in range(folds):
        held = (assignment == fold).nonzero().flatten()
        train_idx = (assignment != fold).nonzero().flatten()
        torch.manual_seed(config.seed + fold)
        model = build_model(config)
        if config.model != "mlp":
            model = model.to(memory_format=torch.channels_last)  # as the engine: faster CNNs on CPU
        optimizer = build_optimizer(config, model)
        steps = -(-len(train_idx) // config.batch_size)
        scheduler = build_scheduler(config, optimizer, steps)
        augment = torch.Generator().manual_seed(config.seed + fold)
        for epoch in range(epochs):
            model.train()
            order = torch.randperm(len(train_idx), generator=torch.Generator().manual_seed(config.seed * 31 + epoch))
            for x, y in training_batches(images[train_idx], labels[train_idx], config.batch_size, order,
                                         rotate=config.rotate, translate=config.translate, scale=config.scale,
                                         elastic=config.elastic, generator=augment):
                if cancel is not None and cancel():
                    raise InterruptedError("cross-validation cancelled")
                logits = model(x)
                target = y.repeat(config.members) if config.members > 1 else y
                loss = F.cross_entropy(logits, target, label_smoothing=config.label_smoothing) * config.members
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
        out[held] = predict_probabilities(model, images[held])
        if progress is not None:
            progress(fold + 1, folds)
    return out


def issues_for_evaluation(probabilities: torch.Tensor, labels: torch.Tensor) -> dict[int, LabelIssue] | None:
    """Flagged digits of a whole-split evaluation by index, or None when the evaluation is not whole.

    An evaluation read back from ``misclassified.pt`` (viewing offline) holds only the wrong
    digits; the right ones are exact one-hot class-0 placeholders, and per-class thresholds
    computed over those would be meaningless.
    """
    placeholder = torch.zeros(probabilities.shape[1])
    placeholder[0] = 1.0
    if len(labels) == 0 or bool((probabilities == placeholder).all(dim=1).any()):
        return None
    return {issue.index: issue for issue in find_label_issues(probabilities, labels)}
