"""The Misclassified pane's Map (M): the test digits placed by the model's features, as a pushed screen.

A mixin of MisclassifiedPane, which it reads for the checkpoint, the data folder, the model cache, the
training digits' index and the grid; the map's layouts are kept per checkpoint version for the session.
"""

from __future__ import annotations

from typing import Any

from textual import work
from textual.message import Message

from ..widgets.digit_grid import DigitGrid


class MapReady(Message):
    """The test set's map was worked out (or why not, as a string)."""

    def __init__(self, data: Any, checkpoint: str) -> None:
        super().__init__()
        self.data, self.checkpoint = data, checkpoint


class MapLauncher:
    """M on the pane: work out the map in a thread, push it, and show the digit chosen on it in the grid."""

    _map_layouts: tuple[Any, dict[str, Any]] | None = None  # ((path, mtime), method -> xy) this session
    _map_of: str | None = None  # the checkpoint of the map on screen

    def action_open_map(self) -> None:
        if self.checkpoint is None:
            self.notify("The map needs the run's checkpoint: load the run from Runs (f4).", severity="warning")
            return
        from ...core.embeddings import cache_path

        if not cache_path(self.checkpoint, "test").is_file():  # once: then the map opens at once
            self.notify("Working out the map of the test digits…")
        self._compute_map(self.checkpoint, self.data_dir)

    @work(thread=True, exclusive=True, exit_on_error=False, group="map")
    def _compute_map(self, checkpoint: str, data_dir: str | None) -> None:
        from ...core.data import DataUnavailable
        from ..screens.map import test_set_map

        try:
            model, config, path = self._models.get(checkpoint)
            key = (str(path), path.stat().st_mtime_ns)
            if self._map_layouts is None or self._map_layouts[0] != key:
                self._map_layouts = (key, {})
            result: Any = test_set_map(model, config.dataset, path, data_dir, self._map_layouts[1], lambda progress,
                                       cancel: self._training_neighbours.get(model, path, config.dataset, data_dir,
                                                                             progress, cancel))
        except DataUnavailable:
            result = "The map needs the test set, which is not on disk: start the app with --data-dir."
        except Exception as exc:  # noqa: BLE001 - shown, never a crash
            result = f"Could not build the map: {exc}"
        self.post_message(MapReady(result, checkpoint))

    def on_map_ready(self, message: MapReady) -> None:
        if isinstance(message.data, str):
            self.notify(message.data, severity="warning")
            return
        from ...core.analysis import misclassified_examples
        from ..screens.map import MapScreen

        current = self.query_one(DigitGrid).current  # the map opens on the digit being looked at
        listed = {m.index for m in misclassified_examples(self.evaluation)} if self.evaluation is not None else None
        self._map_of = message.checkpoint
        self.app.push_screen(MapScreen(message.data, current.index if current else None, listed), self._open_from_map)

    def supersede_map(self) -> None:
        """Another checkpoint is loaded behind an open map: it says so (it showed the earlier model's wrong
        digits, unnamed at 80 columns, and enter then contradicted it)."""
        from pathlib import Path

        from ..screens.map import MapScreen

        maps = [screen for screen in self.app.screen_stack if isinstance(screen, MapScreen)]
        if maps and self._map_of != self.checkpoint:
            now = Path(self.checkpoint).parent.name if self.checkpoint else "no run"
            maps[-1].supersede(f"{now} is loaded now")

    def _open_from_map(self, index: int | None) -> None:
        """Show the digit chosen on the map in the grid, if it is a wrong one; the filters go only when they leave it
        out (they went each time, walk36 F7)."""
        if index is None:
            return
        from ...core.analysis import misclassified_examples

        if self.evaluation is None or all(m.index != index for m in misclassified_examples(self.evaluation)):
            self.notify(f"Test digit #{index} is read right, so it is not in this list.")
            return  # the filters stay as they were
        self.action_close_insight()
        if all(m.index != index for m in self.examples):
            self.set_filter(None, None)
        self.query_one(DigitGrid).selected = next(k for k, m in enumerate(self.examples) if m.index == index)
