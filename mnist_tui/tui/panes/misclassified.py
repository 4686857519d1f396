"""The Misclassified view: wrong digits as terminal art, sorted and filtered, with a detail panel."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from ..widgets.digit_grid import DigitDetail, DigitGrid


def _next_filter(value: int | None, step: int) -> int | None:
    """Cycle any -> 0 -> 1 ... -> 9 -> any (or backwards)."""
    order: list[int | None] = [None, *range(10)]
    return order[(order.index(value) + step) % len(order)]


class MisclassifiedPane(Vertical):
    BINDINGS = [
        Binding("s", "toggle_sort", "Sort"),
        Binding("t", "cycle_true(1)", "True"),
        Binding("T", "cycle_true(-1)", "True-", show=False),
        Binding("p", "cycle_predicted(1)", "Pred"),
        Binding("P", "cycle_predicted(-1)", "Pred-", show=False),
        Binding("c", "clear_filters", "Clear"),
    ]

    def __init__(self) -> None:
        super().__init__(id="misclassified-pane")
        self.evaluation: Any = None
        self.images: Any = None
        self.sort_by = "confidence"
        self.true_label: int | None = None
        self.predicted_label: int | None = None
        self.total_wrong = 0
        self.examples: list[Any] = []
        self.class_names: tuple[str, ...] | None = None  # None: the digits themselves

    def compose(self) -> ComposeResult:
        yield Static(id="wrong-bar")
        with Horizontal(id="wrong-body"):
            yield DigitGrid(id="digit-grid")
            yield DigitDetail(id="digit-detail")

    def on_mount(self) -> None:
        self.refresh_examples()

    def set_evaluation(self, evaluation: Any, images: Any, class_names: tuple[str, ...] | None = None) -> None:
        self.evaluation, self.images = evaluation, images
        self.class_names = class_names
        self.true_label = self.predicted_label = None
        self.refresh_examples()

    def set_filter(self, true_label: int | None, predicted_label: int | None) -> None:
        self.true_label, self.predicted_label = true_label, predicted_label
        self.refresh_examples()

    def refresh_examples(self) -> None:
        grid = self.query_one(DigitGrid)
        if self.evaluation is None:
            self.examples, self.total_wrong = [], 0
            grid.set_examples([], None, "No evaluation yet: finish a run, or load one from Runs (f4).")
        else:
            from ...core.analysis import misclassified_examples  # torch is loaded once an evaluation exists

            everything = misclassified_examples(self.evaluation, sort_by=self.sort_by)
            self.total_wrong = len(everything)
            self.examples = [
                m for m in everything
                if (self.true_label is None or m.true_label == self.true_label)
                and (self.predicted_label is None or m.predicted_label == self.predicted_label)
            ]
            grid.set_examples(self.examples, self.images, "No misclassified digits match this filter (c clears it).")
        self._update_bar()

    def _update_bar(self) -> None:
        def name(value: int | None) -> str:
            if value is None:
                return "any"
            named = self.class_names is not None and self.class_names[value] != str(value)
            return f"{value} {self.class_names[value]}" if named else str(value)

        self.query_one("#wrong-bar", Static).update(
            f"sort [b]{self.sort_by}[/] · true [b]{name(self.true_label)}[/] · pred [b]{name(self.predicted_label)}[/]"
            f" · shown [b]{len(self.examples)}[/] of {self.total_wrong} wrong"
            + (f" · at {self.query_one(DigitGrid).selected + 1}" if self.examples else "")
        )

    def on_digit_grid_highlighted(self, event: DigitGrid.Highlighted) -> None:
        example = event.example
        pixels = self.images[example.index] if example is not None and self.images is not None else None
        self.query_one(DigitDetail).show(example, pixels, self.class_names)
        self._update_bar()

    def action_toggle_sort(self) -> None:
        self.sort_by = "index" if self.sort_by == "confidence" else "confidence"
        self.refresh_examples()

    def action_cycle_true(self, step: int) -> None:
        self.true_label = _next_filter(self.true_label, step)
        self.refresh_examples()

    def action_cycle_predicted(self, step: int) -> None:
        self.predicted_label = _next_filter(self.predicted_label, step)
        self.refresh_examples()

    def action_clear_filters(self) -> None:
        self.set_filter(None, None)
