"""A 2-D map of penultimate-layer features: PCA (instant, built in), or UMAP / t-SNE when installed.

PCA is deterministic and takes milliseconds for 10,000 digits. UMAP (umap-learn) and t-SNE
(openTSNE) separate the classes' clusters better but take tens of seconds on a CPU and pull
in scipy, scikit-learn (and numba for UMAP): they are optional (``pip install
'mnist-tui[map]'``) and imported only when asked for.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import torch

METHODS = ("pca", "umap", "tsne")
TITLES = {"pca": "PCA", "umap": "UMAP", "tsne": "t-SNE"}
# method -> (module imported, package to install)
OPTIONAL = {"umap": ("umap", "umap-learn"), "tsne": ("openTSNE", "openTSNE")}


class MethodUnavailable(RuntimeError):
    """The method's package is not installed; the message says which to install."""


@dataclass(frozen=True)
class Projection:
    coordinates: torch.Tensor  # float32 [N, 2]
    explained: tuple[float, float]  # fraction of the variance along each axis (PCA; zeros otherwise)
    mean: torch.Tensor | None = None  # [D], to project new digits the same way (PCA only)
    axes: torch.Tensor | None = None  # [D, 2]
    method: str = "pca"

    def project(self, features: torch.Tensor) -> torch.Tensor:
        """Coordinates of more feature vectors ([B, D] or [D]) on the same axes (PCA only)."""
        if self.mean is None or self.axes is None:
            raise ValueError(f"{TITLES[self.method]} cannot place new digits; only PCA can")
        return (features.float() - self.mean) @ self.axes

    @property
    def title(self) -> str:
        """``PCA 31%+18%`` (the variance each axis explains), ``UMAP`` or ``t-SNE``."""
        if self.method == "pca":
            return f"PCA {self.explained[0]:.0%}+{self.explained[1]:.0%}"
        return TITLES[self.method]


def method_available(method: str) -> bool:
    """Whether ``method`` can run here (PCA always; the others if their package is installed)."""
    if method not in METHODS:
        return False
    return method not in OPTIONAL or importlib.util.find_spec(OPTIONAL[method][0]) is not None


def available_methods() -> list[str]:
    return [m for m in METHODS if method_available(m)]


def unavailable_reason(method: str) -> str:
    module, package = OPTIONAL[method]
    return (f"{TITLES[method]} needs the {package} package, which is not installed: "
            f"pip install {package} (or pip install 'mnist-tui[map]')")


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
    return Projection(centred @ axes, explained, mean, axes, "pca")


def umap_2d(features: torch.Tensor, seed: int = 0) -> Projection:
    """UMAP (McInnes et al. 2018) with its defaults (15 neighbours, min_dist 0.1), seeded."""
    import umap  # optional: numba compiles on first use

    reducer = umap.UMAP(n_components=2, random_state=seed)
    xy = reducer.fit_transform(features.float().numpy())
    return Projection(torch.as_tensor(xy, dtype=torch.float32), (0.0, 0.0), method="umap")


def tsne_2d(features: torch.Tensor, seed: int = 0, threads: int | None = None) -> Projection:
    """t-SNE by openTSNE (FFT-accelerated, perplexity 30, PCA initialisation), seeded."""
    import openTSNE

    threads = threads or max(1, torch.get_num_threads())
    embedding = openTSNE.TSNE(n_components=2, perplexity=30, random_state=seed, n_jobs=threads).fit(
        features.float().numpy())
    return Projection(torch.as_tensor(embedding, dtype=torch.float32), (0.0, 0.0), method="tsne")


def project_2d(features: torch.Tensor, method: str = "pca", seed: int = 0) -> Projection:
    """``features`` [N, D] placed in 2-D by ``method``; :class:`MethodUnavailable` if not installed."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if not method_available(method):
        raise MethodUnavailable(unavailable_reason(method))
    if method == "umap":
        return umap_2d(features, seed)
    if method == "tsne":
        return tsne_2d(features, seed)
    return pca_2d(features)


def _features_digest(features: torch.Tensor) -> str:
    return hashlib.sha1(features.detach().cpu().contiguous().numpy().tobytes()).hexdigest()


def cached_projection(features: torch.Tensor, method: str, cache: str | os.PathLike[str] | None,
                      seed: int = 0) -> Projection:
    """``project_2d``, with UMAP and t-SNE coordinates kept in the file ``cache`` (keyed by a digest
    of the features, the method and the seed; written atomically; an unreadable file is redone).
    PCA takes milliseconds and is not cached."""
    if method == "pca" or cache is None:
        return project_2d(features, method, seed)
    from .runs import write_atomic

    cache = Path(cache)
    key = {"method": method, "seed": seed, "features": _features_digest(features)}
    try:
        saved = torch.load(cache, map_location="cpu", weights_only=True)
        coordinates = saved["coordinates"]
        if saved.get("key") == key and tuple(coordinates.shape) == (len(features), 2):
            return Projection(coordinates.float(), (0.0, 0.0), method=method)
    except Exception:  # noqa: BLE001 - missing, torn or foreign: worked out again
        pass
    projection = project_2d(features, method, seed)
    try:
        write_atomic(cache, lambda tmp: torch.save({"key": key, "coordinates": projection.coordinates}, tmp))
    except Exception:  # noqa: BLE001 - read-only folder, full disk: the map still serves this session
        pass
    return projection
