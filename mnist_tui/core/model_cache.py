"""One checkpoint's model, and its training digits' neighbour index, kept while its file is unchanged (importing
this module loads no torch)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any


class ModelCache:
    """``get(checkpoint)`` gives (model, config, checkpoint file), loading it again only when the file changed."""

    def __init__(self) -> None:
        self._loaded: tuple[tuple[str, int], tuple[Any, Any]] | None = None  # ((path, mtime), (model, config))

    def get(self, checkpoint: str | Path) -> tuple[Any, Any, Path]:
        from .checkpoints import checkpoint_in, load_checkpoint, model_from_checkpoint

        path = Path(checkpoint)
        path = checkpoint_in(path) if path.is_dir() else path
        key = (str(path), path.stat().st_mtime_ns)
        if self._loaded is None or self._loaded[0] != key:
            self._loaded = (key, model_from_checkpoint(load_checkpoint(path)))
        model, config = self._loaded[1]
        return model, config, path


class TrainingNeighbours:
    """``get(...)`` gives (NeighbourIndex, training images) for one checkpoint, built once per version of its file
    (the training digits' features are cached beside it), and once whichever threads ask at the same time (the
    Nearest panel and the Map); None when the training set is not on disk."""

    def __init__(self) -> None:
        self._built: tuple[tuple[str, int], tuple[Any, Any]] | None = None  # ((path, mtime), (index, images))
        self._lock = threading.Lock()

    def get(self, model: Any, path: Path, dataset: str, data_dir: str | None, progress: Any = None,
            cancel: Any = None) -> tuple[Any, Any] | None:
        from .data import DataUnavailable, load_mnist
        from .embeddings import NeighbourIndex, cached_embeddings

        key = (str(path), Path(path).stat().st_mtime_ns)
        with self._lock:
            if self._built is None or self._built[0] != key:
                try:
                    data = load_mnist(data_dir, download=False, dataset=dataset, only="train")
                except DataUnavailable:
                    return None
                train = cached_embeddings(model, path, data.train_images, data.train_labels, "train",
                                          progress=progress, cancel=cancel)
                self._built = (key, (NeighbourIndex(train), data.train_images))
            return self._built[1]
