"""The Results view: test accuracy and loss, per-class accuracy and the confusion matrix."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from ..widgets.confusion import ConfusionTable
from ..widgets.progress import text_bar


class ResultsPane(Vertical):
    """Filled by the app when an evaluation finishes."""

    def compose(self) -> ComposeResult:
        yield Static("No results yet: finish a run, or load one from Runs (f4).", id="results-summary")
        # a plain text bar: Textual's ProgressBar keeps a 15 Hz animation timer even while hidden,
        # and every wake-up of the UI thread competes with training for the GIL
        yield Static(id="eval-progress")
        yield ConfusionTable(id="confusion")
        yield Static("rows: true class, columns: predicted · enter: see those digits",
                     id="results-help")

    def on_mount(self) -> None:
        self.query_one("#eval-progress").display = False
        self.query_one("#confusion").display = False
        self.query_one("#results-help").display = False

    def show_progress(self, done: int, total: int, source: str | None = None) -> None:
        bar = self.query_one("#eval-progress", Static)
        bar.display = True
        bar.update(f"{text_bar(done / total if total else 0.0, 30)} {done:,} / {total:,} test digits")
        if source:
            self.query_one("#results-summary", Static).update(f"Evaluating {source} on the test set…")

    def show_failure(self, reason: str) -> None:
        self.query_one("#eval-progress").display = False
        self.query_one("#results-summary", Static).update(f"[b red]Evaluation failed:[/] {reason}")

    def show_evaluation(self, evaluation, source: str, class_names: tuple[str, ...] | None = None) -> None:
        wrong = sum(sum(row) - row[i] for i, row in enumerate(evaluation.confusion))
        total = len(evaluation.labels)
        self.query_one("#eval-progress").display = False
        self.query_one("#results-summary", Static).update(
            f"[b]{source}[/]\ntest accuracy [b]{evaluation.accuracy:.2%}[/] · loss {evaluation.loss:.4f}"
            f" · {wrong:,} wrong of {total:,}"
        )
        table = self.query_one("#confusion", ConfusionTable)
        table.set_confusion(evaluation.confusion, evaluation.per_class_accuracy, class_names)
        table.display = True
        self.query_one("#results-help").display = True
