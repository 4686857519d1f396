"""One checkpoint's model kept loaded while its file is unchanged (importing this module loads no torch)."""

from __future__ import annotations

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
