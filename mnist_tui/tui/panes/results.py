"""The Results view: test accuracy and loss, per-class accuracy and the confusion matrix.

The pane owns getting its figures: a finished run's saved results (no second pass over
the test set), or an evaluation of a loaded checkpoint, each in a thread worker calling
``core.evaluation``. What it shows is posted on as ``EvaluationReady`` for Misclassified.
"""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Static

from ...core.data_cache import DatasetCache
from ..messages import EvaluationFailed, EvaluationProgress, EvaluationReady
from ..widgets.confusion import ConfusionTable
from ..widgets.fit import first_fitting
from ..widgets.progress import text_bar


# the matrix's hint, and where that does not fit one line (60 columns: its wrapped "digits" lay below the edge,
# walk41 F12)
HINTS = ("rows: true class, columns: predicted · enter: see those digits",
         "rows: true class, columns: predicted · enter: see them")


class ResultsPane(Vertical):
    """Shows an evaluation; ``evaluate`` and ``show_saved`` fetch one in the background."""

    _keys_to_matrix = False  # a run loaded from Runs: the matrix takes the keys when it shows

    def compose(self) -> ComposeResult:
        yield Static("No results yet: finish a run, or load one from Runs (f4).", id="results-summary")
        yield Static("", id="results-note")  # what is shown is not the last run's (it stopped)
        # a plain text bar: Textual's ProgressBar keeps a 15 Hz animation timer even while hidden,
        # and every wake-up of the UI thread competes with training for the GIL
        yield Static(id="eval-progress")
        yield ConfusionTable(id="confusion")
        yield Static(HINTS[0], id="results-help")

    def on_resize(self) -> None:
        hint = self.query_one("#results-help", Static)
        hint.update(first_fitting(HINTS, hint.content_region.width or self.size.width))

    def on_mount(self) -> None:
        self.query_one("#eval-progress").display = False
        self.query_one("#results-note").display = False
        self.query_one("#confusion").display = False
        self.query_one("#results-help").display = False

    # -- fetching -------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="evaluation", name="evaluate")
    def evaluate(self, checkpoint: str, data: DatasetCache) -> None:
        """Evaluate a checkpoint on its dataset's test set in chunks, posting progress."""
        try:
            from ...core.evaluation import evaluate_checkpoint

            evaluated = evaluate_checkpoint(checkpoint, data.get,
                                            lambda done, total: self.post_message(EvaluationProgress(done, total)))
            self.post_message(EvaluationReady(evaluated))
        except Exception as exc:  # noqa: BLE001 - shown to the user
            self.post_message(EvaluationFailed(str(exc) or type(exc).__name__))

    @work(thread=True, exclusive=True, exit_on_error=False, group="evaluation", name="saved results")
    def show_saved(self, run_dir: str | None, data: DatasetCache, checkpoints_dir: Path) -> None:
        """What a run saved at its end (no model runs); ``None``: the shipped model's, even without data."""
        try:
            from ...core.evaluation import find_default_model, finished_run_evaluation

            folder = Path(run_dir) if run_dir else find_default_model(checkpoints_dir)
            shown = finished_run_evaluation(folder, data.current) if folder else None
            if shown is None and run_dir:  # what it saved cannot be read: its checkpoint is tested again
                from ...core.evaluation import evaluate_checkpoint

                self.app.call_from_thread(self.show_progress, 0, 0, f"{folder.name} · last.pt")
                shown = evaluate_checkpoint(folder / "last.pt", data.get,
                                            lambda done, total: self.post_message(EvaluationProgress(done, total)))
            if shown is not None:
                self.post_message(EvaluationReady(shown))
        except Exception as exc:  # noqa: BLE001
            self.post_message(EvaluationFailed(str(exc) or type(exc).__name__))

    def load_run(self, path: Path, data: DatasetCache) -> None:
        """A run folder's test figures: those it saved at its end, else its test checkpoint evaluated."""
        from ...core.runs import CHECKPOINT_FILES, read_result  # torch-free (core.evaluation's rule, unloaded)

        self._keys_to_matrix = True  # Runs' table, which had the keys, is hidden now
        finished = bool(read_result(path)) and (path / "last.pt").is_file()  # {}: not finished
        if finished and (path / "misclassified.pt").is_file():
            self._hide_shown(f"Reading {path.name}'s saved results…")
            self.show_saved(str(path), data, path.parent)
            return
        name = "last.pt" if finished else next((n for n in CHECKPOINT_FILES if (path / n).is_file()), "last.pt")
        self.show_progress(0, 0, f"{path.name} · {name}")
        self.evaluate(str(path / name), data)

    def on_evaluation_progress(self, message: EvaluationProgress) -> None:
        message.stop()
        self.show_progress(message.done, message.total)

    def on_evaluation_ready(self, message: EvaluationReady) -> None:
        shown = message.evaluated  # not stopped: the app hands it on to Misclassified
        self.show_evaluation(shown.evaluation, shown.source, shown.class_names)

    def on_evaluation_failed(self, message: EvaluationFailed) -> None:
        self.show_failure(message.reason)  # not stopped: Misclassified lets the previous run's digits go too
        self.notify(message.reason, title="Evaluation failed", severity="error", timeout=10)

    # -- showing --------------------------------------------------------------------------

    def note_training(self, run_name: str, ended: str | None = None) -> None:
        """A run trains (or ``ended``: "failed"): the results shown, if any, are another run's (nothing said so)."""
        note = self.query_one("#results-note", Static)
        if self.query_one("#confusion").display:
            note.update(f"[b]{run_name}[/] {ended or 'is training'}: these are not its results"
                        + ("." if ended else "; its own show here when it ends."))
            note.display = True

    def note_stopped(self, run_name: str) -> None:
        """A run stopped before its test: what is shown is another run's, and how to see this one's."""
        note = self.query_one("#results-note", Static)
        shown = self.query_one("#confusion").display  # another run's results are on screen
        note.update(f"[b]{run_name}[/] stopped before its test: " + ("these are not its results. " if shown else "")
                    + "Runs (f4), l evaluates it.")
        note.display = True

    def show_deleted(self, run_name: str) -> None:
        """The run whose results were shown was deleted: they go with it."""
        for part in ("#eval-progress", "#confusion", "#results-help"):
            self.query_one(part).display = False
        self.query_one("#results-summary", Static).update("No results yet: finish a run, or load one from Runs (f4).")
        note = self.query_one("#results-note", Static)
        note.update(f"[b]{run_name}[/] was deleted, and its results with it.")
        note.display = True

    def show_progress(self, done: int, total: int, source: str | None = None) -> None:
        """``total`` 0: not known yet (the model and the test digits are loading)."""
        bar = self.query_one("#eval-progress", Static)
        bar.display = True
        bar.update(f"{text_bar(done / total if total else 0.0, 30)} "
                   + (f"{done:,} / {total:,} test digits" if total else "loading the model and the test digits…"))
        if source:
            self._hide_shown(f"Evaluating {source} on the test set…")

    def _hide_shown(self, summary: str) -> None:
        """Another run's figures go while this one's come: its matrix would read as this one's."""
        for part in ("#results-note", "#confusion", "#results-help"):
            self.query_one(part).display = False
        self.query_one("#results-summary", Static).update(summary)

    def show_failure(self, reason: str) -> None:
        """No figures: the previous run's matrix would read as this one's."""
        self._keys_to_matrix = False
        for part in ("#eval-progress", "#results-note", "#confusion", "#results-help"):
            self.query_one(part).display = False
        self.query_one("#results-summary", Static).update(f"[b red]Evaluation failed:[/] {reason}")

    def show_evaluation(self, evaluation, source: str, class_names: tuple[str, ...] | None = None) -> None:
        wrong = sum(sum(row) - row[i] for i, row in enumerate(evaluation.confusion))
        total = len(evaluation.labels)
        self.query_one("#eval-progress").display = False
        self.query_one("#results-note").display = False
        self.query_one("#results-summary", Static).update(
            f"[b]{source}[/]\ntest accuracy [b]{evaluation.accuracy:.2%}[/] · loss {evaluation.loss:.4f}"
            f" · {wrong:,} wrong of {total:,}"
        )
        table = self.query_one("#confusion", ConfusionTable)
        table.set_confusion(evaluation.confusion, evaluation.per_class_accuracy, class_names)
        table.display = True
        self.query_one("#results-help").display = True
        if self._keys_to_matrix:  # loaded from Runs (l): once the tab switch is drawn, the keys go to the matrix
            self.call_after_refresh(self._take_keys)
        self._keys_to_matrix = False

    def _take_keys(self) -> None:
        """The matrix takes the keys unless a shown widget has them (Runs' hidden table kept them, or nothing did)."""
        focused = self.app.focused
        if _shown(self) and (focused is None or not _shown(focused)):
            self.query_one("#confusion", ConfusionTable).focus()


def _shown(widget: Widget) -> bool:
    """Whether the widget and every container above it are displayed (an inactive tab's are not)."""
    return all(node.display for node in widget.ancestors_with_self if isinstance(node, Widget))
