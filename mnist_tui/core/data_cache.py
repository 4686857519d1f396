"""The dataset a process keeps in memory: loaded once, shared by the threads that need it.

The app loads the form's dataset in a worker at start-up (so "Ready" can name it, and a
missing folder is reported before the first run); evaluating a loaded run needs it again.
Torch and the dataset load on the first ``get``, never at import.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .data import MnistData


class DatasetCache:
    """The last dataset asked for; ``get`` loads another one in its place (one at a time in memory)."""

    def __init__(self, data_dir: str | os.PathLike[str] | None, download: bool = True) -> None:
        self.data_dir = data_dir
        self.download = download
        self.current: MnistData | None = None
        self._lock = threading.Lock()

    def get(self, dataset: str = "mnist") -> MnistData:
        """The dataset, loading it if it is not the one in memory (raises DataUnavailable); thread-safe."""
        with self._lock:
            if self.current is None or self.current.dataset != dataset:
                from .data import load_mnist

                self.current = load_mnist(self.data_dir, download=self.download, dataset=dataset)
            return self.current


__all__ = ["DatasetCache"]
