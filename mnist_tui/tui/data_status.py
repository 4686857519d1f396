"""The app's datasets: read in a thread, at start and for f5, and what the progress line says of them."""

from __future__ import annotations

from textual import work

from ..core.config import DATASET_TITLES
from .messages import DataFailed, DataReady, while_mounted
from .panes.results import ResultsPane
from .widgets.hparam_form import HParamForm
from .widgets.progress import ProgressLine, ready_message


class DataLoading:
    """The app's dataset loading (a mixin before ``App``): the dataset cache, the form and the run view are the
    app's."""

    @work(thread=True, exclusive=True, exit_on_error=False, group="data", name="load data")
    def load_data_in_background(self, dataset: str | None = None) -> None:
        dataset = dataset or self.initial_config.dataset
        try:
            self.post_message(DataReady(self.dataset_cache.get(dataset)))
        except Exception as exc:  # noqa: BLE001 - shown to the user, the app stays up
            self.post_message(DataFailed(str(exc), dataset))

    @while_mounted
    def on_data_ready(self, message: DataReady) -> None:
        data = message.data
        form = self.query_one(HParamForm)
        form.train_digits[data.dataset] = len(data.train_labels)
        form.revalidate()
        if self.query_one(ProgressLine).progress.state in ("loading", "failed"):
            counts = (len(data.train_labels), len(data.test_labels))
            self.set_progress(state="idle", message=ready_message(DATASET_TITLES[data.dataset], counts))
            self.say_ready()  # (the form may name another dataset by now)
        self.data_failed = None
        self.run_view.data_loaded()

    @while_mounted
    def on_data_failed(self, message: DataFailed) -> None:
        self.data_failed = message.dataset
        self.run_view.data_loaded(False)
        self.run_view.data_missing(message.dataset, message.message)  # as a run's process says it (walk37 F3)
        if self.evaluation is None:
            self.query_one(ResultsPane).show_saved(None, self.dataset_cache, self.checkpoints_dir)

    def say_ready(self) -> None:
        """The idle Ready line names the form's dataset, with its digits where they are in memory (once another
        was missing, it read "Ready · f5 start" for the session: walk40 F6)."""
        line, dataset = self.query_one(ProgressLine).progress, self.query_one(HParamForm).dataset
        ready = ("Ready · f5 start ·", *(f"Ready · {title}" for title in DATASET_TITLES.values()))
        if line.state != "idle" or not line.message.startswith(ready):
            return
        data = self.dataset_cache.current
        counts = (len(data.train_labels), len(data.test_labels)) if data and data.dataset == dataset else None
        self.set_progress(state="idle", message=ready_message(DATASET_TITLES[dataset], counts))


__all__ = ["DataLoading"]
