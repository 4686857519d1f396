"""The model families, each built from a TrainConfig."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import TrainConfig


class MLP(nn.Module):
    """The seed notebook's network: 784 -> 128 -> 64 -> 10 with ReLU (hidden sizes configurable)."""

    def __init__(self, hidden: tuple[int, ...] = (128, 64), dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = 28 * 28
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, 10))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class LeNet5(nn.Module):
    """LeCun et al. 1998's layout: conv 6, pool, conv 16, pool, 120, 84, 10 (ReLU and max-pool)."""

    def __init__(self, dropout: float = 0.0):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),  # 28 -> 14
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),  # 14 -> 10 -> 5
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def _conv_block(c_in: int, c_out: int, kernel: int, batchnorm: bool = True) -> list[nn.Module]:
    """Conv, 2x2 max-pool, optional batchnorm, ReLU.

    Pooling first puts batchnorm and ReLU on a quarter of the values: about 30% less
    time per step on a CPU than conv-bn-relu-pool, and as accurate on MNIST.
    """
    if not batchnorm:
        return [nn.Conv2d(c_in, c_out, kernel), nn.MaxPool2d(2), nn.ReLU(inplace=True)]
    return [nn.Conv2d(c_in, c_out, kernel, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


def _head(features: int, hidden: int, dropout: float) -> nn.Sequential:
    """Flatten, dropout, one hidden layer, 10 logits (the same layer indices in both CNNs' checkpoints)."""
    return nn.Sequential(
        nn.Flatten(), nn.Dropout(dropout),
        nn.Linear(features, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
        nn.Linear(hidden, 10),
    )


class CNN(nn.Module):
    """A small CNN: two conv (+ optional batchnorm) + pool + ReLU blocks, dropout, a 2-layer head.

    ``width`` is the first block's channels; the second has 4/3 of it and the head 8x it.
    Width 24 without batchnorm is tuomaso/train_mnist_fast's 1-epoch network (its head is 256).
    """

    def __init__(self, width: int = 24, dropout: float = 0.1, batchnorm: bool = True):
        super().__init__()
        c1, c2 = width, max(1, width * 4 // 3)
        self.features = nn.Sequential(
            *_conv_block(1, c1, 5, batchnorm),  # 28 -> 24 -> 12
            *_conv_block(c1, c2, 3, batchnorm),  # 12 -> 10 -> 5
        )
        self.classifier = _head(c2 * 25, width * 8, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class Crop(nn.Module):
    """Drop ``pixels`` from each border (MNIST centres its digits' 20x20 box in 28x28; the rim is empty)."""

    def __init__(self, pixels: int):
        super().__init__()
        self.pixels = pixels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.pixels
        return x[:, :, p:-p, p:-p]


class FastCNN(nn.Module):
    """The `fast` preset's network: the least arithmetic we found that reaches 99% in one CPU epoch.

    crop to the centre 24x24 | conv 5x5 stride 2 (w), ReLU (10x10) | conv 3x3 (1.5w) pool,
    batchnorm, ReLU (4x4) | fc 12w, fc 10. The strided first conv does a quarter of the work of
    conv + pool at full size and needs no 24x24 pooling; it trains best without batchnorm.
    At width 16 a step takes 3.8 ms against :class:`CNN`'s 13.6 ms at width 24 (batch 256 on 2 CPU cores);
    the `fast` preset reaches 99.07-99.14% test after one epoch (seeds 0-4).
    """

    def __init__(self, width: int = 16, dropout: float = 0.0, batchnorm: bool = True):
        super().__init__()
        c1, c2 = width, max(1, width * 3 // 2)
        self.features = nn.Sequential(
            Crop(2),  # 28 -> 24
            nn.Conv2d(1, c1, 5, stride=2), nn.ReLU(inplace=True),  # 24 -> 10
            *_conv_block(c1, c2, 3, batchnorm),  # 10 -> 8 -> 4
        )
        self.classifier = _head(c2 * 16, width * 12, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class DeepCNN(nn.Module):
    """Three conv blocks for the long, augmented runs: 5x5 conv, then two 3x3 convs at 12x12.

    conv 5x5 (w) pool | conv 3x3 (2w, padded) | conv 3x3 (2w) pool | dropout, fc 8w, fc 10;
    each conv is followed by batchnorm and ReLU (pooling first, as in :class:`CNN`).
    """

    def __init__(self, width: int = 32, dropout: float = 0.1):
        super().__init__()
        c1, c2 = width, width * 2
        self.features = nn.Sequential(
            *_conv_block(1, c1, 5),  # 28 -> 24 -> 12
            nn.Conv2d(c1, c2, 3, padding=1, bias=False), nn.BatchNorm2d(c2), nn.ReLU(inplace=True),  # 12
            *_conv_block(c2, c2, 3),  # 12 -> 10 -> 5
        )
        self.classifier = _head(c2 * 25, width * 8, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class Ensemble(nn.Module):
    """Several networks trained side by side on the same batches, each from its own init.

    Training mode returns every member's logits stacked along the batch ([members * B, 10]),
    so the loss is the mean of the members' own losses: they learn independently, as
    separately trained models would. Eval mode returns the log of their mean probability,
    which any softmax/argmax consumer reads as the ensemble's prediction.
    """

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            return torch.cat([member(x) for member in self.members])
        log_probs = torch.stack([F.log_softmax(member(x), dim=1) for member in self.members])
        return log_probs.logsumexp(0) - math.log(len(self.members))

    def forward_views(self, x: torch.Tensor) -> torch.Tensor:
        """Training on one view per member: x is the members' views of a batch one after the other."""
        views = x.chunk(len(self.members))
        return torch.cat([member(view) for member, view in zip(self.members, views)])


def build_model(config: TrainConfig) -> nn.Module:
    """The network ``config.model`` names, freshly initialised from torch's current RNG
    (an :class:`Ensemble` of ``config.members`` of them when that is more than one)."""
    if config.members > 1:
        return Ensemble([_build_one(config) for _ in range(config.members)])
    return _build_one(config)


def _build_one(config: TrainConfig) -> nn.Module:
    if config.model == "mlp":
        return MLP(config.hidden, config.dropout)
    if config.model == "lenet5":
        return LeNet5(config.dropout)
    if config.model == "cnn":
        return CNN(config.width, config.dropout, config.batchnorm)
    if config.model == "fastcnn":
        return FastCNN(config.width, config.dropout, config.batchnorm)
    if config.model == "deepcnn":
        return DeepCNN(config.width, config.dropout)
    raise ValueError(f"unknown model {config.model!r}")


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
