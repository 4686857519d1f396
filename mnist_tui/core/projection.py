"""A 2-D map of penultimate-layer features: PCA, deterministic and instant for 10,000 digits."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Projection:
    coordinates: torch.Tensor  # float32 [N, 2]
    explained: tuple[float, float]  # fraction of the variance along each axis
    mean: torch.Tensor  # [D], to project new digits the same way
    axes: torch.Tensor  # [D, 2]

    def project(self, features: torch.Tensor) -> torch.Tensor:
        """Coordinates of more feature vectors ([B, D] or [D]) on the same axes."""
        return (features.float() - self.mean) @ self.axes


def pca_2d(features: torch.Tensor) -> Projection:
    """The two principal axes of ``features`` [N, D] (eigenvectors of the covariance; D is small)."""
    x = features.float()
    mean = x.mean(dim=0)
    centred = x - mean
    covariance = centred.T @ centred / max(len(x) - 1, 1)
    values, vectors = torch.linalg.eigh(covariance)  # ascending
    axes = vectors[:, -2:].flip(1).clone()
    # eigenvectors' signs are arbitrary: fix them so the same features give the same picture
    signs = torch.sign(axes[axes.abs().argmax(dim=0), torch.arange(2)])
    axes = axes * torch.where(signs == 0, torch.ones_like(signs), signs)
    total = float(values.clamp_min(0).sum()) or 1.0
    explained = (float(values[-1].clamp_min(0)) / total, float(values[-2].clamp_min(0)) / total) if len(values) > 1 \
        else (1.0, 0.0)
    return Projection(centred @ axes, explained, mean, axes)
