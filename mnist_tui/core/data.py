"""MNIST through torchvision, held in memory as uint8 tensors and batched by index.

torchvision's per-sample PIL transforms and a DataLoader cost more than a small
model on a CPU, so the whole set stays as one tensor (47 MB) and batches are cut
from it, normalised and (optionally) augmented per sample on the fly.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from .data_files import RAW_FILES, SPLIT_FILES, DataUnavailable, find_data, help_text  # (no torch there)

# torchvision's MNIST statistics, used for every model.
MEAN = 0.1307
STD = 0.3081


@dataclass(frozen=True)
class MnistData:
    train_images: torch.Tensor  # uint8 [N, 28, 28]
    train_labels: torch.Tensor  # int64 [N]
    test_images: torch.Tensor
    test_labels: torch.Tensor
    source: str  # the folder the raw files were read from
    dataset: str = "mnist"


@dataclass(frozen=True)
class Splits:
    """Train/validation cut of the training set (fixed by the seed), and the test set."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    val_images: torch.Tensor
    val_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor


def _read_idx(path: Path, magic: int, count: int) -> torch.Tensor:
    """An IDX file's items as uint8 ([N, 28, 28] images or [N] labels); _check_idx has checked its header.

    Parsed here rather than by torchvision, whose import costs ~170 MB of memory.
    """
    offset = 16 if magic == 0x0803 else 8
    items = torch.frombuffer(bytearray(path.read_bytes()[offset:]), dtype=torch.uint8)
    return items.view(count, 28, 28) if magic == 0x0803 else items


def load_mnist(data_dir: str | os.PathLike[str] | None = None, *, download: bool = True,
               dataset: str = "mnist", only: str | None = None,
               found: tuple[Path, Path, dict[str, int]] | None = None) -> MnistData:
    """Read MNIST from ``data_dir`` (see :func:`resolve_data_dir`), downloading if missing; ``only`` "test" or
    "train" reads that split's two files alone (the other split is empty): a damaged or missing training file
    stopped eval, explain, map and export's check, and they said the test set was missing (walk35 F7).

    Raises DataUnavailable with the folder, the expected files and the fix (:func:`.data_files.find_data`);
    ``found``: what that already returned for these arguments (a command that looked before importing torch).
    """
    root, raw, counts = found or find_data(data_dir, download=download, dataset=dataset, only=only)
    empty = {0x0803: torch.empty(0, 28, 28, dtype=torch.uint8), 0x0801: torch.empty(0, dtype=torch.uint8)}
    try:
        train_x, train_y, test_x, test_y = (_read_idx(raw / name, magic, counts[name]) if name in counts
                                            else empty[magic] for name, magic in RAW_FILES)
    except Exception as exc:  # noqa: BLE001 - a read failure after the check (the file changed under us)
        raise DataUnavailable(help_text(root, dataset, f"Could not read the files in {raw}: {exc!r}",
                                    files=SPLIT_FILES[only])) from exc
    return MnistData(train_x.contiguous(), train_y.long(), test_x.contiguous(), test_y.long(), str(raw), dataset)


def split(data: MnistData, val_size: int, seed: int) -> Splits:
    """Hold out ``val_size`` training digits for validation, chosen by ``seed``."""
    n = len(data.train_labels)
    if val_size >= n:
        raise DataUnavailable(f"val_size {val_size} leaves no training data ({n} training digits)")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    train_idx, val_idx = order[: n - val_size].sort().values, order[n - val_size:].sort().values
    return Splits(
        data.train_images[train_idx], data.train_labels[train_idx],
        data.train_images[val_idx], data.train_labels[val_idx],
        data.test_images, data.test_labels,
    )


def on_device(splits: Splits, device: torch.device) -> Splits:
    """The training digits resident on ``device`` (47 MB at most), so batches are cut there and
    nothing crosses to a GPU per batch; validation and test stay where they are (evaluated in batches)."""
    if device.type == "cpu":
        return splits
    return replace(splits, train_images=splits.train_images.to(device),
                   train_labels=splits.train_labels.to(device))


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A CPU tensor on ``device`` without the host waiting for the GPU: a plain copy waits for
    all queued work (a host sync per batch); one from pinned memory is queued like a kernel."""
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 [B, 28, 28] or float [B, 1, 28, 28] in [0, 1] -> normalised float [B, 1, 28, 28]."""
    if images.dtype == torch.uint8:
        images = images.unsqueeze(1).float().div_(255)
    return (images - MEAN) / STD


ELASTIC_SIGMA = 5.0  # smoothness of the elastic displacement field, pixels


def random_affine(images: torch.Tensor, rotate: float, translate: float, scale: float,
                  generator: torch.Generator, elastic: float = 0.0) -> torch.Tensor:
    """Per-sample random rotation/shift/zoom (and elastic distortion) of float [B, 1, H, W] images in [0, 1].

    Each sample draws its own parameters (torchvision.transforms.v2 would draw one per batch).
    ``elastic`` is Simard et al. 2003's alpha in pixels: a random displacement field,
    smoothed by a Gaussian of ``ELASTIC_SIGMA`` pixels, scaled by alpha (34 there).
    """
    b, _, h, w = images.shape

    def uniform(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator) * 2 - 1

    angle = uniform(b) * math.radians(rotate)
    zoom = 1 + uniform(b) * scale
    shift = torch.stack([uniform(b), uniform(b)], dim=1) * translate * 2  # grid spans [-1, 1]
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([
        torch.stack([cos, -sin, shift[:, 0]], dim=1),
        torch.stack([sin, cos, shift[:, 1]], dim=1),
    ], dim=1)
    # the parameters are drawn on the CPU (the same stream on any device, so a run resumes exactly
    # elsewhere); the warping itself runs where the images are
    grid = F.affine_grid(to_device(theta, images.device), list(images.shape), align_corners=False)
    if elastic > 0:
        field = _smooth(to_device(uniform(b * 2, 1, h, w), images.device), ELASTIC_SIGMA).view(b, 2, h, w)
        # pixels to the grid's units; a scale tensor made from numbers here would be a blocking copy to a GPU
        grid = grid + torch.stack([field[:, 0] * (elastic * 2 / w), field[:, 1] * (elastic * 2 / h)], dim=-1)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _smooth(field: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of [N, 1, H, W] (separable, zero padding), as in Simard et al.'s elastic distortion."""
    radius = int(2 * sigma)
    x = torch.arange(-radius, radius + 1, dtype=field.dtype, device=field.device)
    kernel = torch.exp(-x ** 2 / (2 * sigma ** 2))
    kernel = kernel / kernel.sum()
    field = F.conv2d(field, kernel.view(1, 1, 1, -1), padding=(0, radius))
    return F.conv2d(field, kernel.view(1, 1, -1, 1), padding=(radius, 0))


def batch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The shuffled order of epoch ``epoch``; a function of (seed, epoch) so a resumed run matches."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))


def training_batches(images: torch.Tensor, labels: torch.Tensor, batch_size: int, order: torch.Tensor,
                     *, start_step: int = 0, device: torch.device | str = "cpu",
                     rotate: float = 0.0, translate: float = 0.0, scale: float = 0.0, elastic: float = 0.0,
                     generator: torch.Generator | None = None,
                     views: int = 1) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield normalised (x, y) batches in ``order`` from ``start_step``; augment per sample if asked.

    With augmentation and ``views`` > 1, x holds ``views`` augmented copies of the batch one
    after the other (each sample's copies drawn apart), for an ensemble's members; y is the batch's.
    """
    augment = rotate > 0 or translate > 0 or scale > 0 or elastic > 0
    order = to_device(order, images.device)  # cut where the images are (on_device)
    for start in range(start_step * batch_size, len(order), batch_size):
        idx = order[start:start + batch_size]
        x = images[idx].to(device, non_blocking=True).unsqueeze(1).float().div_(255)
        if augment:
            if views > 1:
                x = x.repeat(views, 1, 1, 1)
            x = random_affine(x, rotate, translate, scale, generator or torch.Generator(), elastic)
        yield normalize(x), labels[idx].to(device, non_blocking=True)


def eval_batches(images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000,
                 device: torch.device | str = "cpu") -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield normalised (x, y) batches in dataset order, for evaluation."""
    for start in range(0, len(labels), batch_size):
        yield (normalize(images[start:start + batch_size].to(device)),
               labels[start:start + batch_size].to(device))
