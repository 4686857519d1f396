"""Penultimate-layer features of a split, cached beside the checkpoint, and nearest neighbours.

The features are the input of each network's last linear layer (read with a forward
hook, so no model needs a special method); an ensemble's members' features are
concatenated. They are cached as float16 in ``<run>/embeddings-<checkpoint>-<split>.pt``,
keyed by the checkpoint's size and modification time and by the split's size and a
checksum of its pixels, so a retrained checkpoint or other data rebuilds the cache and an
unreadable cache file is ignored and rebuilt.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .data import normalize

CACHE_VERSION = 1
BATCH_SIZE = 1000
Progress = Callable[[int, int], None]  # (digits done, digits in all)


@dataclass(frozen=True)
class Embeddings:
    features: torch.Tensor  # float16 [N, D]
    probabilities: torch.Tensor  # float32 [N, 10]
    labels: torch.Tensor  # int64 [N]

    @property
    def predictions(self) -> torch.Tensor:
        return self.probabilities.argmax(dim=1)


@dataclass(frozen=True)
class Neighbour:
    index: int  # position in the training split
    label: int
    distance: float


def last_linear_layers(model: nn.Module) -> list[nn.Linear]:
    """The classifier layer of each network (one per ensemble member)."""
    from .models import Ensemble

    networks = list(model.members) if isinstance(model, Ensemble) else [model]
    layers = []
    for network in networks:
        linears = [m for m in network.modules() if isinstance(m, nn.Linear)]
        if not linears:
            raise ValueError(f"{type(network).__name__} has no linear layer to read features before")
        layers.append(linears[-1])
    return layers


@torch.no_grad()
def features_and_probabilities(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(float32 [B, D] penultimate features, float32 [B, 10] probabilities) for normalised x [B, 1, 28, 28]."""
    model.eval()
    captured: list[torch.Tensor] = []
    me = threading.get_ident()  # the app's workers share one loaded model: each keeps its own forward's features

    def keep(_module: nn.Module, inputs: tuple[torch.Tensor, ...], _output: torch.Tensor) -> None:
        if threading.get_ident() == me:  # (the map's and Why's passes at once: 384 = two threads' 192 features)
            captured.append(inputs[0].detach())

    hooks = [layer.register_forward_hook(keep) for layer in last_linear_layers(model)]
    try:
        probabilities = F.softmax(model(x).float(), dim=1)
    finally:
        for hook in hooks:
            hook.remove()
    return torch.cat([c.float() for c in captured], dim=1), probabilities


def compute_embeddings(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *,
                       progress: Progress | None = None, cancel: Callable[[], bool] | None = None,
                       batch_size: int = BATCH_SIZE) -> Embeddings:
    """Features (float16) and probabilities of uint8 ``images``, in batches; ``cancel()`` true stops early."""
    features, probabilities = [], []
    for start in range(0, len(images), batch_size):
        if cancel is not None and cancel():
            raise InterruptedError("embedding cancelled")
        f, p = features_and_probabilities(model, normalize(images[start:start + batch_size]))
        features.append(f.half())
        probabilities.append(p)
        if progress is not None:
            progress(min(start + batch_size, len(images)), len(images))
    dim = features[0].shape[1] if features else 0
    return Embeddings(torch.cat(features) if features else torch.zeros(0, dim, dtype=torch.float16),
                      torch.cat(probabilities) if probabilities else torch.zeros(0, 10), labels.long().clone())


def cache_path(checkpoint: str | os.PathLike[str], split: str) -> Path:
    checkpoint = Path(checkpoint)
    return checkpoint.parent / f"embeddings-{checkpoint.stem}-{split}.pt"


def _cache_key(checkpoint: Path, images: torch.Tensor, labels: torch.Tensor) -> dict[str, int]:
    stat = checkpoint.stat()
    return {
        "version": CACHE_VERSION, "checkpoint_size": stat.st_size, "checkpoint_mtime_ns": stat.st_mtime_ns,
        "count": len(labels), "pixel_checksum": int(images[:, ::3, ::3].sum(dtype=torch.int64)),
        "label_checksum": int((labels.long() * torch.arange(1, len(labels) + 1)).sum()),
    }


def _read_cache(path: Path, key: dict[str, int]) -> Embeddings | None:
    if not path.is_file():
        return None
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        if saved.get("key") != key:
            return None
        embeddings = Embeddings(saved["features"], saved["probabilities"], saved["labels"])
        if len(embeddings.features) != key["count"] or embeddings.features.dtype != torch.float16:
            return None
        return embeddings
    except Exception:  # noqa: BLE001 - a torn or foreign cache file is simply rebuilt
        return None


def cached_embeddings(model: nn.Module, checkpoint: str | os.PathLike[str], images: torch.Tensor,
                      labels: torch.Tensor, split: str, *, progress: Progress | None = None,
                      cancel: Callable[[], bool] | None = None) -> Embeddings:
    """The split's embeddings from the cache beside ``checkpoint``, computing (and saving) them if stale."""
    from .runs import DiskFull, write_atomic

    checkpoint = Path(checkpoint)
    path, key = cache_path(checkpoint, split), _cache_key(checkpoint, images, labels)
    embeddings = _read_cache(path, key)
    if embeddings is not None:
        if progress is not None:
            progress(len(labels), len(labels))
        return embeddings
    embeddings = compute_embeddings(model, images, labels, progress=progress, cancel=cancel)
    payload = {"key": key, "features": embeddings.features, "probabilities": embeddings.probabilities,
               "labels": embeddings.labels}
    try:
        write_atomic(path, lambda tmp: torch.save(payload, tmp))
    except (OSError, DiskFull):
        pass  # a read-only run folder or a full disk (map failed there, walk35 F6): they still serve this session
    return embeddings


def embed_digit(model: nn.Module, image: torch.Tensor) -> torch.Tensor:
    """Features [D] of one uint8 [28, 28] digit, rounded through float16 like the cache."""
    return features_and_probabilities(model, normalize(image.unsqueeze(0)))[0][0].half()


class NeighbourIndex:
    """Training features as float32 with their squared norms, for repeated k-NN queries."""

    def __init__(self, train: Embeddings):
        self.features = train.features.float()
        self.squared_norms = self.features.pow(2).sum(dim=1)
        self.labels = train.labels
        # every digit the same to the network (a collapsed one): its "nearest" were ties, ranked by index, at d0.0
        spread = self.features.amax(dim=0) - self.features.amin(dim=0) if len(self.features) else None
        self.alike = spread is not None and float(spread.max()) <= 1e-6

    def nearest(self, query: torch.Tensor, k: int = 8, exclude: int | None = None) -> list[Neighbour]:
        """The ``k`` training digits closest (Euclidean) to feature vector ``query``, nearest first."""
        query = query.float().view(-1)
        squared = (self.squared_norms - 2 * (self.features @ query) + query.dot(query)).clamp_min_(0)
        # the expansion loses digits for equal vectors; recompute the few winners exactly
        candidates = squared.topk(min(len(squared), k + 8 + (exclude is not None)), largest=False).indices
        exact = (self.features[candidates] - query).pow(2).sum(dim=1).sqrt()
        if exclude is not None:
            exact[candidates == exclude] = float("inf")
        order = exact.argsort()[:k]
        return [Neighbour(int(candidates[j]), int(self.labels[candidates[j]]), float(exact[j])) for j in order
                if exact[j] != float("inf")]


def nearest_training_digits(query: torch.Tensor, train: Embeddings | NeighbourIndex, k: int = 8,
                            exclude: int | None = None) -> list[Neighbour]:
    """The ``k`` training digits closest to feature vector ``query`` (build a :class:`NeighbourIndex`
    once when asking many times)."""
    index = train if isinstance(train, NeighbourIndex) else NeighbourIndex(train)
    return index.nearest(query, k, exclude)
